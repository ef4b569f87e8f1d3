"""
The work of each rack turn-up step (``orch.rack_turnup`` runs them in order through the runner
``turnup.step``; ``turnup.resume`` runs the remaining ones).

Every step acts on the devices still in the run, records per-device results with job ids in the
run record, fires ``turnup/<run>/<device>/<step>`` events, sets a failing device ``failed`` in
NetBox with a journal entry naming the step, the minion's error and the job id, and fails the
step (:class:`StopRun`) only when the failures pass the threshold (or the canary failed). With
``test`` nothing is written: NetBox, the record and the minions stay as they are and the step
returns the changes it would make.
"""

import logging
import os
import time

import salt.utils.jid
from salt.exceptions import SaltException, SaltInvocationError

from salt_ext.utils.netbox import NetBoxError
from salt_ext.utils.netbox_ops import ops
from salt_ext.utils.netbox_ops import sync as nbsync
from salt_ext.utils.netbox_ops.diff import simplify
from salt_ext.utils.netbox_ops.jobs import seconds
from salt_ext.utils.turnup import inflight, jobs, network
from salt_ext.utils.turnup import plan as planner
from salt_ext.utils.turnup import postcheck
from salt_ext.utils.turnup import record as rec
from salt_ext.utils.turnup import sync as tsync

log = logging.getLogger(__name__)

#: step names in the order the orchestration runs them
ORDER = (
    "preflight",
    "start",
    "stage",
    "network",
    "wait_minions",
    "sync_all",
    "validate",
    "sync_inventory",
    "highstate",
    "postcheck",
    "activate",
    "finish",
)
#: steps that run jobs on the minions
MINION_STEPS = ("wait_minions", "sync_all", "validate", "sync_inventory", "highstate", "postcheck")

#: seconds between two rounds of asking minions that have not answered yet
RETRY_INTERVAL = 2
#: seconds a minion job may run before the minions that have not returned it are asked whether
#: they still run it (Salt's ``saltutil.find_job``, then every ``gather_job_timeout``): one that
#: neither runs it nor answers a ping is given up then, not after ``job_timeout`` (master option
#: ``turnup: {alive_check: ...}``); one that runs it is waited for as long as it does
ALIVE_CHECK = 60
#: seconds a round of ``wait_minions``' question waits for returns (a minion still running the
#: job when they pass is waited for: Salt asks it with ``saltutil.find_job``)
PROBE_WAIT = 10

DEFAULTS = {"batch": "25%", "max_failures": None, "minion_timeout": 300, "job_timeout": 900}


class StopRun(Exception):
    """The run must stop (threshold passed, canary failed, abort): the step fails."""


def check_step(step):
    if step not in ORDER:
        raise SaltInvocationError(f"step={step!r} is not a turn-up step; steps: {', '.join(ORDER)}")
    return step


