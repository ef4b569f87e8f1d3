"""The ``turnup_jobs`` returner through Salt's loaders: found by the entry point, keeps a
return the way the minion hands it over after a job, and ``ret.get_jid`` reads it back."""

import salt.config
import salt.loader

JID = "20261203181500654321"


def _opts(tmp_path):
    opts = salt.config.minion_config(None)
    opts.update(cachedir=str(tmp_path / "cache"), id="srv-r2-01.lab1.example.net", grains={})
    return opts


def test_the_minion_keeps_a_highstate_return_and_ret_get_jid_reads_it(tmp_path):
    opts = _opts(tmp_path)
    utils = salt.loader.utils(opts)
    mods = salt.loader.minion_mods(opts, utils=utils)
    returners = salt.loader.returners(opts, mods)
    assert "turnup_jobs.returner" in returners
    assert mods["ret.get_jid"]("turnup_jobs", JID) == {}
    states = {"file_|-a_|-/etc/a_|-managed": {"result": True, "changes": {"diff": "new"}}}
    # what Minion._thread_return hands every returner named in the job's ``ret``
    returners["turnup_jobs.returner"](
        {
            "jid": JID,
            "id": opts["id"],
            "fun": "state.highstate",
            "fun_args": [],
            "return": states,
            "retcode": 0,
            "success": True,
        }
    )
    kept = mods["ret.get_jid"]("turnup_jobs", JID)
    assert kept[opts["id"]]["return"] == states and kept[opts["id"]]["retcode"] == 0
    assert returners["turnup_jobs.prep_jid"](passed_jid=JID) == JID
