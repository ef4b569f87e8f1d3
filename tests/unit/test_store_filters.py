"""
Unit tests of the in-memory NetBox store beyond the recorded pairs: filter lookups, custom-field filters,
ordering, write validation, uniqueness, cascades and the change log.
"""

import json
import pathlib

import pytest

from salt_ext.utils.netbox.model import NetBoxStore, StoreError
from salt_ext.utils.netbox.model.schema_meta import ENDPOINTS

REPO = pathlib.Path(__file__).resolve().parents[2]
LAB1 = REPO / "salt_ext" / "data" / "snapshots" / "lab1.json"
SCHEMA = REPO.parent / "shared" / "fixtures" / "netbox" / "openapi-4.6.8.json"


def names(rows):
    return [r["name"] for r in rows]


def test_exact_and_repeated_values_are_or(store):
    rows = store.query("dcim.devices", [("name", "srv-r1-01"), ("name", "srv-r1-02")])
    assert names(rows) == ["srv-r1-01", "srv-r1-02"]


@pytest.mark.parametrize(
    "param,value,expected",
    [
        ("name__ic", "R3-0", {"srv-r3-01", "srv-r3-02", "srv-r3-03", "srv-r3-04"}),
        ("name__isw", "OOB", {"oob-r1", "oob-r2", "oob-r3"}),
        ("name__iew", "-R2", {"oob-r2", "tor1-r2", "tor2-r2"}),
        ("name__ie", "OOB-R1", {"oob-r1"}),
    ],
)
def test_string_lookups(store, param, value, expected):
    rows = store.query("dcim.devices", [("site", "lab1"), (param, value)])
    assert set(names(rows)) == expected


def test_negated_lookups_exclude(store):
    everything = set(names(store.query("dcim.devices", [("site", "lab1")])))
    rows = store.query("dcim.devices", [("site", "lab1"), ("name__nic", "srv")])
    assert set(names(rows)) == {n for n in everything if "srv" not in n}
    rows = store.query(
        "dcim.devices", [("site", "lab1"), ("name__n", "oob-r1"), ("name__n", "oob-r2")]
    )
    assert set(names(rows)) == everything - {"oob-r1", "oob-r2"}


def test_numeric_lookups_and_empty(store):
    rows = store.query("dcim.devices", [("rack_id", "44"), ("position__gte", "10")])
    assert rows and all(r["position"] >= 10 for r in rows)
    rows = store.query("dcim.devices", [("rack_id", "44"), ("position__lt", "10")])
    assert rows and all(r["position"] is not None and r["position"] < 10 for r in rows)
    empty = store.query("dcim.devices", [("asset_tag__empty", "true")])
    assert len(empty) == 24


def test_invalid_values_are_400(store):
    with pytest.raises(StoreError) as err:
        store.query("dcim.devices", [("status", "bogus")])
    assert err.value.status == 400
    assert err.value.body == {
        "status": ["Select a valid choice. bogus is not one of the available choices."]
    }
    with pytest.raises(StoreError) as err:
        store.query("dcim.devices", [("site_id", "999999")])
    assert err.value.status == 400 and "site_id" in err.value.body
    with pytest.raises(StoreError) as err:
        store.query("dcim.devices", [("position__gt", "abc")])
    assert err.value.body == {"position__gt": ["Enter a number."]}


def test_unknown_filters_are_ignored(store):
    assert len(store.query("dcim.devices", [("nosuch", "x"), ("site", "lab1")])) == 24
    # a lookup the filter does not offer is unknown too
    assert len(store.query("dcim.devices", [("site__ic", "zzz"), ("site", "lab1")])) == 24


def test_custom_field_filters(store):
    one = store.query("dcim.devices", [("cf_minion_id", "srv-r1-01.lab1.example.net")])
    assert names(one) == ["srv-r1-01"]
    # loose filter logic: partial, case-insensitive
    loose = store.query("dcim.devices", [("cf_minion_id", "SRV-R1-0")])
    assert "srv-r1-01" in names(loose) and all(n.startswith("srv-r1-0") for n in names(loose))
    empty = store.query("dcim.devices", [("site", "lab1"), ("cf_minion_id__empty", "true")])
    filled = store.query("dcim.devices", [("site", "lab1"), ("cf_minion_id__empty", "false")])
    assert len(empty) + len(filled) == 24 and empty and filled
    assert all(r["custom_fields"]["minion_id"] is None for r in empty)
    racks_true = store.query("dcim.racks", [("cf_auto_turnup", "true")])
    racks_false = store.query("dcim.racks", [("cf_auto_turnup", "false")])
    assert len(racks_true) == 1 and racks_true[0]["custom_fields"]["auto_turnup"] is True
    assert all(r["custom_fields"]["auto_turnup"] is False for r in racks_false)


