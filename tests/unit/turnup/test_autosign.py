"""Which serials go into the master's autosign grains file (salt_ext.utils.turnup.autosign)."""

import os
import stat

import pytest
from salt.exceptions import SaltInvocationError

from salt_ext.utils.turnup import autosign


def dev(ident, name, serial, status="planned"):
    return {"id": ident, "name": name, "serial": serial, "status": {"value": status}}


STATUSES = ["planned", "staged"]


def test_planned_and_staged_serials_are_written_once_sorted():
    devices = [
        dev(1, "a", "SRL002"),
        dev(2, "b", "SRL001", "staged"),
        dev(3, "c", "SRL003", "active"),
    ]
    out = autosign.plan(devices, devices, STATUSES)
    assert out["serials"] == ["SRL001", "SRL002"]
    assert out["duplicate_serials"] == {}


@pytest.mark.parametrize(
    "serial",
    ["To Be Filled By O.E.M.", "0123456789", "", "   ", None, "Default string", "4242", "XX"],
)
def test_placeholder_and_empty_serials_are_never_written(serial):
    out = autosign.plan([dev(1, "a", serial), dev(2, "b", "REAL123")], [], STATUSES)
    assert out["serials"] == ["REAL123"]
    if serial is None or not serial.strip():
        assert out["no_serial"] == ["a"]
    else:
        assert out["placeholder_serials"] == {"a": serial}


def test_a_serial_of_two_devices_is_reported_not_written():
    planned = [dev(1, "a", "DUP1"), dev(2, "b", "dup1"), dev(3, "c", "OKAY01")]
    out = autosign.plan(planned, planned, STATUSES)
    assert out["serials"] == ["OKAY01"]
    assert out["duplicate_serials"] == {"DUP1": ["a", "b"]}


def test_a_serial_shared_with_an_active_device_is_not_written():
    # the active device is not a candidate, but NetBox's serial filter finds it as an owner
    planned = [dev(1, "new", "SRL009")]
    owners = [dev(1, "new", "SRL009"), dev(7, "old", "SRL009", "active")]
    out = autosign.plan(planned, owners, STATUSES)
    assert out["serials"] == [] and out["duplicate_serials"] == {"SRL009": ["new", "old"]}


def test_devices_not_in_the_statuses_are_left_out_even_if_listed():
    devices = [dev(1, "a", "SRL001", s) for s in ("active", "failed", "decommissioning", "offline")]
    assert autosign.plan(devices, [], STATUSES)["serials"] == []


def test_quarantined_serials_are_held_back():
    devices = [dev(1, "a", "SRL001"), dev(2, "b", "SRL002")]
    out = autosign.plan(devices, devices, STATUSES, {"SRL001": {"serial": "SRL001"}})
    assert out["serials"] == ["SRL002"] and out["quarantined"] == {"SRL001": ["a"]}


@pytest.mark.parametrize("status", ["active", "failed", "decommissioning", "offline"])
def test_statuses_in_service_or_leaving_are_refused(status):
    with pytest.raises(SaltInvocationError, match="never be accepted"):
        autosign.parse_statuses(f"planned,{status}")


def test_statuses_parsing():
    assert autosign.parse_statuses(None) == ["planned", "staged"]
    assert autosign.parse_statuses(" planned , Inventory ") == ["planned", "inventory"]
    with pytest.raises(SaltInvocationError, match="statuses"):
        autosign.parse_statuses(",")


@pytest.mark.parametrize("grain", ["", "../x", ".hidden", None, 3])
def test_grain_must_be_a_plain_name(grain):
    with pytest.raises(SaltInvocationError, match="grain"):
        autosign.check_grain(grain)


class FakeSource:
    """Just the two reads sync() makes, over a list of devices."""

    def __init__(self, devices):
        self.devices = devices

    def list(self, endpoint, params):
        assert endpoint == "dcim.devices"
        return [d for d in self.devices if d["status"]["value"] in params["status"]]

    def list_by(self, endpoint, key, values):
        assert (endpoint, key) == ("dcim.devices", "serial")
        wanted = {v.upper() for v in values}
        return [d for d in self.devices if (d["serial"] or "").upper() in wanted]


def test_sync_writes_atomically_and_only_on_change(tmp_path):
    opts = {"autosign_grains_dir": str(tmp_path / "ag"), "cachedir": str(tmp_path / "cache")}
    devices = [dev(1, "a", "SRL001"), dev(2, "b", "SRL002"), dev(3, "c", "SRL002", "active")]
    src = FakeSource(devices)
    first = autosign.sync(opts, src)
    path = tmp_path / "ag" / "serialnumber"
    assert first["changed"] and first["added"] == ["SRL001"]
    assert first["duplicate_serials"] == {"SRL002": ["b", "c"]}
    assert autosign.read_serials(str(path)) == ["SRL001"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    mtime = path.stat().st_mtime_ns
    assert autosign.sync(opts, src)["changed"] is False and path.stat().st_mtime_ns == mtime
    devices[0]["status"]["value"] = "active"
    third = autosign.sync(opts, src)
    assert third["removed"] == ["SRL001"] and autosign.read_serials(str(path)) == []
    assert [n for n in os.listdir(tmp_path / "ag") if not n.startswith(".")] == ["serialnumber"]


def test_quarantine_round_trip(tmp_path):
    opts = {"autosign_grains_dir": str(tmp_path / "ag"), "cachedir": str(tmp_path / "cache")}
    src = FakeSource([dev(1, "a", "SRL001")])
    assert autosign.sync(opts, src)["added"] == ["SRL001"]
    assert autosign.quarantine(opts, "srl001", {"minion": "evil"}) is True
    assert autosign.quarantine(opts, "SRL001", {"minion": "evil"}) is False
    held = autosign.sync(opts, src)
    assert held["removed"] == ["SRL001"] and held["quarantined"] == {"SRL001": ["a"]}
    assert autosign.release(opts, "SRL001")["minion"] == "evil"
    assert autosign.release(opts, "SRL001") is None
    assert autosign.sync(opts, src)["added"] == ["SRL001"]


def test_sync_needs_the_directory():
    with pytest.raises(SaltInvocationError, match="autosign_grains_dir is not set"):
        autosign.sync({}, FakeSource([]))
