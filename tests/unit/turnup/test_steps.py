"""The turn-up steps with a fake LocalClient (the minions' answers), a writable lab1 snapshot as
NetBox and salt.cache (localfs) as the run record: failure isolation, threshold, the canary,
resume of an in-flight highstate from the job cache, test mode, a finished run re-run."""

import inspect
import itertools

import pytest
from salt.exceptions import SaltInvocationError

from salt_ext.utils.hardware import inventory as hwinv
from salt_ext.utils.netbox import SnapshotSource
from salt_ext.utils.netbox_ops.diff import simplify
from salt_ext.utils.turnup import inflight
from salt_ext.utils.turnup import record as rec
from salt_ext.utils.turnup import steps
from tests.support.lab_boxes import LabBoxes
from tests.support.saltenv import LAB1_SNAPSHOT

SERVERS = [f"srv-r2-0{i}" for i in range(1, 9)]
_JIDS = itertools.count(20261202120000000000)


class FakeClient:
    """Answers like minions: ``answers[fun](minion) -> return``; records every published job."""

    def __init__(self, answers=None, silent=()):
        self.answers = answers or {}
        self.silent = set(silent)
        self.jobs = []
        self.pending = {}
        self.returners = {}
        self.minion_side = {}

    def _answer(self, fun, minion, kwarg=None):
        if fun in self.answers:
            answer = self.answers[fun]
            if len(inspect.signature(answer).parameters) == 2:  # answer(minion, kwarg)
                return answer(minion, kwarg or {})
            return answer(minion)
        if fun == "hardware.validate":
            return {"passed": True, "checks": [{"name": "cabling.eno1", "ok": True}], "failed": []}
        if fun == "netbox.sync_inventory":
            return {"changes": {}, "conflicts": []}
        if fun == "turnup.sync_all":
            return {"synced": {}, "checked": [], "skipped": ["modules"], "refreshed": False}
        if fun == "turnup.prepare":
            return self.prepare_answer(minion, kwarg)
        if fun == "state.highstate":
            return {"file_|-a_|-a_|-managed": {"result": True, "changes": {}, "__id__": "a"}}
        return {}

    def prepare_answer(self, minion, kwarg):
        """The minion's turnup.prepare: the sync, then (nothing synced) the validation."""
        sync = self._answer("turnup.sync_all", minion, kwarg)
        if not isinstance(sync, dict) or sync.get("synced"):
            return {"sync_all": sync, "validate": None}
        return {
            "sync_all": sync,
            "validate": self._answer("hardware.validate", minion, {"with_inventory": True}),
        }

    def cmd(self, tgt, fun, arg=(), tgt_type="list", timeout=None, **kw):
        if fun == "test.ping":
            return {m: True for m in tgt if m not in self.silent}
        if fun in self.minion_side:  # saltutil.find_job, ret.get_jid, saltutil.find_cached_job
            return {m: self.minion_side[fun](m, list(arg)) for m in tgt if m not in self.silent}
        if fun == "saltutil.find_job":
            return {m: {} for m in tgt if m not in self.silent}
        if fun in ("ret.get_jid", "saltutil.find_cached_job"):  # the returner kept nothing
            return {m: {} for m in tgt if m not in self.silent}
        return {}

    # pylint: disable-next=too-many-arguments
    def run_job(  # noqa: PLR0913, PLR0917
        self, tgt, fun, arg=(), tgt_type="list", kwarg=None, timeout=None, jid="", ret=""
    ):
        jid = jid or str(next(_JIDS))
        self.jobs.append((fun, list(tgt), dict(kwarg or {}), jid))
        self.returners[jid] = ret
        self.pending[jid] = (fun, list(tgt), dict(kwarg or {}))
        return {"jid": jid, "minions": list(tgt)}

    def get_iter_returns(self, jid, minions, timeout=None, **kw):
        fun, tgt, kwarg = self.pending.pop(jid)
        for minion in tgt:
            if minion not in self.silent:
                yield {minion: {"ret": self._answer(fun, minion, kwarg), "retcode": 0}}

    def count(self, fun, minion=None):
        return sum(1 for f, t, _, _ in self.jobs if f == fun and (minion is None or minion in t))


