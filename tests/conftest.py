"""Session fixtures shared by every test tier.

The NetBox the tests talk to is the stand-in from ``tests/support/netbox_standin.py`` (an HTTP server on
127.0.0.1), seeded with the lab snapshot **through the REST API** exactly as a real NetBox would be. Set
``NETBOX_URL`` and ``NETBOX_TOKEN`` to run the very same tests against a real NetBox 4.x instead (the lab is
then imported into it, idempotently). Tests that write (``fresh_netbox``) run there only with
``NETBOX_ALLOW_WRITES=1``, each in a run-private copy of the lab it removes afterwards
(``tests/support/live_lab.py``; how to write such a test: docs/testing-live.md, README "Tests").
"""

from __future__ import annotations

import atexit
import copy
import dataclasses
import json
import logging
import os
import pathlib
import shutil
import tempfile

import pytest

from salt_ext.utils.netbox import NetBoxClient, load_config
from salt_ext.utils.netbox.counter import PROCESS, RequestCounter
from salt_ext.utils.netbox.seed import import_snapshot
from tests.support.live_lab import LabCopy, LabNames
from tests.support.netbox_standin import NetBoxStandin
from tests.support.saltenv import LAB1_SNAPSHOT, NETBOX_TEST_TIMEOUT

# Salt's log handlers keep writing to pytest's captured streams after pytest closed them (daemon
# shutdown at session end); the resulting "--- Logging error ---" tracebacks are noise, not failures.
logging.raiseExceptions = False


@dataclasses.dataclass
class NetBoxTarget:
    """Where the tests' NetBox is: ``standin`` is ``None`` for a real NetBox."""

    url: str
    token: str
    standin: object = None
    seed_report: dict = dataclasses.field(default_factory=dict)
    #: lab1 names -> this NetBox's names (identity except for a live ``fresh_netbox`` copy)
    lab: LabNames = dataclasses.field(default_factory=LabNames)

    @property
    def is_real(self):
        return self.standin is None

    def client(self):
        """A new ``NetBoxClient`` on this NetBox; its ``counter`` (the product's own
        ``RequestCounter``) counts the requests it sends, on the stand-in and a real NetBox alike.
        """
        return _client_for(self.url, self.token)


def live_writes_allowed():
    """``NETBOX_ALLOW_WRITES=1``: the user says the real NetBox of ``NETBOX_URL`` may be written."""
    return os.environ.get("NETBOX_ALLOW_WRITES", "") not in ("", "0")


def needs_standin(request_or_target, reason):
    """Skip (with ``reason``) unless the test's NetBox is the in-process stand-in: for fault
    injection, page caps and "NetBox down", which a real NetBox cannot be made to do."""
    target = request_or_target
    if getattr(target, "standin", None) is None:
        pytest.skip(f"needs the stand-in: {reason}")


