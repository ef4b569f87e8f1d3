"""
Planning of ``netbox.sync_inventory``: what ``hardware.inventory`` found on a server versus what
NetBox holds for its device. Pure: takes the NetBox objects and the inventory dict, returns a
plan; the execution module carries it out.

The inventory dict (``salt_ext.utils.hardware``) looks like::

    {"system": {"vendor", "product", "serial", "uuid", ...},
     "cpu": {"vendor", "packages": [{"socket", "model", "cores", "threads"}]},
     "memory": {"dimms": [{"locator", "slot", "size_bytes", "speed_mts", "part", "serial",
                           "manufacturer", "type"}]},
     "disks": [{"name", "model", "serial", "size_bytes", "vendor"}],
     "nics": [{"name", "mac", "driver", ...}],
     "bmc": {"mac", "ip"},                       # MAC goes on the interface named "bmc"
     "psus": [{"name", "location", "vendor", "model", "serial", "max_power_w", "present"}],
     "warnings": [...]}

Rules:
- the device serial is written only when NetBox's is empty; a different serial is a conflict
  (reported, never overwritten) and then nothing at all is written: the server in the slot may
  not be the device NetBox describes; an empty serial is not filled with a serial NetBox gives
  to another device (the same conflict); placeholder serials (``To Be Filled By O.E.M.``...) are
  ignored;
- every NIC MAC becomes a MAC address object on the interface of the same name (an unassigned
  object of that MAC is assigned rather than duplicated); when the interface has no primary MAC
  it becomes primary; a MAC already on another interface is a conflict;
- CPUs, DIMMs, disks and PSUs become inventory items named by socket/locator/disk/PSU name;
  missing items are created, empty fields filled, a different serial is a conflict; items
  NetBox has but the server did not report are listed (``stale``), never deleted.
"""

import re

from salt_ext.utils.hardware.values import placeholder_reason
from salt_ext.utils.netbox_ops.diff import normalize_mac, simplify

_SPACES = re.compile(r"\s+")
KIND_LABELS = {"cpu": "CPU", "dimm": "DIMM", "disk": "Disk", "psu": "PSU"}


def clean_serial(value):
    """
    A usable serial, or None for missing, placeholder or anonymised values (``To Be Filled By
    O.E.M.``, ``0123456789``, ``4242``): the same rules as the hardware inventory
    (``salt_ext.utils.hardware.values.placeholder_reason``).
    """
    if value is None:
        return None
    text = _SPACES.sub(" ", str(value)).strip()
    if placeholder_reason(text):
        return None
    return text


def serials_equal(left, right):
    return (left or "").strip().upper() == (right or "").strip().upper()


def _first(data, *keys):
    for key in keys:
        value = data.get(key)
        if value not in (None, "", []):
            return value
    return None


def _text(value, limit):
    if value is None:
        return ""
    return _SPACES.sub(" ", str(value)).strip()[:limit]


def _speed_text(speed):
    if speed in (None, "", 0):
        return ""
    if isinstance(speed, (int, float)):
        return f"{speed:g} MT/s"
    return _text(speed, 20)


def _size_text(size_bytes):
    if not isinstance(size_bytes, (int, float)) or size_bytes <= 0:
        return ""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
    value = float(size_bytes)
    unit = 0
    while value >= 1024 and unit < len(units) - 1:
        value /= 1024
        unit += 1
    return f"{value:.0f} {units[unit]}" if value >= 10 else f"{value:.1f} {units[unit]}"


