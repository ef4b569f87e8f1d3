"""Validation of the simulated lab servers against lab1 NetBox data and the shipped profiles."""

import copy

import pytest

from salt_ext.utils.hardware.inventory import simulate
from salt_ext.utils.hardware.profiles import select_profile
from salt_ext.utils.hardware.validate import format_report, validate
from tests.unit.hardware.conftest import requires_shared
from tests.unit.hardware.lab import BOXES, Lab, load_profiles, simulate_spec

pytestmark = requires_shared


@pytest.fixture(scope="module")
def lab():
    return Lab()


@pytest.fixture(scope="module")
def profiles():
    return load_profiles()


def run(lab, profiles, box, overrides=None, *, device=None, cables=True):
    dev = lab.device(device or box)
    dtype = lab.device_type(dev)
    profile = select_profile({"hwgen_profiles": profiles}, dtype["custom_fields"]["hw_generation"])
    inventory = simulate(simulate_spec(box, overrides))
    interfaces = lab.interfaces(dev)
    return validate(
        inventory,
        profile,
        dev,
        interfaces,
        lab.cables(dev) if cables else None,
        device_type=dtype,
        profiles=profiles,
    )


def by_name(report):
    return {c["name"]: c for c in report["checks"]}


@pytest.mark.parametrize("box", sorted(BOXES))
def test_correct_boxes_pass(lab, profiles, box):
    report = run(lab, profiles, box)
    assert report["passed"], format_report(report)
    assert report["generation"] == BOXES[box][1]
    checks = by_name(report)
    for name in (
        "serial",
        "generation",
        "device_type",
        "cpu.model",
        "cpu.sockets",
        "memory.total_gb",
        "memory.dimm_count",
        "nics.count",
        "firmware.bios",
        "firmware.bmc",
        "mac.eno1",
        "mac.eno2",
        "mac.bmc",
        "cabling.eno1",
        "cabling.eno2",
    ):
        assert checks[name]["ok"], checks[name]
        assert checks[name]["severity"] == "error"
    assert checks["cabling.eno1"]["expected"] == {"device": "tor1-r1", "port": f"Ethernet{box[-1]}"}


def test_name_forms_tolerated(lab, profiles):
    """srv-r1-02's LLDP shows FQDN chassis names and short port ids (Et2)."""
    checks = by_name(run(lab, profiles, "srv-r1-02"))
    assert checks["cabling.eno2"]["actual"]["device"] == "tor2-r1.lab1.example.net"
    assert checks["cabling.eno2"]["actual"]["port"] == "Et2"
    assert checks["cabling.eno2"]["ok"]


def test_cabling_from_cables_when_interfaces_lack_peers(lab, profiles):
    dev = lab.device("srv-r1-01")
    interfaces = copy.deepcopy(lab.interfaces(dev))
    for iface in interfaces:
        iface["link_peers"] = []
    profile = select_profile({"hwgen_profiles": profiles}, "gen10")
    report = validate(
        simulate(simulate_spec("srv-r1-01")),
        profile,
        dev,
        interfaces,
        lab.cables(dev),
        device_type=lab.device_type(dev),
    )
    assert by_name(report)["cabling.eno2"]["ok"]
    assert by_name(report)["cabling.eno2"]["expected"] == {"device": "tor2-r1", "port": "Ethernet1"}


def test_wrong_serial(lab, profiles):
    report = run(lab, profiles, "srv-r1-01", {"system": {"serial": "LAB1R1S04"}})
    assert not report["passed"]
    assert report["failed"] == ["serial"]
    check = by_name(report)["serial"]
    assert (check["expected"], check["actual"]) == ("LAB1R1S01", "LAB1R1S04")


def test_placeholder_serial_fails(lab, profiles):
    report = run(lab, profiles, "srv-r1-01", {"system": {"serial": "4242"}})
    check = by_name(report)["serial"]
    assert not check["ok"] and "placeholder" in check["comment"]


def test_wrong_switch_port(lab, profiles):
    overrides = {"lldp": {"eno2": {"port_id": "Ethernet7", "port_descr": "srv-r1-01:eno2"}}}
    report = run(lab, profiles, "srv-r1-01", overrides)
    assert report["failed"] == ["cabling.eno2"]
    check = by_name(report)["cabling.eno2"]
    assert check["actual"]["port"] == "Ethernet7"
    assert "eno2 is cabled to tor2-r1 Ethernet7, NetBox says tor2-r1 Ethernet1" in check["comment"]


