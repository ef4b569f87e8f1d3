"""
Fidelity of the in-memory NetBox store to NetBox 4.6.8 where it used to differ: many-to-many fields
(nested objects out, primary keys / slugs in), nullable choice fields, model defaults (``weight``,
rack and device type sizes), VLAN group utilization, and the metadata checked against the real
OpenAPI schema (read from ``/work/shared``, never copied into the repository).
"""

import json
import pathlib

import pytest

from salt_ext.utils.netbox.model import NetBoxStore, StoreError
from salt_ext.utils.netbox.model.schema_meta import (
    BLANK_CHOICES,
    ENDPOINTS,
    MODEL_DEFAULTS,
    NULLABLE_CHOICES,
    PK_M2M,
    SLUG_M2M,
)

REPO = pathlib.Path(__file__).resolve().parents[2]
LAB1 = REPO / "salt_ext" / "data" / "snapshots" / "lab1.json"
SCHEMA = REPO.parent / "shared" / "fixtures" / "netbox" / "openapi-4.6.8.json"
RECORDED = REPO / "tests" / "support" / "recorded"


def _device(store, name="srv-r1-01"):
    return store.query("dcim.devices", [("name", name)])[0]


def _errors(call, *args, **kwargs):
    with pytest.raises(StoreError) as err:
        call(*args, **kwargs)
    assert err.value.status == 400
    return err.value.body


# -- metadata against the schema ------------------------------------------------------------------
def test_every_many_to_many_field_of_the_schema_is_a_reference_list(schema):
    """Every array of objects of a read schema is a many-to-many field the store resolves (or a
    structured value: cable terminations, VLAN id ranges)."""
    structured = {("dcim.cables", "a_terminations"), ("dcim.cables", "b_terminations")}
    structured.add(("ipam.vlan-groups", "vid_ranges"))
    for endpoint, meta in ENDPOINTS.items():
        props = schema[meta["schema"]]["properties"]
        for name, prop in props.items():
            if prop.get("type") != "array" or "$ref" not in prop.get("items", {}):
                continue
            if (endpoint, name) in structured:
                continue
            spec = meta["fields"][name]
            assert spec[0] == "fkm", f"{endpoint}.{name} is {spec}"
        for name, prop in props.items():
            # SlugRelatedField: strings out, references inside the store
            if (endpoint, name) in SLUG_M2M:
                assert prop["items"] == {"type": "string"}
                assert meta["fields"][name][0] == "fkm"


def test_pk_only_m2m_fields_match_the_write_schema(schema):
    """Fields written as a list of integers (SerializedPKRelatedField) are exactly ``PK_M2M``."""
    found = set()
    for endpoint, meta in ENDPOINTS.items():
        if meta["write_schema"] is None:  # read-only endpoint
            continue
        props = schema[meta["write_schema"]]["properties"]
        for name, prop in props.items():
            if prop.get("type") == "array" and prop.get("items") == {"type": "integer"}:
                if meta["fields"].get(name, ("",))[0] == "fkm":
                    found.add((endpoint, name))
    assert found == set(PK_M2M)


def test_nullable_choice_fields_match_the_write_schema(schema):
    nullable, blank = set(), set()
    for endpoint, meta in ENDPOINTS.items():
        if meta["write_schema"] is None:  # read-only endpoint
            continue
        props = schema[meta["write_schema"]]["properties"]
        for name, spec in meta["fields"].items():
            if spec[0] != "choice" or name not in props:
                continue
            enum = props[name].get("enum", [])
            if None in enum:
                nullable.add((endpoint, name))
            elif "" in enum:
                blank.add((endpoint, name))
    assert nullable == set(NULLABLE_CHOICES)
    assert blank == set(BLANK_CHOICES)


def test_model_defaults_name_writable_fields():
    for (endpoint, name), value in MODEL_DEFAULTS.items():
        spec = ENDPOINTS[endpoint]["fields"][name]
        assert name in ENDPOINTS[endpoint]["writable"], (endpoint, name)
        if spec[0] == "choice":
            assert value in spec[1]