class NullBus:
    def __init__(self):
        self.events = []

    def step(self, run, device, step, result):
        self.events.append((device, step, result["result"]))

    def done(self, run, state, failed):
        self.events.append(("done", state, failed))

    def close(self):
        pass


@pytest.fixture
def src(tmp_path):
    path = tmp_path / "lab1.json"
    path.write_text(LAB1_SNAPSHOT.read_text())
    return SnapshotSource(str(path))


@pytest.fixture
def opts(tmp_path):
    return {"cache": "localfs", "cachedir": str(tmp_path / "cache"), "id": "master-a"}


def turnup(src, opts, client, test=False, lookup=None, *, published=True):  # noqa: PLR0913
    return steps.Turnup(
        src,
        rec.Store(opts),
        NullBus(),
        client,
        lookup_jid=lookup,
        lookup_load=lambda jid: published,
        jid="20261202999",
        test=test,
        module_forms=lambda: [],  # the master's file server holds no custom modules
    )


@pytest.fixture(autouse=True)
def _no_poll_wait(monkeypatch):
    monkeypatch.setattr(inflight, "POLL", 0)


def status(src, name):
    return simplify(next(d for d in src.list("dcim.devices", {"name": name}))["status"])


def run_all(t, site="lab1", rack="R2", **options):
    t.start(site, rack, options={"batch": 3, **options}, accepted=set())
    for name in steps.ORDER[2:-1]:
        getattr(t, name)()
    return t.finish()


def bad_validate(bad):
    def answer(minion):
        if minion in bad:
            return {
                "passed": False,
                "failed": ["cabling.eno2"],
                "checks": [
                    {"name": "cabling.eno2", "ok": False, "comment": "NetBox says Ethernet3"}
                ],
            }
        return {"passed": True, "checks": [], "failed": []}

    return answer


def test_healthy_run_and_isolated_failure(src, opts):
    client = FakeClient({"hardware.validate": bad_validate({"srv-r2-03"})})
    t = turnup(src, opts, client)
    state, failed = run_all(t)
    assert state == "done" and failed == {"srv-r2-03": "validate"}
    assert status(src, "srv-r2-03") == "failed"
    assert all(status(src, n) == "active" for n in SERVERS if n != "srv-r2-03")
    assert client.count("state.highstate", "srv-r2-03") == 0
    assert all(client.count("state.highstate", n) == 1 for n in SERVERS if n != "srv-r2-03")
    dev = src.list("dcim.devices", {"name": "srv-r2-03"})[0]
    notes = [
        j["comments"] for j in src.list("extras.journal-entries", {"assigned_object_id": dev["id"]})
    ]
    assert any("step validate failed (minion job 2" in n and "cabling.eno2" in n for n in notes)
    record = rec.Store(opts).get(t.record["id"])
    assert record["state"] == "done"
    assert record["devices"]["srv-r2-01"]["steps"]["highstate"]["jid"]
    assert rec.Store(opts).lock("lab1", "R2") is None


def test_threshold_stops_the_run_devices_not_reached_stay_staged(src, opts):
    client = FakeClient({"hardware.validate": bad_validate({"srv-r2-03", "srv-r2-05"})})
    t = turnup(src, opts, client)
    with pytest.raises(steps.StopRun, match="2 of 8 servers failed"):
        run_all(t)
    assert t.record["state"] == "stopped"
    assert status(src, "srv-r2-01") == "staged" and client.count("state.highstate") == 0


def test_canary_failure_stops(src, opts):
    def highstate(minion):
        result = minion != "srv-r2-01"
        return {"x": {"result": result, "comment": "boom", "changes": {}, "__id__": "x"}}

    t = turnup(src, opts, FakeClient({"state.highstate": highstate}))
    with pytest.raises(steps.StopRun, match="canary srv-r2-01 failed"):
        run_all(t)
    assert status(src, "srv-r2-02") == "staged"


