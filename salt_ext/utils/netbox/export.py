"""
Export one site of a live NetBox into a snapshot file (``lab1.json`` format).

The snapshot holds the site and everything a turn-up needs to work offline
(:class:`~salt_ext.utils.netbox.snapshot.SnapshotSource`) or to be seeded into another NetBox
(:func:`~salt_ext.utils.netbox.seed.import_snapshot`): its racks, locations, devices, interfaces,
cables, IP and MAC addresses (those of its devices, and the unassigned ones in its prefixes),
services, journal entries, prefixes and VLANs, plus every object
they reference (tenants, regions and their parents, device types with their manufacturers and
interface templates, roles, platforms, VRFs, VLAN groups, tags), the custom fields defined on the
exported object types and the config contexts that apply to the site (their assignments trimmed
to exported objects). Every object is exactly as the API returns it.
"""

import logging
import os

from salt_ext.utils.netbox import _common
from salt_ext.utils.netbox._common import DEPENDENCY_ORDER, order_objects
from salt_ext.utils.netbox.counter import endpoint_from_url
from salt_ext.utils.netbox.errors import NetBoxConfigError, NetBoxNotFound
from salt_ext.utils.netbox.seed import GENERIC_FKS, OBJECT_TYPE_ENDPOINTS

log = logging.getLogger(__name__)

__all__ = ["export_snapshot", "snapshot_counts", "write_snapshot"]

#: endpoints completed by id from the references of what is exported
CLOSURE = (
    "tenancy.tenant-groups",
    "tenancy.tenants",
    "dcim.regions",
    "dcim.site-groups",
    "dcim.locations",
    "dcim.racks",
    "dcim.manufacturers",
    "dcim.device-roles",
    "dcim.platforms",
    "dcim.device-types",
    "ipam.vrfs",
    "ipam.vlan-groups",
    "ipam.vlans",
    "extras.tags",
)
#: config-context assignment fields -> endpoint
CONTEXT_ASSIGNMENTS = {
    "regions": "dcim.regions",
    "site_groups": "dcim.site-groups",
    "sites": "dcim.sites",
    "locations": "dcim.locations",
    "device_types": "dcim.device-types",
    "roles": "dcim.device-roles",
    "platforms": "dcim.platforms",
    "tenant_groups": "tenancy.tenant-groups",
    "tenants": "tenancy.tenants",
    "cluster_types": "virtualization.cluster-types",
    "cluster_groups": "virtualization.cluster-groups",
    "clusters": "virtualization.clusters",
}
#: many-to-many fields -> endpoint of their objects (for servers that render them as bare ids)
M2M_FIELDS = {
    "extras.config-contexts": dict(CONTEXT_ASSIGNMENTS, tags="extras.tags"),
    "ipam.services": {"ipaddresses": "ipam.ip-addresses", "tags": "extras.tags"},
}
_OPAQUE = frozenset(("custom_fields", "data", "local_context_data", "config_context"))
NOTES = [
    "objects: one list per endpoint (app.endpoint-name), in dependency order; each list is the "
    "concatenated 'results' of GET /api/<app>/<endpoint>/?<queries[endpoint]>.",
    "Circular references: dcim.devices primary_ip4/primary_ip6/oob_ip point to "
    "ipam.ip-addresses and dcim.interfaces primary_mac_address to dcim.mac-addresses, which come "
    "later; create devices/interfaces first, then set those fields.",
    "Objects the site references are included untouched; config contexts keep only the "
    "assignments to exported objects.",
]


def _refs(obj):
    """``(endpoint, id)`` of every object ``obj`` references (top-level fields)."""
    found = set()
    for field, value in obj.items():
        if field in _OPAQUE:
            continue
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, dict) and "id" in item and "/api/" in str(item.get("url", "")):
                found.add((endpoint_from_url(item["url"]), item["id"]))
    for type_field, id_field in GENERIC_FKS:
        target = OBJECT_TYPE_ENDPOINTS.get(obj.get(type_field))
        if target and obj.get(id_field) is not None:
            found.add((target, obj[id_field]))
    for side in ("a_terminations", "b_terminations"):
        for term in obj.get(side) or ():
            target = OBJECT_TYPE_ENDPOINTS.get(term.get("object_type"))
            if target:
                found.add((target, term.get("object_id")))
    return found


