"""
Functional tests of the ``netbox`` state module against the NetBox stand-in: every state with
and without ``test=True`` -- create, no-op on the second run, update with ``{old, new}``
changes, absent -- checking NetBox itself and that ``test=True`` never writes.
"""

import logging

import pytest
from salt.exceptions import CommandExecutionError

from tests.functional.test_netbox_mod import JID, loaders, target_get, writes

#: every test names lab objects through fresh_netbox.lab: runs on a real NetBox too (issue 11)
pytestmark = pytest.mark.live_capable


class StateRunner:
    """Runs one state function in a freshly built loader and checks the test-mode contract."""

    def __init__(self, target, tmp_path):
        self.target = target
        self.tmp_path = tmp_path
        self.minion = target.lab.name("srv-r2-01")  # this minion, as named in the test's lab

    def __call__(self, fun, *args, test=False, **kwargs):
        _, states = loaders(self.target, self.tmp_path, self.minion, test=test)
        before = writes(self.target)
        ret = states[f"netbox.{fun}"](*args, **kwargs)
        wrote = writes(self.target) - before
        assert self.target.token not in repr(ret)
        assert set(ret) == {"name", "result", "comment", "changes"}
        if test:
            assert wrote == 0, f"test=True wrote to NetBox: {ret}"
            assert ret["result"] in (None, True, False)
            if ret["changes"]:
                assert ret["result"] is None, ret
        if ret["result"] is True and not ret["changes"]:
            assert wrote == 0, f"a no-op run wrote to NetBox: {ret}"
        return ret

    def nb(self, fun, *args, **kwargs):
        mods, _ = loaders(self.target, self.tmp_path, self.minion)
        return mods[f"netbox.{fun}"](*args, **kwargs)

    def absent_cycle(self, name, endpoint, lookup):
        """object_absent with test=True, for real, then again (already absent)."""
        ret = self("object_absent", name, endpoint=endpoint, lookup=lookup, test=True)
        assert ret["result"] is None and "deleted" in ret["changes"], ret
        assert self.nb("get", endpoint, **lookup) is not None
        ret = self("object_absent", name, endpoint=endpoint, lookup=lookup)
        assert ret["result"] is True and "deleted" in ret["changes"], ret
        assert self.nb("get", endpoint, **lookup) is None
        ret = self("object_absent", name, endpoint=endpoint, lookup=lookup)
        assert ret["result"] is True and ret["changes"] == {}
        assert "already absent" in ret["comment"]


@pytest.fixture
def run(fresh_netbox, tmp_path, netbox_requests):
    fresh_netbox.requests = netbox_requests  # writes() counts the product's own requests
    return StateRunner(fresh_netbox, tmp_path)


def _cycle(run, fun, name, create_kwargs, change_kwargs, expected_changes):  # noqa: PLR0917
    """test-create, create, no-op, test-update, update; returns the last return."""
    ret = run(fun, name, test=True, **create_kwargs)
    assert ret["result"] is None and "created" in ret["changes"], ret
    ret = run(fun, name, **create_kwargs)
    assert ret["result"] is True and "created" in ret["changes"], ret
    ret = run(fun, name, **create_kwargs)
    assert ret["result"] is True and ret["changes"] == {}, ret
    assert "already as wanted" in ret["comment"]
    ret = run(fun, name, test=True, **{**create_kwargs, **change_kwargs})
    assert ret["result"] is None and ret["changes"] == expected_changes, ret
    ret = run(fun, name, **{**create_kwargs, **change_kwargs})
    assert ret["result"] is True and ret["changes"] == expected_changes, ret
    again = run(fun, name, **{**create_kwargs, **change_kwargs})
    assert again["result"] is True and again["changes"] == {}, again
    return ret


def test_device_present(run):
    L = run.target.lab.sub
    create = {
        "site": L("lab1"),
        "device_type": "PowerEdge M630",
        "role": "edge-server",
        "rack": "R2",
        "status": "planned",
        "tags": ["turnup-lab"],
        "custom_fields": {"minion_id": L("srv-r2-09.lab1.example.net")},
    }
    change = {"status": "staged", "tags": [], "serial": "CN0R2S09X"}
    _cycle(
        run,
        "device_present",
        L("srv-r2-09"),
        create,
        change,
        {
            "status": {"old": "planned", "new": "staged"},
            "tags": {"old": ["turnup-lab"], "new": []},
            "serial": {"old": "", "new": "CN0R2S09X"},
        },
    )
    dev = run.nb("device", L("srv-r2-09"))
    assert dev["rack"]["name"] == "R2" and dev["status"]["value"] == "staged"
    assert dev["tags"] == [] and dev["serial"] == "CN0R2S09X"
    assert dev["custom_fields"]["minion_id"] == L("srv-r2-09.lab1.example.net")
    # only the given fields are compared: an existing device with fewer arguments is a no-op
    assert run("device_present", L("srv-r2-09"), status="staged")["changes"] == {}
    run.absent_cycle(L("srv-r2-09"), "dcim.devices", {"name": L("srv-r2-09")})


