"""lscpu / lsblk / nvme / ip / ethtool / ipmitool / meminfo parsers on real outputs."""

import json

import pytest

from salt_ext.utils.hardware import tools
from tests.unit.hardware.conftest import requires_shared


def test_lscpu_captured(captured):
    cpu = tools.parse_lscpu((captured / "lscpu.json").read_text())
    assert cpu["model"] == "AMD EPYC"
    assert cpu["vendor"] == "AuthenticAMD"
    assert (cpu["sockets"], cpu["cores_per_socket"], cpu["threads_per_core"]) == (1, 2, 1)
    assert (cpu["cores"], cpu["threads"]) == (2, 2)
    assert cpu["hypervisor"] == "KVM"


def test_lscpu_nested_layout():
    """util-linux >= 2.38 nests fields under 'children'."""
    doc = {
        "lscpu": [
            {"field": "Architecture:", "data": "x86_64"},
            {"field": "CPU(s):", "data": "56"},
            {
                "field": "Vendor ID:",
                "data": "GenuineIntel",
                "children": [
                    {
                        "field": "Model name:",
                        "data": "Intel(R) Xeon(R) CPU E5-2683 v3 @ 2.00GHz",
                        "children": [
                            {"field": "Thread(s) per core:", "data": "2"},
                            {"field": "Core(s) per socket:", "data": "14"},
                            {"field": "Socket(s):", "data": "2"},
                        ],
                    }
                ],
            },
        ]
    }
    cpu = tools.parse_lscpu(json.dumps(doc))
    assert cpu["model"] == "Intel(R) Xeon(R) CPU E5-2683 v3 @ 2.00GHz"
    assert (cpu["sockets"], cpu["cores"], cpu["threads"]) == (2, 28, 56)


@pytest.mark.parametrize("bad", ["not json", "[]", '{"other": []}'])
def test_lscpu_rejects_other_output(bad):
    with pytest.raises(ValueError, match="lscpu"):
        tools.parse_lscpu(bad)


def test_lsblk_captured_skips_zram(captured):
    disks = tools.parse_lsblk((captured / "lsblk.json").read_text())
    assert [d["name"] for d in disks] == ["vda"]
    vda = disks[0]
    assert vda["size_bytes"] == 274877906944
    assert vda["rotational"] is True and vda["nvme"] is False
    assert vda["path"] == "/dev/vda"


def test_lsblk_old_string_values_and_nvme():
    doc = {
        "blockdevices": [
            {
                "name": "sda",
                "type": "disk",
                "size": "480103981056",
                "rota": "0",
                "model": "INTEL SSDSC2KB48",
                "serial": "PHYS1234",
                "tran": "sata",
                "children": [{"name": "sda1", "type": "part", "size": "1"}],
            },
            {
                "name": "nvme0n1",
                "type": "disk",
                "size": 1024209543168,
                "rota": False,
                "model": None,
                "serial": None,
                "tran": "nvme",
            },
            {"name": "sr0", "type": "rom", "size": "1073741312", "rota": "1"},
            {"name": "loop0", "type": "loop", "size": "4096"},
        ]
    }
    disks = tools.parse_lsblk(doc)
    assert [(d["name"], d["size_bytes"], d["rotational"], d["nvme"]) for d in disks] == [
        ("sda", 480103981056, False, False),
        ("nvme0n1", 1024209543168, False, True),
    ]


@requires_shared
def test_nvme_real_fixture(shared_hw):
    found = tools.parse_nvme_list((shared_hw / "inventory" / "nvme.json").read_text())
    assert found == [
        {
            "name": "nvme0n1",
            "path": "/dev/nvme0n1",
            "model": "KXG60ZNV1T02 NVMe TOSHIBA 1024GB",
            "serial": "19FA109SK07N",
            "firmware": "10604103",
            "size_bytes": 1024209543168,
        }
    ]


def test_nvme_cli2_verbose_tree():
    doc = {
        "Devices": [
            {
                "HostNQN": "nqn.x",
                "Subsystems": [
                    {
                        "Subsystem": "nvme-subsys0",
                        "Controllers": [
                            {
                                "Controller": "nvme0",
                                "SerialNumber": "S4EVNX0R",
                                "ModelNumber": "Samsung SSD 970",
                                "Firmware": "2B2QEXM7",
                                "Namespaces": [
                                    {"NameSpace": "nvme0n1", "PhysicalSize": 500107862016}
                                ],
                            }
                        ],
                    }
                ],
            }
        ]
    }
    assert tools.parse_nvme_list(doc)[0] == {
        "name": "nvme0n1",
        "path": "/dev/nvme0n1",
        "model": "Samsung SSD 970",
        "serial": "S4EVNX0R",
        "firmware": "2B2QEXM7",
        "size_bytes": 500107862016,
    }


