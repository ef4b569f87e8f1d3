"""Decommission decisions and the disk wipe on files (never a real disk)."""

import os

import pytest
from salt.exceptions import SaltInvocationError

from salt_ext.utils.turnup import decommission as dcm


def test_confirm_must_list_the_same_devices():
    assert dcm.check_confirm(["srv-r1-04"], ["srv-r1-04"]) is None
    assert dcm.check_confirm(["a", "b"], "b,a") is None
    missing = dcm.check_confirm(["srv-r1-04"], None)
    assert "confirm is missing" in missing and "confirm: [srv-r1-04]" in missing
    wrong = dcm.check_confirm(["srv-r1-04"], ["srv-r1-4"])
    assert "not confirmed: srv-r1-04" in wrong and "not being decommissioned: srv-r1-4" in wrong
    assert "must be a list" in dcm.check_confirm(["a"], {"a": 1})


def test_wipe_refusal():
    assert dcm.wipe_refusal("a", "decommissioning", ["a"]) is None
    assert "not in confirm" in dcm.wipe_refusal("a", "decommissioning", ["b"])
    assert "not in confirm" in dcm.wipe_refusal("a", "decommissioning", None)
    assert "'active', not 'decommissioning'" in dcm.wipe_refusal("a", "active", ["a"])


def test_minion_of():
    assert dcm.minion_of({"name": "a", "custom_fields": {"minion_id": "a.x"}}) == "a.x"
    assert dcm.minion_of({"name": "a", "custom_fields": {"minion_id": None}}) == "a"


def test_disk_targets_simulated_under_root(tmp_path):
    disks = [{"name": "sda", "path": "/dev/sda"}, {"name": "nvme0n1"}]
    assert dcm.disk_targets(disks, str(tmp_path), simulated=True) == [
        ("sda", str(tmp_path / "dev/sda")),
        ("nvme0n1", str(tmp_path / "dev/nvme0n1")),
    ]
    assert dcm.disk_targets(disks, "/", simulated=False)[0] == ("sda", "/dev/sda")
    with pytest.raises(SaltInvocationError, match="hardware:root is '/'"):
        dcm.disk_targets(disks, "/", simulated=True)
    with pytest.raises(SaltInvocationError, match="sdz not found"):
        dcm.disk_targets(disks, str(tmp_path), simulated=True, only=["sdz"])


def test_check_target_refuses_non_files_and_outside_root(tmp_path):
    (tmp_path / "dev").mkdir()
    disk = tmp_path / "dev" / "sda"
    disk.write_bytes(b"x")
    assert dcm.check_target(str(disk), str(tmp_path), simulated=True) is None
    assert "not a regular file" in dcm.check_target(str(tmp_path / "dev"), str(tmp_path), True)
    outside = tmp_path.parent / "elsewhere"
    outside.write_bytes(b"x")
    assert "outside hardware:root" in dcm.check_target(str(outside), str(tmp_path), True)
    assert "not a block device" in dcm.check_target(str(disk), "/", simulated=False)
    assert "No such file" in dcm.check_target(str(tmp_path / "none"), str(tmp_path), True)


@pytest.mark.parametrize("size", [4096, 3 * 1024 * 1024 + 17, 40 * 1024 * 1024])
def test_wipe_zeroes_both_ends_and_is_detected(tmp_path, size):
    span = 1024 * 1024
    disk = tmp_path / "sda"
    with open(disk, "wb") as handle:
        handle.write(os.urandom(size))
    assert not dcm.is_wiped(str(disk), span)
    assert dcm.wipe(str(disk), span) == size
    assert dcm.is_wiped(str(disk), span)
    assert os.path.getsize(disk) == size
    data = disk.read_bytes()
    if size > 2 * span:  # the middle is left alone
        assert data[span:-span].count(0) < len(data[span:-span])
    # one non-zero byte in the last span is data again
    with open(disk, "r+b") as handle:
        handle.seek(size - 1)
        handle.write(b"\x01")
    assert not dcm.is_wiped(str(disk), span)


def test_mounted_from(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "/dev/sda2 / ext4 rw 0 0\n/dev/sdb1 /srv xfs rw 0 0\nproc /proc proc rw 0 0\n"
    )
    assert dcm.mounted_from("/dev/sda", str(mounts)) == ["/"]
    assert dcm.mounted_from("/dev/sdc", str(mounts)) == []


class FakeSource:
    def __init__(self, sites, racks, devices):
        self.objs = {"dcim.sites": sites, "dcim.racks": racks, "dcim.devices": devices}

    def list(self, endpoint, params):
        out = []
        for obj in self.objs[endpoint]:
            ok = True
            for key, value in params.items():
                field = key[:-3] if key.endswith("_id") else key
                have = obj.get(field)
                have = have.get("id") if isinstance(have, dict) else have
                ok = ok and have == value
            if ok:
                out.append(obj)
        return out

    def list_by(self, endpoint, field, values):
        return [o for o in self.objs[endpoint] if o.get(field) in values]


@pytest.fixture
def src():
    site = {"id": 1, "slug": "lab1", "name": "Lab 1"}
    rack = {"id": 5, "name": "R1", "site": {"id": 1}}
    devs = [
        {"id": 10, "name": "srv-r1-01", "site": {"id": 1}, "rack": {"id": 5, "name": "R1"},
         "status": {"value": "active", "label": "Active"}, "serial": "S1", "custom_fields": {"minion_id": "m1"}},
        {"id": 11, "name": "srv-r1-02", "site": {"id": 1}, "rack": {"id": 5, "name": "R1"},
         "status": {"value": "offline", "label": "Offline"}, "serial": "", "custom_fields": {}},
    ]  # fmt: skip
    return FakeSource([site], [rack], devs)


def test_plan_devices_and_rack(src):
    out = dcm.plan(src, "lab1", devices="srv-r1-01", confirm=["srv-r1-01"])
    assert out["confirmed"] and out["problem"] is None
    assert out["devices"][0] == {
        "name": "srv-r1-01",
        "id": 10,
        "minion": "m1",
        "serial": "S1",
        "status": "active",
        "rack": "R1",
        "done": False,
    }
    out = dcm.plan(src, "lab1", rack="R1", confirm="srv-r1-01")
    assert out["todo"] == ["srv-r1-01"] and out["done"] == ["srv-r1-02"]
    assert not out["confirmed"] and "not confirmed: srv-r1-02" in out["problem"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"site": "nope", "devices": "srv-r1-01"}, "site 'nope' not found.*known sites: lab1"),
        ({"site": "lab1"}, "exactly one of them"),
        ({"site": "lab1", "devices": "a", "rack": "R1"}, "exactly one of them"),
        ({"site": "lab1", "rack": "R9"}, "rack 'R9' not found.*racks there: R1"),
        ({"site": "lab1", "devices": "srv-r1-01,srv-r9-09"}, "srv-r9-09 not found in site"),
        ({"site": "lab1", "devices": "srv-r1-01", "drain": "two words"}, "drain must be"),
        ({"site": "lab1", "devices": "srv-r1-01", "wipe_disks": "no"}, "wipe must be"),
        ({"site": None, "devices": "srv-r1-01"}, "site=<site slug> is required"),
    ],
)
def test_plan_bad_input(src, kwargs, message):
    site = kwargs.pop("site")
    with pytest.raises(SaltInvocationError, match=message):
        dcm.plan(src, site, **kwargs)
