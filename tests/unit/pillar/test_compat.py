"""
``compat: salt3007`` checked against the expectations of Salt 3007.8's own unit tests
(``tests/pytests/unit/pillar/test_netbox.py``), adapted to NetBox 4 field names and to lab1 data.
Each test names the 3007 test whose expectation it carries over. The other 3007 tests are
carried over where the behaviour lives (differences documented in docs/pillar.md):

- option checks (``api_url`` not http(s), neither devices nor VMs, ``interface_ips`` without
  ``interfaces``, ``api_query_result_limit`` <= 0, no ``api_token``): 3007 logged and returned
  ``{}``, we raise naming the option (``test_options.test_salt3007_validation_matches_3007_checks``);
- minion ``*`` -> ``{}`` (``test_engine.test_minion_star_is_empty``); no device / no VM -> ``{}``
  (``test_engine.test_unknown_minion_empty_or_error``);
- several devices, several VMs, a device and a VM for one minion id: 3007 logged and returned
  ``{}``, we raise (``test_identity.test_ambiguous_names_the_fix``, ``test_ambiguous_device_and_vm``
  below);
- every ``..._and_get_http_error_then_return_empty_...``: 3007 returned an empty part, we serve a
  cached copy marked stale or raise (``test_engine.test_netbox_down_*``);
- the pillars themselves, option set by option set, against 3007.8's real code on the same NetBox:
  ``tests/functional/test_pillar_salt3007.py``.
"""

import copy
import logging

import pytest

from salt_ext.utils.pillar.assemble import SiteView
from salt_ext.utils.pillar.compat import salt3007_pillar
from salt_ext.utils.pillar.identity import AmbiguousMinion, IdentityView, index_entry
from salt_ext.utils.pillar.options import parse_options
from tests.unit.pillar.conftest import device_id

TOKEN = "0123456789abcdef0123456789abcdef01234567"


def _opts(**kwargs):
    base = {"compat": "salt3007", "api_url": "http://127.0.0.1:8001/api", "api_token": TOKEN}
    base.update(kwargs)
    return parse_options(base)


@pytest.fixture
def srv_id(lab1_snapshot):
    return device_id(lab1_snapshot, "srv-r1-01")


def _device(snapshot, name):
    return next(d for d in snapshot["objects"]["dcim.devices"] if d["name"] == name)


def test_single_device_is_the_rest_object_with_node_type(view, lab1_snapshot, srv_id):
    # test_when_we_retrieve_a_single_device_then_return_list
    out = salt3007_pillar(
        view, "device", srv_id, _opts(site_details=False, site_prefixes=False), "m"
    )
    expected = copy.deepcopy(_device(lab1_snapshot, "srv-r1-01"))
    expected["node_type"] = "device"
    assert out["netbox"] == expected
    assert "proxy" not in out  # NetBox 4 platforms have no napalm_driver


def test_interfaces_without_device_key(view, srv_id):
    # test_when_we_retrieve_device_interfaces_then_return_dict
    out = salt3007_pillar(view, "device", srv_id, _opts(interfaces=True), "m")
    ifaces = out["netbox"]["interfaces"]
    # NetBox's order (natural name), as 3007 passed on what NetBox returned
    assert [i["name"] for i in ifaces] == ["bmc", "bond0", "eno1", "eno2"]
    assert all("device" not in i for i in ifaces)
    assert all("ip_addresses" not in i for i in ifaces)  # interface_ips not asked
    assert ifaces[0]["type"] == {
        "value": ifaces[0]["type"]["value"],
        "label": ifaces[0]["type"]["label"],
    }


def test_interface_ips_associated_without_assignment_keys(view, srv_id):
    # test_when_we_retrieve_device_interface_ips_then_return_list,
    # test_associate_ips_to_interfaces_then_return_list
    out = salt3007_pillar(view, "device", srv_id, _opts(interfaces=True, interface_ips=True), "m")
    by_name = {i["name"]: i for i in out["netbox"]["interfaces"]}
    assert sorted(ip["address"] for ip in by_name["bond0"]["ip_addresses"]) == [
        "10.10.1.11/24",
        "2001:db8:10:1::11/64",
    ]
    assert by_name["eno1"]["ip_addresses"] == []
    for ip in by_name["bond0"]["ip_addresses"]:
        assert not {"assigned_object", "assigned_object_id", "assigned_object_type"} & set(ip)
        assert ip["family"]["value"] in (4, 6) and ip["status"]["value"] == "active"


def test_no_ips_means_no_ip_addresses_key(record, lab1_snapshot, srv_id):
    # test_associate_empty_ip_list_to_interfaces_then_return_list
    record = copy.deepcopy(record)
    record["objects"]["ipam.ip-addresses"] = []
    out = salt3007_pillar(
        SiteView(record), "device", srv_id, _opts(interfaces=True, interface_ips=True), "m"
    )
    assert all("ip_addresses" not in i for i in out["netbox"]["interfaces"])


def test_site_details_and_prefixes(view, lab1_snapshot, srv_id):
    # test_when_we_retrieve_site_details_then_return_dict,
    # test_when_we_retrieve_site_prefixes_then_return_list
    out = salt3007_pillar(view, "device", srv_id, _opts(), "m")
    site = out["netbox"]["site"]
    expected = copy.deepcopy(lab1_snapshot["objects"]["dcim.sites"][0])
    prefixes = site.pop("prefixes")
    assert site == expected
    assert len(prefixes) == 8
    # 3007 deleted each prefix's "site"; NetBox 4.2+ scopes prefixes: the scope keys go instead
    assert all(not {"site", "scope", "scope_type", "scope_id"} & set(p) for p in prefixes)
    assert prefixes[0]["prefix"] and prefixes[0]["status"]["value"] == "active"


