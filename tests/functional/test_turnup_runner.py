"""The ``turnup`` runner in-process (Salt's runner loader; the session's NetBox, read only):
plan, preflight, status and the step runner's bad input and test mode."""

import pytest
import salt.config
import salt.loader
from salt.exceptions import SaltInvocationError, SaltRunnerError

from salt_ext.utils.netbox import NetBoxClient, load_config
from salt_ext.utils.turnup import record as rec
from tests.support.saltenv import NETBOX_TEST_TIMEOUT, PILLAR_ROOT, STATES_ROOT


@pytest.fixture
def runner(netbox_target, tmp_path):
    opts = salt.config.master_config(None)
    opts.update(
        cachedir=str(tmp_path / "cache"),
        pki_dir=str(tmp_path / "pki"),
        sock_dir=str(tmp_path / "sock"),
        file_roots={"base": [str(STATES_ROOT)]},
        pillar_roots={"base": [str(PILLAR_ROOT)]},
        ext_pillar=[],
        netbox={
            "url": netbox_target.url,
            "token": netbox_target.token,
            "timeout": NETBOX_TEST_TIMEOUT,
            "retries": 1,
        },
    )
    (tmp_path / "pki").mkdir()
    return salt.loader.runner(opts)


def changes(target):
    client = NetBoxClient(load_config({"netbox": {"url": target.url, "token": target.token}}))
    return len(client.list("core.object-changes"))


def test_plan_data_and_table(runner):
    plan = runner["turnup.plan"](site="lab1", rack="R2", batch="3")
    assert [w["name"] for w in plan["waves"]] == [
        "oob",
        "tor",
        "canary",
        "batch-1",
        "batch-2",
        "batch-3",
    ]
    assert plan["devices"]["srv-r2-07"]["generation"] == "gen12"
    assert plan["devices"]["tor2-r2"]["managed"] is False
    table = runner["turnup.plan"](site="lab1", rack="R2", table=True)
    assert "canary   srv-r2-01" in table and "unmanaged" in table


def test_preflight_r3_writes_nothing(runner, netbox_target):
    before = changes(netbox_target)
    report = runner["turnup.preflight"](site="lab1", rack="R3")
    assert report["retcode"] == 1 and len(report["errors"]) == 4
    assert {e["check"] for e in report["errors"]} == {
        "primary_ip",
        "generation",
        "serial_duplicate",
        "cabling",
    }
    assert changes(netbox_target) == before
    assert netbox_target.token not in repr(report)


@pytest.mark.parametrize(
    "fun, kwargs, words",
    [
        ("turnup.plan", {"site": "lab1", "rack": "R2", "batch": "0"}, "batch=0"),
        ("turnup.plan", {"site": "lab1", "rack": "R2", "batch": "101%"}, "100 %"),
        ("turnup.plan", {"site": "nowhere", "rack": "R2"}, "sites that exist: lab1"),
        ("turnup.plan", {"site": "lab1", "rack": "R2", "devices": "srv-r1-01"}, "not in rack R2"),
        ("turnup.status", {"run": "lab1-R2-19990101T000000"}, "does not exist"),
        ("turnup.resume", {"run": "lab1-R2-19990101T000000"}, "does not exist"),
        ("turnup.abort", {"run": "lab1-R2-19990101T000000"}, "does not exist"),
        ("turnup.step", {"step": "reboot", "site": "lab1", "rack": "R2"}, "not a turn-up step"),
        ("turnup.status", {}, "give run=<run id>, or site=<slug> and rack=<name>"),
    ],
)
def test_bad_input_names_the_argument(runner, fun, kwargs, words):
    with pytest.raises(SaltInvocationError) as err:
        runner[fun](**kwargs)
    assert words in str(err.value)


def test_step_start_in_test_mode_records_nothing(runner, netbox_target):
    before = changes(netbox_target)
    out = runner["turnup.step"](step="start", site="lab1", rack="R2", test=True)
    assert out["test"] is True and out["action"] == "created" and out["retcode"] == 0
    stage = runner["turnup.step"](step="stage", site="lab1", rack="R2", test=True)
    assert stage["changes"]["srv-r2-08"]["status"] == {"old": "planned", "new": "staged"}
    with pytest.raises(SaltInvocationError, match="no turn-up run for rack R2"):
        runner["turnup.status"](site="lab1", rack="R2")
    assert changes(netbox_target) == before


def test_a_second_orchestration_of_a_running_rack_leaves_its_run_alone(runner):
    """Two orchestrations of R2 in one process (as the reactor runs the turn-ups it starts):
    the second's start is refused naming the run, and its steps, the onfail finish that records
    a failed orchestration's run as stopped among them, leave the first's run and lock alone."""
    first, second = "20261207090000000001", "20261207090000000002"
    other = salt.loader.runner(runner.opts)  # the second orchestration's own RunnerClient
    out = runner["turnup.step"](step="start", site="lab1", rack="R2", orchestration_jid=first)
    assert out["action"] == "created" and out["retcode"] == 0
    run_id = out["run"]
    for new in (False, True):
        with pytest.raises(SaltRunnerError, match=f"already has a running turn-up: run {run_id}"):
            other["turnup.step"](
                step="start", site="lab1", rack="R2", new=new, orchestration_jid=second
            )
    stopped = other["turnup.step"](
        step="finish", site="lab1", rack="R2", state="stopped", orchestration_jid=second
    )
    assert stopped["retcode"] == 1 and "leaves that run alone" in stopped["comment"]
    assert run_id in stopped["comment"] and second in stopped["comment"]
    store = rec.Store(runner.opts)
    assert store.get(run_id)["state"] == "running"
    assert store.lock("lab1", "R2")["jid"] == first
    # the first orchestration goes on with its run
    again = runner["turnup.step"](step="start", site="lab1", rack="R2", orchestration_jid=first)
    assert again["action"] == "resumed" and again["run"] == run_id and again["retcode"] == 0
