"""
Rack turn-up end to end: a real salt-master and 8 real salt-minions, one per server of lab1 rack
R2 (minion id = NetBox device name), each simulating its own server (real dmidecode of its model
from ../shared, serial/MACs/LLDP neighbours derived from lab1 by tests/support/lab_boxes.py).
``salt-run state.orchestrate orch.rack_turnup pillar='{site: lab1, rack: R2}'`` against a
NetBox stand-in of the module's own (the tests write NetBox).

Three boxes are faulty: srv-r2-03's LLDP shows the wrong ToR port, srv-r2-05 reports the wrong
serial (both fail validate), srv-r2-06's lldpd is stopped (a service its generation profile
requires: fails the post-check). With ``max_failures: 3`` the run goes on without them. ToR
tor1-r2 is a (simulated) minion too, planned in NetBox: a managed switch, configured in its wave
(staged -> highstate -> LLDP post-check -> active); oob-r2 and tor2-r2 are unmanaged: checked,
left alone. ``turnup.watch`` follows the first run live. On 2 cores the 9 minions and the master
start in about a minute; the module takes a few minutes.

Live-capable: with ``NETBOX_URL`` and ``NETBOX_ALLOW_WRITES=1`` it turns up R2 of a run-private
copy of lab1 (tests/support/live_lab.py; the minion ids are the copy's device names) and removes
the copy afterwards; without the write flag it skips.
"""

from __future__ import annotations

import copy
import json
import os
import re
import secrets
import signal
import subprocess
import threading
import time

import psutil
import pytest
import salt.config
from saltfactories.utils import random_string

from salt_ext.utils.netbox import NetBoxClient, load_config
from salt_ext.utils.netbox.seed import import_snapshot
from salt_ext.utils.turnup import record as rec
from tests.conftest import live_writes_allowed, needs_standin
from tests.support.lab_boxes import LabBoxes
from tests.support.live_lab import LabCopy, LabNames
from tests.support.netbox_standin import NetBoxStandin
from tests.support.saltenv import (
    PILLAR_ROOT,
    SHARED_FIXTURES,
    SHARED_MISSING_REASON,
    STATES_ROOT,
    master_overrides,
    minion_overrides,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.live_capable,
    pytest.mark.skipif(SHARED_FIXTURES is None, reason=SHARED_MISSING_REASON),
]

#: lab1 names -> this run's (a run-private copy of lab1 on a real NetBox, identity on the stand-in)
LAB = LabNames(secrets.token_hex(3) if os.environ.get("NETBOX_URL") else None)
SERVERS = [LAB.name(f"srv-r2-0{i}") for i in range(1, 9)]
CANARY = SERVERS[0]
WRONG_PORT = LAB.name("srv-r2-03")
WRONG_SERIAL = LAB.name("srv-r2-05")
SERVICE_DOWN = LAB.name("srv-r2-06")
HEALTHY = [s for s in SERVERS if s not in (WRONG_PORT, WRONG_SERIAL, SERVICE_DOWN)]
FAULTS = {
    WRONG_PORT: {"lldp": {"eno2": {"port_id": "Ethernet7"}}},
    WRONG_SERIAL: {"system": {"serial": "LAB1R2S99"}},
    SERVICE_DOWN: {"services": {"lldpd": {"running": False}}},
}
#: the managed ToR (a minion of this test), and the unmanaged network devices of R2
SWITCH = LAB.name("tor1-r2")
UNMANAGED = [LAB.name("oob-r2"), LAB.name("tor2-r2")]
PILLAR = {"site": LAB.site, "rack": "R2", "max_failures": 3, "batch": 3, "minion_timeout": 240}


class Target:
    def __init__(self, url, token, standin=None):
        self.standin = standin
        self.url = url
        self.token = token


def nb(target):
    return NetBoxClient(load_config({"netbox": {"url": target.url, "token": target.token}}))


