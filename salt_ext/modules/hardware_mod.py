"""
Hardware inventory and validation of a server against its NetBox record and its hardware
generation profile.

:depends: dmidecode, util-linux (lscpu, lsblk), iproute2, ethtool; optionally nvme-cli, lldpd
    (lldpctl), ipmitool. A missing tool only yields a ``warnings`` entry.

Configuration (minion config or pillar, key ``hardware``):

.. code-block:: yaml

    hardware:
      # Read captured data instead of running tools (rehearsals, integration tests):
      #   a captured inventory file (.json/.yaml), a directory of raw outputs, a YAML/JSON file
      #   holding a simulation spec, or the spec itself:
      simulate:
        dir: /srv/hw/srv-r1-01                 # lsblk.json, ip-addr.json, lldpctl.json, ...
        dmidecode: /srv/hw/dmidecode/M630.txt
        overrides: {system: {serial: LAB1R1S01}}
      root: /                                  # where hwgen writes its files (tests: a tmp dir)
      paths: {network_dir: etc/systemd/network}  # relative to root, or absolute
      apply_live: true                         # reload sysctl/udev/networkd, update-grub
      validate: true                           # hwgen files wait for hardware.validated
      postcheck: false                         # hwgen ends with hardware.postchecked
      device: srv-r1-01                        # NetBox device name (default: by minion id)

The NetBox side comes from the NetBox pillar (``netbox:``) when it carries the device, else from
the NetBox access layer (``netbox:`` configuration, see docs/architecture.md).
"""

import logging
import os

import salt.pillar
import salt.utils.path
from salt.exceptions import CommandExecutionError, SaltInvocationError

from salt_ext.utils.hardware import inventory as inv
from salt_ext.utils.hardware import profiles as hwprofiles
from salt_ext.utils.hardware import render as hwrender
from salt_ext.utils.hardware import services as hwservices
from salt_ext.utils.hardware import validate as hwvalidate

log = logging.getLogger(__name__)

__virtualname__ = "hardware"


def __virtual__():
    return __virtualname__


def _settings():
    settings = __salt__["config.get"]("hardware", {}) or {}
    if not isinstance(settings, dict):
        raise SaltInvocationError(
            f"configuration 'hardware' must be a mapping (got {type(settings).__name__})"
        )
    return settings


def _run(argv):
    """``(returncode, stdout, stderr)``; never raises (a tool that cannot even be started, e.g.
    a broken interpreter line, is a failed source like any other)."""
    try:
        ret = __salt__["cmd.run_all"](
            argv, python_shell=False, ignore_retcode=True, output_loglevel="trace", timeout=60
        )
    except CommandExecutionError as err:
        # "Unable to run command '...' with the context '{...}', reason: ..." -> without context
        message = str(err)
        head, found, _ = message.partition(" with the context ")
        reason = message.rpartition("reason: ")[2]
        return 126, "", f"{head}: {reason}" if found else message
    return ret.get("retcode", 1), ret.get("stdout") or "", ret.get("stderr") or ""


def _read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def inventory(simulate=None, only=None):
    """
    Inventory this server: system, board, chassis, CPUs, memory and DIMMs, disks, NICs, LLDP
    neighbours, BMC, PSUs, firmware, placeholder serials and warnings for unavailable sources.

    simulate
        Read captured data instead of running the tools (overrides ``hardware:simulate``):
        a path to a captured inventory, a directory of raw outputs or a spec file.
    only
        Read only these sources (a list or a comma-separated string of ``dmidecode``,
        ``lscpu``, ``lsblk``, ``nvme``, ``ip``, ``lldp``, ``ipmitool_lan``, ``ipmitool_mc``,
        ``meminfo``, ``ethtool``); the others are listed as ``skipped`` in ``sources``. A
        simulated box returns its whole inventory.

    CLI Example:

    .. code-block:: bash

        salt '*' hardware.inventory
        salt-call hardware.inventory simulate=/srv/hw/srv-r1-01
        salt '*' hardware.inventory only=ip,lldp
    """
    if isinstance(only, str):
        only = [o.strip() for o in only.split(",") if o.strip()]
    if only is not None and (
        not isinstance(only, (list, tuple)) or not set(only) <= set(inv.SOURCES)
    ):
        raise SaltInvocationError(
            f"only must list inventory sources among {', '.join(inv.SOURCES)}, got {only!r}"
        )
    spec = simulate if simulate is not None else _settings().get("simulate")
    if spec:
        try:
            return inv.simulate(spec)
        except inv.SimulationError as err:
            raise SaltInvocationError(str(err)) from err
    return inv.collect(_run, salt.utils.path.which, _read, only=only)


