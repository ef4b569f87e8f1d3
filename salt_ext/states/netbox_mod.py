"""
NetBox states: declare what NetBox must hold (devices, interfaces, MAC and IP addresses, cables,
journal entries, any object).

:depends: the ``netbox`` execution module (``salt_ext.modules.netbox_mod``)
:configuration: the ``netbox`` key of the minion/master configuration (see the execution module)

Every state looks the object up by its natural key, compares only the fields given (references
by id, choices by value, tags as sets), PATCHes only the differences and reads the object back
afterwards. With ``test=True`` nothing is written: ``result`` is None and ``changes`` holds the
predicted changes.

.. code-block:: yaml

    srv-r2-01:
      netbox.device_present:
        - site: lab1
        - role: edge-server
        - device_type: PowerEdge M630
        - rack: R2
        - status: planned
        - tags: [turnup-lab]

    srv-r2-01 eno1:
      netbox.interface_present:
        - name: eno1
        - device: srv-r2-01
        - type: 25gbase-x-sfp28
        - lag: bond0
"""

import contextlib
import logging

import salt.utils.args

from salt_ext.utils.netbox_ops import endpoints as eps
from salt_ext.utils.netbox_ops import journal as jrnl
from salt_ext.utils.netbox_ops import ops
from salt_ext.utils.netbox_ops.diff import normalize_mac, simplify

try:
    from salt_ext.utils.netbox import NetBoxError
    from salt_ext.utils.netbox_ops import glue

    HAS_ACCESS_LAYER = True
except ImportError:  # pragma: no cover - packaging problem
    HAS_ACCESS_LAYER = False

from salt.exceptions import SaltInvocationError

log = logging.getLogger(__name__)

__virtualname__ = "netbox"


def __virtual__():
    if not HAS_ACCESS_LAYER:
        return (False, "netbox states: the NetBox access layer cannot be imported")
    if "netbox.get" not in __salt__:
        return (False, "netbox states need the netbox execution module (netbox.get)")
    return __virtualname__


def _source():
    return glue.source(__opts__, __context__, globals().get("__pillar__"))


def _ret(name):
    return {"name": name, "result": True, "comment": "", "changes": {}}


def _test():
    return bool(__opts__.get("test"))


def _jid():
    """The job to name in journal entries: the orchestration, else this state run's job."""
    orchestration = globals().get("__orchestration_jid__")
    if orchestration:
        return str(orchestration)
    low = globals().get("__low__")
    return jrnl.job_id(__opts__, None, dict(low) if hasattr(low, "get") else None)


def _fail(ret, err):
    ret["result"] = False
    ret["comment"] = str(err)
    return ret


def _fields(kwargs):
    return salt.utils.args.clean_kwargs(**kwargs)


def _report(ret, res, what):
    """Shape a state return from an ``ops.ensure``/``ops.remove`` result."""
    action = res["action"]
    name = res.get("name") or what
    ret["changes"] = res["changes"]
    if action == "unchanged":
        ret["comment"] = f"{what} {name} is already as wanted"
        return ret
    if action == "absent":
        ret["comment"] = f"{what} {name} is already absent"
        return ret
    if _test():
        ret["result"] = None
        verb = {"created": "would be created", "updated": "would be updated"}.get(
            action, "would be deleted"
        )
        ret["comment"] = f"{what} {name} {verb}"
        return ret
    if res.get("not_kept"):
        ret["result"] = False
        ret["comment"] = (
            f"{what} {name} was {action} but NetBox did not keep "
            f"{', '.join(sorted(res['not_kept']))}; check NetBox's validation rules"
        )
        return ret
    ret["comment"] = f"{what} {name} {action}"
    return ret


