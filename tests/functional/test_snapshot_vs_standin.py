"""
The snapshot source answers exactly like the API: the same filtered queries against
``SnapshotSource(lab1.json)`` and against ``NetBoxClient`` on the stand-in loaded with lab1 give
identical objects (URLs normalised to one host).
"""

import json
import multiprocessing
import os
import re
import stat

import pytest

from salt_ext.utils.netbox import (
    NetBoxClient,
    NetBoxConfigError,
    NetBoxError,
    NetBoxInvalidRequest,
    NetBoxNotFound,
    NetBoxPermissionDenied,
    NetBoxPreconditionFailed,
    NetBoxUnknownFilter,
    SnapshotSource,
    _common,
    get_source,
    load_config,
)
from tests.support.netbox_standin import NetBoxStandin
from tests.support.saltenv import LAB1_SNAPSHOT, NETBOX_TEST_TIMEOUT

# lab1 ids (kept by both sources): site LAB1 25, rack R2 44, device srv-r1-01 110
QUERIES = {
    "site": ("dcim.devices", {"site": "lab1"}, {}),
    "status-multi": ("dcim.devices", {"status": ["active", "planned"], "site_id": 25}, {}),
    "role": ("dcim.devices", {"role": "storage-server"}, {}),
    "rack_id": ("dcim.devices", {"rack_id": 44}, {}),
    "tag": ("dcim.racks", {"tag": "turnup-lab"}, {}),
    "cf-text": ("dcim.devices", {"cf_minion_id": "srv-r1-01.lab1.example.net"}, {}),
    "cf-boolean": ("dcim.racks", {"cf_auto_turnup": "true"}, {}),
    "name__ic": ("dcim.devices", {"name__ic": "R3"}, {}),
    "q": ("dcim.devices", {"q": "srv-r2"}, {}),
    "interfaces-by-device": ("dcim.interfaces", {"device_id": 110}, {}),
    "mgmt-interfaces": ("dcim.interfaces", {"site": "lab1", "mgmt_only": "true"}, {}),
    "ips-by-parent": ("ipam.ip-addresses", {"parent": "10.10.1.0/24"}, {}),
    "ordering": ("dcim.devices", {"site": "lab1", "ordering": "-name"}, {}),
    "brief": ("dcim.devices", {"site": "lab1"}, {"brief": True}),
    "fields": (
        "dcim.devices",
        {"site": "lab1"},
        {"fields": ["id", "name", "status", "primary_ip4"]},
    ),
    "exclude": ("dcim.devices", {"name": "srv-r1-01"}, {"exclude": ["config_context"]}),
    "has_primary_ip": ("dcim.devices", {"site": "lab1", "has_primary_ip": False}, {}),
    "macs-by-devices": ("dcim.mac-addresses", [("device_id", 110), ("device_id", 111)], {}),
    "cables-by-site": ("dcim.cables", {"site_id": 25}, {}),
    "prefixes-by-site": ("ipam.prefixes", {"site_id": 25, "ordering": "prefix"}, {}),
    # the filters the product's modules, states, runners and pillar use
    "serial": ("dcim.devices", {"serial": "LAB1R1S01"}, {}),
    "mac_address": ("dcim.mac-addresses", {"mac_address": "24:6e:96:01:11:01"}, {}),
    "ips-by-interface": ("ipam.ip-addresses", {"interface_id": 2059}, {}),
    "ips-by-device": ("ipam.ip-addresses", {"device_id": 110}, {}),
    "ip-by-address": ("ipam.ip-addresses", {"address": "10.10.1.11/24"}, {}),
    "assigned-ips-in-prefixes": (
        "ipam.ip-addresses",
        [("parent", "10.10.1.0/24"), ("parent", "10.20.0.0/24"), ("assigned", "true")],
        {},
    ),
    "racks-by-site_id": ("dcim.racks", {"site_id": 25}, {}),
    "vlans-by-site_id": ("ipam.vlans", {"site_id": 25}, {}),
    "device-types-by-id": ("dcim.device-types", {"id": [15, 16, 20]}, {}),
    "cables-by-device": ("dcim.cables", {"device_id": 110}, {}),
    "journal-by-object": (
        "extras.journal-entries",
        {"assigned_object_type": "dcim.device", "assigned_object_id": 110},
        {},
    ),
    "services-by-device": ("ipam.services", {"device_id": 110}, {}),
    "config-contexts": ("extras.config-contexts", None, {}),
    "interfaces-by-site-and-name": ("dcim.interfaces", {"site_id": 25, "name": "eno1"}, {}),
    "sites-by-id": ("dcim.sites", {"id": 25}, {}),
}


