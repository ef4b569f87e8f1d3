"""
Several sites in one fetch: 100 small sites listed together, split into per-site records equal
to single-site fetches; grouped change-log refresh; the engine's grouping rules.

The fleet (100 sites of 1 ToR + 3 servers, cabled, IPs, MACs) comes from the benchmark's
generator (``bench/_pillar_site.py``) in a NetBox store, exported as a snapshot file once per
module and read through the access layer's SnapshotSource (which counts requests and pages like
the API client and logs changes like NetBox).
"""

import importlib.util
import json
import math
import pathlib
import shutil

import pytest
import salt.config

from salt_ext.utils.netbox.model.store import NetBoxStore
from salt_ext.utils.netbox.snapshot import SnapshotSource
from salt_ext.utils.pillar import fetch
from salt_ext.utils.pillar.assemble import SiteView, node_pillar
from salt_ext.utils.pillar.cache import forget_memory
from salt_ext.utils.pillar.engine import Engine, forget_engines
from salt_ext.utils.pillar.options import parse_options

SITES = 100
GENERATOR = pathlib.Path(__file__).resolve().parents[3] / "bench" / "_pillar_site.py"


def _generator():
    spec = importlib.util.spec_from_file_location("_pillar_site", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fleet_file(tmp_path_factory):
    store = NetBoxStore()
    sites = _generator().build_fleet(store, sites=SITES, racks=1, tors=1, servers=3)
    path = tmp_path_factory.mktemp("fleet") / "fleet.json"
    path.write_text(json.dumps(store.export()))
    return path, sites


@pytest.fixture
def fleet(fleet_file, tmp_path):
    path, sites = fleet_file
    copy = tmp_path / "fleet.json"
    shutil.copy(path, copy)
    return SnapshotSource(str(copy)), sites, str(copy)


@pytest.fixture
def options():
    return parse_options({})


def _ideal(src, records, endpoints):
    """Object types x pages: one paginated listing per type for all the sites (the limit)."""
    extra_pages = 0
    for endpoint in endpoints:
        ids = {o["id"] for r in records.values() for o in r["objects"].get(endpoint, ())}
        extra_pages += max(0, math.ceil(len(ids) / src.page_size) - 1)
    return 1 + len(endpoints) + extra_pages  # + the change log


def test_100_sites_are_listed_together_not_per_site(fleet, options):
    src, sites, _ = fleet
    ids = [s["site_id"] for s in sites]
    src.counter.reset()
    records = fetch.full_sites(src, ids, options.endpoints, options)
    total = src.counter.total
    ideal = _ideal(src, records, options.endpoints)
    assert sorted(records) == sorted(ids)
    # within 2x of (object types x pages), nowhere near x100 sites
    assert total <= 2 * ideal, (total, ideal)
    assert total < len(options.endpoints) * SITES / 10
    by_endpoint = src.counter.snapshot()["by_endpoint"]
    assert by_endpoint["dcim.devices"]["GET"] == 1
    assert by_endpoint["core.object-changes"]["GET"] == 1
    rec = records[ids[0]]
    assert rec["last_fetch"]["group"] == SITES
    assert rec["last_fetch"]["requests"] == total
    assert len(rec["objects"]["dcim.devices"]) == 4


def _comparable(record):
    return {k: record[k] for k in ("schema", "scope", "endpoints", "objects", "cursor", "seen")}


@pytest.mark.parametrize("parts", [{}, {"config_context": False, "hwgen": False}])
def test_per_site_records_equal_single_site_fetches(fleet, parts):
    src, sites, _ = fleet
    options = parse_options(parts)
    ids = [s["site_id"] for s in sites]
    records = fetch.full_sites(src, ids, options.endpoints, options)
    for sid in ids[:3] + ids[-2:]:
        alone = fetch.full_scope(src, {"kind": "site", "id": sid}, options.endpoints, options)
        assert _comparable(records[sid]) == _comparable(alone), sid


def test_cross_site_cable_makes_the_peer_external_in_both_records(fleet, options):
    src, sites, _ = fleet
    a, b = sites[0], sites[1]
    srv_a = src.find("dcim.devices", name=a["servers"][0])
    tor_b = src.find("dcim.devices", name=b["tors"][0])
    near = src.create(
        "dcim.interfaces", {"device": srv_a["id"], "name": "eno9", "type": "25gbase-x-sfp28"}
    )
    far = src.create(
        "dcim.interfaces", {"device": tor_b["id"], "name": "Ethernet99", "type": "25gbase-x-sfp28"}
    )
    src.create(
        "dcim.cables",
        {
            "a_terminations": [{"object_type": "dcim.interface", "object_id": near["id"]}],
            "b_terminations": [{"object_type": "dcim.interface", "object_id": far["id"]}],
            "status": "connected",
        },
    )
    ids = [a["site_id"], b["site_id"], sites[2]["site_id"]]
    records = fetch.full_sites(src, ids, options.endpoints, options)
    for sid in ids:
        alone = fetch.full_scope(src, {"kind": "site", "id": sid}, options.endpoints, options)
        assert _comparable(records[sid]) == _comparable(alone), sid
    ext_a = {d["name"] for d in records[a["site_id"]]["objects"]["external.devices"]}
    ext_b = {d["name"] for d in records[b["site_id"]]["objects"]["external.devices"]}
    assert ext_a == {tor_b["name"]} and ext_b == {srv_a["name"]}
    assert "config_context" not in records[a["site_id"]]["objects"]["external.devices"][0]


def _pillars(record, options):
    view = SiteView(record)
    return {dev_id: node_pillar(view, "device", dev_id, options) for dev_id in view.devices}


def test_grouped_change_log_refresh(fleet, options):
    src, sites, _ = fleet
    ids = [s["site_id"] for s in sites]
    records = list(fetch.full_sites(src, ids, options.endpoints, options).values())
    src.counter.reset()
    unchanged = fetch.incremental_sites(src, records, options)
    assert src.counter.total == 1  # one change-log read for the 100 sites
    assert all(r["last_fetch"]["mode"] == "unchanged" for r in unchanged.values())
    assert {r["version"] for r in unchanged.values()} == {r["version"] for r in records}
    # a device renamed in site 5, a device moved from site 7 to site 8
    renamed = src.find("dcim.devices", name=sites[5]["servers"][0])
    src.update("dcim.devices", renamed["id"], {"name": "renamed-srv"})
    moved = src.find("dcim.devices", name=sites[7]["servers"][1])
    rack8 = src.find("dcim.racks", site_id=sites[8]["site_id"], name="R01")
    src.update(
        "dcim.devices",
        moved["id"],
        {"site": sites[8]["site_id"], "rack": rack8["id"], "position": 30},
    )
    src.counter.reset()
    refreshed = fetch.incremental_sites(src, list(unchanged.values()), options)
    assert src.counter.total <= 8, src.counter.snapshot()
    changed = {sid for sid, r in refreshed.items() if r["last_fetch"]["mode"] == "incremental"}
    assert changed == {sites[5]["site_id"], sites[7]["site_id"], sites[8]["site_id"]}
    for sid in changed:
        full = fetch.full_scope(src, {"kind": "site", "id": sid}, options.endpoints, options)
        assert _pillars(refreshed[sid], options) == _pillars(full, options), sid
    assert moved["id"] in {
        d["id"] for d in refreshed[sites[8]["site_id"]]["objects"]["dcim.devices"]
    }
    assert moved["id"] not in {
        d["id"] for d in refreshed[sites[7]["site_id"]]["objects"]["dcim.devices"]
    }


# ---------------------------------------------------------------------- the engine's rules
@pytest.fixture
def engine_for(fleet, tmp_path):
    _, sites, path = fleet
    opts = salt.config.DEFAULT_MASTER_OPTS.copy()
    pki = tmp_path / "pki"
    (pki / "minions").mkdir(parents=True)
    opts.update(
        cachedir=str(tmp_path / "cache"),
        cache="localfs",
        pki_dir=str(pki),
        netbox={"snapshot": path},
    )
    forget_memory()
    forget_engines()

    def make(accepted=(), **kwargs):
        for minion in accepted:
            (pki / "minions" / minion).write_text("key")
        return Engine(opts, {}, parse_options(kwargs))

    yield make, sites
    forget_memory()
    forget_engines()


def _site_fetches(engine):
    return engine.source().counter.snapshot()["by_endpoint"].get("dcim.devices", {}).get("GET", 0)


def test_a_single_minions_first_compile_fetches_only_its_site(engine_for):
    make, sites = engine_for
    engine = make(accepted=[s["servers"][0] for s in sites])
    out = engine.compile(sites[3]["servers"][0], {})
    assert out["netbox"]["site"]["id"] == sites[3]["site_id"]
    names = [n for n in engine.store.names() if n.startswith("site-")]
    assert names == [f"site-{sites[3]['site_id']}"]


def test_cold_start_groups_the_accepted_minions_sites(engine_for):
    make, sites = engine_for
    engine = make(accepted=[s["servers"][0] for s in sites[:40]])
    engine.compile(sites[0]["servers"][0], {})  # first: its site only
    before = _site_fetches(engine)
    engine.compile(sites[1]["servers"][0], {})  # second site: the other needed ones too
    assert _site_fetches(engine) - before == 1
    cached = {n for n in engine.store.names() if n.startswith("site-")}
    assert cached == {f"site-{s['site_id']}" for s in sites[:40]}
    src = engine.source()
    src.counter.reset()
    for site in sites[:40]:
        for minion in site["devices"]:
            assert engine.compile(minion, {})["netbox"]["name"] == minion
    assert src.counter.total == 0


def test_records_expiring_together_are_refreshed_together(engine_for):
    make, sites = engine_for
    engine = make(ttl=300)
    refresh = engine.refresh(site=",".join(str(s["site_id"]) for s in sites[:30]))
    assert len(refresh["sites"]) == 30
    assert {v["group"] for v in refresh["sites"].values()} == {30}
    for name in engine.store.names():
        meta = engine.store.meta(name)
        meta["synced_at"] -= 1000
        engine.store.save_meta(name, meta)
    src = engine.source()
    src.counter.reset()
    for site in sites[:30]:
        engine.compile(site["servers"][0], {})
    by_endpoint = src.counter.snapshot()["by_endpoint"]
    # the identity index and the 30 sites: one change-log read each (two positions), not 30
    assert by_endpoint["core.object-changes"]["GET"] == 2, by_endpoint
    assert src.counter.total == 2
    for site in sites[:30]:
        info = engine.store.meta(f"site-{site['site_id']}")
        assert info["last_fetch"]["mode"] == "unchanged"


def test_runner_refresh_of_every_site_is_grouped(engine_for):
    make, sites = engine_for
    engine = make()
    src = engine.source()
    src.counter.reset()
    out = engine.refresh(site="*")
    assert len(out["sites"]) == SITES
    assert src.counter.snapshot()["by_endpoint"]["dcim.devices"]["GET"] == 2  # index + group
    src.counter.reset()
    again = engine.refresh()  # every cached site, grouped again
    assert len(again["sites"]) == SITES
    assert src.counter.snapshot()["by_endpoint"]["dcim.devices"]["GET"] == 2