def _run(name, what, func):
    """Call ``func()`` (which returns a state return) mapping errors to ``result: False``."""
    ret = _ret(name)
    try:
        return func(ret)
    except ops.NotInNetBox as err:
        if not _test():
            return _fail(ret, f"{what} {name}: {err}")
        # test=True: an earlier state of the same run may be about to create it
        ret.update(
            result=None,
            changes={},
            comment=(
                f"{what} {name}: {err}. Not an error with test=True when an earlier state "
                "creates it; the real run fails if none does"
            ),
        )
        return ret
    except (NetBoxError, SaltInvocationError) as err:
        return _fail(ret, f"{what} {name}: {err}")


# -- generic ------------------------------------------------------------------------------------
def object_present(name, endpoint, lookup=None, fields=None, **kwargs):
    """
    Ensure an object of any endpoint exists with the given fields.

    name
        the state id; used as the object's ``name`` when ``fields`` has none and ``lookup`` is
        not given
    endpoint
        ``app.endpoint`` such as ``dcim.sites``
    lookup
        exact-match fields identifying the object (default: the endpoint's natural keys taken
        from the fields, e.g. ``slug``/``name``)
    fields
        the fields to ensure (also accepted as keyword arguments)

    .. code-block:: yaml

        lab2:
          netbox.object_present:
            - endpoint: dcim.sites
            - lookup: {slug: lab2}
            - fields:
                name: LAB2
                status: planned

    CLI Example:

    .. code-block:: bash

        salt '*' state.single netbox.object_present lab2 endpoint=dcim.sites lookup='{slug: lab2}' fields='{name: LAB2, status: planned}' test=True
    """

    def run(ret):
        if fields is not None and not isinstance(fields, dict):
            raise SaltInvocationError(
                f"fields must be a mapping of field: value (fields: {{serial: X1}}), got {fields!r}"
            )
        wanted = dict(fields or {})
        wanted.update(_fields(kwargs))
        endpoint_name = eps.check_endpoint(endpoint)
        if lookup is None and "name" not in wanted and "name" in eps.natural_keys(endpoint_name):
            wanted["name"] = name
        res = ops.ensure(_source(), endpoint_name, wanted, lookup=lookup, test=_test())
        return _report(ret, res, endpoint_name)

    return _run(name, endpoint, run)


def object_absent(name, endpoint, lookup=None):
    """
    Ensure an object does not exist.

    name
        the object's name (used as ``lookup: {name: <name>}`` when no lookup is given)
    endpoint
        ``app.endpoint`` such as ``dcim.sites``
    lookup
        exact-match fields identifying the object

    .. code-block:: yaml

        old-site:
          netbox.object_absent:
            - endpoint: dcim.sites
            - lookup: {slug: old-site}

    CLI Example:

    .. code-block:: bash

        salt '*' state.single netbox.object_absent old-tag endpoint=extras.tags lookup='{slug: old-tag}'
    """

    def run(ret):
        endpoint_name = eps.check_endpoint(endpoint)
        res = ops.remove(_source(), endpoint_name, lookup or {"name": name}, test=_test())
        if res["action"] == "absent":
            res["name"] = name
        return _report(ret, res, endpoint_name)

    return _run(name, endpoint, run)


# -- devices ------------------------------------------------------------------------------------
def device_present(name, site=None, device_type=None, role=None, **kwargs):
    """
    Ensure a device exists with the given fields. ``site``, ``device_type`` and ``role`` are
    required to create it; references take names, slugs or ids (``rack: R2``, ``tenant: edge``).

    .. code-block:: yaml

        srv-r2-01:
          netbox.device_present:
            - site: lab1
            - device_type: PowerEdge M630
            - role: edge-server
            - rack: R2
            - position: 10
            - face: front
            - status: planned
            - custom_fields: {minion_id: srv-r2-01.lab1.example.net}

    CLI Example:

    .. code-block:: bash

        salt-call state.single netbox.device_present srv-r2-09 site=lab1 device_type='PowerEdge M630' role=edge-server rack=R2 test=True
    """

    def run(ret):
        fields = {"name": name, **_fields(kwargs)}
        for key, value in (("site", site), ("device_type", device_type), ("role", role)):
            if value is not None:
                fields[key] = value
        # a misspelled field (device_typ=) is named before anything else is said about it
        eps.check_writable("dcim.devices", [f for f in fields if f not in eps.READ_ONLY])
        src = _source()
        current = ops.find_device(src, name, site=site)
        if current is None and not all((site, device_type, role)):
            raise SaltInvocationError(
                f"device {name} does not exist: site, device_type and role are required to "
                "create it"
            )
        lookup = {"id": current["id"]} if current else None
        res = ops.ensure(src, "dcim.devices", fields, lookup=lookup, test=_test())
        return _report(ret, res, "device")

    return _run(name, "device", run)


