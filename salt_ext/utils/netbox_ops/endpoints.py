"""
Endpoint knowledge used by the NetBox execution/state modules: endpoint names, content types,
which writable fields are references to other objects, and natural keys.

Everything here is pure data and pure functions (no I/O), so it is unit tested directly.
Endpoints are named ``app.endpoint-name`` (``dcim.devices``, ``ipam.ip-addresses``) as in the
access layer (``salt_ext.utils.netbox``).
"""

import difflib
import re

from salt.exceptions import SaltInvocationError

_ENDPOINT_RE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_-]*$")

# endpoint -> content type (``assigned_object_type``, journal entries, cable terminations)
_CONTENT_TYPES = {
    "circuits.circuit-terminations": "circuits.circuittermination",
    "circuits.circuit-types": "circuits.circuittype",
    "circuits.circuits": "circuits.circuit",
    "circuits.providers": "circuits.provider",
    "dcim.cables": "dcim.cable",
    "dcim.console-ports": "dcim.consoleport",
    "dcim.console-server-ports": "dcim.consoleserverport",
    "dcim.device-roles": "dcim.devicerole",
    "dcim.device-types": "dcim.devicetype",
    "dcim.devices": "dcim.device",
    "dcim.front-ports": "dcim.frontport",
    "dcim.interfaces": "dcim.interface",
    "dcim.inventory-items": "dcim.inventoryitem",
    "dcim.locations": "dcim.location",
    "dcim.mac-addresses": "dcim.macaddress",
    "dcim.manufacturers": "dcim.manufacturer",
    "dcim.platforms": "dcim.platform",
    "dcim.power-feeds": "dcim.powerfeed",
    "dcim.power-outlets": "dcim.poweroutlet",
    "dcim.power-ports": "dcim.powerport",
    "dcim.racks": "dcim.rack",
    "dcim.rear-ports": "dcim.rearport",
    "dcim.regions": "dcim.region",
    "dcim.sites": "dcim.site",
    "extras.journal-entries": "extras.journalentry",
    "extras.tags": "extras.tag",
    "ipam.ip-addresses": "ipam.ipaddress",
    "ipam.prefixes": "ipam.prefix",
    "ipam.vlan-groups": "ipam.vlangroup",
    "ipam.vlans": "ipam.vlan",
    "ipam.vrfs": "ipam.vrf",
    "tenancy.tenants": "tenancy.tenant",
    "virtualization.clusters": "virtualization.cluster",
    "virtualization.interfaces": "virtualization.vminterface",
    "virtualization.virtual-machines": "virtualization.virtualmachine",
    "wireless.wireless-lans": "wireless.wirelesslan",
    "wireless.wireless-links": "wireless.wirelesslink",
}
_ENDPOINTS_BY_TYPE = {ct: ep for ep, ct in _CONTENT_TYPES.items()}

# Writable reference fields: endpoint -> {field: referenced endpoint}. A list value means a
# many-to-many field (list of ids). Fields not listed fall back to the URL of the current value.
REFERENCES = {
    "dcim.devices": {
        "site": "dcim.sites",
        "location": "dcim.locations",
        "rack": "dcim.racks",
        "device_type": "dcim.device-types",
        "role": "dcim.device-roles",
        "tenant": "tenancy.tenants",
        "platform": "dcim.platforms",
        "primary_ip4": "ipam.ip-addresses",
        "primary_ip6": "ipam.ip-addresses",
        "oob_ip": "ipam.ip-addresses",
        "cluster": "virtualization.clusters",
        "config_template": "extras.config-templates",
    },
    "dcim.interfaces": {
        "device": "dcim.devices",
        "lag": "dcim.interfaces",
        "parent": "dcim.interfaces",
        "bridge": "dcim.interfaces",
        "primary_mac_address": "dcim.mac-addresses",
        "untagged_vlan": "ipam.vlans",
        "tagged_vlans": ["ipam.vlans"],
        "vrf": "ipam.vrfs",
    },
    "dcim.inventory-items": {
        "device": "dcim.devices",
        "parent": "dcim.inventory-items",
        "role": "dcim.inventory-item-roles",
        "manufacturer": "dcim.manufacturers",
    },
    "dcim.racks": {
        "site": "dcim.sites",
        "location": "dcim.locations",
        "tenant": "tenancy.tenants",
        "role": "dcim.rack-roles",
        "rack_type": "dcim.rack-types",
    },
    "dcim.sites": {
        "region": "dcim.regions",
        "group": "dcim.site-groups",
        "tenant": "tenancy.tenants",
    },
    "dcim.device-types": {
        "manufacturer": "dcim.manufacturers",
        "default_platform": "dcim.platforms",
    },
    "dcim.cables": {"tenant": "tenancy.tenants"},
    "ipam.ip-addresses": {"vrf": "ipam.vrfs", "tenant": "tenancy.tenants"},
    "ipam.prefixes": {
        "vrf": "ipam.vrfs",
        "tenant": "tenancy.tenants",
        "vlan": "ipam.vlans",
        "role": "ipam.roles",
    },
    "ipam.vlans": {"site": "dcim.sites", "group": "ipam.vlan-groups", "tenant": "tenancy.tenants"},
    "circuits.circuits": {
        "provider": "circuits.providers",
        "type": "circuits.circuit-types",
        "tenant": "tenancy.tenants",
    },
    "circuits.circuit-terminations": {"circuit": "circuits.circuits"},
}