def test_tag_filter_is_conjoined(store):
    assert len(store.query("dcim.devices", [("tag", "turnup-lab")])) == 24
    with pytest.raises(StoreError):
        store.query("dcim.devices", [("tag", "no-such-tag")])
    assert store.query("dcim.devices", [("tag__n", "turnup-lab")]) == []


def test_through_device_and_containment_filters(store):
    ifaces = store.query("dcim.interfaces", [("site_id", "25"), ("device", "srv-r1-01")])
    assert ifaces and {i["device"]["name"] for i in ifaces} == {"srv-r1-01"}
    ips = store.query("ipam.ip-addresses", [("parent", "10.10.1.0/24")])
    assert ips and all(ip["address"].startswith("10.10.1.") for ip in ips)
    assert store.query("ipam.ip-addresses", [("device", "srv-r1-01")]) == store.query(
        "ipam.ip-addresses", [("device_id", "110")]
    )


def test_ordering_natural_and_explicit(store):
    rows = store.query("dcim.interfaces", [("device_id", "109")])
    eth = [r["name"] for r in rows if r["name"].startswith("Ethernet")]
    assert eth[:3] == ["Ethernet1", "Ethernet2", "Ethernet3"] and eth.index("Ethernet10") > 8
    rows = store.query("dcim.devices", [("site", "lab1"), ("ordering", "-name")])
    assert names(rows) == sorted(names(rows), reverse=True)


def _new_device(store, name, **extra):
    data = {
        "name": name,
        "device_type": 16,
        "role": 11,
        "site": 25,
        "tenant": 14,
        "status": "planned",
    }
    data.update(extra)
    return store.create("dcim.devices", data)


def test_create_validates_required_choices_and_references(store):
    with pytest.raises(StoreError) as err:
        store.create("dcim.devices", {"name": "x"})
    assert set(err.value.body) == {"device_type", "role", "site"}
    with pytest.raises(StoreError) as err:
        _new_device(store, "x1", status="bogus")
    assert err.value.body == {"status": ["bogus is not a valid choice."]}
    with pytest.raises(StoreError) as err:
        _new_device(store, "x2", rack=999999)
    assert err.value.body == {
        "rack": ["Related object not found using the provided numeric ID: 999999"]
    }
    dev = _new_device(store, "x3", platform={"slug": "debian-12"})
    assert dev["platform"]["slug"] == "debian-12"


def test_device_uniqueness_is_case_insensitive_per_tenant(store):
    _new_device(store, "uniq-1")
    with pytest.raises(StoreError) as err:
        _new_device(store, "UNIQ-1")
    assert "dcim_device_unique_name_site_tenant" in err.value.body["__all__"][0]
    other = _new_device(store, "uniq-1", tenant=None)
    assert other["tenant"] is None


def test_device_create_instantiates_interfaces_and_counts(store):
    before = store.get("dcim.device-types", 16)["device_count"]
    dev = _new_device(store, "tpl-1")
    templates = store.query("dcim.interface-templates", [("device_type_id", "16")])
    ifaces = store.query("dcim.interfaces", [("device_id", str(dev["id"]))])
    assert [i["name"] for i in ifaces] == [t["name"] for t in templates]
    assert store.get("dcim.devices", dev["id"])["interface_count"] == len(templates)
    assert store.get("dcim.device-types", 16)["device_count"] == before + 1
    assert dev["device_type"]["device_count"] == before + 1


def test_nested_references_follow_the_referenced_object(store):
    store.update("dcim.sites", 25, {"description": "renamed site"})
    dev = store.query("dcim.devices", [("name", "srv-r1-01")])[0]
    assert dev["site"]["description"] == "renamed site"


def test_bulk_create_is_atomic(store):
    dev = _new_device(store, "bulk-1")
    with pytest.raises(StoreError) as err:
        store.create(
            "dcim.interfaces",
            [
                {"device": dev["id"], "name": "ok0", "type": "virtual"},
                {"device": dev["id"], "name": "bad", "type": "nope"},
            ],
        )
    assert err.value.body[0] == {} and "type" in err.value.body[1]
    assert store.query("dcim.interfaces", [("device_id", str(dev["id"])), ("name", "ok0")]) == []


def test_if_match_and_etag(store):
    etag = store.etag("dcim.devices", 110)
    with pytest.raises(StoreError) as err:
        store.update("dcim.devices", 110, {"serial": "S"}, if_match='W/"2000-01-01T00:00:00+00:00"')
    assert err.value.status == 412 and err.value.headers["ETag"] == etag
    store.update("dcim.devices", 110, {"serial": "S"}, if_match=etag)
    assert store.etag("dcim.devices", 110) != etag


