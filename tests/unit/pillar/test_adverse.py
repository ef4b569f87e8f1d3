"""
The pillar engine under adverse conditions (bug bash): a corrupt cache, clock jumps, a NetBox
that hangs while several workers wait for the refresh lock, a device that moves to another site.
The engine runs on a snapshot source (a copy of lab1.json) with Salt's localfs cache in a temp dir.
"""

import pathlib
import threading
import time

import pytest

from salt_ext.utils import netbox as netbox_access
from salt_ext.utils.netbox.errors import NetBoxConfigError, NetBoxTimeout
from salt_ext.utils.pillar import engine as engine_module
from salt_ext.utils.pillar.cache import forget_memory
from salt_ext.utils.pillar.engine import PillarUnavailable
from tests.unit.pillar import test_engine

# the engine tests' fixtures: a copy of lab1.json as the source, a localfs cache in tmp_path
snapshot_path = test_engine.snapshot_path
master_opts = test_engine.master_opts
make_engine = test_engine.make_engine
site_name = test_engine.site_name


def shift(engine, name, seconds, key="synced_at"):
    """Move ``key`` of the meta of ``name`` by ``seconds`` (negative: into the past)."""
    meta = engine.store.meta(name)
    meta[key] = (meta.get(key) or time.time()) + seconds
    engine.store.save_meta(name, meta)


def cache_file(engine, key):
    return pathlib.Path(engine.opts["cachedir"], engine.store.bank, f"{key}.p")


# ----------------------------------------------------------------------------- corrupt cache
@pytest.mark.parametrize("which", ["record", "meta"])
@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong-shape"])
def test_corrupt_cache_entry_is_refetched(master_opts, which, damage):
    engine = make_engine(master_opts)
    engine.compile("srv-r1-01", {})
    name = site_name(engine)
    path = cache_file(engine, name if which == "record" else f"{name}.meta")
    if damage == "garbage":
        path.write_bytes(b"\xc1\xff\x00 not msgpack \x93")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        engine.store.cache.store(engine.store.bank, path.name[:-2], {"version": "x", "objects": 1})
    forget_memory()  # another worker: nothing in memory
    other = make_engine(master_opts)
    src = other.source()
    src.counter.reset()
    data = other.compile("srv-r1-01", {})["netbox"]
    assert data["name"] == "srv-r1-01" and data["_meta"]["stale"] is False
    assert set(data["interfaces"]) == {"bmc", "bond0", "eno1", "eno2"}
    if which == "record":
        assert src.counter.count("dcim.interfaces") >= 1  # refetched, not served from garbage
    # the damaged entry was replaced by a good one: the next worker reads it without NetBox
    forget_memory()
    third = make_engine(master_opts)
    third.source().counter.reset()
    assert third.compile("srv-r1-02", {})["netbox"]["name"] == "srv-r1-02"
    assert third.source().counter.total == 0


# ----------------------------------------------------------------------------- clock jumps
def changed_after_compile(opts, serial):
    """An engine that compiled srv-r1-02, whose serial then changed in NetBox to ``serial``."""
    engine = make_engine(opts)
    engine.compile("srv-r1-02", {})
    src = engine.source()
    dev = src.find("dcim.devices", name="srv-r1-02")
    src.update("dcim.devices", dev["id"], {"serial": serial})
    return engine


def test_synced_at_in_the_future_is_not_fresh_forever(master_opts):
    engine = changed_after_compile(master_opts, "AFTER-CLOCK-JUMP")
    # the master's clock went back a day (or another master's clock runs a day ahead)
    for name in (site_name(engine), engine.options.index_key):
        shift(engine, name, 86400)
    data = engine.compile("srv-r1-02", {})["netbox"]
    assert data["serial"] == "AFTER-CLOCK-JUMP"
    assert data["_meta"]["stale"] is False
    assert engine.store.meta(site_name(engine))["synced_at"] <= time.time()


def test_error_at_in_the_future_does_not_block_netbox(master_opts):
    engine = changed_after_compile(master_opts, "NETBOX-IS-BACK")
    for name in (site_name(engine), engine.options.index_key):
        shift(engine, name, -3600)  # past the TTL
        meta = engine.store.meta(name)
        meta.update(error="NetBox unreachable", error_at=time.time() + 86400)
        engine.store.save_meta(name, meta)
    data = engine.compile("srv-r1-02", {})["netbox"]
    # NetBox is asked again: a failure "in the future" is not a reason to serve a stale copy
    assert data["_meta"]["stale"] is False
    assert data["serial"] == "NETBOX-IS-BACK"


