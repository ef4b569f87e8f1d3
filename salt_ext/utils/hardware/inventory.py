"""
Hardware inventory: run (or simulate) the tools, parse their output and assemble one normalised
dict. A missing tool or unreadable source becomes a ``warnings`` entry, never an exception.

Normalised inventory (``schema: hardware-inventory/1``)::

    system:   vendor, product, serial, uuid, sku, family, bios_vendor, bios_version, bios_date
    board:    vendor, product, version, serial
    chassis:  vendor, type, version, serial
    cpu:      model, vendor, sockets, cores, threads, signature, family_number, model_number,
              stepping, socket_type,
              packages: [{socket, model, cores, threads, signature, stepping, socket_type, ...}]
    memory:   total_bytes, total_gb, dimm_count, slots, empty_slots, ecc, error_correction,
              max_capacity_bytes, max_capacity_gb,
              dimms: [{slot, locator, size_bytes, speed_mts, part, serial, manufacturer, type,
                       type_detail, module, ecc, rank}]
    pcie:     slots: [{designation, type, usage, in_use, bus}], slots_total, slots_in_use
    disks:    [{name, path, model, serial, size_bytes, rotational, transport, nvme, firmware}]
    nics:     [{name, mac, driver, firmware, speed_mbps, pci, link, mtu, addresses}]
    lldp:     {<nic>: {chassis_name, chassis_mac, port_id, port_descr, mgmt_ip, vlan, port_mfs,
                      link_type, ...}}   (interfaces with a neighbour only)
    bmc:      ip, mac, firmware, family
    psus:     [{name, location, vendor, model, serial, max_power_w, present}]
    firmware: bios, bios_family, bios_date, bmc, bmc_family, nics: {<nic>: version}, oem: {...}
    placeholders: [{field, value, reason}]
    warnings: ["<source>: <what went wrong>"]
    sources:  {<source>: "ok" | "missing" | "failed" | "unparsable" | "simulated"}
"""

import copy
import json
import os
import re

import yaml

from salt_ext.utils.hardware import dmi
from salt_ext.utils.hardware import lldp as lldp_parser
from salt_ext.utils.hardware import tools
from salt_ext.utils.hardware.values import placeholder_reason

SCHEMA = "hardware-inventory/1"

VIRTUAL_DRIVERS = frozenset(
    ("veth", "bridge", "bonding", "ifb", "dummy", "tun", "802.1Q VLAN Support", "openvswitch")
)
VIRTUAL_NAME_PREFIXES = (
    "bond",
    "br",
    "veth",
    "docker",
    "virbr",
    "vlan",
    "dummy",
    "ifb",
    "tun",
    "tap",
    "wg",
    "vxlan",
    "team",
    "ovs",
)

LSBLK_COLUMNS = "NAME,KNAME,PATH,TYPE,SIZE,ROTA,MODEL,SERIAL,TRAN,RM,WWN,VENDOR,REV"
# util-linux < 2.33 (Ubuntu 18.04, RHEL 7/8.0) has no PATH column: lsblk refuses the whole list.
LSBLK_COLUMNS_COMPAT = LSBLK_COLUMNS.replace("PATH,", "")

# Raw-output file names understood when ``simulate`` points at a directory.
DIRECTORY_NAMES = {
    "inventory": ("inventory.json", "inventory.yaml", "inventory.yml"),
    "dmidecode": ("dmidecode.txt",),
    "lscpu": ("lscpu.json",),
    "lsblk": ("lsblk.json",),
    "nvme": ("nvme.json", "nvme-list.json"),
    "ip": ("ip-addr.json", "ip-link-d.json", "ip-link.json"),
    "lldp": ("lldpctl.json", "lldpctl.keyvalue", "lldpctl.txt"),
    "ipmitool_lan": ("ipmitool-lan.txt",),
    "ipmitool_mc": ("ipmitool-mc.txt",),
    "meminfo": ("meminfo.txt",),
}
RAW_SOURCES = tuple(k for k in DIRECTORY_NAMES if k != "inventory") + ("ethtool",)


# The keys system/board/chassis always carry (``None`` when the source could not say).
SYSTEM_KEYS = ("vendor", "product", "version", "serial", "uuid", "sku", "family")
BOARD_KEYS = ("vendor", "product", "version", "serial", "location")
CHASSIS_KEYS = ("vendor", "type", "version", "serial", "asset_tag", "height_u")


