"""The demo's boxes without ../shared (tests/support/lab_boxes.py ``AUTHORED``): the facts
authored in place of a real dmidecode pass their generation profile, and where ../shared is
present they agree with what the real capture of the same model reports."""

from __future__ import annotations

import pytest

from salt_ext.utils.hardware import inventory as inv
from salt_ext.utils.hardware.validate import hardware_checks
from tests.support import lab_boxes
from tests.unit.hardware import lab
from tests.unit.hardware.conftest import SHARED_HW

BOXES = sorted(lab_boxes.AUTHORED)


def authored(box):
    return inv.simulate({"dir": str(lab.SIMULATED / box), "overrides": lab_boxes.AUTHORED[box]})


@pytest.mark.parametrize("box", BOXES)
def test_authored_box_passes_its_generation_profile(box):
    profile = lab.load_profiles()[lab.BOXES[box][1]]
    failed = [c for c in hardware_checks(authored(box), profile) if not c.get("ok", True)]
    assert failed == []


@pytest.mark.parametrize("box", BOXES)
def test_authored_facts_agree_with_the_real_capture(box):
    if SHARED_HW is None:
        pytest.skip("real hardware fixtures ../shared/fixtures/hardware are absent")
    real, ours = inv.simulate(lab.simulate_spec(box)), authored(box)
    for part, keys in (
        ("system", ("vendor", "product")),
        ("cpu", ("model", "sockets", "cores", "threads")),
        ("memory", ("dimm_count", "total_gb")),
        ("firmware", ("bios", "bios_family", "bmc_family")),
    ):
        assert {k: ours[part].get(k) for k in keys} == {k: real[part].get(k) for k in keys}, part
