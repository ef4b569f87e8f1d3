"""
NetBox runner: status, snapshots, inventory comparison and autosign data on the master.

:depends: requests, pynetbox (through ``salt_ext.utils.netbox``)
:configuration: the ``netbox`` key of the master configuration:

.. code-block:: yaml

    netbox:
      url: https://netbox.example.net
      token_file: /etc/salt/netbox.token
    autosign_grains_dir: /etc/salt/autosign_grains    # used by netbox.sync_autosign
"""

import json
import logging
import os

import salt.client
import salt.utils.files
import salt.utils.minions
from salt.exceptions import CommandExecutionError, SaltInvocationError, SaltRunnerError

from salt_ext.utils.netbox_ops import inventory_diff, ops
from salt_ext.utils.netbox_ops.jobs import fails_job, seconds

try:
    from salt_ext.utils import pillar as pillar_utils
    from salt_ext.utils.netbox import NetBoxConfigError, NetBoxError, export, seed
    from salt_ext.utils.netbox_ops import glue
    from salt_ext.utils.turnup import autosign

    HAS_ACCESS_LAYER = True
    IMPORT_ERROR = ""
except ImportError as _err:  # pragma: no cover - packaging problem
    HAS_ACCESS_LAYER = False
    IMPORT_ERROR = str(_err)

log = logging.getLogger(__name__)

__virtualname__ = "netbox"

LAB1_SNAPSHOT = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "snapshots", "lab1.json"
)
AUTOSIGN_STATUSES = ("planned", "staged")


def __virtual__():
    if not HAS_ACCESS_LAYER:
        return (False, f"netbox runner: the NetBox access layer cannot be imported: {IMPORT_ERROR}")
    return __virtualname__


def _source():
    return glue.source(__opts__, __context__)


def _errors(what):
    return glue.mapped_errors(what, SaltRunnerError)


