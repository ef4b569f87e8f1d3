"""
Expected-vs-actual hardware validation of one box: inventory against its generation profile and
against NetBox (serial, device type generation, interface MACs, cabling seen over LLDP).

:func:`validate` is pure: NetBox objects are plain dicts in REST shape.

Report::

    {"passed": bool, "generation": "gen10", "device": "srv-r1-01",
     "checks": [{"name": "serial", "expected": "LAB1R1S01", "actual": "LAB1R1S01",
                 "ok": True, "severity": "error", "comment": "..."}, ...],
     "failed": ["cabling.eno2", ...], "summary": "..."}

``passed`` is True when every check of severity ``error`` is ok; ``warning`` checks never fail
the report.
"""

import re

from salt_ext.utils.hardware.ifnames import same_host, same_port
from salt_ext.utils.hardware.profiles import (
    check_profile,
    detect_generation,
    hw_generation,
    matches,
)
from salt_ext.utils.hardware.render import VIRTUAL_TYPES as VIRTUAL_IFACE_TYPES
from salt_ext.utils.hardware.render import simple_interfaces
from salt_ext.utils.hardware.values import mac as norm_mac
from salt_ext.utils.hardware.values import placeholder_reason, version_at_least

GB = 1024**3


def _check(name, expected, actual, ok, *, severity="error", comment=""):
    return {
        "name": name,
        "expected": expected,
        "actual": actual,
        "ok": bool(ok),
        "severity": severity,
        "comment": comment,
    }


def _in_range(value, spec):
    if value is None:
        return False
    if isinstance(spec, dict):
        return ("min" not in spec or value >= spec["min"]) and (
            "max" not in spec or value <= spec["max"]
        )
    return value == spec


def _fmt_spec(spec):
    if isinstance(spec, dict):
        parts = []
        if "min" in spec:
            parts.append(f">= {spec['min']}")
        if "max" in spec:
            parts.append(f"<= {spec['max']}")
        return " and ".join(parts)
    return spec


def _number_check(name, spec, actual, unit=""):
    ok = _in_range(actual, spec)
    comment = "" if ok else f"expected {_fmt_spec(spec)}{unit}, found {actual}{unit}"
    return _check(name, _fmt_spec(spec), actual, ok, comment=comment)


# --- identity ------------------------------------------------------------------------------------


def _serial_check(inventory, device):
    actual = ((inventory.get("system") or {}).get("serial") or "").strip() or None
    expected = (device.get("serial") or "").strip() or None
    if expected is None:
        return _check(
            "serial",
            None,
            actual,
            False,
            severity="warning",
            comment="NetBox has no serial for this device",
        )
    reason = placeholder_reason(actual)
    if reason:
        return _check(
            "serial",
            expected,
            actual,
            False,
            comment=(
                f"the box reports a placeholder serial {actual!r} ({reason}), NetBox has "
                f"{expected!r}; fix the SMBIOS data or NetBox"
            ),
        )
    ok = actual.lower() == expected.lower()
    return _check(
        "serial",
        expected,
        actual,
        ok,
        comment="" if ok else f"serial {actual!r} differs from NetBox's {expected!r} (wrong box?)",
    )


def _generation_checks(inventory, profile, device, device_type, profiles):
    checks = []
    device_type = device_type or device.get("device_type") or {}
    expected = hw_generation(device_type)
    name = profile.get("name")
    if profiles:
        detected = detect_generation(profiles, inventory)
    else:
        detected = [name] if matches(profile, inventory) else []
    actual = detected[0] if len(detected) == 1 else (detected or None)
    system = inventory.get("system") or {}
    hardware = " ".join(x for x in (system.get("vendor"), system.get("product")) if x) or None
    if expected is None:
        comment = (
            f"NetBox device type '{device_type.get('model') or device_type.get('slug')}' has no "
            f"custom field hw_generation; the hardware ({hardware}) is "
            f"{actual or 'no known generation'}"
        )
        checks.append(_check("generation", None, actual, False, comment=comment))
    else:
        ok = actual == expected
        comment = (
            ""
            if ok
            else f"the hardware ({hardware}) is {actual or 'no known generation'}, NetBox says {expected}"
        )
        checks.append(_check("generation", expected, actual, ok, comment=comment))
    slug = device_type.get("slug") or device_type.get("model")
    covered = [str(d).lower() for d in profile.get("device_types") or []]
    if slug:
        ok = str(slug).lower() in covered or str(device_type.get("model", "")).lower() in covered
        checks.append(
            _check(
                "device_type",
                profile.get("device_types"),
                slug,
                ok,
                comment=(
                    ""
                    if ok
                    else f"profile {name} covers device types {profile.get('device_types')}, "
                    f"not NetBox device type '{slug}'"
                ),
            )
        )
    return checks