class Turnup:
    """
    One turn-up run being worked on.

    ``src``: NetBox source; ``store``: :class:`record.Store`; ``bus``: :class:`events.Bus`;
    ``client``: a LocalClient (or anything with ``run_job``/``get_iter_returns``/``cmd``);
    ``lookup_jid``: ``jid -> {minion: return}`` from the master's job cache; ``lookup_load``:
    ``jid -> bool``, the master's job cache has the job (it was published); ``jid``: the job
    running the step (named in journal entries); ``module_forms``: ``() -> [types]``, the custom
    module types of the master's file server (:func:`sync.master_forms`).
    """

    def __init__(  # noqa: PLR0913
        self,
        src,
        store,
        bus,
        client,
        *,
        lookup_jid=None,
        lookup_load=None,
        jid=None,
        test=False,
        who=None,
        module_forms=None,
    ):
        self.src = src
        self.store = store
        self.bus = bus
        self.client = client
        self.lookup_jid = lookup_jid or (lambda jid: {})
        # jid -> whether the master's job cache has the job's load (it was published)
        self.lookup_load = lookup_load or (lambda jid: True)
        self.jid = jid
        self.test = bool(test)
        self.who = who
        self.module_forms = module_forms or (lambda: tsync.master_forms(self.store.opts))
        self.record = None
        self.changes = {}
        #: ``(minion, jid)``: the minion stopped answering during that job (:meth:`collect`)
        self.gone = set()
        self._master = master_incarnation(getattr(store, "opts", None))

    # -- record ---------------------------------------------------------------------------------
    def save(self):
        if not self.test and self.record is not None:
            self.store.save(self.record)

    def load(self, site=None, rack=None, run=None):
        if run:
            self.record = self.store.get(run)
        else:
            self.record = self.store.latest(site, rack)
        return self.record

    def options(self):
        return {**DEFAULTS, **(self.record.get("options") or {})}

    def held_elsewhere(self):
        """
        The lock of the loaded run's rack when another orchestration that still runs holds it
        (a second start of the rack was refused, and its steps, its ``onfail`` finish among
        them, must leave that run alone), else None. Predictions write nothing: never held.
        """
        if self.test or not self.record:
            return None
        lock = self.store.lock(self.record["site"], self.record["rack"])
        return lock if lock and self.store.owner_alive(lock, self.jid) else None

    def note(self, name, step, **fields):
        entry = self.record["devices"][name]["steps"].setdefault(step, {})
        entry.update(fields)
        return entry

    def change(self, name, field, old, new):
        self.changes.setdefault(name, {})[field] = {"old": old, "new": new}

    def servers(self):
        return [n for n in rec.servers(self.record) if rec.in_run(self.record, n)]

    def todo(self, step):
        """Servers still in the run that have not passed ``step``."""
        return [n for n in self.servers() if not rec.step_done(self.record, n, step)]

    # -- start ----------------------------------------------------------------------------------
    def start(self, site, rack, *, options, accepted, new=False):
        """Create the run of the rack, or reuse the running/stopped one (resume)."""
        alive_check_seconds(getattr(self.store, "opts", None))  # a bad option stops it here
        current = self.store.latest(site, rack)
        if current and current["state"] in ("running", "stopped") and not new:
            self.store.acquire(site, rack, current["id"], jid=self.jid) if not self.test else None
            self.record = current
            if not self.test:
                current["state"] = "running"
                current["history"].append({"at": rec.now(), "event": "resumed", "jid": self.jid})
                self.save()
            return {"run": current["id"], "action": "resumed", "state": current["state"]}
        if current and current["state"] in rec.FINISHED and not new:
            self.record = current
            return {
                "run": current["id"],
                "action": "finished",
                "state": current["state"],
                "comment": f"run {current['id']} is {current['state']}: nothing to do (pass "
                "new=True for a new run of the rack)",
            }
        opts = {**DEFAULTS, **{k: v for k, v in options.items() if v is not None}}
        plan = planner.build(
            self.src,
            site,
            rack,
            batch=opts["batch"],
            devices=opts.get("devices"),
            accepted=accepted,
        )
        planner.generations(self.src, plan)
        planner.parse_max_failures(opts["max_failures"], len(plan["servers"]))
        self.record = rec.new_record(self.store.opts, plan, opts, jid=self.jid)
        if self.test:  # a prediction: the same id in every step's return, never stored
            self.record["id"] = f"{plan['site']}-{plan['rack']}-test"
        base, suffix = self.record["id"], 1
        while self.store.cache.fetch(rec.RUNS, self.record["id"]) or (
            current and current["id"] == self.record["id"]
        ):
            suffix += 1  # two runs of a rack within one second
            self.record["id"] = f"{base}-{suffix}"
        for name in rec.servers(self.record):
            if plan["devices"][name]["status"] == planner.DONE_STATUS:
                # active already: nothing of the turn-up is done to it again (no highstate)
                for done in ORDER[2:-1]:
                    self.note(name, done, result=True, comment="already active", duration=0)
        if not self.test:
            self.store.acquire(site, rack, self.record["id"], jid=self.jid)
            self.save()
        return {"run": self.record["id"], "action": "created", "state": "running"}

    # -- failures -------------------------------------------------------------------------------
    def tolerated(self):
        return planner.parse_max_failures(
            self.options().get("max_failures"), len(rec.servers(self.record))
        )

    def fail(self, name, step, error, jid=None):
        """Take a device out of the run: NetBox ``failed`` + journal entry naming step/error/job."""
        dev = self.record["devices"][name]
        error = str(error).strip() or "failed"
        if len(error) > 1500:
            error = error[:1500] + " ..."
        dev["failed_step"] = step
        dev["error"] = error
        text = (
            f"Turn-up run {self.record['id']}: step {step} failed"
            + (f" (minion job {jid})" if jid else "")
            + f": {error}"
        )
        self.change(name, "status", dev["status"], "failed")
        if not self.test:
            try:
                nb = self.src.get("dcim.devices", self.record["plan"]["devices"][name]["id"])
                if simplify(nb.get("status")) != "failed":
                    ops.change_status(self.src, nb, "failed", text, jid=self.jid, who=self.who)
                else:
                    ops.write_journal(
                        self.src,
                        "dcim.device",
                        nb["id"],
                        text,
                        kind="danger",
                        jid=self.jid,
                        who=self.who,
                    )
                dev["status"] = "failed"
            except Exception as err:  # pylint: disable=broad-except
                log.error("turnup: could not record the failure of %s in NetBox: %s", name, err)
                dev["error"] += f" (NetBox not updated: {err})"
        self.save()

    def check_threshold(self, step, wave=None):
        failed = {n: s for n, s in rec.failed(self.record).items() if n in rec.servers(self.record)}
        if wave and wave.get("kind") == "canary" and any(n in failed for n in wave["devices"]):
            self.stop(
                step,
                "the canary "
                + ", ".join(f"{n} failed at {failed[n]}" for n in wave["devices"] if n in failed),
            )
        if len(failed) > self.tolerated():
            self.stop(
                step,
                f"{len(failed)} of {len(rec.servers(self.record))} servers failed (tolerated: "
                f"{self.tolerated()}): "
                + ", ".join(f"{n} at {s}" for n, s in sorted(failed.items())),
            )

    def stop(self, step, why):
        self.record["state"] = "stopped"
        self.record["stopped"] = {"step": step, "reason": why, "at": rec.now()}
        self.record["history"].append({"at": rec.now(), "event": f"stopped at {step}: {why}"})
        self.save()
        raise StopRun(f"turn-up run {self.record['id']} stopped at {step}: {why}")

    # -- NetBox status steps --------------------------------------------------------------------
    def set_status(self, step, names, new, allowed):
        """
        ``names`` to status ``new`` in NetBox (from one of ``allowed``), each with a journal
        entry: their statuses read in one listing, the changes made in bulk
        (:func:`ops.change_statuses`: three requests for a whole rack).
        """
        done = []
        if self.test:  # the earlier steps only predicted their status changes
            allowed = tuple(allowed) + planner.TURNUP_STATUSES
        started = rec.now()
        ids = {self.record["plan"]["devices"][n]["id"]: n for n in names}
        current = {d["id"]: d for d in self.src.list_by("dcim.devices", "id", list(ids))}
        todo, comments = [], {}
        for dev_id, name in ids.items():
            nb = current.get(dev_id)
            if nb is None:
                self.fail(name, step, f"device id {dev_id} is no longer in NetBox")
                self._event(name, step, False, started, comment="not in NetBox")
                continue
            old = simplify(nb.get("status"))
            if old == new:
                comments[name] = f"already {new}"
            elif old not in allowed:
                self.fail(
                    name, step, f"NetBox status is {old}, expected one of {', '.join(allowed)}"
                )
                self._event(name, step, False, started, comment=f"status {old} forbids {new}")
                continue
            else:
                self.change(name, "status", old, new)
                comments[name] = f"{old} -> {new}"
                todo.append(nb)
        written = {}
        if todo and not self.test:
            text = f"turn-up run {self.record['id']} ({self.record['rack']}): {step}"
            written = ops.change_statuses(self.src, todo, new, text, jid=self.jid, who=self.who)
        for dev_id, name in ids.items():
            if name not in comments:
                continue
            after, entry_j = written.get(dev_id, (new, True))
            if entry_j is None:
                self.fail(name, step, f"NetBox did not keep status {new} (has {after})")
                self._event(name, step, False, started)
                continue
            self.record["devices"][name]["status"] = (
                new if not self.test else simplify(current[dev_id].get("status"))
            )
            self._event(name, step, True, started, comment=comments[name])
            done.append(name)
        self.save()
        return done

    def _event(self, name, step, result, started, *, comment="", jid=None):
        ended = rec.now()
        entry = {
            "result": result if not self.test else None,
            "jid": jid,
            "started": started,
            "ended": ended,
            "duration": round(ended - started, 3),
            "comment": comment,
        }
        if not self.test:
            self.note(name, step, **entry)
        self.bus.step(self.record["id"], name, step, {**entry, "result": result, "test": self.test})

    def stage(self):
        names = self.todo("stage")
        self.set_status("stage", names, "staged", ("planned", "staged", "failed", "inventory"))
        self.check_threshold("stage")

    def activate(self):
        names = [n for n in self.todo("activate") if rec.step_done(self.record, n, "postcheck")]
        if self.test:
            names = self.todo("activate")
        self.set_status("activate", names, "active", ("staged", "active"))
        self.check_threshold("activate")

    # -- minion steps ---------------------------------------------------------------------------
    def minions(self, names):
        return {self.record["devices"][n]["minion"]: n for n in names}

    def until_answered(self, minions, timeout, ask):
        """
        Ask the minions of ``minions`` (``ask(left) -> minions that answered``) until all have
        answered or ``timeout`` seconds have passed, waiting :data:`RETRY_INTERVAL` seconds
        between rounds (a minion not connected yet); returns the minions that answered.
        """
        deadline = time.time() + timeout
        answered = set()
        while True:
            left = [m for m in minions if m not in answered]
            if not left:
                return answered
            answered |= set(ask(left))
            if len(answered) == len(minions) or time.time() >= deadline:
                return answered
            time.sleep(RETRY_INTERVAL)

    def ping(self, minions, timeout):
        """The minions of ``minions`` answering ``test.ping`` within ``timeout`` seconds."""

        def ask(left):
            ret = self.client.cmd(left, "test.ping", tgt_type="list", timeout=5) or {}
            return [m for m, v in ret.items() if v is True]

        return self.until_answered(list(minions), timeout, ask)

    def seen(self, minions):
        """
        Note ``minions`` as connected to this master: they answered a ping or returned a job
        since it started (kept in the record: a later step, or a resume on the same master, need
        not ask them again).
        """
        if self.test or self._master is None or not minions:
            return
        reach = self.record.setdefault("reachable", {})
        if reach.get("master") != self._master:
            reach.clear()
            reach.update(master=self._master, minions=[])
        reach["minions"] = sorted(set(reach["minions"]) | set(minions))

    def unseen(self, minions):
        """The minions of ``minions`` not seen connected to this master's present run."""
        reach = (self.record or {}).get("reachable") or {}
        if self._master is None or reach.get("master") != self._master:
            return list(minions)
        known = set(reach.get("minions") or ())
        return [m for m in minions if m not in known]

    def wait_minions(self):
        """
        Every server's minion answers, bounded by ``minion_timeout``. The question asked is the
        next two steps' job (``turnup.prepare``: sync, then validate, :meth:`probe`): a minion
        that returns it has answered, and the ``sync_all`` and ``validate`` steps judge the
        returns kept in the record instead of running two more rack-wide jobs. Predictions
        (``test``) ask ``test.ping``: nothing is synced.
        """
        names = self.todo("wait_minions")
        if not names:
            return
        timeout = float(self.options()["minion_timeout"])
        want = self.minions(names)
        started = rec.now()
        if self.test:
            answered = self.ping(list(want), 5)
        else:
            answered = set(self.probe(want, timeout))
        self.seen(answered)
        for minion, name in want.items():
            if minion in answered:
                self._event(name, "wait_minions", True, started, comment="minion answers")
            elif self.test:
                self._event(
                    name, "wait_minions", False, started, comment="minion does not answer yet"
                )
            else:
                self.fail(
                    name,
                    "wait_minions",
                    f"minion {minion} did not answer within {timeout:g} s (minion_timeout): is it "
                    "booted and its key accepted (salt-key -L)?",
                )
                self._event(name, "wait_minions", False, started, comment="no answer")
        self.save()
        self.check_threshold("wait_minions")

    def probe(self, want, timeout):
        """
        Publish the ``sync_all`` and ``validate`` steps' job (``turnup.prepare``) to the minions
        of ``want`` (``{minion: name}``) until each has returned it or ``timeout`` seconds have
        passed (a minion not connected yet is asked again every few seconds, like a ping). The
        returns are kept in the record (``probed``: ``{name: {jid, started, ret, retcode}}``)
        for those two steps, each box's inventory in the run's inventory bank (for
        ``sync_inventory``, not in the record); returns the minions that answered.
        """
        forms = self.module_forms()
        probed = self.record.setdefault("probed", {})

        def ask(left):
            started = rec.now()
            pub = self.client.run_job(
                left, "turnup.prepare", arg=[], tgt_type="list", kwarg={"forms": forms}, timeout=30
            )
            jid = (pub or {}).get("jid")
            returns = self.collect(jid, left, PROBE_WAIT, alive_check=False) if jid else {}
            for minion, data in returns.items():
                ret = data.get("ret", data.get("return"))
                checked = ret.get("validate") if isinstance(ret, dict) else None
                if isinstance(checked, dict) and isinstance(checked.get("inventory"), dict):
                    ret = {**ret, "validate": dict(checked)}
                    inventory = ret["validate"].pop("inventory")
                    self.store.keep_inventory(self.record["id"], want[minion], inventory)
                probed[want[minion]] = {
                    "jid": jid,
                    "started": started,
                    "ret": ret,
                    "retcode": data.get("retcode", 0),
                }
            self.save()
            return list(returns)

        return self.until_answered(list(want), timeout, ask)

    def probed(self, step, names):
        """
        ``{jid: (names, {minion: return}, started)}``: the part ``step`` (``sync_all`` or
        ``validate``) of the :meth:`probe` returns of ``names``, grouped by job. A server without
        that part (not probed, a minion without ``turnup.prepare``, a box that synced a module
        and was not validated) is left out: the step asks it with a job of its own.
        """
        probed = self.record.get("probed") or {}
        by_job = {}
        for name in names:
            ret = (probed.get(name) or {}).get("ret")
            if not isinstance(ret, dict) or "sync_all" not in ret or ret.get(step) is None:
                continue
            done, returns, _ = by_job.setdefault(
                probed[name]["jid"], ([], {}, probed[name]["started"])
            )
            done.append(name)
            returns[self.record["devices"][name]["minion"]] = {
                "ret": ret[step],
                "retcode": probed[name]["retcode"],
            }
        return by_job

    # pylint: disable-next=too-many-arguments
    def run_job(  # noqa: PLR0913, PLR0917
        self, step, names, fun, judge, arg=(), kwarg=None, timeout=None, keep=None, hold=None
    ):
        """
        Run ``fun`` on the minions of ``names`` as one job, record its jid for every device
        before waiting, judge each return (``judge(ret) -> (ok, comment)``) and fail the others;
        ``keep(name, ret)`` is called with each return judged ok. A return judged not ok for
        which ``hold(ret)`` is true is left undecided (``None`` in the result, no event, nothing
        written): the caller looks again. Returns ``{name: True|False|None}``.
        """
        if not names:
            return {}
        timeout = timeout or float(self.options()["job_timeout"])
        want = self.minions(names)
        started = rec.now()
        # after a master restart minions reconnect in their own time: wait (bounded) for them.
        # Minions that answered this master during the run are not asked again: a ping of a
        # rack's minions is a job on every one of them (seconds on a loaded master)
        ask = self.unseen(list(want))
        answered = set(want) - set(ask)
        if ask:
            answered |= self.ping(ask, float(self.options()["minion_timeout"]))
            self.seen(answered)
        for minion in [m for m in want if m not in answered]:
            name = want.pop(minion)
            self._event(name, step, False, started, comment="minion does not answer")
            if not self.test:
                self.fail(name, step, f"minion {minion} did not answer before {fun}")
        if not want:
            self.save()
            return {}
        # the jid is in the record before the job is published: a run interrupted at any point
        # knows every job that may have started (turnup.resume looks it up, never re-runs it)
        jid = "" if self.test else salt.utils.jid.gen_jid(self.store.opts)
        if not self.test:
            for name in want.values():
                self.note(name, step, jid=jid, started=started, result=None)
            self.save()
        pub = self.client.run_job(
            list(want),
            fun,
            arg=list(arg),
            tgt_type="list",
            kwarg=kwarg or {},
            timeout=30,
            jid=jid,
            # the minion keeps the highstate's return itself (returner turnup_jobs): known
            # after a master restart even if it ended while no master listened
            ret=jobs.RETURNER if fun == "state.highstate" else "",
        )
        published = (pub or {}).get("jid")
        if not published:
            for name in want.values():
                self.fail(name, step, f"the master could not publish {fun} (no job id)")
            self.save()
            return {}
        if published != jid and not self.test:  # a master that picks its own jid
            for name in want.values():
                self.note(name, step, jid=published)
            self.save()
        jid = published
        returns = self.collect(jid, list(want), timeout)
        return self.judge_returns(step, want, jid, returns, judge, started, keep=keep, hold=hold)

    def collect(self, jid, minions, timeout, alive_check=True):
        """
        The returns of job ``jid`` from ``minions`` (``{minion: data}``). Salt waits for them
        (``timeout`` seconds, then as long as ``saltutil.find_job`` finds minions still running
        the job, asked every ``gather_job_timeout``). With ``alive_check``, Salt asks after
        :data:`ALIVE_CHECK` seconds already, and when none of the minions left runs the job,
        those that do not answer a ping either are gone (a box that died or fell off the network
        mid-job): given up at once and noted in :attr:`gone`, not after ``timeout``. Those that
        answer are waited for again until ``timeout``.
        """
        deadline = time.time() + timeout
        check = alive_check_seconds(getattr(self.store, "opts", None)) if alive_check else timeout
        returns = {}
        while True:
            left = [m for m in minions if m not in returns]
            wait = min(deadline - time.time(), check)
            if not left or wait <= 0:
                return returns
            for item in self.client.get_iter_returns(
                jid, set(left), timeout=wait, tgt=left, tgt_type="list"
            ):
                for minion, data in (item or {}).items():
                    if minion in left and isinstance(data, dict):
                        returns[minion] = data
                if all(m in returns for m in left):
                    break
            left = [m for m in minions if m not in returns]
            if not left or not alive_check or time.time() >= deadline:
                return returns
            # none of them runs the job any more, as far as saltutil.find_job can tell
            alive = self.ping(left, 5)
            self.gone.update((m, jid) for m in left if m not in alive)
            if not alive:
                return returns
            minions = [m for m in minions if m in returns or m in alive]

    # pylint: disable-next=too-many-arguments
    def judge_returns(  # noqa: PLR0913, PLR0917
        self, step, want, jid, returns, judge, started, keep=None, hold=None
    ):
        results = {}
        self.seen([m for m in want if m in returns])
        for minion, name in want.items():
            data = returns.get(minion)
            if data is None and (minion, jid) in self.gone:
                ok, comment = False, (
                    f"{minion} stopped answering during job {jid} (neither saltutil.find_job "
                    "nor test.ping): is the box down or off the network?"
                )
            elif data is None:
                ok, comment = False, f"no return from {minion} for job {jid}"
            else:
                value = data.get("ret", data.get("return"))
                retcode = data.get("retcode", 0)
                ok, comment = judge(value)
                if ok and retcode not in (0, None) and step != "highstate":
                    ok, comment = False, f"retcode {retcode}: {value}"
                if not ok and hold is not None and hold(value):
                    results[name] = None
                    continue
            results[name] = ok
            if ok and keep is not None:
                keep(name, value)
            if ok:
                self._event(name, step, True, started, comment=comment, jid=jid)
            else:
                self._event(name, step, False, started, comment=comment, jid=jid)
                if self.test:
                    self.change(name, "status", self.record["devices"][name]["status"], "failed")
                    self.changes[name]["predicted_failure"] = {
                        "old": None,
                        "new": f"{step}: {comment}",
                    }
                    continue
                self.fail(name, step, comment, jid=jid)
        self.save()
        return results

    def sync_all(self):
        """
        ``saltutil.sync_all`` of the custom module types there are (:mod:`sync`): judged from
        the returns of the job ``wait_minions`` asked with (:meth:`probe`); servers without such
        a return (a prediction, a run resumed on a restarted master, a minion without
        ``turnup.prepare``) get ``turnup.sync_all`` now.
        """
        names = self.todo("sync_all")

        def judge(ret):
            if not isinstance(ret, dict) or "synced" not in ret:
                return False, f"turnup.sync_all failed: {ret}"
            synced = ", ".join(f"{k}: {', '.join(v)}" for k, v in sorted(ret["synced"].items()))
            return True, (
                (f"synced {synced}" if synced else "custom modules up to date")
                + f" ({len(ret['checked'])} type(s) checked"
                + (", pillar refreshed)" if ret.get("refreshed") else ")")
            )

        rest = list(names)
        for jid, (done, returns, started) in self.probed("sync_all", names).items():
            self.judge_returns("sync_all", self.minions(done), jid, returns, judge, started)
            rest = [n for n in rest if n not in done]
        forms = self.module_forms() if rest else []
        self.run_job(
            "sync_all", rest, "turnup.sync_all", judge, kwarg={"forms": forms}, timeout=300
        )
        self.check_threshold("sync_all")

    def validate(self):
        """
        ``hardware.validate`` on the servers: generation profile and NetBox. The first look is
        the one in the job ``wait_minions`` asked with (:meth:`probe`, right after the sync);
        servers without it (a prediction, a box that synced a module, a run resumed on a
        restarted master) get the job now. A server that fails
        against the pillar its minion holds is checked once more against a pillar compiled now
        (``fresh_pillar``): the minion's copy is as old as its last pillar refresh, and a cable
        or serial fixed in NetBox since then must count. Servers that pass are not asked again:
        what NetBox changed against them is caught by the highstate, whose pillar is compiled
        for it (``hwgen-validated``) and by the post-check.
        """
        names = self.todo("validate")

        def judge(ret):
            if not isinstance(ret, dict) or "passed" not in ret:
                return False, f"hardware.validate could not run: {ret}"
            if ret["passed"]:
                return True, ret.get("summary") or "hardware matches NetBox and its profile"
            return False, _failed_checks(ret)

        def keep(name, ret):  # the inventory the box was checked with: sync_inventory's
            if not self.test and isinstance(ret.get("inventory"), dict):
                self.store.keep_inventory(self.record["id"], name, ret["inventory"])

        def mismatch(ret):  # failed checks (not a function that could not run): look again
            return isinstance(ret, dict) and ret.get("passed") is False

        first = {}
        for jid, (done, returns, started) in self.probed("validate", names).items():
            first.update(
                self.judge_returns(
                    "validate", self.minions(done), jid, returns, judge, started, hold=mismatch
                )
            )
        kwarg = {} if self.test else {"with_inventory": True}
        first.update(
            self.run_job(
                "validate",
                [n for n in names if n not in first],
                "hardware.validate",
                judge,
                kwarg=kwarg,
                timeout=300,
                keep=keep,
                hold=mismatch,
            )
        )
        again = [n for n, ok in first.items() if ok is None]
        self.run_job(
            "validate",
            again,
            "hardware.validate",
            judge,
            kwarg={**kwarg, "fresh_pillar": True},
            timeout=300,
            keep=keep,
        )
        if not self.test and self.record.pop("probed", None) is not None:
            self.save()
        self.check_threshold("validate")

    def sync_inventory(self):
        """
        The inventory each server's validate job returned, written to NetBox from the master
        (serial, MACs, inventory items; a journal entry naming this job): no second job on the
        minions. A server whose inventory is not kept (a prediction, a run validated before
        the inventory was kept) runs ``netbox.sync_inventory`` on its minion instead.
        """
        names = self.todo("sync_inventory")
        kept = {}
        if not self.test:
            for name in names:
                inventory = self.store.inventory(self.record["id"], name)
                if inventory is not None:
                    kept[name] = inventory
        for name, inventory in kept.items():
            self.sync_kept_inventory(name, inventory)
        self.minion_sync_inventory([n for n in names if n not in kept])
        self.check_threshold("sync_inventory")

    def sync_kept_inventory(self, name, inventory):
        started = rec.now()
        try:
            dev = self.src.get("dcim.devices", self.record["plan"]["devices"][name]["id"])
            ret = nbsync.sync_inventory(self.src, dev, inventory, jid=self.jid, who=self.who)
        except (NetBoxError, SaltException) as err:
            # NetBox refused or failed for this server: it fails, the others go on
            ret = f"{type(err).__name__}: {err}"
        ok, comment = _judge_inventory(ret)
        self._event(name, "sync_inventory", ok, started, comment=comment, jid=self.jid)
        if not ok:
            self.fail(name, "sync_inventory", comment, jid=self.jid)
        self.save()

    def minion_sync_inventory(self, names):
        kwarg = {"test": True} if self.test else {}
        self.run_job(
            "sync_inventory", names, "netbox.sync_inventory", _judge_inventory, kwarg=kwarg
        )

    def postcheck(self):
        postcheck.run(self)  # cabling by LLDP, the profile's required services (postcheck.py)

    def network(self):
        network.run(self)  # the OOB/ToR waves: managed configured, unmanaged checked (network.py)

    # -- highstate ------------------------------------------------------------------------------
    def highstate(self):
        """
        Wave by wave; a highstate in flight when the master died is looked up, not re-run.

        Each highstate ends with the post-check (pillar ``turnup:postcheck``: the ``hwgen`` SLS
        adds ``hardware.postchecked`` last): its result is the server's ``postcheck`` step,
        judged with its wave, so a canary whose links or services are down stops the run
        before the batches. A highstate without that state (a top file without ``hwgen``)
        leaves the post-check to the ``postcheck`` step's own job.
        """
        self.recover_inflight()
        for wave in self.record["plan"]["waves"]:
            if wave["kind"] == "network":
                continue
            names = [n for n in wave["devices"] if n in self.todo("highstate")]
            if self.record.get("abort_requested") and not self.test:
                self.abort_now("highstate")
            if names:
                kwarg = {"test": True} if self.test else {"pillar": postcheck.PILLAR}
                found = {}
                self.run_job(
                    "highstate",
                    names,
                    "state.highstate",
                    _judge_highstate,
                    kwarg=kwarg,
                    keep=found.__setitem__,
                )
                postcheck.from_highstate(self, found)
            self.check_threshold("highstate", wave)
            self.check_threshold("postcheck", wave)

    def recover_inflight(self):
        """Highstates in flight when the run was interrupted: their end, from the caches."""
        inflight = {}
        for name in self.servers():
            step = self.record["devices"][name]["steps"].get("highstate") or {}
            if step.get("jid") and step.get("result") is None:
                inflight.setdefault(step["jid"], []).append(name)
        for jid, names in inflight.items():
            found = {}
            self.recover_job("highstate", jid, names, _judge_highstate, keep=found.__setitem__)
            postcheck.from_highstate(self, found)

    def recover_job(self, step, jid, names, judge, keep=None):
        """
        Judge the devices ``names`` whose ``step`` job ``jid`` was in flight (see
        :mod:`inflight`); a job the master never published is forgotten, so it runs now.
        """
        want = self.minions(names)
        started = (self.record["devices"][names[0]]["steps"].get(step) or {}).get("started")
        found = inflight.find(self, jid, list(want))
        returns = {}
        for minion, name in want.items():
            kind, value = found[minion]
            if kind == inflight.UNPUBLISHED:
                self.record["devices"][name]["steps"].pop(step, None)
                self.record["history"].append(
                    {"at": rec.now(), "event": f"{name}: {step} {value}", "jid": self.jid}
                )
            else:
                returns[minion] = {"ret": value}
        self.save()
        judged = {m: n for m, n in want.items() if m in returns}
        if judged:
            self.judge_returns(step, judged, jid, returns, judge, started or rec.now(), keep=keep)

    def abort_now(self, step):
        self.record["state"] = "aborted"
        for name in self.servers():
            if not rec.step_done(self.record, name, "activate"):
                try:
                    ops.write_journal(
                        self.src,
                        "dcim.device",
                        self.record["plan"]["devices"][name]["id"],
                        f"Turn-up run {self.record['id']} aborted before {step}; left "
                        f"{self.record['devices'][name]['status']}",
                        kind="warning",
                        jid=self.jid,
                        who=self.who,
                    )
                except Exception as err:  # pylint: disable=broad-except
                    log.error("turnup: journal entry for %s failed: %s", name, err)
        self.record["history"].append({"at": rec.now(), "event": f"aborted at {step}"})
        self.save()
        raise StopRun(f"turn-up run {self.record['id']} aborted (turnup.abort) before {step}")

    # -- finish ---------------------------------------------------------------------------------
    def finish(self, state=None):
        failed = rec.failed(self.record)
        if state is None:
            state = "aborted" if self.record.get("abort_requested") else "done"
        if state == "done" and self.record["state"] in ("stopped", "aborted"):
            state = self.record["state"]
        if not self.test:
            if state in rec.FINISHED:  # a stopped run keeps it for its resume
                self.store.drop_inventory(self.record["id"])
            self.record["state"] = state
            self.record["finished"] = rec.now()
            self.record["history"].append({"at": rec.now(), "event": f"finished: {state}"})
            self.save()
            self.store.release(self.record["site"], self.record["rack"], self.record["id"])
        self.bus.done(self.record["id"], state, failed)
        return state, failed


