"""Unit tests: how the client sets up pynetbox and its session (no request is sent)."""

import pytest
import requests
from pynetbox.core.query import Request

from salt_ext.utils.netbox import NetBoxClient, NetBoxConfigError, NetBoxError
from salt_ext.utils.netbox import client as client_module
from salt_ext.utils.netbox import load_config
from salt_ext.utils.netbox.client import RETRY_METHODS, RETRY_STATUSES

V1 = "0123456789abcdef0123456789abcdef01234567"
V2 = "nbt_AbCdEf123456.s3cr3tS3cr3tS3cr3t"


def _client(**netbox):
    cfg = {"url": "http://127.0.0.1:9", "token": V2}
    cfg.update(netbox)
    return NetBoxClient(load_config({"netbox": cfg}))


def test_pynetbox_78_would_send_bearer_for_v2_tokens():
    """pynetbox 7.8 itself detects v2 tokens; we still set the header on the session only so that
    an explicit keyword in the configuration is honoured by every request alike."""
    headers = {}
    Request("http://x/api/", None, token=V2)._add_auth_header(headers)
    assert headers["authorization"] == f"Bearer {V2}"


@pytest.mark.parametrize(
    "token,header", [(V2, f"Bearer {V2}"), (V1, f"Token {V1}"), (f"Bearer {V1}", f"Bearer {V1}")]
)
def test_session_carries_the_header_and_pynetbox_no_token(token, header):
    client = _client(token=token)
    assert client.session.headers["Authorization"] == header
    assert client.api.http_session is client.session
    assert client.api.token is None  # pynetbox adds no header of its own
    assert client.api.base_url == "http://127.0.0.1:9/api"


def test_retry_policy():
    client = _client(retries=4, backoff=0.25, retry_after_max=7)
    retry = client.session.get_adapter("http://127.0.0.1:9/").max_retries
    assert (
        set(retry.allowed_methods) == RETRY_METHODS == {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}
    )
    assert "POST" not in retry.allowed_methods and "PATCH" not in retry.allowed_methods
    assert set(retry.status_forcelist) == RETRY_STATUSES == {429, 500, 502, 503, 504}
    assert retry.total == 4
    assert retry.backoff_factor == 0.25
    assert retry.respect_retry_after_header is True
    assert retry.retry_after_max == 7
    assert retry.counter is client.counter


def test_session_defaults():
    client = _client(timeout=[3, 20], verify=False)
    assert client.session.default_timeout == (3.0, 20.0)
    assert client.session.verify is False
    assert client.session.trust_env is False
    assert client.counter.total == 0


def test_endpoint_urls():
    client = _client()
    assert client.endpoint_url("dcim.devices") == "http://127.0.0.1:9/api/dcim/devices/"
    assert client.endpoint_url("ipam.prefixes", 7, "available-ips") == (
        "http://127.0.0.1:9/api/ipam/prefixes/7/available-ips/"
    )
    for bad in (0.5, "12a", True, -1):
        with pytest.raises(NetBoxConfigError, match="positive integer"):
            client.endpoint_url("dcim.devices", bad)
    # an id is required where an object is meant (never the list URL by accident)
    for call in (
        lambda: client.get("dcim.devices", None),
        lambda: client.update("dcim.devices", None, {}),
        lambda: client.delete("dcim.devices", None),
        lambda: client.available_ips(None),
    ):
        with pytest.raises(NetBoxConfigError, match="positive integer"):
            call()
    assert client.counter.total == 0


def test_next_links_are_rebased_on_the_configured_url():
    client = _client(url="https://nb.example.net")
    link = "http://10.0.0.5:8080/api/dcim/devices/?limit=50&offset=50"
    assert client._rebase(link) == (  # pylint: disable=protected-access
        "https://nb.example.net/api/dcim/devices/?limit=50&offset=50"
    )


def test_snapshot_config_is_refused_by_the_client(tmp_path):
    path = tmp_path / "s.json"
    path.write_text("{}")
    with pytest.raises(NetBoxConfigError, match="SnapshotSource"):
        NetBoxClient(load_config({"netbox": {"snapshot": str(path)}}))


