import copy

import pytest
from salt.exceptions import SaltInvocationError

from salt_ext.utils.hardware import profiles as hp
from tests.unit.hardware.lab import load_profiles


@pytest.fixture(scope="module")
def shipped():
    return load_profiles()


def test_shipped_profiles_valid(shipped):
    assert sorted(shipped) == ["gen10", "gen11", "gen12"]
    assert hp.validate_profiles(shipped) is shipped


def test_shipped_profiles_cover_lab_device_types(shipped):
    from tests.unit.hardware.lab import Lab  # noqa: PLC0415

    lab = Lab()
    for dtype in lab.objects["dcim.device-types"]:
        gen = dtype["custom_fields"].get("hw_generation")
        if gen:
            assert hp.generation_for_device_type(shipped, dtype) == gen


@pytest.mark.parametrize(
    "mutate,message",
    [
        (
            lambda p: p["expected"]["cpu"].update(sockets="two"),
            "gen10:expected:cpu:sockets: must be a non-negative integer",
        ),
        (
            lambda p: p["expected"]["cpu"].update(model="E5-(2683"),
            "gen10:expected:cpu:model: is not a valid regular expression",
        ),
        (lambda p: p.pop("device_types"), "gen10:device_types: is required"),
        (
            lambda p: p["config"]["bond"].update(mode="lacp"),
            "gen10:config:bond:mode: must be one of",
        ),
        (
            lambda p: p["config"].update(mtu=100000),
            "gen10:config:mtu: must be an integer between 576 and 9216",
        ),
        (
            lambda p: p["config"]["nic_naming"].update(by="pci"),
            "gen10:config:nic_naming:names: is required with by: pci",
        ),
        (
            lambda p: p["expected"].update(disks=[{"class": "tape", "count": 1}]),
            "gen10:expected:disks:0:class: must be one of",
        ),
        (
            lambda p: p["expected"]["memory"].update(dimm_count={"min": 8, "max": 4}),
            "min 8 is above max 4",
        ),
        (lambda p: p.update(colour="blue"), "gen10:: unknown key(s) ['colour']"),
        (lambda p: p["config"]["sysctl"].update({"not a key": 1}), "is not a sysctl key"),
        (lambda p: p["config"].update(kernel_args=["a b"]), "must not contain spaces"),
        (lambda p: p.update(match={}), "gen10:match: needs 'vendor' and/or 'product'"),
        (
            lambda p: p["config"].update(kernel_args=["quiet", "$(reboot)"]),
            "gen10:config:kernel_args: argument '$(reboot)' must not contain spaces, quotes or "
            "shell characters",
        ),
        (
            lambda p: p["config"]["bond"].update(members=["eno1", "eno 2"]),
            "gen10:config:bond:members: 'eno 2' is not a valid interface name",
        ),
        (
            lambda p: p["config"]["bond"].update(xmit_hash_policy="layer34"),
            "gen10:config:bond:xmit_hash_policy: must be one of",
        ),
        (
            lambda p: p["config"]["sysctl"].update({"vm.swappiness": "1\nkernel.panic = 0"}),
            "gen10:config:sysctl:vm.swappiness: value must be a one-line scalar",
        ),
        (
            lambda p: p["config"].update(
                nic_naming={"by": "pci", "names": {"eno1": "0000:06:00.0"}}
            ),
            "gen10:config:bond:members: ['eno2'] are not named by config:nic_naming:names",
        ),
    ],
)
def test_schema_errors_name_the_key(shipped, mutate, message):
    profile = copy.deepcopy(shipped["gen10"])
    mutate(profile)
    with pytest.raises(hp.ProfileError) as err:
        hp.validate_profile("gen10", profile)
    assert message in str(err.value)
    assert "docs/hardware-generations.md" in str(err.value)
    assert isinstance(err.value, SaltInvocationError)


def test_device_type_claimed_twice(shipped):
    profiles = copy.deepcopy(shipped)
    profiles["gen13"] = copy.deepcopy(profiles["gen10"])
    with pytest.raises(hp.ProfileError, match="'poweredge-m630' is already covered by gen10"):
        hp.validate_profiles(profiles)


def test_ranges_accepted(shipped):
    profile = copy.deepcopy(shipped["gen12"])
    profile["expected"]["memory"]["total_gb"] = {"min": 64}
    assert hp.check_profile("gen12", profile) == []


def test_select_profile_precedence(shipped):
    pillar = {"hwgen_profiles": shipped}
    assert hp.select_profile(pillar, "gen11")["name"] == "gen11"
    pillar["netbox"] = {"device_type": {"hw_generation": "gen12"}}
    assert hp.select_profile(pillar)["name"] == "gen12"
    merged = dict(copy.deepcopy(shipped["gen10"]), generation="gen10")
    merged["config"]["mtu"] = 1500
    pillar["netbox"]["hwgen"] = merged
    chosen = hp.select_profile(pillar)
    assert (chosen["name"], chosen["config"]["mtu"]) == ("gen10", 1500)
    assert hp.select_profile(pillar, "gen11")["name"] == "gen11"  # explicit other generation
    pillar["hwgen"] = dict(copy.deepcopy(shipped["gen11"]), name="gen11")
    assert hp.select_profile(pillar)["name"] == "gen11"


def test_select_profile_errors(shipped):
    with pytest.raises(SaltInvocationError, match="no hardware generation known"):
        hp.select_profile({"hwgen_profiles": shipped})
    with pytest.raises(SaltInvocationError, match="add pillar/hwgen/gen99.sls"):
        hp.select_profile({"hwgen_profiles": shipped}, "gen99")
    bad = copy.deepcopy(shipped)
    bad["gen10"]["expected"]["cpu"]["cores"] = -1
    with pytest.raises(hp.ProfileError, match="expected:cpu:cores"):
        hp.select_profile({"hwgen_profiles": bad}, "gen10")


def test_detect_generation(shipped):
    assert hp.detect_generation(
        shipped, {"system": {"vendor": "HP", "product": "ProLiant BL460c Gen9"}}
    ) == ["gen11"]
    assert (
        hp.detect_generation(
            shipped, {"system": {"vendor": "HPE", "product": "ProLiant BL460c Gen10"}}
        )
        == []
    )
    assert hp.detect_generation(shipped, {"system": {}}) == []