def alive_check_seconds(opts):
    """The master option ``turnup: {alive_check: ...}`` (:data:`ALIVE_CHECK` when unset),
    checked."""
    value = ((opts or {}).get("turnup") or {}).get("alive_check")
    return ALIVE_CHECK if value is None else seconds(value, "master option turnup:alive_check")


def master_incarnation(opts):
    """
    This master's present incarnation: its pidfile's pid and write time (a restarted master
    rewrites it), or None when unknown (then every minion job is preceded by a ping).
    """
    path = (opts or {}).get("pidfile")
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            pid = handle.read().strip()
        return f"{pid}@{os.stat(path).st_mtime_ns}" if pid else None
    except (OSError, ValueError):
        return None


def _judge_inventory(ret):
    """``(ok, comment)`` of a ``netbox.sync_inventory`` return."""
    if not isinstance(ret, dict) or "conflicts" not in ret:
        return False, f"netbox.sync_inventory could not run: {ret}"
    if ret["conflicts"]:
        return False, "inventory conflicts with NetBox: " + "; ".join(
            str(c) for c in ret["conflicts"]
        )
    return True, (
        f"{len(ret.get('changes') or {})} kind(s) of change"
        if ret.get("changes")
        else "NetBox already up to date"
    )


def _failed_checks(report):
    by = {c["name"]: c for c in report.get("checks") or []}
    parts = []
    for name in report.get("failed") or []:
        check = by.get(name) or {}
        parts.append(f"{name}: {check.get('comment') or check.get('actual')}")
    return "hardware validation failed: " + ("; ".join(parts) or str(report.get("summary")))


def _judge_highstate(ret):
    """``(ok, comment)`` of a highstate return; its post-check state is judged by the post-check
    (:func:`postcheck.from_highstate`), not here."""
    if isinstance(ret, dict) and ret:
        bad = [
            f"{v.get('__id__', k)}: {v.get('comment')}"
            for k, v in ret.items()
            if isinstance(v, dict)
            and v.get("result") is False
            and v.get("__id__") != postcheck.STATE_ID
        ]
        if bad:
            return False, "highstate failed: " + "; ".join(bad)
        if all(isinstance(v, dict) for v in ret.values()):
            changed = sum(1 for v in ret.values() if v.get("changes"))
            return True, f"{len(ret)} states, {changed} changed"
    return False, f"highstate failed: {ret}"
