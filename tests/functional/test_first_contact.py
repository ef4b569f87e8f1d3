"""
Defects a new user met in the first ten minutes (issue 8), through Salt's loaders in-process:
``hardware.validate`` against a stale NetBox copy must say so; a simulated box (the demo, a
rehearsal) must never write the host's real ``/etc``; the demo's example SLS leaves NetBox
consistent.
"""

from __future__ import annotations

import pytest
from salt.exceptions import SaltInvocationError

from tests.functional.test_hardware import box_settings, loaders
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
