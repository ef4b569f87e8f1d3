"""
Options of the NetBox ext_pillar: validation, defaults and the ``compat: salt3007`` translation.

Everything the pillar does is driven by one :class:`PillarOptions`, built once per distinct
``ext_pillar`` configuration (the result is cached by the caller). Bad values raise
``SaltInvocationError`` naming the option and the fix.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import urllib.parse

from salt.exceptions import SaltInvocationError

#: identity methods, tried in the configured order
IDENTITY_METHODS = ("name", "custom_field", "template")

#: parts of the pillar that can be switched off (``interfaces: false`` ...)
PARTS = (
    "interfaces",
    "peers",
    "services",
    "prefixes",
    "vlans",
    "rack_devices",
    "config_context",
    "hwgen",
)

#: options of Salt 3007's ``salt.pillar.netbox`` accepted with ``compat: salt3007``
SALT3007_OPTIONS = (
    "api_url",
    "api_token",
    "devices",
    "virtual_machines",
    "interfaces",
    "interface_ips",
    "site_details",
    "site_prefixes",
    "connected_devices",
    "proxy_return",
    "proxy_username",
    "api_query_result_limit",
)

_COMMON = {
    "key": "netbox",
    "netbox": None,
    "identity": ("name", "custom_field"),
    "minion_id_field": "minion_id",
    "name_template": None,
    "devices": True,
    "virtual_machines": False,
    "on_unknown": "empty",
    "sites": (),
    "ttl": 300,
    "max_stale": 86400,
    "retry_after": 30,
    "changelog_max": 500,
    "full_interval": 3600,
    "lock_timeout": 120,
    "unknown_recheck": 10,
    "cache_driver": None,
    "hwgen_profiles_key": "hwgen_profiles",
    "hwgen_context_key": "hwgen",
    "hwgen_key": "hwgen",
    "compat": None,
}


@dataclasses.dataclass(frozen=True)
class PillarOptions:
    """Validated options of one ``ext_pillar: - netbox: {...}`` entry."""

    key: str = "netbox"
    #: connection overrides (may hold the token): kept out of ``repr()``
    netbox: dict | None = dataclasses.field(default=None, repr=False)
    identity: tuple = ("name", "custom_field")
    minion_id_field: str = "minion_id"
    name_template: str | None = None
    devices: bool = True
    virtual_machines: bool = False
    on_unknown: str = "empty"
    sites: tuple = ()
    ttl: float = 300
    max_stale: float = 86400
    retry_after: float = 30
    changelog_max: int = 500
    full_interval: float = 3600
    lock_timeout: float = 120
    unknown_recheck: float = 10
    cache_driver: str | None = None
    hwgen_profiles_key: str = "hwgen_profiles"
    hwgen_context_key: str = "hwgen"
    hwgen_key: str = "hwgen"
    compat: str | None = None
    parts: tuple = PARTS
    # salt3007 compat switches
    site_details: bool = True
    site_prefixes: bool = True
    interface_ips: bool = False
    connected_devices: bool = False
    proxy_return: bool = True
    proxy_username: str | None = None
    page_size: int | None = None

    def want(self, part):
        """True when the pillar part ``part`` is switched on."""
        return part in self.parts

    @property
    def endpoints(self):
        """The NetBox endpoints the site fetch needs for these options."""
        eps = {"dcim.sites", "dcim.racks", "dcim.device-types"}
        if self.devices:
            eps.add("dcim.devices")
        if self.virtual_machines:
            eps.add("virtualization.virtual-machines")
        if self.compat == "salt3007":
            if self.interfaces_needed:
                eps |= {"dcim.interfaces", "virtualization.interfaces"}
                if self.interface_ips:
                    eps.add("ipam.ip-addresses")
            if self.site_prefixes:
                eps.add("ipam.prefixes")
            if self.proxy_return:
                eps.add("dcim.platforms")
        else:
            if self.want("interfaces"):
                eps |= {"dcim.interfaces", "ipam.ip-addresses", "dcim.mac-addresses"}
                if self.virtual_machines:
                    eps.add("virtualization.interfaces")
                if self.want("peers"):
                    eps.add("dcim.cables")
            if self.want("services"):
                eps.add("ipam.services")
            if self.want("prefixes"):
                eps.add("ipam.prefixes")
            if self.want("vlans"):
                eps.add("ipam.vlans")
        if not self.virtual_machines:
            eps.discard("virtualization.interfaces")
        return frozenset(eps)

    @property
    def interfaces_needed(self):
        """salt3007: interfaces are fetched when asked for or needed by connected_devices."""
        return "interfaces" in self.parts or self.connected_devices

    @property
    def index_key(self):
        """Cache key of the identity index for these options (what it covers)."""
        raw = json.dumps(
            [self.devices, self.virtual_machines, sorted(self.sites), self.minion_id_field]
        )
        return "index-" + hashlib.sha1(raw.encode()).hexdigest()[:10]


def _bool(name, value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in (
        "true",
        "yes",
        "on",
        "1",
        "false",
        "no",
        "off",
        "0",
    ):
        return value.lower() in ("true", "yes", "on", "1")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise SaltInvocationError(
        f"netbox ext_pillar option '{name}' must be true or false, got {value!r}"
    )


def _number(name, value, minimum=0, integer=False):
    try:
        num = int(value) if integer else float(value)
    except (TypeError, ValueError):
        raise SaltInvocationError(
            f"netbox ext_pillar option '{name}' must be a number"
            f"{' (integer)' if integer else ''}, got {value!r}"
        ) from None
    if isinstance(value, bool) or num < minimum:
        raise SaltInvocationError(
            f"netbox ext_pillar option '{name}' must be a number >= {minimum}, got {value!r}"
        )
    return num


def _api_root(url):
    """Salt 3007 wanted ``api_url: https://netbox/api``; the access layer wants the base URL."""
    url = str(url).rstrip("/")
    if url.endswith("/api"):
        url = url[: -len("/api")]
    return url


