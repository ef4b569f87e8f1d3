"""The pillar of a device assembled from LAB1's bulk site data."""

import copy

import pytest

from salt_ext.utils.pillar.assemble import SiteView, hwgen_part, node_hwgen, node_pillar
from salt_ext.utils.pillar.options import parse_options
from tests.unit.pillar.conftest import device_id

PROFILES = {
    "gen10": {
        "description": "test profile",
        "device_types": ["poweredge-m630"],
        "expected": {"cpu": {"sockets": 2}},
        "config": {
            "mtu": 9000,
            "sysctl": {"vm.swappiness": 10, "kernel.panic": 10},
            "kernel_args": ["console=ttyS0,115200n8"],
        },
    }
}


@pytest.fixture
def srv(view, lab1_snapshot):
    options = parse_options({})
    dev_id = device_id(lab1_snapshot, "srv-r1-01")
    return node_pillar(view, "device", dev_id, options)


def test_device_identity_and_placement(srv):
    assert srv["name"] == "srv-r1-01"
    assert srv["kind"] == "device"
    assert srv["status"] == "active"
    assert srv["serial"] == "LAB1R1S01"
    assert srv["asset_tag"] is None
    assert srv["role"]["slug"] == "edge-server"
    assert srv["platform"]["slug"] == "debian-12"
    assert srv["tenant"]["slug"] == "edge"
    assert srv["device_type"]["model"] == "PowerEdge M630"
    assert srv["device_type"]["manufacturer"]["slug"] == "dell"
    assert srv["device_type"]["hw_generation"] == "gen10"
    assert srv["site"]["slug"] == "lab1"
    assert srv["site"]["time_zone"] == "Europe/Amsterdam"
    assert srv["site"]["region"]["slug"] == "lab-region"
    assert srv["location"] is None
    assert srv["rack"]["name"] == "R1"
    assert srv["rack"]["facility_id"] == "LAB1-R1"
    assert srv["rack"]["position"] == 1.0
    assert srv["rack"]["face"] == "front"
    assert srv["primary_ip4"] == "10.10.1.11/24"
    assert srv["primary_ip6"] == "2001:db8:10:1::11/64"
    assert srv["oob_ip"] == "10.20.0.21/24"
    assert srv["custom_fields"] == {"minion_id": "srv-r1-01.lab1.example.net"}
    assert srv["tags"] == ["turnup-lab"]
    assert srv["config_context"]["ntp_servers"] == ["10.20.0.1", "10.20.0.2"]
    assert "vm.swappiness" in srv["config_context"]["sysctl"]


def test_interfaces_lag_vlans_macs_ips(srv):
    ifaces = srv["interfaces"]
    assert sorted(ifaces) == ["bmc", "bond0", "eno1", "eno2"]
    bond = ifaces["bond0"]
    assert bond["type"] == "lag"
    assert bond["members"] == ["eno1", "eno2"]
    assert bond["mtu"] == 9000
    assert bond["mode"] == "access"
    assert bond["untagged_vlan"]["vid"] == 100
    assert bond["mac_address"] == "24:6E:96:01:11:01"
    addrs = {ip["address"]: ip for ip in bond["ip_addresses"]}
    assert set(addrs) == {"10.10.1.11/24", "2001:db8:10:1::11/64"}
    assert addrs["10.10.1.11/24"]["primary"] is True
    assert addrs["10.10.1.11/24"]["dns_name"] == "srv-r1-01.lab1.example.net"
    assert ifaces["eno1"]["lag"] == "bond0"
    assert ifaces["eno1"]["members"] == []
    assert ifaces["bmc"]["mgmt_only"] is True
    assert [ip["address"] for ip in ifaces["bmc"]["ip_addresses"]] == ["10.20.0.21/24"]
    assert ifaces["bmc"]["mac_addresses"] == ["24:6E:96:01:11:03"]


