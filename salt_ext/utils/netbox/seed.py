"""
Import a snapshot (``lab1.json`` format) into any NetBox source through its API.

Works against a real NetBox (:class:`~salt_ext.utils.netbox.client.NetBoxClient`) and the test
stand-in alike, so tests seed "through the API" exactly as an operator would:

- endpoints are processed in dependency order (``_common.DEPENDENCY_ORDER``; endpoints it does
  not know come last, in the snapshot's order);
- the objects are turned into write payloads: nested references become ids, **old ids are mapped
  to the new ids** of the target, choices become their ``value``, read-only fields are dropped;
- objects that already exist (found by natural key, e.g. device name+site+tenant, interface
  device+name, IP address+VRF, cable by its terminations) are not created again: they are
  PATCHed where they differ (the interfaces a device got from its device type's interface
  templates are matched that way) and reported ``existing``/``updated``;
- references that point at objects created later (device ``primary_ip4``/``primary_ip6``/
  ``oob_ip``, interface ``primary_mac_address``, ``lag``/``parent``/``bridge``...) are written
  afterwards with bulk PATCHes;
- the missing objects of an endpoint are created with bulk POSTs, and existing ones are found
  with a few batched list requests, so a lab of ~1,200 objects takes a few dozen requests.

A second run creates nothing.
"""

import ipaddress
import logging

from salt_ext.utils.netbox._common import order_objects
from salt_ext.utils.netbox.counter import endpoint_from_url
from salt_ext.utils.netbox.errors import NetBoxConfigError, NetBoxError, NetBoxInvalidRequest

try:  # write-serializer field lists generated from NetBox's OpenAPI schema
    from salt_ext.utils.netbox.model.schema_meta import ENDPOINTS as _META
except ImportError:  # pragma: no cover - the metadata ships with the package
    _META = {}

log = logging.getLogger(__name__)

__all__ = ["import_snapshot", "to_payload", "OBJECT_TYPE_ENDPOINTS", "SEED_KEYS"]

#: NetBox object types (``app.model``) -> endpoint names, for generic foreign keys
OBJECT_TYPE_ENDPOINTS = {
    "dcim.device": "dcim.devices",
    "dcim.interface": "dcim.interfaces",
    "dcim.site": "dcim.sites",
    "dcim.region": "dcim.regions",
    "dcim.sitegroup": "dcim.site-groups",
    "dcim.location": "dcim.locations",
    "dcim.rack": "dcim.racks",
    "dcim.devicetype": "dcim.device-types",
    "dcim.devicerole": "dcim.device-roles",
    "dcim.platform": "dcim.platforms",
    "dcim.manufacturer": "dcim.manufacturers",
    "dcim.macaddress": "dcim.mac-addresses",
    "dcim.cable": "dcim.cables",
    "dcim.frontport": "dcim.front-ports",
    "dcim.rearport": "dcim.rear-ports",
    "dcim.consoleport": "dcim.console-ports",
    "dcim.consoleserverport": "dcim.console-server-ports",
    "dcim.powerport": "dcim.power-ports",
    "dcim.poweroutlet": "dcim.power-outlets",
    "dcim.powerfeed": "dcim.power-feeds",
    "ipam.ipaddress": "ipam.ip-addresses",
    "ipam.prefix": "ipam.prefixes",
    "ipam.vlan": "ipam.vlans",
    "ipam.vlangroup": "ipam.vlan-groups",
    "ipam.vrf": "ipam.vrfs",
    "ipam.service": "ipam.services",
    "tenancy.tenant": "tenancy.tenants",
    "virtualization.virtualmachine": "virtualization.virtual-machines",
    "virtualization.vminterface": "virtualization.interfaces",
    "virtualization.cluster": "virtualization.clusters",
}
#: generic foreign keys: (type field, id field)
GENERIC_FKS = (
    ("assigned_object_type", "assigned_object_id"),
    ("scope_type", "scope_id"),
    ("parent_object_type", "parent_object_id"),
)
#: never sent, whatever the metadata says
_NEVER_WRITE = frozenset(
    (
        "id",
        "url",
        "display_url",
        "display",
        "created",
        "last_updated",
        "created_by",
        "owner",
        "data_source",
        "data_file",
        "data_synced",
        "data_path",
    )
)
#: fields holding free-form JSON: never converted as references
_OPAQUE = frozenset(("custom_fields", "data", "local_context_data", "config_context"))
#: fallback when no metadata: computed fields NetBox returns but does not accept
_READ_ONLY = frozenset(
    (
        "family",
        "children",
        "_depth",
        "_occupied",
        "utilization",
        "total_vlan_ids",
        "tagged_items",
        "primary_ip",
        "config_context",
        "cable",
        "cable_end",
        "link_peers",
        "link_peers_type",
        "connected_endpoints",
        "connected_endpoints_type",
        "connected_endpoints_reachable",
        "mac_address",
        "mac_addresses",
        "bridge_interfaces",
        "count_ipaddresses",
        "count_fhrp_groups",
        "assigned_object",
        "scope",
        "parent",
        "nat_outside",
    )
)
_BULK_CHUNK = 250