def _shaped(part, keys):
    shaped = dict.fromkeys(keys)
    shaped.update(part or {})
    return shaped


class SimulationError(ValueError):
    """The ``hardware:simulate`` configuration is unusable (bad path, bad format)."""


# --- assembling -------------------------------------------------------------------------------


def _parse(raw, name, parser, warnings, sources):
    text = raw.get(name)
    if text is None:
        sources.setdefault(name, "missing")
        return None
    try:
        result = parser(text)
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        warnings.append(f"{name}: unreadable output ({err})")
        sources[name] = "unparsable"
        return None
    sources.setdefault(name, "ok")
    return result


def _is_virtual(link, driver):
    """Virtual links (lo, bond, bridge, veth, vlan, ...) are not NICs. Decided by the link kind
    (``ip -d``), the ethtool driver, a PCI bus address, and only as a last resort by name."""
    if link["name"] == "lo" or link.get("kind") in tools.VIRTUAL_KINDS:
        return True
    if driver and driver.get("driver") in VIRTUAL_DRIVERS:
        return True
    if driver and driver.get("pci"):
        return False
    if link.get("link_type") not in (None, "ether"):
        return True
    return (
        link.get("kind") is None
        and driver is None
        and link["name"].startswith(VIRTUAL_NAME_PREFIXES)
    )


CPU_IDENTITY_KEYS = ("signature", "family_number", "model_number", "stepping", "socket_type")
PACKAGE_KEYS = ("socket", "model", "cores", "threads", "max_speed_mhz", "cpuid") + CPU_IDENTITY_KEYS
DIMM_KEYS = (
    "slot",
    "locator",
    "bank",
    "size_bytes",
    "type",
    "type_detail",
    "module",
    "form_factor",
    "ecc",
    "rank",
    "speed_mts",
    "configured_speed_mts",
    "manufacturer",
    "part",
    "serial",
)


def _cpu(dmi_data, lscpu):
    packages = [p for p in (dmi_data or {}).get("cpus", []) if p.get("populated")]
    if packages:
        cpu = {
            "model": packages[0]["model"],
            "vendor": packages[0]["vendor"],
            "sockets": len(packages),
            "cores": sum(p["cores"] or 0 for p in packages) or None,
            "threads": sum(p["threads"] or 0 for p in packages) or None,
            "packages": [{k: p.get(k) for k in PACKAGE_KEYS} for p in packages],
            "source": "dmidecode",
        }
        # The box-level identity is the first package's (mixed steppings are listed per package).
        cpu.update({k: packages[0].get(k) for k in CPU_IDENTITY_KEYS})
        return cpu
    if lscpu:
        return {
            "model": lscpu["model"],
            "vendor": lscpu["vendor"],
            "sockets": lscpu["sockets"],
            "cores": lscpu["cores"],
            "threads": lscpu["threads"],
            "packages": [],
            "source": "lscpu",
            **{k: lscpu.get(k) for k in CPU_IDENTITY_KEYS},
        }
    return {
        "model": None,
        "vendor": None,
        "sockets": None,
        "cores": None,
        "threads": None,
        "packages": [],
        "source": None,
        **dict.fromkeys(CPU_IDENTITY_KEYS),
    }


def _memory_capabilities(dmi_data, dimms):
    """ECC and maximum capacity from the system memory arrays (SMBIOS type 16)."""
    arrays = (dmi_data or {}).get("memory_arrays") or []
    corrections = sorted({a["error_correction"] for a in arrays if a.get("error_correction")})
    ecc_values = {a["ecc"] for a in arrays if a.get("ecc") is not None}
    if not ecc_values:  # no array says: the DIMMs' widths do (72-bit = ECC)
        ecc_values = {d["ecc"] for d in dimms if d.get("installed") and d.get("ecc") is not None}
    capacities = [a["max_capacity_bytes"] for a in arrays if a.get("max_capacity_bytes")]
    maximum = sum(capacities) if capacities else None
    return {
        "ecc": ecc_values.pop() if len(ecc_values) == 1 else None,
        "error_correction": ", ".join(corrections) or None,
        "max_capacity_bytes": maximum,
        "max_capacity_gb": round(maximum / 1024**3, 1) if maximum else None,
    }


