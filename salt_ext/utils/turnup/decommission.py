"""
Decommission: which devices, whether the operator confirmed them, and the disk wipe.

``orch.decommission`` (``states/orch/decommission.sls``) holds the sequence; this module holds
the decisions:

- :func:`plan`: the devices named by ``devices=`` (or every device of ``rack=``) in ``site``,
  each with its minion id (custom field ``minion_id``, else the device name), serial and
  NetBox status; devices already ``offline`` are ``done`` (a re-run changes nothing);
- :func:`check_confirm`: ``confirm`` must list exactly the same device names (a typo, a missing
  or an extra name refuses the whole run, naming the fix);
- :func:`wipe_refusal`: the wipe refuses unless NetBox says ``decommissioning`` and the device
  is in ``confirm``;
- :func:`disk_targets`, :func:`is_wiped`, :func:`wipe`: the disks of the box's inventory, and
  overwriting their first and last :data:`WIPE_SPAN` bytes with zeros (partition tables,
  GPT backup header, RAID/LVM/ZFS/filesystem signatures). A simulated box (``hardware:simulate``)
  has its disks as regular files under ``hardware:root`` (``<root>/dev/sda``): the wipe then
  refuses anything that is not a regular file below that root, so a rehearsal can never reach a
  real disk.
"""

import os
import stat

from salt.exceptions import SaltInvocationError

from salt_ext.utils.netbox_ops.diff import simplify
from salt_ext.utils.turnup import plan as tplan

#: bytes zeroed at the start and at the end of every disk
WIPE_SPAN = 16 * 1024 * 1024
#: NetBox status the wipe requires
WIPE_STATUS = "decommissioning"
DONE_STATUS = "offline"


def names(value, arg):
    """A list of names given as a list or a comma-separated string; ``[]`` for None."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) and v.strip() for v in value):
        return [v.strip() for v in value]
    raise SaltInvocationError(
        f"{arg} must be a list of device names or a comma-separated string, got {value!r}"
    )


def minion_of(dev):
    """The minion id of a NetBox device: custom field ``minion_id``, else its name (the
    planner's rule, :func:`salt_ext.utils.turnup.plan.minion_id`)."""
    return tplan.minion_id(dev)


def _site(src, site):
    if not site or not isinstance(site, str):
        raise SaltInvocationError("site=<site slug> is required, e.g. site=lab1")
    found = src.list("dcim.sites", {"slug": site}) or src.list("dcim.sites", {"name": site})
    if not found:
        known = sorted(s.get("slug") for s in src.list("dcim.sites", {}))
        raise SaltInvocationError(
            f"site {site!r} not found in NetBox (dcim.sites); known sites: {', '.join(known)}"
        )
    return found[0]


def resolve(src, site, devices=None, rack=None):
    """
    The NetBox devices to decommission (``devices`` names in ``site``, or all of ``rack``).
    Raises SaltInvocationError for an unknown site, rack or device, naming what exists.
    """
    wanted = names(devices, "devices")
    if bool(wanted) == bool(rack):
        raise SaltInvocationError(
            "give either devices=<name,...> or rack=<rack name> (exactly one of them), e.g. "
            "pillar='{site: lab1, devices: [srv-r1-04], confirm: [srv-r1-04]}'"
        )
    site_obj = _site(src, site)
    if rack:
        racks = src.list("dcim.racks", {"site_id": site_obj["id"], "name": str(rack)})
        if not racks:
            known = sorted(
                r.get("name") for r in src.list("dcim.racks", {"site_id": site_obj["id"]})
            )
            raise SaltInvocationError(
                f"rack {rack!r} not found in site {site!r} (dcim.racks); racks there: "
                f"{', '.join(known) or 'none'}"
            )
        found = src.list("dcim.devices", {"rack_id": racks[0]["id"]})
        if not found:
            raise SaltInvocationError(f"rack {rack!r} of site {site!r} holds no device")
        return site_obj, sorted(found, key=lambda d: d.get("name") or "")
    found = {
        d.get("name"): d
        for d in src.list_by("dcim.devices", "name", sorted(set(wanted)))
        if (d.get("site") or {}).get("id") == site_obj["id"]
    }
    missing = [n for n in wanted if n not in found]
    if missing:
        raise SaltInvocationError(
            f"devices: {', '.join(missing)} not found in site {site!r} (dcim.devices); check the "
            "names (netbox.filter dcim.devices site=" + str(site) + ")"
        )
    return site_obj, [found[n] for n in dict.fromkeys(wanted)]


def check_confirm(device_names, confirm):
    """
    None when ``confirm`` lists exactly ``device_names``; else why not, naming the fix.
    """
    try:
        confirmed = names(confirm, "confirm")
    except SaltInvocationError as err:
        return str(err)
    wanted = sorted(set(device_names))
    example = "confirm: [" + ", ".join(wanted) + "]"
    if not confirmed:
        return (
            "confirm is missing: decommissioning wipes disks and removes minion keys, so the pillar "
            f"must also list the same device names under confirm ({example})"
        )
    missing = sorted(set(wanted) - set(confirmed))
    extra = sorted(set(confirmed) - set(wanted))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"not confirmed: {', '.join(missing)}")
        if extra:
            parts.append(f"confirmed but not being decommissioned: {', '.join(extra)}")
        return (
            f"confirm does not list the same devices ({'; '.join(parts)}); set {example} "
            "after checking the list"
        )
    return None