def test_wrong_switch(lab, profiles):
    overrides = {"lldp": {"eno1": {"chassis_name": "tor2-r1"}}}
    report = run(lab, profiles, "srv-r1-03", overrides)
    assert report["failed"] == ["cabling.eno1"]


def test_missing_lldp_neighbour(lab, profiles):
    report = run(lab, profiles, "srv-r1-03", {"lldp": {"eno1": None}})
    assert report["failed"] == ["cabling.eno1"]
    comment = by_name(report)["cabling.eno1"]["comment"]
    assert comment.startswith("no LLDP neighbour on eno1 (") and "NetBox says tor1-r1" in comment


def test_missing_dimms(lab, profiles):
    overrides = {"memory": {"dimms": {"PROC 1 DIMM 3": None, "PROC 2 DIMM 3": None}}}
    report = run(lab, profiles, "srv-r1-02", overrides)
    assert set(report["failed"]) == {"memory.dimm_count", "memory.total_gb"}
    check = by_name(report)["memory.dimm_count"]
    assert (check["expected"], check["actual"]) == (6, 4)
    assert by_name(report)["memory.total_gb"]["actual"] == 32.0


def test_wrong_macs_and_bmc(lab, profiles):
    overrides = {
        "nics": {"eno1": {"mac": "24:6e:96:99:99:01"}},
        "bmc": {"mac": "24:6e:96:99:99:03"},
    }
    report = run(lab, profiles, "srv-r1-01", overrides)
    assert {"mac.eno1", "mac.bmc"} <= set(report["failed"])
    # eno1's NetBox MAC is nowhere, so its cabling is judged by name and still fine.
    assert by_name(report)["cabling.eno1"]["ok"]


def test_box_of_another_generation(lab, profiles):
    """A Supermicro box racked where NetBox expects an M630 (gen10)."""
    dev = lab.device("srv-r1-01")
    profile = select_profile({"hwgen_profiles": profiles}, "gen10")
    report = validate(
        simulate(simulate_spec("srv-r1-03")),
        profile,
        dev,
        lab.interfaces(dev),
        None,
        device_type=lab.device_type(dev),
        profiles=profiles,
    )
    checks = by_name(report)
    assert (checks["generation"]["expected"], checks["generation"]["actual"]) == ("gen10", "gen12")
    assert not checks["cpu.model"]["ok"] and not checks["serial"]["ok"]


def test_firmware_minimum(lab, profiles):
    report = run(lab, profiles, "srv-r1-01", {"bmc": {"firmware": "2.30"}})
    assert report["failed"] == ["firmware.bmc"]


def test_disk_groups_gen12(lab, profiles):
    report = run(lab, profiles, "srv-r1-03", {"disks": {"sdn": None}})
    assert report["failed"] == ["disks[hdd >=7000GB]"]
    assert by_name(report)["disks[hdd >=7000GB]"]["actual"] == 11


def test_unknown_sources_are_warnings_not_failures(lab, profiles):
    spec = simulate_spec("srv-r1-01")
    inventory = simulate(spec)
    assert any(w.startswith("nvme:") for w in inventory["warnings"])
    report = run(lab, profiles, "srv-r1-01")
    assert "inventory.sources" in report["warnings"]
    assert report["passed"]
    # The comment names what was unavailable, so the state's text is enough to act on.
    assert "nvme: not provided by the simulation" in by_name(report)["inventory.sources"]["comment"]
    assert "nvme: not provided by the simulation" in format_report(report)


def test_report_text(lab, profiles):
    report = run(lab, profiles, "srv-r1-01", {"system": {"serial": "LAB1R9S99"}})
    text = format_report(report)
    assert text.splitlines()[0].startswith("hardware validation of srv-r1-01 (gen10): FAILED")
    assert "[FAIL] serial: serial 'LAB1R9S99' differs from NetBox's 'LAB1R1S01'" in text