# --- NetBox side --------------------------------------------------------------------------------


def _netbox_from_pillar(device, pillar=None):
    data = (__pillar__ if pillar is None else pillar).get("netbox") or {}
    if not isinstance(data, dict) or not data.get("name") or "interfaces" not in data:
        return None
    if device is not None and device != data.get("name"):
        return None
    dtype = data.get("device_type") or {}
    return {
        "device": {"id": data.get("id"), "name": data.get("name"), "serial": data.get("serial")},
        "device_type": {
            "slug": dtype.get("slug"),
            "model": dtype.get("model"),
            "custom_fields": dtype.get("custom_fields")
            or {"hw_generation": dtype.get("hw_generation")},
        },
        "interfaces": data.get("interfaces") or {},
        "ip_addresses": None,
        "cables": None,
        "config_context": data.get("config_context") or {},
        "source": "pillar",
        # the pillar's freshness: stale when it is the last good copy served while NetBox failed
        "meta": data.get("_meta") if isinstance(data.get("_meta"), dict) else {},
    }


def _netbox_from_source(device, addresses):
    # Imported here: the access layer is only needed when the pillar lacks the device.
    from salt_ext.utils.netbox import NetBoxError  # noqa: PLC0415
    from salt_ext.utils.netbox import get_source  # noqa: PLC0415
    from salt_ext.utils.netbox_ops import ops  # noqa: PLC0415

    try:
        src = get_source(__opts__, __context__, __pillar__)
        if device is None:
            dev = ops.find_device(src, minion_id=__opts__.get("id"))
        else:
            dev = ops.find_device(src, device)
        if dev is None:
            raise CommandExecutionError(
                f"device {device or __opts__.get('id')!r} not found in NetBox (dcim.devices): "
                "create it, set its custom field minion_id, or set hardware:device"
            )
        if "config_context" not in dev:
            dev = src.get("dcim.devices", dev["id"])
        dtype = src.get("dcim.device-types", dev["device_type"]["id"])
        # Interfaces carry their cable peers (connected_endpoints, link_peers): no cable request.
        interfaces = src.list("dcim.interfaces", {"device_id": dev["id"]})
        ips = src.list("ipam.ip-addresses", {"device_id": dev["id"]}) if addresses else None
    except NetBoxError as err:
        raise CommandExecutionError(f"hardware: NetBox lookup failed: {err}") from err
    return {
        "device": dev,
        "device_type": dtype,
        "interfaces": interfaces,
        "ip_addresses": ips,
        "cables": None,
        "config_context": dev.get("config_context") or {},
        "source": "netbox",
        "meta": {},
    }


def _netbox(device=None, addresses=False, pillar=None):
    """The box's NetBox data: from the NetBox pillar (``pillar``, default the minion's) when it
    has the device, else through the access layer (IP addresses only fetched when
    ``addresses``: the rendering needs them)."""
    device = device or _settings().get("device")
    if device is not None and (
        isinstance(device, bool) or not isinstance(device, (str, int)) or device == ""
    ):
        raise SaltInvocationError(
            f"device (or hardware:device) must be a NetBox device name or id, got {device!r}"
        )
    return _netbox_from_pillar(device, pillar) or _netbox_from_source(device, addresses)