@pytest.fixture(scope="module")
def sources():
    standin = NetBoxStandin(snapshot="lab1")
    standin.start()
    client = NetBoxClient(
        load_config(
            {
                "netbox": {
                    "url": standin.url,
                    "token": standin.token_v1,
                    "timeout": NETBOX_TEST_TIMEOUT,
                }
            }
        )
    )
    snapshot = SnapshotSource(str(LAB1_SNAPSHOT))
    yield snapshot, client, standin.url
    standin.stop()


def _normalised(objects, url):
    text = json.dumps(objects, sort_keys=True)
    return json.loads(
        re.sub(
            re.escape(url), "http://netbox", text.replace("http://127.0.0.1:8001", "http://netbox")
        )
    )


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_snapshot_answers_like_the_api(sources, name):
    snapshot, client, url = sources
    endpoint, params, options = QUERIES[name]
    from_api = client.list(endpoint, params, page_size=20, **options)
    from_snapshot = snapshot.list(endpoint, params, **options)
    assert from_api, f"query {name} matches nothing: it would prove nothing"
    assert _normalised(from_snapshot, url) == _normalised(from_api, url)
    # and the natural order is the same
    assert [o["id"] for o in from_snapshot] == [o["id"] for o in from_api]


@pytest.mark.parametrize(
    "endpoint,key,params",
    [
        ("dcim.interfaces", "id", None),
        ("dcim.interfaces", "device_id", {"mgmt_only": "false"}),
        ("ipam.ip-addresses", "device_id", None),
        ("ipam.ip-addresses", "id", {"family": 4}),
    ],
)
def test_list_by_answers_and_counts_like_the_api(sources, endpoint, key, params):
    """Batched look-ups: the same objects in the same order, and the snapshot counts the
    requests the API needs (one per batch of values that keeps a URL under 4,000 characters)."""
    snapshot, client, url = sources
    of = endpoint if key == "id" else "dcim.devices"
    values = [o["id"] for o in client.list(of, fields=["id"])]
    if key == "id":  # unknown ids match nothing (an unknown device_id would be a 400)
        values += list(range(900000, 900700))
    client.counter.reset()
    snapshot.counter.reset()
    from_api = client.list_by(endpoint, key, values, params, page_size=200)
    from_snapshot = snapshot.list_by(endpoint, key, values, params, page_size=200)
    assert from_api
    assert _normalised(from_snapshot, url) == _normalised(from_api, url)
    batches = list(
        _common.batch_values(
            f"{snapshot.api_url}/{_common.endpoint_path(endpoint)}/",
            _common.build_query(params) + [("limit", "200")],
            key,
            _common.unique_values(values),
        )
    )
    assert len(batches) > 1 if key == "id" else len(batches) == 1
    assert snapshot.counter.count(endpoint, "GET") >= len(batches)
    assert snapshot.counter.count(endpoint, "GET") == snapshot.counter.pages
    # the API takes one request per batch and page: both sources within one batch boundary
    assert abs(snapshot.counter.count(endpoint, "GET") - client.counter.count(endpoint, "GET")) <= 1


def test_snapshot_pages_follow_the_configured_page_size():
    source = get_source({"netbox": {"snapshot": str(LAB1_SNAPSHOT), "page_size": 10}}, None)
    assert len(source.list("dcim.devices", {"site": "lab1"})) == 24
    assert source.counter.pages == 3  # 24 devices, 10 a page, as the API would serve them
    assert source.counter.count("dcim.devices", "GET") == 3


# -- writes to a snapshot file ------------------------------------------------------------------


def _tag_writer(path, prefix, count):
    source = SnapshotSource(path)
    for index in range(count):
        source.create("extras.tags", {"name": f"{prefix}-{index}", "slug": f"{prefix}-{index}"})