def _switch_planned(target):
    # a new ToR of the rack: the turn-up brings it from planned to active (writes inside R2 only)
    client = nb(target)
    dev = client.list("dcim.devices", {"name": SWITCH})[0]
    client.update("dcim.devices", dev["id"], {"status": "planned"})


@pytest.fixture(scope="module")
def netbox(request, lab1_snapshot):
    """A NetBox of the module's own: a stand-in seeded with lab1, or on a real NetBox (with
    NETBOX_ALLOW_WRITES=1) a run-private copy of lab1 (``LAB``), removed afterwards."""
    if os.environ.get("NETBOX_URL"):
        if not live_writes_allowed():
            pytest.skip(
                "turns up rack R2 (writes statuses, MACs, journal entries): set "
                "NETBOX_ALLOW_WRITES=1 if the NetBox of NETBOX_URL may be written (a copy of "
                "lab1 of its own, removed afterwards)"
            )
        shared = request.getfixturevalue("netbox_target")  # lab1's shared objects exist first
        target = Target(shared.url, shared.token)
        lab_copy = LabCopy(nb(target), lab1_snapshot, run=LAB.run)
        try:
            lab_copy.seed()
            _switch_planned(target)
            yield target
        finally:
            left = lab_copy.remove()
            assert not left, f"lab copy {LAB.run} left objects behind: {left}"
        return
    standin = NetBoxStandin().start()
    target = Target(standin.url, standin.token_v2, standin)
    import_snapshot(nb(target), copy.deepcopy(lab1_snapshot))
    _switch_planned(target)
    yield target
    standin.stop()


#: the switch's states as an operator's SLS tree would hold them: its interfaces from NetBox
#: (OpenConfig) written under its simulated root, never the host's
SWITCH_SLS = """{%- set root = salt['config.get']('hardware:root') %}
switch-openconfig-interfaces:
  file.serialize:
    - name: {{ root }}/etc/switch/openconfig-interfaces.json
    - dataset: {{ salt['netbox.openconfig_interfaces'](grains['id']) | json }}
    - serializer: json
    - makedirs: True
"""


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
    # the operator's top file: the product's plus the switch
    states = work / "states"
    (states / "lab").mkdir(parents=True)
    (states / "top.sls").write_text(
        (STATES_ROOT / "top.sls").read_text() + f"  '{SWITCH}':\n    - lab.switch\n"
    )
    (states / "lab" / "switch.sls").write_text(SWITCH_SLS)
    return work


def switch_spec(path):
    """The simulated switch: its LLDP neighbours are the cable peers NetBox has for it."""
    lab = LabBoxes().lab
    dev = lab.device("tor1-r2")
    lldp = {}
    for iface in lab.interfaces(dev):
        for peer in iface.get("link_peers") or []:
            lldp[iface["name"]] = {
                "chassis_name": LAB.name(peer["device"]["name"]),
                "port_id": peer["name"],
            }
    spec = {"overrides": {"system": {"vendor": "Arista", "product": "DCS-7050SX3-48YC8"}}}
    spec["overrides"]["lldp"] = lldp
    path.write_text(json.dumps(spec))
    return path


@pytest.fixture(scope="module")
def master(salt_factories, netbox, workdir):
    overrides = master_overrides(
        netbox,
        pillar_roots={"base": [str(workdir / "pillar"), str(PILLAR_ROOT)]},
        # the operator's tree first: its top.sls shadows the product's (Salt serves the first found)
        file_roots={"base": [str(workdir / "states"), str(STATES_ROOT)]},
        ext_pillar=[{"netbox": {"ttl": 0}}],
        worker_threads=3,
        # a minion job's first "still running it?" check after 10 s instead of 60 s
        turnup={"alive_check": 10},
    )
    factory = salt_factories.salt_master_daemon(random_string("tu-m-"), overrides=overrides)
    with factory.started(start_timeout=180):
        yield factory