# ----------------------------------------------------------------------------- hung NetBox
class Hanging:
    """A source whose calls hang for a while and then time out, like a hung NetBox."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.calls = 0
        self.entered = threading.Event()
        self.counter = None

    def __call__(self):
        return self

    def __getattr__(self, name):
        def hang(*args, **kwargs):
            self.calls += 1
            self.entered.set()
            time.sleep(self.seconds)
            raise NetBoxTimeout("NetBox did not answer within the read timeout")

        return hang


def test_waiters_for_the_lock_do_not_each_retry_a_hung_netbox(master_opts, monkeypatch):
    engine = make_engine(master_opts, lock_timeout=30)
    engine.compile("srv-r1-01", {})
    for name in (site_name(engine), engine.options.index_key):
        shift(engine, name, -3600)
    hung = Hanging(0.5)
    monkeypatch.setattr(engine, "source", hung)
    results = {}

    def compile_(minion):
        try:
            results[minion] = engine.compile(minion, {})["netbox"]["_meta"]
        except Exception as err:  # pylint: disable=broad-except
            results[minion] = err

    first = threading.Thread(target=compile_, args=("srv-r1-01",))
    first.start()
    assert hung.entered.wait(10)
    waiters = [
        threading.Thread(target=compile_, args=(m,)) for m in ("srv-r1-02", "srv-r1-03", "tor1-r1")
    ]
    for thread in waiters:
        thread.start()
    for thread in [first, *waiters]:
        thread.join(60)
    # everybody got the stale copy; NetBox was asked once per record (the identity index and
    # the site), not once per waiting worker
    assert all(isinstance(r, dict) and r["stale"] is True for r in results.values()), results
    assert len(results) == 4
    assert hung.calls == 2


# ----------------------------------------------------------------------------- moved device
def test_device_moved_to_another_site_while_the_index_is_fresh(master_opts):
    engine = make_engine(master_opts)
    assert engine.compile("srv-r2-08", {})["netbox"]["site"]["slug"] == "lab1"
    src = engine.source()
    ams = src.create("dcim.sites", {"name": "AMS01", "slug": "ams01", "status": "active"})
    dev = src.find("dcim.devices", name="srv-r2-08")
    src.update("dcim.devices", dev["id"], {"site": ams["id"], "rack": None, "position": None})
    # the site record is refreshed (another minion of lab1), the identity index is still fresh
    shift(engine, site_name(engine), -3600)
    assert engine.compile("srv-r2-07", {})["netbox"]["name"] == "srv-r2-07"
    data = engine.compile("srv-r2-08", {})["netbox"]
    assert data["site"]["slug"] == "ams01"
    assert data["_meta"]["scope"] == "ams01" and data["_meta"]["stale"] is False


# ----------------------------------------------------------------------------- max_stale edge
class FrozenTime:
    """Stands in for the engine's ``time`` module: the clock stops at ``now``."""

    def __init__(self, now):
        self.now = now

    def time(self):
        return self.now


@pytest.mark.parametrize("over", [0, 1])
def test_max_stale_exactly(master_opts, monkeypatch, over):
    engine = make_engine(master_opts, max_stale=3600, retry_after=0)
    engine.compile("srv-r1-01", {})
    now = time.time()
    for name in (site_name(engine), engine.options.index_key):
        meta = engine.store.meta(name)
        meta["synced_at"] = now - 3600 - over
        engine.store.save_meta(name, meta)
    monkeypatch.setattr(engine_module, "time", FrozenTime(now))
    monkeypatch.setattr(engine, "source", Hanging(0))
    if over:
        with pytest.raises(PillarUnavailable, match="past max_stale"):
            engine.compile("srv-r1-01", {})
    else:  # at most max_stale old: served, marked stale
        meta = engine.compile("srv-r1-01", {})["netbox"]["_meta"]
        assert meta["stale"] is True and meta["age_s"] == 3600


# ----------------------------------------------------------------------------- unknown minions
def test_unknown_minions_recheck_the_index_at_most_every_unknown_recheck(master_opts):
    engine = make_engine(master_opts, unknown_recheck=600)
    engine.compile("srv-r1-01", {})
    key = engine.options.index_key
    record = engine.store.cache.fetch(engine.store.bank, key)
    record["synced_at"] -= 3600  # the index was fetched an hour ago...
    engine.store.cache.store(engine.store.bank, key, record)
    forget_memory()
    shift(engine, key, -3600)
    engine.compile("srv-r1-01", {})  # ...and nothing changed since: only the meta's time moves
    assert engine.store.meta(key)["last_fetch"]["mode"] == "unchanged"
    forget_memory()  # another worker: the index record comes from the cache
    other = make_engine(master_opts, unknown_recheck=600)
    other.source().counter.reset()
    for ghost in ("ghost-01", "ghost-02", "ghost-03"):
        assert other.compile(ghost, {}) == {}
    # the index was synced a moment ago: no minion re-reads the change log
    assert other.source().counter.total == 0


# ----------------------------------------------------------------------------- credentials
def test_credentials_in_the_netbox_url_never_reach_pillar_or_messages(master_opts):
    master_opts["netbox"] = {
        "url": "https://admin:hunter2secret@netbox.example.net/?token=abc123secret",
        "token": "0123456789abcdef0123456789abcdef01234567",
    }
    # The access layer refuses such a URL (requests would send Basic auth instead of the token):
    # the pillar fails with a message that names the fix and repeats no credential.
    with pytest.raises(NetBoxConfigError) as exc:
        make_engine(master_opts, on_unknown="error")
    assert "user:password@" in str(exc.value)
    assert "secret" not in str(exc.value) and "admin" not in str(exc.value)


# ----------------------------------------------------------------------------- rate limiting
def test_pillar_caps_retry_after_while_it_holds_the_refresh_lock(master_opts):
    """3 retries x NetBox's Retry-After (up to 60 s by default) would stall every minion of the
    site behind the lock; the pillar's client waits at most 10 s a retry unless told otherwise."""
    master_opts["netbox"] = {"url": "https://netbox.example.net", "token": "0" * 40}
    engine = make_engine(master_opts)
    cfg = netbox_access.load_config(master_opts, overrides=engine.overrides)
    assert cfg.retry_after_max == engine_module.PILLAR_RETRY_AFTER_MAX == 10.0
    assert netbox_access.load_config(master_opts).retry_after_max == 60.0  # modules unchanged
    engine = make_engine(master_opts, netbox={"retry_after_max": 30})
    assert netbox_access.load_config(master_opts, overrides=engine.overrides).retry_after_max == 30
