"""
Representation side of the in-memory NetBox store: brief/nested objects built from the referenced
object, computed fields (counts, primary_ip, config_context, cable peers, ...). Private: mixed into
``store.NetBoxStore``.
"""

import decimal

from salt_ext.utils.netbox.model.schema_meta import ENDPOINTS, SHAPE_ENDPOINT, SHAPES, SLUG_M2M
from salt_ext.utils.netbox.model.util import copy_json, deep_merge

#: brief forms the OpenAPI schema has no component for (NetBox's ``brief_fields`` of those serializers)
_EXTRA_BRIEF = {
    "BriefPrefix": (
        "ipam.prefixes",
        ["id", "url", "display", "family", "prefix", "description", "_depth"],
    ),
    "BriefVMInterface": (
        "virtualization.interfaces",
        ["id", "url", "display", ("virtual_machine", "BriefVirtualMachine"), "name", "description"],
    ),
    "BriefService": (
        "ipam.services",
        ["id", "url", "display", "name", "protocol", "ports", "description"],
    ),
    "BriefJournalEntry": ("extras.journal-entries", ["id", "url", "display", "created"]),
    "BriefConfigContext": (
        "extras.config-contexts",
        ["id", "url", "display", "name", "description"],
    ),
    "BriefCustomField": ("extras.custom-fields", ["id", "url", "display", "name", "description"]),
    "BriefInventoryItem": (
        "dcim.inventory-items",
        ["id", "url", "display", ("device", "BriefDevice"), "name", "description", "_depth"],
    ),
    "BriefInterfaceTemplate": (
        "dcim.interface-templates",
        ["id", "url", "display", "name", "description"],
    ),
    "BriefObjectChange": ("core.object-changes", ["id", "url", "display"]),
}
for _shape, (_endpoint, _fields) in _EXTRA_BRIEF.items():
    SHAPES.setdefault(_shape, [f if isinstance(f, tuple) else (f, None) for f in _fields])
    SHAPE_ENDPOINT.setdefault(_shape, _endpoint)

#: object type (``dcim.device``) -> endpoint (``dcim.devices``)
OBJECT_TYPE_ENDPOINT = {meta["object_type"]: ep for ep, meta in ENDPOINTS.items()}

#: generic foreign keys: (endpoint, field) -> (type field, id field)
GENERIC_REFS = {
    ("ipam.ip-addresses", "assigned_object"): ("assigned_object_type", "assigned_object_id"),
    ("dcim.mac-addresses", "assigned_object"): ("assigned_object_type", "assigned_object_id"),
    ("extras.journal-entries", "assigned_object"): ("assigned_object_type", "assigned_object_id"),
    ("ipam.prefixes", "scope"): ("scope_type", "scope_id"),
    ("ipam.vlan-groups", "scope"): ("scope_type", "scope_id"),
    ("ipam.services", "parent"): ("parent_object_type", "parent_object_id"),
    ("core.object-changes", "changed_object"): ("changed_object_type", "changed_object_id"),
    ("dcim.inventory-items", "component"): ("component_type", "component_id"),
}