@pytest.fixture(scope="module")
def minions(master, netbox, workdir):
    boxes = LabBoxes()
    factories = []
    for name in SERVERS + [SWITCH]:
        if name == SWITCH:
            spec = switch_spec(workdir / f"{name}.json")
        else:
            data = boxes.spec(LAB.unsub(name), FAULTS.get(name))
            data["overrides"] = LAB.sub(data["overrides"])  # the copy's serial and switch names
            spec = workdir / f"{name}.json"
            spec.write_text(json.dumps(data))
        hardware = {
            "simulate": str(spec),
            "root": str(workdir / f"{name}-root"),
            "apply_live": False,
        }
        # no cache_jobs: a highstate that ends while the master is down is found on resume in
        # the copy the returner turnup_jobs keeps on the minion
        factories.append(
            master.salt_minion_daemon(name, overrides=minion_overrides(netbox, hardware=hardware))
        )
    started = time.time()
    try:
        for factory in factories:
            factory.start(start_timeout=180)
        print(f"{len(factories)} minions started in {time.time() - started:.0f}s")
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


def statuses(netbox, names=SERVERS):
    devs = nb(netbox).list("dcim.devices", {"site": LAB.site})
    return {d["name"]: d["status"]["value"] for d in devs if d["name"] in names}


#: object changes are counted from here on (an hour back: a real NetBox's clock may differ)
SINCE = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))


def change_count(netbox):
    client = nb(netbox)
    body = client.request(
        "GET",
        client.endpoint_url("core.object-changes"),
        params=[("time_after", SINCE), ("limit", "1")],
    )
    return body["count"]


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
    ret = run(master, "turnup.preflight", site=LAB.site, rack="R3", timeout=300)
    assert ret.returncode == 1
    got = {(e["device"], e["check"]): e for e in ret.data["errors"]}
    assert set(got) == LAB.sub(
        {
            ("srv-r3-01", "primary_ip"),
            ("srv-r3-02", "generation"),
            ("srv-r3-03", "serial_duplicate"),
            ("srv-r3-04", "cabling"),
        }
    )
    cabling = got[(LAB.name("srv-r3-04"), "cabling")]
    assert cabling["object"] == LAB.sub("dcim.interfaces srv-r3-04:eno2")
    assert change_count(netbox) == before


def test_bad_input_names_the_argument(master, minions):
    # SaltInvocationError -> a failed job: {error: <message>, retcode: 1}, salt-run exits 1
    for kwargs, words in (
        ({"site": LAB.site, "rack": "R9"}, f"rack='R9' not found in site {LAB.site}"),
        ({"site": LAB.site, "rack": "R2", "batch": "0"}, "batch=0"),
        ({"site": "lab9", "rack": "R2"}, "site='lab9' not found"),
    ):
        ret = run(master, "turnup.plan", timeout=120, **kwargs)
        assert ret.returncode == 1 and words in ret.stdout, ret.stdout
        assert "Traceback" not in ret.stdout
    ret = run(master, "turnup.status", run=f"{LAB.site}-R2-nope", timeout=120)
    assert ret.returncode == 1 and f"run='{LAB.site}-R2-nope' does not exist" in ret.stdout


def test_dry_run_predicts_and_writes_nothing(master, minions, netbox):
    before = change_count(netbox)
    ret = run(master, "state.orchestrate", "orch.rack_turnup", pillar=PILLAR, test=True)
    states = orch_states(ret)
    assert [k for k, v in states.items() if v["result"] is False] == []
    assert states["turnup-activate"]["changes"][CANARY]["status"]["new"] == "active"
    stage = states["turnup-stage"]
    assert stage["result"] is None
    assert stage["changes"][CANARY]["status"] == {"old": "planned", "new": "staged"}
    network = states["turnup-network"]["changes"]  # the managed switch's lifecycle, predicted
    assert network[SWITCH]["status"] == {"old": "planned", "new": "active"}
    assert not set(UNMANAGED) & set(network)
    assert (
        "services.lldpd"
        in states["turnup-postcheck"]["changes"][SERVICE_DOWN]["predicted_failure"]["new"]
    )
    validate = states["turnup-validate"]["changes"]
    assert validate[WRONG_PORT]["status"]["new"] == "failed"
    assert validate[WRONG_SERIAL]["status"]["new"] == "failed"
    assert change_count(netbox) == before
    assert set(statuses(netbox).values()) == {"planned"}
    assert statuses(netbox, [SWITCH]) == {SWITCH: "planned"}
    assert run(master, "turnup.status", site=LAB.site, rack="R2").returncode == 1  # no run recorded


