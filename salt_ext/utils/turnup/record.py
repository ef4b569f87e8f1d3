"""
The run record of a rack turn-up, kept in Salt's cache (``salt.cache``: localfs, redis, ...), so
any master sharing the cache sees it. Bank ``turnup/runs`` (key: run id) and ``turnup/locks``
(key ``<site>.<rack>``: the running run of a rack, its master and process).
"""

import contextlib
import datetime
import fcntl
import os
import socket
import time

import salt.cache
from salt.exceptions import SaltInvocationError, SaltRunnerError

RUNS = "turnup/runs"
LOCKS = "turnup/locks"
#: the hardware inventory each server's validate job collected, per run (``<bank>/<run>``, key:
#: device name): the sync_inventory step writes it to NetBox from the master
INVENTORY = "turnup/inventory"
STATES = ("running", "done", "stopped", "aborted")
FINISHED = ("done", "aborted")


def now():
    return time.time()


def iso(stamp):
    if not stamp:
        return None
    return datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def lock_key(site, rack):
    return f"{site}.{rack}"


def new_id(site, rack, stamp=None):
    stamp = datetime.datetime.fromtimestamp(stamp or now(), datetime.timezone.utc)
    return f"{site}-{rack}-{stamp.strftime('%Y%m%dT%H%M%S')}"


def master_id(opts):
    return opts.get("id") or socket.getfqdn()


def pid_alive(pid):
    try:
        os.kill(int(pid), 0)
    except (OSError, TypeError, ValueError):
        return False
    return True


class Store:
    """Run records and rack locks in ``salt.cache``."""

    def __init__(self, opts, cache=None):
        self.opts = opts
        self.cache = cache or salt.cache.factory(opts)

    # -- runs ---------------------------------------------------------------------------------
    def get(self, run_id):
        if not run_id or not isinstance(run_id, str):
            raise SaltInvocationError("run=<run id> is required (see turnup.status site= rack=)")
        data = self.cache.fetch(RUNS, run_id)
        if not data:
            known = self.list()
            raise SaltInvocationError(
                f"run={run_id!r} does not exist; runs: {', '.join(known[-10:]) or 'none'} "
                "(turnup.status site=<site> rack=<rack> finds a rack's run)"
            )
        return data

    def save(self, record):
        record["updated"] = now()
        self.cache.store(RUNS, record["id"], record)
        return record

    def list(self):
        return sorted(self.cache.list(RUNS) or [])

    def keep_inventory(self, run_id, name, inventory):
        self.cache.store(f"{INVENTORY}/{run_id}", name, inventory)

    def inventory(self, run_id, name):
        return self.cache.fetch(f"{INVENTORY}/{run_id}", name) or None

    def drop_inventory(self, run_id):
        self.cache.flush(f"{INVENTORY}/{run_id}")

    def runs_of(self, site, rack):
        prefix = f"{site}-{rack}-"
        return [r for r in self.list() if r.startswith(prefix)]

    def latest(self, site, rack):
        """The running run of the rack, else its newest run, else None."""
        lock = self.cache.fetch(LOCKS, lock_key(site, rack))
        if lock and lock.get("run"):
            data = self.cache.fetch(RUNS, lock["run"])
            if data:
                return data
        runs = self.runs_of(site, rack)
        return self.cache.fetch(RUNS, runs[-1]) if runs else None

    # -- locks --------------------------------------------------------------------------------
    def lock(self, site, rack):
        return self.cache.fetch(LOCKS, lock_key(site, rack)) or None

    def owner_alive(self, lock, jid=None):
        """
        Another orchestration holds ``lock`` and still runs: one on another master (assumed
        alive: not knowable from here), one in another live process of this master, or one of
        another job in this process (the reactor runs the orchestrations it starts in threads of
        its one process). ``jid``: the asking orchestration's job id; without it, a lock of
        this process is taken for the caller's own.
        """
        if not lock:
            return False
        if lock.get("master") != master_id(self.opts):
            return True  # another master's run: assume it is alive
        if lock.get("pid") == os.getpid():
            # this process: the same orchestration going on, unless another job took the lock
            return jid is not None and lock.get("jid") not in (None, jid)
        return pid_alive(lock.get("pid"))

    def acquire(self, site, rack, run_id, takeover=False, jid=None):
        """
        Take the rack's lock for run ``run_id`` of the orchestration (job) ``jid``: refused,
        naming the holder, while another orchestration of this master that still runs holds it,
        whichever run it holds it for (a second start of a running rack would otherwise go on
        with the same run beside the first), or another master holds it for another run. A run
        another master holds may be resumed here (whether that master still lives is not
        knowable from here: it may have died; its steps stop once the lock is this one's).
        ``takeover``: take it regardless.
        """

        def refuse(current):
            if not current or takeover:
                return False
            if current.get("master") != master_id(self.opts):
                return current.get("run") != run_id
            return self.owner_alive(current, jid)

        current = self.lock(site, rack)
        if refuse(current):
            raise SaltRunnerError(held_message(site, rack, current))
        lock = {
            "run": run_id,
            "master": master_id(self.opts),
            "pid": os.getpid(),
            "jid": jid,
            "since": (
                (current or {}).get("since") if current and current.get("run") == run_id else now()
            ),
        }
        won, held = claim(self.cache, LOCKS, lock_key(site, rack), lock, taken=refuse)
        if not won:
            # another claimant got there first (at the same moment, or between the read above
            # and the claim): that orchestration goes on, this one stops
            raise SaltRunnerError(held_message(site, rack, held))
        return lock

    def release(self, site, rack, run_id):
        current = self.lock(site, rack)
        if current and current.get("run") == run_id:
            self.cache.flush(LOCKS, lock_key(site, rack))


