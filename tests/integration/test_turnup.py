"""
Rack turn-up end to end: a real salt-master and 8 real salt-minions, one per server of lab1 rack
R2 (minion id = NetBox device name), each simulating its own server (real dmidecode of its model
from ../shared, serial/MACs/LLDP neighbours derived from lab1 by tests/support/lab_boxes.py).
``salt-run state.orchestrate orch.rack_turnup pillar='{site: lab1, rack: R2}'`` against a
NetBox stand-in of the module's own (the tests write NetBox).

Two boxes are faulty: srv-r2-03's LLDP shows the wrong ToR port, srv-r2-05 reports the wrong
serial. With ``max_failures: 2`` the run goes on without them. On 2 cores the 8 minions and the
master start in about a minute; the module takes a few minutes.
"""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import time

import pytest
from saltfactories.utils import random_string

from salt_ext.utils.netbox import NetBoxClient, load_config
from salt_ext.utils.netbox.seed import import_snapshot
from tests.support.lab_boxes import LabBoxes
from tests.support.netbox_standin import NetBoxStandin
from tests.support.saltenv import (
    PILLAR_ROOT,
    SHARED_FIXTURES,
    SHARED_MISSING_REASON,
    master_overrides,
    minion_overrides,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(SHARED_FIXTURES is None, reason=SHARED_MISSING_REASON),
]

SERVERS = [f"srv-r2-0{i}" for i in range(1, 9)]
WRONG_PORT = "srv-r2-03"
WRONG_SERIAL = "srv-r2-05"
HEALTHY = [s for s in SERVERS if s not in (WRONG_PORT, WRONG_SERIAL)]
FAULTS = {
    WRONG_PORT: {"lldp": {"eno2": {"port_id": "Ethernet7"}}},
    WRONG_SERIAL: {"system": {"serial": "LAB1R2S99"}},
}
PILLAR = {"site": "lab1", "rack": "R2", "max_failures": 2, "batch": 3, "minion_timeout": 240}


class Target:
    def __init__(self, standin):
        self.standin = standin
        self.url = standin.url
        self.token = standin.token_v2


def nb(target):
    return NetBoxClient(load_config({"netbox": {"url": target.url, "token": target.token}}))


@pytest.fixture(scope="module")
def netbox(lab1_snapshot):
    if os.environ.get("NETBOX_URL"):
        pytest.skip(
            "turns up lab1 rack R2 (writes statuses, MACs, journal entries): runs against the "
            "stand-in only for now (the minion ids are lab1's device names)"
        )
    standin = NetBoxStandin().start()
    target = Target(standin)
    import_snapshot(nb(target), copy.deepcopy(lab1_snapshot))
    yield target
    standin.stop()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    work = tmp_path_factory.mktemp("turnup")
    pillar = work / "pillar"
    pillar.mkdir()
    # hosts opt in to being configured (states/top.sls): these lab boxes do
    (pillar / "top.sls").write_text(
        "base:\n  '*':\n    - hwgen.gen10\n    - hwgen.gen11\n    - hwgen.gen12\n    - turnup_lab\n"
    )
    (pillar / "turnup_lab.sls").write_text("turnup:\n  manage_host: true\n")
    return work


@pytest.fixture(scope="module")
def master(salt_factories, netbox, workdir):
    overrides = master_overrides(
        netbox,
        pillar_roots={"base": [str(workdir / "pillar"), str(PILLAR_ROOT)]},
        ext_pillar=[{"netbox": {"ttl": 0}}],
        worker_threads=3,
    )
    factory = salt_factories.salt_master_daemon(random_string("tu-m-"), overrides=overrides)
    with factory.started(start_timeout=180):
        yield factory


@pytest.fixture(scope="module")
def minions(master, netbox, workdir):
    boxes = LabBoxes()
    factories = []
    for name in SERVERS:
        spec = boxes.write(workdir / f"{name}.json", name, FAULTS.get(name))
        hardware = {
            "simulate": str(spec),
            "root": str(workdir / f"{name}-root"),
            "apply_live": False,
        }
        # cache_jobs: a highstate that returns while the master is down is still found on resume
        factories.append(
            master.salt_minion_daemon(
                name, overrides=minion_overrides(netbox, hardware=hardware, cache_jobs=True)
            )
        )
    started = time.time()
    try:
        for factory in factories:
            factory.start(start_timeout=180)
        print(f"8 minions started in {time.time() - started:.0f}s")
        yield {f.id: f for f in factories}
    finally:
        for factory in factories:
            factory.terminate()


def run(master, *args, timeout=900, **kwargs):
    return master.salt_run_cli(timeout=timeout).run(*args, **kwargs)


def keep(name, text):
    where = os.environ.get("TURNUP_CAPTURE_DIR")
    if where:
        with open(os.path.join(where, name + ".txt"), "w", encoding="utf-8") as handle:
            handle.write(text)


