"""The turn-up's sync step: which custom module types there are to sync (the master's file server,
the minion's synced copies) and Salt's own saltutil.sync_<type> called for those only."""

import pytest
import salt.config
from salt.exceptions import CommandExecutionError, SaltInvocationError

from salt_ext.modules import turnup_mod
from salt_ext.utils.turnup import sync as tsync


def test_forms_in_takes_module_files_of_known_types_only():
    paths = [
        "_modules/site_tools.py",
        "_grains/rack.py",
        "_proxy/switch.py",
        "_states/README.md",  # no module file: nothing to sync
        "_modules",  # a directory entry
        "_unknown/thing.py",  # not a module type
        "hwgen/init.sls",
        "orch/_modules/x.py",  # not at the top of the file server
        "_utils/helpers.pyx",
        "_executors/lib.zip",
    ]
    assert tsync.forms_in(paths) == ["executors", "grains", "modules", "proxy", "utils"]


def test_master_forms_reads_every_saltenv_of_the_file_server(tmp_path):
    base, dev = tmp_path / "base", tmp_path / "dev"
    (base / "_modules").mkdir(parents=True)
    (base / "_modules" / "site_tools.py").write_text("def f():\n    return 1\n")
    (base / "top.sls").write_text("base: {}\n")
    (dev / "_grains").mkdir(parents=True)
    (dev / "_grains" / "rack.py").write_text("def rack():\n    return {}\n")
    opts = salt.config.master_config(None)
    opts.update(
        cachedir=str(tmp_path / "cache"),
        file_roots={"base": [str(base)], "dev": [str(dev)]},
        fileserver_backend=["roots"],
    )
    assert tsync.master_forms(opts) == ["grains", "modules"]


class Minion:
    """saltutil's sync functions as a minion answers them, each call recorded."""

    def __init__(self, changed=None, keys=tsync.FORMS):
        self.calls = []
        self.changed = changed or {}
        self.funcs = {f"saltutil.sync_{key}": self._sync(key) for key in keys}
        self.funcs["saltutil.refresh_pillar"] = lambda **kw: self.calls.append(("refresh", kw))
        self.funcs["saltutil.sync_all"] = lambda **kw: self.calls.append(("sync_all", kw)) or {}

    def _sync(self, key):
        def sync(**kwargs):
            self.calls.append((key, kwargs))
            return self.changed.get(key, [])

        return sync

    def synced(self):
        return [c for c, _ in self.calls if c not in ("refresh", "sync_all")]


def test_only_the_masters_types_and_the_minions_own_are_synced(tmp_path):
    extmods = tmp_path / "extmods"
    (extmods / "grains").mkdir(parents=True)
    (extmods / "grains" / "old.py").write_text("")  # synced once, gone from the master since
    (extmods / "states").mkdir()  # empty: nothing to clean
    minion = Minion()
    opts = {"extension_modules": str(extmods), "file_client": "remote"}
    ret = tsync.sync(minion.funcs, opts, ["modules", "proxy"])
    assert sorted(minion.synced()) == ["grains", "modules", "proxymodules"]
    assert ("sdb", {"saltenv": None}) not in minion.calls
    assert all(kw == {"saltenv": None, "refresh": False} for _, kw in minion.calls)
    assert ret["checked"] == ["modules", "grains", "proxymodules"]
    assert "states" in ret["skipped"] and "modules" not in ret["skipped"]
    assert ret["synced"] == {} and ret["refreshed"] is False
    assert ("refresh", {"wait": True}) not in minion.calls  # nothing changed: no refresh


def test_a_change_refreshes_the_pillar_and_modules_before_returning(tmp_path):
    minion = Minion(changed={"modules": ["modules.site_tools"]})
    opts = {"extension_modules": str(tmp_path / "none"), "file_client": "remote"}
    ret = tsync.sync(minion.funcs, opts, ["modules", "sdb"], saltenv="base")
    assert ret["synced"] == {"modules": ["modules.site_tools"]} and ret["refreshed"] is True
    assert ("sdb", {"saltenv": "base"}) in minion.calls  # sync_sdb takes no refresh argument
    assert minion.calls[-1] == ("refresh", {"wait": True})
    assert tsync.sync(minion.funcs, opts, ["modules"], refresh=False)["refreshed"] is False


