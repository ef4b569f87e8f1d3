"""
Parser and validation defects of issue 15 on outputs authored from the formats (dmidecode man page
and dmioem.c, SMBIOS spec, lldpctl keyvalue/json): ``fixtures/authored/README.md``. These run
without ``../shared``.
"""

import copy
import pathlib

import pytest

from salt_ext.utils.hardware.dmi import hp_216_version, parse_dmidecode, parse_records
from salt_ext.utils.hardware.inventory import assemble, finalize
from salt_ext.utils.hardware.lldp import mau_type, parse_lldp, parse_lldp_keyvalue
from salt_ext.utils.hardware.profiles import check_profile
from salt_ext.utils.hardware.validate import (
    format_report,
    hardware_checks,
    interface_checks,
    validate,
)
from salt_ext.utils.hardware.values import clean

AUTHORED = pathlib.Path(__file__).resolve().parent / "fixtures" / "authored"


def text(name):
    return (AUTHORED / name).read_text()


def inventory(dmidecode=None, lldp=None, **extra):
    raw = {}
    if dmidecode:
        raw["dmidecode"] = text(dmidecode)
    if lldp:
        raw["lldp"] = text(lldp)
    raw.update(extra)
    return assemble(raw)


# --- HPE OEM NIC table ---------------------------------------------------------------------------


def nic_table(parsed):
    return [(n["port"], n["pci"], n["mac"], n["type"]) for n in parsed["oem_nics"]]


def test_oem_nics_two_ports_sharing_a_pci_function_both_kept_text_form():
    parsed = parse_dmidecode(text("dmidecode-hp-gen8-text.txt"))
    assert nic_table(parsed) == [
        (1, "0000:03:00.0", "00:02:c9:5a:7e:f0", 209),
        (2, "0000:03:00.0", "00:02:c9:5a:7e:f1", 209),
    ], "keyed by port: the second port must not overwrite the first; 'Not Installed' skipped"


def test_oem_nics_decoded_dmidecode_35_form():
    parsed = parse_dmidecode(text("dmidecode-hpe-gen10p-decoded.txt"))
    assert nic_table(parsed) == [
        (1, "0000:12:00.0", "b4:7a:f1:3e:20:10", 233),
        (2, "0000:12:00.0", "b4:7a:f1:3e:20:11", 233),
    ], "a disabled NIC 3 is not a NIC"


def test_oem_nics_from_the_hex_dump_of_233_and_209():
    """dmidecode 3.1 prints HPE Gen10's 233/209 only as bytes: decoded, one entry per port."""
    parsed = parse_dmidecode(text("dmidecode-hpe-gen10-hexonly.txt"))
    assert nic_table(parsed) == [
        (1, "0000:5c:00.0", "ec:0d:9a:11:22:30", 233),
        (2, "0000:5c:00.0", "ec:0d:9a:11:22:31", 233),
        (3, "0000:02:00.0", "94:40:c9:aa:bb:01", 233),
    ], "the 209 record repeats ports 1-2 and adds nothing"
    inv = inventory("dmidecode-hpe-gen10-hexonly.txt")
    assert len(inv["oem"]["nics"]) == 3


def test_oem_nics_209_bytes_alone_and_other_vendors_ignored():
    dump = (
        "Handle 0x0001, DMI type 1, 27 bytes\nSystem Information\n\tManufacturer: {vendor}\n"
        "\tProduct Name: ProLiant BL460c Gen10\n\n"
        "Handle 0x0063, DMI type 209, 28 bytes\nOEM-specific Type\n\tHeader and Data:\n"
        "\t\tD1 1C 63 00 01 5C EC 0D 9A 11 22 30 00 00 00 00\n"
        "\t\t00 00 00 00 FF FF 00 00 00 00 00 00\n"
    )
    parsed = parse_dmidecode(dump.format(vendor="HPE"))
    assert nic_table(parsed) == [(1, "0000:5c:00.1", "ec:0d:9a:11:22:30", 209)]
    assert parse_dmidecode(dump.format(vendor="Dell Inc."))["oem_nics"] == []


