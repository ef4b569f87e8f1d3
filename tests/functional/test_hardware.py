"""
Functional tests of the ``hardware`` execution and state modules and the ``hwgen`` SLS: Salt's
loaders in-process, NetBox from the lab1 snapshot (SnapshotSource) or from a NetBox-pillar-shaped
pillar, hardware simulated from real server output (../shared) or collected live on this machine.
"""

import json
import os
import pathlib
import shutil
from unittest.mock import patch

import pytest
import salt.config
import salt.loader
import salt.utils.timed_subprocess
import yaml
from salt.exceptions import CommandExecutionError, SaltInvocationError

from tests.support.saltenv import LAB1_SNAPSHOT, PILLAR_ROOT, STATES_ROOT
from tests.unit.hardware.conftest import requires_shared
from tests.unit.hardware.lab import Lab, load_profiles, simulate_spec

_GRAINS = {}


def _opts(tmp_path, minion_id, hardware=None, pillar=None, test=False):
    opts = salt.config.minion_config(None)
    snapshot = tmp_path / "lab1.json"
    if not snapshot.exists():
        shutil.copy(LAB1_SNAPSHOT, snapshot)
    opts.update(
        cachedir=str(tmp_path / "cache"),
        file_client="local",
        file_roots={"base": [str(STATES_ROOT)]},
        pillar_roots={"base": [str(PILLAR_ROOT)]},
        id=minion_id,
        test=test,
        netbox={"snapshot": str(snapshot)},
        hardware=hardware or {},
        state_events=False,
    )
    if not _GRAINS:
        _GRAINS.update(salt.loader.grains(opts))
    opts["grains"] = dict(_GRAINS)
    opts["pillar"] = pillar if pillar is not None else {"hwgen_profiles": load_profiles()}
    return opts


def loaders(tmp_path, minion_id="srv-r1-01", **kwargs):
    """(execution modules, state modules); build a new pair per use (Salt binds dunders late)."""
    opts = _opts(tmp_path, minion_id, **kwargs)
    utils = salt.loader.utils(opts)
    mods = salt.loader.minion_mods(opts, utils=utils)
    states = salt.loader.states(opts, mods, utils, {}, whitelist=["hardware", "file", "cmd"])
    return mods, states


def box_settings(tmp_path, box, overrides=None):
    return {
        "simulate": simulate_spec(box, overrides),
        "root": str(tmp_path / "root"),
        "apply_live": False,
    }


def by_name(report):
    return {c["name"]: c for c in report["checks"]}


# -- inventory -----------------------------------------------------------------------------------
def test_live_inventory_on_this_machine(tmp_path):
    """Runs the real tools through cmd.run_all; whatever is missing becomes a warning."""
    mods, _ = loaders(tmp_path)
    inv = mods["hardware.inventory"]()
    assert inv["schema"] == "hardware-inventory/1" and "simulated" not in inv
    if shutil.which("lscpu") and inv["cpu"]["source"] == "lscpu":
        assert inv["cpu"]["threads"] == os.cpu_count()
    assert inv["memory"]["total_bytes"] > 0
    for nic in inv["nics"]:
        assert nic["mac"] and nic["name"] != "lo"
    not_ok = [s for s, state in inv["sources"].items() if state not in ("ok", "simulated")]
    for source in not_ok:
        assert any(w.startswith(f"{source}:") for w in inv["warnings"]), (source, inv["warnings"])
    json.dumps(inv)  # crosses the event bus


def test_live_inventory_with_a_tool_that_cannot_start(tmp_path):
    """A tool that cannot be executed at all (a binary of another architecture, a broken
    interpreter line): Salt's cmd.run_all raises for it; the inventory carries on with a
    warning naming the reason."""
    real_proc = salt.utils.timed_subprocess.TimedProc

    def proc(cmd, **kwargs):
        if cmd[0] == "lscpu":
            raise OSError(8, "Exec format error", "lscpu")
        return real_proc(cmd, **kwargs)

    mods, _ = loaders(tmp_path)
    with patch("salt.utils.timed_subprocess.TimedProc", proc):
        inv = mods["hardware.inventory"]()
    assert inv["sources"]["lscpu"] == "failed"
    (warning,) = [w for w in inv["warnings"] if w.startswith("lscpu:")]
    assert warning.startswith("lscpu: 'lscpu -J' exited 126: Unable to run command")
    assert warning.endswith("[Errno 8] Exec format error: 'lscpu'") and "context" not in warning
    assert inv["memory"]["total_bytes"] > 0, "the other sources still answered"


