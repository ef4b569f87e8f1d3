"""
Job outcome and argument helpers for the loader modules (no NetBox import: usable by every runner and
execution module).

- :func:`known_args`: a misspelled keyword argument (``sitee=lab1``) fails naming it and the known ones,
  and a missing one fails naming it, instead of Salt dropping the unknown keyword and printing the
  docstring;
- :func:`fails_job`: the same for runners, and any failure (bad input, NetBox down) sets ``retcode`` 1
  so an orchestration stops; through Salt's runner client it is returned as ``{"error": ...,
  "retcode": 1}`` (``salt-run`` exits 1 with one clear line, no docstring, no traceback).
"""

import difflib
import functools
import inspect
import sys

from salt.exceptions import CommandExecutionError, SaltInvocationError, SaltRunnerError

#: keyword arguments Salt itself adds to a call of a function that takes ``**kwargs``
_SALT_KEYS = ("__pub_",)


def _salt_internal(key):
    return isinstance(key, str) and (key.startswith(_SALT_KEYS) or key.startswith("__"))


def _closest(name, known):
    match = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f" (did you mean {match[0]}?)" if match else ""


def _bind(func, signature, args, kwargs):
    """The call's arguments checked against ``signature``: SaltInvocationError naming what is
    wrong (an unknown keyword with the known ones, a missing argument, too many)."""
    params = signature.parameters
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in params.values())
    known = [
        name
        for name, p in params.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and not name.startswith("_")
    ]
    where = func.__name__.rstrip("_")
    if not takes_kwargs:
        kwargs = {k: v for k, v in kwargs.items() if not _salt_internal(k)}
        unknown = [k for k in kwargs if k not in params]
        if unknown:
            hints = "".join(_closest(k, known) for k in unknown[:1])
            raise SaltInvocationError(
                f"{where}: unknown argument{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(sorted(unknown))}{hints}; known arguments: "
                f"{', '.join(known) or '(none)'}"
            )
    try:
        signature.bind(*args, **kwargs)
    except TypeError as err:
        missing = [
            name
            for name, p in params.items()
            if p.default is p.empty
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            and name not in kwargs
        ][len(args) :]
        if missing:
            raise SaltInvocationError(
                f"{where}: missing required argument{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)} (arguments: {', '.join(known)})"
            ) from None
        raise SaltInvocationError(f"{where}: {err} (arguments: {', '.join(known)})") from None
    return kwargs


def known_args(func):
    """
    Decorator for loader functions: check the call's arguments against ``func``'s signature.

    Salt decides from a function's signature what to do with ``name=value`` arguments: the runner
    client silently drops a keyword the function does not take, so ``salt-run
    netbox.export_snapshot sitee=lab1`` then failed on the missing ``site`` with Salt's "Passed
    invalid arguments" and the docstring, and exited 0. The wrapper therefore shows Salt a
    signature that also takes ``**kwargs`` (Salt then passes every keyword, plus its own
    ``__pub_*`` keys, which are dropped here) and refuses an unknown keyword naming it, the closest
    known one and all known ones; a missing required argument is named too. Functions that take
    ``**kwargs`` themselves (fields, filters) get every keyword as before.
    """
    signature = inspect.signature(func)
    params = list(signature.parameters.values())
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in params)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        kwargs = _bind(func, signature, args, kwargs)
        return func(*args, **kwargs)

    shown = signature
    if not takes_kwargs:
        extra = inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)
        shown = signature.replace(parameters=[*params, extra])
    return _show(wrapper, shown)


def _show(wrapper, signature):
    # Salt reads a function's arguments through ``__wrapped__`` when it is set
    # (salt.utils.args.get_function_argspec): the wrapper shows its own signature instead.
    del wrapper.__wrapped__
    wrapper.__signature__ = signature
    return wrapper


def _called_by_salt_client():
    """True when the runner function was called by Salt's runner client (``salt-run``,
    orchestrate's ``salt.runner``, the reactor, salt-api), not by Python code (other utils, tests):
    the first caller outside Salt's loader is ``salt.client.mixins``."""
    frame = sys._getframe(2)  # noqa: SLF001 (the wrapper's caller)
    for _ in range(12):
        if frame is None:
            return False
        name = frame.f_globals.get("__name__", "")
        if name == "salt.client.mixins":
            return True
        if not name.startswith(("salt.loader", "salt.utils.context")):
            return False
        frame = frame.f_back
    return False


def fails_job(func):
    """
    Decorator for runner functions: :func:`known_args`, and a failure fails the job.

    - bad input (``SaltInvocationError``, or a call with wrong arguments) and a failure of NetBox
      or of the work (``SaltRunnerError``, ``CommandExecutionError``) set
      ``__context__["retcode"] = 1``: Salt's runner client would otherwise count the job as a
      success, so an orchestration would go on after a runner that did nothing;
    - called through Salt's runner client, the function then returns ``{"error": <message>,
      "retcode": 1}`` instead of raising: ``salt-run`` exits 1 only for a returned ``retcode``,
      and Salt shows a raised error as "Passed invalid arguments" plus the docstring (exit 0) or
      as "Exception occurred in runner" plus the whole traceback. Python callers get the
      exception as raised.
    """
    checked = known_args(func)

    @functools.wraps(checked)
    def wrapper(*args, **kwargs):
        try:
            return checked(*args, **kwargs)
        except (SaltInvocationError, TypeError, SaltRunnerError, CommandExecutionError) as err:
            func.__globals__["__context__"]["retcode"] = 1
            if _called_by_salt_client():
                return {"error": str(err), "retcode": 1}
            raise

    return _show(wrapper, checked.__signature__)


def seconds(value, name="timeout"):
    """A positive number of seconds given on the command line (``30``, ``"30"``, ``2.5``)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = None
    if isinstance(value, bool) or number is None or not number > 0 or number == float("inf"):
        raise SaltInvocationError(f"{name} must be a positive number of seconds, got {value!r}")
    return int(number) if number.is_integer() else number