def test_resume_looks_up_an_inflight_highstate_instead_of_running_it(src, opts):
    client = FakeClient()
    t = turnup(src, opts, client)
    t.start("lab1", "R2", options={"batch": 3}, accepted=set())
    for name in ("stage", "wait_minions", "sync_all", "validate", "sync_inventory"):
        getattr(t, name)()
    # the master died while the canary's highstate ran: jid recorded, no result
    t.note("srv-r2-01", "highstate", jid="20261202100000000001", result=None, started=1)
    t.save()
    cache = {"srv-r2-01": {"a": {"result": True, "changes": {"x": 1}, "__id__": "a"}}}
    resumed = turnup(src, opts, client, lookup=lambda jid: cache if jid.endswith("0001") else {})
    resumed.load(run=t.record["id"])
    resumed.highstate()
    assert client.count("state.highstate", "srv-r2-01") == 0
    assert resumed.record["devices"]["srv-r2-01"]["steps"]["highstate"]["result"] is True
    assert all(client.count("state.highstate", n) == 1 for n in SERVERS[1:])


INFLIGHT = "20261202100000000001"
OK_STATES = {"a": {"result": True, "changes": {"x": 1}, "__id__": "a"}}


def interrupted(src, opts, client):
    """A run whose master died while the canary's highstate (jid INFLIGHT) was in flight."""
    t = turnup(src, opts, client)
    t.start("lab1", "R2", options={"batch": 3}, accepted=set())
    for name in ("stage", "wait_minions", "sync_all", "validate", "sync_inventory"):
        getattr(t, name)()
    t.note("srv-r2-01", "highstate", jid=INFLIGHT, result=None, started=1)
    t.save()
    return t.record["id"]


@pytest.fixture
def run_id(src, opts):
    return interrupted(src, opts, FakeClient())


def resume(src, opts, client, run, *, stops=False, minion_timeout=None, **kw):  # noqa: PLR0913
    """``highstate`` of the interrupted run resumed; ``stops``: the canary fails, the run stops."""
    t = turnup(src, opts, client, **kw)
    t.load(run=run)
    if minion_timeout is not None:
        t.record["options"]["minion_timeout"] = minion_timeout
    if stops:
        with pytest.raises(steps.StopRun, match="the canary srv-r2-01 failed at highstate"):
            t.highstate()
    else:
        t.highstate()
    return t


def test_resume_finds_a_highstate_the_minion_kept_while_no_master_listened(src, opts, run_id):
    client = FakeClient()
    client.minion_side["ret.get_jid"] = lambda m, arg: (
        {m: {"jid": INFLIGHT, "return": OK_STATES, "retcode": 0}}
        if arg == ["turnup_jobs", INFLIGHT]
        else {}
    )
    t = resume(src, opts, client, run_id)
    assert client.count("state.highstate", "srv-r2-01") == 0
    step = t.record["devices"]["srv-r2-01"]["steps"]["highstate"]
    assert step["result"] is True and step["jid"] == INFLIGHT
    # every highstate the run publishes asks the minion to keep its return
    jids = [j for f, _, _, j in client.jobs if f == "state.highstate"]
    assert jids and all(client.returners[j] == "turnup_jobs" for j in jids)


def test_resume_waits_for_a_highstate_still_running(src, opts, run_id):
    client = FakeClient()
    looks = []

    def find_job(minion, arg):
        looks.append(arg)
        return {"jid": INFLIGHT, "fun": "state.highstate"} if len(looks) < 3 else {}

    client.minion_side["saltutil.find_job"] = find_job
    t = resume(
        src,
        opts,
        client,
        run_id,
        lookup=lambda jid: {"srv-r2-01": OK_STATES} if len(looks) >= 3 else {},
    )
    assert len(looks) == 3 and client.count("state.highstate", "srv-r2-01") == 0
    assert t.record["devices"]["srv-r2-01"]["steps"]["highstate"]["result"] is True


def test_resume_never_reapplies_a_published_job_no_cache_knows(src, opts, run_id):
    client = FakeClient()
    t = resume(src, opts, client, run_id, published=True, stops=True)
    dev = t.record["devices"]["srv-r2-01"]
    assert client.count("state.highstate", "srv-r2-01") == 0
    assert dev["failed_step"] == "highstate" and INFLIGHT in dev["error"]
    assert "no cache knows how it ended" in dev["error"] and "not applied again" in dev["error"]
    assert status(src, "srv-r2-01") == "failed"