def parse_options(kwargs):
    """
    Validate the ``ext_pillar`` options and return a :class:`PillarOptions`.

    :param kwargs: the mapping given under ``ext_pillar: - netbox:`` in the master config
    :raises SaltInvocationError: an unknown option or a bad value (the message names the option)
    """
    kwargs = dict(kwargs or {})
    compat = kwargs.get("compat")
    if compat not in (None, "salt3007"):
        raise SaltInvocationError(
            f"netbox ext_pillar option 'compat' must be 'salt3007' or unset, got {compat!r}"
        )
    allowed = set(_COMMON) | set(PARTS)
    if compat == "salt3007":
        allowed |= set(SALT3007_OPTIONS)
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        hint = ""
        if set(unknown) & set(SALT3007_OPTIONS):
            hint = " (Salt 3007 options need 'compat: salt3007')"
        raise SaltInvocationError(
            f"netbox ext_pillar: unknown option(s) {', '.join(unknown)}{hint}; "
            f"known options: {', '.join(sorted(allowed))}"
        )
    values = {}
    key = kwargs.get("key", "netbox")
    if not isinstance(key, str) or not key:
        raise SaltInvocationError("netbox ext_pillar option 'key' must be a non-empty string")
    values["key"] = key

    netbox = kwargs.get("netbox")
    if netbox is not None and not isinstance(netbox, dict):
        raise SaltInvocationError(
            "netbox ext_pillar option 'netbox' must be a mapping (url, token, ...) or unset "
            "to use the master's 'netbox' configuration"
        )
    netbox = dict(netbox or {})

    identity = kwargs.get("identity", _COMMON["identity"])
    if isinstance(identity, str):
        identity = [identity]
    identity = tuple(identity or ())
    bad = [m for m in identity if m not in IDENTITY_METHODS]
    if not identity or bad:
        raise SaltInvocationError(
            f"netbox ext_pillar option 'identity' must list one or more of "
            f"{', '.join(IDENTITY_METHODS)}, got {list(identity)!r}"
        )
    values["identity"] = identity
    values["name_template"] = kwargs.get("name_template")
    if "template" in identity and not values["name_template"]:
        raise SaltInvocationError(
            "netbox ext_pillar: identity 'template' needs 'name_template', e.g. "
            "\"{{ minion_id.split('.')[0] }}\" to strip the domain"
        )
    field = kwargs.get("minion_id_field", "minion_id")
    if not isinstance(field, str) or not field:
        raise SaltInvocationError("netbox ext_pillar option 'minion_id_field' must be a string")
    values["minion_id_field"] = field

    on_unknown = kwargs.get("on_unknown", "empty")
    if on_unknown not in ("empty", "error"):
        raise SaltInvocationError(
            f"netbox ext_pillar option 'on_unknown' must be 'empty' or 'error', got {on_unknown!r}"
        )
    values["on_unknown"] = on_unknown
    sites = kwargs.get("sites") or ()
    if isinstance(sites, str):
        sites = [sites]
    values["sites"] = tuple(str(s) for s in sites)

    for name, minimum in (
        ("ttl", 0),
        ("max_stale", 0),
        ("retry_after", 0),
        ("full_interval", 0),
        ("lock_timeout", 1),
        ("unknown_recheck", 0),
    ):
        values[name] = _number(name, kwargs.get(name, _COMMON[name]), minimum)
    values["changelog_max"] = _number(
        "changelog_max", kwargs.get("changelog_max", _COMMON["changelog_max"]), 1, integer=True
    )
    for name in ("cache_driver", "hwgen_profiles_key", "hwgen_context_key", "hwgen_key"):
        val = kwargs.get(name, _COMMON[name])
        if val is not None and not isinstance(val, str):
            raise SaltInvocationError(f"netbox ext_pillar option '{name}' must be a string")
        values[name] = val

    values["devices"] = _bool("devices", kwargs.get("devices", True))
    values["virtual_machines"] = _bool("virtual_machines", kwargs.get("virtual_machines", False))

    if compat == "salt3007":
        _salt3007(kwargs, values, netbox)
    else:
        parts = [p for p in PARTS if _bool(p, kwargs.get(p, True))]
        values["parts"] = tuple(parts)
    if not values["devices"] and not values["virtual_machines"]:
        raise SaltInvocationError(
            "netbox ext_pillar: at least one of 'devices' or 'virtual_machines' must be true"
        )
    values["netbox"] = netbox or None
    values["compat"] = compat
    return PillarOptions(**values)


