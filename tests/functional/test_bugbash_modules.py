"""
Bug bash of the loader modules: what users really type wrong, through Salt's loaders in-process
on a copy of the lab1 snapshot (SnapshotSource). Each test pins a defect that was found by hand
with ``salt-call --local`` and fixed.
"""

import json
import pathlib
import shutil

import pytest
import salt.config
import salt.loader
from salt.exceptions import CommandExecutionError, SaltInvocationError

from tests.functional.test_hardware import _opts as hardware_opts
from tests.support.saltenv import LAB1_SNAPSHOT

SIMULATED = pathlib.Path(__file__).parents[1] / "unit/hardware/fixtures/simulated/srv-r1-01"


def loaders(tmp_path, test=False, **extra):
    """
    (execution modules, netbox + hardware state modules) on the hardware tests' opts (a copy of
    the lab1 snapshot in ``tmp_path``); build a new pair per use (Salt binds dunders late).
    """
    opts = hardware_opts(tmp_path, "srv-r1-01", pillar={}, test=test, **extra)
    utils = salt.loader.utils(opts)
    mods = salt.loader.minion_mods(opts, utils=utils)
    states = salt.loader.states(opts, mods, utils, {}, whitelist=["netbox", "hardware"])
    return mods, states


def snapshot_data(tmp_path):
    return json.loads((tmp_path / "lab1.json").read_text())


def device_by_name(tmp_path, name):
    return next(d for d in snapshot_data(tmp_path)["objects"]["dcim.devices"] if d["name"] == name)


# -- ids that are not numbers: a Python traceback (ValueError) instead of a usage error ---------
@pytest.mark.parametrize(
    "call",
    [
        ("netbox.get", ("dcim.devices", "abc"), {}),
        ("netbox.get", ("dcim.devices",), {"id": "abc"}),
        ("netbox.update", ("dcim.devices", "abc"), {"serial": "X1"}),
        ("netbox.delete", ("dcim.devices", "abc"), {}),
    ],
)
def test_an_id_that_is_not_a_number_is_a_usage_error(tmp_path, call):
    mods, _ = loaders(tmp_path)
    fun, args, kwargs = call
    with pytest.raises(
        SaltInvocationError, match=r"id must be a NetBox object id \(a number\), got 'abc'"
    ):
        mods[fun](*args, **kwargs)


# -- unknown endpoints: get/delete by id answered "not there" instead of naming the typo ---------
def test_get_by_id_on_an_unknown_endpoint_names_the_endpoint(tmp_path):
    mods, _ = loaders(tmp_path)
    assert mods["netbox.get"]("dcim.devices", 99999) is None  # a missing object stays None
    with pytest.raises(SaltInvocationError, match="dcim.devicez"):
        mods["netbox.get"]("dcim.devicez", 1)


def test_update_on_an_unknown_endpoint_names_the_endpoint(tmp_path):
    mods, _ = loaders(tmp_path)
    with pytest.raises(CommandExecutionError, match="dcim.devices 99999 does not exist"):
        mods["netbox.update"]("dcim.devices", 99999, serial="X1")
    with pytest.raises(SaltInvocationError, match="endpoint dcim.devicez does not exist"):
        mods["netbox.update"]("dcim.devicez", 1, serial="X1")


def test_delete_on_an_unknown_endpoint_names_the_endpoint(tmp_path):
    mods, _ = loaders(tmp_path)
    assert mods["netbox.delete"]("dcim.inventory-items", 99999)["deleted"] is False
    with pytest.raises(SaltInvocationError, match="dcim.devicez"):
        mods["netbox.delete"]("dcim.devicez", 5)


# -- unknown fields: NetBox ignores them, the module reported them as changed -------------------
def test_update_with_an_unknown_field_is_refused_and_writes_nothing(tmp_path):
    mods, _ = loaders(tmp_path)
    before = (tmp_path / "lab1.json").read_bytes()
    with pytest.raises(SaltInvocationError, match="nosuchfield.*dcim.devices"):
        mods["netbox.update"]("dcim.devices", 107, nosuchfield="x")
    assert (tmp_path / "lab1.json").read_bytes() == before


def test_create_with_a_misspelled_field_is_refused_and_writes_nothing(tmp_path):
    mods, _ = loaders(tmp_path)
    before = (tmp_path / "lab1.json").read_bytes()
    with pytest.raises(SaltInvocationError, match="descripton.*dcim.manufacturers"):
        mods["netbox.create"]("dcim.manufacturers", name="Quanta", slug="quanta", descripton="x")
    assert (tmp_path / "lab1.json").read_bytes() == before


