"""
NetBox operations shared by the ``netbox`` execution, state and runner modules.

Everything goes through a *source* of the access layer (``salt_ext.utils.netbox.get_source``:
a ``NetBoxClient`` or a ``SnapshotSource``). Functions raise ``NetBoxError`` subclasses for
NetBox failures and ``SaltInvocationError`` for bad input; the loader modules map them.
"""

import logging

from salt.exceptions import SaltInvocationError

from salt_ext.utils.netbox.errors import (
    NetBoxInvalidRequest,
    NetBoxNotFound,
    NetBoxUnknownFilter,
)
from salt_ext.utils.netbox_ops import endpoints as eps
from salt_ext.utils.netbox_ops import journal as jrnl
from salt_ext.utils.netbox_ops.diff import (
    diff_object,
    host_of,
    matches,
    normalize_cidr,
    normalize_mac,
    simplify,
)

log = logging.getLogger(__name__)

# Filters that narrow a query server side but are not fields of the returned object, so
# ``matches`` cannot check them client side. Only these may be sent unchecked.
_SERVER_ONLY_FILTERS = frozenset(
    {"device_id", "site_id", "virtual_machine_id", "interface_id", "vminterface_id", "parent", "q"}
)


#: objects NetBox may return that do not pass the client-side check before we call the query
#: broken (NetBox ignored a filter): bounds the cost of a bad query on a large NetBox
MAX_MISSES = 1000


class AmbiguousLookup(SaltInvocationError):
    """A natural key matched several objects."""


class NotInNetBox(SaltInvocationError):
    """A referenced object (device, interface, site, ...) does not exist in NetBox (yet)."""


class UnknownFilter(SaltInvocationError):
    """A look-up key is not a field of the endpoint's objects (NetBox would ignore it)."""


def _server_params(params):
    """Query parameters for the server: None -> ``<key>_id=null``/``null``."""
    out = {}
    for key, value in params.items():
        if value is None:
            out[key if key.endswith("_id") else f"{key}_id"] = "null"
        elif key == "address":
            out[key] = host_of(value)
        elif key == "mac_address":
            out[key] = normalize_mac(value)
        else:
            out[key] = value
    return out


def _client_params(params):
    return {k: v for k, v in params.items() if k not in _SERVER_ONLY_FILTERS}


