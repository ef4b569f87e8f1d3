"""
``make demo`` end to end (issue 13), as a user runs it: ``.venv/bin/python -m tests.support.demo``
in a subprocess, its temporary directory under this test's own. A real salt-master with the
reactor, salt-api, and one provisioning-image salt-minion per server of lab1's rack R2 plus an
impostor; NetBox is the stand-in (or, with ``NETBOX_URL`` and ``NETBOX_ALLOW_WRITES=1``, a private
copy of lab1 on that NetBox, removed by the demo).

What it shows, from the demo's own files (``--out``) and its output: exit code 0; the rack's turn-up
started by the reactor by itself once the last server was staged, and ended with every server
``active`` except the one cabled to the wrong ToR port (``failed``, with its journal entry); the
impostor's key left pending; the Prometheus textfile parses and holds the run's figures; the HTML
report names every device and the failure; afterwards no process the demo started is alive and its
directory is gone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import live_writes_allowed
from tests.support.demo_daemons import group_alive
from tests.support.saltenv import REPO_ROOT, SHARED_FIXTURES, SHARED_MISSING_REASON

pytestmark = [
    pytest.mark.integration,
    pytest.mark.live_capable,
    pytest.mark.timeout(2400),  # the module's fixture runs the whole demo
]

#: generous: 10 daemons on a loaded 2-core machine
DEMO_TIMEOUT = 1800


@pytest.fixture(scope="module", params=["with-shared", "without-shared"])
def demo(request, tmp_path_factory):
    """The demo run as the README says, beside ../shared and as on a clone without it
    (``TURNUP_SHARED_FIXTURES=none``: the boxes' dmidecode facts authored, lab_boxes.AUTHORED)."""
    if request.param == "with-shared" and SHARED_FIXTURES is None:
        pytest.skip(SHARED_MISSING_REASON)
    if os.environ.get("NETBOX_URL") and not live_writes_allowed():
        pytest.skip(
            "the demo turns up rack R2 of a private copy of lab1: set NETBOX_ALLOW_WRITES=1 if "
            "the NetBox of NETBOX_URL may be written (the copy is removed afterwards)"
        )
    base = tmp_path_factory.mktemp("demo")  # short: Salt's sockets live under it (107 bytes)
    tmp, out = base / "tmp", base / "out"
    tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(tmp), PYTHONUNBUFFERED="1")
    if request.param == "without-shared":
        env["TURNUP_SHARED_FIXTURES"] = "none"
    stdout, stderr = base / "demo.out", base / "demo.err"  # as it goes: readable while it runs
    try:
        with open(stdout, "w", encoding="utf-8") as so, open(stderr, "w", encoding="utf-8") as se:
            code = subprocess.run(  # noqa: S603
                [sys.executable, "-m", "tests.support.demo", "--out", str(out)],
                cwd=REPO_ROOT,
                env=env,
                stdout=so,
                stderr=se,
                timeout=DEMO_TIMEOUT,
                check=False,
            ).returncode
    finally:
        # whatever happened, nothing of the demo may outlive it (a timeout included)
        state = out / "demo-processes.json"
        if state.exists():
            for pid in json.loads(state.read_text())["pids"].values():
                if group_alive(pid):
                    os.killpg(pid, 9)
    proc = subprocess.CompletedProcess([], code, stdout.read_text(), stderr.read_text())
    return {"proc": proc, "out": out, "tmp": tmp, "shared": request.param == "with-shared"}


def result(demo):
    path = demo["out"] / "demo-result.json"
    assert path.exists(), demo["proc"].stderr[-3000:]
    return json.loads(path.read_text())


def test_demo_exits_zero_and_leaves_nothing_running(demo):
    proc = demo["proc"]
    authored = "dmidecode facts (system, BIOS, CPUs, DIMMs) are authored" in proc.stdout
    assert authored is not demo["shared"], "says where the boxes' hardware facts come from"
    assert proc.returncode == 0, f"{proc.stdout[-4000:]}\n---\n{proc.stderr[-4000:]}"
    assert "Traceback" not in proc.stderr, proc.stderr[-4000:]
    res = result(demo)
    alive = {name: pid for name, pid in res["pids"].items() if group_alive(pid)}
    assert alive == {}, f"processes of the demo still running: {alive}"
    # the master, the API, the stand-in, ten minions (8 servers, the impostor)
    assert {"master", "salt-api"} <= set(res["pids"])
    assert len([n for n in res["pids"] if n.startswith("minion-")]) == 9
    assert not os.path.exists(res["root"]), "the demo's directory is removed"
    assert list(demo["tmp"].iterdir()) == [], "nothing left in the demo's TMPDIR"


def test_rack_turned_itself_up_with_one_failure_isolated(demo):
    res, out = result(demo), demo["proc"].stdout
    status = {d["name"]: d["status"]["value"] for d in res["netbox_devices"]}
    servers, faulty = res["servers"], res["faulty"]
    assert status[faulty] == "failed"
    assert {s: status[s] for s in servers if s != faulty} == dict.fromkeys(
        [s for s in servers if s != faulty], "active"
    )
    assert res["record_state"] == "done"
    # the turn-up was started by the reactor, not by the demo: exactly once
    assert out.count("orch.rack_turnup started by itself") == 1, out[-4000:]
    assert "every server staged and auto_turnup is true" in out
    # the failure's NetBox journal entry names the step and the wrong port
    comments = "\n".join(e["comments"] for e in res["journal_faulty"])
    assert "validate" in comments and "Ethernet7" in comments, comments
    # before and after were shown from NetBox; the progress table was printed as it moved
    assert "NetBox before: rack R2" in out and "NetBox after: rack R2" in out
    assert out.count(f"run {res['run']}: running") >= 2, "the progress table moved"


def test_impostor_never_accepted(demo):
    res, out = result(demo), demo["proc"].stdout
    keys = res["keys"]
    assert res["impostor"] not in keys["accepted"]
    assert res["impostor"] in keys["pending"]
    assert set(res["servers"]) <= set(keys["accepted"])
    assert f"{res['impostor']}: key left PENDING" in out


def test_metrics_textfile_holds_the_demo_run(demo):
    res = result(demo)
    prom = demo["out"] / "saltext_turnup.prom"
    families = {f.name: f for f in text_string_to_metric_families(prom.read_text())}
    devices = {
        s.labels["status"]: s.value
        for s in families["saltext_turnup_devices"].samples
        if s.labels["rack"] == res["rack"]
        and s.labels["site"] == res["site"]
        and s.labels["kind"] == "server"
    }
    assert devices.get("active") == len(res["servers"]) - 1, devices
    assert devices.get("failed") == 1, devices
    failures = {s.labels["step"]: s.value for s in families["saltext_turnup_step_failures"].samples}
    assert failures["validate"] >= 1, failures
    steps = {
        s.labels["step"]
        for s in families["saltext_turnup_step_duration_seconds"].samples
        if s.name.endswith("_count") and s.value > 0
    }
    assert {"stage", "validate", "highstate", "activate"} <= steps, steps


def test_report_shows_every_device_and_the_failure(demo):
    res = result(demo)
    html = (demo["out"] / f"{res['run']}.html").read_text()
    assert f'<b id="run-id">{res["run"]}</b>' in html
    for name in res["servers"]:
        assert f'<tr class="device" data-device="{name}">' in html, name
    assert f'<tr class="failure" data-device="{res["faulty"]}">' in html
    assert html.count('<tr class="failure"') == 1