def test_device_present_bad_input(run):
    L = run.target.lab.sub
    ret = run("device_present", L("srv-r2-10"), site=L("lab1"))
    assert ret["result"] is False and "device_type and role are required" in ret["comment"]
    ret = run("device_present", L("srv-r2-01"), site=L("lab1"), rack="R99")
    assert ret["result"] is False and "'R99' not found" in ret["comment"]
    ret = run("device_present", L("srv-r2-01"), site=L("lab1"), status="exploded")
    assert ret["result"] is False and "status" in ret["comment"]


def test_device_status(run, fresh_netbox):
    L = run.target.lab.sub
    ret = run("device_status", L("srv-r2-01"), status="staged", comment="burn-in", test=True)
    assert ret["result"] is None
    assert ret["changes"] == {"status": {"old": "planned", "new": "staged"}}
    ret = run("device_status", L("srv-r2-01"), status="staged", comment="burn-in")
    assert ret["result"] is True
    assert ret["changes"]["status"] == {"old": "planned", "new": "staged"}
    entry = target_get(fresh_netbox, "extras.journal-entries", ret["changes"]["journal_entry"])
    assert f"Salt job {JID}" in entry["comments"]
    assert entry["comments"].startswith("Status planned -> staged: burn-in")
    ret = run("device_status", L("srv-r2-01"), status="staged", test=True)
    assert ret["result"] is True and ret["changes"] == {}
    ret = run("device_status", L("srv-r2-01"), status="staged")
    assert ret["result"] is True and ret["changes"] == {}
    assert run.nb("device", L("srv-r2-01"))["status"]["value"] == "staged"
    ret = run("device_status", "no-such-device", status="staged")
    assert ret["result"] is False and "not found" in ret["comment"]


def test_interface_present(run):
    L = run.target.lab.sub
    _cycle(
        run,
        "interface_present",
        "eno3",
        {"device": L("srv-r2-01"), "type": "25gbase-x-sfp28", "lag": "bond0", "mtu": 9000},
        {"mtu": 1500, "lag": None, "enabled": False},
        {
            "mtu": {"old": 9000, "new": 1500},
            "lag": {"old": "bond0", "new": None},
            "enabled": {"old": True, "new": False},
        },
    )
    iface = run.nb("get", "dcim.interfaces", device=L("srv-r2-01"), name="eno3")
    assert iface["mtu"] == 1500 and iface["lag"] is None and iface["enabled"] is False
    ret = run("interface_present", "eno4", device=L("srv-r2-01"))
    assert ret["result"] is False and "type is required" in ret["comment"]
    run.absent_cycle("eno3", "dcim.interfaces", {"device": L("srv-r2-01"), "name": "eno3"})


