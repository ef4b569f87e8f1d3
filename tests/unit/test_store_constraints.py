"""
String constraints of NetBox 4.6.8's write serializers in the in-memory store: ``maxLength``,
``minLength`` (blank) and ``pattern`` of the write schemas (slugs, colors, DNS names, custom field
names) and a site's IANA ``time_zone``, on single and bulk creates and on PATCH/PUT, with DRF's
error bodies. The ``CONSTRAINTS`` table is checked against the real OpenAPI schema (read from
``/work/shared``, never copied into the repository).
"""

import pathlib

import pytest
import requests

from salt_ext.utils.netbox.model import StoreError
from salt_ext.utils.netbox.model.schema_meta import CONSTRAINTS, ENDPOINTS
from tests.support.netbox_standin import NetBoxStandin

REPO = pathlib.Path(__file__).resolve().parents[2]
LAB1 = REPO / "salt_ext" / "data" / "snapshots" / "lab1.json"
SCHEMA = REPO.parent / "shared" / "fixtures" / "netbox" / "openapi-4.6.8.json"

MAX_50 = "Ensure this field has no more than 50 characters."
MAX_100 = "Ensure this field has no more than 100 characters."
BLANK = "This field may not be blank."
SLUG = 'Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.'
COLOR = "Enter a valid hexadecimal RGB color code."
TIME_ZONE = "A valid timezone is required."


def _first(store, endpoint):
    return store.query(endpoint, [])[0]


def _errors(call, *args, **kwargs):
    with pytest.raises(StoreError) as err:
        call(*args, **kwargs)
    assert err.value.status == 400
    return err.value.body


def _role(**extra):
    return {"name": "Constraint role", "slug": "constraint-role", "color": "aabbcc", **extra}


# -- the table against the schema -----------------------------------------------------------------
def _schema_constraints(prop):
    """``{max_length, min_length, pattern}`` of a write-schema string property (a ``oneOf`` with a
    blank alternative counts as its non-blank branch), or None."""
    if prop.get("type") != "string":
        branches = [
            x
            for x in prop.get("oneOf", [])
            if x.get("type") == "string" and x.get("maxLength") != 0
        ]
        if not branches:
            return None
        prop = branches[0]
    rules = {
        "max_length": prop.get("maxLength"),
        "min_length": prop.get("minLength"),
        "pattern": prop.get("pattern"),
    }
    return rules if any(v is not None for v in rules.values()) else None


def test_constraints_table_matches_the_write_schemas(schema):
    expected = {}
    for endpoint, meta in ENDPOINTS.items():
        if not meta.get("write_schema"):
            continue
        for name, prop in schema[meta["write_schema"]]["properties"].items():
            rules = _schema_constraints(prop) if name in meta["writable"] else None
            if rules is not None:
                expected.setdefault(endpoint, {})[name] = rules
    assert CONSTRAINTS == expected


def test_constraints_name_writable_string_fields():
    for endpoint, fields in CONSTRAINTS.items():
        meta = ENDPOINTS[endpoint]
        for name in fields:
            assert name in meta["writable"], (endpoint, name)
            # "any": a ``oneOf`` of a pattern and the blank string (cable color, DNS name)
            assert meta["fields"][name][:2] in (("scalar", "string"), ("scalar", "any")), (
                endpoint,
                name,
            )


# -- lengths --------------------------------------------------------------------------------------
def test_device_serial_longer_than_50_is_refused(store):
    device = _first(store, "dcim.devices")
    assert _errors(store.update, "dcim.devices", device["id"], {"serial": "x" * 80}) == {
        "serial": [MAX_50]
    }
    assert store.update("dcim.devices", device["id"], {"serial": "x" * 50})["serial"] == "x" * 50


def test_site_name_longer_than_100_is_refused(store):
    site = _first(store, "dcim.sites")
    assert _errors(store.update, "dcim.sites", site["id"], {"name": "n" * 300}) == {
        "name": [MAX_100]
    }
    assert _errors(store.create, "dcim.sites", {"name": "n" * 101, "slug": "long-site"}) == {
        "name": [MAX_100]
    }


def test_length_is_counted_after_trimming_and_the_value_stored_trimmed(store):
    device = _first(store, "dcim.devices")
    padded = "  " + "x" * 50 + "\n"
    assert store.update("dcim.devices", device["id"], {"serial": padded})["serial"] == "x" * 50
    role = store.create("dcim.device-roles", _role(name="  Padded role "))
    assert role["name"] == "Padded role"


def test_blank_required_strings_are_refused_but_blank_optional_ones_kept(store):
    assert _errors(store.create, "dcim.device-roles", _role(name="", slug="  ")) == {
        "name": [BLANK],
        "slug": [BLANK],
    }
    device = _first(store, "dcim.devices")
    assert store.update("dcim.devices", device["id"], {"serial": "   "})["serial"] == ""


def test_put_checks_every_given_field(store):
    tenant = store.create("tenancy.tenants", {"name": "Constraint tenant", "slug": "ct"})
    body = _errors(
        store.update,
        "tenancy.tenants",
        tenant["id"],
        {"name": "t" * 101, "slug": "ct", "description": "d" * 201},
        partial=False,
    )
    assert body == {
        "name": [MAX_100],
        "description": ["Ensure this field has no more than 200 characters."],
    }


# -- patterns ------------------------------------------------------------------------------------
def test_non_ascii_slug_is_refused(store):
    site = _first(store, "dcim.sites")
    assert _errors(store.update, "dcim.sites", site["id"], {"slug": "café"}) == {"slug": [SLUG]}
    assert _errors(store.create, "dcim.manufacturers", {"name": "Acme", "slug": "ac me"}) == {
        "slug": [SLUG]
    }


