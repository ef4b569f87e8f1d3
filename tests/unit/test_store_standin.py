"""
Tests of the NetBox stand-in HTTP server itself: auth, paging, brief/fields, writes over HTTP, the request
log and fault injection (status, rate limit, latency, hang, drop, down/up on the same port).
"""

import json
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

from tests.support.netbox_standin import REPO, NetBoxStandin


@pytest.fixture(scope="module")
def nb():
    with NetBoxStandin(snapshot="lab1") as standin:
        yield standin


@pytest.fixture
def http(nb):
    nb.faults.clear()
    nb.settle()
    nb.reset_requests()
    session = requests.Session()
    session.headers["Authorization"] = f"Token {nb.token_v1}"
    yield session
    session.close()
    nb.faults.clear()


def test_tokens_have_netbox_forms(nb):
    assert len(nb.token_v1) == 40 and int(nb.token_v1, 16) >= 0
    key, secret = nb.token_v2[4:].split(".")
    assert nb.token_v2.startswith("nbt_") and len(key) == 12 and len(secret) == 40


def test_auth_forms(nb):
    url = f"{nb.url}/api/dcim/devices/?limit=1"
    for header in (f"Token {nb.token_v1}", f"Bearer {nb.token_v1}", f"Bearer {nb.token_v2}"):
        assert requests.get(url, headers={"Authorization": header}, timeout=10).status_code == 200
    resp = requests.get(url, timeout=10)
    assert resp.status_code == 403
    assert resp.json() == {"detail": "Authentication credentials were not provided."}
    resp = requests.get(url, headers={"Authorization": "Token " + "1" * 40}, timeout=10)
    assert resp.json() == {"detail": "Invalid v1 token"}


def test_paging_and_request_log(nb, http):
    first = http.get(
        f"{nb.url}/api/dcim/devices/", params={"site": "lab1", "limit": 10}, timeout=10
    )
    body = first.json()
    assert body["count"] == 24 and len(body["results"]) == 10
    seen = [r["id"] for r in body["results"]]
    nxt = body["next"]
    while nxt:
        page = http.get(nxt, timeout=10).json()
        seen += [r["id"] for r in page["results"]]
        nxt = page["next"]
    assert len(seen) == len(set(seen)) == 24
    assert nb.count("GET", "/api/dcim/devices/") == 3
    assert nb.requests[0]["query"] == [("site", "lab1"), ("limit", "10")]


def test_brief_fields_and_exclude(nb, http):
    url = f"{nb.url}/api/dcim/devices/"
    brief = http.get(url, params={"name": "srv-r1-01", "brief": "true"}, timeout=10).json()
    assert set(brief["results"][0]) == {"id", "url", "display", "name", "description"}
    only = http.get(url, params={"name": "srv-r1-01", "fields": "id,name,bogus"}, timeout=10).json()
    assert only["results"] == [{"id": 110, "name": "srv-r1-01"}]
    full = http.get(
        url, params={"name": "srv-r1-01", "exclude": "config_context"}, timeout=10
    ).json()
    assert "config_context" not in full["results"][0] and "site" in full["results"][0]


def test_urls_follow_the_host_header(nb, http):
    body = http.get(
        f"{nb.url}/api/dcim/sites/25/", headers={"Host": "netbox.example.net:8080"}, timeout=10
    ).json()
    assert body["url"] == "http://netbox.example.net:8080/api/dcim/sites/25/"


def test_write_round_trip_with_etag(nb, http):
    url = f"{nb.url}/api/extras/tags/"
    created = http.post(url, json={"name": "http-tag", "slug": "http-tag"}, timeout=10)
    assert created.status_code == 201 and created.headers["ETag"].startswith('W/"')
    tag = created.json()
    stale = http.patch(
        f"{url}{tag['id']}/", json={"color": "00ff00"}, headers={"If-Match": 'W/"x"'}, timeout=10
    )
    assert stale.status_code == 412 and stale.headers["ETag"] == created.headers["ETag"]
    ok = http.patch(
        f"{url}{tag['id']}/",
        json={"color": "00ff00"},
        headers={"If-Match": created.headers["ETag"]},
        timeout=10,
    )
    assert ok.status_code == 200 and ok.json()["color"] == "00ff00"
    gone = http.delete(f"{url}{tag['id']}/", timeout=10)
    assert gone.status_code == 204 and gone.content == b""
    assert http.get(f"{url}{tag['id']}/", timeout=10).status_code == 404