def test_mac_address_present(run):
    L = run.target.lab.sub
    mac = "24:6e:96:02:11:01"
    ret = run("mac_address_present", mac, device=L("srv-r2-01"), interface="eno1", test=True)
    assert ret["result"] is None and ret["changes"]["created"] == "24:6E:96:02:11:01"
    ret = run("mac_address_present", mac, device=L("srv-r2-01"), interface="eno1")
    assert ret["result"] is True
    assert ret["changes"]["primary_mac_address"] == {"old": None, "new": "24:6E:96:02:11:01"}
    iface = run.nb("get", "dcim.interfaces", device=L("srv-r2-01"), name="eno1")
    assert iface["primary_mac_address"]["mac_address"] == "24:6E:96:02:11:01"
    # any notation of the same MAC is a no-op
    ret = run("mac_address_present", "246E.9602.1101", device=L("srv-r2-01"), interface="eno1")
    assert ret["result"] is True and ret["changes"] == {}
    # update: description; then move to another interface
    ret = run(
        "mac_address_present",
        mac,
        device=L("srv-r2-01"),
        interface="eno1",
        description="onboard",
        test=True,
    )
    assert ret["result"] is None
    assert ret["changes"] == {"description": {"old": "", "new": "onboard"}}
    ret = run(
        "mac_address_present", mac, device=L("srv-r2-01"), interface="eno1", description="onboard"
    )
    assert ret["changes"] == {"description": {"old": "", "new": "onboard"}}
    # the primary MAC of eno1 moves: NetBox refuses that unless eno1 lets go of it first
    move = {
        "device": L("srv-r2-01"),
        "interface": "eno2",
        "description": "onboard",
        "primary": False,
    }
    moved = {
        "interface": {"old": L("srv-r2-01:eno1"), "new": L("srv-r2-01:eno2")},
        "released_primary": {"old": L("srv-r2-01:eno1"), "new": None},
    }
    ret = run("mac_address_present", mac, test=True, **move)
    assert ret["result"] is None and ret["changes"] == moved, ret
    assert (
        run.nb("get", "dcim.interfaces", device=L("srv-r2-01"), name="eno1")["primary_mac_address"][
            "mac_address"
        ]
        == "24:6E:96:02:11:01"
    )
    ret = run("mac_address_present", mac, **move)
    assert ret["result"] is True
    assert ret["changes"]["interface"]["new"] == L("srv-r2-01:eno2")
    assert ret["changes"] == moved
    obj = run.nb("get", "dcim.mac-addresses", mac_address=mac)
    assert obj["assigned_object"]["name"] == "eno2"
    eno1 = run.nb("get", "dcim.interfaces", device=L("srv-r2-01"), name="eno1")
    assert eno1["primary_mac_address"] is None and eno1["mac_address"] is None
    assert run("mac_address_present", mac, **move)["changes"] == {}
    run.absent_cycle(mac, "dcim.mac-addresses", {"mac_address": mac})


def test_ip_address_present(run):
    L = run.target.lab.sub
    name = L("10.10.2.50/24")
    base = {"device": L("srv-r2-01"), "interface": "bond0", "dns_name": L("a.lab1.example.net")}
    ret = run("ip_address_present", name, test=True, **base)
    assert ret["result"] is None and ret["changes"] == {"created": name}
    ret = run("ip_address_present", name, **base)
    assert ret["result"] is True and ret["changes"] == {"created": name}
    ip = run.nb("get", "ipam.ip-addresses", address=name)
    assert ip["assigned_object"]["name"] == "bond0" and ip["dns_name"] == L("a.lab1.example.net")
    assert run("ip_address_present", name, **base)["changes"] == {}
    change = {**base, "dns_name": L("b.lab1.example.net"), "status": "reserved"}
    expected = {
        "dns_name": {"old": L("a.lab1.example.net"), "new": L("b.lab1.example.net")},
        "status": {"old": "active", "new": "reserved"},
    }
    ret = run("ip_address_present", name, test=True, **change)
    assert ret["result"] is None and ret["changes"] == expected
    ret = run("ip_address_present", name, **change)
    assert ret["result"] is True and ret["changes"] == expected
    # primary: the device's primary_ip4 points at it afterwards
    ret = run("ip_address_present", name, primary=True, **change)
    assert ret["result"] is True and ret["changes"]["primary_ip4"]["new"] == name
    assert run.nb("device", L("srv-r2-01"))["primary_ip4"]["address"] == name
    assert run("ip_address_present", name, primary=True, **change)["changes"] == {}
    # a different mask is an update of the same address, not a new one
    ret = run("ip_address_present", L("10.10.2.50/25"), **change)
    assert ret["changes"] == {"address": {"old": L("10.10.2.50/24"), "new": L("10.10.2.50/25")}}
    run.absent_cycle(L("10.10.2.50/25"), "ipam.ip-addresses", {"address": L("10.10.2.50/25")})


