"""Planner and preflight on the lab snapshot (site lab1: R2 to turn up, R3 deliberately broken)."""

import copy
import json

import pytest
from salt.exceptions import SaltInvocationError

from salt_ext.utils.netbox import SnapshotSource
from salt_ext.utils.turnup import plan as planner
from salt_ext.utils.turnup import preflight
from tests.support.saltenv import LAB1_SNAPSHOT
from tests.unit.hardware.lab import load_profiles


@pytest.fixture
def src(tmp_path):
    path = tmp_path / "lab1.json"
    path.write_text(LAB1_SNAPSHOT.read_text())
    return SnapshotSource(str(path))


def waves(plan):
    return [(w["name"], w["devices"]) for w in plan["waves"]]


def test_plan_r2_network_first_then_canary_and_batches(src):
    plan = planner.build(src, "lab1", "R2")
    assert waves(plan) == [
        ("oob", ["oob-r2"]),
        ("tor", ["tor1-r2", "tor2-r2"]),
        ("canary", ["srv-r2-01"]),
        ("batch-1", ["srv-r2-02", "srv-r2-03"]),
        ("batch-2", ["srv-r2-04", "srv-r2-05"]),
        ("batch-3", ["srv-r2-06", "srv-r2-07"]),
        ("batch-4", ["srv-r2-08"]),
    ]
    planner.generations(src, plan)
    dev = plan["devices"]["srv-r2-04"]
    assert dev["minion"] == "srv-r2-04" and dev["generation"] == "gen11"
    assert dev["primary_ip"] == "10.10.2.14/24"
    assert dev["peers"] == {
        "bmc": "oob-r2:Ethernet4",
        "eno1": "tor1-r2:Ethernet4",
        "eno2": "tor2-r2:Ethernet4",
    }
    assert plan["devices"]["tor1-r2"]["managed"] is False
    assert plan["devices"]["srv-r2-07"]["kind"] == "server"  # storage-server is no ToR switch


def test_plan_managed_switch_and_batch_count_and_devices(src):
    plan = planner.build(
        src, "lab1", "R2", batch=3, devices="srv-r2-01,srv-r2-05", accepted={"tor1-r2"}
    )
    assert plan["devices"]["tor1-r2"]["managed"] is True
    assert plan["servers"] == ["srv-r2-01", "srv-r2-05"]
    assert waves(plan)[-2:] == [("canary", ["srv-r2-01"]), ("batch-1", ["srv-r2-05"])]


def test_plan_minion_id_custom_field(src):
    plan = planner.build(src, "lab1", "R1")  # every server active: done, still planned
    assert plan["devices"]["srv-r1-01"]["minion"] == "srv-r1-01.lab1.example.net"


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"site": "nope", "rack": "R2"}, ["site='nope'", "lab1"]),
        ({"site": "lab1", "rack": "R9"}, ["rack='R9'", "R1, R2, R3"]),
        ({"site": "lab1", "rack": "R2", "batch": 0}, ["batch=0"]),
        ({"site": "lab1", "rack": "R2", "batch": "120%"}, ["batch=120%", "100 %"]),
        ({"site": "lab1", "rack": "R2", "batch": "lots"}, ["batch='lots'"]),
        ({"site": "lab1", "rack": "R2", "devices": "srv-r9-01"}, ["srv-r9-01", "not in rack R2"]),
        ({"site": None, "rack": "R2"}, ["site=<NetBox site slug> is required"]),
    ],
)
def test_bad_input_names_the_argument(src, kwargs, words):
    with pytest.raises(SaltInvocationError) as err:
        planner.build(src, **kwargs)
    for word in words:
        assert word in str(err.value)


def test_nothing_to_turn_up_says_the_statuses(tmp_path):
    data = json.loads(LAB1_SNAPSHOT.read_text())
    for dev in data["objects"]["dcim.devices"]:
        if dev["name"].startswith("srv-r2"):
            dev["status"] = {"value": "offline", "label": "Offline"}
    path = tmp_path / "lab.json"
    path.write_text(json.dumps(data))
    with pytest.raises(planner.NothingToTurnUp) as err:
        planner.build(SnapshotSource(str(path)), "lab1", "R2")
    assert "offline: srv-r2-01, srv-r2-02" in str(err.value)


@pytest.mark.parametrize(
    "value, servers, tolerated",
    [(None, 8, 1), (None, 30, 3), (None, 5, 1), ("2", 8, 2), ("25%", 8, 2), (0, 8, 0)],
)
def test_max_failures(value, servers, tolerated):
    assert planner.parse_max_failures(value, servers) == tolerated


def test_max_failures_bad():
    with pytest.raises(SaltInvocationError, match="max_failures"):
        planner.parse_max_failures("some", 8)


def test_preflight_r3_reports_its_four_problems(src):
    before = copy.deepcopy(src.store.objects) if hasattr(src, "store") else None
    report = preflight.run(src, "lab1", "R3", load_profiles())
    assert report["ok"] is False
    got = {(e["device"], e["check"]) for e in report["errors"]}
    assert got == {
        ("srv-r3-01", "primary_ip"),
        ("srv-r3-02", "generation"),
        ("srv-r3-03", "serial_duplicate"),
        ("srv-r3-04", "cabling"),
    }
    by = {e["device"]: e for e in report["errors"]}
    assert by["srv-r3-02"]["object"] == "dcim.device-types dss7500"
    assert "srv-r2-01" in by["srv-r3-03"]["message"]
    assert by["srv-r3-04"]["object"] == "dcim.interfaces srv-r3-04:eno2"
    assert all(e["fix"] and e["url"].startswith("http") for e in report["errors"])
    if before is not None:
        assert src.store.objects == before


def test_preflight_r2_passes_with_a_warning_for_the_first_serial_holder(src):
    report = preflight.run(src, "lab1", "R2", load_profiles())
    assert report["ok"] is True, report["errors"]
    assert [(w["device"], w["check"]) for w in report["warnings"]] == [
        ("srv-r2-01", "serial_duplicate")
    ]


def test_preflight_forbidden_status_and_unknown_profile(tmp_path):
    data = json.loads(LAB1_SNAPSHOT.read_text())
    for dev in data["objects"]["dcim.devices"]:
        if dev["name"] == "srv-r2-02":
            dev["status"] = {"value": "decommissioning", "label": "Decommissioning"}
    path = tmp_path / "lab.json"
    path.write_text(json.dumps(data))
    profiles = {k: v for k, v in load_profiles().items() if k != "gen12"}
    report = preflight.run(SnapshotSource(str(path)), "lab1", "R2", profiles)
    got = {(e["device"], e["check"]) for e in report["errors"]}
    assert ("srv-r2-07", "generation") in got and ("srv-r2-08", "generation") in got
    assert ("srv-r2-02", "status") in {(w["device"], w["check"]) for w in report["warnings"]}
    assert report["skipped"] == {"srv-r2-02": "decommissioning"}
