"""
Hardware inventory sync for ``netbox.sync_inventory``: read what NetBox holds for a device, plan the
writes (:func:`salt_ext.utils.netbox_ops.inventory.plan_sync`), report them as ``{field: {old,
new}}`` and carry them out in order (serial, MAC objects and primary MACs, inventory items), with a
journal entry naming the Salt job. Also :func:`ensure_mac`, one interface's MAC address object.
"""

import contextlib

from salt.exceptions import SaltInvocationError

from salt_ext.utils.netbox_ops import ops
from salt_ext.utils.netbox_ops.diff import normalize_mac, simplify
from salt_ext.utils.netbox_ops.inventory import plan_sync, reported_serial

__all__ = ["ensure_mac", "plan_for", "planned_changes", "sync_inventory", "write_macs"]


def plan_for(src, dev, inventory):
    """The sync plan of device ``dev`` for ``inventory`` (``hardware.inventory``'s output), from
    what NetBox holds: interfaces, MAC objects (the device's and the reported MACs wherever they
    are), inventory items, manufacturers, and the devices that own the reported serial."""
    interfaces = src.list("dcim.interfaces", {"device_id": dev["id"]})
    reported = []
    for nic in inventory.get("nics") or []:
        with contextlib.suppress(SaltInvocationError, TypeError, AttributeError):
            reported.append(normalize_mac(nic.get("mac")))
    macs = src.list("dcim.mac-addresses", {"device_id": dev["id"]})
    if reported:
        macs += src.list_by("dcim.mac-addresses", "mac_address", reported)
    items = src.list("dcim.inventory-items", {"device_id": dev["id"]})
    manufacturers = src.list("dcim.manufacturers")
    serial = reported_serial(inventory)
    owners = []
    if serial and not (dev.get("serial") or "").strip():
        owners = src.list("dcim.devices", {"serial": serial})
    return plan_sync(
        dev,
        inventory,
        interfaces=interfaces,
        mac_objects=list({m["id"]: m for m in macs}.values()),
        items=items,
        manufacturers=manufacturers,
        serial_owners=owners,
    )


def planned_changes(dev, plan):
    """The plan as ``{field: {old, new}}`` (MACs, primary MACs and items per interface/name)."""
    changes = {}
    if plan["device_patch"]:
        changes["serial"] = {"old": dev.get("serial") or "", "new": plan["device_patch"]["serial"]}
    for create_mac in plan["mac_creates"]:
        changes.setdefault("mac_addresses", {})[create_mac["interface"]] = {
            "old": None,
            "new": create_mac["mac_address"],
        }
    for prim in plan["mac_primaries"]:
        changes.setdefault("primary_mac_address", {})[prim["interface"]] = {
            "old": None,
            "new": prim["mac_address"],
        }
    for item in plan["item_creates"]:
        payload = item["payload"]
        changes.setdefault("inventory_items", {})[payload["name"]] = {
            "old": None,
            "new": {k: payload[k] for k in ("part_id", "serial") if payload.get(k)} or "created",
        }
    for item in plan["item_updates"]:
        changes.setdefault("inventory_items", {})[item["name"]] = item["changes"]
    return changes


def write_macs(src, creates, primaries):
    """
    Carry out the MAC part of a sync plan in at most three requests: new MAC objects (one bulk
    POST), unassigned ones assigned (one bulk PATCH), then the interfaces' primary MACs.
    """

    def assignment(step):
        return {
            "assigned_object_type": "dcim.interface",
            "assigned_object_id": step["interface_id"],
        }

    new = [c for c in creates if not c.get("mac_id")]
    reused = [c for c in creates if c.get("mac_id")]
    made = []
    if new:
        made = src.create(
            "dcim.mac-addresses", [{"mac_address": c["mac_address"], **assignment(c)} for c in new]
        )
    if reused:
        src.bulk_update(
            "dcim.mac-addresses", [{"id": c["mac_id"], **assignment(c)} for c in reused]
        )
    mac_ids = [m["id"] for m in made] + [c["mac_id"] for c in reused]
    patch = [
        {"id": c["interface_id"], "primary_mac_address": mac_id}
        for c, mac_id in zip(new + reused, mac_ids, strict=True)
        if c["set_primary"]
    ]
    patch += [{"id": p["interface_id"], "primary_mac_address": p["mac_id"]} for p in primaries]
    if patch:
        src.bulk_update("dcim.interfaces", patch)


def summary(plan):
    """The journal line of a sync."""
    parts = []
    if plan["device_patch"]:
        parts.append(f"serial set to {plan['device_patch']['serial']}")
    if plan["mac_creates"]:
        names = ", ".join(c["interface"] for c in plan["mac_creates"])
        parts.append(f"{len(plan['mac_creates'])} MAC address(es) recorded ({names})")
    if plan["mac_primaries"]:
        parts.append(f"{len(plan['mac_primaries'])} primary MAC address(es) set")
    if plan["item_creates"]:
        parts.append(f"{len(plan['item_creates'])} inventory item(s) created")
    if plan["item_updates"]:
        parts.append(f"{len(plan['item_updates'])} inventory item(s) updated")
    return "Hardware inventory synced: " + "; ".join(parts)


def _write(src, dev, plan):
    if plan["device_patch"]:
        src.update("dcim.devices", dev["id"], plan["device_patch"])
    write_macs(src, plan["mac_creates"], plan["mac_primaries"])
    if plan["item_creates"]:
        src.create("dcim.inventory-items", [i["payload"] for i in plan["item_creates"]])
    if plan["item_updates"]:
        src.bulk_update(
            "dcim.inventory-items",
            [{"id": i["id"], **i["patch"]} for i in plan["item_updates"]],
        )


def sync_inventory(src, dev, inventory, *, test=False, jid=None, who=None):  # noqa: PLR0913
    """
    Sync device ``dev`` with ``inventory``: the writes in order (nothing with ``test``), and a
    journal entry naming job ``jid`` when something changed. Returns ``{"device", "changes",
    "conflicts", "warnings", "stale_items", "unchanged", "test"}``; conflicts are not written.
    """
    plan = plan_for(src, dev, inventory)
    changes = planned_changes(dev, plan)
    if not test:
        _write(src, dev, plan)
        if changes:
            ops.write_journal(src, "dcim.device", dev["id"], summary(plan), jid=jid, who=who)
    return {
        "device": dev["name"],
        "changes": changes,
        "conflicts": plan["conflicts"],
        "warnings": plan["warnings"],
        "stale_items": plan["stale_items"],
        "unchanged": plan["unchanged"],
        "test": bool(test),
    }


def ensure_mac(src, iface, mac, primary):
    """The MAC address object ``mac`` assigned to interface ``iface`` (created when missing),
    made the interface's primary MAC when ``primary``."""
    found = [
        m
        for m in src.list("dcim.mac-addresses", {"mac_address": mac})
        if m.get("assigned_object_type") == "dcim.interface"
        and m.get("assigned_object_id") == iface["id"]
    ]
    obj = (
        found[0]
        if found
        else src.create(
            "dcim.mac-addresses",
            {
                "mac_address": mac,
                "assigned_object_type": "dcim.interface",
                "assigned_object_id": iface["id"],
            },
        )
    )
    if primary and simplify(iface.get("primary_mac_address")) != obj["id"]:
        src.update("dcim.interfaces", iface["id"], {"primary_mac_address": obj["id"]})
    return obj
