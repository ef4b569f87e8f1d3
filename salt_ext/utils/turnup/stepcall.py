"""
How the orchestration's ``turnup.step`` states call the runner ``turnup.step``.

``saltutil.runner`` builds a new ``RunnerClient`` for every call, and the first job of each builds
a ``MasterMinion``, which loads the master's grains and module loaders: about 0.3 s of CPU per
step before the step starts, a dozen times per turn-up. The state keeps one ``RunnerClient`` per
orchestration (in its ``__context__``) and calls the runner through it as ``saltutil.runner``
does (the master's options, the same full return), closing it with the last step. When the
master's configured user differs from the one running the orchestration as root,
``saltutil.runner`` itself is used: it drops privileges to that user (Salt 3008).
"""

import os

import salt.config
import salt.runner
import salt.utils.user

#: ``__context__`` key of the orchestration's RunnerClient
CLIENT = "turnup.stepcall.runner_client"


def master_opts(opts):
    """The master's options, as ``saltutil.runner`` finds them."""
    if "master_job_cache" in opts:
        return opts
    return salt.config.master_config(os.path.join(os.path.dirname(opts["conf_file"]), "master"))


def drops_privileges(opts):
    """``saltutil.runner`` would run the runner as the master's user (root running as another)."""
    runas = opts.get("user")
    return bool(
        runas
        and runas != salt.utils.user.get_user()
        and hasattr(os, "geteuid")
        and os.geteuid() == 0
    )


def run(context, opts, fun, kwarg, *, fallback=None, last=False):  # noqa: PLR0913
    """
    The full return (``{"return", "success", ...}``) of runner ``fun`` called with ``kwarg``
    through the RunnerClient kept in ``context``; ``fallback()`` (``saltutil.runner``) when
    privileges must be dropped. ``last``: the orchestration's last call, the client is closed.
    """
    client = context.get(CLIENT)
    if client is None:
        mopts = master_opts(opts)
        if drops_privileges(mopts) and fallback is not None:
            return fallback()
        client = context[CLIENT] = salt.runner.RunnerClient(mopts)
    # the client's __context__ outlives a call: a retcode an earlier step set would fail this one
    client.context.pop("retcode", None)
    try:
        return client.cmd(
            fun,
            arg=[],
            kwarg=kwarg,
            pub_data={"user": "UNKNOWN"},
            print_event=False,
            full_return=True,
        )
    finally:
        if last:  # the orchestration's last step: no client left for the interpreter's exit
            context.pop(CLIENT, None)
            client.destroy()