def _memory(dmi_data, meminfo):
    dimms = (dmi_data or {}).get("dimms") or []
    if dimms:
        installed = [{k: d.get(k) for k in DIMM_KEYS} for d in dimms if d["installed"]]
        memory = {
            "dimms": installed,
            "slots": len(dimms),
            "empty_slots": [d["slot"] for d in dimms if not d["installed"]],
            "source": "dmidecode",
        }
        memory.update(_memory_capabilities(dmi_data, dimms))
        return memory
    memory = {
        "dimms": [],
        "slots": None,
        "empty_slots": [],
        "source": None,
        **_memory_capabilities(dmi_data, []),
    }
    if meminfo:
        memory.update(source="meminfo", total_bytes=meminfo["total_bytes"])
    return memory


def _pcie(dmi_data):
    """PCI/PCIe slots (SMBIOS type 9) and how many are in use."""
    slots = [s for s in (dmi_data or {}).get("slots") or [] if s.get("pcie")]
    known = [s for s in slots if s.get("in_use") is not None]
    return {
        "slots": [
            {k: s.get(k) for k in ("designation", "type", "usage", "in_use", "bus")} for s in slots
        ],
        "slots_total": len(slots) if slots else None,
        "slots_in_use": sum(1 for s in known if s["in_use"]) if known else None,
    }


def _disks(lsblk, nvme):
    disks = [dict(d) for d in lsblk or []]
    by_name = {d["name"]: d for d in disks}
    for ns in nvme or []:
        disk = by_name.get(ns["name"])
        if disk is None:
            disk = {
                "name": ns["name"],
                "path": ns["path"],
                "model": ns["model"],
                "serial": ns["serial"],
                "size_bytes": ns["size_bytes"],
                "rotational": False,
                "transport": "nvme",
                "nvme": True,
                "removable": False,
                "wwn": None,
                "vendor": None,
                "firmware": ns["firmware"],
            }
            disks.append(disk)
            by_name[ns["name"]] = disk
        else:
            for key in ("model", "serial", "firmware"):
                disk[key] = disk.get(key) or ns[key]
            disk["nvme"] = True
    return sorted(disks, key=lambda d: d["name"])


def _nics(links, ethtool_raw, warnings, sources):
    nics = []
    for link in links or []:
        raw = (ethtool_raw or {}).get(link["name"]) or {}
        driver = settings = None
        if raw.get("driver") is not None:
            try:
                driver = tools.parse_ethtool_driver(raw["driver"])
            except ValueError as err:
                warnings.append(f"ethtool: {link['name']}: {err}")
        if raw.get("settings") is not None:
            try:
                settings = tools.parse_ethtool_settings(raw["settings"])
            except ValueError as err:
                warnings.append(f"ethtool: {link['name']}: {err}")
        if _is_virtual(link, driver):
            continue
        nics.append(
            {
                "name": link["name"],
                "mac": link.get("permanent_mac") or link.get("mac"),
                "driver": (driver or {}).get("driver"),
                "driver_version": (driver or {}).get("version"),
                "firmware": (driver or {}).get("firmware"),
                "pci": (driver or {}).get("pci"),
                "speed_mbps": (settings or {}).get("speed_mbps"),
                "link": (
                    (settings or {}).get("link")
                    if settings and settings.get("link") is not None
                    else link.get("carrier")
                ),
                "mtu": link.get("mtu"),
                "state": link.get("state"),
                "master": link.get("master"),
                "addresses": link.get("addresses") or [],
            }
        )
    if links and ethtool_raw is None:
        sources.setdefault("ethtool", "missing")
    return sorted(nics, key=lambda n: n["name"])


