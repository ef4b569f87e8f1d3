"""
``make demo`` / ``make demo-keep`` (tests/support/demo.py) as a new user meets it (issue 8): the
wrong Python says so at once; a failed start stops what it started and removes its directory,
``--keep`` too; the simulated minion is rooted in the demo directory; pillar values are shown;
every printed command can be pasted into a shell as it is.
"""

from __future__ import annotations

import os
import pathlib
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import threading

import pytest
import yaml

from tests.support import demo as demo_mod
from tests.support import demo_daemons
from tests.support.saltenv import REPO_ROOT


@pytest.fixture
def demo_tmp(tmp_path, monkeypatch):
    """The demo's temporary directories go to a directory of the test's own."""
    where = tmp_path / "tmp"
    where.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(where))
    return where


def test_a_python_without_salt_stops_at_once_saying_which(tmp_path):
    """The README used to say ``python -m tests.support.demo --keep``: the system Python crashed
    with ``No module named ...`` and then ``AttributeError: 'Demo' object has no attribute 'conf'``,
    leaving its temp dir."""
    env = {"TMPDIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(  # -S: no site-packages, like a Python without the venv's packages
        [sys.executable, "-S", "-m", "tests.support.demo", "--keep"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0
    assert "cannot import salt" in proc.stderr and "make demo-keep" in proc.stderr, proc.stderr
    assert ".venv/bin/python -m tests.support.demo" in proc.stderr
    assert "Traceback" not in proc.stderr and "AttributeError" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_failed_start_with_keep_stops_everything_and_cleans_up(demo_tmp, monkeypatch, tmp_path):
    started = []

    def no_salt(self):
        # a daemon of its own beside the NetBox stand-in (none on a real NetBox: NETBOX_URL)
        self.procs.start("salt-master", ["sleep", "300"])
        started.extend(self.procs.procs.values())
        raise SystemExit("demo: the salt-master did not listen within 240s (the real reason)")

    monkeypatch.setattr(demo_mod.Demo, "start_salt", no_salt)
    with pytest.raises(SystemExit) as failed:
        demo_mod.main(["--keep", "--out", str(tmp_path / "out")])
    assert failed.value.code == 1
    assert started
    if not os.environ.get("NETBOX_URL"):
        assert len(started) == 2, "the NetBox stand-in should have been started"
    for proc in started:
        assert proc.poll() is not None, "a failed demo must stop what it started, --keep or not"
        assert not demo_daemons.group_alive(proc.pid)
    assert list(demo_tmp.iterdir()) == [], "a failed demo removes its directory"


def test_configs_root_the_boxes_and_hold_no_token(tmp_path):
    token = "0123456789abcdef" * 2 + "cafe"
    setup = demo_daemons.SaltSetup(tmp_path, "http://127.0.0.1:1", token)
    setup.write_master(tmp_path / "out" / "saltext_turnup.prom")
    conf = setup.write_minion("srv-r2-01", tmp_path / "spec.json", "LAB1R2S01")
    master = yaml.safe_load((setup.etc / "master").read_text())
    minion = yaml.safe_load((conf / "minion").read_text())
    # the simulated box writes under the demo directory, never the host's /etc
    assert minion["hardware"]["root"] == str(tmp_path / "boxes" / "srv-r2-01")
    assert minion["hardware"]["simulate"] and minion["hardware"]["apply_live"] is False
    assert minion["autosign_grains"] == ["serialnumber"]
    # loopback only, as the current user, in the demo's directory
    assert master["interface"] == "127.0.0.1" and master["rest_cherrypy"]["host"] == "127.0.0.1"
    for opts in (master, minion):
        assert opts["root_dir"].startswith(str(tmp_path)) and opts["pki_dir"].startswith(
            str(tmp_path)
        )
    assert master["autosign_grains_dir"].startswith(str(tmp_path))
    # the token is in a 0600 file of its own, never in a config
    for path in tmp_path.rglob("*"):
        if path.is_file() and path != setup.token_file:
            assert token not in path.read_text(errors="replace"), path
    assert setup.token_file.stat().st_mode & 0o077 == 0
    assert (setup.etc / "master").stat().st_mode & 0o077 == 0


def _ipc_paths(opts):
    """The Unix sockets Salt binds in a daemon's sock_dir, named as Salt names them."""
    from salt.transport.base import _minion_hash  # noqa: PLC0415

    sock_dir = pathlib.Path(opts["sock_dir"])
    if opts["__role"] == "master":  # the master (and salt-api, which shares its config)
        names = ["master_event_pub.ipc", "master_event_pull.ipc", "publish_pull.ipc", "workers.ipc"]
    else:
        digest = _minion_hash(hash_type="sha256", minion_id=opts["id"])
        names = [f"minion_event_{digest}_pub.ipc", f"minion_event_{digest}_pull.ipc"]
    return [sock_dir / name for name in names]


def test_every_daemon_socket_fits_the_unix_path_limit(tmp_path):
    # a demo directory deeper than the integration test's (<run dir>/t/demo0/tmp/turnup-demo.*,
    # 53 characters). Salt's sockets under a deeper one once went over 107 bytes: the master never
    # started, minions never answered (seen in CI only, the run dir being deeper than a shell's)
    import salt.config  # noqa: PLC0415

    root = tmp_path / ("d" * (65 - len(str(tmp_path))))
    setup = demo_daemons.SaltSetup(root, "http://127.0.0.1:1", "0" * 40)
    setup.write_master(tmp_path / "m.prom")
    configs = [setup.master_opts()]  # as the daemons read them (Salt may rewrite paths)
    for index in range(1, 12):
        conf = setup.write_minion(f"srv-r2-{index:02d}", tmp_path / "spec.json", f"S{index}")
        configs.append(salt.config.minion_config(str(conf / "minion")))
    assert len({opts["sock_dir"] for opts in configs}) == len(configs), "a sock_dir each"
    sockets = [path for opts in configs for path in _ipc_paths(opts)]
    assert all(str(path).startswith(str(root) + "/") for path in sockets), sockets
    longest = max(sockets, key=lambda path: len(str(path)))
    assert len(str(longest)) <= demo_daemons.UNIX_PATH_MAX, longest
    for path in sockets:  # each really binds (not just a length computed here)
        path.parent.mkdir(parents=True, exist_ok=True)
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(str(path))


def test_a_directory_too_deep_for_unix_sockets_stops_at_once_naming_tmpdir(tmp_path):
    deep = tmp_path / ("d" * (100 - len(str(tmp_path))))
    with pytest.raises(SystemExit) as err:
        demo_daemons.SaltSetup(deep, "http://127.0.0.1:1", "0" * 40)
    assert "too deep for the daemons' Unix sockets" in str(err.value.code)
    assert "TMPDIR" in str(err.value.code)


def test_keep_prints_commands_that_paste_and_a_stop_script(tmp_path, capsys):
    demo = demo_mod.Demo(tmp_path / "root", tmp_path / "out", keep=True)
    demo.salt = demo_daemons.SaltSetup(demo.root, "http://127.0.0.1:1", "0" * 40)
    demo.run_id = "lab1-R2-20261203T120000"
    sleeper = demo.procs.start("sleeper", ["sleep", "300"])
    demo.stop(ok=True)
    out = capsys.readouterr().out
    lines = [ln.strip() for ln in out.splitlines() if ln.startswith("  /")]
    assert lines and all(shlex.split(ln)[0].startswith("/") for ln in lines)
    assert any("unmask=True" in ln and "pillar.get" in ln for ln in lines)
    assert any(f"run={demo.run_id}" in ln for ln in lines)
    stop = demo.root / "stop"
    assert f"sh {stop}" in out
    assert sleeper.poll() is None, "--keep leaves everything running"
    reaper = threading.Thread(target=sleeper.wait)  # a kept daemon's parent is gone: reaped
    reaper.start()
    subprocess.run(["sh", str(stop)], check=True, timeout=120, capture_output=True)
    reaper.join(timeout=30)
    assert not demo_daemons.group_alive(sleeper.pid) and not demo.root.exists()


def test_printed_commands_split_back_into_their_argv():
    argv = ["/x/salt-run", "state.orchestrate", "orch.rack_turnup", "pillar={site: lab1, rack: R2}"]
    assert shlex.split(demo_daemons.shell(argv)) == argv


def test_progress_rows_mark_each_step():
    record = {
        "devices": {
            "tor1-r2": {"kind": "tor", "wave": "network", "steps": {}},
            "srv-r2-01": {
                "kind": "server",
                "wave": "canary",
                "steps": {"stage": {"result": True}, "wait_minions": {"result": None}},
            },
            "srv-r2-03": {
                "kind": "server",
                "wave": "batch-1",
                "failed_step": "validate",
                "steps": {"stage": {"result": True}, "validate": {"result": False}},
            },
        }
    }
    rows = {r[0]: r[1:] for r in demo_mod.progress_rows(record)}
    assert rows["tor1-r2"][:2] == ["network", "checked"]
    assert rows["srv-r2-01"][:3] == ["canary", "ok", "..."]
    steps = [c for c, _ in demo_mod.COLUMNS]
    assert rows["srv-r2-03"][1 + steps.index("validate")] == "FAILED"
    assert rows["srv-r2-03"][1 + steps.index("highstate")] == ""


def test_docs_show_pillar_commands_with_unmask():
    """A ``pillar.get/items/item`` command in the docs prints '**********' on Salt 3008 unless it
    says ``unmask=True`` (docs/pillar.md said ``pillar.get netbox:rack:name``)."""
    use = re.compile(r"(salt(?:-call)? [^`#]*?)?\bpillar\.(?:get|items|item)\b((?: +[^\s`#]+)*)")
    found = []
    for doc in [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]:
        for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
            for match in use.finditer(line):
                if line[match.start() - 1 : match.start()] in ("'", '"'):
                    continue  # salt['pillar.get'](...) in a template: values are not masked
                if match.group(1) or match.group(2):  # a command, not the bare function name
                    found.append((f"{doc.name}:{number}", match.group(0)))
    assert found, "docs/pillar.md shows how to read the pillar"
    assert [f for f in found if "unmask=True" not in f[1]] == []
