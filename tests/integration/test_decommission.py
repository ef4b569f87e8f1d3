"""Decommission end to end: a real master and a real minion simulating lab1's srv-r1-01 (real
dmidecode of a Dell M630 from ../shared; its two disks are files under the minion's
``hardware: root``, never a real disk), a NetBox of the test's own (``fresh_netbox``), and
``salt-run state.orchestrate orch.decommission``."""

from __future__ import annotations

import json
import pathlib

import pytest
import salt.config

from salt_ext.utils.netbox import NetBoxClient, load_config
from salt_ext.utils.turnup import decommission as dcm
from tests.support.saltenv import (
    SHARED_FIXTURES,
    SHARED_MISSING_REASON,
    STATES_ROOT,
    master_overrides,
    minion_overrides,
)
from tests.unit.hardware.lab import simulate_spec

pytestmark = [
    pytest.mark.integration,
    pytest.mark.live_capable,
    pytest.mark.skipif(SHARED_FIXTURES is None, reason=SHARED_MISSING_REASON),
]

LAB_BOX = "srv-r1-01"
DISK_SIZE = 64 * 1024 * 1024
MARK = b"\x5a" * 4096


@pytest.fixture
def env(salt_factories, fresh_netbox, tmp_path):
    lab = fresh_netbox.lab
    box, minion_id = lab.name(LAB_BOX), lab.minion(LAB_BOX)
    serial, other_serial = lab.sub("LAB1R1S01"), lab.sub("LAB1R2S01")
    states = tmp_path / "extra-states"
    root = tmp_path / "box-root"
    (states / "lab").mkdir(parents=True)
    # a drain hook as an operator would write one: leaves a trace under the box's root
    (states / "lab" / "drain.sls").write_text(
        "drained:\n  file.managed:\n"
        f"    - name: {root / 'drained'}\n    - contents: drained by the decommission\n"
    )
    (root / "dev").mkdir(parents=True)
    for disk in ("sda", "sdb"):
        with open(root / "dev" / disk, "wb") as handle:
            handle.truncate(DISK_SIZE)
            handle.write(MARK)  # a partition table / filesystem signature stand-in
            handle.seek(DISK_SIZE - len(MARK))
            handle.write(MARK)  # GPT backup header stand-in
    autosign_file = tmp_path / "autosign.conf"
    grains_dir = tmp_path / "autosign_grains"
    master = salt_factories.salt_master_daemon(
        "decom-master",
        overrides=master_overrides(
            fresh_netbox,
            file_roots={"base": [str(STATES_ROOT), str(states)]},
            auto_accept=False,
            autosign_file=str(autosign_file),
            autosign_grains_dir=str(grains_dir),
        ),
    )
    spec = tmp_path / "simulate.json"
    spec.write_text(json.dumps(simulate_spec(LAB_BOX)))
    hardware = {"simulate": str(spec), "root": str(root), "apply_live": False}
    # Salt puts the master's root_dir in front of autosign_file/_grains_dir: write where it reads
    loaded = salt.config.master_config(master.config_file)
    autosign_file = pathlib.Path(loaded["autosign_file"])
    autosign_file.parent.mkdir(parents=True, exist_ok=True)
    autosign_file.write_text(f"{minion_id}\nother-box.lab1.example.net\n")
    grains_file = pathlib.Path(loaded["autosign_grains_dir"])
    grains_file.mkdir(parents=True, exist_ok=True)
    grains_file = grains_file / "serialnumber"
    grains_file.write_text(f"# managed\n{serial}\n{other_serial}\n")
    with master.started():
        minion = master.salt_minion_daemon(
            minion_id, overrides=minion_overrides(fresh_netbox, hardware=hardware)
        )
        with minion.started():
            client = NetBoxClient(
                load_config({"netbox": {"url": fresh_netbox.url, "token": fresh_netbox.token}})
            )
            yield {
                "box": box,
                "minion_id": minion_id,
                "serial": serial,
                "other_serial": other_serial,
                "site": lab.site,
                "master": master,
                "minion": minion,
                "nb": client,
                "root": root,
                "autosign_file": autosign_file,
                "grains_file": grains_file,
            }


def orchestrate(env, pillar, test=False):
    run = env["master"].salt_run_cli(timeout=600)
    args = ["state.orchestrate", "orch.decommission", f"pillar={json.dumps(pillar)}"]
    if test:
        args.append("test=True")
    return run.run(*args)


def states_of(ret):
    data = ret.data
    if isinstance(data, dict) and "data" in data:
        data = data["data"]
    return next(iter(data.values())) if isinstance(data, dict) else data


