"""
Bulk fetching of a site's NetBox objects, and incremental refresh from NetBox's change log.

A *record* is a plain dict (msgpack-serialisable, stored in Salt's cache)::

    {"schema": 1, "scope": {"kind": "site", "id": 25, "slug": "lab1"},
     "endpoints": ["dcim.devices", ...],          # what the record covers
     "objects": {"dcim.devices": [...], ...},     # REST shapes, as NetBox returned them
     "cursor": 2316,                              # id of the newest change-log entry seen
     "seen": [2117, ..., 2316],                   # the newest ids applied (late commits)
     "synced_at": 1764417600.0, "full_at": ..., "version": "<hex>",
     "last_fetch": {"mode": "full" | "incremental" | "unchanged", "changes": 0, "requests": 14}}

The full fetch reads every object type of the site with a few paginated list requests (never one
per device): devices and interfaces/cables/prefixes/VLANs/racks by ``site_id``, IP addresses, MAC
addresses and services by batched ``device_id``. The incremental refresh reads
``core/object-changes`` with ``id__gt=<cursor>`` and refetches only the changed objects by id.
"""

from __future__ import annotations

import time
import uuid

from salt_ext.utils.netbox.errors import NetBoxNotFound, NetBoxPermissionDenied
from salt_ext.utils.pillar.assemble import choice
from salt_ext.utils.pillar.identity import index_entry

SCHEMA = 1
CHANGELOG = "core.object-changes"
CHANGE_FIELDS = [
    "id",
    "time",
    "action",
    "changed_object_type",
    "changed_object_id",
    "related_object_type",
    "related_object_id",
]
INDEX_FIELDS = ["id", "name", "site", "custom_fields"]

#: change-log object type -> endpoint refetched by id
TYPE_ENDPOINTS = {
    "dcim.site": "dcim.sites",
    "dcim.rack": "dcim.racks",
    "dcim.devicetype": "dcim.device-types",
    "dcim.platform": "dcim.platforms",
    "dcim.device": "dcim.devices",
    "dcim.interface": "dcim.interfaces",
    "dcim.macaddress": "dcim.mac-addresses",
    "dcim.cable": "dcim.cables",
    "ipam.ipaddress": "ipam.ip-addresses",
    "ipam.service": "ipam.services",
    "ipam.prefix": "ipam.prefixes",
    "ipam.vlan": "ipam.vlans",
    "virtualization.virtualmachine": "virtualization.virtual-machines",
    "virtualization.vminterface": "virtualization.interfaces",
}

#: changes to these alter nested representations or rendered config contexts of many objects:
#: the record is fetched again in full
FULL_REFETCH_TYPES = frozenset(
    {
        "extras.configcontext",
        "extras.configcontextprofile",
        "extras.customfield",
        "extras.tag",
        "dcim.devicerole",
        "dcim.manufacturer",
        "dcim.region",
        "dcim.sitegroup",
        "dcim.location",
        "dcim.virtualchassis",
        "tenancy.tenant",
        "ipam.vlangroup",
        "ipam.vrf",
        "ipam.role",
        "virtualization.cluster",
    }
)

#: endpoints whose objects appear nested in the record even when not fetched themselves
EMBEDDED_ENDPOINTS = frozenset({"dcim.platforms"})

#: dependents of a device / VM, fetched by batched parent id for devices new to a record
_BY_DEVICE = (
    ("dcim.interfaces", "device_id"),
    ("ipam.ip-addresses", "device_id"),
    ("dcim.mac-addresses", "device_id"),
    ("ipam.services", "device_id"),
    ("dcim.cables", "device_id"),
)
_BY_VM = (
    ("virtualization.interfaces", "virtual_machine_id"),
    ("ipam.ip-addresses", "virtual_machine_id"),
    ("dcim.mac-addresses", "virtual_machine_id"),
    ("ipam.services", "virtual_machine_id"),
)


class NeedFullFetch(Exception):
    """The change log cannot be used (unavailable, too long, or a wide change): fetch in full."""


def _oid(obj):
    return obj.get("id") if isinstance(obj, dict) else None


def _new_record(scope, endpoints, objects, *, cursor, started, requests, mode="full"):
    cursor, seen = cursor
    now = time.time()
    return {
        "schema": SCHEMA,
        "scope": scope,
        "endpoints": sorted(endpoints),
        "objects": objects,
        "cursor": cursor,
        "seen": seen,
        "synced_at": now,
        "full_at": now,
        "version": uuid.uuid4().hex,
        "last_fetch": {
            "mode": mode,
            "changes": 0,
            "requests": requests,
            "seconds": round(now - started, 3),
        },
    }


