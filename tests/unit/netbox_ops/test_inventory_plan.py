"""Unit tests: planning ``netbox.sync_inventory`` from a hardware inventory."""

import copy
import json

import pytest

from salt_ext.utils.netbox_ops import inventory as inv
from tests.support.saltenv import LAB1_SNAPSHOT


@pytest.fixture(scope="module")
def lab():
    with open(LAB1_SNAPSHOT, encoding="utf-8") as fh:
        return json.load(fh)["objects"]


def _device(lab, name):
    dev = copy.deepcopy(next(d for d in lab["dcim.devices"] if d["name"] == name))
    ifaces = [copy.deepcopy(i) for i in lab["dcim.interfaces"] if i["device"]["id"] == dev["id"]]
    macs = [
        copy.deepcopy(m)
        for m in lab["dcim.mac-addresses"]
        if m["assigned_object_id"] in {i["id"] for i in ifaces}
    ]
    return dev, ifaces, macs


def _inventory(serial="LAB1R2S01"):
    """A hardware.inventory return (schema hardware-inventory/1), only the keys sync uses."""
    return {
        "schema": "hardware-inventory/1",
        "system": {"vendor": "Dell Inc.", "product": "PowerEdge M630", "serial": serial},
        "cpu": {
            "vendor": "Intel",
            "model": "Xeon E5-2620 v4",
            "packages": [
                {"socket": "CPU1", "model": "Xeon E5-2620 v4", "cores": 8, "threads": 16},
                {"socket": "CPU2", "model": "Xeon E5-2620 v4", "cores": 8, "threads": 16},
            ],
        },
        "memory": {
            "total_bytes": 2 * 16 * 2**30,
            "dimms": [
                {
                    "locator": "A1",
                    "size_bytes": 16 * 2**30,
                    "speed_mts": 2400,
                    "part": "M393A2K40BB1",
                    "serial": "36A1B2C3",
                },
                {
                    "locator": "A2",
                    "size_bytes": 16 * 2**30,
                    "speed_mts": 2400,
                    "part": "M393A2K40BB1",
                    "serial": "36A1B2C4",
                },
                {"locator": "A3", "size_bytes": 0, "serial": "NO DIMM"},
            ],
        },
        "disks": [
            {
                "name": "nvme0n1",
                "model": "Dell Express Flash",
                "serial": "S3EWNX0K1234",
                "size_bytes": 8e11,
            }
        ],
        "nics": [
            {"name": "eno1", "mac": "24:6e:96:02:11:01"},
            {"name": "eno2", "mac": "24:6e:96:02:11:02"},
            {"name": "ens9", "mac": "24:6e:96:02:11:09"},
        ],
        "bmc": {"mac": "24:6e:96:02:11:03", "ip": "10.20.0.61"},
        "psus": [
            {
                "name": "PS1",
                "model": "0G6W6K",
                "serial": "CN1797263B",
                "vendor": "Dell",
                "max_power_w": 1100,
                "present": True,
            },
            {"name": "PS2", "model": "0G6W6K", "serial": None, "present": False},
        ],
        "warnings": ["dmidecode: type 17 incomplete"],
    }


@pytest.mark.parametrize(
    "raw,clean",
    [
        ("To Be Filled By O.E.M.", None),
        ("  Not Specified ", None),
        ("0000000", None),
        ("", None),
        (None, None),
        ("CN7016  35R", "CN7016 35R"),
        ("4242", None),  # anonymised (repeated unit), as the hardware inventory flags it
        ("CN1797263B", "CN1797263B"),
    ],
)
def test_clean_serial(raw, clean):
    assert inv.clean_serial(raw) == clean


