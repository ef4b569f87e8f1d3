"""
Zero-touch enrolment end to end (issue 12): a real salt-master with the reactor of
``states/reactor/`` and ``autosign_grains_dir``, a real salt-api (rest_cherrypy, ``/hook``), real
minions sending ``autosign_grains: [serialnumber]`` and simulating servers
(``hardware:simulate``: a real Dell M630's dmidecode from ../shared with the lab device's serial and
new MACs), NetBox = a lab of this module's own (stand-in, or a copy of lab1 on a real NetBox with
``NETBOX_ALLOW_WRITES=1``).

The ``serialnumber`` grain, which Salt's auth sends for autosign, is a STATIC grain in the minion
configuration here (``grains: {serialnumber: ...}``): on the real provisioning image it is Salt's
core grain read from SMBIOS (``/sys/class/dmi/id/product_serial`` / dmidecode). Boot verification
asks the minion's ``hardware.inventory`` (the simulated box) and its grains, never the event.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import json
import os
import pathlib
import time
import urllib.error
import urllib.request
import uuid

import pytest
from saltfactories.utils import ports, random_string

from tests.conftest import NetBoxTarget, _client_for, _seeded_target, live_writes_allowed
from tests.support.live_lab import LabCopy
from tests.support.saltenv import (
    REPO_ROOT,
    SHARED_FIXTURES,
    SHARED_MISSING_REASON,
    master_overrides,
    minion_overrides,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(SHARED_FIXTURES is None, reason=SHARED_MISSING_REASON),
]

SIMULATED_M630 = REPO_ROOT / "tests" / "unit" / "hardware" / "fixtures" / "simulated" / "srv-r1-01"
SECRET = "nb-webhook-" + uuid.uuid4().hex
WAIT = 180  # generous: a loaded 2-core machine


@pytest.fixture(scope="module")
def netbox(lab1_snapshot, request):
    """A lab of this module's own: it changes statuses and writes journal entries."""
    if os.environ.get("NETBOX_URL"):
        if not live_writes_allowed():
            pytest.skip("writes to NetBox: set NETBOX_ALLOW_WRITES=1 to run on a real NetBox")
        shared = request.getfixturevalue("netbox_target")
        lab_copy = LabCopy(_client_for(shared.url, shared.token), lab1_snapshot)
        try:
            report = lab_copy.seed()
            yield NetBoxTarget(
                url=shared.url, token=shared.token, seed_report=report, lab=lab_copy.names
            )
        finally:
            lab_copy.remove()
        return
    target = _seeded_target(lab1_snapshot)
    yield target
    target.standin.stop()


@pytest.fixture(scope="module")
def nb(netbox):
    return netbox.client()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("enrol")


@pytest.fixture(scope="module")
def api_port():
    return ports.get_unused_localhost_port()


@pytest.fixture(scope="module")
def master(salt_factories, netbox, workdir, api_port):
    secret_file = workdir / "webhook.secret"
    secret_file.write_text(SECRET + "\n")
    secret_file.chmod(0o600)
    overrides = master_overrides(
        netbox,
        auto_accept=False,
        autosign_grains_dir=str(workdir / "autosign_grains"),
        reactor=[
            {"salt/minion/*/start": ["salt://reactor/boot.sls"]},
            {"salt/netapi/hook/netbox": ["salt://reactor/netbox_hook.sls"]},
            {"turnup/rack/ready": ["salt://reactor/rack_ready.sls"]},
        ],
        rest_cherrypy={
            "port": api_port,
            "host": "127.0.0.1",
            "disable_ssl": True,
            "webhook_disable_auth": True,
            "webhook_url": "/hook",
        },
        turnup_webhook={"secret_file": str(secret_file), "max_age": 600},
    )
    factory = salt_factories.salt_master_daemon(
        random_string("enrol-m-"),
        overrides=overrides,
        # salt-factories accepts every pending key by default (salt-key -a on each salt/auth
        # "pend"): here only Salt's autosign_grains and boot verification decide
        on_auth_event_callback=lambda _master, _payload: None,
    )
    with factory.started():
        yield factory