# --- hardware vs profile --------------------------------------------------------------------------


def _disk_class(disk):
    if disk.get("nvme"):
        return "nvme"
    if disk.get("rotational") is True:
        return "hdd"
    if disk.get("rotational") is False:
        return "ssd"
    return None


def _disk_group_label(group):
    parts = [group.get("class", "any")]
    if "min_size_gb" in group:
        parts.append(f">={group['min_size_gb']}GB")
    if "max_size_gb" in group:
        parts.append(f"<={group['max_size_gb']}GB")
    if "model" in group:
        parts.append(f"model~{group['model']}")
    return " ".join(parts)


def _disk_matches(disk, group):
    cls = group.get("class", "any")
    if cls != "any" and _disk_class(disk) != cls:
        return False
    size_gb = (disk.get("size_bytes") or 0) / 1000**3
    if "min_size_gb" in group and size_gb < group["min_size_gb"]:
        return False
    if "max_size_gb" in group and size_gb > group["max_size_gb"]:
        return False
    if "model" in group and not re.search(group["model"], disk.get("model") or "", re.I):
        return False
    return True


def _fixed_disks(inventory):
    """The box's disks without removable media (USB sticks, BMC virtual media)."""
    return [d for d in inventory.get("disks") or [] if not d.get("removable")]


def _pattern_check(name, what, pattern, actual):
    """``actual`` (a value or a list of values) must all match the regex ``pattern``."""
    values = actual if isinstance(actual, list) else [actual]
    ok = bool(values) and all(
        v is not None and re.search(pattern, str(v), re.I) is not None for v in values
    )
    if ok:
        comment = ""
    elif not values or all(v is None for v in values):
        comment = f"no {what} reported; the profile expects {pattern!r}"
    else:
        shown = actual if isinstance(actual, list) else repr(actual)
        comment = f"{what} {shown} does not match the profile's {pattern!r}"
    return _check(name, pattern, actual, ok, comment=comment)


def _cpu_checks(cpu_spec, cpu):
    checks = []
    packages = cpu.get("packages") or []
    for key, what in (
        ("model", "CPU model"),
        ("socket_type", "CPU socket type"),
        ("signature", "CPU signature"),
    ):
        if key in cpu_spec:
            checks.append(_pattern_check(f"cpu.{key}", what, cpu_spec[key], cpu.get(key)))
    for key in ("sockets", "cores", "threads"):
        if key in cpu_spec:
            checks.append(_number_check(f"cpu.{key}", cpu_spec[key], cpu.get(key)))
    if "stepping" in cpu_spec:
        steppings = sorted({p.get("stepping") for p in packages if p.get("stepping") is not None})
        if not steppings and cpu.get("stepping") is not None:
            steppings = [cpu["stepping"]]
        ok = bool(steppings) and all(_in_range(s, cpu_spec["stepping"]) for s in steppings)
        actual = steppings[0] if len(steppings) == 1 else (steppings or None)
        comment = (
            "" if ok else f"expected stepping {_fmt_spec(cpu_spec['stepping'])}, found {actual}"
        )
        checks.append(
            _check("cpu.stepping", _fmt_spec(cpu_spec["stepping"]), actual, ok, comment=comment)
        )
    return checks


def _per_dimm(dimms, key):
    return {d.get("slot"): d.get(key) for d in dimms}