def device_status(name, status, comment=None):
    """
    Ensure a device has a status; a change is recorded in the device's journal naming the Salt
    job.

    .. code-block:: yaml

        srv-r2-01 staged:
          netbox.device_status:
            - name: srv-r2-01
            - status: staged
            - comment: hardware validated

    CLI Example:

    .. code-block:: bash

        salt-call state.single netbox.device_status srv-r2-09 status=active comment='validated by Salt'
    """

    def run(ret):
        if not isinstance(status, str) or not status:
            raise SaltInvocationError(
                f"status must be a NetBox status value such as 'staged', got {status!r}"
            )
        src = _source()
        dev = ops.find_device(src, name)
        if dev is None:
            raise ops.NotInNetBox(f"device {name!r} not found in NetBox (dcim.devices)")
        old = simplify(dev.get("status"))
        if old == status:
            ret["comment"] = f"device {name} already has status {status}"
            return ret
        changes = {"status": {"old": old, "new": status}}
        if _test():
            ret["result"] = None
            ret["changes"] = changes
            ret["comment"] = f"device {name} status would change {old} -> {status}"
            return ret
        try:
            after, entry = ops.change_status(
                src, dev, status, comment, jid=_jid(), who=__opts__.get("id")
            )
        except NetBoxError:
            # the status may be written and the journal entry not: report what NetBox has
            with contextlib.suppress(NetBoxError):
                if simplify(src.get("dcim.devices", dev["id"]).get("status")) == status:
                    ret["changes"] = changes
            raise
        if entry is None:
            return _fail(ret, f"NetBox did not keep status {status!r} on device {name} ({after})")
        ret["changes"] = dict(changes, journal_entry=entry["id"])
        ret["comment"] = f"device {name} status {old} -> {status} (journal entry {entry['id']})"
        return ret

    return _run(name, "device", run)


# -- interfaces, MACs, IPs ----------------------------------------------------------------------
def _device_or_fail(src, device):
    dev = ops.find_device(src, device)
    if dev is None:
        raise ops.NotInNetBox(f"device {device!r} not found in NetBox (dcim.devices)")
    return dev


def interface_present(name, device, **kwargs):
    """
    Ensure an interface of a device exists with the given fields (``type`` is required to
    create it). ``lag``, ``parent`` and ``bridge`` name interfaces of the same device.

    .. code-block:: yaml

        srv-r2-01 bond0:
          netbox.interface_present:
            - name: bond0
            - device: srv-r2-01
            - type: lag
            - mtu: 9000

    CLI Example:

    .. code-block:: bash

        salt-call state.single netbox.interface_present ens3f0 device=srv-r2-09 type=25gbase-x-sfp28 mtu=9000
    """

    def run(ret):
        src = _source()
        dev = _device_or_fail(src, device)
        fields = {"device": dev["id"], "name": name, **_fields(kwargs)}
        current = ops.Resolver(src).find_one(
            "dcim.interfaces", {"device_id": dev["id"], "name": name}
        )
        if current is None and "type" not in fields:
            raise SaltInvocationError(
                f"interface {device}:{name} does not exist: type is required to create it "
                "(for example type: 1000base-t)"
            )
        lookup = {"id": current["id"]} if current else None
        res = ops.ensure(src, "dcim.interfaces", fields, lookup=lookup, test=_test())
        res["name"] = f"{dev['name']}:{name}"
        if res["action"] == "created":
            res["changes"] = {"created": res["name"]}
        return _report(ret, res, "interface")

    return _run(f"{device}:{name}", "interface", run)


