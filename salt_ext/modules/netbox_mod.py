"""
NetBox execution module: NetBox 4 as a Salt target.

Works on minions and on the master (orchestrate, ``salt-run salt.cmd netbox.<fun>``). Every call
goes through the NetBox access layer (``salt_ext.utils.netbox``) and returns plain dicts.

:depends: requests, pynetbox (through ``salt_ext.utils.netbox``)
:configuration: the ``netbox`` key of the minion/master configuration (or pillar):

.. code-block:: yaml

    netbox:
      url: https://netbox.example.net
      token: nbt_abc123.secret        # or token_file: /etc/salt/netbox.token
      timeout: 10

Generic functions work on any endpoint, named ``app.endpoint-name`` (``dcim.devices``,
``ipam.ip-addresses``). The Salt 3007 ``netbox`` module's functions keep their names where they
still mean something in NetBox 4 (``get``/``filter`` also accept ``app endpoint`` as two
arguments); the others raise an error naming their replacement.
"""

import contextlib
import ipaddress
import logging

import salt.utils.args
from salt.exceptions import CommandExecutionError, SaltInvocationError

from salt_ext.utils.netbox_ops import compat
from salt_ext.utils.netbox_ops import endpoints as eps
from salt_ext.utils.netbox_ops import ipam
from salt_ext.utils.netbox_ops import journal as jrnl
from salt_ext.utils.netbox_ops import openconfig, ops, sync
from salt_ext.utils.netbox_ops.diff import normalize_mac, simplify
from salt_ext.utils.netbox_ops.jobs import known_args

try:
    from salt_ext.utils.netbox import NetBoxConfigError, NetBoxError
    from salt_ext.utils.netbox_ops import glue

    HAS_ACCESS_LAYER = True
    IMPORT_ERROR = ""
except ImportError as _err:  # pragma: no cover - packaging problem
    HAS_ACCESS_LAYER = False
    IMPORT_ERROR = str(_err)

log = logging.getLogger(__name__)

__virtualname__ = "netbox"
__func_alias__ = {"get_": "get", "filter_": "filter"}


def __virtual__():
    if not HAS_ACCESS_LAYER:
        return (False, f"netbox: the NetBox access layer cannot be imported: {IMPORT_ERROR}")
    return __virtualname__


# -- plumbing -----------------------------------------------------------------------------------
def _source():
    return glue.source(__opts__, __context__, globals().get("__pillar__"))


def _errors(what):
    """NetBox failures -> CommandExecutionError; bad configuration -> SaltInvocationError."""
    return glue.mapped_errors(what, CommandExecutionError)


def _clean(kwargs):
    return salt.utils.args.clean_kwargs(**kwargs)


def _merge_data(data, fields):
    out = {}
    if data is not None:
        if not isinstance(data, dict):
            raise SaltInvocationError("data must be a mapping of field: value")
        out.update(data)
    out.update(fields)
    return out


def _jid(kwargs=None):
    return jrnl.job_id(__opts__, kwargs)


def _check(endpoint):
    endpoint = eps.check_endpoint(endpoint)
    compat.check_endpoint_exists(endpoint)
    return endpoint


def _ident(value):
    """An object id given on the command line (``117``, ``"117"``) as an int."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise SaltInvocationError(f"id must be a NetBox object id (a number), got {value!r}")
    try:
        ident = int(value)
    except ValueError:
        raise SaltInvocationError(
            f"id must be a NetBox object id (a number), got {value!r}; to find an object by "
            "name use netbox.get <endpoint> name=<name>"
        ) from None
    if ident < 1:
        raise SaltInvocationError(f"id must be a NetBox object id (a number >= 1), got {value!r}")
    return ident


@contextlib.contextmanager
def _known_endpoint(endpoint):
    """A 404 for a whole endpoint (list, create): the endpoint does not exist, a typo."""
    try:
        yield
    except NetBoxError as err:
        if err.status == 404:
            _is_netbox(err)
            raise SaltInvocationError(
                f"endpoint {endpoint} does not exist in NetBox; check the spelling "
                "(app.endpoint-name, for example dcim.devices or ipam.ip-addresses)"
            ) from err
        raise


def _is_netbox(err):
    """After a 404 for a whole endpoint: raise CommandExecutionError when the URL is not a NetBox
    API at all (no ``/api/status/``) rather than blame the endpoint's spelling."""
    try:
        _source().status()
    except NetBoxError as probe:
        if probe.status == 404:
            raise CommandExecutionError(str(probe)) from err


def _missing(src, endpoint):
    """
    After a 404 for one object: the endpoint itself exists (the object is missing), or raise
    SaltInvocationError naming the endpoint (NetBox answers 404 for an unknown endpoint too).
    """
    with _known_endpoint(endpoint):
        next(iter(src.iter(endpoint, page_size=1)), None)


