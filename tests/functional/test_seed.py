"""
Seeding NetBox from a snapshot through the API (``salt_ext.utils.netbox.seed``): an empty
stand-in seeded from lab1 reproduces the lab object for object (ids aside), and a second run
creates nothing.
"""

import copy
import json

import pytest

from salt_ext.utils.netbox import (
    NetBoxClient,
    NetBoxConfigError,
    NetBoxNotFound,
    SnapshotSource,
    load_config,
)
from salt_ext.utils.netbox.export import export_snapshot, snapshot_counts
from salt_ext.utils.netbox.seed import import_snapshot
from tests.support.netbox_standin import NetBoxStandin
from tests.support.saltenv import NETBOX_TEST_TIMEOUT

#: fields that differ between two NetBoxes holding the same objects
VOLATILE = frozenset(
    (
        "id",
        "url",
        "display_url",
        "created",
        "last_updated",
        "created_by",
        "assigned_object_id",
        "scope_id",
        "parent_object_id",
        "object_id",
        "tagged_items",
        # computed by the server from other objects
        "utilization",
    )
)
#: many-to-many fields whose representation servers differ on (ids or nested objects):
#: compared by id through the seed's id map
M2M = {
    "ipam.services": {"ipaddresses": "ipam.ip-addresses", "tags": "extras.tags"},
    "extras.config-contexts": {
        "regions": "dcim.regions",
        "sites": "dcim.sites",
        "locations": "dcim.locations",
        "device_types": "dcim.device-types",
        "roles": "dcim.device-roles",
        "platforms": "dcim.platforms",
        "tenants": "tenancy.tenants",
        "tags": "extras.tags",
    },
}


def portable(value, top=True, endpoint=None):
    """An object with references replaced by their display names and ids dropped."""
    if isinstance(value, dict):
        if not top and "url" in value and "id" in value:
            device = value.get("device")
            return ("ref", value.get("display"), device.get("display") if device else None)
        return {
            key: portable(item, False, endpoint)
            for key, item in value.items()
            if key not in VOLATILE and not key.endswith("_count")
            # a journal entry's display is its creation time
            and not (top and endpoint == "extras.journal-entries" and key == "display")
        }
    if isinstance(value, list):
        return [portable(item, False, endpoint) for item in value]
    return value


def _ids(values, id_map=None):
    ids = [v["id"] if isinstance(v, dict) else v for v in values or ()]
    return sorted(id_map[i] if id_map is not None else i for i in ids)


def _sorted(endpoint, objects, id_map=None):
    """Portable objects, sorted; the M2M fields as (mapped) id lists."""
    out = []
    for obj in objects:
        data = portable(
            {k: v for k, v in obj.items() if k not in M2M.get(endpoint, {})}, endpoint=endpoint
        )
        for field, target in M2M.get(endpoint, {}).items():
            data[field] = _ids(obj.get(field), None if id_map is None else id_map.get(target, {}))
        out.append(data)
    return sorted(out, key=lambda o: json.dumps(o, sort_keys=True))


@pytest.fixture(scope="module")
def seeded(lab1_snapshot):
    standin = NetBoxStandin()
    standin.start()
    client = NetBoxClient(
        load_config(
            {
                "netbox": {
                    "url": standin.url,
                    "token": standin.token_v2,
                    "timeout": NETBOX_TEST_TIMEOUT,
                }
            }
        )
    )
    first = import_snapshot(client, copy.deepcopy(lab1_snapshot))
    first_requests = client.counter.snapshot()
    yield standin, client, first, first_requests
    standin.stop()


def test_first_run_creates_the_lab(seeded, lab1_snapshot):
    _, _, report, requests = seeded
    objects = lab1_snapshot["objects"]
    template_made = len(objects["dcim.interfaces"]) - report["created"].get("dcim.interfaces", 0)
    assert report["totals"]["existing"] == 0
    for endpoint, objs in objects.items():
        made = report["created"].get(endpoint, 0) + report["updated"].get(endpoint, 0)
        assert made == len(objs), endpoint
    # device creation made the template interfaces: they were PATCHed, not created again
    assert template_made == report["updated"]["dcim.interfaces"] > 0
    assert report["deferred_updates"] > 0  # primary IPs and primary MACs came afterwards
    # bulk requests: a few dozen requests for ~1,150 objects
    assert requests["total"] < 100


