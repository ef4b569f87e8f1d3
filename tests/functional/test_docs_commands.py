"""
Every command in the operator docs is run by a test or by the demo (issue 13), and every config
snippet in them is one our code accepts.

- Commands: every line of a fenced ``bash``/``sh``/``shell``/``console`` block of README.md and
  docs/*.md, and every ``$ `` line of any other fenced block. Each one is either RUN here (Salt's
  loaders in-process against the session's NetBox stand-in, ``salt-call --local`` as a real
  subprocess, the README quickstart's ``git clone`` of this checkout), after setting up what the
  doc's section assumes where it needs it (``CONTEXT``: a run recorded, a metrics_file, two
  sites); or listed in ``COVERED_BY`` naming the test function (or demo/Makefile code) that
  runs it: the named function must exist and contain the call (itself or through a module-level
  helper it calls), so the list cannot rot; or, for the few that need a package index or root,
  in ``NOT_RUN`` with the reason. Commands are compared as the shell splits them: an argument
  the doc forgot to quote is several words, and fails.
- Config: every ``yaml`` block whose first line names a ``/etc/salt/master.d/`` or
  ``/etc/salt/minion.d/`` file: keys are Salt options or options this package reads, the
  ``netbox:`` block loads, the ext_pillar options pass the ext_pillar's validation, the reactor SLS
  exist, the schedule's functions are our runners, and reactor/salt-api/webhook settings are those
  ``tests/integration/test_reactor_boot.py`` runs a real master and salt-api with.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import pathlib
import re
import shlex
import subprocess
import sys

import pytest
import salt.config
import salt.loader
import salt.utils.args
import salt.utils.yaml
from salt.exceptions import CommandExecutionError, SaltInvocationError, SaltRunnerError

from salt_ext.utils.netbox import load_config
from salt_ext.utils.netbox.model.store import NetBoxStore
from salt_ext.utils.pillar import compile_pillar
from salt_ext.utils.pillar.cache import forget_memory
from salt_ext.utils.pillar.engine import forget_engines
from salt_ext.utils.pillar.options import parse_options
from salt_ext.utils.turnup import autosign, boot, steps
from tests.support.saltenv import NETBOX_TEST_TIMEOUT, PILLAR_ROOT, REPO_ROOT, STATES_ROOT

DOC_FILES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
SHELL_LANGS = {"bash", "sh", "shell", "console"}
FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w+-]*)\s*$")

# --- what runs each command that this test does not run itself ---------------------------------
#: command (as the docs write it, comments dropped) -> (file, function or None, text it contains).
#: The text may be in the function or in a module-level helper the function calls by name
#: (``orchestrate(env, pillar)`` -> ``def orchestrate``); the function itself must exist.
_COVERED_BY = {
    "make demo": ("tests/integration/test_demo.py", None, "tests.support.demo"),
    "make test": (".ci/run", None, "make test"),
    "salt-run state.orchestrate orch.rack_turnup pillar='{site: lab1, rack: R2}'": (
        "tests/integration/test_turnup.py",
        None,
        "orch.rack_turnup",
    ),
    "salt-run state.orchestrate orch.rack_turnup pillar='{site: lab1, rack: R2}' test=True": (
        "tests/integration/test_turnup.py",
        "test_dry_run_predicts_and_writes_nothing",
        "test=True",
    ),
    "salt-run state.orchestrate orch.rack_turnup pillar='{site: lab1, rack: R2, batch: 3, "
    "max_failures: 2}'": ("tests/integration/test_turnup.py", None, '"max_failures"'),
    # the doc's form (site= and rack=): this test watches the rack's finished run that way
    "salt-run turnup.watch site=lab1 rack=R2": (
        "tests/integration/test_turnup.py",
        "test_second_run_changes_nothing",
        '"turnup.watch", site=',
    ),
    "salt-run turnup.status run=lab1-R2-20261202T160532 raw=True --out=yaml": (
        "tests/integration/test_turnup.py",
        "test_master_killed_mid_run_resume_finishes",
        '"turnup.status", run=run_id, raw=True',
    ),
    "salt-run turnup.resume run=lab1-R2-20261202T160532": (
        "tests/integration/test_turnup.py",
        "test_master_killed_mid_run_resume_finishes",
        "turnup.resume",
    ),
    "salt-run turnup.abort run=lab1-R2-20261202T160532": (
        "tests/functional/test_turnup_runner.py",
        None,
        "turnup.abort",
    ),
    "salt-run turnup.report run=lab1-R2-20261202T154501 path=/srv/reports/lab1-R2.html": (
        "tests/integration/test_metrics_report.py",
        "test_scheduled_metrics_and_report_cli",
        "turnup.report",
    ),
    "salt-run state.orchestrate orch.decommission "
    """pillar='{"site": "lab1", "devices": ["srv-r1-01"]}'""": (
        "tests/integration/test_decommission.py",
        "test_decommission_one_r1_server",
        "# 1. without confirm",
    ),
    "salt-run state.orchestrate orch.decommission "
    """pillar='{"site": "lab1", "devices": ["srv-r1-01"], "confirm": ["srv-r1-01"]}' test=True""": (
        "tests/integration/test_decommission.py",
        "test_decommission_one_r1_server",
        "orchestrate(env, pillar, test=True)",
    ),
    "salt-run state.orchestrate orch.decommission "
    """pillar='{"site": "lab1", "devices": ["srv-r1-01"], "confirm": ["srv-r1-01"]}'""": (
        "tests/integration/test_decommission.py",
        "test_decommission_one_r1_server",
        "# 4. the real run",
    ),
    "salt-run state.orchestrate orch.hwgen_rollout "
    """pillar='{"site": "lab1", "generation": "gen10", "batch": 1}'""": (
        "tests/integration/test_rollout.py",
        "test_rollout_canary_then_batches",
        '{"site": "lab1", "generation": "gen10", "batch": 1}',
    ),
    "salt-run state.orchestrate orch.hwgen_rollout "
    """pillar='{"site": "lab1", "generation": "gen10", "batch": 1}' --state-output=terse""": (
        "tests/integration/test_rollout.py",
        "test_rollout_stops_at_the_first_failed_wave",
        '{"site": "lab1", "generation": "gen10", "batch": 1}',
    ),
    "salt srv-r4-01 hardware.inventory": (
        "tests/integration/test_hardware.py",
        "test_inventory_and_validation_pass",
        "hardware.inventory",
    ),
    "salt srv-r4-01 hardware.validate": (
        "tests/integration/test_hardware.py",
        "test_inventory_and_validation_pass",
        "hardware.validate",
    ),
    "salt srv-r4-01 state.apply hwgen test=True": (
        "tests/integration/test_hardware.py",
        "test_state_apply_hwgen_writes_files_and_is_idempotent",
        "test=True",
    ),
    "salt-run turnup.check_generation gen=gen13 minion=srv-r4-01": (
        "tests/integration/test_hardware.py",
        "test_check_generation_runner",
        "turnup.check_generation",
    ),
    "salt-run turnup.check_generation gen=gen13 minion=srv-r4-01 profile_file=/tmp/gen13.sls": (
        "tests/integration/test_hardware.py",
        "test_check_generation_runner",
        "profile_file=",
    ),
}

#: commands no test can run (a package index, root, the host's package manager), with the reason
_NOT_RUN = {
    "salt-pip install saltext-turnup": "needs a Salt onedir install and a package index",
    "pip install saltext-turnup": "needs a package index holding the release",
    "apt-get install dmidecode util-linux iproute2 ethtool lldpd nvme-cli ipmitool": (
        "root and the host's package manager"
    ),
    "git clone <this repository> /srv/saltext-turnup": (
        "writes /srv (root); the same clone is run by test_readme_quickstart_clone"
    ),
    "cd /srv/saltext-turnup": "the checkout above",
    "python3 -m pip wheel --no-deps -w dist .": "build isolation fetches setuptools from an index",
    "salt-pip install dist/saltext_turnup-*.whl": "needs a Salt onedir install",
}

#: run here; the job is expected to fail with this text (documented as failing)
_EXPECTED_FAILURES = {
    "salt-run turnup.preflight site=lab1 rack=R3": "serial LAB1R2S01 is duplicated",
}

#: run here in the context the doc shows them in, set up first (see ``_doc_context``)
_CONTEXT = {
    # docs/troubleshooting.md "A device failed its turn-up": a run of the rack exists
    "salt-run turnup.status site=lab1 rack=R2": "run",
    # docs/troubleshooting.md "A run is stuck": the run holds the rack's lock
    "salt-run cache.fetch bank=turnup/locks key=lab1.R2": "run",
    "salt-run cache.flush bank=turnup/locks key=lab1.R2": "run",
    # docs/master-config.md / docs/metrics.md: the master config sets turnup: {metrics_file: ...}
    # (the default directory, /var/lib/node_exporter/textfile, is node_exporter's: not here)
    "salt-run turnup.metrics": "metrics_file",
    # docs/pillar.md "Runner helpers": a NetBox with those two sites (the lab has one)
    "salt-run netbox.pillar_refresh site=ams1,fra1": "two_sites",
}

#: run here by test_readme_quickstart_clone, in order, ``<this repository>`` being this checkout
QUICKSTART = ["git clone <this repository> saltext-turnup", "cd saltext-turnup"]


# --- extraction -------------------------------------------------------------------------------
def _blocks():
    """``(path, first line number, language, lines)`` of every fenced block of the docs."""
    for path in DOC_FILES:
        lang, start, body, fence = None, 0, [], None
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = FENCE.match(line)
            if fence is None:
                if match:
                    fence, lang, start, body = match.group(1), match.group(2), number, []
            elif match and match.group(1).startswith(fence[:3]) and not match.group(2):
                yield path, start, lang, body
                fence = None
            else:
                body.append(line)


PLACEHOLDER = re.compile(r"<[a-z][^<>]*>")


def _normalize(text):
    """The command's words without comments, quoted as the shell needs (the registries' keys):
    ``shlex.split`` of a key gives back the words the shell passes, so an argument the doc
    forgot to quote stays several words and fails when run. A placeholder the reader replaces
    (``<this repository>``) is one word."""
    text = PLACEHOLDER.sub(lambda m: shlex.quote(m.group(0)), text)
    return shlex.join(shlex.split(text, comments=True))


def doc_commands():
    """``{normalized command: "file:line"}`` of every shell command in the docs."""
    found = {}
    for path, start, lang, body in _blocks():
        joined, pending = [], ""
        for offset, raw in enumerate(body, 1):
            line = raw.strip()
            if lang not in SHELL_LANGS:
                if not line.startswith("$ "):
                    continue
                line = line[2:]
            if pending:
                line = pending + " " + line
            if line.endswith("\\"):
                pending = line[:-1]
                continue
            pending = ""
            if not line or line.startswith("#"):
                continue
            joined.append((start + offset, line))
        for number, line in joined:
            for part in re.split(r"\s&&\s", line):
                words = _normalize(part)
                if words:
                    found.setdefault(words, f"{path.relative_to(REPO_ROOT)}:{number}")
    return found


COMMANDS = doc_commands()
COVERED_BY = {_normalize(cmd): where for cmd, where in _COVERED_BY.items()}
NOT_RUN = {_normalize(cmd): why for cmd, why in _NOT_RUN.items()}
EXPECTED_FAILURES = {_normalize(cmd): text for cmd, text in _EXPECTED_FAILURES.items()}
CONTEXT = {_normalize(cmd): kind for cmd, kind in _CONTEXT.items()}
QUICKSTART_RUN = [_normalize(cmd) for cmd in QUICKSTART]


def test_the_docs_have_commands_and_every_one_is_covered():
    assert len(COMMANDS) > 40, COMMANDS
    uncovered = {
        cmd: where
        for cmd, where in COMMANDS.items()
        if cmd not in COVERED_BY
        and cmd not in NOT_RUN
        and cmd not in QUICKSTART_RUN
        and _runner_for(cmd) is None
    }
    assert not uncovered, (
        "commands in the docs that no test runs: run them here, or add them to COVERED_BY with the "
        f"test that runs them: {json.dumps(uncovered, indent=1)}"
    )
    registered = set(COVERED_BY) | set(NOT_RUN) | set(EXPECTED_FAILURES) | set(CONTEXT)
    stale = sorted((registered | set(QUICKSTART_RUN)) - set(COMMANDS))
    assert not stale, f"registry entries no doc shows any more: {stale}"
    assert len(NOT_RUN) <= 8, "keep the commands no test runs few"


def _function_source(path, name):
    """The source of function ``name`` of ``path`` followed by the module-level functions it
    calls by name (the test's helpers); the whole file for ``None``; None if there is no such
    function."""
    source = path.read_text(encoding="utf-8")
    if name is None:
        return source
    tree = ast.parse(source)
    top = {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    if name not in top:
        return None
    called = {
        node.func.id
        for node in ast.walk(top[name])
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    helpers = [top[n] for n in sorted(called & set(top)) if n != name]
    return "\n".join(ast.get_source_segment(source, node) for node in [top[name], *helpers])


@pytest.mark.parametrize("cmd", sorted(COVERED_BY))
def test_registered_command_is_run_where_the_registry_says(cmd):
    rel, function, needle = COVERED_BY[cmd]
    path = REPO_ROOT / rel
    assert path.is_file(), f"{cmd!r}: {rel} does not exist"
    source = _function_source(path, function)
    assert source is not None, f"{cmd!r}: {rel} has no function {function}"
    assert needle in source, f"{cmd!r}: {rel}::{function} does not contain {needle!r}"
    words = shlex.split(cmd)
    if words[0] == "make":
        assert re.search(rf"^{re.escape(words[1])}:", _makefile(), re.M), f"no make {words[1]}"
    elif words[0].startswith("salt"):
        fun = next(w for w in words[1:] if "." in w and "=" not in w and not w.startswith("-"))
        assert fun in source or fun.split(".")[-1] in source, f"{rel} never calls {fun}"


def _makefile():
    return (REPO_ROOT / "Makefile").read_text(encoding="utf-8")


def test_readme_quickstart_clone(tmp_path):
    """The README quickstart's first line as a shell runs it, cloning this checkout (committed
    history: what a user gets): the clone is entered and holds the targets the next lines run."""
    if not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout (an unpacked archive): nothing to clone")
    line = " && ".join(QUICKSTART_RUN)
    placeholder = shlex.quote("<this repository>")
    assert placeholder in line, line
    line = line.replace(placeholder, shlex.quote(str(REPO_ROOT)))
    proc = subprocess.run(
        ["bash", "-c", f"{line} && git rev-parse --show-toplevel"],  # noqa: S607
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
    )
    assert proc.returncode == 0, (line, proc.stdout, proc.stderr)
    clone = tmp_path / "saltext-turnup"
    assert proc.stdout.strip().splitlines()[-1] == str(clone), proc.stdout  # the cd happened
    makefile = (clone / "Makefile").read_text(encoding="utf-8")
    for cmd in COMMANDS:
        if cmd.startswith("make ") and COMMANDS[cmd].startswith("README.md"):
            target = cmd.split()[1]
            assert re.search(rf"^{re.escape(target)}:", makefile, re.M), f"clone: no make {target}"


def test_make_targets_in_the_docs_exist():
    targets = {w.split()[1] for w in COMMANDS if w.startswith("make ")}
    prose = set()
    for path in DOC_FILES:
        prose |= set(re.findall(r"`make ([a-z0-9-]+)", path.read_text(encoding="utf-8")))
    for target in targets | prose:
        assert re.search(rf"^{re.escape(target)}:", _makefile(), re.M), f"make {target}: no target"


# --- running the commands -------------------------------------------------------------------
def _runner_for(cmd):
    """How this test runs ``cmd``: ``"salt-run"``, ``"salt-call"``, ``"salt-call-cli"`` or None."""
    if cmd in COVERED_BY or cmd in NOT_RUN or cmd in QUICKSTART_RUN:
        return None
    words = shlex.split(cmd)
    if words[0] == "salt-run":
        return "salt-run"
    if words[0] == "salt-call":
        return "salt-call-cli" if "--local" in words else "salt-call"
    return None


def _split(cmd):
    """``(function, args, kwargs)`` of a salt-run/salt-call command line, CLI flags dropped."""
    words = [w for w in shlex.split(cmd)[1:] if not w.startswith("-")]
    fun, rest = words[0], words[1:]
    args, kwargs = salt.utils.args.parse_input(rest, condition=False)
    return fun, args, kwargs


def _into(tmp_path, kwargs):
    """Paths outside the test's directory (``/var/lib/...``, ``/srv/...``) moved into it."""
    out = dict(kwargs)
    for key, value in kwargs.items():
        if key == "path" and isinstance(value, str) and value.startswith("/"):
            out[key] = str(tmp_path / "out" / os.path.basename(value))
            (tmp_path / "out").mkdir(exist_ok=True)
    return out