@requires_shared
def test_simulated_inventory_from_config_and_argument(tmp_path):
    mods, _ = loaders(tmp_path, hardware=box_settings(tmp_path, "srv-r1-03"))
    inv = mods["hardware.inventory"]()
    assert (
        inv["system"]["product"] == "SSG-6028R-OSD072P" and inv["system"]["serial"] == "LAB1R1S03"
    )
    assert len(inv["disks"]) == 15
    other = mods["hardware.inventory"](simulate=simulate_spec("srv-r1-01"))
    assert other["system"]["product"] == "PowerEdge M630"


def test_bad_simulation_is_an_invocation_error(tmp_path):
    mods, _ = loaders(tmp_path, hardware={"simulate": str(tmp_path / "nowhere")})
    with pytest.raises(SaltInvocationError, match="does not exist"):
        mods["hardware.inventory"]()


# -- profile / validate --------------------------------------------------------------------------
@requires_shared
def test_validate_through_the_access_layer(tmp_path):
    mods, _ = loaders(tmp_path, hardware=box_settings(tmp_path, "srv-r1-01"))
    report = mods["hardware.validate"]()
    assert report["passed"], report["text"]
    assert report["netbox_source"] == "netbox" and report["device"] == "srv-r1-01"
    assert report["generation"] == "gen10"
    assert "PASSED" in report["text"].splitlines()[0]


def _netbox_requests(mods):
    from salt_ext.utils.netbox import CONTEXT_KEY  # noqa: PLC0415

    (source,) = mods.pack["__context__"][CONTEXT_KEY].values()
    return source.counter.snapshot()["by_endpoint"]


@requires_shared
def test_requests_through_the_access_layer(tmp_path):
    """One device look-up, its type and its interfaces (which carry the cable path); the
    addresses only where the files need them; never the cables nor anything per interface."""
    mods, _ = loaders(tmp_path, hardware=box_settings(tmp_path, "srv-r1-01"))
    assert mods["hardware.validate"]()["passed"]
    requests = _netbox_requests(mods)
    assert set(requests) == {"dcim.devices", "dcim.device-types", "dcim.interfaces"}
    assert requests["dcim.device-types"] == requests["dcim.interfaces"] == {"GET": 1}
    mods, _ = loaders(tmp_path, hardware=box_settings(tmp_path, "srv-r1-01"))
    assert mods["hardware.config"]()["files"]
    requests = _netbox_requests(mods)
    assert requests["ipam.ip-addresses"] == {"GET": 1} and "dcim.cables" not in requests


@requires_shared
def test_validate_other_generation_and_device(tmp_path):
    mods, _ = loaders(
        tmp_path, "srv-r1-02.lab1.example.net", hardware=box_settings(tmp_path, "srv-r1-02")
    )
    report = mods["hardware.validate"]()  # found by custom field minion_id
    assert report["passed"] and report["device"] == "srv-r1-02"
    report = mods["hardware.validate"](generation="gen10")
    checks = by_name(report)
    assert not report["passed"]
    assert (checks["generation"]["expected"], checks["generation"]["actual"]) == ("gen11", "gen11")
    assert not checks["device_type"]["ok"] and not checks["cpu.model"]["ok"]


def stale_pillar_box(tmp_path):
    """srv-r1-01 with a NetBox pillar whose eno1 cable peer is wrong (Ethernet9): ``(pillar,
    hardware settings)``."""
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
    interfaces["eno1"]["peer"]["interface"] = "Ethernet9"
    profiles = load_profiles()
    pillar = {
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
        },
    }
    return pillar, box_settings(tmp_path, "srv-r1-01")


@requires_shared
def test_validate_from_netbox_pillar(tmp_path):
    """With the NetBox pillar present the module does not ask NetBox at all."""
    pillar, settings = stale_pillar_box(tmp_path)
    mods, _ = loaders(tmp_path, pillar=pillar, hardware=settings)
    (tmp_path / "lab1.json").write_text("{broken")  # proves NetBox is not read
    report = mods["hardware.validate"]()
    assert report["netbox_source"] == "pillar"
    assert report["failed"] == ["cabling.eno1"]