def test_record_bytes_refuses_incomplete_dumps():
    records = parse_records(
        "Handle 0x0060, DMI type 233, 41 bytes\nOEM-specific Type\n\tHeader and Data:\n"
        "\t\tE9 29 60 00 00 00 5C 00\n"
    )
    assert (
        parse_dmidecode(
            "Handle 0x0001, DMI type 1, 27 bytes\nSystem Information\n\tManufacturer: HPE\n\n"
            "Handle 0x0060, DMI type 233, 41 bytes\nOEM-specific Type\n\tHeader and Data:\n"
            "\t\tE9 29 60 00 00 00 5C 00\n"
        )["oem_nics"]
        == []
    ), "a cut dump (41 bytes announced, 8 printed) is not decoded"
    assert records[0]["props"]["Header and Data"] == ["E9 29 60 00 00 00 5C 00"]


# --- HPE type 216 firmware -----------------------------------------------------------------------


def test_216_versions_only_in_the_bytes_are_decoded():
    firmware = parse_dmidecode(text("dmidecode-hpe-gen10-hexonly.txt"))["oem_firmware"]
    assert firmware == {
        "System ROM": "v2.42 (11/21/2020)",  # the version string
        "System Programmable Logic Device": "0x22",  # format 1, no version string
        "Server Platform Services (SPS) Firmware": "4.1.4.424",  # format 12
        "Innovation Engine (IE) Firmware": "0.2.0.12",  # format 12
        "SPI Descriptor Version": "1.2 0",  # no strings at all: name from the type, format 11
    }


def test_216_decoded_by_dmidecode_35():
    firmware = parse_dmidecode(text("dmidecode-hpe-gen10p-decoded.txt"))["oem_firmware"]
    assert firmware == {
        "System ROM": "v1.82 (06/07/2023)",
        "System Programmable Logic Device": "0x0C",
        "Server Platform Services (SPS) Firmware": "4.4.4.603",
    }, "'No Version Data' is no version"


@pytest.mark.parametrize(
    "fmt, data, generation, expected",
    [
        (0, [], None, None),
        (1, [0x1E, 0x1E], None, "0x1E"),
        (1, [0x83, 0x05], None, "0x05 B.0x03"),
        (2, [0x25], None, "2.5"),
        (3, [1, 2, 3], None, None),
        (4, [0x10, 0x04], None, "1.0.4"),
        (5, [0x10, 0x04], 9, "1.0.4"),
        (5, [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07], 10, "2.4.6.7"),
        (5, [0x10, 0x04], None, None),
        (6, [0x3C, 0x00], None, "0.60"),
        (7, [2, 4, 4, 18, 0xE3, 0x07], None, "v2.04 (04/18/2019)"),
        (9, [3, 30, 0xD5, 0x00], None, "3.30.213"),
        (10, [8, 5, 0, 18], None, "8.5.0 Build 18"),
        (12, [4, 0, 1, 0, 4, 0, 0xFB, 0], None, "4.1.4.251"),
        (13, [7], None, "7"),
        (14, [1, 2, 3, 4], None, "1.2.3.4"),
        (17, [0x78, 0x56, 0x34, 0x12], None, "12345678"),
        (99, [1], None, None),
    ],
)
def test_hp_216_version_formats(fmt, data, generation, expected):
    assert hp_216_version(fmt, data, generation) == expected


# --- placeholders and HP BIOS family --------------------------------------------------------------


def test_digit_run_versions_are_placeholders():
    inv = inventory("dmidecode-supermicro-1u.txt")
    assert inv["system"]["version"] is None and inv["chassis"]["version"] is None
    assert clean("0123456789") is None and clean(" System Version ") is None
    assert clean("1.10") == "1.10"


def test_hp_gen8_bios_family_is_not_a_version():
    inv = inventory("dmidecode-hp-gen8-text.txt")
    assert inv["firmware"]["bios_family"] == "P71"
    assert inv["firmware"]["bios"] == "2019.05.24", "Gen8 ROMs are versioned by their date"
    assert inv["firmware"]["bmc_family"] == "iLO 4"
    # without the 216 record the type 0 release date is the ROM's
    no_216 = text("dmidecode-hp-gen8-text.txt").split("Handle 0xD800")[0]
    inv = assemble({"dmidecode": no_216})
    assert (inv["firmware"]["bios"], inv["firmware"]["bios_family"]) == ("2019.05.24", "P71")


