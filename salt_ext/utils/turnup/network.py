"""
The network waves of a rack turn-up (step ``network``, before the servers'): the OOB switches, then
the ToR switches, each wave finished before the next begins.

- A **managed** device (its minion id is an accepted minion or proxy minion key) in a turn-up status
  (planned, staged, failed, inventory) goes through its lifecycle: ``staged`` (journal entry) -> its
  minion answers (bounded by ``minion_timeout``) -> ``state.highstate`` (the top file gives the
  switch its states) -> post-check -> ``active`` (journal entry). An ``active`` one is in service
  already: it is checked (minion answers, post-check), never re-staged nor re-applied.
- The **post-check** asks the switch for its LLDP neighbours (``hardware.inventory``: lldpd on the
  switch OS) and compares them with NetBox's cables: a port whose neighbour is another device or
  port than NetBox says fails the switch; a silent port (server not booted, BMC without LLDP) is
  only counted.
- A managed device that fails is set ``failed`` with a journal entry naming the step and the error
  (like a server) and the run **stops**: the servers behind a switch that is not configured are not
  turned up (they stay staged).
- An **unmanaged** device is checked from NetBox only and left alone (nothing is written to it or
  its NetBox object): it must be ``active``, have a primary IP (reachable for monitoring) and be
  cabled to servers of the rack. A failed check is a warning in the run record (step ``check``);
  the servers' own LLDP checks prove the links.
"""

from salt_ext.utils.hardware.ifnames import same_host, same_port
from salt_ext.utils.netbox_ops.diff import simplify
from salt_ext.utils.turnup import plan as planner
from salt_ext.utils.turnup import record as rec

#: steps a managed network device goes through (run-record step names)
MANAGED_STEPS = ("stage", "wait_minions", "highstate", "postcheck", "activate")
#: the step of an unmanaged device (or a managed one left alone)
CHECK = "check"


def _peer(value):
    device, _, port = (value if isinstance(value, str) else str(value[0])).partition(":")
    return {"device": device, "port": port}


def cabling(peers, lldp):
    """``(wrong, silent, matching)`` of a switch: NetBox cables ``peers`` (``{port: "dev:port"}``)
    against its LLDP neighbours ``lldp`` (``{port: {chassis_name, port_id, port_descr}}``)."""
    wrong, silent, matching = [], [], []
    for port, value in sorted(peers.items()):
        peer = _peer(value)
        seen = (lldp or {}).get(port) or {}
        if not any(seen.get(k) for k in ("chassis_name", "chassis_id", "port_id")):
            silent.append(port)
            continue
        port_ok = any(
            same_port(c, peer["port"]) for c in (seen.get("port_id"), seen.get("port_descr")) if c
        )
        if same_host(seen.get("chassis_name"), peer["device"]) and port_ok:
            matching.append(port)
        else:
            wrong.append(
                f"{port} sees {seen.get('chassis_name') or seen.get('chassis_id')} "
                f"{seen.get('port_id') or seen.get('port_descr')}, NetBox cables it to "
                f"{peer['device']} {peer['port']}"
            )
    return wrong, silent, matching


def switch_judge(peers):
    """The post-check judge of one switch's ``hardware.inventory`` return."""

    def judge(ret):
        if not isinstance(ret, dict) or "lldp" not in ret:
            return False, f"hardware.inventory could not run on the switch: {ret}"
        wrong, silent, matching = cabling(peers, ret.get("lldp"))
        if wrong:
            return False, "post-check failed: cabling: " + "; ".join(wrong)
        return True, (
            f"{len(matching)} of {len(peers)} cabled port(s) match NetBox by LLDP"
            + (f"; silent: {', '.join(silent)}" if silent else "")
        )

    return judge


def _done(turnup, name, step):
    return not turnup.test and rec.step_done(turnup.record, name, step)


def _failed(turnup, names):
    return [n for n in names if turnup.record["devices"][n].get("failed_step")]


def _stop_if_failed(turnup, wave, names, step):
    bad = _failed(turnup, names)
    if bad and not turnup.test:
        turnup.stop(
            "network",
            f"managed network device(s) {', '.join(bad)} of wave {wave['name']} failed at "
            f"{step}: the servers behind them are not turned up (fix, then turnup.resume)",
        )


def check_unmanaged(turnup, name, reason=None):
    """NetBox-only checks of a device the turn-up does not configure; writes nothing."""
    if _done(turnup, name, CHECK):
        return
    entry = turnup.record["plan"]["devices"][name]
    started = rec.now()
    status = simplify(turnup.src.get("dcim.devices", entry["id"]).get("status"))
    problems = []
    if status != planner.DONE_STATUS:
        problems.append(
            f"NetBox status is {status}: nothing turns an unmanaged device up, bring it to "
            "active by hand (or make it a minion)"
        )
    if not entry.get("primary_ip"):
        problems.append("no primary IP in NetBox (not reachable for monitoring)")
    servers = set(turnup.record["plan"].get("servers") or [])
    cabled = sorted({_peer(v)["device"] for v in entry["peers"].values()} & servers)
    if not cabled:
        problems.append("NetBox cables it to no server of the rack")
    what = reason or "unmanaged: checked from NetBox, left alone"
    comment = f"{what}; status {status}, {len(cabled)} server(s) cabled"
    if problems:
        comment = f"warning: {'; '.join(problems)} ({what})"
    turnup._event(name, CHECK, not problems, started, comment=comment)  # pylint: disable=W0212