def _requests(src):
    counter = getattr(src, "counter", None)
    return counter.total if counter is not None else 0


#: how many of the newest change-log ids a record remembers: NetBox numbers an entry when the
#: change is written but shows it when its transaction commits, so an entry of a long
#: transaction (a bulk edit) can appear *below* the newest id already read; every refresh
#: re-reads the ids above the oldest remembered one and applies those it has not seen
SEEN_WINDOW = 200


def changelog_cursor(src):
    """
    ``(cursor, seen)``: the id of the newest change-log entry (read *before* a full fetch so that
    no change made during the fetch is missed) and the newest :data:`SEEN_WINDOW` ids, or
    ``(None, [])`` when the change log is not readable with this token.
    """
    seen = []
    try:
        for change in src.iter(
            CHANGELOG, {"ordering": "-id"}, fields=["id"], page_size=SEEN_WINDOW
        ):
            seen.append(change["id"])
            if len(seen) >= SEEN_WINDOW:
                break
    except (NetBoxPermissionDenied, NetBoxNotFound):
        return None, []
    return (max(seen) if seen else 0), sorted(seen)


def changes_since(src, cursor, limit, seen=()):
    """
    Change-log entries not applied yet, oldest first: those with an id above ``cursor``, and
    those above the oldest id of ``seen`` (the newest ids already applied) that ``seen`` lacks
    (committed late).

    :raises NeedFullFetch: no cursor, the change log is unreadable, or more than ``limit`` entries
    """
    if cursor is None:
        raise NeedFullFetch("no change-log cursor")
    seen = set(seen or ())
    floor = min(seen | {cursor}) if seen else cursor
    changes = []
    try:
        for change in src.iter(
            CHANGELOG,
            {"id__gt": floor, "ordering": "id"},
            fields=CHANGE_FIELDS,
            page_size=min(limit + 1 + len(seen), 1000),
        ):
            if change["id"] <= floor or change["id"] in seen:
                continue
            changes.append(change)
            if len(changes) > limit:
                raise NeedFullFetch(f"more than {limit} changes since the last sync")
    except (NetBoxPermissionDenied, NetBoxNotFound) as err:
        raise NeedFullFetch(f"change log unavailable: {err}") from None
    return changes


# ---------------------------------------------------------------------- identity index
def _index_params(options):
    return {"site": list(options.sites)} if options.sites else {}


def full_index(src, options):
    """Fetch the identity index (every device/VM: id, name, site, custom fields)."""
    started, before = time.time(), _requests(src)
    cursor = changelog_cursor(src)
    nodes = []
    if options.devices:
        for obj in src.list("dcim.devices", _index_params(options), fields=INDEX_FIELDS):
            nodes.append(index_entry("device", obj, options.minion_id_field))
    if options.virtual_machines:
        for obj in src.list(
            "virtualization.virtual-machines", _index_params(options), fields=INDEX_FIELDS
        ):
            nodes.append(index_entry("virtual_machine", obj, options.minion_id_field))
    scope = {"kind": "index", "sites": list(options.sites)}
    return _new_record(
        scope,
        [],
        {"nodes": nodes},
        cursor=cursor,
        started=started,
        requests=_requests(src) - before,
    )


def incremental_index(src, record, options):
    """Apply device/VM changes since the index's cursor (refetching only the changed nodes)."""
    started, before = time.time(), _requests(src)
    changes = changes_since(src, record.get("cursor"), options.changelog_max, record.get("seen"))
    kinds = {"dcim.device": "device", "virtualization.virtualmachine": "virtual_machine"}
    wanted = {"device": options.devices, "virtual_machine": options.virtual_machines}
    touched = {"device": set(), "virtual_machine": set()}
    for change in changes:
        kind = kinds.get(change.get("changed_object_type"))
        if kind and wanted[kind]:
            touched[kind].add(change["changed_object_id"])
    out = _touch(record, changes, started, src, before)
    if not any(touched.values()):
        return out
    rows = [r for r in record["objects"]["nodes"] if r[1] not in touched[r[0]]]
    for kind, endpoint in (
        ("device", "dcim.devices"),
        ("virtual_machine", "virtualization.virtual-machines"),
    ):
        if touched[kind]:
            for obj in src.list_by(
                endpoint, "id", sorted(touched[kind]), _index_params(options), fields=INDEX_FIELDS
            ):
                rows.append(index_entry(kind, obj, options.minion_id_field))
    out["objects"] = {"nodes": rows}
    out["version"] = uuid.uuid4().hex
    out["last_fetch"]["mode"] = "incremental"
    out["last_fetch"]["requests"] = _requests(src) - before
    return out


