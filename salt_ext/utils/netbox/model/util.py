"""
Small helpers of the in-memory NetBox store: natural ordering keys, timestamps, IP arithmetic, copying
JSON values. Private: used by ``store`` only.
"""

import datetime
import functools
import ipaddress
import re
import threading
import zoneinfo

_DIGITS = re.compile(r"(\d+)")
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def natural_key(value):
    """A sort key that orders embedded numbers numerically, like NetBox's ``naturalize`` (``Eth2`` <
    ``Eth10``). ``None`` sorts last."""
    if value is None:
        return (1, ())
    parts = _DIGITS.split(str(value))
    key = []
    for i, part in enumerate(parts):
        if i % 2:
            key.append((1, int(part), ""))
        elif part:
            key.append((0, 0, part))
    return (0, tuple(key))


def ip_sort_key(address):
    """Sort key of an address or prefix string the way PostgreSQL orders ``inet``/``cidr``."""
    if not address:
        return (9, 0, 0)
    try:
        iface = ipaddress.ip_interface(address)
    except ValueError:
        return (9, 0, 0)
    return (iface.version, int(iface.ip), iface.network.prefixlen)


class Clock:
    """Monotonic UTC timestamps with microseconds: two writes never share a ``last_updated`` (the
    ETag is derived from it)."""

    def __init__(self):
        self._last = None
        self._lock = threading.Lock()

    def now(self):
        with self._lock:
            now = datetime.datetime.now(datetime.timezone.utc)
            if self._last is not None and now <= self._last:
                now = self._last + datetime.timedelta(microseconds=1)
            self._last = now
            return now


def iso_z(moment):
    """``2026-11-29T12:10:03.131019Z`` (the REST API's timestamp form)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@functools.lru_cache(maxsize=65536)
def parse_time(text):
    """Parse an ISO-8601 timestamp or date (``Z`` allowed) into an aware UTC datetime, or ``None``."""
    if not isinstance(text, str) or not text:
        return None
    value = text.strip().replace(" ", "T")
    if value.endswith("Z") or value.endswith("z"):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        try:
            moment = datetime.datetime.combine(
                datetime.date.fromisoformat(value), datetime.time(0, 0)
            )
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc)


def etag_of(last_updated):
    """NetBox's weak ETag: ``W/"<last_updated in isoformat()>"`` (``+00:00``, not ``Z``)."""
    moment = parse_time(last_updated)
    if moment is None:
        return 'W/"None"'
    return f'W/"{moment.isoformat()}"'


