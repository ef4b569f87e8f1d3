"""The network waves (managed switch lifecycle, unmanaged checks) and the post-check (cabling by
LLDP, the profile's required services) with the fake LocalClient of test_steps."""

import pytest

from salt_ext.utils.turnup import network, postcheck
from salt_ext.utils.turnup import record as rec
from salt_ext.utils.turnup import steps
from tests.unit.turnup.test_steps import (  # noqa: F401
    SERVERS,
    FakeClient,
    opts,
    src,
    status,
    turnup,
)

TOR = "tor1-r2"


def tor_lldp(wrong_port=None):
    lldp = {
        f"Ethernet{i}": {"chassis_name": f"srv-r2-0{i}", "port_id": "eno1"} for i in range(1, 9)
    }
    lldp["Management1"] = {"chassis_name": "oob-r2", "port_id": "Ethernet41"}
    if wrong_port:
        lldp[wrong_port] = {"chassis_name": "srv-r1-01", "port_id": "eno1"}
    return {"system": {}, "lldp": lldp}


def answers(wrong_port=None, down=()):
    def validate(minion):
        checks = [{"name": "cabling.eno1", "ok": True, "severity": "error"}]
        for name in ("lldpd", "chrony"):
            ok = not (minion in down and name == "lldpd")
            checks.append(
                {
                    "name": f"services.{name}",
                    "ok": ok,
                    "severity": "error",
                    "comment": "" if ok else f"required service {name} is not running",
                }
            )
        return {"passed": True, "checks": checks, "failed": []}

    return {"hardware.inventory": lambda m: tor_lldp(wrong_port), "hardware.validate": validate}


def planned(src, name):  # noqa: F811
    dev = next(d for d in src.list("dcim.devices", {"name": name}))
    src.update("dcim.devices", dev["id"], {"status": "planned"})


def run_all(t, accepted=()):
    t.start("lab1", "R2", options={"batch": 3}, accepted=set(accepted))
    for name in steps.ORDER[2:-1]:
        getattr(t, name)()
    return t.finish()


def journal(src, name):  # noqa: F811
    dev = next(d for d in src.list("dcim.devices", {"name": name}))
    return [
        e["comments"]
        for e in src.list(
            "extras.journal-entries",
            {"assigned_object_type": "dcim.device", "assigned_object_id": dev["id"]},
        )
    ]


def test_managed_switch_goes_staged_to_active_before_the_servers(src, opts):  # noqa: F811
    planned(src, TOR)
    client = FakeClient(answers())
    t = turnup(src, opts, client)
    state, failed = run_all(t, accepted={TOR})
    assert (state, failed) == ("done", {})
    assert status(src, TOR) == "active"
    assert status(src, "tor2-r2") == "active" and status(src, "oob-r2") == "active"
    assert client.count("state.highstate", TOR) == 1
    assert client.count("state.highstate", "tor2-r2") == 0  # unmanaged: left alone
    first_server_job = next(i for i, j in enumerate(client.jobs) if "srv-r2-01" in j[1])
    tor_jobs = [i for i, j in enumerate(client.jobs) if TOR in j[1]]
    assert tor_jobs and max(tor_jobs) < first_server_job  # the network wave finishes first
    text = "\n".join(journal(src, TOR))
    assert ": stage" in text and ": activate" in text
    steps_done = t.record["devices"][TOR]["steps"]
    assert [s for s in network.MANAGED_STEPS if steps_done[s]["result"]] == list(
        network.MANAGED_STEPS
    )
    assert "9 of 9 cabled port(s) match NetBox by LLDP" in steps_done["postcheck"]["comment"]
    check = t.record["devices"]["tor2-r2"]["steps"]["check"]
    assert check["result"] is True and "left alone" in check["comment"]
    assert journal(src, "tor2-r2") == []


def test_miscabled_managed_switch_fails_and_stops_the_run(src, opts):  # noqa: F811
    planned(src, TOR)
    client = FakeClient(answers(wrong_port="Ethernet4"))
    t = turnup(src, opts, client)
    t.start("lab1", "R2", options={"batch": 3}, accepted={TOR})
    t.stage()
    with pytest.raises(steps.StopRun, match="tor1-r2 of wave tor failed at postcheck"):
        t.network()
    assert status(src, TOR) == "failed"
    assert "Ethernet4 sees srv-r1-01 eno1, NetBox cables it to srv-r2-04 eno1" in "\n".join(
        journal(src, TOR)
    )
    assert {status(src, n) for n in SERVERS} == {"staged"}
    assert client.count("state.highstate", "srv-r2-01") == 0
    assert t.record["state"] == "stopped"


def test_active_managed_switch_is_checked_not_reapplied(src, opts):  # noqa: F811
    client = FakeClient(answers())
    t = turnup(src, opts, client)
    run_all(t, accepted={TOR})
    assert client.count("state.highstate", TOR) == 0
    assert client.count("hardware.inventory", TOR) == 1
    # its LLDP neighbours only: no dmidecode, ipmitool or ethtool on the switch
    assert [kw for f, _, kw, _ in client.jobs if f == "hardware.inventory"] == [{"only": ["lldp"]}]
    assert "stage" not in t.record["devices"][TOR]["steps"]
    assert journal(src, TOR) == []


def test_unmanaged_switch_not_active_is_a_warning_not_a_failure(src, opts):  # noqa: F811
    planned(src, "tor2-r2")
    t = turnup(src, opts, FakeClient(answers()))
    state, failed = run_all(t)
    assert state == "done" and failed == {}
    check = t.record["devices"]["tor2-r2"]["steps"]["check"]
    assert check["result"] is False and "NetBox status is planned" in check["comment"]
    assert status(src, "tor2-r2") == "planned"