# -- many-to-many fields ------------------------------------------------------------------------
def test_service_ip_addresses_written_as_ids_come_back_nested(store):
    device = _device(store)
    ips = store.query("ipam.ip-addresses", [("device_id", str(device["id"]))])
    assert len(ips) >= 2
    svc = store.create(
        "ipam.services",
        {
            "name": "ssh",
            "protocol": "tcp",
            "ports": [22],
            "parent_object_type": "dcim.device",
            "parent_object_id": device["id"],
            "ipaddresses": [ips[0]["id"], str(ips[1]["id"])],
        },
    )
    nested = svc["ipaddresses"]
    assert [n["id"] for n in nested] == [ips[0]["id"], ips[1]["id"]]
    assert nested[0]["address"] == ips[0]["address"]
    assert nested[0]["url"].endswith(f"/api/ipam/ip-addresses/{ips[0]['id']}/")
    assert set(nested[0]) == {
        "id",
        "url",
        "display",
        "family",
        "address",
        "nat_inside",
        "nat_outside",
        "dns_name",
        "description",
    }
    # the read side follows the referenced object
    store.update("ipam.ip-addresses", ips[0]["id"], {"description": "ssh here"})
    again = store.get("ipam.services", svc["id"])
    assert again["ipaddresses"][0]["description"] == "ssh here"
    # deleting an address removes it from the service (m2m), never blocks
    store.delete("ipam.ip-addresses", ips[1]["id"])
    assert [n["id"] for n in store.get("ipam.services", svc["id"])["ipaddresses"]] == [ips[0]["id"]]


@pytest.mark.parametrize(
    "value,message",
    [
        ([{"id": 1}], "Incorrect type. Expected pk value, received dict."),
        (["abc"], "Incorrect type. Expected pk value, received str."),
        ([True], "Incorrect type. Expected pk value, received bool."),
        ([999999], 'Invalid pk "999999" - object does not exist.'),
        (7, 'Expected a list of items but got type "int".'),
    ],
)
def test_pk_m2m_fields_take_primary_keys_only(store, value, message):
    body = _errors(
        store.create, "extras.config-contexts", {"name": "x", "data": {}, "sites": value}
    )
    assert body == {"sites": [message]}


def test_tagged_vlans_are_nested_vlans(store):
    device = _device(store)
    vlan = store.query("ipam.vlans", [])[0]
    iface = store.create(
        "dcim.interfaces",
        {
            "device": device["id"],
            "name": "bond9",
            "type": "lag",
            "mode": "tagged",
            "tagged_vlans": [vlan["id"]],
        },
    )
    assert iface["tagged_vlans"][0]["id"] == vlan["id"]
    assert iface["tagged_vlans"][0]["vid"] == vlan["vid"]
    assert iface["tagged_vlans"][0]["name"] == vlan["name"]


def test_config_context_assignments_written_as_ids_are_nested_and_match(store):
    device = _device(store)
    tag = store.create("extras.tags", {"name": "Fidelity", "slug": "fidelity"})
    ctx = store.create(
        "extras.config-contexts",
        {
            "name": "fidelity",
            "weight": 5000,
            "data": {"fidelity": True},
            "sites": [device["site"]["id"]],
            "roles": [device["role"]["id"]],
            "device_types": [device["device_type"]["id"]],
            "tags": ["fidelity"],
        },
    )
    assert ctx["sites"][0]["slug"] == device["site"]["slug"]
    assert set(ctx["sites"][0]) == {"id", "url", "display", "name", "slug", "description"}
    assert ctx["roles"][0]["id"] == device["role"]["id"] and "slug" in ctx["roles"][0]
    assert ctx["device_types"][0]["manufacturer"]["id"]
    assert ctx["tags"] == ["fidelity"]  # SlugRelatedField: slugs out
    # the tag condition holds only once the device carries the tag
    assert "fidelity" not in store.get("dcim.devices", device["id"])["config_context"]
    store.update("dcim.devices", device["id"], {"tags": [tag["id"]]})
    assert store.get("dcim.devices", device["id"])["config_context"]["fidelity"] is True
    # another role: the context no longer applies
    other_role = [
        r for r in store.query("dcim.device-roles", []) if r["id"] != device["role"]["id"]
    ]
    store.update("extras.config-contexts", ctx["id"], {"roles": [other_role[0]["id"]]})
    assert "fidelity" not in store.get("dcim.devices", device["id"])["config_context"]
    # filters see the assignments
    site_id = str(device["site"]["id"])
    found = store.query("extras.config-contexts", [("site_id", site_id), ("tag", "fidelity")])
    assert [c["name"] for c in found] == ["fidelity"]
    # a renamed slug follows; a deleted tag leaves the list
    store.update("extras.tags", tag["id"], {"slug": "fidelity2"})
    assert store.get("extras.config-contexts", ctx["id"])["tags"] == ["fidelity2"]
    store.delete("extras.tags", tag["id"])
    assert store.get("extras.config-contexts", ctx["id"])["tags"] == []