def copy_json(value, old_base=None, new_base=None):
    """Deep-copy a JSON value; ``url``/``display_url`` strings under ``old_base`` move to ``new_base``."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if (
                old_base is not None
                and isinstance(item, str)
                and key in ("url", "display_url")
                and item.startswith(old_base)
            ):
                out[key] = new_base + item[len(old_base) :]
            elif isinstance(item, (dict, list)):
                out[key] = copy_json(item, old_base, new_base)
            else:
                out[key] = item
        return out
    if isinstance(value, list):
        return [copy_json(item, old_base, new_base) for item in value]
    return value


def deep_merge(base, other):
    """Merge ``other`` into a copy of ``base`` recursively (NetBox's config-context merge)."""
    out = dict(base)
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy_json(value)
    return out


def ip_family(address):
    """4 or 6 for an address/prefix string; raises ValueError when it is not one."""
    return ipaddress.ip_interface(address).version


def normalize_prefix(text):
    """``10.10.1.7/24`` -> ``10.10.1.0/24`` (NetBox stores the network of a prefix)."""
    return str(ipaddress.ip_network(text, strict=False))


def host_candidates(prefix, is_pool):
    """Iterate the usable host addresses of a prefix as ``ipaddress`` objects, NetBox's rules: IPv4
    skips network and broadcast (unless a pool or /31-/32), IPv6 skips the subnet-router anycast
    address (unless a pool or /127-/128)."""
    net = ipaddress.ip_network(prefix, strict=False)
    first = int(net.network_address)
    last = int(net.broadcast_address)
    if net.version == 4:
        if not is_pool and net.prefixlen < 31:
            first += 1
            last -= 1
    elif not is_pool and net.prefixlen < 127:
        first += 1
    cls = ipaddress.IPv4Address if net.version == 4 else ipaddress.IPv6Address
    current = first
    while current <= last:
        yield cls(current)
        current += 1


class StoreError(Exception):
    """A request NetBox would refuse: ``status`` (int), ``body`` (NetBox-shaped JSON body),
    ``headers`` (extra response headers, e.g. the current ``ETag`` of a 412)."""

    def __init__(self, status, body, headers=None):
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


# -- string constraints of the write serializers (DRF CharField/SlugField + model validators) -------
_SLUG = "^[-a-zA-Z0-9_]+$"
_SLUG_UNICODE = "^[-\\w]+$"
_COLOR = "^[0-9a-f]{6}$"
_DNS = "^([0-9A-Za-z_-]+|\\*)(\\.[0-9A-Za-z_-]+)*\\.?$"
_CF_NAME = "^[a-z0-9_]+$"
#: pattern -> (validators of the model field, run before the length checks; validators the DRF field
#: adds itself, run after them): each a list of (compiled regex, inverse, message)
_PATTERN_RULES = {
    _SLUG: (
        [],
        [
            (
                re.compile(r"^[-a-zA-Z0-9_]+\Z"),
                False,
                'Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.',
            )
        ],
    ),
    # taggit's Tag.slug is SlugField(allow_unicode=True): Django's validate_unicode_slug stays on
    # the serializer field next to DRF's own unicode slug validator (both messages)
    _SLUG_UNICODE: (
        [
            (
                re.compile(r"^[-\w]+\Z"),
                False,
                "Enter a valid “slug” consisting of Unicode letters, numbers, underscores, or "
                "hyphens.",
            )
        ],
        [
            (
                re.compile(r"^[-\w]+\Z"),
                False,
                'Enter a valid "slug" consisting of Unicode letters, numbers, underscores, or '
                "hyphens.",
            )
        ],
    ),
    _COLOR: ([(re.compile(_COLOR), False, "Enter a valid hexadecimal RGB color code.")], []),
    _DNS: (
        [
            (
                re.compile(_DNS),
                False,
                "Only alphanumeric characters, asterisks, hyphens, periods, and underscores are "
                "allowed in DNS names",
            )
        ],
        [],
    ),
    # CustomField.name: two RegexValidators with re.IGNORECASE (the schema loses the flag)
    _CF_NAME: (
        [
            (
                re.compile(_CF_NAME, re.IGNORECASE),
                False,
                "Only alphanumeric characters and underscores are allowed.",
            ),
            (
                re.compile("__"),
                True,
                "Double underscores are not permitted in custom field names.",
            ),
        ],
        [],
    ),
}


@functools.lru_cache(maxsize=1)
def time_zones():
    """The IANA zone names a site's ``time_zone`` accepts (``zoneinfo``, as NetBox's backend)."""
    return frozenset(zoneinfo.available_timezones())


def check_string(value, rules, time_zone=False):
    """Validate a string like DRF's ``CharField.run_validation`` with the write schema's ``rules``
    (``{"max_length", "min_length", "pattern"}``): returns ``(value, messages)``, the value trimmed
    of surrounding whitespace (DRF's ``trim_whitespace``) and the error messages in DRF's order
    (model-field validators, max/min length, the serializer field's own), all of them collected.
    ``time_zone``: django-timezone-field's ``TimeZoneSerializerField`` (no trimming, a known zone).
    """
    min_length = rules.get("min_length")
    if value.strip() == "":
        if min_length:
            return value, ["This field may not be blank."]
        return "", []
    if time_zone:
        if value not in time_zones():
            return value, ["A valid timezone is required."]
        return value, []
    value = value.strip()
    before, after = _PATTERN_RULES.get(rules.get("pattern"), ([], []))
    if rules.get("pattern") and rules["pattern"] not in _PATTERN_RULES:
        after = [
            (re.compile(rules["pattern"]), False, "This value does not match the required pattern.")
        ]
    messages = [msg for regex, inverse, msg in before if bool(regex.search(value)) is inverse]
    max_length = rules.get("max_length")
    if max_length is not None and len(value) > max_length:
        messages.append(f"Ensure this field has no more than {max_length} characters.")
    if min_length is not None and len(value) < min_length:
        messages.append(f"Ensure this field has at least {min_length} characters.")
    messages += [msg for regex, inverse, msg in after if bool(regex.search(value)) is inverse]
    return value, messages
