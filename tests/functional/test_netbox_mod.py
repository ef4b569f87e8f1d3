"""
Functional tests of the ``netbox`` execution module: Salt's loader in-process, NetBox stand-in
(or a real NetBox via NETBOX_URL/NETBOX_TOKEN for the read-only tests).

The loader helpers here are shared with ``test_netbox_state.py`` and ``test_netbox_runner.py``.
"""

import copy
import json
import threading

import pytest
import salt.config
import salt.loader
from salt.exceptions import CommandExecutionError, SaltInvocationError

from salt_ext.utils.netbox import NetBoxClient, load_config
from salt_ext.utils.netbox_ops import glue
from tests.support.saltenv import NETBOX_TEST_TIMEOUT, SHARED_FIXTURES, SHARED_MISSING_REASON

JID = "20261129130501123456"
WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")
_GRAINS = {}


def _grains(opts):
    if not _GRAINS:
        _GRAINS.update(salt.loader.grains(opts))
    return dict(_GRAINS)


def minion_opts(target, cachedir, minion_id="srv-r2-01", **extra):
    """Minion opts pointing at ``target`` (a NetBoxTarget)."""
    opts = salt.config.minion_config(None)
    opts.update(
        cachedir=str(cachedir),
        file_client="local",
        id=minion_id,
        jid=JID,
        netbox={
            "url": target.url,
            "token": target.token,
            "timeout": NETBOX_TEST_TIMEOUT,
            "retries": 1,
        },
    )
    opts.update(extra)
    opts["grains"] = _grains(opts)
    return opts


def loaders(target, cachedir, minion_id="srv-r2-01", test=False, **extra):
    """
    ``(execution modules, state modules)`` loaded in-process for ``target``.

    Salt binds a loaded module's dunders to the loader that loaded it LAST in this process, so
    always use the pair returned by the latest call (build a new pair instead of keeping one).
    """
    opts = minion_opts(target, cachedir, minion_id, test=test, **extra)
    mods = salt.loader.minion_mods(opts, whitelist=["netbox", "test", "config", "grains"])
    utils = salt.loader.utils(opts)
    states = salt.loader.states(opts, mods, utils, {}, whitelist=["netbox"])
    return mods, states


def writes(target):
    """How many write requests the product has sent (its own RequestCounter, see the
    ``netbox_requests`` fixture), on the stand-in and a real NetBox alike."""
    return target.requests.writes()


@pytest.fixture
def nb(fresh_netbox, tmp_path, netbox_requests):
    """(target, execution modules) on a lab of its own (``fresh_netbox``), as minion srv-r2-01
    (its name in that lab); ``target.requests`` counts the product's requests."""
    mods, _ = loaders(fresh_netbox, tmp_path, minion_id=fresh_netbox.lab.name("srv-r2-01"))
    fresh_netbox.requests = netbox_requests
    return fresh_netbox, mods


@pytest.fixture
def ro_mods(netbox_target, tmp_path):
    """Execution modules on the shared (read-only) NetBox, as minion srv-r1-01."""
    mods, _ = loaders(netbox_target, tmp_path, "srv-r1-01.lab1.example.net")
    return mods


# -- reads ---------------------------------------------------------------------------------------
def test_module_loads_with_aliases(ro_mods):
    for fun in (
        "status",
        "get",
        "filter",
        "create",
        "update",
        "delete",
        "device",
        "set_status",
        "journal",
        "assign_next_ip",
        "sync_inventory",
        "get_interfaces",
        "openconfig_interfaces",
        "make_interface_lag",
        "create_interface_connection",
    ):
        assert f"netbox.{fun}" in ro_mods, fun
    assert "netbox.get_" not in ro_mods and "netbox.filter_" not in ro_mods


def test_status(ro_mods, netbox_target):
    ret = ro_mods["netbox.status"]()
    assert ret["reachable"] is True
    assert ret["netbox_version"].startswith("4.")
    assert ret["latency_ms"] >= 0
    assert netbox_target.token not in repr(ret)