def test_hpe_gen10_bios_from_the_system_rom():
    inv = inventory("dmidecode-hpe-gen10-hexonly.txt")
    assert (inv["firmware"]["bios"], inv["firmware"]["bios_family"]) == ("2.42", "U38")
    assert (inv["firmware"]["bmc"], inv["firmware"]["bmc_family"]) == ("2.30", "iLO 5")
    supermicro = inventory("dmidecode-supermicro-1u.txt")
    assert (supermicro["firmware"]["bios"], supermicro["firmware"]["bios_family"]) == ("3.4", None)


# --- new inventory fields -------------------------------------------------------------------------


def test_cpu_signature_stepping_and_socket():
    cpu = inventory("dmidecode-supermicro-1u.txt")["cpu"]
    assert (cpu["signature"], cpu["stepping"], cpu["socket_type"]) == (
        "Family 6, Model 85, Stepping 7",
        7,
        "LGA3647-1",
    )
    # CPU2 prints no Signature line: computed from the CPUID bytes of ID
    assert cpu["packages"][1]["signature"] == "Family 6, Model 85, Stepping 7"
    assert cpu["packages"][1]["cpuid"] == "57 06 05 00 FF FB EB BF"


def test_dimm_detail_ecc_rank_and_capacity():
    memory = inventory("dmidecode-supermicro-1u.txt")["memory"]
    assert [
        (d["slot"], d["module"], d["type_detail"], d["ecc"], d["rank"]) for d in memory["dimms"]
    ] == [
        ("P1-DIMMA1", "LRDIMM", "Synchronous LRDIMM", True, 4),
        ("P2-DIMMA1", "LRDIMM", "Synchronous LRDIMM", True, 4),
    ]
    assert (memory["ecc"], memory["error_correction"], memory["max_capacity_gb"]) == (
        True,
        "Multi-bit ECC",
        3072.0,
    )
    assert memory["empty_slots"] == ["P1-DIMMB1"]


def test_memory_without_ecc():
    no_ecc = text("dmidecode-supermicro-1u.txt").replace(
        "Error Correction Type: Multi-bit ECC", "Error Correction Type: None"
    )
    memory = assemble({"dmidecode": no_ecc})["memory"]
    assert (memory["ecc"], memory["error_correction"]) == (False, "None")


def test_pcie_slots_in_use():
    pcie = inventory("dmidecode-supermicro-1u.txt")["pcie"]
    assert (pcie["slots_total"], pcie["slots_in_use"]) == (3, 2), "the M.2 socket is not PCIe slot"
    assert [s["bus"] for s in pcie["slots"]] == ["0000:5e:00.0", None, "0000:18:00.0"]


# --- LLDP ------------------------------------------------------------------------------------------


def test_lldp_interface_without_neighbour_is_not_one():
    nbs = parse_lldp_keyvalue(text("lldpctl-cisco-access.keyvalue"))
    assert sorted(nbs) == ["eno1", "eno3"], "eno2 has VLAN lines only"
    assert parse_lldp_keyvalue("lldp.eth0.vlan.vlan-id=20\nlldp.eth0.vlan=v20\n") == {}


def test_lldp_multiline_values_kept_whole():
    nbs = parse_lldp_keyvalue(text("lldpctl-cisco-access.keyvalue"))
    descr = nbs["eno1"]["chassis_descr"].splitlines()
    assert descr[0].startswith("Cisco IOS Software, C2960X Software")
    assert descr[-1] == "Compiled Wed 21-Oct-20 11:08 by prod_rel_team" and len(descr) == 4
    nexus = nbs["eno3"]["chassis_descr"].splitlines()
    assert nexus[2] == "" and nexus[3].startswith("Copyright (c) 2002-2021"), "empty line kept"
    assert nbs["eno1"]["mgmt_ip"] == "10.77.0.3", "the lines after the value still parse"


def test_lldp_frame_size_and_link_type():
    nbs = parse_lldp(text("lldpctl-cisco-access.keyvalue"))
    assert (nbs["eno1"]["port_mfs"], nbs["eno1"]["link_type"], nbs["eno1"]["link_speed_mbps"]) == (
        1514,
        "1000BaseTFD",
        1000,
    )
    assert (nbs["eno3"]["port_mfs"], nbs["eno3"]["link_type"]) == (9216, "10GigBaseLR")
    junos = parse_lldp(text("lldpctl-junos-jumbo.json"))["ens1f0"]
    assert (junos["port_mfs"], junos["link_type"], junos["link_speed_mbps"]) == (
        9216,
        "25GbaseSR",
        25000,
    )
    assert mau_type("unknown") == (None, None) and mau_type(None) == (None, None)


