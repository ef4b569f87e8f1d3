"""Unit tests: error mapping from NetBox responses, token scrubbing."""

import json
import pickle
from types import SimpleNamespace
from urllib.parse import quote, quote_plus

import pytest
from salt.exceptions import SaltInvocationError

from salt_ext.utils.netbox import errors
from salt_ext.utils.netbox.errors import (
    NetBoxConfigError,
    NetBoxConflict,
    NetBoxError,
    NetBoxInvalidRequest,
    NetBoxNotFound,
    NetBoxPermissionDenied,
    NetBoxPreconditionFailed,
    NetBoxTimeout,
    NetBoxUnavailable,
    flatten_errors,
    from_response,
    from_status,
    register_secret,
    scrub,
)
from tests.support.saltenv import REPO_ROOT

RECORDED = REPO_ROOT / "tests" / "support" / "recorded"


def _recorded(name):
    with open(RECORDED / f"{name}.json", encoding="utf-8") as handle:
        return json.load(handle)


class FakeResponse:
    def __init__(self, status, body, method="GET", path="/api/dcim/devices/"):
        self.status_code = status
        self._body = body
        self.text = body if isinstance(body, str) else json.dumps(body)
        self.request = SimpleNamespace(method=method, path_url=path + "?limit=1")

    def json(self):
        if isinstance(self._body, str):
            raise ValueError("not json")
        return self._body


@pytest.mark.parametrize(
    "status,cls",
    [
        (400, NetBoxInvalidRequest),
        (401, NetBoxPermissionDenied),
        (403, NetBoxPermissionDenied),
        (404, NetBoxNotFound),
        (409, NetBoxConflict),
        (412, NetBoxPreconditionFailed),
        (500, NetBoxUnavailable),
        (503, NetBoxUnavailable),
        (429, NetBoxUnavailable),
        (418, NetBoxError),
    ],
)
def test_status_classes(status, cls):
    err = from_response(FakeResponse(status, {"detail": "nope"}), endpoint="dcim.devices")
    assert type(err) is cls
    assert err.status == status
    assert err.endpoint == "dcim.devices"
    assert "nope" in str(err)


def test_recorded_missing_required_fields():
    pair = _recorded("063-device-create-missing-required")
    resp = pair["response"]
    err = from_response(FakeResponse(resp["status"], resp["body"], "POST"))
    assert isinstance(err, NetBoxInvalidRequest)
    assert "site: This field is required." in str(err)
    assert "device_type: This field is required." in str(err)
    assert err.field_errors["role"] == ["This field is required."]
    assert str(err).startswith("NetBox returned 400 for POST /api/dcim/devices/")
    assert "?limit" not in str(err)


def test_recorded_unique_constraint_all_key():
    resp = _recorded("064-device-create-duplicate-name")["response"]
    err = from_response(FakeResponse(resp["status"], resp["body"], "POST"))
    assert "dcim_device_unique_name_site_tenant" in str(err)
    assert "__all__" not in str(err)


def test_recorded_bulk_item_errors():
    resp = _recorded("074-devices-bulk-patch-missing-id")["response"]
    err = from_response(FakeResponse(resp["status"], resp["body"], "PATCH"))
    assert isinstance(err, NetBoxInvalidRequest)
    assert "id: This field is required." in str(err)
    assert err.field_errors == {"[0] id": ["This field is required."]}


@pytest.mark.parametrize(
    "name,cls,text",
    [
        ("055-auth-bad-token", NetBoxPermissionDenied, "Invalid v1 token"),
        ("054-auth-none", NetBoxPermissionDenied, "Authentication credentials were not provided."),
        ("036-device-detail-404", NetBoxNotFound, ""),
        ("072-device-patch-if-match-stale", NetBoxPreconditionFailed, "Precondition failed."),
    ],
)
def test_recorded_statuses(name, cls, text):
    resp = _recorded(name)["response"]
    err = from_response(FakeResponse(resp["status"], resp["body"]))
    assert isinstance(err, cls)
    assert text in str(err)


