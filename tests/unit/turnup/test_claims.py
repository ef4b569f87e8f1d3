"""Claims of the shared cache (``record.claim``): several masters sharing ``salt.cache`` that get
the same event at the same moment (the reactor's rack trigger, two turn-up runs of one rack)
start the work exactly once; a master restarted afterwards does not start it again."""

from __future__ import annotations

import threading

import pytest
import salt.cache
from salt.exceptions import SaltRunnerError

from salt_ext.utils.turnup import record as rec

MASTERS = 4


@pytest.fixture
def settle(monkeypatch):
    monkeypatch.setattr(rec, "CLAIM_SETTLE", 1.0)  # the real one


def masters(tmp_path):
    """Option sets of masters sharing one cache (as on a shared cache backend)."""
    cachedir = str(tmp_path / "shared-cache")
    return [{"cache": "localfs", "cachedir": cachedir, "id": f"master-{i}"} for i in range(MASTERS)]


def race(targets):
    """Run ``targets`` in threads released together; their results (or exceptions)."""
    gate = threading.Barrier(len(targets))
    results = [None] * len(targets)

    def go(i, target):
        gate.wait()
        try:
            results[i] = target()
        except Exception as err:  # noqa: BLE001  # pylint: disable=broad-except
            results[i] = err

    threads = [threading.Thread(target=go, args=(i, t)) for i, t in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_simultaneous_claims_one_winner(tmp_path, settle):  # noqa: ARG001
    def claimant(opts):
        cache = salt.cache.factory(opts)
        return lambda: rec.claim(cache, "turnup/rackready", "lab1.R2.started", {"m": opts["id"]})

    for _ in range(3):  # each round a fresh key: every round exactly one wins
        results = race([claimant(o) for o in masters(tmp_path)])
        won = [held for ok, held in results if ok]
        assert len(won) == 1, results
        assert all(held["claim"] == won[0]["claim"] for _, held in results)
        salt.cache.factory(masters(tmp_path)[0]).flush("turnup/rackready", "lab1.R2.started")


def test_two_runs_of_one_rack_at_once_one_goes_on(tmp_path, settle):  # noqa: ARG001
    stores = [rec.Store(o) for o in masters(tmp_path)]
    runs = [f"lab1-R2-2026120312000{i}" for i in range(MASTERS)]
    results = race(
        [lambda s=s, r=r: s.acquire("lab1", "R2", r) for s, r in zip(stores, runs, strict=True)]
    )
    held = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, SaltRunnerError)]
    assert len(held) == 1 and len(refused) == MASTERS - 1, results
    winner = held[0]["run"]
    assert all(any(r in str(err) for r in runs) for err in refused)  # a claimant named
    # a master restarted later (a new process, the same shared cache) finds the rack held
    again = rec.Store(dict(masters(tmp_path)[1]))
    assert again.lock("lab1", "R2")["run"] == winner


class Unlocked:
    """A shared cache without locks (as redis): the localfs driver's data, another driver's name,
    so that claims take the settle path."""

    driver = "redis"

    def __init__(self, opts):
        self.inner = salt.cache.factory(opts)

    def fetch(self, bank, key):
        return self.inner.fetch(bank, key)

    def store(self, bank, key, data):
        return self.inner.store(bank, key, data)

    def flush(self, bank, key=None):
        return self.inner.flush(bank, key)


def test_a_cache_without_locks_settles_and_still_has_one_winner(tmp_path, settle):  # noqa: ARG001
    def claimant(opts):
        cache = Unlocked(opts)
        return lambda: rec.claim(cache, "turnup/rackready", "lab1.R3.started", {"m": opts["id"]})

    results = race([claimant(o) for o in masters(tmp_path)])
    won = [held for ok, held in results if ok]
    assert len(won) == 1, results
    assert all(held["claim"] == won[0]["claim"] for _, held in results)


def test_a_localfs_claim_is_exact_and_does_not_wait(tmp_path, monkeypatch):
    def no_sleep(seconds):
        raise AssertionError(f"a localfs claim slept {seconds} s")

    monkeypatch.setattr(rec.time, "sleep", no_sleep)
    opts = masters(tmp_path)[0]
    cache = salt.cache.factory(opts)
    ok, held = rec.claim(cache, "turnup/rackready", "k", {"m": 1}, taken=bool)
    assert ok and held["m"] == 1
    ok, held = rec.claim(cache, "turnup/rackready", "k", {"m": 2}, taken=bool)
    assert not ok and held["m"] == 1  # taken: nothing written
    assert cache.fetch("turnup/rackready", "k")["m"] == 1
    assert cache.list("turnup/rackready") == ["k"]  # the lock files are not in the bank
