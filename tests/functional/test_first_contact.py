"""
Defects a new user met in the first ten minutes (issue 8), through Salt's loaders in-process:
``hardware.validate`` against a stale NetBox copy must say so; a simulated box (the demo, a
rehearsal) must never write the host's real ``/etc``; the demo's example SLS leaves NetBox
consistent.
"""

from __future__ import annotations

import pytest
import salt.loader
from salt.exceptions import SaltInvocationError

from salt_ext.utils.netbox import NetBoxClient, load_config
from tests.functional.test_hardware import box_settings, loaders
from tests.functional.test_netbox_mod import minion_opts
from tests.support.saltenv import STATES_ROOT
from tests.unit.hardware.lab import Lab, load_profiles, simulate_spec


def _netbox_pillar(meta):
    lab = Lab()
    dev = lab.device("srv-r1-01")
    interfaces = {}
    for iface in lab.interfaces(dev):
        peer = (iface.get("link_peers") or [None])[0]
        interfaces[iface["name"]] = {
            "name": iface["name"],
            "type": iface["type"]["value"],
            "mgmt_only": iface["mgmt_only"],
            "mac_address": iface["mac_address"],
            "lag": (iface.get("lag") or {}).get("name"),
            "ip_addresses": [],
            "peer": {"device": peer["device"]["name"], "interface": peer["name"]} if peer else None,
        }
    profiles = load_profiles()
    return {
        "hwgen_profiles": profiles,
        "netbox": {
            "id": dev["id"],
            "name": "srv-r1-01",
            "serial": "LAB1R1S01",
            "device_type": {
                "slug": "poweredge-m630",
                "model": "PowerEdge M630",
                "hw_generation": "gen10",
            },
            "interfaces": interfaces,
            "config_context": dev["config_context"],
            "hwgen": dict(profiles["gen10"], generation="gen10"),
            "_meta": meta,
        },
    }


FRESH = {"source": "http://127.0.0.1:1", "scope": "lab1", "age_s": 3.0, "stale": False}
STALE = {
    "source": "http://127.0.0.1:1",
    "scope": "lab1",
    "synced_at": "2026-12-02T09:00:00+00:00",
    "age_s": 5400.0,
    "stale": True,
    "error": "NetBox unreachable at http://127.0.0.1:1: connection refused",
}


def test_validate_against_a_stale_netbox_copy_says_so(tmp_path):
    """NetBox down: the pillar serves its last good copy; the report must not look like a plain
    PASSED against live NetBox data."""
    settings = box_settings(tmp_path, "srv-r1-01")
    mods, _ = loaders(tmp_path, pillar=_netbox_pillar(FRESH), hardware=settings)
    fresh = mods["hardware.validate"]()
    assert fresh["netbox_stale"] is False
    assert "netbox.freshness" not in fresh["warnings"] and "stale" not in fresh["text"].lower()

    mods, _ = loaders(tmp_path, pillar=_netbox_pillar(STALE), hardware=settings)
    stale = mods["hardware.validate"]()
    assert stale["netbox_source"] == "pillar" and stale["netbox_stale"] is True
    assert stale["passed"] == fresh["passed"], "a stale copy is a warning, not a failure"
    assert "netbox.freshness" in stale["warnings"]
    headline = stale["text"].splitlines()[0]
    assert "STALE copy (NetBox unreachable)" in headline
    assert "[WARN] netbox.freshness: NetBox was not reachable" in stale["text"]
    assert "2026-12-02T09:00:00+00:00 (5400 s ago)" in stale["text"]
    assert "connection refused" in stale["text"]
    # the state says it too, and fail_on_warnings makes it a failure
    _, states = loaders(tmp_path, pillar=_netbox_pillar(STALE), hardware=settings)
    ret = states["hardware.validated"]("hw", fail_on_warnings=True)
    assert ret["result"] is False and "STALE copy" in ret["comment"]