def _profile(generation, netbox, pillar=None):
    """
    The profile from pillar (``pillar``, default the minion's); when the pillar does not know the
    box's generation, the one of its NetBox device type. ``netbox`` is the box's NetBox data or a
    function returning it (only called when needed).
    """
    pillar = __pillar__ if pillar is None else pillar
    if generation is not None and (not isinstance(generation, str) or not generation):
        raise SaltInvocationError(
            f"generation must be the name of a hardware generation such as 'gen11', got "
            f"{generation!r}"
        )
    try:
        return hwprofiles.select_profile(pillar, generation)
    except hwprofiles.ProfileError:
        raise
    except SaltInvocationError:
        if generation is not None:
            raise
    # The pillar does not know the generation: take it from the NetBox device type.
    netbox = netbox() if callable(netbox) else netbox
    generation = hwprofiles.hw_generation(netbox["device_type"])
    if generation is None:
        raise SaltInvocationError(
            f"NetBox device type '{netbox['device_type'].get('slug')}' of "
            f"{netbox['device'].get('name')} has no custom field hw_generation: set it in NetBox "
            "or pass generation=<name>"
        )
    return hwprofiles.select_profile(pillar, generation)


def profile(generation=None):
    """
    The hardware generation profile that applies to this box (pillar ``hwgen``, ``netbox:hwgen``
    or ``hwgen_profiles[<generation>]``, the generation coming from the NetBox device type),
    validated against the profile schema.

    generation
        Use this generation instead of the box's own.

    CLI Example:

    .. code-block:: bash

        salt '*' hardware.profile
        salt-call hardware.profile generation=gen12
    """
    return _profile(generation, _netbox)


def validate(  # noqa: PLR0913, PLR0917
    device=None,
    generation=None,
    simulate=None,
    services=False,
    with_inventory=False,
    fresh_pillar=False,
    postcheck=False,
):
    """
    Check this box against NetBox and its generation profile. Returns
    ``{passed, generation, device, checks: [{name, expected, actual, ok, severity, comment}],
    failed, warnings, summary}``.

    Checks: serial equals NetBox's; the hardware's generation equals the NetBox device type's
    ``hw_generation``; CPU, memory, disks, NICs, PSUs and firmware against the profile; every
    NetBox interface MAC present on the box; every cabled NetBox interface's LLDP neighbour equals
    the cable peer (device and port, tolerant of name forms).

    device
        NetBox device name (default: the device of this minion).
    generation
        Validate against this generation's profile instead of the box's own.
    simulate
        See :py:func:`inventory`.
    services
        Also check that the services the profile requires (``services:``) run and are enabled
        (``services.<name>`` checks; Salt's ``service`` module, or the simulation's services on
        a simulated box). The turn-up post-check passes it, after the highstate.
    with_inventory
        Also return the inventory the box was checked with (``inventory``, as
        :py:func:`inventory` returns it): the turn-up writes it to NetBox from the master
        instead of collecting it again.
    fresh_pillar
        Compare against a pillar compiled now by the master (as ``pillar.items`` does) instead
        of the minion's in-memory copy, which is as old as the minion's last pillar refresh: a
        cable or serial fixed in NetBox since then counts. The turn-up's validate passes it.
        A pillar that fails to compile is an error naming Salt's message, never a comparison
        against nothing.
    postcheck
        Only the post-check of a configured box (implies ``services``): the ``cabling.*``
        checks (LLDP against NetBox's cables) and the ``services.*`` checks, on an inventory of
        the NICs and their LLDP neighbours alone (``ip``, ``lldpctl``: no dmidecode, ipmitool
        or ethtool, which take seconds on some boxes). The hardware checks are the validation's
        before the box is configured. ``hardware.postchecked`` and the turn-up pass it.

    CLI Example:

    .. code-block:: bash

        salt '*' hardware.validate
        salt-call hardware.validate generation=gen11
        salt '*' hardware.validate services=True
        salt '*' hardware.validate with_inventory=True fresh_pillar=True
        salt '*' hardware.validate postcheck=True
    """
    pillar = _fresh_pillar() if fresh_pillar else __pillar__
    netbox = _netbox(device, pillar=pillar)
    prof = _profile(generation, netbox, pillar=pillar)
    data = inventory(simulate=simulate, only=hwvalidate.POSTCHECK_SOURCES if postcheck else None)
    report = hwvalidate.validate(
        data,
        prof,
        netbox["device"],
        netbox["interfaces"],
        netbox["cables"],
        device_type=netbox["device_type"],
        profiles=pillar.get("hwgen_profiles") or None,
    )
    if services or postcheck:
        spec = simulate if simulate is not None else _settings().get("simulate")
        try:
            hwservices.add_checks(report, prof, spec, __salt__)
        except inv.SimulationError as err:
            raise SaltInvocationError(str(err)) from err
    if postcheck:
        hwvalidate.restrict(report, hwvalidate.POSTCHECK_PREFIXES)
    report["netbox_source"] = netbox["source"]
    _mark_stale_netbox(report, netbox)
    report["text"] = hwvalidate.format_report(report)
    if with_inventory:
        report["inventory"] = data
    return report