#: counts computed from the reference indexes: (endpoint, field) -> (source endpoint, source field,
#: generic object type or None)
COUNTS = {
    ("dcim.device-types", "device_count"): ("dcim.devices", "device_type", None),
    ("dcim.device-types", "interface_template_count"): (
        "dcim.interface-templates",
        "device_type",
        None,
    ),
    ("dcim.device-roles", "device_count"): ("dcim.devices", "role", None),
    ("dcim.device-roles", "virtualmachine_count"): (
        "virtualization.virtual-machines",
        "role",
        None,
    ),
    ("dcim.platforms", "device_count"): ("dcim.devices", "platform", None),
    ("dcim.platforms", "virtualmachine_count"): (
        "virtualization.virtual-machines",
        "platform",
        None,
    ),
    ("dcim.sites", "device_count"): ("dcim.devices", "site", None),
    ("dcim.sites", "rack_count"): ("dcim.racks", "site", None),
    ("dcim.sites", "vlan_count"): ("ipam.vlans", "site", None),
    ("dcim.sites", "prefix_count"): ("ipam.prefixes", "scope", "dcim.site"),
    ("dcim.sites", "virtualmachine_count"): ("virtualization.virtual-machines", "site", None),
    ("dcim.racks", "device_count"): ("dcim.devices", "rack", None),
    ("dcim.regions", "site_count"): ("dcim.sites", "region", None),
    ("dcim.manufacturers", "devicetype_count"): ("dcim.device-types", "manufacturer", None),
    ("dcim.manufacturers", "platform_count"): ("dcim.platforms", "manufacturer", None),
    ("dcim.manufacturers", "inventoryitem_count"): ("dcim.inventory-items", "manufacturer", None),
    ("dcim.devices", "interface_count"): ("dcim.interfaces", "device", None),
    ("dcim.devices", "inventory_item_count"): ("dcim.inventory-items", "device", None),
    ("tenancy.tenants", "device_count"): ("dcim.devices", "tenant", None),
    ("tenancy.tenants", "site_count"): ("dcim.sites", "tenant", None),
    ("tenancy.tenants", "rack_count"): ("dcim.racks", "tenant", None),
    ("tenancy.tenants", "prefix_count"): ("ipam.prefixes", "tenant", None),
    ("tenancy.tenants", "ipaddress_count"): ("ipam.ip-addresses", "tenant", None),
    ("tenancy.tenants", "vlan_count"): ("ipam.vlans", "tenant", None),
    ("tenancy.tenants", "vrf_count"): ("ipam.vrfs", "tenant", None),
    ("tenancy.tenants", "virtualmachine_count"): (
        "virtualization.virtual-machines",
        "tenant",
        None,
    ),
    ("ipam.vlan-groups", "vlan_count"): ("ipam.vlans", "group", None),
    ("ipam.vrfs", "prefix_count"): ("ipam.prefixes", "vrf", None),
    ("ipam.vrfs", "ipaddress_count"): ("ipam.ip-addresses", "vrf", None),
    ("virtualization.virtual-machines", "interface_count"): (
        "virtualization.interfaces",
        "virtual_machine",
        None,
    ),
    ("virtualization.interfaces", "count_ipaddresses"): (
        "ipam.ip-addresses",
        "assigned_object",
        "virtualization.vminterface",
    ),
    ("dcim.interfaces", "count_ipaddresses"): (
        "ipam.ip-addresses",
        "assigned_object",
        "dcim.interface",
    ),
}

#: counts NetBox keeps in a counter cache: real even in nested representations (other count fields
#: of a nested object are not annotated there and read 0)
COUNTER_CACHED = {("dcim.device-types", "device_count")}

#: config context assignment list -> how a device is matched
_CC_DEVICE_MATCH = {
    "sites": "site",
    "locations": "location",
    "device_types": "device_type",
    "roles": "role",
    "platforms": "platform",
    "tenants": "tenant",
    "clusters": "cluster",
}
_CC_LISTS = (
    "regions",
    "site_groups",
    "sites",
    "locations",
    "device_types",
    "roles",
    "platforms",
    "cluster_types",
    "cluster_groups",
    "clusters",
    "tenant_groups",
    "tenants",
    "tags",
)


def ref_id(value):
    """The id of a stored reference (nested dict or bare id), or ``None``."""
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return None


def api_path(endpoint):
    app, name = endpoint.split(".", 1)
    return f"/api/{app}/{name}/"


def ui_path(endpoint):
    if endpoint == "core.object-changes":
        return "/core/changelog/"
    app, name = endpoint.split(".", 1)
    return f"/{app}/{name}/"