class Resolver:
    """
    Turns user references (names, slugs, ``{name: .., site: ..}`` dicts, ids) into ids, with a
    per-instance cache. ``src`` is an access-layer source.
    """

    def __init__(self, src):
        self.src = src
        self._cache = {}

    # -- look-ups --------------------------------------------------------------------------
    def find_all(self, endpoint, params):
        """
        Every object of ``endpoint`` matching exact-match ``params``, checked client side: NetBox
        silently ignores a filter it does not know, so a key that is not a field of the objects
        raises UnknownFilter, and a query returning more than MAX_MISSES objects that do not
        match is stopped.
        """
        client = _client_params(params)
        found, misses = [], 0
        try:
            objects = self.src.iter(endpoint, _server_params(params))
        except NetBoxUnknownFilter as err:  # the access layer knows the endpoint's filters
            raise UnknownFilter(
                f"{', '.join(err.filters)}: not a field of {endpoint} objects that NetBox can "
                "filter on; refused before sending: NetBox ignored part of the query otherwise "
                "(it silently drops unknown filters and answers with every object)"
            ) from err
        for obj in objects:
            unknown = sorted(
                k for k in client if k not in obj and not (k.endswith("_id") and k[:-3] in obj)
            )
            if unknown:
                raise UnknownFilter(
                    f"{', '.join(unknown)}: not a field of {endpoint} objects (NetBox ignores "
                    "unknown filters); use one of their fields"
                )
            if matches(obj, client):
                found.append(obj)
                continue
            misses += 1
            if misses > MAX_MISSES:
                raise UnknownFilter(
                    f"NetBox ignored part of the query {endpoint} {client} (more than "
                    f"{MAX_MISSES} objects that do not match); check the filter names"
                )
        return found

    def find_one(self, endpoint, params, what=None):
        """The one object matching ``params``, None when none; AmbiguousLookup when several."""
        found = self.find_all(endpoint, params)
        if len(found) > 1:
            shown = ", ".join(f"{k}={v}" for k, v in params.items())
            raise AmbiguousLookup(
                f"{what or endpoint} ({shown}) matches {len(found)} objects in NetBox "
                f"({endpoint}, ids {sorted(o['id'] for o in found)[:10]}); add a narrower key "
                "or give the id"
            )
        return found[0] if found else None

    def ref(self, endpoint, value, scope=None, field=None):
        """
        The id of the object of ``endpoint`` that ``value`` names. ``scope`` adds filters
        (``{"device_id": 12}`` for a LAG of the same device).
        """
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise SaltInvocationError(f"{field or endpoint}: {value!r} is not a reference")
        if isinstance(value, int):
            return value
        if isinstance(value, dict):
            if value.get("id") is not None:
                return int(value["id"])
            params = {}
            for key, sub in value.items():
                target = eps.reference_target(endpoint, key)
                if isinstance(target, str) and not isinstance(sub, int):
                    params[f"{key}_id"] = self.ref(target, sub, field=key)
                elif isinstance(target, str):
                    params[f"{key}_id"] = sub
                else:
                    params[key] = sub
            params.update(scope or {})
            key = (endpoint, tuple(sorted((k, str(v)) for k, v in params.items())))
            if key not in self._cache:
                obj = self.find_one(endpoint, params, what=field)
                if obj is None:
                    raise NotInNetBox(
                        f"{field or endpoint}: no {endpoint} object matches {value!r} in NetBox"
                    )
                self._cache[key] = obj["id"]
            return self._cache[key]
        if not isinstance(value, str):
            raise SaltInvocationError(
                f"{field or endpoint}: {value!r} is not a name, slug, id or mapping"
            )
        text = value.strip()
        key = (endpoint, text, tuple(sorted((scope or {}).items())))
        if key in self._cache:
            return self._cache[key]
        for lookup in eps.lookup_fields(endpoint):
            params = {lookup: text, **(scope or {})}
            try:
                obj = self.find_one(endpoint, params, what=field)
            except UnknownFilter:
                continue  # an endpoint without that field (no slug): try the next one
            if obj is not None:
                self._cache[key] = obj["id"]
                return obj["id"]
        if text.isdigit():
            return int(text)
        where = ""
        if scope:
            where = " (" + ", ".join(f"{k}={v}" for k, v in scope.items()) + ")"
        raise NotInNetBox(
            f"{field or endpoint}: {text!r} not found in NetBox {endpoint}{where} "
            f"(looked up by {' or '.join(eps.lookup_fields(endpoint))}); create it first or "
            "fix the name"
        )

    def _scope_for(self, endpoint, field, resolved, current):
        """Filters narrowing a reference look-up (a LAG on the same device, a rack in a site)."""
        if endpoint == "dcim.interfaces" and field in ("lag", "parent", "bridge"):
            device = resolved.get("device") or simplify((current or {}).get("device"))
            return {"device_id": device} if device else None
        if endpoint == "dcim.inventory-items" and field == "parent":
            device = resolved.get("device") or simplify((current or {}).get("device"))
            return {"device_id": device} if device else None
        if endpoint == "dcim.devices" and field == "rack":
            site = resolved.get("site") or simplify((current or {}).get("site"))
            return {"site_id": site} if site else None
        if endpoint == "dcim.devices" and field in ("primary_ip4", "primary_ip6", "oob_ip"):
            device = (current or {}).get("id")
            return {"device_id": device} if device else None
        return None

    def resolve_fields(self, endpoint, fields, current=None):
        """
        The user's ``fields`` with references turned into ids, choices into values, tags into
        tag ids and MACs/addresses normalised. Independent references are resolved first so that
        scoped ones (``lag`` needs ``device``) can use them.
        """
        eps.check_writable(endpoint, [f for f in fields if f not in eps.READ_ONLY])
        resolved = {}
        order = sorted(
            fields,
            key=lambda f: f
            in ("lag", "parent", "bridge", "rack", "primary_ip4", "primary_ip6", "oob_ip"),
        )
        for field in order:
            value = fields[field]
            if field in eps.READ_ONLY:
                raise SaltInvocationError(
                    f"{field} is read-only in NetBox ({endpoint}); remove it from the arguments"
                )
            target = eps.reference_target(endpoint, field, (current or {}).get(field))
            if field == "custom_fields":
                if not isinstance(value, dict):
                    raise SaltInvocationError("custom_fields must be a mapping of name: value")
                resolved[field] = {k: simplify(v) for k, v in value.items()}
            elif isinstance(target, list):
                if value is None:
                    value = []
                if not isinstance(value, (list, tuple, set)):
                    value = [value]
                resolved[field] = sorted({self.ref(target[0], item, field=field) for item in value})
            elif isinstance(target, str):
                scope = self._scope_for(endpoint, field, resolved, current)
                resolved[field] = self.ref(target, value, scope=scope, field=field)
            elif field in eps.MAC_FIELDS and value:
                resolved[field] = normalize_mac(value)
            elif field in eps.CIDR_FIELDS and value:
                resolved[field] = normalize_cidr(value)
            elif isinstance(value, dict) and "value" in value:
                resolved[field] = value["value"]
            else:
                resolved[field] = value
        return resolved