def wanted_items(inventory):
    """
    The inventory items a server's inventory asks for, as a list of
    ``{"kind", "name", "manufacturer", "part_id", "serial", "description"}`` (manufacturer is a
    name, resolved later). Empty DIMM slots are skipped.
    """
    items = []
    cpu_summary = inventory.get("cpu") or {}
    cpus = inventory.get("cpus") or cpu_summary.get("packages") or []
    for index, package in enumerate(cpus):
        if not isinstance(package, dict):
            continue
        cpu = {"vendor": cpu_summary.get("vendor"), **package}
        cores = cpu.get("cores")
        threads = cpu.get("threads")
        detail = ", ".join(
            x
            for x in (f"{cores} cores" if cores else "", f"{threads} threads" if threads else "")
            if x
        )
        items.append(
            {
                "kind": "cpu",
                "name": _text(_first(cpu, "socket", "name", "locator") or f"CPU{index}", 64),
                "manufacturer": _first(cpu, "manufacturer", "vendor"),
                "part_id": _text(_first(cpu, "model", "version", "part"), 50),
                "serial": clean_serial(cpu.get("serial")),
                "description": _text(detail, 200),
            }
        )
    memory = inventory.get("memory") or {}
    for index, dimm in enumerate(memory.get("dimms") or []):
        if not isinstance(dimm, dict):
            continue
        size = dimm.get("size_bytes")
        if not size:
            continue
        detail = " ".join(
            x
            for x in (
                _size_text(size),
                _text(dimm.get("type"), 20),
                _speed_text(dimm.get("speed_mts") or dimm.get("speed")),
            )
            if x
        )
        items.append(
            {
                "kind": "dimm",
                "name": _text(_first(dimm, "locator", "slot", "name") or f"DIMM{index}", 64),
                "manufacturer": _first(dimm, "manufacturer", "vendor"),
                "part_id": _text(_first(dimm, "part", "part_number", "model"), 50),
                "serial": clean_serial(dimm.get("serial")),
                "description": _text(detail, 200),
            }
        )
    for index, disk in enumerate(inventory.get("disks") or []):
        if not isinstance(disk, dict):
            continue
        items.append(
            {
                "kind": "disk",
                "name": _text(_first(disk, "name", "path", "device") or f"disk{index}", 64),
                "manufacturer": _first(disk, "manufacturer", "vendor"),
                "part_id": _text(_first(disk, "model", "part"), 50),
                "serial": clean_serial(disk.get("serial")),
                "description": _text(_size_text(disk.get("size_bytes")), 200),
            }
        )
    for index, psu in enumerate(inventory.get("psus") or []):
        if not isinstance(psu, dict) or psu.get("present") is False:
            continue
        watts = psu.get("max_power_w") or psu.get("capacity_w") or psu.get("watts")
        items.append(
            {
                "kind": "psu",
                "name": _text(_first(psu, "name", "locator", "location") or f"PSU{index}", 64),
                "manufacturer": _first(psu, "manufacturer", "vendor"),
                "part_id": _text(_first(psu, "model", "part", "part_number"), 50),
                "serial": clean_serial(psu.get("serial")),
                "description": _text(f"{watts} W" if watts else "", 200),
            }
        )
    # Two items may not share a name on one device: suffix duplicates.
    seen = {}
    for item in items:
        base = item["name"]
        count = seen.get(base, 0)
        seen[base] = count + 1
        if count:
            item["name"] = f"{base} #{count + 1}"[:64]
    return items


def reported_serial(inventory):
    """The usable system serial of a ``hardware.inventory`` dict, or None."""
    return clean_serial((inventory.get("system") or {}).get("serial"))


def plan_serial(device, inventory, serial_owners=()):
    """
    ``(patch, conflict, warning)`` for the device serial. ``serial_owners``: the NetBox devices
    whose serial is the reported one (an empty serial is only filled when no other device has
    it: the server would otherwise be another device, racked in the wrong slot).
    """
    system = inventory.get("system") or {}
    reported_raw = system.get("serial")
    reported = clean_serial(reported_raw)
    current = (device.get("serial") or "").strip()
    if reported is None:
        if reported_raw not in (None, ""):
            return {}, None, f"ignored placeholder system serial {reported_raw!r}"
        return {}, None, None
    if not current:
        others = sorted(
            str(d.get("name") or f"#{d.get('id')}")
            for d in serial_owners
            if d.get("id") != device.get("id") and serials_equal(d.get("serial"), reported)
        )
        if not others:
            return {"serial": reported}, None, None
        return (
            {},
            {
                "object": f"device {device.get('name')}",
                "field": "serial",
                "netbox": f"{reported} on {', '.join(others)}",
                "reported": reported,
                "message": (
                    f"serial conflict on device {device.get('name')!r}: the server reports "
                    f"{reported!r}, which NetBox gives to {', '.join(others)}; not written. "
                    "Check that the right server is in this slot"
                ),
            },
            None,
        )
    if serials_equal(current, reported):
        return {}, None, None
    conflict = {
        "object": f"device {device.get('name')}",
        "field": "serial",
        "netbox": current,
        "reported": reported,
        "message": (
            f"serial conflict on device {device.get('name')!r}: NetBox has {current!r} but the "
            f"server reports {reported!r}; not overwritten. Check that the right server is in "
            "this slot, then correct the serial in NetBox by hand"
        ),
    }
    return {}, conflict, None