def _mac_object(src, mac, iface_id):
    found = src.list("dcim.mac-addresses", {"mac_address": mac})
    here = [
        m
        for m in found
        if m.get("assigned_object_type") == "dcim.interface"
        and m.get("assigned_object_id") == iface_id
    ]
    if here:
        return here[0]
    return found[0] if len(found) == 1 else None


def _interface_change(res, iface):
    """Show a new assignment as ``interface: {old: "dev:if", new: "dev:if"}``."""
    changes = res["changes"]
    if iface is not None and "assigned_object_id" in changes:
        changes.pop("assigned_object_type", None)
        changes["interface"] = {
            "old": changes.pop("assigned_object_id")["old"],
            "new": f"{iface['device']['name']}:{iface['name']}",
        }


def _release_primary(src, mac_obj, iface):
    """
    Before a MAC address object moves to ``iface``: NetBox refuses to move the primary MAC of
    an interface, so clear the old interface's ``primary_mac_address`` first (not with
    ``test=True``). Returns ``"device:interface"`` of the interface released, or None.
    """
    if not mac_obj or not mac_obj.get("assigned_object_id"):
        return None
    old = (mac_obj.get("assigned_object_type"), mac_obj.get("assigned_object_id"))
    if old == ("dcim.interface", iface["id"]):
        return None
    owner_endpoint = eps.endpoint_for_type(old[0])
    owner = src.get(owner_endpoint, old[1])
    if simplify(owner.get("primary_mac_address")) != mac_obj["id"]:
        return None
    parent = owner.get("device") or owner.get("virtual_machine") or {}
    label = f"{parent.get('name')}:{owner.get('name')}"
    if not _test():  # NetBox's own message says so should it still refuse the move
        src.update(owner_endpoint, owner["id"], {"primary_mac_address": None})
    return label


def mac_address_present(name, device, interface, primary=True, **kwargs):
    """
    Ensure a MAC address object exists on an interface (moved there if it is elsewhere) and, by
    default, is the interface's primary MAC address.

    name
        the MAC address (any usual notation)
    device, interface
        where it belongs
    primary
        make it the interface's primary MAC address (default True)

    .. code-block:: yaml

        24:6e:96:02:11:01:
          netbox.mac_address_present:
            - device: srv-r2-01
            - interface: eno1

    CLI Example:

    .. code-block:: bash

        salt-call state.single netbox.mac_address_present 02:00:5e:10:02:21 device=srv-r2-09 interface=ens3f0
    """

    def run(ret):
        src = _source()
        mac = normalize_mac(name)
        iface = ops.find_interface(src, interface, _device_or_fail(src, device))
        fields = {
            "mac_address": mac,
            "assigned_object_type": "dcim.interface",
            "assigned_object_id": iface["id"],
            **_fields(kwargs),
        }
        current = _mac_object(src, mac, iface["id"])
        lookup = {"id": current["id"]} if current else None
        released = _release_primary(src, current, iface)
        res = ops.ensure(src, "dcim.mac-addresses", fields, lookup=lookup, test=_test())
        if released:
            res["changes"]["released_primary"] = {"old": released, "new": None}
        _interface_change(res, iface)
        _report(ret, res, "MAC address")
        if primary and ret["result"] is not False:
            mac_id = (res.get("object") or {}).get("id")
            have = iface.get("primary_mac_address") or {}
            if mac_id is None or simplify(have) != mac_id:
                change = {"old": have.get("mac_address"), "new": mac}
                if _test():
                    ret["result"] = None
                else:
                    src.update("dcim.interfaces", iface["id"], {"primary_mac_address": mac_id})
                    after = src.get("dcim.interfaces", iface["id"])
                    if simplify(after.get("primary_mac_address")) != mac_id:
                        return _fail(ret, f"NetBox did not make {mac} primary on {iface['name']}")
                ret["changes"]["primary_mac_address"] = change
                ret["comment"] += f"; primary on {iface['name']}"
        return ret

    return _run(name, "MAC address", run)


