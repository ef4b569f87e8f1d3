"""``turnup.watch``'s follower (salt_ext/utils/turnup/watch.py) against a scripted event bus and
run record: every finished step printed once, live ones as they come, and the steps whose events
fired before the watch subscribed but that the record did not hold yet (it is saved once a step
is over) caught up from the record instead of lost."""

from __future__ import annotations

import copy

import pytest

from salt_ext.utils.turnup import watch

RUN = "lab1-R2-20261203T120000"


def entry(result=True, comment="", ended=1.0):
    return {
        "result": result,
        "comment": comment,
        "started": ended - 1,
        "ended": ended,
        "duration": 1,
    }


class Script:
    """The bus's events and the record's versions, in the order the run produced them."""

    def __init__(self, record, steps):
        self.record = record
        self.steps = list(steps)  # ("event", tag, data) | ("quiet", new_record)
        self.subscribed = []
        self.destroyed = False

    # the bus
    def subscribe(self, prefix):
        self.subscribed.append(prefix)

    def get_event(self, wait, tag, full):  # noqa: ARG002
        if not self.steps:
            return None
        kind, *rest = self.steps.pop(0)
        if kind == "quiet":
            self.record = rest[0]
            return None
        return {"tag": rest[0], "data": rest[1]}

    def destroy(self):
        self.destroyed = True

    # the store
    def get(self, run):
        assert run == RUN
        return copy.deepcopy(self.record)


def record(state="running", **devices):
    return {"id": RUN, "state": state, "devices": {n: {"steps": s} for n, s in devices.items()}}


def step_event(device, step, result=True, comment=""):
    body = {"device": device, "step": step, "result": result, "comment": comment, "duration": 1}
    return ("event", f"turnup/{RUN}/{device}/{step}", body)


@pytest.fixture
def follow(monkeypatch):
    def run(script):
        monkeypatch.setattr(watch.salt.utils.event, "get_master_event", lambda *a, **k: script)
        lines = []
        final = watch.follow({"sock_dir": "/nonexistent"}, script, RUN, 3600, out=lines.append)
        assert script.destroyed and script.subscribed == [f"turnup/{RUN}/"]
        return lines, final

    return run


def test_earlier_live_and_missed_steps_each_printed_once(follow):
    start = record(a={"stage": entry(comment="planned -> staged")}, b={"stage": {"result": None}})
    # b's stage event fired before the watch subscribed; the record has it once the step is saved
    saved = record(
        a={"stage": entry(comment="planned -> staged")},
        b={"stage": entry(comment="planned -> staged", ended=2.0)},
    )
    done = copy.deepcopy(saved)
    done["state"] = "done"
    done["devices"]["a"]["steps"]["highstate"] = entry(comment="12 states", ended=3.0)
    script = Script(
        start,
        [
            ("quiet", saved),
            step_event("a", "highstate", comment="12 states"),
            step_event("a", "highstate", comment="12 states"),  # a repeated event
            ("quiet", done),  # saved as done; its done event not seen: the record ends the watch
        ],
    )
    lines, final = follow(script)
    assert final["state"] == "done"
    assert [ln.split()[0] for ln in lines[:-1]] == ["a/stage", "b/stage", "a/highstate"]
    assert lines[0].endswith("(earlier)") and lines[1].endswith("(recorded)")
    assert "(" not in lines[2].split("12 states")[1]  # live: no note
    assert lines[-1] == f"{RUN}: done (failed: none)"


def test_missed_last_step_caught_up_before_the_done_line(follow):
    done = record(state="done", a={"activate": entry(result=False, comment="status")})
    script = Script(
        record(a={}), [("event", f"turnup/{RUN}/done", {"state": "done", "failed": ["a"]})]
    )
    script.record = record(a={})

    def get_event(wait, tag, full):  # noqa: ARG001
        script.record = done  # saved, then the done event
        return {"tag": f"turnup/{RUN}/done", "data": {"state": "done", "failed": ["a"]}}

    script.get_event = get_event
    lines, _ = follow(script)
    assert lines[0].startswith("a/activate") and "FAILED" in lines[0] and "(recorded)" in lines[0]
    assert lines[1] == f"{RUN}: done (failed: ['a'])"


def test_test_predictions_ignored_and_ended_record_stops(follow):
    ended = record(state="aborted", a={})
    prediction = step_event("a", "stage")
    prediction[2]["test"] = True
    lines, final = follow(Script(record(a={}), [prediction, ("quiet", ended)]))
    assert lines == [f"{RUN}: aborted (failed: none)"] and final["state"] == "aborted"