def plan(src, site, *, devices=None, rack=None, confirm=None, drain=None, wipe_disks=True):
    """
    What ``orch.decommission`` will do. Raises SaltInvocationError for bad ``site``, ``rack``,
    ``devices`` or ``drain``; a missing or mismatching ``confirm`` is reported in ``problem``
    (``confirmed`` False) so that the orchestration refuses with that message.

    :returns: ``{"site", "rack", "devices": [{name, id, minion, serial, status, done}],
        "todo": [names], "done": [names], "drain", "wipe", "confirmed", "problem"}``
    """
    if drain is not None and (not isinstance(drain, str) or not drain.strip() or " " in drain):
        raise SaltInvocationError(
            f"drain must be the name of an SLS to apply on each box before it is taken out "
            f"(e.g. drain: maintenance.drain), got {drain!r}"
        )
    if not isinstance(wipe_disks, bool):
        raise SaltInvocationError(f"wipe must be true or false, got {wipe_disks!r}")
    site_obj, found = resolve(src, site, devices, rack)
    out = []
    for dev in found:
        status = simplify(dev.get("status"))
        out.append(
            {
                "name": dev["name"],
                "id": dev["id"],
                "minion": minion_of(dev),
                "serial": dev.get("serial") or None,
                "status": status,
                "rack": (dev.get("rack") or {}).get("name"),
                "done": status == DONE_STATUS,
            }
        )
    problem = check_confirm([d["name"] for d in out], confirm)
    return {
        "site": site_obj.get("slug"),
        "rack": rack,
        "devices": out,
        "todo": [d["name"] for d in out if not d["done"]],
        "done": [d["name"] for d in out if d["done"]],
        "drain": drain,
        "wipe": wipe_disks,
        "confirmed": problem is None,
        "problem": problem,
    }


def wipe_refusal(name, status, confirm):
    """None when the wipe of device ``name`` in NetBox status ``status`` may go on; else why."""
    confirmed = names(confirm, "confirm") if confirm else []
    if name not in confirmed:
        return (
            f"refusing to wipe {name}: it is not in confirm ({', '.join(confirmed) or 'empty'}); "
            f"add {name} to confirm to wipe it"
        )
    if status != WIPE_STATUS:
        return (
            f"refusing to wipe {name}: NetBox says its status is {status!r}, not "
            f"{WIPE_STATUS!r}; run orch.decommission (it sets {WIPE_STATUS} first)"
        )
    return None


