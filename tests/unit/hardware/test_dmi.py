"""dmidecode parser against every real server fixture in ../shared plus this machine's capture."""

import pytest

from salt_ext.utils.hardware.dmi import parse_dmidecode, parse_records
from salt_ext.utils.hardware.inventory import assemble
from tests.unit.hardware.conftest import SHARED_HW, requires_shared, shared_files

GB = 1024**3

# file: (vendor, product, serial, cpu model fragment, sockets, cores, threads, dimms, total GB,
#        empty slots, present PSUs, bios version)
EXPECTED = {
    "Dell_DSS7500.txt": (
        "Dell Inc.",
        "DSS7500",
        "4242-SERVICE_TAG",
        "E5-2630 v4",
        2,
        20,
        20,
        12,
        192,
        0,
        2,
        "2.3.4",
    ),
    "Dell_PowerEdge_M630.txt": (
        "Dell Inc.",
        "PowerEdge M630",
        "4242",
        "E5-2683 v3",
        2,
        28,
        56,
        8,
        64,
        16,
        0,
        "1.2.5",
    ),
    "HP_BL460c_Gen9.txt": (
        "HP",
        "ProLiant BL460c Gen9",
        "4242",
        "E5-2640 v4",
        2,
        20,
        40,
        6,
        48,
        10,
        0,
        "I36",
    ),
    "HP_DL380p_Gen8.txt": (
        "HP",
        "ProLiant DL380p Gen8",
        "4242",
        "E5-2620 0",
        2,
        12,
        24,
        10,
        64,
        14,
        2,
        "P70",
    ),
    "HP_ProLiant_BL460c_Gen10_Graphics_Exp.txt": (
        "HPE",
        "ProLiant BL460c Gen10 Graphics Exp",
        "4242",
        "Gold 6132",
        2,
        28,
        56,
        4,
        128,
        12,
        0,
        "I41",
    ),
    "HP_SL4540_Gen8.txt": (
        "HP",
        "ProLiant SL4540 Gen8",
        "4242",
        "E5-2407 v2",
        2,
        8,
        8,
        8,
        128,
        4,
        4,
        "P74",
    ),
    "QCT_X10E-9N.txt": (
        "Quanta Cloud Technology Inc.",
        "QuantaMicro X10E-9N",
        "QTFCQ57140285",
        "E3-1240 v6",
        1,
        4,
        8,
        2,
        32,
        2,
        0,
        "S3E_3B09.02",
    ),
    "SM_SSG-6028R.txt": (
        "Supermicro",
        "SSG-6028R-OSD072P",
        "S212101X7A18218",
        "E5-2620 v4",
        1,
        8,
        16,
        4,
        64,
        12,
        2,
        "2.0b",
    ),
    "SYS-5039MS-H12TRF-OS012.txt": (
        "Supermicro",
        "SYS-5039MS-H12TRF-OS012",
        "E235735X6B01665",
        "E3-1245 v5",
        1,
        4,
        8,
        2,
        32,
        2,
        2,
        "2.2",
    ),
    "unknown.txt": ("Online Labs", "SR", "42", "C2750", 1, 8, 8, 4, 32, 0, 0, "00.00.00.0007"),
}
PLACEHOLDER_SERIAL = {
    "Dell_DSS7500.txt",
    "Dell_PowerEdge_M630.txt",
    "HP_BL460c_Gen9.txt",
    "HP_DL380p_Gen8.txt",
    "HP_ProLiant_BL460c_Gen10_Graphics_Exp.txt",
    "HP_SL4540_Gen8.txt",
    "unknown.txt",
}


@requires_shared
def test_every_shared_fixture_has_an_expectation():
    names = {p.name for p in shared_files("dmidecode")}
    assert names, "no dmidecode fixtures found"
    # A new fixture must get an expectation row; a fixture we have never seen still parses below.
    assert set(EXPECTED) <= names


