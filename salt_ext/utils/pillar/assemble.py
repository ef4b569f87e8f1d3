"""
Assemble a minion's NetBox pillar from the bulk data of its site (pure functions, no I/O).

A *site record* (see :mod:`salt_ext.utils.pillar.fetch`) holds, per endpoint, the objects of one
site exactly as NetBox's REST API returned them. :class:`SiteView` indexes them once per process
(interfaces by device, IPs and MACs by interface, cable ends by interface, devices by rack) so that
building one device's pillar is a handful of dict look-ups.
"""

from __future__ import annotations

import copy

from salt.utils.dictupdate import merge as _dict_merge

#: NetBox's changed_object_type for the kinds of node the pillar serves
DEVICE = "device"
VIRTUAL_MACHINE = "virtual_machine"


def fresh(value):
    """
    A copy of JSON-like data (dicts, lists, scalars) for a minion's pillar: every compile hands
    out its own containers (Salt merges later ext_pillars into them in place), several times
    faster than :func:`copy.deepcopy`, which a warm compile would otherwise spend most of its
    time in. Other types fall back to ``copy.deepcopy``.
    """
    cls = type(value)
    if cls is dict:
        return {k: fresh(v) for k, v in value.items()}
    if cls is list:
        return [fresh(v) for v in value]
    if value is None or cls in (str, int, float, bool):
        return value
    if cls is tuple:
        return tuple(fresh(v) for v in value)
    return copy.deepcopy(value)


def _fresh_rows(rows):
    """:func:`fresh` for lists of dicts whose values are scalars, flat dicts or flat lists
    (prefix and VLAN entries): two levels, without recursion."""
    out = []
    for row in rows:
        copied = {}
        for key, value in row.items():
            cls = type(value)
            copied[key] = dict(value) if cls is dict else list(value) if cls is list else value
        out.append(copied)
    return out


def choice(value):
    """``{"value": "active", "label": "Active"}`` -> ``"active"``; other values unchanged."""
    if isinstance(value, dict) and "value" in value:
        return value["value"]
    return value


def ref(obj, *extra):
    """A nested NetBox object reduced to ``id``, ``name``, ``slug`` (and ``extra`` fields)."""
    if not isinstance(obj, dict):
        return None
    out = {"id": obj.get("id")}
    for key in ("name", "slug") + extra:
        if key in obj:
            out[key] = choice(obj[key])
    return out


def tag_slugs(tags):
    """NetBox tags -> sorted list of slugs."""
    return sorted(t.get("slug") or t.get("name") for t in tags or () if isinstance(t, dict))


def _oid(obj):
    return obj.get("id") if isinstance(obj, dict) else None


def _assigned_node(obj):
    """For an IP/MAC: (kind, node id, interface id) of the interface it is assigned to."""
    otype = obj.get("assigned_object_type")
    assigned = obj.get("assigned_object") or {}
    if otype == "dcim.interface":
        return DEVICE, _oid(assigned.get("device")), obj.get("assigned_object_id")
    if otype == "virtualization.vminterface":
        return VIRTUAL_MACHINE, _oid(assigned.get("virtual_machine")), obj.get("assigned_object_id")
    return None, None, None