@pytest.mark.standin_only("takes NetBox down")
def test_status_unreachable_reports_and_sets_retcode(fresh_netbox, tmp_path):
    mods, _ = loaders(fresh_netbox, tmp_path)
    fresh_netbox.standin.faults.down()
    try:
        ret = mods["netbox.status"]()
    finally:
        fresh_netbox.standin.faults.up()
    assert ret["reachable"] is False
    assert ret["error_type"] in ("NetBoxUnavailable", "NetBoxTimeout")
    assert fresh_netbox.token not in repr(ret)
    assert mods.pack["__context__"]["retcode"] == 1


def test_get_by_id_natural_keys_and_salt3007_form(ro_mods):
    dev = ro_mods["netbox.get"]("dcim.devices", name="srv-r1-01")
    assert dev["name"] == "srv-r1-01"
    assert ro_mods["netbox.get"]("dcim.devices", dev["id"])["id"] == dev["id"]
    assert ro_mods["netbox.get"]("dcim", "devices", name="srv-r1-01")["id"] == dev["id"]
    assert ro_mods["netbox.get"]("dcim.devices", name="no-such-device") is None
    assert ro_mods["netbox.get"]("dcim.devices", 999999) is None
    # references by name in filters are resolved to ids and checked client side
    rack = ro_mods["netbox.get"]("dcim.racks", name="R2", site="lab1")
    assert rack["name"] == "R2" and rack["site"]["slug"] == "lab1"


def test_get_ambiguous_is_an_error(ro_mods):
    with pytest.raises(SaltInvocationError, match="matches 2[0-9]* objects|matches [0-9]+ objects"):
        ro_mods["netbox.get"]("dcim.devices", status="planned")


def test_filter(ro_mods, netbox_client):
    planned = ro_mods["netbox.filter"]("dcim.devices", site="lab1", status="planned")
    expected = {
        d["name"]
        for d in netbox_client.list("dcim.devices")
        if d["site"]["slug"] == "lab1" and d["status"]["value"] == "planned"
    }
    assert len(expected) > 2 and {d["name"] for d in planned} == expected
    legacy = ro_mods["netbox.filter"]("dcim", "devices", site="lab1", status="planned")
    assert [d["id"] for d in legacy] == [d["id"] for d in planned]


def test_bad_endpoint_and_removed_endpoint(ro_mods):
    with pytest.raises(SaltInvocationError, match="app.endpoint"):
        ro_mods["netbox.filter"]("devices")
    with pytest.raises(SaltInvocationError, match="dcim.cables"):
        ro_mods["netbox.filter"]("dcim.interface-connections")


def test_device_of_this_minion_by_custom_field(ro_mods):
    # minion id srv-r1-01.lab1.example.net is the custom field minion_id of srv-r1-01
    assert ro_mods["netbox.device"]()["name"] == "srv-r1-01"
    assert ro_mods["netbox.device"]("srv-r2-01")["name"] == "srv-r2-01"
    assert ro_mods["netbox.device"]("nope") is None


def test_openconfig(ro_mods):
    oc = ro_mods["netbox.openconfig_interfaces"]("srv-r1-01")["interfaces"]["interface"]
    assert set(oc) >= {"bond0", "eno1", "eno2", "bmc"}
    v4 = oc["bond0"]["subinterfaces"]["subinterface"]["0"]["ipv4"]["addresses"]["address"]
    assert v4 == {"10.10.1.11": {"config": {"ip": "10.10.1.11", "prefix_length": 24}}}
    lacp = ro_mods["netbox.openconfig_lacp"]("srv-r1-01")["lacp"]["interfaces"]["interface"]
    assert set(lacp["bond0"]["members"]["member"]) == {"eno1", "eno2"}


def test_removed_function_names_replacement(ro_mods):
    with pytest.raises(CommandExecutionError, match="cable"):
        ro_mods["netbox.create_interface_connection"](1, 2)