# -- status -------------------------------------------------------------------------------------
@known_args
def status():
    """
    Report NetBox's version, whether it is reachable, and the latency of ``/api/status/``.

    Returns ``{"reachable": bool, "netbox_version": str, "api_version": str, "latency_ms":
    float, "source": url, "kind": "api"|"snapshot"}``; when NetBox cannot be reached,
    ``reachable`` is False, ``error`` says why and the job's return code is 1.

    CLI Example:

    .. code-block:: bash

        salt '*' netbox.status
    """
    try:
        src = _source()
    except NetBoxConfigError as err:
        raise SaltInvocationError(str(err)) from err
    try:
        return src.status()
    except NetBoxError as err:
        __context__["retcode"] = 1
        return {
            "reachable": err.status is not None,
            "netbox_version": None,
            "api_version": None,
            "latency_ms": None,
            "source": getattr(src, "base_url", None) or getattr(src, "source", None),
            "error": str(err),
            "error_type": type(err).__name__,
        }


# -- generic CRUD -------------------------------------------------------------------------------
@known_args
def get_(*args, **kwargs):
    """
    Get one object: by id, or by exact filters that must match exactly one object.
    Returns the object as NetBox returns it, or None when there is none.

    endpoint
        ``app.endpoint`` such as ``dcim.devices`` (Salt 3007 form: ``dcim devices``)
    id
        the object id (positional after the endpoint, or ``id=``)
    kwargs
        exact-match filters (``name=srv-r1-01 site=lab1``); several matches raise an error

    CLI Example:

    .. code-block:: bash

        salt-call netbox.get dcim.devices 110
        salt-call netbox.get dcim.devices name=srv-r1-01
        salt-call netbox.get dcim devices name=srv-r1-01
    """
    kwargs = _clean(kwargs)
    endpoint, rest = compat.split_legacy_endpoint(args)
    endpoint = _check(endpoint)
    ident = rest[0] if rest else kwargs.pop("id", None)
    if len(rest) > 1:
        raise SaltInvocationError("netbox.get takes an endpoint and at most one id")
    if ident is not None:
        ident = _ident(ident)
        if kwargs:
            raise SaltInvocationError(
                f"netbox.get {endpoint}: give an id or filters, not both (got id {ident} and "
                f"{', '.join(sorted(kwargs))}); the filters would not be checked"
            )
    src = _source()
    with _errors(f"netbox.get {endpoint}"):
        if ident is not None:
            try:
                return src.get(endpoint, ident)
            except NetBoxError as err:
                if err.status == 404:
                    _missing(src, endpoint)
                    return None
                raise
        if not kwargs:
            raise SaltInvocationError(f"netbox.get {endpoint} needs an id or filters")
        resolver = ops.Resolver(src)
        params = ops.lookup_params(endpoint, {}, kwargs, resolver)
        return resolver.find_one(endpoint, params)


@known_args
def filter_(*args, **kwargs):
    """
    List the objects of an endpoint matching NetBox filters (every page).

    endpoint
        ``app.endpoint`` such as ``dcim.devices`` (Salt 3007 form: ``dcim devices``)
    kwargs
        NetBox filters, passed as given (``site=lab1 status=planned``; a list repeats the key)

    CLI Example:

    .. code-block:: bash

        salt-call netbox.filter dcim.devices site=lab1 status=planned
        salt-call netbox.filter dcim devices role=edge-server
    """
    kwargs = _clean(kwargs)
    endpoint, rest = compat.split_legacy_endpoint(args)
    if rest:
        raise SaltInvocationError("netbox.filter takes the endpoint and keyword filters only")
    endpoint = _check(endpoint)
    for key, value in kwargs.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        if any(isinstance(v, (dict, list, tuple, set)) for v in values):
            raise SaltInvocationError(
                f"netbox.filter {endpoint}: filter {key} takes a value or a list of values, "
                f"got {value!r}"
            )
    with _errors(f"netbox.filter {endpoint}"), _known_endpoint(endpoint):
        return _source().list(endpoint, kwargs or None)


@known_args
def create(endpoint, data=None, **kwargs):
    """
    Create an object. References may be ids, names/slugs, or ``{field: value}`` mappings; choice
    fields take their value; tags take names or slugs.

    endpoint
        ``app.endpoint`` such as ``dcim.sites``
    data
        the fields as a mapping (alternatively, or in addition, as keyword arguments)

    CLI Example:

    .. code-block:: bash

        salt-call netbox.create dcim.manufacturers name=Quanta slug=quanta
        salt-call netbox.create dcim.devices data='{name: x, site: lab1, role: edge-server,
            device_type: PowerEdge M630}'
    """
    endpoint = _check(endpoint)
    fields = _merge_data(data, _clean(kwargs))
    if not fields:
        raise SaltInvocationError(f"netbox.create {endpoint}: no fields given")
    src = _source()
    with _errors(f"netbox.create {endpoint}"):
        resolved = ops.Resolver(src).resolve_fields(endpoint, fields)
        with _known_endpoint(endpoint):
            return src.create(endpoint, resolved)


