"""Bulk fetch and change-log refresh of site records, on a snapshot source (counts requests)."""

import shutil

import pytest

from salt_ext.utils.netbox.snapshot import SnapshotSource
from salt_ext.utils.pillar import fetch
from salt_ext.utils.pillar.assemble import SiteView, node_pillar
from salt_ext.utils.pillar.options import parse_options
from tests.support.saltenv import LAB1_SNAPSHOT


@pytest.fixture
def src(tmp_path):
    path = tmp_path / "lab1.json"
    shutil.copy(LAB1_SNAPSHOT, path)
    return SnapshotSource(str(path))


@pytest.fixture
def options():
    return parse_options({})


@pytest.fixture
def record(src, options):
    site = src.find("dcim.sites", slug="lab1")
    rec = fetch.full_scope(src, {"kind": "site", "id": site["id"]}, options.endpoints, options)
    src.counter.reset()
    return rec


def by_endpoint(src):
    return src.counter.snapshot()["by_endpoint"]


def test_full_fetch_is_one_request_per_object_type(src, options):
    site = src.find("dcim.sites", slug="lab1")
    src.counter.reset()
    rec = fetch.full_scope(src, {"kind": "site", "id": site["id"]}, options.endpoints, options)
    counts = {ep: n["GET"] for ep, n in by_endpoint(src).items()}
    assert counts == {
        "core.object-changes": 1,
        "dcim.sites": 1,
        "dcim.devices": 1,
        "dcim.racks": 1,
        "dcim.interfaces": 1,
        "dcim.cables": 1,
        "dcim.mac-addresses": 1,
        "dcim.device-types": 1,
        "ipam.ip-addresses": 1,
        "ipam.prefixes": 1,
        "ipam.vlans": 1,
        "ipam.services": 1,
    }
    assert rec["scope"]["slug"] == "lab1"
    assert len(rec["objects"]["dcim.devices"]) == 24
    assert len(rec["objects"]["dcim.interfaces"]) == 456
    assert rec["objects"]["external.devices"] == []  # every cable stays in LAB1


def test_switched_off_parts_are_not_fetched(src):
    options = parse_options({"interfaces": False, "services": False})
    site = src.find("dcim.sites", slug="lab1")
    src.counter.reset()
    fetch.full_scope(src, {"kind": "site", "id": site["id"]}, options.endpoints, options)
    fetched = set(by_endpoint(src))
    assert not fetched & {
        "dcim.interfaces",
        "dcim.cables",
        "ipam.ip-addresses",
        "dcim.mac-addresses",
        "ipam.services",
    }


def test_no_change_is_one_request_and_same_version(src, record, options):
    out = fetch.incremental_scope(src, record, options)
    assert out["version"] == record["version"]
    assert out["last_fetch"]["mode"] == "unchanged"
    assert by_endpoint(src) == {"core.object-changes": {"GET": 1}}


def test_new_cable_refetches_the_cable_only(src, record, options):
    tor = src.find("dcim.devices", name="tor1-r3")
    srv = src.find("dcim.devices", name="srv-r3-04")
    a = src.find("dcim.interfaces", device_id=srv["id"], name="eno2")
    b = src.find("dcim.interfaces", device_id=tor["id"], name="Ethernet20")
    src.create(
        "dcim.cables",
        {
            "a_terminations": [{"object_type": "dcim.interface", "object_id": a["id"]}],
            "b_terminations": [{"object_type": "dcim.interface", "object_id": b["id"]}],
            "status": "planned",
        },
    )
    src.counter.reset()
    out = fetch.incremental_scope(src, record, options)
    assert out["last_fetch"]["mode"] == "incremental"
    fetched = by_endpoint(src)
    assert "dcim.cables" in fetched and "dcim.devices" not in fetched
    pillar = node_pillar(SiteView(out), "device", srv["id"], options)
    assert pillar["interfaces"]["eno2"]["peer"]["device"] == "tor1-r3"
    assert pillar["interfaces"]["eno2"]["peer"]["cable_status"] == "planned"
    # both ends refetched with it, in one request: their raw objects (compat shape) are current
    assert fetched["dcim.interfaces"] == {"GET": 1}
    full = fetch.full_scope(src, record["scope"], options.endpoints, options)
    raw = {i["id"]: i for i in out["objects"]["dcim.interfaces"]}
    fresh = {i["id"]: i for i in full["objects"]["dcim.interfaces"]}
    assert raw[a["id"]] == fresh[a["id"]] and raw[b["id"]] == fresh[b["id"]]
    assert raw[a["id"]]["link_peers"][0]["id"] == b["id"]


