"""
Contract test: replay every recorded NetBox 4.6.8 exchange (``tests/support/recorded/``) against the
NetBox stand-in loaded with ``lab1.json`` (ids kept) and compare status, recorded headers and body values
exactly, ignoring only each pair's ``volatile`` paths. The write pairs (062+) run in order on the same
instance; ids they create are mapped from the recording to the stand-in's.
"""

from __future__ import annotations

import copy
import datetime
import json
import pathlib
import re

import pytest
import requests

from tests.support.netbox_standin import LAB1, NetBoxStandin

RECORDED = pathlib.Path(__file__).resolve().parents[1] / "support" / "recorded"
RECORDED_BASE = "http://127.0.0.1:8001"
PAIRS = sorted(p for p in RECORDED.glob("[0-9][0-9][0-9]-*.json"))
RESULTS = {}
PRODUCT = pathlib.Path(__file__).resolve().parents[2] / "salt_ext"
#: a GraphQL call in the product's code (the API path or pynetbox's ``api.graphql``)
GRAPHQL_CALL = re.compile(r"""["']/?graphql/?["']|\.graphql\b""")


def _product_uses_graphql():
    return any(GRAPHQL_CALL.search(p.read_text(encoding="utf-8")) for p in PRODUCT.rglob("*.py"))


def _load(path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


class Replay:
    """One stand-in for the whole replay, plus the id mapping recording -> stand-in."""

    def __init__(self):
        with open(LAB1, encoding="utf-8") as fh:
            self.nb = NetBoxStandin(snapshot=json.load(fh), keep_ids=True).start()
        self.session = requests.Session()
        self.ids = {}  # (endpoint, recorded id) -> stand-in id
        self.write_start = None

    def close(self):
        self.session.close()
        self.nb.stop()

    def auth(self, symbol):
        return {
            "v1": f"Token {self.nb.token_v1}",
            "v2": f"Bearer {self.nb.token_v2}",
            "none": None,
            "bad": "Token " + "0" * 40,
            "bad-v2": "Bearer nbt_AAAAAAAAAAAA." + "B" * 40,
            "v1-bearer": f"Bearer {self.nb.token_v1}",
            "v2-token": f"Token {self.nb.token_v2}",
        }[symbol]

    def map_id(self, endpoint, value):
        return self.ids.get((endpoint, value), value)

    def map_path(self, path):
        parts = path.split("/")
        if len(parts) >= 6 and parts[1] == "api" and parts[4].isdigit():
            endpoint = f"{parts[2]}.{parts[3]}"
            parts[4] = str(self.map_id(endpoint, int(parts[4])))
        return "/".join(parts)

    def map_body(self, endpoint, body):
        refs = {
            "device": "dcim.devices",
            "primary_ip4": "ipam.ip-addresses",
            "primary_ip6": "ipam.ip-addresses",
            "oob_ip": "ipam.ip-addresses",
        }
        types = {"dcim.interface": "dcim.interfaces", "dcim.device": "dcim.devices"}

        def one(item):
            item = dict(item)
            for key, target in refs.items():
                if isinstance(item.get(key), int):
                    item[key] = self.map_id(target, item[key])
            if isinstance(item.get("assigned_object_id"), int):
                target = types.get(item.get("assigned_object_type"))
                item["assigned_object_id"] = self.map_id(target, item["assigned_object_id"])
            if isinstance(item.get("id"), int):
                item["id"] = self.map_id(endpoint, item["id"])
            return item

        if isinstance(body, list):
            return [one(i) if isinstance(i, dict) else i for i in body]
        if isinstance(body, dict):
            return one(body)
        return body

    def send(self, method, path, query, headers, body):
        endpoint = _endpoint_of(path)
        if endpoint == "ipam.prefixes" and path.endswith("available-ips/"):
            endpoint = "ipam.ip-addresses"
        hdrs = {}
        for key, symbol in headers.items():
            value = self.auth(symbol) if key == "Authorization" else symbol
            if value is not None:
                hdrs[key] = value
        data = None
        if body is not None:
            data = json.dumps(self.map_body(endpoint, body))
        return self.session.request(
            method,
            self.nb.url + self.map_path(path),
            params=query,
            headers=hdrs,
            data=data,
            timeout=30,
        )

    def learn_ids(self, endpoint, recorded, actual):
        """Remember which stand-in ids stand for the ids the recording created."""
        if isinstance(recorded, dict) and isinstance(actual, dict) and "id" in recorded:
            self.ids[(endpoint, recorded["id"])] = actual.get("id")
        elif isinstance(recorded, list) and isinstance(actual, list):
            for rec, act in zip(recorded, actual, strict=False):
                self.learn_ids(endpoint, rec, act)

    def api(self, method, path, body=None):
        resp = self.session.request(
            method,
            self.nb.url + path,
            headers={
                "Authorization": f"Token {self.nb.token_v1}",
                "Content-Type": "application/json",
            },
            data=json.dumps(body) if body is not None else None,
            timeout=30,
        )
        return resp


def _endpoint_of(path):
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "api":
        return f"{parts[1]}.{parts[2]}"
    return None


def _rebase(value, base):
    if isinstance(value, dict):
        return {k: _rebase(v, base) for k, v in value.items()}
    if isinstance(value, list):
        return [_rebase(v, base) for v in value]
    if isinstance(value, str) and value.startswith(RECORDED_BASE):
        return base + value[len(RECORDED_BASE) :]
    return value


def _tokens(path):
    out = []
    for part in path.replace("[*]", ".[*]").split("."):
        if part:
            out.append(part)
    return out


def _strip(value, tokens):
    """Remove the value at a volatile path (``results[*].created``) from a JSON value, in place."""
    if not tokens:
        return
    head, rest = tokens[0], tokens[1:]
    if head == "[*]":
        if isinstance(value, list):
            for item in value:
                if rest:
                    _strip(item, rest)
        return
    if not isinstance(value, dict) or head not in value:
        return
    if rest:
        _strip(value[head], rest)
    else:
        value[head] = "<volatile>"


def _compare_scoped(pair, resp, base):
    """Pairs recorded with demo data around: status, keys and the paging rules only."""
    expected = pair["response"]["body"]
    actual = resp.json()
    assert set(actual) == set(expected)
    query = dict(pair["request"]["query"])
    page = len(expected["results"]) if expected["next"] else None
    if page is not None:
        assert len(actual["results"]) == min(actual["count"], page)
    if actual["count"] > len(actual["results"]):
        rec_next = _rebase(expected["next"], base)
        assert actual["next"] == rec_next
    else:
        assert actual["next"] is None
    assert actual["previous"] is None
    if expected["results"] and actual["results"]:
        assert set(actual["results"][0]) == set(expected["results"][0])
    if "fields" in query:
        assert all(set(r) == set(query["fields"].split(",")) for r in actual["results"])


@pytest.fixture(scope="module")
def replay():
    rep = Replay()
    yield rep
    rep.close()
    passed = sum(1 for ok in RESULTS.values() if ok)
    print(f"\ncontract: {passed}/{len(RESULTS)} recorded REST pairs pass")


def _implied_steps(replay, name):
    """Requests the recording made between pairs without recording them (see pair 076's change log:
    ``srv-r2-10`` was created after 062, the tenant-less ``srv-r2-01`` deleted after 066)."""
    if name == "062-device-create":
        body = _load(RECORDED / "062-device-create.json")["request"]["body"]
        body = dict(body, name="srv-r2-10", serial="LAB1R2S10", position=12)
        resp = replay.api("POST", "/api/dcim/devices/", body)
        assert resp.status_code == 201, resp.text
        replay.ids[("dcim.devices", 132)] = resp.json()["id"]
    elif name == "066-device-create-duplicate-name-no-tenant":
        dev = replay.map_id("dcim.devices", 133)
        resp = replay.api("DELETE", f"/api/dcim/devices/{dev}/")
        assert resp.status_code == 204, resp.text


@pytest.mark.parametrize("path", PAIRS, ids=[p.stem for p in PAIRS])
def test_recorded_pair(replay, path):
    pair = _load(path)
    name = pair["name"]
    req, expected = pair["request"], pair["response"]
    if req["path"].startswith("/graphql"):
        # the two GraphQL pairs count only if the product uses GraphQL (issue 2)
        assert not _product_uses_graphql(), "the product calls GraphQL: the stand-in must serve it"
        pytest.skip("product does not use GraphQL")
    RESULTS[name] = False
    query = [list(q) for q in req["query"]]
    if req["method"] != "GET" and replay.write_start is None:
        moment = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)
        replay.write_start = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if "request.query.time_after" in pair["volatile"]:
        query = [[k, replay.write_start if k == "time_after" else v] for k, v in query]
    resp = replay.send(req["method"], req["path"], query, req["headers"], req["body"])
    if resp.status_code in (200, 201) and req["method"] == "POST":
        replay.learn_ids(
            "ipam.ip-addresses" if "/available-ips/" in req["path"] else _endpoint_of(req["path"]),
            expected["body"],
            resp.json(),
        )
    try:
        _check(pair, replay, resp)
    finally:
        _implied_steps(replay, name)
    RESULTS[name] = True