@known_args
def update(endpoint, id, data=None, **kwargs):  # pylint: disable=redefined-builtin
    """
    Update (PATCH) an object: only the given fields that differ are sent. Returns
    ``{"object": <object after the update>, "changes": {field: {old, new}}}``.

    endpoint
        ``app.endpoint`` such as ``dcim.devices``
    id
        the object id
    data
        the fields as a mapping (alternatively, or in addition, as keyword arguments)

    CLI Example:

    .. code-block:: bash

        salt-call netbox.update dcim.devices 117 serial=ABC123 status=staged
    """
    endpoint = _check(endpoint)
    fields = _merge_data(data, _clean(kwargs))
    if not fields:
        raise SaltInvocationError(f"netbox.update {endpoint}: no fields given")
    ident = _ident(id)
    src = _source()
    with _errors(f"netbox.update {endpoint} {id}"):
        res = ops.ensure(src, endpoint, fields, lookup={"id": ident}, create=False)
        if res["action"] == "missing":
            _missing(src, endpoint)
    if res["action"] == "missing":
        raise CommandExecutionError(f"netbox.update: {endpoint} {id} does not exist in NetBox")
    return {"object": res["object"], "changes": res["changes"]}


@known_args
def delete(endpoint, id):  # pylint: disable=redefined-builtin
    """
    Delete an object by id. Returns ``{"deleted": bool, "endpoint", "id"}`` (False when it was
    already gone).

    CLI Example:

    .. code-block:: bash

        salt-call netbox.delete dcim.inventory-items 42
    """
    endpoint = _check(endpoint)
    ident = _ident(id)
    src = _source()
    with _errors(f"netbox.delete {endpoint} {id}"):
        try:
            src.delete(endpoint, ident)
        except NetBoxError as err:
            if err.status == 404:
                _missing(src, endpoint)
                return {"deleted": False, "endpoint": endpoint, "id": ident}
            raise
    return {"deleted": True, "endpoint": endpoint, "id": ident}


# -- task helpers -------------------------------------------------------------------------------
@known_args
def device(name=None, site=None):
    """
    The NetBox device of this minion, or the one named ``name``. Without ``name`` the device
    whose custom field ``minion_id`` is the minion id is returned (falling back to a device
    named like the minion id or its short name). Returns None when there is none.

    CLI Example:

    .. code-block:: bash

        salt srv-r1-01 netbox.device
        salt-call netbox.device srv-r2-01 site=lab1
    """
    src = _source()
    with _errors("netbox.device"):
        if name is None:
            return ops.find_device(src, minion_id=__opts__.get("id"), site=site)
        return ops.find_device(src, name, site=site)


def _require_device(src, name, resolver=None):
    if isinstance(name, dict) and name.get("id"):
        return name
    dev = (
        ops.find_device(src, minion_id=__opts__.get("id"), resolver=resolver)
        if name is None
        else ops.find_device(src, name, resolver=resolver)
    )
    if dev is None:
        raise CommandExecutionError(
            f"device {name or __opts__.get('id')!r} not found in NetBox (dcim.devices): create it "
            "or set its custom field minion_id"
        )
    return dev


@known_args
def journal(obj, comment, kind="info", **kwargs):
    """
    Write a journal entry on an object; the comment always ends with a line naming the Salt
    job (and the minion) that wrote it.

    obj
        a device name or id, ``endpoint:id`` (``dcim.interfaces:1766``) or
        ``{endpoint: .., id: ..}``
    comment
        the text
    kind
        ``info`` (default), ``success``, ``warning`` or ``danger``

    CLI Example:

    .. code-block:: bash

        salt-call netbox.journal srv-r2-01 "racked and cabled" kind=success
    """
    kind = jrnl.check_kind(kind)
    src = _source()
    with _errors("netbox.journal"):
        object_type, object_id, _ = ops.object_ref(src, obj)
        return ops.write_journal(
            src,
            object_type,
            object_id,
            comment,
            kind=kind,
            jid=_jid(kwargs),
            who=__opts__.get("id"),
        )


