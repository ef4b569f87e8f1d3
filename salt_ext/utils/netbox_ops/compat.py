"""
Compatibility with the Salt 3007 ``netbox`` execution module (``salt/modules/netbox.py``).

Its functions keep their names where they still mean something in NetBox 4; the others raise
an error naming the replacement. The table is data so that the execution module, its docs and
the tests share it.
"""

import re
import unicodedata

from salt.exceptions import SaltInvocationError

#: Salt 3007 functions that keep working (same name, same arguments) on NetBox 4.
KEPT = (
    "filter_",
    "get_",
    "slugify",
    "create_manufacturer",
    "create_device_type",
    "create_device_role",
    "create_platform",
    "create_site",
    "create_device",
    "update_device",
    "create_inventory_item",
    "delete_inventory_item",
    "get_interfaces",
    "openconfig_interfaces",
    "openconfig_lacp",
    "create_interface",
    "update_interface",
    "delete_interface",
    "make_interface_lag",
    "make_interface_child",
    "get_ipaddresses",
    "create_ipaddress",
    "delete_ipaddress",
    "create_circuit_provider",
    "get_circuit_provider",
    "create_circuit_type",
    "create_circuit",
    "create_circuit_termination",
)

#: Salt 3007 functions that no longer mean anything in NetBox 4 -> the replacement.
REMOVED = {
    "create_interface_connection": (
        "NetBox removed interface connections in 2.10: connect interfaces with a cable. Use "
        "netbox.create dcim.cables a_terminations='[{object_type: dcim.interface, object_id: "
        "<id>}]' b_terminations=... or the netbox.cable_present state"
    ),
}

#: Endpoints the Salt 3007 module used that NetBox 4 no longer has -> the replacement.
REMOVED_ENDPOINTS = {
    "dcim.interface-connections": "dcim.cables (interfaces are connected by cables since 2.10)",
    "secrets.secrets": (
        "the netbox-secrets plugin (plugins.secrets.secrets); NetBox core dropped secrets in 3.0"
    ),
    "secrets.secret-roles": "the netbox-secrets plugin (plugins.secrets.secret-roles)",
}

#: Arguments Salt 3007 accepted that NetBox 4 renamed -> (new name, note).
RENAMED_FIELDS = {
    "device_role": ("role", "NetBox 4.0 renamed device_role to role"),
    "form_factor": ("type", "NetBox 2.7 renamed form_factor to type; values are slugs"),
    "interface": ("assigned_object_id", "IP addresses are assigned through assigned_object"),
}

# Salt 3007 form_factor ids of the two values its own functions used.
FORM_FACTOR_IDS = {200: "lag", 1200: "10gbase-x-sfpp", 800: "1000base-t", 0: "virtual"}


def removed_message(name):
    """The error message for a removed Salt 3007 function."""
    return f"netbox.{name.rstrip('_')} is not available with NetBox 4: {REMOVED[name]}"


def check_endpoint_exists(endpoint):
    """Raise SaltInvocationError naming the replacement for an endpoint NetBox 4 dropped."""
    if endpoint in REMOVED_ENDPOINTS:
        raise SaltInvocationError(
            f"endpoint {endpoint} does not exist in NetBox 4; use {REMOVED_ENDPOINTS[endpoint]}"
        )
    if endpoint.startswith("secrets."):
        raise SaltInvocationError(
            f"endpoint {endpoint} does not exist in NetBox 4; secrets live in the netbox-secrets "
            "plugin (plugins.secrets.*)"
        )


def translate_fields(fields):
    """
    Rename Salt 3007 field names to NetBox 4 ones (``device_role`` -> ``role``,
    ``form_factor`` -> ``type`` with the old numeric ids mapped). Returns a new dict.
    """
    out = {}
    for name, given in fields.items():
        key, value = name, given
        if key == "device_role":
            key = "role"
        elif key == "form_factor":
            key = "type"
            if isinstance(value, int) and not isinstance(value, bool):
                if value not in FORM_FACTOR_IDS:
                    raise SaltInvocationError(
                        f"form_factor={value} is a NetBox 2.x numeric id; pass type=<slug> "
                        "instead (for example type=10gbase-x-sfpp or type=lag)"
                    )
                value = FORM_FACTOR_IDS[value]
        out[key] = value
    return out


def slugify(value):
    """
    Django's slugify (ASCII), as Salt 3007's ``netbox.slugify`` did: NetBox refuses a slug
    with anything but ASCII letters, digits, ``-`` and ``_``, so accents are transliterated
    (``Ünïcode`` -> ``unicode``) and other characters dropped.
    """
    value = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode("ascii")
    value = re.sub(r"[^\w\s-]", "", value.lower())
    return re.sub(r"[-\s]+", "-", value).strip("-_")


def split_legacy_endpoint(args):
    """
    Accept both call forms of ``get``/``filter``: new ``("dcim.devices", ...)`` and Salt 3007
    ``("dcim", "devices", ...)``. Returns ``(endpoint, remaining_args)``.
    """
    args = list(args)
    if not args:
        raise SaltInvocationError(
            "an endpoint is required, for example 'dcim.devices' (or Salt 3007 style: dcim devices)"
        )
    first = args[0]
    if isinstance(first, str) and "." not in first and "/" not in first:
        if len(args) < 2 or not isinstance(args[1], str):
            raise SaltInvocationError(
                f"{first!r} is not an endpoint: use 'app.endpoint' such as 'dcim.devices' or give "
                "app and endpoint separately (dcim devices)"
            )
        return f"{first}.{args[1]}", args[2:]
    return first, args[1:]