class _Exporter:
    def __init__(self, source, site):
        self.source = source
        self.site_key = site
        self.objects = {}
        self.queries = {}

    def _as_refs(self, endpoint, obj):
        """Bare ids (or url-less stubs) in many-to-many fields become NetBox's nested objects."""
        fields = M2M_FIELDS.get(endpoint)
        if not fields:
            return obj
        base = (getattr(self.source, "api_url", None) or "").rstrip("/")
        out = dict(obj)
        for field, target in fields.items():
            values = obj.get(field)
            if not isinstance(values, list):
                continue
            refs = []
            for value in values:
                ident = value.get("id") if isinstance(value, dict) else value
                ref = dict(value) if isinstance(value, dict) else {"id": ident}
                ref.setdefault("url", f"{base}/{_common.endpoint_path(target)}/{ident}/")
                refs.append(ref)
            out[field] = refs
        return out

    def _add(self, endpoint, objs, query):
        objs = [self._as_refs(endpoint, obj) for obj in objs]
        have = self.objects.setdefault(endpoint, [])
        ids = {o["id"] for o in have}
        for obj in objs:
            if obj["id"] not in ids:
                have.append(obj)
                ids.add(obj["id"])
        self.queries.setdefault(endpoint, []).extend([list(q) for q in query])

    def _list(self, endpoint, params):
        self._add(endpoint, self.source.list(endpoint, params), params)

    def _list_by(self, endpoint, key, values, params=None):
        values = sorted({v for v in values if v is not None})
        if not values:
            self.objects.setdefault(endpoint, [])
            return
        objs = self.source.list_by(endpoint, key, values, params)
        self._add(endpoint, objs, list(params or []) + [(key, str(v)) for v in values])

    def _site(self):
        key = self.site_key
        if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
            try:
                return self.source.get("dcim.sites", int(key))
            except NetBoxNotFound:
                found = None
        else:
            found = self.source.find("dcim.sites", slug=key) or self.source.find(
                "dcim.sites", name=key
            )
        if found is None:
            raise NetBoxNotFound(
                f"site {key!r} not found in NetBox (/api/dcim/sites/); give its slug, name or id",
                endpoint="dcim.sites",
            )
        return found

    def run(self):
        site = self._site()
        site_id = site["id"]
        self._add("dcim.sites", [site], [("id", str(site_id))])
        for endpoint in (
            "dcim.locations",
            "dcim.racks",
            "ipam.vlans",
            "ipam.prefixes",
            "dcim.devices",
            "dcim.interfaces",
            "dcim.cables",
        ):
            self._list(endpoint, [("site_id", str(site_id))])
        device_ids = [d["id"] for d in self.objects["dcim.devices"]]
        for endpoint in ("dcim.mac-addresses", "ipam.ip-addresses", "ipam.services"):
            self._list_by(endpoint, "device_id", device_ids)
        # addresses of the site's prefixes that no interface holds (gateways, VIPs, reserved):
        # without them the snapshot's available-ips would hand out addresses already taken
        self._list_by(
            "ipam.ip-addresses",
            "parent",
            [p["prefix"] for p in self.objects["ipam.prefixes"]],
            [("assigned", "false")],
        )
        self._list_by(
            "extras.journal-entries",
            "assigned_object_id",
            device_ids,
            [("assigned_object_type", "dcim.device")],
        )
        self._close()
        self._list_by(
            "dcim.interface-templates",
            "device_type_id",
            [t["id"] for t in self.objects.get("dcim.device-types", [])],
        )
        self._config_contexts()
        self._close()
        self._custom_fields()
        return self._result()

    def _close(self):
        """Add every referenced object of the CLOSURE endpoints until nothing is missing."""
        for _ in range(10):
            wanted = {}
            for objs in list(self.objects.values()):
                for obj in objs:
                    for endpoint, ident in _refs(obj):
                        if endpoint in CLOSURE:
                            wanted.setdefault(endpoint, set()).add(ident)
            missing = {
                endpoint: ids - {o["id"] for o in self.objects.get(endpoint, [])}
                for endpoint, ids in wanted.items()
            }
            missing = {ep: ids for ep, ids in missing.items() if ids}
            if not missing:
                return
            for endpoint, ids in missing.items():
                self._list_by(endpoint, "id", ids)

    def _exported_ids(self, endpoint):
        return {o["id"] for o in self.objects.get(endpoint, [])}

    def _config_contexts(self):
        kept = []
        for listed in self.source.list("extras.config-contexts"):
            ctx = self._as_refs("extras.config-contexts", listed)
            assigned = False
            unassigned = True
            trimmed = dict(ctx)
            for field, endpoint in CONTEXT_ASSIGNMENTS.items():
                values = ctx.get(field) or []
                if values:
                    unassigned = False
                exported = self._exported_ids(endpoint)
                keep = [v for v in values if v.get("id") in exported]
                if keep:
                    assigned = True
                trimmed[field] = keep
            if assigned or unassigned:
                kept.append(trimmed)
        self._add(
            "extras.config-contexts",
            kept,
            [("(client-side)", "kept those assigned to an exported object or unassigned")],
        )

    def _custom_fields(self):
        types = {
            object_type
            for object_type, endpoint in OBJECT_TYPE_ENDPOINTS.items()
            if self.objects.get(endpoint)
        }
        kept = [
            cf
            for cf in self.source.list("extras.custom-fields")
            if types & set(cf.get("object_types") or ())
        ]
        self._add(
            "extras.custom-fields",
            kept,
            [("(client-side)", "kept those on an exported object type")],
        )

    def _result(self):
        status = self.source.status()
        objects = {ep: self.objects.get(ep, []) for ep in DEPENDENCY_ORDER if ep in self.objects}
        for endpoint, objs in self.objects.items():
            objects.setdefault(endpoint, objs)
        for endpoint in ("extras.custom-fields", "extras.config-contexts", "ipam.vrfs"):
            objects.setdefault(endpoint, [])
        base_url = getattr(self.source, "base_url", None) or ""
        return {
            "netbox_version": status.get("netbox_version"),
            "source": "NetBox REST API, objects as returned",
            "base_url": base_url,
            "site": self.objects["dcim.sites"][0].get("slug"),
            "notes": list(NOTES),
            "queries": {ep: self.queries.get(ep, []) for ep in objects},
            "objects": order_objects(objects),
        }