@requires_shared
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dmidecode_real_servers(name):
    text = (SHARED_HW / "dmidecode" / name).read_text()
    vendor, product, serial, cpu, sockets, cores, threads, dimms, total_gb, empty, psus, bios = (
        EXPECTED[name]
    )
    inv = assemble({"dmidecode": text})
    assert inv["system"]["vendor"] == vendor
    assert inv["system"]["product"] == product
    assert inv["system"]["serial"] == serial
    assert inv["system"]["bios_version"] == bios
    assert inv["system"]["bios_date"]
    assert cpu in inv["cpu"]["model"]
    assert inv["cpu"]["source"] == "dmidecode"
    assert (inv["cpu"]["sockets"], inv["cpu"]["cores"], inv["cpu"]["threads"]) == (
        sockets,
        cores,
        threads,
    )
    assert inv["memory"]["dimm_count"] == dimms
    assert inv["memory"]["total_bytes"] == total_gb * GB
    assert len(inv["memory"]["empty_slots"]) == empty
    assert len({d["slot"] for d in inv["memory"]["dimms"]}) == dimms, "slots must be unique"
    assert all(d["size_bytes"] > 0 for d in inv["memory"]["dimms"])
    assert sum(1 for p in inv["psus"] if p["present"]) == psus
    flagged = {p["field"] for p in inv["placeholders"]}
    assert ("system.serial" in flagged) == (name in PLACEHOLDER_SERIAL)


@requires_shared
@pytest.mark.parametrize("path", shared_files("dmidecode"), ids=lambda p: p.name)
def test_dmidecode_never_seen_shape_invariants(path):
    """Invariants that hold for any server, including fixtures added after this test was written."""
    parsed = parse_dmidecode(path.read_text())
    assert parsed["record_count"] > 10
    assert parsed["system"].get("product")
    for dimm in parsed["dimms"]:
        assert dimm["installed"] == (dimm["size_bytes"] is not None)
        if dimm["installed"]:
            assert dimm["size_bytes"] % (1024**2) == 0
    for cpu in parsed["cpus"]:
        if cpu["populated"]:
            assert cpu["model"] and cpu["cores"] and cpu["threads"] >= cpu["cores"]


@requires_shared
def test_dmidecode_vendor_specifics(shared_hw):
    hp = parse_dmidecode((shared_hw / "dmidecode" / "HP_BL460c_Gen9.txt").read_text())
    assert [{k: n[k] for k in ("port", "pci", "mac", "type")} for n in hp["oem_nics"]] == [
        {"port": 1, "pci": "0000:06:00.0", "mac": "48:df:37:1e:60:b0", "type": 233},
        {"port": 2, "pci": "0000:06:00.1", "mac": "48:df:37:1e:60:b1", "type": 233},
    ]
    assert hp["oem_firmware"]["System ROM"] == "v2.52 (10/25/2017)"
    assert hp["bios"]["firmware_revision"] == "2.61"
    inv = assemble({"dmidecode": (shared_hw / "dmidecode" / "HP_BL460c_Gen9.txt").read_text()})
    assert inv["bmc"]["firmware"] == "2.61" and inv["bmc"]["source"] == "dmidecode"
    dell = parse_dmidecode((shared_hw / "dmidecode" / "Dell_PowerEdge_M630.txt").read_text())
    assert dell["oem_firmware"] == {}, "Dell's type 216 is not a firmware table"
    assert dell["board"]["product"] == "0PHY8D", "hosting board chosen over the interconnect board"
    assert [d["pci"] for d in dell["onboard"] if d["type"] == "Ethernet"] == [
        "0000:01:00.0",
        "0000:01:00.1",
    ]
    sm = parse_dmidecode((shared_hw / "dmidecode" / "SM_SSG-6028R.txt").read_text())
    assert [c["populated"] for c in sm["cpus"]] == [True, False]
    assert sm["psus"][2]["present"] is False and sm["psus"][2]["serial"] == "To be filled by O.E.M."
    unknown = parse_dmidecode((shared_hw / "dmidecode" / "unknown.txt").read_text())
    slots = [d["slot"] for d in unknown["dimms"]]
    assert len(slots) == len(set(slots)) == 4, "repeated locators DIMM0/DIMM1 are disambiguated"


