"""Journal entries written by Salt: the comment always names the Salt job."""

from salt.exceptions import SaltInvocationError

KINDS = ("info", "success", "warning", "danger")
MARKER = "Salt job"


def job_id(opts=None, kwargs=None, low=None):
    """
    The Salt job id of the current call: ``__pub_jid`` (a published job), ``__low__["__jid__"]``
    (a state run), ``opts["jid"]``; ``None`` when none is known (a bare ``salt-call`` with
    ``--local`` has one too, in ``opts``).
    """
    for source, key in ((kwargs, "__pub_jid"), (low, "__jid__"), (opts, "jid")):
        if source and source.get(key):
            return str(source[key])
    return None


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
