"""
Pure comparison of a NetBox object (REST JSON shape) with what a user wants.

Rules (the same as netbox-community/ansible_modules):
- only the fields the user gave are compared;
- references are compared by id, choice fields by ``value``, tags and other many-to-many
  fields as sets of ids;
- MAC addresses and IP addresses are normalised first; ``None`` and ``""`` are the same;
- ``custom_fields`` is compared key by key, and only the changed keys are sent;
- the result is a ``changes`` dict (``{field: {"old": x, "new": y}}``) for Salt and a ``patch``
  dict (only the changed fields, references as ids) for a PATCH request.
"""

import ipaddress
import re

from salt.exceptions import SaltInvocationError

from salt_ext.utils.netbox_ops.endpoints import CIDR_FIELDS, MAC_FIELDS

_MAC_HEX = re.compile(r"^[0-9a-f]{12}$")


def normalize_mac(value):
    """
    Normalise a MAC address to NetBox's form ``AA:BB:CC:DD:EE:FF``. Accepts ``:``/``-``/``.``
    separators or none. Raises SaltInvocationError for anything else.
    """
    if not isinstance(value, str):
        raise SaltInvocationError(
            f"MAC address must be a string like 'aa:bb:cc:dd:ee:ff', got {value!r}"
        )
    digits = re.sub(r"[:.\-\s]", "", value.strip().lower())
    if not _MAC_HEX.match(digits):
        raise SaltInvocationError(
            f"{value!r} is not a MAC address (expected 6 bytes like 'aa:bb:cc:dd:ee:ff')"
        )
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2)).upper()


def normalize_cidr(value):
    """Canonical text of an address/prefix with mask (``2001:DB8::1/64`` -> ``2001:db8::1/64``)."""
    if not isinstance(value, str):
        raise SaltInvocationError(f"address must be a string like '10.0.0.1/24', got {value!r}")
    try:
        return str(ipaddress.ip_interface(value.strip()))
    except ValueError as err:
        raise SaltInvocationError(f"{value!r} is not an IP address with a mask: {err}") from err


def host_of(value):
    """Host part of an address (``10.0.0.1/24`` -> ``10.0.0.1``)."""
    return str(ipaddress.ip_interface(str(value).strip()).ip)


def is_choice(value):
    return isinstance(value, dict) and "value" in value and "label" in value


def is_reference(value):
    return isinstance(value, dict) and "id" in value


def simplify(value):
    """
    The comparable form of a value as NetBox returns it: choice -> its value, nested object ->
    its id, list of nested objects -> sorted list of ids. Other values are returned unchanged.
    """
    if is_choice(value):
        return value["value"]
    if is_reference(value):
        return value["id"]
    if isinstance(value, list) and value and all(is_reference(item) for item in value):
        return sorted(item["id"] for item in value)
    return value


def display(value):
    """A human form of a current value for ``changes`` (names rather than ids)."""
    if is_choice(value):
        return value["value"]
    if is_reference(value):
        for key in ("slug", "name", "address", "prefix", "mac_address", "model", "display"):
            if value.get(key) not in (None, ""):
                return value[key]
        return value["id"]
    if isinstance(value, list) and value and all(is_reference(item) for item in value):
        return sorted(str(display(item)) for item in value)
    return value


def _empty(value):
    return value is None or (isinstance(value, (str, list, dict)) and len(value) == 0)


def values_equal(field, current, wanted):
    """
    Compare a simplified current value with a resolved wanted value for ``field``.
    """
    if _empty(current) and _empty(wanted):
        return True
    if _empty(current) != _empty(wanted):
        return False
    if field in MAC_FIELDS and isinstance(current, str) and isinstance(wanted, str):
        return normalize_mac(current) == normalize_mac(wanted)
    if field in CIDR_FIELDS and isinstance(current, str) and isinstance(wanted, str):
        return normalize_cidr(current) == normalize_cidr(wanted)
    if isinstance(current, bool) or isinstance(wanted, bool):
        return current is wanted
    if isinstance(current, (int, float)) and isinstance(wanted, (int, float)):
        return float(current) == float(wanted)
    if isinstance(current, list) and isinstance(wanted, (list, tuple, set)):
        current_set = {simplify(item) for item in current}
        wanted_set = {simplify(item) for item in wanted}
        return current_set == wanted_set
    if isinstance(current, dict) and isinstance(wanted, dict):
        return current == wanted
    return current == wanted


