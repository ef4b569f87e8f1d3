"""
The netbox ext_pillar on a real salt-master with real minions (salt-factories), against a NetBox
stand-in of this module holding lab1 (so that it can be taken down):

- a highstate is refused (``_errors``) while NetBox is down and nothing is cached;
- ``pillar.items`` of a lab server has its full context, ToR peers from cables and its
  generation profile (from the repo's ``pillar/hwgen``);
- with a cached copy past its TTL and NetBox down, the highstate runs and the pillar says
  ``stale: true``;
- a minion NetBox does not know gets no ``netbox`` pillar (``on_unknown: empty``).
"""

from __future__ import annotations

import collections.abc
import os

import pytest
from saltfactories.utils import random_string

from salt_ext.utils.pillar.engine import get_engine
from tests.support.netbox_standin import NetBoxStandin
from tests.support.saltenv import master_overrides, minion_overrides

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        bool(os.environ.get("NETBOX_URL")),
        reason="takes NetBox down and up: needs the stand-in, not a real NetBox",
    ),
]

EXT_PILLAR = {"netbox": {"retry_after": 0, "ttl": 300}}
TOP_SLS = "base:\n  '*':\n    - probe\n"
PROBE_SLS = """\
probe:
  test.succeed_without_changes:
    - name: "rack={{ salt['pillar.get']('netbox:rack:name') }} stale={{ salt['pillar.get']('netbox:_meta:stale') }}"
"""


class _Target:
    def __init__(self, standin):
        self.url = standin.url
        self.token = standin.token_v1
        self.standin = standin


@pytest.fixture(scope="module")
def standin():
    with NetBoxStandin(snapshot="lab1") as server:
        yield server


@pytest.fixture(scope="module")
def file_roots(tmp_path_factory):
    root = tmp_path_factory.mktemp("pillar-states")
    (root / "top.sls").write_text(TOP_SLS)
    (root / "probe.sls").write_text(PROBE_SLS)
    return root


@pytest.fixture(scope="module")
def master(salt_factories, standin, file_roots):
    overrides = master_overrides(
        _Target(standin), ext_pillar=[EXT_PILLAR], file_roots={"base": [str(file_roots)]}
    )
    factory = salt_factories.salt_master_daemon(random_string("pillar-m-"), overrides=overrides)
    with factory.started():
        yield factory


@pytest.fixture(scope="module")
def server(master, standin, file_roots):
    overrides = minion_overrides(_Target(standin), file_roots={"base": [str(file_roots)]})
    factory = master.salt_minion_daemon("srv-r1-01", overrides=overrides)
    with factory.started():
        yield factory


@pytest.fixture(scope="module")
def ghost(master, standin):
    factory = master.salt_minion_daemon("ghost-01", overrides=minion_overrides(_Target(standin)))
    with factory.started():
        yield factory


def _plain(obj):
    if isinstance(obj, collections.abc.Mapping):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def _engine(master):
    """The pillar engine over the master's own config (same cachedir, same NetBox)."""
    return get_engine(_plain(master.config), {}, EXT_PILLAR["netbox"])


def _expire_cache(master):
    """Age the master's cached records past their TTL, as if ``ttl`` seconds went by."""
    engine = _engine(master)
    for name in engine.store.names():
        meta = engine.store.meta(name)
        meta["synced_at"] -= 3600
        engine.store.save_meta(name, meta)
    return engine.store.names()


def _highstate_while_down(minion, standin):
    """``state.highstate`` and ``pillar.items`` of ``minion`` while NetBox is down."""
    standin.faults.down()
    try:
        ret = minion.salt_call_cli(timeout=120).run("state.highstate")
        pillar = minion.salt_call_cli(timeout=120).run("pillar.items", unmask=True)
    finally:
        standin.faults.up()
    return ret, pillar


def test_highstate_refused_when_netbox_down_and_nothing_cached(master, server, standin):
    # the minion's start already compiled its pillar: forget what the master cached
    _engine(master).store.flush()
    ret, pillar = _highstate_while_down(server, standin)
    assert ret.returncode != 0
    text = str(ret.data) + str(ret.stdout)
    assert "Pillar failed to render" in text
    assert "probe" not in str(ret.data)
    # the highstate's answer is Salt's "Pillar failed to render" with the _errors messages
    assert any("ext_pillar netbox" in e and "no cached copy" in e for e in ret.data), ret.data
    assert "_errors" in pillar.data and "netbox" not in pillar.data
    assert standin.token_v1 not in str(ret.data) + str(pillar.data)


