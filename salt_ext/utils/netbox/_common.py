"""
Helpers shared by the API client and the snapshot source: endpoint names, query parameters,
natural-key allow-lists and id batching. Private: import from ``client``/``snapshot``.
"""

import json
import os
import re
import stat
import tempfile
from urllib.parse import quote

from salt_ext.utils.netbox.errors import NetBoxConfigError, NetBoxUnknownFilter

ENDPOINT_RE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z0-9][a-z0-9-]*$")
#: NetBox's default MAX_PAGE_SIZE: a larger limit is silently capped, limit=0 is NOT "all"
MAX_PAGE_SIZE = 1000
#: every URL we build stays strictly below this many characters
MAX_URL_LENGTH = 4000
#: room kept for "&offset=NNNNNN" that NetBox adds to ``next`` links
_NEXT_LINK_MARGIN = 40

#: Natural keys per endpoint: (allowed keys, required groups). Each required group is a tuple of
#: alternatives of which at least one must be given. NetBox silently ignores unknown filters, so
#: a typo would match everything: only these keys are accepted by ``find()``.
NATURAL_KEYS = {
    "dcim.devices": (
        {"name", "site", "site_id", "tenant", "tenant_id", "rack_id"},
        [("name",)],
    ),
    "dcim.interfaces": ({"device", "device_id", "name"}, [("device", "device_id"), ("name",)]),
    "dcim.interface-templates": (
        {"device_type_id", "name"},
        [("device_type_id",), ("name",)],
    ),
    "ipam.ip-addresses": ({"address", "vrf_id", "vrf"}, [("address",)]),
    "dcim.mac-addresses": (
        {"mac_address", "assigned_object_id", "assigned_object_type", "interface_id", "device_id"},
        [("mac_address",)],
    ),
    "dcim.cables": (
        {
            "termination_a_type",
            "termination_a_id",
            "termination_b_type",
            "termination_b_id",
            "interface_id",
            "label",
        },
        [("termination_a_id", "termination_b_id", "interface_id", "label")],
    ),
    "dcim.racks": ({"site", "site_id", "name", "location_id"}, [("site", "site_id"), ("name",)]),
    "ipam.prefixes": ({"prefix", "vrf_id", "vrf"}, [("prefix",)]),
    "ipam.vlans": (
        {"vid", "site", "site_id", "group", "group_id", "name"},
        [("vid", "name"), ("site", "site_id", "group", "group_id")],
    ),
    "ipam.vlan-groups": ({"slug", "name"}, [("slug", "name")]),
    "ipam.vrfs": ({"name", "rd"}, [("name", "rd")]),
    "ipam.services": (
        {"name", "device_id", "parent_object_type", "parent_object_id", "protocol", "port"},
        [("name",), ("device_id", "parent_object_id")],
    ),
    "extras.tags": ({"slug", "name"}, [("slug", "name")]),
    "extras.custom-fields": ({"name"}, [("name",)]),
    "extras.config-contexts": ({"name"}, [("name",)]),
    "extras.journal-entries": (
        {"assigned_object_type", "assigned_object_id", "kind"},
        [("assigned_object_id",)],
    ),
    "dcim.sites": ({"slug", "name"}, [("slug", "name")]),
    "dcim.regions": ({"slug", "name"}, [("slug", "name")]),
    "dcim.site-groups": ({"slug", "name"}, [("slug", "name")]),
    "dcim.locations": ({"slug", "name", "site", "site_id"}, [("slug", "name")]),
    "dcim.manufacturers": ({"slug", "name"}, [("slug", "name")]),
    "dcim.device-roles": ({"slug", "name"}, [("slug", "name")]),
    "dcim.platforms": ({"slug", "name"}, [("slug", "name")]),
    "dcim.device-types": (
        {"slug", "model", "manufacturer", "manufacturer_id"},
        [("slug", "model")],
    ),
    "tenancy.tenants": ({"slug", "name"}, [("slug", "name")]),
    "tenancy.tenant-groups": ({"slug", "name"}, [("slug", "name")]),
}