def test_too_many_changes_need_a_full_fetch(src, record):
    options = parse_options({"changelog_max": 2})
    for name in ("srv-r2-01", "srv-r2-02", "srv-r2-03"):
        dev = src.find("dcim.devices", name=name)
        src.update("dcim.devices", dev["id"], {"description": "x"})
    with pytest.raises(fetch.NeedFullFetch, match="more than 2"):
        fetch.incremental_scope(src, record, options)


def test_new_ip_lands_on_its_interface(src, record, options):
    target = src.find("dcim.devices", name="srv-r2-07")
    iface = src.find("dcim.interfaces", device_id=target["id"], name="eno1")
    src.create(
        "ipam.ip-addresses",
        {
            "address": "192.0.2.77/24",
            "assigned_object_type": "dcim.interface",
            "assigned_object_id": iface["id"],
        },
    )
    src.counter.reset()
    out = fetch.incremental_scope(src, record, options)
    pillar = node_pillar(SiteView(out), "device", target["id"], options)
    assert [i["address"] for i in pillar["interfaces"]["eno1"]["ip_addresses"]] == ["192.0.2.77/24"]
    assert by_endpoint(src)["ipam.ip-addresses"] == {"GET": 1}


def test_no_cursor_needs_a_full_fetch(src, record, options):
    record = dict(record, cursor=None)
    with pytest.raises(fetch.NeedFullFetch):
        fetch.incremental_scope(src, record, options)


def _pillars(record, options):
    view = SiteView(record)
    return {dev_id: node_pillar(view, "device", dev_id, options) for dev_id in view.devices}


def test_incremental_refresh_equals_a_full_fetch(src, record, options):
    """After changes to objects other objects embed (names, addresses, VLANs), the change-log
    refresh gives every device exactly the pillar a full fetch gives."""
    tor = src.find("dcim.devices", name="tor1-r1")
    src.update("dcim.devices", tor["id"], {"name": "tor1-r1-new"})
    tor_port = src.find("dcim.interfaces", device_id=tor["id"], name="Ethernet1")
    src.update("dcim.interfaces", tor_port["id"], {"name": "Ethernet1/1"})
    srv = src.find("dcim.devices", name="srv-r1-01")
    primary = src.get("ipam.ip-addresses", srv["primary_ip4"]["id"])
    src.update("ipam.ip-addresses", primary["id"], {"address": "10.10.1.211/24"})
    bond = src.find("dcim.interfaces", device_id=srv["id"], name="bond0")
    src.update("dcim.interfaces", bond["id"], {"name": "bond1", "mtu": 9000})
    vlan = src.list("ipam.vlans", {"site_id": record["scope"]["id"]})[0]
    src.update("ipam.vlans", vlan["id"], {"name": "renamed-vlan"})
    rack = src.find("dcim.racks", site_id=record["scope"]["id"], name="R2")
    src.update("dcim.racks", rack["id"], {"name": "R2-new"})
    src.counter.reset()
    out = fetch.incremental_scope(src, record, options)
    assert out["last_fetch"]["mode"] == "incremental"
    assert "dcim.interfaces" not in by_endpoint(src) or by_endpoint(src)["dcim.interfaces"] == {
        "GET": 1
    }
    full = fetch.full_scope(src, record["scope"], options.endpoints, options)
    incremental, expected = _pillars(out, options), _pillars(full, options)
    assert incremental.keys() == expected.keys()
    for dev_id, pillar in expected.items():
        assert incremental[dev_id] == pillar, pillar["name"]
    srv_pillar = expected[srv["id"]]
    assert srv_pillar["primary_ip4"] == "10.10.1.211/24"
    assert srv_pillar["interfaces"]["eno1"]["peer"]["device"] == "tor1-r1-new"
    assert srv_pillar["interfaces"]["eno1"]["peer"]["interface"] == "Ethernet1/1"
    assert srv_pillar["interfaces"]["eno1"]["lag"] == "bond1"


