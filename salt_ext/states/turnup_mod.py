"""
Turn-up states: the steps of ``orch.decommission`` that are not plain NetBox or Salt calls.

:depends: the ``netbox`` execution module; ``hardware`` on the minions (``turnup.wiped``)

- ``turnup.decommission_confirmed`` (master, orchestrate): refuses the run unless ``confirm``
  lists exactly the devices being decommissioned;
- ``turnup.wiped`` (minion): zero the box's disks, only when NetBox says ``decommissioning``
  and the device is in ``confirm``;
- ``turnup.minion_key_absent`` (master): the minion's key is deleted (wheel ``key.delete``);
- ``turnup.autosign_absent`` (master): the serial leaves the autosign grains file (and the
  minion id the ``autosign_file``), so the box is not accepted again by itself.

Every state honours ``test=True`` (``result: None`` and the predicted changes).

.. code-block:: yaml

    wipe srv-r1-04:
      turnup.wiped:
        - name: srv-r1-04
        - confirm: [srv-r1-04]
"""

import logging
import os

import salt.key
import salt.utils.files
import salt.wheel
from salt.exceptions import SaltInvocationError

from salt_ext.utils.netbox_ops import ops
from salt_ext.utils.netbox_ops.diff import simplify
from salt_ext.utils.turnup import autosign
from salt_ext.utils.turnup import decommission as dcm
from salt_ext.utils.turnup import stepcall

try:
    from salt_ext.utils.netbox import NetBoxError
    from salt_ext.utils.netbox_ops import glue

    HAS_ACCESS_LAYER = True
except ImportError:  # pragma: no cover - packaging problem
    HAS_ACCESS_LAYER = False

log = logging.getLogger(__name__)

__virtualname__ = "turnup"


def __virtual__():
    if not HAS_ACCESS_LAYER:
        return (False, "turnup states: the NetBox access layer cannot be imported")
    if "netbox.get" not in __salt__:
        return (False, "turnup states need the netbox execution module (netbox.get)")
    return __virtualname__


def _ret(name):
    return {"name": name, "result": True, "comment": "", "changes": {}}


def _test():
    return bool(__opts__.get("test"))


def _source():
    return glue.source(__opts__, __context__, globals().get("__pillar__"))


def decommission_confirmed(
    name, *, site=None, devices=None, rack=None, confirm=None, drain=None, wipe=True
):
    """
    Refuse a decommission unless ``confirm`` lists exactly the devices it takes out (``devices``
    or every device of ``rack`` in ``site``). Changes nothing; the later steps of
    ``orch.decommission`` require it. The comment lists the devices to take out and those
    already ``offline``.

    .. code-block:: yaml

        decommission-confirmed:
          turnup.decommission_confirmed:
            - site: lab1
            - devices: [srv-r1-04]
            - confirm: [srv-r1-04]

    CLI Example:

    .. code-block:: bash

        salt-run state.orchestrate orch.decommission pillar='{site: lab1, devices: [srv-r1-04], confirm: [srv-r1-04]}'
    """
    ret = _ret(name)
    try:
        result = dcm.plan(
            _source(),
            site,
            devices=devices,
            rack=rack,
            confirm=confirm,
            drain=drain,
            wipe_disks=wipe,
        )
    except (SaltInvocationError, NetBoxError) as err:
        ret.update(result=False, comment=f"decommission refused, nothing changed: {err}")
        return ret
    if not result["confirmed"]:
        ret.update(
            result=False, comment=f"decommission refused, nothing changed: {result['problem']}"
        )
        return ret
    parts = []
    if result["todo"]:
        parts.append(f"decommissioning {', '.join(result['todo'])}")
    if result["done"]:
        parts.append(f"already offline (left alone): {', '.join(result['done'])}")
    ret["comment"] = "; ".join(parts) + " (confirmed)"
    return ret


def _this_device(src, name):
    dev = ops.find_device(src, name)
    if dev is None:
        raise SaltInvocationError(f"device {name!r} not found in NetBox (dcim.devices)")
    mine = ops.find_device(src, minion_id=__opts__.get("id"))
    if mine is None or mine["id"] != dev["id"]:
        raise SaltInvocationError(
            f"refusing to wipe {name}: this minion ({__opts__.get('id')}) is "
            f"{(mine or {}).get('name') or 'no NetBox device'} in NetBox, not {name}"
        )
    return dev