def _check(pair, replay, resp):
    req, expected = pair["request"], pair["response"]
    base = replay.nb.url

    assert resp.status_code == expected["status"], resp.text[:2000]
    volatile = pair["volatile"]
    for header, value in expected["headers"].items():
        assert header in resp.headers, f"missing header {header}"
        if f"response.headers.{header}" in volatile:
            continue
        if header == "ETag":
            continue  # compared below against the object's own ETag
        assert resp.headers[header] == value, header
    if "ETag" in expected["headers"] and resp.status_code in (200, 201):
        body = resp.json()
        endpoint = _endpoint_of(req["path"])
        assert resp.headers["ETag"] == replay.nb.store.etag(endpoint, body["id"])
    if "ETag" not in expected["headers"]:
        assert (
            "ETag" not in resp.headers
            or req["method"] == "GET"
            and "/available-ips/" in req["path"]
        )

    if pair.get("scope_note"):
        _compare_scoped(pair, resp, base)
        return
    if expected["body"] is None:
        assert resp.content == b""
    else:
        actual = resp.json()
        want = _rebase(copy.deepcopy(expected["body"]), base)
        for vpath in volatile:
            if vpath.startswith(("request.", "response.")):
                continue
            _strip(want, _tokens(vpath))
            _strip(actual, _tokens(vpath))
        assert actual == want