def _lower(value):
    return value.lower() if isinstance(value, str) else value


def _mac(value):
    return value.upper() if isinstance(value, str) else value


def _ip(value):
    try:
        return str(ipaddress.ip_interface(value))
    except (TypeError, ValueError):
        return value


def _terminations(payload):
    ends = []
    for side in ("a_terminations", "b_terminations"):
        for term in payload.get(side) or ():
            ends.append((term.get("object_type"), term.get("object_id")))
    return frozenset(ends)


#: per endpoint: (key of a write payload, (filter, payload field) used to prefetch candidates)
SEED_KEYS = {
    "extras.tags": (lambda p: p.get("slug"), ("slug", "slug")),
    "extras.custom-fields": (lambda p: p.get("name"), ("name", "name")),
    "extras.config-contexts": (lambda p: p.get("name"), ("name", "name")),
    "tenancy.tenants": (lambda p: p.get("slug"), ("slug", "slug")),
    "tenancy.tenant-groups": (lambda p: p.get("slug"), ("slug", "slug")),
    "dcim.regions": (lambda p: p.get("slug"), ("slug", "slug")),
    "dcim.site-groups": (lambda p: p.get("slug"), ("slug", "slug")),
    "dcim.sites": (lambda p: p.get("slug"), ("slug", "slug")),
    "dcim.locations": (lambda p: (p.get("site"), p.get("slug")), ("slug", "slug")),
    "dcim.manufacturers": (lambda p: p.get("slug"), ("slug", "slug")),
    "dcim.device-roles": (lambda p: p.get("slug"), ("slug", "slug")),
    "dcim.platforms": (lambda p: p.get("slug"), ("slug", "slug")),
    "dcim.device-types": (lambda p: (p.get("manufacturer"), p.get("slug")), ("slug", "slug")),
    "dcim.interface-templates": (
        lambda p: (p.get("device_type"), p.get("module_type"), p.get("name")),
        ("device_type_id", "device_type"),
    ),
    "dcim.racks": (lambda p: (p.get("site"), p.get("location"), p.get("name")), ("name", "name")),
    "ipam.vrfs": (lambda p: (p.get("name"), p.get("rd")), ("name", "name")),
    "ipam.vlan-groups": (lambda p: p.get("slug"), ("slug", "slug")),
    "ipam.vlans": (lambda p: (p.get("group"), p.get("site"), p.get("vid")), ("vid", "vid")),
    "ipam.prefixes": (lambda p: (p.get("vrf"), _ip(p.get("prefix"))), ("prefix", "prefix")),
    "dcim.devices": (
        lambda p: (p.get("site"), p.get("tenant"), _lower(p.get("name"))),
        ("name", "name"),
    ),
    "dcim.interfaces": (lambda p: (p.get("device"), p.get("name")), ("device_id", "device")),
    "dcim.mac-addresses": (
        lambda p: (
            p.get("assigned_object_type"),
            p.get("assigned_object_id"),
            _mac(p.get("mac_address")),
        ),
        ("mac_address", "mac_address"),
    ),
    "dcim.cables": (_terminations, None),
    "ipam.ip-addresses": (lambda p: (p.get("vrf"), _ip(p.get("address"))), ("address", "address")),
    "ipam.services": (
        lambda p: (p.get("parent_object_type"), p.get("parent_object_id"), p.get("name")),
        ("parent_object_id", "parent_object_id"),
    ),
    "extras.journal-entries": (
        lambda p: (p.get("assigned_object_type"), p.get("assigned_object_id"), p.get("comments")),
        ("assigned_object_id", "assigned_object_id"),
    ),
}


def _is_ref(value):
    return (
        isinstance(value, dict)
        and "id" in value
        and isinstance(value.get("url"), str)
        and "/api/" in value["url"]
    )


