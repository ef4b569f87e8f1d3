"""
``dmidecode`` text output -> normalised system, board, chassis, BIOS, CPU, memory, PSU, IPMI
and vendor (OEM) data.

Works on every dmidecode version seen in the field (2.12 - 3.6), on vendor OEM record types
(HP/HPE 209/216/221/233, decoded from their ``Header and Data`` bytes when the dmidecode in use
prints them only as a hex dump), with absent records, repeated locators and placeholder values.
"""

import re

from salt_ext.utils.hardware.values import clean
from salt_ext.utils.hardware.values import mac as norm_mac
from salt_ext.utils.hardware.values import raw, size_bytes, speed_number, to_int

HP_VENDORS = ("HP", "HPE", "HEWLETT-PACKARD", "HEWLETT PACKARD ENTERPRISE")
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


_SIGNATURE = re.compile(r"Family (\d+), Model (\d+), Stepping (\d+)", re.I)


def _cpu_signature(props):
    """
    ``(family, model, stepping)`` from ``Signature: Type 0, Family 6, Model 79, Stepping 1``, or
    computed from the CPUID leaf 1 EAX value that ``ID`` starts with (little-endian bytes, the way
    dmidecode prints it: ``F1 06 04 00 ...`` is EAX 0x000406F1) when dmidecode prints no signature.
    """
    match = _SIGNATURE.search(props.get("Signature") or "")
    if match:
        return tuple(int(g) for g in match.groups())
    cpu_id = (props.get("ID") or "").split()
    if len(cpu_id) < 4 or not all(re.fullmatch(r"[0-9A-Fa-f]{2}", b) for b in cpu_id[:4]):
        return None, None, None
    eax = int.from_bytes(bytes(int(b, 16) for b in cpu_id[:4]), "little")
    if not eax:
        return None, None, None
    family = (eax >> 8) & 0xF
    model = (eax >> 4) & 0xF
    if family == 0xF:
        family += (eax >> 20) & 0xFF
    if family == 6 or family >= 0xF:
        model += ((eax >> 16) & 0xF) << 4
    return family, model, eax & 0xF


def _socket_type(upgrade):
    """``Upgrade: Socket LGA2011-3`` -> ``LGA2011-3``; ``Other``/``Unknown`` -> ``None``."""
    value = clean(upgrade)
    if value in (None, "Other"):
        return None
    return re.sub(r"^Socket\s+", "", value) or None


def _cpus(records):
    packages = []
    for rec in _by_type(records, 4):
        props = rec["props"]
        kind = clean(props.get("Type"))
        if kind and kind != "Central Processor":  # math/video processors
            continue
        status = props.get("Status") or ""
        populated = "Populated" in status and "Unpopulated" not in status
        family, model_number, stepping = _cpu_signature(props) if populated else (None,) * 3
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
                "signature": (
                    f"Family {family}, Model {model_number}, Stepping {stepping}"
                    if family is not None
                    else None
                ),
                "family_number": family,
                "model_number": model_number,
                "stepping": stepping,
                "cpuid": clean(props.get("ID")),
                "socket_type": _socket_type(props.get("Upgrade")),
            }
        )
    return packages


def _module_kind(detail):
    """SMBIOS type 17 Type Detail flags -> ``LRDIMM`` / ``RDIMM`` / ``UDIMM`` / ``None``."""
    words = detail or ""
    if "LRDIMM" in words or "Load Reduced" in words:
        return "LRDIMM"
    if "Registered" in words:
        return "RDIMM"
    if "Unbuffered" in words:
        return "UDIMM"
    return None


def _dimm_ecc(props):
    """ECC DIMMs have a total width above their data width (72 vs 64 bits); ``None`` if unknown."""
    total = speed_number(clean(props.get("Total Width")))
    data = speed_number(clean(props.get("Data Width")))
    if not total or not data:
        return None
    return total > data