def _memory_checks(mem_spec, memory):
    checks = []
    dimms = memory.get("dimms") or []
    if "total_gb" in mem_spec:
        total = memory.get("total_bytes")
        actual = round(total / GB, 1) if total else None
        check = _number_check("memory.total_gb", mem_spec["total_gb"], actual, " GB")
        if not check["ok"] and memory.get("source") == "meminfo":
            check["comment"] += (
                " (from /proc/meminfo, which is below the installed memory: dmidecode, run as "
                "root, reads the DIMMs)"
            )
        checks.append(check)
    if "dimm_count" in mem_spec:
        check = _number_check("memory.dimm_count", mem_spec["dimm_count"], memory.get("dimm_count"))
        if not check["ok"] and memory.get("empty_slots"):
            check["comment"] += f"; empty slots: {', '.join(memory['empty_slots'])}"
        checks.append(check)
    if "dimm_size_gb" in mem_spec:
        sizes = {d.get("slot"): round((d.get("size_bytes") or 0) / GB, 1) for d in dimms}
        wrong = {
            slot: size
            for slot, size in sizes.items()
            if not _in_range(size, mem_spec["dimm_size_gb"])
        }
        ok = bool(sizes) and not wrong
        found = sorted(set(sizes.values()))
        comment = (
            ""
            if ok
            else f"expected {_fmt_spec(mem_spec['dimm_size_gb'])} GB per DIMM, found "
            + (", ".join(f"{slot}: {size} GB" for slot, size in wrong.items()) or "no DIMMs")
        )
        checks.append(
            _check(
                "memory.dimm_size_gb",
                _fmt_spec(mem_spec["dimm_size_gb"]),
                found,
                ok,
                comment=comment,
            )
        )
    for key, what in (("type", "DIMM type"), ("module", "DIMM module type")):
        if key in mem_spec:
            values = _per_dimm(dimms, key)
            check = _pattern_check(
                f"memory.{key}", what, mem_spec[key], sorted(set(values.values()), key=str)
            )
            if not check["ok"] and values:
                wrong = {
                    s: v
                    for s, v in values.items()
                    if v is None or not re.search(mem_spec[key], str(v), re.I)
                }
                check["comment"] = (
                    f"expected every DIMM's {what} to match {mem_spec[key]!r}, found "
                    + ", ".join(f"{slot}: {value}" for slot, value in wrong.items())
                )
            checks.append(check)
    if "ecc" in mem_spec:
        want = mem_spec["ecc"]
        actual = memory.get("ecc")
        ok = actual is want
        describe = {True: "ECC", False: "non-ECC", None: "unknown"}
        detail = (
            f" (Error Correction Type: {memory['error_correction']})"
            if memory.get("error_correction")
            else ""
        )
        comment = (
            "" if ok else f"expected {describe[want]} memory, found {describe[actual]}{detail}"
        )
        checks.append(_check("memory.ecc", want, actual, ok, comment=comment))
    if "rank" in mem_spec:
        ranks = _per_dimm(dimms, "rank")
        wrong = {s: r for s, r in ranks.items() if not _in_range(r, mem_spec["rank"])}
        ok = bool(ranks) and not wrong
        comment = (
            ""
            if ok
            else f"expected rank {_fmt_spec(mem_spec['rank'])} on every DIMM, found "
            + (", ".join(f"{slot}: {rank}" for slot, rank in wrong.items()) or "no DIMMs")
        )
        found = sorted({r for r in ranks.values() if r is not None})
        checks.append(
            _check("memory.rank", _fmt_spec(mem_spec["rank"]), found, ok, comment=comment)
        )
    if "max_capacity_gb" in mem_spec:
        checks.append(
            _number_check(
                "memory.max_capacity_gb",
                mem_spec["max_capacity_gb"],
                memory.get("max_capacity_gb"),
                " GB",
            )
        )
    return checks


_FIRMWARE_LABELS = {"bios": "BIOS", "bmc": "BMC"}


def _same_family(one, other):
    return re.sub(r"[\s_-]", "", str(one)).lower() == re.sub(r"[\s_-]", "", str(other)).lower()


def _firmware_checks(fw_spec, firmware):
    checks = []
    for key in ("bios", "bmc"):
        if key not in fw_spec:
            continue
        minimum = fw_spec[key]
        actual = firmware.get(key)
        family = firmware.get(f"{key}_family")
        wanted_family = fw_spec.get(f"{key}_family")
        # "BIOS I36 2.30", "iLO 4 2.50", "BMC 3.40": the family when known names the firmware.
        label = f"BIOS {family}" if key == "bios" and family else family or _FIRMWARE_LABELS[key]
        if wanted_family and family and not _same_family(family, wanted_family):
            # Versions of another firmware family (iLO 5 vs iLO 4, ROM U30 vs I36) do not
            # compare: not a finding here (the generation check names the wrong hardware).
            check = _check(
                f"firmware.{key}",
                f"{wanted_family} >= {minimum}",
                f"{family} {actual}",
                True,
                comment=(
                    f"{family} {actual} not compared with the profile's minimum {minimum}: that "
                    f"is for {wanted_family}"
                ),
            )
            check["skipped"] = True
            checks.append(check)
            continue
        ok = version_at_least(actual, minimum)
        if ok:
            comment = ""
        elif ok is None:
            comment = f"{label} version not reported; the profile's minimum is {minimum}"
        else:
            comment = f"{label} {actual} is below the profile's minimum {minimum}"
        expected = f"{wanted_family + ' ' if wanted_family else ''}>= {minimum}"
        checks.append(_check(f"firmware.{key}", expected, actual, ok is True, comment=comment))
    if "nic" in fw_spec:
        versions = firmware.get("nics") or {}
        low = {n: v for n, v in versions.items() if version_at_least(v, fw_spec["nic"]) is not True}
        ok = bool(versions) and not low
        if ok:
            comment = ""
        elif not versions:
            comment = (
                f"no NIC reports its firmware version; the profile's minimum is {fw_spec['nic']}"
            )
        else:
            comment = f"NIC firmware below the profile's minimum {fw_spec['nic']}: " + ", ".join(
                f"{nic} {version or 'unknown'}" for nic, version in sorted(low.items())
            )
        checks.append(_check("firmware.nic", f">= {fw_spec['nic']}", versions, ok, comment=comment))
    return checks