def _is_choice(value):
    return isinstance(value, dict) and "value" in value and set(value) <= {"value", "label"}


class _Deferred(Exception):
    """A reference to an object that does not exist in the target yet."""


class _Mapper:
    """Old (snapshot) ids -> new (target) ids, per endpoint."""

    def __init__(self, pending):
        self.ids = {}
        self.pending = pending  # endpoint -> set of old ids still to be created

    def set(self, endpoint, old, new):
        self.ids.setdefault(endpoint, {})[old] = new
        self.pending.get(endpoint, set()).discard(old)

    def ref(self, endpoint, old, field):
        if old is None:
            return None
        mapped = self.ids.get(endpoint, {}).get(old)
        if mapped is not None:
            return mapped
        if old in self.pending.get(endpoint, ()):
            raise _Deferred(field)
        raise NetBoxConfigError(
            f"snapshot field {field} references {endpoint} id {old}, which the snapshot does not "
            f"contain; add the {endpoint} objects it references (before this one) to the snapshot"
        )


class _Identity:
    """Mapper for objects read from the target itself: ids are already target ids."""

    @staticmethod
    def ref(endpoint, old, field):  # pylint: disable=unused-argument
        return old


def _writable(endpoint):
    meta = _META.get(endpoint)
    return frozenset(meta["writable"]) if meta else None


def to_payload(endpoint, obj, mapper=None):
    """
    Turn an object as the API returns it into a write payload (references as ids mapped by
    ``mapper``, choices as values, read-only fields dropped).

    Returns ``(payload, deferred)``: ``deferred`` lists the fields whose references point at
    objects that do not exist yet (they are left out of ``payload``).
    """
    mapper = mapper or _Identity()
    writable = _writable(endpoint)
    payload = {}
    deferred = []
    generic_ids = {id_field: type_field for type_field, id_field in GENERIC_FKS}
    for field, value in obj.items():
        if field in _NEVER_WRITE:
            continue
        if writable is not None and field not in writable:
            continue
        if writable is None and (field in _READ_ONLY or field.endswith("_count")):
            continue
        try:
            if field in _OPAQUE:
                payload[field] = value
            elif field in generic_ids:
                type_value = obj.get(generic_ids[field])
                target = OBJECT_TYPE_ENDPOINTS.get(type_value)
                payload[field] = (
                    mapper.ref(target, value, field) if target and value is not None else value
                )
            elif field in ("a_terminations", "b_terminations"):
                payload[field] = [_termination(term, mapper, field) for term in value or ()]
            else:
                payload[field] = _convert(value, mapper, field)
        except _Deferred:
            deferred.append(field)
    return payload, deferred


def _termination(term, mapper, field):
    object_type = term.get("object_type")
    target = OBJECT_TYPE_ENDPOINTS.get(object_type)
    if target is None:
        raise NetBoxConfigError(f"snapshot {field} has an unknown object_type {object_type!r}")
    return {"object_type": object_type, "object_id": mapper.ref(target, term["object_id"], field)}


def _convert(value, mapper, field):
    if _is_ref(value):
        return mapper.ref(endpoint_from_url(value["url"]), value["id"], field)
    if isinstance(value, dict) and isinstance(mapper, _Identity) and "id" in value:
        # a reference without url (some servers' m2m renderings): already a target id
        return value["id"]
    if _is_choice(value):
        return value["value"]
    if isinstance(value, list):
        return [_convert(item, mapper, field) for item in value]
    return value


def _create_payload(endpoint, payload):
    """Unset (null) choice fields are left out of a create: NetBox's default applies."""
    fields = (_META.get(endpoint) or {}).get("fields") or {}
    return {
        k: v for k, v in payload.items() if v is not None or (fields.get(k) or ("",))[0] != "choice"
    }


def _same(field, wanted, current):
    if isinstance(wanted, list) and isinstance(current, list):
        if all(isinstance(x, (int, str)) for x in wanted + current):
            return sorted(map(str, wanted)) == sorted(map(str, current))
        return wanted == current
    if field == "custom_fields" and isinstance(wanted, dict) and isinstance(current, dict):
        return all(current.get(k) == v for k, v in wanted.items())
    if field in ("mac_address",):
        return _mac(wanted) == _mac(current)
    if field in ("address", "prefix"):
        return _ip(wanted) == _ip(current)
    return wanted == current