class SiteView:
    """
    Indexes over one site record's objects.

    :param record: a site record (``{"objects": {endpoint: [obj, ...]}, ...}``)
    """

    def __init__(self, record):
        self.record = record
        objs = record.get("objects", {})
        self.objects = objs
        self.devices = {o["id"]: o for o in objs.get("dcim.devices", ())}
        self.external_devices = {o["id"]: o for o in objs.get("external.devices", ())}
        self.vms = {o["id"]: o for o in objs.get("virtualization.virtual-machines", ())}
        self.sites = {o["id"]: o for o in objs.get("dcim.sites", ())}
        self.racks = {o["id"]: o for o in objs.get("dcim.racks", ())}
        self.device_types = {o["id"]: o for o in objs.get("dcim.device-types", ())}
        self.platforms = {o["id"]: o for o in objs.get("dcim.platforms", ())}
        self.interfaces_by_node = {}
        self.interfaces = {}
        for ep, kind, key in (
            ("dcim.interfaces", DEVICE, "device"),
            ("virtualization.interfaces", VIRTUAL_MACHINE, "virtual_machine"),
        ):
            for iface in objs.get(ep, ()):
                node = (kind, _oid(iface.get(key)))
                self.interfaces_by_node.setdefault(node, []).append(iface)
                self.interfaces[(kind, iface["id"])] = iface
        for ifaces in self.interfaces_by_node.values():
            ifaces.sort(key=lambda i: (i.get("name") or "", i["id"]))
        self.ips_by_iface = {}
        self.ips_by_node = {}
        self.ips = {}
        for ip in objs.get("ipam.ip-addresses", ()):
            self.ips[ip["id"]] = ip
            kind, node, iface = _assigned_node(ip)
            if kind is None:
                continue
            self.ips_by_iface.setdefault((kind, iface), []).append(ip)
            self.ips_by_node.setdefault((kind, node), []).append(ip)
        self.macs_by_iface = {}
        for mac in objs.get("dcim.mac-addresses", ()):
            kind, _, iface = _assigned_node(mac)
            if kind is not None:
                self.macs_by_iface.setdefault((kind, iface), []).append(mac)
        self.cable_ends = {}
        self.cables = {}
        for cable in objs.get("dcim.cables", ()):
            self.cables[cable["id"]] = cable
            a_ends = cable.get("a_terminations") or []
            b_ends = cable.get("b_terminations") or []
            for near, far in ((a_ends, b_ends), (b_ends, a_ends)):
                for term in near:
                    if term.get("object_type") == "dcim.interface":
                        self.cable_ends[term.get("object_id")] = (cable, far)
        self.services_by_node = {}
        for svc in objs.get("ipam.services", ()):
            ptype = svc.get("parent_object_type")
            if ptype is None:  # NetBox < 4.3: device / virtual_machine fields
                if svc.get("device"):
                    ptype, pid = "dcim.device", _oid(svc["device"])
                else:
                    ptype, pid = "virtualization.virtualmachine", _oid(svc.get("virtual_machine"))
            else:
                pid = svc.get("parent_object_id")
            kind = {"dcim.device": DEVICE, "virtualization.virtualmachine": VIRTUAL_MACHINE}.get(
                ptype
            )
            if kind:
                self.services_by_node.setdefault((kind, pid), []).append(svc)
        self.devices_by_rack = {}
        for dev in self.devices.values():
            rack = _oid(dev.get("rack"))
            if rack is not None:
                self.devices_by_rack.setdefault(rack, []).append(dev)
        self.prefixes = sorted(
            objs.get("ipam.prefixes", ()), key=lambda p: (choice(p.get("family")) or 0, p["id"])
        )
        self.vlans = sorted(objs.get("ipam.vlans", ()), key=lambda v: (v.get("vid") or 0, v["id"]))
        self.vlans_by_id = {v["id"]: v for v in self.vlans}
        #: parts shared by many nodes of the site (prefixes, VLANs, a rack's devices), built once
        #: per record version; handed out as fresh copies
        self._parts = {}

    def shared(self, key, build):
        """The part ``key`` built once by ``build()`` (callers copy it before handing it out)."""
        try:
            return self._parts[key]
        except KeyError:
            part = self._parts[key] = build()
            return part

    # ------------------------------------------------------------------ look-ups
    def node(self, kind, node_id):
        """The device or VM object, or ``None``."""
        return (self.devices if kind == DEVICE else self.vms).get(node_id)

    def any_device(self, device_id):
        """A device of this site or one fetched from another site (a cable peer)."""
        return self.devices.get(device_id) or self.external_devices.get(device_id)

    # Nested representations (a device's ``primary_ip4``, a cable end's device name, an
    # interface's VLANs) are copies taken when the embedding object was fetched; the change-log
    # refresh refetches only the changed object. These resolve a nested reference against the
    # record's current object of that id, falling back to the nested copy.
    def address(self, nested):
        """A nested IP address -> its current ``address`` string, or ``None``."""
        if not isinstance(nested, dict):
            return None
        return (self.ips.get(nested.get("id")) or nested).get("address")

    def vlan(self, nested):
        """A nested VLAN -> ``{id, vid, name}`` from the site's current VLAN when known."""
        if not isinstance(nested, dict):
            return None
        return _vlan_ref(self.vlans_by_id.get(nested.get("id")) or nested)

    def platform(self, nested):
        """A nested platform -> ``{id, name, slug}`` of the current platform when known."""
        if not isinstance(nested, dict):
            return None
        return ref(self.platforms.get(nested.get("id")) or nested)