class Watch:
    """``salt-run turnup.watch run=<id>`` in a subprocess; each stdout line with when it came."""

    def __init__(self, master, run_id):
        argv = master.salt_run_cli(timeout=900).cmdline("turnup.watch", run=run_id, timeout=1800)
        self.proc = subprocess.Popen(  # noqa: S603
            argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1
        )
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for text in self.proc.stdout:
            self.lines.append((time.time(), text.rstrip("\n")))

    def wait(self, timeout):
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(timeout=30)
        return self.proc.returncode


@pytest.fixture(scope="module")
def first_run(master, minions, netbox):
    """The turn-up of R2, with ``turnup.watch`` following it from a second process."""
    before = run(master, "test.arg", timeout=60)  # noqa: F841 - the master answers
    start_jid = time.strftime("%Y%m%d%H%M%S", time.gmtime()) + "000000"
    started = time.time()
    result = {}

    def orchestrate():
        result["ret"] = run(master, "state.orchestrate", "orch.rack_turnup", pillar=PILLAR)
        result["ended"] = time.time()

    thread = threading.Thread(target=orchestrate, daemon=True)
    thread.start()
    run_id, watch = None, None
    deadline = time.time() + 600
    while run_id is None and time.time() < deadline and thread.is_alive():
        st = run(master, "turnup.status", site=LAB.site, rack="R2", raw=True, timeout=120)
        if isinstance(st.data, dict) and st.data.get("state") == "running":
            run_id = st.data["id"]
            watch = Watch(master, run_id)
        else:
            time.sleep(1)
    thread.join(timeout=1800)
    assert "ret" in result, "the orchestration did not return"
    watched = watch.wait(timeout=300) if watch else None
    return {
        "ret": result["ret"],
        "after": start_jid,
        "seconds": result["ended"] - started,
        "ended": result["ended"],
        "run": run_id,
        "watch": watch,
        "watch_rc": watched,
    }


def test_turnup_takes_healthy_servers_active_and_isolates_the_faulty(first_run, master, netbox):
    ret = first_run["ret"]
    print(f"orchestration took {first_run['seconds']:.0f}s")
    assert ret.returncode != 0
    final = statuses(netbox)
    states = orch_states(ret)
    said = {k: str(v.get("comment"))[:600] for k, v in states.items()}
    assert {n: final[n] for n in HEALTHY} == dict.fromkeys(HEALTHY, "active"), said
    assert final[WRONG_PORT] == "failed" and final[WRONG_SERIAL] == "failed"
    assert final[SERVICE_DOWN] == "failed"
    finish = states["turnup-finish"]
    assert finish["result"] is False
    assert f"{WRONG_PORT} at validate" in finish["comment"]
    assert f"{WRONG_SERIAL} at validate" in finish["comment"]
    assert f"{SERVICE_DOWN} at postcheck" in finish["comment"]
    down = "\n".join(journal(netbox, SERVICE_DOWN))
    assert "step postcheck failed (minion job 2" in down
    # the post-check ran at the end of each server's highstate (hwgen's hwgen-postcheck state):
    # judged with the highstate's job, no job of its own
    record = run(master, "turnup.status", run=first_run["run"], raw=True).data
    for name in HEALTHY + [SERVICE_DOWN]:
        done = record["devices"][name]["steps"]
        assert done["postcheck"]["jid"] == done["highstate"]["jid"], (name, done)
    assert "services.lldpd: required service lldpd is not running" in down
    entries = "\n".join(journal(netbox, WRONG_PORT))
    keep("orchestrate-finish", f"{finish['comment']}\n")
    keep("journal-" + WRONG_PORT, "\n----\n".join(journal(netbox, WRONG_PORT)) + "\n")
    assert "step validate failed (minion job 2" in entries and "cabling.eno2" in entries
    assert "Salt job" in entries
    assert "serial" in "\n".join(journal(netbox, WRONG_SERIAL))
    counts = highstate_jobs(master, first_run["after"])
    assert {n: counts.get(n) for n in HEALTHY + [SERVICE_DOWN]} == dict.fromkeys(
        HEALTHY + [SERVICE_DOWN], 1
    )
    assert WRONG_PORT not in counts and WRONG_SERIAL not in counts
    status = capture("status", master, "turnup.status", site=LAB.site, rack="R2")
    assert status.returncode == 0 and "activate" in status.stdout
    capture("plan", master, "turnup.plan", site=LAB.site, rack="R2", batch=3, table=True)
    capture("preflight-r3", master, "turnup.preflight", site=LAB.site, rack="R3")


