"""Inventory assembly, live collection with missing tools, simulation forms and overrides."""

import json

import pytest

from salt_ext.utils.hardware import inventory as inv
from tests.unit.hardware.conftest import requires_shared
from tests.unit.hardware.lab import SIMULATED, simulate_spec


def fake_machine(captured, missing=()):
    outputs = {
        ("dmidecode",): (
            1,
            (captured / "dmidecode.txt").read_text(),
            (captured / "dmidecode.err").read_text(),
        ),
        ("lscpu", "-J"): (0, (captured / "lscpu.json").read_text(), ""),
        ("lsblk", "-J", "-b", "-o", inv.LSBLK_COLUMNS): (
            0,
            (captured / "lsblk.json").read_text(),
            "",
        ),
        ("nvme", "list", "-o", "json"): (1, "", (captured / "nvme.err").read_text()),
        ("ip", "-j", "-d", "addr", "show"): (0, (captured / "ip-addr-d.json").read_text(), ""),
        ("lldpctl", "-f", "json"): (0, (captured / "lldpctl-2nb.json").read_text(), ""),
        ("ethtool", "-i", "eth0"): (0, (captured / "ethtool-i-eth0.txt").read_text(), ""),
        ("ethtool", "eth0"): (0, (captured / "ethtool-eth0.txt").read_text(), ""),
        ("ipmitool", "lan", "print"): (1, "", (captured / "ipmitool-lan.err").read_text()),
        ("ipmitool", "mc", "info"): (1, "", (captured / "ipmitool-mc.err").read_text()),
    }
    calls = []

    def run(argv):
        calls.append(tuple(argv))
        return outputs.get(tuple(argv), (1, "", "Operation not supported"))

    def which(name):
        return None if name in missing else f"/usr/bin/{name}"

    def read(path):
        assert path == "/proc/meminfo"
        return "MemTotal:       24684092 kB\n"

    return run, which, read, calls


def test_collect_on_captured_vm(captured):
    run, which, read, _ = fake_machine(captured)
    result = inv.collect(run, which, read)
    assert result["cpu"]["model"] == "AMD EPYC" and result["cpu"]["source"] == "lscpu"
    assert (
        result["memory"]["source"] == "meminfo"
        and result["memory"]["total_bytes"] == 24684092 * 1024
    )
    assert [d["name"] for d in result["disks"]] == ["vda"]
    assert [n["name"] for n in result["nics"]] == ["eth0"]  # lo and ifb* are virtual
    assert (
        result["nics"][0]["driver"] == "virtio_net" and result["nics"][0]["pci"] == "0000:00:03.0"
    )
    assert sorted(result["lldp"]) == ["eno1", "eno2"]
    assert result["sources"]["dmidecode"] == "failed"
    assert any("dmidecode" in w and "/dev/mem" in w for w in result["warnings"])
    assert any(w.startswith("ipmitool_lan:") for w in result["warnings"])
    assert {"field": "system.serial", "value": None, "reason": "missing"} in result["placeholders"]
    # Without SMBIOS the shape stays the same: every key present, the values unknown.
    assert set(inv.SYSTEM_KEYS) <= set(result["system"]) and result["system"]["product"] is None
    assert result["board"] == dict.fromkeys(inv.BOARD_KEYS)
    assert result["chassis"] == dict.fromkeys(inv.CHASSIS_KEYS)


def test_collect_with_tools_missing(captured):
    run, which, read, calls = fake_machine(
        captured, missing={"dmidecode", "lldpctl", "ethtool", "nvme", "ipmitool"}
    )
    result = inv.collect(run, which, read)
    assert ("dmidecode",) not in calls
    for source in ("dmidecode", "lldp", "ethtool", "nvme"):
        assert result["sources"][source] == "missing"
    assert "dmidecode: dmidecode is not installed" in result["warnings"]
    assert "ethtool: ethtool is not installed" in result["warnings"]
    assert result["nics"][0]["name"] == "eth0" and result["nics"][0]["driver"] is None