# -- writes --------------------------------------------------------------------------------------
@pytest.mark.live_capable
def test_create_update_delete(nb):
    target, mods = nb
    lab9 = target.lab.unique("lab9")  # a site of the test's own (run-unique on a real NetBox)
    made = mods["netbox.create"](
        "dcim.sites", name=lab9.upper(), slug=lab9, status="planned", tags=["turnup-lab"]
    )
    assert made["slug"] == lab9 and made["status"]["value"] == "planned"
    assert [t["slug"] for t in made["tags"]] == ["turnup-lab"]
    before = target.requests.count(method="PATCH")
    ret = mods["netbox.update"]("dcim.sites", made["id"], status="active", name=lab9.upper())
    assert ret["changes"] == {"status": {"old": "planned", "new": "active"}}
    assert ret["object"]["status"]["value"] == "active"
    assert target.requests.count(method="PATCH") == before + 1
    # nothing to change: no PATCH at all
    assert mods["netbox.update"]("dcim.sites", made["id"], status="active")["changes"] == {}
    assert target.requests.count(method="PATCH") == before + 1
    assert mods["netbox.delete"]("dcim.sites", made["id"]) == {
        "deleted": True,
        "endpoint": "dcim.sites",
        "id": made["id"],
    }
    assert mods["netbox.delete"]("dcim.sites", made["id"])["deleted"] is False
    with pytest.raises(CommandExecutionError, match="does not exist"):
        mods["netbox.update"]("dcim.sites", made["id"], status="active")


@pytest.mark.live_capable
def test_create_invalid_carries_netbox_message(nb):
    _, mods = nb
    with pytest.raises(CommandExecutionError, match="site"):
        mods["netbox.create"](
            "dcim.devices", name="x", role="edge-server", device_type="PowerEdge M630"
        )
    with pytest.raises(SaltInvocationError, match="'nowhere' not found"):
        mods["netbox.create"]("dcim.devices", name="x", site="nowhere")


@pytest.mark.live_capable
def test_set_status_writes_journal_with_job_id(nb):
    L = nb[0].lab.sub
    target, mods = nb
    ret = mods["netbox.set_status"](L("srv-r2-01"), "staged", comment="burn-in passed")
    assert ret["changed"] is True and ret["old"] == "planned" and ret["new"] == "staged"
    entry = target_get(target, "extras.journal-entries", ret["journal_id"])
    assert entry["assigned_object_id"] == mods["netbox.device"](L("srv-r2-01"))["id"]
    assert "Status planned -> staged: burn-in passed" in entry["comments"]
    assert f"Salt job {JID}" in entry["comments"]
    # already staged: nothing written
    before = writes(target)
    again = mods["netbox.set_status"](L("srv-r2-01"), "staged")
    assert again["changed"] is False and writes(target) == before


@pytest.mark.live_capable
def test_journal_kinds_and_published_jid(nb):
    L = nb[0].lab.sub
    target, mods = nb
    entry = mods["netbox.journal"](L("srv-r2-01"), "cabled", kind="success", __pub_jid="123")
    assert entry["kind"]["value"] == "success"
    assert entry["comments"].startswith(L("cabled\n\n— Salt job 123 (srv-r2-01)"))
    iface = mods["netbox.get"]("dcim.interfaces", device=L("srv-r2-01"), name="eno1")
    entry = mods["netbox.journal"](f"dcim.interfaces:{iface['id']}", "optic swapped")
    assert entry["assigned_object_type"] == "dcim.interface"
    with pytest.raises(SaltInvocationError, match="kind must be one of"):
        mods["netbox.journal"](L("srv-r2-01"), "x", kind="loud")
    assert target.token not in repr(entry)


def target_get(target, endpoint, ident):
    """Read an object straight from the target NetBox (not through the module under test)."""
    client = NetBoxClient(load_config({"netbox": {"url": target.url, "token": target.token}}))
    return client.get(endpoint, ident)