def plan_macs(device, interfaces, mac_objects, inventory):
    """
    Plan MAC address objects for the NICs the server reported.

    ``interfaces``: the device's interfaces; ``mac_objects``: every MAC address object whose
    ``mac_address`` is one of the reported MACs or that is on one of the interfaces.
    Returns ``(creates, primaries, conflicts, warnings, unchanged)``.
    """
    by_name = {iface["name"]: iface for iface in interfaces}
    by_id = {iface["id"]: iface for iface in interfaces}
    macs = {}
    for mac in mac_objects:
        try:
            macs.setdefault(normalize_mac(mac["mac_address"]), []).append(mac)
        except Exception:  # pylint: disable=broad-except
            continue
    creates, primaries, conflicts, warnings = [], [], [], []
    unchanged = 0
    nics = list(inventory.get("nics") or [])
    bmc = inventory.get("bmc") or {}
    if isinstance(bmc, dict) and bmc.get("mac") and "bmc" in by_name:
        nics.append({"name": "bmc", "mac": bmc["mac"]})
    for nic in nics:
        if not isinstance(nic, dict) or not nic.get("mac") or not nic.get("name"):
            continue
        try:
            mac = normalize_mac(nic["mac"])
        except Exception:  # pylint: disable=broad-except
            warnings.append(f"NIC {nic.get('name')!r}: {nic.get('mac')!r} is not a MAC address")
            continue
        if mac == "00:00:00:00:00:00":
            continue
        iface = by_name.get(nic["name"])
        if iface is None:
            warnings.append(
                f"NIC {nic['name']} ({mac}) has no interface of that name on device "
                f"{device.get('name')!r} in NetBox; MAC not recorded"
            )
            continue
        if iface.get("type") and simplify(iface["type"]) in ("lag", "virtual", "bridge"):
            continue
        existing = macs.get(mac, [])
        here = [
            m
            for m in existing
            if m.get("assigned_object_type") == "dcim.interface"
            and m.get("assigned_object_id") == iface["id"]
        ]
        elsewhere = [m for m in existing if m not in here and m.get("assigned_object_id")]
        if elsewhere and not here:
            other = elsewhere[0]
            owner = other.get("assigned_object") or {}
            owner_iface = by_id.get(other.get("assigned_object_id"))
            # LAG/bond interfaces legitimately share a member's MAC.
            if owner_iface is not None and simplify(owner_iface.get("type")) in ("lag", "bridge"):
                pass
            else:
                where = owner.get("name") or other.get("assigned_object_id")
                dev = (owner.get("device") or {}).get("name")
                conflicts.append(
                    {
                        "object": f"interface {device.get('name')}:{iface['name']}",
                        "field": "mac_address",
                        "netbox": f"{mac} on {dev + ':' if dev else ''}{where}",
                        "reported": mac,
                        "message": (
                            f"MAC {mac} reported on {device.get('name')}:{iface['name']} is "
                            f"already assigned to {dev + ':' if dev else ''}{where} in NetBox; "
                            "not moved"
                        ),
                    }
                )
                continue
        primary = iface.get("primary_mac_address")
        if here:
            unchanged += 1
            if not primary:
                primaries.append(
                    {
                        "interface_id": iface["id"],
                        "interface": iface["name"],
                        "mac_id": here[0]["id"],
                        "mac_address": mac,
                    }
                )
            continue
        create = {
            "interface_id": iface["id"],
            "interface": iface["name"],
            "mac_address": mac,
            "set_primary": not primary,
        }
        free = [m for m in existing if not m.get("assigned_object_id")]
        if free:  # an unassigned object of that MAC exists: assign it rather than add another
            create["mac_id"] = free[0]["id"]
        creates.append(create)
    return creates, primaries, conflicts, warnings, unchanged