def test_managed_switch_configured_in_its_wave_unmanaged_left_alone(
    first_run, master, netbox, workdir
):
    assert statuses(netbox, [SWITCH] + UNMANAGED) == dict.fromkeys([SWITCH] + UNMANAGED, "active")
    entries = journal(netbox, SWITCH)
    run_id = first_run["run"]
    assert any(f"turn-up run {run_id} (R2): stage" in e for e in entries), entries
    assert any(f"turn-up run {run_id} (R2): activate" in e for e in entries), entries
    for name in UNMANAGED:  # checked from NetBox, nothing written
        assert not [e for e in journal(netbox, name) if run_id in e]
    counts = highstate_jobs(master, first_run["after"])
    assert counts.get(SWITCH) == 1 and not set(UNMANAGED) & set(counts)
    # its highstate (the operator's lab.switch SLS) wrote its config under its own root
    config = workdir / f"{SWITCH}-root" / "etc" / "switch" / "openconfig-interfaces.json"
    names = list(json.loads(config.read_text())["interfaces"]["interface"])  # keyed by name
    assert "Ethernet1" in names and "Management1" in names
    record = run(master, "turnup.status", run=run_id, raw=True).data
    steps = record["devices"][SWITCH]["steps"]
    assert {s: steps[s]["result"] for s in steps} == dict.fromkeys(
        ("stage", "wait_minions", "highstate", "postcheck", "activate"), True
    )
    assert "9 of 9 cabled port(s) match NetBox by LLDP" in steps["postcheck"]["comment"]
    # the whole network wave before any server's minion work
    first_server = min(record["devices"][n]["steps"]["wait_minions"]["started"] for n in SERVERS)
    assert steps["activate"]["ended"] <= first_server
    for name in UNMANAGED:
        check = record["devices"][name]["steps"]["check"]
        assert check["result"] is True and "left alone" in check["comment"], check


def test_watch_followed_the_run_live_until_done(first_run, master):
    watch, run_id = first_run["watch"], first_run["run"]
    assert watch is not None, "no running run seen to watch"
    assert first_run["watch_rc"] == 0, watch.lines
    record = run(master, "turnup.status", run=run_id, raw=True).data
    progress = {}
    for when, text in watch.lines:
        found = re.match(r"^(\S+)/(\w+)\s+(ok|FAILED)\s", text)
        if found:
            progress.setdefault((found[1], found[2]), []).append((when, text))
    recorded = {
        (name, step)
        for name, dev in record["devices"].items()
        for step, entry in dev["steps"].items()
        if entry.get("result") is not None
    }
    assert set(progress) == recorded  # every device's every step ...
    assert [k for k, v in progress.items() if len(v) != 1] == []  # ... printed once
    # ... as it happened: the servers' later steps came from live events, before the run ended
    for name in HEALTHY:
        for step in ("highstate", "postcheck", "activate"):
            when, text = progress[(name, step)][0]
            assert "(earlier)" not in text and when < first_run["ended"], text
    assert "FAILED" in progress[(SERVICE_DOWN, "postcheck")][0][1]
    lines = [text for _, text in watch.lines]
    done = [t for t in lines if t.startswith(f"{run_id}: ")]
    assert len(done) == 1 and done[0].startswith(f"{run_id}: done (failed: "), done
    table = json.loads(lines[-1])  # salt-run's return: the final table ...
    status = run(master, "turnup.status", run=run_id)  # ... as turnup.status prints it
    shown = status.data if isinstance(status.data, str) else status.stdout
    assert [ln.rstrip() for ln in table.strip().splitlines()] == [
        ln.rstrip() for ln in shown.strip().splitlines()
    ]


