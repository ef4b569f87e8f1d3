"""
The engine end to end on a snapshot source (the access layer's SnapshotSource over a copy of
lab1.json, which logs object changes like NetBox) and Salt's localfs cache in a temp dir.
"""

import shutil

import pytest
import salt.config
from salt.exceptions import CommandExecutionError, SaltInvocationError

from salt_ext.utils import pillar as pillar_utils
from salt_ext.utils.netbox.errors import NetBoxUnavailable
from salt_ext.utils.pillar import fetch
from salt_ext.utils.pillar.cache import forget_memory
from salt_ext.utils.pillar.engine import Engine, PillarUnavailable
from salt_ext.utils.pillar.engine import _iso as engine_iso
from salt_ext.utils.pillar.engine import forget_engines
from salt_ext.utils.pillar.options import parse_options
from tests.support.saltenv import LAB1_SNAPSHOT


@pytest.fixture
def snapshot_path(tmp_path):
    path = tmp_path / "lab1.json"
    shutil.copy(LAB1_SNAPSHOT, path)
    return str(path)


@pytest.fixture
def master_opts(tmp_path, snapshot_path):
    opts = salt.config.DEFAULT_MASTER_OPTS.copy()
    opts.update(
        cachedir=str(tmp_path / "cache"),
        cache="localfs",
        netbox={"snapshot": snapshot_path},
    )
    forget_memory()
    forget_engines()
    yield opts
    forget_memory()
    forget_engines()


def make_engine(opts, **kwargs):
    return Engine(opts, {}, parse_options(kwargs))


def requests(engine):
    return engine.source().counter.snapshot()


def expire(engine, name, seconds=10_000):
    meta = engine.store.meta(name)
    meta["synced_at"] -= seconds
    engine.store.save_meta(name, meta)


class Down:
    """A source whose every call fails like an unreachable NetBox."""

    calls = 0
    counter = None

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            Down.calls += 1
            raise NetBoxUnavailable("NetBox unreachable: connection refused")

        return fail


def site_name(engine):
    return next(n for n in engine.store.names() if n.startswith("site-"))


def test_compile_full_pillar_then_served_from_cache(master_opts):
    engine = make_engine(master_opts)
    out = engine.compile("srv-r1-01", {})
    data = out["netbox"]
    assert data["name"] == "srv-r1-01"
    assert data["interfaces"]["eno1"]["peer"]["device"] == "tor1-r1"
    assert data["_meta"]["stale"] is False
    assert data["_meta"]["scope"] == "lab1"
    first = requests(engine)["total"]
    assert first > 0
    for name in ("srv-r1-02", "srv-r2-05", "tor1-r1", "srv-r1-03.lab1.example.net"):
        assert engine.compile(name, {})["netbox"]["site"]["slug"] == "lab1"
    assert requests(engine)["total"] == first  # one fetch served every minion of the site


def test_other_process_reads_the_shared_cache(master_opts):
    make_engine(master_opts).compile("srv-r1-01", {})
    forget_memory()  # a different MWorker: nothing in memory
    other = make_engine(dict(master_opts))
    other.compile("srv-r2-01", {})
    assert requests(other)["total"] == 0


def test_change_refetches_only_the_changed_device(master_opts):
    engine = make_engine(master_opts)
    engine.compile("srv-r1-01", {})
    src = engine.source()
    dev = src.find("dcim.devices", name="srv-r1-02")
    src.update("dcim.devices", dev["id"], {"serial": "CHANGED-1"})
    src.counter.reset()
    expire(engine, site_name(engine))
    expire(engine, engine.options.index_key)
    out = engine.compile("srv-r1-02", {})
    assert out["netbox"]["serial"] == "CHANGED-1"
    snap = src.counter.snapshot()["by_endpoint"]
    # the index and the site each read the change log once and refetch that device once
    assert snap == {"core.object-changes": {"GET": 2}, "dcim.devices": {"GET": 2}}


def test_unchanged_refresh_keeps_the_version(master_opts):
    engine = make_engine(master_opts)
    engine.compile("srv-r1-01", {})
    name = site_name(engine)
    version = engine.store.meta(name)["version"]
    record = engine.store.cache.fetch(engine.store.bank, name)
    record["synced_at"] -= 10_000  # fetched long ago (the stored record keeps its sync time)
    engine.store.cache.store(engine.store.bank, name, record)
    forget_memory()
    expire(engine, name)
    engine.compile("srv-r1-01", {})
    meta = engine.store.meta(name)
    assert meta["version"] == version
    assert meta["last_fetch"]["mode"] == "unchanged"
    # another worker (nothing in memory) reports the new sync time, not the record's old one
    forget_memory()
    served = make_engine(master_opts).compile("srv-r1-01", {})["netbox"]["_meta"]
    assert served["synced_at"] == engine_iso(meta["synced_at"]) and served["age_s"] < 600