def _memory_arrays(records):
    """SMBIOS type 16 (Physical Memory Array) records used as system memory."""
    arrays = []
    for rec in _by_type(records, 16):
        props = rec["props"]
        use = clean(props.get("Use"))
        if use not in (None, "System Memory"):
            continue  # video/flash/cache arrays
        correction = raw(props.get("Error Correction Type"))
        if correction in ("Unknown", "Other"):
            correction = None
        maximum = clean(props.get("Maximum Capacity"))
        arrays.append(
            {
                "handle": rec["handle"],
                "location": clean(props.get("Location")),
                "error_correction": correction,
                "ecc": None if correction is None else "ECC" in correction.upper(),
                "max_capacity_bytes": size_bytes(maximum) if maximum else None,
                "slots": to_int(props.get("Number Of Devices")),
            }
        )
    return arrays


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
        detail = props.get("Type Detail")
        if isinstance(detail, list):  # several flags, one per line
            detail = " ".join(detail)
        dimms.append(
            {
                "slot": slot,
                "locator": locator,
                "bank": bank,
                "installed": installed,
                "size_bytes": size_bytes(size) if installed else None,
                "type": clean(props.get("Type")),
                "type_detail": clean(detail),
                "module": _module_kind(detail),
                "form_factor": clean(props.get("Form Factor")),
                "ecc": _dimm_ecc(props),
                "rank": to_int(clean(props.get("Rank"))),
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
_HEX_BYTE = re.compile(r"^[0-9A-Fa-f]{2}$")


def record_bytes(rec):
    """
    The structure bytes of a record from its ``Header and Data`` hex dump (dmidecode prints it for
    every type it cannot decode, and for all of them with ``-u``), header included, so that
    ``data[offset]`` follows the offsets of the SMBIOS spec and the vendor documents. ``None``
    when the record has no (complete) dump.
    """
    lines = rec["props"].get("Header and Data")
    if not isinstance(lines, list) or not lines:
        return None
    data = []
    for line in lines:
        words = line.split()
        if not words or not all(_HEX_BYTE.match(w) for w in words):
            return None  # not a dump line: dmidecode mixed another record in
        data.extend(int(w, 16) for w in words)
    if len(data) < 4 or data[0] != rec["type"] or len(data) < data[1]:
        return None
    return bytes(data[: data[1]])


def record_strings(rec):
    """The record's string set (``Strings:`` of a hex-dumped record), numbered from 1."""
    strings = rec["props"].get("Strings")
    if isinstance(strings, list):
        return strings
    return [strings] if strings else []


def _string(strings, number):
    return strings[number - 1] if 0 < number <= len(strings) else None


def _pci(bus, devfn, segment=0):
    return f"{segment:04x}:{bus:02x}:{devfn >> 3:02x}.{devfn & 7:x}"


def _mac_bytes(raw_mac):
    return norm_mac(":".join(f"{b:02x}" for b in raw_mac))


def _nic_entry(port, pci, mac, rec):
    return {
        "index": port,
        "port": port,
        "pci": pci.lower(),
        "mac": mac,
        "type": rec["type"],
        "handle": rec["handle"],
    }


def _nics_from_text(rec):
    """``NIC 1: PCI device 06:00.0, MAC address ...`` lines of dmidecode's own decoding."""
    found = []
    lines = [k if v is None else f"{k}: {v}" for k, v in rec["items"]]
    for line in lines:
        match = _OEM_NIC.search(line)
        if match:
            pci = match.group(2)
            if pci.count(":") == 1:
                pci = f"0000:{pci}"
            found.append(_nic_entry(int(match.group(1)), pci, norm_mac(match.group(3)), rec))
    return found


def _nics_from_bytes(rec, data):
    """
    HPE OEM NIC records decoded from their bytes:

    - 209 (PXE) / 221 (iSCSI): from offset 4, 8-byte entries ``dev/fn, bus, MAC[6]``; entry N is
      NIC N; ``00 00`` is a disabled, ``FF FF`` an absent NIC;
    - 233: segment (WORD at 4), bus (6), dev/fn (7), MAC (8, padded to 32 bytes), port number
      (0x28; absent on short records, then numbered in order like dmidecode does).
    """
    found = []
    if rec["type"] in (209, 221):
        for number, pos in enumerate(range(4, len(data) - 7, 8), start=1):
            devfn, bus = data[pos], data[pos + 1]
            if (devfn, bus) in ((0, 0), (0xFF, 0xFF)):
                continue
            mac = _mac_bytes(data[pos + 2 : pos + 8])
            if mac:
                found.append(_nic_entry(number, _pci(bus, devfn), mac, rec))
    elif rec["type"] == 233 and len(data) >= 0x0E:
        segment = data[4] | data[5] << 8
        bus, devfn = data[6], data[7]
        port = data[0x28] if len(data) > 0x28 else None
        mac = _mac_bytes(data[8:14])
        if (bus, devfn) not in ((0, 0), (0xFF, 0xFF)) and mac:
            found.append(_nic_entry(port, _pci(bus, devfn, segment), mac, rec))
    return found


def _oem_nics(records, is_hp=True):
    """
    HP/HPE records 233 (one per NIC port), 209 (PXE) and 221 (iSCSI) list the embedded NICs with
    their PCI address and MAC. The table is keyed by port: the ports of one multi-port NIC can
    share a PCI function (ConnectX-3 and other single-function dual-port cards), so keying by PCI
    address would keep only the last port. Type 233 names the port explicitly and is preferred;
    209/221 add ports it does not list. Records dmidecode prints only as a hex dump are decoded
    from their bytes (HP/HPE systems only: other vendors use these type numbers differently).
    """
    by_type = {233: [], 209: [], 221: []}
    for rec in records:
        if rec["type"] not in by_type:
            continue
        found = _nics_from_text(rec)
        data = record_bytes(rec) if not found and is_hp else None
        if data is not None:
            found = _nics_from_bytes(rec, data)
        by_type[rec["type"]].extend(found)
    nics = {}
    seen_macs = set()
    for dmi_type in (233, 209, 221):
        counter = 0
        for nic in by_type[dmi_type]:
            counter += 1
            if nic["port"] is None:
                nic["port"] = nic["index"] = counter
            if nic["mac"] in seen_macs:
                continue  # the same port, listed by another record type
            if nic["port"] in nics:
                # 209/221 number NICs by position, not by port: a NIC 233 does not list keeps
                # its own entry under the next free number instead of replacing a port.
                nic["port"] = nic["index"] = max(nics) + 1
            nics[nic["port"]] = nic
            seen_macs.add(nic["mac"])
    return [nics[port] for port in sorted(nics)]


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


#: HPE type 216 firmware types (offset 4) for records without a name string.
HP_FIRMWARE_TYPES = {
    0x01: "System ROM",
    0x02: "Redundant System ROM",
    0x03: "System ROM Bootblock",
    0x04: "Power Management Controller Firmware",
    0x05: "Power Management Controller Firmware Bootloader",
    0x06: "SL Chassis Firmware",
    0x07: "SL Chassis Firmware Bootloader",
    0x08: "Hardware PAL/CPLD",
    0x09: "SPS Firmware (ME Firmware)",
    0x0A: "SL Chassis PAL/CPLD",
    0x0B: "Compatibility Support Module (CSM)",
    0x0C: "APML",
    0x0D: "Smart Storage Battery (Megacell) Firmware",
    0x0E: "Trusted Module (TPM or TCM) Firmware Version",
    0x0F: "NVMe Backplane Firmware",
    0x10: "Intelligent Provisioning",
    0x11: "SPI Descriptor Version",
    0x12: "Innovation Engine Firmware (IE Firmware)",
    0x13: "UMB Backplane Firmware",
    0x30: "Embedded Video Controller",
    0x31: "PCIe Riser Programmable Logic Device",
    0x32: "PCIe cards that contain a CPLD",
    0x33: "Intel NVMe VROC",
    0x34: "Intel SATA VROC",
    0x35: "Intel SPS Firmware",
    0x36: "Secondary System Programmable Logic Device",
    0x37: "CPU MEZZ Programmable Logic Device",
}


def hp_generation(product):
    """``ProLiant BL460c Gen9`` -> 9 (``Gen10 Plus`` -> 10.5); ``None`` if not a ProLiant-style name."""
    match = re.search(r"\bGen(\d+)( Plus)?\b", product or "")
    if match:
        return int(match.group(1)) + (0.5 if match.group(2) else 0)
    match = re.search(r"\bG([67])\b", product or "")
    return int(match.group(1)) if match else None


def _word(data, pos):
    return data[pos] | data[pos + 1] << 8


def _dword(data, pos):
    return _word(data, pos) | _word(data, pos + 2) << 16


def hp_216_version(fmt, data, generation=None):
    """
    Decode the version bytes (offset 9 on) of an HPE type 216 record in data format ``fmt``
    (offset 8), as HPE documents them and dmidecode prints them; ``None`` for "no version data"
    and reserved/unknown formats.
    """
    data = bytes(data) + bytes(12)
    if fmt == 1:  # PAL/CPLD revision; bit 7 marks a build revision
        if data[0] >> 7:
            return f"0x{data[1] & 0x7F:02X} B.0x{data[0] & 0x7F:02X}"
        return f"0x{data[1] & 0x7F:02X}"
    if fmt == 2:
        return f"{data[0] >> 4}.{data[0] & 0x0F}"
    if fmt == 4 or (fmt == 5 and generation is not None and int(generation) == 9):
        return f"{data[0] >> 4}.{data[0] & 0x0F}.{data[1] & 0x7F}"
    if fmt == 5 and generation is not None and int(generation) == 10:
        return f"{data[1] & 0x0F}.{data[3] & 0x0F}.{data[5] & 0x0F}.{data[6] & 0x0F}"
    if fmt == 6:
        return f"{data[1]}.{data[0]}"
    if fmt == 7:
        return f"v{data[0]}.{data[1]:02d} ({data[2]:02d}/{data[3]:02d}/{_word(data, 4)})"
    if fmt == 8:
        return f"{_word(data, 4)}.{_word(data, 0)}"
    if fmt == 9:
        return f"{data[0]}.{data[1]}.{_word(data, 2)}"
    if fmt == 10:
        return f"{data[0]}.{data[1]}.{data[2]} Build {data[3]}"
    if fmt == 11:
        return f"{_word(data, 2)}.{_word(data, 0)} {_dword(data, 4)}"
    if fmt == 12:
        return ".".join(str(_word(data, pos)) for pos in (0, 2, 4, 6))
    if fmt == 13:
        return str(data[0])
    if fmt == 14:
        return ".".join(str(b) for b in data[:4])
    if fmt == 15:
        words = ".".join(str(_word(data, pos)) for pos in (0, 2, 4, 6))
        return f"{words} ({data[8]:02d}/{data[9]:02d}/{_word(data, 10)})"
    if fmt == 16:
        return f"{data[:4].decode('ascii', 'replace')}.{data[4]}{data[5]}"
    if fmt == 17:
        return f"{_dword(data, 0):08X}"
    if fmt == 18:
        return f"{data[0]}.{data[1]:2d}"
    return None


def _oem_firmware(records, product=None):
    """
    HP/HPE record 216, one per firmware component: name and version. dmidecode >= 3.5 decodes it
    (``Firmware Name String``, ``Firmware Version String``, ``Version Data``); older ones print
    the hex dump and the strings, and components that carry their version only in the data bytes
    (CPLD, SPS/ME, SPI descriptor, Innovation Engine) have no version string at all: the bytes
    are decoded (offset 4 firmware type, 6 name string, 7 version string, 8 data format, 9 on
    version data).
    """
    generation = hp_generation(product)
    firmware = {}
    for rec in _by_type(records, 216):
        props = rec["props"]
        name = version = None
        if props.get("Firmware Name String") is not None:
            name = clean(props.get("Firmware Name String")) or clean(props.get("Firmware Type"))
            version = clean(props.get("Firmware Version String"))
            data_version = clean(props.get("Version Data"))
            if not version and data_version not in ("No Version Data", "Reserved"):
                version = data_version
        else:
            strings = record_strings(rec)
            data = record_bytes(rec)
            if data is not None and len(data) >= 9:
                name = clean(_string(strings, data[6])) or HP_FIRMWARE_TYPES.get(_word(data, 4))
                version = clean(_string(strings, data[7]))
                if not version:
                    version = hp_216_version(data[8], data[9:21], generation)
            elif len(strings) >= 2:
                name, version = strings[0], strings[1]
        if name and version and name not in firmware:
            firmware[name] = version
    return firmware


def _slots(records):
    """SMBIOS type 9 (System Slots): designation, type, usage and bus address of every slot."""
    slots = []
    for rec in _by_type(records, 9):
        props = rec["props"]
        usage = clean(props.get("Current Usage"))
        slot_type = clean(props.get("Type"))
        bus = clean(props.get("Bus Address"))
        slots.append(
            {
                "designation": clean(props.get("Designation")),
                "type": slot_type,
                "pcie": bool(slot_type and re.search(r"PCI", slot_type, re.I)),
                "usage": usage,
                "in_use": {"In Use": True, "Available": False}.get(usage),
                "length": clean(props.get("Length")),
                # an empty slot reports bus 0xff ("0000:ff:00.0" or "ff:1f.7")
                "bus": (
                    bus.lower()
                    if bus and not re.match(r"^(?:[0-9a-f]{4}:)?ff:", bus, re.I)
                    else None
                ),
            }
        )
    return slots


def parse_dmidecode(text):
    """
    Parse ``dmidecode`` output into::

        {"bios": {...}, "system": {...}, "board": {...}, "chassis": {...},
         "cpus": [...], "dimms": [...], "memory_arrays": [...], "slots": [...],
         "psus": [...], "ipmi": {...},
         "oem_nics": [...], "onboard": [...], "oem_firmware": {...}, "record_count": N}

    Serial numbers are kept as printed (placeholders are detected later); other descriptive
    fields have firmware placeholders ("Not Specified") turned into ``None``.
    """
    records = parse_records(text)
    system = _system(records)
    # Record 216 means "firmware versions" only on HP/HPE; Dell uses it for something else.
    is_hp = (system.get("vendor") or "").upper() in HP_VENDORS
    return {
        "bios": _bios(records),
        "system": system,
        "board": _board(records),
        "chassis": _chassis(records),
        "cpus": _cpus(records),
        "dimms": _memory(records),
        "memory_arrays": _memory_arrays(records),
        "slots": _slots(records),
        "psus": _psus(records),
        "ipmi": _ipmi(records),
        "oem_nics": _oem_nics(records, is_hp),
        "onboard": _onboard(records),
        "oem_firmware": _oem_firmware(records, system.get("product")) if is_hp else {},
        "record_count": len(records),
    }