def test_second_run_changes_nothing(first_run, master, netbox):
    before_changes = change_count(netbox)
    before_status = statuses(netbox)
    ret = run(master, "state.orchestrate", "orch.rack_turnup", pillar=PILLAR)
    assert ret.returncode == 0, ret.stdout
    assert statuses(netbox) == before_status
    assert change_count(netbox) == before_changes
    counts = highstate_jobs(master, first_run["after"])
    assert {n: counts.get(n) for n in HEALTHY + [SWITCH]} == dict.fromkeys(HEALTHY + [SWITCH], 1)
    # watch on a finished run: the final table at once
    watched = run(master, "turnup.watch", site=LAB.site, rack="R2", timeout=120)
    assert watched.returncode == 0
    assert re.search(rf"{WRONG_PORT}\s+batch-1\s+validate\s+failed", watched.stdout), watched.stdout


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
        run_id, inflight = None, []
        # the run record read straight from the master's cache (salt.cache, localfs): polled
        # every 0.1 s, so a highstate of a few seconds is never missed
        store = rec.Store(salt.config.master_config(master.config_file))
        while time.time() < deadline:
            data = store.latest(LAB.site, "R2") or {}
            if data.get("options", {}).get("devices") and data.get("state") == "running":
                run_id = data["id"]
                # killed while a highstate is in flight: its jid recorded, no result yet
                inflight = [
                    n
                    for n in HEALTHY
                    if (data["devices"][n]["steps"].get("highstate") or {}).get("jid")
                    and (data["devices"][n]["steps"].get("highstate") or {}).get("result") is None
                ]
                if inflight:
                    break
            assert proc.poll() is None, "the orchestration ended before any highstate ran"
            time.sleep(0.1)
        assert run_id and inflight, "no highstate seen in flight"
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
    # nothing is applied twice, and every highstate in flight at the kill is found: in the
    # master's job cache, still running, or kept by the minion itself (returner turnup_jobs)
    # when it ended while no master listened
    assert all(counts.get(n) == 1 for n in HEALTHY), counts
    assert {n: final[n] for n in HEALTHY} == {n: "active" for n in HEALTHY}, {
        n: (record["devices"][n].get("failed_step"), record["devices"][n].get("error"))
        for n in HEALTHY
    }
    again = run(master, "turnup.resume", run=run_id)
    assert again.returncode == 1 and "nothing to resume" in again.stdout


def test_a_step_that_errors_records_the_run_stopped(first_run, master, netbox):
    """A step that raises (NetBox refuses the stage step's bulk status change) fails the
    orchestration, and the SLS's onfail state records the run ``stopped``, not ``done``."""
    needs_standin(netbox, "makes NetBox fail the stage step's writes")
    failed = [n for n, status in statuses(netbox).items() if status == "failed"]
    assert failed, "the first run left no failed server to stage again"
    netbox.standin.faults.add(
        "status", status=500, methods=["PATCH"], path_prefix="/api/dcim/devices/"
    )
    try:
        ret = run(master, "state.orchestrate", "orch.rack_turnup", pillar={**PILLAR, "new": True})
    finally:
        netbox.standin.faults.clear()
    assert ret.returncode != 0
    states = orch_states(ret)
    assert states["turnup-stage"]["result"] is False
    assert "500" in states["turnup-stage"]["comment"], states["turnup-stage"]["comment"]
    # the onfail finish records the run stopped and fails too: the orchestration's result is False
    assert "stopped" in states["turnup-stopped"]["comment"], states["turnup-stopped"]["comment"]
    record = rec.Store(salt.config.master_config(master.config_file)).latest(LAB.site, "R2")
    assert record["id"] != first_run["run"] and record["state"] == "stopped", record["state"]
    # nothing was written: the failed servers are still failed
    assert {n: statuses(netbox)[n] for n in failed} == dict.fromkeys(failed, "failed")