def _touch(record, changes, started, src, before):
    """A copy of ``record`` synced now, cursor moved past ``changes`` (version kept)."""
    out = dict(record)
    if changes:
        ids = [c["id"] for c in changes]
        out["cursor"] = max(ids + [record.get("cursor") or 0])
        out["seen"] = sorted(set(record.get("seen") or ()) | set(ids))[-SEEN_WINDOW:]
    out["synced_at"] = time.time()
    out["last_fetch"] = {
        "mode": "unchanged",
        "changes": len(changes),
        "requests": _requests(src) - before,
        "seconds": round(time.time() - started, 3),
    }
    return out


# ---------------------------------------------------------------------- site records
def _device_exclude(options):
    """Devices carry their rendered config context only when the pillar uses it."""
    if options.compat == "salt3007" or options.want("config_context") or options.want("hwgen"):
        return None
    return ["config_context"]


def _list_by(src, endpoint, key, values, params=None, **kwargs):
    values = sorted({v for v in values if v is not None})
    if not values:
        return []
    return src.list_by(endpoint, key, values, params, **kwargs)


def _fetch_dependents(src, endpoints, dev_ids, vm_ids, site_id=None):
    """Interfaces, IPs, MACs, services and cables of the given devices/VMs."""
    out = {}
    for endpoint, key in _BY_DEVICE:
        if endpoint not in endpoints or not dev_ids:
            continue
        if isinstance(site_id, list) and endpoint in ("dcim.interfaces", "dcim.cables"):
            out.setdefault(endpoint, []).extend(_list_by(src, endpoint, "site_id", site_id))
        elif site_id is not None and endpoint in ("dcim.interfaces", "dcim.cables"):
            out.setdefault(endpoint, []).extend(src.list(endpoint, {"site_id": site_id}))
        else:
            out.setdefault(endpoint, []).extend(_list_by(src, endpoint, key, dev_ids))
    for endpoint, key in _BY_VM:
        if endpoint in endpoints and vm_ids:
            out.setdefault(endpoint, []).extend(_list_by(src, endpoint, key, vm_ids))
    return out


def _referenced_devices(objects):
    """Device ids at the far end of cables / connected endpoints."""
    ids = set()
    for cable in objects.get("dcim.cables", ()):
        for term in (cable.get("a_terminations") or []) + (cable.get("b_terminations") or []):
            ids.add(_oid((term.get("object") or {}).get("device")))
    for iface in objects.get("dcim.interfaces", ()):
        for endpoint in iface.get("connected_endpoints") or ():
            if isinstance(endpoint, dict):
                ids.add(_oid(endpoint.get("device")))
    ids.discard(None)
    return ids


def _complete(src, objects, endpoints, options):
    """Fetch what the nodes refer to: device types, platforms, far-end devices of other sites."""
    nodes = list(objects.get("dcim.devices", ())) + list(
        objects.get("virtualization.virtual-machines", ())
    )
    have_types = {o["id"] for o in objects.get("dcim.device-types", ())}
    want_types = {_oid(d.get("device_type")) for d in objects.get("dcim.devices", ())}
    want_types.discard(None)
    objects["dcim.device-types"] = [
        o for o in objects.get("dcim.device-types", ()) if o["id"] in want_types
    ] + _list_by(src, "dcim.device-types", "id", want_types - have_types)
    if "dcim.platforms" in endpoints:
        have = {o["id"] for o in objects.get("dcim.platforms", ())}
        want = {_oid(n.get("platform")) for n in nodes} - {None}
        objects["dcim.platforms"] = [
            o for o in objects.get("dcim.platforms", ()) if o["id"] in want
        ] + _list_by(src, "dcim.platforms", "id", want - have)
    if "dcim.cables" in endpoints or options.connected_devices:
        local = {o["id"] for o in objects.get("dcim.devices", ())}
        want = _referenced_devices(objects) - local
        have = {o["id"] for o in objects.get("external.devices", ())}
        exclude = None if options.compat == "salt3007" else ["config_context"]
        objects["external.devices"] = [
            o for o in objects.get("external.devices", ()) if o["id"] in want
        ] + _list_by(src, "dcim.devices", "id", want - have, exclude=exclude)
    return objects