def test_cable_peers_are_the_tor_switches(srv):
    ifaces = srv["interfaces"]
    assert ifaces["eno1"]["peer"]["device"] == "tor1-r1"
    assert ifaces["eno1"]["peer"]["interface"] == "Ethernet1"
    assert ifaces["eno1"]["peer"]["device_role"] == "tor-switch"
    assert ifaces["eno1"]["peer"]["cable_status"] == "connected"
    assert isinstance(ifaces["eno1"]["peer"]["cable"], int)
    assert ifaces["eno2"]["peer"]["device"] == "tor2-r1"
    assert ifaces["bmc"]["peer"]["device"] == "oob-r1"
    assert ifaces["bond0"]["peer"] is None


def test_services_prefixes_vlans(srv):
    assert srv["services"] == [
        {
            "id": srv["services"][0]["id"],
            "name": "ssh",
            "protocol": "tcp",
            "ports": [22],
            "ip_addresses": ["10.10.1.11/24"],
            "description": "OpenSSH",
            "tags": ["turnup-lab"],
        }
    ]
    prefixes = [p["prefix"] for p in srv["prefixes"]]
    assert "10.10.1.0/24" in prefixes and "2001:db8:10:1::/64" in prefixes
    assert len(prefixes) == 8
    assert [(v["vid"], v["name"]) for v in srv["vlans"]] == [(100, "prod"), (200, "mgmt")]


def test_rack_devices_by_role(srv):
    rack = srv["rack_devices"]
    assert [d["name"] for d in rack["tor-switch"]] == ["tor1-r1", "tor2-r1"]
    assert [d["name"] for d in rack["oob-switch"]] == ["oob-r1"]
    servers = [d["name"] for d in rack["edge-server"]]
    assert "srv-r1-01" not in servers and "srv-r1-02" in servers
    assert rack["tor-switch"][0]["primary_ip4"]


def test_hwgen_profile_with_config_context_overrides(view, lab1_snapshot):
    dev_id = device_id(lab1_snapshot, "srv-r1-01")
    hw = node_hwgen(view, "device", dev_id, parse_options({}), {"hwgen_profiles": PROFILES})
    assert hw["name"] == "gen10"
    assert hw["expected"] == {"cpu": {"sockets": 2}}
    assert hw["config"]["mtu"] == 9000
    # sysctl is a profile config key that the edge-server role's config context also sets:
    # dicts merge, NetBox wins on conflicts
    assert hw["config"]["sysctl"]["vm.swappiness"] == 1
    assert hw["config"]["sysctl"]["kernel.panic"] == 10
    assert hw["config"]["sysctl"]["net.core.default_qdisc"] == "fq"
    # kernel_cmdline is not a profile key: not merged
    assert hw["config"]["kernel_args"] == ["console=ttyS0,115200n8"]
    assert "kernel_cmdline" not in hw and "kernel_cmdline" not in hw["config"]


def test_hwgen_none_for_device_type_without_generation(view, lab1_snapshot):
    tor = device_id(lab1_snapshot, "tor1-r1")
    assert node_hwgen(view, "device", tor, parse_options({}), {"hwgen_profiles": PROFILES}) is None


def test_hwgen_precedence_explicit_context_key_wins():
    ctx = {"mtu": 1500, "hwgen": {"config": {"mtu": 9216}, "expected": {"cpu": {"cores": 28}}}}
    hw = hwgen_part(PROFILES, "gen10", ctx)
    assert hw["config"]["mtu"] == 9216
    assert hw["expected"]["cpu"] == {"sockets": 2, "cores": 28}
    assert hwgen_part(PROFILES, "gen10", {"mtu": 1500})["config"]["mtu"] == 1500
    assert PROFILES["gen10"]["config"]["mtu"] == 9000  # the pillar's profile is untouched
    assert hwgen_part(PROFILES, "gen99", ctx) is None
    assert hwgen_part(PROFILES, None, ctx) is None
    assert hwgen_part(None, "gen10", ctx) is None


