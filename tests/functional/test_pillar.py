"""
The netbox ext_pillar through Salt's own pillar compiler (``salt.pillar.Pillar``), in-process,
against the NetBox stand-in seeded with lab1 through the API.

Request counting: 20 minions of one site compile *together* in 20 forked processes (as the
master's MWorkers would) sharing one localfs cache: NetBox sees exactly the requests of one bulk
fetch (every page counted), and after a change to one device exactly the change-log reads and
that device's refetch. The workers count with the product's own ``RequestCounter`` (each its
process's ``counter.PROCESS``), so the counts hold on the stand-in and a real NetBox alike.
"""

import collections
import multiprocessing
import os
import pathlib

import pytest
import salt.config
import salt.pillar

from salt_ext.utils.netbox import NetBoxClient, load_config
from salt_ext.utils.netbox.counter import PROCESS
from salt_ext.utils.pillar.cache import RecordStore, forget_memory
from salt_ext.utils.pillar.engine import forget_engines, get_engine
from tests.support.saltenv import NETBOX_TEST_TIMEOUT

PAGE_SIZE = 100
PROFILES_SLS = """\
hwgen_profiles:
  gen10:
    description: test gen10
    config:
      mtu: 9000
      sysctl: {kernel.panic: 5}
"""


def master_opts(tmp_path, target, name="master", **ext):
    root = tmp_path / name
    (root / "pillar").mkdir(parents=True, exist_ok=True)
    (root / "pillar" / "top.sls").write_text("base:\n  '*':\n    - profiles\n")
    (root / "pillar" / "profiles.sls").write_text(PROFILES_SLS)
    overrides = {
        "root_dir": str(root),
        "cachedir": str(root / "cache"),
        "pki_dir": str(root / "pki"),
        "pillar_roots": {"base": [str(root / "pillar")]},
        "file_roots": {"base": [str(root)]},
        # generous: these tests count requests; a timeout under load would be a failed compile
        "netbox": {
            "url": target.url,
            "token": target.token,
            "page_size": PAGE_SIZE,
            "timeout": NETBOX_TEST_TIMEOUT,
        },
        "ext_pillar": [{"netbox": dict(ext)}],
    }
    return salt.config.apply_master_config(overrides, salt.config.DEFAULT_MASTER_OPTS.copy())


def compile_pillar(opts, minion_id):
    return salt.pillar.Pillar(opts, {"id": minion_id}, minion_id, "base").compile_pillar()


def _worker(opts, minion_id, barrier, queue):
    forget_memory()
    forget_engines()
    PROCESS.reset()  # this worker's own counts (a forked copy of the test process's counter)
    barrier.wait(timeout=60)
    try:
        pillar = compile_pillar(opts, minion_id)
        out = (minion_id, pillar.get("_errors"), pillar.get("netbox", {}).get("name"))
    except Exception as err:  # pylint: disable=broad-except
        out = (minion_id, [repr(err)], None)
    sent = PROCESS.snapshot()["by_endpoint"]
    queue.put((*out, {ep: sum(methods.values()) for ep, methods in sent.items()}))


def compile_together(opts, minion_ids, requests=None):
    """Compile the pillars of ``minion_ids`` at the same moment, one forked process each."""
    return compile_pairs([(opts, m) for m in minion_ids], requests)


def compile_pairs(pairs, requests=None):
    """
    Compile ``[(master opts, minion id), ...]`` at the same moment, one forked process each.
    ``requests`` (a ``collections.Counter``), when given, gains the requests the workers sent
    to NetBox per endpoint (``dcim.interfaces``; every page, retries not included), as the
    product's ``RequestCounter`` counts them in each worker.
    """
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(len(pairs))
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(o, m, barrier, queue)) for o, m in pairs]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    for *_, sent in results:
        if requests is not None:
            requests.update(sent)
    return {m: (errors, name) for m, errors, name, _ in results}


def lab1_names(snapshot, count):
    return sorted(d["name"] for d in snapshot["objects"]["dcim.devices"])[:count]


def expire_all(opts):
    """Age every cached record past its TTL (as if ``ttl`` seconds went by)."""
    engine = get_engine(opts, {}, opts["ext_pillar"][0]["netbox"])
    store = RecordStore(opts, engine.source_id)
    for name in store.names():
        meta = store.meta(name)
        meta["synced_at"] -= 3600
        store.save_meta(name, meta)
    forget_engines()
    forget_memory()