#: natural keys naming another object: ``None`` ("no tenant", "global VRF") is ``<key>_id=null``
NULLABLE_REFERENCES = frozenset(("site", "tenant", "vrf", "group", "device", "manufacturer"))
#: optional text natural keys: ``None`` (unset or blank) is ``<key>__empty=true``
NULLABLE_TEXT = frozenset(("rd", "label"))

#: the order in which a snapshot lists its endpoints (every reference points backwards, except
#: the circular ones that ``seed`` writes afterwards)
DEPENDENCY_ORDER = (
    "extras.tags",
    "extras.custom-fields",
    "tenancy.tenant-groups",
    "tenancy.tenants",
    "dcim.regions",
    "dcim.site-groups",
    "dcim.sites",
    "dcim.locations",
    "dcim.manufacturers",
    "dcim.device-roles",
    "dcim.platforms",
    "dcim.device-types",
    "dcim.interface-templates",
    "dcim.racks",
    "ipam.vrfs",
    "ipam.vlan-groups",
    "ipam.vlans",
    "ipam.prefixes",
    "dcim.devices",
    "dcim.interfaces",
    "dcim.mac-addresses",
    "dcim.cables",
    "dcim.inventory-items",
    "virtualization.virtual-machines",
    "virtualization.interfaces",
    "ipam.ip-addresses",
    "ipam.services",
    "extras.config-contexts",
    "extras.journal-entries",
)


def order_objects(objects, preferred=()):
    """
    ``objects`` (endpoint -> list) reordered: endpoints of ``preferred`` first in that order,
    then :data:`DEPENDENCY_ORDER`, then any other endpoint in its current order.
    """
    rank = {}
    for endpoint in list(preferred) + list(DEPENDENCY_ORDER):
        rank.setdefault(endpoint, len(rank))
    keys = sorted(objects, key=lambda ep: (rank.get(ep, len(rank)), list(objects).index(ep)))
    return {ep: objects[ep] for ep in keys}


def check_endpoint(endpoint):
    """Validate an endpoint name (``app.endpoint-name``) and return it."""
    if not isinstance(endpoint, str) or not ENDPOINT_RE.match(endpoint):
        raise NetBoxConfigError(
            f"endpoint must be named app.endpoint-name like 'dcim.devices' or "
            f"'ipam.ip-addresses' (got {endpoint!r})"
        )
    return endpoint


def endpoint_path(endpoint):
    """``dcim.devices`` -> ``dcim/devices``."""
    return check_endpoint(endpoint).replace(".", "/", 1)


def check_ident(ident):
    """Validate an object id (positive integer, or its string) and return it as ``int``."""
    if isinstance(ident, bool) or not isinstance(ident, (int, str)) or not str(ident).isdigit():
        raise NetBoxConfigError(f"object id must be a positive integer (got {ident!r})")
    return int(ident)