def test_delete_device_cascades_and_logs(store):
    dev = _new_device(store, "gone-1")
    iface = store.create("dcim.interfaces", {"device": dev["id"], "name": "bond0", "type": "lag"})
    mac = store.create(
        "dcim.mac-addresses",
        {
            "mac_address": "aa:bb:cc:00:11:22",
            "assigned_object_type": "dcim.interface",
            "assigned_object_id": iface["id"],
        },
    )
    assert mac["mac_address"] == "AA:BB:CC:00:11:22"
    ip = store.allocate_ips(
        97, {"assigned_object_type": "dcim.interface", "assigned_object_id": iface["id"]}
    )
    store.update("dcim.devices", dev["id"], {"primary_ip4": ip["id"]})
    assert store.get("dcim.interfaces", iface["id"])["count_ipaddresses"] == 1
    store.delete("dcim.devices", dev["id"])
    for endpoint, oid in (
        ("dcim.devices", dev["id"]),
        ("dcim.interfaces", iface["id"]),
        ("ipam.ip-addresses", ip["id"]),
        ("dcim.mac-addresses", mac["id"]),
    ):
        with pytest.raises(StoreError) as err:
            store.get(endpoint, oid)
        assert err.value.status == 404
    changes = store.query(
        "core.object-changes",
        [("changed_object_type", "dcim.device"), ("changed_object_id", str(dev["id"]))],
    )
    assert [c["action"]["value"] for c in changes] == ["delete", "update", "create"]
    assert changes[0]["changed_object"] is None and changes[0]["postchange_data"] is None
    assert changes[1]["prechange_data"]["primary_ip4"] is None
    assert changes[1]["postchange_data"]["primary_ip4"] == ip["id"]


def test_protected_delete_is_409(store):
    with pytest.raises(StoreError) as err:
        store.delete("dcim.sites", 25)
    assert err.value.status == 409
    assert store.get("dcim.sites", 25)["slug"] == "lab1"


def test_object_changes_time_filter(store):
    stamp = store.get("dcim.devices", 110)["last_updated"]
    _new_device(store, "later-1")
    later = store.query("core.object-changes", [("time_after", stamp)])
    assert later and all(c["time"] >= stamp for c in later)
    assert store.query("core.object-changes", [("time_before", "2000-01-01T00:00:00Z")]) == []


def test_available_ips_skip_used_and_network(store):
    free = store.available_ips(97, limit=2)
    assert [f["address"] for f in free] == ["10.10.2.1/24", "10.10.2.2/24"]
    store.create("ipam.ip-addresses", {"address": "10.10.2.1/24"})
    assert store.available_ips(97, limit=1)[0]["address"] == "10.10.2.2/24"
    with pytest.raises(StoreError) as err:
        store.create("ipam.ip-addresses", {"address": "10.10.2.1/24"})
    assert "Duplicate IP address" in err.value.body["address"][0]


def test_export_round_trip(lab1):
    store = NetBoxStore.from_snapshot(lab1)
    exported = store.export()
    again = NetBoxStore.from_snapshot(exported).export()
    assert again["objects"] == exported["objects"]
    renumbered = NetBoxStore.from_snapshot(lab1, keep_ids=False)
    devs = renumbered.query("dcim.devices", [("site", "lab1")])
    assert len(devs) == 24 and min(d["id"] for d in devs) >= 1
    iface_count = sum(d["interface_count"] for d in devs)
    assert iface_count == len(lab1["objects"]["dcim.interfaces"])


@pytest.mark.skipif(not SCHEMA.exists(), reason="NetBox OpenAPI schema not available (../shared)")
def test_filter_definitions_match_the_schema():
    with open(SCHEMA, encoding="utf-8") as fh:
        schema = json.load(fh)
    for endpoint, meta in ENDPOINTS.items():
        app, name = endpoint.split(".")
        params = schema["paths"][f"/api/{app}/{name}/"]["get"]["parameters"]
        names_ = {p["name"] for p in params}
        for base, lookups in meta["filters"].items():
            assert base in names_, (endpoint, base)
            for lookup in lookups.split():
                assert f"{base}__{lookup}" in names_, (endpoint, base, lookup)


def test_every_endpoint_lists_full_and_brief(store):
    store.create("dcim.inventory-items", {"device": 110, "name": "CPU0", "manufacturer": 1})
    vm = store.create("virtualization.virtual-machines", {"name": "vm1", "site": 25})
    store.create("virtualization.interfaces", {"virtual_machine": vm["id"], "name": "eth0"})
    for endpoint in store.endpoints():
        ids = store.query_ids(endpoint, [])
        full = store.represent_ids(endpoint, ids[:3], "http://nb.test")
        brief = store.represent_ids(endpoint, ids[:3], "http://nb.test", brief=True)
        assert len(full) == len(brief) == min(3, len(ids)), endpoint
        for row, small in zip(full, brief, strict=True):
            assert small["id"] == row["id"] and small["display"] == row["display"], endpoint
            assert small["url"].startswith("http://nb.test/api/"), endpoint
            assert set(small) < set(row) or endpoint == "core.object-changes", endpoint
