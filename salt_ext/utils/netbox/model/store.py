"""
NetBoxStore: an in-memory NetBox 4.x object model.

Objects are kept in exactly the REST API's JSON shape (as in ``salt_ext/data/snapshots/lab1.json``).
Representations are rebuilt on the way out: nested references are NetBox's brief objects built from the
referenced object (so they follow it when it changes), ``url`` fields use the ``base_url`` the caller
passes (NetBox builds them from the request's Host), and computed fields (counts, ``primary_ip``,
``config_context``, cable peers, MAC addresses, ...) are derived from the current objects.

Filtering follows NetBox's filter sets (see ``filters``); writes validate like NetBox (required
fields, choices, references by id or attributes, uniqueness constraints), apply its cascades and record an
object change (``core.object-changes``) for every write.

Used by the snapshot source (``snapshot.py``) and by the test stand-in HTTP server: one filter engine.
All public methods are thread-safe (one re-entrant lock).
"""

import copy
import ipaddress
import threading
import uuid

from salt_ext.utils.netbox.model.filters import FilterError, FilterMixin
from salt_ext.utils.netbox.model.render import (
    GENERIC_REFS,
    OBJECT_TYPE_ENDPOINT,
    RenderMixin,
    api_path,
    ref_id,
    ui_path,
)
from salt_ext.utils.netbox.model.schema_meta import ENDPOINTS, SLUG_M2M
from salt_ext.utils.netbox.model.util import (
    Clock,
    StoreError,
    copy_json,
    etag_of,
    host_candidates,
    ip_family,
    iso_z,
    normalize_prefix,
)
from salt_ext.utils.netbox.model.writes import WriteMixin

DEFAULT_BASE_URL = "http://127.0.0.1:8001"

__all__ = ["NetBoxStore", "StoreError", "DEFAULT_BASE_URL"]


