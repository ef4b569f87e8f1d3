"""
Filter engine and default ordering of the in-memory NetBox store, following NetBox 4.6's filter sets:
exact match, repeated key = OR, lookups (``__n __ic __ie __isw __iew __nic __nie __nisw __niew __empty
__lt __lte __gt __gte __regex __iregex``), ``<rel>`` (slug/name) and ``<rel>_id``, ``cf_<name>``, ``tag``,
``q`` and the special filters the product uses. Private: mixed into ``store.NetBoxStore``.
"""

import ipaddress
import re

from salt_ext.utils.netbox.model.render import GENERIC_REFS, ref_id
from salt_ext.utils.netbox.model.schema_meta import ENDPOINTS
from salt_ext.utils.netbox.model.util import ip_sort_key, natural_key, parse_time

#: query parameters that are not filters (paging and representation are the caller's business)
CONTROL_PARAMS = {
    "limit",
    "offset",
    "ordering",
    "brief",
    "fields",
    "omit",
    "exclude",
    "start",
    "format",
}

#: ``q`` searches these fields (icontains) per endpoint; others use _DEFAULT_SEARCH
SEARCH_FIELDS = {
    "dcim.devices": ("name", "serial", "asset_tag", "description", "comments"),
    "dcim.interfaces": ("name", "label", "description", "mac_address"),
    "dcim.mac-addresses": ("mac_address", "description"),
    "dcim.cables": ("label", "description"),
    "dcim.racks": ("name", "facility_id", "serial", "asset_tag", "description", "comments"),
    "dcim.device-types": ("model", "part_number", "description", "comments"),
    "ipam.ip-addresses": ("address", "dns_name", "description"),
    "ipam.prefixes": ("prefix", "description"),
    "ipam.vlans": ("name", "description"),
    "extras.journal-entries": ("comments",),
    "core.object-changes": ("user_name", "object_repr"),
    "dcim.inventory-items": ("name", "label", "serial", "asset_tag", "part_id", "description"),
}
_DEFAULT_SEARCH = ("name", "slug", "label", "description")

#: lookup field of ``<rel>=<value>`` filters per target endpoint (default: slug, else name)
_REL_FIELD = {
    "dcim.devices": "name",
    "dcim.interfaces": "name",
    "dcim.racks": "name",
    "ipam.vrfs": "rd",
    "ipam.vlans": "vid",
    "virtualization.virtual-machines": "name",
    "virtualization.interfaces": "name",
    "dcim.device-types": "slug",
    "ipam.ip-addresses": "address",
    "dcim.mac-addresses": "mac_address",
}

#: endpoints whose objects hang off a device: site/rack/role/... filters go through the device
_DEVICE_COMPONENTS = {"dcim.interfaces", "dcim.inventory-items"}
_THROUGH_DEVICE = {
    "site": "site",
    "site_id": "site",
    "rack": "rack",
    "rack_id": "rack",
    "role": "role",
    "role_id": "role",
    "device_role": "role",
    "device_role_id": "role",
    "device_type": "device_type",
    "device_type_id": "device_type",
    "tenant": "tenant",
    "tenant_id": "tenant",
    "location": "location",
    "location_id": "location",
    "platform": "platform",
    "platform_id": "platform",
}

_TRUE = {"true", "True", "TRUE", "1", "yes", "on"}
_FALSE = {"false", "False", "FALSE", "0", "no", "off"}


class FilterError(Exception):
    """A filter value NetBox rejects: 400 with ``{param: [message]}``."""

    def __init__(self, param, message):
        super().__init__(message)
        self.param = param
        self.message = message


def invalid_choice(param, value):
    return FilterError(
        param, f"Select a valid choice. {value} is not one of the available choices."
    )


def parse_bool(param, value):
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise invalid_choice(param, value)


def _plain(value):
    """The comparable value of a stored field: choice -> value, nested -> id."""
    if isinstance(value, dict):
        if "value" in value and "label" in value:
            return value["value"]
        if "id" in value:
            return value["id"]
    return value