def test_site_prefixes_without_details_land_in_nested_site(view, srv_id):
    out = salt3007_pillar(view, "device", srv_id, _opts(site_details=False), "m")
    assert set(out["netbox"]["site"]) >= {"id", "name", "slug", "prefixes"}
    assert "time_zone" not in out["netbox"]["site"]


def test_connected_devices_are_full_device_objects(view, lab1_snapshot, srv_id):
    # test_connected_endpoints; test_when_we_retrieve_everything_successfully_then_return_dict
    out = salt3007_pillar(view, "device", srv_id, _opts(connected_devices=True), "m")
    connected = out["netbox"]["connected_devices"]
    names = sorted(d["name"] for d in connected.values())
    assert names == ["oob-r1", "tor1-r1", "tor2-r1"]
    tor = _device(lab1_snapshot, "tor1-r1")
    assert connected[tor["id"]] == tor
    # connected_devices forces interfaces (as in 3007)
    assert len(out["netbox"]["interfaces"]) == 4


def test_proxy_from_platform_napalm_driver(record, lab1_snapshot, srv_id):
    # test_when_we_retrieve_proxy_details_then_return_dict
    record = copy.deepcopy(record)
    for platform in record["objects"]["dcim.platforms"]:
        platform["custom_fields"] = {"napalm_driver": "eos"}
    out = salt3007_pillar(
        SiteView(record), "device", srv_id, _opts(proxy_username="admin"), "srv-r1-01"
    )
    # primary_ip is the IPv6 primary in lab1 (NetBox prefers IPv6 when both are set)
    assert out["proxy"] == {
        "host": "2001:db8:10:1::11",
        "driver": "eos",
        "proxytype": "napalm",
        "username": "admin",
    }


@pytest.mark.parametrize(
    ("field", "message"),
    [("platform", "platform"), ("primary_ip", "primary IPv4 or IPv6 address")],
)
def test_proxy_return_without_platform_or_ip_logs_but_keeps_pillar(
    record, srv_id, caplog, field, message
):
    # test_when_we_set_proxy_return_but_get_no_value_for_platform/primary_ip: 3007 logged the
    # error AND returned an empty pillar; we log the same error and keep the device's pillar
    record = copy.deepcopy(record)
    for dev in record["objects"]["dcim.devices"]:
        if dev["id"] == srv_id:
            dev[field] = None
    with caplog.at_level(logging.ERROR):
        out = salt3007_pillar(SiteView(record), "device", srv_id, _opts(), "srv-r1-01")
    assert out["netbox"]["name"] == "srv-r1-01"
    assert "proxy" not in out
    assert message in caplog.text and "srv-r1-01" in caplog.text


def test_virtual_machine_node_type_and_interfaces():
    # test_when_we_retrieve_a_single_virtual_machine_then_return_list,
    # test_when_we_retrieve_virtual_machine_interfaces_then_return_list
    vm = {"id": 7, "name": "vm1", "site": None, "platform": None, "primary_ip": None}
    vmif = {"id": 70, "name": "eth0", "virtual_machine": {"id": 7, "name": "vm1"}}
    ip = {
        "id": 700,
        "address": "192.0.2.7/24",
        "assigned_object_type": "virtualization.vminterface",
        "assigned_object_id": 70,
        "assigned_object": {"id": 70, "virtual_machine": {"id": 7}},
    }
    view = SiteView(
        {
            "objects": {
                "virtualization.virtual-machines": [vm],
                "virtualization.interfaces": [vmif],
                "ipam.ip-addresses": [ip],
            }
        }
    )
    out = salt3007_pillar(
        view,
        "virtual_machine",
        7,
        _opts(virtual_machines=True, interfaces=True, interface_ips=True),
        "vm1",
    )
    assert out["netbox"]["node_type"] == "virtual-machine"
    assert out["netbox"]["interfaces"] == [
        {"id": 70, "name": "eth0", "ip_addresses": [{"id": 700, "address": "192.0.2.7/24"}]}
    ]


def test_custom_key(view, srv_id):
    out = salt3007_pillar(view, "device", srv_id, _opts(key="nb"), "m")
    assert "nb" in out and "netbox" not in out


def test_ambiguous_device_and_vm():
    # test_when_we_retrieve_a_device_and_a_virtual_machine_then_error_message_should_be_logged,
    # test_when_we_retrieve_multiple_virtual_machines_then_error_message_should_be_logged
    rows = [
        index_entry("device", {"id": 1, "name": "node1", "site": {"id": 3}}, "minion_id"),
        index_entry("virtual_machine", {"id": 2, "name": "node1", "site": None}, "minion_id"),
        index_entry("virtual_machine", {"id": 4, "name": "vm2", "site": None}, "minion_id"),
        index_entry("virtual_machine", {"id": 5, "name": "vm2", "site": None}, "minion_id"),
    ]
    view = IdentityView({"objects": {"nodes": rows}})
    options = _opts(virtual_machines=True)
    with pytest.raises(AmbiguousMinion, match="matches 2 NetBox nodes"):
        view.resolve("node1", options)
    with pytest.raises(AmbiguousMinion, match="virtual_machine 4 .*virtual_machine 5"):
        view.resolve("vm2", options)
    # with virtual_machines off (3007's default) the device alone answers
    assert view.resolve("node1", _opts()) == ("device", 1, 3)