def test_plan_for_an_empty_planned_server(lab):
    dev, ifaces, macs = _device(lab, "srv-r2-01")
    dev["serial"] = ""
    mfrs = lab["dcim.manufacturers"]
    plan = inv.plan_sync(
        dev, _inventory(), interfaces=ifaces, mac_objects=macs, items=[], manufacturers=mfrs
    )
    assert plan["device_patch"] == {"serial": "LAB1R2S01"}
    assert plan["conflicts"] == []
    assert [(c["interface"], c["mac_address"], c["set_primary"]) for c in plan["mac_creates"]] == [
        ("eno1", "24:6E:96:02:11:01", True),
        ("eno2", "24:6E:96:02:11:02", True),
        ("bmc", "24:6E:96:02:11:03", True),
    ]
    assert any("ens9" in w for w in plan["warnings"])
    assert "dmidecode: type 17 incomplete" in plan["warnings"]
    names = [c["payload"]["name"] for c in plan["item_creates"]]
    # empty slot A3 and absent PSU PS2 skipped
    assert names == ["CPU1", "CPU2", "A1", "A2", "nvme0n1", "PS1"]
    cpu = plan["item_creates"][0]["payload"]
    intel = next((m for m in mfrs if m["name"] == "Intel"), None)
    assert cpu["part_id"] == "Xeon E5-2620 v4"
    assert cpu["description"] == "8 cores, 16 threads"
    assert cpu.get("manufacturer") == (intel["id"] if intel else None)
    psu = plan["item_creates"][-1]["payload"]
    dell = next(m for m in mfrs if m["name"] == "Dell")
    assert psu == {
        "device": dev["id"],
        "name": "PS1",
        "part_id": "0G6W6K",
        "serial": "CN1797263B",
        "description": "1100 W",
        "discovered": True,
        "manufacturer": dell["id"],
    }
    assert plan["item_creates"][2]["payload"]["description"] == "16 GiB 2400 MT/s"


def test_conflicting_device_serial_is_reported_not_written(lab):
    dev, ifaces, macs = _device(lab, "srv-r2-01")
    plan = inv.plan_sync(
        dev,
        _inventory(serial="OTHER123"),
        interfaces=ifaces,
        mac_objects=macs,
        items=[],
        manufacturers=[],
    )
    assert plan["device_patch"] == {}
    (conflict,) = plan["conflicts"]
    assert conflict["field"] == "serial"
    assert conflict["netbox"] == "LAB1R2S01" and conflict["reported"] == "OTHER123"
    assert "not overwritten" in conflict["message"] and "srv-r2-01" in conflict["message"]


def test_same_serial_any_case_is_fine_and_placeholder_ignored(lab):
    dev, ifaces, macs = _device(lab, "srv-r2-01")
    plan = inv.plan_sync(
        dev,
        _inventory("lab1r2s01"),
        interfaces=ifaces,
        mac_objects=macs,
        items=[],
        manufacturers=[],
    )
    assert plan["device_patch"] == {} and plan["conflicts"] == []
    dev["serial"] = ""
    plan = inv.plan_sync(
        dev,
        _inventory("To Be Filled By O.E.M."),
        interfaces=ifaces,
        mac_objects=macs,
        items=[],
        manufacturers=[],
    )
    assert plan["device_patch"] == {}
    assert "placeholder" in plan["warnings"][0]


def test_macs_already_recorded_are_unchanged(lab):
    dev, ifaces, macs = _device(lab, "srv-r1-01")
    inventory = {
        "nics": [
            {"name": "eno1", "mac": "24:6e:96:01:11:01"},
            {"name": "bmc", "mac": "24:6E:96:01:11:03"},
        ]
    }
    creates, primaries, conflicts, warnings, unchanged = inv.plan_macs(dev, ifaces, macs, inventory)
    assert (creates, primaries, conflicts, warnings) == ([], [], [], [])
    assert unchanged == 2


def test_mac_on_another_device_is_a_conflict(lab):
    dev, ifaces, _ = _device(lab, "srv-r2-01")
    other = next(
        m
        for m in lab["dcim.mac-addresses"]
        if m["assigned_object"]["device"]["name"] == "srv-r1-01"
    )
    inventory = {"nics": [{"name": "eno1", "mac": other["mac_address"]}]}
    creates, _, conflicts, _, _ = inv.plan_macs(dev, ifaces, [other], inventory)
    assert creates == []
    (conflict,) = conflicts
    assert "srv-r1-01" in conflict["message"] and "not moved" in conflict["message"]


def test_existing_mac_object_without_primary_gets_primary(lab):
    dev, ifaces, macs = _device(lab, "srv-r1-01")
    eno2 = next(i for i in ifaces if i["name"] == "eno2")
    eno2["primary_mac_address"] = None
    inventory = {"nics": [{"name": "eno2", "mac": "24:6E:96:01:11:02"}]}
    creates, primaries, _, _, _ = inv.plan_macs(dev, ifaces, macs, inventory)
    assert creates == []
    assert primaries[0]["interface_id"] == eno2["id"]