def held_message(site, rack, current):
    """What a start refused because ``current`` (the rack's lock) holds the rack says."""
    return (
        f"rack {rack} of {site} already has a running turn-up: run {current['run']} on "
        f"master {current.get('master')} (since {iso(current.get('since'))}); watch it "
        f"with turnup.watch run={current['run']} or stop it with turnup.abort "
        f"run={current['run']}"
    )


#: seconds a claim of a shared cache without locks (redis, ...) is left to settle before it is
#: read back (see :func:`claim`)
CLAIM_SETTLE = 1.0
#: directory under a localfs cache's ``cachedir`` holding the claims' lock files (not a bank
#: anything lists)
FLOCK_DIR = "turnup-claims"


@contextlib.contextmanager
def exclusive(cache, bank, key):
    """
    Hold an exclusive lock for ``bank``/``key`` while the block runs, when the cache can have
    one: the ``localfs`` driver (``flock`` on a file beside its banks, exact for every process
    and every master sharing the directory). Yields whether the lock is held (``False``: a cache
    such as redis, no lock to take).
    """
    if getattr(cache, "driver", None) != "localfs" or not getattr(cache, "cachedir", None):
        yield False
        return
    base = os.path.join(cache.cachedir, FLOCK_DIR)
    os.makedirs(base, mode=0o700, exist_ok=True)
    path = os.path.join(base, f"{bank.replace('/', '.')}.{key}.lock")
    with open(path, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def claim(cache, bank, key, data, taken=None):
    """
    Write ``data`` under ``bank``/``key`` as this process's claim and say whether it holds:
    ``(won, held)``. ``taken(held) -> bool``: the present value still holds the key, so the
    claim is lost without writing (default: any present value holds it).

    On a ``localfs`` cache the read and the write happen under an exclusive ``flock``
    (:func:`exclusive`): exact, no waiting. Other drivers (redis, ...) have no compare-and-set,
    so several masters sharing the cache (or two runs on one) may each have found the key free
    and written it: the last write wins and, after :data:`CLAIM_SETTLE` seconds (far longer
    than a cache write), every writer reads back which one that was; a claimant that found the
    key taken waits as long before it names the holder. Either way exactly one of simultaneous
    claimants wins, and every one of them names the same holder.
    """
    data["claim"] = os.urandom(8).hex()
    taken = taken or (lambda held: True)
    with exclusive(cache, bank, key) as exact:
        if exact:
            held = cache.fetch(bank, key) or {}
            if held and taken(held):
                return False, held
            cache.store(bank, key, data)
            return True, data
    held = cache.fetch(bank, key) or {}
    if held and taken(held):
        # that claim may be one of several written at this moment, not the one that stays:
        # name the one that holds once they have settled
        time.sleep(CLAIM_SETTLE)
        later = cache.fetch(bank, key) or {}
        return False, (later if later and taken(later) else held)
    cache.store(bank, key, data)
    time.sleep(CLAIM_SETTLE)
    held = cache.fetch(bank, key) or {}
    return held.get("claim") == data["claim"], held


def new_record(opts, plan, options, jid=None):
    stamp = now()
    devices = {}
    for wave in plan["waves"]:
        for name in wave["devices"]:
            entry = plan["devices"][name]
            devices[name] = {
                "minion": entry["minion"],
                "wave": wave["name"],
                "kind": entry["kind"],
                "managed": entry["managed"],
                "status": entry["status"],
                "failed_step": None,
                "error": None,
                "steps": {},
            }
    return {
        "id": new_id(plan["site"], plan["rack"], stamp),
        "site": plan["site"],
        "rack": plan["rack"],
        "state": "running",
        "master": master_id(opts),
        "jid": jid,
        "created": stamp,
        "updated": stamp,
        "plan": plan,
        "options": options,
        "devices": devices,
        "abort_requested": False,
        "history": [{"at": stamp, "event": "created", "jid": jid}],
    }


def servers(record):
    return [n for n, d in record["devices"].items() if d["kind"] == "server"]


def failed(record):
    """``{device: step}`` of the devices that failed."""
    return {n: d["failed_step"] for n, d in record["devices"].items() if d.get("failed_step")}


def in_run(record, name):
    """The device is still in the run (a server that has not failed)."""
    dev = record["devices"][name]
    return dev["kind"] == "server" and not dev.get("failed_step")


def step_done(record, name, step):
    return (record["devices"][name]["steps"].get(step) or {}).get("result") is True
