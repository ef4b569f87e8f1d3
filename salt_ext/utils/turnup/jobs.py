"""
Turn-up job returns kept on the minion (the returner ``turnup_jobs``).

A minion drops a job's return when its master is not there as the job ends ("Minion not
connected, cannot return data"), and Salt's own ``cache_jobs`` is written only on the way to a
master, so after a master restart neither cache knows how an in-flight highstate ended. The
turn-up publishes its minion jobs with ``ret=turnup_jobs``: the minion runs this returner after
every such job whether or not a master listens, and it keeps the return in
``<cachedir>/turnup_jobs/<jid>.p`` (mode 0600, pruned after ``turnup_jobs_keep_hours``, 72 by
default). ``turnup.resume`` reads it back with ``ret.get_jid turnup_jobs <jid>`` (the returner's
``get_jid``).
"""

import logging
import os
import re
import time

import salt.payload

from salt_ext.utils.files import atomic_write

log = logging.getLogger(__name__)

DIRNAME = "turnup_jobs"
RETURNER = "turnup_jobs"
KEEP_HOURS = 72
_JID = re.compile(r"^[0-9A-Za-z_.-]{1,80}$")
#: the keys of a minion's return that are kept
KEPT = ("jid", "id", "fun", "fun_args", "return", "retcode", "success", "out")


def job_dir(opts):
    return os.path.join(opts["cachedir"], DIRNAME)


def _path(opts, jid):
    jid = str(jid or "")
    if not _JID.match(jid) or jid.startswith("."):
        return None
    return os.path.join(job_dir(opts), f"{jid}.p")


def keep(opts, ret):
    """
    Keep one job return (the ``ret`` a returner receives) on the minion; prune old ones.

    Returns the file written, or ``None`` for a return without a usable jid.
    """
    path = _path(opts, ret.get("jid"))
    if path is None:
        log.warning("turnup_jobs: a return without a usable jid was not kept: %r", ret.get("jid"))
        return None
    folder = os.path.dirname(path)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    data = {k: ret[k] for k in KEPT if k in ret}
    data["kept"] = time.time()
    atomic_write(path, salt.payload.dumps(data), 0o600)
    prune(opts)
    return path


def prune(opts, now=None):
    """Remove kept returns older than ``turnup_jobs_keep_hours`` (72)."""
    hours = float(opts.get("turnup_jobs_keep_hours") or KEEP_HOURS)
    limit = (now or time.time()) - hours * 3600
    removed = 0
    try:
        names = os.listdir(job_dir(opts))
    except FileNotFoundError:
        return 0
    for name in names:
        path = os.path.join(job_dir(opts), name)
        try:
            if os.stat(path).st_mtime < limit:
                os.unlink(path)
                removed += 1
        except OSError:
            continue
    return removed


def get(opts, jid):
    """
    ``{minion_id: {"return": ..., "retcode": ..., ...}}`` of job ``jid`` if this minion kept its
    return, else ``{}``.
    """
    path = _path(opts, jid)
    if path is None:
        return {}
    try:
        with open(path, "rb") as fh:
            data = salt.payload.loads(fh.read())
    except FileNotFoundError:
        return {}
    except Exception as err:  # pylint: disable=broad-except
        log.error("turnup_jobs: %s cannot be read: %s", path, err)
        return {}
    if not isinstance(data, dict):
        return {}
    return {data.get("id") or opts.get("id"): data}
