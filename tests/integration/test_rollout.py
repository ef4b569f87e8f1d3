"""Generation rollout end to end: a real master and the two gen10 (Dell M630) boxes of lab1 as
real minions, each simulating its server (real dmidecode from ../shared; srv-r1-04's captured
outputs are srv-r1-01's with its own MACs, addresses, serial and switch ports), NetBox the
session's (read only), ``salt-run state.orchestrate orch.hwgen_rollout``."""

from __future__ import annotations

import json
import pathlib
import shutil

import pytest

from tests.support.saltenv import (
    SHARED_FIXTURES,
    SHARED_MISSING_REASON,
    master_overrides,
    minion_overrides,
)
from tests.unit.hardware.lab import SIMULATED, simulate_spec

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(SHARED_FIXTURES is None, reason=SHARED_MISSING_REASON),
]

#: the active gen10 boxes of lab1 (NetBox custom field minion_id)
BOXES = {"srv-r1-01": "srv-r1-01.lab1.example.net", "srv-r1-04": "srv-r1-04.lab1.example.net"}
SYSCTL = "etc/sysctl.d/90-hwgen.conf"


def r1_04_dir(workdir):
    """srv-r1-04's captured outputs: srv-r1-01's with srv-r1-04's NetBox values."""
    out = workdir / "srv-r1-04-captured"
    shutil.copytree(SIMULATED / "srv-r1-01", out)
    swaps = [
        ("24:6e:96:01:11:", "24:6e:96:01:14:"),
        ("24:6E:96:01:11:", "24:6E:96:01:14:"),
        ("10.10.1.11", "10.10.1.14"),
        ("10.20.0.21", "10.20.0.24"),
        ("2001:db8:10:1::11", "2001:db8:10:1::14"),
        ('"Ethernet1"', '"Ethernet4"'),
        ("LAB1R1S01", "LAB1R1S04"),
    ]
    for path in out.iterdir():
        text = path.read_text()
        for old, new in swaps:
            text = text.replace(old, new)
        path.write_text(text)
    return out


def write_spec(workdir, box, overrides=None):
    spec = simulate_spec("srv-r1-01", overrides)
    if box == "srv-r1-04":
        spec["dir"] = str(workdir / "srv-r1-04-captured")
        spec.setdefault("overrides", {}).setdefault("system", {})["serial"] = "LAB1R1S04"
    (workdir / f"{box}.json").write_text(json.dumps(spec))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("rollout")


@pytest.fixture(scope="module")
def netbox(netbox_target):
    # a rollout only reads NetBox: the session's lab1 (plain lab1 names)
    return netbox_target


@pytest.fixture(scope="module")
def master(salt_factories, netbox):
    factory = salt_factories.salt_master_daemon(
        "rollout-master",
        overrides=master_overrides(netbox, ext_pillar=[{"netbox": {"ttl": 300}}]),
    )
    with factory.started():
        yield factory


@pytest.fixture(scope="module")
def minions(master, netbox, workdir):
    r1_04_dir(workdir)
    factories = []
    for box, minion_id in sorted(BOXES.items()):
        write_spec(workdir, box)
        hardware = {
            "simulate": str(workdir / f"{box}.json"),
            "root": str(workdir / f"{box}-root"),
            "apply_live": False,
        }
        factories.append(
            master.salt_minion_daemon(
                minion_id, overrides=minion_overrides(netbox, hardware=hardware)
            )
        )
    try:
        for factory in factories:
            factory.start()
        yield factories
    finally:
        for factory in factories:
            factory.terminate()


def rollout(master, pillar, test=False):
    args = ["state.orchestrate", "orch.hwgen_rollout", f"pillar={json.dumps(pillar)}"]
    if test:
        args.append("test=True")
    return master.salt_run_cli(timeout=900).run(*args)


def by_id(ret):
    data = ret.data["data"] if isinstance(ret.data, dict) and "data" in ret.data else ret.data
    return {s["__id__"]: s for s in next(iter(data.values())).values()}


def sysctl(workdir, box):
    return pathlib.Path(workdir / f"{box}-root" / SYSCTL)


def test_plan_runner(master):
    ret = master.salt_run_cli(timeout=120).run(
        "turnup.rollout_plan", site="lab1", generation="gen10", batch="1"
    )
    assert ret.returncode == 0, ret
    assert [(w["name"], w["devices"]) for w in ret.data["waves"]] == [
        ("canary", ["srv-r1-01"]),
        ("batch-1", ["srv-r1-04"]),
    ]
    assert ret.data["waves"][0]["minions"] == [BOXES["srv-r1-01"]]
    ret = master.salt_run_cli(timeout=120).run(
        "turnup.rollout_plan", site="lab1", generation="gen99"
    )
    assert ret.returncode != 0
    assert "gen99" in ret.stdout and "known: gen10, gen11, gen12" in ret.stdout


def test_rollout_canary_then_batches(master, minions, workdir):
    pillar = {"site": "lab1", "generation": "gen10", "batch": 1}
    preview = rollout(master, pillar, test=True)
    assert preview.returncode == 0, preview
    predicted = by_id(preview)
    assert predicted["apply-canary"]["result"] is None, predicted["apply-canary"]
    assert SYSCTL in json.dumps(predicted["apply-canary"]["changes"])
    assert not sysctl(workdir, "srv-r1-01").exists()

    ret = rollout(master, pillar)
    assert ret.returncode == 0, ret
    states = by_id(ret)
    assert list(states) == [
        "rollout-planned",
        "apply-canary",
        "validate-canary",
        "apply-batch-1",
        "validate-batch-1",
    ]
    assert all(s["result"] is True for s in states.values()), states
    for box in BOXES:
        assert "vm.swappiness = 1" in sysctl(workdir, box).read_text()
    assert (
        "Address=10.10.1.14/24"
        in (workdir / "srv-r1-04-root" / "etc/systemd/network/30-hwgen-bond0.network").read_text()
    )


def test_rollout_stops_at_the_first_failed_wave(master, minions, workdir):
    # The canary's LLDP now shows the wrong switch port: its wave fails validation, and the
    # batch after it is never applied (its file, removed here, stays absent).
    write_spec(workdir, "srv-r1-01", {"lldp": {"eno2": {"port_id": "Ethernet7"}}})
    sysctl(workdir, "srv-r1-04").unlink(missing_ok=True)
    try:
        ret = rollout(master, {"site": "lab1", "generation": "gen10", "batch": 1})
    finally:
        write_spec(workdir, "srv-r1-01")
    assert ret.returncode != 0
    states = by_id(ret)
    assert states["apply-canary"]["result"] is False
    assert states["apply-batch-1"]["result"] is False
    assert "requisite" in states["apply-batch-1"]["comment"].lower()
    assert not sysctl(workdir, "srv-r1-04").exists()


def test_bad_generation_is_refused(master):
    ret = rollout(master, {"site": "lab1", "generation": "gen99"})
    assert ret.returncode != 0
    states = by_id(ret)
    assert list(states) == ["rollout-planned"]
    assert states["rollout-planned"]["result"] is False
    assert "gen99" in states["rollout-planned"]["comment"]