def test_items_fill_empty_fields_and_report_conflicts_and_stale(lab):
    dev, _, _ = _device(lab, "srv-r2-01")
    items = [
        {
            "id": 1,
            "name": "CPU1",
            "serial": "",
            "part_id": "",
            "description": "",
            "manufacturer": None,
        },
        {
            "id": 2,
            "name": "A1",
            "serial": "OLD77777X",
            "part_id": "M393A2K40BB1",
            "description": "16 GiB 2400 MT/s",
            "manufacturer": None,
        },
        {
            "id": 3,
            "name": "PS2",
            "serial": "",
            "part_id": "",
            "description": "",
            "manufacturer": None,
        },
    ]
    creates, updates, conflicts, stale, unchanged = inv.plan_items(dev, items, _inventory(), [])
    assert [c["payload"]["name"] for c in creates] == ["CPU2", "A2", "nvme0n1", "PS1"]
    (cpu1,) = [u for u in updates if u["name"] == "CPU1"]
    assert cpu1["patch"] == {"part_id": "Xeon E5-2620 v4", "description": "8 cores, 16 threads"}
    assert cpu1["changes"]["part_id"] == {"old": "", "new": "Xeon E5-2620 v4"}
    (conflict,) = conflicts
    assert conflict["netbox"] == "OLD77777X" and conflict["reported"] == "36A1B2C3"
    assert stale == ["PS2"]  # not present on the server: listed, never deleted
    assert unchanged == 1  # A1: only its serial differs, and that is a conflict, not a change


def test_duplicate_item_names_are_suffixed():
    items = inv.wanted_items({"disks": [{"name": "disk"}, {"name": "disk"}]})
    assert [i["name"] for i in items] == ["disk", "disk #2"]


def test_inventory_must_be_a_dict(lab):
    dev, ifaces, macs = _device(lab, "srv-r2-01")
    with pytest.raises(TypeError, match="hardware.inventory"):
        inv.plan_sync(dev, "nope", interfaces=ifaces, mac_objects=macs, items=[], manufacturers=[])


def test_unassigned_mac_object_is_assigned_not_duplicated(lab):
    dev, ifaces, _ = _device(lab, "srv-r2-01")
    spare = {"id": 9001, "mac_address": "24:6E:96:02:11:01", "assigned_object_type": None,
             "assigned_object_id": None, "assigned_object": None}  # fmt: skip
    inventory = {"nics": [{"name": "eno1", "mac": "24:6e:96:02:11:01"}]}
    creates, _, conflicts, _, _ = inv.plan_macs(dev, ifaces, [spare], inventory)
    assert conflicts == []
    (create,) = creates
    assert create["mac_id"] == 9001 and create["interface"] == "eno1"
    creates, _, _, _, _ = inv.plan_macs(dev, ifaces, [], inventory)
    assert "mac_id" not in creates[0]


def test_serial_conflict_holds_back_every_write(lab):
    dev, ifaces, macs = _device(lab, "srv-r2-01")
    plan = inv.plan_sync(
        dev,
        _inventory(serial="OTHER123"),
        interfaces=ifaces,
        mac_objects=macs,
        items=[],
        manufacturers=[],
    )
    assert plan["mac_creates"] == plan["mac_primaries"] == []
    assert plan["item_creates"] == plan["item_updates"] == []
    assert plan["warnings"][0].startswith("nothing written to device 'srv-r2-01'")
    # the same inventory with the right serial writes
    plan = inv.plan_sync(
        dev, _inventory(), interfaces=ifaces, mac_objects=macs, items=[], manufacturers=[]
    )
    assert plan["item_creates"] and plan["conflicts"] == []


def test_empty_serial_is_not_filled_with_another_devices_serial(lab):
    dev, ifaces, macs = _device(lab, "srv-r2-01")
    dev["serial"] = ""
    owner = {"id": dev["id"] + 1, "name": "srv-r3-03", "serial": "lab1r2s01"}
    kwargs = {"interfaces": ifaces, "mac_objects": macs, "items": [], "manufacturers": []}
    plan = inv.plan_sync(dev, _inventory(), serial_owners=[owner], **kwargs)
    assert plan["device_patch"] == {} and plan["item_creates"] == []
    (conflict,) = plan["conflicts"]
    assert conflict["netbox"] == "LAB1R2S01 on srv-r3-03"
    # the device itself among the owners (a re-read) is no conflict
    plan = inv.plan_sync(
        dev, _inventory(), serial_owners=[{**dev, "serial": "LAB1R2S01"}], **kwargs
    )
    assert plan["device_patch"] == {"serial": "LAB1R2S01"} and plan["conflicts"] == []
    assert inv.reported_serial({"system": {"serial": "To Be Filled By O.E.M."}}) is None