def assemble(raw, warnings=None, sources=None):
    """
    Build the normalised inventory from raw tool outputs::

        raw = {"dmidecode": text, "lscpu": text, "lsblk": text, "nvme": text, "ip": text,
               "ethtool": {"eno1": {"driver": text, "settings": text}}, "lldp": text,
               "ipmitool_lan": text, "ipmitool_mc": text, "meminfo": text}

    A source that is ``None``/absent is reported in ``sources`` as missing; unparsable output
    becomes a warning. ``warnings``/``sources`` passed in (from collection) are kept.
    """
    warnings = list(warnings or [])
    sources = dict(sources or {})
    dmi_data = _parse(raw, "dmidecode", dmi.parse_dmidecode, warnings, sources)
    if dmi_data is not None and not dmi_data["record_count"]:
        warnings.append("dmidecode: no SMBIOS records (virtual machine or no access to tables)")
        sources["dmidecode"] = "empty"
        dmi_data = None
    lscpu = _parse(raw, "lscpu", tools.parse_lscpu, warnings, sources)
    lsblk = _parse(raw, "lsblk", tools.parse_lsblk, warnings, sources)
    nvme = _parse(raw, "nvme", tools.parse_nvme_list, warnings, sources)
    links = _parse(raw, "ip", tools.parse_ip, warnings, sources)
    neighbours = _parse(raw, "lldp", lldp_parser.parse_lldp, warnings, sources)
    lan = _parse(raw, "ipmitool_lan", tools.parse_ipmitool_lan, warnings, sources)
    mc = _parse(raw, "ipmitool_mc", tools.parse_ipmitool_mc, warnings, sources)
    meminfo = _parse(raw, "meminfo", tools.parse_meminfo, warnings, sources)

    dmi_data = dmi_data or {}
    bios = dmi_data.get("bios") or {}
    system = _shaped(dmi_data.get("system"), SYSTEM_KEYS)
    system.update(
        bios_vendor=bios.get("vendor"), bios_version=bios.get("version"), bios_date=bios.get("date")
    )
    bmc = {
        "ip": (lan or {}).get("ip"),
        "mac": (lan or {}).get("mac"),
        "firmware": (mc or {}).get("firmware"),
        "product": (mc or {}).get("product"),
        "present": bool(lan or mc or dmi_data.get("ipmi")),
        "source": "ipmitool" if (lan or mc) else None,
    }
    if not bmc["firmware"] and bios.get("firmware_revision"):
        # SMBIOS type 0 "Firmware Revision" is the embedded controller (iLO, BMC) version.
        bmc["firmware"] = bios["firmware_revision"]
        bmc["source"] = bmc["source"] or "dmidecode"
    inventory = {
        "schema": SCHEMA,
        "system": system,
        "board": _shaped(dmi_data.get("board"), BOARD_KEYS),
        "chassis": _shaped(dmi_data.get("chassis"), CHASSIS_KEYS),
        "cpu": _cpu(dmi_data, lscpu),
        "memory": _memory(dmi_data, meminfo),
        "pcie": _pcie(dmi_data),
        "disks": _disks(lsblk, nvme),
        "nics": _nics(links, raw.get("ethtool"), warnings, sources),
        "lldp": neighbours or {},
        "bmc": bmc,
        "psus": dmi_data.get("psus") or [],
        "oem": {
            "nics": dmi_data.get("oem_nics") or [],
            "onboard": dmi_data.get("onboard") or [],
            "firmware": dmi_data.get("oem_firmware") or {},
        },
        "warnings": warnings,
        "sources": sources,
    }
    return finalize(inventory)


_HP_ROM_FAMILY = re.compile(r"^[A-Z]\d{2}$")
_ILO_BY_GENERATION = {6: "iLO 2", 7: "iLO 3", 8: "iLO 4", 9: "iLO 4", 10: "iLO 5", 11: "iLO 6"}
_IDRAC_BY_GENERATION = {11: "iDRAC 6", 12: "iDRAC 7", 13: "iDRAC 8", 14: "iDRAC 9", 15: "iDRAC 9"}
_IDRAC_BY_GENERATION.update({16: "iDRAC 9", 17: "iDRAC 10"})
_DELL_MODEL = re.compile(r"PowerEdge\s+(?:MX|XR|XE|FC|[RMTC])\d(\d)\d\d?\b", re.I)


def _rom_version(value):
    """
    HP System ROM string (type 216) -> version: ``v2.52 (10/25/2017)`` -> ``2.52``; a Gen8 ROM
    has no version number, HPE versions it by date: ``07/01/2015`` -> ``2015.07.01`` (compares
    in date order). The BIOS family (``P70``, ``I36``) is not a version: ``None``.
    """
    text = (value or "").strip()
    match = re.match(r"^v?(\d+(?:\.\d+)+)", text)
    if match:
        return match.group(1)
    date = re.match(r"^(\d{1,2})/(\d{1,2})/(\d{4})$", text)
    if date:
        month, day, year = date.groups()
        return f"{year}.{int(month):02d}.{int(day):02d}"
    return None


def _is_hp(system):
    return (system.get("vendor") or "").upper() in dmi.HP_VENDORS