# --- validation -------------------------------------------------------------------------------------


PROFILE = {
    "name": "gen20",
    "device_types": ["sys-1029p-wtr"],
    "match": {"vendor": "^Supermicro", "product": "^SYS-1029P"},
    "expected": {
        "cpu": {"model": "Xeon.*4214", "sockets": 2, "socket_type": "^LGA3647", "stepping": 7},
        "memory": {
            "total_gb": 128,
            "dimm_count": 2,
            "dimm_size_gb": 64,
            "type": "^DDR4$",
            "module": "^LRDIMM$",
            "ecc": True,
            "rank": 4,
            "max_capacity_gb": {"min": 3072},
        },
        "pcie": {"slots_in_use": 2},
        "firmware": {"bios": "3.4"},
    },
    "config": {"mtu": 9000},
}


def test_new_fields_checkable_and_profile_schema():
    assert check_profile("gen20", {k: v for k, v in PROFILE.items() if k != "name"}) == []
    checks = hardware_checks(inventory("dmidecode-supermicro-1u.txt"), PROFILE)
    assert {c["name"]: c["ok"] for c in checks} == {
        "cpu.model": True,
        "cpu.socket_type": True,
        "cpu.sockets": True,
        "cpu.stepping": True,
        "memory.total_gb": True,
        "memory.dimm_count": True,
        "memory.dimm_size_gb": True,
        "memory.type": True,
        "memory.module": True,
        "memory.ecc": True,
        "memory.rank": True,
        "memory.max_capacity_gb": True,
        "pcie.slots_in_use": True,
        "firmware.bios": True,
    }


@pytest.mark.parametrize(
    "mutate, message",
    [
        ({"memory": {"ecc": "yes"}}, "expected:memory:ecc: must be true or false"),
        ({"memory": {"module": "(RDIMM"}}, "expected:memory:module: is not a valid regular"),
        ({"pcie": {"slots_in_use": -1}}, "expected:pcie:slots_in_use: must be a non-negative"),
        ({"lldp": {"min_mfs": 20}}, "expected:lldp:min_mfs: must be a frame size in bytes"),
        ({"lldp": {"speed": 1}}, "expected:lldp: unknown key(s) ['speed']"),
        ({"firmware": {"bmc_family": ""}}, "expected:firmware:bmc_family: must be a non-empty"),
    ],
)
def test_new_schema_errors(mutate, message):
    profile = {"device_types": ["x"], "match": {"vendor": "x"}, "expected": mutate}
    errors = check_profile("gen20", profile)
    assert any(message in e for e in errors), errors


def failed(checks):
    return {c["name"]: c["comment"] for c in checks if not c["ok"]}


def test_failure_messages_carry_expected_and_found():
    inv = inventory("dmidecode-supermicro-1u.txt")
    inv["memory"]["dimms"][1].update(size_bytes=32 * 1024**3, module="RDIMM", rank=2)
    inv["memory"].update(ecc=False, error_correction="None")
    inv["nics"] = [
        {"name": "eno1", "mac": "ac:1f:6b:00:00:01", "driver": "igb", "speed_mbps": 1000},
    ]
    inv["nics"][0]["firmware"] = "1.2"
    inv = finalize(inv)
    profile = copy.deepcopy(PROFILE)
    profile["expected"].update(
        cpu={"model": "Gold 6230", "socket_type": "LGA4189", "stepping": {"min": 8}},
        pcie={"slots_in_use": 3},
        nics={"min_speed_mbps": 10000, "driver": "^ixgbe$"},
        firmware={"bios": "3.5", "bmc": "1.70", "nic": "3.0"},
    )
    comments = failed(hardware_checks(inv, profile))
    assert comments == {
        "cpu.model": "CPU model 'Intel(R) Xeon(R) Silver 4214 CPU @ 2.20GHz' does not match the "
        "profile's 'Gold 6230'",
        "cpu.socket_type": "CPU socket type 'LGA3647-1' does not match the profile's 'LGA4189'",
        "cpu.stepping": "expected stepping >= 8, found 7",
        "memory.total_gb": "expected 128 GB, found 96.0 GB",
        "memory.dimm_size_gb": "expected 64 GB per DIMM, found P2-DIMMA1: 32.0 GB",
        "memory.module": "expected every DIMM's DIMM module type to match '^LRDIMM$', found "
        "P2-DIMMA1: RDIMM",
        "memory.ecc": "expected ECC memory, found non-ECC (Error Correction Type: None)",
        "memory.rank": "expected rank 4 on every DIMM, found P2-DIMMA1: 2",
        "pcie.slots_in_use": "expected 3, found 2 (in use: RSC-W-68 SLOT1 PCI-E X16, "
        "AOC-2UR68-i4XT SLOT)",
        "nics.speed": "expected >= 10000 Mb/s, found eno1: 1000 Mb/s",
        "nics.driver": "expected drivers matching '^ixgbe$', found eno1: igb",
        "firmware.bios": "BIOS 3.4 is below the profile's minimum 3.5",
        "firmware.bmc": "BMC version not reported; the profile's minimum is 1.70",
        "firmware.nic": "NIC firmware below the profile's minimum 3.0: eno1 1.2",
    }


