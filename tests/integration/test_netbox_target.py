"""
NetBox as a Salt target, end to end: a real salt-master and a minion (``srv-r2-01``, simulating a
real Dell M630 from ../shared's dmidecode plus authored NIC/disk/BMC outputs) against a NetBox
stand-in of this module's own, seeded with lab1 through the API.

- the example SLS ``netbox_examples.turnup`` applied twice: the second run changes nothing, and
  its journal entry names the Salt job that wrote it;
- ``netbox.sync_inventory`` fills MAC addresses and inventory items, then refuses a conflicting
  serial with a clear message;
- two concurrent ``netbox.assign_next_ip`` calls (one on the minion, one on the master through
  ``salt-run salt.cmd``) on one prefix get different addresses;
- the token never appears in any return, event or log line of these tests.

Live-capable: with ``NETBOX_URL`` and ``NETBOX_ALLOW_WRITES=1`` it works in a run-private copy of
lab1 (tests/support/live_lab.py: every name, serial and IP through ``LAB``; the minion id is the
copy's device name) and removes the copy afterwards, also when a test fails; without the write flag
it skips.
"""

from __future__ import annotations

import copy
import json
import os
import pathlib
import secrets
import shutil
import threading
import time

import pytest
import yaml
from saltfactories.utils import random_string