def test_config_context_change_triggers_full_refetch(master_opts):
    engine = make_engine(master_opts)
    engine.compile("srv-r1-01", {})
    src = engine.source()
    ctx = src.find("extras.config-contexts", name="lab1-site")
    src.update("extras.config-contexts", ctx["id"], {"data": {"ntp_servers": ["192.0.2.123"]}})
    expire(engine, site_name(engine))
    out = engine.compile("srv-r1-01", {})
    assert out["netbox"]["config_context"]["ntp_servers"] == ["192.0.2.123"]
    assert engine.store.meta(site_name(engine))["last_fetch"]["mode"] == "full"


def test_new_device_found_by_index_recheck(master_opts):
    engine = make_engine(master_opts, unknown_recheck=0)
    engine.compile("srv-r1-01", {})
    src = engine.source()
    template = src.find("dcim.devices", name="srv-r2-08")
    created = src.create(
        "dcim.devices",
        {
            "name": "srv-r2-20",
            "device_type": template["device_type"]["id"],
            "role": template["role"]["id"],
            "site": template["site"]["id"],
            "status": "planned",
        },
    )
    src.counter.reset()
    out = engine.compile("srv-r2-20", {})
    assert out["netbox"]["id"] == created["id"]
    # NetBox created its interfaces from the device type: they came with the new device
    expected = {i["name"] for i in src.list("dcim.interfaces", {"device_id": created["id"]})}
    assert expected and set(out["netbox"]["interfaces"]) == expected
    last = engine.store.meta(site_name(engine))["last_fetch"]
    assert last["mode"] == "incremental"
    assert last["refetched"]["dcim.devices"] == 1


def test_unknown_minion_empty_or_error(master_opts):
    assert make_engine(master_opts).compile("not-in-netbox", {}) == {}
    strict = make_engine(master_opts, on_unknown="error")
    with pytest.raises(CommandExecutionError, match="not in NetBox"):
        strict.compile("not-in-netbox", {})


def test_netbox_down_without_cache_raises(master_opts, monkeypatch):
    engine = make_engine(master_opts)
    monkeypatch.setattr(engine, "source", Down)
    with pytest.raises(PillarUnavailable, match="no cached copy") as err:
        engine.compile("srv-r1-01", {})
    assert "connection refused" in str(err.value)


def test_netbox_down_with_cache_serves_stale(master_opts, monkeypatch):
    engine = make_engine(master_opts)
    engine.compile("srv-r1-01", {})
    expire(engine, site_name(engine), 600)
    expire(engine, engine.options.index_key, 600)
    monkeypatch.setattr(engine, "source", Down)
    Down.calls = 0
    out = engine.compile("srv-r1-01", {})
    meta = out["netbox"]["_meta"]
    assert meta["stale"] is True
    assert meta["age_s"] >= 600
    assert "connection refused" in meta["error"]
    assert out["netbox"]["interfaces"]["eno1"]["peer"]["device"] == "tor1-r1"
    calls = Down.calls
    # within retry_after nobody asks NetBox again
    engine.compile("srv-r1-02", {})
    assert Down.calls == calls


def test_stale_past_max_stale_raises(master_opts, monkeypatch):
    engine = make_engine(master_opts, max_stale=3600)
    engine.compile("srv-r1-01", {})
    expire(engine, site_name(engine), 7200)
    monkeypatch.setattr(engine, "source", Down)
    forget_memory()
    # the record itself is old too
    record = engine.store.cache.fetch(engine.store.bank, site_name(engine))
    record["synced_at"] -= 7200
    engine.store.cache.store(engine.store.bank, site_name(engine), record)
    with pytest.raises(PillarUnavailable, match="max_stale"):
        engine.compile("srv-r1-01", {})


def test_minion_star_is_empty(master_opts):
    assert pillar_utils.compile_pillar("*", {}, master_opts, {}) == {}