#: Ethernet header bytes a switch port's maximum frame size holds beyond the IP MTU (802.3
#: max frame 1518 = 1500 + 14 + 4 FCS; Junos reports 1514 without FCS, so 14 is the minimum).
ETHERNET_HEADER = 14


def _switch_port(nb):
    described = _describe_neighbour(nb) or {}
    return " ".join(str(x) for x in (described.get("device"), described.get("port")) if x)


def _lldp_checks(inventory, profile):
    """The switch ports the box's NICs are cabled to, as LLDP reports them (frame size, MAU)."""
    spec = (profile.get("expected") or {}).get("lldp") or {}
    config = profile.get("config") or {}
    mtu = config.get("mtu")
    lldp = inventory.get("lldp") or {}
    bond = config.get("bond") or {}
    # The profile's MTU goes on the bond and its members; without a bond on every interface.
    ports = sorted(bond["members"]) if bond.get("members") else sorted(lldp)
    checks = []
    needed = max(
        [v for v in (spec.get("min_mfs"), mtu + ETHERNET_HEADER if mtu else None) if v] or [0]
    )
    for nic in ports:
        nb = lldp.get(nic)
        if not nb or not _has_neighbour(nb):
            continue  # no neighbour: the cabling check says so
        port = f"switch port {_switch_port(nb)}"
        where = f"{port} on {nic}"
        if needed:
            mfs = nb.get("port_mfs")
            why = (
                f"the profile's MTU {mtu} needs at least {needed}"
                if mtu and needed == mtu + ETHERNET_HEADER
                else f"the profile's min_mfs is {needed}"
            )
            if mfs is None:
                if spec.get("min_mfs"):
                    checks.append(
                        _check(
                            f"lldp.{nic}.mfs",
                            f">= {needed}",
                            None,
                            False,
                            severity="warning",
                            comment=f"{where} does not report its maximum frame size over LLDP; {why}",
                        )
                    )
            else:
                ok = mfs >= needed
                comment = "" if ok else f"{where} takes frames up to {mfs} bytes; {why}"
                checks.append(_check(f"lldp.{nic}.mfs", f">= {needed}", mfs, ok, comment=comment))
        if spec.get("link_type"):
            link = nb.get("link_type")
            if link is None:
                checks.append(
                    _check(
                        f"lldp.{nic}.link_type",
                        spec["link_type"],
                        None,
                        False,
                        severity="warning",
                        comment=f"{where} does not report the negotiated link type; the profile "
                        f"expects {spec['link_type']!r}",
                    )
                )
            else:
                ok = re.search(spec["link_type"], link, re.I) is not None
                comment = (
                    ""
                    if ok
                    else f"{nic} negotiated {link} with {port}, the "
                    f"profile expects {spec['link_type']!r}"
                )
                checks.append(
                    _check(f"lldp.{nic}.link_type", spec["link_type"], link, ok, comment=comment)
                )
    return checks


