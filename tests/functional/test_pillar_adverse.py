"""
The netbox ext_pillar through Salt's pillar compiler, against the NetBox stand-in with faults
injected (bug bash): NetBox failing in the middle of a site's bulk fetch, a token in NetBox's
error messages, writes in NetBox while a big site is paged, NetBox capping pages below our size.
"""

import contextlib
import logging
import multiprocessing
import pathlib
import time

import pytest

from salt_ext.utils.pillar.cache import RecordStore, forget_memory
from salt_ext.utils.pillar.engine import forget_engines, get_engine
from tests.functional import test_pillar

# helpers and the per-test clean-up of the pillar functional tests
master_opts = test_pillar.master_opts
compile_pillar = test_pillar.compile_pillar
expire_all = test_pillar.expire_all
_clean_process_state = test_pillar._clean_process_state  # pylint: disable=protected-access

PAGE_SIZE = test_pillar.PAGE_SIZE
LAB1_INTERFACES = 456  # more than 4 pages of PAGE_SIZE


def store_of(opts):
    engine = get_engine(opts, {}, opts["ext_pillar"][0]["netbox"])
    return RecordStore(opts, engine.source_id)


def site_records(opts):
    """``{name: record}`` of the site records in the cache."""
    store = store_of(opts)
    records = {n: store.cache.fetch(store.bank, n) for n in store.names() if n.startswith("site-")}
    return {n: r for n, r in records.items() if r}


@contextlib.contextmanager
def failing_from_page(standin, endpoint, page):
    """
    Make the stand-in fail (HTTP 500, every retry too) every request for ``endpoint`` from its
    ``page``-th page on: NetBox breaks in the middle of a paginated bulk fetch.
    """
    store = standin.store
    original = store.represent_ids
    calls = {"n": 0}

    def represent_ids(ep, ids, *args, **kwargs):
        if ep == endpoint:
            calls["n"] += 1
            if calls["n"] >= page:
                raise RuntimeError("database connection lost")
        return original(ep, ids, *args, **kwargs)

    store.represent_ids = represent_ids
    try:
        yield
    finally:
        store.represent_ids = original


def interface_names(pillar):
    return set(pillar["netbox"]["interfaces"])


@pytest.mark.standin_only("fails NetBox in the middle of a fetch")
def test_failure_mid_fetch_without_cache_stores_nothing(tmp_path, fresh_netbox):
    opts = master_opts(tmp_path, fresh_netbox, retry_after=0)
    with failing_from_page(fresh_netbox.standin, "dcim.interfaces", 3):
        pillar = compile_pillar(opts, "srv-r1-01")
    # an error (state runs refuse), never a pillar with the interfaces of two pages
    assert "netbox" not in pillar
    assert any("no cached copy" in e for e in pillar["_errors"]), pillar["_errors"]
    assert site_records(opts) == {}  # no half site in the cache
    pillar = compile_pillar(opts, "srv-r1-01")  # NetBox is back
    assert "_errors" not in pillar
    assert interface_names(pillar) == {"bmc", "bond0", "eno1", "eno2"}
    (record,) = site_records(opts).values()
    assert len(record["objects"]["dcim.interfaces"]) == LAB1_INTERFACES


@pytest.mark.standin_only("fails NetBox in the middle of a fetch")
def test_failure_mid_full_refetch_serves_the_last_good_copy(tmp_path, fresh_netbox):
    opts = master_opts(tmp_path, fresh_netbox, retry_after=0)
    good = compile_pillar(opts, "srv-r1-01")["netbox"]
    (before,) = site_records(opts).values()
    # a config context changed: the refresh after the TTL is a full fetch
    client = test_pillar.fresh_netbox_client(fresh_netbox)
    ctx = client.find("extras.config-contexts", name="lab1-site")
    client.update("extras.config-contexts", ctx["id"], {"description": "touched"})
    expire_all(opts)
    with failing_from_page(fresh_netbox.standin, "dcim.interfaces", 2):
        pillar = compile_pillar(opts, "srv-r1-01")
    assert "_errors" not in pillar
    served = pillar["netbox"]
    assert (
        served["_meta"]["stale"] is True and "database connection lost" in served["_meta"]["error"]
    )
    assert {k: v for k, v in served.items() if k != "_meta"} == {
        k: v for k, v in good.items() if k != "_meta"
    }
    (after,) = site_records(opts).values()
    assert after["version"] == before["version"]
    assert len(after["objects"]["dcim.interfaces"]) == LAB1_INTERFACES