def test_pillar_items_has_the_full_context(server, standin):
    ret = server.salt_call_cli(timeout=120).run("pillar.items", unmask=True)
    assert ret.returncode == 0, ret
    pillar = ret.data
    assert "_errors" not in pillar, pillar.get("_errors")
    nb = pillar["netbox"]
    assert nb["name"] == "srv-r1-01"
    assert nb["device_type"]["hw_generation"] == "gen10"
    assert nb["site"]["slug"] == "lab1" and nb["site"]["time_zone"] == "Europe/Amsterdam"
    assert nb["rack"]["name"] == "R1" and nb["rack"]["position"] == 1.0
    assert nb["primary_ip4"] == "10.10.1.11/24" and nb["oob_ip"] == "10.20.0.21/24"
    eno1, eno2 = nb["interfaces"]["eno1"], nb["interfaces"]["eno2"]
    assert (eno1["peer"]["device"], eno1["peer"]["interface"]) == ("tor1-r1", "Ethernet1")
    assert eno2["peer"]["device"] == "tor2-r1"
    assert eno1["peer"]["cable_status"] == "connected" and eno1["peer"]["cable"]
    assert nb["interfaces"]["bond0"]["members"] == ["eno1", "eno2"]
    assert [d["name"] for d in nb["rack_devices"]["tor-switch"]] == ["tor1-r1", "tor2-r1"]
    assert nb["services"][0]["name"] == "ssh"
    assert len(nb["prefixes"]) == 8 and {v["vid"] for v in nb["vlans"]} == {100, 200}
    assert nb["config_context"]["ntp_servers"] == ["10.20.0.1", "10.20.0.2"]
    assert nb["_meta"]["stale"] is False
    # the generation profile of gen10 from the repo's pillar/hwgen, NetBox's sysctl merged in
    assert pillar["hwgen"]["name"] == "gen10"
    assert pillar["hwgen"] == {
        **pillar["hwgen_profiles"]["gen10"],
        "name": "gen10",
        "config": pillar["hwgen"]["config"],
    }
    assert pillar["hwgen"]["config"]["sysctl"]["net.core.default_qdisc"] == "fq"
    assert standin.token_v1 not in str(pillar)


def test_highstate_runs_on_a_stale_cache_when_netbox_is_down(master, server, standin):
    assert any(name.startswith("site-") for name in _expire_cache(master))
    ret, pillar = _highstate_while_down(server, standin)
    assert ret.returncode == 0, ret
    (state,) = ret.data.values()
    assert state["result"] is True
    assert state["name"] == "rack=R1 stale=True"
    meta = pillar.data["netbox"]["_meta"]
    assert meta["stale"] is True and meta["age_s"] >= 3600 and meta["error"]
    assert "_errors" not in pillar.data


def test_minion_not_in_netbox_gets_no_netbox_pillar(ghost):
    ret = ghost.salt_call_cli(timeout=120).run("pillar.items", unmask=True)
    assert ret.returncode == 0, ret
    assert "netbox" not in ret.data
    assert "_errors" not in ret.data
    assert "hwgen_profiles" in ret.data  # the rest of the pillar is there


def test_runner_cache_info_and_refresh(master, server, standin):
    info = master.salt_run_cli(timeout=120).run("netbox.pillar_cache_info")
    assert info.returncode == 0, info
    (source,) = info.data.values()
    assert source["driver"] == "localfs"
    site = next(v for k, v in source["records"].items() if k.startswith("site-"))
    assert site["scope"]["slug"] == "lab1"
    assert site["counts"]["dcim.devices"] == 24
    standin.reset_requests()
    ret = master.salt_run_cli(timeout=120).run("netbox.pillar_refresh", "site=lab1")
    assert ret.returncode == 0, ret
    (refreshed,) = ret.data.values()
    assert refreshed["sites"]["lab1"]["mode"] == "full"
    assert standin.count(method="GET", path_prefix="/api/dcim/devices/") >= 2  # index + site
    assert standin.token_v1 not in str(info.data) + str(ret.data)
    # a forced refresh while NetBox is down fails: it never reports the cached copy as refreshed
    standin.faults.down()
    try:
        down = master.salt_run_cli(timeout=120).run("netbox.pillar_refresh", "site=lab1")
    finally:
        standin.faults.up()
    assert down.returncode != 0, down
    text = str(down.data) + str(down.stdout) + str(down.stderr)
    assert "netbox.pillar_refresh" in text and "failed" in text
    assert standin.token_v1 not in text
