"""Journal entries written by Salt: the comment always names the Salt job."""

import logging
import os

import salt.payload
import salt.utils.files
from salt.exceptions import SaltInvocationError

log = logging.getLogger(__name__)

KINDS = ("info", "success", "warning", "danger")
MARKER = "Salt job"


def job_id(opts=None, kwargs=None, low=None):
    """
    The Salt job id of the current call: ``__pub_jid`` (a published job), ``__low__["__jid__"]``
    (a state run), ``opts["jid"]``, else the job this process runs (see
    :func:`running_job_id`); ``None`` when none is known.
    """
    for source, key in ((kwargs, "__pub_jid"), (low, "__jid__"), (opts, "jid")):
        if source and source.get(key):
            return str(source[key])
    if opts and opts.get("cachedir"):
        return running_job_id(opts)
    return None


def running_job_id(opts, pid=None):
    """
    The jid of the job this process executes, from the proc files Salt writes for every running
    job (``<cachedir>/proc/<jid>``, the data behind ``saltutil.running``, which leaves out the
    caller's own job): state modules get no jid otherwise. None when no job, or several
    (threaded minions), match the process.
    """
    pid = os.getpid() if pid is None else pid
    proc_dir = os.path.join(opts["cachedir"], "proc")
    jids = set()
    try:
        names = os.listdir(proc_dir)
    except OSError:
        return None
    for name in names:
        try:
            with salt.utils.files.fopen(os.path.join(proc_dir, name), "rb") as handle:
                data = salt.payload.loads(handle.read())
        except Exception:  # pylint: disable=broad-except
            continue  # finished and removed meanwhile, or half written
        if isinstance(data, dict) and data.get("pid") == pid and data.get("jid"):
            jids.add(str(data["jid"]))
    return jids.pop() if len(jids) == 1 else None


def check_kind(kind):
    kind = (kind or "info").lower()
    if kind not in KINDS:
        raise SaltInvocationError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    return kind


def comment_with_job(comment, jid, who=None):
    """
    ``comment`` followed by a line naming the Salt job (and the minion/master that wrote it):
    ``"racked\\n\\n— Salt job 20261129124501123456 (srv-r1-01)"``.
    """
    if not isinstance(comment, str) or not comment.strip():
        raise SaltInvocationError("comment must be a non-empty string")
    tail = f"{MARKER} {jid or 'unknown'}"
    if who:
        tail += f" ({who})"
    return f"{comment.rstrip()}\n\n— {tail}"


def same_comment(existing, comment):
    """True when a journal entry's comments are ``comment`` (with or without the job line)."""
    existing = (existing or "").rstrip()
    comment = comment.rstrip()
    if existing == comment:
        return True
    return existing.startswith(comment + "\n\n— " + MARKER)