def _fresh_pillar():
    """This minion's pillar compiled now by the master (as ``pillar.items`` compiles it, without
    its output masking); its compile errors (``_errors``: an ext_pillar that failed, a broken
    SLS) raise."""
    pillarenv = __opts__.get("pillarenv")
    if pillarenv is None and __opts__.get("pillarenv_from_saltenv"):
        pillarenv = __opts__.get("saltenv")
    pillar = salt.pillar.get_pillar(
        __opts__, dict(__grains__), __opts__["id"], pillarenv=pillarenv
    ).compile_pillar()
    errors = pillar.get("_errors") if isinstance(pillar, dict) else None
    if not isinstance(pillar, dict) or errors:
        raise CommandExecutionError(
            "hardware: the master could not compile this minion's pillar: "
            + ("; ".join(str(e) for e in errors) if errors else repr(pillar)[:300])
        )
    return pillar


def _mark_stale_netbox(report, netbox):
    """NetBox down: the pillar served its last good copy. The box was compared against that copy,
    so the report says so (``netbox_stale``, a ``netbox.freshness`` warning, the summary)."""
    meta = netbox.get("meta") or {}
    report["netbox_stale"] = bool(meta.get("stale"))
    if not report["netbox_stale"]:
        return
    age = meta.get("age_s")
    synced = meta.get("synced_at") or "an unknown time"
    comment = (
        f"NetBox was not reachable: compared against the pillar's stale copy of NetBox, last "
        f"synced {synced}" + (f" ({age:.0f} s ago)" if isinstance(age, (int, float)) else "")
    )
    if meta.get("error"):
        comment += f"; NetBox said: {meta['error']}"
    comment += "; re-run hardware.validate once NetBox answers (saltutil.refresh_pillar)"
    report["checks"].append(
        {
            "name": "netbox.freshness",
            "expected": "live NetBox data",
            "actual": f"stale copy from {synced}",
            "ok": False,
            "severity": "warning",
            "comment": comment,
        }
    )
    report["warnings"].append("netbox.freshness")
    report["summary"] += "; NetBox data: STALE copy (NetBox unreachable)"


