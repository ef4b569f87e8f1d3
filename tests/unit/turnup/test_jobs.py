"""The minion-side keeper of turn-up job returns (returner ``turnup_jobs``)."""

import os
import stat
import time

from salt_ext.utils.turnup import jobs

JID = "20261203174500123456"


def opts(tmp_path, **more):
    return {"cachedir": str(tmp_path / "cache"), "id": "srv-r2-01.lab1", **more}


def test_a_return_is_kept_private_and_read_back(tmp_path):
    ret = {"jid": JID, "id": "srv-r2-01.lab1", "fun": "state.highstate", "retcode": 0}
    ret["return"] = {"file_|-a_|-a_|-managed": {"result": True, "changes": {}}}
    ret["ignored"] = "not a return key"
    path = jobs.keep(opts(tmp_path), ret)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    got = jobs.get(opts(tmp_path), JID)
    assert list(got) == ["srv-r2-01.lab1"]
    kept = got["srv-r2-01.lab1"]
    assert kept["return"] == ret["return"] and kept["retcode"] == 0 and "ignored" not in kept
    assert [n for n in os.listdir(os.path.dirname(path)) if n.startswith(".tmp")] == []


def test_an_unknown_jid_gives_nothing(tmp_path):
    assert jobs.get(opts(tmp_path), JID) == {}


def test_a_jid_that_is_a_path_is_refused(tmp_path):
    for bad in ("../../etc/passwd", "", None, ".hidden", "a/b"):
        assert jobs.keep(opts(tmp_path), {"jid": bad, "return": 1}) is None
        assert jobs.get(opts(tmp_path), bad) == {}
    assert not (tmp_path / "cache").exists() or not os.listdir(tmp_path / "cache" / "turnup_jobs")


def test_old_returns_are_pruned(tmp_path):
    o = opts(tmp_path, turnup_jobs_keep_hours=1)
    old = jobs.keep(o, {"jid": "20261201000000000001", "return": 1})
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    jobs.keep(o, {"jid": JID, "return": 2})
    assert not os.path.exists(old)
    assert jobs.get(o, JID)["srv-r2-01.lab1"]["return"] == 2


def test_an_unreadable_file_gives_nothing(tmp_path):
    o = opts(tmp_path)
    path = jobs.keep(o, {"jid": JID, "return": 1})
    with open(path, "wb") as fh:
        fh.write(b"\xc1 not msgpack")
    assert jobs.get(o, JID) == {}
