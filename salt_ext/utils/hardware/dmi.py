"""
``dmidecode`` text output -> normalised system, board, chassis, BIOS, CPU, memory, PSU, IPMI
and vendor (OEM) data.

Works on every dmidecode version seen in the field (2.12 - 3.4), on vendor OEM record types
(HP 209/216/233), with absent records, repeated locators and placeholder values.
"""

import re

from salt_ext.utils.hardware.values import clean
from salt_ext.utils.hardware.values import mac as norm_mac
from salt_ext.utils.hardware.values import raw, size_bytes, speed_number, to_int

_HANDLE = re.compile(r"^Handle (0x[0-9A-Fa-f]+), DMI type (\d+), (\d+) bytes")


def parse_records(text):
    """
    Split dmidecode output into records:
    ``[{"handle": "0x0100", "type": 1, "title": "System Information",
    "props": {"Serial Number": "...", "Flags": [...]}}]``.

    A property followed by deeper-indented lines becomes a list of those lines (Flags,
    Characteristics, Strings, ...). Repeated properties keep the first value; the raw list of
    all (key, value) pairs is in ``"items"``.
    """
    records = []
    current = None
    last_key = None
    for line in (text or "").splitlines():
        match = _HANDLE.match(line)
        if match:
            current = {
                "handle": match.group(1),
                "type": int(match.group(2)),
                "title": None,
                "props": {},
                "items": [],
            }
            records.append(current)
            last_key = None
            continue
        if current is None or not line.strip():
            last_key = None
            continue
        if not line.startswith("\t") and current["title"] is None:
            current["title"] = line.strip()
            continue
        if line.startswith("\t\t"):
            if last_key is not None:
                value = current["props"].get(last_key)
                if not isinstance(value, list):
                    value = [] if value in (None, "") else [value]
                    current["props"][last_key] = value
                value.append(line.strip())
            continue
        if line.startswith("\t"):
            key, sep, value = line.strip().partition(":")
            if not sep:
                last_key = None
                current["items"].append((line.strip(), None))
                continue
            key = key.strip()
            value = value.strip()
            current["items"].append((key, value))
            last_key = key
            if key not in current["props"]:
                current["props"][key] = value
    return records


def _by_type(records, dmi_type):
    return [r for r in records if r["type"] == dmi_type]


def _first(records, dmi_type):
    found = _by_type(records, dmi_type)
    return found[0]["props"] if found else {}


def _bios(records):
    props = _first(records, 0)
    if not props:
        return {}
    return {
        "vendor": clean(props.get("Vendor")),
        "version": clean(props.get("Version")),
        "date": clean(props.get("Release Date")),
        "revision": clean(props.get("BIOS Revision")),
        "firmware_revision": clean(props.get("Firmware Revision")),
    }


def _system(records):
    props = _first(records, 1)
    if not props:
        return {}
    return {
        "vendor": clean(props.get("Manufacturer")),
        "product": clean(props.get("Product Name")),
        "version": clean(props.get("Version")),
        "serial": raw(props.get("Serial Number")),
        "uuid": raw(props.get("UUID")),
        "sku": clean(props.get("SKU Number")),
        "family": clean(props.get("Family")),
    }


def _board(records):
    boards = _by_type(records, 2)
    if not boards:
        return {}
    # The hosting board (motherboard) first; Dell blades also list an interconnect board.
    boards.sort(
        key=lambda r: 0 if "Board is a hosting board" in (r["props"].get("Features") or []) else 1
    )
    props = boards[0]["props"]
    return {
        "vendor": clean(props.get("Manufacturer")),
        "product": clean(props.get("Product Name")),
        "version": clean(props.get("Version")),
        "serial": raw(props.get("Serial Number")),
        "location": clean(props.get("Location In Chassis")),
    }


def _chassis(records):
    props = _first(records, 3)
    if not props:
        return {}
    return {
        "vendor": clean(props.get("Manufacturer")),
        "type": clean(props.get("Type")),
        "version": clean(props.get("Version")),
        "serial": raw(props.get("Serial Number")),
        "asset_tag": clean(props.get("Asset Tag")),
        "height_u": to_int((props.get("Height") or "").split(" ")[0]),
    }


def _cpus(records):
    packages = []
    for rec in _by_type(records, 4):
        props = rec["props"]
        kind = clean(props.get("Type"))
        if kind and kind != "Central Processor":  # math/video processors
            continue
        status = props.get("Status") or ""
        populated = "Populated" in status and "Unpopulated" not in status
        packages.append(
            {
                "socket": clean(props.get("Socket Designation")),
                "model": clean(props.get("Version")),
                "vendor": clean(props.get("Manufacturer")),
                "cores": to_int(props.get("Core Enabled")) or to_int(props.get("Core Count")),
                "threads": to_int(props.get("Thread Count")),
                "max_speed_mhz": speed_number(props.get("Max Speed")),
                "populated": populated,
                "status": clean(status),
            }
        )
    return packages