@known_args
def set_status(device, status, comment=None, **kwargs):  # pylint: disable=redefined-outer-name
    """
    Set a device's status and record it in its journal, naming the Salt job. Nothing is written
    when the status already is ``status``.

    device
        device name or id
    status
        the status value (``planned``, ``staged``, ``active``, ``failed``, ``offline``, ...)
    comment
        why (added to the journal entry)

    Returns ``{"device", "old", "new", "changed", "journal_id"}``.

    CLI Example:

    .. code-block:: bash

        salt-call netbox.set_status srv-r2-01 staged comment="burn-in passed"
    """
    if not isinstance(status, str) or not status:
        raise SaltInvocationError("status must be a NetBox status value such as 'staged'")
    src = _source()
    with _errors(f"netbox.set_status {device}"):
        dev = _require_device(src, device)
        old = simplify(dev.get("status"))
        ret = {"device": dev["name"], "old": old, "new": status, "changed": False}
        if old == status:
            ret["journal_id"] = None
            return ret
        after, entry = ops.change_status(
            src, dev, status, comment, jid=_jid(kwargs), who=__opts__.get("id")
        )
        if entry is None:
            raise CommandExecutionError(
                f"NetBox did not keep status {status!r} on {dev['name']} (it has {after!r})"
            )
    ret.update(changed=True, journal_id=entry["id"])
    return ret


@known_args
def assign_next_ip(
    prefix,
    interface,
    device=None,  # pylint: disable=redefined-outer-name
    *,
    status="active",
    dns_name=None,
    description=None,
    vrf=None,
    primary=False,
):
    """
    Give an interface the next free address of a prefix, race-safe: the address is allocated
    by NetBox's ``available-ips`` endpoint, which serialises concurrent requests, so two
    concurrent calls never get the same address. When the interface already has an address in
    the prefix, that address is returned and nothing is allocated; concurrent calls for the same
    interface all end with its oldest address in the prefix (the others are given back).

    prefix
        the prefix (``10.10.2.0/24``) or its id
    interface
        ``device:interface``, an interface id, or an interface name together with ``device``
    device
        the device of ``interface`` when it is only a name
    status, dns_name, description
        fields of the new address
    vrf
        the prefix's VRF (name or id) when the prefix exists in several
    primary
        also make the address the device's primary IPv4/IPv6

    Returns ``{"address", "id", "allocated": bool, "interface", "device", "prefix"}``.

    CLI Example:

    .. code-block:: bash

        salt-call netbox.assign_next_ip 10.10.2.0/24 srv-r2-01:bond0 dns_name=srv-r2-01.lab1
    """
    src = _source()
    with _errors("netbox.assign_next_ip"):
        pfx = ipam.find_prefix(src, prefix, vrf)
        iface = ops.find_interface(src, interface, device)
        return ipam.assign_next_ip(
            src,
            pfx,
            iface,
            status=status,
            dns_name=dns_name,
            description=description,
            primary=primary,
        )


@known_args
def sync_inventory(
    device=None, inventory=None, test=False, **kwargs
):  # pylint: disable=redefined-outer-name
    """
    Write what ``hardware.inventory`` found into NetBox: the device serial when NetBox's is
    empty, MAC address objects on the interfaces of the same name (primary when the interface
    has none), and inventory items for CPUs, DIMMs, disks and PSUs. A serial that differs from
    NetBox's (or that NetBox gives to another device) is reported as a conflict and never
    written, and then nothing at all is written (the server may not be that device); items
    NetBox has but the server
    did not report are listed as ``stale_items``, never deleted.

    device
        device name (default: the device of this minion)
    inventory
        the ``hardware.inventory`` dict (default: run ``hardware.inventory`` here)
    test
        only report what would be written

    Returns ``{"device", "changes", "conflicts", "warnings", "stale_items", "unchanged",
    "test"}``; the job's return code is 1 when there are conflicts. When something was written,
    a journal entry on the device summarises it and names the Salt job.

    CLI Example:

    .. code-block:: bash

        salt srv-r2-01 netbox.sync_inventory
        salt-call netbox.sync_inventory srv-r2-01 test=True
    """
    extra = _clean(kwargs)
    if extra:
        raise SaltInvocationError(
            f"netbox.sync_inventory: unknown argument(s) {', '.join(sorted(extra))}"
        )
    if inventory is None:
        if "hardware.inventory" not in __salt__:
            raise SaltInvocationError(
                "no inventory given and hardware.inventory is not available here; pass "
                "inventory=<hardware.inventory output>"
            )
        inventory = __salt__["hardware.inventory"]()
    if not isinstance(inventory, dict):
        raise SaltInvocationError("inventory must be the dict returned by hardware.inventory")
    src = _source()
    with _errors("netbox.sync_inventory"):
        dev = _require_device(src, device)
        ret = sync.sync_inventory(
            src, dev, inventory, test=test, jid=_jid(kwargs), who=__opts__.get("id")
        )
    if ret["conflicts"]:
        __context__["retcode"] = 1
    return ret