# Endpoints whose objects are found by a single string (name-like) when referenced by a string.
# Order matters: the first field that matches wins.
LOOKUP_FIELDS = {
    "dcim.devices": ("name",),
    "dcim.racks": ("name",),
    "dcim.interfaces": ("name",),
    "dcim.inventory-items": ("name",),
    "dcim.front-ports": ("name",),
    "dcim.rear-ports": ("name",),
    "dcim.console-ports": ("name",),
    "dcim.power-ports": ("name",),
    "dcim.power-outlets": ("name",),
    "ipam.vrfs": ("name", "rd"),
    "ipam.asns": ("asn",),
    "virtualization.clusters": ("name",),
    "virtualization.virtual-machines": ("name",),
    "extras.config-templates": ("name",),
    "circuits.providers": ("slug", "name"),
    "dcim.device-types": ("model", "slug"),
    "ipam.ip-addresses": ("address",),
    "ipam.prefixes": ("prefix",),
    "dcim.mac-addresses": ("mac_address",),
    "ipam.vlans": ("name",),
    "circuits.circuits": ("cid",),
}
DEFAULT_LOOKUP_FIELDS = ("slug", "name")

# Natural keys (used when a state is given no explicit lookup).
NATURAL_KEYS = {
    "dcim.devices": ("name", "site"),
    "dcim.interfaces": ("device", "name"),
    "dcim.inventory-items": ("device", "name"),
    "dcim.racks": ("site", "name"),
    "dcim.device-types": ("manufacturer", "model"),
    "dcim.mac-addresses": ("mac_address", "assigned_object_type", "assigned_object_id"),
    "ipam.ip-addresses": ("address", "vrf"),
    "ipam.prefixes": ("prefix", "vrf"),
    "ipam.vlans": ("vid", "group", "site"),
    "circuits.circuits": ("provider", "cid"),
    "circuits.circuit-terminations": ("circuit", "term_side"),
}
DEFAULT_NATURAL_KEYS = ("slug", "name")

# Fields whose values are MAC addresses (normalised before comparing).
MAC_FIELDS = frozenset({"mac_address"})
# Fields whose values are IP addresses/prefixes in CIDR form.
CIDR_FIELDS = frozenset({"address", "prefix"})
# Read-only or computed fields a user may never set.
READ_ONLY = frozenset(
    {
        "id",
        "url",
        "display",
        "display_url",
        "created",
        "last_updated",
        "family",
        "config_context",
        "primary_ip",
        "parent_device",
        "cable",
        "link_peers",
        "connected_endpoints",
        "_occupied",
        "assigned_object",
        "mac_addresses",
    }
)


def check_endpoint(endpoint):
    """
    Validate and normalise an endpoint name. Accepts ``dcim.devices``, ``dcim/devices``,
    ``dcim.ip_addresses`` (pynetbox attribute style) -> ``app.endpoint-name``.
    """
    if not isinstance(endpoint, str) or not endpoint:
        raise SaltInvocationError(
            f"endpoint must be a string like 'dcim.devices', got {endpoint!r}"
        )
    value = endpoint.strip().strip("/").lower()
    if value.startswith("api/"):
        value = value[4:]
    value = value.replace("/", ".")
    if value.count(".") != 1:
        raise SaltInvocationError(
            f"endpoint {endpoint!r} is not 'app.endpoint' (for example 'dcim.devices' or "
            "'ipam.ip-addresses')"
        )
    app, name = value.split(".")
    value = f"{app}.{name.replace('_', '-')}"
    if not _ENDPOINT_RE.match(value):
        raise SaltInvocationError(
            f"endpoint {endpoint!r} is not 'app.endpoint' (for example 'dcim.devices')"
        )
    return value


