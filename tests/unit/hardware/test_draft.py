"""Onboarding a generation: a draft profile vs a sample box (what turnup.check_generation reports)."""

import copy

import pytest

from salt_ext.utils.hardware.inventory import simulate
from salt_ext.utils.hardware.validate import compare_draft, suggest_expected
from tests.unit.hardware.conftest import requires_shared
from tests.unit.hardware.lab import load_profiles, simulate_spec

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
        "socket_type": r"^LGA2011\-3$",
    }
    assert suggested["memory"] == {
        "total_gb": 64.0,
        "dimm_count": 4,
        "dimm_size_gb": 16,
        "type": "^DDR4$",
        "ecc": True,
    }, "no module: the SSG's DIMMs do not say Registered/Unbuffered"
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


def test_conflicts_with_the_other_generations(box):
    from salt_ext.utils.hardware.profiles import conflicts  # noqa: PLC0415

    profiles = load_profiles()
    assert conflicts("gen12", profiles["gen12"], profiles, box) == []
    # A draft copied from gen12 without changing device_types or match.
    draft = copy.deepcopy(profiles["gen12"])
    found = conflicts("gen13", draft, profiles, box)
    assert [(c["generation"], c["reason"]) for c in found] == [
        ("gen12", "device_types"),
        ("gen12", "match"),
    ]
    assert "gen12 already covers NetBox device type(s) ['ssg-6028r-osd072p']" in found[0]["comment"]
    assert "Supermicro SSG-6028R-OSD072P" in found[1]["comment"]
    draft.update(
        device_types=["ssg-6049p"], match={"vendor": "^Supermicro", "product": "^SSG-6049P"}
    )
    assert conflicts("gen13", draft, profiles, box) == []


def test_netbox_tagging_of_the_sample_box():
    from salt_ext.utils.hardware.profiles import netbox_tagging  # noqa: PLC0415

    gen12 = load_profiles()["gen12"]
    pillar_dtype = {
        "slug": "ssg-6028r-osd072p",
        "model": "SSG-6028R-OSD072P",
        "hw_generation": "gen12",
    }
    assert netbox_tagging("gen12", gen12, pillar_dtype) == {
        "device_type": "ssg-6028r-osd072p",
        "hw_generation": "gen12",
        "listed": True,
        "tagged": True,
        "done": True,
        "todo": [],
    }
    rest_dtype = {
        "slug": "ssg-6049p",
        "model": "SSG-6049P",
        "custom_fields": {"hw_generation": None},
    }
    report = netbox_tagging("gen13", gen12, rest_dtype)
    assert not report["done"] and not report["listed"] and not report["tagged"]
    assert report["todo"] == [
        "set custom field hw_generation: gen13 on NetBox device type 'ssg-6049p' (now None)",
        "list 'ssg-6049p' in hwgen_profiles:gen13:device_types",
    ]
    assert "NetBox ext_pillar" in netbox_tagging("gen13", gen12, None)["todo"][0]
