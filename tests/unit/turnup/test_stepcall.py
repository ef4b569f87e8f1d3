"""How the orchestration's turnup.step states call the runner: one RunnerClient per orchestration,
no retcode carried from one step to the next, closed with the last step, saltutil.runner when the
master's user differs (privileges dropped)."""

import pytest

from salt_ext.utils.turnup import stepcall


class FakeRunnerClient:
    made = []

    def __init__(self, opts):
        self.opts = opts
        self.context = {}
        self.calls = []
        self.destroyed = False
        FakeRunnerClient.made.append(self)

    def cmd(self, fun, *, arg=None, kwarg=None, pub_data=None, print_event=True, full_return=False):
        self.calls.append((fun, kwarg, print_event, full_return))
        if kwarg.get("step") == "validate":  # a step that fails sets the retcode, as runners do
            self.context["retcode"] = 1
        success = self.context.get("retcode", 0) == 0
        return {"return": {"step": kwarg["step"]}, "success": success}

    def destroy(self):
        self.destroyed = True


@pytest.fixture(autouse=True)
def fake_client(monkeypatch):
    FakeRunnerClient.made = []
    monkeypatch.setattr(stepcall.salt.runner, "RunnerClient", FakeRunnerClient)
    monkeypatch.setattr(stepcall.salt.utils.user, "get_user", lambda: "salt")


OPTS = {"master_job_cache": "local_cache", "user": "salt", "conf_file": "/etc/salt/master"}


def test_one_client_for_every_step_and_no_retcode_carried_over():
    context = {}
    rets = [
        stepcall.run(context, OPTS, "turnup.step", {"step": step})
        for step in ("stage", "validate", "highstate")
    ]
    assert len(FakeRunnerClient.made) == 1
    assert [r["success"] for r in rets] == [True, False, True]
    client = FakeRunnerClient.made[0]
    assert all(c[2] is False and c[3] is True for c in client.calls)  # quiet, full return


def test_the_last_step_closes_the_client():
    context = {}
    stepcall.run(context, OPTS, "turnup.step", {"step": "activate"})
    stepcall.run(context, OPTS, "turnup.step", {"step": "finish"}, last=True)
    assert FakeRunnerClient.made[0].destroyed and stepcall.CLIENT not in context
    stepcall.run(context, OPTS, "turnup.step", {"step": "finish"}, last=True)  # onfail's finish
    assert len(FakeRunnerClient.made) == 2


def test_root_running_for_another_master_user_goes_through_saltutil_runner(monkeypatch):
    monkeypatch.setattr(stepcall.salt.utils.user, "get_user", lambda: "root")
    monkeypatch.setattr(stepcall.os, "geteuid", lambda: 0)
    out = stepcall.run({}, OPTS, "turnup.step", {"step": "stage"}, fallback=lambda: "dropped")
    assert out == "dropped" and not FakeRunnerClient.made


def test_a_minion_side_orchestration_reads_the_masters_config(monkeypatch, tmp_path):
    (tmp_path / "master").write_text("user: salt\n")
    minion_opts = {"conf_file": str(tmp_path / "minion")}
    found = stepcall.master_opts(minion_opts)
    assert found["conf_file"] == str(tmp_path / "master") and "master_job_cache" in found
    assert stepcall.master_opts(OPTS) is OPTS
