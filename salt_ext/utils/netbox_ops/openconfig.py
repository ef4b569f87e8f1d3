"""
NetBox interfaces and addresses shaped as OpenConfig YANG models (``openconfig-interfaces``,
``openconfig-lacp``), as Salt 3007's ``netbox.openconfig_*`` returned them.
"""

from salt_ext.utils.netbox_ops.diff import simplify

__all__ = ["if_name_unit", "interfaces", "lacp"]


def if_name_unit(if_name):
    """``("et-0/0/5", "100")`` for ``et-0/0/5.100``; unit ``"0"`` without one."""
    parts = if_name.split(".")
    if len(parts) == 2:
        return parts[0], parts[1]
    return if_name, "0"


def _entry(tree, name):
    return tree.setdefault(name, {"config": {"name": name}, "subinterfaces": {"subinterface": {}}})


def _add_interface(tree, iface):
    name, unit = if_name_unit(iface["name"])
    entry = _entry(tree, name)
    if unit == "0":
        entry["config"]["enabled"] = iface["enabled"]
        if iface.get("description"):
            entry["config"]["description"] = str(iface["description"])
        if iface.get("mtu"):
            entry["config"]["mtu"] = int(iface["mtu"])
    else:
        sub = {"config": {"index": int(unit), "enabled": iface["enabled"]}}
        if iface.get("description"):
            sub["config"]["description"] = str(iface["description"])
        entry["subinterfaces"]["subinterface"][unit] = sub


def _add_address(tree, addr):
    owner = addr.get("assigned_object") or {}
    if addr.get("assigned_object_type") != "dcim.interface" or not owner.get("name"):
        return
    name, unit = if_name_unit(owner["name"])
    ip, length = addr["address"].split("/")
    family = simplify(addr.get("family")) or (6 if ":" in ip else 4)
    sub = _entry(tree, name)["subinterfaces"]["subinterface"].setdefault(
        unit, {"config": {"index": int(unit), "enabled": True}}
    )
    sub.setdefault(f"ipv{family}", {"addresses": {"address": {}}})["addresses"]["address"][ip] = {
        "config": {"ip": ip, "prefix_length": int(length)}
    }


def interfaces(ifaces, addresses):
    """``openconfig-interfaces`` of a device's interfaces and IP addresses (NetBox objects)."""
    tree = {}
    for iface in ifaces:
        _add_interface(tree, iface)
    for addr in addresses:
        _add_address(tree, addr)
    return {"interfaces": {"interface": tree}}


def lacp(ifaces):
    """``openconfig-lacp`` of a device's LAG members (``interval`` SLOW and ``lacp_mode`` ACTIVE:
    NetBox does not hold them)."""
    tree = {}
    for iface in ifaces:
        if not iface.get("lag"):
            continue
        name, _ = if_name_unit(iface["name"])
        parent = iface["lag"]["name"]
        entry = tree.setdefault(
            parent,
            {
                "config": {"name": parent, "interval": "SLOW", "lacp_mode": "ACTIVE"},
                "members": {"member": {}},
            },
        )
        entry["members"]["member"][name] = {}
    return {"lacp": {"interfaces": {"interface": tree}}}
