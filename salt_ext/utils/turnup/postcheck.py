"""
Post-checks of a rack turn-up, after the highstate: cabling by LLDP once more and the services the
box's generation profile requires (``services:``) running and enabled (the ``cabling.*`` and
``services.*`` checks of ``hardware.validate postcheck=True``; the hardware checks were judged by
the validate step). A failing server is set ``failed`` with a journal entry naming the link or the
service that is down, and the job.

Where it runs: at the end of each server's highstate. The turn-up passes pillar
``turnup:postcheck`` to ``state.highstate``; the ``hwgen`` SLS then ends with the state
``hwgen-postcheck`` (``hardware.postchecked``, ``order: last``), whose result is judged with its
wave (:func:`from_highstate`): no rack-wide job of its own, and a canary that fails it stops the
run before the batches. Servers whose highstate had no such state (a top file without ``hwgen``)
and predictions (``test=True``) get one ``hardware.validate postcheck=True`` job in the
``postcheck`` step (:func:`run`).
"""

from salt_ext.utils.hardware import validate as hwvalidate
from salt_ext.utils.turnup import record as rec

#: checks of the ``hardware.validate`` report the post-check judges
PREFIXES = hwvalidate.POSTCHECK_PREFIXES
#: pillar the turn-up's highstates get: the ``hwgen`` SLS ends with its post-check state
PILLAR = {"turnup": {"postcheck": True}}
#: id of that state in ``states/hwgen/init.sls``
STATE_ID = "hwgen-postcheck"


def judge(ret):
    """``(ok, comment)`` of a server's ``hardware.validate postcheck=True`` return."""
    return hwvalidate.postcheck_verdict(ret)


def in_highstate(ret):
    """The post-check state's return in a highstate return ``ret``, or None."""
    if not isinstance(ret, dict):
        return None
    for state in ret.values():
        if isinstance(state, dict) and state.get("__id__") == STATE_ID:
            return state
    return None


def from_highstate(turnup, returns):
    """
    Judge the post-check of the servers whose highstate passed (``returns``: ``{name:
    highstate return}``) from the post-check state each highstate ended with; the job is the
    highstate's. Servers whose highstate has no post-check state are left for :func:`run`, and
    so are predictions (a ``test=True`` highstate has not configured anything to check).
    """
    if turnup.test:
        return
    for name, ret in returns.items():
        state = in_highstate(ret)
        if state is None:
            continue
        ok = state.get("result") is True
        comment = str(state.get("comment") or "").strip() or f"post-check state: {state}"
        jid = (turnup.record["devices"][name]["steps"].get("highstate") or {}).get("jid")
        seconds = float(state.get("duration") or 0) / 1000
        turnup._event(  # pylint: disable=protected-access
            name, "postcheck", ok, rec.now() - seconds, comment=comment, jid=jid
        )
        if not ok:
            turnup.fail(name, "postcheck", comment, jid=jid)
    turnup.save()


def servers(turnup):
    """The servers due for the post-check: highstate done (all of them when predicting)."""
    if turnup.test:
        return turnup.todo("postcheck")
    return [n for n in turnup.todo("postcheck") if rec.step_done(turnup.record, n, "highstate")]


def run(turnup):
    """
    The ``postcheck`` step of :class:`salt_ext.utils.turnup.steps.Turnup`: one job for the
    servers whose highstate did not post-check them (none, usually).
    """
    turnup.run_job(
        "postcheck",
        servers(turnup),
        "hardware.validate",
        judge,
        # against NetBox as it is now (the minion's own pillar may predate the last fix)
        kwarg={"postcheck": True, "fresh_pillar": True},
        timeout=300,
    )
    turnup.check_threshold("postcheck")