def hardware_checks(inventory, profile):
    """
    CPU, memory, PCIe slots, disks, NICs, PSUs, firmware and the LLDP-reported switch ports of
    ``inventory`` vs ``profile['expected']`` (and ``config.mtu``). Every failed check's comment
    says what the profile expects and what the box has.
    """
    expected = profile.get("expected") or {}
    checks = []
    checks.extend(_cpu_checks(expected.get("cpu") or {}, inventory.get("cpu") or {}))
    checks.extend(_memory_checks(expected.get("memory") or {}, inventory.get("memory") or {}))
    pcie_spec = expected.get("pcie") or {}
    if "slots_in_use" in pcie_spec:
        pcie = inventory.get("pcie") or {}
        check = _number_check(
            "pcie.slots_in_use", pcie_spec["slots_in_use"], pcie.get("slots_in_use")
        )
        if not check["ok"] and pcie.get("slots"):
            used = [s["designation"] for s in pcie["slots"] if s.get("in_use")]
            check["comment"] += f" (in use: {', '.join(used) or 'none'})"
        checks.append(check)

    disks = _fixed_disks(inventory)
    for group in expected.get("disks") or []:
        label = _disk_group_label(group)
        found = [d["name"] for d in disks if _disk_matches(d, group)]
        check = _number_check(f"disks[{label}]", group["count"], len(found))
        check["comment"] = (check["comment"] + f" ({', '.join(found) or 'none'})").strip()
        checks.append(check)

    nic_spec = expected.get("nics") or {}
    nics = inventory.get("nics") or []
    if "count" in nic_spec:
        checks.append(_number_check("nics.count", nic_spec["count"], len(nics)))
    if "min_speed_mbps" in nic_spec:
        # A port without link has no speed: it is not judged here (a cabled one fails its
        # cabling check), so unused ports of a multi-port card do not fail the box.
        linked = [n for n in nics if n.get("link") is not False]
        unlinked = sorted(n["name"] for n in nics if n.get("link") is False)
        slow = {
            n["name"]: n.get("speed_mbps")
            for n in linked
            if not _in_range(n.get("speed_mbps"), {"min": nic_spec["min_speed_mbps"]})
        }
        ok = bool(linked) and not slow
        comment = (
            ""
            if ok
            else f"expected >= {nic_spec['min_speed_mbps']} Mb/s, found "
            + (
                ", ".join(f"{n}: {v if v is not None else 'unknown'} Mb/s" for n, v in slow.items())
                or "no NIC with link"
            )
        )
        if unlinked:
            comment = "; ".join(filter(None, (comment, f"no link, not judged: {unlinked}")))
        checks.append(
            _check(
                "nics.speed",
                f">= {nic_spec['min_speed_mbps']} Mb/s",
                {n["name"]: n.get("speed_mbps") for n in nics},
                ok,
                comment=comment,
            )
        )
    if "driver" in nic_spec:
        wrong = {
            n["name"]: n.get("driver")
            for n in nics
            if not re.search(nic_spec["driver"], n.get("driver") or "")
        }
        ok = bool(nics) and not wrong
        comment = (
            ""
            if ok
            else f"expected drivers matching {nic_spec['driver']!r}, found "
            + (", ".join(f"{n}: {d}" for n, d in wrong.items()) or "no NICs")
        )
        checks.append(
            _check(
                "nics.driver",
                nic_spec["driver"],
                {n["name"]: n.get("driver") for n in nics},
                ok,
                comment=comment,
            )
        )
    if "count" in (expected.get("psus") or {}):
        present = [p for p in inventory.get("psus") or [] if p.get("present")]
        checks.append(_number_check("psus.count", expected["psus"]["count"], len(present)))

    checks.extend(_firmware_checks(expected.get("firmware") or {}, inventory.get("firmware") or {}))
    checks.extend(_lldp_checks(inventory, profile))
    return checks


# --- NetBox interfaces: MACs and cabling ------------------------------------------------------


def peers_from_cables(device, cables):
    """
    ``{local interface name: {"device": peer device name, "port": peer interface name}}`` from the
    device's cables (REST shape).
    """
    peers = {}
    name = device.get("name")
    dev_id = device.get("id")
    for cable in cables or []:
        ends = (cable.get("a_terminations") or [], cable.get("b_terminations") or [])
        for mine, other in (ends, ends[::-1]):
            for term in mine:
                obj = term.get("object") or {}
                owner = obj.get("device") or {}
                if term.get("object_type") != "dcim.interface":
                    continue
                if not (
                    (dev_id is not None and owner.get("id") == dev_id) or owner.get("name") == name
                ):
                    continue
                for far in other:
                    far_obj = far.get("object") or {}
                    if far.get("object_type") == "dcim.interface" and far_obj.get("name"):
                        peers.setdefault(
                            obj.get("name"),
                            {
                                "device": (far_obj.get("device") or {}).get("name"),
                                "port": far_obj["name"],
                            },
                        )
    return peers


def _has_neighbour(nb):
    """An LLDP entry names a neighbour by chassis or port (VLAN lines alone do not)."""
    return bool(nb) and any(
        nb.get(key) for key in ("chassis_id", "chassis_name", "chassis_mac", "port_id")
    )


def _describe_neighbour(nb):
    if not _has_neighbour(nb):
        return None
    port = nb.get("port_id") if nb.get("port_id_type") != "mac" else None
    return {
        "device": nb.get("chassis_name") or nb.get("chassis_mac"),
        "port": port or nb.get("port_descr"),
        "port_descr": nb.get("port_descr"),
    }