def _text(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def normalize_params(params):
    """
    Turn ``params`` (a dict whose values may be lists -> repeated keys, or a list of ``(k, v)``
    pairs) into a list of ``(str, str)`` pairs. ``None`` -> ``"null"``, booleans -> ``true/false``.
    """
    if params is None:
        return []
    if isinstance(params, dict):
        items = list(params.items())
    elif isinstance(params, (list, tuple)):
        items = []
        for item in params:
            if not isinstance(item, (list, tuple)) or len(item) != 2:
                raise NetBoxConfigError(
                    f"params must be a dict or a list of (key, value) pairs (got item {item!r})"
                )
            items.append((item[0], item[1]))
    else:
        raise NetBoxConfigError(
            f"params must be a dict or a list of (key, value) pairs (got {type(params).__name__})"
        )
    pairs = []
    for key, value in items:
        if not isinstance(key, str) or not key:
            raise NetBoxConfigError(f"filter names must be non-empty strings (got {key!r})")
        if isinstance(value, (list, tuple, set, frozenset)):
            pairs.extend((key, _text(v)) for v in value)
        else:
            pairs.append((key, _text(value)))
    return pairs


def build_query(params, *, fields=None, brief=False, exclude=None, endpoint=None, key=None):
    """
    Build the query pairs of a list request: filters plus ``brief``/``fields``/``exclude``.
    ``limit``/``offset``/``start`` are refused: lists always return every page. With
    ``endpoint``, the filter names (and ``list_by``'s ``key``) are checked with
    :func:`check_filters`.
    """
    pairs = normalize_params(params)
    for name, _ in pairs:
        if name in ("limit", "offset", "start"):
            raise NetBoxConfigError(
                f"'{name}' is not a filter: list() always returns every page; pass page_size= "
                "to choose the page size"
            )
    if endpoint is not None:
        check_filters(endpoint, [name for name, _ in pairs] + ([key] if key else []))
    if brief:
        pairs.append(("brief", "true"))
    if fields:
        if isinstance(fields, str):
            fields = [f.strip() for f in fields.split(",") if f.strip()]
        pairs.append(("fields", ",".join(fields)))
    if exclude:
        if isinstance(exclude, str):
            exclude = [e.strip() for e in exclude.split(",") if e.strip()]
        pairs.append(("exclude", ",".join(exclude)))
    return pairs


#: query parameters of every list view that are not filters of the filterset
_LIST_PARAMS = frozenset(("ordering", "brief", "fields", "exclude", "omit"))


def _filterset(endpoint):
    """``{filter: "lookup lookup ..."}`` of ``endpoint`` from NetBox's OpenAPI schema (the
    metadata generated from it), or ``None`` for an endpoint it does not describe."""
    try:
        from salt_ext.utils.netbox.model.schema_meta import ENDPOINTS  # noqa: PLC0415
    except ImportError:  # pragma: no cover - the metadata ships with the package
        return None
    return (ENDPOINTS.get(endpoint) or {}).get("filters")


def check_filters(endpoint, names):
    """
    Refuse filter ``names`` that ``endpoint`` does not have. NetBox silently ignores an unknown
    filter, so a typo (``sitee=lab1``, ``name__icontains=``) would return every object; this
    raises :class:`NetBoxConfigError` before any request instead. Custom-field filters
    (``cf_<name>``) and endpoints without known filters are not checked.
    """
    filters = _filterset(endpoint)
    if not filters:
        return
    unknown = []
    for name in names:
        if name in _LIST_PARAMS or name.startswith("cf_"):
            continue
        base, _, lookup = name.partition("__")
        lookups = filters.get(base)
        if lookups is None or (lookup and lookup not in lookups.split()):
            unknown.append(name)
    if unknown:
        unknown = sorted(set(unknown))
        raise NetBoxUnknownFilter(
            f"{endpoint} has no filter {', '.join(unknown)}: NetBox would silently ignore it "
            "and return every object. Check the spelling against the filters of "
            f"/api/{endpoint_path(endpoint)}/ in NetBox's API documentation (/api/docs/)",
            endpoint=endpoint,
            filters=unknown,
        )


def check_page_size(page_size, default):
    """Validate a page size (1..1000)."""
    if page_size is None:
        return default
    if (
        isinstance(page_size, bool)
        or not isinstance(page_size, int)
        or not (1 <= page_size <= MAX_PAGE_SIZE)
    ):
        raise NetBoxConfigError(
            f"page_size must be an integer between 1 and {MAX_PAGE_SIZE} (NetBox caps pages at "
            f"MAX_PAGE_SIZE; limit=0 does not mean 'all'); got {page_size!r}"
        )
    return page_size


def _encoded_len(key, value):
    return len(quote(str(key), safe="")) + 1 + len(quote(str(value), safe=""))


def unique_values(values):
    """Deduplicate ``values`` (as strings), keeping order, dropping ``None``."""
    seen = set()
    out = []
    for value in values or ():
        if value is None:
            continue
        text = _text(value)
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def batch_values(base_url, pairs, key, values, max_length=MAX_URL_LENGTH):
    """
    Split ``values`` of filter ``key`` into batches so that
    ``base_url?<pairs>&key=v1&key=v2...`` stays below ``max_length`` characters, including room
    for the ``offset`` NetBox adds to ``next`` links. Yields lists of values.
    """
    base = len(base_url) + 1 + sum(_encoded_len(k, v) + 1 for k, v in pairs)
    budget = max_length - 1 - _NEXT_LINK_MARGIN
    if base >= budget:
        raise NetBoxConfigError(
            f"the filters alone make a URL of {base} characters; NetBox URLs must stay under "
            f"{max_length}: move long filters into list_by()"
        )
    batch = []
    length = base
    for value in values:
        extra = _encoded_len(key, value) + 1
        if base + extra > budget:
            raise NetBoxConfigError(
                f"a single {key} value is too long for a URL ({extra} characters)"
            )
        if batch and length + extra > budget:
            yield batch
            batch = []
            length = base
        batch.append(value)
        length += extra
    if batch:
        yield batch


def natural_key_params(endpoint, keys):
    """
    Check ``keys`` against the natural-key allow-list of ``endpoint`` and return the query pairs.
    Unknown endpoints or keys raise :class:`NetBoxConfigError` naming the allowed keys.
    """
    check_endpoint(endpoint)
    if endpoint not in NATURAL_KEYS:
        raise NetBoxConfigError(
            f"find() has no natural keys for {endpoint}; use get() by id or list() with "
            f"filters (endpoints with natural keys: {', '.join(sorted(NATURAL_KEYS))})"
        )
    allowed, required = NATURAL_KEYS[endpoint]
    if not keys:
        raise NetBoxConfigError(
            f"find({endpoint}) needs natural keys; allowed: {', '.join(sorted(allowed))}"
        )
    unknown = sorted(set(keys) - allowed)
    if unknown:
        raise NetBoxConfigError(
            f"find({endpoint}) does not accept {', '.join(unknown)} (NetBox would silently "
            f"ignore an unknown filter); allowed keys: {', '.join(sorted(allowed))}"
        )
    for group in required:
        if not any(keys.get(k) is not None for k in group):
            raise NetBoxConfigError(
                f"find({endpoint}) needs {' or '.join(group)}; allowed keys: "
                f"{', '.join(sorted(allowed))}"
            )
    pairs = []
    for key in sorted(keys):
        value = keys[key]
        if isinstance(value, (list, tuple, set, dict)):
            raise NetBoxConfigError(
                f"find({endpoint}) key {key} must be a single value (got {value!r})"
            )
        pairs.append(_null_pair(endpoint, key) if value is None else (key, _text(value)))
    return pairs


def _null_pair(endpoint, key):
    """
    The filter matching "``key`` is not set". NetBox spells it ``<reference>_id=null`` ("no
    tenant", "global VRF") and ``<text>__empty=true``; any other spelling (``rd_id=null``) would
    be an unknown filter that NetBox silently ignores.
    """
    if key.endswith("_id"):
        return (key, "null")
    if key in NULLABLE_REFERENCES:
        return (f"{key}_id", "null")
    if key in NULLABLE_TEXT:
        return (f"{key}__empty", "true")
    raise NetBoxConfigError(
        f"find({endpoint}) key {key} cannot be None: NetBox has no filter for an unset {key}; "
        "give a value or leave the key out"
    )


def dedupe_by_id(objects):
    """Drop repeated objects (same ``id``), keeping the first."""
    seen = set()
    out = []
    for obj in objects:
        ident = obj.get("id") if isinstance(obj, dict) else None
        if ident is not None:
            if ident in seen:
                continue
            seen.add(ident)
        out.append(obj)
    return out


def write_json_atomic(path, data, mode=0o640):
    """
    Write ``data`` as JSON to ``path`` atomically: a temporary file in the same directory,
    flushed to disk, then ``os.replace``d over ``path`` (readers never see a partial file).
    A file that exists keeps its permissions (other readers, such as minions running as
    another user, keep their access); a new file gets ``mode``.
    """
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise NetBoxConfigError(
            f"cannot write {path!r}: directory {directory!r} does not exist; create it first"
        )
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(prefix=".snapshot-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