def test_resume_runs_a_recorded_job_the_master_never_published(src, opts, run_id):
    client = FakeClient()
    t = resume(src, opts, client, run_id, published=False)
    assert client.count("state.highstate", "srv-r2-01") == 1
    assert t.record["devices"]["srv-r2-01"]["steps"]["highstate"]["result"] is True
    assert any("never published" in h["event"] for h in t.record["history"])


def test_resume_without_the_returner_on_the_minion_never_reapplies(src, opts, run_id):
    client = FakeClient()
    client.minion_side["ret.get_jid"] = lambda m, arg: "'turnup_jobs.get_jid' is not available."
    t = resume(src, opts, client, run_id, published=False, stops=True)
    assert client.count("state.highstate", "srv-r2-01") == 0
    assert t.record["devices"]["srv-r2-01"]["failed_step"] == "highstate"


def test_a_silent_minion_after_the_restart_fails_without_waiting_for_job_timeout(src, opts, run_id):
    client = FakeClient(silent={"srv-r2-01"})
    t = resume(src, opts, client, run_id, stops=True, minion_timeout=0.5)
    dev = t.record["devices"]["srv-r2-01"]
    assert dev["failed_step"] == "highstate" and "did not answer within" in dev["error"]


def test_the_jid_is_recorded_before_the_job_is_published(src, opts):
    store = rec.Store(opts)
    seen = []

    class Watching(FakeClient):
        def run_job(self, tgt, fun, *args, **kwargs):
            pub = super().run_job(tgt, fun, *args, **kwargs)
            if fun == "state.highstate":  # what a master dying right now would leave
                devices = store.get(t.record["id"])["devices"]
                names = [n for n, d in devices.items() if d.get("minion") in tgt]
                steps_ = [devices[n]["steps"].get("highstate") or {} for n in names]
                seen.append(bool(names) and all(s.get("jid") == pub["jid"] for s in steps_))
            return pub

    t = turnup(src, opts, Watching())
    state, failed = run_all(t)
    assert state == "done" and not failed
    assert seen and all(seen)


def test_test_mode_predicts_and_writes_nothing(src, opts):
    client = FakeClient({"hardware.validate": bad_validate({"srv-r2-03"})})
    t = turnup(src, opts, client, test=True)
    t.start("lab1", "R2", options={"batch": 3}, accepted=set())
    t.stage()
    t.validate()
    assert t.changes["srv-r2-01"]["status"] == {"old": "planned", "new": "staged"}
    assert t.changes["srv-r2-03"]["status"]["new"] == "failed"
    t.activate()  # predicted from planned: the earlier steps wrote nothing
    assert t.changes["srv-r2-01"]["status"] == {"old": "planned", "new": "active"}
    assert t.record["id"] == "lab1-R2-test"
    assert status(src, "srv-r2-01") == "planned"
    assert rec.Store(opts).list() == []


def test_finished_run_rerun_changes_nothing(src, opts):
    client = FakeClient()
    run_all(turnup(src, opts, client))
    jobs = len(client.jobs)
    again = turnup(src, opts, client)
    out = again.start("lab1", "R2", options={}, accepted=set())
    assert out["action"] == "finished"
    assert len(client.jobs) == jobs


def test_new_run_on_an_active_rack_runs_no_highstate(src, opts):
    client = FakeClient()
    run_all(turnup(src, opts, client))
    before = client.count("state.highstate")
    t = turnup(src, opts, client)
    t.start("lab1", "R2", options={"batch": 3}, accepted=set(), new=True)
    for name in steps.ORDER[2:-1]:
        getattr(t, name)()
    assert client.count("state.highstate") == before


def test_second_start_while_running_names_the_run(src, opts):
    import os  # noqa: PLC0415

    t = turnup(src, opts, FakeClient())
    t.start("lab1", "R2", options={}, accepted=set())
    lock = rec.Store(opts).lock("lab1", "R2")
    lock["pid"] = os.getppid()  # an owner process that is alive
    rec.Store(opts).cache.store(rec.LOCKS, "lab1.R2", lock)
    other = turnup(src, opts, FakeClient())
    with pytest.raises(Exception, match=t.record["id"]):
        other.start("lab1", "R2", options={}, accepted=set(), new=True)
    # without new: the running run is not resumed beside the orchestration running it
    with pytest.raises(Exception, match=f"already has a running turn-up: run {t.record['id']}"):
        other.start("lab1", "R2", options={}, accepted=set())
    assert "resumed" not in str(rec.Store(opts).get(t.record["id"])["history"])


