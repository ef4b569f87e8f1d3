"""Unit tests: netbox configuration validation and token forms."""

import dataclasses

import pytest
from salt.exceptions import SaltInvocationError

from salt_ext.utils.netbox.config import NetBoxConfig, load_config, parse_token
from salt_ext.utils.netbox.errors import NetBoxConfigError

V1 = "0123456789abcdef0123456789abcdef01234567"
V2 = "nbt_AbCdEf123456.s3cr3tS3cr3tS3cr3t"


def _load(**netbox):
    return load_config({"netbox": netbox})


def test_v2_token_uses_bearer():
    cfg = _load(url="https://nb.example.net", token=V2)
    assert cfg.token_version == "v2"
    assert cfg.authorization == f"Bearer {V2}"


def test_v1_token_uses_token_keyword():
    cfg = _load(url="https://nb.example.net", token=V1)
    assert cfg.token_version == "v1"
    assert cfg.authorization == f"Token {V1}"


@pytest.mark.parametrize(
    "value,header",
    [
        (f"Token {V1}", f"Token {V1}"),
        (f"Bearer {V2}", f"Bearer {V2}"),
        (f"bearer {V1}", f"Bearer {V1}"),
        (f"Token {V2}", f"Token {V2}"),
        (f"  {V2}\n", f"Bearer {V2}"),
    ],
)
def test_token_with_keyword_is_accepted(value, header):
    assert _load(url="http://127.0.0.1:1", token=value).authorization == header


@pytest.mark.parametrize("bad", ["abc", "nbt_nodot", "0123456789abcdef", V1 + "0", "nbt_.x y"])
def test_malformed_token_rejected_without_echo(bad):
    with pytest.raises(NetBoxConfigError) as exc:
        _load(url="http://127.0.0.1:1", token=bad)
    assert "netbox:token" in str(exc.value)
    assert bad.strip() not in str(exc.value)


def test_token_never_in_repr_or_str():
    cfg = _load(url="https://nb.example.net", token=V2)
    for text in (repr(cfg), str(cfg), str(cfg.safe_dict()), cfg.fingerprint()):
        assert V2 not in text
        assert "s3cr3t" not in text


def test_fingerprint_changes_with_token_but_hides_it():
    one = _load(url="https://nb.example.net", token=V1).fingerprint()
    two = _load(url="https://nb.example.net", token=V2).fingerprint()
    assert one != two
    assert one == _load(url="https://nb.example.net", token=V1).fingerprint()


def test_config_error_is_salt_invocation_error():
    with pytest.raises(SaltInvocationError):
        _load(url="netbox.local", token=V1)


def test_url_scheme_message_names_field_and_fix():
    with pytest.raises(NetBoxConfigError) as exc:
        _load(url="netbox.local", token=V1)
    assert str(exc.value) == (
        "netbox:url must start with http:// or https:// (got 'netbox.local'); "
        "set it in the master config"
    )


@pytest.mark.parametrize(
    "url,base",
    [
        ("https://nb.example.net/", "https://nb.example.net"),
        ("https://nb.example.net/api/", "https://nb.example.net"),
        ("http://127.0.0.1:8001/netbox", "http://127.0.0.1:8001/netbox"),
    ],
)
def test_url_normalised(url, base):
    cfg = _load(url=url, token=V1)
    assert cfg.url == base
    assert cfg.api_url == base + "/api"


@pytest.mark.parametrize(
    "url,what",
    [
        ("https://admin:s3cr3tpass@nb.example.net", "user:password@"),
        ("https://admin@nb.example.net/", "user:password@"),
        ("https://nb.example.net/?token=s3cr3tpass", "?query"),
        ("https://nb.example.net/#s3cr3tpass", "?query"),
    ],
)
def test_url_with_credentials_or_query_is_refused_without_echoing_it(url, what):
    """requests would send user:password as Basic auth instead of the token; never echo them."""
    with pytest.raises(NetBoxConfigError) as exc:
        _load(url=url, token=V1)
    assert what in str(exc.value)
    assert "s3cr3tpass" not in str(exc.value) and "admin" not in str(exc.value)


def test_missing_url_and_snapshot():
    with pytest.raises(NetBoxConfigError, match="netbox:url is not set"):
        load_config({})


def test_missing_token():
    with pytest.raises(NetBoxConfigError, match="netbox:token is not set"):
        _load(url="https://nb.example.net")


def test_token_file(tmp_path):
    path = tmp_path / "token"
    path.write_text(V2 + "\n")
    cfg = _load(url="https://nb.example.net", token_file=str(path))
    assert cfg.token == V2
    assert cfg.token_file == str(path)


def test_token_file_missing(tmp_path):
    with pytest.raises(NetBoxConfigError, match="token_file .* cannot be read"):
        _load(url="https://nb.example.net", token_file=str(tmp_path / "nope"))


def test_token_and_token_file_conflict(tmp_path):
    with pytest.raises(NetBoxConfigError, match="both set"):
        _load(url="https://nb.example.net", token=V1, token_file=str(tmp_path / "t"))


@pytest.mark.parametrize(
    "timeout,expected", [(10, (10.0, 10.0)), ("2.5", (2.5, 2.5)), ([3, 30], (3.0, 30.0))]
)
def test_timeout_forms(timeout, expected):
    assert _load(url="http://127.0.0.1:1", token=V1, timeout=timeout).timeout == expected


