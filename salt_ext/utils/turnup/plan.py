"""
Turn-up planner: from NetBox, the waves in which a rack's devices are turned up.

Network devices first (OOB switches, then ToR switches; ``managed`` when their minion id is an
accepted key, else ``unmanaged``: checked, not configured), then the servers: a canary of one and
batches of ``batch`` (a count or a percentage of the servers).
"""

import math
import re

from salt.exceptions import SaltInvocationError

from salt_ext.utils.netbox_ops.diff import simplify

#: NetBox statuses a server may be turned up from
TURNUP_STATUSES = ("planned", "staged", "failed", "inventory")
#: statuses that forbid a turn-up (preflight error)
FORBIDDEN_STATUSES = ("offline", "decommissioning")
DONE_STATUS = "active"


class NothingToTurnUp(SaltInvocationError):
    """The rack has no device in a status that can be turned up."""


def _name(ref):
    if isinstance(ref, dict):
        return ref.get("slug") or ref.get("name") or ref.get("display")
    return ref


def device_kind(dev):
    """``oob``, ``tor`` or ``server`` from the device role (slug or name)."""
    role = (_name(dev.get("role") or dev.get("device_role")) or "").lower()
    words = set(re.split(r"[^a-z0-9]+", role))
    if words & {"oob", "console", "mgmt", "management"}:
        return "oob"
    if words & {"tor", "switch", "router", "leaf", "spine"}:
        return "tor"
    return "server"


def minion_id(dev):
    """The device's minion id: custom field ``minion_id``, else its name."""
    cf = dev.get("custom_fields") or {}
    return cf.get("minion_id") or dev["name"]


def parse_batch(value, total):
    """A batch size given as a count (``3``) or a percentage (``25%``) of ``total`` servers."""
    if isinstance(value, bool) or value is None or value == "":
        raise SaltInvocationError(f"batch must be a count or a percentage like 25%, got {value!r}")
    text = str(value).strip()
    try:
        if text.endswith("%"):
            pct = float(text[:-1])
            if not 0 < pct <= 100:
                raise SaltInvocationError(
                    f"batch={value}: a percentage must be above 0 % and at most 100 %"
                )
            return max(1, math.ceil(total * pct / 100.0)) if total else 1
        count = float(text)
    except ValueError:
        raise SaltInvocationError(
            f"batch={value!r} is not a count or a percentage; use e.g. batch=4 or batch=25%"
        ) from None
    if count < 1 or not count.is_integer():
        raise SaltInvocationError(f"batch={value}: give a whole number of servers of at least 1")
    return int(count)


def parse_max_failures(value, servers):
    """
    The number of failed servers the run tolerates (it stops when there are more). Default
    (``None``): more than 10 % of the servers and at least 2 stops it, i.e. it tolerates
    ``max(1, floor(10 %))``. ``value`` is a count (``2``) or a percentage (``20%``).
    """
    if value is None or value == "":
        return max(1, math.floor(servers * 0.10 + 1e-9))
    if isinstance(value, bool):
        raise SaltInvocationError(f"max_failures must be a count or a percentage, got {value!r}")
    text = str(value).strip()
    try:
        if text.endswith("%"):
            pct = float(text[:-1])
            if not 0 <= pct <= 100:
                raise SaltInvocationError(f"max_failures={value}: a percentage is 0 % to 100 %")
            return math.floor(servers * pct / 100.0 + 1e-9)
        count = float(text)
    except ValueError:
        raise SaltInvocationError(
            f"max_failures={value!r} is not a count or a percentage; use e.g. max_failures=2 "
            "or max_failures=20%"
        ) from None
    if count < 0 or not count.is_integer():
        raise SaltInvocationError(f"max_failures={value}: give a whole number of servers >= 0")
    return int(count)


def parse_devices(value):
    """``devices=a,b`` / a list -> a list of names, or None."""
    if value in (None, "", []):
        return None
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",")]
    elif isinstance(value, (list, tuple)):
        items = [str(v).strip() for v in value]
    else:
        raise SaltInvocationError(f"devices must be a comma-separated list of names, got {value!r}")
    items = [v for v in items if v]
    if not items:
        return None
    return items


def find_site(src, site):
    if not site or not isinstance(site, str):
        raise SaltInvocationError("site=<NetBox site slug> is required, e.g. site=lab1")
    found = [s for s in src.list("dcim.sites", {"slug": site}) if s.get("slug") == site]
    if not found:
        found = [s for s in src.list("dcim.sites", {"name": site}) if s.get("name") == site]
    if not found:
        known = sorted(s["slug"] for s in src.list("dcim.sites"))
        raise SaltInvocationError(
            f"site={site!r} not found in NetBox (dcim.sites); sites that exist: "
            f"{', '.join(known) or 'none'}"
        )
    return found[0]


def find_rack(src, site_obj, rack):
    if rack is None or rack == "":
        raise SaltInvocationError("rack=<NetBox rack name> is required, e.g. rack=R2")
    rack = str(rack)
    racks = src.list("dcim.racks", {"site_id": site_obj["id"]})
    found = [r for r in racks if r.get("name") == rack]
    if not found:
        raise SaltInvocationError(
            f"rack={rack!r} not found in site {site_obj['slug']} (dcim.racks); racks there: "
            f"{', '.join(sorted(r['name'] for r in racks)) or 'none'}"
        )
    return found[0]