def capture(name, master, *args, **kwargs):
    """Run ``salt-run`` with the text outputter; with TURNUP_CAPTURE_DIR set, keep its output
    (docs/turnup.md pastes it)."""
    ret = master.salt_run_cli(timeout=900).run(*args, "--out=nested", **kwargs)
    where = os.environ.get("TURNUP_CAPTURE_DIR")
    if where:
        with open(os.path.join(where, name + ".txt"), "w", encoding="utf-8") as handle:
            handle.write(ret.stdout)
    return ret


def statuses(netbox):
    devs = nb(netbox).list("dcim.devices", {"site": "lab1"})
    return {d["name"]: d["status"]["value"] for d in devs if d["name"] in SERVERS}


def change_count(netbox):
    return len(nb(netbox).list("core.object-changes"))


def journal(netbox, name):
    client = nb(netbox)
    dev = client.list("dcim.devices", {"name": name})[0]
    entries = client.list(
        "extras.journal-entries",
        {"assigned_object_type": "dcim.device", "assigned_object_id": dev["id"]},
    )
    return [e["comments"] for e in entries]


def highstate_jobs(master, after=""):
    """{minion: number of state.highstate jobs (not test=True) with a jid after ``after``}."""
    ret = run(master, "jobs.list_jobs", search_function="state.highstate", timeout=120)
    assert ret.returncode == 0, ret
    counts = {}
    for jid, job in (ret.data or {}).items():
        if jid <= after:
            continue
        detail = run(master, "jobs.list_job", jid, timeout=120).data or {}
        if any(
            "test=True" in str(a) or (isinstance(a, dict) and a.get("test"))
            for a in detail.get("Arguments", [])
        ):
            continue
        targets = job.get("Target")
        for minion in targets if isinstance(targets, list) else [targets]:
            counts[minion] = counts.get(minion, 0) + 1
    return counts


def orch_states(ret):
    data = ret.data
    if isinstance(data, dict) and "data" in data:
        data = data["data"]
    if isinstance(data, dict) and len(data) == 1:
        data = next(iter(data.values()))
    return {v.get("__id__", k): v for k, v in data.items()}


def test_preflight_r3_reports_four_problems_and_writes_nothing(master, netbox):
    before = change_count(netbox)
    ret = run(master, "turnup.preflight", site="lab1", rack="R3", timeout=300)
    assert ret.returncode == 1
    got = {(e["device"], e["check"]): e for e in ret.data["errors"]}
    assert set(got) == {
        ("srv-r3-01", "primary_ip"),
        ("srv-r3-02", "generation"),
        ("srv-r3-03", "serial_duplicate"),
        ("srv-r3-04", "cabling"),
    }
    assert got[("srv-r3-04", "cabling")]["object"] == "dcim.interfaces srv-r3-04:eno2"
    assert change_count(netbox) == before


def test_bad_input_names_the_argument(master, minions):
    # SaltInvocationError -> a failed job: {error: <message>, retcode: 1}, salt-run exits 1
    for kwargs, words in (
        ({"site": "lab1", "rack": "R9"}, "rack='R9' not found in site lab1"),
        ({"site": "lab1", "rack": "R2", "batch": "0"}, "batch=0"),
        ({"site": "lab9", "rack": "R2"}, "site='lab9' not found"),
    ):
        ret = run(master, "turnup.plan", timeout=120, **kwargs)
        assert ret.returncode == 1 and words in ret.stdout, ret.stdout
        assert "Traceback" not in ret.stdout
    ret = run(master, "turnup.status", run="lab1-R2-nope", timeout=120)
    assert ret.returncode == 1 and "run='lab1-R2-nope' does not exist" in ret.stdout


def test_dry_run_predicts_and_writes_nothing(master, minions, netbox):
    before = change_count(netbox)
    ret = run(master, "state.orchestrate", "orch.rack_turnup", pillar=PILLAR, test=True)
    states = orch_states(ret)
    assert [k for k, v in states.items() if v["result"] is False] == []
    assert states["turnup-activate"]["changes"]["srv-r2-01"]["status"]["new"] == "active"
    stage = states["turnup-stage"]
    assert stage["result"] is None
    assert stage["changes"]["srv-r2-01"]["status"] == {"old": "planned", "new": "staged"}
    validate = states["turnup-validate"]["changes"]
    assert validate[WRONG_PORT]["status"]["new"] == "failed"
    assert validate[WRONG_SERIAL]["status"]["new"] == "failed"
    assert change_count(netbox) == before
    assert set(statuses(netbox).values()) == {"planned"}
    assert run(master, "turnup.status", site="lab1", rack="R2").returncode == 1  # no run recorded


@pytest.fixture(scope="module")
def first_run(master, minions, netbox):
    before = run(master, "test.arg", timeout=60)  # noqa: F841 - the master answers
    start_jid = time.strftime("%Y%m%d%H%M%S", time.gmtime()) + "000000"
    started = time.time()
    ret = run(master, "state.orchestrate", "orch.rack_turnup", pillar=PILLAR)
    return {"ret": ret, "after": start_jid, "seconds": time.time() - started}