def plan_items(device, items, inventory, manufacturers):
    """
    Plan inventory items. ``items``: the device's current inventory items; ``manufacturers``:
    manufacturer objects (to resolve names, case-insensitive on name or slug).
    Returns ``(creates, updates, conflicts, stale, unchanged)``.
    """
    by_mfr = {}
    for mfr in manufacturers:
        by_mfr[str(mfr.get("name", "")).lower()] = mfr["id"]
        by_mfr[str(mfr.get("slug", "")).lower()] = mfr["id"]
    current = {item["name"]: item for item in items}
    creates, updates, conflicts = [], [], []
    unchanged = 0
    wanted = wanted_items(inventory)
    for want in wanted:
        mfr_id = None
        if want["manufacturer"]:
            mfr_id = by_mfr.get(str(want["manufacturer"]).strip().lower())
        have = current.get(want["name"])
        if have is None:
            payload = {
                "device": device["id"],
                "name": want["name"],
                "part_id": want["part_id"],
                "serial": want["serial"] or "",
                "description": want["description"],
                "discovered": True,
            }
            if mfr_id:
                payload["manufacturer"] = mfr_id
            creates.append({"kind": want["kind"], "payload": payload})
            continue
        patch, changes = {}, {}
        have_serial = (have.get("serial") or "").strip()
        if want["serial"]:
            if not have_serial:
                patch["serial"] = want["serial"]
            elif not serials_equal(have_serial, want["serial"]):
                conflicts.append(
                    {
                        "object": f"inventory item {device.get('name')}:{want['name']}",
                        "field": "serial",
                        "netbox": have_serial,
                        "reported": want["serial"],
                        "message": (
                            f"serial conflict on {KIND_LABELS[want['kind']]} {want['name']!r} of "
                            f"{device.get('name')!r}: NetBox has {have_serial!r}, the server "
                            f"reports {want['serial']!r}; not overwritten"
                        ),
                    }
                )
        for field in ("part_id", "description"):
            if want[field] and (have.get(field) or "") != want[field]:
                patch[field] = want[field]
        if mfr_id and simplify(have.get("manufacturer")) != mfr_id:
            patch["manufacturer"] = mfr_id
        for field, value in patch.items():
            old = have.get(field)
            changes[field] = {"old": simplify(old) if old not in (None, "") else old, "new": value}
        if patch:
            updates.append(
                {"id": have["id"], "name": want["name"], "patch": patch, "changes": changes}
            )
        else:
            unchanged += 1
    wanted_names = {w["name"] for w in wanted}
    stale = sorted(name for name in current if name not in wanted_names)
    return creates, updates, conflicts, stale, unchanged


def plan_sync(
    device, inventory, *, interfaces, mac_objects, items, manufacturers, serial_owners=()
):
    """
    The whole plan for one device. Returns a dict with ``device_patch``, ``mac_creates``,
    ``mac_primaries``, ``item_creates``, ``item_updates``, ``conflicts``, ``stale_items``,
    ``warnings`` and ``unchanged`` (count of things already right). ``serial_owners``: see
    :func:`plan_serial`.
    """
    if not isinstance(inventory, dict):
        raise TypeError("inventory must be the dict returned by hardware.inventory")
    device_patch, serial_conflict, serial_warning = plan_serial(device, inventory, serial_owners)
    mac_creates, primaries, mac_conflicts, warnings, mac_unchanged = plan_macs(
        device, interfaces, mac_objects, inventory
    )
    creates, updates, item_conflicts, stale, item_unchanged = plan_items(
        device, items, inventory, manufacturers
    )
    conflicts = ([serial_conflict] if serial_conflict else []) + mac_conflicts + item_conflicts
    if serial_warning:
        warnings.insert(0, serial_warning)
    if serial_conflict:
        # another server's MACs and parts must not land on this device: write nothing
        skipped = len(mac_creates) + len(primaries) + len(creates) + len(updates)
        mac_creates, primaries, creates, updates = [], [], [], []
        warnings.insert(
            0,
            f"nothing written to device {device.get('name')!r} ({skipped} change(s) held "
            "back): its serial in NetBox is not the server's, so this may be another server",
        )
    return {
        "device_patch": device_patch,
        "mac_creates": mac_creates,
        "mac_primaries": primaries,
        "item_creates": creates,
        "item_updates": updates,
        "conflicts": conflicts,
        "stale_items": stale,
        "warnings": warnings + [str(w) for w in inventory.get("warnings") or []],
        "unchanged": mac_unchanged + item_unchanged + (0 if device_patch or serial_conflict else 1),
    }