@pytest.mark.standin_only("injects an error body carrying the token")
def test_token_in_netbox_error_reaches_neither_errors_logs_nor_cache(
    tmp_path, fresh_netbox, caplog
):
    token = fresh_netbox.token
    opts = master_opts(tmp_path, fresh_netbox, retry_after=0)
    assert compile_pillar(opts, "srv-r1-01")["netbox"]["_meta"]["stale"] is False
    expire_all(opts)
    body = {"detail": f"Invalid token {token} for {token.split('.')[-1]}: access denied"}
    fresh_netbox.standin.faults.add("status", status=403, body=body)
    try:
        with caplog.at_level(logging.DEBUG):
            stale = compile_pillar(opts, "srv-r1-01")
            expire_all(opts)
            failed = compile_pillar(
                master_opts(tmp_path, fresh_netbox, name="empty", retry_after=0), "srv-r1-02"
            )
    finally:
        fresh_netbox.standin.faults.clear()
    secret = token.split(".")[-1]
    assert stale["netbox"]["_meta"]["stale"] is True
    assert "access denied" in stale["netbox"]["_meta"]["error"]
    assert "access denied" in " ".join(failed["_errors"])
    for text in (repr(stale), repr(failed), caplog.text):
        assert token not in text and secret not in text
    cached = list(pathlib.Path(tmp_path).rglob("netbox_pillar/**/*.p"))
    assert cached
    assert all(secret.encode() not in f.read_bytes() for f in cached)


@pytest.mark.standin_only("caps NetBox's page size")
def test_netbox_capping_pages_below_our_page_size(tmp_path, fresh_netbox):
    """NetBox's MAX_PAGE_SIZE lower than the page size we ask for: every page is followed."""
    fresh_netbox.standin.max_page_size = 40
    opts = master_opts(tmp_path, fresh_netbox)
    opts["netbox"]["page_size"] = 1000
    pillar = compile_pillar(opts, "srv-r3-04")
    assert "_errors" not in pillar
    (record,) = site_records(opts).values()
    assert len(record["objects"]["dcim.interfaces"]) == LAB1_INTERFACES
    assert len(record["objects"]["dcim.mac-addresses"]) == 408


@pytest.mark.standin_only("deletes objects between two pages inside the stand-in")
def test_delete_during_a_paginated_fetch_does_not_lose_other_objects(tmp_path, fresh_netbox):
    """
    An interface deleted in NetBox while the site's interfaces are paged (offset pagination):
    the objects behind it move one place up, and the first of the next page must not be lost.
    """
    standin = fresh_netbox.standin
    opts = master_opts(tmp_path, fresh_netbox)
    store = standin.store
    (site,) = store.query("dcim.sites", [("slug", "lab1")])
    ordered = store.query_ids("dcim.interfaces", [("site_id", str(site["id"]))])
    victim, skipped = ordered[0], ordered[PAGE_SIZE]
    skipped_obj = store.get("dcim.interfaces", skipped)
    original = store.query_ids
    seen = {"n": 0}

    def query_ids(endpoint, params):
        if endpoint == "dcim.interfaces" and any(k == "offset" for k, _ in params):
            seen["n"] += 1
            if seen["n"] == 1:  # between page 1 and page 2
                store.delete("dcim.interfaces", victim)
        return original(endpoint, params)

    store.query_ids = query_ids
    try:
        pillar = compile_pillar(opts, skipped_obj["device"]["name"])
    finally:
        store.query_ids = original
    assert "_errors" not in pillar
    assert skipped_obj["name"] in interface_names(pillar)
    # and after the change-log refresh too
    expire_all(opts)
    pillar = compile_pillar(opts, skipped_obj["device"]["name"])
    assert skipped_obj["name"] in interface_names(pillar)


@pytest.mark.live_capable
@pytest.mark.parametrize("changes", [3, 4])
def test_more_changes_than_changelog_max_is_a_full_fetch(tmp_path, fresh_netbox, changes):
    box = fresh_netbox.lab.name("srv-r1-01")
    opts = master_opts(tmp_path, fresh_netbox, changelog_max=3)
    compile_pillar(opts, box)
    client = test_pillar.fresh_netbox_client(fresh_netbox)
    dev = client.find("dcim.devices", name=box)
    for n in range(changes):
        client.update("dcim.devices", dev["id"], {"serial": f"S-{n}"})
    expire_all(opts)
    pillar = compile_pillar(opts, box)
    assert pillar["netbox"]["serial"] == f"S-{changes - 1}"
    (record,) = site_records(opts).values()
    assert record["last_fetch"]["mode"] == ("incremental" if changes <= 3 else "full")
    assert len(record["objects"]["dcim.interfaces"]) == LAB1_INTERFACES


