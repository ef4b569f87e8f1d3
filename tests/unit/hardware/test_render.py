import copy

import pytest

from salt_ext.utils.hardware.profiles import select_profile
from salt_ext.utils.hardware.render import reload_commands, render, simple_interfaces
from tests.unit.hardware.lab import Lab, load_profiles


@pytest.fixture(scope="module")
def lab():
    return Lab()


def rendered(lab, box, root="/tmp/root"):
    dev = lab.device(box)
    gen = lab.device_type(dev)["custom_fields"]["hw_generation"]
    profile = select_profile({"hwgen_profiles": load_profiles()}, gen)
    return render(
        profile, lab.interfaces(dev), lab.ip_addresses(dev), dev["config_context"], root=root
    )


def test_gen10_by_mac(lab):
    out = rendered(lab, "srv-r1-01")
    files = out["files"]
    rules = files["/tmp/root/etc/udev/rules.d/70-hwgen-net.rules"]
    assert 'ATTR{address}=="24:6e:96:01:11:01", NAME="eno1"' in rules
    assert 'ATTR{address}=="24:6e:96:01:11:02", NAME="eno2"' in rules
    assert "bmc" not in rules and "bond0" not in rules
    netdev = files["/tmp/root/etc/systemd/network/10-hwgen-bond0.netdev"]
    assert "Kind=bond" in netdev and "Mode=802.3ad" in netdev and "LACPTransmitRate=fast" in netdev
    assert "MTUBytes=9000" in netdev and "TransmitHashPolicy=layer3+4" in netdev
    member = files["/tmp/root/etc/systemd/network/20-hwgen-eno2.network"]
    assert "[Match]\nName=eno2\n" in member and "Bond=bond0" in member
    bond = files["/tmp/root/etc/systemd/network/30-hwgen-bond0.network"]
    assert "Address=10.10.1.11/24" in bond and "Address=2001:db8:10:1::11/64" in bond
    assert "DNS=10.20.0.53" in bond and "Domains=lab1.example.net" in bond
    sysctl = files["/tmp/root/etc/sysctl.d/90-hwgen.conf"]
    # profile + config context (edge-server role)
    assert "net.ipv4.tcp_mtu_probing = 1" in sysctl and "vm.swappiness = 1" in sysctl
    grub = files["/tmp/root/etc/default/grub.d/90-hwgen.cfg"]
    assert grub.endswith(
        'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX intel_iommu=on iommu=pt console=ttyS1,115200n8 transparent_hugepage=never"\n'
    )


def test_gen11_by_pci(lab):
    rules = rendered(lab, "srv-r1-02")["files"]["/tmp/root/etc/udev/rules.d/70-hwgen-net.rules"]
    assert 'KERNELS=="0000:06:00.0", NAME="eno1"' in rules
    assert "ATTR{address}" not in rules


def test_deterministic_and_rooted(lab):
    first = rendered(lab, "srv-r1-03", root="/srv/x")
    assert first == rendered(lab, "srv-r1-03", root="/srv/x")
    assert all(path.startswith("/srv/x/") for path in first["files"])
    assert (
        "LACPTransmitRate=slow"
        in first["files"]["/srv/x/etc/systemd/network/10-hwgen-bond0.netdev"]
    )


def test_pillar_shape_equals_rest_shape(lab):
    dev = lab.device("srv-r1-01")
    rest = simple_interfaces(lab.interfaces(dev), lab.ip_addresses(dev))
    pillar = {
        i["name"]: {
            "name": i["name"],
            "type": i["type"]["value"],
            "mgmt_only": i["mgmt_only"],
            "mac_address": i["mac_address"],
            "lag": (i["lag"] or {}).get("name"),
            "mtu": i["mtu"],
            "ip_addresses": [
                {"address": a} for a in next(r["addresses"] for r in rest if r["name"] == i["name"])
            ],
            "peer": (
                {
                    "device": i["link_peers"][0]["device"]["name"],
                    "interface": i["link_peers"][0]["name"],
                }
                if i["link_peers"]
                else None
            ),
        }
        for i in lab.interfaces(dev)
    }
    assert simple_interfaces(pillar) == rest


def test_addressed_interface_outside_the_bond_is_configured(lab):
    """A box with a bond and a separate addressed NIC (e.g. a replication network) gets both."""
    dev = lab.device("srv-r1-03")
    profile = select_profile({"hwgen_profiles": load_profiles()}, "gen12")
    interfaces = copy.deepcopy(lab.interfaces(dev))
    eno3 = dict(copy.deepcopy(interfaces[0]), id=999999, name="eno3", mgmt_only=False, lag=None)
    eno3.update(type={"value": "10gbase-t"}, mtu=1500, mac_address=None, link_peers=[])
    ips = lab.ip_addresses(dev) + [
        {
            "address": "10.99.0.3/24",
            "assigned_object_type": "dcim.interface",
            "assigned_object_id": 999999,
        }
    ]
    files = render(profile, interfaces + [eno3], ips, dev["config_context"], root="/r")["files"]
    eno3_net = files["/r/etc/systemd/network/30-hwgen-eno3.network"]
    assert "[Match]\nName=eno3\n" in eno3_net and "Address=10.99.0.3/24" in eno3_net
    assert "MTUBytes=1500" in eno3_net, "outside the bond: NetBox's MTU, not the profile's 9000"
    assert "Address=10.10.1.13/24" in files["/r/etc/systemd/network/30-hwgen-bond0.network"]
    assert not any(
        name.endswith(("30-hwgen-eno1.network", "30-hwgen-eno2.network", "30-hwgen-bmc.network"))
        for name in files
    ), "bond members and the BMC port get no address network"