@requires_shared
def test_validate_against_a_fresh_pillar(tmp_path):
    """The minion's in-memory pillar says eno1 goes to Ethernet9 (NetBox has been fixed since):
    fresh_pillar has the master compile the pillar now (here: profiles only, so NetBox itself
    is read) and the box passes; a pillar that does not compile is an error, not a
    comparison against nothing."""
    pillar, settings = stale_pillar_box(tmp_path)
    shutil.copy(LAB1_SNAPSHOT, tmp_path / "lab1.json")
    compiled = []

    class Master:  # what salt.pillar.get_pillar gives a minion: the master's compile
        def __init__(self, result):
            self.result = result

        def compile_pillar(self):
            compiled.append(self.result)
            return self.result

    mods, _ = loaders(tmp_path, pillar=pillar, hardware=settings)
    assert mods["hardware.validate"]()["failed"] == ["cabling.eno1"]
    fresh = {"hwgen_profiles": load_profiles()}
    with patch("salt.pillar.get_pillar", lambda *a, **k: Master(fresh)):
        report = mods["hardware.validate"](fresh_pillar=True)
    assert compiled == [fresh]
    assert report["netbox_source"] == "netbox" and report["passed"], report["text"]
    broken = {"_errors": ["Specified SLS 'nope' in environment 'base' is not available"]}
    with patch("salt.pillar.get_pillar", lambda *a, **k: Master(broken)):
        with pytest.raises(CommandExecutionError, match="could not compile .* 'nope'"):
            mods["hardware.validate"](fresh_pillar=True)


def test_profile_errors_are_clear(tmp_path):
    mods, _ = loaders(tmp_path, "srv-r3-02")  # DSS7500: device type without hw_generation
    with pytest.raises(SaltInvocationError, match="has no custom field hw_generation"):
        mods["hardware.profile"]()
    mods, _ = loaders(tmp_path, "srv-r3-02")
    assert mods["hardware.profile"](generation="gen12")["name"] == "gen12"
    mods, _ = loaders(tmp_path, "srv-r1-01")
    assert mods["hardware.profile"]()["name"] == "gen10"


def test_config_renders_under_root(tmp_path):
    mods, _ = loaders(
        tmp_path, "srv-r1-02", hardware={"root": str(tmp_path / "r"), "apply_live": False}
    )
    cfg = mods["hardware.config"]()
    assert cfg["generation"] == "gen11" and cfg["apply_live"] is False
    assert cfg["reload"] == [] and cfg["validate"] is True
    assert all(path.startswith(str(tmp_path / "r")) for path in cfg["files"])
    assert any('KERNELS=="0000:06:00.0", NAME="eno1"' in c for c in cfg["files"].values())
    mods, _ = loaders(tmp_path, "srv-r1-02", hardware={"root": "relative/dir"})
    with pytest.raises(SaltInvocationError, match="absolute path"):
        mods["hardware.config"]()


# -- state module and SLS ------------------------------------------------------------------------
@requires_shared
@pytest.mark.parametrize("test", [False, True])
def test_validated_state(tmp_path, test):
    _, states = loaders(tmp_path, hardware=box_settings(tmp_path, "srv-r1-01"), test=test)
    ret = states["hardware.validated"]("hw")
    assert ret["result"] is True and ret["changes"] == {}
    assert "PASSED" in ret["comment"]
    bad = box_settings(tmp_path, "srv-r1-01", {"lldp": {"eno2": {"port_id": "Ethernet7"}}})
    _, states = loaders(tmp_path, hardware=bad, test=test)
    ret = states["hardware.validated"]("hw")
    assert ret["result"] is False
    assert "[FAIL] cabling.eno2: eno2 is cabled to tor2-r1 Ethernet7" in ret["comment"]
    _, states = loaders(tmp_path, hardware=box_settings(tmp_path, "srv-r1-01"))
    assert states["hardware.validated"]("hw", fail_on_warnings=True)["result"] is False


