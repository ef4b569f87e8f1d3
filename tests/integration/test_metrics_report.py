"""
Metrics and run report with real daemons: a salt-master whose own schedule runs
``turnup.metrics`` (as docs/metrics.md configures it) writes the textfile with the pillar
compiles its worker processes did for a real minion (counted in the workers, spooled, summed by
the scheduled runner); ``salt-run turnup.metrics`` and ``salt-run turnup.report`` from the CLI.
"""

from __future__ import annotations

import os
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families
from saltfactories.utils import random_string

from tests.support.saltenv import master_overrides, minion_overrides
from tests.unit.turnup.test_report import FAILED, make_run

pytestmark = pytest.mark.integration


def _values(path):
    with open(path, encoding="utf-8") as handle:
        return {
            (s.name, frozenset(s.labels.items())): s.value
            for f in text_string_to_metric_families(handle.read())
            for s in f.samples
        }


def _sum(values, name):
    return sum(v for (n, _), v in values.items() if n == name)


def _wait_for(predicate, timeout=240, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_scheduled_metrics_and_report_cli(salt_factories, netbox_target, tmp_path):
    out = tmp_path / "textfile"
    out.mkdir()
    prom = out / "saltext_turnup.prom"
    overrides = master_overrides(
        netbox_target,
        ext_pillar=[{"netbox": {}}],
        turnup={"metrics_file": str(prom)},
        schedule={
            "saltext_turnup_metrics": {
                "function": "turnup.metrics",
                "seconds": 5,
                "run_on_start": True,
                "return_job": False,
            }
        },
    )
    master = salt_factories.salt_master_daemon(random_string("metrics-m-"), overrides=overrides)
    with master.started():
        minion = master.salt_minion_daemon("srv-r1-01", overrides=minion_overrides(netbox_target))
        with minion.started():
            ret = minion.salt_call_cli(timeout=120).run(
                "pillar.get", "netbox:rack:name", unmask=True
            )
            assert ret.returncode == 0 and ret.data == "R1", ret

            def counted():
                if not prom.exists():
                    return None
                values = _values(str(prom))
                misses = _sum(values, "saltext_turnup_pillar_cache_misses_total")
                requests = _sum(values, "saltext_turnup_netbox_requests_total")
                return values if misses >= 2 and requests >= 1 else None

            # the worker processes' pillar compiles, in the file the master's schedule writes
            values = _wait_for(counted, what="the scheduled turnup.metrics to show the compiles")
            assert _sum(values, "saltext_turnup_netbox_request_duration_seconds_count") >= 1
            assert os.stat(prom).st_mode & 0o777 == 0o644

            # a turn-up run in the master's cache; the CLI writes the file and the report
            opts = {"cache": "localfs", "cachedir": master.config["cachedir"], "id": master.id}
            _, record = make_run(opts)
            run = master.salt_run_cli(timeout=120).run("turnup.metrics", f"path={prom}")
            assert run.returncode == 0, run
            values = _values(str(prom))
            key = frozenset(
                {("site", "lab1"), ("rack", "R2"), ("kind", "server"), ("status", "failed")}
            )
            assert values[("saltext_turnup_devices", key)] == len(FAILED)

            html = tmp_path / "report.html"
            run = master.salt_run_cli(timeout=120).run(
                "turnup.report", f"run={record['id']}", f"path={html}"
            )
            assert run.returncode == 0, run
            text = html.read_text(encoding="utf-8")
            assert all(f'data-device="{name}"' in text for name in record["devices"])
            assert netbox_target.token not in text

            bad = master.salt_run_cli(timeout=120).run(
                "turnup.report", "run=lab1-R2-19990101T000000", f"path={html}"
            )
            assert bad.returncode == 1 and "lab1-R2-19990101T000000" in str(bad.data), bad