@pytest.fixture(scope="module")
def master_opts(netbox_target, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("docs-master")
    opts = salt.config.master_config(None)
    opts.update(
        id="docs-master",
        cachedir=str(tmp / "cache"),
        pki_dir=str(tmp / "pki"),
        sock_dir=str(tmp / "sock"),
        autosign_grains_dir=str(tmp / "autosign_grains"),
        file_roots={"base": [str(STATES_ROOT)]},
        pillar_roots={"base": [str(PILLAR_ROOT)]},
        ext_pillar=[{"netbox": {}}],
        netbox={
            "url": netbox_target.url,
            "token": netbox_target.token,
            "timeout": NETBOX_TEST_TIMEOUT,
            "retries": 1,
        },
    )
    for sub in ("pki", "sock", "cache", "autosign_grains"):
        (tmp / sub).mkdir()
    return opts


RUN_HERE = sorted(c for c in COMMANDS if _runner_for(c) == "salt-run")


def _two_sites_export():
    """A NetBox (as a snapshot) of sites ``ams1`` and ``fra1``, a small rack each, made by the
    pillar benchmark's generator."""
    spec = importlib.util.spec_from_file_location(
        "_pillar_site", REPO_ROOT / "bench" / "_pillar_site.py"
    )
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    store = NetBoxStore()
    common = generator._common(store)  # pylint: disable=protected-access
    for rack, slug in enumerate(["ams1", "fra1"]):
        generator.build_site(
            store,
            racks=1,
            tors=1,
            servers=2,
            slug=slug,
            common=common,
            first_rack=rack,
            prefix=f"{slug}-",
        )
    return store.export()


def _doc_context(kind, opts, tmp_path):
    """Sets up what the doc's section assumes before its command (``CONTEXT``), in a cache and
    paths of the test's own; returns the opts to run it with and what the command must show."""
    opts = dict(opts, cachedir=str(tmp_path / "cache"))
    if kind == "metrics_file":
        metrics_file = tmp_path / "textfile" / "saltext_turnup.prom"
        metrics_file.parent.mkdir()
        return dict(opts, turnup={"metrics_file": str(metrics_file)}), metrics_file
    if kind == "two_sites":
        snapshot = tmp_path / "ams1-fra1.json"
        snapshot.write_text(json.dumps(_two_sites_export()))
        return dict(opts, netbox={"snapshot": str(snapshot)}), ["ams1", "fra1"]
    assert kind == "run", kind
    # the turn-up's first step (orch.rack_turnup's start: the run record and the rack's lock in
    # Salt's cache; NetBox is only read)
    started = salt.loader.runner(opts)["turnup.step"](step="start", site="lab1", rack="R2")
    assert started["action"] == "created" and started["retcode"] == 0, started
    return opts, started["run"]


@pytest.mark.parametrize("cmd", RUN_HERE)
def test_salt_run_command(cmd, master_opts, tmp_path):
    """Runs the documented runner call in-process against the lab (read only: plans, preflight,
    status, pillar refresh, autosign file, metrics...)."""
    fun, args, kwargs = _split(cmd)
    opts, shown = master_opts, None
    if cmd in CONTEXT:
        opts, shown = _doc_context(CONTEXT[cmd], master_opts, tmp_path)
    runners = salt.loader.runner(opts)
    assert fun in runners, f"{cmd}: no runner function {fun}"
    try:
        ret = runners[fun](*args, **_into(tmp_path, kwargs))
    except (SaltRunnerError, CommandExecutionError, SaltInvocationError) as err:
        assert cmd in EXPECTED_FAILURES, f"{cmd} failed: {err}"
        assert EXPECTED_FAILURES[cmd] in str(err), err
        return
    retcode = ret.get("retcode", 0) if isinstance(ret, dict) else 0
    if cmd in EXPECTED_FAILURES:
        assert retcode != 0 and EXPECTED_FAILURES[cmd] in json.dumps(ret, default=str), ret
    else:
        assert retcode == 0, f"{cmd}: {ret}"
    if isinstance(shown, pathlib.Path):  # the metrics textfile, where the config puts it
        assert "saltext_turnup_metrics_generated_timestamp_seconds" in shown.read_text()
    elif fun == "cache.fetch":  # the lock: {run, master, pid, since}
        assert ret["run"] == shown and {"master", "pid", "since"} <= set(ret), ret
    elif fun == "cache.flush":  # removed
        assert not runners["cache.fetch"](bank="turnup/locks", key="lab1.R2"), "lock still there"
    elif CONTEXT.get(cmd) == "two_sites":  # both sites, in one group
        ((refreshed,),) = [ret.values()]
        assert sorted(refreshed["sites"]) == shown, ret
        assert {s["group"] for s in refreshed["sites"].values()} == {2}, ret
    elif shown is not None:  # the run's table
        assert shown in ret, ret


def test_documented_runner_outputs(master_opts, tmp_path):
    """What the docs say these commands print."""
    runners = salt.loader.runner(master_opts)
    table = runners["turnup.plan"](site="lab1", rack="R2", batch="3", table=True)
    text = table if isinstance(table, str) else json.dumps(table)
    doc = (REPO_ROOT / "docs" / "turnup.md").read_text(encoding="utf-8")
    for line in ("canary   srv-r2-01  srv-r2-01  gen10  planned", "Turn-up plan lab1/R2: batch 3"):
        assert line in text and line in doc, line
    prom = tmp_path / "saltext_turnup.prom"
    runners["turnup.metrics"](path=str(prom))
    assert "saltext_turnup_metrics_generated_timestamp_seconds" in prom.read_text()


@pytest.fixture(scope="module")
def minion_pillar(master_opts):
    """The real NetBox pillar of srv-r1-01 (the ext_pillar over the stand-in)."""
    forget_memory()
    forget_engines()
    try:
        return compile_pillar("srv-r1-01", {}, master_opts, {})
    finally:
        forget_memory()
        forget_engines()


@pytest.fixture(scope="module")
def minion_conf(netbox_target, tmp_path_factory):
    """A minion config directory for ``salt-call -c <dir> --local``."""
    tmp = tmp_path_factory.mktemp("docs-minion")
    conf = {
        "id": "srv-r1-01",
        "root_dir": str(tmp / "root"),
        "file_client": "local",
        "file_roots": {"base": [str(STATES_ROOT)]},
        "pillar_roots": {"base": [str(PILLAR_ROOT)]},
        "log_file": str(tmp / "root" / "minion.log"),
        "netbox": {"url": netbox_target.url, "token": netbox_target.token, "timeout": 60},
    }
    (tmp / "minion").write_text(json.dumps(conf))
    return tmp


CALL_HERE = sorted(c for c in COMMANDS if _runner_for(c) == "salt-call")
CALL_CLI = sorted(c for c in COMMANDS if _runner_for(c) == "salt-call-cli")


@pytest.mark.parametrize("cmd", CALL_HERE)
def test_salt_call_command(cmd, minion_pillar, tmp_path, netbox_target):
    """A minion call in-process, with the pillar the ext_pillar really builds for srv-r1-01."""
    fun, args, kwargs = _split(cmd)
    opts = salt.config.minion_config(None)
    opts.update(
        id="srv-r1-01",
        cachedir=str(tmp_path / "cache"),
        file_client="local",
        netbox={"url": netbox_target.url, "token": netbox_target.token, "timeout": 60},
    )
    opts["grains"] = salt.loader.grains(opts)
    opts["pillar"] = dict(minion_pillar)
    mods = salt.loader.minion_mods(opts)
    assert fun in mods, f"{cmd}: no function {fun}"
    ret = mods[fun](*args, **kwargs)
    if fun == "netbox.slugify":
        assert ret == "edge-pop-lab1", ret  # the docs' comment
    elif fun == "pillar.get" and args == ["netbox:rack:name"]:
        assert ret == "R1", ret  # the docs' comment, and unmasked
    elif fun == "pillar.items":
        assert ret["netbox"]["name"] == "srv-r1-01", ret
    assert ret not in (None, False, {}, "**********"), f"{cmd}: {ret!r}"


@pytest.mark.parametrize("cmd", CALL_CLI)
def test_salt_call_local_cli(cmd, minion_conf):
    """``salt-call --local ...`` as a real command, as an operator checks an install."""
    words = shlex.split(cmd)
    salt_call = pathlib.Path(sys.executable).with_name("salt-call")
    proc = subprocess.run(
        [str(salt_call), "-c", str(minion_conf), *words[1:], "--out=json"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, (cmd, proc.stdout[-2000:], proc.stderr[-2000:])
    ret = json.loads(proc.stdout)["local"]
    fun = _split(cmd)[0]
    if fun == "sys.list_modules":
        assert {"netbox", "hardware"} <= set(ret), ret
    elif fun == "sys.list_functions":
        assert ret and all(f.split(".")[0] in words for f in ret), ret
    elif fun == "sys.list_runner_functions":
        assert {"turnup.plan", "turnup.watch", "turnup.abort"} <= set(ret), ret
    else:
        assert ret, (cmd, ret)


# --- config snippets ----------------------------------------------------------------------------
def config_blocks():
    """``(where, header, data)`` of yaml blocks that name a master.d/minion.d file."""
    out = []
    for path, start, lang, body in _blocks():
        if lang != "yaml" or not body:
            continue
        header = body[0].strip()
        if not re.match(r"# /etc/salt/(master|minion)\.d/", header):
            continue
        data = salt.utils.yaml.safe_load("\n".join(body))
        out.append((f"{path.relative_to(REPO_ROOT)}:{start}", header, data))
    return out


CONFIGS = config_blocks()
#: master options this package (and salt-api) reads beside Salt's own
OUR_MASTER_KEYS = {"netbox", "turnup", "turnup_boot", "turnup_webhook", "rest_cherrypy"}
#: Salt's own options that salt.config's defaults leave out (Salt reads them only if set): the
#: master's ``autosign_grains_dir`` (salt/daemons/masterapi.py, "autosign_grains_dir" not in
#: opts) and the minion's ``autosign_grains`` (salt/crypt.py). Both are documented in Salt's
#: configuration references and its tutorial "Autoaccept minions from Grains":
#: https://docs.saltproject.io/en/latest/ref/configuration/master.html#autosign-grains-dir
#: https://docs.saltproject.io/en/latest/ref/configuration/minion.html#autosign-grains
#: https://docs.saltproject.io/en/latest/topics/tutorials/autoaccept_grains.html
SALT_MASTER_KEYS_NOT_IN_DEFAULTS = {"autosign_grains_dir"}
SALT_MINION_KEYS_NOT_IN_DEFAULTS = {"autosign_grains"}
REDIS_KEYS = {f"cache.redis.{k}" for k in ("host", "port", "db", "password", "unix_socket_path")}


class Computed(str):
    """A value the integration test computes at run time (a port, a path under its tmp dir):
    its source text, which no literal of a doc equals."""


def _literal(node, source):
    """``node`` as a Python value; dicts and lists member by member, computed members
    (``str(workdir / "x")``, ``api_port``) as ``Computed`` source text."""
    if isinstance(node, ast.Dict):
        pairs = zip(node.keys, node.values, strict=True)  # a key None: a ``**spread``
        return {_literal(k, source): _literal(v, source) for k, v in pairs if k is not None}
    if isinstance(node, ast.List):
        return [_literal(item, source) for item in node.elts]
    try:
        return ast.literal_eval(node)
    except ValueError:
        return Computed(ast.get_source_segment(source, node))


def _integration_overrides():
    """The keyword arguments of ``master_overrides(...)`` in the enrolment integration test."""
    source = (REPO_ROOT / "tests" / "integration" / "test_reactor_boot.py").read_text()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "master_overrides":
            return {kw.arg: _literal(kw.value, source) for kw in node.keywords if kw.arg}
    raise AssertionError("master_overrides(...) not found in test_reactor_boot.py")


def test_docs_have_the_config_blocks():
    headers = " ".join(h for _, h, _ in CONFIGS)
    assert "master.d/saltext-turnup.conf" in headers and "minion.d/enrol.conf" in headers


@pytest.mark.parametrize("where,header,data", CONFIGS, ids=[w for w, _, _ in CONFIGS])
def test_config_block_is_real(where, header, data, tmp_path):
    assert isinstance(data, dict) and data, where
    if "/minion.d/" in header:
        unknown = (
            set(data)
            - set(salt.config.DEFAULT_MINION_OPTS)
            - SALT_MINION_KEYS_NOT_IN_DEFAULTS
            - {"netbox", "hardware"}
        )
        assert not unknown, f"{where}: not minion options: {unknown}"
        if "autosign_grains" in data:
            assert data["autosign_grains"] == ["serialnumber"], where
        return
    unknown = (
        set(data)
        - set(salt.config.DEFAULT_MASTER_OPTS)
        - SALT_MASTER_KEYS_NOT_IN_DEFAULTS
        - OUR_MASTER_KEYS
        - REDIS_KEYS
    )
    assert not unknown, f"{where}: not master options: {unknown}"
    token = tmp_path / "netbox.token"
    token.write_text("0123456789abcdef0123456789abcdef01234567\n")
    if "netbox" in data:
        block = dict(data["netbox"])
        if "token_file" in block:
            block["token_file"] = str(token)
        load_config({"netbox": block})
    for entry in data.get("ext_pillar", []):
        ((name, options),) = entry.items()
        assert name == "netbox", f"{where}: ext_pillar {name} is not ours"
        if "before" in header:  # Salt 3007's config: ours refuses it without compat
            with pytest.raises(SaltInvocationError, match="compat: salt3007"):
                parse_options(options)
        else:
            parse_options(options)
    for roots in ("file_roots", "pillar_roots"):
        for path in data.get(roots, {}).get("base", []):
            if "saltext-turnup" in path:
                assert path.endswith("/states" if roots == "file_roots" else "/pillar"), path
    for mapping in data.get("reactor", []):
        ((tag, sls_list),) = mapping.items()
        for sls in sls_list:
            assert sls.startswith("salt://"), sls
            assert (STATES_ROOT / sls[len("salt://") :]).is_file(), f"{where}: no {sls}"
    for job, spec in (data.get("schedule") or {}).items():
        assert set(spec) <= {"function", "minutes", "seconds", "hours", "run_on_start"} | {
            "return_job",
            "args",
            "kwargs",
        }, f"{where}: schedule {job}: {spec}"
        mod, fun = spec["function"].split(".")
        runner = REPO_ROOT / "salt_ext" / "runners" / f"{mod}_mod.py"
        assert runner.is_file() and f"\ndef {fun}(" in runner.read_text(), spec["function"]
    if "turnup_boot" in data:
        assert set(data["turnup_boot"]) <= {"ignore", "timeout", "grain"}
        boot.settings(data)
    if "turnup_webhook" in data:
        hook = dict(data["turnup_webhook"])
        assert set(hook) <= {"secret_file", "secret", "max_age"}
        hook["secret_file"] = str(token)
        assert autosign.webhook_settings({"turnup_webhook": hook})["secret"]
    if "turnup" in data:
        assert set(data["turnup"]) <= {"metrics_file", "alive_check"}
        assert data["turnup"]["metrics_file"].endswith(".prom")
        steps.alive_check_seconds(data)  # a value the turn-up takes
    if "cache" in data:
        assert data["cache"] in ("redis", "localfs"), data["cache"]


def test_enrolment_config_is_the_integration_tests_one():
    """The reactor, salt-api and webhook settings of docs/master-config.md and docs/security.md
    are those a real master and salt-api run with in tests/integration/test_reactor_boot.py."""
    real = _integration_overrides()
    checked = 0
    for where, _, data in CONFIGS:
        if "reactor" not in data:
            continue
        checked += 1
        assert data["reactor"] == real["reactor"], where
        assert data["auto_accept"] is real["auto_accept"] is False, where
        api, real_api = data["rest_cherrypy"], real["rest_cherrypy"]
        assert api["webhook_url"] == real_api["webhook_url"], where
        assert api["webhook_disable_auth"] is real_api["webhook_disable_auth"] is True, where
        # the test runs plain HTTP on loopback; the docs' TLS keys are salt-api's own
        assert set(api) - set(real_api) <= {"ssl_crt", "ssl_key"}, where
        assert set(data["turnup_webhook"]) == set(real["turnup_webhook"]), where
        for key, value in real["turnup_webhook"].items():  # the paths are the test's tmp dir
            assert isinstance(value, Computed) or data["turnup_webhook"][key] == value, where
        assert "autosign_grains_dir" in real and "autosign_grains_dir" in data, where
    assert checked >= 2  # master-config.md and security.md


def test_every_doc_is_linked_from_readme_and_architecture():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    arch = (REPO_ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for path in sorted((REPO_ROOT / "docs").glob("*.md")):
        assert f"(docs/{path.name})" in readme, f"README does not link docs/{path.name}"
        if path.name != "architecture.md":
            assert f"({path.name})" in arch, f"docs/architecture.md does not link {path.name}"
