"""Unit tests: comparing NetBox objects with what a user wants."""

import copy
import json

import pytest
from salt.exceptions import SaltInvocationError

from salt_ext.utils.netbox_ops import diff
from tests.support.saltenv import LAB1_SNAPSHOT


@pytest.fixture(scope="module")
def lab():
    with open(LAB1_SNAPSHOT, encoding="utf-8") as fh:
        return json.load(fh)["objects"]


def _device(lab, name):
    return copy.deepcopy(next(d for d in lab["dcim.devices"] if d["name"] == name))


@pytest.mark.parametrize(
    "given,expected",
    [
        ("aa:bb:cc:dd:ee:ff", "AA:BB:CC:DD:EE:FF"),
        ("AA-BB-CC-DD-EE-FF", "AA:BB:CC:DD:EE:FF"),
        ("aabb.ccdd.eeff", "AA:BB:CC:DD:EE:FF"),
        (" aabbccddeeff ", "AA:BB:CC:DD:EE:FF"),
    ],
)
def test_normalize_mac(given, expected):
    assert diff.normalize_mac(given) == expected


@pytest.mark.parametrize("bad", ["aa:bb:cc:dd:ee", "zz:bb:cc:dd:ee:ff", 12, None, ""])
def test_normalize_mac_rejects_garbage(bad):
    with pytest.raises(SaltInvocationError, match="MAC address"):
        diff.normalize_mac(bad)


def test_normalize_cidr():
    assert diff.normalize_cidr("2001:DB8:0::1/64") == "2001:db8::1/64"
    assert diff.normalize_cidr("10.0.0.1/24") == "10.0.0.1/24"
    with pytest.raises(SaltInvocationError, match="not an IP address"):
        diff.normalize_cidr("10.0.0.300/24")


def test_simplify_choice_reference_and_lists(lab):
    dev = _device(lab, "srv-r1-01")
    assert diff.simplify(dev["status"]) == "active"
    assert diff.simplify(dev["site"]) == dev["site"]["id"]
    assert diff.simplify(dev["tags"]) == [dev["tags"][0]["id"]]
    assert diff.simplify("plain") == "plain"
    assert diff.display(dev["site"]) == "lab1"
    assert diff.display(dev["status"]) == "active"


def test_no_change_when_given_fields_match(lab):
    dev = _device(lab, "srv-r1-01")
    resolved = {
        "status": "active",
        "site": dev["site"]["id"],
        "serial": "LAB1R1S01",
        "position": 10,
        "tags": [dev["tags"][0]["id"]],
        "custom_fields": {"minion_id": "srv-r1-01.lab1.example.net"},
        "asset_tag": "",
    }
    dev["position"] = 10.0
    changes, patch = diff.diff_object(dev, resolved)
    assert changes == {}
    assert patch == {}


def test_only_changed_fields_are_patched(lab):
    dev = _device(lab, "srv-r2-01")
    resolved = {"status": "active", "serial": "LAB1R2S01", "custom_fields": {"minion_id": "x"}}
    given = {"status": "active", "serial": "LAB1R2S01", "custom_fields": {"minion_id": "x"}}
    changes, patch = diff.diff_object(dev, resolved, given)
    assert patch == {"status": "active", "custom_fields": {"minion_id": "x"}}
    assert changes == {
        "status": {"old": "planned", "new": "active"},
        "custom_fields": {"old": {"minion_id": None}, "new": {"minion_id": "x"}},
    }


def test_reference_compared_by_id_shown_by_name(lab):
    dev = _device(lab, "srv-r1-01")
    changes, patch = diff.diff_object(dev, {"rack": 9999}, {"rack": "R9"})
    assert patch == {"rack": 9999}
    assert changes == {"rack": {"old": "R1", "new": "R9"}}


def test_tags_compared_as_sets(lab):
    dev = _device(lab, "srv-r1-01")
    tag_id = dev["tags"][0]["id"]
    assert diff.diff_object(dev, {"tags": [tag_id, tag_id]}) == ({}, {})
    changes, patch = diff.diff_object(dev, {"tags": [77, tag_id]}, {"tags": ["b", "turnup-lab"]})
    assert patch == {"tags": sorted([77, tag_id], key=str)}
    assert changes["tags"] == {"old": ["turnup-lab"], "new": ["b", "turnup-lab"]}
    changes, patch = diff.diff_object(dev, {"tags": []})
    assert patch == {"tags": []}


def test_mac_addresses_compare_normalised(lab):
    mac = copy.deepcopy(lab["dcim.mac-addresses"][0])
    assert diff.diff_object(mac, {"mac_address": mac["mac_address"].lower()}) == ({}, {})


def test_create_diff_from_nothing():
    changes, patch = diff.diff_object(None, {"name": "x", "status": "planned"})
    assert patch == {"name": "x", "status": "planned"}
    assert changes["status"] == {"old": None, "new": "planned"}


def test_none_and_empty_string_are_equal(lab):
    dev = _device(lab, "srv-r1-01")
    assert dev["asset_tag"] is None
    assert diff.diff_object(dev, {"asset_tag": "", "description": None}) == ({}, {})


def test_booleans_do_not_equal_numbers():
    assert not diff.values_equal("enabled", True, 1)
    assert diff.values_equal("enabled", False, False)


def test_matches_checks_filters_client_side(lab):
    dev = _device(lab, "srv-r1-01")
    assert diff.matches(dev, {"name": "srv-r1-01", "site_id": dev["site"]["id"]})
    assert not diff.matches(dev, {"name": "srv-r1-02"})
    # a filter that is not a field (a typo NetBox would ignore) never matches
    assert not diff.matches(dev, {"nmae": "srv-r1-01"})
    assert diff.matches(dev, {"tenant_id": dev["tenant"]["id"], "location": None})
    ip = lab["ipam.ip-addresses"][0]
    host = ip["address"].split("/")[0]
    assert diff.matches(ip, {"address": host + "/32"})
    assert not diff.matches(ip, {"address": "10.99.99.99/24"})
    mac = lab["dcim.mac-addresses"][0]
    assert diff.matches(mac, {"mac_address": mac["mac_address"].lower()})