def full_scope(src, scope, endpoints, options):
    """
    Fetch every object of a scope (``{"kind": "site", "id": ...}`` or ``{"kind": "vm", ...}``
    for a virtual machine without a site) in bulk.
    """
    started, before = time.time(), _requests(src)
    cursor = changelog_cursor(src)
    objects = {}
    dev_ids, vm_ids = [], []
    site_id = scope["id"] if scope["kind"] == "site" else None
    if site_id is not None:
        objects["dcim.sites"] = src.list("dcim.sites", {"id": site_id})
        if "dcim.devices" in endpoints:
            objects["dcim.devices"] = src.list(
                "dcim.devices", {"site_id": site_id}, exclude=_device_exclude(options)
            )
            dev_ids = [d["id"] for d in objects["dcim.devices"]]
        if "virtualization.virtual-machines" in endpoints:
            objects["virtualization.virtual-machines"] = src.list(
                "virtualization.virtual-machines", {"site_id": site_id}
            )
        for endpoint in ("dcim.racks", "ipam.prefixes", "ipam.vlans"):
            if endpoint in endpoints:
                objects[endpoint] = src.list(endpoint, {"site_id": site_id})
    else:
        objects["virtualization.virtual-machines"] = src.list(
            "virtualization.virtual-machines", {"id": scope["id"]}
        )
    vm_ids = [v["id"] for v in objects.get("virtualization.virtual-machines", ())]
    objects.update(_fetch_dependents(src, endpoints, dev_ids, vm_ids, site_id))
    for endpoint in endpoints:
        objects.setdefault(endpoint, [])
    _complete(src, objects, endpoints, options)
    if site_id is not None and objects["dcim.sites"]:
        scope = dict(scope, slug=objects["dcim.sites"][0].get("slug"))
    return _new_record(
        scope,
        endpoints,
        _canonical(objects),
        cursor=cursor,
        started=started,
        requests=_requests(src) - before,
    )


def _scope_params(scope, endpoint):
    """Server-side membership filter used when refetching changed objects of ``endpoint``."""
    if scope["kind"] not in ("site", "sites"):
        return {}
    if endpoint == "dcim.sites":
        return {}
    if endpoint in (
        "dcim.devices",
        "dcim.interfaces",
        "dcim.cables",
        "dcim.racks",
        "ipam.prefixes",
        "ipam.vlans",
        "virtualization.virtual-machines",
    ):
        return {"site_id": scope["ids"] if scope["kind"] == "sites" else scope["id"]}
    return {}


def _member(endpoint, obj, scope, dev_ids, vm_ids):
    """Local membership test for endpoints NetBox cannot filter by site."""
    if endpoint == "dcim.sites":
        if scope["kind"] == "sites":
            return obj["id"] in scope["ids"]
        return scope["kind"] == "site" and obj["id"] == scope["id"]
    if endpoint in ("ipam.ip-addresses", "dcim.mac-addresses"):
        atype = obj.get("assigned_object_type")
        assigned = obj.get("assigned_object") or {}
        if atype == "dcim.interface":
            return _oid(assigned.get("device")) in dev_ids
        if atype == "virtualization.vminterface":
            return _oid(assigned.get("virtual_machine")) in vm_ids
        return False
    if endpoint == "ipam.services":
        ptype = obj.get("parent_object_type")
        pid = obj.get("parent_object_id")
        if ptype is None:
            return _oid(obj.get("device")) in dev_ids or _oid(obj.get("virtual_machine")) in vm_ids
        return (ptype == "dcim.device" and pid in dev_ids) or (
            ptype == "virtualization.virtualmachine" and pid in vm_ids
        )
    if endpoint == "virtualization.interfaces":
        return _oid(obj.get("virtual_machine")) in vm_ids
    if endpoint == "virtualization.virtual-machines" and scope["kind"] == "vm":
        return obj["id"] == scope["id"]
    return True


def _drop_orphans(objects, dev_ids, vm_ids):
    """Remove dependents of devices/VMs that left the record."""
    objects["dcim.interfaces"] = [
        i for i in objects.get("dcim.interfaces", ()) if _oid(i.get("device")) in dev_ids
    ]
    objects["virtualization.interfaces"] = [
        i
        for i in objects.get("virtualization.interfaces", ())
        if _oid(i.get("virtual_machine")) in vm_ids
    ]
    for endpoint in ("ipam.ip-addresses", "dcim.mac-addresses", "ipam.services"):
        if endpoint in objects:
            objects[endpoint] = [
                o for o in objects[endpoint] if _member(endpoint, o, {}, dev_ids, vm_ids)
            ]
    if "dcim.cables" in objects:
        objects["dcim.cables"] = [
            c
            for c in objects["dcim.cables"]
            if {
                _oid((t.get("object") or {}).get("device"))
                for t in (c.get("a_terminations") or []) + (c.get("b_terminations") or [])
            }
            & dev_ids
        ]