def _bios_firmware(system, oem_fw):
    """
    ``(version, family)`` of the BIOS. On HP/HPE the SMBIOS BIOS version is the ROM family
    (``P70`` on a DL380p Gen8, ``I36`` on a BL460c Gen9, ``U30`` on a DL380 Gen10): the version
    is the System ROM's (type 216), else the ROM date (Gen8 ROMs are versioned by date).
    """
    version = system.get("bios_version")
    if not _is_hp(system):
        return version, None
    family = None
    if version and _HP_ROM_FAMILY.match(version):
        family, version = version, None
    version = _rom_version(oem_fw.get("System ROM")) or version
    if version is None and family is not None:
        version = _rom_version(system.get("bios_date"))
    return version, family


def bmc_family(system, bmc=None):
    """
    The BMC's firmware family, which its version numbers belong to: ``iLO 4`` (HP Gen8/Gen9),
    ``iLO 5`` (Gen10), ``iDRAC 8`` (Dell 13G, e.g. PowerEdge M630), ... from the product name;
    an explicit ``bmc.family`` (override) wins, an ``ipmitool mc info`` product naming the
    family comes next. ``None`` when unknown (Supermicro, Quanta: one family).
    """
    bmc = bmc or {}
    if bmc.get("family"):
        return bmc["family"]
    product = system.get("product") or ""
    match = re.search(r"\b(iLO|iDRAC)\s*(\d+)", bmc.get("product") or "", re.I)
    if match:
        return f"{'iLO' if match.group(1).lower() == 'ilo' else 'iDRAC'} {match.group(2)}"
    if _is_hp(system):
        generation = dmi.hp_generation(product)
        return _ILO_BY_GENERATION.get(int(generation)) if generation else None
    if (system.get("vendor") or "").lower().startswith("dell"):
        match = _DELL_MODEL.search(product)
        if match:
            return _IDRAC_BY_GENERATION.get(10 + int(match.group(1)))
    return None


def finalize(inventory):
    """
    (Re)compute the derived fields: memory totals from the DIMM list, the firmware summary and
    the placeholder list. Idempotent; run after any change to an inventory (overrides).
    """
    memory = inventory.setdefault("memory", {})
    dimms = memory.get("dimms") or []
    if dimms or memory.get("source") == "dmidecode":
        memory["total_bytes"] = sum(d.get("size_bytes") or 0 for d in dimms)
        memory["dimm_count"] = len(dimms)
    else:
        memory.setdefault("dimm_count", None)
        memory.setdefault("total_bytes", None)
    total = memory.get("total_bytes")
    memory["total_gb"] = round(total / 1024**3, 1) if total else None

    system = inventory.setdefault("system", {})
    bmc = inventory.setdefault("bmc", {})
    nics = inventory.setdefault("nics", [])
    oem_fw = (inventory.get("oem") or {}).get("firmware") or {}
    bios_version, bios_family = _bios_firmware(system, oem_fw)
    inventory["firmware"] = {
        "bios": bios_version,
        "bios_family": bios_family,
        "bios_date": system.get("bios_date"),
        "bmc": bmc.get("firmware"),
        "bmc_family": bmc_family(system, bmc),
        "nics": {n["name"]: n.get("firmware") for n in nics if n.get("firmware")},
        "oem": (inventory.get("oem") or {}).get("firmware") or {},
    }
    placeholders = []

    def flag(field, value):
        reason = placeholder_reason(value)
        if reason:
            placeholders.append({"field": field, "value": value, "reason": reason})

    if system:
        flag("system.serial", system.get("serial"))
        if system.get("uuid") is not None:
            flag("system.uuid", system.get("uuid"))
    for part in ("board", "chassis"):
        if (inventory.get(part) or {}).get("serial") is not None:
            flag(f"{part}.serial", inventory[part]["serial"])
    for dimm in dimms:
        if dimm.get("serial") is not None:
            flag(f"memory.dimms[{dimm.get('slot')}].serial", dimm["serial"])
    for psu in inventory.get("psus") or []:
        if psu.get("present") and psu.get("serial") is not None:
            flag(f"psus[{psu.get('name') or psu.get('location')}].serial", psu["serial"])
    for disk in inventory.get("disks") or []:
        if disk.get("serial") is not None:
            flag(f"disks[{disk['name']}].serial", disk["serial"])
    inventory["placeholders"] = placeholders
    inventory.setdefault("warnings", [])
    inventory.setdefault("sources", {})
    inventory["schema"] = SCHEMA
    return inventory


