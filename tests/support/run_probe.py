"""A one-test pytest module that ``tests/integration/test_run_isolation.py`` runs as a separate
pytest process (twice at once, like two clones' CI runs): it starts a salt-master through
salt-factories with a NetBox token in its config and reports, as JSON in ``$TURNUP_PROBE_OUT``,
where everything of its run went. Not collected by the suite (no ``test_`` prefix)."""

from __future__ import annotations

import atexit
import json
import os
import pathlib
import re
import stat
import sys
import tempfile

from saltfactories.utils import random_string

from tests.support.saltenv import master_overrides


def _late_writer(path):
    """Like a metrics flush at interpreter exit: re-creates a test's directory after pytest ended."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{}", encoding="utf-8")


def test_probe(salt_factories, tmp_path_factory, tmp_path):
    atexit.register(_late_writer, tmp_path / "cache" / "metrics" / "proc-1.json")
    token = os.environ["TURNUP_PROBE_TOKEN"]
    netbox = {"url": "http://127.0.0.1:9", "token": token}
    factory = salt_factories.salt_master_daemon(
        random_string("probe-m-"), overrides=master_overrides(netbox=netbox)
    )
    with factory.started(start_timeout=240):
        pass
    script = pathlib.Path(salt_factories.get_salt_script_path("salt-call"))
    code_dir = re.search(r"^CODE_DIR = r'(.*)'$", script.read_text(), re.M).group(1)
    readable = []
    holding_token = []
    for path in pathlib.Path(salt_factories.root_dir).rglob("*"):
        if path.is_file() and not path.is_symlink():
            if token in path.read_text(encoding="utf-8", errors="replace"):
                holding_token.append(str(path))
                if stat.S_IMODE(path.stat().st_mode) & 0o077:
                    readable.append(str(path))
    report = {
        "pid": os.getpid(),
        "basetemp": str(tmp_path_factory.getbasetemp()),
        "tmpdir": tempfile.gettempdir(),
        "root_dir": str(salt_factories.root_dir),
        "scripts_dir": str(salt_factories.scripts_dir),
        "script": str(script),
        "code_dir": code_dir,
        "python": salt_factories.python_executable,
        "sys_executable": sys.executable,
        "master_root": factory.config["root_dir"],
        "config_file": factory.config_file,
        "holding_token": holding_token,
        "readable_by_others": readable,
    }
    pathlib.Path(os.environ["TURNUP_PROBE_OUT"]).write_text(json.dumps(report), encoding="utf-8")