def _classify(changes, endpoints):
    """Group changes by endpoint: ``(refetch {endpoint: ids}, deleted {endpoint: ids})``."""
    refetch, deleted = {}, {}
    for change in changes:
        otype = change.get("changed_object_type")
        oid = change.get("changed_object_id")
        action = choice(change.get("action"))
        if otype in FULL_REFETCH_TYPES:
            raise NeedFullFetch(f"{otype} {oid} changed")
        if otype == "dcim.cabletermination":
            if change.get("related_object_type") == "dcim.cable" and change.get(
                "related_object_id"
            ):
                if "dcim.cables" in endpoints:
                    refetch.setdefault("dcim.cables", set()).add(change["related_object_id"])
                continue
            if "dcim.cables" in endpoints:
                raise NeedFullFetch("cable termination changed without its cable")
            continue
        endpoint = TYPE_ENDPOINTS.get(otype)
        if endpoint in EMBEDDED_ENDPOINTS and endpoint not in endpoints:
            # the record holds nested copies only (a device's platform): refetch the embedders
            raise NeedFullFetch(f"{otype} {oid} changed")
        if endpoint is None or endpoint not in endpoints:
            continue
        if action == "delete":
            deleted.setdefault(endpoint, set()).add(oid)
            refetch.get(endpoint, set()).discard(oid)
        else:
            refetch.setdefault(endpoint, set()).add(oid)
            deleted.get(endpoint, set()).discard(oid)
    return refetch, deleted


def _uncable(interfaces, cable_ids):
    """
    Clear the cable of the interfaces whose cable was deleted, as NetBox does: deleting a cable
    nulls its ends with a queryset ``update()`` that writes no change-log entry for them.
    """
    cable_ids = set(cable_ids)
    if not cable_ids:
        return
    for oid, iface in list(interfaces.items()):
        if _oid(iface.get("cable")) in cable_ids:
            interfaces[oid] = dict(
                iface,
                cable=None,
                cable_end=None,
                link_peers=[],
                link_peers_type=None,
                connected_endpoints=None,
                connected_endpoints_type=None,
                connected_endpoints_reachable=False,
                _occupied=bool(iface.get("mark_connected")),
            )


def _cable_interfaces(cables):
    """Ids of the interfaces at either end of ``cables``."""
    return {
        term.get("object_id")
        for cable in cables
        for term in (cable.get("a_terminations") or []) + (cable.get("b_terminations") or [])
        if term.get("object_type") == "dcim.interface"
    }


#: refetch order: nodes first (membership of the rest depends on them); cables before
#: interfaces (the ends of a changed cable are refetched with the changed interfaces)
_ORDER = (
    "dcim.sites",
    "dcim.devices",
    "virtualization.virtual-machines",
    "dcim.racks",
    "dcim.device-types",
    "dcim.platforms",
    "dcim.cables",
    "dcim.interfaces",
    "virtualization.interfaces",
    "ipam.ip-addresses",
    "dcim.mac-addresses",
    "ipam.services",
    "ipam.prefixes",
    "ipam.vlans",
)


