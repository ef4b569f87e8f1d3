"""
``make demo`` / ``make demo-keep`` (tests/support/demo.py) as a new user meets it (issue 8): the
wrong Python says so at once; a failed start stops what it started and removes its directory,
``--keep`` too; the simulated minion is rooted in the demo directory; pillar values are shown;
every printed command can be pasted into a shell as it is.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tempfile

import pytest
import yaml

from tests.support import demo as demo_mod
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


def test_failed_start_with_keep_stops_everything_and_cleans_up(demo_tmp, monkeypatch):
    started = []

    def no_salt(self):
        started.extend(self.procs)
        raise SystemExit("demo: the minion did not answer within 90 s (the real reason)")

    monkeypatch.setattr(demo_mod.Demo, "start_salt", no_salt)
    with pytest.raises(SystemExit, match="the real reason"):
        demo_mod.main(["--keep"])
    assert started, "the NetBox stand-in should have been started"
    for proc in started:
        assert proc.poll() is not None, "a failed demo must stop what it started, --keep or not"
    assert list(demo_tmp.iterdir()) == [], "a failed demo removes its directory"


class _Recorder(demo_mod.Demo):
    """A Demo whose commands are recorded (and printed) instead of run."""

    def __init__(self, root):
        super().__init__(root)
        self.url, self.token, self.commands = "http://127.0.0.1:1", "0" * 40, []

    def _fake(self, cmd, check=True, show=True, timeout=120):  # noqa: ARG002
        self.commands.append([str(c) for c in cmd])
        if show:
            print("$ " + demo_mod.shell(cmd))
        answer = {demo_mod.MINION_ID: {"system": {"serial": "X"}, "text": "validation: PASSED"}}
        return subprocess.CompletedProcess(cmd, 0, stdout=json.dumps(answer), stderr="")


def test_config_roots_the_box_and_commands_paste(tmp_path, monkeypatch, capsys):
    rec = _Recorder(tmp_path)
    rec.write_configs()
    minion = yaml.safe_load((tmp_path / "etc" / "minion").read_text())
    # the simulated box writes under the demo directory, never the host's /etc
    assert minion["hardware"]["root"] == str(tmp_path / "rootfs")
    assert minion["hardware"]["simulate"] and minion["hardware"]["apply_live"] is False
    assert rec.token not in (tmp_path / "etc" / "minion").read_text()

    monkeypatch.setattr(demo_mod, "run", rec._fake)
    rec.show()
    out = capsys.readouterr().out
    pillar_gets = [c for c in rec.commands if "pillar.get" in c]
    assert pillar_gets and all("unmask=True" in c for c in pillar_gets), pillar_gets
    # every "$ ..." line is exactly a command it ran, and a shell splits it back into that argv
    printed = [shlex.split(line[2:]) for line in out.splitlines() if line.startswith("$ ")]
    assert printed == rec.commands
    with_pillar = [c for c in rec.commands if any(a.startswith("pillar={") for a in c)]
    assert with_pillar, "the netbox_examples step passes pillar=..."
    assert any("'pillar={" in line for line in out.splitlines()), "pillar= must be quoted"
    # what is not a command's output is labelled
    assert "# a summary of that command" in out
    assert "# the report's 'text' field" in out

    # --keep: the commands printed to paste, and a stop script
    rec.keep = True
    rec.stop(ok=True)
    out = capsys.readouterr().out
    lines = [ln.strip() for ln in out.splitlines() if ln.startswith("  /")]
    assert lines and all(shlex.split(ln)[0].startswith("/") for ln in lines)
    assert any("unmask=True" in ln for ln in lines)
    assert (tmp_path / "stop").exists() and f"sh {tmp_path / 'stop'}" in out


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