def test_platform_change_needs_a_full_fetch_when_platforms_are_not_fetched(src, record, options):
    # devices embed their platform; without dcim.platforms in the record only a full fetch
    # brings the new name
    assert "dcim.platforms" not in record["endpoints"]
    platform = src.list("dcim.platforms")[0]
    src.update("dcim.platforms", platform["id"], {"name": "renamed-platform"})
    with pytest.raises(fetch.NeedFullFetch, match="dcim.platform"):
        fetch.incremental_scope(src, record, options)


def test_deleted_cable_and_moved_device_like_a_full_fetch(src, record, options):
    srv = src.find("dcim.devices", name="srv-r1-01")
    eno1 = src.find("dcim.interfaces", device_id=srv["id"], name="eno1")
    src.delete("dcim.cables", eno1["cable"]["id"])
    other = src.find("dcim.devices", name="srv-r2-05")
    rack3 = src.find("dcim.racks", site_id=record["scope"]["id"], name="R3")
    src.update("dcim.devices", other["id"], {"rack": rack3["id"], "position": 30, "face": "front"})
    out = fetch.incremental_scope(src, record, options)
    full = fetch.full_scope(src, record["scope"], options.endpoints, options)
    incremental, expected = _pillars(out, options), _pillars(full, options)
    for dev_id, pillar in expected.items():
        assert incremental[dev_id] == pillar, pillar["name"]
    assert expected[srv["id"]]["interfaces"]["eno1"]["peer"] is None
    assert expected[other["id"]]["rack"]["name"] == "R3"
    assert "srv-r2-05" in [
        d["name"] for d in expected[rack3_server(full)]["rack_devices"]["edge-server"]
    ]
    # the raw interfaces (compat shape) too: NetBox logs no change for the ends of a deleted cable
    raw = {i["id"]: i for i in out["objects"]["dcim.interfaces"]}
    fresh = {i["id"]: i for i in full["objects"]["dcim.interfaces"]}
    assert raw[eno1["id"]] == fresh[eno1["id"]]
    assert raw[eno1["id"]]["cable"] is None and raw[eno1["id"]]["link_peers"] == []


def rack3_server(record):
    """A server in rack R3 of the record other than srv-r2-05."""
    return next(
        d["id"]
        for d in record["objects"]["dcim.devices"]
        if (d.get("rack") or {}).get("name") == "R3" and d["name"].startswith("srv-r3")
    )


def test_deleted_primary_ip_like_a_full_fetch(src, record, options):
    # NetBox saves (and logs) the device when its primary or OOB IP is deleted
    srv = src.find("dcim.devices", name="srv-r1-01")
    src.delete("ipam.ip-addresses", srv["primary_ip6"]["id"])
    src.delete("ipam.ip-addresses", srv["oob_ip"]["id"])
    out = fetch.incremental_scope(src, record, options)
    full = fetch.full_scope(src, record["scope"], options.endpoints, options)
    assert _pillars(out, options) == _pillars(full, options)
    pillar = _pillars(full, options)[srv["id"]]
    assert pillar["primary_ip6"] is None and pillar["oob_ip"] is None
    assert pillar["primary_ip"] == pillar["primary_ip4"] == "10.10.1.11/24"
    raw = {d["id"]: d for d in out["objects"]["dcim.devices"]}[srv["id"]]
    fresh = {d["id"]: d for d in full["objects"]["dcim.devices"]}[srv["id"]]
    for key in ("primary_ip", "primary_ip4", "primary_ip6", "oob_ip"):
        assert raw[key] == fresh[key], key
