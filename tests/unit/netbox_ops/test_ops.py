"""Unit tests: NetBox operations over an in-memory snapshot source (lab1), no HTTP."""

import shutil

import pytest
from salt.exceptions import SaltInvocationError

from salt_ext.utils.netbox import SnapshotSource
from salt_ext.utils.netbox.errors import NetBoxInvalidRequest
from salt_ext.utils.netbox_ops import ops
from tests.support.saltenv import LAB1_SNAPSHOT


@pytest.fixture
def src(tmp_path):
    path = tmp_path / "lab1.json"
    shutil.copy(LAB1_SNAPSHOT, path)
    return SnapshotSource(str(path))


@pytest.fixture
def resolver(src):
    return ops.Resolver(src)


def test_ref_by_slug_name_model_and_id(src, resolver):
    site = src.list("dcim.sites")[0]
    assert resolver.ref("dcim.sites", "lab1") == site["id"]
    assert resolver.ref("dcim.sites", "LAB1") == site["id"]
    assert resolver.ref("dcim.sites", site["id"]) == site["id"]
    assert resolver.ref("dcim.sites", {"id": site["id"]}) == site["id"]
    m630 = next(t for t in src.list("dcim.device-types") if t["model"] == "PowerEdge M630")
    assert resolver.ref("dcim.device-types", "PowerEdge M630") == m630["id"]
    rack = resolver.ref("dcim.racks", {"name": "R2", "site": "lab1"})
    assert src.get("dcim.racks", rack)["name"] == "R2"
    assert resolver.ref("dcim.sites", None) is None


def test_ref_errors_name_the_endpoint(resolver):
    with pytest.raises(SaltInvocationError, match=r"'nowhere' not found in NetBox dcim.sites"):
        resolver.ref("dcim.sites", "nowhere", field="site")
    with pytest.raises(SaltInvocationError, match="not a reference"):
        resolver.ref("dcim.sites", True)
    with pytest.raises(ops.AmbiguousLookup, match=r"matches \d+ objects"):
        resolver.find_one("dcim.interfaces", {"name": "eno1"})


def test_resolve_fields_scopes_lag_to_the_device(src, resolver):
    dev = src.find("dcim.devices", name="srv-r2-01")
    bond = src.find("dcim.interfaces", device_id=dev["id"], name="bond0")
    resolved = resolver.resolve_fields(
        "dcim.interfaces",
        {
            "device": "srv-r2-01",
            "name": "eno9",
            "lag": "bond0",
            "tags": ["turnup-lab"],
            "type": {"value": "lag", "label": "LAG"},
        },
    )
    assert resolved["device"] == dev["id"] and resolved["lag"] == bond["id"]
    assert resolved["type"] == "lag" and len(resolved["tags"]) == 1
    with pytest.raises(SaltInvocationError, match="read-only"):
        resolver.resolve_fields("dcim.devices", {"config_context": {}})
    with pytest.raises(SaltInvocationError, match="custom_fields must be a mapping"):
        resolver.resolve_fields("dcim.devices", {"custom_fields": ["x"]})


def test_lookup_params(resolver):
    assert ops.lookup_params("dcim.devices", {"name": "x", "site": 25, "serial": "s"}) == {
        "name": "x",
        "site_id": 25,
    }
    assert ops.lookup_params("dcim.sites", {}, {"slug": "lab1"}) == {"slug": "lab1"}
    params = ops.lookup_params(
        "dcim.interfaces", {}, {"device": "srv-r2-01", "name": "eno1"}, resolver
    )
    assert set(params) == {"device_id", "name"}
    with pytest.raises(SaltInvocationError, match="cannot identify"):
        ops.lookup_params("dcim.devices", {"serial": "x"})