@pytest.mark.parametrize(
    "endpoint",
    [
        "extras.tags",
        "extras.custom-fields",
        "tenancy.tenants",
        "dcim.regions",
        "dcim.sites",
        "dcim.manufacturers",
        "dcim.device-roles",
        "dcim.platforms",
        "dcim.device-types",
        "dcim.interface-templates",
        "dcim.racks",
        "ipam.vlan-groups",
        "ipam.vlans",
        "ipam.prefixes",
        "dcim.devices",
        "dcim.interfaces",
        "dcim.mac-addresses",
        "dcim.cables",
        "ipam.ip-addresses",
        "ipam.services",
        "extras.config-contexts",
        "extras.journal-entries",
    ],
)
def test_seeded_objects_match_the_lab(seeded, lab1_snapshot, endpoint):
    _, client, report, _ = seeded
    wanted = lab1_snapshot["objects"][endpoint]
    got = client.list(endpoint)
    assert len(got) == len(wanted)
    assert _sorted(endpoint, got) == _sorted(endpoint, wanted, report["id_map"])


def test_devices_have_their_primary_ips_and_cables_are_connected(seeded, lab1_snapshot):
    _, client, report, _ = seeded
    devices = {d["name"]: d for d in client.list("dcim.devices", {"site": "lab1"})}
    lab = {d["name"]: d for d in lab1_snapshot["objects"]["dcim.devices"]}
    assert set(devices) == set(lab)
    with_ip = [name for name, dev in lab.items() if dev["primary_ip4"]]
    assert with_ip
    for name in with_ip:
        assert devices[name]["primary_ip4"]["address"] == lab[name]["primary_ip4"]["address"]
        assert devices[name]["primary_ip"]["address"] == lab[name]["primary_ip"]["address"]
        assert report["id_map"]["dcim.devices"][lab[name]["id"]] == devices[name]["id"]
    cables = client.list("dcim.cables", {"site": "lab1"})
    assert len(cables) == len(lab1_snapshot["objects"]["dcim.cables"])
    assert {c["status"]["value"] for c in cables} == {"connected"}
    cabled = client.list("dcim.interfaces", {"site": "lab1", "cabled": "true"}, fields=["id"])
    assert len(cabled) == 2 * len(cables)


def test_second_run_creates_nothing(seeded, lab1_snapshot):
    _, client, _, _ = seeded
    client.counter.reset()
    again = import_snapshot(client, copy.deepcopy(lab1_snapshot))
    assert again["created"] == {}
    assert again["updated"] == {}
    assert again["deferred_updates"] == 0
    total = sum(len(objs) for objs in lab1_snapshot["objects"].values())
    assert again["totals"] == {"created": 0, "existing": total, "updated": 0}
    # counted by the product's own RequestCounter (holds on a real NetBox too)
    assert client.counter.count(method="POST") == 0
    assert client.counter.count(method="PATCH") == 0
    assert client.counter.total < 60


def test_tagged_seed_into_a_snapshot_file(tmp_path, lab1_snapshot):
    """The same import works on any source: here an empty snapshot file, with a marker tag."""
    path = tmp_path / "empty.json"
    path.write_text(json.dumps({"netbox_version": "4.6.8", "objects": {}}))
    source = SnapshotSource(str(path))
    report = import_snapshot(source, copy.deepcopy(lab1_snapshot), tag="seeded")
    assert report["totals"]["existing"] == 0
    reread = SnapshotSource(str(path))
    devices = reread.list("dcim.devices", {"tag": "seeded"})
    assert len(devices) == len(lab1_snapshot["objects"]["dcim.devices"])
    assert {t["slug"] for t in devices[0]["tags"]} == {"turnup-lab", "seeded"}
    again = import_snapshot(reread, copy.deepcopy(lab1_snapshot), tag="seeded")
    assert again["totals"]["created"] == 0
    assert again["totals"]["updated"] == 0


def test_export_round_trip(seeded, lab1_snapshot, tmp_path):
    """Exporting the seeded site gives the lab back, and the export seeds another NetBox."""
    _, client, _, _ = seeded
    path = tmp_path / "export.json"
    client.counter.reset()
    data = export_snapshot(client, "lab1", str(path))
    assert client.counter.total < 40  # batched: a few requests per endpoint
    assert json.loads(path.read_text()) == data
    assert data["site"] == "lab1"
    assert data["base_url"] == client.base_url
    lab = lab1_snapshot["objects"]
    counts = {ep: n for ep, n in snapshot_counts(data).items() if n}
    assert counts == {ep: len(objs) for ep, objs in lab.items() if objs}
    for endpoint in ("dcim.devices", "dcim.cables", "ipam.ip-addresses", "dcim.interfaces"):
        assert _sorted(endpoint, data["objects"][endpoint]) == _sorted(endpoint, lab[endpoint])
    # the file is a snapshot source ...
    source = SnapshotSource(str(path))
    assert len(source.list("dcim.devices", {"site": "lab1"})) == len(lab["dcim.devices"])
    # ... and seeds another NetBox
    target = tmp_path / "target.json"
    target.write_text(json.dumps({"netbox_version": "4.6.8", "objects": {}}))
    report = import_snapshot(SnapshotSource(str(target)), data)
    assert report["totals"]["existing"] == 0
    copy_of_copy = SnapshotSource(str(target))
    for endpoint in ("dcim.devices", "dcim.cables"):
        assert _sorted(endpoint, copy_of_copy.list(endpoint)) == _sorted(endpoint, lab[endpoint])