def test_ip_address_moves_between_interfaces_but_never_a_primary_one(run):
    L = run.target.lab.sub
    base = {"device": L("srv-r2-01"), "interface": "bond0"}
    assert run("ip_address_present", L("10.10.2.60/24"), **base)["result"] is True
    move = {"device": L("srv-r2-01"), "interface": "eno1"}
    moved = {"interface": {"old": L("srv-r2-01:bond0"), "new": L("srv-r2-01:eno1")}}
    ret = run("ip_address_present", L("10.10.2.60/24"), test=True, **move)
    assert ret["result"] is None and ret["changes"] == moved, ret
    ret = run("ip_address_present", L("10.10.2.60/24"), **move)
    assert ret["result"] is True and ret["changes"] == moved, ret
    assert (
        run.nb("get", "ipam.ip-addresses", address=L("10.10.2.60/24"))["assigned_object"]["name"]
        == "eno1"
    )
    # a device's primary address moves between its own interfaces, never to another device:
    # NetBox's own refusal is the result
    ret = run("ip_address_present", L("10.10.2.60/24"), primary=True, **move)
    assert ret["result"] is True and ret["changes"]["primary_ip4"]["new"] == L("10.10.2.60/24")
    ret = run("ip_address_present", L("10.10.2.60/24"), primary=True, **base)
    assert ret["result"] is True, ret
    assert ret["changes"] == {
        "interface": {"old": L("srv-r2-01:eno1"), "new": L("srv-r2-01:bond0")}
    }
    ret = run("ip_address_present", L("10.10.2.60/24"), device=L("srv-r2-02"), interface="eno1")
    assert ret["result"] is False, ret
    assert "designated as the primary IP" in ret["comment"]
    ip = run.nb("get", "ipam.ip-addresses", address=L("10.10.2.60/24"))
    assert ip["assigned_object"]["name"] == "bond0"
    assert ip["assigned_object"]["device"]["name"] == L("srv-r2-01")
    assert run.nb("device", L("srv-r2-01"))["primary_ip4"]["address"] == L("10.10.2.60/24")


def test_cable_present(run):
    L = run.target.lab.sub
    run.nb("create", "dcim.interfaces", device=L("srv-r2-01"), name="eno3", type="25gbase-x-sfp28")
    _cycle(
        run,
        "cable_present",
        L("srv-r2-01 eno3"),
        {
            "a": L("srv-r2-01:eno3"),
            "b": L("tor1-r2:Ethernet9"),
            "type": "dac-passive",
            "status": "planned",
        },
        {"status": "connected", "length": 3, "length_unit": "m"},
        {
            "status": {"old": "planned", "new": "connected"},
            "length": {"old": None, "new": 3},
            "length_unit": {"old": None, "new": "m"},
        },
    )
    # the same cable named the other way round is the same cable
    ret = run("cable_present", "reverse", a=L("tor1-r2:Ethernet9"), b=L("srv-r2-01:eno3"))
    assert ret["result"] is True and ret["changes"] == {}
    # an end already cabled elsewhere is an error, never a silent re-cable
    ret = run("cable_present", "conflict", a=L("srv-r2-01:eno1"), b=L("tor1-r2:Ethernet10"))
    assert ret["result"] is False and "remove or change that cable first" in ret["comment"]
    iface = run.nb("get", "dcim.interfaces", device=L("srv-r2-01"), name="eno3")
    assert iface["link_peers"][0]["name"] == "Ethernet9"
    run.absent_cycle("cable", "dcim.cables", {"id": iface["cable"]["id"]})


def test_journal_entry(run, fresh_netbox):
    L = run.target.lab.sub
    args = {
        "obj": L("srv-r2-01"),
        "comments": "racked and cabled by the turn-up",
        "kind": "success",
    }
    ret = run("journal_entry", "racked", test=True, **args)
    assert ret["result"] is None and ret["changes"]["journal_entry"]["new"] == args["comments"]
    ret = run("journal_entry", "racked", **args)
    assert ret["result"] is True
    entry = target_get(fresh_netbox, "extras.journal-entries", ret["changes"]["id"])
    assert entry["kind"]["value"] == "success"
    assert entry["comments"] == L(f"{args['comments']}\n\n— Salt job {JID} (srv-r2-01)")
    ret = run("journal_entry", "racked", **args)
    assert ret["result"] is True and ret["changes"] == {}
    ret = run("journal_entry", "racked", test=True, **args)
    assert ret["result"] is True and ret["changes"] == {}
    # a new text is a new entry (journals are append-only)
    ret = run("journal_entry", "validated", obj=L("srv-r2-01"), test=True)
    assert ret["result"] is None
    ret = run("journal_entry", "validated", obj=L("srv-r2-01"))
    assert ret["result"] is True and ret["changes"]["journal_entry"]["new"] == "validated"
    run.absent_cycle("entry", "extras.journal-entries", {"id": ret["changes"]["id"]})