def incremental_scope(src, record, options):
    """
    Bring ``record`` up to date from the change log: refetch changed objects by id, drop deleted
    ones, fetch the dependents of devices new to the scope.

    :raises NeedFullFetch: when the change log cannot be used
    """
    started, before = time.time(), _requests(src)
    endpoints = set(record["endpoints"])
    changes = changes_since(src, record.get("cursor"), options.changelog_max, record.get("seen"))
    refetch, deleted = _classify(changes, endpoints)
    ext_ids = {o["id"] for o in record["objects"].get("external.devices", ())}
    ext_touched = refetch.get("dcim.devices", set()) & ext_ids
    out = _touch(record, changes, started, src, before)
    if not refetch and not deleted:
        return out
    scope = record["scope"]
    maps = {ep: {o["id"]: o for o in objs} for ep, objs in record["objects"].items()}
    for endpoint in endpoints:
        maps.setdefault(endpoint, {})
    for endpoint, ids in deleted.items():
        for oid in ids:
            maps[endpoint].pop(oid, None)
    old_devs = set(maps.get("dcim.devices", {}))
    old_vms = set(maps.get("virtualization.virtual-machines", {}))
    for endpoint in _ORDER:
        ids = refetch.get(endpoint)
        if not ids:
            continue
        kwargs = {}
        if endpoint == "dcim.devices":
            kwargs["exclude"] = _device_exclude(options)
        got = {
            o["id"]: o
            for o in _list_by(src, endpoint, "id", ids, _scope_params(scope, endpoint), **kwargs)
        }
        dev_ids = set(maps.get("dcim.devices", {}))
        vm_ids = set(maps.get("virtualization.virtual-machines", {}))
        if endpoint == "dcim.cables" and "dcim.interfaces" in endpoints:
            # their ends' cable and link peers changed too (NetBox may not log those)
            old_cables = [maps[endpoint][oid] for oid in ids if oid in maps[endpoint]]
            ends = _cable_interfaces(old_cables + list(got.values()))
            ends &= set(maps["dcim.interfaces"])
            if ends:
                refetch.setdefault("dcim.interfaces", set()).update(ends)
        for oid in ids:
            obj = got.get(oid)
            if obj is not None and _member(endpoint, obj, scope, dev_ids, vm_ids):
                maps[endpoint][oid] = obj
            else:
                maps[endpoint].pop(oid, None)
    _uncable(maps.get("dcim.interfaces", {}), deleted.get("dcim.cables", ()))
    objects = {ep: list(m.values()) for ep, m in maps.items()}
    dev_ids = set(maps.get("dcim.devices", {}))
    vm_ids = set(maps.get("virtualization.virtual-machines", {}))
    new_devs, new_vms = dev_ids - old_devs, vm_ids - old_vms
    if new_devs or new_vms:
        for endpoint, objs in _fetch_dependents(src, endpoints, new_devs, new_vms).items():
            merged = {o["id"]: o for o in objects.get(endpoint, ())}
            merged.update({o["id"]: o for o in objs})
            objects[endpoint] = list(merged.values())
    _drop_orphans(objects, dev_ids, vm_ids)
    if ext_touched:
        objects["external.devices"] = [
            o for o in objects.get("external.devices", ()) if o["id"] not in ext_touched
        ]
    _complete(src, objects, endpoints, options)
    out["objects"] = objects
    out["version"] = uuid.uuid4().hex
    out["last_fetch"].update(
        mode="incremental",
        requests=_requests(src) - before,
        seconds=round(time.time() - started, 3),
        refetched={ep: len(ids) for ep, ids in refetch.items()},
        deleted={ep: len(ids) for ep, ids in deleted.items()},
    )
    return out


# ---------------------------------------------------------------------- several sites at once
#: at most this many sites, and this many devices and VMs (from the identity index), are
#: fetched together: a group fills NetBox's pages, yet one compile never waits for a fleet
GROUP_MAX_SITES = 100
GROUP_MAX_NODES = 2000


def _by_id(objs):
    return sorted(objs, key=lambda o: o["id"])


def _canonical(objects):
    """Every endpoint's objects in id order: a record does not depend on how it was batched."""
    return {ep: _by_id(objs) for ep, objs in objects.items()}


def _prefix_site(prefix, location_sites):
    """The site a prefix is listed under by ``site_id`` (NetBox 4.2+ caches it from the scope)."""
    stype = prefix.get("scope_type")
    if stype == "dcim.site":
        return prefix.get("scope_id")
    if stype == "dcim.location":
        return location_sites.get(prefix.get("scope_id"))
    return _oid(prefix.get("site"))  # NetBox < 4.2


def _location_sites(src, prefixes):
    """``{location id: site id}`` for the locations prefixes are scoped to (one request, if any)."""
    ids = {p.get("scope_id") for p in prefixes if p.get("scope_type") == "dcim.location"}
    return {
        loc["id"]: _oid(loc.get("site"))
        for loc in _list_by(src, "dcim.locations", "id", ids, fields=["id", "site"])
    }