def test_collect_only_some_sources_runs_no_other_tool(captured):
    """The post-check's inventory: the NICs and their LLDP neighbours, no dmidecode, ipmitool
    (seconds on some BMCs) or ethtool; what was not read is ``skipped``, not a warning."""
    run, which, read, calls = fake_machine(captured)

    def no_meminfo(path):
        raise AssertionError(f"read {path}")

    result = inv.collect(run, which, no_meminfo, only=("ip", "lldp"))
    assert calls == [("ip", "-j", "-d", "addr", "show"), ("lldpctl", "-f", "json")]
    assert [n["name"] for n in result["nics"]] == ["eth0"]
    assert sorted(result["lldp"]) == ["eno1", "eno2"]
    skipped = sorted(k for k, v in result["sources"].items() if v == "skipped")
    assert skipped == sorted(set(inv.SOURCES) - {"ip", "lldp"})
    assert not any(w.split(":")[0] in skipped for w in result["warnings"]), result["warnings"]
    with pytest.raises(ValueError, match="unknown inventory sources \\['smartctl'\\]"):
        inv.collect(run, which, read, only=("ip", "smartctl"))


def test_garbage_output_is_a_warning():
    result = inv.assemble({"lscpu": "this is not json", "lsblk": "{}", "lldp": "{broken"})
    assert result["sources"]["lscpu"] == "unparsable"
    assert any(w.startswith("lscpu: unreadable output") for w in result["warnings"])
    assert any(w.startswith("lsblk: unreadable output") for w in result["warnings"])
    assert any(w.startswith("lldp: unreadable output") for w in result["warnings"])


def test_captured_inventory_file_roundtrip(captured, tmp_path):
    result = inv.simulate(str(captured / "inventory-vm.json"))
    assert result["simulated"] is True and result["cpu"]["model"] == "AMD EPYC"
    assert result["schema"] == inv.SCHEMA


@requires_shared
def test_simulate_dir_plus_dmidecode_and_overrides():
    result = inv.simulate(simulate_spec("srv-r1-02", {"nics": {"eno2": {"speed_mbps": 1000}}}))
    assert result["system"]["product"] == "ProLiant BL460c Gen9"
    assert result["system"]["serial"] == "LAB1R1S02"  # overrides.yaml of the box
    assert [n["mac"] for n in result["nics"]] == ["94:57:a5:01:12:01", "94:57:a5:01:12:02"]
    assert result["nics"][1]["speed_mbps"] == 1000
    assert result["nics"][0]["pci"] == "0000:06:00.0"
    assert result["bmc"] == {
        "ip": "10.20.0.22",
        "mac": "94:57:a5:01:12:03",
        "firmware": "2.61",
        "product": None,
        "present": True,
        "source": "ipmitool",
    }
    assert result["firmware"]["bios"] == "2.52"  # HP System ROM, not the family "I36"
    assert result["firmware"]["bios_family"] == "I36"
    assert result["firmware"]["bmc_family"] == "iLO 4"  # a Gen9
    assert result["lldp"]["eno1"]["chassis_name"] == "tor1-r1.lab1.example.net"
    assert "system.serial" not in {p["field"] for p in result["placeholders"]}


@requires_shared
def test_simulate_spec_file(tmp_path):
    spec = simulate_spec("srv-r1-03", {"memory": {"dimms": {"P1_DIMMA1": None}}})
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    result = inv.simulate(str(path))
    assert result["memory"]["dimm_count"] == 3 and result["memory"]["total_gb"] == 48.0
    assert [d["name"] for d in result["disks"] if d["nvme"]] == ["nvme0n1"]
    nvme = next(d for d in result["disks"] if d["name"] == "nvme0n1")
    assert nvme["firmware"] == "10604103"  # merged in from nvme list -o json


def test_simulate_directory_only():
    result = inv.simulate(str(SIMULATED / "srv-r1-01"))
    assert result["sources"]["dmidecode"] == "missing"
    assert "dmidecode: not provided by the simulation" in result["warnings"]
    assert result["memory"]["source"] == "meminfo"


@pytest.mark.parametrize(
    "spec,message",
    [
        ("/nonexistent/x", "does not exist"),
        ({"dmidecod": "/x"}, "unknown key(s) ['dmidecod']"),
        ({"dmidecode": "/nonexistent/x"}, "cannot read"),
        (42, "must be a path or a mapping"),
        ({"ethtool": "x"}, "must map NIC names"),
    ],
)
def test_bad_simulation_specs(spec, message):
    with pytest.raises(inv.SimulationError) as err:
        inv.simulate(spec)
    assert message in str(err.value)