@pytest.fixture(scope="module")
def autosign_file(master, workdir):
    # what the master's schedule runs (docs/security.md), once now
    ret = master.salt_run_cli(timeout=120).run("netbox.sync_autosign")
    assert ret.returncode == 0, ret
    path = pathlib.Path(ret.data["path"])  # Salt puts autosign_grains_dir under root_dir
    assert path.name == "serialnumber" and path.parent.name == "autosign_grains"
    return path


@pytest.fixture(scope="module")
def salt_api(master, api_port):
    factory = master.salt_api_daemon()
    with factory.started():
        yield f"http://127.0.0.1:{api_port}"


def wait_until(predicate, what, timeout=WAIT):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


#: every event seen, kept past the listener's 120 s memory: ``(stamp, tag, data)``
SEEN = {}


def events(listener, master, pattern, after):
    """The master's events matching ``pattern`` since ``after`` (kept in SEEN for good)."""
    for event in listener.get_events([(master.id, "*")], after_time=after - 300):
        SEEN.setdefault((event.stamp.timestamp(), event.tag), event)
    return sorted(
        (e for (stamp, tag), e in SEEN.items() if stamp >= after and fnmatch.fnmatch(tag, pattern)),
        key=lambda e: e.stamp,
    )


def wait_event(
    listener, master, pattern, after, match=lambda data: True, *, what=None
):  # noqa: PLR0917
    def found():
        hits = [e for e in events(listener, master, pattern, after) if match(e.data)]
        return hits or None

    try:
        return wait_until(found, what or f"event {pattern}")
    except AssertionError as err:
        seen = [
            (e.tag, e.data.get("return") if e.tag.startswith("salt/run/") else None)
            for e in events(listener, master, "*", after)
            if not e.tag.startswith("salt/job/") and "/new" not in e.tag
        ]
        raise AssertionError(f"{err}; events seen: {seen}") from None


def boot_returns(listener, master, minion, after):
    """Returns of turnup.on_boot jobs the reactor started for ``minion``."""
    out = []
    for event in events(listener, master, "salt/run/*/ret", after):
        data = event.data
        if data.get("fun") != "runner.turnup.on_boot":
            continue
        ret = data.get("return")
        if isinstance(ret, dict) and ret.get("minion") == minion:
            out.append(ret)
    return out


def keys(master):
    ret = master.salt_key_cli(timeout=60).run("-L")
    assert ret.returncode == 0, ret
    return ret.data


def spec(workdir, name, serial, mac_base):
    path = workdir / f"{name}-simulate.json"
    path.write_text(
        json.dumps(
            {
                "dir": str(SIMULATED_M630),
                "dmidecode": str(
                    SHARED_FIXTURES / "hardware" / "dmidecode" / "Dell_PowerEdge_M630.txt"
                ),
                "overrides": {
                    "system": {"serial": serial},
                    "bmc": {"mac": f"{mac_base}:03"},
                    "nics": {
                        "eno1": {"mac": f"{mac_base}:01"},
                        "eno2": {"mac": f"{mac_base}:02"},
                    },
                },
            }
        )
    )
    return path


def new_minion(master, workdir, minion_id, serial, mac_base, *, wait_start=True):
    """A provisioning-image minion: autosign_grains [serialnumber], no NetBox token."""
    hardware = {
        "simulate": str(spec(workdir, minion_id, serial, mac_base)),
        "root": str(workdir / f"{minion_id}-root"),
        "apply_live": False,
    }
    factory = master.salt_minion_daemon(
        minion_id,
        overrides=minion_overrides(
            None,
            hardware=hardware,
            autosign_grains=["serialnumber"],
            grains={"serialnumber": serial},  # static here; Salt's core grain on the image
            acceptance_wait_time=2,
            acceptance_wait_time_max=4,
        ),
    )
    if not wait_start:
        factory.get_check_events = lambda: []  # it stays pending: no start event to wait for
    return factory


def device(nb, name):
    found = nb.list("dcim.devices", {"name": name})
    assert len(found) == 1, found
    return found[0]


def journal(nb, dev):
    return nb.list(
        "extras.journal-entries",
        {"assigned_object_type": "dcim.device", "assigned_object_id": dev["id"]},
    )


def status(nb, name):
    return device(nb, name)["status"]["value"]


def serials(path):
    return [ln for ln in path.read_text().splitlines() if ln and not ln.startswith("#")]