def wiped(name, confirm=None, disks=None, span_mib=16):
    """
    Wipe a decommissioned box's disks: zero the first and last ``span_mib`` MiB of every disk
    of its inventory (partition tables, GPT backup, RAID/LVM/filesystem signatures), then read
    them back. Refuses unless NetBox says the device is ``decommissioning``, the device is in
    ``confirm`` and this minion is that device. A box simulated with ``hardware:simulate`` has
    its disks as files under ``hardware:root`` (``<root>/dev/sda``); a real box refuses disks
    holding a mounted filesystem (boot the rescue image first). Idempotent: disks already zero
    there are left alone.

    name
        the NetBox device name (this minion's device)
    confirm
        the device names the operator confirmed (the orchestration passes its pillar's)
    disks
        only these disk names (default: every disk of the inventory)
    span_mib
        MiB zeroed at each end of each disk (default 16)

    .. code-block:: yaml

        wipe srv-r1-04:
          turnup.wiped:
            - name: srv-r1-04
            - confirm: [srv-r1-04]

    CLI Example:

    .. code-block:: bash

        salt srv-r1-04 state.single turnup.wiped srv-r1-04 confirm='[srv-r1-04]' test=True
    """
    ret = _ret(name)
    try:
        span = int(span_mib) * 1024 * 1024
        if span <= 0:
            raise ValueError
    except (TypeError, ValueError):
        ret.update(result=False, comment=f"span_mib must be a positive number, got {span_mib!r}")
        return ret
    try:
        only = dcm.names(disks, "disks") if disks else None
        src = _source()
        dev = _this_device(src, name)
        status = simplify(dev.get("status"))
        refusal = dcm.wipe_refusal(name, status, confirm)
        predicted = False
        if (
            refusal
            and _test()
            and status != dcm.WIPE_STATUS
            and dcm.wipe_refusal(name, dcm.WIPE_STATUS, confirm) is None
        ):
            predicted = True  # orch.decommission sets decommissioning just before (not in test)
        elif refusal:
            ret.update(result=False, comment=refusal)
            return ret
        settings = __salt__["config.get"]("hardware", {}) or {}
        simulated = bool(settings.get("simulate"))
        root = settings.get("root") or "/"
        inventory = __salt__["hardware.inventory"]()
        targets = dcm.disk_targets(inventory.get("disks"), root, simulated, only)
    except (SaltInvocationError, NetBoxError) as err:
        ret.update(result=False, comment=str(err))
        return ret
    if not targets:
        ret.update(result=False, comment=f"{name}: the inventory lists no disk to wipe")
        return ret
    todo, problems = [], []
    for disk, path in targets:
        problem = dcm.check_target(path, root, simulated)
        if problem:
            problems.append(problem)
        elif not dcm.is_wiped(path, span):
            todo.append((disk, path))
    if problems:
        ret.update(result=False, comment=f"refusing to wipe {name}: " + "; ".join(problems))
        return ret
    if not todo:
        ret["comment"] = f"disks of {name} already wiped: " + ", ".join(d for d, _ in targets)
        return ret
    changes = {"wiped": {disk: path for disk, path in todo}}
    if _test():
        ret.update(result=None, changes=changes)
        ret["comment"] = f"would wipe {', '.join(d for d, _ in todo)} of {name}"
        if predicted:
            ret["comment"] += (
                f" (NetBox says {status} now; the wipe runs only after orch.decommission sets "
                f"{dcm.WIPE_STATUS})"
            )
        return ret
    for _disk, path in todo:
        dcm.wipe(path, span)
    left = [disk for disk, path in todo if not dcm.is_wiped(path, span)]
    if left:
        ret.update(
            result=False, comment=f"{', '.join(left)} of {name} still hold data after the wipe"
        )
        return ret
    ret["changes"] = changes
    ret["comment"] = f"wiped {', '.join(d for d, _ in todo)} of {name} ({span_mib} MiB at each end)"
    return ret