# -- Salt 3007 compatibility --------------------------------------------------------------------
@known_args
def slugify(value):
    """
    Slugify a value the way Django (and Salt 3007's ``netbox.slugify``) does.

    CLI Example:

    .. code-block:: bash

        salt-call netbox.slugify "Edge Server"
    """
    return compat.slugify(value)


def _create_if_missing(endpoint, lookup, payload):
    """Salt 3007 semantics: create and return ``{app: {endpoint: payload}}``, or {} if present."""
    src = _source()
    with _errors(f"netbox: create {endpoint}"):
        resolver = ops.Resolver(src)
        if resolver.find_one(endpoint, lookup) is not None:
            return {}
        made = src.create(endpoint, resolver.resolve_fields(endpoint, payload))
    app, name = endpoint.split(".")
    return {app: {name: {**payload, "id": made["id"]}}}


@known_args
def create_manufacturer(name):
    """
    Create a manufacturer (Salt 3007 compatible). Returns ``{"dcim": {"manufacturers":
    payload}}`` when created, ``{}`` when it already exists.

    CLI Example:

    .. code-block:: bash

        salt-call netbox.create_manufacturer Juniper
    """
    return _create_if_missing(
        "dcim.manufacturers", {"name": name}, {"name": name, "slug": compat.slugify(name)}
    )


@known_args
def create_device_type(model, manufacturer):
    """
    Create a device type, and its manufacturer when missing (Salt 3007 compatible). Returns
    ``{"dcim": {"device-types": payload, ...}}`` or ``{}`` when it exists.

    CLI Example:

    .. code-block:: bash

        salt-call netbox.create_device_type MX480 Juniper
    """
    src = _source()
    with _errors("netbox.create_device_type"):
        resolver = ops.Resolver(src)
        mfr = resolver.find_one("dcim.manufacturers", {"name": manufacturer})
    ret = {}
    if mfr is None:
        ret = create_manufacturer(manufacturer)
    made = _create_if_missing(
        "dcim.device-types",
        {"model": model},
        {"model": model, "manufacturer": {"name": manufacturer}, "slug": compat.slugify(model)},
    )
    if not made:
        return {}
    made["dcim"].update(ret.get("dcim", {}))
    return made


@known_args
def create_device_role(role, color="9e9e9e"):
    """
    Create a device role (Salt 3007 compatible; ``color`` is 6 hex digits).

    CLI Example:

    .. code-block:: bash

        salt-call netbox.create_device_role router 3f51b5
    """
    return _create_if_missing(
        "dcim.device-roles",
        {"name": role},
        {"name": role, "slug": compat.slugify(role), "color": color},
    )


@known_args
def create_platform(platform):
    """
    Create a platform (Salt 3007 compatible).

    CLI Example:

    .. code-block:: bash

        salt-call netbox.create_platform junos
    """
    return _create_if_missing(
        "dcim.platforms",
        {"slug": compat.slugify(platform)},
        {"name": platform, "slug": compat.slugify(platform)},
    )


@known_args
def create_site(site):
    """
    Create a site (Salt 3007 compatible).

    CLI Example:

    .. code-block:: bash

        salt-call netbox.create_site BRU
    """
    return _create_if_missing(
        "dcim.sites", {"name": site}, {"name": site, "slug": compat.slugify(site)}
    )


@known_args
def create_device(name, role, model, manufacturer, site):
    """
    Create a device from the names of its role, model, manufacturer and site (Salt 3007
    compatible; NetBox 4 calls the role ``role``). Returns ``{"dcim": {"devices": payload}}``
    or ``{}`` when a device of that name exists in the site.

    CLI Example:

    .. code-block:: bash

        salt-call netbox.create_device edge_router router MX480 Juniper BRU
    """
    src = _source()
    with _errors("netbox.create_device"):
        resolver = ops.Resolver(src)
        site_id = resolver.ref("dcim.sites", site, field="site")
        mfr_id = resolver.ref("dcim.manufacturers", manufacturer, field="manufacturer")
        dtype = resolver.find_one("dcim.device-types", {"model": model, "manufacturer_id": mfr_id})
        if dtype is None:
            raise SaltInvocationError(f"device type {manufacturer} {model} not found in NetBox")
    return _create_if_missing(
        "dcim.devices",
        {"name": name, "site_id": site_id},
        {"name": name, "role": role, "device_type": dtype["id"], "site": site_id},
    )


@known_args
def update_device(name, **kwargs):
    """
    Change fields of a device identified by name (Salt 3007 compatible). Returns
    ``{"dcim": {"devices": {field: value}}}`` with the fields that changed.

    CLI Example:

    .. code-block:: bash

        salt-call netbox.update_device edge_router serial=JN2932920
    """
    fields = compat.translate_fields(_clean(kwargs))
    src = _source()
    with _errors(f"netbox.update_device {name}"):
        dev = _require_device(src, name)
        res = ops.ensure(src, "dcim.devices", fields, lookup={"id": dev["id"]}, create=False)
    return {"dcim": {"devices": {k: v["new"] for k, v in res["changes"].items()}}}


