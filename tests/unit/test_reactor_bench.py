"""bench/reactor_bench.py's summary: p50/p95 of the latencies and the machine-readable last line."""

from __future__ import annotations

import importlib.util
import pathlib
import re
import statistics

import pytest

BENCH = pathlib.Path(__file__).resolve().parents[2] / "bench" / "reactor_bench.py"
LAST_LINE = re.compile(r"^reactor_bench: events=(\d+) p50_s=(\d+\.\d+) p95_s=(\d+\.\d+)$")


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("reactor_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_percentiles_interpolate(bench):
    samples = [float(i) for i in range(1, 21)]  # 1..20, shuffled order must not matter
    samples = samples[10:] + samples[:10]
    stats = bench.summary(samples)
    assert stats["events"] == 20
    assert stats["p50"] == pytest.approx(statistics.median(samples)) == pytest.approx(10.5)
    assert stats["p95"] == pytest.approx(19.05)  # 1 + 0.95 * 19
    assert bench.summary([0.7]) == {"events": 1, "p50": 0.7, "p95": 0.7}
    assert bench.percentile([3.0, 1.0], 100) == 3.0 and bench.percentile([3.0, 1.0], 0) == 1.0
    with pytest.raises(ValueError):
        bench.summary([])


def test_report_prints_the_required_last_line(bench, capsys):
    boot = [1.2, 0.9, 1.0, 1.1, 3.0]
    stats = bench.report(boot, [0.04, 0.03, 0.05], {bench.PHASES[0]: [0.02, 0.03], "empty": []})
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "reactor_bench: events=5 p50_s=1.100 p95_s=2.640"  # 1.2 + 0.8 * (3.0 - 1.2)
    match = LAST_LINE.match(lines[-1])
    assert match and int(match.group(1)) == 5
    assert float(match.group(2)) == pytest.approx(stats["p50"], abs=5e-4)
    assert any("baseline" in line and "p50 0.040 s" in line for line in lines)
    assert any(bench.PHASES[0] in line for line in lines)
    assert not any("empty" in line for line in lines)