def test_runner_helpers(master_opts):
    master_opts["ext_pillar"] = [{"netbox": {"ttl": 300}}]
    pillar_utils.compile_pillar("srv-r1-01", {}, master_opts, {}, ttl=300)
    info = pillar_utils.pillar_cache_info(master_opts)
    (source,) = info
    records = info[source]["records"]
    site = next(v for k, v in records.items() if k.startswith("site-"))
    assert site["fresh"] is True
    assert site["counts"]["dcim.devices"] == 24
    assert site["scope"]["slug"] == "lab1"
    out = pillar_utils.pillar_refresh(master_opts, site="lab1")
    assert out[source]["sites"]["lab1"]["mode"] == "full"
    assert out[source]["sites"]["lab1"]["counts"]["dcim.devices"] == 24
    with pytest.raises(SaltInvocationError, match="ams99"):
        pillar_utils.pillar_refresh(master_opts, site="ams99")


def test_runner_helpers_need_a_configuration(master_opts):
    master_opts["ext_pillar"] = []
    with pytest.raises(SaltInvocationError, match="ext_pillar"):
        pillar_utils.pillar_cache_info(master_opts)


def test_compat_salt3007_shape_and_stale_meta_only_when_stale(master_opts):
    out = pillar_utils.compile_pillar(
        "srv-r1-01",
        {},
        master_opts,
        {},
        compat="salt3007",
        interfaces=True,
        interface_ips=True,
        connected_devices=True,
        site_prefixes=False,
    )
    node = out["netbox"]
    assert node["node_type"] == "device"
    assert "_meta" not in node
    assert sorted(d["name"] for d in node["connected_devices"].values()) == [
        "oob-r1",
        "tor1-r1",
        "tor2-r1",
    ]
    assert node["site"]["time_zone"] == "Europe/Amsterdam"


def test_hwgen_top_level_with_the_profile_of_the_generation(master_opts):
    profiles = {
        "gen10": {"description": "m630", "config": {"mtu": 9000, "sysctl": {"kernel.panic": 5}}},
        "gen12": {"description": "storage", "config": {"disk_layout": {"os": {"fs": "xfs"}}}},
    }
    engine = make_engine(master_opts)
    out = engine.compile("srv-r1-01", {"hwgen_profiles": profiles})
    assert out["hwgen"]["name"] == "gen10"
    assert out["hwgen"]["config"]["sysctl"]["kernel.panic"] == 5
    assert out["hwgen"]["config"]["sysctl"]["vm.swappiness"] == 1  # from NetBox config context
    storage = engine.compile("srv-r1-03", {"hwgen_profiles": profiles})
    # the gen12-storage config context's disk_layout overrides the profile's
    assert storage["hwgen"]["config"]["disk_layout"]["os"]["fs"] == "ext4"
    assert "hwgen" not in engine.compile("tor1-r1", {"hwgen_profiles": profiles})
    assert "hwgen" not in make_engine(master_opts, hwgen=False).compile(
        "srv-r1-01", {"hwgen_profiles": profiles}
    )


def test_virtual_machines_with_and_without_site(master_opts):
    engine = make_engine(master_opts, virtual_machines=True)
    src = engine.source()
    site = src.find("dcim.sites", slug="lab1")
    in_site = src.create(
        "virtualization.virtual-machines",
        {"name": "vm-a", "status": "active", "site": site["id"], "vcpus": 2, "memory": 2048},
    )
    loose = src.create("virtualization.virtual-machines", {"name": "vm-b", "status": "active"})
    eth0 = src.create(
        "virtualization.interfaces", {"name": "eth0", "virtual_machine": in_site["id"]}
    )
    src.create(
        "ipam.ip-addresses",
        {
            "address": "10.10.9.5/24",
            "assigned_object_type": "virtualization.vminterface",
            "assigned_object_id": eth0["id"],
        },
    )
    src.create("virtualization.interfaces", {"name": "ens3", "virtual_machine": loose["id"]})
    vm_a = engine.compile("vm-a", {})["netbox"]
    assert vm_a["kind"] == "virtual_machine" and vm_a["vcpus"] == 2
    assert vm_a["site"]["slug"] == "lab1" and len(vm_a["prefixes"]) == 8
    assert [ip["address"] for ip in vm_a["interfaces"]["eth0"]["ip_addresses"]] == ["10.10.9.5/24"]
    assert "rack_devices" not in vm_a and "peer" not in vm_a["interfaces"]["eth0"]
    vm_b = engine.compile("vm-b", {})["netbox"]
    assert vm_b["site"] is None and list(vm_b["interfaces"]) == ["ens3"]
    assert vm_b["_meta"]["scope"] == f"vm-{loose['id']}"
    # without virtual_machines: true, VMs are unknown
    assert make_engine(master_opts).compile("vm-a", {}) == {}


