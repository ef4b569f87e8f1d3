"""Unit tests: query parameters, id batching, natural-key allow-lists, counter naming."""

import json
from urllib.parse import urlencode

import pytest

from salt_ext.utils.netbox import _common
from salt_ext.utils.netbox.client import one_match
from salt_ext.utils.netbox.errors import NetBoxAmbiguous, NetBoxConfigError, NetBoxUnknownFilter
from tests.support.saltenv import SHARED_FIXTURES, SHARED_MISSING_REASON

BASE = "http://127.0.0.1:8001/api/dcim/interfaces/"


def _urls(pairs, key, values):
    for batch in _common.batch_values(BASE, pairs, key, values):
        yield batch, BASE + "?" + urlencode(pairs + [(key, v) for v in batch])


def test_batches_keep_urls_under_4000_and_cover_all_values():
    values = [str(100000 + i) for i in range(3000)]
    pairs = [("limit", "1000"), ("brief", "true")]
    seen = []
    batches = 0
    for batch, url in _urls(pairs, "device_id", values):
        batches += 1
        # room for the offset NetBox appends to next links
        assert len(url + "&offset=123456") < _common.MAX_URL_LENGTH
        seen.extend(batch)
    assert seen == values
    assert batches > 1
    # and they are reasonably full (not one value per request)
    assert batches <= 3000 * len("&device_id=100000") // 3500 + 2


def test_batch_long_values_are_escaped_in_length():
    values = [f"name with spaces/{i}" for i in range(400)]
    for _, url in _urls([], "name", values):
        assert len(url) < _common.MAX_URL_LENGTH


def test_batch_single_batch_when_small():
    assert list(_common.batch_values(BASE, [], "id", ["1", "2"])) == [["1", "2"]]


def test_batch_filters_too_long():
    with pytest.raises(NetBoxConfigError, match="under 4000"):
        list(_common.batch_values(BASE, [("q", "x" * 5000)], "id", ["1"]))


def test_unique_values_dedupes_and_stringifies():
    assert _common.unique_values([3, "3", 4, None, 3]) == ["3", "4"]


@pytest.mark.parametrize(
    "params,expected",
    [
        (
            {"site": "lab1", "status": ["active", "planned"]},
            [("site", "lab1"), ("status", "active"), ("status", "planned")],
        ),
        ([("tag", "a"), ("tag", "b")], [("tag", "a"), ("tag", "b")]),
        (
            {"tenant_id": None, "has_primary_ip": False},
            [("tenant_id", "null"), ("has_primary_ip", "false")],
        ),
        (None, []),
    ],
)
def test_normalize_params(params, expected):
    assert _common.normalize_params(params) == expected


def test_build_query_brief_fields_exclude():
    pairs = _common.build_query(
        {"site": "lab1"}, fields=["id", "name"], brief=True, exclude="config_context"
    )
    assert pairs == [
        ("site", "lab1"),
        ("brief", "true"),
        ("fields", "id,name"),
        ("exclude", "config_context"),
    ]


@pytest.mark.parametrize("key", ["limit", "offset", "start"])
def test_build_query_refuses_paging_params(key):
    with pytest.raises(NetBoxConfigError, match="page_size"):
        _common.build_query({key: 0})


@pytest.mark.parametrize("size", [0, 1001, "10", True])
def test_page_size_checked(size):
    with pytest.raises(NetBoxConfigError, match="MAX_PAGE_SIZE"):
        _common.check_page_size(size, 1000)


@pytest.mark.parametrize(
    "bad", ["devices", "dcim/devices", "dcim.devices/", "", None, "DCIM.devices"]
)
def test_endpoint_names(bad):
    with pytest.raises(NetBoxConfigError, match="app.endpoint-name"):
        _common.check_endpoint(bad)


def test_endpoint_path():
    assert _common.endpoint_path("ipam.ip-addresses") == "ipam/ip-addresses"