class NetBoxStore(RenderMixin, FilterMixin, WriteMixin):
    """An in-memory NetBox 4.x: REST-shaped objects per endpoint (``dcim.devices``, ...)."""

    StoreError = StoreError

    def __init__(self, netbox_version="4.6.8"):
        self.netbox_version = netbox_version
        self._lock = threading.RLock()
        self._clock = Clock()
        self._stored_base = DEFAULT_BASE_URL
        self._objs = {ep: {} for ep in ENDPOINTS}
        self._idx = {ep: {} for ep in ENDPOINTS}
        self._next_id = {ep: 1 for ep in ENDPOINTS}
        self._rank_cache = {}
        self._rank_low = {}
        self._lookup_cache = {}
        self._journal = None
        self._extra = {}

    # -- loading / export ----------------------------------------------------------------------------
    @classmethod
    def from_snapshot(cls, data, keep_ids=True):
        """A store holding a snapshot (``lab1.json`` format)."""
        store = cls(netbox_version=data.get("netbox_version") or "4.6.8")
        store.load_snapshot(data, keep_ids=keep_ids)
        return store

    def load_snapshot(self, data, keep_ids=True):
        """Load a snapshot directly (no validation, no change records). ``keep_ids=False`` renumbers
        every object from the store's id sequences and rewrites the references accordingly."""
        objects = data.get("objects") or {}
        base = (data.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
        with self._lock:
            self._invalidate()
            if not keep_ids:
                objects = self._renumber(objects, base)
            for endpoint, items in objects.items():
                if endpoint not in ENDPOINTS:
                    self._extra[endpoint] = copy_json(items, base, self._stored_base)
                    continue
                store = self._objs[endpoint]
                for item in items:
                    obj = copy_json(item, base, self._stored_base)
                    old = store.get(obj["id"])
                    if old is not None:
                        self._unindex(endpoint, old)
                    store[obj["id"]] = obj
                    self._index(endpoint, obj)
                    if obj["id"] >= self._next_id[endpoint]:
                        self._next_id[endpoint] = obj["id"] + 1
            self._slugs_to_refs()
            self._refresh_prefixes()
            self._invalidate()

    def _slugs_to_refs(self):
        """Slug lists (``SLUG_M2M``: config context tags) as loaded from a snapshot -> references,
        so matching, filters and cascades see them like any many-to-many field."""
        for endpoint, name in SLUG_M2M:
            target = ENDPOINTS[endpoint]["fields"][name][1]
            by_slug = {o.get("slug"): oid for oid, o in self._objs[target].items()}
            for obj in list(self._objs[endpoint].values()):
                values = obj.get(name) or []
                if not any(isinstance(v, str) and v in by_slug for v in values):
                    continue
                self._unindex(endpoint, obj)
                obj[name] = [
                    {"id": by_slug[v]} if isinstance(v, str) and v in by_slug else v for v in values
                ]
                self._index(endpoint, obj)

    def _renumber(self, objects, base):
        mapping = {}
        for endpoint, items in objects.items():
            if endpoint not in ENDPOINTS:
                continue
            for item in items:
                mapping[(endpoint, item["id"])] = self._next_id[endpoint]
                self._next_id[endpoint] += 1
        out = {}
        for endpoint, items in objects.items():
            if endpoint not in ENDPOINTS:
                out[endpoint] = items
                continue
            out[endpoint] = [self._remap(endpoint, item, mapping) for item in items]
        return out

    def _remap(self, endpoint, item, mapping):
        obj = copy.deepcopy(item)
        fields = ENDPOINTS[endpoint]["fields"]

        def new_id(target, value):
            rid = ref_id(value)
            if rid is None or (target, rid) not in mapping:
                return value
            nid = mapping[(target, rid)]
            return {"id": nid} if isinstance(value, dict) else nid

        obj["id"] = mapping[(endpoint, item["id"])]
        for name, spec in fields.items():
            if name not in obj or spec[0] not in ("fk", "fkm"):
                continue
            if spec[0] == "fkm":
                obj[name] = [new_id(spec[1], v) for v in obj[name] or ()]
            else:
                obj[name] = new_id(spec[1], obj[name])
        for (ep, name), (tfield, ifield) in GENERIC_REFS.items():
            if ep == endpoint and obj.get(ifield) is not None:
                target = OBJECT_TYPE_ENDPOINT.get(obj.get(tfield))
                if target:
                    obj[ifield] = mapping.get((target, obj[ifield]), obj[ifield])
                    obj[name] = {"id": obj[ifield]}
        if endpoint == "dcim.cables":
            for end in ("a_terminations", "b_terminations"):
                for term in obj.get(end) or ():
                    target = OBJECT_TYPE_ENDPOINT.get(term.get("object_type"))
                    if target:
                        term["object_id"] = mapping.get(
                            (target, term["object_id"]), term["object_id"]
                        )
                        term["object"] = {"id": term["object_id"]}
        for name in ("url", "display_url"):
            obj.pop(name, None) if name not in item else None
        if "url" in obj:
            obj["url"] = f"{self._stored_base}{api_path(endpoint)}{obj['id']}/"
        if "display_url" in obj:
            obj["display_url"] = f"{self._stored_base}{ui_path(endpoint)}{obj['id']}/"
        return obj

    def export(self, base_url=DEFAULT_BASE_URL):
        """All objects in the snapshot format (``lab1.json``), representations with ``base_url``."""
        base_url = base_url.rstrip("/")
        with self._lock:
            objects = {}
            for endpoint in ENDPOINTS:
                if endpoint == "core.object-changes":
                    continue
                ids = self._query_ids(endpoint, [])
                if not ids:
                    continue
                memo = {}
                objects[endpoint] = [
                    self._render(endpoint, self._objs[endpoint][i], base_url, memo) for i in ids
                ]
            for endpoint, items in self._extra.items():
                objects[endpoint] = copy_json(items, self._stored_base, base_url)
            return {
                "netbox_version": self.netbox_version,
                "source": "NetBoxStore export",
                "base_url": base_url,
                "objects": objects,
            }

    def endpoints(self):
        """The endpoints this store models (``app.endpoint-name``)."""
        return list(ENDPOINTS)

    # -- reading -------------------------------------------------------------------------------------
    def _check_endpoint(self, endpoint):
        if endpoint not in ENDPOINTS:
            raise StoreError(404, {"detail": "Not found."})

    def query_ids(self, endpoint, params):
        """Ids of the objects matching ``params`` (filters + ``ordering``), in NetBox's order. The fast
        path for callers that page themselves (then ``represent_ids`` the page)."""
        self._check_endpoint(endpoint)
        with self._lock:
            try:
                return self._query_ids(endpoint, list(params or ()))
            except FilterError as err:
                raise StoreError(400, {err.param: [err.message]}) from None

    def represent_ids(
        self, endpoint, ids, base_url=DEFAULT_BASE_URL, *, brief=False, fields=None, exclude=()
    ):
        """Representations of existing objects by id (missing ids are skipped)."""
        base_url = base_url.rstrip("/")
        with self._lock:
            objs = self._objs[endpoint]
            memo = {}
            return [
                self._represent(endpoint, objs[i], base_url, brief, fields, exclude, memo)
                for i in ids
                if i in objs
            ]

    def query(self, endpoint, params, base_url=DEFAULT_BASE_URL):
        """Full representations of the objects matching ``params`` (list of (key, value)): NetBox
        filtering and ordering, no paging/brief/fields. Unknown filters are ignored like NetBox; an
        invalid choice or unknown slug raises ``StoreError(400)``."""
        with self._lock:
            ids = self.query_ids(endpoint, params)
            return self.represent_ids(endpoint, ids, base_url)

    def get(self, endpoint, obj_id, base_url=DEFAULT_BASE_URL):
        """One object's full representation; ``StoreError(404)`` when it does not exist."""
        self._check_endpoint(endpoint)
        with self._lock:
            obj = self._get_raw(endpoint, obj_id)
            return self._represent(endpoint, obj, base_url.rstrip("/"), False, None, (), {})

    def _get_raw(self, endpoint, obj_id):
        try:
            oid = int(obj_id)
        except (TypeError, ValueError):
            oid = None
        obj = self._objs[endpoint].get(oid)
        if obj is None:
            model = ENDPOINTS[endpoint]["model"]
            raise StoreError(404, {"detail": f"No {model} matches the given query."})
        return obj

    def exists(self, endpoint, obj_id):
        """Whether an object exists (no representation built)."""
        with self._lock:
            return obj_id in self._objs.get(endpoint, {})

    def represent(
        self, endpoint, obj, base_url=DEFAULT_BASE_URL, *, brief=False, fields=None, exclude=()
    ):
        """The representation of ``obj`` (a stored or represented object, looked up by its id):
        ``brief`` gives NetBox's brief form; ``fields`` keeps only those keys (unknown names ignored);
        ``exclude`` drops keys (``config_context``)."""
        with self._lock:
            stored = self._objs[endpoint].get(obj["id"], obj)
            return self._represent(
                endpoint, stored, base_url.rstrip("/"), brief, fields, exclude, {}
            )

    def _represent(self, endpoint, obj, base, brief, fields, exclude, memo):  # noqa: PLR0917
        if brief:
            shape = "Brief" + ENDPOINTS[endpoint]["model"]
            out = self._brief(endpoint, obj["id"], shape, base, memo, top=True)
        else:
            skip = set(exclude or ())
            if fields:
                skip |= {k for k in obj if k not in fields}
            out = self._render(endpoint, obj, base, memo, exclude=skip)
        if fields:
            out = {k: v for k, v in out.items() if k in fields}
        elif exclude:
            out = {k: v for k, v in out.items() if k not in exclude}
        return out

    def etag(self, endpoint, obj_id):
        """NetBox's ETag of an object: ``W/"<last_updated>"``."""
        with self._lock:
            obj = self._get_raw(endpoint, obj_id)
            return etag_of(obj.get("last_updated"))

    # -- available IPs -------------------------------------------------------------------------------
    def available_ips(self, prefix_id, limit=None, base_url=DEFAULT_BASE_URL):
        """Free addresses of a prefix (NetBox's ``available-ips`` GET): ``[{family, address, vrf}]``."""
        with self._lock:
            prefix = self._get_raw("ipam.prefixes", prefix_id)
            return self._free_ips(prefix, limit, base_url.rstrip("/"))

    def _free_ips(self, prefix, limit, base):
        net = ipaddress.ip_network(prefix["prefix"], strict=False)
        vrf = ref_id(prefix.get("vrf"))
        used = set()
        for ip in self._objs["ipam.ip-addresses"].values():
            if ref_id(ip.get("vrf")) != vrf:
                continue
            try:
                host = ipaddress.ip_interface(ip["address"]).ip
            except ValueError:
                continue
            if host.version == net.version and host in net:
                used.add(host)
        vrf_repr = None
        if vrf is not None:
            vrf_repr = self._brief(
                "ipam.vrfs", vrf, "BriefVRF", base, {}, fallback=prefix.get("vrf")
            )
        out = []
        for host in host_candidates(prefix["prefix"], bool(prefix.get("is_pool"))):
            if host in used:
                continue
            out.append(
                {"family": net.version, "address": f"{host}/{net.prefixlen}", "vrf": vrf_repr}
            )
            if limit is not None and len(out) >= limit:
                break
        return out

    def allocate_ips(
        self, prefix_id, data, base_url=DEFAULT_BASE_URL, user="admin", request_id=None
    ):
        """Create the next free address(es) of a prefix (NetBox's ``available-ips`` POST); ``data`` is
        one dict or a list of dicts (the other fields of each new IP address)."""
        with self._lock:
            prefix = self._get_raw("ipam.prefixes", prefix_id)
            items = data if isinstance(data, list) else [data]
            free = self._free_ips(prefix, len(items), base_url)
            if len(free) < len(items):
                raise StoreError(
                    409,
                    {
                        "detail": "An insufficient number of IP addresses are available within "
                        f"prefix {prefix['prefix']} ({len(items)} requested, {len(free)} available)"
                    },
                )
            payload = []
            for item, address in zip(items, free, strict=False):
                entry = dict(item or {})
                entry["address"] = address["address"]
                if prefix.get("vrf") is not None:
                    entry["vrf"] = ref_id(prefix["vrf"])
                payload.append(entry)
            result = self.create(
                "ipam.ip-addresses",
                payload if isinstance(data, list) else payload[0],
                base_url=base_url,
                user=user,
                request_id=request_id,
            )
            return result

    # -- internals shared by the mixins --------------------------------------------------------------
    def _invalidate(self, endpoint=None, old=None, new=None):
        """Drop the cached orderings and lookups a write to ``endpoint`` makes stale (all of them
        without an endpoint)."""
        if endpoint is None:
            self._rank_cache.clear()
            self._rank_low.clear()
            self._lookup_cache.clear()
            return
        rank = self._rank_cache.get(endpoint)
        if endpoint == "core.object-changes" and rank is not None and old is None and new:
            # changes are appended newest-first in the default ordering: no re-sort needed
            self._rank_low[endpoint] = self._rank_low.get(endpoint, 0) - 1
            rank[new["id"]] = self._rank_low[endpoint]
        else:
            self._rank_cache.pop(endpoint, None)
        for key in [k for k in self._lookup_cache if k[0] == endpoint]:
            del self._lookup_cache[key]
        renamed = old is not None and (
            new is None or any(old.get(f) != new.get(f) for f in ("name", "model", "vid"))
        )
        if renamed:
            for dependent in _RANK_DEPENDENTS.get(endpoint, ()):
                self._rank_cache.pop(dependent, None)

    def _index_keys(self, endpoint, field, obj):
        if (endpoint, field) in GENERIC_REFS:
            tfield, ifield = GENERIC_REFS[(endpoint, field)]
            if obj.get(tfield) and obj.get(ifield) is not None:
                return [(obj[tfield], obj[ifield])]
            return []
        if field == "host":
            try:
                host = str(ipaddress.ip_interface(obj.get("address")).ip)
            except ValueError:
                return []
            return [(ref_id(obj.get("vrf")), host)]
        if field == "terminations":
            keys = []
            for end in ("a_terminations", "b_terminations"):
                for term in obj.get(end) or ():
                    keys.append((term.get("object_type"), term.get("object_id")))
            return keys
        value = obj.get(field)
        if isinstance(value, list):
            return [ref_id(v) for v in value if ref_id(v) is not None]
        rid = ref_id(value)
        return [] if rid is None else [rid]

    def _indexed_fields(self, endpoint):
        cached = _INDEXED.get(endpoint)
        if cached is None:
            fields = [
                name
                for name, spec in ENDPOINTS[endpoint]["fields"].items()
                if spec[0] in ("fk", "fkm")
            ]
            fields += [name for (ep, name) in GENERIC_REFS if ep == endpoint]
            if endpoint == "dcim.cables":
                fields.append("terminations")
            if endpoint == "ipam.ip-addresses":
                fields.append("host")
            cached = _INDEXED[endpoint] = tuple(fields)
        return cached

    def _index(self, endpoint, obj):
        idx = self._idx[endpoint]
        for field in self._indexed_fields(endpoint):
            for key in self._index_keys(endpoint, field, obj):
                idx.setdefault(field, {}).setdefault(key, set()).add(obj["id"])

    def _unindex(self, endpoint, obj):
        idx = self._idx[endpoint]
        for field in self._indexed_fields(endpoint):
            for key in self._index_keys(endpoint, field, obj):
                ids = idx.get(field, {}).get(key)
                if ids is not None:
                    ids.discard(obj["id"])
                    if not ids:
                        del idx[field][key]

    def _refresh_prefixes(self):
        """Recompute ``_depth`` and ``children`` of every prefix (per VRF containment)."""
        prefixes = self._objs["ipam.prefixes"]
        nets = {}
        for oid, obj in prefixes.items():
            try:
                nets[oid] = (
                    ref_id(obj.get("vrf")),
                    ipaddress.ip_network(obj["prefix"], strict=False),
                )
            except (KeyError, ValueError):
                continue
        for oid, (vrf, net) in nets.items():
            depth = children = 0
            for other, (ovrf, onet) in nets.items():
                if other == oid or ovrf != vrf or onet.version != net.version:
                    continue
                if onet != net and net.subnet_of(onet):
                    depth += 1
                elif onet != net and onet.subnet_of(net):
                    children += 1
            prefixes[oid]["_depth"] = depth
            prefixes[oid]["children"] = children

    def _now(self):
        return iso_z(self._clock.now())

    @staticmethod
    def _new_request_id():
        return str(uuid.uuid4())

    @staticmethod
    def _family(address):
        return ip_family(address)

    @staticmethod
    def _normalize_prefix(text):
        return normalize_prefix(text)


_INDEXED = {}

#: endpoints whose default ordering uses the name of objects of another endpoint
_RANK_DEPENDENTS = {
    "dcim.devices": ("dcim.interfaces",),
    "dcim.sites": ("dcim.racks", "ipam.vlans"),
    "dcim.locations": ("dcim.racks",),
    "dcim.manufacturers": ("dcim.device-types", "dcim.interface-templates"),
    "dcim.device-types": ("dcim.interface-templates",),
    "ipam.vlan-groups": ("ipam.vlans",),
    "ipam.vrfs": ("ipam.prefixes",),
    "virtualization.virtual-machines": ("virtualization.interfaces",),
}