@pytest.mark.standin_only("hangs NetBox")
def test_hung_netbox_while_another_worker_holds_the_lock(tmp_path, fresh_netbox):
    """A worker waits at most lock_timeout for the one refreshing; then the last good copy."""
    opts = master_opts(tmp_path, fresh_netbox, lock_timeout=1)
    compile_pillar(opts, "srv-r1-01")
    expire_all(opts)
    # the first request of the refresh (the change log) hangs, within netbox:timeout; long
    # enough that the second worker, started once the first is refreshing, meets the lock held
    # even on a loaded machine
    standin = fresh_netbox.standin
    standin.reset_requests()
    standin.faults.add("hang", seconds=8, count=1, path_prefix="/api/core/")
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    refreshing = ctx.Event()
    procs = [
        ctx.Process(target=_stale_worker, args=(opts, m, queue, refreshing))
        for m in ("srv-r1-01", "tor1-r1")
    ]
    for proc in procs:
        proc.start()
    # the holder's refresh has started when its change-log request reaches NetBox (and hangs)
    deadline = time.monotonic() + 120
    while not standin.count(path_prefix="/api/core/") and time.monotonic() < deadline:
        time.sleep(0.05)
    refreshing.set()
    results = dict(queue.get(timeout=180) for _ in procs)
    for proc in procs:
        proc.join(timeout=30)
    # the holder refreshed; the waiter gave up on the lock after 1 s and got the cached copy
    assert sorted(results.values()) == [(None, False), (None, True)], results
    (waiter,) = [m for m, (_, stale) in results.items() if stale]
    forget_memory()
    assert compile_pillar(opts, waiter)["netbox"]["_meta"]["stale"] is False


def _stale_worker(opts, minion_id, queue, refreshing):
    forget_memory()
    forget_engines()
    if minion_id == "tor1-r1":
        refreshing.wait(timeout=120)  # the other one holds the lock, refreshing
    pillar = compile_pillar(opts, minion_id)
    queue.put((minion_id, (pillar.get("_errors"), pillar["netbox"]["_meta"]["stale"])))


@pytest.mark.live_capable
def test_minion_id_matching_two_devices_is_an_error(tmp_path, fresh_netbox):
    lab = fresh_netbox.lab
    box = lab.name("srv-r1-01")
    slug = lab.unique("ams01")  # a site of the test's own, outside the lab copy: removed below
    client = test_pillar.fresh_netbox_client(fresh_netbox)
    dev = client.find("dcim.devices", name=box)
    ams = client.create("dcim.sites", {"name": slug.upper(), "slug": slug, "status": "active"})
    twin = None
    try:
        twin = client.create(
            "dcim.devices",
            {
                "name": box,
                "site": ams["id"],
                "role": dev["role"]["id"],
                "device_type": dev["device_type"]["id"],
                "status": "planned",
            },
        )
        pillar = compile_pillar(master_opts(tmp_path, fresh_netbox), box)
        assert "netbox" not in pillar
        (error,) = [e for e in pillar["_errors"] if box in e]
        assert "matches 2 NetBox nodes" in error and str(twin["id"]) in error and slug in error
    finally:
        if twin is not None:
            client.delete("dcim.devices", twin["id"])
        client.delete("dcim.sites", ams["id"])


@pytest.mark.live_capable
def test_renamed_device_no_longer_serves_its_old_minion(tmp_path, fresh_netbox):
    box, renamed = fresh_netbox.lab.name("srv-r2-05"), fresh_netbox.lab.name("srv-r2-05-new")
    opts = master_opts(tmp_path, fresh_netbox, identity=["name"], on_unknown="error")
    assert compile_pillar(opts, box)["netbox"]["name"] == box
    client = test_pillar.fresh_netbox_client(fresh_netbox)
    dev = client.find("dcim.devices", name=box)
    client.update("dcim.devices", dev["id"], {"name": renamed})
    expire_all(opts)
    old = compile_pillar(opts, box)
    assert "netbox" not in old and any("not in NetBox" in e for e in old["_errors"])
    new = compile_pillar(opts, renamed)["netbox"]
    assert new["id"] == dev["id"] and new["_meta"]["stale"] is False


@pytest.mark.standin_only("commits a change late inside the stand-in's change log")
def test_change_committed_late_with_a_lower_id_is_not_missed(tmp_path, fresh_netbox):
    """
    NetBox numbers a change-log entry when the change is written and shows it when its
    transaction commits: a long transaction (a bulk edit) can show an entry *below* the newest
    id a refresh already read. The next refresh must still apply it.
    """
    standin = fresh_netbox.standin
    opts = master_opts(tmp_path, fresh_netbox)
    compile_pillar(opts, "srv-r1-02")
    client = test_pillar.fresh_netbox_client(fresh_netbox)
    slow = client.find("dcim.devices", name="srv-r1-02")
    fast = client.find("dcim.devices", name="srv-r1-03")
    client.update("dcim.devices", slow["id"], {"serial": "LATE-COMMIT"})
    client.update("dcim.devices", fast["id"], {"serial": "FAST-COMMIT"})
    changes = standin.store._objs["core.object-changes"]  # pylint: disable=protected-access
    late_id = max(i for i, c in changes.items() if c["changed_object_id"] == slow["id"])
    late = changes.pop(late_id)  # not committed yet: invisible to the API
    expire_all(opts)
    assert compile_pillar(opts, "srv-r1-03")["netbox"]["serial"] == "FAST-COMMIT"
    changes[late_id] = late  # the slow transaction commits
    expire_all(opts)
    assert compile_pillar(opts, "srv-r1-02")["netbox"]["serial"] == "LATE-COMMIT"