def test_planned_device_is_accepted_verified_and_staged(  # noqa: PLR0917
    master, autosign_file, netbox, nb, workdir, event_listener
):
    lab = netbox.lab
    name, serial = lab.name("srv-r2-02"), lab.sub("LAB1R2S02")
    assert serial in serials(autosign_file)
    dev = device(nb, name)
    before = time.time()
    factory = new_minion(master, workdir, name, serial, "02:00:00:00:22")
    with factory.started(start_timeout=WAIT):
        ready = wait_event(
            event_listener, master, "turnup/device/ready", before, lambda d: d["minion"] == name
        )
        assert ready[0].data["device"] == name and ready[0].data["serial"] == serial
        assert name in keys(master)["minions"]  # accepted without a human
        assert status(nb, name) == "staged"
        entries = [e["comments"] for e in journal(nb, dev)]
        assert any("planned -> staged" in c and "boot verification" in c for c in entries)
        # sync_inventory ran (on the master) with what the box reported: its MACs are in NetBox
        macs = {
            m["mac_address"].lower()
            for m in nb.list("dcim.mac-addresses", {"device_id": dev["id"]})
        }
        assert {"02:00:00:00:22:01", "02:00:00:00:22:02"} <= macs
        # staged now: its serial leaves the autosign file? no: staged still expects to boot
        assert serial in serials(autosign_file)
        # the box was asked in one function, not a compound job (whose list-valued Function
        # broke the operators' job search): salt-run jobs.list_jobs search_function= works
        listed = master.salt_run_cli(timeout=120).run(
            "jobs.list_jobs", search_function="turnup.boot_facts"
        )
        assert listed.returncode == 0 and isinstance(listed.data, dict), listed
        assert any(j.get("Function") == "turnup.boot_facts" for j in listed.data.values()), listed

        # repeated start events (a restart, or forged by any minion) repeat nothing
        count = len(journal(nb, dev))
        again = time.time()
        for _ in range(3):
            ret = master.salt_run_cli(timeout=60).run(
                "event.send", f"salt/minion/{name}/start", data={"id": name}
            )
            assert ret.returncode == 0, ret
        wait_until(
            lambda: len(boot_returns(event_listener, master, name, again)) >= 3,
            "three on_boot runs",
        )
        for ret in boot_returns(event_listener, master, name, again):
            assert ret["verdict"] == "match" and ret.get("repeat") is True, ret
        assert len(journal(nb, dev)) == count
        assert not events(event_listener, master, "turnup/device/ready", again)
        assert name in keys(master)["minions"] and status(nb, name) == "staged"


def pending_attempts(listener, master, minion, after):
    """Authentication attempts of ``minion`` the master left pending (salt/auth act=pend)."""
    return [
        e
        for e in events(listener, master, "salt/auth", after)
        if e.data.get("id") == minion and e.data.get("act") == "pend"
    ]


def test_unknown_serial_stays_pending(master, autosign_file, netbox, workdir, event_listener):
    name = netbox.lab.name("srv-r2-03")
    before = time.time()
    factory = new_minion(
        master, workdir, name, "ZZNOTINNETBOX77", "02:00:00:00:33", wait_start=False
    )
    with factory.started(start_timeout=WAIT):
        # two authentication attempts, both left pending
        try:
            wait_until(
                lambda: len(pending_attempts(event_listener, master, name, before)) >= 2,
                "two pending auth attempts",
            )
        except AssertionError as err:
            seen = [
                (e.tag, e.data.get("act"), e.data.get("id"))
                for e in events(event_listener, master, "*", before)
            ]
            raise AssertionError(f"{err}: {seen} {keys(master)}") from None
        listing = keys(master)
        assert name in listing["minions_pre"] and name not in listing["minions"]
    assert not boot_returns(event_listener, master, name, before)