def minion_key_absent(name):
    """
    Ensure the master holds no key (accepted, pending, rejected or denied) of minion ``name``:
    deleted with wheel ``key.delete``, then checked.

    .. code-block:: yaml

        srv-r1-04 key removed:
          turnup.minion_key_absent:
            - name: srv-r1-04.lab1.example.net

    CLI Example:

    .. code-block:: bash

        salt-run state.orchestrate orch.decommission pillar='{site: lab1, devices: [srv-r1-04], confirm: [srv-r1-04]}'
    """
    ret = _ret(name)

    def held():
        keys = salt.key.get_key(__opts__).list_keys()
        return sorted(state for state, ids in keys.items() if name in (ids or []))

    states = held()
    if not states:
        ret["comment"] = f"minion {name} has no key on this master"
        return ret
    changes = {"key": {"old": ", ".join(states), "new": None}}
    if _test():
        ret.update(result=None, changes=changes, comment=f"key of minion {name} would be deleted")
        return ret
    salt.wheel.WheelClient(__opts__).cmd("key.delete", [name], print_event=False)
    left = held()
    if left:
        ret.update(
            result=False, comment=f"key of minion {name} still there after key.delete ({left})"
        )
        return ret
    ret.update(changes=changes, comment=f"key of minion {name} deleted")
    return ret


def _drop_lines(path, value, case=True):
    """Remove the lines equal to ``value`` from ``path``; returns the lines removed."""
    with salt.utils.files.fopen(path, "r") as handle:
        lines = handle.readlines()

    def same(line):
        text = line.strip()
        return text == value or (not case and text.upper() == value.upper())

    gone = [line.strip() for line in lines if same(line)]
    if gone and not _test():
        kept = "".join(line for line in lines if not same(line))
        tmp = f"{path}.turnup-tmp"
        with salt.utils.files.fopen(tmp, "w") as handle:
            handle.write(kept)
        os.chmod(tmp, os.stat(path).st_mode & 0o777)
        os.replace(tmp, path)
    return gone


def autosign_absent(name, minion=None, grain="serialnumber"):
    """
    Ensure serial ``name`` is not in the master's ``<autosign_grains_dir>/<grain>`` file (the
    file ``netbox.sync_autosign`` writes; rewritten under its lock) and minion id ``minion`` is
    not a line of the ``autosign_file``: a decommissioned box that boots again is not accepted
    by itself. Nothing to do when neither is configured.

    .. code-block:: yaml

        srv-r1-04 autosign removed:
          turnup.autosign_absent:
            - name: LAB1R1S04
            - minion: srv-r1-04.lab1.example.net

    CLI Example:

    .. code-block:: bash

        salt-run state.orchestrate orch.decommission pillar='{site: lab1, devices: [srv-r1-04], confirm: [srv-r1-04]}'
    """
    ret = _ret(name)
    changes, notes = {}, []
    directory = __opts__.get("autosign_grains_dir")
    if name and directory:
        autosign.check_grain(grain)
        path = os.path.join(directory, grain)
        if os.path.exists(path):
            with autosign.locked(directory, grain):
                gone = _drop_lines(path, str(name).strip(), case=False)
            if gone:
                changes["autosign_grains"] = {"old": gone, "new": None, "file": path}
        else:
            notes.append(f"no {path}")
    autosign_file = __opts__.get("autosign_file")
    if minion and autosign_file and os.path.exists(autosign_file):
        gone = _drop_lines(autosign_file, str(minion).strip())
        if gone:
            changes["autosign_file"] = {"old": gone, "new": None, "file": autosign_file}
    if not changes:
        ret["comment"] = f"serial {name} is in no autosign file" + (
            f" ({'; '.join(notes)})" if notes else ""
        )
        return ret
    ret["changes"] = changes
    if _test():
        ret.update(result=None, comment=f"serial {name} would be removed from autosign")
    else:
        ret["comment"] = f"serial {name} removed from autosign"
    return ret