def diff_custom_fields(current, wanted):
    """(old, new, patch) for the custom-field keys whose values differ."""
    current = current or {}
    old, new, patch = {}, {}, {}
    for key, value in wanted.items():
        have = simplify(current.get(key))
        if not values_equal(key, have, simplify(value)):
            old[key] = display(current.get(key))
            new[key] = value
            patch[key] = simplify(value)
    return old, new, patch


def diff_object(current, resolved, given=None):
    """
    Compare ``current`` (an object as NetBox returns it, or None when it does not exist) with
    ``resolved`` (the user's fields with references already turned into ids).

    ``given`` is the user's form of the same fields (names instead of ids), used for the ``new``
    side of ``changes``; defaults to ``resolved``.

    Returns ``(changes, patch)``: ``changes`` is ``{field: {"old": x, "new": y}}`` and ``patch``
    holds only the fields to send. When ``current`` is None every field is a change from None.
    """
    given = resolved if given is None else given
    changes, patch = {}, {}
    current = current or {}
    for field, wanted in resolved.items():
        want = wanted
        shown = given.get(field, want)
        if field == "custom_fields":
            if not isinstance(want, dict):
                raise SaltInvocationError("custom_fields must be a mapping of name: value")
            old, new, cf_patch = diff_custom_fields(current.get("custom_fields"), want)
            if cf_patch:
                changes[field] = {"old": old, "new": {k: shown.get(k, v) for k, v in new.items()}}
                patch[field] = cf_patch
            continue
        have = current.get(field)
        if values_equal(field, simplify(have), want):
            continue
        if field == "tags" or (isinstance(want, (list, tuple, set)) and not isinstance(have, str)):
            want = sorted(set(want), key=str)
            shown = sorted(set(shown), key=str) if isinstance(shown, (list, tuple, set)) else shown
        changes[field] = {"old": display(have), "new": shown}
        patch[field] = want
    return changes, patch


def matches(obj, params):
    """
    Check client-side that ``obj`` really satisfies exact-match filter ``params`` (NetBox
    silently ignores unknown filters, so a typo could otherwise match everything).

    ``params`` maps a filter name to a value: ``name``/``slug``/... compare exactly,
    ``<field>_id`` compares the id of the nested object (or the field itself), ``address``
    compares the host part, ``mac_address`` compares normalised. A value of None matches an
    empty field.
    """
    for key, want in params.items():
        if key in obj:
            have = obj[key]
        elif key.endswith("_id") and key[:-3] in obj:
            have = obj[key[:-3]]
        else:
            return False
        have = simplify(have)
        if want is None:
            if not _empty(have):
                return False
            continue
        if key in ("address", "prefix"):
            try:
                if key == "address":
                    if host_of(have) != host_of(want):
                        return False
                elif normalize_cidr(have) != normalize_cidr(str(want)):
                    return False
            except (ValueError, SaltInvocationError):
                return False
            continue
        if key in MAC_FIELDS:
            try:
                if normalize_mac(have) != normalize_mac(want):
                    return False
            except SaltInvocationError:
                return False
            continue
        if isinstance(have, list):
            if want not in have and str(want) not in [str(x) for x in have]:
                return False
            continue
        if isinstance(have, (int, float)) and not isinstance(have, bool):
            try:
                if float(have) != float(want):
                    return False
            except (TypeError, ValueError):
                return False
            continue
        if have != want:
            return False
    return True