@fails_job
def status():
    """
    Report NetBox's version, whether it is reachable from the master, and the latency of
    ``/api/status/``. When NetBox cannot be reached, ``reachable`` is False, ``error`` says why
    and ``salt-run`` exits with 1.

    CLI Example:

    .. code-block:: bash

        salt-run netbox.status
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
            "latency_ms": None,
            "error": str(err),
            "error_type": type(err).__name__,
            "retcode": 1,
        }


@fails_job
def export_snapshot(site, path):
    """
    Export a site from NetBox into a snapshot file (the ``lab1.json`` format), written
    atomically. The snapshot can seed another NetBox (``netbox.import_snapshot``) or serve as an
    embedded source (``netbox: {snapshot: <path>}``).

    site
        the site slug
    path
        the file to write

    Returns ``{"path", "site", "netbox_version", "objects": n, "counts": {endpoint: n}}``.

    CLI Example:

    .. code-block:: bash

        salt-run netbox.export_snapshot site=lab1 path=/srv/netbox/lab1.json
    """
    if not site or not path:
        raise SaltInvocationError("netbox.export_snapshot needs site=<slug> and path=<file>")
    if not os.path.isabs(str(path)):
        raise SaltInvocationError(
            f"netbox.export_snapshot: path must be absolute (got {path!r}); a relative path "
            "would land in the master's working directory"
        )
    with _errors(f"netbox.export_snapshot site={site}"):
        data = export.export_snapshot(_source(), site, str(path))
    counts = export.snapshot_counts(data)
    return {
        "path": str(path),
        "site": site,
        "netbox_version": data.get("netbox_version"),
        "objects": sum(counts.values()),
        "counts": counts,
    }


@fails_job
def import_snapshot(path=None, tag=None):
    """
    Seed a (lab) NetBox from a snapshot file: objects are created in dependency order, found
    by natural key when they exist already (so running it twice creates nothing the second
    time), and circular references are written afterwards.

    path
        the snapshot file (default: the bundled lab snapshot ``lab1.json``)
    tag
        optional tag slug added to every created object

    CLI Example:

    .. code-block:: bash

        salt-run netbox.import_snapshot
        salt-run netbox.import_snapshot path=/srv/netbox/lab1.json tag=turnup-seed
    """
    path = path or LAB1_SNAPSHOT
    try:
        with salt.utils.files.fopen(path, "r") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as err:
        raise SaltInvocationError(f"cannot read snapshot {path}: {err}") from err
    if not isinstance(data, dict) or "objects" not in data:
        raise SaltInvocationError(f"{path} is not a snapshot (no 'objects' key)")
    with _errors(f"netbox.import_snapshot {path}"):
        report = seed.import_snapshot(_source(), data, tag=tag)
    report = dict(report)
    report.pop("id_map", None)
    report["path"] = str(path)
    return report


@fails_job
def diff_inventory(site, rack=None, live=False, timeout=30):
    """
    Compare what NetBox says about the servers of a site (or rack) with what their minions
    report: serial number and MAC address per interface. Reports come from the grains cached
    on the master (``serialnumber``, ``hwaddr_interfaces``; needs ``minion_data_cache: True``),
    or, with ``live=True``, from running ``hardware.inventory`` on the minions.

    site
        the site slug
    rack
        only this rack (name)
    live
        ask the minions now (``hardware.inventory``) instead of the cached grains
    timeout
        seconds to wait for live answers

    Returns ``{"table": <text table>, "rows": [...], "mismatches": n}``; a row per device
    with columns device, minion, status, check (``serial``/``mac <iface>``), netbox, reported
    and result (``ok``, ``MISMATCH``, ``missing in NetBox``, ``not reported``, ``no minion``,
    ``no data``, ``no answer``); ``mismatches`` counts ``MISMATCH`` and ``missing in NetBox``.

    CLI Example:

    .. code-block:: bash

        salt-run netbox.diff_inventory site=lab1 rack=R1
        salt-run netbox.diff_inventory site=lab1 live=True
    """
    timeout = seconds(timeout)
    src = _source()
    with _errors(f"netbox.diff_inventory site={site}"):
        devices, by_device = inventory_diff.site_devices(src, site, rack)
    unanswered = set()
    if live:
        # only minions whose keys are accepted: the others would only make the call wait
        known = set(salt.utils.minions.CkMinions(__opts__).check_minions("*")["minions"])
        wanted = sorted({inventory_diff.minion_for(d, known) for d in devices} & known)
        reports = {}
        if wanted:
            client = salt.client.get_local_client(__opts__["conf_file"])
            answers = client.cmd(wanted, "hardware.inventory", tgt_type="list", timeout=timeout)
            reports = {m: v for m, v in (answers or {}).items() if isinstance(v, dict)}
        unanswered = set(wanted) - set(reports)
    else:
        reports = __salt__["cache.grains"](tgt="*") or {}
    return inventory_diff.compare(devices, by_device, reports, unanswered, live=live)


@fails_job
def sync_autosign(site=None, grain="serialnumber", statuses=None):
    """
    Write the serial numbers of planned and staged devices into the master's
    ``autosign_grains_dir``, so that a new server whose minion sends
    ``autosign_grains: [serialnumber]`` is accepted automatically. The file
    ``<autosign_grains_dir>/<grain>`` is replaced atomically (mode 0644), under a lock, and only
    when its content changes. Never written: placeholder serials (``To Be Filled By O.E.M.``,
    ``0123456789``, empty...), a serial NetBox gives to two or more devices (whatever their
    status; reported), serials quarantined by boot verification (``turnup.release``). A device
    that becomes active, failed, decommissioning or offline leaves the file at the next run.
    Logic in :py:mod:`salt_ext.utils.turnup.autosign`.

    site
        only devices of this site (slug); default all sites. The file is replaced: serials of
        other sites written by an earlier run are dropped
    grain
        the grain name, which is also the file name (default ``serialnumber``)
    statuses
        device statuses whose serials are written (default ``planned,staged``; active, failed,
        decommissioning and offline are refused)

    Returns ``{"path", "serials": n, "added": [...], "removed": [...], "changed": bool,
    "duplicate_serials": {serial: [device, ...]}, "placeholder_serials": {device: serial},
    "placeholder_reasons": {device: reason}, "no_serial": [device, ...],
    "quarantined": {serial: [device, ...]}}``.

    CLI Example:

    .. code-block:: bash

        salt-run netbox.sync_autosign
        salt-run netbox.sync_autosign site=lab1
    """
    autosign.check_grain(grain)
    statuses = autosign.parse_statuses(statuses)
    if not __opts__.get("autosign_grains_dir"):
        autosign.sync(__opts__, None, grain=grain, statuses=statuses)  # raises, naming the fix
    src = _source()
    with _errors("netbox.sync_autosign"):
        site_id = ops.Resolver(src).ref("dcim.sites", site, field="site") if site else None
        return autosign.sync(
            __opts__, src, grain=grain, statuses=statuses, site=site, site_id=site_id
        )


# ---------------------------------------------------------------------------------------------
# NetBox ext_pillar cache (logic in salt_ext.utils.pillar)
# ---------------------------------------------------------------------------------------------


@fails_job
def pillar_refresh(site=None):
    """
    Refetch the NetBox ext_pillar's data from NetBox now, in full: the identity index and every
    cached site record (or only ``site``), for every ``netbox`` entry of the master's
    ``ext_pillar``. Minions see the new data at their next pillar refresh.

    site
        Site slug or id, a comma-separated list of them, or ``*`` for every site of the identity
        index (warming a cold master). Fetched even when no minion of the site has compiled its
        pillar yet. Several sites are fetched together: one listing per object type for up to
        100 sites (docs/pillar.md, "Several sites in one fetch").

    CLI Example:

    .. code-block:: bash

        salt-run netbox.pillar_refresh
        salt-run netbox.pillar_refresh site=lab1
        salt-run netbox.pillar_refresh site=lab1,lab2
        salt-run netbox.pillar_refresh site='*'
    """
    try:
        return pillar_utils.pillar_refresh(__opts__, site=site, context=__context__)
    except (NetBoxError, CommandExecutionError) as err:
        raise SaltRunnerError(f"netbox.pillar_refresh: {err}") from err


@fails_job
def pillar_cache_info():
    """
    Describe the NetBox ext_pillar's cache on this master: per NetBox source the driver and bank,
    per record (identity index, sites) its sync time, age, freshness, change-log cursor, object
    counts, last fetch (mode, requests, seconds) and last error.

    CLI Example:

    .. code-block:: bash

        salt-run netbox.pillar_cache_info
    """
    return pillar_utils.pillar_cache_info(__opts__, context=__context__)
