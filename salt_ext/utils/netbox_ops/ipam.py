"""
IP address allocation for the ``netbox`` execution module: the next free address of a prefix for an
interface, race-safe (NetBox's ``available-ips`` serialises concurrent allocations; concurrent calls
for one interface all keep its oldest address and give the others back), optionally made the
device's primary address.
"""

import ipaddress
import logging

from salt.exceptions import CommandExecutionError, SaltInvocationError

from salt_ext.utils.netbox_ops import ops
from salt_ext.utils.netbox_ops.diff import host_of, simplify

log = logging.getLogger(__name__)

__all__ = ["addresses_in", "assign_next_ip", "find_prefix"]


def find_prefix(src, prefix, vrf=None):
    """The prefix object for ``prefix`` (a CIDR or an id), in ``vrf`` (name or id) when given;
    without a VRF, the global one is preferred. SaltInvocationError when none or several."""
    if isinstance(prefix, int):
        return src.get("ipam.prefixes", prefix)
    resolver = ops.Resolver(src)
    params = {"prefix": prefix}
    if vrf is not None:
        params["vrf_id"] = resolver.ref("ipam.vrfs", vrf, field="vrf")
    found = resolver.find_all("ipam.prefixes", params)
    if vrf is None and len(found) > 1:
        found = [p for p in found if not p.get("vrf")]
    if not found:
        raise SaltInvocationError(f"prefix {prefix} not found in NetBox (ipam.prefixes)")
    if len(found) > 1:
        raise SaltInvocationError(f"prefix {prefix} exists in several VRFs; give vrf=")
    return found[0]


def addresses_in(src, iface, pfx):
    """The addresses of interface ``iface`` inside prefix ``pfx`` (same VRF), oldest first."""
    net = ipaddress.ip_network(pfx["prefix"])
    return sorted(
        (
            ip
            for ip in src.list("ipam.ip-addresses", {"interface_id": iface["id"]})
            if ip.get("assigned_object_id") == iface["id"]
            and ipaddress.ip_address(host_of(ip["address"])) in net
            and simplify(ip.get("vrf")) == simplify(pfx.get("vrf"))
        ),
        key=lambda ip: ip["id"],
    )


def _allocate(src, iface, pfx, status, optional):
    """A new address of ``pfx`` for ``iface``; when a concurrent call for the same interface
    allocated too, every caller keeps the oldest and gives its own back."""
    data = {
        "assigned_object_type": "dcim.interface",
        "assigned_object_id": iface["id"],
        "status": status,
        **{k: v for k, v in optional.items() if v},
    }
    if pfx.get("vrf"):
        data["vrf"] = simplify(pfx["vrf"])
    created = src.allocate_ip(pfx["id"], data)
    if isinstance(created, list):
        created = created[0]
    oldest = (addresses_in(src, iface, pfx) or [created])[0]
    if oldest["id"] == created["id"]:
        return created, True
    log.info(
        "netbox.assign_next_ip: %s got %s meanwhile; %s given back",
        iface["name"],
        oldest["address"],
        created["address"],
    )
    src.delete("ipam.ip-addresses", created["id"])
    return oldest, False


def _make_primary(src, iface, obj):
    family = ipaddress.ip_interface(obj["address"]).version
    field = "primary_ip4" if family == 4 else "primary_ip6"
    dev = src.get("dcim.devices", iface["device"]["id"])
    if simplify(dev.get(field)) == obj["id"]:
        return
    src.update("dcim.devices", dev["id"], {field: obj["id"]})
    after = src.get("dcim.devices", dev["id"])
    if simplify(after.get(field)) != obj["id"]:
        raise CommandExecutionError(
            f"NetBox did not make {obj['address']} the {field} of {dev['name']}"
        )


def assign_next_ip(  # noqa: PLR0913
    src, pfx, iface, *, status="active", dns_name=None, description=None, primary=False
):
    """
    Give interface ``iface`` the next free address of prefix ``pfx`` (objects), or the address it
    already has there. Returns ``{"address", "id", "allocated", "interface", "device", "prefix"}``.
    """
    mine = addresses_in(src, iface, pfx)
    if mine:
        obj, allocated = mine[0], False
    else:
        optional = {"dns_name": dns_name, "description": description}
        obj, allocated = _allocate(src, iface, pfx, status, optional)
    if primary:
        _make_primary(src, iface, obj)
    return {
        "address": obj["address"],
        "id": obj["id"],
        "allocated": allocated,
        "interface": iface["name"],
        "device": iface["device"]["name"],
        "prefix": pfx["prefix"],
    }