def test_ensure_test_update_create_and_remove(src, tmp_path):
    path = tmp_path / "lab1.json"
    before = path.read_bytes()
    res = ops.ensure(
        src,
        "dcim.devices",
        {"name": "srv-r2-01", "status": "active"},
        lookup={"name": "srv-r2-01"},
        test=True,
    )
    assert res["action"] == "updated"
    assert res["changes"] == {"status": {"old": "planned", "new": "active"}}
    assert path.read_bytes() == before  # test mode wrote nothing
    res = ops.ensure(
        src, "dcim.devices", {"name": "srv-r2-01", "status": "active"}, lookup={"name": "srv-r2-01"}
    )
    assert res["action"] == "updated" and res["not_kept"] == {}
    assert res["object"]["status"]["value"] == "active"
    res = ops.ensure(src, "dcim.devices", {"status": "active"}, lookup={"name": "srv-r2-01"})
    assert res["action"] == "unchanged" and res["changes"] == {}
    res = ops.ensure(src, "dcim.sites", {"name": "LAB3", "slug": "lab3", "status": "planned"})
    assert res["action"] == "created" and res["changes"] == {"created": "LAB3"}
    assert src.find("dcim.sites", slug="lab3")["status"]["value"] == "planned"
    assert ops.ensure(src, "dcim.sites", {"slug": "lab4"}, create=False)["action"] == "missing"
    assert ops.remove(src, "dcim.sites", {"slug": "lab3"}, test=True)["action"] == "deleted"
    assert src.find("dcim.sites", slug="lab3") is not None
    assert ops.remove(src, "dcim.sites", {"slug": "lab3"})["changes"] == {"deleted": "LAB3"}
    assert ops.remove(src, "dcim.sites", {"slug": "lab3"})["action"] == "absent"


def test_find_device_by_minion_id(src):
    assert ops.find_device(src, minion_id="srv-r1-01.lab1.example.net")["name"] == "srv-r1-01"
    # no custom field: the name, then the short name of the minion id
    assert ops.find_device(src, minion_id="srv-r2-01")["name"] == "srv-r2-01"
    assert ops.find_device(src, minion_id="srv-r2-02.other.domain")["name"] == "srv-r2-02"
    assert ops.find_device(src, minion_id="ghost") is None
    with pytest.raises(SaltInvocationError, match="device name"):
        ops.find_device(src)


def test_find_interface_forms(src):
    by_str = ops.find_interface(src, "srv-r2-01:eno1")
    assert ops.find_interface(src, "eno1", "srv-r2-01")["id"] == by_str["id"]
    assert ops.find_interface(src, {"device": "srv-r2-01", "name": "eno1"})["id"] == by_str["id"]
    assert ops.find_interface(src, by_str["id"])["name"] == "eno1"
    with pytest.raises(SaltInvocationError, match="not found on device"):
        ops.find_interface(src, "srv-r2-01:eno9")
    with pytest.raises(SaltInvocationError, match="device:interface"):
        ops.find_interface(src, "eno1")


def test_object_ref_forms(src):
    dev = src.find("dcim.devices", name="srv-r2-01")
    assert ops.object_ref(src, "srv-r2-01") == ("dcim.device", dev["id"], "srv-r2-01")
    assert ops.object_ref(src, dev["id"])[:2] == ("dcim.device", dev["id"])
    assert ops.object_ref(src, "dcim.interfaces:12")[:2] == ("dcim.interface", 12)
    assert ops.object_ref(src, {"endpoint": "ipam.ip-addresses", "id": 3})[:2] == (
        "ipam.ipaddress",
        3,
    )
    assert ops.object_ref(src, {"type": "dcim.interface", "id": 4})[:2] == ("dcim.interface", 4)
    with pytest.raises(SaltInvocationError, match="not found"):
        ops.object_ref(src, "ghost")


def test_change_status_writes_journal(src):
    dev = src.find("dcim.devices", name="srv-r2-05")
    after, entry = ops.change_status(src, dev, "staged", "ok", jid="42", who="master")
    assert after == "staged"
    assert entry["comments"] == "Status planned -> staged: ok\n\n— Salt job 42 (master)"
    assert entry["assigned_object_id"] == dev["id"]


