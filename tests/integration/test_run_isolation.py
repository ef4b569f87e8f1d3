"""A test run keeps everything it writes under one directory of its own (issue 8).

salt-factories used to generate its CLI wrapper scripts once in ``/tmp/scripts/`` with the
``CODE_DIR`` of the first checkout that ran (a later clone's daemons then loaded Salt from the first
clone's venv), and put daemon folders with world-readable, token-holding configs directly in
``/tmp``. These tests run pytest twice at the same time, like two clones' CI on one machine, and
check that the runs share nothing, leave nothing behind and never let another user read the token.
"""

from __future__ import annotations

import json
import os
import pathlib
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile

import psutil
import pytest
import saltfactories
from saltfactories.utils import random_string

from tests.support.saltenv import REPO_ROOT, master_overrides, minion_overrides

pytestmark = pytest.mark.integration

PROBE = REPO_ROOT / "tests" / "support" / "run_probe.py"
SITE_PACKAGES = str(pathlib.Path(saltfactories.__file__).resolve().parents[1])


def _inside(path, parent):
    return pathlib.Path(path).resolve().is_relative_to(pathlib.Path(parent).resolve())


def test_this_run_lives_under_its_basetemp(salt_factories, tmp_path_factory):
    basetemp = tmp_path_factory.getbasetemp()
    assert _inside(salt_factories.root_dir, basetemp)
    assert _inside(salt_factories.scripts_dir, basetemp)
    assert _inside(tempfile.gettempdir(), basetemp.parent)
    for private in (basetemp, pathlib.Path(tempfile.gettempdir())):
        assert stat.S_IMODE(private.stat().st_mode) == 0o700, private
    script = salt_factories.get_salt_script_path("salt-call")
    assert _inside(script, basetemp)
    # the wrapper puts THIS interpreter's site-packages first, and runs under this interpreter
    assert f"CODE_DIR = r'{SITE_PACKAGES}'" in pathlib.Path(script).read_text()
    assert salt_factories.python_executable == sys.executable


def test_configs_holding_the_token_are_private(salt_factories, netbox_target):
    """Daemon configs hold the NetBox token: no group or other bits, anywhere under the root."""
    master = salt_factories.salt_master_daemon(
        random_string("priv-m-"), overrides=master_overrides(netbox_target)
    )
    master.salt_minion_daemon(random_string("priv-"), overrides=minion_overrides(netbox_target))
    holding = []
    for path in pathlib.Path(salt_factories.root_dir).rglob("*"):
        if path.is_file() and netbox_target.token in path.read_text(errors="replace"):
            holding.append(path)
            mode = stat.S_IMODE(path.stat().st_mode)
            assert (
                not mode & 0o077
            ), f"{path} is {oct(mode)}: the NetBox token is readable by others"
    assert len(holding) >= 2, "expected the master's and the minion's config to hold the token"
    assert not pathlib.Path("/tmp", master.id).exists()


@pytest.mark.timeout(900)
def test_two_runs_at_once_share_nothing_and_leave_nothing(tmp_path):
    """Two pytest runs at the same time (two clones' CI): disjoint directories, scripts of their
    own naming this interpreter's code, token-holding files private, nothing left afterwards."""
    # what /tmp is to a CI run; short: the inner runs' daemon sockets must fit AF_UNIX's 107 bytes
    host_tmp = pathlib.Path(tempfile.mkdtemp(prefix="h"))
    try:
        _two_runs(tmp_path, host_tmp)
    finally:
        shutil.rmtree(host_tmp, ignore_errors=True)


def _two_runs(tmp_path, host_tmp):
    token = secrets.token_hex(20)
    runs = []
    for n in (1, 2):
        out = tmp_path / f"probe-{n}.json"
        env = dict(
            os.environ,
            TMPDIR=str(host_tmp),
            TURNUP_PROBE_OUT=str(out),
            TURNUP_PROBE_TOKEN=token,
        )
        env.pop("TURNUP_KEEP_TMP", None)
        env.pop("PYTEST_ADDOPTS", None)
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            str(PROBE),
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "timeout=280",
        ]
        log = tmp_path / f"probe-{n}.log"
        with log.open("w") as handle:
            proc = subprocess.Popen(  # noqa: S603
                cmd, cwd=REPO_ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT
            )
        runs.append((proc, out, log))
    reports = []
    for proc, out, log in runs:
        try:
            proc.wait(timeout=300)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0, log.read_text()[-4000:]
        reports.append(json.loads(out.read_text()))
    one, two = reports
    for report in reports:
        run_dir = pathlib.Path(report["basetemp"]).parent
        assert run_dir.parent == host_tmp and run_dir.name.startswith("turnup-"), report
        for key in ("root_dir", "scripts_dir", "script", "master_root", "config_file", "tmpdir"):
            assert _inside(report[key], run_dir), (key, report)
        assert report["code_dir"] == SITE_PACKAGES
        assert report["python"] == report["sys_executable"] == sys.executable
        assert report["holding_token"], "the probe's master config should hold its token"
        assert report["readable_by_others"] == []
    for key in ("basetemp", "root_dir", "scripts_dir", "script", "master_root", "tmpdir"):
        assert not _inside(one[key], two[key]) and not _inside(two[key], one[key]), key
    # both runs removed everything they wrote: nothing of theirs is left in "/tmp"
    assert sorted(p.name for p in host_tmp.iterdir()) == []


def test_this_run_listens_on_loopback_only(salt_factories, event_listener):
    """salt-factories' log server and event listener default to 0.0.0.0: ours are on 127.0.0.1."""
    assert event_listener.address.startswith("tcp://127.0.0.1:")
    listening = [
        conn.laddr
        for conn in psutil.Process().net_connections(kind="inet")
        if conn.status == psutil.CONN_LISTEN
    ]
    assert listening, "the log server and the event listener listen in this process"
    assert [addr for addr in listening if addr.ip not in ("127.0.0.1", "::1")] == []