def test_object_present_generic(run):
    slug = run.target.lab.unique("lab2")  # a site of the test's own (run-unique when live)
    name = slug.upper()
    ret = _cycle(
        run,
        "object_present",
        name,
        {
            "endpoint": "dcim.sites",
            "lookup": {"slug": slug},
            "fields": {"name": name, "slug": slug, "status": "planned"},
        },
        {
            "fields": {
                "name": name,
                "slug": slug,
                "status": "active",
                "description": "second lab",
                "tenant": "edge",
            }
        },
        {
            "status": {"old": "planned", "new": "active"},
            "description": {"old": "", "new": "second lab"},
            "tenant": {"old": None, "new": "edge"},
        },
    )
    site = run.nb("get", "dcim.sites", slug=slug)
    assert site["tenant"]["slug"] == "edge" and site["status"]["value"] == "active"
    assert ret["comment"] == f"dcim.sites {name} updated"
    run.absent_cycle(name, "dcim.sites", {"slug": slug})


def test_object_present_errors_are_results_not_exceptions(run):
    ret = run("object_present", "x", endpoint="nonsense")
    assert ret["result"] is False and "app.endpoint" in ret["comment"]
    ret = run("object_present", "x", endpoint="dcim.devices", fields={"id": 3})
    assert ret["result"] is False and "read-only" in ret["comment"]


def test_token_never_in_returns_errors_or_logs(run, fresh_netbox, tmp_path, caplog):
    """States, module calls and their failures at DEBUG level: the token is nowhere."""
    L = run.target.lab.sub
    caplog.set_level(logging.DEBUG)
    seen = [
        run("device_present", L("srv-r2-01"), site=L("lab1"), rack="R99"),
        run("device_status", L("srv-r2-01"), status="exploded"),
        run("device_status", L("srv-r2-01"), status="staged", comment="token scan"),
        run("journal_entry", "scanned", obj=L("srv-r2-01")),
        run("object_present", "x", endpoint="dcim.devices", fields={"id": 3}),
        run("cable_present", "c", a=L("srv-r2-01:eno1"), b=L("tor1-r2:Ethernet10")),
    ]
    assert [r["result"] for r in seen] == [False, False, True, True, False, False]
    mods, _ = loaders(fresh_netbox, tmp_path)
    with pytest.raises(CommandExecutionError) as invalid:
        mods["netbox.create"]("dcim.devices", name="x", site=L("lab1"))
    # a token NetBox refuses must not come back in the message either
    refused = type(fresh_netbox)(url=fresh_netbox.url, token="0123456789abcdef" * 2 + "01234567")
    bad_mods, _ = loaders(refused, tmp_path / "refused")
    with pytest.raises(CommandExecutionError) as denied:
        bad_mods["netbox.get"]("dcim.devices", name=L("srv-r2-01"))
    assert "403" in str(denied.value) or "401" in str(denied.value)
    texts = [repr(seen), str(invalid.value), str(denied.value), caplog.text]
    assert "netbox" in caplog.text.lower()  # the calls did log
    for token in (fresh_netbox.token, refused.token):
        for text in texts:
            assert token not in text


def test_test_mode_tolerates_what_an_earlier_state_would_create(run):
    """test=True on a first run: the interface an earlier state would create does not exist
    yet, so the dependent states predict (result None) instead of failing; for real they fail."""
    L = run.target.lab.sub
    calls = [
        (
            "mac_address_present",
            "02:00:5e:10:02:99",
            {"device": L("srv-r2-01"), "interface": "ens9"},
        ),
        ("ip_address_present", L("10.10.2.99/24"), {"device": L("srv-r2-01"), "interface": "ens9"}),
        ("cable_present", "uplink", {"a": L("srv-r2-01:ens9"), "b": L("tor1-r2:Ethernet30")}),
        ("device_status", L("srv-r2-77"), {"status": "staged"}),
        ("journal_entry", "note", {"obj": L("srv-r2-77")}),
    ]
    for fun, name, kwargs in calls:
        ret = run(fun, name, test=True, **kwargs)
        assert ret["result"] is None and ret["changes"] == {}, ret
        assert "not found" in ret["comment"] and "test=True" in ret["comment"], ret
        ret = run(fun, name, **kwargs)
        assert ret["result"] is False and "not found" in ret["comment"], ret
    # bad input stays an error in test mode
    ret = run("interface_present", "ens9", device=L("srv-r2-01"), test=True)
    assert ret["result"] is False and "type is required" in ret["comment"]