def test_overlong_invalid_slug_gets_both_messages_length_first(store):
    body = _errors(store.create, "dcim.manufacturers", {"name": "Acme", "slug": "é" * 101})
    assert body == {"slug": [MAX_100, SLUG]}


def test_tag_slugs_are_unicode_slugs(store):
    assert store.create("extras.tags", {"name": "Café", "slug": "café"})["slug"] == "café"
    assert _errors(store.create, "extras.tags", {"name": "Bad", "slug": "a b"}) == {
        "slug": [
            "Enter a valid “slug” consisting of Unicode letters, numbers, underscores, or hyphens.",
            'Enter a valid "slug" consisting of Unicode letters, numbers, underscores, or hyphens.',
        ]
    }


def test_color_must_be_six_lowercase_hex_digits(store):
    assert _errors(store.create, "dcim.device-roles", _role(color="zzzzzz")) == {"color": [COLOR]}
    assert _errors(store.create, "extras.tags", {"name": "T", "slug": "t", "color": "ABCDEF"}) == {
        "color": [COLOR]
    }
    role = _first(store, "dcim.device-roles")
    assert _errors(store.update, "dcim.device-roles", role["id"], {"color": "abcdef0"}) == {
        "color": [COLOR, "Ensure this field has no more than 6 characters."]
    }


def test_cable_color_may_be_blank_but_not_invalid(store):
    cable = _first(store, "dcim.cables")
    assert _errors(store.update, "dcim.cables", cable["id"], {"color": "red"}) == {"color": [COLOR]}
    assert store.update("dcim.cables", cable["id"], {"color": "ff0000"})["color"] == "ff0000"
    assert store.update("dcim.cables", cable["id"], {"color": ""})["color"] == ""


def test_ip_address_dns_name_pattern(store):
    address = _first(store, "ipam.ip-addresses")
    assert _errors(store.update, "ipam.ip-addresses", address["id"], {"dns_name": "bad name"}) == {
        "dns_name": [
            "Only alphanumeric characters, asterisks, hyphens, periods, and underscores are "
            "allowed in DNS names"
        ]
    }
    ok = store.update("ipam.ip-addresses", address["id"], {"dns_name": "*.lab1.example."})
    assert ok["dns_name"] == "*.lab1.example."


def test_custom_field_names(store):
    def create(name):
        return store.create(
            "extras.custom-fields", {"name": name, "type": "text", "object_types": ["dcim.device"]}
        )

    assert _errors(create, "bad-name") == {
        "name": ["Only alphanumeric characters and underscores are allowed."]
    }
    assert _errors(create, "bad__name") == {
        "name": ["Double underscores are not permitted in custom field names."]
    }
    # NetBox's validator is case-insensitive (re.IGNORECASE), unlike the schema's pattern
    assert create("Mixed_Case_1")["name"] == "Mixed_Case_1"


# -- time zones ----------------------------------------------------------------------------------
def test_site_time_zone_must_be_an_iana_zone(store):
    site = _first(store, "dcim.sites")
    assert _errors(store.update, "dcim.sites", site["id"], {"time_zone": "Mars/Base"}) == {
        "time_zone": [TIME_ZONE]
    }
    assert _errors(store.update, "dcim.sites", site["id"], {"time_zone": ""}) == {
        "time_zone": [BLANK]
    }
    assert _errors(
        store.create, "dcim.sites", {"name": "Tz", "slug": "tz", "time_zone": "Europe/Narnia"}
    ) == {"time_zone": [TIME_ZONE]}
    ok = store.update("dcim.sites", site["id"], {"time_zone": "Europe/Berlin"})
    assert ok["time_zone"] == "Europe/Berlin"
    assert store.update("dcim.sites", site["id"], {"time_zone": None})["time_zone"] is None


# -- bulk writes ---------------------------------------------------------------------------------
def test_bulk_create_reports_per_item_and_creates_nothing(store):
    before = len(store.query("dcim.device-roles", []))
    body = _errors(
        store.create,
        "dcim.device-roles",
        [_role(), _role(name="Second role", slug="second-role", color="zzzzzz")],
    )
    assert body == [{}, {"color": [COLOR]}]
    assert len(store.query("dcim.device-roles", [])) == before


def test_bulk_update_reports_per_item_and_changes_nothing(store):
    first, second = store.query("dcim.devices", [])[:2]
    body = _errors(
        store.bulk_update,
        "dcim.devices",
        [{"id": first["id"], "serial": "ok-serial"}, {"id": second["id"], "serial": "s" * 51}],
    )
    assert body == [{}, {"serial": [MAX_50]}]
    assert store.get("dcim.devices", first["id"])["serial"] == first["serial"]


# -- over HTTP (the stand-in) --------------------------------------------------------------------
def test_standin_answers_400_with_the_drf_body():
    with NetBoxStandin(snapshot="lab1") as nb:
        with requests.Session() as http:
            http.headers["Authorization"] = f"Token {nb.token_v1}"
            url = f"{nb.url}/api/dcim/sites/"
            site = http.get(url, timeout=10).json()["results"][0]
            answer = http.patch(f"{url}{site['id']}/", json={"time_zone": "Mars/Base"}, timeout=10)
            assert answer.status_code == 400
            assert answer.json() == {"time_zone": [TIME_ZONE]}
            answer = http.post(
                url, json=[{"name": "S1", "slug": "s1"}, {"name": "S2", "slug": "s 2"}], timeout=10
            )
            assert answer.status_code == 400
            assert answer.json() == [{}, {"slug": [SLUG]}]