@pytest.fixture(autouse=True)
def _clean_process_state():
    forget_memory()
    forget_engines()
    yield
    forget_memory()
    forget_engines()


def test_full_pillar_through_salt(tmp_path, netbox_target):
    opts = master_opts(tmp_path, netbox_target)
    pillar = compile_pillar(opts, "srv-r1-01")
    assert "_errors" not in pillar
    nb = pillar["netbox"]
    assert nb["name"] == "srv-r1-01"
    assert nb["rack"]["name"] == "R1"
    assert nb["interfaces"]["eno1"]["peer"]["device"] == "tor1-r1"
    assert [d["name"] for d in nb["rack_devices"]["tor-switch"]] == ["tor1-r1", "tor2-r1"]
    assert nb["_meta"]["stale"] is False
    assert pillar["hwgen"]["name"] == "gen10"
    assert pillar["hwgen"]["config"]["mtu"] == 9000
    assert netbox_target.token not in repr(pillar)
    # nor in what the cache holds
    cached = list(pathlib.Path(opts["cachedir"], "netbox_pillar").rglob("*.p"))
    assert len(cached) >= 4  # index and site: record + meta each
    assert all(netbox_target.token.encode() not in f.read_bytes() for f in cached)


@pytest.mark.live_capable
def test_twenty_minions_together_cause_one_bulk_fetch(tmp_path, fresh_netbox, lab1_snapshot):
    lab = fresh_netbox.lab
    minions = lab.sub(lab1_names(lab1_snapshot, 20))
    client = fresh_netbox_client(fresh_netbox)
    # the identity index lists every device NetBox has (lab1's 24 on the stand-in), a page each
    # PAGE_SIZE; the site record's devices and the rest are the lab site's own
    index_pages = max(1, -(-device_count(client) // PAGE_SIZE))

    # baseline: what one minion alone costs on an empty cache
    solo = master_opts(tmp_path, fresh_netbox, name="solo")
    baseline = collections.Counter()
    assert compile_together(solo, minions[:1], baseline)[minions[0]] == (None, minions[0])
    assert baseline["dcim.interfaces"] == -(-456 // PAGE_SIZE)  # every page, once
    assert baseline["dcim.mac-addresses"] == -(-408 // PAGE_SIZE)
    # one bulk request per object type and page; the identity index (devices with fields=) and
    # the site record each read the newest change-log id once
    assert baseline == {
        "core.object-changes": 2,
        "dcim.devices": index_pages + 1,
        "dcim.sites": 1,
        "dcim.racks": 1,
        "dcim.device-types": 1,
        "dcim.interfaces": -(-456 // PAGE_SIZE),
        "dcim.mac-addresses": -(-408 // PAGE_SIZE),
        "dcim.cables": 1,
        "ipam.ip-addresses": 1,
        "ipam.services": 1,
        "ipam.prefixes": 1,
        "ipam.vlans": 1,
    }

    fleet = master_opts(tmp_path, fresh_netbox, name="fleet")
    sent = collections.Counter()
    results = compile_together(fleet, minions, sent)
    assert results == {m: (None, m) for m in minions}
    assert sent == baseline  # 20 minions: still one bulk fetch per type

    # one device changes; after the TTL the next refresh fetches only that device
    dev = client.find("dcim.devices", name=lab.name("srv-r1-02"))
    client.update("dcim.devices", dev["id"], {"serial": "SWAPPED-BOARD"})
    eno1 = client.find("dcim.interfaces", device_id=dev["id"], name="eno1")
    client.update("dcim.interfaces", eno1["id"], {"description": "re-cabled"})
    primary = dev["primary_ip4"]["id"]
    # (a new value: NetBox records no change for a PATCH that changes nothing)
    dns_name = lab.sub("srv-r1-02-new.lab1.example.net")
    client.update("ipam.ip-addresses", primary, {"dns_name": dns_name})
    expire_all(fleet)
    incremental = collections.Counter()
    results = compile_together(fleet, minions, incremental)
    assert results == {m: (None, m) for m in minions}
    # the identity index and the site record each read the change log once and fetch the device;
    # the site record fetches the changed interface and IP (by id: what they hold is checked
    # below), each once
    assert incremental == {
        "core.object-changes": 2,
        "dcim.devices": 2,
        "dcim.interfaces": 1,
        "ipam.ip-addresses": 1,
    }
    pillar = compile_pillar(fleet, lab.name("srv-r1-02"))["netbox"]
    assert pillar["serial"] == "SWAPPED-BOARD"
    assert pillar["interfaces"]["eno1"]["description"] == "re-cabled"
    (bond_ip,) = [
        ip
        for iface in pillar["interfaces"].values()
        for ip in iface["ip_addresses"]
        if ip["id"] == primary
    ]
    assert bond_ip["dns_name"] == dns_name and bond_ip["primary"] is True


def device_count(client):
    """How many devices this NetBox has (all sites: the stand-in's lab1, or a real NetBox's)."""
    body = client.request("GET", client.endpoint_url("dcim.devices"), params=[("limit", "1")])
    return body["count"]


def fresh_netbox_client(target):
    return NetBoxClient(load_config({"netbox": {"url": target.url, "token": target.token}}))


def compile_while_down(opts, standin, minion_id):
    """The pillar of ``minion_id`` compiled while NetBox is down."""
    standin.faults.down()
    try:
        return compile_pillar(opts, minion_id)
    finally:
        standin.faults.up()


@pytest.mark.standin_only("takes NetBox down")
def test_netbox_down_without_cache_records_errors(tmp_path, fresh_netbox):
    opts = master_opts(tmp_path, fresh_netbox, ttl=0)
    pillar = compile_while_down(opts, fresh_netbox.standin, "srv-r1-01")
    assert "netbox" not in pillar
    assert any(
        "Failed to load ext_pillar netbox" in e and "no cached copy" in e for e in pillar["_errors"]
    )
    assert fresh_netbox.token not in repr(pillar)


@pytest.mark.standin_only("takes NetBox down")
def test_netbox_down_with_cache_serves_stale(tmp_path, fresh_netbox):
    opts = master_opts(tmp_path, fresh_netbox)
    assert compile_pillar(opts, "srv-r1-01")["netbox"]["_meta"]["stale"] is False
    expire_all(opts)
    pillar = compile_while_down(opts, fresh_netbox.standin, "srv-r1-01")
    assert "_errors" not in pillar
    meta = pillar["netbox"]["_meta"]
    assert meta["stale"] is True and meta["age_s"] >= 3600
    assert meta["error"]
    assert pillar["netbox"]["interfaces"]["eno1"]["peer"]["device"] == "tor1-r1"


def test_unknown_minion_follows_on_unknown(tmp_path, netbox_target):
    empty = compile_pillar(master_opts(tmp_path, netbox_target, name="a"), "ghost-01")
    assert "netbox" not in empty and "_errors" not in empty
    strict = compile_pillar(
        master_opts(tmp_path, netbox_target, name="b", on_unknown="error"), "ghost-01"
    )
    assert any("ghost-01" in e and "not in NetBox" in e for e in strict["_errors"])


def test_bad_option_is_an_error_naming_it(tmp_path, netbox_target):
    pillar = compile_pillar(master_opts(tmp_path, netbox_target, site_prefix=True), "srv-r1-01")
    assert any("site_prefix" in e for e in pillar["_errors"])


def test_compat_salt3007_shape(tmp_path, netbox_target):
    opts = master_opts(
        tmp_path,
        netbox_target,
        compat="salt3007",
        api_url=netbox_target.url + "/api/",
        api_token=netbox_target.token,
        interfaces=True,
        interface_ips=True,
        connected_devices=True,
    )
    del opts["netbox"]  # the compat options carry url and token, like Salt 3007
    pillar = compile_pillar(opts, "srv-r1-01")
    assert "_errors" not in pillar, pillar.get("_errors")
    node = pillar["netbox"]
    assert node["node_type"] == "device"
    assert {i["name"] for i in node["interfaces"]} == {"bmc", "bond0", "eno1", "eno2"}
    assert sorted(d["name"] for d in node["connected_devices"].values()) == [
        "oob-r1",
        "tor1-r1",
        "tor2-r1",
    ]
    assert len(node["site"]["prefixes"]) == 8
    assert os.environ.get("NETBOX_TOKEN", netbox_target.token) not in repr(pillar)