@pytest.fixture
def small_snapshot(tmp_path, lab1_snapshot):
    """A snapshot file with the lab's tags, site and its region/tenant only (fast to rewrite)."""
    keep = ("extras.tags", "tenancy.tenants", "dcim.regions", "dcim.sites")
    data = dict(lab1_snapshot, objects={ep: lab1_snapshot["objects"][ep] for ep in keep})
    path = tmp_path / "small.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_concurrent_writers_lose_no_update(small_snapshot):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_tag_writer, args=(small_snapshot, f"w{n}", 5)) for n in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
        assert proc.exitcode == 0
    slugs = {t["slug"] for t in SnapshotSource(small_snapshot).list("extras.tags")}
    assert {f"w{n}-{i}" for n in range(4) for i in range(5)} <= slugs
    leftovers = [p for p in os.listdir(os.path.dirname(small_snapshot)) if p.startswith(".snap")]
    assert not leftovers


def test_reads_reload_after_another_writer(small_snapshot):
    reader = SnapshotSource(small_snapshot)
    writer = SnapshotSource(small_snapshot)
    assert reader.find("extras.tags", slug="late") is None
    writer.create("extras.tags", {"name": "late", "slug": "late"})
    assert reader.find("extras.tags", slug="late")["name"] == "late"
    site = reader.find("dcim.sites", slug="lab1")
    writer.update("dcim.sites", site["id"], {"description": "changed elsewhere"})
    assert reader.get("dcim.sites", site["id"])["description"] == "changed elsewhere"


def test_refused_write_leaves_the_file_alone(small_snapshot):
    source = SnapshotSource(small_snapshot)
    before = open(small_snapshot, encoding="utf-8").read()
    with pytest.raises(NetBoxInvalidRequest) as exc:
        source.create("dcim.devices", {"name": "srv-x"})
    assert "site: This field is required." in str(exc.value)
    site = source.find("dcim.sites", slug="lab1")
    with pytest.raises(NetBoxPreconditionFailed):
        source.update("dcim.sites", site["id"], {"description": "x"}, if_match='W/"stale"')
    with pytest.raises(NetBoxNotFound):
        source.delete("extras.tags", 999999)
    assert open(small_snapshot, encoding="utf-8").read() == before
    assert source.get("dcim.sites", site["id"])["description"] == site["description"]


def test_snapshot_write_keeps_format_and_order(small_snapshot, lab1_snapshot):
    source = SnapshotSource(small_snapshot)
    tag = source.create("extras.tags", {"name": "fmt", "slug": "fmt"})
    data = json.loads(open(small_snapshot, encoding="utf-8").read())
    assert list(data["objects"]) == ["extras.tags", "tenancy.tenants", "dcim.regions", "dcim.sites"]
    assert data["notes"] == lab1_snapshot["notes"]
    assert data["netbox_version"] == "4.6.8"
    assert tag["id"] in {t["id"] for t in data["objects"]["extras.tags"]}
    source.delete("extras.tags", tag["id"])
    assert source.find("extras.tags", slug="fmt") is None


def test_snapshot_status_and_get_source(small_snapshot):
    context = {}
    source = get_source({"netbox": {"snapshot": small_snapshot}}, context)
    assert isinstance(source, SnapshotSource)
    assert get_source({"netbox": {"snapshot": small_snapshot}}, context) is source
    status = source.status()
    assert status["kind"] == "snapshot"
    assert status["source"] == small_snapshot
    assert status["netbox_version"] == "4.6.8"
    source.counter.reset()
    source.list("extras.tags")
    assert source.counter.count("extras.tags", "GET") == 1


def test_snapshot_allocates_ips(tmp_path):
    path = tmp_path / "lab.json"
    path.write_text(LAB1_SNAPSHOT.read_text())
    source = SnapshotSource(str(path))
    prefix = source.find("ipam.prefixes", prefix="10.10.2.0/24", vrf_id=None)
    free = source.available_ips(prefix["id"], count=2)
    ip = source.allocate_ip(prefix["id"], {"status": "reserved"})
    assert ip["address"] == free[0]["address"]
    again = SnapshotSource(str(path))
    assert again.find("ipam.ip-addresses", address=ip["address"])["status"]["value"] == "reserved"