def describe(endpoint, obj):
    """A short human name for an object (``srv-r1-01``, ``srv-r1-01:eno1``, ``10.0.0.5/24``)."""
    if not obj:
        return endpoint
    device = obj.get("device")
    name = None
    for key in ("name", "address", "prefix", "mac_address", "model", "cid", "label", "display"):
        if obj.get(key):
            name = obj[key]
            break
    if isinstance(device, dict) and device.get("name") and name:
        return f"{device['name']}:{name}"
    return str(name if name is not None else f"{endpoint} #{obj.get('id')}")


def lookup_params(endpoint, resolved, lookup=None, resolver=None):
    """
    Exact-match parameters identifying the object: the explicit ``lookup`` (references resolved)
    or the endpoint's natural keys taken from ``resolved``.
    """
    if lookup:
        if not isinstance(lookup, dict):
            raise SaltInvocationError("lookup must be a mapping of field: value")
        params = {}
        for key, value in lookup.items():
            if key == "id":
                params["id"] = eps.as_int(value, "lookup id")
                continue
            target = eps.reference_target(endpoint, key)
            if isinstance(target, str) and resolver is not None:
                params[f"{key}_id"] = resolver.ref(target, value, field=key)
            elif key in eps.MAC_FIELDS:
                params[key] = normalize_mac(value)
            else:
                params[key] = value
        return params
    params = {}
    for key in eps.natural_keys(endpoint):
        if key not in resolved:
            continue
        target = eps.reference_target(endpoint, key)
        if target is not None and not key.endswith("_id"):
            params[f"{key}_id"] = resolved[key]
        else:
            params[key] = resolved[key]
    if not params:
        raise SaltInvocationError(
            f"cannot identify a {endpoint} object: give a lookup mapping or its natural keys "
            f"({', '.join(eps.natural_keys(endpoint))})"
        )
    return params


def ensure(src, endpoint, fields, *, lookup=None, test=False, resolver=None, create=True):
    """
    Make the object of ``endpoint`` identified by ``lookup`` (or natural keys) have ``fields``.

    Only the given fields are compared; only the differing ones are PATCHed; after writing the
    object is read again and compared once more. Returns
    ``{"action": "created"|"updated"|"unchanged"|"missing", "object": obj, "changes": {...},
    "name": str, "not_kept": {...}}``. With ``test=True`` nothing is written and ``object`` is
    the current object (None when it would be created).
    """
    endpoint = eps.check_endpoint(endpoint)
    resolver = resolver or Resolver(src)
    if lookup and "id" in lookup:
        try:
            current = src.get(endpoint, eps.as_int(lookup["id"], "lookup id"))
        except NetBoxNotFound:
            current = None
        params = {"id": eps.as_int(lookup["id"], "lookup id")}
    else:
        pre = resolver.resolve_fields(endpoint, fields)
        params = lookup_params(endpoint, pre, lookup, resolver)
        current = resolver.find_one(endpoint, params)
    resolved = resolver.resolve_fields(endpoint, fields, current)
    if current is None:
        name = describe(endpoint, {**fields, **{k: v for k, v in (lookup or {}).items()}})
        if not create:
            return {"action": "missing", "object": None, "changes": {}, "name": name}
        payload = dict(resolved)
        for key, value in params.items():
            field = key[:-3] if key.endswith("_id") and key[:-3] not in payload else key
            if field not in payload and key != "id" and value is not None:
                payload[field] = value
        changes = {"created": name}
        if test:
            return {"action": "created", "object": None, "changes": changes, "name": name}
        created = src.create(endpoint, payload)
        obj = src.get(endpoint, created["id"])
        _, not_kept = diff_object(obj, resolved, fields)
        return {
            "action": "created",
            "object": obj,
            "changes": changes,
            "name": describe(endpoint, obj),
            "not_kept": not_kept,
        }
    changes, patch = diff_object(current, resolved, fields)
    if "assigned_object_id" in changes and current.get("assigned_object"):
        # the id alone says nothing: name the object it was assigned to (``srv-r1-01:eno1``)
        changes["assigned_object_id"]["old"] = describe(
            current.get("assigned_object_type") or endpoint, current["assigned_object"]
        )
    name = describe(endpoint, current)
    if not patch:
        return {"action": "unchanged", "object": current, "changes": {}, "name": name}
    if test:
        return {"action": "updated", "object": current, "changes": changes, "name": name}
    src.update(endpoint, current["id"], patch)
    obj = src.get(endpoint, current["id"])
    _, not_kept = diff_object(obj, resolved, fields)
    return {
        "action": "updated",
        "object": obj,
        "changes": changes,
        "name": name,
        "not_kept": not_kept,
    }