@requires_shared
def test_dmidecode_placeholders_flagged(shared_hw):
    inv = assemble({"dmidecode": (shared_hw / "dmidecode" / "unknown.txt").read_text()})
    flagged = {p["field"]: p["reason"] for p in inv["placeholders"]}
    assert flagged["system.serial"] == "too short to be a serial"
    assert flagged["system.uuid"] == "placeholder UUID"
    assert "chassis.serial" in flagged  # "Chassis Serial Number"
    sm = assemble({"dmidecode": (shared_hw / "dmidecode" / "SM_SSG-6028R.txt").read_text()})
    assert [p["field"] for p in sm["placeholders"]] == [], sm["placeholders"]


def test_dmidecode_captured_vm_has_no_tables(captured):
    text = (captured / "dmidecode.txt").read_text()
    assert parse_dmidecode(text)["record_count"] == 0
    inv = assemble({"dmidecode": text})
    assert inv["sources"]["dmidecode"] == "empty"
    assert any(w.startswith("dmidecode: no SMBIOS records") for w in inv["warnings"])


def test_parse_records_lists_and_garbage():
    text = "garbage line\nHandle 0x0001, DMI type 1, 27 bytes\nSystem Information\n\tSerial Number: X1\n\tFlags:\n\t\tA\n\t\tB\n\tNo colon line\n\nHandle 0x0002, DMI type 4, 42 bytes\nProcessor Information\n"
    records = parse_records(text)
    assert [r["type"] for r in records] == [1, 4]
    assert records[0]["props"] == {"Serial Number": "X1", "Flags": ["A", "B"]}
    assert records[0]["title"] == "System Information"
    assert parse_dmidecode("")["system"] == {}


@requires_shared
@pytest.mark.parametrize("path", shared_files("dmidecode"), ids=lambda p: p.name)
def test_truncated_and_mangled_output_never_raises(path):
    """Output cut short (a tool killed by a timeout) or with CRLF line ends still parses."""
    lines = path.read_text().splitlines()
    for cut in range(0, len(lines), max(1, len(lines) // 25)):
        inv = assemble({"dmidecode": "\n".join(lines[:cut])})
        assert inv["memory"]["dimm_count"] in (None, *range(0, 64))
    crlf = parse_dmidecode("\r\n".join(lines))
    assert crlf["system"] == parse_dmidecode("\n".join(lines))["system"]


@requires_shared
def test_hpe_gen10_hex_dumped_oem_records(shared_hw):
    """dmidecode 3.1 prints the Gen10 blade's HPE records only as hex dumps: decoded from bytes."""
    text = (shared_hw / "dmidecode" / "HP_ProLiant_BL460c_Gen10_Graphics_Exp.txt").read_text()
    parsed = parse_dmidecode(text)
    assert [(n["port"], n["pci"], n["type"]) for n in parsed["oem_nics"]] == [
        (1, "0000:37:00.0", 233),
        (2, "0000:37:00.1", 233),
    ]
    assert all(n["mac"] for n in parsed["oem_nics"])
    firmware = parsed["oem_firmware"]
    assert firmware["Server Platform Services (SPS) Firmware"] == "4.1.4.251"
    assert firmware["System Programmable Logic Device"] == "0x1E"
    assert firmware["Innovation Engine (IE) Firmware"] == "0.2.0.11"
    inv = assemble({"dmidecode": text})
    assert (inv["firmware"]["bios"], inv["firmware"]["bios_family"]) == ("2.04", "I41")
    assert inv["firmware"]["bmc_family"] == "iLO 5"


@requires_shared
def test_hp_gen8_rom_family_is_not_the_bios_version(shared_hw):
    inv = assemble({"dmidecode": (shared_hw / "dmidecode" / "HP_DL380p_Gen8.txt").read_text()})
    assert (inv["firmware"]["bios"], inv["firmware"]["bios_family"]) == ("2015.07.01", "P70")