def test_config_context_tags_are_slugs(store):
    body = _errors(
        store.create, "extras.config-contexts", {"name": "x", "data": {}, "tags": ["no"]}
    )
    assert body == {"tags": ["Object with slug=no does not exist."]}
    body = _errors(store.create, "extras.config-contexts", {"name": "x", "data": {}, "tags": [1]})
    assert body == {"tags": ["Invalid value."]}


def test_snapshot_config_context_tag_slugs_are_matched(lab1):
    data = json.loads(json.dumps(lab1))
    tag = dict(data["objects"]["extras.tags"][0], id=999, name="Snap", slug="snap")
    tag["url"] = tag["url"].replace("/tags/", "/tags/9")
    data["objects"]["extras.tags"].append(tag)
    ctx = dict(data["objects"]["extras.config-contexts"][0])
    ctx.update(id=99, name="by-tag", weight=9000, sites=[], tags=[tag["slug"]], data={"t": 1})
    data["objects"]["extras.config-contexts"].append(ctx)
    store = NetBoxStore.from_snapshot(data, keep_ids=False)
    assert store.query("extras.config-contexts", [("name", "by-tag")])[0]["tags"] == [tag["slug"]]
    device = _device(store)
    assert "t" not in device["config_context"]
    store.update("dcim.devices", device["id"], {"tags": [{"slug": tag["slug"]}]})
    assert store.get("dcim.devices", device["id"])["config_context"]["t"] == 1
    exported = store.export()["objects"]["extras.config-contexts"]
    assert [c["tags"] for c in exported if c["name"] == "by-tag"] == [[tag["slug"]]]


def test_tags_by_id_dict_name_or_slug_not_bare_strings(store):
    device = _device(store)
    tags = [store.create("extras.tags", {"name": f"T{i}", "slug": f"t{i}"}) for i in range(3)]
    out = store.update(
        "dcim.devices",
        device["id"],
        {"tags": [tags[0]["id"], {"name": tags[1]["name"]}, {"slug": tags[2]["slug"]}]},
    )
    assert sorted(t["id"] for t in out["tags"]) == sorted(t["id"] for t in tags)
    assert set(out["tags"][0]) >= {"id", "url", "display", "name", "slug", "color"}
    body = _errors(store.update, "dcim.devices", device["id"], {"tags": [tags[0]["slug"]]})
    assert body == {
        "tags": [
            "Related objects must be referenced by numeric ID or by dictionary of attributes. "
            f"Received an unrecognized value: {tags[0]['slug']}"
        ]
    }
    body = _errors(store.update, "dcim.devices", device["id"], {"tags": [{"slug": "nope"}]})
    assert body == {
        "tags": ["Related object not found using the provided attributes: {'slug': 'nope'}"]
    }


def test_m2m_referenced_vlan_delete_is_not_blocked(store):
    vm = store.create("virtualization.virtual-machines", {"name": "vm1", "site": 25})
    vlan = store.create("ipam.vlans", {"vid": 3999, "name": "tmp"})
    iface = store.create(
        "virtualization.interfaces",
        {
            "virtual_machine": vm["id"],
            "name": "eth0",
            "mode": "tagged",
            "tagged_vlans": [vlan["id"]],
        },
    )
    assert iface["tagged_vlans"][0]["vid"] == 3999
    store.delete("ipam.vlans", vlan["id"])
    assert store.get("virtualization.interfaces", iface["id"])["tagged_vlans"] == []


# -- choice fields ------------------------------------------------------------------------------
def test_nullable_choice_fields_accept_null(store):
    rack = store.create(
        "dcim.racks",
        {"name": "R-null", "site": 25, "airflow": None, "form_factor": "", "weight_unit": None},
    )
    assert rack["airflow"] is None and rack["form_factor"] is None
    device = _device(store)
    out = store.update("dcim.devices", device["id"], {"airflow": None})
    assert out["airflow"] is None
    out = store.update("dcim.devices", device["id"], {"airflow": "front-to-rear"})
    assert out["airflow"] == {"value": "front-to-rear", "label": "Front to rear"}


def test_non_nullable_choice_fields_refuse_null_and_blank(store):
    assert _errors(store.create, "dcim.racks", {"name": "R", "site": 25, "width": None}) == {
        "width": ["This field may not be null."]
    }
    assert _errors(store.create, "dcim.racks", {"name": "R", "site": 25, "status": ""}) == {
        "status": ['"" is not a valid choice.']
    }
    body = _errors(store.create, "dcim.racks", {"name": "R", "site": 25, "status": {"value": "x"}})
    assert body == {
        "status": [
            'Value must be passed directly (e.g. "foo": 123); do not use a dictionary or list.'
        ]
    }