@pytest.mark.parametrize("test", [True, False])
def test_object_present_with_an_unknown_field_fails_without_changes(tmp_path, test):
    _, states = loaders(tmp_path, test=test)
    before = (tmp_path / "lab1.json").read_bytes()
    ret = states["netbox.object_present"](
        "tor1-r1", endpoint="dcim.devices", lookup={"name": "tor1-r1"}, fields={"nosuch": 1}
    )
    assert ret["result"] is False
    assert ret["changes"] == {}
    assert "nosuch" in ret["comment"]
    assert (tmp_path / "lab1.json").read_bytes() == before


# -- states: wrong types must fail the state, not raise a traceback ------------------------------
@pytest.mark.parametrize("fields", [[1], "serial=X", 5])
def test_object_present_with_fields_that_are_not_a_mapping(tmp_path, fields):
    _, states = loaders(tmp_path)
    ret = states["netbox.object_present"](
        "tor1-r1", endpoint="dcim.devices", lookup={"name": "tor1-r1"}, fields=fields
    )
    assert ret["result"] is False
    assert "fields" in ret["comment"] and "mapping" in ret["comment"]
    assert ret["changes"] == {}


@pytest.mark.parametrize("lookup", [["name", "tor1-r1"], "tor1-r1"])
def test_object_states_with_a_lookup_that_is_not_a_mapping(tmp_path, lookup):
    _, states = loaders(tmp_path)
    for fun, kwargs in (
        ("netbox.object_present", {"fields": {"serial": "X"}}),
        ("netbox.object_absent", {}),
    ):
        ret = states[fun]("tor1-r1", endpoint="dcim.devices", lookup=lookup, **kwargs)
        assert ret["result"] is False, fun
        assert "lookup" in ret["comment"] and "mapping" in ret["comment"], fun
        assert ret["changes"] == {}, fun


@pytest.mark.parametrize("test", [True, False])
def test_validated_state_with_an_unknown_generation_fails_cleanly(tmp_path, test):
    _, states = loaders(
        tmp_path,
        test=test,
        hardware={"simulate": str(SIMULATED)},
    )
    ret = states["hardware.validated"]("hw", generation="nosuch")
    assert ret["result"] is False
    assert "nosuch" in ret["comment"] and "hwgen" in ret["comment"]
    assert ret["changes"] == {}


def test_execution_errors_stay_typed(tmp_path):
    """NetBox's own refusal (a status it does not know) is a CommandExecutionError with its text."""
    mods, _ = loaders(tmp_path)
    with pytest.raises(CommandExecutionError, match="bogus is not a valid choice"):
        mods["netbox.set_status"]("srv-r1-01", "bogus")
    assert device_by_name(tmp_path, "srv-r1-01")["status"]["value"] == "active"


# -- hardware: a generation/device of the wrong type ("unhashable type: 'list'", "not found") ---
@pytest.mark.parametrize("fun", ["hardware.profile", "hardware.validate", "hardware.config"])
@pytest.mark.parametrize("generation", [["gen10"], {"gen": 10}, 10])
def test_hardware_generation_of_the_wrong_type_names_the_argument(tmp_path, fun, generation):
    mods, _ = loaders(tmp_path)
    with pytest.raises(SaltInvocationError, match=r"generation must be the name of a hardware"):
        mods[fun](generation=generation)


@pytest.mark.parametrize("fun", ["hardware.validate", "hardware.config"])
@pytest.mark.parametrize("device", [["a", "b"], {"name": "srv-r1-01"}, True])
def test_hardware_device_of_the_wrong_type_names_the_argument(tmp_path, fun, device):
    mods, _ = loaders(tmp_path)
    with pytest.raises(SaltInvocationError, match=r"device \(or hardware:device\) must be"):
        mods[fun](device=device)


# -- runners: bad input was reported as a successful job (success True, orchestrate passes on) --
def _runner_client(tmp_path):
    import salt.runner  # noqa: PLC0415

    shutil.copy(LAB1_SNAPSHOT, tmp_path / "lab1.json")
    opts = salt.config.master_config(None)
    opts.update(
        cachedir=str(tmp_path / "cache"),
        pki_dir=str(tmp_path / "pki"),
        sock_dir=str(tmp_path / "sock"),
        netbox={"snapshot": str(tmp_path / "lab1.json")},
    )
    (tmp_path / "cache" / "proc").mkdir(parents=True, exist_ok=True)
    return salt.runner.RunnerClient(opts)


