"""
``salt-run turnup.metrics``: the Prometheus textfile parses with prometheus_client's parser and
holds the figures of what happened in the test: a turn-up run record (8 servers, 2 failed)
written with record.Store, pillar compiles through Salt's pillar compiler against the NetBox
stand-in (misses, hits, stale serves while NetBox is down) and NetBox requests (counted by
the stand-in itself, errors by endpoint).
"""

import collections
import os

import pytest
import salt.runner
from prometheus_client.parser import text_string_to_metric_families

from salt_ext.utils import metrics
from salt_ext.utils.netbox import NetBoxClient, load_config
from salt_ext.utils.netbox.errors import NetBoxError
from salt_ext.utils.pillar.cache import forget_memory
from salt_ext.utils.pillar.engine import forget_engines
from tests.functional.test_pillar import compile_pillar, compile_while_down, expire_all, master_opts
from tests.unit.turnup.test_report import FAILED, make_run


@pytest.fixture(autouse=True)
def _clean_process_state():
    metrics.reset()
    forget_memory()
    forget_engines()
    yield
    metrics.reset()
    forget_memory()
    forget_engines()


def samples(path):
    """``{(name, frozenset(labels)): value}`` of the textfile, and the metric types."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    values, types = {}, {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for sample in family.samples:
            values[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return values, types


def value(values, name, **labels):
    return values.get((name, frozenset(labels.items())))


def total(values, name, **labels):
    return sum(
        v
        for (n, lab), v in values.items()
        if n == name and all((k, w) in lab for k, w in labels.items())
    )


@pytest.mark.standin_only("fault injection: NetBox goes down to count stale serves and errors")
def test_metrics_file_holds_the_run_pillar_and_netbox_figures(tmp_path, fresh_netbox):
    standin = fresh_netbox.standin
    opts = master_opts(tmp_path, fresh_netbox)
    out = tmp_path / "textfile"
    out.mkdir()
    opts["turnup"] = {"metrics_file": str(out / "saltext_turnup.prom")}
    (tmp_path / "master" / "cache" / "proc").mkdir(parents=True, exist_ok=True)
    _, record = make_run(opts)

    metrics.reset()  # the fixtures' seeding requests are not part of what is measured
    before = len(standin.requests)
    assert compile_pillar(opts, "srv-r1-01")["netbox"]["_meta"]["stale"] is False  # cold: misses
    forget_engines()
    forget_memory()
    assert compile_pillar(opts, "srv-r1-01")["netbox"]["_meta"]["stale"] is False  # warm: hits
    expire_all(opts)
    assert compile_while_down(opts, standin, "srv-r1-01")["netbox"]["_meta"]["stale"] is True
    # one request NetBox answers 404 (an error by endpoint)
    client = NetBoxClient(
        load_config({"netbox": {"url": fresh_netbox.url, "token": fresh_netbox.token}})
    )
    with pytest.raises(NetBoxError):
        client.send("GET", f"{client.api_url}/dcim/devices/987654/", endpoint="dcim.devices")
    served = standin.requests[before:]

    ret = salt.runner.RunnerClient(opts).cmd("turnup.metrics", full_return=True, print_event=False)
    assert ret["success"] is True, ret
    path = ret["return"]["path"]
    assert path == opts["turnup"]["metrics_file"]
    assert os.stat(path).st_mode & 0o777 == 0o644
    assert sorted(os.listdir(out)) == ["saltext_turnup.prom"]  # atomic: no temporary left
    values, types = samples(path)
    text = open(path, encoding="utf-8").read()
    assert fresh_netbox.token not in text

    # the run record: devices by status, runs by state, step durations, failures by step
    p = "saltext_turnup_"
    assert value(values, p + "devices", site="lab1", rack="R2", kind="server", status="active") == 6
    assert value(values, p + "devices", site="lab1", rack="R2", kind="server", status="failed") == 2
    assert value(values, p + "devices", site="lab1", rack="R2", kind="tor", status="active") == 2
    assert (
        value(values, p + "runs", state="done") == 1
        and value(values, p + "runs", state="running") == 0
    )
    assert types[p + "step_duration_seconds"] == "histogram"
    for step in ("stage", "validate", "highstate", "activate"):
        took = [
            d["steps"][step]["duration"] for d in record["devices"].values() if step in d["steps"]
        ]
        assert value(values, p + "step_duration_seconds_count", step=step) == len(took)
        assert value(values, p + "step_duration_seconds_sum", step=step) == pytest.approx(sum(took))
    assert value(values, p + "step_duration_seconds_count", step="highstate") == 7
    assert value(values, p + "step_duration_seconds_bucket", step="highstate", le="60.0") == 0
    assert types[p + "step_failures"] == "counter"
    assert {
        s: value(values, p + "step_failures_total", step=s)
        for s in ("validate", "highstate", "stage")
    } == {"validate": 1, "highstate": 1, "stage": 0}
    assert sum(1 for s, _ in FAILED.values()) == total(values, p + "step_failures_total")

    # the pillar cache: cold compile = misses, warm = hits, NetBox down = stale serves
    assert value(values, p + "pillar_cache_misses_total", record="index") == 1
    assert value(values, p + "pillar_cache_misses_total", record="site") == 1
    assert value(values, p + "pillar_cache_hits_total", record="index") == 1
    assert value(values, p + "pillar_cache_hits_total", record="site") == 1
    assert value(values, p + "pillar_cache_stale_serves_total", record="index") == 1
    assert value(values, p + "pillar_cache_stale_serves_total", record="site") == 1
    ages = {
        dict(lab)["record"]: v
        for (n, lab), v in values.items()
        if n == p + "pillar_cache_age_seconds"
    }
    assert len(ages) == 2 and all(v >= 3600 for v in ages.values())  # expired by expire_all

    # NetBox requests: what the stand-in served, by endpoint; the 404 and the refused connections
    gets = collections.Counter(r["path"] for r in served)
    assert total(values, p + "netbox_requests_total") == sum(gets.values()) + total(
        values, p + "netbox_request_errors_total", error="connection"
    )
    assert (
        value(
            values,
            p + "netbox_request_errors_total",
            endpoint="dcim.devices",
            method="GET",
            error="http_404",
        )
        == 1
    )
    assert total(values, p + "netbox_request_errors_total", error="connection") >= 1
    assert types[p + "netbox_request_duration_seconds"] == "histogram"
    # one latency observation per request (its urllib3 retries inside its time)
    assert total(values, p + "netbox_request_duration_seconds_count") == total(
        values, p + "netbox_requests_total"
    )
    assert total(values, p + "netbox_request_retries_total") >= 1  # the refused connections
    assert value(values, p + "metrics_generated_timestamp_seconds") > record["created"]


def test_metrics_bad_path_fails_the_job(tmp_path):
    opts = master_opts(tmp_path, type("T", (), {"url": "http://127.0.0.1:9", "token": "0" * 40})())
    (tmp_path / "master" / "cache" / "proc").mkdir(parents=True, exist_ok=True)
    client = salt.runner.RunnerClient(opts)
    for bad in ("rel.prom", str(tmp_path / "x.txt"), str(tmp_path / "nodir" / "x.prom")):
        ret = client.cmd("turnup.metrics", kwarg={"path": bad}, full_return=True, print_event=False)
        assert ret["return"]["retcode"] == 1 and repr(bad) in ret["return"]["error"], ret