class RenderMixin:
    """Builds REST representations from the stored objects (needs ``_objs``, ``_idx``, ``_stored_base``)."""

    # -- references ------------------------------------------------------------------------------
    def _idx_get(self, endpoint, field, key):
        return self._idx.get(endpoint, {}).get(field, {}).get(key, ())

    def _count(self, endpoint, field, obj_id):
        src_ep, src_field, gtype = COUNTS[(endpoint, field)]
        key = (gtype, obj_id) if gtype else obj_id
        return len(self._idx_get(src_ep, src_field, key))

    def _url(self, endpoint, obj_id, base):
        return f"{base}{api_path(endpoint)}{obj_id}/"

    def _brief(self, endpoint, obj_id, shape, base, memo, *, fallback=None, top=False):
        """A nested/brief representation of one object, built from the object itself. ``top``: the
        object is a result of a ``brief`` list (annotated counts are real there)."""
        key = (shape, obj_id)
        if not top and key in memo:
            return memo[key]
        obj = self._objs.get(endpoint, {}).get(obj_id)
        if obj is None:
            out = copy_json(fallback, self._stored_base, base) if fallback else None
            memo[key] = out
            return out
        out = {}
        for name, sub in SHAPES[shape]:
            if name == "id":
                out["id"] = obj_id
            elif name == "url":
                out["url"] = self._url(endpoint, obj_id, base)
            elif name == "display_url":
                out["display_url"] = f"{base}{ui_path(endpoint)}{obj_id}/"
            elif (endpoint, name) in COUNTS:
                if not top and (endpoint, name) not in COUNTER_CACHED:
                    out[name] = 0
                else:
                    out[name] = self._count(endpoint, name, obj_id)
            elif endpoint == "dcim.interfaces" and name in ("cable", "_occupied"):
                cable = self._cable_of(obj_id)
                if name == "_occupied":
                    out[name] = bool(cable) or bool(obj.get("mark_connected"))
                elif sub is None:
                    out[name] = cable[0] if cable else None
                else:
                    out[name] = (
                        self._brief("dcim.cables", cable[0], sub, base, memo) if cable else None
                    )
            elif sub is not None:
                value = obj.get(name)
                if isinstance(value, list):
                    out[name] = [
                        self._brief(SHAPE_ENDPOINT[sub], ref_id(v), sub, base, memo, fallback=v)
                        for v in value
                        if ref_id(v) is not None
                    ]
                else:
                    rid = ref_id(value)
                    out[name] = (
                        None
                        if rid is None
                        else self._brief(SHAPE_ENDPOINT[sub], rid, sub, base, memo, fallback=value)
                    )
            else:
                out[name] = copy_json(obj.get(name), self._stored_base, base)
        if not top:
            memo[key] = out
        return out

    def _brief_generic(self, object_type, obj_id, base, memo, fallback=None):
        endpoint = OBJECT_TYPE_ENDPOINT.get(object_type)
        if endpoint is None or obj_id is None:
            return copy_json(fallback, self._stored_base, base) if fallback else None
        shape = "Brief" + ENDPOINTS[endpoint]["model"]
        if shape not in SHAPES:
            return copy_json(fallback, self._stored_base, base) if fallback else None
        return self._brief(endpoint, obj_id, shape, base, memo, fallback=fallback)

    # -- cables ----------------------------------------------------------------------------------
    def _cable_of(self, iface_id, object_type="dcim.interface"):
        """(cable id, end) of the cable on an interface, or ``None``."""
        found = self._idx_get("dcim.cables", "terminations", (object_type, iface_id))
        for cable_id in found:
            cable = self._objs["dcim.cables"].get(cable_id)
            if cable is None:
                continue
            for end in ("a", "b"):
                for term in cable.get(f"{end}_terminations") or ():
                    if term.get("object_type") == object_type and term.get("object_id") == iface_id:
                        return cable_id, end.upper()
        return None

    def _terminations(self, cable, end, base, memo):
        out = []
        for term in cable.get(f"{end}_terminations") or ():
            otype, oid = term.get("object_type"), term.get("object_id")
            out.append(
                {
                    "object_type": otype,
                    "object_id": oid,
                    "object": self._brief_generic(otype, oid, base, memo, term.get("object")),
                }
            )
        return out

    # -- config context --------------------------------------------------------------------------
    def _region_chain(self, region_id):
        chain = []
        seen = set()
        while region_id is not None and region_id not in seen:
            seen.add(region_id)
            chain.append(region_id)
            region = self._objs.get("dcim.regions", {}).get(region_id)
            region_id = ref_id(region.get("parent")) if region else None
        return chain

    def config_context_for(self, obj):
        """The rendered config context of a device/VM: active contexts matching it, merged by
        (weight, name), then its local context data."""
        attrs = {name: ref_id(obj.get(field)) for name, field in _CC_DEVICE_MATCH.items()}
        site = self._objs.get("dcim.sites", {}).get(attrs["sites"])
        region_ids = set(self._region_chain(ref_id(site.get("region")))) if site else set()
        site_group = ref_id(site.get("group")) if site else None
        tenant = self._objs.get("tenancy.tenants", {}).get(attrs["tenants"])
        tenant_group = ref_id(tenant.get("group")) if tenant else None
        tag_ids = {ref_id(t) for t in obj.get("tags") or ()}
        contexts = []
        for ctx in self._objs.get("extras.config-contexts", {}).values():
            if not ctx.get("is_active", True):
                continue
            ok = True
            for name in _CC_LISTS:
                wanted = {ref_id(v) for v in ctx.get(name) or ()}
                if not wanted:
                    continue
                if name == "regions":
                    ok = bool(wanted & region_ids)
                elif name == "site_groups":
                    ok = site_group in wanted
                elif name == "tenant_groups":
                    ok = tenant_group in wanted
                elif name == "tags":
                    ok = bool(wanted & tag_ids)
                elif name in attrs:
                    ok = attrs[name] in wanted
                else:
                    ok = False
                if not ok:
                    break
            if ok:
                contexts.append(ctx)
        contexts.sort(key=lambda c: (c.get("weight") or 0, c.get("name") or ""))
        merged = {}
        for ctx in contexts:
            data = ctx.get("data")
            if isinstance(data, dict):
                merged = deep_merge(merged, data)
        local = obj.get("local_context_data")
        if isinstance(local, dict):
            merged = deep_merge(merged, local)
        return merged

    # -- full representation -----------------------------------------------------------------------
    def _render(self, endpoint, obj, base, memo, exclude=()):
        meta = ENDPOINTS[endpoint]
        fields = meta["fields"]
        obj_id = obj["id"]
        out = {}
        for name, value in obj.items():
            if name in exclude:
                continue
            spec = fields.get(name)
            if name == "url":
                out[name] = self._url(endpoint, obj_id, base)
            elif name == "display_url":
                out[name] = f"{base}{ui_path(endpoint)}{obj_id}/"
            elif (endpoint, name) in COUNTS:
                out[name] = self._count(endpoint, name, obj_id)
            elif (endpoint, name) in GENERIC_REFS:
                tfield, ifield = GENERIC_REFS[(endpoint, name)]
                out[name] = self._brief_generic(obj.get(tfield), obj.get(ifield), base, memo, value)
            elif (endpoint, name) in SLUG_M2M:
                out[name] = self._slugs(spec[1], value)
            elif spec is not None and spec[0] in ("fk", "fkm"):
                target, shape = spec[1], spec[2]
                if spec[0] == "fkm":
                    out[name] = [
                        self._brief(target, ref_id(v), shape, base, memo, fallback=v)
                        for v in value or ()
                        if ref_id(v) is not None
                    ]
                else:
                    rid = ref_id(value)
                    out[name] = (
                        None
                        if rid is None
                        else self._brief(target, rid, shape, base, memo, fallback=value)
                    )
            else:
                out[name] = copy_json(value, self._stored_base, base)
        special = getattr(self, "_render_" + endpoint.replace(".", "_").replace("-", "_"), None)
        if special is not None:
            special(obj, out, base, memo, exclude)
        return out

    def _slugs(self, target, refs):
        """A ``SlugRelatedField(many=True)``: the slugs of the referenced objects (a slug stored
        as such, e.g. of a tag a snapshot names but does not hold, is kept)."""
        out = []
        for ref in refs or ():
            if isinstance(ref, str):
                out.append(ref)
                continue
            obj = self._objs.get(target, {}).get(ref_id(ref))
            if obj is not None:
                out.append(obj.get("slug"))
            elif isinstance(ref, dict) and ref.get("slug"):
                out.append(ref["slug"])
        return out

    def _render_dcim_devices(self, obj, out, base, memo, exclude):
        if "primary_ip" in out:
            primary = obj.get("primary_ip6") if ref_id(obj.get("primary_ip6")) else None
            primary = primary or obj.get("primary_ip4")
            rid = ref_id(primary)
            out["primary_ip"] = (
                None
                if rid is None
                else self._brief(
                    "ipam.ip-addresses", rid, "BriefIPAddress", base, memo, fallback=primary
                )
            )
        if "config_context" in out:
            out["config_context"] = self.config_context_for(obj)

    _render_virtualization_virtual_machines = _render_dcim_devices

    def _render_dcim_interfaces(self, obj, out, base, memo, exclude):
        cable = self._cable_of(obj["id"])
        macs = sorted(
            self._idx_get("dcim.mac-addresses", "assigned_object", ("dcim.interface", obj["id"]))
        )
        if "mac_addresses" in out:
            out["mac_addresses"] = [
                self._brief("dcim.mac-addresses", m, "BriefMACAddress", base, memo) for m in macs
            ]
        primary = self._objs.get("dcim.mac-addresses", {}).get(
            ref_id(obj.get("primary_mac_address"))
        )
        if "mac_address" in out:
            out["mac_address"] = primary.get("mac_address") if primary else None
        if "_occupied" in out:
            out["_occupied"] = bool(cable) or bool(obj.get("mark_connected"))
        if "cable" not in out:
            return
        if cable is None:
            out.update(
                cable=None,
                cable_end=None,
                link_peers=[],
                link_peers_type=None,
                connected_endpoints=None,
                connected_endpoints_type=None,
                connected_endpoints_reachable=False,
            )
            return
        cable_id, end = cable
        cable_obj = self._objs["dcim.cables"][cable_id]
        peer_end = "b" if end == "A" else "a"
        peers = self._terminations(cable_obj, peer_end, base, memo)
        peer_type = peers[0]["object_type"] if peers else None
        out["cable"] = self._brief("dcim.cables", cable_id, "BriefCable", base, memo)
        out["cable_end"] = end
        out["link_peers"] = [p["object"] for p in peers]
        out["link_peers_type"] = peer_type
        if peers and peer_type == "dcim.interface":
            status = (cable_obj.get("status") or {}).get("value")
            out["connected_endpoints"] = [p["object"] for p in peers]
            out["connected_endpoints_type"] = peer_type
            out["connected_endpoints_reachable"] = status == "connected"
        else:
            out["connected_endpoints"] = None
            out["connected_endpoints_type"] = None
            out["connected_endpoints_reachable"] = False

    def _render_ipam_vlan_groups(self, obj, out, base, memo, exclude):
        if "utilization" in out:
            out["utilization"] = self.vlan_group_utilization(obj)

    def vlan_group_utilization(self, group):
        """NetBox's ``annotate_utilization()``: VLANs in the group * 100 / VLAN ids its ranges
        hold, rounded to 2 places (half away from zero, like PostgreSQL), as a string."""
        total = group.get("total_vlan_ids") or 0
        if total <= 0:
            return "0.00"
        count = self._count("ipam.vlan-groups", "vlan_count", group["id"])
        value = decimal.Decimal(count * 100) / decimal.Decimal(total)
        return str(value.quantize(decimal.Decimal("0.01"), rounding=decimal.ROUND_HALF_UP))

    def _render_dcim_cables(self, obj, out, base, memo, exclude):
        for end in ("a", "b"):
            if f"{end}_terminations" in out:
                out[f"{end}_terminations"] = self._terminations(obj, end, base, memo)

    def _render_core_object_changes(self, obj, out, base, memo, exclude):
        if "user" in out and isinstance(obj.get("user"), dict):
            user = dict(obj["user"])
            user["url"] = f"{base}/api/users/users/{user.get('id')}/"
            out["user"] = user
        if "changed_object" in out:
            endpoint = OBJECT_TYPE_ENDPOINT.get(obj.get("changed_object_type"))
            exists = endpoint and obj.get("changed_object_id") in self._objs.get(endpoint, {})
            if not exists:
                out["changed_object"] = None