def _diff(payload, current_payload):
    """Fields of ``payload`` that differ from ``current_payload``. Tags are only ever added:
    an object keeps tags the snapshot does not list."""
    changes = {}
    for field, value in payload.items():
        current = current_payload.get(field)
        if field == "tags" and isinstance(value, list) and isinstance(current, list):
            if not {str(v) for v in value} <= {str(v) for v in current}:
                merged = list(current) + [v for v in value if v not in current]
                changes[field] = merged
        elif not _same(field, value, current):
            changes[field] = value
    return changes


class _Seeder:
    # pylint: disable=too-many-instance-attributes
    def __init__(self, source, data, tag):
        if not isinstance(data, dict) or not isinstance(data.get("objects"), dict):
            raise NetBoxConfigError(
                "snapshot data must be a dict with an 'objects' mapping of endpoint -> list "
                "(the lab1.json format)"
            )
        self.source = source
        # dependency order whatever order the file lists its endpoints in
        self.objects = order_objects(data["objects"])
        self.tag = tag
        self.tag_id = None
        pending = {
            endpoint: {obj["id"] for obj in objs if "id" in obj}
            for endpoint, objs in self.objects.items()
        }
        self.mapper = _Mapper(pending)
        self.deferred = []  # (endpoint, new id, old object)
        self.report = {
            "created": {},
            "existing": {},
            "updated": {},
            "deferred_updates": 0,
            "id_map": self.mapper.ids,
        }

    def run(self):
        unknown = [ep for ep in self.objects if ep not in SEED_KEYS]
        if unknown:
            raise NetBoxConfigError(
                f"cannot seed {', '.join(unknown)}: no natural key known for them, so a second "
                f"run could not recognise them (seedable: {', '.join(sorted(SEED_KEYS))})"
            )
        if self.tag:
            self.tag_id = self._ensure_tag(self.tag)
        for endpoint, objs in self.objects.items():
            if objs:
                self._seed_endpoint(endpoint, objs)
        self._apply_deferred()
        totals = {
            kind: sum(self.report[kind].values()) for kind in ("created", "existing", "updated")
        }
        self.report["totals"] = totals
        log.info(
            "Seeded snapshot into %s: %s created, %s existing, %s updated",
            getattr(self.source, "source", self.source),
            totals["created"],
            totals["existing"],
            totals["updated"],
        )
        return self.report

    def _ensure_tag(self, slug):
        found = self.source.find("extras.tags", slug=slug)
        if found:
            return found["id"]
        return self.source.create("extras.tags", {"name": slug, "slug": slug})["id"]

    def _marker(self, endpoint):
        """The marker tag as ``endpoint`` takes it: config contexts name tags by slug
        (NetBox's ``SlugRelatedField``), every other model by id."""
        return self.tag if endpoint == "extras.config-contexts" else self.tag_id

    def _count(self, kind, endpoint, n=1):
        self.report[kind][endpoint] = self.report[kind].get(endpoint, 0) + n

    def _candidates(self, endpoint, payloads):
        """Existing objects of ``endpoint`` that may match ``payloads``, fetched in batches."""
        keyfn, prefetch = SEED_KEYS[endpoint]
        if prefetch is None:  # cables: by the interfaces (or other terminations) they connect
            ids = [
                term["object_id"]
                for p in payloads
                for side in ("a_terminations", "b_terminations")
                for term in p.get(side) or ()
                if term.get("object_type") == "dcim.interface"
            ]
            objs = self.source.list_by(endpoint, "interface_id", ids) if ids else []
            others = [
                term["object_id"]
                for p in payloads
                for term in p.get("a_terminations") or ()
                if term.get("object_type") != "dcim.interface"
            ]
            if others:
                objs += self.source.list_by(endpoint, "termination_a_id", others)
        else:
            filter_name, field = prefetch
            values = [p.get(field) for p in payloads if p.get(field) is not None]
            objs = self.source.list_by(endpoint, filter_name, values) if values else []
        index = {}
        for obj in objs:
            current, _ = to_payload(endpoint, obj)
            index.setdefault(keyfn(current), (obj, current))
        return index

    def _seed_endpoint(self, endpoint, objs):
        keyfn = SEED_KEYS[endpoint][0]
        prepared = []
        for obj in objs:
            payload, deferred = to_payload(endpoint, obj, self.mapper)
            if self.tag_id is not None and "tags" in payload:
                payload["tags"] = sorted(set(payload["tags"]) | {self._marker(endpoint)})
            prepared.append((obj, payload, deferred))
        index = self._candidates(endpoint, [p for _, p, _ in prepared])
        to_create = []
        updates = []
        for obj, payload, deferred in prepared:
            key = keyfn(payload)
            match = index.get(key)
            if match is None:
                to_create.append((obj, _create_payload(endpoint, payload), deferred))
                # a repeated key in the snapshot itself must not be created twice
                index[key] = (None, payload)
                continue
            existing, current = match
            if existing is None:
                raise NetBoxConfigError(
                    f"snapshot {endpoint} has two objects with the same natural key {key!r} "
                    f"(ids {obj.get('id')} and another); fix the snapshot"
                )
            self.mapper.set(endpoint, obj["id"], existing["id"])
            wanted = payload
            if self.tag_id is not None and "tags" in payload:
                # the marker tag is for objects this import creates
                marker = self._marker(endpoint)
                wanted = dict(payload, tags=[t for t in payload["tags"] if t != marker])
            changes = _diff(wanted, current)
            if changes:
                updates.append(dict(changes, id=existing["id"]))
                self._count("updated", endpoint)
            else:
                self._count("existing", endpoint)
            if deferred:
                self.deferred.append((endpoint, existing["id"], obj, deferred))
        if updates:
            self._bulk(endpoint, updates, self.source.bulk_update, "update")
        for start in range(0, len(to_create), _BULK_CHUNK):
            chunk = to_create[start : start + _BULK_CHUNK]
            created = self._bulk(endpoint, [p for _, p, _ in chunk], self.source.create, "create")
            if isinstance(created, dict):
                created = [created]
            if len(created) != len(chunk):
                raise NetBoxError(
                    f"bulk create of {endpoint} returned {len(created)} objects for "
                    f"{len(chunk)} sent",
                    endpoint=endpoint,
                )
            for (obj, _, deferred), new in zip(chunk, created, strict=True):
                self.mapper.set(endpoint, obj["id"], new["id"])
                if deferred:
                    self.deferred.append((endpoint, new["id"], obj, deferred))
            self._count("created", endpoint, len(chunk))

    def _bulk(self, endpoint, items, method, what):
        try:
            return method(endpoint, items)
        except NetBoxInvalidRequest as err:
            raise NetBoxInvalidRequest(
                f"seeding {endpoint} ({what} of {len(items)} objects) failed: {err}",
                status=err.status,
                body=err.body,
                endpoint=endpoint,
                field_errors=err.field_errors,
            ) from err

    def _apply_deferred(self):
        by_endpoint = {}
        for endpoint, new_id, obj, fields in self.deferred:
            payload, still = to_payload(endpoint, {f: obj[f] for f in fields}, self.mapper)
            if still:
                raise NetBoxConfigError(
                    f"snapshot {endpoint} id {obj.get('id')} references objects that were never "
                    f"created ({', '.join(still)})"
                )
            current = by_endpoint.setdefault(endpoint, {})
            current.setdefault(new_id, {"id": new_id}).update(payload)
        for endpoint, items in by_endpoint.items():
            existing = {o["id"]: o for o in self.source.list_by(endpoint, "id", list(items))}
            todo = []
            for new_id, patch in items.items():
                current, _ = to_payload(endpoint, existing.get(new_id, {}))
                changes = _diff({k: v for k, v in patch.items() if k != "id"}, current)
                if changes:
                    todo.append(dict(changes, id=new_id))
            for start in range(0, len(todo), _BULK_CHUNK):
                self._bulk(
                    endpoint, todo[start : start + _BULK_CHUNK], self.source.bulk_update, "update"
                )
            self.report["deferred_updates"] += len(todo)


def import_snapshot(source, data, *, tag=None):
    """
    Create the objects of snapshot ``data`` (``lab1.json`` format) in ``source`` (a
    ``NetBoxClient`` or any source with the same interface), in dependency order, mapping old ids
    to new ones and writing circular references afterwards. Idempotent: objects found by natural
    key are not created again (only PATCHed where they differ).

    :param source: the target NetBox source
    :param data: the snapshot dict
    :param tag: optional tag slug added to every created object that takes tags (created if
        missing), to find or clean up what the import made
    :returns: ``{"created": {endpoint: n}, "existing": {...}, "updated": {...},
        "deferred_updates": n, "totals": {...}, "id_map": {endpoint: {old_id: new_id}}}``
    """
    return _Seeder(source, data, tag).run()