# --- overrides --------------------------------------------------------------------------------

_LIST_KEYS = {
    "nics": "name",
    "disks": "name",
    "psus": "name",
    "dimms": "slot",
    "packages": "socket",
}


def _merge_list(items, override, key):
    if isinstance(override, list):
        return copy.deepcopy(override)
    if not isinstance(override, dict):
        raise SimulationError(f"override for a list must be a list or a mapping by {key!r}")
    result = [copy.deepcopy(i) for i in items]
    index = {i.get(key): pos for pos, i in enumerate(result)}
    removed = set()
    for ident, change in override.items():
        if change is None:
            removed.add(ident)
        elif ident in index:
            result[index[ident]] = merge(result[index[ident]], change)
        else:
            item = {key: ident}
            item.update(copy.deepcopy(change))
            result.append(item)
            index[ident] = len(result) - 1
    return [i for i in result if i.get(key) not in removed]


def merge(base, override, parent=None):
    """
    Deep-merge ``override`` into a copy of ``base``. Mappings merge key by key, ``None`` deletes
    a key; lists of NICs/disks/PSUs (by ``name``), DIMMs (by ``slot``) and CPU packages (by
    ``socket``) accept a mapping keyed that way (``None`` removes the item); any other value
    replaces.
    """
    if not isinstance(override, dict) or not isinstance(base, dict):
        return copy.deepcopy(override)
    result = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            result.pop(key, None)
        elif key in _LIST_KEYS and isinstance(result.get(key), list):
            result[key] = _merge_list(result[key], value, _LIST_KEYS[key])
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value, key)
        else:
            result[key] = copy.deepcopy(value)
    return result


# --- live collection --------------------------------------------------------------------------


#: the sources :func:`collect` reads (``only=`` picks among them)
SOURCES = (
    "dmidecode",
    "lscpu",
    "lsblk",
    "nvme",
    "ip",
    "lldp",
    "ipmitool_lan",
    "ipmitool_mc",
    "meminfo",
    "ethtool",
)


def collect(run, which, read_file, only=None):
    """
    Run the tools on this machine and assemble the inventory.

    :param run: ``run(argv) -> (returncode, stdout, stderr)``; must not raise.
    :param which: ``which(name) -> path or None``.
    :param read_file: ``read_file(path) -> str``; may raise ``OSError``.
    :param only: the :data:`SOURCES` to read (None: all). The others are not run and are
        reported as ``skipped`` in ``sources``, without a warning: a post-check that compares
        links needs ``ip`` and ``lldp``, not ``ipmitool`` (seconds on some BMCs).
    """
    warnings = []
    sources = {}
    raw = {}
    if only is not None:
        unknown = sorted(set(only) - set(SOURCES))
        if unknown:
            raise ValueError(f"unknown inventory sources {unknown}: known are {', '.join(SOURCES)}")
        for key in SOURCES:
            if key not in only:
                sources[key] = "skipped"

    def tool(name, argv, key=None):
        key = key or name
        if sources.get(key) == "skipped":
            return None
        if not which(argv[0]):
            warnings.append(f"{key}: {argv[0]} is not installed")
            sources[key] = "missing"
            return None
        code, out, err = run(argv)
        if code != 0:
            message = (err or out or "").strip().splitlines()
            detail = message[-1] if message else "no output"
            warnings.append(f"{key}: '{' '.join(argv)}' exited {code}: {detail}")
            sources[key] = "failed"
            return None
        return out

    def first_answer(key, *argvs):
        """The output of the first form the tool accepts; only the last failure is a warning."""
        for argv in argvs:
            out = tool(key, argv)
            if out is not None or sources.get(key) != "failed" or argv is argvs[-1]:
                return out
            warnings.pop()
            del sources[key]
        return None

    raw["dmidecode"] = tool("dmidecode", ["dmidecode"])
    raw["lscpu"] = tool("lscpu", ["lscpu", "-J"])
    raw["lsblk"] = first_answer(
        "lsblk",
        ["lsblk", "-J", "-b", "-o", LSBLK_COLUMNS],
        ["lsblk", "-J", "-b", "-o", LSBLK_COLUMNS_COMPAT],
    )
    raw["nvme"] = tool("nvme", ["nvme", "list", "-o", "json"])
    raw["ip"] = tool("ip", ["ip", "-j", "-d", "addr", "show"])
    raw["lldp"] = first_answer("lldp", ["lldpctl", "-f", "json"], ["lldpctl", "-f", "keyvalue"])
    raw["ipmitool_lan"] = tool("ipmitool_lan", ["ipmitool", "lan", "print"])
    raw["ipmitool_mc"] = tool("ipmitool_mc", ["ipmitool", "mc", "info"])
    try:
        raw["meminfo"] = None if sources.get("meminfo") else read_file("/proc/meminfo")
    except OSError as err:
        warnings.append(f"meminfo: {err}")
        sources["meminfo"] = "failed"
    if raw["ip"] is not None and sources.get("ethtool") != "skipped":
        try:
            links = tools.parse_ip(raw["ip"])
        except ValueError:
            links = []
        if which("ethtool"):
            raw["ethtool"] = {}
            for link in links:
                if link["name"] == "lo":
                    continue
                code, out, _ = run(["ethtool", "-i", link["name"]])
                entry = {"driver": out if code == 0 else None}
                code, out, _ = run(["ethtool", link["name"]])
                entry["settings"] = out if code == 0 else None
                raw["ethtool"][link["name"]] = entry
            sources["ethtool"] = "ok"
        else:
            warnings.append("ethtool: ethtool is not installed")
            sources["ethtool"] = "missing"
    return assemble(raw, warnings, sources)


