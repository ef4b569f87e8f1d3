"""NetBox down, end to end (issue 8): a real minion's ``hardware.validate`` compares the box with
the pillar's stale copy of NetBox and says so, instead of a plain PASSED."""

from __future__ import annotations

import json
import os

import pytest
from saltfactories.utils import random_string

from tests.integration.test_pillar import EXT_PILLAR, _expire_cache, _Target
from tests.support.netbox_standin import NetBoxStandin
from tests.support.saltenv import master_overrides, minion_overrides
from tests.unit.hardware.lab import simulate_spec

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        bool(os.environ.get("NETBOX_URL")),
        reason="takes NetBox down and up: needs the stand-in, not a real NetBox",
    ),
]


@pytest.fixture(scope="module")
def standin():
    with NetBoxStandin(snapshot="lab1") as server:
        yield server


@pytest.fixture(scope="module")
def master(salt_factories, standin):
    overrides = master_overrides(_Target(standin), ext_pillar=[EXT_PILLAR])
    factory = salt_factories.salt_master_daemon(random_string("stale-m-"), overrides=overrides)
    with factory.started():
        yield factory


@pytest.fixture(scope="module")
def box(master, standin, tmp_path_factory):
    work = tmp_path_factory.mktemp("stale-box")
    spec = work / "simulate.json"
    spec.write_text(json.dumps(simulate_spec("srv-r1-01")))
    hardware = {"simulate": str(spec), "root": str(work / "root"), "apply_live": False}
    factory = master.salt_minion_daemon(
        "srv-r1-01", overrides=minion_overrides(_Target(standin), hardware=hardware)
    )
    with factory.started():
        yield factory


def test_validate_on_a_stale_netbox_copy_says_so(master, box, standin):
    live = box.salt_call_cli(timeout=180).run("hardware.validate")
    assert live.returncode == 0, live
    assert live.data["netbox_source"] == "pillar" and live.data["netbox_stale"] is False
    assert "STALE" not in live.data["text"]

    _expire_cache(master)
    standin.faults.down()
    try:
        stale = box.salt_call_cli(timeout=180).run("hardware.validate")
    finally:
        standin.faults.up()
    assert stale.returncode == 0, stale
    report = stale.data
    assert report["netbox_source"] == "pillar" and report["netbox_stale"] is True
    assert report["passed"] == live.data["passed"]
    assert "netbox.freshness" in report["warnings"]
    assert "STALE copy (NetBox unreachable)" in report["text"].splitlines()[0]
    assert "[WARN] netbox.freshness: NetBox was not reachable" in report["text"]
    assert standin.token_v1 not in json.dumps(report)
