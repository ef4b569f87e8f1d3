"""
NetBoxClient behaviour against the NetBox stand-in: retries only for idempotent methods,
Retry-After, timeouts, NetBox's error messages, token handling, pagination and URL batching.
"""

import datetime
import ipaddress
import logging
import ssl
import threading
from urllib.parse import urlencode

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from urllib3.exceptions import InsecureRequestWarning

from salt_ext.utils.netbox import (
    NetBoxAmbiguous,
    NetBoxClient,
    NetBoxConfigError,
    NetBoxInvalidRequest,
    NetBoxNotFound,
    NetBoxPermissionDenied,
    NetBoxPreconditionFailed,
    NetBoxTimeout,
    NetBoxUnavailable,
    get_source,
    load_config,
)
from tests.support.netbox_standin import NetBoxStandin

WRONG_V1 = "f" * 40
WRONG_V2 = "nbt_WrongKey1234.WrongSecretWrongSecretWrongSecret12"


@pytest.fixture(scope="module")
def standin():
    nb = NetBoxStandin(snapshot="lab1")
    nb.start()
    yield nb
    nb.stop()


@pytest.fixture
def nb(standin):
    standin.faults.clear()
    standin.settle()
    standin.reset_requests()
    yield standin
    standin.faults.clear()


def _client(nb, token=None, **netbox):
    cfg = {"url": nb.url, "token": token or nb.token_v1, "retries": 2, "backoff": 0}
    cfg.update(netbox)
    return NetBoxClient(load_config({"netbox": cfg}))


def test_nothing_connects_at_construction(nb):
    client = _client(nb)
    assert nb.count() == 0
    assert client.counter.total == 0
    assert client.status()["netbox_version"] == "4.6.8"
    assert nb.count() == 1


def test_status_reports_version_and_latency(nb):
    status = _client(nb).status()
    assert status["netbox_version"] == "4.6.8"
    assert status["api_version"] == "4.6"
    assert status["reachable"] is True
    assert status["kind"] == "api"
    assert status["source"] == nb.url
    assert isinstance(status["latency_ms"], float) and status["latency_ms"] >= 0


def test_get_retried_after_one_503(nb):
    nb.faults.add("status", status=503, count=1, path_prefix="/api/dcim/devices/")
    client = _client(nb)
    devices = client.list("dcim.devices", {"site": "lab1"})
    assert len(devices) == 24
    assert nb.count(method="GET", path_prefix="/api/dcim/devices/") == 2
    assert [r["status"] for r in nb.requests] == [503, 200]
    assert client.counter.retries == 1
    assert client.counter.total == 2


def test_get_fails_after_retries_exhausted(nb):
    nb.faults.add("status", status=503, path_prefix="/api/dcim/sites/")
    client = _client(nb, retries=2)
    with pytest.raises(NetBoxUnavailable) as exc:
        client.list("dcim.sites")
    assert exc.value.status == 503
    assert "Injected failure (503)" in str(exc.value)
    assert nb.count(path_prefix="/api/dcim/sites/") == 3  # first try + 2 retries


@pytest.mark.parametrize(
    "kind,fault,status",
    [("status", {"status": 503}, 503), ("ratelimit", {"retry_after": 0}, 429)],
    ids=["503", "429"],
)
def test_post_is_never_retried(nb, kind, fault, status):
    nb.faults.add(kind, count=1, methods=["POST"], **fault)
    client = _client(nb)
    with pytest.raises(NetBoxUnavailable) as exc:
        client.create("extras.tags", {"name": "never-retried", "slug": "never-retried"})
    assert exc.value.status == status
    assert nb.count(method="POST") == 1
    assert client.counter.retries == 0
    assert client.find("extras.tags", slug="never-retried") is None


def test_patch_is_never_retried(nb):
    client = _client(nb)
    site = client.find("dcim.sites", slug="lab1")
    nb.reset_requests()
    nb.faults.add("status", status=502, count=1, methods=["PATCH"])
    with pytest.raises(NetBoxUnavailable):
        client.update("dcim.sites", site["id"], {"description": "x"})
    assert nb.count(method="PATCH") == 1


