"""Hardware generations end to end: a real master and three minions, each simulating a different
real server of the lab (real dmidecode of a Dell M630, an HPE BL460c Gen9 and a Supermicro
SSG-6028R from ../shared, plus authored NIC/disk/LLDP/BMC outputs carrying the lab's NetBox
values). NetBox is the stand-in seeded with lab1 through the API (or a real NetBox)."""

from __future__ import annotations

import json
import pathlib

import pytest
from saltfactories.utils import random_string

from tests.support.saltenv import (
    SHARED_FIXTURES,
    SHARED_MISSING_REASON,
    master_overrides,
    minion_overrides,
)
from tests.unit.hardware.lab import BOXES, simulate_spec

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(SHARED_FIXTURES is None, reason=SHARED_MISSING_REASON),
]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("hwgen")


def spec_path(workdir, box):
    return workdir / f"{box}-simulate.json"


def write_spec(workdir, box, overrides=None):
    spec_path(workdir, box).write_text(json.dumps(simulate_spec(box, overrides)))


@pytest.fixture(scope="module")
def master(salt_factories, netbox_target):
    # The NetBox ext_pillar gives each minion its device, interfaces (with cable peers and IPs),
    # config context and generation profile (netbox:hwgen): the hardware module then reads NetBox
    # through the pillar only.
    factory = salt_factories.salt_master_daemon(
        random_string("hw-m-"),
        overrides=master_overrides(netbox_target, ext_pillar=[{"netbox": {"ttl": 300}}]),
    )
    with factory.started():
        yield factory


@pytest.fixture(scope="module")
def minions(master, netbox_target, workdir):
    started = {}
    factories = []
    for box in sorted(BOXES):
        write_spec(workdir, box)
        hardware = {
            "simulate": str(spec_path(workdir, box)),
            "root": str(workdir / f"{box}-root"),
            "apply_live": False,
        }
        factory = master.salt_minion_daemon(
            box, overrides=minion_overrides(netbox_target, hardware=hardware)
        )
        factories.append(factory)
    try:
        for factory in factories:
            factory.start()
            started[factory.id] = factory
        yield started
    finally:
        for factory in factories:
            factory.terminate()


@pytest.fixture
def faulty(workdir):
    """Write a fault into a box's simulation; restored afterwards."""
    touched = []

    def inject(box, overrides):
        touched.append(box)
        write_spec(workdir, box, overrides)

    yield inject
    for box in touched:
        write_spec(workdir, box)


def call(minion, *args, **kwargs):
    ret = minion.salt_call_cli(timeout=120).run(*args, **kwargs)
    assert ret.returncode in (0, 1), ret
    return ret


def checks(report):
    return {c["name"]: c for c in report["checks"]}


#: box -> (product, generation, CPU model fragment, installed DIMMs) of the real server it simulates
REAL = {
    "srv-r1-01": ("PowerEdge M630", "gen10", "E5-2683 v3", 8),
    "srv-r1-02": ("ProLiant BL460c Gen9", "gen11", "E5-2640 v4", 6),
    "srv-r1-03": ("SSG-6028R-OSD072P", "gen12", "E5-2620 v4", 4),
}


@pytest.mark.parametrize("box", sorted(REAL))
def test_inventory_and_validation_pass(minions, box):
    product, generation, cpu, dimms = REAL[box]
    minion = minions[box]
    inv = call(minion, "hardware.inventory").data
    assert inv["system"]["product"] == product
    assert inv["system"]["serial"] == f"LAB1R1S0{box[-1]}"
    assert inv["simulated"] is True
    # The real server's SMBIOS data (../shared dmidecode), not something made up for the test.
    assert cpu in inv["cpu"]["model"] and inv["memory"]["dimm_count"] == dimms
    assert len(inv["nics"]) == 2 and sorted(inv["lldp"]) == ["eno1", "eno2"]
    report = call(minion, "hardware.validate").data
    assert report["passed"], report["text"]
    assert report["generation"] == generation
    assert report["device"] == box
    assert report["netbox_source"] == "pillar"
    assert checks(report)["cabling.eno2"]["ok"]


def test_wrong_serial_fails(minions, faulty):
    faulty("srv-r1-02", {"system": {"serial": "LAB1R1S05"}})
    report = call(minions["srv-r1-02"], "hardware.validate").data
    assert not report["passed"]
    assert report["failed"] == ["serial"]
    assert checks(report)["serial"]["expected"] == "LAB1R1S02"