def remove(src, endpoint, lookup, *, test=False, resolver=None):
    """Delete the object identified by ``lookup``. Returns ``{"action": "deleted"|"absent"}``."""
    endpoint = eps.check_endpoint(endpoint)
    resolver = resolver or Resolver(src)
    params = lookup_params(endpoint, {}, lookup, resolver)
    current = resolver.find_one(endpoint, params)
    if current is None:
        return {"action": "absent", "object": None, "changes": {}, "name": str(lookup)}
    name = describe(endpoint, current)
    if not test:
        src.delete(endpoint, current["id"])
    return {"action": "deleted", "object": current, "changes": {"deleted": name}, "name": name}


def find_device(src, name=None, *, minion_id=None, site=None, resolver=None):
    """
    The device named ``name`` (optionally in ``site``), or the one whose custom field
    ``minion_id`` is ``minion_id`` (falling back to its short name). None when not found.
    """
    resolver = resolver or Resolver(src)
    if isinstance(name, int):
        return src.get("dcim.devices", name)
    params = {}
    if site is not None:
        params["site_id"] = resolver.ref("dcim.sites", site, field="site")
    if name:
        return resolver.find_one("dcim.devices", {"name": name, **params}, what=f"device {name}")
    if not minion_id:
        raise SaltInvocationError("a device name (or the minion id) is required")
    found = [
        d
        for d in src.list("dcim.devices", {"cf_minion_id": minion_id, **params})
        if (d.get("custom_fields") or {}).get("minion_id") == minion_id
    ]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise AmbiguousLookup(
            f"{len(found)} devices have custom field minion_id={minion_id!r}; make it unique"
        )
    for candidate in (minion_id, minion_id.split(".")[0]):
        obj = resolver.find_one("dcim.devices", {"name": candidate, **params})
        if obj is not None:
            return obj
    return None


def find_interface(src, interface, device=None, resolver=None):
    """
    An interface given as an id, ``{"device": .., "name": ..}``, ``"device:name"`` or a name
    with ``device``. Raises SaltInvocationError when not found.
    """
    resolver = resolver or Resolver(src)
    if isinstance(interface, int):
        return src.get("dcim.interfaces", interface)
    if isinstance(interface, dict):
        device = interface.get("device", device)
        interface = interface.get("name")
    if isinstance(interface, str) and device is None and ":" in interface:
        device, interface = interface.split(":", 1)
    if not interface or device is None:
        raise SaltInvocationError(
            "interface must be an id, 'device:interface', or a name together with device="
        )
    dev = device if isinstance(device, dict) else find_device(src, name=device, resolver=resolver)
    if dev is None:
        raise NotInNetBox(f"device {device!r} not found in NetBox (dcim.devices)")
    obj = resolver.find_one("dcim.interfaces", {"device_id": dev["id"], "name": interface})
    if obj is None:
        raise NotInNetBox(
            f"interface {interface!r} not found on device {dev['name']!r} in NetBox "
            "(dcim.interfaces)"
        )
    return obj


