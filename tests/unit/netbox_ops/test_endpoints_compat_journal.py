"""Unit tests: endpoint names, content types, Salt 3007 compatibility, journal comments."""

import json
import os

import pytest
import salt.payload
from salt.exceptions import SaltInvocationError

from salt_ext.utils.netbox_ops import compat, endpoints, journal
from tests.support.saltenv import SHARED_FIXTURES, SHARED_MISSING_REASON


@pytest.mark.parametrize(
    "given,expected",
    [
        ("dcim.devices", "dcim.devices"),
        ("dcim/devices", "dcim.devices"),
        ("/api/dcim/devices/", "dcim.devices"),
        ("ipam.ip_addresses", "ipam.ip-addresses"),
        ("IPAM.Prefixes", "ipam.prefixes"),
    ],
)
def test_check_endpoint(given, expected):
    assert endpoints.check_endpoint(given) == expected


@pytest.mark.parametrize("bad", ["devices", "dcim.devices.x", "", None, "dcim.dev ices"])
def test_check_endpoint_rejects(bad):
    with pytest.raises(SaltInvocationError, match="endpoint"):
        endpoints.check_endpoint(bad)


@pytest.mark.parametrize(
    "endpoint,ctype",
    [
        ("dcim.devices", "dcim.device"),
        ("ipam.ip-addresses", "ipam.ipaddress"),
        ("dcim.mac-addresses", "dcim.macaddress"),
        ("dcim.inventory-items", "dcim.inventoryitem"),
        ("extras.journal-entries", "extras.journalentry"),
        ("ipam.prefixes", "ipam.prefix"),
        ("dcim.power-feeds", "dcim.powerfeed"),
        ("wireless.wireless-lans", "wireless.wirelesslan"),
        ("dcim.modules", "dcim.module"),
    ],
)
def test_content_type_round_trip(endpoint, ctype):
    assert endpoints.content_type(endpoint) == ctype
    assert endpoints.endpoint_for_type(ctype) == endpoint


def test_endpoint_from_url_and_reference_target():
    assert endpoints.endpoint_from_url("http://x/api/dcim/sites/25/") == "dcim.sites"
    assert endpoints.endpoint_from_url("not a url") is None
    assert endpoints.reference_target("dcim.devices", "site") == "dcim.sites"
    assert endpoints.reference_target("dcim.interfaces", "tagged_vlans") == ["ipam.vlans"]
    assert endpoints.reference_target("dcim.devices", "tags") == ["extras.tags"]
    # an unknown field falls back to the URL of the current nested object
    current = {"id": 3, "url": "http://x/api/dcim/rack-roles/3/"}
    assert endpoints.reference_target("dcim.racks", "weird", current) == "dcim.rack-roles"
    assert endpoints.reference_target("dcim.devices", "serial", "ABC") is None


@pytest.fixture(scope="module")
def openapi():
    if SHARED_FIXTURES is None:
        pytest.skip(SHARED_MISSING_REASON)
    with open(SHARED_FIXTURES / "netbox" / "openapi-4.6.8.json", encoding="utf-8") as fh:
        return json.load(fh)


def test_reference_table_matches_netbox_schema(openapi):
    """Every endpoint and reference field we know exists in NetBox 4.6.8's API."""
    paths = openapi["paths"]
    for endpoint, fields in endpoints.REFERENCES.items():
        app, name = endpoint.split(".")
        path = f"/api/{app}/{name}/"
        assert path in paths, endpoint
        schema = paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        ref = schema["oneOf"][0]["$ref"].rsplit("/", 1)[1]
        props = openapi["components"]["schemas"][ref]["properties"]
        for field, ref_target in fields.items():
            assert field in props, f"{endpoint}.{field} is not writable in NetBox 4.6.8"
            target = ref_target[0] if isinstance(ref_target, list) else ref_target
            tapp, tname = target.split(".")
            assert f"/api/{tapp}/{tname}/" in paths, target


