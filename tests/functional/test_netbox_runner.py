"""Functional tests of the ``netbox`` runner (Salt's runner loader in-process, NetBox stand-in)."""

import json
import os
import stat

import pytest
import salt.cache
import salt.config
import salt.loader
from salt.exceptions import SaltInvocationError

from salt_ext.utils.netbox import NetBoxClient, SnapshotSource, load_config
from tests.support.netbox_standin import NetBoxStandin
from tests.support.saltenv import NETBOX_TEST_TIMEOUT


def runner(target, tmp_path, **extra):
    """A runner loader for ``target``; build a new one right before use (see loaders())."""
    opts = salt.config.master_config(None)
    opts.update(
        cachedir=str(tmp_path / "cache"),
        pki_dir=str(tmp_path / "pki"),
        netbox={
            "url": target.url,
            "token": target.token,
            "timeout": NETBOX_TEST_TIMEOUT,
            "retries": 1,
        },
    )
    opts.update(extra)
    return salt.loader.runner(opts)


def test_status(netbox_target, tmp_path):
    ret = runner(netbox_target, tmp_path)["netbox.status"]()
    assert ret["reachable"] is True and ret["netbox_version"].startswith("4.")
    assert "retcode" not in ret
    assert netbox_target.token not in repr(ret)


@pytest.mark.standin_only("takes NetBox down")
def test_status_down_has_retcode(fresh_netbox, tmp_path):
    funcs = runner(fresh_netbox, tmp_path)
    fresh_netbox.standin.faults.down()
    try:
        ret = funcs["netbox.status"]()
    finally:
        fresh_netbox.standin.faults.up()
    assert ret["reachable"] is False and ret["retcode"] == 1
    assert "cannot reach NetBox" in ret["error"]
    assert fresh_netbox.token not in repr(ret)


def test_export_snapshot_round_trip(netbox_target, tmp_path):
    path = tmp_path / "lab1-export.json"
    ret = runner(netbox_target, tmp_path)["netbox.export_snapshot"]("lab1", str(path))
    assert ret["path"] == str(path) and ret["counts"]["dcim.devices"] == 24
    assert ret["objects"] == sum(ret["counts"].values())
    src = SnapshotSource(str(path))
    assert {d["name"] for d in src.list("dcim.devices")} >= {"srv-r1-01", "srv-r2-01"}
    assert netbox_target.token not in path.read_text(encoding="utf-8")
    with pytest.raises(SaltInvocationError, match="needs site"):
        runner(netbox_target, tmp_path)["netbox.export_snapshot"]("", "")


def test_import_snapshot_seeds_an_empty_netbox_idempotently(
    tmp_path, lab1_snapshot, netbox_requests
):
    # an EMPTY NetBox of its own: a stand-in whatever NETBOX_URL says (a real one is never empty)
    standin = NetBoxStandin().start()
    try:

        class Target:
            url = standin.url
            token = standin.token_v1

        first = runner(Target, tmp_path)["netbox.import_snapshot"]()
        assert first["created"]["dcim.devices"] == 24
        assert first["created"]["dcim.cables"] == len(lab1_snapshot["objects"]["dcim.cables"])
        assert "id_map" not in first
        client = NetBoxClient(
            load_config({"netbox": {"url": standin.url, "token": standin.token_v1}})
        )
        assert len(client.list("dcim.cables")) == len(lab1_snapshot["objects"]["dcim.cables"])
        netbox_requests.reset()
        second = runner(Target, tmp_path)["netbox.import_snapshot"]()
        assert second["totals"]["created"] == 0
        assert netbox_requests.count(method="POST") == 0 and netbox_requests.total > 0
    finally:
        standin.stop()


def test_import_snapshot_bad_file(netbox_target, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"nope": 1}), encoding="utf-8")
    with pytest.raises(SaltInvocationError, match="not a snapshot"):
        runner(netbox_target, tmp_path)["netbox.import_snapshot"](str(bad))
    with pytest.raises(SaltInvocationError, match="cannot read snapshot"):
        runner(netbox_target, tmp_path)["netbox.import_snapshot"](str(tmp_path / "missing.json"))


def _cache_grains(tmp_path, grains_by_minion):
    opts = salt.config.master_config(None)
    opts.update(cachedir=str(tmp_path / "cache"), pki_dir=str(tmp_path / "pki"))
    os.makedirs(tmp_path / "pki" / "minions", exist_ok=True)
    cache = salt.cache.factory(opts)
    for minion, grains in grains_by_minion.items():
        (tmp_path / "pki" / "minions" / minion).write_text("key", encoding="utf-8")
        cache.store("grains", minion, grains)


