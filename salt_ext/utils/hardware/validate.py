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
            comment=f"the box reports a placeholder serial ({reason}); fix the SMBIOS data or NetBox",
        )
    ok = actual.lower() == expected.lower()
    return _check(
        "serial",
        expected,
        actual,
        ok,
        comment="" if ok else "serial differs from NetBox (wrong box?)",
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
            "custom field hw_generation"
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
                comment="" if ok else f"profile {name} does not cover NetBox device type '{slug}'",
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


def hardware_checks(inventory, profile):
    """CPU, memory, disks, NICs, PSUs and firmware of ``inventory`` vs ``profile['expected']``."""
    expected = profile.get("expected") or {}
    checks = []
    cpu_spec = expected.get("cpu") or {}
    cpu = inventory.get("cpu") or {}
    if "model" in cpu_spec:
        ok = bool(cpu.get("model")) and re.search(cpu_spec["model"], cpu["model"], re.I) is not None
        checks.append(
            _check(
                "cpu.model",
                cpu_spec["model"],
                cpu.get("model"),
                ok,
                comment="" if ok else "CPU model does not match the profile pattern",
            )
        )
    for key in ("sockets", "cores", "threads"):
        if key in cpu_spec:
            checks.append(_number_check(f"cpu.{key}", cpu_spec[key], cpu.get(key)))

    mem_spec = expected.get("memory") or {}
    memory = inventory.get("memory") or {}
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
        sizes = sorted(
            {round((d.get("size_bytes") or 0) / GB, 1) for d in memory.get("dimms") or []}
        )
        ok = bool(sizes) and all(_in_range(s, mem_spec["dimm_size_gb"]) for s in sizes)
        checks.append(
            _check(
                "memory.dimm_size_gb",
                _fmt_spec(mem_spec["dimm_size_gb"]),
                sizes,
                ok,
                comment="" if ok else "DIMM sizes differ from the profile",
            )
        )

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
        comment = "" if ok else f"too slow or unknown: {slow or 'no NIC with link'}"
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
        checks.append(
            _check(
                "nics.driver",
                nic_spec["driver"],
                {n["name"]: n.get("driver") for n in nics},
                bool(nics) and not wrong,
                comment="" if nics and not wrong else f"unexpected drivers: {wrong or 'no NICs'}",
            )
        )
    if "count" in (expected.get("psus") or {}):
        present = [p for p in inventory.get("psus") or [] if p.get("present")]
        checks.append(_number_check("psus.count", expected["psus"]["count"], len(present)))

    fw_spec = expected.get("firmware") or {}
    firmware = inventory.get("firmware") or {}
    for key in ("bios", "bmc"):
        if key in fw_spec:
            actual = firmware.get(key)
            ok = version_at_least(actual, fw_spec[key])
            checks.append(
                _check(
                    f"firmware.{key}",
                    f">= {fw_spec[key]}",
                    actual,
                    ok is True,
                    comment=(
                        ""
                        if ok
                        else (
                            "version unknown" if ok is None else f"{key} firmware below the minimum"
                        )
                    ),
                )
            )
    if "nic" in fw_spec:
        versions = firmware.get("nics") or {}
        low = {n: v for n, v in versions.items() if version_at_least(v, fw_spec["nic"]) is not True}
        ok = bool(versions) and not low
        checks.append(
            _check(
                "firmware.nic",
                f">= {fw_spec['nic']}",
                versions,
                ok,
                comment=(
                    ""
                    if ok
                    else f"below the minimum or unknown: {low or 'no NIC firmware reported'}"
                ),
            )
        )
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


def _describe_neighbour(nb):
    if not nb:
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
        comment = f"no NIC on the box matches NetBox interface {name}"
        return _check(check_name, expected, None, False, comment=comment)
    if not nb:
        comment = (
            f"no LLDP neighbour seen on {local['name']} (link down, lldpd not running or switch "
            "LLDP off)"
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
                        comment="" if ok else "BMC MAC differs from NetBox",
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
                    comment="" if ok else f"no NIC on the box has NetBox's MAC {mac} for {name}",
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
    failed = [c["name"] for c in checks if not c["ok"] and c["severity"] == "error"]
    warned = [c["name"] for c in checks if not c["ok"] and c["severity"] != "error"]
    passed = not failed
    summary = (
        f"{len(checks) - len(failed) - len(warned)} of {len(checks)} checks ok"
        + (f"; failed: {', '.join(failed)}" if failed else "")
        + (f"; warnings: {', '.join(warned)}" if warned else "")
    )
    return {
        "passed": passed,
        "generation": profile.get("name"),
        "device": device.get("name"),
        "checks": checks,
        "failed": failed,
        "warnings": warned,
        "summary": summary,
    }


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
    expected = {
        "cpu": {
            "model": re.escape(cpu["model"]) if cpu.get("model") else None,
            "sockets": cpu.get("sockets"),
            "cores": cpu.get("cores"),
            "threads": cpu.get("threads"),
        },
        "memory": {
            "total_gb": memory.get("total_gb"),
            "dimm_count": memory.get("dimm_count"),
            "dimm_size_gb": sizes[0] if len(sizes) == 1 else None,
        },
        "disks": sorted(groups.values(), key=lambda g: g["class"]),
        "nics": {
            "count": len(nics),
            "min_speed_mbps": min(speeds) if speeds else None,
            "driver": "^(" + "|".join(re.escape(d) for d in drivers) + ")$" if drivers else None,
        },
        "firmware": {
            "bios": (inventory.get("firmware") or {}).get("bios"),
            "bmc": (inventory.get("firmware") or {}).get("bmc"),
        },
    }
    return {
        section: (
            {k: v for k, v in values.items() if v is not None}
            if isinstance(values, dict)
            else values
        )
        for section, values in expected.items()
    }


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
                comment="" if matched else "the match patterns do not recognise this hardware",
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