def _load_lab1():
    with open(LAB1_SNAPSHOT, encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture(scope="session")
def lab1_snapshot():
    """The lab snapshot (site ``lab1``) as a dict; tests must not mutate it (use ``copy.deepcopy``)."""
    return _load_lab1()


def _client_for(url, token):
    return NetBoxClient(
        load_config({"netbox": {"url": url, "token": token, "timeout": NETBOX_TEST_TIMEOUT}})
    )


def _seeded_target(snapshot):
    if os.environ.get("NETBOX_URL") and os.environ.get("NETBOX_TOKEN"):
        target = NetBoxTarget(url=os.environ["NETBOX_URL"], token=os.environ["NETBOX_TOKEN"])
    else:
        standin = NetBoxStandin()
        standin.start()
        target = NetBoxTarget(url=standin.url, token=standin.token_v1, standin=standin)
    client = _client_for(target.url, target.token)
    target.seed_report = import_snapshot(client, copy.deepcopy(snapshot))
    if target.standin is not None:
        target.standin.reset_requests()
    return target


@pytest.fixture(scope="session")
def netbox_target(lab1_snapshot):
    """A NetBox seeded with the lab through the API, shared by the session (read-mostly tests)."""
    target = _seeded_target(lab1_snapshot)
    yield target
    if target.standin is not None:
        target.standin.stop()


@pytest.fixture
def fresh_netbox(request, lab1_snapshot):
    """
    A lab of its own for a test that writes.

    - On the stand-in (default): a new stand-in seeded with lab1 (``lab`` maps names to themselves).
    - On a real NetBox (``NETBOX_URL``): only with ``NETBOX_ALLOW_WRITES=1`` (else skipped); a copy
      of lab1 with run-unique names (``target.lab`` maps them: ``lab.name("srv-r2-01")``,
      ``lab.sub({...})``), seeded beside the session's lab1 and removed afterwards, also when the
      test fails. Only tests marked ``@pytest.mark.live_capable`` (they name objects through
      ``lab``) run there; ``@pytest.mark.standin_only("why")`` ones skip, saying why.
    """
    if os.environ.get("NETBOX_URL"):
        marker = request.node.get_closest_marker("standin_only")
        if marker is not None:
            pytest.skip(f"needs the stand-in: {marker.args[0] if marker.args else marker.kwargs}")
        if request.node.get_closest_marker("live_capable") is None:
            pytest.skip(
                "not yet live-capable: the test names lab1's objects directly and would write to "
                "the shared lab1 (mark it live_capable once it uses fresh_netbox.lab)"
            )
        if not live_writes_allowed():
            pytest.skip(
                "writes to NetBox: set NETBOX_ALLOW_WRITES=1 if the NetBox of NETBOX_URL may be "
                "written (each test then works in a lab copy of its own and removes it)"
            )
        shared = request.getfixturevalue("netbox_target")  # lab1's shared objects exist first
        lab_copy = LabCopy(_client_for(shared.url, shared.token), lab1_snapshot)
        try:
            report = lab_copy.seed()
            yield NetBoxTarget(
                url=shared.url, token=shared.token, seed_report=report, lab=lab_copy.names
            )
        finally:
            left = lab_copy.remove()
            if left:
                pytest.fail(f"lab copy {lab_copy.names.run} left objects behind: {left}")
        return
    target = _seeded_target(lab1_snapshot)
    yield target
    target.standin.stop()


@pytest.fixture(scope="session")
def netbox_client(netbox_target):
    """A ``NetBoxClient`` on the session NetBox."""
    return _client_for(netbox_target.url, netbox_target.token)


@pytest.fixture
def netbox_requests(monkeypatch):
    """
    The requests the product sends during the test, as its own ``RequestCounter`` counts them
    (every ``NetBoxClient`` of this process, loader modules' cached clients included): a
    ``RequestCounter`` to read with ``.count(endpoint, method)`` / ``.total``, the same on the
    stand-in and on a real NetBox (unlike the stand-in's request log). Call ``reset()`` to start
    counting afresh. Daemons (integration tests) count in their own processes: not seen here.
    """
    tap = _RequestTap()
    original_record = RequestCounter.record
    original_retry = RequestCounter.record_retry

    def record(self, endpoint, method):
        original_record(self, endpoint, method)
        if self is not tap and self is not PROCESS:
            tap.record(endpoint, method)

    def record_retry(self, endpoint, method):
        original_retry(self, endpoint, method)
        if self is not tap and self is not PROCESS:
            tap.record_retry(endpoint, method)

    monkeypatch.setattr(RequestCounter, "record", record)
    monkeypatch.setattr(RequestCounter, "record_retry", record_retry)
    return tap


class _RequestTap(RequestCounter):
    """A ``RequestCounter`` fed by every other one (see ``netbox_requests``)."""

    # The tap counts for itself only: it must not forward to the process-wide counter
    # (``counter.PROCESS``) like product counters do, or the patched ``record`` would feed it
    # again (endless recursion).
    def record(self, endpoint, method):
        with self._lock:  # pylint: disable=protected-access
            self._requests[(endpoint, method.upper())] += 1

    def record_retry(self, endpoint, method):
        with self._lock:  # pylint: disable=protected-access
            self._retries[(endpoint, method.upper())] += 1

    def reset(self):
        with self._lock:  # pylint: disable=protected-access
            self._requests.clear()
            self._retries.clear()
            self._pages.clear()

    def writes(self, endpoint=None):
        """POST + PATCH + PUT + DELETE requests (to ``endpoint`` when given)."""
        return sum(self.count(endpoint, m) for m in ("POST", "PATCH", "PUT", "DELETE"))


# ------------------------------------------------------------------------------------------------
# Run isolation (issue 8): every file a test run writes lives under ONE directory of its own,
# removed at the end. Owned by the test-hygiene work; keep other fixtures out of this section.
#
# - pytest's basetemp is ``<run dir>/t`` (not the shared, numbered /tmp/pytest-of-<user>/), and
#   TMPDIR points at ``<run dir>/tmp`` for this process and every daemon it starts;
# - salt-factories' root (daemon folders) and its generated CLI scripts are under basetemp, so a
#   second clone or a parallel run never reuses the first one's scripts (their CODE_DIR) or files
#   (paths stay short: a Salt daemon's IPC socket path must fit AF_UNIX's 107 bytes);
# - umask 077: the configs salt-factories writes (they hold the NetBox token) and everything else
#   of the run are readable by the current user only.
# ``--basetemp=DIR`` keeps pytest's own behaviour (DIR is wiped first, left afterwards);
# ``TURNUP_KEEP_TMP=1`` keeps the run directory for a post-mortem.
# ------------------------------------------------------------------------------------------------
_RUN = {}


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    if hasattr(config, "workerinput"):  # an xdist worker: the controller chose the directories
        return
    _RUN["umask"] = os.umask(0o077)
    if config.option.basetemp:
        run_dir = pathlib.Path(os.path.abspath(config.option.basetemp))
        _RUN["owned"] = False
    else:
        parent = os.environ.get("PYTEST_DEBUG_TEMPROOT") or tempfile.gettempdir()
        run_dir = pathlib.Path(tempfile.mkdtemp(prefix="turnup-", dir=parent))
        config.option.basetemp = str(run_dir / "t")
        _RUN["owned"] = True
    tmp = run_dir / "tmp" if _RUN["owned"] else run_dir.parent / f"{run_dir.name}.tmp"
    tmp.mkdir(mode=0o700, exist_ok=True)
    _RUN.update(dir=run_dir, tmp=tmp, environ_tmpdir=os.environ.get("TMPDIR"), pid=os.getpid())
    os.environ["TMPDIR"] = str(tmp)
    tempfile.tempdir = None  # recomputed from TMPDIR on next use
    # registered first, so it runs after every other exit handler: a handler that writes into a
    # test's directory at exit (e.g. a metrics flush into a test master's cachedir) re-creates it
    atexit.register(_remove_run_dir)


def _remove_run_dir():
    if _RUN.get("pid") != os.getpid():  # a forked child exiting normally: not its directory
        return
    if _RUN.get("owned") and os.environ.get("TURNUP_KEEP_TMP", "") in ("", "0"):
        shutil.rmtree(_RUN["dir"], ignore_errors=True)
    elif _RUN.get("owned") is False:
        shutil.rmtree(_RUN["tmp"], ignore_errors=True)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    if "dir" not in _RUN:
        return
    if _RUN["environ_tmpdir"] is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = _RUN["environ_tmpdir"]
    tempfile.tempdir = None
    os.umask(_RUN["umask"])
    _remove_run_dir()  # and once more at exit (see pytest_configure)


def pytest_report_header(config):
    if "dir" in _RUN:
        what = "kept (TURNUP_KEEP_TMP)" if os.environ.get("TURNUP_KEEP_TMP") else "removed at exit"
        return f"turnup run directory: {_RUN['dir']} ({what}; TURNUP_KEEP_TMP=1 keeps it)"
    return None


@pytest.fixture(scope="session")
def salt_factories_config(tmp_path_factory):
    """salt-factories' daemon folders and CLI scripts under this run's basetemp (never /tmp)."""
    return {"root_dir": tmp_path_factory.getbasetemp() / "sf"}


#: a daemon id longer than this gets a short root dir (``d<n>``) instead of ``<sf>/<id>``
DAEMON_DIR_ID_MAX = 26
_DAEMON_DIRS = {"n": 0}


def _short_daemon_root_dirs():
    """
    salt-factories puts a daemon under ``<sf>/<daemon id>``, and Salt keeps its Unix sockets
    under that root (``sock_dir`` is always inside ``root_dir``): with the run-unique ids of a
    live lab copy (``srv-r1-01-03156a.lab1-03156a.example.net``) the minion's event sockets
    passed the 107-byte AF_UNIX limit, its returns never reached the master and the
    orchestration waited for them until the test timed out. Long ids get ``<sf>/d<n>``.
    """
    from saltfactories.manager import FactoriesManager  # noqa: PLC0415

    original = FactoriesManager.get_root_dir_for_daemon
    if getattr(original, "_turnup_short", False):
        return

    def get_root_dir_for_daemon(self, daemon_id, defaults=None, factory_class=None):
        if (defaults and "root_dir" in defaults) or len(daemon_id) <= DAEMON_DIR_ID_MAX:
            return original(self, daemon_id, defaults=defaults, factory_class=factory_class)
        while True:
            _DAEMON_DIRS["n"] += 1
            root_dir = self.root_dir / f"d{_DAEMON_DIRS['n']}"
            if not root_dir.exists():
                root_dir.mkdir(parents=True)
                return root_dir

    get_root_dir_for_daemon._turnup_short = True
    FactoriesManager.get_root_dir_for_daemon = get_root_dir_for_daemon


_short_daemon_root_dirs()


@pytest.hookimpl(wrapper=True)
def pytest_sessionstart(session):
    """salt-factories' log server listens on 127.0.0.1, not 0.0.0.0 (loopback only)."""
    log_server = session.config.pluginmanager.get_plugin("saltfactories-log-server")
    if log_server is not None:
        log_server.log_host = "127.0.0.1"
    return (yield)


@pytest.fixture(scope="session")
def event_listener():
    """salt-factories' event listener, on 127.0.0.1 instead of its default 0.0.0.0."""
    from saltfactories.plugins.event_listener import EventListener  # noqa: PLC0415

    listener = EventListener()
    listener.host = "127.0.0.1"
    listener.address = f"tcp://127.0.0.1:{listener.port}"
    with listener:
        yield listener
