"""
Value normalisation shared by the hardware parsers: empty/placeholder strings, sizes, speeds,
MAC addresses, version comparison and placeholder-serial detection.

Everything here is a pure function of its arguments.
"""

import re

# Strings firmware writes when it has nothing to say. Compared case-insensitively after strip().
_EMPTY_VALUES = frozenset(
    v.lower()
    for v in (
        "",
        "Not Specified",
        "Not Present",
        "Not Provided",
        "Not Available",
        "NOT AVAILABLE",
        "Unknown",
        "UNKNOWN",
        "None",
        "N/A",
        "NA",
        "To be filled by O.E.M.",
        "To Be Filled By O.E.M.",
        "Default string",
        "Default String",
        "<OUT OF SPEC>",
        "<BAD INDEX>",
        "NO DIMM",
        "Empty",
        "Unspecified",
        # digit runs and field names vendors ship in unprogrammed Version/Product fields
        "0123456789",
        "1234567890",
        "123456789",
        "System Version",
        "System Product Name",
        "Chassis Version",
        "Base Board Version",
        "Type1ProductConfigId",
    )
)

# Serial/UUID values known to be placeholders (lowercase).
_PLACEHOLDER_SERIALS = frozenset(
    (
        "to be filled by o.e.m.",
        "default string",
        "not specified",
        "not available",
        "not applicable",
        "system serial number",
        "chassis serial number",
        "base board serial number",
        "serial number",
        "serialnumber",
        "0123456789",
        "123456789",
        "1234567890",
        "12345678",
        "none",
        "n/a",
        "na",
        "unknown",
        "no dimm",
        "empty",
        "invalid",
        "oem",
        "xxxxxxxxxx",
    )
)
_PLACEHOLDER_WORDS = re.compile(
    r"(serial|service[ _-]?tag|filled|o\.e\.m|oem define|default|placeholder|sample)", re.I
)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_PLACEHOLDER_UUIDS = re.compile(
    r"^(0{8}-0{4}-0{4}-0{4}-0{12}|f{8}-f{4}-f{4}-f{4}-f{12}|12345678-1234-5678-\w{4}-\w{12})$", re.I
)


def clean(value):
    """
    Strip a firmware string; return ``None`` for the empty/placeholder words firmware uses
    ("Not Specified", "To be filled by O.E.M.", ...). Non-strings pass through.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        return value
    value = " ".join(value.split())
    if value.lower() in _EMPTY_VALUES:
        return None
    return value


def raw(value):
    """Strip a string (collapsing inner whitespace) but keep placeholder words; ``None`` if empty."""
    if value is None:
        return None
    value = " ".join(str(value).split())
    return value or None


def _ascending_run(value):
    digits = "0123456789"
    return len(value) >= 6 and value.isdigit() and (value in digits or value in digits[1:] + "0")


def placeholder_reason(value):
    """
    Return why ``value`` looks like a placeholder or anonymised serial, or ``None`` if it looks
    real.

    Flags: missing values, the words vendors ship (``To be filled by O.E.M.``, ``Default
    string``, ``System Serial Number``), ascending digit runs (``0123456789``), one short unit
    repeated (``4242``, ``4343``, ``0000``, ``XXXX``), values of fewer than 4 characters (``42``)
    and values built from such a unit plus a placeholder word (``4242-SERVICE_TAG``).
    """
    if value is None:
        return "missing"
    text = " ".join(str(value).split())
    low = text.lower()
    if not text:
        return "empty"
    if low in _PLACEHOLDER_SERIALS:
        return "vendor placeholder"
    if _UUID.match(text):
        return "placeholder UUID" if _PLACEHOLDER_UUIDS.match(text) else None
    if _ascending_run(low):
        return "digit sequence"
    compact = re.sub(r"[\s_.:-]", "", low)
    if len(compact) < 4:
        return "too short to be a serial"
    if re.fullmatch(r"(.{1,2})\1+", compact):
        return "repeated pattern (anonymised)"
    head = re.match(r"^(.{1,2})\1+(?=[\s_.:-])", low)
    if head or _PLACEHOLDER_WORDS.search(low):
        return "placeholder word" if not head else "repeated pattern (anonymised)"
    return None


def is_placeholder(value):
    """True when :func:`placeholder_reason` finds a reason."""
    return placeholder_reason(value) is not None


_SIZE_UNITS = {
    "b": 1,
    "bytes": 1,
    "kb": 1024,
    "kib": 1024,
    "mb": 1024**2,
    "mib": 1024**2,
    "gb": 1024**3,
    "gib": 1024**3,
    "tb": 1024**4,
    "tib": 1024**4,
}


def size_bytes(value):
    """``'8192 MB'`` / ``'32 GB'`` / ``'16 GiB'`` / ``1234`` -> bytes (int); ``None`` if absent."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    match = re.match(r"^\s*([\d.]+)\s*([A-Za-z]*)\s*$", str(value))
    if not match:
        return None
    number, unit = match.groups()
    factor = _SIZE_UNITS.get(unit.lower() or "b")
    if factor is None:
        return None
    return int(float(number) * factor)


def speed_number(value):
    """``'2400 MHz'`` / ``'2666 MT/s'`` / ``'10000Mb/s'`` -> int; ``None`` for Unknown."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value) if value >= 0 else None
    match = re.match(r"^\s*(\d+)", str(value))
    return int(match.group(1)) if match else None


def to_int(value):
    """Int from int/str, ``None`` when not a number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def to_bool(value):
    """Booleans as tools print them: ``True``/``"1"``/``"yes"``/``"on"`` -> True."""
    if isinstance(value, bool):
        return value
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in ("1", "yes", "on", "true", "y"):
        return True
    if text in ("0", "no", "off", "false", "n"):
        return False
    return None


_MAC = re.compile(r"^[0-9a-f]{2}([:-]?[0-9a-f]{2}){5}$", re.I)


def mac(value):
    """Normalise a MAC address to lowercase colon form; ``None`` if it is not one."""
    if not value or not isinstance(value, str):
        return None
    value = value.strip()
    if not _MAC.match(value):
        return None
    digits = re.sub(r"[^0-9a-fA-F]", "", value).lower()
    result = ":".join(digits[i : i + 2] for i in range(0, 12, 2))
    if result == "00:00:00:00:00:00":
        return None
    return result


def version_key(value):
    """
    Sort key for firmware versions of any vendor style: ``'2.61'``, ``'I36'``, ``'2.0b'``,
    ``'v2.52 (10/25/2017)'``, ``'S3E_3B09.02'``. Numbers compare numerically, letters
    alphabetically, a number sorts after a letter at the same position.
    """
    text = str(value).strip().lower()
    text = re.sub(r"\(.*?\)", "", text).strip()
    text = re.sub(r"^v(?=\d)", "", text)
    parts = re.findall(r"\d+|[a-z]+", text)
    return tuple((1, int(p), "") if p.isdigit() else (0, 0, p) for p in parts)


def version_at_least(actual, minimum):
    """True if firmware ``actual`` >= ``minimum`` (see :func:`version_key`); ``None`` if unknown."""
    if actual in (None, "") or minimum in (None, ""):
        return None
    return version_key(actual) >= version_key(minimum)