def test_planned_id_with_another_devices_serial_is_removed(  # noqa: PLR0917
    master, autosign_file, netbox, nb, workdir, event_listener
):
    lab = netbox.lab
    claimed, owner = lab.name("srv-r2-04"), lab.name("srv-r2-05")
    stolen = lab.sub("LAB1R2S05")  # copied from srv-r2-05's label
    before = time.time()
    factory = new_minion(master, workdir, claimed, stolen, "02:00:00:00:44")
    with factory.started(start_timeout=WAIT):  # accepted by serial: it starts
        hit = wait_event(
            event_listener,
            master,
            "turnup/security/mismatch",
            before,
            lambda d: d["minion"] == claimed,
        )[0].data
        assert hit["verdict"] == "mismatch" and hit["action"] == "key deleted"
        assert hit["reported"]["serial"] == stolen
        assert stolen in hit["quarantined"]
        assert any(owner in r for r in hit["reasons"]), hit["reasons"]
        assert {d["name"] for d in hit["netbox"]} >= {claimed, owner}
        wait_until(lambda: claimed not in keys(master)["minions"], "the key to be deleted")
        # journal entries on both devices concerned, no status change
        for name in (claimed, owner):
            texts = [e["comments"] for e in journal(nb, device(nb, name))]
            assert any("MISMATCH" in t and claimed in t for t in texts), (name, texts)
            assert status(nb, name) == "planned"
        # the stolen serial left the autosign file: the box rebooting stays pending (no loop)
        assert stolen not in serials(autosign_file)
    factory.get_check_events = lambda: []  # no start event expected this time
    after_delete = time.time()
    with factory.started(start_timeout=WAIT):
        wait_until(
            lambda: pending_attempts(event_listener, master, claimed, after_delete),
            "the re-authentication to stay pending",
        )
        assert claimed not in keys(master)["minions"]
    # exactly one mismatch event and one journal entry per device: no loop
    assert (
        len(
            [
                e
                for e in events(event_listener, master, "turnup/security/mismatch", before)
                if e.data["minion"] == claimed
            ]
        )
        == 1
    )
    ret = master.salt_run_cli(timeout=60).run("turnup.quarantined")
    assert ret.returncode == 0 and stolen in [r["serial"] for r in ret.data], ret


def test_decommissioned_device_never_gets_back_in(  # noqa: PLR0917
    master, autosign_file, netbox, nb, workdir, event_listener
):
    lab = netbox.lab
    name, serial = lab.name("srv-r3-04"), lab.sub("LAB1R3S04")
    nb.update("dcim.devices", device(nb, name)["id"], {"status": "decommissioning"})
    ret = master.salt_run_cli(timeout=120).run("netbox.sync_autosign")
    assert ret.returncode == 0 and serial in ret.data["removed"], ret
    before = time.time()
    factory = new_minion(master, workdir, name, serial, "02:00:00:00:54", wait_start=False)
    with factory.started(start_timeout=WAIT):
        wait_until(
            lambda: any(
                e.data.get("id") == name and e.data.get("act") == "pend"
                for e in events(event_listener, master, "salt/auth", before)
            ),
            "a pending auth attempt",
        )
        assert name not in keys(master)["minions"]
        # even a human's accept does not let it stay: boot verification removes it
        accept = master.salt_key_cli(timeout=60).run("-y", "-a", name)
        assert accept.returncode == 0, accept
        hit = wait_event(
            event_listener,
            master,
            "turnup/security/mismatch",
            before,
            lambda d: d["minion"] == name,
        )[0].data
        assert hit["verdict"] == "barred"
        wait_until(lambda: name not in keys(master)["minions"], "the key to be deleted")
        assert status(nb, name) == "decommissioning"


def _netbox_body(nb, name, old_status, new_status):
    """The body a NetBox 4.6 event rule's webhook sends for a device update."""
    data = device(nb, name)
    snapshot = {
        "name": data["name"],
        "status": new_status,
        "serial": data["serial"],
        "site": data["site"]["id"],
        "rack": (data.get("rack") or {}).get("id"),
        "custom_fields": data.get("custom_fields") or {},
        "tags": [t["name"] for t in data.get("tags") or []],
    }
    return json.dumps(
        {
            "event": "updated",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000000+00:00", time.gmtime()),
            "model": "device",
            "username": "admin",
            "request_id": str(uuid.uuid4()),
            "data": data,
            "snapshots": {
                "prechange": {**snapshot, "status": old_status},
                "postchange": snapshot,
            },
        }
    ).encode()