def _cabling_check(name, peer, local, lldp):
    """NetBox interface ``name`` cabled to ``peer``, seen on the box as NIC ``local`` (or None)."""
    check_name = f"cabling.{name}"
    expected = {"device": peer["device"], "port": peer["port"]}
    nb = lldp.get(local["name"]) if local else None
    actual = _describe_neighbour(nb)
    if peer.get("via"):
        comment = (
            f"the cable ends on {peer['via']} {peer['device']} {peer['port']} (a patch panel): "
            "the switch port behind it is not known here, not compared"
        )
        return _check(check_name, expected, actual, False, severity="warning", comment=comment)
    if local is None:
        comment = (
            f"no NIC on the box matches NetBox interface {name} (NetBox cables it to "
            f"{peer['device']} {peer['port']})"
        )
        return _check(check_name, expected, None, False, comment=comment)
    if actual is None:
        comment = (
            f"no LLDP neighbour on {local['name']} (link down, lldpd not running or switch "
            f"LLDP off); NetBox says {peer['device']} {peer['port']}"
        )
        return _check(check_name, expected, None, False, comment=comment)
    host_ok = same_host(nb.get("chassis_name"), peer["device"])
    port_ok = any(
        same_port(candidate, peer["port"])
        for candidate in (
            nb.get("port_id") if nb.get("port_id_type") != "mac" else None,
            nb.get("port_descr"),
        )
    )
    ok = host_ok and port_ok
    comment = (
        ""
        if ok
        else f"{local['name']} is cabled to {actual['device']} {actual['port']}, NetBox says "
        f"{peer['device']} {peer['port']}"
    )
    return _check(check_name, expected, actual, ok, comment=comment)


def interface_checks(inventory, interfaces):
    """
    MAC checks for every NetBox interface with a MAC and cabling checks for every cabled one.
    ``interfaces`` are in :func:`salt_ext.utils.hardware.render.simple_interfaces` form.
    """
    checks = []
    nics = inventory.get("nics") or []
    by_mac = {norm_mac(n.get("mac")): n for n in nics if norm_mac(n.get("mac"))}
    by_name = {n["name"]: n for n in nics}
    lldp = inventory.get("lldp") or {}
    bmc = inventory.get("bmc") or {}
    for iface in interfaces:
        name = iface["name"]
        if iface["type"] in VIRTUAL_IFACE_TYPES:
            continue
        mac = iface["mac"]
        if iface["mgmt_only"]:
            if mac and norm_mac(bmc.get("mac")):
                ok = norm_mac(bmc["mac"]) == mac
                checks.append(
                    _check(
                        f"mac.{name}",
                        mac,
                        norm_mac(bmc["mac"]),
                        ok,
                        comment=(
                            ""
                            if ok
                            else f"BMC MAC {norm_mac(bmc['mac'])} differs from NetBox's {mac}"
                        ),
                    )
                )
            continue  # the host cannot see LLDP on the BMC port
        local = None
        if mac:
            local = by_mac.get(mac)
            ok = local is not None
            actual = f"{local['name']} ({mac})" if local else None
            checks.append(
                _check(
                    f"mac.{name}",
                    mac,
                    actual,
                    ok,
                    comment=(
                        ""
                        if ok
                        else f"no NIC on the box has NetBox's MAC {mac} for {name} (the box has "
                        + (", ".join(f"{n['name']} {n.get('mac')}" for n in nics) or "no NICs")
                        + ")"
                    ),
                )
            )
        if local is None:
            local = by_name.get(name)
        if iface.get("peer"):
            checks.append(_cabling_check(name, iface["peer"], local, lldp))
    return checks


def bond_checks(profile, interfaces):
    """
    The profile's bond against NetBox: the LAG interface named like the bond exists (it carries
    the addresses) and its members are the profile's ``config.bond.members`` (the switch side is
    cabled and configured from NetBox, the host side from the profile).
    """
    bond = (profile.get("config") or {}).get("bond")
    if not bond or not interfaces:
        return []
    wanted = sorted(bond.get("members") or [])
    if not any(i["name"] == bond["name"] for i in interfaces):
        comment = (
            f"NetBox has no interface {bond['name']}: create it (type LAG) with its members and "
            "addresses, or the bond comes up without addresses"
        )
        return [_check(f"bond.{bond['name']}", wanted, None, False, comment=comment)]
    members = sorted(i["name"] for i in interfaces if i.get("lag") == bond["name"])
    ok = members == wanted
    comment = (
        ""
        if ok
        else f"NetBox puts {members or 'no interface'} in {bond['name']}, the profile bonds "
        f"{wanted}"
    )
    return [_check(f"bond.{bond['name']}", wanted, members, ok, comment=comment)]