def test_turnup_takes_healthy_servers_active_and_isolates_the_faulty(first_run, master, netbox):
    ret = first_run["ret"]
    print(f"orchestration took {first_run['seconds']:.0f}s")
    assert ret.returncode != 0
    final = statuses(netbox)
    assert {n: final[n] for n in HEALTHY} == dict.fromkeys(HEALTHY, "active")
    assert final[WRONG_PORT] == "failed" and final[WRONG_SERIAL] == "failed"
    states = orch_states(ret)
    finish = states["turnup-finish"]
    assert finish["result"] is False
    assert f"{WRONG_PORT} at validate" in finish["comment"]
    assert f"{WRONG_SERIAL} at validate" in finish["comment"]
    entries = "\n".join(journal(netbox, WRONG_PORT))
    keep("orchestrate-finish", f"{finish['comment']}\n")
    keep("journal-" + WRONG_PORT, "\n----\n".join(journal(netbox, WRONG_PORT)) + "\n")
    assert "step validate failed (minion job 2" in entries and "cabling.eno2" in entries
    assert "Salt job" in entries
    assert "serial" in "\n".join(journal(netbox, WRONG_SERIAL))
    counts = highstate_jobs(master, first_run["after"])
    assert {n: counts.get(n) for n in HEALTHY} == dict.fromkeys(HEALTHY, 1)
    assert WRONG_PORT not in counts and WRONG_SERIAL not in counts
    status = capture("status", master, "turnup.status", site="lab1", rack="R2")
    assert status.returncode == 0 and "activate" in status.stdout
    capture("plan", master, "turnup.plan", site="lab1", rack="R2", batch=3, table=True)
    capture("preflight-r3", master, "turnup.preflight", site="lab1", rack="R3")


def test_second_run_changes_nothing(first_run, master, netbox):
    before_changes = change_count(netbox)
    before_status = statuses(netbox)
    ret = run(master, "state.orchestrate", "orch.rack_turnup", pillar=PILLAR)
    assert ret.returncode == 0, ret.stdout
    assert statuses(netbox) == before_status
    assert change_count(netbox) == before_changes
    counts = highstate_jobs(master, first_run["after"])
    assert {n: counts.get(n) for n in HEALTHY} == dict.fromkeys(HEALTHY, 1)
    # watch on a finished run: the final table at once
    watched = run(master, "turnup.watch", site="lab1", rack="R2", timeout=120)
    assert watched.returncode == 0 and "srv-r2-03  batch-1  validate  failed" in watched.stdout


def test_master_killed_mid_run_resume_finishes(first_run, master, minions, netbox):
    client = nb(netbox)
    # R2 back to planned (NetBox writes inside the rack only), then a new run
    for dev in client.list("dcim.devices", {"name": HEALTHY}):
        client.update("dcim.devices", dev["id"], {"status": "planned"})
    after = time.strftime("%Y%m%d%H%M%S", time.gmtime()) + "000000"
    cli = master.salt_run_cli(timeout=900)
    pillar = {**PILLAR, "devices": HEALTHY, "new": True, "max_failures": 3, "batch": 2}
    argv = cli.cmdline("state.orchestrate", "orch.rack_turnup", pillar=pillar)
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )  # noqa: S603
    try:
        deadline = time.time() + 600
        run_id = None
        while time.time() < deadline:
            st = run(master, "turnup.status", site="lab1", rack="R2", raw=True, timeout=120)
            data = st.data if isinstance(st.data, dict) else {}
            if data.get("options", {}).get("devices") and data.get("state") == "running":
                run_id = data["id"]
                canary = data["devices"]["srv-r2-01"]["steps"].get("highstate") or {}
                if canary.get("result") is True:
                    break
            assert proc.poll() is None, "the orchestration ended before the canary was applied"
            time.sleep(1)
        assert run_id, "no run recorded"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    master.terminate()
    master.start(start_timeout=180)
    # the minions reconnect by themselves; resume waits for them (bounded)
    ret = run(master, "turnup.resume", run=run_id)
    capture("resumed-status", master, "turnup.status", run=run_id)
    assert ret.data["state"] == "done", ret.data
    record = run(master, "turnup.status", run=run_id, raw=True).data
    final = statuses(netbox)
    counts = highstate_jobs(master, after)
    # nothing is ever applied twice; a highstate whose return reached neither the master's nor
    # the minion's job cache (the master was down when it returned) ends failed naming its jid
    assert all(counts.get(n) == 1 for n in HEALTHY), counts
    for name in HEALTHY:
        dev = record["devices"][name]
        if final[name] != "active":
            assert final[name] == "failed" and dev["failed_step"] == "highstate", dev
            assert "was in flight when the run was interrupted" in dev["error"], dev
    assert final["srv-r2-01"] == "active"  # the canary finished before the kill
    again = run(master, "turnup.resume", run=run_id)
    assert again.returncode == 1 and "nothing to resume" in again.stdout