# ---------------------------------------------------------------------- pillar parts
def site_part(site):
    """The site with region, group, time zone and facility."""
    if not site:
        return None
    return {
        "id": site.get("id"),
        "name": site.get("name"),
        "slug": site.get("slug"),
        "status": choice(site.get("status")),
        "region": ref(site.get("region")),
        "group": ref(site.get("group")),
        "tenant": ref(site.get("tenant")),
        "facility": site.get("facility"),
        "time_zone": site.get("time_zone"),
        "physical_address": site.get("physical_address"),
        "latitude": site.get("latitude"),
        "longitude": site.get("longitude"),
        "custom_fields": fresh(site.get("custom_fields") or {}),
        "tags": tag_slugs(site.get("tags")),
    }


def device_type_part(view, nested):
    """The device type with its manufacturer and ``hw_generation`` custom field."""
    if not nested:
        return None
    full = view.device_types.get(nested.get("id")) or nested
    cfs = full.get("custom_fields") or {}
    return {
        "id": full.get("id"),
        "model": full.get("model"),
        "slug": full.get("slug"),
        "part_number": full.get("part_number"),
        "u_height": full.get("u_height"),
        "is_full_depth": full.get("is_full_depth"),
        "manufacturer": ref(full.get("manufacturer") or nested.get("manufacturer")),
        "hw_generation": cfs.get("hw_generation"),
        "custom_fields": fresh(cfs),
    }


def rack_part(view, dev):
    """The rack with the device's position and face."""
    nested = dev.get("rack")
    if not nested:
        return None
    full = view.racks.get(nested.get("id")) or nested
    return {
        "id": full.get("id"),
        "name": full.get("name"),
        "facility_id": full.get("facility_id"),
        "status": choice(full.get("status")),
        "role": ref(full.get("role")),
        "u_height": full.get("u_height"),
        "position": dev.get("position"),
        "face": choice(dev.get("face")),
        "custom_fields": fresh(full.get("custom_fields") or {}),
    }


def _ip_entry(ip, primary_ids):
    return {
        "id": ip.get("id"),
        "address": ip.get("address"),
        "family": choice(ip.get("family")),
        "status": choice(ip.get("status")),
        "role": choice(ip.get("role")),
        "dns_name": ip.get("dns_name"),
        "vrf": ref(ip.get("vrf"), "rd"),
        "description": ip.get("description"),
        "primary": ip.get("id") in primary_ids,
        "tags": tag_slugs(ip.get("tags")),
    }


def _vlan_ref(vlan):
    if not vlan:
        return None
    return {"id": vlan.get("id"), "vid": vlan.get("vid"), "name": vlan.get("name")}


def _far_end(view, term):
    obj = term.get("object") or {}
    otype = term.get("object_type")
    dev = obj.get("device") or {}
    dev = view.any_device(dev.get("id")) or dev
    if otype == "dcim.interface":
        obj = view.interfaces.get((DEVICE, term.get("object_id"))) or obj
    return {
        "type": otype,
        "device": dev.get("name"),
        "device_id": dev.get("id"),
        "interface": obj.get("name"),
        "interface_id": term.get("object_id"),
    }