@pytest.mark.parametrize("timeout", [0, -1, [1], [1, 2, 3], "soon", True, [0, 5]])
def test_timeout_invalid(timeout):
    with pytest.raises(NetBoxConfigError, match="netbox:timeout"):
        _load(url="http://127.0.0.1:1", token=V1, timeout=timeout)


@pytest.mark.parametrize(
    "field,value",
    [
        ("page_size", 0),
        ("page_size", 1001),
        ("page_size", "many"),
        ("retries", -1),
        ("retries", 1.5),
        ("backoff", -0.1),
        ("verify", "maybe-not-a-path"),
    ],
)
def test_invalid_numbers(field, value):
    with pytest.raises(NetBoxConfigError) as exc:
        _load(url="http://127.0.0.1:1", token=V1, **{field: value})
    assert field in str(exc.value) or "ca_bundle" in str(exc.value)


def test_page_size_message_mentions_netbox_cap():
    with pytest.raises(NetBoxConfigError, match="MAX_PAGE_SIZE=1000"):
        _load(url="http://127.0.0.1:1", token=V1, page_size=5000)


def test_defaults():
    cfg = _load(url="http://127.0.0.1:1", token=V1)
    assert (cfg.retries, cfg.backoff, cfg.page_size, cfg.verify) == (3, 0.5, 1000, True)
    assert cfg.timeout == (5.0, 30.0)
    assert cfg.tls_verify is True
    assert cfg.kind == "api"


def test_ca_bundle(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    cfg = _load(url="https://nb", token=V1, ca_bundle=str(ca))
    assert cfg.tls_verify == str(ca)
    with pytest.raises(NetBoxConfigError, match="ca_bundle"):
        _load(url="https://nb", token=V1, ca_bundle=str(tmp_path / "missing.pem"))


def test_verify_false():
    assert _load(url="https://nb", token=V1, verify=False).tls_verify is False


def test_precedence_overrides_opts_pillar():
    opts = {"netbox": {"url": "http://opts:1", "token": V1}}
    pillar = {"netbox": {"url": "http://pillar:1", "timeout": 7, "token": V2}}
    cfg = load_config(opts, pillar=pillar)
    assert cfg.url == "http://opts:1"
    assert cfg.token == V1
    assert cfg.timeout == (7.0, 7.0)  # pillar fills keys the opts leave unset
    cfg = load_config(opts, pillar=pillar, overrides={"url": "http://over:1"})
    assert cfg.url == "http://over:1"


def test_snapshot_source(tmp_path):
    snap = tmp_path / "lab.json"
    snap.write_text("{}")
    cfg = load_config({"netbox": {"snapshot": str(snap)}})
    assert cfg.kind == "snapshot"
    assert cfg.snapshot == str(snap)
    assert cfg.url is None
    with pytest.raises(NetBoxConfigError, match="does not exist"):
        load_config({"netbox": {"snapshot": str(tmp_path / "none.json")}})


def test_netbox_section_must_be_mapping():
    with pytest.raises(NetBoxConfigError, match="mapping"):
        load_config({"netbox": "http://x"})


def test_unknown_keys_warn(caplog):
    with caplog.at_level("WARNING"):
        load_config({"netbox": {"url": "http://h:1", "token": V1, "tokn": "x"}})
    assert "tokn" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):  # loaded on every call: said once
        load_config({"netbox": {"url": "http://h:1", "token": V1, "tokn": "x"}})
    assert "tokn" not in caplog.text


#: what the ext_pillar serves under the pillar key ``netbox`` (docs/pillar.md)
NODE_PILLAR = {
    "netbox": {
        "id": 110,
        "name": "srv-r1-01",
        "kind": "device",
        "url": "https://netbox.example.net/api/dcim/devices/110/",
        "status": "active",
        "site": {"id": 25, "slug": "lab1"},
    }
}


def test_ext_pillar_node_data_is_not_configuration(caplog):
    opts = {"netbox": {"url": "http://opts:1", "token": V1}}
    with caplog.at_level("WARNING"):
        cfg = load_config(opts, pillar=NODE_PILLAR)
    assert cfg.url == "http://opts:1"
    assert "Ignoring unknown" not in caplog.text  # the node's fields are not config typos
    # a minion configured with a token only never takes the device's API URL for NetBox's
    with pytest.raises(NetBoxConfigError, match="netbox:url is not set"):
        load_config({"netbox": {"token": V1}}, pillar=NODE_PILLAR)


def test_pillar_gives_only_configuration_keys(caplog):
    pillar = {"netbox": {"url": "http://pillar:1", "token": V2, "sites": ["lab1"]}}
    with caplog.at_level("WARNING"):
        cfg = load_config({}, pillar=pillar)
    assert (cfg.url, cfg.token) == ("http://pillar:1", V2)
    assert "sites" not in caplog.text


def test_parse_token_returns_parts():
    assert parse_token(V2) == (V2, "Bearer", "v2")
    assert parse_token(f"Token {V1}") == (V1, "Token", "v1")


def test_config_is_frozen():
    cfg = _load(url="http://h:1", token=V1)
    assert isinstance(cfg, NetBoxConfig)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.url = "http://other"


def test_plain_http_warns_except_on_loopback(caplog):
    with caplog.at_level("WARNING"):
        _load(url="http://127.0.0.1:8001", token=V1)
        _load(url="https://nb.example.net", token=V1)
    assert "plain http" not in caplog.text
    with caplog.at_level("WARNING"):
        _load(url="http://nb.example.net", token=V1)
    assert "netbox:url http://nb.example.net is plain http" in caplog.text
    assert V1 not in caplog.text
