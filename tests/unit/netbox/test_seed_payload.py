"""Unit tests: turning API objects into write payloads (seed) and finding references (export)."""

import pytest

from salt_ext.utils.netbox.errors import NetBoxConfigError
from salt_ext.utils.netbox.export import _refs
from salt_ext.utils.netbox.seed import SEED_KEYS, _diff, _Mapper, to_payload

BASE = "http://127.0.0.1:8001/api"


def ref(endpoint, ident, **extra):
    return dict(
        {"id": ident, "url": f"{BASE}/{endpoint.replace('.', '/', 1)}/{ident}/", "display": "x"},
        **extra,
    )


DEVICE = {
    "id": 110,
    "url": f"{BASE}/dcim/devices/110/",
    "display": "srv-r1-01",
    "name": "srv-r1-01",
    "device_type": ref("dcim.device-types", 16),
    "role": ref("dcim.device-roles", 11),
    "site": ref("dcim.sites", 25),
    "tenant": None,
    "status": {"value": "active", "label": "Active"},
    "primary_ip4": ref("ipam.ip-addresses", 184),
    "primary_ip": ref("ipam.ip-addresses", 184),
    "tags": [ref("extras.tags", 28)],
    "custom_fields": {"minion_id": "srv-r1-01.lab1.example.net"},
    "config_context": {"ntp": ["10.0.0.1"]},
    "interface_count": 19,
    "created": "2026-11-29T12:05:41Z",
}


def _mapper():
    mapper = _Mapper({"ipam.ip-addresses": {184}, "dcim.devices": {110}})
    for endpoint, old, new in (
        ("dcim.device-types", 16, 6),
        ("dcim.device-roles", 11, 3),
        ("dcim.sites", 25, 1),
        ("extras.tags", 28, 2),
    ):
        mapper.set(endpoint, old, new)
    return mapper


def test_device_payload_maps_ids_and_defers_circular_refs():
    payload, deferred = to_payload("dcim.devices", DEVICE, _mapper())
    assert payload["device_type"] == 6
    assert payload["role"] == 3
    assert payload["site"] == 1
    assert payload["tags"] == [2]
    assert payload["status"] == "active"
    assert payload["tenant"] is None
    assert payload["custom_fields"] == {"minion_id": "srv-r1-01.lab1.example.net"}
    assert deferred == ["primary_ip4"]  # the IP is created later
    for read_only in ("id", "url", "display", "primary_ip", "config_context", "created"):
        assert read_only not in payload
    assert "interface_count" not in payload


def test_unknown_reference_is_an_error_naming_the_field():
    mapper = _Mapper({})
    with pytest.raises(NetBoxConfigError, match="device_type references dcim.device-types id 16"):
        to_payload("dcim.devices", DEVICE, mapper)


def test_generic_foreign_keys_and_terminations_are_mapped():
    mapper = _Mapper({})
    mapper.set("dcim.interfaces", 1667, 7)
    mapper.set("dcim.interfaces", 1757, 8)
    ip = {
        "address": "10.10.1.11/24",
        "assigned_object_type": "dcim.interface",
        "assigned_object_id": 1667,
        "assigned_object": ref("dcim.interfaces", 1667),
    }
    payload, _ = to_payload("ipam.ip-addresses", ip, mapper)
    assert payload["assigned_object_id"] == 7
    assert "assigned_object" not in payload
    cable = {
        "a_terminations": [{"object_type": "dcim.interface", "object_id": 1667, "object": {}}],
        "b_terminations": [{"object_type": "dcim.interface", "object_id": 1757, "object": {}}],
        "status": {"value": "connected", "label": "Connected"},
    }
    payload, _ = to_payload("dcim.cables", cable, mapper)
    assert payload["a_terminations"] == [{"object_type": "dcim.interface", "object_id": 7}]
    assert payload["b_terminations"] == [{"object_type": "dcim.interface", "object_id": 8}]
    assert SEED_KEYS["dcim.cables"][0](payload) == frozenset(
        {("dcim.interface", 7), ("dcim.interface", 8)}
    )


def test_identity_payload_of_target_objects():
    payload, deferred = to_payload("dcim.devices", DEVICE)
    assert payload["site"] == 25 and payload["primary_ip4"] == 184
    assert not deferred


def test_diff_only_changed_fields_and_tags_only_added():
    current = {"name": "a", "tags": [1, 5], "position": 11, "mac_address": "00:aa:bb:cc:dd:ee"}
    assert _diff({"name": "a", "tags": [5], "position": 11.0}, current) == {}
    assert _diff({"tags": [2]}, current) == {"tags": [1, 5, 2]}
    assert _diff({"name": "b"}, current) == {"name": "b"}
    assert _diff({"mac_address": "00:AA:BB:CC:DD:EE"}, current) == {}
    assert _diff({"custom_fields": {"x": 1}}, {"custom_fields": {"x": 1, "y": 2}}) == {}


def test_device_natural_key_is_case_insensitive_on_name():
    key = SEED_KEYS["dcim.devices"][0]
    assert key({"site": 1, "tenant": None, "name": "SRV-R2-01"}) == (1, None, "srv-r2-01")


def test_export_finds_references():
    found = _refs(DEVICE)
    assert ("dcim.sites", 25) in found
    assert ("ipam.ip-addresses", 184) in found
    assert ("extras.tags", 28) in found
    ip = {"assigned_object_type": "dcim.interface", "assigned_object_id": 1667}
    assert _refs(ip) == {("dcim.interfaces", 1667)}