@known_args
def create_inventory_item(  # noqa: PLR0917 (Salt 3007 signature)
    device_name, item_name, manufacturer_name=None, serial="", part_id="", description=""
):
    """
    Add an inventory item to a device (Salt 3007 compatible; the manufacturer is created when
    missing).

    CLI Example:

    .. code-block:: bash

        salt-call netbox.create_inventory_item edge_router Transceiver part_id=740-01234
    """
    src = _source()
    with _errors("netbox.create_inventory_item"):
        dev = _require_device(src, device_name)
    payload = {
        "device": dev["id"],
        "name": item_name,
        "description": description,
        "serial": serial,
        "part_id": part_id,
    }
    if manufacturer_name:
        create_manufacturer(manufacturer_name)
        payload["manufacturer"] = {"name": manufacturer_name}
    return _create_if_missing(
        "dcim.inventory-items", {"device_id": dev["id"], "name": item_name}, payload
    )


@known_args
def delete_inventory_item(item_id):
    """
    Delete an inventory item by id (Salt 3007 compatible).

    CLI Example:

    .. code-block:: bash

        salt-call netbox.delete_inventory_item 1354
    """
    delete("dcim.inventory-items", item_id)
    return {"DELETE": {"dcim": {"inventory-items": item_id}}}


@known_args
def create_interface_connection(interface_a, interface_b):
    """
    Removed: NetBox 4 has no interface connections. Raises an error naming the replacement
    (a cable: ``netbox.create dcim.cables`` or the ``netbox.cable_present`` state).

    CLI Example:

    .. code-block:: bash

        salt-call netbox.create dcim.cables a_terminations='[{object_type: dcim.interface,
            object_id: 123}]' b_terminations='[{object_type: dcim.interface, object_id: 456}]'
    """
    raise CommandExecutionError(compat.removed_message("create_interface_connection"))


@known_args
def get_interfaces(device_name=None, **kwargs):
    """
    The interfaces of a device (default: this minion's), filtered by NetBox filters (Salt 3007
    compatible).

    CLI Example:

    .. code-block:: bash

        salt-call netbox.get_interfaces edge_router name="et-0/0/5"
    """
    src = _source()
    with _errors("netbox.get_interfaces"):
        dev = _require_device(src, device_name)
        return src.list("dcim.interfaces", {**_clean(kwargs), "device_id": dev["id"]})


@known_args
def get_ipaddresses(device_name=None, **kwargs):
    """
    The IP addresses of a device (default: this minion's), filtered by NetBox filters (Salt
    3007 compatible).

    CLI Example:

    .. code-block:: bash

        salt-call netbox.get_ipaddresses edge_router family=4
    """
    src = _source()
    with _errors("netbox.get_ipaddresses"):
        dev = _require_device(src, device_name)
        return src.list("ipam.ip-addresses", {**_clean(kwargs), "device_id": dev["id"]})


@known_args
def openconfig_interfaces(device_name=None):
    """
    A device's interfaces and addresses shaped as the ``openconfig-interfaces`` YANG model
    (Salt 3007 compatible).

    CLI Example:

    .. code-block:: bash

        salt '*' netbox.openconfig_interfaces
        salt-call netbox.openconfig_interfaces device_name=tor1-r1
    """
    return openconfig.interfaces(
        get_interfaces(device_name=device_name), get_ipaddresses(device_name=device_name)
    )


@known_args
def openconfig_lacp(device_name=None):
    """
    A device's LAGs shaped as the ``openconfig-lacp`` YANG model (Salt 3007 compatible;
    ``interval`` SLOW and ``lacp_mode`` ACTIVE since NetBox does not hold them).

    CLI Example:

    .. code-block:: bash

        salt '*' netbox.openconfig_lacp
    """
    return openconfig.lacp(get_interfaces(device_name=device_name))