def _inventory_quality(inventory):
    checks = []
    others = [p for p in inventory.get("placeholders") or [] if p["field"] != "system.serial"]
    if others:
        fields = ", ".join(f"{p['field']}={p['value']!r}" for p in others[:10])
        checks.append(
            _check(
                "placeholders",
                [],
                [p["field"] for p in others],
                False,
                severity="warning",
                comment=f"placeholder/anonymised values: {fields}",
            )
        )
    warnings = inventory.get("warnings") or []
    if warnings:
        checks.append(
            _check(
                "inventory.sources",
                [],
                warnings,
                False,
                severity="warning",
                comment="some inventory sources were unavailable: "
                + "; ".join(warnings[:5])
                + (f"; ... ({len(warnings) - 5} more)" if len(warnings) > 5 else ""),
            )
        )
    return checks


def validate(
    inventory,
    profile,
    netbox_device,
    netbox_interfaces=None,
    netbox_cables_or_peers=None,
    *,
    device_type=None,
    profiles=None,
):
    """
    Validate a box. Parameters:

    - ``inventory``: from :func:`salt_ext.utils.hardware.inventory.collect`/``simulate``
    - ``profile``: the generation profile (with ``name``) from ``select_profile``
    - ``netbox_device``: the NetBox device (REST shape)
    - ``netbox_interfaces``: the device's interfaces (REST shape), optional
    - ``netbox_cables_or_peers``: the device's cables (REST shape) or a ready peers mapping
      ``{iface: {"device": ..., "port": ...}}``; optional when interfaces carry ``link_peers``
    - ``device_type``: the full NetBox device type (for ``custom_fields.hw_generation``) when the
      device only carries the nested one
    - ``profiles``: all profiles, to name the generation the hardware really is
    """
    device = netbox_device or {}
    interfaces = simple_interfaces(netbox_interfaces or [])
    cables = netbox_cables_or_peers
    peers = cables if isinstance(cables, dict) else peers_from_cables(device, cables)
    for iface in interfaces:
        if not iface.get("peer") and peers.get(iface["name"]):
            iface["peer"] = dict(peers[iface["name"]])
    checks = [_serial_check(inventory, device)]
    checks.extend(_generation_checks(inventory, profile, device, device_type, profiles))
    checks.extend(hardware_checks(inventory, profile))
    checks.extend(interface_checks(inventory, interfaces))
    checks.extend(bond_checks(profile, interfaces))
    checks.extend(_inventory_quality(inventory))
    report = {"generation": profile.get("name"), "device": device.get("name"), "checks": checks}
    return restrict(report, ("",))


def format_report(report):
    """Readable multi-line text of a report (used as the state comment)."""
    lines = [
        f"hardware validation of {report.get('device')} ({report.get('generation')}): "
        f"{'PASSED' if report['passed'] else 'FAILED'} - {report['summary']}"
    ]
    for check in report["checks"]:
        if check["ok"]:
            continue
        mark = "FAIL" if check["severity"] == "error" else "WARN"
        detail = check["comment"] or f"expected {check['expected']!r}, found {check['actual']!r}"
        lines.append(f"  [{mark}] {check['name']}: {detail}")
    return "\n".join(lines)


#: checks of a validation report that say whether a configured box is in service: its links
#: (LLDP against NetBox's cables) and the services its profile requires
POSTCHECK_PREFIXES = ("cabling.", "services.")


#: the inventory sources the post-check's checks read (NICs and their LLDP neighbours)
POSTCHECK_SOURCES = ("ip", "lldp")


def restrict(report, prefixes):
    """
    ``report`` with only the checks whose names start with one of ``prefixes``; ``failed``,
    ``warnings``, ``passed`` and ``summary`` are those of the checks kept (in place, returned).
    """
    checks = [c for c in report["checks"] if c["name"].startswith(tuple(prefixes))]
    failed = [c["name"] for c in checks if not c["ok"] and c["severity"] == "error"]
    warned = [c["name"] for c in checks if not c["ok"] and c["severity"] != "error"]
    report.update(
        checks=checks,
        failed=failed,
        warnings=warned,
        passed=not failed,
        summary=(
            f"{len(checks) - len(failed) - len(warned)} of {len(checks)} checks ok"
            + (f"; failed: {', '.join(failed)}" if failed else "")
            + (f"; warnings: {', '.join(warned)}" if warned else "")
        ),
    )
    return report


def postcheck_verdict(report):
    """
    ``(ok, comment)`` of the post-check of a configured box: the ``cabling.*`` and ``services.*``
    checks of its :func:`validate` report (with the profile's services checked); the hardware
    checks are the pre-configuration validation's business. Anything but a report (an error
    string from a minion) is a failure.
    """
    if not isinstance(report, dict) or "checks" not in report:
        return False, f"hardware.validate could not run: {report}"
    mine = [c for c in report["checks"] if c["name"].startswith(POSTCHECK_PREFIXES)]
    bad = [c for c in mine if not c["ok"] and c.get("severity", "error") == "error"]
    if bad:
        return False, "post-check failed: " + "; ".join(
            f"{c['name']}: {c.get('comment') or c.get('actual')}" for c in bad
        )
    cabled = [c for c in mine if c["name"].startswith("cabling.")]
    up = [c["name"].split(".", 1)[1] for c in mine if c["name"].startswith("services.")]
    return True, (
        f"{len(cabled)} link(s) match NetBox by LLDP; "
        + (f"services up: {', '.join(up)}" if up else "no required services in the profile")
    )