def test_reload_commands_watch_written_and_removed_files(lab):
    out = rendered(lab, "srv-r1-01", root="/r")
    stale = ["/r/etc/systemd/network/30-hwgen-bond1.network"]
    commands = {c["id"]: c for c in reload_commands(out, stale)}
    assert sorted(commands) == [
        "hwgen-networkd-reload",
        "hwgen-sysctl-load",
        "hwgen-udev-reload",
        "hwgen-update-grub",
    ]
    assert commands["hwgen-sysctl-load"] == {
        "id": "hwgen-sysctl-load",
        "name": "sysctl --load=/r/etc/sysctl.d/90-hwgen.conf",
        "onlyif": None,
        "onchanges": [{"file": "hwgen-file-/r/etc/sysctl.d/90-hwgen.conf"}],
    }
    networkd = commands["hwgen-networkd-reload"]
    assert networkd["onlyif"] == "command -v networkctl"
    assert networkd["onchanges"] == [
        {"file": f"hwgen-file-/r/etc/systemd/network/{name}"} for name in out["network_files"]
    ] + [{"file": "hwgen-stale-/r/etc/systemd/network/30-hwgen-bond1.network"}]
    assert commands["hwgen-udev-reload"]["onchanges"] == [
        {"file": "hwgen-file-/r/etc/udev/rules.d/70-hwgen-net.rules"}
    ]
    # A profile that stopped asking for sysctl and kernel arguments: grub still rebuilt once
    # (the drop-in is removed), nothing to load into sysctl.
    out["files"] = {k: v for k, v in out["files"].items() if "sysctl" not in k and "grub" not in k}
    commands = {c["id"]: c for c in reload_commands(out, ["/r/etc/default/grub.d/90-hwgen.cfg"])}
    assert "hwgen-sysctl-load" not in commands
    assert commands["hwgen-update-grub"]["onchanges"] == [
        {"file": "hwgen-stale-/r/etc/default/grub.d/90-hwgen.cfg"}
    ]
    assert reload_commands({"paths": out["paths"], "files": {}}, []) == []


@pytest.mark.parametrize(
    "context,message",
    [
        (
            {"kernel_cmdline": ["quiet", "x`reboot`"]},
            "NetBox config context 'kernel_cmdline': argument 'x`reboot`' must not contain",
        ),
        ({"kernel_cmdline": 'console="tty0"'}, "'kernel_cmdline' must be a list (got str)"),
        (
            {"sysctl": {"vm.swappiness": "1\nkernel.sysrq = 1"}},
            "NetBox config context 'sysctl:vm.swappiness' value must be a one-line scalar",
        ),
        ({"sysctl": {"bad key": 1}}, "'sysctl:bad key' is not a sysctl key"),
    ],
)
def test_config_context_values_unsafe_in_the_files_are_refused(lab, context, message):
    """NetBox config contexts are edited by many people: the GRUB drop-in is a shell script
    sourced by update-grub as root, so nothing from there may break out of its line."""
    dev = lab.device("srv-r1-01")
    profile = select_profile({"hwgen_profiles": load_profiles()}, "gen10")
    with pytest.raises(ValueError) as err:
        render(profile, lab.interfaces(dev), lab.ip_addresses(dev), context, root="/r")
    assert message in str(err.value)


def test_netbox_values_that_would_break_out_of_the_files_are_refused(lab):
    dev = lab.device("srv-r1-01")
    profile = select_profile({"hwgen_profiles": load_profiles()}, "gen10")
    interfaces = copy.deepcopy(lab.interfaces(dev))
    eno2 = next(i for i in interfaces if i["name"] == "eno2")
    eno2["name"] = 'eno2", RUN+="/bin/sh -c reboot'
    with pytest.raises(ValueError, match="is not a Linux interface name"):
        render(profile, interfaces, lab.ip_addresses(dev), dev["config_context"], root="/r")
    ips = copy.deepcopy(lab.ip_addresses(dev))
    ips[0]["address"] = "10.10.1.11/24\nDNS=6.6.6.6"
    with pytest.raises(ValueError, match="NetBox IP address '10.10.1.11/24\\\\nDNS=6.6.6.6'"):
        render(profile, lab.interfaces(dev), ips, dev["config_context"], root="/r")
    context = dict(dev["config_context"], dns_servers=["10.20.0.53", "ns1.example.net"])
    with pytest.raises(ValueError, match="'dns_servers': 'ns1.example.net' is not an IP"):
        render(profile, lab.interfaces(dev), lab.ip_addresses(dev), context, root="/r")
    context = dict(dev["config_context"], dns_search=["lab1.example.net\n[Route]"])
    with pytest.raises(ValueError, match="'dns_search': .* is not a domain"):
        render(profile, lab.interfaces(dev), lab.ip_addresses(dev), context, root="/r")
    # Routing-only domains (~example.net) and IPv6 servers are fine.
    context = dict(dev["config_context"], dns_search=["~lab1.example.net"], dns_servers=["::1"])
    out = render(profile, lab.interfaces(dev), lab.ip_addresses(dev), context, root="/r")
    bond = out["files"]["/r/etc/systemd/network/30-hwgen-bond0.network"]
    assert "DNS=::1\n" in bond and "Domains=~lab1.example.net\n" in bond