def test_sites_restricts_the_index(master_opts):
    make_engine(master_opts).source().create(
        "dcim.sites", {"name": "AMS01", "slug": "ams01", "status": "active"}
    )
    assert make_engine(master_opts, sites=["ams01"]).compile("srv-r1-01", {}) == {}
    assert make_engine(master_opts, sites=["lab1"]).compile("srv-r1-01", {})["netbox"]["id"]
    with pytest.raises(PillarUnavailable, match="ams99"):
        make_engine(master_opts, sites=["ams99"]).compile("srv-r1-01", {})


def test_deleted_device_becomes_unknown(master_opts):
    engine = make_engine(master_opts, on_unknown="error")
    engine.compile("srv-r2-08", {})
    src = engine.source()
    dev = src.find("dcim.devices", name="srv-r2-08")
    src.delete("dcim.devices", dev["id"])
    expire(engine, site_name(engine))
    expire(engine, engine.options.index_key)
    with pytest.raises(CommandExecutionError, match="not in NetBox"):
        engine.compile("srv-r2-08", {})
    # the site record follows at the next compile of a minion of the site
    assert engine.compile("srv-r2-07", {})["netbox"]["name"] == "srv-r2-07"
    record = engine.store.cache.fetch(engine.store.bank, site_name(engine))
    names = {d["name"] for d in record["objects"]["dcim.devices"]}
    assert "srv-r2-08" not in names and "srv-r2-07" in names
    assert not [i for i in record["objects"]["dcim.interfaces"] if i["device"]["id"] == dev["id"]]


def test_runner_refresh_fails_loudly_when_netbox_fails(master_opts, monkeypatch):
    master_opts["ext_pillar"] = [{"netbox": {}}]
    engine = pillar_utils.get_engine(master_opts, {}, {})
    engine.compile("srv-r1-01", {})
    monkeypatch.setattr(engine, "source", Down)
    # a forced refresh never reports the cached copy as refreshed
    with pytest.raises(PillarUnavailable, match="identity index .*connection refused"):
        pillar_utils.pillar_refresh(master_opts, site="lab1")
    monkeypatch.undo()

    # the index refreshes, the site does not: the failure names the site
    def site_down(*args, **kwargs):
        raise NetBoxUnavailable("NetBox unreachable: connection reset")

    monkeypatch.setattr(fetch, "full_scope", site_down)
    with pytest.raises(PillarUnavailable, match="lab1: NetBox unreachable: connection reset"):
        pillar_utils.pillar_refresh(master_opts)
    monkeypatch.undo()
    # minions keep being served the cached copy (still within its TTL)
    out = engine.compile("srv-r1-01", {})["netbox"]
    assert out["name"] == "srv-r1-01" and out["interfaces"]["eno1"]["peer"]["device"] == "tor1-r1"


def _age_full_fetch(engine, name, seconds):
    """Make the cached record's last full fetch ``seconds`` older and its TTL expired."""
    forget_memory()
    record = engine.store.cache.fetch(engine.store.bank, name)
    record["full_at"] -= seconds
    engine.store.cache.store(engine.store.bank, name, record)
    expire(engine, name, 600)
    return record["full_at"]


def test_full_interval_bounds_the_change_log_refreshes(master_opts):
    engine = make_engine(master_opts, full_interval=3600)
    engine.compile("srv-r1-01", {})
    name = site_name(engine)
    expire(engine, name, 600)  # past the TTL, full fetch 10 minutes ago: change log only
    engine.compile("srv-r1-01", {})
    assert engine.store.meta(name)["last_fetch"]["mode"] == "unchanged"
    # the record's last full fetch is older than full_interval: the next refresh is a full one
    old_full = _age_full_fetch(engine, name, 7200)
    engine.compile("srv-r1-01", {})
    meta = engine.store.meta(name)
    assert meta["last_fetch"]["mode"] == "full" and meta["full_at"] > old_full + 7000
    # 0: change log only, however old the last full fetch
    never = make_engine(master_opts, full_interval=0)
    _age_full_fetch(never, name, 7200)
    never.compile("srv-r1-01", {})
    assert never.store.meta(name)["last_fetch"]["mode"] == "unchanged"