def test_firmware_minimum_only_within_the_family():
    gen9_profile = {
        "name": "gen11",
        "expected": {"firmware": {"bmc": "2.55", "bmc_family": "iLO 4", "bios": "2.40"}},
    }
    gen10 = inventory("dmidecode-hpe-gen10-hexonly.txt")  # iLO 5 2.30
    check = {c["name"]: c for c in hardware_checks(gen10, gen9_profile)}["firmware.bmc"]
    assert check["ok"] and check["skipped"]
    assert (
        check["comment"]
        == "iLO 5 2.30 not compared with the profile's minimum 2.55: that is for iLO 4"
    )
    gen8 = inventory("dmidecode-hp-gen8-text.txt")  # iLO 4 2.73, P71 ROM 2019.05.24
    gen9_profile["expected"]["firmware"].update(bmc="2.80", bios_family="I36")
    checks = {c["name"]: c for c in hardware_checks(gen8, gen9_profile)}
    assert failed(checks.values()) == {
        "firmware.bmc": "iLO 4 2.73 is below the profile's minimum 2.80",
    }, "same family iLO 4: compared"
    assert checks["firmware.bios"]["skipped"], "a P71 ROM date is no I36 version"
    gen9_profile["expected"]["firmware"]["bios_family"] = "P71"
    gen9_profile["expected"]["firmware"]["bios"] = "2020.01.01"
    assert failed(hardware_checks(gen8, gen9_profile))["firmware.bios"] == (
        "BIOS P71 2019.05.24 is below the profile's minimum 2020.01.01"
    )


def test_mtu_9000_profile_fails_on_a_1514_byte_switch_port():
    inv = inventory("dmidecode-supermicro-1u.txt", "lldpctl-cisco-access.keyvalue")
    profile = {"name": "gen20", "expected": {}, "config": {"mtu": 9000}}
    assert failed(hardware_checks(inv, profile)) == {
        "lldp.eno1.mfs": "switch port acc-sw1.pop3 Gi1/0/17 on eno1 takes frames up to 1514 "
        "bytes; the profile's MTU 9000 needs at least 9014",
    }, "eno3's 9216-byte port is fine; eno2 has no neighbour"
    profile["config"]["bond"] = {"name": "bond0", "members": ["eno3"]}
    assert failed(hardware_checks(inv, profile)) == {}, "the MTU goes on the bond members only"
    profile["config"] = {"mtu": 1500}
    assert failed(hardware_checks(inv, profile)) == {}


def test_explicit_min_mfs_and_link_type():
    inv = inventory(lldp="lldpctl-junos-jumbo.json")
    profile = {"name": "g", "expected": {"lldp": {"min_mfs": 9216, "link_type": "^25G"}}}
    checks = {c["name"]: c for c in hardware_checks(inv, profile)}
    assert checks["lldp.ens1f0.mfs"]["ok"] and checks["lldp.ens1f0.link_type"]["ok"]
    profile["expected"]["lldp"]["link_type"] = "^100G"
    assert failed(hardware_checks(inv, profile)) == {
        "lldp.ens1f0.link_type": "ens1f0 negotiated 25GbaseSR with switch port leaf-07.fab2 "
        "563, the profile expects '^100G'",
    }
    del inv["lldp"]["ens1f0"]["port_mfs"]
    check = {c["name"]: c for c in hardware_checks(inv, profile)}["lldp.ens1f0.mfs"]
    assert (
        check["severity"] == "warning"
        and "does not report its maximum frame size" in check["comment"]
    )