def config(root=None, device=None, generation=None):
    """
    The files the ``hwgen`` SLS writes for this box, rendered from its generation profile and
    NetBox (udev NIC naming, systemd-networkd bond and addresses, sysctl, kernel arguments):
    ``{generation, files: {path: content}, stale: [paths], paths, sysctl, kernel_args,
    network_files, apply_live, reload, validate, device}``. ``stale`` lists files an earlier run
    wrote that the current profile no longer produces (the SLS removes them); ``reload`` the
    commands (udevadm, sysctl, update-grub, networkctl) that make the running system take up the
    changes, with their ``onchanges`` (empty unless ``hardware:apply_live``); ``validate``
    whether the files wait for ``hardware.validated`` (``hardware:validate``, default true);
    ``postcheck`` whether the SLS ends with ``hardware.postchecked`` (links by LLDP, required
    services up): pillar ``turnup:postcheck`` (a rack turn-up's highstate passes it) or
    ``hardware:postcheck`` (default false).

    root
        Write under this directory instead of ``hardware:root`` (default ``/``).

    A simulated box (``hardware:simulate`` set: a rehearsal, the demo, a test) is refused when
    its files would land outside a root of its own (``hardware:root`` unset or ``/``, or a
    ``hardware:paths`` entry pointing elsewhere): it must never reconfigure the host it runs on.

    CLI Example:

    .. code-block:: bash

        salt '*' hardware.config
        salt-call hardware.config root=/tmp/hwgen-preview
    """
    settings = _settings()
    netbox = _netbox(device, addresses=True)
    prof = _profile(generation, netbox)
    root = root or settings.get("root") or "/"
    if not os.path.isabs(root):
        raise SaltInvocationError(f"hardware:root must be an absolute path (got {root!r})")
    try:
        rendered = hwrender.render(
            prof,
            netbox["interfaces"],
            netbox["ip_addresses"],
            netbox["config_context"],
            root=root,
            path_overrides=settings.get("paths"),
        )
    except ValueError as err:
        raise SaltInvocationError(
            f"{err} (device {netbox['device'].get('name')}, NetBox data from {netbox['source']}); "
            "fix it in NetBox, nothing was written"
        ) from err
    network_dir = rendered["paths"]["network_dir"]
    existing = os.listdir(network_dir) if os.path.isdir(network_dir) else []
    stale = hwrender.stale_files(rendered, existing)
    for key in ("udev_rules", "sysctl_file", "kernel_args_file"):
        path = rendered["paths"][key]
        if path not in rendered["files"] and os.path.exists(path):
            with open(path, encoding="utf-8", errors="replace") as handle:
                if handle.read(200).startswith("# Managed by Salt (hardware generation"):
                    stale.append(path)
    rendered["stale"] = stale
    if settings.get("simulate"):
        _refuse_writes_outside_root(rendered, root)
    rendered["apply_live"] = bool(settings.get("apply_live", root == "/"))
    rendered["reload"] = hwrender.reload_commands(rendered, stale) if rendered["apply_live"] else []
    rendered["validate"] = bool(settings.get("validate", True))
    turnup = __pillar__.get("turnup") or {}
    rendered["postcheck"] = bool(
        settings.get("postcheck") or (isinstance(turnup, dict) and turnup.get("postcheck"))
    )
    rendered["device"] = netbox["device"].get("name")
    return rendered


def _refuse_writes_outside_root(rendered, root):
    """A simulated box writes only under a root of its own, never to the host's real files."""
    real_root = os.path.realpath(root)
    if real_root == os.path.realpath("/"):
        raise SaltInvocationError(
            "hardware:simulate is set (this box is simulated) but hardware:root is "
            f"{root!r}: hwgen would write the host's real /etc; set hardware:root to a directory "
            "of the simulation's own (e.g. /srv/hw/srv-r1-01/root), nothing was written"
        )
    paths = list(rendered["files"]) + list(rendered["stale"])
    paths += [p for p in rendered["paths"].values() if isinstance(p, str)]
    for path in paths:
        real = os.path.realpath(path)
        if os.path.commonpath([real, real_root]) != real_root:
            raise SaltInvocationError(
                f"hardware:simulate is set (this box is simulated) and {path!r} is outside "
                f"hardware:root {root!r}: a simulated box writes only under its root; fix "
                "hardware:paths, nothing was written"
            )