def test_dropped_connection_retried_for_get_not_for_post(nb):
    client = _client(nb)
    nb.faults.add("drop", count=1, methods=["GET"])
    assert client.find("dcim.sites", slug="lab1")["slug"] == "lab1"
    assert nb.count(method="GET") == 2
    nb.reset_requests()
    nb.faults.add("drop", count=1, methods=["POST"])
    with pytest.raises(NetBoxUnavailable):
        client.create("extras.tags", {"name": "dropped", "slug": "dropped"})
    assert nb.count(method="POST") == 1


def test_429_waits_for_retry_after(nb):
    nb.faults.add("ratelimit", retry_after=1, count=1, path_prefix="/api/dcim/racks/")
    client = _client(nb)
    racks = client.list("dcim.racks", {"site": "lab1"})
    assert len(racks) == 3
    seen = [r for r in nb.requests if r["path"].startswith("/api/dcim/racks/")]
    assert [r["status"] for r in seen] == [429, 200]
    # server-side arrival times: the retry came only after Retry-After
    assert seen[1]["received_at"] - seen[0]["answered_at"] >= 1.0
    assert client.counter.retries == 1


def test_retry_after_is_capped(nb):
    nb.faults.add("ratelimit", retry_after=120, count=1, path_prefix="/api/dcim/racks/")
    client = _client(nb, retry_after_max=1)
    assert len(client.list("dcim.racks", {"site": "lab1"})) == 3
    seen = [r for r in nb.requests if r["path"].startswith("/api/dcim/racks/")]
    assert [r["status"] for r in seen] == [429, 200]
    # capped at 1 s, not the 120 s asked
    assert 1.0 <= seen[1]["received_at"] - seen[0]["answered_at"] < 60


def test_429_that_does_not_stop_is_unavailable(nb):
    """Still rate limited once the retries are used up: NetBox cannot take the request now."""
    nb.faults.add("ratelimit", retry_after=0, path_prefix="/api/dcim/racks/")
    client = _client(nb, retries=2)
    with pytest.raises(NetBoxUnavailable) as exc:
        client.list("dcim.racks", {"site": "lab1"})
    assert exc.value.status == 429
    assert nb.count(path_prefix="/api/dcim/racks/") == 3  # first try + 2 retries
    assert client.counter.retries == 2


def test_hung_server_raises_timeout_without_retrying(nb):
    nb.faults.add("hang", seconds=1.5, count=1, path_prefix="/api/dcim/devices/")
    client = _client(nb, timeout=[2, 0.3], retries=3)
    with pytest.raises(NetBoxTimeout) as exc:
        client.list("dcim.devices")
    assert "read timeout" in str(exc.value)
    assert isinstance(exc.value, NetBoxUnavailable)
    assert client.counter.total == 1  # a read timeout is not retried
    assert client.counter.retries == 0
    # logged on arrival: the server saw one request only, still unanswered
    hung = [r for r in nb.requests if r["path"].startswith("/api/dcim/devices/")]
    assert len(hung) == 1 and hung[0]["status"] is None
    # once the hang is over its client is gone: it is never answered
    nb.settle()
    assert hung[0]["status"] is None and hung[0]["answered_at"] is None
    assert hung[0]["client_gone"] is True


def test_netbox_down_raises_unavailable(nb):
    client = _client(nb, retries=1)
    nb.faults.down()
    try:
        with pytest.raises(NetBoxUnavailable) as exc:
            client.status()
    finally:
        nb.faults.up()
    assert nb.url in str(exc.value)
    assert not isinstance(exc.value, NetBoxTimeout)
    assert client.counter.retries == 1
    assert client.status()["reachable"] is True