@requires_shared
def test_hwgen_sls_test_apply_reapply(tmp_path):
    settings = box_settings(tmp_path, "srv-r1-03")
    root = pathlib.Path(settings["root"])
    mods, _ = loaders(tmp_path, "srv-r1-03", hardware=settings, test=True)
    preview = mods["state.sls"]("hwgen")
    assert all(s["result"] is not False for s in preview.values()), preview
    diffs = [s["changes"] for s in preview.values() if s["result"] is None]
    assert diffs and not root.exists()

    mods, _ = loaders(tmp_path, "srv-r1-03", hardware=settings)
    first = mods["state.sls"]("hwgen")
    assert all(s["result"] is True for s in first.values()), first
    netdev = (root / "etc/systemd/network/10-hwgen-bond0.netdev").read_text()
    assert "LACPTransmitRate=slow" in netdev
    sysctl = (root / "etc/sysctl.d/90-hwgen.conf").read_text()
    assert "vm.dirty_ratio = 10" in sysctl
    assert not any("cmd_" in key for key in first), "apply_live is off: no reload commands"

    mods, _ = loaders(tmp_path, "srv-r1-03", hardware=settings)
    second = mods["state.sls"]("hwgen")
    assert [k for k, s in second.items() if s["changes"]] == []

    (root / "etc/sysctl.d/90-hwgen.conf").write_text("vm.dirty_ratio = 40\n")
    mods, _ = loaders(tmp_path, "srv-r1-03", hardware=settings, test=True)
    drift = mods["state.sls"]("hwgen")
    changed = [s for s in drift.values() if s["changes"]]
    assert len(changed) == 1 and "diff" in changed[0]["changes"]


@requires_shared
def test_hwgen_sls_live_reload_states(tmp_path):
    """With apply_live the SLS adds reload commands wired with onchanges (rendered, not run)."""
    settings = dict(box_settings(tmp_path, "srv-r1-01"), apply_live=True)
    mods, _ = loaders(tmp_path, hardware=settings)
    high = mods["state.show_sls"]("hwgen")
    assert "run" in high["hwgen-sysctl-load"]["cmd"]
    onchanges = [
        a for a in high["hwgen-sysctl-load"]["cmd"] if isinstance(a, dict) and "onchanges" in a
    ]
    assert onchanges[0]["onchanges"] == [
        {"file": f"hwgen-file-{settings['root']}/etc/sysctl.d/90-hwgen.conf"}
    ]
    assert "hwgen-networkd-reload" in high and "hwgen-udev-reload" in high
    # validate: false (a box being rebuilt on purpose): files do not wait for the validation.
    mods, _ = loaders(tmp_path, hardware=dict(settings, validate=False))
    high = mods["state.show_sls"]("hwgen")
    assert "hwgen-validated" not in high
    files = [v["file"] for k, v in high.items() if k.startswith("hwgen-file-")]
    assert files and not any("require" in a for args in files for a in args if isinstance(a, dict))


@requires_shared
def test_hwgen_sls_ends_with_the_postcheck_when_the_turnup_asks(tmp_path):
    """Pillar turnup:postcheck (a rack turn-up's highstate): hwgen's last state checks the links
    by LLDP and the profile's services; without it the SLS has no such state."""
    settings = box_settings(tmp_path, "srv-r1-01")
    mods, _ = loaders(tmp_path, hardware=settings)
    assert "hwgen-postcheck" not in mods["state.show_sls"]("hwgen")
    mods, _ = loaders(tmp_path, hardware=settings)
    ret = mods["state.sls"]("hwgen", pillar={"turnup": {"postcheck": True}})
    by_id = {s["__id__"]: s for s in ret.values()}
    check = by_id["hwgen-postcheck"]
    assert check["result"] is True, check
    assert check["__run_num__"] == max(s["__run_num__"] for s in ret.values())  # last
    assert "link(s) match NetBox by LLDP" in check["comment"]
    assert "services up: chrony, lldpd, systemd-networkd" in check["comment"]
    # hardware:postcheck makes it part of every highstate of the box
    mods, _ = loaders(tmp_path, hardware=dict(settings, postcheck=True))
    assert "hwgen-postcheck" in mods["state.show_sls"]("hwgen")