# --- simulation -------------------------------------------------------------------------------


def _read(path, what):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError as err:
        raise SimulationError(f"hardware:simulate:{what}: cannot read {path!r}: {err}") from err


def _load_structured(path, what):
    text = _read(path, what)
    try:
        if path.endswith((".yaml", ".yml")):
            return yaml.safe_load(text)
        return json.loads(text)
    except (ValueError, yaml.YAMLError) as err:
        raise SimulationError(f"hardware:simulate:{what}: {path!r} is not valid: {err}") from err


def _spec_from_directory(path):
    spec = {}
    for key, names in DIRECTORY_NAMES.items():
        for name in names:
            candidate = os.path.join(path, name)
            if os.path.isfile(candidate):
                spec[key] = candidate
                break
    ethtool = {}
    for name in sorted(os.listdir(path)):
        if name.startswith("ethtool-i-") and name.endswith(".txt"):
            ethtool.setdefault(name[len("ethtool-i-") : -4], {})["driver"] = os.path.join(
                path, name
            )
        elif name.startswith("ethtool-") and name.endswith(".txt"):
            ethtool.setdefault(name[len("ethtool-") : -4], {})["settings"] = os.path.join(
                path, name
            )
    if ethtool:
        spec["ethtool"] = ethtool
    overrides = os.path.join(path, "overrides.yaml")
    if os.path.isfile(overrides):
        spec["overrides"] = _load_structured(overrides, "overrides")
    if not spec:
        raise SimulationError(
            f"hardware:simulate: directory {path!r} holds none of the known files "
            f"(inventory.json, dmidecode.txt, lscpu.json, ...)"
        )
    return spec


def _resolve(path, base):
    path = os.path.expanduser(str(path))
    if not os.path.isabs(path) and base:
        path = os.path.join(base, path)
    return path