def test_400_surfaces_netbox_field_message(nb):
    client = _client(nb)
    with pytest.raises(NetBoxInvalidRequest) as exc:
        client.create("dcim.devices", {"name": "srv-r2-11"})
    message = str(exc.value)
    assert "site: This field is required." in message
    assert "role: This field is required." in message
    assert exc.value.field_errors["device_type"] == ["This field is required."]
    assert exc.value.status == 400
    assert nb.count(method="POST") == 1


def test_404_is_not_found(nb):
    client = _client(nb)
    with pytest.raises(NetBoxNotFound) as exc:
        client.get("dcim.devices", 999999)
    assert "No Device matches the given query." in str(exc.value)


def test_stale_if_match_is_precondition_failed(nb):
    client = _client(nb)
    site = client.find("dcim.sites", slug="lab1")
    with pytest.raises(NetBoxPreconditionFailed):
        client.update(
            "dcim.sites", site["id"], {"description": "x"}, if_match='W/"2000-01-01T00:00:00+00:00"'
        )
    assert client.get("dcim.sites", site["id"])["description"] == site["description"]


@pytest.mark.parametrize("wrong", [WRONG_V1, WRONG_V2], ids=["v1", "v2"])
def test_wrong_token_is_permission_denied_and_never_shown(nb, caplog, wrong):
    caplog.set_level(logging.DEBUG)
    client = _client(nb, token=wrong)
    with pytest.raises(NetBoxPermissionDenied) as exc:
        client.list("dcim.devices")
    err = exc.value
    expected = "Invalid v2 token" if wrong.startswith("nbt_") else "Invalid v1 token"
    assert expected in str(err)
    secret = wrong.split(".")[-1]
    for text in (str(err), repr(err), str(err.body), str(err.args), caplog.text, repr(client)):
        assert wrong not in text
        assert secret not in text
    assert nb.count() == 1  # 403 is not retried


@pytest.mark.parametrize("form", ["v1", "v2"])
def test_both_token_forms_work(nb, form):
    token = nb.token_v1 if form == "v1" else nb.token_v2
    client = _client(nb, token=token)
    expected = "Token " if form == "v1" else "Bearer nbt_"
    assert client.session.headers["Authorization"].startswith(expected)
    device = client.find("dcim.devices", name="srv-r1-01", site="lab1")
    assert device["name"] == "srv-r1-01"
    # pynetbox shares the session (auth, timeouts, retries, counting)
    assert client.api.status()["netbox-version"] == "4.6.8"
    assert client.counter.count("status") == 1


def test_pagination_follows_next(nb):
    client = _client(nb)
    everything = client.list("dcim.interfaces", {"site": "lab1"})
    nb.reset_requests()
    client.counter.reset()
    paged = client.list("dcim.interfaces", {"site": "lab1"}, page_size=100)
    assert [i["id"] for i in paged] == [i["id"] for i in everything]
    assert len(paged) == 456
    assert client.counter.pages == 5
    assert nb.count(path_prefix="/api/dcim/interfaces/") == 5


def _delete_between_pages(store, endpoint, victims):
    """Make the store delete one of ``victims`` whenever a page after the first is asked for."""
    original = store.query_ids

    def query_ids(ep, params):
        if ep == endpoint and victims and any(k == "offset" for k, _ in params):
            store.delete(endpoint, victims.pop(0))
        return original(ep, params)

    store.query_ids = query_ids
    return original


def test_listing_changed_between_pages_is_read_again():
    """
    An object deleted in NetBox while a listing is paged by offset shifts the rest one place up:
    without care, the first object of the next page is never seen. The client notices the count
    change and reads the listing again, so nothing is lost and nothing is returned twice.
    """
    with NetBoxStandin(snapshot="lab1") as standin:
        client = _client(standin)
        before = client.list("dcim.interfaces", {"site": "lab1"})
        victim = before[0]["id"]
        skipped = before[100]["id"]  # the first object of page 2 after the shift
        original = _delete_between_pages(standin.store, "dcim.interfaces", [victim])
        try:
            standin.reset_requests()
            paged = client.list("dcim.interfaces", {"site": "lab1"}, page_size=100)
        finally:
            standin.store.query_ids = original
        ids = [i["id"] for i in paged]
        assert skipped in ids and victim not in ids
        assert len(ids) == len(set(ids)) == len(before) - 1
        assert ids == [i["id"] for i in before if i["id"] != victim]  # NetBox's order kept
        # 2 pages of the first pass (count changed on page 2), then 5 pages again
        assert standin.count(path_prefix="/api/dcim/interfaces/") == 7