def test_merge_semantics():
    base = {
        "nics": [{"name": "eno1", "mac": "a"}, {"name": "eno2", "mac": "b"}],
        "system": {"serial": "x", "uuid": "u"},
    }
    merged = inv.merge(
        base, {"nics": {"eno1": None, "eno3": {"mac": "c"}}, "system": {"uuid": None}}
    )
    assert merged == {
        "nics": [{"name": "eno2", "mac": "b"}, {"name": "eno3", "mac": "c"}],
        "system": {"serial": "x"},
    }
    assert base["nics"][0]["name"] == "eno1"  # input untouched


def test_nic_classification_without_ethtool():
    links = [
        {"ifname": "lo", "link_type": "loopback", "address": "00:00:00:00:00:00"},
        {"ifname": "lom1", "link_type": "ether", "address": "48:df:37:1e:60:b0"},
        {"ifname": "bond0", "link_type": "ether", "address": "48:df:37:1e:60:b0"},
        {
            "ifname": "eno2",
            "link_type": "ether",
            "address": "48:df:37:1e:60:b0",
            "permaddr": "48:df:37:1e:60:b1",
            "master": "bond0",
        },
        {
            "ifname": "vlan100",
            "link_type": "ether",
            "address": "48:df:37:1e:60:b0",
            "linkinfo": {"info_kind": "vlan"},
        },
        {"ifname": "ib0", "link_type": "infiniband", "address": "80:00:02:08:fe:80:00:00:00:00"},
    ]
    result = inv.assemble({"ip": json.dumps(links)})
    assert [(n["name"], n["mac"], n["master"]) for n in result["nics"]] == [
        ("eno2", "48:df:37:1e:60:b1", "bond0"),
        ("lom1", "48:df:37:1e:60:b0", None),
    ]


def test_collect_on_an_older_lsblk_without_the_path_column(captured):
    """util-linux < 2.33 refuses the PATH column (exit 1): the disks still come, without it."""
    run, which, read, calls = fake_machine(captured)
    lsblk = json.loads((captured / "lsblk.json").read_text())
    for dev in lsblk["blockdevices"]:
        dev.pop("path", None)

    def old_lsblk(argv):
        if argv[0] == "lsblk":
            calls.append(tuple(argv))
            if "PATH" in argv[-1]:
                return 1, "", "lsblk: unknown column: NAME,KNAME,PATH,TYPE,..."
            return 0, json.dumps(lsblk), ""
        return run(argv)

    result = inv.collect(old_lsblk, which, read)
    assert ("lsblk", "-J", "-b", "-o", inv.LSBLK_COLUMNS_COMPAT) in calls
    assert [(d["name"], d["path"]) for d in result["disks"]] == [("vda", "/dev/vda")]
    assert result["sources"]["lsblk"] == "ok"
    assert not any(w.startswith("lsblk:") for w in result["warnings"])

    def no_lsblk_at_all(argv):
        return (1, "", "lsblk: failed to access sysfs") if argv[0] == "lsblk" else run(argv)

    result = inv.collect(no_lsblk_at_all, which, read)
    assert result["sources"]["lsblk"] == "failed" and result["disks"] == []
    assert [w for w in result["warnings"] if w.startswith("lsblk:")] == [
        f"lsblk: 'lsblk -J -b -o {inv.LSBLK_COLUMNS_COMPAT}' exited 1: lsblk: failed to access sysfs"
    ]


def test_collect_lldp_falls_back_to_keyvalue(captured):
    """An lldpctl built without JSON support answers -f keyvalue; only the outcome counts."""
    run, which, read, calls = fake_machine(captured)
    keyvalue = (captured / "lldpctl-2nb.keyvalue").read_text()

    def no_json(argv):
        if argv[:1] == ["lldpctl"]:
            calls.append(tuple(argv))
            if argv[-1] == "json":
                return 1, "", "lldpctl: unknown output format json"
            return 0, keyvalue, ""
        return run(argv)

    result = inv.collect(no_json, which, read)
    assert [c for c in calls if c[0] == "lldpctl"] == [
        ("lldpctl", "-f", "json"),
        ("lldpctl", "-f", "keyvalue"),
    ]
    assert sorted(result["lldp"]) == ["eno1", "eno2"] and result["sources"]["lldp"] == "ok"
    assert not any(w.startswith("lldp:") for w in result["warnings"])