def _wait(turnup, names):
    names = [n for n in names if not _done(turnup, n, "wait_minions")]
    if not names:
        return
    timeout = 5 if turnup.test else float(turnup.options()["minion_timeout"])
    want = turnup.minions(names)
    started = rec.now()
    answered = turnup.ping(list(want), timeout)
    for minion, name in want.items():
        if minion in answered:
            turnup._event(name, "wait_minions", True, started, comment="minion answers")
            continue
        turnup._event(name, "wait_minions", False, started, comment="no answer")
        if not turnup.test:
            turnup.fail(
                name,
                "wait_minions",
                f"minion {minion} of the network device did not answer within {timeout:g} s "
                "(minion_timeout): is its (proxy) minion running and its key accepted?",
            )


def _recover(turnup, names, judge):
    """
    Switch highstates in flight when the run was interrupted: judged from the caches
    (:mod:`inflight`); returns the devices still to apply (none recorded, or never published).
    """
    left, pending = [], {}
    for name in names:
        step = turnup.record["devices"][name]["steps"].get("highstate") or {}
        if turnup.test or not step.get("jid") or step.get("result") is not None:
            left.append(name)
        else:
            pending.setdefault(step["jid"], []).append(name)
    for jid, group in pending.items():
        turnup.recover_job("highstate", jid, group, judge)
        left += [n for n in group if "highstate" not in turnup.record["devices"][n]["steps"]]
    return left


def configure(turnup, wave, names):
    """The managed devices ``names`` of ``wave`` through their lifecycle (or checks)."""
    from salt_ext.utils.turnup.steps import (  # noqa: PLC0415  # pylint: disable=C0415
        _judge_highstate,
    )

    statuses = {n: turnup.record["plan"]["devices"][n]["status"] for n in names}
    lifecycle = [n for n in names if statuses[n] in planner.TURNUP_STATUSES]
    active = [n for n in names if statuses[n] == planner.DONE_STATUS]
    for name in names:
        if name not in lifecycle and name not in active:
            check_unmanaged(turnup, name, reason=f"managed but {statuses[name]}: left alone")
    stage = [n for n in lifecycle if not _done(turnup, n, "stage")]
    if stage:
        turnup.set_status("stage", stage, "staged", planner.TURNUP_STATUSES)
        _stop_if_failed(turnup, wave, lifecycle, "stage")
    _wait(turnup, lifecycle + active)
    _stop_if_failed(turnup, wave, lifecycle + active, "wait_minions")
    apply = [n for n in lifecycle if not _done(turnup, n, "highstate")]
    apply = _recover(turnup, apply, _judge_highstate)
    if apply:
        kwarg = {"test": True} if turnup.test else {}
        turnup.run_job("highstate", apply, "state.highstate", _judge_highstate, kwarg=kwarg)
    _stop_if_failed(turnup, wave, lifecycle, "highstate")
    for name in lifecycle + active:
        if _done(turnup, name, "postcheck"):
            continue
        peers = turnup.record["plan"]["devices"][name]["peers"]
        turnup.run_job(
            "postcheck",
            [name],
            "hardware.inventory",
            switch_judge(peers),
            kwarg={"only": ["lldp"]},  # its LLDP neighbours, nothing else of the switch
            timeout=300,
        )
    _stop_if_failed(turnup, wave, lifecycle + active, "postcheck")
    activate = [n for n in lifecycle if not _done(turnup, n, "activate")]
    if not turnup.test:
        activate = [n for n in activate if rec.step_done(turnup.record, n, "postcheck")]
    if activate:
        turnup.set_status("activate", activate, "active", ("staged", "active"))
    _stop_if_failed(turnup, wave, lifecycle, "activate")


def run(turnup):
    """The ``network`` step of :class:`salt_ext.utils.turnup.steps.Turnup`: wave by wave."""
    for wave in turnup.record["plan"]["waves"]:
        if wave["kind"] != "network":
            continue
        if turnup.record.get("abort_requested") and not turnup.test:
            turnup.abort_now("network")
        managed = [n for n in wave["devices"] if turnup.record["devices"][n]["managed"]]
        for name in wave["devices"]:
            if name not in managed:
                check_unmanaged(turnup, name)
        if managed:
            configure(turnup, wave, managed)
    turnup.save()