def test_fault_status_counts_down(nb, http):
    nb.faults.add("status", status=503, count=2, path_prefix="/api/dcim/")
    url = f"{nb.url}/api/dcim/sites/25/"
    assert [http.get(url, timeout=10).status_code for _ in range(3)] == [503, 503, 200]
    assert http.get(f"{nb.url}/api/status/", timeout=10).status_code == 200


def test_fault_ratelimit_and_methods(nb, http):
    nb.faults.add("ratelimit", retry_after=7, methods=["POST"])
    assert http.get(f"{nb.url}/api/extras/tags/", timeout=10).status_code == 200
    resp = http.post(f"{nb.url}/api/extras/tags/", json={"name": "t", "slug": "t"}, timeout=10)
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "7"


def test_fault_hang_trips_a_client_timeout(nb, http):
    nb.faults.add("hang", seconds=2, count=1)
    with pytest.raises(requests.exceptions.ReadTimeout):
        http.get(f"{nb.url}/api/status/", timeout=0.3)


def test_requests_are_logged_on_arrival_and_status_filled_when_answered(nb, http):
    nb.faults.add("hang", seconds=1.0, count=1, path_prefix="/api/dcim/sites/")
    answers = []
    waiting = threading.Thread(
        target=lambda: answers.append(http.get(f"{nb.url}/api/dcim/sites/25/", timeout=10))
    )
    waiting.start()
    try:
        # the hanging request is in the log (and counted) before any answer
        deadline = time.monotonic() + 5
        while not nb.count("GET", "/api/dcim/sites/") and time.monotonic() < deadline:
            time.sleep(0.01)
        entry = nb.requests[0]
        assert entry["path"] == "/api/dcim/sites/25/" and entry["status"] is None
        assert isinstance(entry["received_at"], float) and entry["answered_at"] is None
    finally:
        waiting.join(10)
    # the client has its answer: the log has the status already
    assert answers[0].status_code == 200
    assert entry["status"] == 200 and entry["answered_at"] >= entry["received_at"]
    assert entry["client_gone"] is False


def test_hung_request_whose_client_has_gone_is_never_answered(nb, http):
    nb.faults.add("hang", seconds=1.0, count=1)
    with pytest.raises(requests.exceptions.ReadTimeout):
        http.get(f"{nb.url}/api/status/", timeout=0.2)
    log = nb.settle()
    assert [(r["path"], r["status"], r["client_gone"]) for r in log] == [
        ("/api/status/", None, True)
    ]
    assert log[0]["answered_at"] is None
    # the stand-in goes on answering new connections
    assert http.get(f"{nb.url}/api/status/", timeout=5).status_code == 200
    assert [r["status"] for r in nb.requests] == [None, 200]


def test_fault_drop_closes_without_answer(nb, http):
    nb.faults.add("drop", count=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        http.get(f"{nb.url}/api/status/", timeout=5)
    assert http.get(f"{nb.url}/api/status/", timeout=5).status_code == 200
    # logged on arrival; the dropped one never had a status
    assert [r["status"] for r in nb.settle()] == [None, 200]


def test_down_refuses_and_up_rebinds_same_port(nb, http):
    port = nb.port
    nb.faults.down()
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0
    nb.faults.up()
    assert nb.port == port
    assert requests.get(f"{nb.url}/api/status/", timeout=5, headers=http.headers).status_code == 200


def test_cli_prints_url_and_tokens():
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.netbox_standin",
            "--snapshot",
            "lab1",
            "--token-v1",
            "a" * 40,
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        info = json.loads(proc.stdout.readline())
        assert info["token_v1"] == "a" * 40 and info["token_v2"].startswith("nbt_")
        resp = requests.get(
            f"{info['url']}/api/dcim/devices/",
            params={"site": "lab1", "limit": 1},
            headers={"Authorization": f"Bearer {info['token_v2']}"},
            timeout=10,
        )
        assert resp.json()["count"] == 24
    finally:
        proc.terminate()
        proc.wait(timeout=10)