def test_parts_switch_off(view, lab1_snapshot):
    options = parse_options(
        {
            "interfaces": False,
            "services": False,
            "prefixes": False,
            "vlans": False,
            "rack_devices": False,
            "config_context": False,
        }
    )
    out = node_pillar(view, "device", device_id(lab1_snapshot, "srv-r1-01"), options)
    for part in (
        "interfaces",
        "services",
        "prefixes",
        "vlans",
        "rack_devices",
        "config_context",
    ):
        assert part not in out
    assert out["primary_ip4"] == "10.10.1.11/24"


def test_peers_switch_off(view, lab1_snapshot):
    options = parse_options({"peers": False})
    out = node_pillar(view, "device", device_id(lab1_snapshot, "srv-r1-01"), options)
    assert "peer" not in out["interfaces"]["eno1"]


def test_device_without_platform_or_primary_ip_still_full(record, lab1_snapshot):
    dev_id = device_id(lab1_snapshot, "srv-r3-01")
    for dev in record["objects"]["dcim.devices"]:
        if dev["id"] == dev_id:
            dev["platform"] = None
            assert dev["primary_ip4"] is None
    out = node_pillar(SiteView(record), "device", dev_id, parse_options({}))
    assert out["name"] == "srv-r3-01"
    assert out["platform"] is None and out["primary_ip4"] is None
    assert out["interfaces"] and out["site"]["slug"] == "lab1"


def test_pillar_is_a_copy(view, lab1_snapshot):
    dev_id = device_id(lab1_snapshot, "srv-r1-01")
    options = parse_options({})
    first = node_pillar(view, "device", dev_id, options)
    first["config_context"]["ntp_servers"].append("evil")
    first["custom_fields"]["minion_id"] = "changed"
    again = node_pillar(view, "device", dev_id, options)
    assert again["config_context"]["ntp_servers"] == ["10.20.0.1", "10.20.0.2"]
    assert again["custom_fields"]["minion_id"] == "srv-r1-01.lab1.example.net"


def test_unknown_node_raises_keyerror(view):
    with pytest.raises(KeyError):
        node_pillar(view, "device", 999999, parse_options({}))


def test_link_peers_used_when_cable_not_in_record(record, lab1_snapshot):
    record = copy.deepcopy(record)
    record["objects"]["dcim.cables"] = []
    out = node_pillar(
        SiteView(record), "device", device_id(lab1_snapshot, "srv-r1-01"), parse_options({})
    )
    assert out["interfaces"]["eno1"]["peer"]["device"] == "tor1-r1"


def test_tagged_vlans_from_the_site_vlans(record, lab1_snapshot):
    tor = device_id(lab1_snapshot, "tor1-r1")
    vlans = {v["vid"]: v for v in record["objects"]["ipam.vlans"]}
    port = next(
        i
        for i in record["objects"]["dcim.interfaces"]
        if i["device"]["id"] == tor and i["name"] == "Ethernet1"
    )
    port["mode"] = {"value": "tagged", "label": "Tagged"}
    port["untagged_vlan"] = {"id": vlans[200]["id"], "vid": 200, "name": "mgmt"}
    port["tagged_vlans"] = [{"id": vlans[100]["id"], "vid": 100, "name": "old-name"}]
    vlans[100]["name"] = "prod-renamed"  # the VLAN changed after the interface was fetched
    out = node_pillar(SiteView(record), "device", tor, parse_options({}))
    eth1 = out["interfaces"]["Ethernet1"]
    assert eth1["mode"] == "tagged"
    assert eth1["untagged_vlan"] == {"id": vlans[200]["id"], "vid": 200, "name": "mgmt"}
    assert eth1["tagged_vlans"] == [{"id": vlans[100]["id"], "vid": 100, "name": "prod-renamed"}]
    assert eth1["peer"]["device"] == "srv-r1-01" and eth1["peer"]["interface"] == "eno1"