@pytest.mark.parametrize(
    "fun, kwarg, message",
    [
        ("netbox.diff_inventory", {"site": "nosuch"}, "site: 'nosuch' not found"),
        ("netbox.export_snapshot", {"site": "lab1", "path": ""}, "needs site"),
        ("netbox.import_snapshot", {"path": "/nonexistent.json"}, "cannot read snapshot"),
        (
            "turnup.check_generation",
            {"gen": "", "minion": "srv-r1-01"},
            "gen=<generation name> is required",
        ),
    ],
)
def test_runner_bad_input_fails_the_job(tmp_path, fun, kwarg, message):
    ret = _runner_client(tmp_path).cmd(fun, kwarg=kwarg, full_return=True, print_event=False)
    assert message in str(ret["return"])
    assert "Traceback" not in str(ret["return"])
    assert ret["success"] is False


def test_export_snapshot_refuses_a_relative_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ret = _runner_client(tmp_path).cmd(
        "netbox.export_snapshot",
        kwarg={"site": "lab1", "path": "lab1-export.json"},
        full_return=True,
        print_event=False,
    )
    assert "absolute" in str(ret["return"]) and ret["success"] is False
    assert not (tmp_path / "lab1-export.json").exists()


# -- states: a write NetBox refused was still reported as a change ------------------------------
def _api_states(target, tmp_path):
    from tests.functional.test_netbox_mod import loaders as api_loaders  # noqa: PLC0415

    return api_loaders(target, tmp_path)


@pytest.mark.parametrize(
    "fun, name, kwargs, method",
    [
        ("netbox.device_status", "srv-r2-01", {"status": "offline"}, "PATCH"),
        ("netbox.journal_entry", "racked", {"obj": "srv-r2-01"}, "POST"),
        ("netbox.cable_present", "c", {"a": "srv-r2-01:eno3", "b": "tor1-r2:Ethernet9"}, "POST"),
    ],
)
@pytest.mark.standin_only("injects a 503 on the write")
def test_state_write_refused_by_netbox_reports_no_change(  # noqa: PLR0917 (parametrized)
    fresh_netbox, tmp_path, fun, name, kwargs, method
):
    if fun == "netbox.cable_present":
        mods, _ = _api_states(fresh_netbox, tmp_path)
        mods["netbox.create"](
            "dcim.interfaces", device="srv-r2-01", name="eno3", type="25gbase-x-sfp28"
        )
    _, states = _api_states(fresh_netbox, tmp_path)
    fresh_netbox.standin.faults.add("status", methods=[method], status=503, body={"detail": "db"})
    try:
        ret = states[fun](name, **kwargs)
    finally:
        fresh_netbox.standin.faults.clear()
    assert ret["result"] is False
    assert "503" in ret["comment"]
    assert ret["changes"] == {}


@pytest.mark.standin_only("injects a 503 on the journal entry")
def test_device_status_reports_the_status_it_wrote_when_the_journal_fails(fresh_netbox, tmp_path):
    _, states = _api_states(fresh_netbox, tmp_path)
    fresh_netbox.standin.faults.add(
        "status", methods=["POST"], path_prefix="/api/extras/journal-entries/", status=503
    )
    try:
        ret = states["netbox.device_status"]("srv-r2-01", status="offline")
    finally:
        fresh_netbox.standin.faults.clear()
    assert ret["result"] is False
    assert "503" in ret["comment"]
    assert ret["changes"] == {"status": {"old": "planned", "new": "offline"}}


# -- slugs: non-ASCII names gave slugs NetBox refuses (its slug validator is ASCII only) --------
@pytest.mark.parametrize(
    "value, slug",
    [
        ("Ünïcode Name!!", "unicode-name"),
        ("Żółć  Ltd.", "zoc-ltd"),
        ("--Edge Server--", "edge-server"),
        ("名前", ""),
    ],
)
def test_slugify_is_ascii_like_netbox_wants(tmp_path, value, slug):
    mods, _ = loaders(tmp_path)
    assert mods["netbox.slugify"](value) == slug


def test_create_manufacturer_with_a_unicode_name_gets_a_valid_slug(tmp_path):
    mods, _ = loaders(tmp_path)
    made = mods["netbox.create_manufacturer"]("Ünïcode Corp")
    assert made["dcim"]["manufacturers"]["slug"] == "unicode-corp"
    obj = mods["netbox.get"]("dcim.manufacturers", made["dcim"]["manufacturers"]["id"])
    assert obj["name"] == "Ünïcode Corp" and obj["slug"] == "unicode-corp"