def test_pillar_shaped_interfaces(lab, profiles):
    """The NetBox pillar's interface mapping validates like the REST list."""
    dev = lab.device("srv-r1-01")
    pillar_ifaces = {}
    for iface in lab.interfaces(dev):
        peer = (iface.get("link_peers") or [None])[0]
        pillar_ifaces[iface["name"]] = {
            "name": iface["name"],
            "type": iface["type"]["value"],
            "mgmt_only": iface["mgmt_only"],
            "mac_address": iface["mac_address"],
            "mac_addresses": [iface["mac_address"]],
            "lag": (iface.get("lag") or {}).get("name"),
            "peer": {"device": peer["device"]["name"], "interface": peer["name"]} if peer else None,
        }
    pillar_ifaces["eno2"]["peer"]["interface"] = "Ethernet9"
    profile = select_profile({"hwgen_profiles": profiles}, "gen10")
    report = validate(
        simulate(simulate_spec("srv-r1-01")),
        profile,
        dev,
        pillar_ifaces,
        device_type=lab.device_type(dev),
    )
    assert report["failed"] == ["cabling.eno2"]


def _via_patch_panel(iface):
    """Re-cable a lab interface through a patch panel: the cable ends on front port 7 of pp1,
    NetBox's path trace (connected_endpoints) still ends on the switch port."""
    iface["link_peers_type"] = "dcim.frontport"
    iface["link_peers"] = [{"id": 7001, "name": "7", "device": {"id": 900, "name": "pp1-r1"}}]
    return iface


def test_cabling_through_a_patch_panel(lab, profiles):
    dev = lab.device("srv-r1-01")
    interfaces = copy.deepcopy(lab.interfaces(dev))
    eno2 = _via_patch_panel(next(i for i in interfaces if i["name"] == "eno2"))
    assert eno2["connected_endpoints_type"] == "dcim.interface"
    profile = select_profile({"hwgen_profiles": profiles}, "gen10")
    inventory = simulate(simulate_spec("srv-r1-01"))
    report = validate(inventory, profile, dev, interfaces, device_type=lab.device_type(dev))
    check = by_name(report)["cabling.eno2"]
    assert check["ok"] and check["expected"] == {"device": "tor2-r1", "port": "Ethernet1"}
    # The LLDP neighbour is compared with the end of the path, not with the patch panel.
    wrong = simulate(simulate_spec("srv-r1-01", {"lldp": {"eno2": {"port_id": "Ethernet7"}}}))
    report = validate(wrong, profile, dev, interfaces, device_type=lab.device_type(dev))
    assert report["failed"] == ["cabling.eno2"]
    # Without a traced path (pillar, or a path NetBox cannot complete) the patch panel is all
    # that is known: a warning naming it, never a false failure.
    eno2["connected_endpoints"], eno2["connected_endpoints_reachable"] = None, False
    report = validate(inventory, profile, dev, interfaces, device_type=lab.device_type(dev))
    check = by_name(report)["cabling.eno2"]
    assert report["passed"] and check["severity"] == "warning" and not check["ok"]
    assert "dcim.frontport pp1-r1 7 (a patch panel)" in check["comment"]
    pillar_ifaces = {
        "eno2": {
            "name": "eno2",
            "type": "25gbase-x-sfp28",
            "mac_address": eno2["mac_address"],
            "peer": {"type": "dcim.frontport", "device": "pp1-r1", "interface": "7"},
        }
    }
    report = validate(inventory, profile, dev, pillar_ifaces, device_type=lab.device_type(dev))
    assert "cabling.eno2" in report["warnings"] and "cabling.eno2" not in report["failed"]
    assert by_name(report)["cabling.eno2"]["severity"] == "warning"


def test_nic_speed_judges_ports_with_link(lab, profiles):
    """An unused port (no link, no speed) of a multi-port card does not fail the box; a port
    that came up slow does."""
    spare = {"name": "eno3", "mac": "24:6e:96:01:11:09", "driver": "bnx2x", "link": False}
    spare.update(speed_mbps=None, firmware="7.13.1", pci="0000:01:00.2")
    report = run(lab, profiles, "srv-r1-01", {"nics": {"eno3": spare}})
    check = by_name(report)["nics.speed"]
    assert check["ok"] and "no link, not judged: ['eno3']" in check["comment"]
    assert report["failed"] == ["nics.count"]  # the profile says 2 NICs: the third one is seen
    report = run(lab, profiles, "srv-r1-01", {"nics": {"eno2": {"speed_mbps": 1000}}})
    assert report["failed"] == ["nics.speed"]
    assert (
        "expected >= 10000 Mb/s, found eno2: 1000 Mb/s" in by_name(report)["nics.speed"]["comment"]
    )
    report = run(lab, profiles, "srv-r1-01", {"nics": {"eno2": {"link": None, "speed_mbps": None}}})
    assert report["failed"] == ["nics.speed"], "unknown link and speed is not a pass"


