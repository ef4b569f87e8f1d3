"""Run record and rack lock in salt.cache (localfs under the test's tmp dir)."""

import os

import pytest
from salt.exceptions import SaltInvocationError, SaltRunnerError

from salt_ext.utils.netbox import SnapshotSource
from salt_ext.utils.turnup import plan as planner
from salt_ext.utils.turnup import record as rec
from tests.support.saltenv import LAB1_SNAPSHOT


@pytest.fixture
def opts(tmp_path):
    return {"cache": "localfs", "cachedir": str(tmp_path / "cache"), "id": "master-a"}


@pytest.fixture
def plan():
    return planner.build(SnapshotSource(str(LAB1_SNAPSHOT)), "lab1", "R2")


def test_record_round_trip_and_latest(opts, plan):
    store = rec.Store(opts)
    record = rec.new_record(opts, plan, {"batch": "25%"}, jid="20261202101010101010")
    assert record["id"].startswith("lab1-R2-") and record["state"] == "running"
    assert record["devices"]["srv-r2-01"]["wave"] == "canary"
    assert record["devices"]["tor1-r2"]["kind"] == "tor"
    store.acquire("lab1", "R2", record["id"])
    store.save(record)
    # a second Store (another process / master sharing the cache) sees the same
    other = rec.Store(dict(opts))
    assert other.get(record["id"])["plan"]["servers"] == plan["servers"]
    assert other.latest("lab1", "R2")["id"] == record["id"]
    assert rec.servers(record)[0] == "srv-r2-01" and len(rec.servers(record)) == 8


def test_second_start_names_the_running_run_and_master(opts, plan):
    store = rec.Store(opts)
    store.cache.store(
        rec.LOCKS, "lab1.R2", {"run": "lab1-R2-1", "master": "master-b", "pid": 1, "since": 1}
    )
    with pytest.raises(SaltRunnerError) as err:
        store.acquire("lab1", "R2", "lab1-R2-2")
    assert "lab1-R2-1" in str(err.value) and "master-b" in str(err.value)


def test_a_rack_held_by_another_running_orchestration_is_refused_whichever_run(opts):
    """Re-running the orchestration of a rack whose run is running would resume that same run
    beside it: refused too, while its holder runs."""
    store = rec.Store(opts)
    store.acquire("lab1", "R2", "lab1-R2-1", jid="20261207080000000001")
    # another orchestration in this process (the reactor starts its runs in threads of one)
    with pytest.raises(SaltRunnerError, match="lab1-R2-1"):
        store.acquire("lab1", "R2", "lab1-R2-1", jid="20261207080000000002")
    with pytest.raises(SaltRunnerError, match="lab1-R2-1"):
        store.acquire("lab1", "R2", "lab1-R2-2", jid="20261207080000000002")
    # the holder itself goes on
    again = store.acquire("lab1", "R2", "lab1-R2-1", jid="20261207080000000001")
    assert again["run"] == "lab1-R2-1"
    # another live process of this master (a second salt-run), the same run
    lock = store.lock("lab1", "R2")
    store.cache.store(rec.LOCKS, "lab1.R2", dict(lock, pid=os.getppid()))
    with pytest.raises(SaltRunnerError, match="already has a running turn-up: run lab1-R2-1"):
        store.acquire("lab1", "R2", "lab1-R2-1", jid="20261207080000000003")
    assert store.lock("lab1", "R2")["pid"] == os.getppid()  # nothing written
    assert store.acquire("lab1", "R2", "lab1-R2-1", takeover=True)["pid"] == os.getpid()


def test_a_run_another_master_holds_may_be_resumed_here(opts):
    """That master may have died (its liveness is not knowable from here): the run is resumed on
    this one, whose lock it then is (the other master's steps stop)."""
    store = rec.Store(opts)
    store.cache.store(
        rec.LOCKS,
        "lab1.R2",
        {"run": "lab1-R2-1", "master": "master-b", "pid": 1, "jid": "1", "since": 1},
    )
    lock = store.acquire("lab1", "R2", "lab1-R2-1", jid="20261207090000000009")
    assert lock["master"] == rec.master_id(opts) and lock["since"] == 1
    assert store.lock("lab1", "R2")["jid"] == "20261207090000000009"


def test_stale_lock_of_this_master_is_taken_over(opts):
    store = rec.Store(opts)
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)  # a pid that no longer runs
    store.cache.store(
        rec.LOCKS, "lab1.R2", {"run": "lab1-R2-1", "master": "master-a", "pid": pid, "since": 1}
    )
    assert store.acquire("lab1", "R2", "lab1-R2-2")["run"] == "lab1-R2-2"
    store.release("lab1", "R2", "lab1-R2-2")
    assert store.lock("lab1", "R2") is None


def test_unknown_run_lists_the_runs(opts):
    with pytest.raises(SaltInvocationError, match="run='nope' does not exist"):
        rec.Store(opts).get("nope")