def test_choice_strings_are_converted_like_netbox(store):
    rack = store.create("dcim.racks", {"name": "R-23", "site": 25, "width": "23"})
    assert rack["width"] == {"value": 23, "label": "23 inches"}


# -- defaults -----------------------------------------------------------------------------------
def test_weight_and_size_defaults_follow_the_models(store):
    rack = store.create("dcim.racks", {"name": "R-def", "site": 25})
    assert rack["weight"] is None
    assert rack["width"] == {"value": 19, "label": "19 inches"}
    assert (rack["u_height"], rack["starting_unit"]) == (42, 1)
    manufacturer = store.query("dcim.manufacturers", [])[0]
    dtype = store.create(
        "dcim.device-types", {"manufacturer": manufacturer["id"], "model": "M", "slug": "m"}
    )
    assert dtype["weight"] is None
    assert dtype["u_height"] == 1.0 and dtype["is_full_depth"] is True
    ctx = store.create("extras.config-contexts", {"name": "w", "data": {}})
    assert ctx["weight"] == 1000
    tag = store.create("extras.tags", {"name": "W", "slug": "w"})
    assert tag["weight"] == 1000 and tag["color"] == "9e9e9e"
    cf = store.create(
        "extras.custom-fields", {"name": "w_cf", "object_types": ["dcim.device"], "type": "text"}
    )
    assert (cf["weight"], cf["search_weight"]) == (100, 1000)


def test_recorded_weights_agree_with_the_defaults():
    """Racks and device types NetBox recorded carry ``weight: null`` (nobody set one)."""
    seen = 0
    for path in sorted(RECORDED.glob("*.json")):
        pair = json.loads(path.read_text(encoding="utf-8"))
        if "response" not in pair:  # the index
            continue
        body = pair["response"]["body"]
        rows = body.get("results") if isinstance(body, dict) else None
        for row in rows or ():
            if "/api/dcim/racks/" in str(row.get("url")) or "/device-types/" in str(row.get("url")):
                assert row.get("weight") is None
                seen += 1
    assert seen


# -- VLAN groups --------------------------------------------------------------------------------
def test_vlan_group_utilization_follows_its_vlans(store):
    group = store.create("ipam.vlan-groups", {"name": "g", "slug": "g"})
    assert group["vid_ranges"] == [[1, 4094]] and group["total_vlan_ids"] == 4094
    assert group["utilization"] == "0.00"
    store.create("ipam.vlans", {"vid": 10, "name": "a", "group": group["id"]})
    assert store.get("ipam.vlan-groups", group["id"])["utilization"] == "0.02"
    vlan = store.create("ipam.vlans", {"vid": 11, "name": "b", "group": group["id"]})
    assert store.get("ipam.vlan-groups", group["id"])["utilization"] == "0.05"
    store.update("ipam.vlan-groups", group["id"], {"vid_ranges": [[10, 13]]})
    again = store.get("ipam.vlan-groups", group["id"])
    assert (again["total_vlan_ids"], again["utilization"]) == (4, "50.00")
    store.delete("ipam.vlans", vlan["id"])
    assert store.get("ipam.vlan-groups", group["id"])["utilization"] == "25.00"


@pytest.mark.parametrize(
    "ranges,message",
    [
        ([[0, 5]], "Starting VLAN ID in range (0) cannot be less than 1"),
        ([[5, 4095]], "Ending VLAN ID in range (4095) cannot exceed 4094"),
        (
            [[9, 5]],
            "Ending VLAN ID in range must be greater than or equal to the starting VLAN ID (9-5)",
        ),
        ([[1]], "Ranges must be specified in the form (lower, upper)."),
        ([["a", 3]], "Range boundaries must be defined as integers."),
    ],
)
def test_vlan_group_ranges_are_validated(store, ranges, message):
    body = _errors(
        store.create, "ipam.vlan-groups", {"name": "g", "slug": "g", "vid_ranges": ranges}
    )
    assert body == {"vid_ranges": [message]}


# -- cables -------------------------------------------------------------------------------------
def _cabled_interface(store):
    for cable in store.query("dcim.cables", []):
        a, b = cable["a_terminations"], cable["b_terminations"]
        if len(a) == 1 and len(b) == 1 and a[0]["object_type"] == "dcim.interface":
            return cable, a[0]["object_id"], b[0]["object_id"]
    raise AssertionError("lab1 has no interface-to-interface cable")


