"""
How a minion job that was in flight when a turn-up run was interrupted ended.

The run record holds the jid of every minion job before it is published (see
:meth:`steps.Turnup.run_job`), so after a master restart ``turnup.resume`` asks, per minion, until
it knows (bounded by ``job_timeout``):

1. the master's job cache (the return reached a master);
2. ``saltutil.find_job``: still running, so wait;
3. the minion's own copy: the returner ``turnup_jobs`` (written on the minion whether or not a
   master listened; :mod:`salt_ext.utils.turnup.jobs`), then Salt's ``cache_jobs`` copy;
4. the master's job cache for the job itself: no load there, the job not running and nothing
   kept by the minion's ``turnup_jobs`` returner means the master never published it (the run
   stopped between recording the jid and publishing), so it is safe to run now.

A job the master published but whose end no cache knows is *lost*: the device fails naming the
jid; it is never applied a second time.
"""

import time

from salt_ext.utils.turnup import jobs

RETURNED, UNPUBLISHED, LOST = "returned", "unpublished", "lost"
#: seconds between two looks
POLL = 2
#: a finished job seen nowhere is looked for this many more times (``POLL`` apart) before it
#: counts as lost: the minion removes its proc file before the return reaches a cache
CONFIRM = 3


def _kept_return(found):
    """The return out of ``ret.get_jid turnup_jobs`` or ``saltutil.find_cached_job``."""
    if isinstance(found, dict):
        if "return" in found:
            return True, found["return"]
        for value in found.values():  # ret.get_jid: {minion_id: {return: ...}}
            if isinstance(value, dict) and "return" in value:
                return True, value["return"]
    return False, None


def _ask(client, minions, fun, jid, timeout):
    if not minions:
        return {}
    return client.cmd(list(minions), fun, arg=list(jid), tgt_type="list", timeout=timeout) or {}


def _running(answer):
    return isinstance(answer, dict) and bool(answer.get("jid"))


def find(turnup, jid, minions):
    """
    ``{minion: (kind, value)}`` for job ``jid`` on each of ``minions``: ``("returned", ret)``,
    ``("unpublished", why)`` (never published: run it) or ``("lost", why)``.
    """
    opts = turnup.options()
    deadline = time.time() + float(opts["job_timeout"])
    # after a master restart the minions reconnect in their own time: wait (bounded) for them
    answering = turnup.ping(list(minions), float(opts["minion_timeout"]))
    out, unseen, blank = {}, {}, {}
    while True:
        cached = turnup.lookup_jid(jid) or {}
        for minion in minions:
            if minion not in out and minion in cached:
                out[minion] = (RETURNED, cached[minion])
            elif minion not in out and minion not in answering:
                out[minion] = (
                    LOST,
                    _lost(jid, minion)
                    + f" ({minion} did not answer within {float(opts['minion_timeout']):g} s, "
                    "minion_timeout)",
                )
        left = [m for m in minions if m not in out]
        if not left:
            return out
        running = _ask(turnup.client, left, "saltutil.find_job", [jid], 10)
        finished = [m for m in left if m in running and not _running(running[m])]
        kept = _ask(turnup.client, finished, "ret.get_jid", [jobs.RETURNER, jid], 30)
        salt_kept = _ask(
            turnup.client,
            [m for m in finished if not _kept_return(kept.get(m))[0]],
            "saltutil.find_cached_job",
            [jid],
            30,
        )
        cached = turnup.lookup_jid(jid) or {}
        for minion in finished:
            if minion in cached:
                out[minion] = (RETURNED, cached[minion])
                continue
            for found in (kept.get(minion), salt_kept.get(minion)):
                ok, ret = _kept_return(found)
                if ok:
                    out[minion] = (RETURNED, ret)
                    break
            else:
                if minion in kept or minion in salt_kept:  # it answered: nothing kept
                    unseen[minion] = unseen.get(minion, 0) + 1
                    # {}: the returner is there and kept nothing (an error string: it is not)
                    blank[minion] = kept.get(minion) == {}
        confirmed = [m for m in finished if m not in out and unseen.get(m, 0) > CONFIRM]
        if confirmed:
            published = turnup.lookup_load(jid)
            for minion in confirmed:
                if not published and blank[minion]:
                    out[minion] = (
                        UNPUBLISHED,
                        f"job {jid} was recorded but never published (the master has no load "
                        "for it): run now",
                    )
                else:
                    out[minion] = (LOST, _lost(jid, minion))
        left = [m for m in minions if m not in out]
        if not left:
            return out
        if time.time() > deadline:
            for minion in left:
                out[minion] = (
                    LOST,
                    _lost(jid, minion)
                    + (
                        f" (no answer from {minion} within job_timeout)"
                        if minion not in running
                        else f" (still running on {minion} after job_timeout)"
                    ),
                )
            return out
        time.sleep(POLL)


def _lost(jid, minion):
    return (
        f"job {jid} was in flight when the run was interrupted and no cache knows how it ended "
        f"(neither the master's job cache nor {minion}'s turnup_jobs or cache_jobs copy): it is "
        f"not applied again; check the box (salt-run jobs.lookup_jid {jid}; salt {minion} "
        f"ret.get_jid turnup_jobs {jid}), then start a new run"
    )