def test_a_serial_fixed_in_netbox_counts_on_the_next_run(first_run, master, minions, netbox):
    """The operator finds the box right and NetBox wrong, and fixes the serial in NetBox. The
    minion's in-memory pillar, compiled before, still has the old serial: the re-run's validate
    fails against it, checks the box once more against a pillar compiled now, and the box goes
    active."""
    client = nb(netbox)
    dev = next(iter(client.list("dcim.devices", {"name": WRONG_SERIAL})))
    assert statuses(netbox, [WRONG_SERIAL]) == {WRONG_SERIAL: "failed"}
    old, reported = dev["serial"], LAB.sub("LAB1R2S99")
    client.update("dcim.devices", dev["id"], {"serial": reported})
    after = time.strftime("%Y%m%d%H%M%S", time.gmtime()) + "000000"
    ret = run(
        master,
        "state.orchestrate",
        "orch.rack_turnup",
        pillar={**PILLAR, "devices": [WRONG_SERIAL], "new": True},
    )
    assert ret.returncode == 0, ret.stdout
    assert statuses(netbox, [WRONG_SERIAL]) == {WRONG_SERIAL: "active"}
    # the minion still holds the pillar it had: the first look compared against that
    held = master.salt_cli(timeout=120).run(
        "pillar.get", "netbox:serial", unmask=True, minion_tgt=WRONG_SERIAL
    )
    assert held.data == old, held
    record = rec.Store(salt.config.master_config(master.config_file)).latest(LAB.site, "R2")
    validate = record["devices"][WRONG_SERIAL]["steps"]["validate"]
    assert validate["result"] is True, validate

    def jobs_of(fun):
        listed = run(master, "jobs.list_jobs", search_function=fun, timeout=120).data
        return {jid: j for jid, j in listed.items() if jid > after and j["Function"] == fun}

    # two looks at the box: against the minion's pillar, in the job wait_minions asked with
    # (turnup.prepare: sync, then validate), then against a fresh one, which is recorded
    first, again = jobs_of("turnup.prepare"), jobs_of("hardware.validate")
    assert len(first) == 1 and len(again) == 1, (first, again)
    assert validate["jid"] in again and validate["jid"] > min(first)
    assert "fresh_pillar" in str(again[validate["jid"]]["Arguments"])