def suggest_expected(inventory):
    """An ``expected:`` block describing this inventory exactly: a starting point for a draft."""
    cpu = inventory.get("cpu") or {}
    memory = inventory.get("memory") or {}
    nics = inventory.get("nics") or []
    groups = {}
    for disk in _fixed_disks(inventory):
        cls = _disk_class(disk) or "any"
        group = groups.setdefault(cls, {"class": cls, "count": 0, "min_size_gb": None})
        group["count"] += 1
        size = int((disk.get("size_bytes") or 0) / 1000**3)
        group["min_size_gb"] = (
            size if group["min_size_gb"] is None else min(group["min_size_gb"], size)
        )
    sizes = sorted({round((d.get("size_bytes") or 0) / GB) for d in memory.get("dimms") or []})
    speeds = [n.get("speed_mbps") for n in nics if n.get("speed_mbps")]
    drivers = sorted({n.get("driver") for n in nics if n.get("driver")})
    dimms = memory.get("dimms") or []

    def only(key):
        values = {d.get(key) for d in dimms}
        return (
            f"^{re.escape(str(values.pop()))}$" if len(values) == 1 and None not in values else None
        )

    firmware = inventory.get("firmware") or {}
    expected = {
        "cpu": {
            "model": re.escape(cpu["model"]) if cpu.get("model") else None,
            "sockets": cpu.get("sockets"),
            "cores": cpu.get("cores"),
            "threads": cpu.get("threads"),
            "socket_type": f"^{re.escape(cpu['socket_type'])}$" if cpu.get("socket_type") else None,
        },
        "memory": {
            "total_gb": memory.get("total_gb"),
            "dimm_count": memory.get("dimm_count"),
            "dimm_size_gb": sizes[0] if len(sizes) == 1 else None,
            "type": only("type"),
            "module": only("module"),
            "ecc": memory.get("ecc"),
        },
        "disks": sorted(groups.values(), key=lambda g: g["class"]),
        "nics": {
            "count": len(nics),
            "min_speed_mbps": min(speeds) if speeds else None,
            "driver": "^(" + "|".join(re.escape(d) for d in drivers) + ")$" if drivers else None,
        },
        "pcie": {"slots_in_use": (inventory.get("pcie") or {}).get("slots_in_use")},
        "firmware": {
            "bios": firmware.get("bios"),
            "bmc": firmware.get("bmc"),
            "bios_family": firmware.get("bios_family"),
            "bmc_family": firmware.get("bmc_family"),
        },
    }
    shaped = {
        section: (
            {k: v for k, v in values.items() if v is not None}
            if isinstance(values, dict)
            else values
        )
        for section, values in expected.items()
    }
    if not shaped["pcie"]:
        del shaped["pcie"]  # no SMBIOS slot table: nothing to expect
    return shaped


def compare_draft(inventory, name, profile):
    """
    Where a (draft) generation profile disagrees with a real sample box::

        {"generation", "schema_errors": [...], "matches_hardware": bool,
         "agrees": bool, "disagreements": [<failed checks>], "checks": [...],
         "hardware": {"vendor", "product"}, "suggested": {<expected block from the box>}}
    """
    errors = check_profile(name, profile)
    system = inventory.get("system") or {}
    checks = [] if errors else hardware_checks(inventory, dict(profile, name=name))
    matched = not errors and matches(profile, inventory)
    if not errors:
        rules = profile.get("match") or {}
        checks.insert(
            0,
            _check(
                "match",
                rules,
                {"vendor": system.get("vendor"), "product": system.get("product")},
                matched,
                comment=(
                    ""
                    if matched
                    else f"the match patterns {rules} do not recognise {system.get('vendor')!r} "
                    f"{system.get('product')!r}"
                ),
            ),
        )
    disagreements = [c for c in checks if not c["ok"]]
    return {
        "generation": name,
        "schema_errors": errors,
        "matches_hardware": matched,
        "agrees": not errors and not disagreements,
        "disagreements": disagreements,
        "checks": checks,
        "hardware": {"vendor": system.get("vendor"), "product": system.get("product")},
        "inventory_warnings": inventory.get("warnings") or [],
        "suggested": suggest_expected(inventory),
    }
