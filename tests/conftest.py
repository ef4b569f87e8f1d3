"""Session fixtures shared by every test tier.

The NetBox the tests talk to is the stand-in from ``tests/support/netbox_standin.py`` (an HTTP server on
127.0.0.1), seeded with the lab snapshot **through the REST API** exactly as a real NetBox would be. Set
``NETBOX_URL`` and ``NETBOX_TOKEN`` to run the very same tests against a real NetBox 4.x instead (the lab is
then imported into it, idempotently).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import os

import pytest

from salt_ext.utils.netbox import NetBoxClient, load_config
from salt_ext.utils.netbox.seed import import_snapshot
from tests.support.netbox_standin import NetBoxStandin
from tests.support.saltenv import LAB1_SNAPSHOT

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

    @property
    def is_real(self):
        return self.standin is None


def _load_lab1():
    with open(LAB1_SNAPSHOT, encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture(scope="session")
def lab1_snapshot():
    """The lab snapshot (site ``lab1``) as a dict; tests must not mutate it (use ``copy.deepcopy``)."""
    return _load_lab1()


def _client_for(url, token):
    return NetBoxClient(load_config({"netbox": {"url": url, "token": token, "timeout": 10}}))


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
def fresh_netbox(lab1_snapshot):
    """A NetBox of its own for a test that writes (a new stand-in seeded with the lab)."""
    if os.environ.get("NETBOX_URL"):
        pytest.skip("fresh_netbox needs the stand-in: a real NetBox cannot be reset per test")
    target = _seeded_target(lab1_snapshot)
    yield target
    target.standin.stop()


@pytest.fixture(scope="session")
def netbox_client(netbox_target):
    """A ``NetBoxClient`` on the session NetBox."""
    return _client_for(netbox_target.url, netbox_target.token)