def test_diff_inventory_table(netbox_target, tmp_path):
    _cache_grains(
        tmp_path,
        {
            "srv-r1-01.lab1.example.net": {
                "serialnumber": "LAB1R1S01",
                "hwaddr_interfaces": {
                    "eno1": "24:6e:96:01:11:01",
                    "eno2": "24:6e:96:01:11:99",
                    "lo": "00:00:00:00:00:00",
                },
            },
            "srv-r1-02": {"serialnumber": "WRONG1234", "hwaddr_interfaces": {}},
        },
    )
    ret = runner(netbox_target, tmp_path, minion_data_cache=True)["netbox.diff_inventory"](
        "lab1", rack="R1"
    )
    rows = {(r["device"], r["check"]): r for r in ret["rows"]}
    assert rows[("srv-r1-01", "serial")]["result"] == "ok"
    assert rows[("srv-r1-01", "mac eno1")]["result"] == "ok"
    assert rows[("srv-r1-01", "mac eno2")]["result"] == "MISMATCH"
    assert rows[("srv-r1-01", "mac eno2")]["reported"] == "24:6E:96:01:11:99"
    assert rows[("srv-r1-02", "serial")] == {
        "device": "srv-r1-02",
        "minion": "srv-r1-02",
        "status": "active",
        "check": "serial",
        "netbox": "LAB1R1S02",
        "reported": "WRONG1234",
        "result": "MISMATCH",
    }
    assert rows[("srv-r1-03", "-")]["result"] == "no minion"
    assert ret["mismatches"] == 2
    assert not any(r["device"].startswith("srv-r2") for r in ret["rows"])  # rack filter
    lines = ret["table"].splitlines()
    assert lines[0].split() == [
        "device",
        "minion",
        "status",
        "check",
        "netbox",
        "reported",
        "result",
    ]
    assert any("srv-r1-02" in line and "WRONG1234" in line for line in lines)


def test_diff_inventory_without_cached_grains_hints(netbox_target, tmp_path):
    _cache_grains(tmp_path, {"srv-r1-02": {}})
    ret = runner(netbox_target, tmp_path)["netbox.diff_inventory"]("lab1", rack="R1")
    assert "minion_data_cache" in ret["hint"]


@pytest.mark.live_capable
def test_sync_autosign(fresh_netbox, tmp_path):
    lab = fresh_netbox.lab
    directory = tmp_path / "autosign"
    funcs = runner(fresh_netbox, tmp_path, autosign_grains_dir=str(directory))
    ret = funcs["netbox.sync_autosign"](site=lab.site)
    path = directory / "serialnumber"
    assert ret["path"] == str(path) and ret["changed"] is True
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if not ln.startswith("#")]
    # planned R2/R3 servers; srv-r3-03 repeats srv-r2-01's serial (the broken rack) -> never
    # written (it names no single device), reported instead
    assert lines == sorted(set(lines))
    assert lab.sub("LAB1R2S02") in lines and lab.sub("LAB1R3S04") in lines
    assert lab.sub("LAB1R2S01") not in lines
    assert ret["duplicate_serials"] == lab.sub({"LAB1R2S01": ["srv-r2-01", "srv-r3-03"]})
    assert lab.sub("LAB1R1S01") not in lines  # active devices are not auto-signed
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    mtime = path.stat().st_mtime_ns
    again = runner(fresh_netbox, tmp_path, autosign_grains_dir=str(directory))[
        "netbox.sync_autosign"
    ](site=lab.site)
    assert again["changed"] is False and again["added"] == [] and path.stat().st_mtime_ns == mtime
    # a device leaving "planned" drops out
    client = NetBoxClient(
        load_config({"netbox": {"url": fresh_netbox.url, "token": fresh_netbox.token}})
    )
    dev = client.find("dcim.devices", name=lab.name("srv-r2-02"))
    client.update("dcim.devices", dev["id"], {"status": "active"})
    third = runner(fresh_netbox, tmp_path, autosign_grains_dir=str(directory))[
        "netbox.sync_autosign"
    ](site=lab.site)
    assert third["removed"] == [lab.sub("LAB1R2S02")] and third["changed"] is True
    assert lab.sub("LAB1R2S02") not in path.read_text(encoding="utf-8")


def test_sync_autosign_needs_the_directory(netbox_target, tmp_path):
    with pytest.raises(SaltInvocationError, match="autosign_grains_dir is not set"):
        runner(netbox_target, tmp_path)["netbox.sync_autosign"]()