@known_args
def create_interface(  # noqa: PLR0917 (Salt 3007 signature)
    device_name,
    interface_name,
    mac_address=None,
    description=None,
    enabled=None,
    lag=None,
    lag_parent=None,
    form_factor=None,
    type=None,  # pylint: disable=redefined-builtin
):
    """
    Add an interface to a device (Salt 3007 compatible). ``form_factor`` is NetBox 2's name of
    ``type`` (``lag=True`` makes a LAG); a MAC address becomes a MAC address object, primary
    on the interface. Returns ``{"dcim": {"interfaces": {id: payload}}}`` (existing interfaces
    are returned as they are).

    CLI Example:

    .. code-block:: bash

        salt-call netbox.create_interface edge_router ae13 lag=True description="Core uplink"
    """
    src = _source()
    with _errors("netbox.create_interface"):
        dev = _require_device(src, device_name)
        resolver = ops.Resolver(src)
        iface_type = type or "10gbase-x-sfpp"
        if form_factor is not None:
            iface_type = compat.translate_fields({"form_factor": form_factor})["type"]
        if lag:
            iface_type = "lag"
        payload = {
            "device": dev["id"],
            "name": interface_name,
            "type": iface_type,
            "description": description or "",
            "enabled": bool(enabled) if enabled is not None else True,
        }
        if lag_parent:
            payload["lag"] = ops.find_interface(src, lag_parent, dev)["id"]
        existing = resolver.find_one(
            "dcim.interfaces", {"device_id": dev["id"], "name": interface_name}
        )
        if existing is None:
            existing = src.create("dcim.interfaces", payload)
        if mac_address:
            sync.ensure_mac(src, existing, normalize_mac(mac_address), primary=True)
    if mac_address:
        payload["mac_address"] = normalize_mac(mac_address)
    return {"dcim": {"interfaces": {existing["id"]: payload}}}


@known_args
def update_interface(device_name, interface_name, **kwargs):
    """
    Change fields of an interface (Salt 3007 compatible; ``mac_address`` becomes the
    interface's primary MAC address object). Returns ``{"dcim": {"interfaces": {id: object}}}``.

    CLI Example:

    .. code-block:: bash

        salt-call netbox.update_interface edge_router ae13 mtu=9000
    """
    fields = compat.translate_fields(_clean(kwargs))
    mac = fields.pop("mac_address", None)
    src = _source()
    with _errors("netbox.update_interface"):
        iface = ops.find_interface(src, interface_name, device_name)
        if mac:
            sync.ensure_mac(src, iface, normalize_mac(mac), primary=True)
        obj = src.get("dcim.interfaces", iface["id"])
        if fields:
            obj = ops.ensure(
                src, "dcim.interfaces", fields, lookup={"id": iface["id"]}, create=False
            )["object"]
    return {"dcim": {"interfaces": {obj["id"]: obj}}}


@known_args
def delete_interface(device_name, interface_name):
    """
    Delete an interface of a device (Salt 3007 compatible).

    CLI Example:

    .. code-block:: bash

        salt-call netbox.delete_interface edge_router ae13
    """
    src = _source()
    with _errors("netbox.delete_interface"):
        iface = ops.find_interface(src, interface_name, device_name)
        src.delete("dcim.interfaces", iface["id"])
    return {"DELETE": {"dcim": {"interfaces": {iface["id"]: iface["name"]}}}}


@known_args
def make_interface_lag(device_name, interface_name):
    """
    Make an interface a LAG (``type: lag``; Salt 3007 compatible).

    CLI Example:

    .. code-block:: bash

        salt-call netbox.make_interface_lag edge_router ae13
    """
    return update_interface(device_name, interface_name, type="lag")


@known_args
def make_interface_child(device_name, interface_name, parent_name):
    """
    Make an interface a member of a LAG of the same device (Salt 3007 compatible).

    CLI Example:

    .. code-block:: bash

        salt-call netbox.make_interface_child edge_router xe-1/0/2 ae13
    """
    src = _source()
    with _errors("netbox.make_interface_child"):
        parent = ops.find_interface(src, parent_name, device_name)
    return update_interface(device_name, interface_name, lag=parent["id"])


@known_args
def create_ipaddress(
    ip_address, family=None, device=None, interface=None
):  # pylint: disable=redefined-outer-name
    """
    Create an IP address, optionally assigned to an interface of a device (Salt 3007
    compatible; ``family`` is computed by NetBox 4 and only checked). Returns ``{"ipam":
    {"ip-addresses": payload}}``, or ``{}`` when the address already is on that interface.

    CLI Example:

    .. code-block:: bash

        salt-call netbox.create_ipaddress 192.168.1.1/24 4 device=edge_router interface=ae13
    """
    try:
        version = ipaddress.ip_interface(ip_address).version
    except ValueError as err:
        raise SaltInvocationError(f"{ip_address!r} is not an address with a mask") from err
    if family is not None and eps.as_int(family, "family", minimum=4) != version:
        raise SaltInvocationError(f"{ip_address} is IPv{version}, not IPv{family}")
    payload = {"address": ip_address}
    lookup = {"address": ip_address}
    if interface and device:
        src = _source()
        with _errors("netbox.create_ipaddress"):
            iface = ops.find_interface(src, interface, device)
        payload.update(assigned_object_type="dcim.interface", assigned_object_id=iface["id"])
        lookup["assigned_object_id"] = iface["id"]
    return _create_if_missing("ipam.ip-addresses", lookup, payload)