def test_deleting_an_interface_keeps_its_cable_with_the_other_end(store):
    """NetBox 3.3+ (4.6 too) deletes the CableTermination only: the Cable stays, half connected."""
    cable, a_iface, b_iface = _cabled_interface(store)
    etag = store.etag("dcim.cables", cable["id"])
    changes = len(store.query("core.object-changes", []))
    store.delete("dcim.interfaces", a_iface)
    kept = store.get("dcim.cables", cable["id"])
    assert kept["a_terminations"] == []
    assert [t["object_id"] for t in kept["b_terminations"]] == [b_iface]
    assert store.etag("dcim.cables", cable["id"]) == etag  # the Cable itself was not saved
    everything = store.query("core.object-changes", [])
    logged = {
        (c["changed_object_type"], c["action"]["value"])
        for c in everything[: len(everything) - changes]
    }
    assert ("dcim.interface", "delete") in logged  # with its IP and MAC address
    assert not {change for change in logged if change[0] == "dcim.cable"}
    other = store.get("dcim.interfaces", b_iface)
    assert other["cable"]["id"] == cable["id"]
    assert other["link_peers"] == [] and other["connected_endpoints"] is None
    assert store.query("dcim.cables", [("interface_id", str(b_iface))])[0]["id"] == cable["id"]
    # the remaining end still holds the cable: a new one there is refused, like NetBox
    free = store.create(
        "dcim.interfaces",
        {"device": other["device"]["id"], "name": "spare9", "type": "1000base-t"},
    )
    body = _errors(
        store.create,
        "dcim.cables",
        {
            "a_terminations": [{"object_type": "dcim.interface", "object_id": b_iface}],
            "b_terminations": [{"object_type": "dcim.interface", "object_id": free["id"]}],
        },
    )
    assert "already has a cable attached" in body["a_terminations"][0]
    # deleting the cable frees it
    store.delete("dcim.cables", cable["id"])
    assert store.get("dcim.interfaces", b_iface)["cable"] is None


def test_deleting_a_device_keeps_the_cables_of_its_interfaces(store):
    cable, a_iface, b_iface = _cabled_interface(store)
    device = store.get("dcim.interfaces", a_iface)["device"]["id"]
    store.delete("dcim.devices", device)
    kept = store.get("dcim.cables", cable["id"])
    assert kept["a_terminations"] == [] and kept["b_terminations"][0]["object_id"] == b_iface


def test_deleting_the_interface_of_a_primary_ip_clears_it_once(store):
    """The IP goes with its interface; the device's primary_ip4 is SET_NULL (one change record);
    the computed ``primary_ip`` never blocks the delete."""
    device = next(d for d in store.query("dcim.devices", []) if d["primary_ip4"])
    ip = store.get("ipam.ip-addresses", device["primary_ip4"]["id"])
    before = len(store.query("core.object-changes", []))
    store.delete("dcim.interfaces", ip["assigned_object_id"])
    after = store.get("dcim.devices", device["id"])
    assert after["primary_ip4"] is None and after["primary_ip"] is None
    changes = store.query("core.object-changes", [])
    device_updates = [
        c
        for c in changes[: len(changes) - before]
        if c["changed_object_type"] == "dcim.device" and c["changed_object_id"] == device["id"]
    ]
    assert len(device_updates) == 1
    assert device_updates[0]["postchange_data"]["primary_ip4"] is None


def test_config_context_role_filters_use_the_assignment(store):
    role = store.query("dcim.device-roles", [("slug", "edge-server")])[0]
    by_slug = store.query("extras.config-contexts", [("device_role", "edge-server")])
    by_id = store.query("extras.config-contexts", [("device_role_id", str(role["id"]))])
    assert [c["name"] for c in by_slug] == [c["name"] for c in by_id] == ["edge-server-role"]
    assert _errors(store.query, "extras.config-contexts", [("device_role", "nope")])


def test_config_context_tag_changes_are_logged_as_ids(store):
    tag = store.create("extras.tags", {"name": "Logged", "slug": "logged"})
    ctx = store.create("extras.config-contexts", {"name": "l", "data": {}, "tags": ["logged"]})
    change = store.query(
        "core.object-changes",
        [("changed_object_type", "extras.configcontext"), ("changed_object_id", str(ctx["id"]))],
    )[0]
    # a plain many-to-many (not a TaggableManager): primary keys, like serialize_object()
    assert change["postchange_data"]["tags"] == [tag["id"]]