@pytest.mark.parametrize(
    "endpoint,keys,pairs",
    [
        (
            "dcim.devices",
            {"name": "srv-r1-01", "site": "lab1"},
            [("name", "srv-r1-01"), ("site", "lab1")],
        ),
        (
            "dcim.devices",
            {"name": "x", "site_id": 25, "tenant": None},
            [("name", "x"), ("site_id", "25"), ("tenant_id", "null")],
        ),
        (
            "dcim.interfaces",
            {"device_id": 7, "name": "eth0"},
            [("device_id", "7"), ("name", "eth0")],
        ),
        (
            "ipam.ip-addresses",
            {"address": "10.0.0.1/24", "vrf_id": None},
            [("address", "10.0.0.1/24"), ("vrf_id", "null")],
        ),
        (
            "dcim.mac-addresses",
            {"mac_address": "00:11:22:33:44:55", "assigned_object_id": 3},
            [("assigned_object_id", "3"), ("mac_address", "00:11:22:33:44:55")],
        ),
        ("dcim.cables", {"interface_id": 12}, [("interface_id", "12")]),
        ("dcim.racks", {"site": "lab1", "name": "R1"}, [("name", "R1"), ("site", "lab1")]),
        ("ipam.prefixes", {"prefix": "10.0.0.0/24"}, [("prefix", "10.0.0.0/24")]),
        ("ipam.vlans", {"vid": 100, "group_id": 9}, [("group_id", "9"), ("vid", "100")]),
        ("extras.tags", {"slug": "turnup-lab"}, [("slug", "turnup-lab")]),
        # "unset" is spelled the way NetBox filters it, never as an ignored <key>_id filter
        ("ipam.vrfs", {"name": "mgmt", "rd": None}, [("name", "mgmt"), ("rd__empty", "true")]),
        (
            "ipam.prefixes",
            {"prefix": "10.0.0.0/24", "vrf": None},
            [("prefix", "10.0.0.0/24"), ("vrf_id", "null")],
        ),
        (
            "ipam.vlans",
            {"vid": 100, "site": "lab1", "group": None},
            [("group_id", "null"), ("site", "lab1"), ("vid", "100")],
        ),
        (
            "dcim.cables",
            {"interface_id": 12, "label": None},
            [("interface_id", "12"), ("label__empty", "true")],
        ),
    ],
)
def test_natural_keys_allowed(endpoint, keys, pairs):
    assert _common.natural_key_params(endpoint, keys) == pairs


@pytest.mark.parametrize(
    "endpoint,keys,message",
    [
        ("dcim.devices", {"name": "x", "sitee": "lab1"}, "does not accept sitee"),
        ("dcim.devices", {"site": "lab1"}, "needs name"),
        ("dcim.interfaces", {"name": "eth0"}, "needs device or device_id"),
        ("dcim.racks", {"name": "R1"}, "needs site or site_id"),
        ("ipam.vlans", {"vid": 1}, "needs site or site_id or group or group_id"),
        ("dcim.devices", {}, "needs natural keys"),
        ("dcim.consoles", {"name": "x"}, "no natural keys for dcim.consoles"),
        ("dcim.devices", {"name": ["a", "b"]}, "single value"),
        ("ipam.services", {"name": "ssh", "device_id": 1, "protocol": None}, "cannot be None"),
        (
            "dcim.mac-addresses",
            {"mac_address": "00:11:22:33:44:55", "assigned_object_type": None},
            "cannot be None",
        ),
    ],
)
def test_natural_keys_refused(endpoint, keys, message):
    with pytest.raises(NetBoxConfigError, match=message) as exc:
        _common.natural_key_params(endpoint, keys)
    if "does not accept" in message:
        assert "allowed keys: name, rack_id, site, site_id, tenant, tenant_id" in str(exc.value)