@known_args
def delete_ipaddress(ipaddr_id):
    """
    Delete an IP address by id (Salt 3007 compatible).

    CLI Example:

    .. code-block:: bash

        salt-call netbox.delete_ipaddress 9002
    """
    delete("ipam.ip-addresses", ipaddr_id)
    return {"DELETE": {"ipam": {"ip-address": ipaddr_id}}}


@known_args
def create_circuit_provider(name, asn=None):
    """
    Create a circuit provider (Salt 3007 compatible). NetBox 4 links providers to ASN objects:
    ``asn`` must exist in ``ipam.asns``.

    CLI Example:

    .. code-block:: bash

        salt-call netbox.create_circuit_provider Telia 1299
    """
    payload = {"name": name, "slug": compat.slugify(name)}
    if asn:
        src = _source()
        with _errors("netbox.create_circuit_provider"):
            found = ops.Resolver(src).find_one("ipam.asns", {"asn": eps.as_int(asn, "asn")})
        if found is None:
            raise SaltInvocationError(
                f"ASN {asn} not found in NetBox (ipam.asns); create it first (NetBox 4 links "
                "providers to ASN objects)"
            )
        payload["asns"] = [found["id"]]
    return _create_if_missing("circuits.providers", {"name": name}, payload)


@known_args
def get_circuit_provider(name, asn=None):
    """
    A circuit provider by name, or by ASN when given (Salt 3007 compatible).

    CLI Example:

    .. code-block:: bash

        salt-call netbox.get_circuit_provider Telia 1299
    """
    src = _source()
    with _errors("netbox.get_circuit_provider"):
        if asn:
            found = src.list("circuits.providers", {"asn": eps.as_int(asn, "asn")})
            return found[0] if found else None
        return ops.Resolver(src).find_one("circuits.providers", {"name": name})


@known_args
def create_circuit_type(name):
    """
    Create a circuit type (Salt 3007 compatible).

    CLI Example:

    .. code-block:: bash

        salt-call netbox.create_circuit_type Transit
    """
    return _create_if_missing(
        "circuits.circuit-types",
        {"slug": compat.slugify(name)},
        {"name": name, "slug": compat.slugify(name)},
    )


@known_args
def create_circuit(name, provider_id, circuit_type, description=None):
    """
    Create a circuit (Salt 3007 compatible).

    CLI Example:

    .. code-block:: bash

        salt-call netbox.create_circuit NEW_CIRCUIT_01 12 Transit description="New circuit"
    """
    provider_id = eps.as_int(provider_id, "provider_id")
    payload = {
        "cid": name,
        "provider": provider_id,
        "type": {"slug": compat.slugify(circuit_type)},
    }
    if description:
        payload["description"] = description
    return _create_if_missing(
        "circuits.circuits", {"cid": name, "provider_id": provider_id}, payload
    )


@known_args
def create_circuit_termination(  # noqa: PLR0917 (Salt 3007 signature)
    circuit,
    interface,
    device,
    speed,
    xconnect_id=None,
    term_side="A",  # pylint: disable=redefined-outer-name
):
    """
    Terminate a circuit at the site of a device and cable it to the device's interface (Salt
    3007 compatible; NetBox 4 terminates on a site and connects with a cable).

    CLI Example:

    .. code-block:: bash

        salt-call netbox.create_circuit_termination NEW_CIRCUIT_01 xe-0/0/1 myminion 10000 \
            xconnect_id=XCON01
    """
    src = _source()
    with _errors("netbox.create_circuit_termination"):
        resolver = ops.Resolver(src)
        circ = resolver.find_one("circuits.circuits", {"cid": circuit})
        if circ is None:
            raise SaltInvocationError(f"circuit {circuit!r} not found in NetBox")
        iface = ops.find_interface(src, interface, device)
        dev = src.get("dcim.devices", iface["device"]["id"])
        term = resolver.find_one(
            "circuits.circuit-terminations", {"circuit_id": circ["id"], "term_side": term_side}
        )
        payload = {
            "circuit": circ["id"],
            "term_side": term_side,
            "termination_type": "dcim.site",
            "termination_id": dev["site"]["id"],
            "port_speed": eps.as_int(speed, "speed"),
        }
        if xconnect_id:
            payload["xconnect_id"] = xconnect_id
        if term is None:
            term = src.create("circuits.circuit-terminations", payload)
        if not iface.get("cable"):
            src.create(
                "dcim.cables",
                {
                    "a_terminations": [{"object_type": "dcim.interface", "object_id": iface["id"]}],
                    "b_terminations": [
                        {"object_type": "circuits.circuittermination", "object_id": term["id"]}
                    ],
                },
            )
    return {"circuits": {"circuit-terminations": {term["id"]: payload}}}