def _peers(view, iface):
    """The far ends of an interface's cable (from the site's cables, else its link_peers)."""
    cable_ref = iface.get("cable")
    found = view.cable_ends.get(iface["id"])
    if found:
        cable, far = found
        peers = [_far_end(view, term) for term in far]
    elif cable_ref and iface.get("link_peers"):
        cable = view.cables.get(_oid(cable_ref)) or cable_ref
        peers = [
            _far_end(
                view,
                {
                    "object_type": iface.get("link_peers_type"),
                    "object_id": p.get("id"),
                    "object": p,
                },
            )
            for p in iface["link_peers"]
        ]
    else:
        return []
    for peer in peers:
        peer["cable"] = cable.get("id")
        peer["cable_label"] = cable.get("label")
        peer["cable_status"] = choice(cable.get("status"))
        peer["cable_type"] = choice(cable.get("type"))
        far_dev = view.any_device(peer["device_id"]) if peer["device_id"] else None
        peer["device_role"] = ((far_dev or {}).get("role") or {}).get("slug")
    return peers


def interfaces_part(view, kind, node, options):
    """``{name: interface}`` with VLANs, LAG parent/members, MACs, IPs and the cable peer."""
    ifaces = view.interfaces_by_node.get((kind, node["id"]), [])
    primary_ids = {
        _oid(node.get(k)) for k in ("primary_ip4", "primary_ip6", "oob_ip") if node.get(k)
    }
    members = {}
    names = {i["id"]: i.get("name") for i in ifaces}
    for iface in ifaces:
        lag = _oid(iface.get("lag"))
        if lag is not None:
            members.setdefault(lag, []).append(iface.get("name"))
    out = {}
    for iface in ifaces:
        key = (kind, iface["id"])
        macs = [m.get("mac_address") for m in view.macs_by_iface.get(key, ())]
        if not macs:
            macs = [m.get("mac_address") for m in iface.get("mac_addresses") or ()]
        primary_mac = iface.get("primary_mac_address")
        entry = {
            "id": iface["id"],
            "name": iface.get("name"),
            "label": iface.get("label"),
            "type": choice(iface.get("type")),
            "enabled": iface.get("enabled"),
            "mtu": iface.get("mtu"),
            "speed": iface.get("speed"),
            "mode": choice(iface.get("mode")),
            "mgmt_only": iface.get("mgmt_only"),
            "description": iface.get("description"),
            "untagged_vlan": view.vlan(iface.get("untagged_vlan")),
            "tagged_vlans": [view.vlan(v) for v in iface.get("tagged_vlans") or ()],
            "lag": (
                names.get(_oid(iface["lag"])) or iface["lag"].get("name")
                if iface.get("lag")
                else None
            ),
            "members": sorted(members.get(iface["id"], [])),
            "parent": names.get(_oid(iface.get("parent"))) if iface.get("parent") else None,
            "vrf": ref(iface.get("vrf"), "rd"),
            "mac_address": (
                primary_mac.get("mac_address")
                if isinstance(primary_mac, dict)
                else iface.get("mac_address")
            ),
            "mac_addresses": sorted(m for m in macs if m),
            "ip_addresses": [
                _ip_entry(ip, primary_ids)
                for ip in sorted(view.ips_by_iface.get(key, ()), key=lambda i: i["id"])
            ],
            "tags": tag_slugs(iface.get("tags")),
        }
        if kind == DEVICE and options.want("peers"):
            peers = _peers(view, iface)
            entry["peer"] = peers[0] if peers else None
            if len(peers) > 1:
                entry["peers"] = peers
        out[iface.get("name")] = entry
    return out


def _service_ip(view, ip):
    """A service's IP: nested object (NetBox) or bare id (looked up in the site's IPs)."""
    return view.address(ip if isinstance(ip, dict) else {"id": ip})