def test_listing_that_keeps_changing_is_unavailable():
    """A bulk change under way in NetBox for every attempt: a typed error, never a partial list."""
    with NetBoxStandin(snapshot="lab1") as standin:
        client = _client(standin)
        before = client.list("dcim.interfaces", {"site": "lab1"})
        victims = [i["id"] for i in before[:10]]
        original = _delete_between_pages(standin.store, "dcim.interfaces", victims)
        try:
            with pytest.raises(NetBoxUnavailable, match="kept changing"):
                client.list("dcim.interfaces", {"site": "lab1"}, page_size=100)
        finally:
            standin.store.query_ids = original


def test_list_by_keeps_urls_short(nb):
    client = _client(nb)
    interfaces = client.list("dcim.interfaces", {"site": "lab1"}, fields=["id"])
    ids = [i["id"] for i in interfaces] + list(range(100000, 100700))
    nb.reset_requests()
    found = client.list_by("dcim.interfaces", "id", ids, brief=True)
    assert sorted(i["id"] for i in found) == sorted(i["id"] for i in interfaces)
    requests = nb.requests
    assert len(requests) > 1
    for req in requests:
        url = f"{nb.url}{req['path']}?{urlencode(req['query'])}"
        assert len(url) < 4000


def test_brief_fields_exclude(nb):
    client = _client(nb)
    brief = client.list("dcim.devices", {"name": "srv-r1-01"}, brief=True)
    assert set(brief[0]) == {"id", "url", "display", "name", "description"}
    fields = client.list("dcim.devices", {"name": "srv-r1-01"}, fields=["id", "name", "status"])
    assert set(fields[0]) == {"id", "name", "status"}
    excluded = client.list("dcim.devices", {"name": "srv-r1-01"}, exclude=["config_context"])
    assert "config_context" not in excluded[0] and "serial" in excluded[0]


def test_find_ambiguous_and_unknown_keys(nb):
    client = _client(nb)
    device = client.find("dcim.devices", name="srv-r2-01", site="lab1")
    clone = {
        "name": "srv-r2-01",
        "device_type": device["device_type"]["id"],
        "role": device["role"]["id"],
        "site": device["site"]["id"],
        "tenant": None,
        "status": "planned",
    }
    created = client.create("dcim.devices", clone)
    try:
        with pytest.raises(NetBoxAmbiguous) as exc:
            client.find("dcim.devices", name="srv-r2-01", site="lab1")
        assert {m["id"] for m in exc.value.matches} == {device["id"], created["id"]}
        # the tenant (null) makes it unique again
        assert client.find("dcim.devices", name="srv-r2-01", site="lab1", tenant=None)["id"] == (
            created["id"]
        )
    finally:
        client.delete("dcim.devices", created["id"])
    nb.reset_requests()
    with pytest.raises(NetBoxConfigError, match="allowed keys"):
        client.find("dcim.devices", name="srv-r2-01", sitename="lab1")
    assert nb.count() == 0  # refused before any request


def test_crud_round_trip(nb):
    client = _client(nb)
    created = client.create(
        "extras.tags", [{"name": "t-a", "slug": "t-a"}, {"name": "t-b", "slug": "t-b"}]
    )
    assert [t["slug"] for t in created] == ["t-a", "t-b"]
    updated = client.bulk_update(
        "extras.tags", [{"id": t["id"], "description": "bulk"} for t in created]
    )
    assert {t["description"] for t in updated} == {"bulk"}
    one = client.update("extras.tags", created[0]["id"], {"description": "one"})
    assert one["description"] == "one"
    for tag in created:
        client.delete("extras.tags", tag["id"])
    with pytest.raises(NetBoxNotFound):
        client.get("extras.tags", created[0]["id"])
    with pytest.raises(NetBoxConfigError, match="have no 'id'"):
        client.bulk_update("extras.tags", [{"description": "no id"}])