def peers_of(interfaces):
    """``{device: {iface: "peer-device:peer-port"}}`` from interfaces' ``link_peers``."""
    out = {}
    for iface in interfaces:
        dev = (iface.get("device") or {}).get("name")
        peers = [
            f"{(p.get('device') or {}).get('name')}:{p.get('name')}"
            for p in iface.get("link_peers") or []
            if isinstance(p, dict) and p.get("name")
        ]
        if peers:
            out.setdefault(dev, {})[iface["name"]] = peers[0] if len(peers) == 1 else peers
    return out


def rack_inventory(src, site, rack):
    """``(site, rack, devices, interfaces)`` of a rack from NetBox (three listings)."""
    site_obj = find_site(src, site)
    rack_obj = find_rack(src, site_obj, rack)
    devices = src.list("dcim.devices", {"rack_id": rack_obj["id"]})
    devices = [d for d in devices if (d.get("rack") or {}).get("id") in (None, rack_obj["id"])]
    interfaces = src.list("dcim.interfaces", {"rack_id": rack_obj["id"]}) if devices else []
    ids = {d["id"] for d in devices}
    interfaces = [i for i in interfaces if (i.get("device") or {}).get("id") in ids]
    return site_obj, rack_obj, devices, interfaces


def build(src, site, rack, *, batch="25%", devices=None, accepted=None, inventory=None):
    """
    The turn-up plan of ``site``/``rack`` (see docs/turnup-internals.md). ``accepted``: accepted minion
    ids (network devices among them are ``managed``). ``inventory``: a :func:`rack_inventory`
    result already read.
    """
    site_obj, rack_obj, devs, interfaces = inventory or rack_inventory(src, site, rack)
    accepted = set(accepted or ())
    wanted = parse_devices(devices)
    if wanted:
        names = {d["name"] for d in devs}
        unknown = [n for n in wanted if n not in names]
        if unknown:
            raise SaltInvocationError(
                f"devices: {', '.join(unknown)} not in rack {rack_obj['name']} of "
                f"{site_obj['slug']}; devices there: {', '.join(sorted(names)) or 'none'}"
            )
    peers = peers_of(interfaces)
    entries, skipped = {}, {}
    for dev in sorted(devs, key=lambda d: d["name"]):
        kind = device_kind(dev)
        status = simplify(dev.get("status"))
        dtype = dev.get("device_type") or {}
        entry = {
            "name": dev["name"],
            "id": dev["id"],
            "minion": minion_id(dev),
            "role": _name(dev.get("role")),
            "kind": kind,
            "managed": kind == "server" or minion_id(dev) in accepted,
            "device_type": _name(dtype),
            "generation": None,
            "status": status,
            "primary_ip": (
                (dev.get("primary_ip4") or dev.get("primary_ip6") or {}).get("address")
                if isinstance(dev.get("primary_ip4") or dev.get("primary_ip6"), dict)
                else None
            ),
            "peers": peers.get(dev["name"], {}),
            "wave": None,
        }
        if kind == "server":
            if wanted and dev["name"] not in wanted:
                skipped[dev["name"]] = "not in devices="
                continue
            if status not in TURNUP_STATUSES and status != DONE_STATUS:
                skipped[dev["name"]] = status
        entries[dev["name"]] = entry
    servers = [n for n, e in entries.items() if e["kind"] == "server" and n not in skipped]
    if not servers:
        statuses = {}
        for dev in devs:
            if device_kind(dev) == "server":
                statuses.setdefault(simplify(dev.get("status")), []).append(dev["name"])
        found = "; ".join(f"{s}: {', '.join(sorted(n))}" for s, n in sorted(statuses.items()))
        raise NothingToTurnUp(
            f"rack {rack_obj['name']} of {site_obj['slug']} has no server to turn up (servers "
            f"must be {', '.join(TURNUP_STATUSES)} or already {DONE_STATUS}); found "
            f"{found or 'no servers at all'}"
        )
    for name in skipped:
        entries.pop(name, None)
    size = parse_batch(batch, len(servers))
    waves = []
    for kind in ("oob", "tor"):
        members = [n for n, e in entries.items() if e["kind"] == kind]
        if members:
            waves.append({"name": kind, "kind": "network", "devices": members})
    # active servers are done already: keep them last in their order, the canary is a real one
    order = sorted(servers, key=lambda n: (entries[n]["status"] == DONE_STATUS, n))
    waves.append({"name": "canary", "kind": "canary", "devices": order[:1]})
    rest = order[1:]
    for index in range(0, len(rest), size):
        waves.append(
            {
                "name": f"batch-{index // size + 1}",
                "kind": "batch",
                "devices": rest[index : index + size],
            }
        )
    for wave in waves:
        for name in wave["devices"]:
            entries[name]["wave"] = wave["name"]
    return {
        "site": site_obj["slug"],
        "rack": rack_obj["name"],
        "rack_id": rack_obj["id"],
        "site_id": site_obj["id"],
        "batch": str(batch),
        "batch_size": size,
        "waves": waves,
        "devices": entries,
        "servers": order,
        "skipped": skipped,
    }


def generations(src, plan):
    """Fill each device's ``generation`` from its device type's custom field ``hw_generation``."""
    types = {}
    for dev in plan["devices"].values():
        slug = dev["device_type"]
        if slug and slug not in types:
            found = src.list("dcim.device-types", {"slug": slug})
            types[slug] = found[0] if found else {}
        dev["generation"] = ((types.get(slug) or {}).get("custom_fields") or {}).get(
            "hw_generation"
        )
    return types