class _Answer(requests.adapters.BaseAdapter):
    """A transport that answers every request with one canned response (no network)."""

    def __init__(self, status, body, content_type, headers=None):
        super().__init__()
        self.answer = (status, body, content_type, headers or {})

    def send(self, request, **kwargs):  # pylint: disable=arguments-differ
        status, body, content_type, headers = self.answer
        response = requests.Response()
        response.status_code = status
        response._content = body.encode()  # pylint: disable=protected-access
        response.headers.update({"Content-Type": content_type, **headers})
        response.url = request.url
        response.request = request
        return response

    def close(self):
        pass


def _answering(status, body, content_type, headers=None):
    client = _client()
    client.session.mount("http://", _Answer(status, body, content_type, headers))
    return client


@pytest.mark.parametrize(
    "body,content_type",
    [
        ("<html><body>It works!</body></html>", "text/html"),
        ('{"detail": "a JSON API, but not NetBox"}', "application/json"),
    ],
)
def test_status_of_something_that_is_not_netbox_is_an_error(body, content_type):
    """A 200 that does not come from NetBox is never reported as a reachable NetBox."""
    client = _answering(200, body, content_type)
    with pytest.raises(NetBoxError, match="is netbox:url the NetBox root URL") as exc:
        client.status()
    assert "netbox-version" in str(exc.value)


def test_status_reads_version_and_api_version():
    client = _answering(
        200,
        '{"netbox-version": "4.6.8", "plugins": {}}',
        "application/json",
        {"API-Version": "4.6"},
    )
    status = client.status()
    assert (status["netbox_version"], status["api_version"]) == ("4.6.8", "4.6")
    assert status["reachable"] is True and status["kind"] == "api"
    assert client.counter.count("status", "GET") == 1


class _RedirectPosts(requests.adapters.BaseAdapter):
    """A web server redirecting http to https: every request gets a 301; a GET of the list
    (what a client following the redirect would send) answers a page of objects."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def send(self, request, **kwargs):  # pylint: disable=arguments-differ
        self.seen.append(request.method)
        response = requests.Response()
        response.request = request
        response.url = request.url
        if request.url.startswith("http://"):
            response.status_code = 301
            response.headers["Location"] = request.url.replace("http://", "https://", 1)
            response._content = b""  # pylint: disable=protected-access
        else:
            response.status_code = 200
            response.headers["Content-Type"] = "application/json"
            response._content = (  # pylint: disable=protected-access
                b'{"count": 1, "next": null, "previous": null, "results": [{"id": 1}]}'
            )
        return response

    def close(self):
        pass


def test_redirects_are_never_followed():
    """A POST answered by a redirect must fail: following it would send a GET and report the
    list page as the created object (and could carry the token elsewhere)."""
    client = _client()
    adapter = _RedirectPosts()
    client.session.mount("http://", adapter)
    client.session.mount("https://", adapter)
    with pytest.raises(NetBoxError, match="redirect") as exc:
        client.create("extras.tags", {"name": "x", "slug": "x"})
    assert "https://127.0.0.1:9/api/extras/tags/" in str(exc.value)
    assert "netbox:url" in str(exc.value)
    assert adapter.seen == ["POST"]
    with pytest.raises(NetBoxError, match="redirect"):
        client.list("dcim.devices")
    assert adapter.seen == ["POST", "GET"]


def test_a_forked_child_gets_its_own_session(monkeypatch):
    """Salt runs jobs in forked processes: a child never reuses the parent's pooled sockets."""
    client = _client()
    parent = client.session
    api = client.api
    assert client.session is parent and client.api is api
    monkeypatch.setattr(client_module.os, "getpid", lambda: -1)
    child = client.session
    assert child is not parent
    assert client.api.http_session is child
    assert child.headers["Authorization"] == parent.headers["Authorization"]
    assert client.session is child