def test_postcheck_fails_a_server_whose_required_service_is_down(src, opts):  # noqa: F811
    client = FakeClient(answers(down={"srv-r2-06"}))
    t = turnup(src, opts, client)
    state, failed = run_all(t)
    assert failed == {"srv-r2-06": "postcheck"}
    assert status(src, "srv-r2-06") == "failed"
    assert "services.lldpd: required service lldpd is not running" in "\n".join(
        journal(src, "srv-r2-06")
    )
    job = next(j for j in client.jobs if j[0] == "hardware.validate" and j[2].get("postcheck"))
    assert "srv-r2-01" in job[1]
    assert rec.step_done(t.record, "srv-r2-01", "postcheck")


def test_postcheck_judge():
    ok, comment = postcheck.judge(
        {
            "checks": [
                {"name": "cabling.eno1", "ok": True},
                {"name": "cpu.model", "ok": False},  # the validate step's business
                {"name": "services.lldpd", "ok": True},
            ]
        }
    )
    assert ok and comment == "1 link(s) match NetBox by LLDP; services up: lldpd"
    assert postcheck.judge("'hardware.validate' is not available.")[0] is False


def highstate_ending_with_postcheck(down=()):
    """Highstate returns of the hwgen SLS run with pillar turnup:postcheck (its last state)."""

    def answer(minion):
        ok = minion not in down
        return {
            "file_|-a_|-a_|-managed": {"result": True, "changes": {}, "__id__": "a"},
            f"hardware_|-{postcheck.STATE_ID}_|-{postcheck.STATE_ID}_|-postchecked": {
                "result": ok,
                "changes": {},
                "__id__": postcheck.STATE_ID,
                "duration": 12.5,
                "comment": (
                    "2 link(s) match NetBox by LLDP; services up: lldpd"
                    if ok
                    else "post-check failed: services.lldpd: required service lldpd is not running"
                ),
            },
        }

    return answer


def test_postcheck_is_judged_from_the_highstate_without_a_job_of_its_own(src, opts):  # noqa: F811
    client = FakeClient({"state.highstate": highstate_ending_with_postcheck(down={"srv-r2-06"})})
    t = turnup(src, opts, client)
    state, failed = run_all(t)
    assert failed == {"srv-r2-06": "postcheck"}  # not a highstate failure: its own step
    # no hardware.validate postcheck=True job after the highstates (validate's first look is
    # part of wait_minions' turnup.prepare job; everything passed it)
    assert [kw for fun, _, kw, _ in client.jobs if fun == "hardware.validate"] == []
    assert client.count("turnup.prepare") == 1
    highstates = [kw for fun, _, kw, _ in client.jobs if fun == "state.highstate"]
    assert highstates and all(kw == {"pillar": postcheck.PILLAR} for kw in highstates)
    steps_done = t.record["devices"]["srv-r2-01"]["steps"]
    assert steps_done["postcheck"]["result"] is True
    assert steps_done["postcheck"]["jid"] == steps_done["highstate"]["jid"]
    assert "services up: lldpd" in steps_done["postcheck"]["comment"]
    assert status(src, "srv-r2-01") == "active" and status(src, "srv-r2-06") == "failed"
    down = t.record["devices"]["srv-r2-06"]["steps"]
    assert down["highstate"]["result"] is True and down["postcheck"]["result"] is False
    entries = "\n".join(journal(src, "srv-r2-06"))
    assert f"step postcheck failed (minion job {down['highstate']['jid']})" in entries
    assert "services.lldpd: required service lldpd is not running" in entries


def test_a_canary_failing_its_postcheck_stops_the_run_before_the_batches(src, opts):  # noqa: F811
    t = turnup(src, opts, FakeClient())
    t.start("lab1", "R2", options={"batch": 3}, accepted=set())
    canary = next(w for w in t.record["plan"]["waves"] if w["kind"] == "canary")["devices"]
    client = FakeClient({"state.highstate": highstate_ending_with_postcheck(down=set(canary))})
    t.client = client
    for name in steps.ORDER[2:8]:  # stage .. sync_inventory
        getattr(t, name)()
    with pytest.raises(steps.StopRun, match=f"the canary {canary[0]} failed at postcheck"):
        t.highstate()
    assert client.count("state.highstate") == 1  # the batches never ran
    assert {status(src, n) for n in SERVERS if n not in canary} == {"staged"}
    assert status(src, canary[0]) == "failed"


def test_a_highstate_without_the_postcheck_state_leaves_it_to_the_postcheck_job(
    src, opts  # noqa: F811
):
    def mixed(minion):  # srv-r2-03's top file does not apply hwgen
        if minion == "srv-r2-03":
            return {"file_|-a_|-a_|-managed": {"result": True, "changes": {}, "__id__": "a"}}
        return highstate_ending_with_postcheck()(minion)

    client = FakeClient({**answers(), "state.highstate": mixed})
    t = turnup(src, opts, client)
    state, failed = run_all(t)
    assert state == "done" and failed == {}
    jobs = [tgt for fun, tgt, kw, _ in client.jobs if kw.get("postcheck")]
    assert jobs == [["srv-r2-03"]]


def test_a_failing_postcheck_state_is_not_a_failed_highstate():
    ret = highstate_ending_with_postcheck(down={"m"})("m")
    ok, comment = steps._judge_highstate(ret)  # pylint: disable=protected-access
    assert ok and comment == "2 states, 0 changed"
    assert postcheck.in_highstate(ret)["result"] is False
    assert postcheck.in_highstate("highstate failed") is None