def disk_targets(disks, root="/", simulated=False, only=None):
    """
    ``[(disk name, path)]`` of the inventory's disks to wipe. A simulated box's disks are the
    files ``<root>/dev/<name>``; ``only`` keeps those disk names. Raises SaltInvocationError for
    a simulated box whose root is ``/`` (that would be the host's real disks) or for ``only``
    naming a disk the box does not have.
    """
    if simulated and os.path.realpath(root) == "/":
        raise SaltInvocationError(
            "hardware:simulate is set but hardware:root is '/': a simulated box's disks are files "
            "under hardware:root; set hardware:root to the rehearsal directory"
        )
    targets = []
    for disk in disks or []:
        name = disk.get("name") or os.path.basename(disk.get("path") or "")
        if not name:
            continue
        path = disk.get("path") or f"/dev/{name}"
        if simulated:
            path = os.path.join(root, path.lstrip("/"))
        targets.append((name, path))
    if only:
        known = {n for n, _ in targets}
        unknown = sorted(set(only) - known)
        if unknown:
            raise SaltInvocationError(
                f"disks: {', '.join(unknown)} not found on this box (it has "
                f"{', '.join(sorted(known)) or 'no disk'})"
            )
        targets = [t for t in targets if t[0] in only]
    return targets


def check_target(path, root="/", simulated=False):
    """
    None when ``path`` may be wiped, else why not. Simulated: a regular file below ``root``
    (never a block device). Real: a block device that holds no mounted filesystem.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        return f"{path}: {err.strerror}"
    if simulated:
        real_root = os.path.realpath(root)
        if not os.path.realpath(path).startswith(real_root.rstrip("/") + "/"):
            return f"{path} is outside hardware:root {root}"
        if not stat.S_ISREG(mode):
            return f"{path} is not a regular file: a simulated disk must be a file"
        return None
    if not stat.S_ISBLK(mode):
        return f"{path} is not a block device"
    mounted = mounted_from(path)
    if mounted:
        return (
            f"{path} holds mounted filesystems ({', '.join(mounted)}); boot the box into the "
            "rescue/decommission image, then run the wipe again"
        )
    return None


def mounted_from(path, mounts="/proc/mounts"):
    """Mount points whose source is ``path`` or one of its partitions."""
    base = os.path.realpath(path)
    out = []
    try:
        with open(mounts, encoding="utf-8") as handle:
            for line in handle:
                fields = line.split()
                if len(fields) >= 2 and fields[0].startswith(base):
                    out.append(fields[1])
    except OSError:
        return []
    return out


def _size(handle):
    return handle.seek(0, os.SEEK_END)


def _regions(size, span):
    head = min(span, size)
    tail_start = max(head, size - span)
    return [(0, head), (tail_start, size - tail_start)]


def is_wiped(path, span=WIPE_SPAN):
    """True when the first and last ``span`` bytes of ``path`` are all zeros."""
    chunk = 1024 * 1024
    with open(path, "rb") as handle:
        size = _size(handle)
        for start, length in _regions(size, span):
            handle.seek(start)
            left = length
            while left > 0:
                data = handle.read(min(chunk, left))
                if not data:
                    break
                if data.count(0) != len(data):
                    return False
                left -= len(data)
    return True


def wipe(path, span=WIPE_SPAN):
    """Overwrite the first and last ``span`` bytes of ``path`` with zeros, synced to disk."""
    chunk = 1024 * 1024
    zeros = bytes(chunk)
    with open(path, "r+b") as handle:
        size = _size(handle)
        for start, length in _regions(size, span):
            handle.seek(start)
            left = length
            while left > 0:
                step = min(chunk, left)
                handle.write(zeros[:step])
                left -= step
        handle.flush()
        os.fsync(handle.fileno())
    return size