def test_no_custom_modules_anywhere_asks_the_master_nothing(tmp_path):
    minion = Minion()
    ret = tsync.sync(minion.funcs, {"extension_modules": str(tmp_path)}, [])
    assert minion.calls == [] and ret["checked"] == [] and len(ret["skipped"]) == len(tsync.FORMS)


def test_types_an_older_salt_lacks_are_left_out(tmp_path):
    minion = Minion(keys={k: v for k, v in tsync.FORMS.items() if k != "resources"})
    ret = tsync.sync(minion.funcs, {"extension_modules": str(tmp_path)}, ["resources"])
    assert "resources" not in ret["checked"] + ret["skipped"] and minion.calls == []


def test_a_masterless_minion_runs_saltutil_sync_all(tmp_path):
    minion = Minion()
    tsync.sync(minion.funcs, {"extension_modules": str(tmp_path), "file_client": "local"}, [])
    assert minion.calls == [("sync_all", {"saltenv": None, "refresh": True})]


@pytest.mark.parametrize("forms", ["modules,bogus", 5, ["_modules"]])
def test_the_execution_module_names_bad_forms(forms):
    with pytest.raises(SaltInvocationError, match="forms must list custom module types"):
        turnup_mod.sync_all(forms=forms)


def prepared(monkeypatch, tmp_path, minion, validate):
    """``turnup.prepare`` on ``minion`` (saltutil's functions) with ``hardware.validate``."""
    funcs = dict(minion.funcs)
    if validate is not None:
        funcs["hardware.validate"] = validate
    opts = {"extension_modules": str(tmp_path / "extmods"), "file_client": "remote"}
    monkeypatch.setattr(turnup_mod, "__salt__", funcs, raising=False)
    monkeypatch.setattr(turnup_mod, "__opts__", opts, raising=False)
    return turnup_mod


def test_prepare_syncs_then_validates_with_the_inventory(monkeypatch, tmp_path):
    calls = []

    def validate(**kwargs):
        calls.append(kwargs)
        return {"passed": True, "failed": [], "inventory": {"system": {"serial": "S1"}}}

    mod = prepared(monkeypatch, tmp_path, Minion(), validate)
    ret = mod.prepare(forms="modules")
    assert ret["sync_all"]["checked"] == ["modules"] and ret["sync_all"]["synced"] == {}
    assert ret["validate"]["passed"] is True and ret["validate"]["inventory"]
    assert calls == [{"with_inventory": True}]
    assert mod.prepare(forms="modules", validate=False)["validate"] is None
    assert len(calls) == 1


def test_prepare_leaves_a_box_that_synced_a_module_to_the_validate_step(monkeypatch, tmp_path):
    """Its new modules load with the next job: validating now would run the old code."""
    calls = []
    minion = Minion(changed={"modules": ["modules.hardware"]})
    mod = prepared(monkeypatch, tmp_path, minion, lambda **kw: calls.append(kw))
    ret = mod.prepare(forms=["modules"])
    assert ret == {
        "sync_all": {
            "synced": {"modules": ["modules.hardware"]},
            "checked": ["modules"],
            "skipped": [k for k in tsync.FORMS if k != "modules"],
            "refreshed": True,
        },
        "validate": None,
    }
    assert calls == [] and minion.calls[-1] == ("refresh", {"wait": True})


def test_prepare_reports_a_part_that_could_not_run(monkeypatch, tmp_path):
    mod = prepared(monkeypatch, tmp_path, Minion(), None)
    assert mod.prepare()["validate"] == "'hardware.validate' is not available."

    def broken(**kwargs):
        raise CommandExecutionError("hardware: NetBox lookup failed: 503")

    mod = prepared(monkeypatch, tmp_path, Minion(), broken)
    ret = mod.prepare()
    assert ret["validate"] == ("CommandExecutionError: hardware: NetBox lookup failed: 503")
    assert ret["sync_all"]["checked"] == []

    minion = Minion()

    def sync_fails(**kwargs):
        raise OSError("No space left on device")

    minion.funcs["saltutil.sync_modules"] = sync_fails
    mod = prepared(monkeypatch, tmp_path, minion, lambda **kw: {"passed": True})
    ret = mod.prepare(forms="modules")
    assert ret == {
        "sync_all": "OSError: No space left on device",
        "validate": None,
    }
    with pytest.raises(SaltInvocationError, match="forms must list"):
        mod.prepare(forms="bogus")