def test_one_match():
    assert one_match("dcim.devices", {"name": "a"}, [], 0) is None
    assert one_match("dcim.devices", {"name": "a"}, [{"id": 1}], 1) == {"id": 1}
    with pytest.raises(NetBoxAmbiguous) as exc:
        one_match("dcim.devices", {"name": "a"}, [{"id": 1}, {"id": 2}], 2)
    assert exc.value.matches == [{"id": 1}, {"id": 2}]
    assert "2 dcim.devices objects match name='a'" in str(exc.value)


def test_dedupe_by_id():
    assert _common.dedupe_by_id([{"id": 1}, {"id": 2}, {"id": 1, "x": 1}]) == [{"id": 1}, {"id": 2}]


@pytest.fixture(scope="module")
def schema_filters():
    """Filter names per endpoint of NetBox 4.6.8's OpenAPI schema (read from ../shared)."""
    if SHARED_FIXTURES is None:
        pytest.skip(SHARED_MISSING_REASON)
    with open(SHARED_FIXTURES / "netbox" / "openapi-4.6.8.json", encoding="utf-8") as fh:
        paths = json.load(fh)["paths"]
    filters = {}
    for endpoint in _common.NATURAL_KEYS:
        operation = paths[f"/api/{_common.endpoint_path(endpoint)}/"]["get"]
        filters[endpoint] = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
    return filters


@pytest.mark.parametrize("endpoint", sorted(_common.NATURAL_KEYS))
def test_natural_key_filters_exist_in_netbox(schema_filters, endpoint):
    """NetBox silently ignores an unknown filter: every query find() builds, with a value or
    with None ("unset"), must use filters NetBox 4.6.8 defines for the endpoint."""
    allowed, _ = _common.NATURAL_KEYS[endpoint]
    known = schema_filters[endpoint]
    for key in sorted(allowed):
        assert key in known, f"{endpoint}: {key} is not a NetBox filter"
        try:
            name, value = _common._null_pair(endpoint, key)  # pylint: disable=protected-access
        except NetBoxConfigError as err:
            assert "cannot be None" in str(err)
            continue
        assert name in known, f"{endpoint}: {key}=None would send {name}={value}, not a filter"


@pytest.mark.parametrize(
    "endpoint,names",
    [
        ("dcim.devices", ["site", "status", "name__ic", "id__n", "cf_minion_id", "q", "tag"]),
        ("dcim.devices", ["ordering", "brief", "fields", "exclude", "cf_anything__ic"]),
        ("ipam.ip-addresses", ["parent", "assigned", "vrf_id", "address", "family"]),
        ("dcim.interfaces", ["device_id", "mgmt_only", "cabled", "kind"]),
        ("plugins.unknown-thing", ["whatever"]),  # no schema for it: not checked
    ],
)
def test_known_filters_pass(endpoint, names):
    _common.check_filters(endpoint, names)


@pytest.mark.parametrize(
    "endpoint,names,unknown",
    [
        ("dcim.devices", ["site", "sitee"], ["sitee"]),
        ("dcim.devices", ["name__icontains"], ["name__icontains"]),  # Django's, not NetBox's
        ("ipam.ip-addresses", ["site"], ["site"]),  # IPs have no site filter in NetBox 4.6
        ("dcim.interfaces", ["count_ipaddresses", "device_id"], ["count_ipaddresses"]),
    ],
)
def test_unknown_filters_are_refused(endpoint, names, unknown):
    with pytest.raises(NetBoxUnknownFilter, match="NetBox would silently ignore it") as exc:
        _common.check_filters(endpoint, names)
    assert exc.value.filters == unknown
    assert isinstance(exc.value, NetBoxConfigError)
    # as a filter of a list and as the batched key of a list_by
    with pytest.raises(NetBoxUnknownFilter):
        _common.build_query({unknown[0]: "x"}, endpoint=endpoint)
    with pytest.raises(NetBoxUnknownFilter):
        _common.build_query(None, endpoint=endpoint, key=unknown[0])