def test_available_and_allocate_ip(nb):
    client = _client(nb)
    prefix = client.find("ipam.prefixes", prefix="10.10.2.0/24", vrf_id=None)
    free = client.available_ips(prefix["id"], count=2)
    assert len(free) == 2
    ip = client.allocate_ip(prefix["id"], {"status": "reserved", "description": "test"})
    try:
        assert ip["address"] == free[0]["address"]
        assert client.available_ips(prefix["id"], count=1)[0]["address"] != ip["address"]
    finally:
        client.delete("ipam.ip-addresses", ip["id"])


def test_counter_is_thread_safe_with_concurrent_requests(nb):
    client = _client(nb)
    errors = []

    def work():
        try:
            for _ in range(5):
                client.get("dcim.sites", client_site_id)
        except Exception as err:  # pylint: disable=broad-except
            errors.append(err)

    client_site_id = client.find("dcim.sites", slug="lab1")["id"]
    client.counter.reset()
    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert client.counter.count("dcim.sites", "GET") == 20


def test_get_source_caches_per_config_without_token(nb):
    context = {}
    opts = {"netbox": {"url": nb.url, "token": nb.token_v2}}
    first = get_source(opts, context)
    assert get_source(opts, context) is first
    assert isinstance(first, NetBoxClient)
    other = get_source({"netbox": {"url": nb.url, "token": nb.token_v1}}, context)
    assert other is not first
    assert nb.token_v2 not in repr(context)
    assert nb.token_v1 not in repr(context)
    assert nb.count() == 0


# -- TLS ----------------------------------------------------------------------------------------


def _certificates(directory):
    """A CA and a server certificate for 127.0.0.1 signed by it (PEM files)."""
    now = datetime.datetime.now(datetime.timezone.utc)

    def _cert(subject, issuer, public_key, signing_key, *, ca, san=None):
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return builder.sign(signing_key, hashes.SHA256())

    def _name(common_name):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert(_name("test CA"), _name("test CA"), ca_key.public_key(), ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    san = [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = _cert(_name("127.0.0.1"), ca.subject, key.public_key(), ca_key, ca=False, san=san)
    paths = {name: directory / f"{name}.pem" for name in ("ca", "cert", "key")}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return {name: str(path) for name, path in paths.items()}


@pytest.fixture(scope="module")
def tls_standin(tmp_path_factory):
    """The stand-in behind TLS with a certificate signed by a private CA."""
    pems = _certificates(tmp_path_factory.mktemp("tls"))
    nb = NetBoxStandin(snapshot=None)
    nb.start()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pems["cert"], pems["key"])
    with nb._bind_lock:  # pylint: disable=protected-access
        server = nb._server  # pylint: disable=protected-access
        server.socket = context.wrap_socket(server.socket, server_side=True)
    yield nb, f"https://127.0.0.1:{nb.port}", pems
    nb.stop()


def test_tls_with_ca_bundle(tls_standin):
    nb, url, pems = tls_standin
    client = _client(nb, url=url, ca_bundle=pems["ca"])
    assert client.status()["source"] == url
    assert client.list("dcim.sites") == []


def test_tls_verification_failure_says_how_to_fix(tls_standin):
    nb, url, _ = tls_standin
    client = _client(nb, url=url)
    with pytest.raises(NetBoxUnavailable) as exc:
        client.status()
    assert "netbox:ca_bundle" in str(exc.value)
    assert "CERTIFICATE_VERIFY_FAILED" in str(exc.value)
    assert client.counter.retries == 0
    unverified = _client(nb, url=url, verify=False)
    with pytest.warns(InsecureRequestWarning):
        assert unverified.status()["reachable"] is True