def test_cabling_without_neighbour_says_so():
    inv = inventory(lldp="lldpctl-cisco-access.keyvalue")
    inv["nics"] = [{"name": "eno2", "mac": "ac:1f:6b:00:00:02"}]
    # an inventory captured before the fix: the identity-less entry is still there
    inv["lldp"]["eno2"] = {"interface": "eno2", "chassis_name": None, "port_id": None, "vlan": 20}
    iface = {
        "name": "eno2",
        "type": "10gbase-x-sfpp",
        "mgmt_only": False,
        "mac": "ac:1f:6b:00:00:02",
        "peer": {"device": "acc-sw1", "port": "Gi1/0/18"},
    }
    check = {c["name"]: c for c in interface_checks(inv, [iface])}["cabling.eno2"]
    assert not check["ok"] and "None" not in check["comment"]
    assert check["comment"].startswith("no LLDP neighbour on eno2 (")
    assert check["comment"].endswith("; NetBox says acc-sw1 Gi1/0/18")


def test_validate_report_lines_all_carry_values():
    inv = inventory("dmidecode-supermicro-1u.txt", "lldpctl-cisco-access.keyvalue")
    inv["nics"] = [{"name": "eno1", "mac": "ac:1f:6b:00:00:01"}]
    inv["bmc"]["mac"] = "ac:1f:6b:00:00:09"
    device = {"name": "srv-12", "serial": "S398765X0A99999", "device_type": {"slug": "other"}}
    interfaces = {
        "eno1": {"type": "1000base-t", "mac_address": "ac:1f:6b:00:00:05"},
        "ipmi": {"type": "1000base-t", "mgmt_only": True, "mac_address": "ac:1f:6b:00:00:0a"},
    }
    report = validate(inv, PROFILE, device, interfaces, {}, device_type={"slug": "other"})
    text_report = format_report(report)
    assert "[FAIL] serial: serial 'S398765X0A12345' differs from NetBox's 'S398765X0A99999'" in (
        text_report
    )
    assert (
        "[FAIL] mac.eno1: no NIC on the box has NetBox's MAC ac:1f:6b:00:00:05 for eno1 (the box "
        "has eno1 ac:1f:6b:00:00:01)" in text_report
    )
    assert (
        "[FAIL] mac.ipmi: BMC MAC ac:1f:6b:00:00:09 differs from NetBox's ac:1f:6b:00:00:0a"
        in text_report
    )
    assert "[FAIL] lldp.eno1.mfs: switch port acc-sw1.pop3 Gi1/0/17 on eno1" in text_report
    assert (
        "[FAIL] device_type: profile gen20 covers device types ['sys-1029p-wtr'], not NetBox "
        "device type 'other'" in text_report
    )


def test_lldp_json_interface_without_neighbour():
    doc = {
        "lldp": {
            "interface": [
                {"eno1": {"via": "LLDP", "vlan": {"vlan-id": "20", "pvid": True}}},
                {
                    "eno2": {
                        "via": "LLDP",
                        "chassis": {"sw1": {"id": {"type": "mac", "value": "00:1b:54:aa:bb:cd"}}},
                        "port": {"id": {"type": "ifname", "value": "Gi1/0/2"}},
                    }
                },
            ]
        }
    }
    assert sorted(parse_lldp(doc)) == ["eno2"]


def test_oem_nics_209_entry_233_does_not_list_is_kept():
    extra = text("dmidecode-hpe-gen10-hexonly.txt").replace(
        "D1 14 63 00 00 5C EC 0D 9A 11 22 30 00 5C EC 0D\n\t\t9A 11 22 31",
        "D1 14 63 00 00 5C EC 0D 9A 11 22 30 00 5E EC 0D\n\t\t9A 11 22 99",
    )
    nics = nic_table(parse_dmidecode(extra))
    assert nics[-1] == (4, "0000:5e:00.0", "ec:0d:9a:11:22:99", 209) and len(nics) == 4
