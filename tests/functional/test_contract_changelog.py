"""
Contract cases for NetBox 4.6's change log on writes, in the recorded pairs' style (request, response
status, what the change log shows afterwards), replayed on the stand-in (lab1, ids kept).

These are AUTHORED from NetBox 4.6.8's code, not recorded (``tests/support/recorded/`` holds the
recorded ones): ``core.signals.handle_changed_object`` saves an ObjectChange only when
``objectchange.has_changes`` (prechange != postchange data, ``last_updated`` excluded because
``CHANGELOG_SKIP_EMPTY_CHANGES`` defaults to True), while the object itself is saved anyway.
"""

from __future__ import annotations

import json

import pytest
import requests

from tests.support.netbox_standin import LAB1, NetBoxStandin

DEVICE_A = 117  # srv-r2-01 in lab1.json (planned)
DEVICE_B = 118  # srv-r2-02 in lab1.json (planned)

#: (name, request, expected status, new ObjectChanges per device id, why)
PAIRS = [
    (
        "device-patch-unchanged",
        {
            "method": "PATCH",
            "path": f"/api/dcim/devices/{DEVICE_A}/",
            "body": {"status": "planned"},
        },
        200,
        {DEVICE_A: 0},
        "a PATCH that sets a field to its current value saves the device (last_updated moves) but "
        "records no ObjectChange",
    ),
    (
        "device-patch-status",
        {"method": "PATCH", "path": f"/api/dcim/devices/{DEVICE_A}/", "body": {"status": "staged"}},
        200,
        {DEVICE_A: 1},
        "a PATCH that changes a field records one update",
    ),
    (
        "devices-bulk-patch-one-unchanged",
        {
            "method": "PATCH",
            "path": "/api/dcim/devices/",
            "body": [{"id": DEVICE_A, "status": "staged"}, {"id": DEVICE_B, "status": "staged"}],
        },
        200,
        {DEVICE_A: 0, DEVICE_B: 1},
        "a bulk PATCH records an update only for the items it changes",
    ),
    (
        "device-put-same-values",
        {
            "method": "PATCH",
            "path": f"/api/dcim/devices/{DEVICE_B}/",
            "body": {"status": "staged", "serial": "LAB1R2S02", "description": ""},
        },
        200,
        {DEVICE_B: 0},
        "several fields, all as they are: no ObjectChange",
    ),
]


@pytest.fixture(scope="module")
def standin():
    with open(LAB1, encoding="utf-8") as fh:
        nb = NetBoxStandin(snapshot=json.load(fh), keep_ids=True).start()
    yield nb
    nb.stop()


def _changes(nb, device_id):
    res = requests.get(
        f"{nb.url}/api/core/object-changes/",
        params={"changed_object_type": "dcim.device", "changed_object_id": device_id},
        headers={"Authorization": f"Token {nb.token_v1}"},
        timeout=30,
    )
    res.raise_for_status()
    return [
        (c["action"]["value"], c["prechange_data"], c["postchange_data"])
        for c in res.json()["results"]
    ]


def _get(nb, device_id):
    res = requests.get(
        f"{nb.url}/api/dcim/devices/{device_id}/",
        headers={"Authorization": f"Token {nb.token_v1}"},
        timeout=30,
    )
    return res.json()


def test_lab_ids_are_the_expected_devices(standin):
    assert _get(standin, DEVICE_A)["name"] == "srv-r2-01"
    assert _get(standin, DEVICE_B)["name"] == "srv-r2-02"
    assert _get(standin, DEVICE_B)["serial"] == "LAB1R2S02"


@pytest.mark.parametrize("pair", PAIRS, ids=[p[0] for p in PAIRS])
def test_changelog_pair(standin, pair):
    name, req, status, new_changes, why = pair
    before = {dev: _changes(standin, dev) for dev in new_changes}
    updated = {dev: _get(standin, dev)["last_updated"] for dev in new_changes}
    res = requests.request(
        req["method"],
        standin.url + req["path"],
        json=req["body"],
        headers={"Authorization": f"Token {standin.token_v1}"},
        timeout=30,
    )
    assert res.status_code == status, (name, res.text)
    for dev, n in new_changes.items():
        after = _changes(standin, dev)
        assert len(after) - len(before[dev]) == n, f"{name}: {why}"
        # the object was saved either way (NetBox's save() bumps last_updated)
        assert _get(standin, dev)["last_updated"] != updated[dev], name
        for action, pre, post in after[: len(after) - len(before[dev])]:
            assert action == "update" and pre != post