def ip_address_present(name, device=None, interface=None, vrf=None, primary=False, **kwargs):
    """
    Ensure an IP address exists (found by address and VRF; a different mask is an update),
    optionally assigned to an interface and made the device's primary address.

    name
        the address with its mask (``10.10.2.11/24``)
    device, interface
        assign it to this interface
    vrf
        its VRF (name or id; default: global)
    primary
        make it the device's primary IPv4/IPv6 address

    .. code-block:: yaml

        10.10.2.11/24:
          netbox.ip_address_present:
            - device: srv-r2-01
            - interface: bond0
            - dns_name: srv-r2-01.lab1.example.net
            - status: active
            - primary: True

    CLI Example:

    .. code-block:: bash

        salt-call state.single netbox.ip_address_present 10.10.2.21/24 device=srv-r2-09 interface=bond0 primary=True
    """

    def run(ret):
        src = _source()
        fields = {"address": name, **_fields(kwargs)}
        if vrf is not None:
            fields["vrf"] = vrf
        iface = None
        if interface is not None:
            iface = ops.find_interface(src, interface, device)
            fields["assigned_object_type"] = "dcim.interface"
            fields["assigned_object_id"] = iface["id"]
        elif primary:
            raise SaltInvocationError("primary=True needs device and interface")
        res = ops.ensure(
            src, "ipam.ip-addresses", fields, lookup={"address": name, "vrf": vrf}, test=_test()
        )
        _interface_change(res, iface)
        _report(ret, res, "IP address")
        if primary and ret["result"] is not False:
            obj = res.get("object")
            family = 6 if ":" in name else 4
            dev = src.get("dcim.devices", iface["device"]["id"])
            field = f"primary_ip{family}"
            have = simplify(dev.get(field))
            if obj is None or have != obj["id"]:
                change = {"old": (dev.get(field) or {}).get("address"), "new": name}
                if _test():
                    ret["result"] = None
                    ret["changes"][field] = change
                else:
                    res = ops.ensure(
                        src, "dcim.devices", {field: obj["id"]}, lookup={"id": dev["id"]}
                    )
                    if res.get("not_kept"):
                        return _fail(
                            ret, f"NetBox did not make {name} the {field} of {dev['name']}"
                        )
                    ret["changes"][field] = change
                    ret["comment"] += f"; {field} of {dev['name']}"
        return ret

    return _run(name, "IP address", run)


# -- cables -------------------------------------------------------------------------------------
def _end(src, value, label):
    if isinstance(value, dict):
        return ops.find_interface(
            src, value.get("name") or value.get("interface"), value.get("device")
        )
    if isinstance(value, str) and ":" in value:
        return ops.find_interface(src, value)
    raise SaltInvocationError(
        f"{label} must be 'device:interface' or {{device: .., interface: ..}}, got {value!r}"
    )


def _peer_ids(cable, side):
    return {
        t.get("object_id")
        for t in cable.get(f"{side}_terminations") or []
        if t.get("object_type") == "dcim.interface"
    }