def test_simulated_box_refuses_to_write_the_hosts_etc(tmp_path):
    """``hardware:simulate`` without a root of its own: hwgen would write /etc of the host."""
    for settings in (
        {"simulate": simulate_spec("srv-r1-02"), "apply_live": False},
        {"simulate": simulate_spec("srv-r1-02"), "root": "/", "apply_live": False},
    ):
        mods, _ = loaders(tmp_path, "srv-r1-02", hardware=settings)
        with pytest.raises(SaltInvocationError, match="would write the host's real /etc"):
            mods["hardware.config"]()
    # a root of its own, but a path override escaping it
    escaping = {
        "simulate": simulate_spec("srv-r1-02"),
        "root": str(tmp_path / "root"),
        "paths": {"network_dir": "/etc/systemd/network"},
        "apply_live": False,
    }
    mods, _ = loaders(tmp_path, "srv-r1-02", hardware=escaping)
    with pytest.raises(SaltInvocationError, match="is outside hardware:root"):
        mods["hardware.config"]()
    # the same box with a root of its own renders everything under it
    mods, _ = loaders(tmp_path, "srv-r1-02", hardware=box_settings(tmp_path, "srv-r1-02"))
    cfg = mods["hardware.config"]()
    assert cfg["files"] and all(p.startswith(str(tmp_path / "root")) for p in cfg["files"])
    # a real box (not simulated) may of course configure /
    mods, _ = loaders(tmp_path, "srv-r1-02", hardware={"apply_live": False})
    assert all(p.startswith("/etc/") for p in mods["hardware.config"]()["files"])


def test_hwgen_sls_of_a_simulated_box_without_root_writes_nothing(tmp_path):
    """``state.apply hwgen`` in a rehearsal without hardware:root fails before any file state."""
    settings = {"simulate": simulate_spec("srv-r1-02"), "apply_live": False}
    mods, _ = loaders(tmp_path, "srv-r1-02", hardware=settings)
    ret = mods["state.sls"]("hwgen")
    assert isinstance(ret, list), ret  # a render error: no state ran
    assert any("would write the host's real /etc" in line for line in ret), ret


@pytest.mark.live_capable
def test_demo_turnup_example_leaves_netbox_consistent(fresh_netbox, tmp_path):
    """The demo applies netbox_examples.turnup on minion srv-r1-01 for ANOTHER device
    (srv-r2-09): that device must not get srv-r1-01's minion_id (srv-r1-01's netbox.device then
    returned srv-r2-09, and netbox.sync_inventory failed with a serial conflict)."""
    lab = fresh_netbox.lab
    box, demo = lab.name("srv-r1-01"), lab.name(DEMO)
    # the example's site, address, uplink and MAC in this lab (lab1's own on the stand-in); the
    # MAC run-unique on a real NetBox (the state moves a MAC it finds on one other interface)
    example = {
        "device": demo,
        "site": lab.site,
        "address": lab.ip("10.10.2.21/24"),
        "uplink": f"{lab.name('tor1-r2')}:Ethernet21",
        "mac": f"02:{lab.run[0:2]}:{lab.run[2:4]}:{lab.run[4:6]}:02:21" if lab.run else None,
    }
    pillar = {"netbox_example": {k: v for k, v in example.items() if v is not None}}
    client = NetBoxClient(
        load_config({"netbox": {"url": fresh_netbox.url, "token": fresh_netbox.token}})
    )
    tag_existed = client.find("extras.tags", slug=EXAMPLE_TAG) is not None
    try:
        _apply_the_demo_example(fresh_netbox, tmp_path, box, demo, pillar)
    finally:
        # the tag the example creates: NetBox-wide, outside the lab copy
        tag = None if tag_existed else client.find("extras.tags", slug=EXAMPLE_TAG)
        if tag is not None:
            client.delete("extras.tags", tag["id"])


def _apply_the_demo_example(target, tmp_path, box, demo, pillar):
    (tmp_path / "pillar").mkdir()
    opts = minion_opts(
        target,
        tmp_path / "cache",
        box,
        file_roots={"base": [str(STATES_ROOT)]},
        pillar_roots={"base": [str(tmp_path / "pillar")]},
        state_events=False,
    )
    opts["pillar"] = {}
    mods = _mods(opts)
    ret = mods["state.sls"]("netbox_examples.turnup", pillar=pillar)
    assert isinstance(ret, dict) and all(s["result"] is True for s in ret.values()), ret
    mods = _mods(opts)
    assert mods["netbox.device"]()["name"] == box
    declared = mods["netbox.device"](demo)
    assert declared["custom_fields"]["minion_id"] == demo
    owners = mods["netbox.filter"]("dcim.devices", cf_minion_id=box)
    assert [d["name"] for d in owners] in ([], [box])
    # the demo applies it twice: the second run changes nothing
    mods = _mods(opts)
    again = mods["state.sls"]("netbox_examples.turnup", pillar=pillar)
    assert all(s["result"] is True for s in again.values()), again
    assert [k for k, s in again.items() if s["changes"]] == [], "second run changes nothing"


DEMO = "srv-r2-09"
#: the tag netbox_examples.turnup creates
EXAMPLE_TAG = "turnup-example"


def _mods(opts):
    return salt.loader.minion_mods(opts, utils=salt.loader.utils(opts))