def test_a_second_orchestration_while_the_rack_runs_leaves_the_run_alone(
    first_run, master, minions, netbox
):
    """One turn-up per rack: while a run goes on (its one server's minion is paused, so the run
    waits for it), a second orchestration of the rack is refused naming that run, and its onfail
    step leaves that run alone; turnup.resume of it is refused too. The first run finishes once
    the minion answers."""
    box = HEALTHY[0]
    client = nb(netbox)
    for dev in client.list("dcim.devices", {"name": box}):
        client.update("dcim.devices", dev["id"], {"status": "planned"})
    store = rec.Store(salt.config.master_config(master.config_file))
    before = (store.latest(LAB.site, "R2") or {}).get("id")
    parent = psutil.Process(minions[box].pid)
    paused = [parent, *parent.children(recursive=True)]
    for proc in paused:
        proc.suspend()
    result = {}

    def orchestrate():
        pillar = {**PILLAR, "devices": [box], "new": True}
        result["ret"] = run(master, "state.orchestrate", "orch.rack_turnup", pillar=pillar)

    thread = threading.Thread(target=orchestrate, daemon=True)
    thread.start()
    try:
        deadline, data = time.time() + 300, {}
        while time.time() < deadline and thread.is_alive():
            data = store.latest(LAB.site, "R2") or {}
            if data.get("id") != before and data.get("state") == "running":
                break
            time.sleep(0.2)
        run_id = data.get("id")
        assert run_id != before and data.get("state") == "running", data.get("state")
        holder = store.lock(LAB.site, "R2")
        for pillar in ({**PILLAR, "devices": [box]}, {**PILLAR, "devices": [box], "new": True}):
            second = run(master, "state.orchestrate", "orch.rack_turnup", pillar=pillar)
            assert second.returncode != 0, second.stdout
            states = orch_states(second)
            held = f"already has a running turn-up: run {run_id}"
            assert held in states["turnup-start"]["comment"], states["turnup-start"]
            assert "leaves that run alone" in states["turnup-stopped"]["comment"], states
        resumed = run(master, "turnup.resume", run=run_id)
        assert resumed.returncode == 1 and held in resumed.stdout, resumed.stdout
        assert store.get(run_id)["state"] == "running"
        assert store.lock(LAB.site, "R2") == holder
        assert thread.is_alive(), "the run did not wait for the paused minion"
    finally:
        for proc in paused:
            proc.resume()
    thread.join(timeout=900)
    assert result["ret"].returncode == 0, result["ret"].stdout
    assert store.get(run_id)["state"] == "done"
    assert statuses(netbox, [box]) == {box: "active"}


def test_a_server_that_goes_down_mid_turnup_is_failed_when_it_stops_answering(
    first_run, master, minions, netbox
):
    """A server's minion stops (paused) while the canary's highstate runs: its own highstate
    never returns, saltutil.find_job finds it running nothing and it answers no ping, so the run
    fails it then, naming that (not after job_timeout, 900 s), and the canary goes active."""
    canary, down = HEALTHY[1], HEALTHY[2]
    client = nb(netbox)
    for dev in client.list("dcim.devices", {"name": [canary, down]}):
        client.update("dcim.devices", dev["id"], {"status": "planned"})
    store = rec.Store(salt.config.master_config(master.config_file))
    before = (store.latest(LAB.site, "R2") or {}).get("id")
    result = {}

    def orchestrate():
        pillar = {**PILLAR, "devices": [canary, down], "batch": 1, "new": True}
        result["ret"] = run(master, "state.orchestrate", "orch.rack_turnup", pillar=pillar)

    thread = threading.Thread(target=orchestrate, daemon=True)
    thread.start()
    parent = psutil.Process(minions[down].pid)
    paused = []
    try:
        deadline, data = time.time() + 600, {}
        while time.time() < deadline and thread.is_alive():
            data = store.latest(LAB.site, "R2") or {}
            steps_of = (data.get("devices") or {}).get(canary, {}).get("steps", {})
            if data.get("id") != before and (steps_of.get("highstate") or {}).get("jid"):
                break
            time.sleep(0.1)
        assert data.get("id") != before, "the run did not reach the canary's highstate"
        paused = [parent, *parent.children(recursive=True)]
        for proc in paused:
            proc.suspend()
        thread.join(timeout=900)
    finally:
        for proc in paused:
            proc.resume()
    ret = result["ret"]
    assert ret.returncode != 0, ret.stdout
    record = store.get(data["id"])
    gone = record["devices"][down]
    assert gone["failed_step"] == "highstate", gone
    assert "stopped answering during job" in gone["error"], gone["error"]
    assert gone["steps"]["highstate"]["jid"] in gone["error"]
    assert statuses(netbox, [canary, down]) == {canary: "active", down: "failed"}
    assert f"{down} at highstate" in orch_states(ret)["turnup-finish"]["comment"]
