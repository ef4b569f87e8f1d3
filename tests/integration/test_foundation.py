"""Foundation, end to end: real salt-master and salt-minion daemons load saltext-turnup through the
installed ``salt.loader`` entry point and talk to NetBox (the stand-in seeded through the API, or a real
NetBox when ``NETBOX_URL``/``NETBOX_TOKEN`` are set)."""

from __future__ import annotations

import pathlib
from importlib.metadata import distribution, entry_points

import pytest
from saltfactories.utils import random_string

import salt_ext
from salt_ext.utils.netbox import SnapshotSource
from tests.support.saltenv import REPO_ROOT, master_overrides, minion_overrides

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def master(salt_factories, netbox_target):
    factory = salt_factories.salt_master_daemon(
        random_string("found-m-"), overrides=master_overrides(netbox_target)
    )
    with factory.started():
        yield factory


@pytest.fixture(scope="module")
def minion(master, netbox_target):
    factory = master.salt_minion_daemon("srv-r1-01", overrides=minion_overrides(netbox_target))
    with factory.started():
        yield factory


def _expected_version(netbox_target):
    if netbox_target.standin is not None:
        return netbox_target.standin.store.netbox_version
    return None


def test_modules_come_from_the_installed_entry_point(master, minion):
    """The loader finds our modules through the entry point, not through extension_modules copies."""
    ret = minion.salt_call_cli().run("sys.list_functions", "netbox")
    assert ret.returncode == 0, ret
    assert "netbox.status" in ret.data
    # Where did Salt load it from? The distribution's salt.loader entry point names our package.
    eps = {ep.name: ep.value for ep in entry_points(group="salt.loader")}
    assert eps.get("salt_ext") == "salt_ext"
    dist = distribution("saltext-turnup")
    assert dist.metadata["Name"] == "saltext-turnup"
    assert pathlib.Path(salt_ext.__file__).resolve().parent == REPO_ROOT / "salt_ext"
    for factory in (master, minion):
        ext_dir = pathlib.Path(factory.config["extension_modules"])
        assert not list(ext_dir.glob("**/netbox_mod.py")), "modules must not be copied"


def test_minion_netbox_status(master, minion, netbox_target):
    ret = master.salt_cli(timeout=60).run("netbox.status", minion_tgt=minion.id)
    assert ret.returncode == 0, ret
    status = ret.data
    assert status["reachable"] is True
    assert status["netbox_version"].startswith("4.")
    expected = _expected_version(netbox_target)
    if expected:
        assert status["netbox_version"] == expected
    assert status["latency_ms"] >= 0
    assert netbox_target.token not in str(ret.data)


def test_runner_netbox_status(master, netbox_target):
    ret = master.salt_run_cli(timeout=60).run("netbox.status")
    assert ret.returncode == 0, ret
    status = ret.data
    assert status["reachable"] is True
    expected = _expected_version(netbox_target)
    if expected:
        assert status["netbox_version"] == expected
    assert netbox_target.token not in str(ret.data)


def test_runner_export_snapshot_roundtrip(master, netbox_target, tmp_path):
    """``salt-run netbox.export_snapshot`` writes a snapshot the snapshot source can serve."""
    path = tmp_path / "lab1-export.json"
    ret = master.salt_run_cli(timeout=120).run(
        "netbox.export_snapshot", "site=lab1", f"path={path}"
    )
    assert ret.returncode == 0, ret
    assert path.exists()
    src = SnapshotSource(str(path))
    devices = src.list("dcim.devices", {"site": "lab1"})
    assert {d["name"] for d in devices} >= {"srv-r1-01", "srv-r2-01"}
    assert len(devices) == 24
    cables = src.list("dcim.cables", {"site_id": devices[0]["site"]["id"]})
    assert len(cables) == 52


def test_runner_reports_unreachable_netbox(master, netbox_target):
    """NetBox down: the runner fails with a typed error, never a silent False."""
    if netbox_target.standin is None:
        pytest.skip("needs the stand-in to take NetBox down")
    netbox_target.standin.faults.down()
    try:
        ret = master.salt_run_cli(timeout=60).run("netbox.status")
    finally:
        netbox_target.standin.faults.up()
    data = ret.data
    assert ret.returncode != 0 or (isinstance(data, dict) and data.get("reachable") is False)
    assert netbox_target.token not in str(ret.stdout) + str(ret.stderr)