@requires_shared
@pytest.mark.parametrize("test", [False, True])
def test_postchecked_state_names_the_link_or_service_that_is_down(tmp_path, test):
    down = {"lldp": {"eno2": {"port_id": "Ethernet7"}}, "services": {"lldpd": {"running": False}}}
    _, states = loaders(tmp_path, hardware=box_settings(tmp_path, "srv-r1-01", down), test=test)
    ret = states["hardware.postchecked"]("in-service")
    assert ret["result"] is (None if test else False) and ret["changes"] == {}
    assert "cabling.eno2: eno2 is cabled to tor2-r1 Ethernet7" in ret["comment"]
    assert "services.lldpd" in ret["comment"]
    _, states = loaders(tmp_path, hardware=box_settings(tmp_path, "srv-r1-01"), test=test)
    assert states["hardware.postchecked"]("in-service")["result"] is True


@requires_shared
def test_validate_postcheck_is_the_links_and_services_only(tmp_path):
    down = {"lldp": {"eno2": {"port_id": "Ethernet7"}}, "system": {"serial": "WRONG1"}}
    mods, _ = loaders(tmp_path, hardware=box_settings(tmp_path, "srv-r1-01", down))
    full = mods["hardware.validate"](services=True)
    assert {"serial", "cabling.eno2"} <= set(full["failed"]), full["failed"]
    report = mods["hardware.validate"](postcheck=True)
    names = [c["name"] for c in report["checks"]]
    assert names and all(n.startswith(("cabling.", "services.")) for n in names), names
    assert "services.lldpd" in names
    # the wrong serial is the validation's business, not the post-check's
    assert report["failed"] == ["cabling.eno2"] and report["passed"] is False
    assert report["summary"].startswith(f"{len(names) - 1} of {len(names)} checks ok")
    with pytest.raises(SaltInvocationError, match="only must list inventory sources"):
        mods["hardware.inventory"](only="ip,smartctl")


def test_profiles_pillar_files_are_plain_yaml():
    """pillar/hwgen/*.sls stay plain YAML (readable by tools and by the unit tests)."""
    for path in sorted((PILLAR_ROOT / "hwgen").glob("*.sls")):
        assert list(yaml.safe_load(path.read_text())) == ["hwgen_profiles"]


@requires_shared
def test_hwgen_sls_removes_files_of_an_earlier_profile(tmp_path):
    settings = box_settings(tmp_path, "srv-r1-01")
    root = pathlib.Path(settings["root"])
    old = root / "etc/systemd/network/30-hwgen-bond1.network"
    old.parent.mkdir(parents=True)
    old.write_text("[Match]\nName=bond1\n")
    foreign = root / "etc/systemd/network/50-admin.network"
    foreign.write_text("[Match]\nName=eth9\n")
    mods, _ = loaders(tmp_path, hardware=settings)
    assert mods["hardware.config"]()["stale"] == [str(old)]
    mods, _ = loaders(tmp_path, hardware=settings)
    ret = mods["state.sls"]("hwgen")
    assert all(s["result"] is True for s in ret.values()), ret
    assert not old.exists() and foreign.exists()
    mods, _ = loaders(tmp_path, hardware=settings)
    assert mods["hardware.config"]()["stale"] == []


def test_unsafe_config_context_is_an_invocation_error(tmp_path):
    snapshot = tmp_path / "lab1.json"
    data = json.loads(pathlib.Path(LAB1_SNAPSHOT).read_text())
    for context in data["objects"]["extras.config-contexts"]:
        if "kernel_cmdline" in context["data"]:
            context["data"]["kernel_cmdline"].append('x"; reboot; "')
    for dev in data["objects"]["dcim.devices"]:
        if "kernel_cmdline" in (dev.get("config_context") or {}):
            dev["config_context"]["kernel_cmdline"].append('x"; reboot; "')
    snapshot.write_text(json.dumps(data))
    mods, _ = loaders(tmp_path, hardware={"root": str(tmp_path / "r"), "apply_live": False})
    with pytest.raises(SaltInvocationError) as err:
        mods["hardware.config"]()
    assert "NetBox config context 'kernel_cmdline'" in str(err.value)
    assert "(device srv-r1-01, NetBox data from netbox); fix it in NetBox" in str(err.value)
    assert not (tmp_path / "r").exists()


def test_invalid_profile_in_pillar_is_reported(tmp_path):
    profiles = load_profiles()
    profiles["gen10"]["config"]["bond"]["mode"] = "lacp"
    mods, _ = loaders(tmp_path, pillar={"hwgen_profiles": profiles})
    with pytest.raises(SaltInvocationError, match="hwgen_profiles:gen10:config:bond:mode"):
        mods["hardware.config"]()