def _check_writable(path):
    directory = os.path.dirname(os.path.abspath(os.fspath(path)))
    if not os.path.isdir(directory):
        raise NetBoxConfigError(
            f"cannot write {os.fspath(path)!r}: directory {directory!r} does not exist; create it "
            "first"
        )
    if not os.access(directory, os.W_OK | os.X_OK):
        raise NetBoxConfigError(
            f"cannot write {os.fspath(path)!r}: directory {directory!r} is not writable by this "
            "user (the snapshot is written to a temporary file there, then renamed)"
        )


def write_snapshot(data, path):
    """Write snapshot ``data`` to ``path`` atomically (temporary file + ``os.replace``)."""
    return _common.write_json_atomic(os.path.abspath(os.fspath(path)), data)


def snapshot_counts(data):
    """``{endpoint: number of objects}`` of a snapshot dict."""
    return {endpoint: len(objs) for endpoint, objs in (data.get("objects") or {}).items()}


def export_snapshot(source, site, path=None):
    """
    Export site ``site`` (slug, name or id) of ``source`` (a live NetBox ``NetBoxClient``, or any
    source) as a snapshot dict in the ``lab1.json`` format, and write it atomically to ``path``
    when given.

    :param source: the NetBox source to read
    :param site: the site's slug, name or id
    :param path: optional file to write
    :returns: the snapshot dict
    """
    if path:
        _check_writable(path)  # before reading a whole site
    data = _Exporter(source, site).run()
    if path:
        write_snapshot(data, path)
        log.info(
            "Exported site %s (%d objects) to %s",
            data["site"],
            sum(snapshot_counts(data).values()),
            path,
        )
    return data
