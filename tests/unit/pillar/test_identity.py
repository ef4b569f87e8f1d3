"""Minion id -> NetBox node through the identity index."""

import pytest
from salt.exceptions import SaltInvocationError

from salt_ext.utils.pillar.identity import AmbiguousMinion, IdentityView, index_entry, render_name
from salt_ext.utils.pillar.options import parse_options


@pytest.fixture
def index(lab1_snapshot):
    rows = [index_entry("device", d, "minion_id") for d in lab1_snapshot["objects"]["dcim.devices"]]
    return IdentityView({"objects": {"nodes": rows}})


def _id(snapshot, name):
    return next(d["id"] for d in snapshot["objects"]["dcim.devices"] if d["name"] == name)


def test_by_name(index, lab1_snapshot):
    kind, node, site = index.resolve("srv-r2-03", parse_options({}))
    assert (kind, node) == ("device", _id(lab1_snapshot, "srv-r2-03"))
    assert index.sites[site] == "lab1"


def test_by_custom_field(index, lab1_snapshot):
    found = index.resolve("srv-r1-02.lab1.example.net", parse_options({}))
    assert found[1] == _id(lab1_snapshot, "srv-r1-02")
    assert index.resolve("srv-r1-02.lab1.example.net", parse_options({"identity": "name"})) is None


def test_by_template_strips_domain(index, lab1_snapshot):
    options = parse_options(
        {"identity": ["template"], "name_template": "{{ minion_id.split('.')[0] }}"}
    )
    assert index.resolve("srv-r3-04.other.example.org", options)[1] == _id(
        lab1_snapshot, "srv-r3-04"
    )


def test_unknown(index):
    assert index.resolve("nope", parse_options({})) is None


def test_ambiguous_names_the_fix(lab1_snapshot):
    devs = lab1_snapshot["objects"]["dcim.devices"]
    rows = [index_entry("device", d, "minion_id") for d in devs]
    twin = dict(devs[3], id=99999, site={"id": 777, "slug": "ams01"})
    rows.append(index_entry("device", twin, "minion_id"))
    view = IdentityView({"objects": {"nodes": rows}})
    with pytest.raises(AmbiguousMinion, match="minion_id"):
        view.resolve(devs[3]["name"], parse_options({}))


def test_vm_ignored_unless_enabled(lab1_snapshot):
    vm = {"id": 5, "name": "vm1", "site": {"id": 1, "slug": "lab1"}, "custom_fields": {}}
    view = IdentityView({"objects": {"nodes": [index_entry("virtual_machine", vm, "minion_id")]}})
    assert view.resolve("vm1", parse_options({})) is None
    assert view.resolve("vm1", parse_options({"virtual_machines": True})) == (
        "virtual_machine",
        5,
        1,
    )


def test_bad_template():
    with pytest.raises(SaltInvocationError, match="name_template"):
        render_name("{{ minion_id.split('.')[0] ", "a.b")
    with pytest.raises(SaltInvocationError, match="name_template"):
        render_name("{{ nothing.attr }}", "a.b")
