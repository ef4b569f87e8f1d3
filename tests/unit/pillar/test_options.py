"""Validation of the ext_pillar options (our own and Salt 3007's)."""

import pytest
from salt.exceptions import SaltInvocationError

from salt_ext.utils.pillar.options import PARTS, parse_options


def test_defaults():
    opts = parse_options({})
    assert opts.key == "netbox"
    assert opts.identity == ("name", "custom_field")
    assert opts.on_unknown == "empty"
    assert opts.ttl == 300 and opts.max_stale == 86400
    assert opts.parts == PARTS
    assert {"dcim.devices", "dcim.interfaces", "dcim.cables", "ipam.prefixes"} <= opts.endpoints
    assert "virtualization.virtual-machines" not in opts.endpoints


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"bogus": 1}, "bogus"),
        ({"api_url": "http://x"}, "compat: salt3007"),
        ({"on_unknown": "ignore"}, "on_unknown"),
        ({"identity": ["serial"]}, "identity"),
        ({"identity": ["template"]}, "name_template"),
        ({"ttl": "soon"}, "ttl"),
        ({"ttl": -1}, "ttl"),
        ({"changelog_max": 0}, "changelog_max"),
        ({"interfaces": "maybe"}, "interfaces"),
        ({"devices": False}, "devices"),
        ({"key": ""}, "key"),
        ({"netbox": "http://x"}, "netbox"),
        ({"compat": "salt2019"}, "compat"),
    ],
)
def test_bad_options_name_the_field(kwargs, field):
    with pytest.raises(SaltInvocationError, match=field):
        parse_options(kwargs)


def test_switched_off_parts_shrink_the_fetch():
    opts = parse_options({"interfaces": False, "prefixes": False, "vlans": False})
    assert not opts.want("interfaces")
    assert "dcim.interfaces" not in opts.endpoints
    assert "dcim.cables" not in opts.endpoints
    assert "ipam.prefixes" not in opts.endpoints
    assert "ipam.services" in opts.endpoints


def test_index_key_depends_on_coverage():
    assert parse_options({}).index_key == parse_options({"ttl": 5}).index_key
    assert parse_options({}).index_key != parse_options({"sites": ["lab1"]}).index_key
    assert parse_options({}).index_key != parse_options({"virtual_machines": True}).index_key


def test_salt3007_options_translate():
    opts = parse_options(
        {
            "compat": "salt3007",
            "api_url": "http://127.0.0.1:8001/api/",
            "api_token": "0123456789abcdef0123456789abcdef01234567",
            "connected_devices": True,
            "interface_ips": True,
            "api_query_result_limit": 500,
        }
    )
    assert opts.netbox == {
        "url": "http://127.0.0.1:8001",
        "token": "0123456789abcdef0123456789abcdef01234567",
    }
    # connected_devices fetches the interfaces it needs (3007.8 crashed with KeyError:
    # 'interfaces' unless interfaces and interface_ips were both on)
    assert opts.interfaces_needed
    assert "0123456789abcdef" not in repr(opts)  # the token never shows in a repr
    assert opts.page_size == 500
    assert opts.identity == ("name",)
    assert opts.site_details and opts.site_prefixes and opts.proxy_return  # 3007 defaults
    assert {"dcim.interfaces", "ipam.ip-addresses", "dcim.platforms"} <= opts.endpoints


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"api_url": "ftp://netbox"}, "api_url"),
        ({"api_url": "netbox.example.com"}, "api_url"),
        ({"devices": False, "virtual_machines": False}, "devices"),
        ({"interface_ips": True}, "interface_ips"),
        ({"api_query_result_limit": 0}, "api_query_result_limit"),
        ({"api_query_result_limit": -5}, "api_query_result_limit"),
        ({"api_token": ""}, "api_token"),
    ],
)
def test_salt3007_validation_matches_3007_checks(kwargs, field):
    # Salt 3007 logged these and returned {}: we refuse the configuration instead
    with pytest.raises(SaltInvocationError, match=field):
        parse_options(dict(kwargs, compat="salt3007"))
