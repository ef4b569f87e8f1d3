"""
Post-checks of a rack turn-up, after the highstate: cabling by LLDP once more and the services the
box's generation profile requires (``services:``) running and enabled.

One minion job per run: ``hardware.validate services=True`` (the ``cabling.*`` and ``services.*``
checks of its report are judged; the hardware checks were judged by the validate step). A failing
server is set ``failed`` with a journal entry naming the link or the service that is down.
"""

from salt_ext.utils.turnup import record as rec

#: checks of the ``hardware.validate`` report the post-check judges
PREFIXES = ("cabling.", "services.")


def judge(ret):
    """``(ok, comment)`` of a server's ``hardware.validate services=True`` return."""
    if not isinstance(ret, dict) or "checks" not in ret:
        return False, f"hardware.validate could not run: {ret}"
    mine = [c for c in ret["checks"] if c["name"].startswith(PREFIXES)]
    bad = [c for c in mine if not c["ok"] and c.get("severity", "error") == "error"]
    if bad:
        return False, "post-check failed: " + "; ".join(
            f"{c['name']}: {c.get('comment') or c.get('actual')}" for c in bad
        )
    cabled = [c for c in mine if c["name"].startswith("cabling.")]
    up = [c["name"].split(".", 1)[1] for c in mine if c["name"].startswith("services.")]
    return True, (
        f"{len(cabled)} link(s) match NetBox by LLDP; "
        + (f"services up: {', '.join(up)}" if up else "no required services in the profile")
    )


def servers(turnup):
    """The servers due for the post-check: highstate done (all of them when predicting)."""
    if turnup.test:
        return turnup.todo("postcheck")
    return [n for n in turnup.todo("postcheck") if rec.step_done(turnup.record, n, "highstate")]


def run(turnup):
    """The ``postcheck`` step of :class:`salt_ext.utils.turnup.steps.Turnup`."""
    turnup.run_job(
        "postcheck",
        servers(turnup),
        "hardware.validate",
        judge,
        kwarg={"services": True},
        timeout=300,
    )
    turnup.check_threshold("postcheck")