@pytest.mark.live_capable
def test_assign_next_ip_is_idempotent_and_sets_primary(nb):
    L = nb[0].lab.sub
    target, mods = nb
    first = mods["netbox.assign_next_ip"](
        L("10.10.3.0/24"),
        L("srv-r3-04:eno1"),
        primary=True,
        dns_name=L("srv-r3-04.lab1.example.net"),
    )
    assert first["allocated"] is True and first["address"].startswith(L("10.10.3."))
    dev = mods["netbox.device"](L("srv-r3-04"))
    assert dev["primary_ip4"]["id"] == first["id"]
    again = mods["netbox.assign_next_ip"](L("10.10.3.0/24"), "eno1", device=L("srv-r3-04"))
    assert again["allocated"] is False and again["id"] == first["id"]
    with pytest.raises(SaltInvocationError, match="not found"):
        mods["netbox.assign_next_ip"]("10.99.0.0/24", L("srv-r3-04:eno1"))


@pytest.mark.live_capable
def test_assign_next_ip_concurrent_calls_get_different_addresses(nb):
    L = nb[0].lab.sub
    target, mods = nb
    results, errors = {}, []

    def grab(iface):
        try:
            results[iface] = mods["netbox.assign_next_ip"](
                L("10.10.3.0/24"), L(f"srv-r3-02:{iface}")
            )
        except Exception as err:  # pylint: disable=broad-except
            errors.append(err)

    threads = [threading.Thread(target=grab, args=(n,)) for n in ("eno1", "eno2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert results["eno1"]["address"] != results["eno2"]["address"]
    assert all(r["allocated"] for r in results.values())


class RivalAllocation:
    """A source whose ``allocate_ip`` lets a concurrent call for the same interface win first."""

    def __init__(self, client):
        self.client = client
        self.rival = None

    def __getattr__(self, name):
        return getattr(self.client, name)

    def allocate_ip(self, prefix_id, data):
        self.rival = self.client.allocate_ip(prefix_id, dict(data))
        return self.client.allocate_ip(prefix_id, data)


@pytest.mark.live_capable
def test_assign_next_ip_concurrent_calls_for_one_interface_keep_one_address(
    nb, monkeypatch, tmp_path
):
    L = nb[0].lab.sub
    target, _ = nb
    client = NetBoxClient(load_config({"netbox": {"url": target.url, "token": target.token}}))
    src = RivalAllocation(client)
    monkeypatch.setattr(glue, "get_source", lambda *a, **k: src)
    mods, _ = loaders(target, tmp_path / "rival")
    ret = mods["netbox.assign_next_ip"](L("10.10.3.0/24"), L("srv-r3-02:eno1"))
    assert ret["allocated"] is False and ret["id"] == src.rival["id"]
    assert ret["address"] == src.rival["address"]
    iface = client.find("dcim.interfaces", device=L("srv-r3-02"), name="eno1")
    on_iface = client.list("ipam.ip-addresses", {"interface_id": iface["id"]})
    assert [ip["id"] for ip in on_iface if ip["address"].startswith(L("10.10.3."))] == [ret["id"]]


def _inventory(serial):
    return {
        "schema": "hardware-inventory/1",
        "system": {"vendor": "Dell Inc.", "product": "PowerEdge M630", "serial": serial},
        "cpu": {
            "vendor": "Intel",
            "packages": [{"socket": "CPU1", "model": "Xeon E5-2620 v4", "cores": 8, "threads": 16}],
        },
        "memory": {
            "dimms": [
                {
                    "locator": "A1",
                    "size_bytes": 16 * 2**30,
                    "speed_mts": 2400,
                    "part": "M393A2K40BB1",
                    "serial": "36A1B2C3",
                }
            ]
        },
        "disks": [
            {
                "name": "nvme0n1",
                "model": "Dell Express Flash",
                "serial": "S3EWNX0K1234",
                "size_bytes": 800 * 10**9,
            }
        ],
        "nics": [
            {"name": "eno1", "mac": "24:6e:96:02:11:01"},
            {"name": "eno2", "mac": "24:6e:96:02:11:02"},
        ],
        "bmc": {"mac": "24:6e:96:02:11:03"},
        "psus": [
            {
                "name": "PS1",
                "model": "0G6W6K",
                "serial": "CN1797263B",
                "vendor": "Dell",
                "present": True,
            }
        ],
        "warnings": [],
    }


@pytest.mark.live_capable
def test_sync_inventory_fills_then_is_idempotent(nb):
    L = nb[0].lab.sub
    target, mods = nb
    inventory = _inventory(L("LAB1R2S01"))
    before = writes(target)
    dry = mods["netbox.sync_inventory"](
        L("srv-r2-01"), inventory=copy.deepcopy(inventory), test=True
    )
    assert writes(target) == before
    assert set(dry["changes"]["mac_addresses"]) == {"eno1", "eno2", "bmc"}
    calls = (("POST", "dcim.mac-addresses"), ("PATCH", "dcim.interfaces"))
    counted = [target.requests.count(p, m) for m, p in calls]
    ret = mods["netbox.sync_inventory"](L("srv-r2-01"), inventory=copy.deepcopy(inventory))
    assert ret["changes"] == dry["changes"] and ret["conflicts"] == []
    # bulk writes: MAC objects, the interfaces' primary MACs, inventory items, journal entry
    assert writes(target) - before == 4
    assert [target.requests.count(p, m) for m, p in calls] == [n + 1 for n in counted]
    ifaces = {i["name"]: i for i in mods["netbox.get_interfaces"](L("srv-r2-01"))}
    assert ifaces["eno1"]["mac_address"] == "24:6E:96:02:11:01"
    assert ifaces["bmc"]["primary_mac_address"]["mac_address"] == "24:6E:96:02:11:03"
    items = {
        i["name"]: i for i in mods["netbox.filter"]("dcim.inventory-items", device=L("srv-r2-01"))
    }
    assert set(items) == {"CPU1", "A1", "nvme0n1", "PS1"}
    assert items["PS1"]["serial"] == "CN1797263B"
    assert items["PS1"]["manufacturer"]["name"] == "Dell"
    dev = mods["netbox.device"](L("srv-r2-01"))
    notes = [
        e["comments"]
        for e in mods["netbox.filter"](
            "extras.journal-entries",
            assigned_object_id=dev["id"],
            assigned_object_type="dcim.device",
        )
        if e["comments"].startswith("Hardware inventory synced")
    ]
    assert notes == [
        "Hardware inventory synced: 3 MAC address(es) recorded (eno1, eno2, bmc); "
        + L(f"4 inventory item(s) created\n\n— Salt job {JID} (srv-r2-01)")
    ]
    # second run: nothing to write
    before = writes(target)
    again = mods["netbox.sync_inventory"](L("srv-r2-01"), inventory=copy.deepcopy(inventory))
    assert again["changes"] == {} and again["conflicts"] == []
    assert writes(target) == before


@pytest.mark.live_capable
def test_sync_inventory_fills_empty_serial_and_refuses_a_different_one(nb):
    L = nb[0].lab.sub
    target, mods = nb
    dev = mods["netbox.device"](L("srv-r2-02"))
    mods["netbox.update"]("dcim.devices", dev["id"], serial="")
    ret = mods["netbox.sync_inventory"](L("srv-r2-02"), inventory={"system": {"serial": "CN7X9Q2"}})
    assert ret["changes"] == {"serial": {"old": "", "new": "CN7X9Q2"}}
    assert mods["netbox.device"](L("srv-r2-02"))["serial"] == "CN7X9Q2"
    ret = mods["netbox.sync_inventory"](
        L("srv-r2-02"), inventory={"system": {"serial": "OTHER99X"}}
    )
    assert ret["changes"] == {}
    (conflict,) = ret["conflicts"]
    assert "NetBox has 'CN7X9Q2' but the server reports 'OTHER99X'" in conflict["message"]
    assert mods["netbox.device"](L("srv-r2-02"))["serial"] == "CN7X9Q2"
    assert mods.pack["__context__"]["retcode"] == 1
    with pytest.raises(SaltInvocationError, match="unknown argument"):
        mods["netbox.sync_inventory"](L("srv-r2-02"), inventory={}, tset=True)


@pytest.mark.live_capable
def test_sync_inventory_writes_nothing_when_the_serial_conflicts(nb):
    """Another server in the slot: none of its MACs or parts may land on the device."""
    L = nb[0].lab.sub
    target, mods = nb
    inventory = _inventory("OTHER99X")  # srv-r2-01 is LAB1R2S01 in NetBox
    for test in (True, False):
        before = writes(target)
        ret = mods["netbox.sync_inventory"](
            L("srv-r2-01"), inventory=copy.deepcopy(inventory), test=test
        )
        assert writes(target) == before, ret
        assert ret["changes"] == {}
        assert [c["field"] for c in ret["conflicts"]] == ["serial"]
        assert L("NetBox has 'LAB1R2S01' but the server reports 'OTHER99X'") in (
            ret["conflicts"][0]["message"]
        )
        assert ret["warnings"][0].startswith(L("nothing written to device 'srv-r2-01' ("))
        assert "held back" in ret["warnings"][0]
        assert mods.pack["__context__"]["retcode"] == 1
    assert not mods["netbox.filter"]("dcim.inventory-items", device=L("srv-r2-01"))
    assert not mods["netbox.filter"]("dcim.mac-addresses", mac_address="24:6e:96:02:11:01")
    # the right server afterwards: everything is written
    ret = mods["netbox.sync_inventory"](L("srv-r2-01"), inventory=_inventory(L("LAB1R2S01")))
    assert ret["conflicts"] == [] and set(ret["changes"]) == {"mac_addresses", "inventory_items"}


@pytest.mark.live_capable
def test_sync_inventory_never_fills_a_serial_another_device_has(nb):
    """srv-r2-01's server racked in srv-r2-02's slot: the empty serial is not filled."""
    L = nb[0].lab.sub
    target, mods = nb
    dev = mods["netbox.device"](L("srv-r2-02"))
    mods["netbox.update"]("dcim.devices", dev["id"], serial="")
    before = writes(target)
    ret = mods["netbox.sync_inventory"](L("srv-r2-02"), inventory=_inventory(L("LAB1R2S01")))
    assert writes(target) == before and ret["changes"] == {}
    (conflict,) = ret["conflicts"]
    # (lab1's broken rack gives the serial to srv-r3-03 as well)
    assert conflict["netbox"] == L("LAB1R2S01 on srv-r2-01, srv-r3-03")
    assert L("which NetBox gives to srv-r2-01, srv-r3-03; not written") in conflict["message"]
    assert mods["netbox.device"](L("srv-r2-02"))["serial"] == ""
    assert mods.pack["__context__"]["retcode"] == 1


@pytest.mark.live_capable
def test_sync_inventory_assigns_an_unassigned_mac_object_instead_of_duplicating_it(nb):
    L = nb[0].lab.sub
    target, mods = nb
    spare = mods["netbox.create"]("dcim.mac-addresses", mac_address="24:6e:96:02:11:02")
    assert spare["assigned_object"] is None
    ret = mods["netbox.sync_inventory"](L("srv-r2-01"), inventory=_inventory(L("LAB1R2S01")))
    assert ret["changes"]["mac_addresses"]["eno2"] == {"old": None, "new": "24:6E:96:02:11:02"}
    (obj,) = mods["netbox.filter"]("dcim.mac-addresses", mac_address="24:6e:96:02:11:02")
    assert obj["id"] == spare["id"] and obj["assigned_object"]["name"] == "eno2"
    eno2 = mods["netbox.get"]("dcim.interfaces", device=L("srv-r2-01"), name="eno2")
    assert eno2["primary_mac_address"]["id"] == spare["id"]
    before = writes(target)
    again = mods["netbox.sync_inventory"](L("srv-r2-01"), inventory=_inventory(L("LAB1R2S01")))
    assert again["changes"] == {} and writes(target) == before


@pytest.mark.live_capable
def test_compat_create_functions(nb):
    target, mods = nb
    lab = target.lab
    L = lab.sub
    # a manufacturer and a device type of the test's own (run-unique on a real NetBox: NetBox-wide
    # objects outside the lab copy), removed below with the device made of them
    vendor, model = lab.unique("Quanta"), lab.unique("D52B-1U")
    try:
        made = mods["netbox.create_manufacturer"](vendor)
        assert made["dcim"]["manufacturers"]["slug"] == vendor.lower()
        assert mods["netbox.create_manufacturer"](vendor) == {}
        made = mods["netbox.create_device_type"](model, vendor)
        assert made["dcim"]["device-types"]["slug"] == model.lower()
        _compat_create_device(mods, L, model, vendor)
    finally:
        _remove_compat_objects(target, L("srv-r2-09"), model, vendor)


def _compat_create_device(mods, L, model, vendor):
    created = mods["netbox.create_device"](L("srv-r2-09"), "edge-server", model, vendor, L("lab1"))
    assert created["dcim"]["devices"]["name"] == L("srv-r2-09")
    ret = mods["netbox.create_interface"](L("srv-r2-09"), "bond0", lag=True)
    (payload,) = ret["dcim"]["interfaces"].values()
    assert payload["type"] == "lag"
    mods["netbox.create_interface"](
        L("srv-r2-09"), "eno1", mac_address="aa:bb:cc:00:00:01", form_factor=1200
    )
    child = mods["netbox.make_interface_child"](L("srv-r2-09"), "eno1", "bond0")
    (iface,) = child["dcim"]["interfaces"].values()
    assert iface["lag"]["name"] == "bond0" and iface["type"]["value"] == "10gbase-x-sfpp"
    assert iface["mac_address"] == "AA:BB:CC:00:00:01"
    ip = mods["netbox.create_ipaddress"](
        L("10.10.2.200/24"), 4, device=L("srv-r2-09"), interface="bond0"
    )
    assert ip["ipam"]["ip-addresses"]["address"] == L("10.10.2.200/24")
    assert (
        mods["netbox.create_ipaddress"](
            L("10.10.2.200/24"), 4, device=L("srv-r2-09"), interface="bond0"
        )
        == {}
    )
    with pytest.raises(SaltInvocationError, match="IPv4, not IPv6"):
        mods["netbox.create_ipaddress"](L("10.10.2.201/24"), 6)
    assert mods["netbox.update_device"](L("srv-r2-09"), serial="QTA123456") == {
        "dcim": {"devices": {"serial": "QTA123456"}}
    }
    lagged = mods["netbox.make_interface_lag"](L("srv-r2-09"), "eno1")
    assert next(iter(lagged["dcim"]["interfaces"].values()))["type"]["value"] == "lag"
    gone = mods["netbox.delete_interface"](L("srv-r2-09"), "eno1")
    assert list(gone["DELETE"]["dcim"]["interfaces"].values()) == ["eno1"]


def _remove_compat_objects(target, device, model, vendor):
    """The device (in the lab copy) with its components, then the device type and manufacturer it
    was made of (NetBox keeps a device type in use)."""
    client = NetBoxClient(load_config({"netbox": {"url": target.url, "token": target.token}}))
    dev = client.find("dcim.devices", name=device)
    if dev is not None:
        for endpoint in ("ipam.ip-addresses", "dcim.mac-addresses", "dcim.interfaces"):
            for obj in client.list(endpoint, {"device_id": dev["id"]}):
                client.delete(endpoint, obj["id"])
        client.delete("dcim.devices", dev["id"])
    dtype = client.find("dcim.device-types", model=model)
    if dtype is not None:
        client.delete("dcim.device-types", dtype["id"])
    mfr = client.find("dcim.manufacturers", name=vendor)
    if mfr is not None:
        client.delete("dcim.manufacturers", mfr["id"])


class SchemaCheckingSource:
    """
    A NetBox source for endpoints the stand-in does not model (circuits): keeps objects in
    memory and checks every write against NetBox 4.6.8's OpenAPI request schema (known fields,
    required fields), so the compat functions are shown to send what NetBox 4 accepts.
    """

    def __init__(self, openapi, objects=None):
        self.openapi = openapi
        self.objects = {k: list(v) for k, v in (objects or {}).items()}
        self.writes = []
        self._next = 1000

    def _schema(self, endpoint, method="post"):
        app, name = endpoint.split(".")
        op = self.openapi["paths"][f"/api/{app}/{name}/"][method]
        ref = op["requestBody"]["content"]["application/json"]["schema"]
        ref = ref.get("oneOf", [ref])[0]["$ref"].rsplit("/", 1)[1]
        return self.openapi["components"]["schemas"][ref]

    def list(self, endpoint, params=None, **_):
        out = []
        for obj in self.objects.get(endpoint, []):
            ok = True
            for key, value in (params or {}).items():
                field = key[:-3] if key.endswith("_id") and key not in obj else key
                have = obj.get(field)
                have = have.get("id") if isinstance(have, dict) else have
                ok = ok and str(have) == str(value)
            if ok:
                out.append(obj)
        return out

    def iter(self, endpoint, params=None, **kwargs):
        return iter(self.list(endpoint, params, **kwargs))

    def get(self, endpoint, ident):
        return next(o for o in self.objects[endpoint] if o["id"] == ident)

    def create(self, endpoint, data):
        schema = self._schema(endpoint)
        unknown = set(data) - set(schema["properties"])
        assert not unknown, f"{endpoint}: NetBox 4.6.8 has no field(s) {unknown}"
        missing = set(schema.get("required", [])) - set(data)
        assert not missing, f"{endpoint}: required field(s) {missing} not sent"
        self.writes.append((endpoint, data))
        self._next += 1
        obj = {"id": self._next, **data}
        self.objects.setdefault(endpoint, []).append(obj)
        return obj


@pytest.fixture
def schema_source(monkeypatch, netbox_client):
    if SHARED_FIXTURES is None:
        pytest.skip(SHARED_MISSING_REASON)
    with open(SHARED_FIXTURES / "netbox" / "openapi-4.6.8.json", encoding="utf-8") as fh:
        openapi = json.load(fh)
    tor = netbox_client.find("dcim.devices", name="tor1-r1")
    iface = netbox_client.find("dcim.interfaces", device_id=tor["id"], name="Ethernet48")
    iface = {**iface, "device": {"id": tor["id"], "name": "tor1-r1"}, "cable": None}
    src = SchemaCheckingSource(openapi, {"dcim.devices": [tor], "dcim.interfaces": [iface]})
    monkeypatch.setattr(glue, "get_source", lambda *a, **k: src)
    return src


def test_compat_circuits_send_what_netbox4_accepts(schema_source, netbox_target, tmp_path):
    mods, _ = loaders(netbox_target, tmp_path)
    made = mods["netbox.create_circuit_provider"]("Telia")
    provider_id = made["circuits"]["providers"]["id"]
    assert mods["netbox.create_circuit_provider"]("Telia") == {}
    assert mods["netbox.get_circuit_provider"]("Telia")["id"] == provider_id
    with pytest.raises(SaltInvocationError, match="ipam.asns"):
        mods["netbox.create_circuit_provider"]("Lumen", asn=3356)
    made = mods["netbox.create_circuit_type"]("Transit")
    assert made["circuits"]["circuit-types"]["slug"] == "transit"
    circuit = mods["netbox.create_circuit"](
        "LAB1-TRANSIT-01", provider_id, "Transit", description="lab transit"
    )
    assert circuit["circuits"]["circuits"]["cid"] == "LAB1-TRANSIT-01"
    term = mods["netbox.create_circuit_termination"](
        "LAB1-TRANSIT-01", "Ethernet48", "tor1-r1", 10000, xconnect_id="XC-1"
    )
    (payload,) = term["circuits"]["circuit-terminations"].values()
    assert payload["termination_type"] == "dcim.site" and payload["port_speed"] == 10000
    endpoints = [endpoint for endpoint, _ in schema_source.writes]
    assert endpoints == [
        "circuits.providers",
        "circuits.circuit-types",
        "circuits.circuits",
        "circuits.circuit-terminations",
        "dcim.cables",
    ]
    _, cable = schema_source.writes[-1]
    term_id = schema_source.objects["circuits.circuit-terminations"][0]["id"]
    assert cable["a_terminations"] == [
        {
            "object_type": "dcim.interface",
            "object_id": schema_source.objects["dcim.interfaces"][0]["id"],
        }
    ]
    assert cable["b_terminations"] == [
        {"object_type": "circuits.circuittermination", "object_id": term_id}
    ]