def split_sites(objects, site_ids, endpoints, options, location_sites=None):
    """
    Split the objects of several sites (fetched together) into ``{site id: objects}``, each
    exactly what :func:`full_scope` fetches for that site alone: nodes, racks and VLANs by their
    site, prefixes by their scope, components, IPs, MACs and services by their device or VM, a
    cable into every site one of its device ends is in; device types and platforms those of the
    site's nodes; ``external.devices`` the cable peers outside the site (devices of other sites
    of the group included, without ``config_context`` as a single-site fetch asks for them).
    """
    wanted = set(site_ids)
    location_sites = location_sites or {}
    out = {sid: {"dcim.sites": []} for sid in wanted}

    def put(endpoint, sid, obj):
        if sid in out:
            out[sid].setdefault(endpoint, []).append(obj)

    for site in objects.get("dcim.sites", ()):
        put("dcim.sites", site["id"], site)
    node_site = {}
    for endpoint, kind in (
        ("dcim.devices", DEVICE_KIND),
        ("virtualization.virtual-machines", VM_KIND),
    ):
        for node in objects.get(endpoint, ()):
            sid = _oid(node.get("site"))
            node_site[(kind, node["id"])] = sid
            put(endpoint, sid, node)
    for endpoint in ("dcim.racks", "ipam.vlans"):
        for obj in objects.get(endpoint, ()):
            put(endpoint, _oid(obj.get("site")), obj)
    for prefix in objects.get("ipam.prefixes", ()):
        put("ipam.prefixes", _prefix_site(prefix, location_sites), prefix)
    for iface in objects.get("dcim.interfaces", ()):
        put("dcim.interfaces", node_site.get((DEVICE_KIND, _oid(iface.get("device")))), iface)
    for iface in objects.get("virtualization.interfaces", ()):
        put(
            "virtualization.interfaces",
            node_site.get((VM_KIND, _oid(iface.get("virtual_machine")))),
            iface,
        )
    for endpoint in ("ipam.ip-addresses", "dcim.mac-addresses"):
        for obj in objects.get(endpoint, ()):
            kind, node, _ = _assigned_node(obj)
            put(endpoint, node_site.get((kind, node)), obj)
    for svc in objects.get("ipam.services", ()):
        put("ipam.services", node_site.get(_service_node(svc)), svc)
    for cable in objects.get("dcim.cables", ()):
        ends = (cable.get("a_terminations") or []) + (cable.get("b_terminations") or [])
        sites = {
            node_site.get((DEVICE_KIND, _oid((t.get("object") or {}).get("device")))) for t in ends
        }
        # a cable without a device end in the group (circuit to circuit) serves no pillar
        for sid in sorted(s for s in sites if s in out):
            put("dcim.cables", sid, cable)
    types = {o["id"]: o for o in objects.get("dcim.device-types", ())}
    platforms = {o["id"]: o for o in objects.get("dcim.platforms", ())}
    strip = options.compat != "salt3007"
    # devices of the group are current; external copies are peers outside the group
    pool = {
        dev["id"]: {k: v for k, v in dev.items() if k != "config_context"} if strip else dev
        for dev in objects.get("dcim.devices", ())
    }
    for dev in objects.get("external.devices", ()):
        pool.setdefault(dev["id"], dev)
    for sid, objs in out.items():
        devices = objs.get("dcim.devices", ())
        nodes = list(devices) + list(objs.get("virtualization.virtual-machines", ()))
        want = {_oid(d.get("device_type")) for d in devices}
        objs["dcim.device-types"] = [types[i] for i in want if i in types]
        if "dcim.platforms" in endpoints:
            want = {_oid(n.get("platform")) for n in nodes}
            objs["dcim.platforms"] = [platforms[i] for i in want if i in platforms]
        if "dcim.cables" in endpoints or options.connected_devices:
            local = {d["id"] for d in devices}
            want = _referenced_devices(objs) - local
            objs["external.devices"] = [pool[i] for i in want if i in pool]
        for endpoint in endpoints:
            objs.setdefault(endpoint, [])
        out[sid] = _canonical(objs)
    return out


DEVICE_KIND = "device"
VM_KIND = "virtual_machine"


def _assigned_node(obj):
    """For an IP/MAC: ``(kind, node id, interface id)`` of its interface."""
    otype = obj.get("assigned_object_type")
    assigned = obj.get("assigned_object") or {}
    if otype == "dcim.interface":
        return DEVICE_KIND, _oid(assigned.get("device")), obj.get("assigned_object_id")
    if otype == "virtualization.vminterface":
        return VM_KIND, _oid(assigned.get("virtual_machine")), obj.get("assigned_object_id")
    return None, None, None


def _service_node(svc):
    ptype = svc.get("parent_object_type")
    if ptype is None:  # NetBox < 4.3
        if svc.get("device"):
            return DEVICE_KIND, _oid(svc["device"])
        return VM_KIND, _oid(svc.get("virtual_machine"))
    kind = {"dcim.device": DEVICE_KIND, "virtualization.virtualmachine": VM_KIND}.get(ptype)
    return kind, svc.get("parent_object_id")