def _memory(records):
    dimms = []
    seen = set()
    for rec in _by_type(records, 17):
        props = rec["props"]
        size = props.get("Size") or ""
        locator = clean(props.get("Locator"))
        bank = clean(props.get("Bank Locator"))
        slot = locator or bank or f"unlabelled {rec['handle']}"
        if slot in seen and bank:
            slot = f"{bank}/{locator}"
        if slot in seen:
            slot = f"{slot}#{rec['handle']}"
        seen.add(slot)
        installed = bool(re.match(r"^\s*\d", size))
        dimms.append(
            {
                "slot": slot,
                "locator": locator,
                "bank": bank,
                "installed": installed,
                "size_bytes": size_bytes(size) if installed else None,
                "type": clean(props.get("Type")),
                "speed_mts": speed_number(clean(props.get("Speed"))),
                "configured_speed_mts": speed_number(
                    clean(
                        props.get("Configured Memory Speed") or props.get("Configured Clock Speed")
                    )
                ),
                "manufacturer": clean(props.get("Manufacturer")),
                "part": clean(props.get("Part Number")),
                "serial": raw(props.get("Serial Number")),
            }
        )
    return dimms


def _psus(records):
    psus = []
    for rec in _by_type(records, 39):
        props = rec["props"]
        status = props.get("Status") or ""
        psus.append(
            {
                "name": clean(props.get("Name")),
                "location": clean(props.get("Location")),
                "vendor": clean(props.get("Manufacturer")),
                "model": clean(props.get("Model Part Number")),
                "serial": raw(props.get("Serial Number")),
                "revision": clean(props.get("Revision")),
                "max_power_w": speed_number(clean(props.get("Max Power Capacity"))),
                "present": status.startswith("Present"),
                "status": clean(status),
                "hot_replaceable": (props.get("Hot Replaceable") or "").lower() == "yes",
            }
        )
    return psus


def _ipmi(records):
    props = _first(records, 38)
    if not props:
        return {}
    return {
        "interface": clean(props.get("Interface Type")),
        "spec_version": clean(props.get("Specification Version")),
    }


_OEM_NIC = re.compile(
    r"NIC (\d+): PCI device ([0-9A-Fa-f:.]+), MAC address ([0-9A-Fa-f:]{17})", re.I
)


def _oem_nics(records):
    """HP records 209/233 list embedded NICs with PCI address and MAC."""
    nics = {}
    for rec in records:
        if rec["type"] not in (209, 233):
            continue
        lines = [k if v is None else f"{k}: {v}" for k, v in rec["items"]]
        for line in lines:
            match = _OEM_NIC.search(line)
            if match:
                pci = match.group(2)
                if pci.count(":") == 1:
                    pci = f"0000:{pci}"
                nics[pci.lower()] = {
                    "index": int(match.group(1)),
                    "pci": pci.lower(),
                    "mac": norm_mac(match.group(3)),
                }
    return sorted(nics.values(), key=lambda n: n["index"])


def _onboard(records):
    devices = []
    for rec in _by_type(records, 41):
        props = rec["props"]
        devices.append(
            {
                "name": clean(props.get("Reference Designation")),
                "type": clean(props.get("Type")),
                "enabled": (props.get("Status") or "") == "Enabled",
                "pci": (clean(props.get("Bus Address")) or "").lower() or None,
            }
        )
    return devices


def _oem_firmware(records):
    """HP record 216: pairs of (component, version) strings."""
    firmware = {}
    for rec in _by_type(records, 216):
        strings = rec["props"].get("Strings")
        if isinstance(strings, list) and len(strings) >= 2:
            firmware[strings[0]] = strings[1]
    return firmware


def parse_dmidecode(text):
    """
    Parse ``dmidecode`` output into::

        {"bios": {...}, "system": {...}, "board": {...}, "chassis": {...},
         "cpus": [...], "dimms": [...], "psus": [...], "ipmi": {...},
         "oem_nics": [...], "onboard": [...], "oem_firmware": {...}, "record_count": N}

    Serial numbers are kept as printed (placeholders are detected later); other descriptive
    fields have firmware placeholders ("Not Specified") turned into ``None``.
    """
    records = parse_records(text)
    system = _system(records)
    # Record 216 means "firmware versions" only on HP/HPE; Dell uses it for something else.
    is_hp = (system.get("vendor") or "").upper() in ("HP", "HPE", "HEWLETT-PACKARD")
    return {
        "bios": _bios(records),
        "system": system,
        "board": _board(records),
        "chassis": _chassis(records),
        "cpus": _cpus(records),
        "dimms": _memory(records),
        "psus": _psus(records),
        "ipmi": _ipmi(records),
        "oem_nics": _oem_nics(records),
        "onboard": _onboard(records),
        "oem_firmware": _oem_firmware(records) if is_hp else {},
        "record_count": len(records),
    }
