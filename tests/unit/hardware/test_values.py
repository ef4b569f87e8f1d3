import pytest

from salt_ext.utils.hardware import ifnames, values


@pytest.mark.parametrize(
    "serial,reason",
    [
        ("To be filled by O.E.M.", "vendor placeholder"),
        ("Default string", "vendor placeholder"),
        ("System Serial Number", "vendor placeholder"),
        ("0123456789", "vendor placeholder"),
        ("1234567", "digit sequence"),
        ("4242", "repeated pattern (anonymised)"),
        ("4343", "repeated pattern (anonymised)"),
        ("00000000", "repeated pattern (anonymised)"),
        ("4242-SERVICE_TAG", "repeated pattern (anonymised)"),
        ("42", "too short to be a serial"),
        ("OEM Define 3", "placeholder word"),
        ("", "empty"),
        (None, "missing"),
        ("12345678-1234-5678-90AB-CDDEEFAABBCC", "placeholder UUID"),
        ("00000000-0000-0000-0000-000000000000", "placeholder UUID"),
    ],
)
def test_placeholders(serial, reason):
    assert values.placeholder_reason(serial) == reason


@pytest.mark.parametrize(
    "serial",
    [
        "S212101X7A18218",
        "QTFCQ57140285",
        "PWWFB0DLMCC0OG",
        "BXVWNR2",
        "LAB1R1S01",
        "18ABE4AE",
        "00000000-0000-0000-0000-AC1F6B05E596",
        "4C4C4544-0036-3210-805A-B7C04F4D3632",
    ],
)
def test_real_serials_not_flagged(serial):
    assert values.placeholder_reason(serial) is None


def test_sizes_speeds_macs():
    assert values.size_bytes("8192 MB") == 8 * 1024**3
    assert values.size_bytes("32 GB") == 32 * 1024**3
    assert values.size_bytes("No Module Installed") is None
    assert values.speed_number("2666 MT/s") == 2666
    assert values.speed_number("Unknown!") is None
    assert values.speed_number(-1) is None
    assert values.mac("48:DF:37:1E:60:B0") == "48:df:37:1e:60:b0"
    assert values.mac("48df.371e.60b0") is None
    assert values.mac("48-DF-37-1E-60-B0") == "48:df:37:1e:60:b0"
    assert values.mac("00:00:00:00:00:00") is None
    assert values.clean("  Not Specified ") is None
    assert values.clean(" PROC  1 DIMM  1 ") == "PROC 1 DIMM 1"


@pytest.mark.parametrize(
    "actual,minimum,ok",
    [
        ("2.61", "2.50", True),
        ("2.61", "2.70", False),
        ("1.2.5", "1.2.10", False),
        ("I36", "I36", True),
        ("v2.52 (10/25/2017)", "2.40", True),
        ("2.0b", "2.0a", True),
        ("2.0", "2.0b", False),
        ("S3E_3B09.02", "S3E_3B08.99", True),
    ],
)
def test_version_at_least(actual, minimum, ok):
    assert values.version_at_least(actual, minimum) is ok


def test_version_unknown():
    assert values.version_at_least(None, "1.0") is None


@pytest.mark.parametrize(
    "left,right",
    [
        ("Ethernet7", "Et7"),
        ("Ethernet7", "eth7"),
        ("GigabitEthernet1/0/1", "Gi1/0/1"),
        ("TenGigabitEthernet1/1", "Te1/1"),
        ("Ethernet1/1", "Et1/1"),
        ("xe-0/0/1", "XE-0/0/1"),
        ("swp46", "swp46"),
        ("Port-Channel10", "Po10"),
        ("Management1", "Ma1"),
    ],
)
def test_same_port(left, right):
    assert ifnames.same_port(left, right)


@pytest.mark.parametrize(
    "left,right",
    [
        ("Ethernet7", "Et17"),
        ("Ethernet1/1", "Et1/2"),
        ("xe-0/0/1", "ge-0/0/1"),
        ("Te1/1", "Twe1/1"),
        ("Ethernet1", None),
        ("swp46", "swp4"),
    ],
)
def test_different_port(left, right):
    assert not ifnames.same_port(left, right)


def test_same_host():
    assert ifnames.same_host("tor1-r1.lab1.example.net", "TOR1-R1")
    assert not ifnames.same_host("tor1-r1", "tor2-r1")
    assert not ifnames.same_host(None, None)