def content_type(endpoint):
    """``dcim.devices`` -> ``dcim.device``; ``ipam.ip-addresses`` -> ``ipam.ipaddress``."""
    endpoint = check_endpoint(endpoint)
    if endpoint in _CONTENT_TYPES:
        return _CONTENT_TYPES[endpoint]
    app, name = endpoint.split(".")
    for plural, singular in (("addresses", "address"), ("ies", "y"), ("xes", "x"), ("s", "")):
        if name.endswith(plural):
            name = name[: -len(plural)] + singular
            break
    return f"{app}.{name.replace('-', '')}"


def endpoint_for_type(object_type):
    """``dcim.interface`` -> ``dcim.interfaces`` (inverse of :func:`content_type`)."""
    if not isinstance(object_type, str) or object_type.count(".") != 1:
        raise SaltInvocationError(f"object type must look like 'dcim.device', got {object_type!r}")
    object_type = object_type.lower()
    if object_type in _ENDPOINTS_BY_TYPE:
        return _ENDPOINTS_BY_TYPE[object_type]
    if object_type in _CONTENT_TYPES:  # already an endpoint
        return object_type
    app, name = object_type.split(".")
    if name.endswith("y"):
        return f"{app}.{name[:-1]}ies"
    if name.endswith(("x", "s")):
        return f"{app}.{name}es"
    return f"{app}.{name}s"


def endpoint_from_url(url):
    """``http://nb/api/dcim/sites/25/`` -> ``dcim.sites``; None when not an API object URL."""
    if not isinstance(url, str):
        return None
    match = re.search(r"/api/([a-z0-9_-]+)/([a-z0-9_-]+)/\d+/?$", url)
    if not match:
        return None
    return f"{match.group(1)}.{match.group(2)}"


def reference_target(endpoint, field, current_value=None):
    """
    The endpoint a field of ``endpoint`` refers to, or None when the field is not a reference.
    Returns ``[endpoint]`` for many-to-many fields.
    """
    target = REFERENCES.get(endpoint, {}).get(field)
    if target is not None:
        return target
    if field == "tags":
        return ["extras.tags"]
    if field == "tenant":
        return "tenancy.tenants"
    if isinstance(current_value, dict):
        found = endpoint_from_url(current_value.get("url"))
        if found:
            return found
    if isinstance(current_value, list) and current_value and isinstance(current_value[0], dict):
        found = endpoint_from_url(current_value[0].get("url"))
        if found:
            return [found]
    return None


def as_int(value, name, minimum=1):
    """
    A whole number given by a user (``117``, ``"117"``) as an int, or SaltInvocationError
    naming the argument (never a bare ``ValueError`` from ``int()``).
    """
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            number = None
    if number is None or number < minimum:
        raise SaltInvocationError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return number


def writable_fields(endpoint):
    """
    The fields of ``endpoint`` a write may set, from NetBox's OpenAPI schema (the metadata the
    access layer generates from it), or None for an endpoint it does not describe.
    """
    try:
        from salt_ext.utils.netbox.model.schema_meta import ENDPOINTS  # noqa: PLC0415
    except ImportError:  # pragma: no cover - the metadata ships with the package
        return None
    return (ENDPOINTS.get(endpoint) or {}).get("writable") or None


def check_writable(endpoint, names):
    """
    Refuse field ``names`` that ``endpoint`` objects do not have: NetBox silently ignores an
    unknown field in a POST/PATCH, so a typo would be reported as written while nothing was.
    Endpoints the schema metadata does not describe are not checked.
    """
    writable = writable_fields(endpoint)
    if not writable:
        return
    unknown = sorted(set(names) - set(writable))
    if unknown:
        close = difflib.get_close_matches(unknown[0], writable, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise SaltInvocationError(
            f"{', '.join(unknown)}: not a writable field of {endpoint} objects{hint} (NetBox "
            f"would silently ignore it); check the spelling. Writable fields: {', '.join(writable)}"
        )


def lookup_fields(endpoint):
    """Fields tried, in order, to find an object of ``endpoint`` referenced by a string."""
    return LOOKUP_FIELDS.get(endpoint, DEFAULT_LOOKUP_FIELDS)


def natural_keys(endpoint):
    """Natural-key fields of ``endpoint`` (for states given no explicit lookup)."""
    return NATURAL_KEYS.get(endpoint, DEFAULT_NATURAL_KEYS)