def test_export_unknown_site(seeded, tmp_path):
    _, client, _, _ = seeded
    with pytest.raises(NetBoxNotFound, match="site 'nowhere' not found"):
        export_snapshot(client, "nowhere", str(tmp_path / "x.json"))
    assert not (tmp_path / "x.json").exists()


def test_export_to_a_missing_directory_fails_before_reading(seeded, tmp_path):
    _, client, _, _ = seeded
    client.counter.reset()
    with pytest.raises(NetBoxConfigError, match="does not exist; create it first"):
        export_snapshot(client, "lab1", str(tmp_path / "missing" / "x.json"))
    assert client.counter.total == 0  # refused before a single request


def test_export_of_the_lab_is_the_lab(lab1_snapshot):
    """Exporting site lab1 from a NetBox holding exactly lab1 gives lab1.json back: the same
    endpoints, objects, ids and order (computed counts aside)."""
    standin = NetBoxStandin(snapshot="lab1")
    standin.start()
    try:
        client = NetBoxClient(
            load_config({"netbox": {"url": standin.url, "token": standin.token_v1}})
        )
        data = export_snapshot(client, "lab1")
    finally:
        standin.stop()
    assert client.counter.total < 40
    for endpoint, wanted in lab1_snapshot["objects"].items():
        got = data["objects"][endpoint]
        assert [o["id"] for o in got] == [o["id"] for o in wanted], endpoint
        assert _sorted(endpoint, got) == _sorted(endpoint, wanted), endpoint
    assert list(data["objects"])[: len(lab1_snapshot["objects"])] == list(lab1_snapshot["objects"])


def test_export_keeps_the_unassigned_addresses_of_the_site_prefixes(tmp_path):
    """A gateway/VIP reserved in a site prefix but held by no interface is exported, so the
    snapshot's available-ips answers like NetBox and never hands that address out again."""
    standin = NetBoxStandin(snapshot="lab1")
    standin.start()
    try:
        client = NetBoxClient(
            load_config({"netbox": {"url": standin.url, "token": standin.token_v1}})
        )
        prefix = client.find("ipam.prefixes", prefix="10.10.2.0/24", vrf_id=None)
        free = client.available_ips(prefix["id"], count=3)
        gateway = client.create(
            "ipam.ip-addresses",
            {"address": free[0]["address"], "status": "reserved", "role": "anycast"},
        )
        # an address outside every lab1 prefix belongs to no site: not exported
        elsewhere = client.create("ipam.ip-addresses", {"address": "192.0.2.1/24"})
        path = tmp_path / "lab.json"
        data = export_snapshot(client, "lab1", str(path))
        from_api = client.available_ips(prefix["id"], count=3)
    finally:
        standin.stop()
    exported = {ip["id"]: ip for ip in data["objects"]["ipam.ip-addresses"]}
    assert exported[gateway["id"]]["status"]["value"] == "reserved"
    assert elsewhere["id"] not in exported
    snapshot = SnapshotSource(str(path))
    from_snapshot = snapshot.available_ips(prefix["id"], count=3)
    assert [ip["address"] for ip in from_snapshot] == [ip["address"] for ip in from_api]
    assert gateway["address"] not in {ip["address"] for ip in from_snapshot}
    allocated = snapshot.allocate_ip(prefix["id"], {"status": "active"})
    assert allocated["address"] == from_api[0]["address"] != gateway["address"]


def test_seed_follows_dependencies_whatever_the_file_order(tmp_path, lab1_snapshot):
    """A hand-edited snapshot may list its endpoints in any order: devices still find their site,
    cables their interfaces."""
    shuffled = copy.deepcopy(lab1_snapshot)
    shuffled["objects"] = dict(reversed(list(shuffled["objects"].items())))
    assert next(iter(shuffled["objects"])) == "extras.journal-entries"
    path = tmp_path / "empty.json"
    path.write_text(json.dumps({"netbox_version": "4.6.8", "objects": {}}))
    report = import_snapshot(SnapshotSource(str(path)), shuffled)
    assert report["totals"]["existing"] == 0
    source = SnapshotSource(str(path))
    lab = lab1_snapshot["objects"]
    for endpoint in ("dcim.devices", "dcim.cables", "ipam.ip-addresses"):
        assert _sorted(endpoint, source.list(endpoint)) == _sorted(endpoint, lab[endpoint])