def services_part(view, kind, node):
    """Services of the node with their ports and IP addresses."""
    out = []
    for svc in sorted(view.services_by_node.get((kind, node["id"]), ()), key=lambda s: s["id"]):
        out.append(
            {
                "id": svc.get("id"),
                "name": svc.get("name"),
                "protocol": choice(svc.get("protocol")),
                "ports": list(svc.get("ports") or ()),
                "ip_addresses": [_service_ip(view, ip) for ip in svc.get("ipaddresses") or ()],
                "description": svc.get("description"),
                "tags": tag_slugs(svc.get("tags")),
            }
        )
    return out


def prefixes_part(view):
    """The site's prefixes (scoped to the site in NetBox 4.2+)."""
    return _fresh_rows(view.shared("prefixes", lambda: _prefixes(view)))


def _prefixes(view):
    return [
        {
            "id": p.get("id"),
            "prefix": p.get("prefix"),
            "family": choice(p.get("family")),
            "status": choice(p.get("status")),
            "role": ref(p.get("role")),
            "vlan": view.vlan(p.get("vlan")),
            "vrf": ref(p.get("vrf"), "rd"),
            "tenant": ref(p.get("tenant")),
            "is_pool": p.get("is_pool"),
            "description": p.get("description"),
            "tags": tag_slugs(p.get("tags")),
        }
        for p in view.prefixes
    ]


def vlans_part(view):
    """The site's VLANs."""
    return _fresh_rows(view.shared("vlans", lambda: _vlans(view)))


def _vlans(view):
    return [
        {
            "id": v.get("id"),
            "vid": v.get("vid"),
            "name": v.get("name"),
            "status": choice(v.get("status")),
            "group": ref(v.get("group")),
            "role": ref(v.get("role")),
            "tenant": ref(v.get("tenant")),
            "description": v.get("description"),
        }
        for v in view.vlans
    ]


def rack_devices_part(view, dev):
    """The rack's other devices grouped by role slug (a server finds its ToR switches here)."""
    rack = _oid(dev.get("rack"))
    if rack is None:
        return {}
    by_role = view.shared(("rack", rack), lambda: _rack_devices(view, rack))
    out = {}
    for role, devs in by_role.items():
        others = [dict(d) for d in devs if d["id"] != dev["id"]]
        if others:
            out[role] = others
    return out


def _rack_devices(view, rack):
    """Every device of ``rack`` by role slug, sorted by name (flat dicts of scalars)."""
    out = {}
    for other in view.devices_by_rack.get(rack, ()):
        role = (other.get("role") or {}).get("slug") or "none"
        out.setdefault(role, []).append(
            {
                "id": other["id"],
                "name": other.get("name"),
                "status": choice(other.get("status")),
                "position": other.get("position"),
                "face": choice(other.get("face")),
                "device_type": (
                    view.device_types.get(_oid(other.get("device_type")))
                    or other.get("device_type")
                    or {}
                ).get("model"),
                "platform": (view.platform(other.get("platform")) or {}).get("slug"),
                "primary_ip4": view.address(other.get("primary_ip4")),
                "primary_ip6": view.address(other.get("primary_ip6")),
                "oob_ip": view.address(other.get("oob_ip")),
            }
        )
    for devs in out.values():
        devs.sort(key=lambda d: (d["name"] or "", d["id"]))
    return out


#: keys of a profile's ``config`` section that NetBox config contexts may override
HWGEN_CONFIG_KEYS = ("nic_naming", "bond", "mtu", "disk_layout", "sysctl", "kernel_args")


