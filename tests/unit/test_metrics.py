"""
The metrics spool and exporter: counts of several processes (forked, as the master's workers)
are summed, a finished process's counts are folded into retired.json and never lost or counted
twice, and the textfile parses with prometheus_client's parser.
"""

import os

import pytest
from prometheus_client.parser import text_string_to_metric_families

from salt_ext.utils import metrics
from salt_ext.utils.netbox import counter as nb_counter
from tests.unit.turnup.test_report import make_run


@pytest.fixture(autouse=True)
def _fresh():
    metrics.reset()
    yield
    metrics.reset()


@pytest.fixture
def opts(tmp_path):
    return {"cache": "localfs", "cachedir": str(tmp_path / "cache"), "id": "master-a"}


def _child(opts, hits, requests):
    pid = os.fork()
    if pid == 0:
        try:
            for _ in range(hits):
                metrics.pillar_event("hit", "site-3", opts)
            for _ in range(requests):
                nb_counter.RequestCounter().record("dcim.devices", "get")
            nb_counter.PROCESS.record_result("dcim.devices", "GET", 0.02, "http_500")
            metrics.flush()
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert status == 0


def parse(path):
    with open(path, encoding="utf-8") as handle:
        return {
            (s.name, frozenset(s.labels.items())): s.value
            for f in text_string_to_metric_families(handle.read())
            for s in f.samples
        }


def test_forked_workers_are_summed_and_folded_once(opts):
    metrics.pillar_event("miss", "index", opts)  # this process, before the forks
    _child(opts, hits=3, requests=2)
    _child(opts, hits=4, requests=5)
    first = metrics.spooled(opts)
    folder = metrics.spool_dir(opts)
    assert metrics.RETIRED in os.listdir(folder)  # both children are gone: folded
    assert not [
        f for f in os.listdir(folder) if f.startswith("proc-") and str(os.getpid()) not in f
    ]
    second = metrics.spooled(opts)
    assert first == second  # folding again counts nothing twice
    pillar = {(e, k): n for e, k, n in second["pillar"]}
    # the parent's miss counted once: not inherited by the forked children
    assert pillar == {("hit", "site"): 7, ("miss", "index"): 1}
    assert second["netbox"]["requests"] == [["dcim.devices", "GET", 7]]
    assert second["netbox"]["errors"] == [["dcim.devices", "GET", "http_500", 2]]
    [[_, _, n, total_s, buckets]] = second["netbox"]["latency"]
    assert n == 2 and total_s == pytest.approx(0.04) and sum(buckets) == 2


def test_textfile_parses_and_holds_the_run(opts, tmp_path):
    _, record = make_run(opts)
    _child(opts, hits=2, requests=1)
    path = str(tmp_path / "m.prom")
    out = metrics.write(opts, path)
    assert out["path"] == path and out["samples"] > 20
    values = parse(path)
    assert values[("saltext_turnup_pillar_cache_hits_total", frozenset({("record", "site")}))] == 2
    key = frozenset({("site", "lab1"), ("rack", "R2"), ("kind", "server"), ("status", "failed")})
    assert values[("saltext_turnup_devices", key)] == 2
    assert values[("saltext_turnup_runs", frozenset({("state", "done")}))] == 1
    stage = [d["steps"]["stage"]["duration"] for d in record["devices"].values() if d["steps"]]
    assert values[
        ("saltext_turnup_step_duration_seconds_count", frozenset({("step", "stage")}))
    ] == len(stage)


def test_path_from_master_config_and_bad_paths(opts, tmp_path):
    opts["turnup"] = {"metrics_file": str(tmp_path / "x.prom")}
    assert metrics.metrics_path(opts) == str(tmp_path / "x.prom")
    for bad in ("x.prom", str(tmp_path / "x.txt"), str(tmp_path / "no" / "x.prom")):
        with pytest.raises(metrics.SaltInvocationError, match="path="):
            metrics.metrics_path(opts, bad)


def test_pillar_counting_never_raises(monkeypatch):
    monkeypatch.setattr(metrics, "maybe_flush", lambda: 1 / 0)
    metrics.pillar_event("hit", "site-1")  # logged, not raised


def test_grafana_dashboard_uses_only_exported_metrics(opts, tmp_path):
    """Every series a dashboard panel queries is one the exporter writes (no typo, no stale name)."""
    import json  # noqa: PLC0415
    import pathlib  # noqa: PLC0415
    import re  # noqa: PLC0415

    make_run(opts)
    _child(opts, hits=1, requests=1)
    path = str(tmp_path / "m.prom")
    metrics.write(opts, path)
    exported = set()
    for line in open(path, encoding="utf-8"):
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            exported.add(name)
            if kind == "histogram":
                exported |= {name + "_bucket", name + "_sum", name + "_count"}
    board = json.loads(
        (pathlib.Path(__file__).parents[2] / "docs" / "grafana-saltext-turnup.json").read_text()
    )
    queried = set()
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            queried |= set(re.findall(r"saltext_turnup_[a-z_]+", target["expr"]))
    for var in board["templating"]["list"]:
        queried |= set(re.findall(r"saltext_turnup_[a-z_]+", str(var.get("query"))))
    assert len(queried) >= 15
    assert queried <= exported, sorted(queried - exported)
