"""
Preflight of a rack turn-up: everything NetBox must say right before a rack is touched. Never
writes. Each problem names the NetBox object, what is wrong, the fix and the object's NetBox URL.
"""

from salt_ext.utils.netbox_ops.diff import simplify
from salt_ext.utils.turnup import plan as planner


def _url(obj):
    return (obj or {}).get("display_url") or (obj or {}).get("url")


def _problem(kind, dev, check, message, fix, *, url=None, obj=None):  # noqa: PLR0917
    return {
        "severity": kind,
        "object": obj or f"dcim.devices {dev['name']}",
        "device": dev["name"],
        "check": check,
        "message": message,
        "fix": fix,
        "url": url if url is not None else _url(dev),
    }


def required_interfaces(profile):
    """The NIC names a generation profile needs cabled: bond members and named NICs."""
    config = (profile or {}).get("config") or {}
    names = list(((config.get("bond") or {}).get("members")) or [])
    for name in (config.get("nic_naming") or {}).get("names") or {}:
        if name not in names:
            names.append(name)
    return names


def _vlans(iface):
    out = set()
    if iface.get("untagged_vlan"):
        out.add(iface["untagged_vlan"].get("vid"))
    for vlan in iface.get("tagged_vlans") or []:
        out.add(vlan.get("vid"))
    return out