def test_removed_endpoints_really_are_gone(openapi):
    for endpoint in compat.REMOVED_ENDPOINTS:
        app, name = endpoint.split(".")
        assert f"/api/{app}/{name}/" not in openapi["paths"]


def test_compat_tables_are_disjoint_and_named():
    assert not set(compat.KEPT) & set(compat.REMOVED)
    assert "create_interface_connection" in compat.REMOVED
    msg = compat.removed_message("create_interface_connection")
    assert "cable" in msg and "netbox.create_interface_connection" in msg


def test_removed_endpoint_names_replacement():
    with pytest.raises(SaltInvocationError, match="dcim.cables"):
        compat.check_endpoint_exists("dcim.interface-connections")
    with pytest.raises(SaltInvocationError, match="netbox-secrets"):
        compat.check_endpoint_exists("secrets.user-keys")
    compat.check_endpoint_exists("dcim.devices")


def test_translate_fields():
    assert compat.translate_fields({"device_role": "x", "form_factor": 200}) == {
        "role": "x",
        "type": "lag",
    }
    assert compat.translate_fields({"form_factor": "1000base-t"}) == {"type": "1000base-t"}
    with pytest.raises(SaltInvocationError, match="type=<slug>"):
        compat.translate_fields({"form_factor": 1337})


def test_split_legacy_endpoint():
    assert compat.split_legacy_endpoint(("dcim", "devices", 5)) == ("dcim.devices", [5])
    assert compat.split_legacy_endpoint(("dcim.devices", 5)) == ("dcim.devices", [5])
    with pytest.raises(SaltInvocationError, match="app.endpoint"):
        compat.split_legacy_endpoint(("dcim",))
    with pytest.raises(SaltInvocationError, match="endpoint is required"):
        compat.split_legacy_endpoint(())


def test_slugify():
    assert compat.slugify("Edge Server (R1)") == "edge-server-r1"


def test_job_id_sources():
    assert journal.job_id({"jid": "1"}, {"__pub_jid": "2"}) == "2"
    assert journal.job_id({"jid": "1"}, {}, {"__jid__": "3"}) == "3"
    assert journal.job_id({"jid": "1"}) == "1"
    assert journal.job_id({}) is None


def test_comment_with_job_and_same_comment():
    text = journal.comment_with_job("racked", "20261129", who="srv-r1-01")
    assert text == "racked\n\n— Salt job 20261129 (srv-r1-01)"
    assert journal.same_comment(text, "racked")
    assert journal.same_comment("racked", "racked")
    assert not journal.same_comment("racked and cabled", "racked")
    with pytest.raises(SaltInvocationError):
        journal.comment_with_job("  ", "1")


def test_check_kind():
    assert journal.check_kind(None) == "info"
    assert journal.check_kind("Warning") == "warning"
    with pytest.raises(SaltInvocationError, match="kind must be one of"):
        journal.check_kind("loud")


def _proc_file(cachedir, jid, pid):
    proc = cachedir / "proc"
    proc.mkdir(exist_ok=True)
    (proc / jid).write_bytes(salt.payload.dumps({"jid": jid, "pid": pid, "fun": "state.apply"}))


def test_running_job_id_reads_this_process_job(tmp_path):
    opts = {"cachedir": str(tmp_path)}
    assert journal.running_job_id(opts) is None  # no proc dir at all
    _proc_file(tmp_path, "20261129000000000001", os.getpid() + 100000)
    assert journal.running_job_id(opts) is None  # another process's job
    _proc_file(tmp_path, "20261129000000000002", os.getpid())
    (tmp_path / "proc" / "garbage").write_bytes(b"\x00\x01")
    assert journal.running_job_id(opts) == "20261129000000000002"
    assert journal.job_id(opts) == "20261129000000000002"
    assert journal.job_id(dict(opts, jid="9")) == "9"
    _proc_file(tmp_path, "20261129000000000003", os.getpid())  # threaded minion: ambiguous
    assert journal.running_job_id(opts) is None