@pytest.mark.parametrize("test", [True, False])
@pytest.mark.parametrize("status", ["", ["staged"], 3, None])
def test_device_status_state_refuses_a_status_that_is_not_a_value(tmp_path, test, status):
    """Sent as given before: a PATCH NetBox refused, or with test=True a predicted change."""
    _, states = loaders(tmp_path, test=test)
    before = (tmp_path / "lab1.json").read_bytes()
    ret = states["netbox.device_status"]("srv-r1-01", status=status)
    assert ret["result"] is False
    assert "status must be a NetBox status value" in ret["comment"]
    assert ret["changes"] == {}
    assert (tmp_path / "lab1.json").read_bytes() == before


# -- extra arguments that were silently ignored or sent as Python reprs --------------------------
def test_get_with_an_id_and_filters_refuses_instead_of_ignoring_the_filters(tmp_path):
    mods, _ = loaders(tmp_path)
    assert mods["netbox.get"]("dcim.devices", 110)["name"] == "srv-r1-01"
    with pytest.raises(SaltInvocationError, match="an id or filters, not both"):
        mods["netbox.get"]("dcim.devices", 110, name="srv-r1-02")


@pytest.mark.parametrize("value", [{"a": 1}, [["planned"]], ["active", {"x": 1}]])
def test_filter_with_a_structured_value_names_the_filter(tmp_path, value):
    mods, _ = loaders(tmp_path)
    assert len(mods["netbox.filter"]("dcim.devices", status=["active", "planned"])) > 1
    with pytest.raises(SaltInvocationError, match="filter status takes a value or a list"):
        mods["netbox.filter"]("dcim.devices", status=value)


@pytest.mark.parametrize("timeout", ["abc", 0, -5, True, None])
@pytest.mark.parametrize(
    "fun, kwarg",
    [
        ("netbox.diff_inventory", {"site": "lab1", "live": True}),
        ("turnup.check_generation", {"gen": "gen11", "minion": "srv-r1-02"}),
    ],
)
def test_runner_timeout_that_is_not_a_number_of_seconds(tmp_path, fun, kwarg, timeout):
    """Passed on to the LocalClient before (a crash there, or no wait at all)."""
    ret = _runner_client(tmp_path).cmd(
        fun, kwarg=dict(kwarg, timeout=timeout), full_return=True, print_event=False
    )
    assert "timeout must be a positive number of seconds" in str(ret["return"])
    assert ret["success"] is False


# -- numbers given as words: ValueError tracebacks from int() ------------------------------------
@pytest.mark.parametrize(
    "fun, args, kwargs, name",
    [
        ("netbox.create_circuit", ("c1", "abc", "Transit"), {}, "provider_id"),
        ("netbox.create_ipaddress", ("10.1.1.1/24",), {"family": "four"}, "family"),
        ("netbox.get_circuit_provider", ("x",), {"asn": "AS1299"}, "asn"),
        ("netbox.create_circuit_provider", ("Telia",), {"asn": "AS1299"}, "asn"),
        ("netbox.journal", ({"endpoint": "dcim.devices", "id": "abc"}, "hi"), {}, "object id"),
    ],
)
def test_numbers_given_as_words_are_usage_errors(tmp_path, fun, args, kwargs, name):
    mods, _ = loaders(tmp_path)
    with pytest.raises(SaltInvocationError, match=f"{name} must be a whole number"):
        mods[fun](*args, **kwargs)


@pytest.mark.parametrize("fun", ["netbox.object_present", "netbox.object_absent"])
def test_object_states_with_a_lookup_id_that_is_not_a_number(tmp_path, fun):
    _, states = loaders(tmp_path)
    kwargs = {"fields": {"serial": "X"}} if fun == "netbox.object_present" else {}
    ret = states[fun]("x", endpoint="dcim.devices", lookup={"id": "abc"}, **kwargs)
    assert ret["result"] is False
    assert "lookup id must be a whole number" in ret["comment"]
    assert ret["changes"] == {}


def test_filter_and_create_on_an_unknown_endpoint_name_the_endpoint(tmp_path):
    mods, _ = loaders(tmp_path)
    with pytest.raises(SaltInvocationError, match="endpoint dcim.devicez does not exist"):
        mods["netbox.filter"]("dcim.devicez", name="x")
    with pytest.raises(SaltInvocationError, match="endpoint dcim.manufacturerz does not exist"):
        mods["netbox.create"]("dcim.manufacturerz", name="Quanta", slug="quanta")