def _fetch_sites(src, site_ids, endpoints, options):
    """Every object of the sites ``site_ids``, each object type listed once for all of them."""
    ids = sorted(set(site_ids))
    objects = {"dcim.sites": _list_by(src, "dcim.sites", "id", ids)}
    dev_ids, vm_ids = [], []
    if "dcim.devices" in endpoints:
        objects["dcim.devices"] = _list_by(
            src, "dcim.devices", "site_id", ids, exclude=_device_exclude(options)
        )
        dev_ids = [d["id"] for d in objects["dcim.devices"]]
    if "virtualization.virtual-machines" in endpoints:
        objects["virtualization.virtual-machines"] = _list_by(
            src, "virtualization.virtual-machines", "site_id", ids
        )
        vm_ids = [v["id"] for v in objects["virtualization.virtual-machines"]]
    for endpoint in ("dcim.racks", "ipam.prefixes", "ipam.vlans"):
        if endpoint in endpoints:
            objects[endpoint] = _list_by(src, endpoint, "site_id", ids)
    objects.update(_fetch_dependents(src, endpoints, dev_ids, vm_ids, ids))
    for endpoint in endpoints:
        objects.setdefault(endpoint, [])
    _complete(src, objects, endpoints, options)
    return objects


def full_sites(src, site_ids, endpoints, options):
    """
    Fetch several sites together: each object type is listed once for all of them
    (``site_id=a&site_id=b...``, batched by the access layer to NetBox's URL limit), then split
    into one record per site, each equal to the record :func:`full_scope` fetches for that site
    alone (tested), so that TTLs, change-log refresh and stale handling stay per site.

    :returns: ``{site id: record}``; ``last_fetch`` says how many sites shared the fetch and
        its requests (counted once for the group)
    """
    started, before = time.time(), _requests(src)
    cursor = changelog_cursor(src)
    objects = _fetch_sites(src, site_ids, endpoints, options)
    locations = _location_sites(src, objects.get("ipam.prefixes", ()))
    parts = split_sites(objects, site_ids, endpoints, options, locations)
    requests = _requests(src) - before
    out = {}
    for sid, objs in parts.items():
        scope = {"kind": "site", "id": sid}
        if objs["dcim.sites"]:
            scope["slug"] = objs["dcim.sites"][0].get("slug")
        record = _new_record(
            scope, endpoints, objs, cursor=cursor, started=started, requests=requests
        )
        record["last_fetch"]["group"] = len(parts)
        out[sid] = record
    return out


def incremental_sites(src, records, options):
    """
    Bring several site records that share a change-log position (same ``cursor`` and ``seen``:
    fetched or refreshed together) up to date with one change-log read and one refetch per
    changed object type for all of them, then split per site. A site whose objects did not
    change keeps its version (its record is not rewritten).

    :returns: ``{site id: record}``
    :raises NeedFullFetch: when the change log cannot be used
    """
    ids = sorted(r["scope"]["id"] for r in records)
    endpoints = sorted(set().union(*(r["endpoints"] for r in records)))
    combined = {}
    for record in records:
        for endpoint, objs in record["objects"].items():
            merged = combined.setdefault(endpoint, {})
            for obj in objs:
                merged.setdefault(obj["id"], obj)
    first = records[0]
    group = {
        "scope": {"kind": "sites", "ids": ids},
        "endpoints": endpoints,
        "objects": {ep: list(m.values()) for ep, m in combined.items()},
        "cursor": first.get("cursor"),
        "seen": first.get("seen"),
        "synced_at": min(r["synced_at"] for r in records),
        "full_at": first.get("full_at"),
        "version": "group",
        "last_fetch": {},
    }
    new = incremental_scope(src, group, options)
    if new["version"] == "group":  # nothing changed anywhere
        parts = None
    else:
        locations = _location_sites(src, new["objects"].get("ipam.prefixes", ()))
        parts = split_sites(new["objects"], ids, set(endpoints), options, locations)
    out = {}
    for record in records:
        sid = record["scope"]["id"]
        result = dict(record)
        result.update(
            cursor=new["cursor"],
            seen=new["seen"],
            synced_at=new["synced_at"],
            last_fetch=dict(new["last_fetch"], group=len(records)),
        )
        if parts is not None and parts[sid] != _canonical(record["objects"]):
            result["objects"] = parts[sid]
            result["version"] = uuid.uuid4().hex
            result["last_fetch"]["mode"] = "incremental"
        else:
            result["last_fetch"]["mode"] = "unchanged"
        out[sid] = result
    return out