def test_flatten_errors_shapes():
    assert flatten_errors({"detail": "Not found."}) == "Not found."
    assert flatten_errors({"site": ["This field is required."]}) == "site: This field is required."
    assert flatten_errors({"non_field_errors": ["bad"]}) == "bad"
    assert flatten_errors([{}, {"name": ["x"]}]) == "[1] name: x"
    assert flatten_errors({"a_terminations": [{"object_id": ["gone"]}]}) == (
        "a_terminations: object_id: gone"
    )
    assert flatten_errors(None) == ""


def test_html_body_not_dumped():
    err = from_status(502, "<html>" + "x" * 1000 + "</html>")
    assert isinstance(err, NetBoxUnavailable)
    assert "<html>" not in str(err)


def test_token_scrubbed_from_message_repr_and_body():
    secret = "nbt_KEY1234.verysecretvalue42"
    register_secret(secret)
    err = from_status(403, {"detail": f"token {secret} is invalid"})
    for text in (str(err), repr(err), str(err.body), str(err.args)):
        assert secret not in text
        assert "verysecretvalue42" not in text


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Token 0123456789abcdef0123456789abcdef01234567",
        "sent Bearer nbt_abc.def123",
        "value 0123456789abcdef0123456789abcdef01234567 leaked",
    ],
)
def test_scrub_patterns(text):
    out = scrub(text)
    assert "0123456789abcdef0123456789abcdef01234567" not in out
    assert "nbt_abc.def123" not in out


def test_token_secret_part_and_url_encoded_forms_are_scrubbed():
    """A v2 token's secret alone, or the token URL-encoded (a proxy's error page, a log line of a
    request URL), is the credential too."""
    token = "nbt_AbCdEf123456.s3cr3t/Part+with=chars0123456789"
    register_secret(token)
    secret = token.split(".", 1)[1]
    for leaked in (
        f"secret {secret} refused",
        f"GET /api/?x={quote(token, safe='')}",
        f"form token={quote_plus(token)}",
    ):
        out = scrub(leaked)
        assert secret not in out and quote(secret, safe="") not in out
        assert quote_plus(secret) not in out


def test_scrub_keeps_ordinary_words():
    assert scrub("Token permission denied") == "Token permission denied"


def test_config_error_is_invocation_error_and_netbox_error():
    err = NetBoxConfigError("netbox:url bad")
    assert isinstance(err, SaltInvocationError)
    assert isinstance(err, NetBoxError)
    assert str(err) == "netbox:url bad"


def test_timeout_is_unavailable():
    assert issubclass(NetBoxTimeout, NetBoxUnavailable)


def test_errors_pickle():
    err = from_response(FakeResponse(400, {"name": ["bad"]}))
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is NetBoxInvalidRequest
    assert again.field_errors == {"name": ["bad"]}
    assert str(again) == str(err)
    ambiguous = errors.NetBoxAmbiguous("2 match", endpoint="dcim.devices", matches=[{"id": 1}])
    again = pickle.loads(pickle.dumps(ambiguous))
    assert (type(again), again.matches, again.endpoint) == (
        errors.NetBoxAmbiguous,
        [{"id": 1}],
        "dcim.devices",
    )
    unknown = errors.NetBoxUnknownFilter("no filter sitee", endpoint="dcim.devices", filters=["x"])
    again = pickle.loads(pickle.dumps(unknown))
    assert (type(again), again.filters, str(again)) == (
        errors.NetBoxUnknownFilter,
        ["x"],
        "no filter sitee",
    )
    timeout = pickle.loads(pickle.dumps(NetBoxTimeout("slow", endpoint="status")))
    assert (type(timeout), timeout.endpoint, timeout.status) == (NetBoxTimeout, "status", None)


def test_all_exported():
    for name in errors.__all__:
        assert hasattr(errors, name)