def hwgen_part(profiles, generation, config_context, context_key="hwgen"):
    """
    The generation profile of the device type's ``hw_generation``, with config context overrides.

    Precedence (lowest first):

    1. the profile from pillar ``hwgen_profiles[generation]``;
    2. top-level config-context keys named like a profile ``config`` key (``nic_naming``,
       ``bond``, ``mtu``, ``disk_layout``, ``sysctl``, ``kernel_args``) override
       ``config.<key>``;
    3. the config context's ``hwgen`` mapping, merged over the whole profile.

    Dicts merge recursively, other values (lists included) replace. The result carries the
    generation in ``name``. Returns ``None`` when there is no generation or no such profile.
    """
    if not generation or not isinstance(profiles, dict):
        return None
    profile = profiles.get(generation)
    if not isinstance(profile, dict):
        return None
    out = fresh(profile)
    config_context = config_context or {}
    overrides = {k: config_context[k] for k in HWGEN_CONFIG_KEYS if k in config_context}
    if overrides:
        config = out.get("config") if isinstance(out.get("config"), dict) else {}
        out["config"] = _dict_merge(config, fresh(overrides), strategy="recurse")
    explicit = config_context.get(context_key)
    if isinstance(explicit, dict):
        out = _dict_merge(out, fresh(explicit), strategy="recurse")
    out["name"] = generation
    return out


def node_hwgen(view, kind, node_id, options, pillar):
    """The ``hwgen`` pillar of a node (``None`` for a VM or a device type without generation)."""
    if kind != DEVICE:
        return None
    node = view.node(kind, node_id)
    dtype = device_type_part(view, node.get("device_type")) or {}
    profiles = (pillar or {}).get(options.hwgen_profiles_key)
    return hwgen_part(
        profiles, dtype.get("hw_generation"), node.get("config_context"), options.hwgen_context_key
    )


def node_pillar(view, kind, node_id, options):
    """
    The full pillar of one device or virtual machine (the value under ``options.key``).

    :param view: the :class:`SiteView` of the node's site
    :param kind: ``"device"`` or ``"virtual_machine"``
    :param node_id: the NetBox id
    :param options: :class:`~salt_ext.utils.pillar.options.PillarOptions`
    :raises KeyError: the node is not in the site record (the caller refreshes)
    """
    node = view.node(kind, node_id)
    if node is None:
        raise KeyError(node_id)
    site_nested = node.get("site")
    site = view.sites.get(_oid(site_nested)) or site_nested
    out = {
        "id": node["id"],
        "name": node.get("name"),
        "kind": kind,
        "url": node.get("url"),
        "status": choice(node.get("status")),
        "role": ref(node.get("role")),
        "platform": view.platform(node.get("platform")),
        "tenant": ref(node.get("tenant")),
        "site": site_part(site),
        "primary_ip4": view.address(node.get("primary_ip4")),
        "primary_ip6": view.address(node.get("primary_ip6")),
        "primary_ip": view.address(node.get("primary_ip")),
        "description": node.get("description"),
        "comments": node.get("comments"),
        "custom_fields": fresh(node.get("custom_fields") or {}),
        "tags": tag_slugs(node.get("tags")),
    }
    if kind == DEVICE:
        dtype = device_type_part(view, node.get("device_type"))
        out.update(
            {
                "serial": node.get("serial"),
                "asset_tag": node.get("asset_tag"),
                "airflow": choice(node.get("airflow")),
                "device_type": dtype,
                "location": ref(node.get("location")),
                "rack": rack_part(view, node),
                "oob_ip": view.address(node.get("oob_ip")),
                "virtual_chassis": ref(node.get("virtual_chassis")),
            }
        )
    else:
        out.update(
            {
                "cluster": ref(node.get("cluster")),
                "vcpus": node.get("vcpus"),
                "memory": node.get("memory"),
                "disk": node.get("disk"),
                "serial": node.get("serial"),
            }
        )
    context = node.get("config_context") or {}
    if options.want("config_context"):
        out["config_context"] = fresh(context)
    if options.want("interfaces"):
        out["interfaces"] = interfaces_part(view, kind, node, options)
    if options.want("services"):
        out["services"] = services_part(view, kind, node)
    if options.want("prefixes"):
        out["prefixes"] = prefixes_part(view)
    if options.want("vlans"):
        out["vlans"] = vlans_part(view)
    if options.want("rack_devices") and kind == DEVICE:
        out["rack_devices"] = rack_devices_part(view, node)
    return out