def object_ref(src, obj, resolver=None):
    """
    ``(object_type, object_id, name)`` for a journal entry target: a device name or id, an
    ``"endpoint:id"`` string, or ``{"endpoint"|"type": .., "id": ..}``.
    """
    resolver = resolver or Resolver(src)
    if isinstance(obj, dict):
        ident = obj.get("id")
        kind = obj.get("endpoint") or obj.get("type") or obj.get("object_type") or "dcim.devices"
        endpoint = (
            eps.endpoint_for_type(kind)
            if "-" not in kind and not kind.endswith("s")
            else eps.check_endpoint(kind)
        )
        if ident is None:
            raise SaltInvocationError("object mapping needs an id")
        ident = eps.as_int(ident, "object id")
        return eps.content_type(endpoint), ident, f"{endpoint} #{ident}"
    if isinstance(obj, int):
        dev = src.get("dcim.devices", obj)
        return "dcim.device", dev["id"], dev["name"]
    if isinstance(obj, str) and ":" in obj and obj.split(":", 1)[1].isdigit():
        endpoint, ident = obj.split(":", 1)
        endpoint = eps.check_endpoint(endpoint)
        return eps.content_type(endpoint), int(ident), f"{endpoint} #{ident}"
    dev = find_device(src, name=obj, resolver=resolver)
    if dev is None:
        raise NotInNetBox(f"device {obj!r} not found in NetBox (dcim.devices)")
    return "dcim.device", dev["id"], dev["name"]


def journal_entry(object_type, object_id, text, *, kind="info", jid=None, who=None):
    """The body of a journal entry whose comments end with the line naming the Salt job."""
    return {
        "assigned_object_type": object_type,
        "assigned_object_id": object_id,
        "kind": jrnl.check_kind(kind),
        "comments": jrnl.comment_with_job(text, jid, who),
    }


def write_journal(src, object_type, object_id, text, *, kind="info", jid=None, who=None):
    """Create a journal entry whose comments end with the line naming the Salt job."""
    return src.create(
        "extras.journal-entries",
        journal_entry(object_type, object_id, text, kind=kind, jid=jid, who=who),
    )


def change_statuses(src, devs, status, comment=None, *, jid=None, who=None):  # noqa: PLR0913
    """
    :func:`change_status` of several devices in three requests whatever their number: one bulk
    PATCH, one listing to read them back, one bulk POST of their journal entries (a rack's
    servers over a WAN link to NetBox: seconds instead of minutes). NetBox applies a bulk PATCH
    atomically; when it refuses the batch (one device's validation error), each device is
    changed on its own, so that error stays that device's. Returns ``{device id: (status NetBox
    has afterwards, journal entry or None)}``.
    """
    devs = list(devs)
    if not devs:
        return {}
    try:
        src.bulk_update("dcim.devices", [{"id": d["id"], "status": status} for d in devs])
    except NetBoxInvalidRequest as err:
        log.info("bulk status change refused (%s): one device at a time", err)
        return {d["id"]: change_status(src, d, status, comment, jid=jid, who=who) for d in devs}
    after = {
        d["id"]: simplify(d.get("status"))
        for d in src.list_by("dcim.devices", "id", [d["id"] for d in devs])
    }
    kept = [d for d in devs if after.get(d["id"]) == status]
    made = (
        src.create(
            "extras.journal-entries",
            [
                journal_entry(
                    "dcim.device",
                    d["id"],
                    f"Status {simplify(d.get('status'))} -> {status}"
                    + (f": {comment}" if comment else ""),
                    jid=jid,
                    who=who,
                )
                for d in kept
            ],
        )
        if kept
        else []
    )
    entries = {e["assigned_object_id"]: e for e in made or []}
    return {d["id"]: (after.get(d["id"]), entries.get(d["id"])) for d in devs}


def change_status(src, dev, status, comment=None, *, jid=None, who=None):
    """
    Set a device's status, read it back, and record the change in the device's journal.
    Returns ``(status NetBox has afterwards, journal entry)``; the entry is None (nothing
    recorded) when NetBox did not keep the status.
    """
    old = simplify(dev.get("status"))
    src.update("dcim.devices", dev["id"], {"status": status})
    after = simplify(src.get("dcim.devices", dev["id"]).get("status"))
    if after != status:
        return after, None
    text = f"Status {old} -> {status}" + (f": {comment}" if comment else "")
    return after, write_journal(src, "dcim.device", dev["id"], text, jid=jid, who=who)