def test_abort_stops_before_the_next_batch_with_journal_entries(src, opts):
    client = FakeClient()
    t = turnup(src, opts, client)
    t.start("lab1", "R2", options={"batch": 3}, accepted=set())
    for name in ("stage", "wait_minions", "sync_all", "validate", "sync_inventory"):
        getattr(t, name)()
    t.record["abort_requested"] = True
    with pytest.raises(steps.StopRun, match="aborted"):
        t.highstate()
    assert client.count("state.highstate") == 0
    state, _ = t.finish()
    assert state == "aborted" and status(src, "srv-r2-04") == "staged"
    dev = src.list("dcim.devices", {"name": "srv-r2-04"})[0]
    notes = [
        j["comments"] for j in src.list("extras.journal-entries", {"assigned_object_id": dev["id"]})
    ]
    assert any("aborted before highstate; left staged" in n for n in notes)


class Pinged(FakeClient):
    """Counts the minions asked test.ping."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pinged = []

    def cmd(self, tgt, fun, arg=(), tgt_type="list", timeout=None, **kw):
        if fun == "test.ping":
            self.pinged.extend(tgt)
        return super().cmd(tgt, fun, arg, tgt_type, timeout, **kw)


def test_minions_seen_by_this_master_are_not_pinged_before_each_job(src, opts, tmp_path):
    pidfile = tmp_path / "salt-master.pid"
    pidfile.write_text("4242\n")
    opts = dict(opts, pidfile=str(pidfile))
    client = Pinged()
    t = turnup(src, opts, client)
    t.start("lab1", "R2", options={"batch": 3}, accepted=set())
    for name in steps.ORDER[2:-1]:
        getattr(t, name)()
    # wait_minions asked every server with the turnup.prepare job (no ping), which sync_all
    # and validate judged; the jobs after it (4 highstate waves, postcheck) pinged none
    assert client.pinged == []
    assert client.count("turnup.prepare") == 1 and client.count("state.highstate") == 4
    assert client.count("turnup.sync_all") == 0
    assert [kw for f, _, kw, _ in client.jobs if f == "hardware.validate"] == [
        {"postcheck": True, "fresh_pillar": True}
    ]  # the postcheck's (this fake's highstate has no hwgen-postcheck state)
    assert t.record["reachable"]["master"].startswith("4242@")

    # the master restarts (its pidfile is written anew): every minion is asked again once
    pidfile.write_text("4343\n")
    client.pinged.clear()
    t2 = turnup(src, opts, client)
    t2.load(run=t.record["id"])
    t2.record["devices"]["srv-r2-01"]["steps"].pop("postcheck")
    t2.postcheck()
    assert client.pinged == [t.record["devices"]["srv-r2-01"]["minion"]]


def test_without_a_pidfile_every_job_asks_its_minions_first(src, opts):
    client = Pinged()
    run_all(turnup(src, opts, client))
    # sync_inventory (this fake's validate keeps no inventory: a minion job), 4 highstate
    # waves, postcheck; wait_minions asks with the turnup.prepare job, which the sync_all and
    # validate steps judge: none of the three pings
    assert len(client.pinged) == 8 * 3


def test_the_validate_jobs_inventory_is_written_to_netbox_from_the_master(src, opts):
    boxes = LabBoxes()
    r101_serial = next(iter(src.list("dcim.devices", {"name": "srv-r1-01"})))["serial"]

    def validate(minion):
        name = minion.split(".")[0]
        # srv-r2-02 reports srv-r1-01's serial: a conflict, nothing written
        wrong = {"system": {"serial": r101_serial}} if name == "srv-r2-02" else None
        box = hwinv.simulate(boxes.spec(name, wrong))
        return {"passed": True, "checks": [], "failed": [], "inventory": box}

    client = FakeClient({"hardware.validate": validate})
    t = turnup(src, opts, client)
    run_all(t)
    assert client.count("netbox.sync_inventory") == 0  # no second job on the minions
    # validated in wait_minions' turnup.prepare job; the postcheck's own job
    assert client.count("turnup.prepare") == 1
    validate_jobs = [kw for fun, _, kw, _ in client.jobs if fun == "hardware.validate"]
    assert validate_jobs == [{"postcheck": True, "fresh_pillar": True}]
    synced = t.record["devices"]["srv-r2-01"]["steps"]["sync_inventory"]
    assert synced["result"] is True and synced["jid"] == "20261202999"
    assert "change" in synced["comment"]
    dev = t.record["devices"]["srv-r2-02"]
    assert dev["failed_step"] == "sync_inventory" and r101_serial in dev["error"]
    assert status(src, "srv-r2-02") == "failed" and status(src, "srv-r2-01") == "active"
    journal = src.list("extras.journal-entries", {"assigned_object_type": "dcim.device"})
    r201 = next(iter(src.list("dcim.devices", {"name": "srv-r2-01"})))["id"]
    assert any(
        j["assigned_object_id"] == r201
        and "20261202999" in j["comments"]
        and "inventory" in j["comments"].lower()
        for j in journal
    )
    # the kept inventories go with the finished run
    assert t.store.inventory(t.record["id"], "srv-r2-01") is None


def test_a_failed_validation_is_checked_again_against_a_fresh_pillar(src, opts):
    """The minion's in-memory pillar is as old as its last refresh: srv-r2-02's cable was fixed
    in NetBox since (it passes against a pillar compiled now), srv-r2-03 is really miscabled."""

    def validate(minion, kwarg):
        stale = not kwarg.get("fresh_pillar")
        if minion == "srv-r2-03" or (minion == "srv-r2-02" and stale):
            return bad_validate({minion})(minion)
        return {"passed": True, "checks": [], "failed": []}

    client = FakeClient({"hardware.validate": validate})
    t = turnup(src, opts, client)
    state, failed = run_all(t)
    assert failed == {"srv-r2-03": "validate"}
    assert status(src, "srv-r2-02") == "active" and status(src, "srv-r2-03") == "failed"
    # the first look was wait_minions' turnup.prepare job (against the minion's pillar)
    prepare = next(j for f, _, _, j in client.jobs if f == "turnup.prepare")
    jobs = [(tgt, kw, jid) for fun, tgt, kw, jid in client.jobs if fun == "hardware.validate"]
    # only the two that failed are asked again, against a pillar compiled for the job
    assert [j[:2] for j in jobs[:1]] == [
        (["srv-r2-02", "srv-r2-03"], {"with_inventory": True, "fresh_pillar": True})
    ]
    second = jobs[0][2]
    assert t.record["devices"]["srv-r2-03"]["steps"]["validate"]["jid"] == second
    assert t.record["devices"]["srv-r2-02"]["steps"]["validate"]["jid"] == second
    assert t.record["devices"]["srv-r2-01"]["steps"]["validate"]["jid"] == prepare
    # one journal entry for the failure (the first look wrote nothing)
    dev = next(iter(src.list("dcim.devices", {"name": "srv-r2-03"})))
    entries = src.list(
        "extras.journal-entries",
        {"assigned_object_type": "dcim.device", "assigned_object_id": dev["id"]},
    )
    assert len([e for e in entries if "step validate failed" in e["comments"]]) == 1


def test_a_validation_that_could_not_run_is_not_asked_again(src, opts):
    client = FakeClient(
        {"hardware.validate": lambda m: "ERROR: 'hardware.validate' is not available."}
    )
    t = turnup(src, opts, client)
    t.start("lab1", "R2", options={"batch": 3, "max_failures": "100%"}, accepted=set())
    for name in steps.ORDER[2:7]:  # stage .. validate
        getattr(t, name)()
    # judged from wait_minions' turnup.prepare job, not asked again with a job of its own
    assert client.count("turnup.prepare") == 1 and client.count("hardware.validate") == 0
    assert set(rec.failed(t.record)) == set(SERVERS)
    assert all(
        "could not run" in t.record["devices"][n]["steps"]["validate"]["comment"] for n in SERVERS
    )


def test_wait_minions_asks_with_the_sync_job_until_every_minion_answered(src, opts, monkeypatch):
    """A minion not connected yet (srv-r2-02: silent for the first two rounds) is asked again;
    the others get one sync job; the sync_all step runs none of its own."""
    monkeypatch.setattr(steps.time, "sleep", lambda s: None)
    rounds = []

    class Late(FakeClient):
        def run_job(self, tgt, fun, *args, **kwargs):
            if fun == "turnup.prepare":
                rounds.append(list(tgt))
                self.silent = {"srv-r2-02"} if len(rounds) < 3 else set()
            return super().run_job(tgt, fun, *args, **kwargs)

    client = Late()
    t = turnup(src, opts, client)
    t.start("lab1", "R2", options={"batch": 3}, accepted=set())
    t.stage()
    t.wait_minions()
    assert rounds == [SERVERS, ["srv-r2-02"], ["srv-r2-02"]]
    assert client.count("test.ping") == 0
    t.sync_all()
    assert client.count("turnup.prepare") == 3
    assert client.count("turnup.sync_all") == 0  # no job of the sync_all step's own
    steps_of = t.record["devices"]
    assert all(steps_of[n]["steps"]["sync_all"]["result"] is True for n in SERVERS)
    first, late = client.jobs[0][3], client.jobs[2][3]
    assert steps_of["srv-r2-01"]["steps"]["sync_all"]["jid"] == first
    assert steps_of["srv-r2-02"]["steps"]["sync_all"]["jid"] == late
    t.validate()
    assert client.count("hardware.validate") == 0  # the same job validated
    assert steps_of["srv-r2-02"]["steps"]["validate"]["jid"] == late
    assert "probed" not in t.record  # consumed


def test_the_probe_leaves_to_its_steps_what_it_could_not_do(src, opts):
    """wait_minions' turnup.prepare job: srv-r2-02 synced a module (its new code loads with the
    next job: not validated in that job), srv-r2-03's minion has no turnup.prepare (a package
    older than the master's), srv-r2-04's sync failed. Only those get jobs of the steps' own;
    the inventories the others were validated with are not in the run record."""
    boxes = LabBoxes()

    def sync(minion):
        changed = {"modules": ["modules.site_tools"]} if minion == "srv-r2-02" else {}
        return {"synced": changed, "checked": ["modules"], "skipped": [], "refreshed": False}

    def prepare(minion, kwarg):
        if minion == "srv-r2-03":
            return "'turnup.prepare' is not available."
        if minion == "srv-r2-04":
            return {"sync_all": "OSError: No space left on device", "validate": None}
        return FakeClient.prepare_answer(client, minion, kwarg)

    def validate(minion):
        box = hwinv.simulate(boxes.spec(minion))
        return {"passed": True, "checks": [], "failed": [], "inventory": box}

    client = FakeClient(
        {"turnup.sync_all": sync, "hardware.validate": validate, "turnup.prepare": prepare}
    )
    t = turnup(src, opts, client)
    t.start("lab1", "R2", options={"batch": 3, "max_failures": "50%"}, accepted=set())
    for name in steps.ORDER[2:6]:  # stage .. wait_minions
        getattr(t, name)()
    assert "inventory" not in str(t.record["probed"])  # in the run's inventory bank instead
    assert t.store.inventory(t.record["id"], "srv-r2-01")["system"]
    t.sync_all()
    assert [tgt for f, tgt, *_ in client.jobs if f == "turnup.sync_all"] == [["srv-r2-03"]]
    dev = t.record["devices"]["srv-r2-04"]
    assert dev["failed_step"] == "sync_all"
    assert dev["error"] == "turnup.sync_all failed: OSError: No space left on device"
    t.validate()
    assert [tgt for f, tgt, *_ in client.jobs if f == "hardware.validate"] == [
        ["srv-r2-02", "srv-r2-03"]
    ]
    prepare_jid = client.jobs[0][3]
    done = t.record["devices"]
    assert done["srv-r2-01"]["steps"]["validate"]["jid"] == prepare_jid
    assert done["srv-r2-02"]["steps"]["validate"]["jid"] != prepare_jid
    assert all(done[n]["steps"]["validate"]["result"] is True for n in SERVERS if n != "srv-r2-04")
    assert "probed" not in t.record
    t.sync_inventory()
    assert client.count("netbox.sync_inventory") == 0  # every inventory was kept
    assert done["srv-r2-01"]["steps"]["sync_inventory"]["result"] is True


def test_a_box_that_dies_mid_job_is_given_up_when_it_stops_answering(src, opts, tmp_path):
    """srv-r2-05 goes down after the validation: its highstate never returns, Salt's find_job
    finds it running nothing and it answers no ping: failed then, naming that, without waiting
    for job_timeout. srv-r2-03's highstate returns only after a first look (still running): it
    answers the ping and is waited for."""
    waits = []

    class Flaky(FakeClient):
        def get_iter_returns(self, jid, minions, timeout=None, **kw):
            waits.append(timeout)
            fun, tgt, kwarg = self.pending.pop(jid)
            slow = fun == "state.highstate" and "srv-r2-03" in tgt and "late" not in kwarg
            for minion in tgt:
                if minion in self.silent or (slow and minion == "srv-r2-03"):
                    continue
                yield {minion: {"ret": self._answer(fun, minion, kwarg), "retcode": 0}}
            if slow:  # its return comes on the next look
                self.pending[jid] = (fun, ["srv-r2-03"], {**kwarg, "late": True})

    client = Flaky()
    pidfile = tmp_path / "salt-master.pid"  # a master whose minions answered are not pinged
    pidfile.write_text("4242\n")
    t = turnup(src, dict(opts, turnup={"alive_check": 7}, pidfile=str(pidfile)), client)
    t.start("lab1", "R2", options={"batch": 3}, accepted=set())
    for name in steps.ORDER[2:8]:  # stage .. sync_inventory
        getattr(t, name)()
    client.silent = {"srv-r2-05"}
    t.highstate()
    t.postcheck()
    t.activate()
    state, failed = t.finish()
    assert failed == {"srv-r2-05": "highstate"}
    dev = t.record["devices"]["srv-r2-05"]
    jid = dev["steps"]["highstate"]["jid"]
    assert dev["error"] == (
        f"srv-r2-05 stopped answering during job {jid} (neither saltutil.find_job nor "
        "test.ping): is the box down or off the network?"
    )
    assert status(src, "srv-r2-03") == "active" and status(src, "srv-r2-05") == "failed"
    # every highstate look is the alive check's, not job_timeout's (900 s)
    assert waits and all(0 < w <= 7 for w in waits[-6:]), waits


@pytest.mark.parametrize("value", ["soon", 0, -5, True, [60]])
def test_a_bad_alive_check_option_stops_the_run_before_it_starts(src, opts, value):
    t = turnup(src, dict(opts, turnup={"alive_check": value}), FakeClient())
    with pytest.raises(
        SaltInvocationError,
        match="master option turnup:alive_check must be a positive number of seconds",
    ):
        t.start("lab1", "R2", options={}, accepted=set())
    assert rec.Store(opts).latest("lab1", "R2") is None
    assert steps.alive_check_seconds({"turnup": {"alive_check": "15"}}) == 15.0
    assert steps.alive_check_seconds({}) == steps.ALIVE_CHECK


def test_wait_minions_fails_a_minion_that_never_answers(src, opts, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(
        steps,
        "time",
        type(
            "T",
            (),
            {
                "time": staticmethod(lambda: clock[0]),
                "sleep": staticmethod(lambda s: clock.__setitem__(0, clock[0] + s)),
            },
        ),
    )
    client = FakeClient(silent={"srv-r2-04"})
    t = turnup(src, opts, client)
    t.start("lab1", "R2", options={"batch": 3, "minion_timeout": 10}, accepted=set())
    t.stage()
    t.wait_minions()
    dev = t.record["devices"]["srv-r2-04"]
    assert dev["failed_step"] == "wait_minions" and "did not answer within 10 s" in dev["error"]
    assert status(src, "srv-r2-04") == "failed"
    published = len(client.jobs)
    t.sync_all()
    assert len(client.jobs) == published  # the others judged from the probe, srv-r2-04 out
    assert "sync_all" not in dev["steps"]


def test_a_prediction_pings_and_syncs_nothing(src, opts):
    client = FakeClient()
    t = turnup(src, opts, client, test=True)
    t.start("lab1", "R2", options={"batch": 3}, accepted=set())
    t.stage()
    t.wait_minions()
    assert client.count("turnup.sync_all") == 0