def run(src, site, rack, profiles, *, devices=None, inventory=None):
    """
    Preflight ``site``/``rack``: ``{site, rack, ok, errors, warnings, checked}``. Rack/site not
    found and a rack with nothing to turn up raise ``SaltInvocationError`` (what exists is listed).
    ``profiles``: the known generation profiles (pillar ``hwgen_profiles``).
    """
    inventory = inventory or planner.rack_inventory(src, site, rack)
    site_obj, rack_obj, devs, interfaces = inventory
    plan = planner.build(src, site, rack, devices=devices, inventory=inventory)
    types = planner.generations(src, plan)
    profiles = profiles or {}
    by_name = {d["name"]: d for d in devs}
    ifaces = {}
    for iface in interfaces:
        ifaces.setdefault(iface["device"]["name"], {})[iface["name"]] = iface
    errors, warnings = [], []
    servers = [plan["devices"][n] for n in plan["servers"]]
    # serials: one listing for all of them (serial duplicated anywhere in NetBox)
    serials = sorted({by_name[s["name"]].get("serial") for s in servers} - {None, ""})
    holders = {}
    if serials:
        for dev in src.list_by("dcim.devices", "serial", serials):
            holders.setdefault(dev.get("serial"), []).append(dev)
    peer_ports = {}
    wanted_peers = set()
    for server in servers:
        dev = by_name[server["name"]]
        status = simplify(dev.get("status"))
        if status in planner.FORBIDDEN_STATUSES:
            errors.append(
                _problem(
                    "error",
                    dev,
                    "status",
                    f"status is {status}: a {status} device must not be turned up",
                    "set it to planned in NetBox if it really is to be turned up, or leave it "
                    "out with devices=",
                )
            )
        if not server["primary_ip"]:
            errors.append(
                _problem(
                    "error",
                    dev,
                    "primary_ip",
                    "has no primary IP address (primary_ip4/primary_ip6)",
                    "assign an IP address to its bond/uplink interface in NetBox and make it the "
                    "device's primary IPv4",
                )
            )
        else:
            ip = dev.get("primary_ip4") or dev.get("primary_ip6")
            assigned = [
                i for i in ifaces.get(dev["name"], {}).values() if i.get("count_ipaddresses")
            ]
            if ifaces.get(dev["name"]) and not assigned:
                warnings.append(
                    _problem(
                        "warning",
                        dev,
                        "primary_ip",
                        f"primary IP {ip.get('address')} is not on an interface of the device",
                        "assign the address to the device's bond interface",
                        url=_url(ip),
                        obj=f"ipam.ip-addresses {ip.get('address')}",
                    )
                )
        dtype = types.get(server["device_type"]) or {}
        gen = server["generation"]
        profile = profiles.get(gen) if gen else None
        if not gen:
            errors.append(
                _problem(
                    "error",
                    dev,
                    "generation",
                    f"device type {server['device_type']} has no hardware generation (custom field "
                    "hw_generation is empty)",
                    f"set hw_generation on device type {server['device_type']} to one of "
                    f"{', '.join(sorted(profiles)) or 'the known generations'}, or add a "
                    "profile for it (docs/hardware-generations.md)",
                    url=_url(dtype),
                    obj=f"dcim.device-types {server['device_type']}",
                )
            )
        elif profile is None:
            errors.append(
                _problem(
                    "error",
                    dev,
                    "generation",
                    f"device type {server['device_type']} says generation {gen}, which has no "
                    f"profile (known: {', '.join(sorted(profiles)) or 'none'})",
                    f"add pillar/hwgen/{gen}.sls and list it in pillar/top.sls",
                    url=_url(dtype),
                    obj=f"dcim.device-types {server['device_type']}",
                )
            )
        serial = (dev.get("serial") or "").strip()
        if not serial:
            warnings.append(
                _problem(
                    "warning",
                    dev,
                    "serial",
                    "has no serial in NetBox",
                    "nothing to do: the turn-up records the serial the box reports "
                    "(netbox.sync_inventory)",
                )
            )
        else:
            others = sorted(
                (d for d in holders.get(serial, []) if d["id"] != dev["id"]),
                key=lambda d: (d.get("created") or "", d["id"]),
            )
            if others:
                first = min(others + [dev], key=lambda d: (d.get("created") or "", d["id"]))
                names = ", ".join(
                    f"{d['name']} ({(d.get('site') or {}).get('slug')}"
                    f"/{(d.get('rack') or {}).get('name')})"
                    for d in others
                )
                if first["id"] == dev["id"]:
                    warnings.append(
                        _problem(
                            "warning",
                            dev,
                            "serial_duplicate",
                            f"serial {serial} is also on {names}, entered later",
                            f"correct the serial of {', '.join(d['name'] for d in others)}; "
                            "this box's real serial is checked when it is validated",
                        )
                    )
                else:
                    errors.append(
                        _problem(
                            "error",
                            dev,
                            "serial_duplicate",
                            f"serial {serial} is duplicated: {names} has it too (entered first)",
                            "read the serial off the box (or its BMC) and correct it in NetBox",
                        )
                    )
        have = ifaces.get(dev["name"], {})
        for name in required_interfaces(profile):
            iface = have.get(name)
            if iface is None:
                errors.append(
                    _problem(
                        "error",
                        dev,
                        "cabling",
                        f"has no interface {name}, which generation {gen} needs",
                        f"add interface {name} to {dev['name']} (or fix the device type's "
                        "interface templates)",
                    )
                )
                continue
            peers = iface.get("link_peers") or []
            if not iface.get("cable") or not peers:
                errors.append(
                    _problem(
                        "error",
                        iface | {"name": dev["name"]},
                        "cabling",
                        f"interface {name} is not cabled in NetBox; generation {gen} needs it "
                        "(bond member)",
                        f"record the cable from {dev['name']} {name} to its ToR port in NetBox",
                        url=_url(iface),
                        obj=f"dcim.interfaces {dev['name']}:{name}",
                    )
                )
                continue
            peer = peers[0]
            key = ((peer.get("device") or {}).get("name"), peer.get("name"))
            wanted_peers.add(key[0])
            peer_ports[(dev["name"], name)] = (key, iface)
    # ToR ports: the VLANs the server's bond needs, when the ToR port models VLANs at all
    if peer_ports:
        switch_ifaces = {}
        for iface in interfaces:
            if iface["device"]["name"] in wanted_peers:
                switch_ifaces[(iface["device"]["name"], iface["name"])] = iface
        for (server_name, name), (key, iface) in sorted(peer_ports.items()):
            port = switch_ifaces.get(key)
            if port is None or not simplify(port.get("mode")):
                continue  # a switch outside the rack, or a port whose VLANs NetBox does not model
            need = set()
            lag = iface.get("lag")
            for cand in ifaces.get(server_name, {}).values():
                if cand["name"] == name or (lag and cand["id"] == lag.get("id")):
                    need |= _vlans(cand)
            missing = sorted(v for v in need - _vlans(port) if v is not None)
            if missing:
                errors.append(
                    _problem(
                        "error",
                        by_name[server_name],
                        "tor_port",
                        f"{server_name} {name} is cabled to {key[0]} {key[1]}, which lacks "
                        f"VLAN {', '.join(map(str, missing))} the server needs",
                        f"add VLAN {', '.join(map(str, missing))} to {key[0]} {key[1]} in NetBox",
                        url=_url(port),
                        obj=f"dcim.interfaces {key[0]}:{key[1]}",
                    )
                )
    wanted = planner.parse_devices(devices) or []
    for name, status in sorted(plan["skipped"].items()):
        if status in planner.FORBIDDEN_STATUSES:
            (errors if name in wanted else warnings).append(
                _problem(
                    "error" if name in wanted else "warning",
                    by_name[name],
                    "status",
                    f"status is {status}, which forbids a turn-up: left out of the run",
                    "set it to planned in NetBox if it really is to be turned up",
                )
            )
    for name, entry in plan["devices"].items():
        if entry["kind"] == "server":
            continue
        if entry["status"] != "active":
            warnings.append(
                _problem(
                    "warning",
                    by_name[name],
                    "status",
                    f"{entry['kind']} switch is {entry['status']}, not active: its servers may be "
                    "unreachable",
                    "turn the switch up first (it is checked, not configured, by the turn-up)",
                )
            )
    return {
        "site": plan["site"],
        "rack": plan["rack"],
        "ok": not errors,
        "errors": errors,
        "warnings": warnings,
        "checked": sorted(plan["devices"]),
        "skipped": plan["skipped"],
    }
