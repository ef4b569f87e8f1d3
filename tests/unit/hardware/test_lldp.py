"""lldpctl parser: real switch outputs (Cumulus, Juniper QFX, dedibox) and captures of real lldpd."""

import pytest

from salt_ext.utils.hardware.lldp import parse_lldp, parse_lldp_json, parse_lldp_keyvalue
from tests.unit.hardware.conftest import requires_shared, shared_files


@requires_shared
def test_cumulus(shared_hw):
    nbs = parse_lldp_keyvalue((shared_hw / "lldp" / "cumulus.txt").read_text())
    assert set(nbs) == {"eno1", "eno2d1"}
    eno1 = nbs["eno1"]
    assert eno1["chassis_name"] == "toto-chassis.dc42"
    assert eno1["chassis_mac"] == "e4:f0:04:b6:47:32"
    assert (eno1["port_id"], eno1["port_id_type"], eno1["port_descr"]) == (
        "swp46",
        "ifname",
        "BXVWNR2:lom2",
    )
    assert eno1["mgmt_ips"] == ["10.160.20.18", "fe80::e6f0:4ff:feb6:4732"]
    assert eno1["mgmt_ip"] == "10.160.20.18"
    # The fixture's eno2d1 block carries a stray "lldp.eno1.chassis.name" line: the name belongs
    # to eno1 (same value), eno2d1 has no name of its own.
    assert nbs["eno2d1"]["chassis_name"] is None
    assert nbs["eno2d1"]["chassis_mac"] == "e4:f0:04:b6:4e:32"
    assert "additional" not in eno1


@requires_shared
def test_qfx_port_local_and_vlan(shared_hw):
    nbs = parse_lldp_keyvalue((shared_hw / "lldp" / "qfx.txt").read_text())
    eth0 = nbs["eth0"]
    assert eth0["chassis_name"] == "sw-filer-f06.dc42"
    assert (eth0["port_id"], eth0["port_id_type"], eth0["port_descr"]) == (
        "512",
        "local",
        "xe-0/0/1",
    )
    assert eth0["vlans"] == [{"id": 296, "name": "vlan-296", "pvid": True}]
    assert eth0["vlan"] == 296
    assert nbs["eth1"]["chassis_name"] == "sw-filer-f05.dc42"


@requires_shared
def test_dedibox_minimal(shared_hw):
    nbs = parse_lldp((shared_hw / "lldp" / "dedibox1.txt").read_text())
    nb = nbs["enp1s0f0"]
    assert (nb["chassis_name"], nb["port_id"], nb["mgmt_ip"], nb["ttl"]) == (
        "s120-f3-2.itx4",
        "RJ-9",
        "10.48.16.15",
        120,
    )
    assert nb["port_descr"] is None and nb["vlan"] is None


@requires_shared
@pytest.mark.parametrize("path", shared_files("lldp"), ids=lambda p: p.name)
def test_any_lldp_fixture_invariants(path):
    nbs = parse_lldp(path.read_text())
    assert nbs
    for ifname, nb in nbs.items():
        assert nb["interface"] == ifname and nb["via"] == "LLDP"
        assert nb["chassis_mac"] or nb["chassis_id"]
        assert nb["port_id"]


@pytest.mark.parametrize("name", ["lldpctl-2nb.json", "lldpctl-2nb.json0", "lldpctl-2nb.keyvalue"])
def test_captured_formats_agree(captured, name):
    nbs = parse_lldp((captured / name).read_text())
    assert sorted(nbs) == ["eno1", "eno2"]
    assert (nbs["eno1"]["chassis_name"], nbs["eno1"]["port_id"]) == ("tor1-r1", "Ethernet1")
    assert (nbs["eno2"]["chassis_name"], nbs["eno2"]["port_id"]) == ("tor2-r1", "Ethernet1")
    assert nbs["eno1"]["chassis_mac"] == "44:4c:a8:10:00:01"
    assert nbs["eno2"]["mgmt_ip"] == "127.0.0.12"
    assert nbs["eno1"]["port_descr"] == "srv-r1-01 uplink"


def test_captured_single_interface_object_form(captured):
    as_json = parse_lldp((captured / "lldpctl-1nb.json").read_text())
    as_kv = parse_lldp((captured / "lldpctl-1nb.keyvalue").read_text())
    assert as_json == as_kv
    nb = as_json["Ethernet1"]
    assert nb["port_id_type"] == "mac" and nb["port_descr"] == "eno1"


def test_no_neighbours_and_garbage():
    assert parse_lldp_json('{"lldp": {}}') == {}
    assert parse_lldp_keyvalue("random text\nnot=lldp\n") == {}
    with pytest.raises(ValueError, match="lldpctl"):
        parse_lldp_json("{broken")


def test_dotted_interface_and_two_neighbours_on_one_port():
    text = (
        "lldp.eth0.100.via=LLDP\nlldp.eth0.100.chassis.name=sw1\nlldp.eth0.100.port.ifname=Et1\n"
        "lldp.eth0.100.via=LLDP\nlldp.eth0.100.chassis.name=sw2\nlldp.eth0.100.port.ifname=Et2\n"
    )
    nbs = parse_lldp_keyvalue(text)
    assert list(nbs) == ["eth0.100"]
    assert nbs["eth0.100"]["chassis_name"] == "sw1"
    assert [n["chassis_name"] for n in nbs["eth0.100"]["additional"]] == ["sw2"]


@pytest.mark.parametrize("name", ["lldpctl-2nb.json", "lldpctl-2nb.keyvalue", "lldpctl-2nb.json0"])
def test_truncated_output_is_a_warning_not_a_crash(captured, name):
    from salt_ext.utils.hardware.inventory import assemble  # noqa: PLC0415

    text = (captured / name).read_text()
    for cut in range(0, len(text), 97):
        inv = assemble({"lldp": text[:cut]})
        assert isinstance(inv["lldp"], dict)
        assert inv["sources"]["lldp"] in ("ok", "unparsable")