def _num(param, value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise FilterError(param, "Enter a number.") from None
    return int(number) if number.is_integer() else number


def string_match(stored, lookup, values):
    """Does a stored string value match ``values`` with ``lookup``?"""
    text = "" if stored is None else str(stored)
    low = text.lower()
    if lookup == "":
        return stored is not None and any(text == v for v in values)
    if lookup == "n":
        return all(stored is None or text != v for v in values)
    if lookup == "ic":
        return stored is not None and any(v.lower() in low for v in values)
    if lookup == "nic":
        return all(v.lower() not in low for v in values)
    if lookup == "ie":
        return stored is not None and any(v.lower() == low for v in values)
    if lookup == "nie":
        return all(v.lower() != low for v in values)
    if lookup == "isw":
        return stored is not None and any(low.startswith(v.lower()) for v in values)
    if lookup == "nisw":
        return all(not low.startswith(v.lower()) for v in values)
    if lookup == "iew":
        return stored is not None and any(low.endswith(v.lower()) for v in values)
    if lookup == "niew":
        return all(not low.endswith(v.lower()) for v in values)
    if lookup in ("regex", "iregex"):
        flags = re.IGNORECASE if lookup == "iregex" else 0
        return stored is not None and any(re.search(v, text, flags) for v in values)
    return True


def number_match(stored, lookup, numbers):
    if stored is None:
        return lookup == "n"
    try:
        stored = float(stored)
    except (TypeError, ValueError):
        return False
    if lookup == "":
        return any(stored == n for n in numbers)
    if lookup == "n":
        return all(stored != n for n in numbers)
    if lookup == "lt":
        return any(stored < n for n in numbers)
    if lookup == "lte":
        return any(stored <= n for n in numbers)
    if lookup == "gt":
        return any(stored > n for n in numbers)
    if lookup == "gte":
        return any(stored >= n for n in numbers)
    return True


def _is_empty(value):
    return value is None or value in ("", [], {})


def _net_contains(prefix, address):
    try:
        net = ipaddress.ip_network(prefix, strict=False)
        host = ipaddress.ip_interface(address).ip
    except ValueError:
        return False
    return host.version == net.version and host in net


class FilterMixin:
    """``_query_ids`` and the default ordering (needs ``_objs``, ``_idx``)."""

    # -- ordering ------------------------------------------------------------------------------------
    def _name_of(self, endpoint, value, field="name"):
        obj = self._objs.get(endpoint, {}).get(ref_id(value))
        return obj.get(field) if obj else None

    def _device_key(self, device_id):
        dev = self._objs.get("dcim.devices", {}).get(device_id)
        return (natural_key(dev.get("name") if dev else None), device_id or 0)

    def _default_key(self, endpoint, obj):
        oid = obj["id"]
        name = obj.get("name")
        if endpoint in ("dcim.devices", "virtualization.virtual-machines", "dcim.sites"):
            return (natural_key(name), oid)
        if endpoint == "dcim.interfaces":
            return (self._device_key(ref_id(obj.get("device"))), natural_key(name), oid)
        if endpoint == "virtualization.interfaces":
            vm = self._objs.get("virtualization.virtual-machines", {}).get(
                ref_id(obj.get("virtual_machine"))
            )
            return (natural_key(vm.get("name") if vm else None), natural_key(name), oid)
        if endpoint == "dcim.interface-templates":
            dt = ref_id(obj.get("device_type"))
            dtype = self._objs.get("dcim.device-types", {}).get(dt) or {}
            return (
                str(self._name_of("dcim.manufacturers", dtype.get("manufacturer")) or "").lower(),
                str(dtype.get("model") or "").lower(),
                natural_key(name),
                oid,
            )
        if endpoint == "dcim.inventory-items":
            return (
                ref_id(obj.get("device")) or 0,
                ref_id(obj.get("parent")) or 0,
                natural_key(name),
                oid,
            )
        if endpoint == "dcim.mac-addresses":
            return (str(obj.get("mac_address") or ""), oid)
        if endpoint == "ipam.ip-addresses":
            return (ip_sort_key(obj.get("address")), oid)
        if endpoint == "ipam.prefixes":
            vrf = ref_id(obj.get("vrf"))
            return (
                vrf is not None,
                str(self._name_of("ipam.vrfs", vrf) or ""),
                ip_sort_key(obj.get("prefix")),
                oid,
            )
        if endpoint == "ipam.vlans":
            site = self._name_of("dcim.sites", obj.get("site"))
            group = self._name_of("ipam.vlan-groups", obj.get("group"))
            return (
                site is None,
                natural_key(site),
                group is None,
                str(group or ""),
                obj.get("vid") or 0,
                oid,
            )
        if endpoint == "dcim.racks":
            site = self._name_of("dcim.sites", obj.get("site"))
            loc = self._name_of("dcim.locations", obj.get("location"))
            return (natural_key(site), loc is not None, str(loc or ""), natural_key(name), oid)
        if endpoint == "dcim.device-types":
            manu = self._name_of("dcim.manufacturers", obj.get("manufacturer"))
            return (str(manu or "").lower(), str(obj.get("model") or "").lower(), oid)
        if endpoint == "extras.config-contexts":
            return (obj.get("weight") or 0, str(name or ""), oid)
        if endpoint == "extras.custom-fields":
            return (str(obj.get("group_name") or ""), obj.get("weight") or 0, str(name or ""), oid)
        if endpoint == "extras.journal-entries":
            return (_neg_time(obj.get("created")), -oid)
        if endpoint == "core.object-changes":
            return (_neg_time(obj.get("time")), -oid)
        if endpoint in ("dcim.cables",):
            return (oid,)
        if endpoint == "ipam.services":
            proto = _plain(obj.get("protocol")) or ""
            return (proto, obj.get("ports") or [], oid)
        if name is not None:
            return (str(name).lower(), str(name), oid)
        return (oid,)

    def _ranking(self, endpoint):
        rank = self._rank_cache.get(endpoint)
        if rank is None:
            objs = self._objs.get(endpoint, {})
            order = sorted(objs.values(), key=lambda o: self._default_key(endpoint, o))
            rank = {o["id"]: i for i, o in enumerate(order)}
            self._rank_cache[endpoint] = rank
        return rank

    def _ordered(self, endpoint, ids, ordering):
        objs = self._objs[endpoint]
        rank = self._rank_cache.get(endpoint)
        if rank is None and len(ids) * 8 < len(objs):
            # a small result: sort it directly instead of ranking the whole endpoint
            ids = sorted(ids, key=lambda i: self._default_key(endpoint, objs[i]))
        else:
            rank = self._ranking(endpoint)
            ids = sorted(ids, key=rank.__getitem__)
        if not ordering:
            return ids
        fields = ENDPOINTS[endpoint]["fields"]
        keys = []
        for raw in ordering.split(","):
            part = raw.strip()
            desc = part.startswith("-")
            field = part.lstrip("-")
            if field and (field in fields or field in ("id", "created", "last_updated")):
                keys.append((field, desc))
        for field, desc in reversed(keys):
            ids.sort(key=lambda i, f=field: _order_value(objs[i].get(f)), reverse=desc)
        return ids

    # -- filtering -----------------------------------------------------------------------------------
    def _query_ids(self, endpoint, params):
        """Ids of the objects matching ``params`` (list of (key, value)), in NetBox's order."""
        meta = ENDPOINTS[endpoint]
        grouped = {}
        ordering = None
        for key, value in params:
            if key == "ordering":
                ordering = value
                continue
            if key in CONTROL_PARAMS:
                continue
            grouped.setdefault(key, []).append(value)
        candidates = None
        predicates = []
        for param, values in grouped.items():
            result = self._filter(endpoint, meta, param, values)
            if result is None:
                continue
            if isinstance(result, (set, frozenset)):
                candidates = set(result) if candidates is None else candidates & result
            else:
                predicates.append(result)
        objs = self._objs[endpoint]
        if candidates is None:
            ids = objs.keys()
        else:
            ids = [i for i in candidates if i in objs]
        if predicates:
            ids = [i for i in ids if all(p(objs[i]) for p in predicates)]
        return self._ordered(endpoint, ids, ordering)

    def _filter(self, endpoint, meta, param, values):
        """A set of ids, a predicate, or ``None`` (filter unknown: ignored like NetBox)."""
        base, _, lookup = param.partition("__")
        if base.startswith("cf_"):
            return self._cf_filter(endpoint, meta, param, base[3:], lookup, values)
        allowed = meta["filters"].get(base)
        if allowed is None:
            return None
        if lookup and lookup not in allowed.split():
            return None
        handler = getattr(self, "_f_" + base, None)
        if handler is not None:
            result = handler(endpoint, meta, param, lookup, values)
            if result is not NotImplemented:
                return result
        if endpoint in _DEVICE_COMPONENTS and base in _THROUGH_DEVICE:
            return self._through_device(endpoint, param, base, lookup, values)
        return self._generic(endpoint, meta, param, base, lookup, values)

    def _generic(self, endpoint, meta, param, base, lookup, values):  # noqa: PLR0917
        fields = meta["fields"]
        if base == "id":
            return self._scalar(param, "id", "integer", lookup, values)
        if base.endswith("_id"):
            field = base[:-3]
            spec = fields.get(field) or fields.get(field + "s")
            if spec is not None and spec[0] in ("fk", "fkm"):
                fname = field if field in fields else field + "s"
                ids = self._resolve(param, spec[1], values, by_id=True)
                return self._match_refs(endpoint, fname, ids, lookup)
        spec = fields.get(base)
        fname = base
        if spec is None and fields.get(base + "s", ("",))[0] == "fkm":
            spec, fname = fields[base + "s"], base + "s"
        if spec is None:
            return None
        kind = spec[0]
        if kind in ("fk", "fkm"):
            ids = self._resolve(param, spec[1], values, by_id=False)
            return self._match_refs(endpoint, fname, ids, lookup)
        if kind == "choice":
            return self._choice(param, fname, spec[1], lookup, values)
        return self._scalar(param, fname, spec[1], lookup, values)

    def _resolve(self, param, target, values, by_id):
        """Map filter values to target ids; unknown -> 400 like NetBox's ModelMultipleChoiceFilter.
        ``None`` in the result stands for ``null``."""
        out = set()
        objs = self._objs.get(target, {})
        field = _REL_FIELD.get(target)
        if field is None:
            known = ENDPOINTS.get(target, {}).get("fields", {})
            field = "slug" if "slug" in known or not known else "name"
        for value in values:
            if value == "null":
                out.add(None)
                continue
            if by_id:
                try:
                    oid = int(value)
                except ValueError:
                    raise invalid_choice(param, value) from None
                if oid not in objs:
                    raise invalid_choice(param, value)
                out.add(oid)
                continue
            found = self._by_field(target, field, value)
            if not found:
                raise invalid_choice(param, value)
            out |= found
        return out

    def _by_field(self, target, field, value):
        cache = self._lookup_cache.setdefault((target, field), None)
        if cache is None:
            cache = {}
            for oid, obj in self._objs.get(target, {}).items():
                cache.setdefault(str(_plain(obj.get(field))), set()).add(oid)
            self._lookup_cache[(target, field)] = cache
        return cache.get(str(value), set())

    def _match_refs(self, endpoint, field, ids, lookup):
        want_null = None in ids
        ids = {i for i in ids if i is not None}
        index = self._idx.get(endpoint, {}).get(field, {})
        matched = set()
        for oid in ids:
            matched |= index.get(oid, set())
        if want_null:
            objs = self._objs[endpoint]
            matched |= {
                i for i, o in objs.items() if not o.get(field) or ref_id(o.get(field)) is None
            }
        if lookup == "n":
            return lambda obj: obj["id"] not in matched
        return frozenset(matched)

    def _choice(self, param, field, choices, lookup, values):
        if lookup in ("", "n"):
            for value in values:
                if value not in choices and value != "null":
                    raise invalid_choice(param, value)
            wanted = {None if v == "null" else v for v in values}
            if lookup == "n":
                return lambda obj: _plain(obj.get(field)) not in wanted
            return lambda obj: _plain(obj.get(field)) in wanted
        if lookup == "empty":
            flag = parse_bool(param, values[-1])
            return lambda obj: _is_empty(_plain(obj.get(field))) == flag
        return lambda obj: string_match(_plain(obj.get(field)), lookup, values)

    def _scalar(self, param, field, ftype, lookup, values):
        if lookup == "empty":
            flag = parse_bool(param, values[-1])
            return lambda obj: _is_empty(_plain(obj.get(field))) == flag
        if ftype in ("integer", "number"):
            if field == "id" and lookup == "":
                return frozenset(_num(param, v) for v in values)
            numbers = [_num(param, v) for v in values if v != "null"]
            nulls = "null" in values
            return lambda obj: (nulls and obj.get(field) is None) or number_match(
                _plain(obj.get(field)), lookup, numbers
            )
        if ftype == "boolean":
            flag = parse_bool(param, values[-1])
            if lookup == "n":
                return lambda obj: bool(obj.get(field)) != flag
            return lambda obj: bool(obj.get(field)) == flag
        if ftype == "array":
            return lambda obj: any(
                string_match(str(_plain(v)), lookup or "", values) for v in obj.get(field) or ()
            )
        return lambda obj: string_match(_plain(obj.get(field)), lookup, values)

    def _through_device(self, endpoint, param, base, lookup, values):
        field = _THROUGH_DEVICE[base]
        spec = ENDPOINTS["dcim.devices"]["fields"][field]
        ids = self._resolve(param, spec[1], values, by_id=base.endswith("_id"))
        devices = self._match_refs("dcim.devices", field, ids, "")
        matched = set()
        index = self._idx.get(endpoint, {}).get("device", {})
        for dev in devices:
            matched |= index.get(dev, set())
        if lookup == "n":
            return lambda obj: obj["id"] not in matched
        return frozenset(matched)

    # -- custom fields -------------------------------------------------------------------------------
    def _cf_filter(self, endpoint, meta, param, name, lookup, values):  # noqa: PLR0917
        cf = None
        for obj in self._objs.get("extras.custom-fields", {}).values():
            if obj.get("name") == name and meta["object_type"] in (obj.get("object_types") or ()):
                cf = obj
                break
        if cf is None:
            return None
        ctype = _plain(cf.get("type"))
        logic = _plain(cf.get("filter_logic"))
        if logic == "disabled":
            return None

        def value_of(obj):
            return (obj.get("custom_fields") or {}).get(name)

        if lookup == "empty":
            flag = parse_bool(param, values[-1])
            return lambda obj: _is_empty(value_of(obj)) == flag
        if ctype == "boolean":
            flag = parse_bool(param, values[-1])
            if lookup == "n":
                return lambda obj: value_of(obj) is not flag
            return lambda obj: value_of(obj) is flag
        if ctype in ("integer", "decimal"):
            numbers = [_num(param, v) for v in values]
            return lambda obj: number_match(value_of(obj), lookup, numbers)
        if ctype == "multiselect":
            return lambda obj: any(v in (value_of(obj) or ()) for v in values)
        if ctype in ("object", "multiobject"):
            wanted = {int(v) for v in values if v.isdigit()}

            def match_obj(obj):
                value = value_of(obj)
                items = value if isinstance(value, list) else [value]
                return any(ref_id(v) in wanted for v in items if v is not None)

            return match_obj
        if lookup == "" and logic == "loose" and ctype in ("text", "longtext", "url"):
            lookup = "ic"
        return lambda obj: string_match(value_of(obj), lookup, values)

    # -- special filters -----------------------------------------------------------------------------
    def _f_q(self, endpoint, meta, param, lookup, values):
        needle = values[-1].strip().lower()
        if not needle:
            return None
        fields = SEARCH_FIELDS.get(endpoint, _DEFAULT_SEARCH)

        def match(obj):
            for field in fields:
                value = obj.get(field)
                if value is not None and needle in str(value).lower():
                    return True
            return False

        return match

    def _f_tag(self, endpoint, meta, param, lookup, values):
        return self._tags(endpoint, param, lookup, values, by_id=False)

    def _f_tag_id(self, endpoint, meta, param, lookup, values):
        return self._tags(endpoint, param, lookup, values, by_id=True)

    def _tags(self, endpoint, param, lookup, values, by_id):
        sets = []
        for value in values:
            ids = self._resolve(param, "extras.tags", [value], by_id=by_id)
            tagged = set()
            for tag in ids:
                tagged |= self._idx.get(endpoint, {}).get("tags", {}).get(tag, set())
            sets.append(tagged)
        if lookup == "n":
            excluded = set().union(*sets) if sets else set()
            return lambda obj: obj["id"] not in excluded
        if lookup == "any":
            return frozenset(set().union(*sets)) if sets else None
        result = sets[0]
        for other in sets[1:]:
            result = result & other
        return frozenset(result)

    def _f_device_role(self, endpoint, meta, param, lookup, values):
        return self._context_roles(endpoint, param, lookup, values, by_id=False)

    def _f_device_role_id(self, endpoint, meta, param, lookup, values):
        return self._context_roles(endpoint, param, lookup, values, by_id=True)

    def _context_roles(self, endpoint, param, lookup, values, by_id):
        """Config contexts' ``device_role``/``device_role_id``: their ``roles`` assignment."""
        if endpoint != "extras.config-contexts":
            return NotImplemented
        roles = self._resolve(param, "dcim.device-roles", values, by_id=by_id)
        return self._match_refs(endpoint, "roles", roles, lookup)

    def _f_has_primary_ip(self, endpoint, meta, param, lookup, values):
        flag = parse_bool(param, values[-1])
        return (
            lambda obj: (
                ref_id(obj.get("primary_ip4")) is not None
                or ref_id(obj.get("primary_ip6")) is not None
            )
            == flag
        )

    def _f_has_oob_ip(self, endpoint, meta, param, lookup, values):
        flag = parse_bool(param, values[-1])
        return lambda obj: (ref_id(obj.get("oob_ip")) is not None) == flag

    def _f_time_after(self, endpoint, meta, param, lookup, values):
        return self._time(param, values, after=True)

    def _f_time_before(self, endpoint, meta, param, lookup, values):
        return self._time(param, values, after=False)

    def _time(self, param, values, after):
        moment = parse_time(values[-1])
        if moment is None:
            raise FilterError(param, "Enter a valid date/time.")

        def match(obj):
            stamp = parse_time(obj.get("time"))
            if stamp is None:
                return False
            return stamp >= moment if after else stamp <= moment

        return match

    def _object_type_filter(self, field, lookup, values):
        wanted = {v.lower() for v in values}
        if lookup == "n":
            return lambda obj: str(obj.get(field) or "").lower() not in wanted
        return lambda obj: str(obj.get(field) or "").lower() in wanted

    def _f_changed_object_type(self, endpoint, meta, param, lookup, values):
        return self._object_type_filter("changed_object_type", lookup, values)

    def _f_assigned_object_type(self, endpoint, meta, param, lookup, values):
        return self._object_type_filter("assigned_object_type", lookup, values)

    def _f_user(self, endpoint, meta, param, lookup, values):
        if endpoint != "core.object-changes":
            return NotImplemented
        return lambda obj: string_match(obj.get("user_name"), lookup, values)

    def _components_of(self, param, values, by_id, lookup, device_side="device"):
        """Interface ids of the given devices (by id or name)."""
        devices = self._resolve(param, "dcim.devices", values, by_id=by_id)
        ifaces = set()
        index = self._idx.get("dcim.interfaces", {}).get("device", {})
        for dev in devices:
            ifaces |= index.get(dev, set())
        return devices, ifaces

    def _assigned_to(self, endpoint, otype, ids, lookup):
        index = self._idx.get(endpoint, {}).get("assigned_object", {})
        matched = set()
        for oid in ids:
            matched |= index.get((otype, oid), set())
        if lookup == "n":
            return lambda obj: obj["id"] not in matched
        return frozenset(matched)

    def _device_filter(self, endpoint, param, lookup, values, by_id):
        devices, ifaces = self._components_of(param, values, by_id, lookup)
        if endpoint in ("ipam.ip-addresses", "dcim.mac-addresses"):
            return self._assigned_to(endpoint, "dcim.interface", ifaces, lookup)
        if endpoint == "dcim.cables":
            matched = set()
            index = self._idx.get("dcim.cables", {}).get("terminations", {})
            for iface in ifaces:
                matched |= index.get(("dcim.interface", iface), set())
            return frozenset(matched)
        if endpoint == "ipam.services":
            index = self._idx.get(endpoint, {}).get("parent", {})
            matched = set()
            for dev in devices:
                matched |= index.get(("dcim.device", dev), set())
            return frozenset(matched)
        return NotImplemented

    def _f_device_id(self, endpoint, meta, param, lookup, values):
        return self._device_filter(endpoint, param, lookup, values, by_id=True)

    def _f_device(self, endpoint, meta, param, lookup, values):
        return self._device_filter(endpoint, param, lookup, values, by_id=False)

    def _f_interface_id(self, endpoint, meta, param, lookup, values):
        if endpoint not in ("ipam.ip-addresses", "dcim.mac-addresses", "dcim.cables"):
            return NotImplemented
        ids = self._resolve(param, "dcim.interfaces", values, by_id=True)
        if endpoint == "dcim.cables":
            index = self._idx.get("dcim.cables", {}).get("terminations", {})
            matched = set()
            for iface in ids:
                matched |= index.get(("dcim.interface", iface), set())
            return frozenset(matched)
        return self._assigned_to(endpoint, "dcim.interface", ids, lookup)

    def _f_vminterface_id(self, endpoint, meta, param, lookup, values):
        ids = self._resolve(param, "virtualization.interfaces", values, by_id=True)
        return self._assigned_to(endpoint, "virtualization.vminterface", ids, lookup)

    def _f_virtual_machine_id(self, endpoint, meta, param, lookup, values):
        if endpoint not in ("ipam.ip-addresses", "dcim.mac-addresses"):
            return NotImplemented
        vms = self._resolve(param, "virtualization.virtual-machines", values, by_id=True)
        index = self._idx.get("virtualization.interfaces", {}).get("virtual_machine", {})
        ifaces = set()
        for vm in vms:
            ifaces |= index.get(vm, set())
        return self._assigned_to(endpoint, "virtualization.vminterface", ifaces, lookup)

    def _sites_filter(self, endpoint, param, lookup, values, by_id):
        sites = self._resolve(param, "dcim.sites", values, by_id=by_id)
        if endpoint in ("dcim.cables", "ipam.ip-addresses", "dcim.mac-addresses"):
            devices = set()
            for site in sites:
                devices |= self._idx.get("dcim.devices", {}).get("site", {}).get(site, set())
            ifaces = set()
            index = self._idx.get("dcim.interfaces", {}).get("device", {})
            for dev in devices:
                ifaces |= index.get(dev, set())
            if endpoint == "dcim.cables":
                matched = set()
                tindex = self._idx.get("dcim.cables", {}).get("terminations", {})
                for iface in ifaces:
                    matched |= tindex.get(("dcim.interface", iface), set())
                return frozenset(matched)
            return self._assigned_to(endpoint, "dcim.interface", ifaces, lookup)
        if endpoint in ("ipam.prefixes", "ipam.vlan-groups"):
            index = self._idx.get(endpoint, {}).get("scope", {})
            matched = set()
            for site in sites:
                matched |= index.get(("dcim.site", site), set())
            if lookup == "n":
                return lambda obj: obj["id"] not in matched
            return frozenset(matched)
        return NotImplemented

    def _f_site_id(self, endpoint, meta, param, lookup, values):
        return self._sites_filter(endpoint, param, lookup, values, by_id=True)

    def _f_site(self, endpoint, meta, param, lookup, values):
        return self._sites_filter(endpoint, param, lookup, values, by_id=False)

    def _regions_filter(self, endpoint, param, lookup, values, by_id):
        regions = self._resolve(param, "dcim.regions", values, by_id=by_id)
        wanted = set()
        for region in self._objs.get("dcim.regions", {}):
            if set(self._region_chain(region)) & regions:
                wanted.add(region)
        sites = set()
        for oid, site in self._objs.get("dcim.sites", {}).items():
            if ref_id(site.get("region")) in wanted:
                sites.add(oid)
        if endpoint == "dcim.sites":
            return frozenset(sites)
        site_field = "site"
        if endpoint in _DEVICE_COMPONENTS:
            devices = set()
            for site in sites:
                devices |= self._idx.get("dcim.devices", {}).get("site", {}).get(site, set())
            matched = set()
            for dev in devices:
                matched |= self._idx.get(endpoint, {}).get("device", {}).get(dev, set())
            return frozenset(matched)
        if endpoint in ("ipam.prefixes",):
            return self._sites_filter(endpoint, param, lookup, [str(s) for s in sites], True)
        if "site" not in ENDPOINTS[endpoint]["fields"]:
            return NotImplemented
        matched = set()
        for site in sites:
            matched |= self._idx.get(endpoint, {}).get(site_field, {}).get(site, set())
        return frozenset(matched)

    def _f_region_id(self, endpoint, meta, param, lookup, values):
        if endpoint == "dcim.regions":
            return NotImplemented
        return self._regions_filter(endpoint, param, lookup, values, by_id=True)

    def _f_region(self, endpoint, meta, param, lookup, values):
        if endpoint == "dcim.regions":
            return NotImplemented
        return self._regions_filter(endpoint, param, lookup, values, by_id=False)

    def _f_manufacturer_id(self, endpoint, meta, param, lookup, values):
        return self._manufacturer(endpoint, param, lookup, values, by_id=True)

    def _f_manufacturer(self, endpoint, meta, param, lookup, values):
        return self._manufacturer(endpoint, param, lookup, values, by_id=False)

    def _manufacturer(self, endpoint, param, lookup, values, by_id):
        if endpoint != "dcim.devices":
            return NotImplemented
        manus = self._resolve(param, "dcim.manufacturers", values, by_id=by_id)
        types = set()
        for manu in manus:
            types |= self._idx.get("dcim.device-types", {}).get("manufacturer", {}).get(manu, set())
        return self._match_refs("dcim.devices", "device_type", types, lookup)

    def _f_parent(self, endpoint, meta, param, lookup, values):
        if endpoint not in ("ipam.ip-addresses", "ipam.prefixes"):
            return NotImplemented
        nets = []
        for value in values:
            try:
                nets.append(ipaddress.ip_network(value.strip(), strict=False))
            except ValueError:
                raise FilterError(param, f"Enter a valid IPv4 or IPv6 prefix: {value}") from None
        field = "address" if endpoint == "ipam.ip-addresses" else "prefix"

        def match(obj):
            try:
                iface = ipaddress.ip_interface(obj.get(field))
            except ValueError:
                return False
            for net in nets:
                if iface.version != net.version:
                    continue
                if endpoint == "ipam.ip-addresses" and iface.ip in net:
                    return True
                if (
                    endpoint == "ipam.prefixes"
                    and iface.network.subnet_of(net)
                    and iface.network != net
                ):
                    return True
            return False

        return match

    def _f_within(self, endpoint, meta, param, lookup, values):
        return self._f_parent(endpoint, meta, param, lookup, values)

    def _f_within_include(self, endpoint, meta, param, lookup, values):
        nets = [ipaddress.ip_network(v, strict=False) for v in values]
        return lambda obj: any(
            ipaddress.ip_network(obj.get("prefix"), strict=False).subnet_of(n)
            for n in nets
            if n.version == ipaddress.ip_network(obj.get("prefix"), strict=False).version
        )

    def _f_contains(self, endpoint, meta, param, lookup, values):
        if endpoint != "ipam.prefixes":
            return NotImplemented
        return lambda obj: any(_net_contains(obj.get("prefix"), v) for v in values)

    def _f_address(self, endpoint, meta, param, lookup, values):
        if endpoint != "ipam.ip-addresses" or lookup:
            return NotImplemented
        hosts = set()
        for value in values:
            try:
                hosts.add(ipaddress.ip_interface(value.strip()).ip)
            except ValueError:
                raise FilterError(param, f"Enter a valid IPv4 or IPv6 address: {value}") from None

        def match(obj):
            try:
                return ipaddress.ip_interface(obj.get("address")).ip in hosts
            except ValueError:
                return False

        return match

    def _f_mask_length(self, endpoint, meta, param, lookup, values):
        field = "address" if endpoint == "ipam.ip-addresses" else "prefix"
        numbers = [_num(param, v) for v in values]
        return lambda obj: number_match(
            int(str(obj.get(field) or "/0").rsplit("/", 1)[-1]), lookup, numbers
        )

    def _f_family(self, endpoint, meta, param, lookup, values):
        numbers = [_num(param, v) for v in values]
        return lambda obj: _plain(obj.get("family")) in numbers

    def _f_mac_address(self, endpoint, meta, param, lookup, values):
        if endpoint == "dcim.devices":
            return NotImplemented
        return lambda obj: string_match(
            str(obj.get("mac_address") or "").upper() or None, lookup or "ie", values
        )

    def _f_assigned(self, endpoint, meta, param, lookup, values):
        flag = parse_bool(param, values[-1])
        return lambda obj: (obj.get("assigned_object_id") is not None) == flag

    def _f_cabled(self, endpoint, meta, param, lookup, values):
        flag = parse_bool(param, values[-1])
        return lambda obj: (self._cable_of(obj["id"]) is not None) == flag

    def _f_occupied(self, endpoint, meta, param, lookup, values):
        flag = parse_bool(param, values[-1])
        return (
            lambda obj: (self._cable_of(obj["id"]) is not None or bool(obj.get("mark_connected")))
            == flag
        )

    def _f_kind(self, endpoint, meta, param, lookup, values):
        if endpoint != "dcim.interfaces":
            return NotImplemented
        virtual = {"virtual", "bridge", "lag"}

        def kind(obj):
            value = _plain(obj.get("type"))
            if value in virtual:
                return "virtual"
            if str(value).startswith("ieee802.11") or value in ("other-wireless",):
                return "wireless"
            return "physical"

        return lambda obj: kind(obj) in values

    def _f_vlan_id(self, endpoint, meta, param, lookup, values):
        if endpoint != "dcim.interfaces":
            return NotImplemented
        wanted = {int(v) for v in values if v.isdigit()}
        return lambda obj: ref_id(obj.get("untagged_vlan")) in wanted or any(
            ref_id(v) in wanted for v in obj.get("tagged_vlans") or ()
        )

    def _f_object_type(self, endpoint, meta, param, lookup, values):
        if endpoint != "extras.custom-fields":
            return NotImplemented
        wanted = {v.lower() for v in values}
        return lambda obj: bool(wanted & {t.lower() for t in obj.get("object_types") or ()})

    def _f_unterminated(self, endpoint, meta, param, lookup, values):
        flag = parse_bool(param, values[-1])
        return lambda obj: (not obj.get("a_terminations") or not obj.get("b_terminations")) == flag


def _neg_time(text):
    moment = parse_time(text)
    return -moment.timestamp() if moment else 0.0


def _order_value(value):
    value = _plain(value)
    if value is None:
        return (1, natural_key(None))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, (0, value))
    return (0, natural_key(value))


GENERIC_INDEXED = {ep for ep, _ in GENERIC_REFS}