def cable_present(name, a, b, **kwargs):
    """
    Ensure a cable connects two interfaces (in either direction). A cable already on one of the
    interfaces going elsewhere is an error: remove it first.

    name
        the state id (not sent to NetBox; use ``label`` for the cable's label)
    a, b
        the two ends, ``device:interface`` or ``{device: .., interface: ..}``
    kwargs
        cable fields: ``type``, ``status``, ``label``, ``color``, ``length``, ``length_unit``,
        ``tenant``, ``tags``, ...

    .. code-block:: yaml

        srv-r2-01 eno1 uplink:
          netbox.cable_present:
            - a: srv-r2-01:eno1
            - b: tor1-r2:Ethernet1
            - type: dac-passive
            - status: planned

    CLI Example:

    .. code-block:: bash

        salt-call state.single netbox.cable_present uplink a=srv-r2-09:eno1 b=tor1-r2:Ethernet9 type=dac-passive
    """

    def run(ret):
        src = _source()
        end_a, end_b = _end(src, a, "a"), _end(src, b, "b")
        fields = _fields(kwargs)
        label = f"{end_a['device']['name']}:{end_a['name']} <-> {end_b['device']['name']}:{end_b['name']}"
        cable_id = simplify(end_a.get("cable")) or simplify(end_b.get("cable"))
        if cable_id:
            cable = src.get("dcim.cables", cable_id)
            ids_a, ids_b = _peer_ids(cable, "a"), _peer_ids(cable, "b")
            connected = (end_a["id"] in ids_a and end_b["id"] in ids_b) or (
                end_a["id"] in ids_b and end_b["id"] in ids_a
            )
            if not connected:
                raise SaltInvocationError(
                    f"cable {cable_id} ({cable.get('display')}) already uses one end of {label}; "
                    "remove or change that cable first"
                )
            res = ops.ensure(src, "dcim.cables", fields, lookup={"id": cable_id}, test=_test())
            res["name"] = label
            return _report(ret, res, "cable")
        if _test():
            ret["result"] = None
            ret["changes"] = {"created": label}
            ret["comment"] = f"cable {label} would be created"
            return ret
        payload = ops.Resolver(src).resolve_fields("dcim.cables", fields)
        payload["a_terminations"] = [{"object_type": "dcim.interface", "object_id": end_a["id"]}]
        payload["b_terminations"] = [{"object_type": "dcim.interface", "object_id": end_b["id"]}]
        made = src.create("dcim.cables", payload)
        ret["changes"] = {"created": label}
        res = ops.ensure(src, "dcim.cables", fields, lookup={"id": made["id"]}, create=False)
        if res["action"] == "updated":
            return _fail(ret, f"NetBox did not keep {', '.join(res['changes'])} on cable {label}")
        ret["comment"] = f"cable {label} created (id {made['id']})"
        return ret

    return _run(name, "cable", run)


# -- journal ------------------------------------------------------------------------------------
def journal_entry(name, obj=None, comments=None, kind="info"):
    """
    Ensure an object's journal has an entry with these comments (written once: an entry whose
    text is the same, apart from the line naming the Salt job, counts). The entry names the
    Salt job that wrote it.

    name
        the comments when ``comments`` is not given
    obj
        the object: a device name or id, ``endpoint:id``, or ``{endpoint: .., id: ..}``
    kind
        ``info``, ``success``, ``warning`` or ``danger``

    .. code-block:: yaml

        srv-r2-01 racked:
          netbox.journal_entry:
            - obj: srv-r2-01
            - comments: racked and cabled by the turn-up
            - kind: success

    CLI Example:

    .. code-block:: bash

        salt-call state.single netbox.journal_entry racked obj=srv-r2-09 comments='racked and cabled'
    """

    def run(ret):
        src = _source()
        text = comments or name
        entry_kind = jrnl.check_kind(kind)
        if obj is None:
            raise SaltInvocationError("obj (the object to write the journal of) is required")
        object_type, object_id, label = ops.object_ref(src, obj)
        existing = src.list(
            "extras.journal-entries",
            {"assigned_object_type": object_type, "assigned_object_id": object_id},
        )
        for entry in existing:
            if jrnl.same_comment(entry.get("comments"), text):
                ret["comment"] = f"journal of {label} already has this entry ({entry['id']})"
                return ret
        changes = {"journal_entry": {"old": None, "new": text}}
        if _test():
            ret["result"] = None
            ret["changes"] = changes
            ret["comment"] = f"journal entry on {label} would be written"
            return ret
        made = ops.write_journal(
            src, object_type, object_id, text, kind=entry_kind, jid=_jid(), who=__opts__.get("id")
        )
        ret["changes"] = dict(changes, id=made["id"])
        ret["comment"] = f"journal entry {made['id']} written on {label}"
        return ret

    return _run(name, "journal entry", run)