def rollout_planned(name, *, site=None, generation=None, batch="25%", canary=1):
    """
    Refuse a generation rollout that cannot be planned (unknown site or generation, no active
    box of it, a bad ``batch``/``canary``), naming the fix; otherwise list its waves. Changes
    nothing; every wave of ``orch.hwgen_rollout`` requires it. Fails with ``test=True`` too.

    .. code-block:: yaml

        rollout-planned:
          turnup.rollout_planned:
            - site: lab1
            - generation: gen10
            - batch: 25%

    CLI Example:

    .. code-block:: bash

        salt-run state.orchestrate orch.hwgen_rollout pillar='{site: lab1, generation: gen10}'
    """
    from salt_ext.utils.turnup import rollout  # noqa: PLC0415  # pylint: disable=C0415

    ret = _ret(name)
    try:
        plan = rollout.plan(_source(), site, generation, batch, canary)
    except (SaltInvocationError, NetBoxError) as err:
        ret.update(result=False, comment=f"rollout refused, nothing applied: {err}")
        return ret
    ret["comment"] = f"{generation} in {plan['site']}: " + "; ".join(
        f"{w['name']}: {', '.join(w['devices'])}" for w in plan["waves"]
    )
    return ret


# --- rack turn-up steps (helper C) -------------------------------------------------------------


def step(name, *, site=None, rack=None, run=None, run_state=None, **kwargs):
    """
    One step of a rack turn-up (``orch.rack_turnup``): runs the runner ``turnup.step`` with
    ``step=<name>`` on the master. Use this rather than ``salt.runner``: in Salt 3008
    ``salt.runner`` does not call the runner at all under ``test=True``, so nothing could be
    predicted; here the runner runs with ``test=True``, writes nothing and returns the NetBox
    changes it would make (``result: None``). The state fails when the runner's job fails (the
    failures passed ``max_failures``, the canary failed, bad input). ``changes`` are the
    per-device changes (``{device: {status: {old, new}}}``); the runner's whole return is in
    ``changes.return`` for ``finish``.

    name
        The step: ``start``, ``stage``, ``wait_minions``, ``sync_all``, ``validate``,
        ``sync_inventory``, ``highstate``, ``postcheck``, ``activate``, ``finish``.
    site, rack
        The rack (or ``run`` = a run id).
    run_state
        With ``finish``: the state the run is recorded in (``stopped``: the SLS's ``onfail``
        state, after a step failed), the runner's ``state``. An SLS argument cannot be named
        ``state``: Salt keeps that key for the state module's name and drops it.
    kwargs
        Passed to the runner (``batch``, ``max_failures``, ``minion_timeout``, ``devices``,
        ``new``).

    .. code-block:: yaml

        turnup-validate:
          turnup.step:
            - name: validate
            - site: lab1
            - rack: R2

    CLI Example:

    .. code-block:: bash

        salt-run state.orchestrate orch.rack_turnup pillar='{site: lab1, rack: R2}' test=True
    """
    ret = _ret(name)
    test = _test()
    extra = {k: v for k, v in kwargs.items() if not k.startswith("__") and v is not None}
    if run_state is not None:
        extra["state"] = run_state
    try:
        jid = __orchestration_jid__  # noqa: F821  # pylint: disable=undefined-variable
    except NameError:
        jid = None
    kwarg = dict(
        step=name, site=site, rack=rack, run=run, test=test, orchestration_jid=jid, **extra
    )
    out = stepcall.run(
        __context__,
        __opts__,
        "turnup.step",
        kwarg,
        fallback=lambda: __salt__["saltutil.runner"]("turnup.step", full_return=True, **kwarg),
        last=name == "finish",
    )
    value = out.get("return") if isinstance(out, dict) else out
    success = isinstance(out, dict) and out.get("success", True) and isinstance(value, dict)
    if not isinstance(value, dict):
        ret.update(result=False, comment=f"turnup.step {name} failed: {value}")
        return ret
    failed = value.get("failed") or {}
    comment = (
        value.get("comment")
        or value.get("error")  # the runner failed: its message (NetBox's, the bad input)
        or f"step {name} of run {value.get('run')}"
    )
    if failed and name != "finish":  # finish names them itself
        comment += "; failed so far: " + ", ".join(f"{d} at {s}" for d, s in sorted(failed.items()))
    ret["comment"] = comment
    ret["changes"] = dict(value.get("changes") or {})
    if name == "finish" or (not success):
        ret["changes"]["return"] = value
    if not success:
        ret["result"] = False
    elif test:
        ret["result"] = None if (ret["changes"] or name == "start") else True
    return ret