def _salt3007(kwargs, values, netbox):
    """Translate Salt 3007's options (same defaults as ``salt.pillar.netbox`` in 3007.8)."""
    if "api_url" in kwargs:
        url = str(kwargs["api_url"])
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise SaltInvocationError(
                f"netbox ext_pillar option 'api_url' must be an http(s) URL, got {url!r}"
            )
        netbox["url"] = _api_root(url)
    if "api_token" in kwargs:
        if not kwargs["api_token"]:
            raise SaltInvocationError("netbox ext_pillar option 'api_token' is empty")
        netbox["token"] = kwargs["api_token"]
    interfaces = _bool("interfaces", kwargs.get("interfaces", False))
    interface_ips = _bool("interface_ips", kwargs.get("interface_ips", False))
    connected = _bool("connected_devices", kwargs.get("connected_devices", False))
    if connected:
        interfaces = True
    if interface_ips and not interfaces:
        raise SaltInvocationError(
            "netbox ext_pillar: 'interface_ips' needs 'interfaces: true' (compat salt3007)"
        )
    limit = kwargs.get("api_query_result_limit")
    if limit is not None:
        limit = _number("api_query_result_limit", limit, 1, integer=True)
    values["page_size"] = limit
    values["interface_ips"] = interface_ips
    values["connected_devices"] = connected
    values["site_details"] = _bool("site_details", kwargs.get("site_details", True))
    values["site_prefixes"] = _bool("site_prefixes", kwargs.get("site_prefixes", True))
    values["proxy_return"] = _bool("proxy_return", kwargs.get("proxy_return", True))
    username = kwargs.get("proxy_username")
    values["proxy_username"] = None if username is None else str(username)
    values["parts"] = ("interfaces",) if interfaces else ()
    if "identity" not in kwargs:
        values["identity"] = ("name",)