from salt_ext.utils.netbox import NetBoxClient, load_config
from salt_ext.utils.netbox.seed import import_snapshot
from tests.conftest import live_writes_allowed
from tests.support.live_lab import LabCopy, LabNames
from tests.support.netbox_standin import NetBoxStandin
from tests.support.saltenv import (
    REPO_ROOT,
    SHARED_FIXTURES,
    SHARED_MISSING_REASON,
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
MINION = LAB.name("srv-r2-01")
#: the spare uplink's MAC the example SLS declares: run-unique on a real NetBox (the state moves a
#: MAC it finds on exactly one other interface, e.g. on another run's copy of srv-r2-01)
SPARE_MAC = (
    f"02:{LAB.run[0:2]}:{LAB.run[2:4]}:{LAB.run[4:6]}:02:21".upper()
    if LAB.renamed
    else "02:00:5E:10:02:21"
)
#: the example SLS's site, address, uplink and MAC in the copy (its defaults are lab1's own: on
#: the stand-in they are used as they are)
EXAMPLE_ARGS = (
    (
        "pillar="
        + json.dumps(
            {
                "netbox_example": {
                    "site": LAB.site,
                    "address": LAB.ip("10.10.2.21/24"),
                    "uplink": f"{LAB.name('tor1-r2')}:Ethernet21",
                    "mac": SPARE_MAC,
                }
            }
        ),
    )
    if LAB.renamed
    else ()
)
#: the orchestration example's device in the copy (its default is lab1's srv-r2-04)
ORCH_ARGS = (
    ("pillar=" + json.dumps({"netbox_example": {"device": LAB.name("srv-r2-04")}}),)
    if LAB.renamed
    else ()
)
#: the tag the example SLS creates (a NetBox-wide object, outside the lab copy)
EXAMPLE_TAG = "turnup-example"
SIMULATED_M630 = REPO_ROOT / "tests" / "unit" / "hardware" / "fixtures" / "simulated" / "srv-r1-01"
#: everything returned by the daemons in this module, scanned for the token at the end
RETURNS = []
#: every master event seen during this module's tests (the listener forgets them after 120 s)
EVENTS = []


class Target:
    def __init__(self, url, token, standin=None):
        self.standin = standin
        self.url = url
        self.token = token


@pytest.fixture(scope="module")
def netbox(request, lab1_snapshot):
    """A NetBox of this module's own (the tests write): a stand-in seeded with lab1 through the
    API, or on a real NetBox (with NETBOX_ALLOW_WRITES=1) a run-private copy of lab1 (``LAB``),
    removed afterwards with the example SLS's tag when this module created it."""
    if os.environ.get("NETBOX_URL"):
        if not live_writes_allowed():
            pytest.skip(
                "writes statuses, interfaces, MACs, IPs, cables and journal entries: set "
                "NETBOX_ALLOW_WRITES=1 if the NetBox of NETBOX_URL may be written (a copy of lab1 "
                "of its own, removed afterwards)"
            )
        shared = request.getfixturevalue("netbox_target")  # lab1's shared objects exist first
        target = Target(shared.url, shared.token)
        nb = client(target)
        tag_existed = nb.find("extras.tags", slug=EXAMPLE_TAG) is not None
        lab_copy = LabCopy(nb, lab1_snapshot, run=LAB.run)
        try:
            lab_copy.seed()
            yield target
        finally:
            left = lab_copy.remove()
            tag = None if tag_existed else nb.find("extras.tags", slug=EXAMPLE_TAG)
            if tag is not None:
                nb.delete("extras.tags", tag["id"])
            assert not left, f"lab copy {LAB.run} left objects behind: {left}"
        return
    standin = NetBoxStandin().start()
    target = Target(standin.url, standin.token_v2, standin)  # the v2 form: "nbt_<key>.<secret>"
    import_snapshot(client(target), copy.deepcopy(lab1_snapshot))
    yield target
    standin.stop()


def client(target):
    return NetBoxClient(load_config({"netbox": {"url": target.url, "token": target.token}}))


@pytest.fixture(scope="module")
def simulation(tmp_path_factory):
    """A simulated real server for srv-r2-01: real M630 dmidecode, its own MACs and serial (the
    copy's serial, LLDP neighbours and addresses on a real NetBox)."""
    if not SIMULATED_M630.is_dir():
        pytest.skip(f"{SIMULATED_M630} (the hardware engineer's simulated M630) is absent")
    work = tmp_path_factory.mktemp("srv-r2-01-hw")
    box = work / "box"
    shutil.copytree(SIMULATED_M630, box)
    for path in box.iterdir():
        text = path.read_text(encoding="utf-8")
        text = text.replace("24:6e:96:01:11", "24:6e:96:02:11").replace(
            "24:6E:96:01:11", "24:6E:96:02:11"
        )
        path.write_text(LAB.sub(text), encoding="utf-8")
    overrides = yaml.safe_load((box / "overrides.yaml").read_text(encoding="utf-8")) or {}
    overrides.setdefault("system", {})["serial"] = LAB.sub("LAB1R2S01")
    (box / "overrides.yaml").write_text(yaml.safe_dump(overrides), encoding="utf-8")
    spec = {
        "dir": str(box),
        "dmidecode": str(SHARED_FIXTURES / "hardware" / "dmidecode" / "Dell_PowerEdge_M630.txt"),
        "overrides": overrides,
    }
    spec_file = work / "simulate.json"
    spec_file.write_text(json.dumps(spec), encoding="utf-8")
    return {"spec": str(spec_file), "root": str(work / "root")}


@pytest.fixture(scope="module")
def master(salt_factories, netbox, tmp_path_factory):
    overrides = master_overrides(
        netbox,
        log_level_logfile="debug",
        autosign_grains_dir=str(tmp_path_factory.mktemp("autosign")),
    )
    factory = salt_factories.salt_master_daemon(random_string("nbt-m-"), overrides=overrides)
    with factory.started():
        yield factory


@pytest.fixture(scope="module")
def minion(master, netbox, simulation):
    hardware = {"simulate": simulation["spec"], "root": simulation["root"], "apply_live": False}
    factory = master.salt_minion_daemon(
        MINION,
        overrides=minion_overrides(netbox, hardware=hardware, log_level_logfile="debug"),
    )
    with factory.started():
        yield factory


@pytest.fixture(scope="module")
def started_at():
    return time.time()


@pytest.fixture(autouse=True)
def _collect_events(master, event_listener):
    """Keep every master event of each test for the token scan."""
    started = time.time()
    yield
    time.sleep(0.5)  # events reach the listener asynchronously
    EVENTS.extend(event_listener.get_events([(master.id, "*")], after_time=started - 1))


def salt(master, minion, *args, timeout=180):
    ret = master.salt_cli(timeout=timeout).run(*args, minion_tgt=minion.id)
    RETURNS.append(ret)
    return ret


def job_ids(event_listener, master, fun, after, count, timeout=60):  # noqa: PLR0917
    """The jids of the minion's ``fun`` returns seen on the master bus after ``after``, oldest
    first (events reach the listener asynchronously: wait for ``count`` of them)."""
    deadline = time.time() + timeout
    while True:
        events = event_listener.get_events(
            [(master.id, f"salt/job/*/ret/{MINION}")], after_time=after
        )
        found = sorted((e.data["jid"] for e in events if e.data.get("fun") == fun), key=int)
        if len(found) >= count or time.time() > deadline:
            assert len(found) == count, events
            return found
        time.sleep(0.5)


def _state_results(ret):
    assert isinstance(ret.data, dict), ret
    return ret.data


def test_sls_applied_twice_second_run_changes_nothing(
    master, minion, netbox, event_listener, started_at
):
    # test=True first: states depending on objects an earlier state would create predict
    # instead of failing, and nothing is written
    dry = salt(master, minion, "state.apply", "netbox_examples.turnup", *EXAMPLE_ARGS, "test=True")
    assert dry.returncode == 0, dry
    results = _state_results(dry)
    assert len(results) == 7
    assert all(r["result"] in (None, True) for r in results.values()), results
    assert {r["__id__"] for r in results.values() if r["result"] is None} >= {
        "netbox-example-oob",
        "netbox-example-mac",
        "netbox-example-cable",
    }
    dev = client(netbox).find("dcim.devices", name=MINION)
    assert client(netbox).find("dcim.interfaces", device_id=dev["id"], name="ens3f0") is None

    before = time.time()
    first = salt(master, minion, "state.apply", "netbox_examples.turnup", *EXAMPLE_ARGS)
    assert first.returncode == 0, first
    results = _state_results(first)
    assert len(results) == 7
    assert all(r["result"] is True for r in results.values()), results
    changed = {r["__id__"] for r in results.values() if r["changes"]}
    assert {"netbox-example-oob", "netbox-example-cable", "netbox-example-journal"} <= changed

    second = salt(master, minion, "state.apply", "netbox_examples.turnup", *EXAMPLE_ARGS)
    assert second.returncode == 0, second
    results = _state_results(second)
    assert all(r["result"] is True for r in results.values()), results
    assert [r["__id__"] for r in results.values() if r["changes"]] == []

    # NetBox holds what the SLS declared
    nb = client(netbox)
    dev = nb.find("dcim.devices", name=MINION)
    iface = nb.find("dcim.interfaces", device_id=dev["id"], name="ens3f0")
    assert iface["mtu"] == 9000 and iface["primary_mac_address"]["mac_address"] == SPARE_MAC
    assert iface["link_peers"][0]["name"] == "Ethernet21"
    assert iface["link_peers"][0]["device"]["name"] == LAB.name("tor1-r2")
    address = nb.find("ipam.ip-addresses", address=LAB.ip("10.10.2.21/24"))
    assert address["status"]["value"] == "reserved"

    # the journal entry names the job of the first run
    jids = job_ids(event_listener, master, "state.apply", before, 2)
    entries = [
        e
        for e in nb.list(
            "extras.journal-entries",
            {"assigned_object_type": "dcim.device", "assigned_object_id": dev["id"]},
        )
        if e["comments"].startswith("spare uplink ens3f0")
    ]
    assert len(entries) == 1
    assert f"Salt job {jids[0]} ({MINION})" in entries[0]["comments"]


def test_set_status_journal_names_the_published_job(master, minion, netbox, event_listener):
    before = time.time()
    ret = salt(
        master, minion, "netbox.set_status", LAB.name("srv-r2-03"), "staged", "comment=burn-in ok"
    )
    assert ret.returncode == 0, ret
    assert ret.data["changed"] is True and ret.data["old"] == "planned"
    (jid,) = job_ids(event_listener, master, "netbox.set_status", before, 1)
    entry = client(netbox).get("extras.journal-entries", ret.data["journal_id"])
    assert entry["comments"].startswith("Status planned -> staged: burn-in ok")
    assert f"Salt job {jid}" in entry["comments"]


def test_sync_inventory_from_a_simulated_server(master, minion, netbox, event_listener):
    nb = client(netbox)
    dev = nb.find("dcim.devices", name=MINION)
    assert not nb.list("dcim.inventory-items", {"device_id": dev["id"]})

    before = time.time()
    ret = salt(master, minion, "netbox.sync_inventory")
    assert ret.returncode == 0, ret
    data = ret.data
    assert data["device"] == MINION and data["conflicts"] == []
    assert set(data["changes"]["mac_addresses"]) >= {"eno1", "eno2"}
    ifaces = {i["name"]: i for i in nb.list("dcim.interfaces", {"device_id": dev["id"]})}
    assert ifaces["eno1"]["mac_address"] == LAB.sub("24:6E:96:02:11:01")
    assert ifaces["eno2"]["mac_address"] == LAB.sub("24:6E:96:02:11:02")
    items = nb.list("dcim.inventory-items", {"device_id": dev["id"]})
    assert items and set(data["changes"]["inventory_items"]) == {i["name"] for i in items}
    assert any(i["name"].upper().startswith("CPU") for i in items)
    assert all(i["discovered"] for i in items)
    (jid,) = job_ids(event_listener, master, "netbox.sync_inventory", before, 1)
    notes = [
        e["comments"]
        for e in nb.list(
            "extras.journal-entries",
            {"assigned_object_type": "dcim.device", "assigned_object_id": dev["id"]},
        )
        if e["comments"].startswith("Hardware inventory synced")
    ]
    assert len(notes) == 1 and f"Salt job {jid} ({MINION})" in notes[0]

    again = salt(master, minion, "netbox.sync_inventory")
    assert again.returncode == 0 and again.data["changes"] == {}, again

    # NetBox now says another serial: refused, clearly, and nothing overwritten
    nb.update("dcim.devices", dev["id"], {"serial": LAB.sub("LAB1R2S99")})
    refused = salt(master, minion, "netbox.sync_inventory")
    assert refused.returncode != 0, refused
    (conflict,) = refused.data["conflicts"]
    assert conflict["field"] == "serial"
    assert (
        LAB.sub("NetBox has 'LAB1R2S99' but the server reports 'LAB1R2S01'; not overwritten")
        in conflict["message"]
    )
    assert nb.get("dcim.devices", dev["id"])["serial"] == LAB.sub("LAB1R2S99")


def test_runner_diff_inventory_live(master, minion, netbox):
    """After the sync (and the refused serial), the live comparison shows both."""
    ret = master.salt_run_cli(timeout=180).run(
        "netbox.diff_inventory", f"site={LAB.site}", "rack=R2", "live=True"
    )
    RETURNS.append(ret)
    assert ret.returncode == 0, ret
    rows = {(r["device"], r["check"]): r for r in ret.data["rows"]}
    assert rows[(MINION, "serial")]["netbox"] == LAB.sub("LAB1R2S99")
    assert rows[(MINION, "serial")]["reported"] == LAB.sub("LAB1R2S01")
    assert rows[(MINION, "serial")]["result"] == "MISMATCH"
    assert rows[(MINION, "mac eno1")]["result"] == "ok"
    assert rows[(LAB.name("srv-r2-02"), "-")]["result"] == "no minion"
    assert LAB.sub("LAB1R2S99") in ret.data["table"]


def test_concurrent_assign_next_ip_get_different_addresses(master, minion, netbox):
    outcomes = {}
    prefix = LAB.ip("10.10.3.0/24")

    def on_minion():
        outcomes["minion"] = salt(
            master, minion, "netbox.assign_next_ip", prefix, f"{LAB.name('srv-r3-04')}:eno1"
        )

    def on_master():
        ret = master.salt_run_cli(timeout=180).run(
            "salt.cmd", "netbox.assign_next_ip", prefix, f"{LAB.name('srv-r3-02')}:eno1"
        )
        RETURNS.append(ret)
        outcomes["master"] = ret

    threads = [threading.Thread(target=on_minion), threading.Thread(target=on_master)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for ret in outcomes.values():
        assert ret.returncode == 0, ret
        assert ret.data["allocated"] is True
    addresses = {ret.data["address"] for ret in outcomes.values()}
    assert len(addresses) == 2, outcomes
    assert all(a.startswith(LAB.ip("10.10.3.")) for a in addresses), addresses
    nb = client(netbox)
    for ret in outcomes.values():
        ip = nb.get("ipam.ip-addresses", ret.data["id"])
        assert ip["address"] == ret.data["address"]


def test_runner_sync_autosign_and_status(master, netbox):
    ret = master.salt_run_cli(timeout=120).run("netbox.sync_autosign", f"site={LAB.site}")
    RETURNS.append(ret)
    assert ret.returncode == 0, ret
    path = pathlib.Path(ret.data["path"])
    assert LAB.sub("LAB1R2S02") in path.read_text(encoding="utf-8")
    status = master.salt_run_cli(timeout=60).run("netbox.status")
    RETURNS.append(status)
    assert status.returncode == 0 and status.data["reachable"] is True


def test_orchestrate_runs_the_states_on_the_master(master, netbox, event_listener):
    before = time.time()
    ret = master.salt_run_cli(timeout=180).run(
        "state.orchestrate", "netbox_examples.orch_note", *ORCH_ARGS
    )
    RETURNS.append(ret)
    assert ret.returncode == 0, ret
    (results,) = ret.data["data"].values()
    assert all(r["result"] is True for r in results.values()), results
    assert {r["__id__"] for r in results.values() if r["changes"]} == {
        "netbox-orch-staged",
        "netbox-orch-note",
    }
    deadline = time.time() + 60
    while True:
        events = event_listener.get_events([(master.id, "salt/run/*/new")], after_time=before)
        jids = [e.data["jid"] for e in events if e.data.get("fun") == "runner.state.orchestrate"]
        if jids or time.time() > deadline:
            break
        time.sleep(0.5)
    (jid,) = jids
    nb = client(netbox)
    dev = nb.find("dcim.devices", name=LAB.name("srv-r2-04"))
    assert dev["status"]["value"] == "staged"
    comments = [
        e["comments"]
        for e in nb.list(
            "extras.journal-entries",
            {"assigned_object_type": "dcim.device", "assigned_object_id": dev["id"]},
        )
    ]
    assert any(c.startswith("turn-up orchestrated") and f"Salt job {jid}" in c for c in comments)
    assert any(
        c.startswith("Status planned -> staged") and f"Salt job {jid}" in c for c in comments
    )
    again = master.salt_run_cli(timeout=180).run(
        "state.orchestrate", "netbox_examples.orch_note", *ORCH_ARGS
    )
    RETURNS.append(again)
    assert again.returncode == 0, again
    (results,) = again.data["data"].values()
    assert [r["__id__"] for r in results.values() if r["changes"]] == []


def test_a_misspelled_argument_fails_naming_it(master, minion, netbox, tmp_path):
    """``salt-run``/``salt`` with a misspelled keyword: exit code 1 and a message naming it and
    the known arguments (the runner client used to drop it, print the docstring and exit 0)."""
    out = tmp_path / "lab1-export.json"
    ret = master.salt_run_cli(timeout=120).run(
        "netbox.export_snapshot", f"sitee={LAB.site}", f"path={out}"
    )
    RETURNS.append(ret)
    text = f"{ret.stdout}\n{ret.stderr}"
    assert ret.returncode == 1, ret
    assert "unknown argument sitee (did you mean site?)" in text, text
    assert "known arguments: site, path" in text
    assert not out.exists()
    ret = salt(master, minion, "netbox.device", f"nmae={LAB.name('srv-r1-01')}", timeout=120)
    text = f"{ret.stdout}\n{ret.stderr}\n{json.dumps(ret.data, default=str)}"
    assert ret.returncode != 0, ret
    assert "unknown argument nmae (did you mean name?)" in text, text
    assert "known arguments: name, site" in text


def test_token_never_appears(master, minion, netbox, event_listener, started_at):
    """Every return, every master event and every daemon log line of this module, scanned."""
    token = netbox.token
    # a v2 token ("nbt_<key>.<secret>", the stand-in's here): its secret; a v1 token: all of it
    secret = token.split(".", 1)[-1]
    assert len(secret) >= 20, "too short to scan for"
    # run alone, the test still has calls of its own to scan
    status = salt(master, minion, "netbox.status")
    assert status.returncode == 0 and status.data["reachable"] is True
    ret = salt(master, minion, "netbox.get", "dcim.devices", f"name={LAB.unique('does-not-exist')}")
    assert ret.returncode == 0 and ret.data is None
    for ret in RETURNS:
        text = f"{ret.stdout}\n{ret.stderr}\n{json.dumps(ret.data, default=str)}"
        assert secret not in text, f"token in the return of {ret.cmdline}"
    time.sleep(0.5)
    events = EVENTS + list(event_listener.get_events([(master.id, "*")], after_time=started_at))
    assert len(events) >= 4  # at least the two jobs above: new + ret each
    for event in events:
        assert secret not in f"{event.tag} {json.dumps(event.data, default=str)}", event.tag
    for factory in (master, minion):
        log_file = pathlib.Path(factory.config["log_file"])
        text = log_file.read_text(encoding="utf-8", errors="replace")
        assert "netbox" in text.lower(), f"{log_file} does not show our calls"
        for number, line in enumerate(text.splitlines(), 1):
            assert secret not in line, f"token in {log_file}:{number}"