def by_id(ret):
    return {s["__id__"]: s for s in states_of(ret).values()}


def device(env):
    return env["nb"].list("dcim.devices", {"name": env["box"]})[0]


def journal(env):
    dev = device(env)
    return env["nb"].list(
        "extras.journal-entries",
        {"assigned_object_type": "dcim.device", "assigned_object_id": dev["id"]},
    )


def object_changes(env):
    dev = device(env)
    return len(
        env["nb"].list(
            "core.object-changes",
            {"changed_object_type": "dcim.device", "changed_object_id": dev["id"]},
        )
    )


def accepted(env):
    ret = env["master"].salt_key_cli(timeout=60).run("--list", "accepted")
    return ret.data.get("minions", []) if isinstance(ret.data, dict) else ret.stdout


def disks_wiped(env):
    return [dcm.is_wiped(str(env["root"] / "dev" / d)) for d in ("sda", "sdb")]


def untouched(env, changes_before, journal_before):
    minion_id, serial = env["minion_id"], env["serial"]
    assert device(env)["status"]["value"] == "active"
    assert len(journal(env)) == journal_before
    assert object_changes(env) == changes_before
    assert minion_id in accepted(env)
    assert disks_wiped(env) == [False, False]
    assert minion_id in env["autosign_file"].read_text()
    assert serial in env["grains_file"].read_text()
    assert not (env["root"] / "drained").exists()


def test_decommission_one_r1_server(env):
    box, minion_id, serial = env["box"], env["minion_id"], env["serial"]
    changes_before, journal_before = object_changes(env), len(journal(env))
    pillar = {"site": env["site"], "devices": [box], "drain": "lab.drain"}

    # 1. without confirm: refused, naming the fix; nothing changed anywhere
    ret = orchestrate(env, pillar)
    assert ret.returncode != 0
    states = by_id(ret)
    assert list(states) == ["decommission-confirmed"], states
    assert states["decommission-confirmed"]["result"] is False
    assert f"confirm: [{box}]" in states["decommission-confirmed"]["comment"]
    untouched(env, changes_before, journal_before)

    # 2. confirm naming another box: refused too
    ret = orchestrate(env, dict(pillar, confirm=["srv-r1-02"]))
    assert ret.returncode != 0
    comment = by_id(ret)["decommission-confirmed"]["comment"]
    assert f"not confirmed: {box}" in comment and "srv-r1-02" in comment
    untouched(env, changes_before, journal_before)

    # 3. test=True: every change predicted, nothing written
    pillar["confirm"] = [box]
    ret = orchestrate(env, pillar, test=True)
    assert ret.returncode == 0, ret
    states = by_id(ret)
    assert states[f"decommissioning-{box}"]["result"] is None
    assert states[f"decommissioning-{box}"]["changes"]["status"]["new"] == "decommissioning"
    assert states[f"key-{box}"]["changes"]["key"]["old"] == "minions"
    assert states[f"autosign-{box}"]["changes"]["autosign_grains"]["old"] == [serial]
    wipe = states[f"wipe-{box}"]["changes"]
    assert "would wipe sda, sdb" in json.dumps(wipe), wipe
    untouched(env, changes_before, journal_before)

    # 4. the real run
    ret = orchestrate(env, pillar)
    assert ret.returncode == 0, ret
    states = by_id(ret)
    assert all(s["result"] is True for s in states.values()), states
    assert (env["root"] / "drained").exists()
    dev = device(env)
    assert dev["status"]["value"] == "offline"
    assert disks_wiped(env) == [True, True]
    assert minion_id not in accepted(env)
    assert minion_id not in env["autosign_file"].read_text()
    assert "other-box.lab1.example.net" in env["autosign_file"].read_text()
    grains = env["grains_file"].read_text()
    assert serial not in grains and env["other_serial"] in grains
    entries = sorted(journal(env), key=lambda e: e["id"])[journal_before:]
    texts = [e["comments"] for e in entries]
    assert len(texts) == 2, texts
    assert texts[0].startswith("Status active -> decommissioning")
    assert texts[1].startswith("Status decommissioning -> offline")
    assert "disks wiped" in texts[1] and minion_id in texts[1]
    assert all("Salt job " in t for t in texts)

    # 5. again: the device is offline and is left alone
    ret = orchestrate(env, pillar)
    assert ret.returncode == 0, ret
    states = by_id(ret)
    assert list(states) == ["decommission-confirmed"]
    assert "already offline" in states["decommission-confirmed"]["comment"]
    assert len(journal(env)) == journal_before + 2