def _post(url, body, headers):
    req = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def test_netbox_webhook_refreshes_autosign_and_unsigned_changes_nothing(  # noqa: PLR0917
    master, autosign_file, salt_api, netbox, nb, event_listener
):
    lab = netbox.lab
    name, serial = lab.name("srv-r3-02"), lab.sub("LAB1R3S02")
    dev = device(nb, name)
    nb.update("dcim.devices", dev["id"], {"status": "inventory"})
    ret = master.salt_run_cli(timeout=120).run("netbox.sync_autosign")
    assert ret.returncode == 0 and serial not in serials(autosign_file), ret
    # NetBox sets it to planned; NetBox's event rule posts to salt-api
    nb.update("dcim.devices", dev["id"], {"status": "planned"})
    url = f"{salt_api}/hook/netbox"
    for headers in ({}, {"X-Hook-Signature": "0" * 128}):
        before = time.time()
        body = _netbox_body(nb, name, "inventory", "planned")
        assert _post(url, body, headers) == 200  # salt-api fires the event either way
        rejected = wait_event(event_listener, master, "turnup/security/webhook_rejected", before)[
            0
        ].data
        assert rejected["body_sha256"] == hashlib.sha256(body).hexdigest()
        assert serial not in serials(autosign_file)
    before = time.time()
    body = _netbox_body(nb, name, "inventory", "planned")
    signature = hmac.new(SECRET.encode(), body, hashlib.sha512).hexdigest()
    assert _post(url, body, {"X-Hook-Signature": signature}) == 200
    wait_until(lambda: serial in serials(autosign_file), "the serial in the autosign file", 60)
    assert not events(event_listener, master, "turnup/security/webhook_rejected", before)
    # the same delivery again (a replay) is recognised and does nothing more
    assert _post(url, body, {"X-Hook-Signature": signature}) == 200


def test_last_server_of_an_auto_turnup_rack_starts_its_turnup_once(  # noqa: PLR0917
    master, autosign_file, netbox, nb, workdir, event_listener
):
    """Runs last: rack R3 made auto_turnup, its other servers already staged, the last one boots."""
    lab = netbox.lab
    rack = nb.list("dcim.racks", {"site": lab.site, "name": "R3"})[0]
    nb.update("dcim.racks", rack["id"], {"custom_fields": {"auto_turnup": True}})
    last, serial = lab.name("srv-r3-01"), lab.sub("LAB1R3S01")
    for other in ("srv-r3-02", "srv-r3-03", "srv-r3-04"):
        dev = device(nb, lab.name(other))
        if dev["status"]["value"] == "planned":  # srv-r3-04 is decommissioning after its test
            nb.update("dcim.devices", dev["id"], {"status": "staged"})
    ret = master.salt_run_cli(timeout=120).run("netbox.sync_autosign")
    assert ret.returncode == 0 and serial in serials(autosign_file), ret
    before = time.time()
    factory = new_minion(master, workdir, last, serial, "02:00:00:00:61")
    with factory.started(start_timeout=WAIT):
        ready = wait_event(event_listener, master, "turnup/rack/ready", before)[0].data
        assert (ready["site"], ready["rack"]) == (lab.site, "R3")
        started = wait_event(event_listener, master, "turnup/rack/started", before)[0].data
        assert started["jid"] and (started["site"], started["rack"]) == (lab.site, "R3")
        # the orchestration job itself began (its outcome belongs to orch.rack_turnup's tests)
        wait_event(
            event_listener,
            master,
            f"salt/run/{started['jid']}/new",
            before,
            what="the orchestration job to start",
        )
        # repeated start events and a forged rack event: never a second start
        again = time.time()
        master.salt_run_cli(timeout=60).run(
            "event.send", f"salt/minion/{last}/start", data={"id": last}
        )
        master.salt_run_cli(timeout=60).run(
            "event.send", "turnup/rack/ready", data={"site": lab.site, "rack": "R3"}
        )
        second = wait_event(
            event_listener,
            master,
            "salt/run/*/ret",
            again,
            lambda d: d.get("fun") == "runner.turnup.auto_turnup",
            what="the auto_turnup hand-off of the forged event",
        )[0].data["return"]
        assert second["started"] is False, second
        assert len(events(event_listener, master, "turnup/rack/started", before)) == 1