def test_change_statuses_of_a_rack_in_four_requests(src):
    devs = [src.find("dcim.devices", name=f"srv-r2-0{i}") for i in range(1, 9)]
    before = src.counter.total
    out = ops.change_statuses(src, devs, "staged", "turn-up", jid="42", who="master")
    # one bulk PATCH, one listing to read the eight back, one bulk POST of the journal entries
    assert src.counter.total - before == 3
    for dev in devs:
        after, entry = out[dev["id"]]
        assert after == "staged" and src.get("dcim.devices", dev["id"])["status"]["value"] == after
        assert entry["assigned_object_id"] == dev["id"]
        assert entry["comments"].startswith("Status planned -> staged: turn-up")
        assert "Salt job 42 (master)" in entry["comments"]


def test_change_statuses_refused_in_bulk_changes_each_device_on_its_own(src, monkeypatch):
    devs = [src.find("dcim.devices", name=n) for n in ("srv-r2-01", "srv-r2-02")]

    def refuse(endpoint, items):
        raise NetBoxInvalidRequest("400 Bad Request: status: not a valid choice")

    monkeypatch.setattr(src, "bulk_update", refuse)
    out = ops.change_statuses(src, devs, "staged", jid="43")
    assert {after for after, _ in out.values()} == {"staged"}
    assert all(entry is not None for _, entry in out.values())
    assert ops.change_statuses(src, [], "staged") == {}


def test_describe():
    assert ops.describe("dcim.interfaces", {"name": "eno1", "device": {"name": "s1"}}) == "s1:eno1"
    assert ops.describe("ipam.ip-addresses", {"address": "10.0.0.1/24"}) == "10.0.0.1/24"
    assert ops.describe("dcim.cables", {"id": 4}) == "dcim.cables #4"


def test_a_key_that_is_not_a_field_is_refused_not_ignored(resolver, monkeypatch):
    # NetBox ignores unknown filters and would answer with every device
    with pytest.raises(ops.UnknownFilter, match="nmae: not a field of dcim.devices"):
        resolver.find_one("dcim.devices", {"nmae": "srv-r2-01"})
    # a snapshot source, like NetBox, ignores the unknown filter: the client-side check stops
    # a query that returns too many objects that do not match
    monkeypatch.setattr(ops, "MAX_MISSES", 3)
    with pytest.raises(ops.UnknownFilter, match="NetBox ignored part of the query"):
        resolver.find_all("dcim.interfaces", {"count_ipaddresses": 999})


def test_missing_references_are_not_in_netbox_errors(src, resolver):
    """States tell 'does not exist (yet)' from other bad input by this type."""
    with pytest.raises(ops.NotInNetBox, match="'R99' not found"):
        resolver.ref("dcim.racks", "R99")
    with pytest.raises(ops.NotInNetBox, match="interface 'ens9' not found on device"):
        ops.find_interface(src, "ens9", "srv-r2-01")
    with pytest.raises(ops.NotInNetBox, match="device 'ghost' not found"):
        ops.find_interface(src, "eno1", "ghost")
    with pytest.raises(ops.NotInNetBox, match="device 'ghost' not found"):
        ops.object_ref(src, "ghost")
    assert issubclass(ops.NotInNetBox, SaltInvocationError)


def test_a_new_assignment_names_the_old_interface(src):
    ip = src.list("ipam.ip-addresses", {"device": "srv-r1-01"})[0]
    old = ip["assigned_object"]
    other = ops.find_interface(src, "eno2", "srv-r2-01")
    res = ops.ensure(
        src,
        "ipam.ip-addresses",
        {"assigned_object_type": "dcim.interface", "assigned_object_id": other["id"]},
        lookup={"id": ip["id"]},
        test=True,
    )
    assert res["changes"]["assigned_object_id"] == {
        "old": f"{old['device']['name']}:{old['name']}",
        "new": other["id"],
    }