def test_write_failure_is_a_clear_error(small_snapshot):
    os.mkdir(small_snapshot + ".lock")  # the lock cannot be created (as for a read-only dir)
    source = SnapshotSource(small_snapshot)
    assert source.find("dcim.sites", slug="lab1")  # reads need no write access
    with pytest.raises(NetBoxError, match="needs write access"):
        source.create("extras.tags", {"name": "ro", "slug": "ro"})
    assert source.find("extras.tags", slug="ro") is None


def test_write_keeps_the_file_permissions(small_snapshot):
    os.chmod(small_snapshot, 0o644)  # e.g. readable by minions running as another user
    source = SnapshotSource(small_snapshot)
    source.create("extras.tags", {"name": "perm", "slug": "perm"})
    assert stat.S_IMODE(os.stat(small_snapshot).st_mode) == 0o644
    assert SnapshotSource(small_snapshot).find("extras.tags", slug="perm")


def test_read_only_snapshot_refuses_writes_even_for_root(small_snapshot):
    """A snapshot without write bits is a reference data set: writes are refused (root's atomic
    replace would otherwise ignore the mode), the file is untouched, reads still work."""
    os.chmod(small_snapshot, 0o444)
    before = open(small_snapshot, encoding="utf-8").read()
    source = SnapshotSource(small_snapshot)
    with pytest.raises(NetBoxPermissionDenied, match="read-only .*chmod u\\+w"):
        source.create("extras.tags", {"name": "ro", "slug": "ro"})
    assert open(small_snapshot, encoding="utf-8").read() == before
    assert source.find("extras.tags", slug="ro") is None
    assert source.find("dcim.sites", slug="lab1")["name"]


def test_available_ips_refuses_a_bad_prefix_id(small_snapshot):
    source = SnapshotSource(small_snapshot)
    with pytest.raises(NetBoxConfigError, match="positive integer"):
        source.available_ips("9/../../dcim/devices")
    with pytest.raises(NetBoxConfigError, match="positive integer"):
        source.allocate_ip("x", {"status": "active"})


def test_a_write_that_cannot_be_saved_is_not_served(small_snapshot, monkeypatch):
    """Disk full while replacing the file: the error says so and later reads never show the
    change that was not saved."""
    source = SnapshotSource(small_snapshot)
    assert source.find("extras.tags", slug="lost") is None

    def disk_full(path, data, mode=0o640):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_common, "write_json_atomic", disk_full)
    with pytest.raises(NetBoxError, match="No space left on device"):
        source.create("extras.tags", {"name": "lost", "slug": "lost"})
    monkeypatch.undo()
    assert source.find("extras.tags", slug="lost") is None
    assert SnapshotSource(small_snapshot).find("extras.tags", slug="lost") is None
    # and the next write starts from the file, not from the lost change
    source.create("extras.tags", {"name": "kept", "slug": "kept"})
    assert {t["slug"] for t in SnapshotSource(small_snapshot).list("extras.tags")} >= {"kept"}
    assert source.find("extras.tags", slug="lost") is None


@pytest.mark.parametrize(
    "call",
    [
        lambda src: src.list("dcim.devices", {"sitee": "lab1"}),
        lambda src: src.list("ipam.ip-addresses", {"site": "lab1"}),
        lambda src: src.list_by("dcim.interfaces", "devce_id", [110, 111]),
        lambda src: src.list_by("dcim.interfaces", "device_id", [110], {"name__icontains": "e"}),
    ],
    ids=["typo", "not-a-filter-of-ips", "list_by-key", "django-lookup"],
)
def test_a_filter_netbox_would_ignore_is_refused_by_both_sources(sources, call):
    """NetBox answers a query with an unknown filter as if the filter were absent (every object):
    both sources refuse it before any request."""
    snapshot, client, _ = sources
    for src in (client, snapshot):
        src.counter.reset()
        with pytest.raises(NetBoxUnknownFilter, match="NetBox would silently ignore it"):
            call(src)
        assert src.counter.total == 0