def test_wrong_switch_port_fails(minions, faulty):
    faulty("srv-r1-01", {"lldp": {"eno2": {"port_id": "Ethernet7"}}})
    report = call(minions["srv-r1-01"], "hardware.validate").data
    assert report["failed"] == ["cabling.eno2"]
    assert "NetBox says tor2-r1 Ethernet1" in checks(report)["cabling.eno2"]["comment"]


def test_missing_dimms_fail(minions, faulty):
    faulty("srv-r1-03", {"memory": {"dimms": {"P1_DIMMA1": None, "P1_DIMMB1": None}}})
    report = call(minions["srv-r1-03"], "hardware.validate").data
    assert set(report["failed"]) == {"memory.dimm_count", "memory.total_gb"}
    ret = call(minions["srv-r1-03"], "state.single", "hardware.validated", "hw")
    assert ret.returncode == 1
    state = next(iter(ret.data.values()))
    assert state["result"] is False
    assert "[FAIL] memory.dimm_count: expected 4, found 2" in state["comment"]


def test_state_apply_hwgen_writes_files_and_is_idempotent(minions, workdir):
    minion = minions["srv-r1-01"]
    root = pathlib.Path(workdir / "srv-r1-01-root")
    preview = call(minion, "state.apply", "hwgen", test=True)
    assert preview.returncode == 0, preview
    pending = [s for s in preview.data.values() if s["result"] is None]
    assert pending and all(s["changes"] for s in pending)
    assert not root.exists()

    first = call(minion, "state.apply", "hwgen")
    assert first.returncode == 0, first
    assert all(s["result"] is True for s in first.data.values())
    rules = (root / "etc/udev/rules.d/70-hwgen-net.rules").read_text()
    assert 'ATTR{address}=="24:6e:96:01:11:01", NAME="eno1"' in rules
    bond = (root / "etc/systemd/network/30-hwgen-bond0.network").read_text()
    assert "Address=10.10.1.11/24" in bond
    assert "Bond=bond0" in (root / "etc/systemd/network/20-hwgen-eno1.network").read_text()
    assert "Mode=802.3ad" in (root / "etc/systemd/network/10-hwgen-bond0.netdev").read_text()
    assert "vm.swappiness = 1" in (root / "etc/sysctl.d/90-hwgen.conf").read_text()
    assert "intel_iommu=on" in (root / "etc/default/grub.d/90-hwgen.cfg").read_text()

    second = call(minion, "state.apply", "hwgen")
    assert second.returncode == 0, second
    assert [s["__id__"] for s in second.data.values() if s["changes"]] == []


def test_state_apply_refuses_a_box_failing_validation(minions, workdir, faulty):
    faulty("srv-r1-02", {"lldp": {"eno1": {"chassis_name": "tor2-r1"}}})
    ret = call(minions["srv-r1-02"], "state.apply", "hwgen")
    assert ret.returncode != 0
    assert not (workdir / "srv-r1-02-root").exists()


def test_check_generation_runner(master, minions, workdir):
    run = master.salt_run_cli(timeout=180)
    ret = run.run("turnup.check_generation", gen="gen11", minion="srv-r1-02")
    assert ret.returncode == 0, ret
    assert ret.data["agrees"] is True, (ret.data["schema_errors"], ret.data["disagreements"])
    assert ret.data["suggested"]["cpu"]["cores"] == 20
    assert ret.data["conflicts"] == []
    assert ret.data["netbox"]["done"] is True
    assert ret.data["netbox"]["device_type"] == "proliant-bl460c-gen9"

    # A draft gen13 written from the wrong datasheet: 4 DIMMs of 16 GB and 25G NICs.
    draft = workdir / "gen13.sls"
    draft.write_text(
        "hwgen_profiles:\n  gen13:\n    device_types: [proliant-bl460c-gen9]\n"
        "    match: {vendor: '^HPE?$', product: 'BL460c Gen9'}\n"
        "    expected:\n      memory: {dimm_count: 4, dimm_size_gb: 16}\n"
        "      nics: {count: 2, min_speed_mbps: 25000}\n"
    )
    ret = run.run(
        "turnup.check_generation", gen="gen13", minion="srv-r1-02", profile_file=str(draft)
    )
    assert ret.returncode != 0
    names = {c["name"] for c in ret.data["disagreements"]}
    assert names == {"memory.dimm_count", "memory.dimm_size_gb", "nics.speed"}
    # Copied from gen11 without new device types/patterns: it would steal gen11's boxes.
    assert {(c["generation"], c["reason"]) for c in ret.data["conflicts"]} == {
        ("gen11", "device_types"),
        ("gen11", "match"),
    }
    assert ret.data["netbox"]["tagged"] is False and ret.data["netbox"]["hw_generation"] == "gen11"