def test_ip_captured(captured):
    links = {x["name"]: x for x in tools.parse_ip((captured / "ip-addr.json").read_text())}
    assert set(links) == {"lo", "ifb0", "ifb1", "eth0"}
    eth0 = links["eth0"]
    assert eth0["mac"] == "02:fc:00:00:00:01"
    assert eth0["mtu"] == 1400 and eth0["up"] and eth0["carrier"]
    assert "192.0.2.2/24" in eth0["addresses"]
    assert links["lo"]["mac"] is None
    detailed = {x["name"]: x for x in tools.parse_ip((captured / "ip-link-d.json").read_text())}
    assert detailed["ifb0"]["kind"] == "ifb"
    veth = {x["name"]: x for x in tools.parse_ip((captured / "ip-link-veth.json").read_text())}
    assert veth["eno1"]["kind"] == "veth" and veth["eno1"]["mac"] == "24:6e:96:01:11:01"


def test_ip_bond_member_permanent_mac():
    doc = [
        {
            "ifname": "eno2",
            "link_type": "ether",
            "address": "24:6e:96:01:11:01",
            "permaddr": "24:6e:96:01:11:02",
            "master": "bond0",
            "mtu": 9000,
            "flags": ["UP"],
            "linkinfo": {"info_slave_kind": "bond"},
        }
    ]
    link = tools.parse_ip(doc)[0]
    assert link["permanent_mac"] == "24:6e:96:01:11:02" and link["master"] == "bond0"


def test_ethtool_captured(captured):
    drv = tools.parse_ethtool_driver((captured / "ethtool-i-eth0.txt").read_text())
    assert drv == {
        "driver": "virtio_net",
        "version": "1.0.0",
        "firmware": None,
        "bus_info": "0000:00:03.0",
        "pci": "0000:00:03.0",
    }
    veth = tools.parse_ethtool_driver((captured / "ethtool-i-veth.txt").read_text())
    assert veth["driver"] == "veth" and veth["pci"] is None
    settings = tools.parse_ethtool_settings((captured / "ethtool-eth0.txt").read_text())
    assert settings["speed_mbps"] is None and settings["link"] is True
    settings = tools.parse_ethtool_settings((captured / "ethtool-veth.txt").read_text())
    assert settings["speed_mbps"] == 10000 and settings["duplex"] == "Full"
    with pytest.raises(ValueError, match="driver"):
        tools.parse_ethtool_driver((captured / "ethtool-i-lo.err").read_text())


def test_ipmitool_outputs():
    lan = tools.parse_ipmitool_lan(
        "Set in Progress         : Set Complete\nIP Address Source       : Static Address\n"
        "IP Address              : 10.20.0.21\nSubnet Mask             : 255.255.255.0\n"
        "MAC Address             : 24:6E:96:01:11:03\nDefault Gateway IP      : 10.20.0.1\n"
    )
    assert lan == {
        "ip": "10.20.0.21",
        "mac": "24:6e:96:01:11:03",
        "netmask": "255.255.255.0",
        "gateway": "10.20.0.1",
        "source": "Static Address",
    }
    mc = tools.parse_ipmitool_mc(
        "Device ID                 : 32\nFirmware Revision         : 2.61\n"
        "IPMI Version              : 2.0\nManufacturer Name         : DELL Inc\n"
    )
    assert mc["firmware"] == "2.61" and mc["manufacturer"] == "DELL Inc"


def test_ipmitool_captured_error_text_is_rejected(captured):
    with pytest.raises(ValueError):
        tools.parse_ipmitool_lan((captured / "ipmitool-lan.err").read_text())
    with pytest.raises(ValueError):
        tools.parse_ipmitool_mc((captured / "ipmitool-mc.err").read_text())


def test_meminfo():
    assert tools.parse_meminfo("MemTotal:       24684092 kB\nMemFree: 1 kB\n") == {
        "total_bytes": 24684092 * 1024
    }
    with pytest.raises(ValueError):
        tools.parse_meminfo("nothing")