def normalize_spec(simulate, base=None):
    """
    Turn the ``hardware:simulate`` setting into a spec dict. Accepted forms:

    - a path to a captured inventory (``.json``/``.yaml``, has a ``system`` key);
    - a path to a spec file (``.yaml``/``.json`` holding the mapping below; relative paths in it
      are relative to the file);
    - a path to a directory of raw outputs (``dmidecode.txt``, ``lscpu.json``, ``lsblk.json``,
      ``nvme.json``, ``ip-addr.json``, ``ethtool-i-<nic>.txt``, ``ethtool-<nic>.txt``,
      ``lldpctl.json`` or ``lldpctl.keyvalue``, ``ipmitool-lan.txt``, ``ipmitool-mc.txt``,
      ``meminfo.txt``, optional ``inventory.json`` and ``overrides.yaml``);
    - a mapping: ``{dir: <directory>, inventory: <file>, dmidecode: <file>, ..., ip: <file or
      list>, ethtool: {<nic>: {driver: <file>, settings: <file>}}, overrides: {...}, base:
      <directory for relative paths>}``.
    """
    if isinstance(simulate, str):
        path = _resolve(simulate, base)
        if os.path.isdir(path):
            return _spec_from_directory(path)
        if os.path.isfile(path):
            if path.endswith((".yaml", ".yml", ".json")):
                doc = _load_structured(path, "spec")
                if isinstance(doc, dict) and "system" not in doc:
                    # A spec file: {dir:, dmidecode:, overrides:, ...}, relative to its directory.
                    return normalize_spec(doc, base=os.path.dirname(path))
            return {"inventory": path}
        raise SimulationError(f"hardware:simulate: {path!r} does not exist")
    if not isinstance(simulate, dict):
        raise SimulationError(
            "hardware:simulate must be a path or a mapping of sources "
            f"(got {type(simulate).__name__})"
        )
    unknown = set(simulate) - set(RAW_SOURCES) - {"dir", "inventory", "overrides", "base"}
    if unknown:
        raise SimulationError(
            f"hardware:simulate: unknown key(s) {sorted(unknown)}; known: "
            f"{sorted(set(RAW_SOURCES) | {'dir', 'inventory', 'overrides', 'base'})}"
        )
    base = simulate.get("base") or base
    spec = {}
    if simulate.get("dir"):
        directory = _resolve(simulate["dir"], base)
        if not os.path.isdir(directory):
            raise SimulationError(f"hardware:simulate:dir: {directory!r} is not a directory")
        spec.update(_spec_from_directory(directory))
    for key in RAW_SOURCES + ("inventory",):
        value = simulate.get(key)
        if value is None:
            continue
        if key == "ethtool":
            if not isinstance(value, dict):
                raise SimulationError(
                    "hardware:simulate:ethtool must map NIC names to {driver: <file>, settings: <file>}"
                )
            spec["ethtool"] = {
                nic: {k: _resolve(v, base) for k, v in (files or {}).items()}
                for nic, files in value.items()
            }
        elif key == "ip" and isinstance(value, list):
            spec["ip"] = [_resolve(v, base) for v in value]
        else:
            spec[key] = _resolve(value, base)
    if simulate.get("overrides") is not None:
        if not isinstance(simulate["overrides"], dict):
            raise SimulationError("hardware:simulate:overrides must be a mapping")
        spec["overrides"] = merge(spec.get("overrides") or {}, simulate["overrides"])
    return spec


def _merged_ip(paths):
    merged = {}
    for path in paths:
        doc = _load_structured(path, "ip")
        if not isinstance(doc, list):
            raise SimulationError(f"hardware:simulate:ip: {path!r} is not an ip -j list")
        for link in doc:
            if isinstance(link, dict) and "ifname" in link:
                merged.setdefault(link["ifname"], {}).update(link)
    return json.dumps(list(merged.values()))


def simulate(spec, base=None):
    """
    Build an inventory from a simulation spec (see :func:`normalize_spec`) instead of running
    tools. Sources the spec does not provide are reported as missing, exactly like absent tools.
    """
    spec = normalize_spec(spec, base)
    if spec.get("inventory"):
        inventory = _load_structured(spec["inventory"], "inventory")
        if not isinstance(inventory, dict) or "system" not in inventory:
            raise SimulationError(
                f"hardware:simulate:inventory: {spec['inventory']!r} is not an inventory "
                "(no 'system' key)"
            )
        inventory = copy.deepcopy(inventory)
        inventory.setdefault("warnings", [])
    else:
        raw = {}
        sources = {}
        for key in RAW_SOURCES:
            value = spec.get(key)
            if value is None:
                continue
            if key == "ethtool":
                raw["ethtool"] = {
                    nic: {kind: _read(path, f"ethtool:{nic}") for kind, path in files.items()}
                    for nic, files in value.items()
                }
            elif key == "ip":
                raw["ip"] = _merged_ip(value if isinstance(value, list) else [value])
            else:
                raw[key] = _read(value, key)
            sources[key] = "simulated"
        warnings = [
            f"{key}: not provided by the simulation" for key in RAW_SOURCES if key not in raw
        ]
        inventory = assemble(raw, warnings, sources)
    if spec.get("overrides"):
        inventory = merge(inventory, spec["overrides"])
    inventory["simulated"] = True
    return finalize(inventory)
