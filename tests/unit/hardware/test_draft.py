"""Onboarding a generation: a draft profile vs a sample box (what turnup.check_generation reports)."""

import copy

import pytest

from salt_ext.utils.hardware.inventory import simulate
from salt_ext.utils.hardware.validate import compare_draft
from salt_ext.utils.hardware.validate import suggest_expected
from tests.unit.hardware.conftest import requires_shared
from tests.unit.hardware.lab import load_profiles
from tests.unit.hardware.lab import simulate_spec

pytestmark = requires_shared


@pytest.fixture(scope="module")
def box():
    return simulate(simulate_spec("srv-r1-03"))


def test_shipped_profile_agrees(box):
    report = compare_draft(box, "gen12", load_profiles()["gen12"])
    assert report["agrees"], report["disagreements"]
    assert report["matches_hardware"] and report["schema_errors"] == []
    assert report["checks"][0]["name"] == "match"


def test_suggestion_is_itself_an_agreeing_profile(box):
    suggested = suggest_expected(box)
    assert suggested["cpu"] == {
        "model": r"Intel\(R\)\ Xeon\(R\)\ CPU\ E5\-2620\ v4\ @\ 2\.10GHz",
        "sockets": 1,
        "cores": 8,
        "threads": 16,
    }
    assert suggested["memory"] == {"total_gb": 64.0, "dimm_count": 4, "dimm_size_gb": 16}
    assert {g["class"]: g["count"] for g in suggested["disks"]} == {"hdd": 12, "ssd": 2, "nvme": 1}
    assert suggested["nics"] == {"count": 2, "min_speed_mbps": 10000, "driver": "^(ixgbe)$"}
    draft = {
        "device_types": ["new-type"],
        "match": {"vendor": "^Supermicro", "product": "^SSG"},
        "expected": suggested,
    }
    assert compare_draft(box, "gen13", draft)["agrees"]


def test_disagreements_and_schema_errors(box):
    draft = copy.deepcopy(load_profiles()["gen12"])
    draft["match"]["product"] = "^SSG-6049P"
    draft["expected"]["memory"]["dimm_count"] = 8
    report = compare_draft(box, "gen13", draft)
    assert not report["agrees"] and not report["matches_hardware"]
    assert [c["name"] for c in report["disagreements"]] == ["match", "memory.dimm_count"]
    draft["expected"]["cpu"]["sockets"] = "one"
    report = compare_draft(box, "gen13", draft)
    assert report["schema_errors"] and report["checks"] == [] and not report["agrees"]
