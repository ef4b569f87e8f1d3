"""Job outcome helpers for the runners (no NetBox import: usable by every runner module)."""

import functools

from salt.exceptions import SaltInvocationError


def fails_job(func):
    """
    Decorator for runner functions: bad input (``SaltInvocationError``, or a call with wrong
    arguments) also sets ``__context__["retcode"] = 1``. Salt's runner client shows a
    ``SaltInvocationError`` as "Passed invalid arguments" but otherwise counts the job as a
    success, so an orchestration would go on after a runner that did nothing.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (SaltInvocationError, TypeError):
            func.__globals__["__context__"]["retcode"] = 1
            raise

    return wrapper


def seconds(value, name="timeout"):
    """A positive number of seconds given on the command line (``30``, ``"30"``, ``2.5``)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = None
    if isinstance(value, bool) or number is None or not number > 0 or number == float("inf"):
        raise SaltInvocationError(f"{name} must be a positive number of seconds, got {value!r}")
    return int(number) if number.is_integer() else number