def test_removable_media_are_not_disks_of_the_generation(lab, profiles):
    """A USB SSD plugged in for the install (removable) is not one of the generation's disks."""
    stick = {"model": "Extreme Pro", "size_bytes": 480 * 1000**3, "rotational": False}
    stick.update(removable=True, nvme=False, transport="usb", serial="AA010203040506")
    report = run(lab, profiles, "srv-r1-01", {"disks": {"sdz": stick}})
    assert report["passed"], format_report(report)
    stick["removable"] = False  # the same disk fixed in the box is one too many
    report = run(lab, profiles, "srv-r1-01", {"disks": {"sdz": stick}})
    assert report["failed"] == ["disks[ssd >=200GB]"]
    assert by_name(report)["disks[ssd >=200GB]"]["actual"] == 3


def test_memory_from_meminfo_is_explained(profiles):
    from salt_ext.utils.hardware.validate import hardware_checks  # noqa: PLC0415

    inventory = {"memory": {"source": "meminfo", "total_bytes": 62 * 1024**3, "dimms": []}}
    check = hardware_checks(inventory, {"expected": {"memory": {"total_gb": 64}}})[0]
    assert not check["ok"] and "below the installed memory" in check["comment"]


def test_bond_members_against_netbox(lab, profiles):
    dev = lab.device("srv-r1-01")
    profile = select_profile({"hwgen_profiles": profiles}, "gen10")
    inventory = simulate(simulate_spec("srv-r1-01"))
    interfaces = copy.deepcopy(lab.interfaces(dev))
    check = by_name(validate(inventory, profile, dev, interfaces))["bond.bond0"]
    assert check["ok"] and check["actual"] == ["eno1", "eno2"]
    # NetBox moved eno2 out of the LAG: the switch side no longer matches the host's bond.
    next(i for i in interfaces if i["name"] == "eno2")["lag"] = None
    report = validate(inventory, profile, dev, interfaces)
    assert "bond.bond0" in report["failed"]
    assert "NetBox puts ['eno1'] in bond0, the profile bonds ['eno1', 'eno2']" in format_report(
        report
    )
    interfaces = [i for i in lab.interfaces(dev) if i["name"] != "bond0"]
    check = by_name(validate(inventory, profile, dev, interfaces))["bond.bond0"]
    assert not check["ok"] and "NetBox has no interface bond0" in check["comment"]


def test_jumbo_mtu_profile_fails_on_a_1514_byte_switch_port(lab, profiles):
    """gen10 sets MTU 9000 on bond0 (eno1, eno2): a switch port that takes 1514-byte frames fails."""
    report = run(lab, profiles, "srv-r1-01", {"lldp": {"eno1": {"port_mfs": 1514}}})
    assert report["failed"] == ["lldp.eno1.mfs"]
    assert (
        "[FAIL] lldp.eno1.mfs: switch port tor1-r1 Ethernet1 on eno1 takes frames up to 1514 "
        "bytes; the profile's MTU 9000 needs at least 9014" in format_report(report)
    )
    report = run(lab, profiles, "srv-r1-01", {"lldp": {"eno1": {"port_mfs": 9216}}})
    assert report["passed"] and by_name(report)["lldp.eno1.mfs"]["ok"]


def test_firmware_of_another_family_is_not_a_finding(lab, profiles):
    """A box reporting iLO 5 firmware is not judged against gen11's iLO 4 minimum."""
    report = run(lab, profiles, "srv-r1-02", {"bmc": {"firmware": "1.40", "family": "iLO 5"}})
    check = by_name(report)["firmware.bmc"]
    assert check["ok"] and check["skipped"] and "that is for iLO 4" in check["comment"]
    report = run(lab, profiles, "srv-r1-02", {"bmc": {"firmware": "2.50"}})
    assert report["failed"] == ["firmware.bmc"]
    assert "iLO 4 2.50 is below the profile's minimum 2.55" in format_report(report)
