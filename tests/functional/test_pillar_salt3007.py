"""
``compat: salt3007`` against Salt 3007.8's own ``salt.pillar.netbox``, run in its own venv
(``.venv/salt3007``, created by ``bench/pillar_bench.py``) on the same seeded NetBox: for the
option sets 3007 can serve on NetBox 4, the two pillars are equal, lists in the same order.
With its default ``site_prefixes: True`` 3007 crashes on NetBox 4.2+ (``KeyError: 'site'``)
where ours returns the prefixes without their scope.
"""

import json
import pathlib
import subprocess

import pytest
import salt.config

from salt_ext.utils.pillar import compile_pillar
from salt_ext.utils.pillar.cache import forget_memory
from salt_ext.utils.pillar.engine import forget_engines

PYTHON3007 = pathlib.Path(__file__).resolve().parents[2] / ".venv" / "salt3007" / "bin" / "python"

pytestmark = pytest.mark.skipif(
    not PYTHON3007.exists(),
    reason=f"no Salt 3007.8 venv at {PYTHON3007} (created by 'python bench/pillar_bench.py')",
)

RUN_3007 = """
import json, sys
from salt.pillar import netbox
args = json.load(sys.stdin)
out = {}
for minion in args["minions"]:
    try:
        out[minion] = netbox.ext_pillar(minion, {}, **args["options"])
    except Exception as err:
        out[minion] = {"__error__": type(err).__name__ + ": " + str(err)}
print(json.dumps(out, default=str))
"""

MINIONS = ["srv-r1-01", "srv-r3-04", "tor1-r1", "oob-r1"]


def salt3007(target, minions, options):
    payload = dict(options, api_url=target.url + "/api", api_token=target.token)
    done = subprocess.run(
        [str(PYTHON3007), "-c", RUN_3007],
        input=json.dumps({"minions": minions, "options": payload}),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def ours(tmp_path, target, minions, options):
    forget_memory()
    forget_engines()
    opts = salt.config.DEFAULT_MASTER_OPTS.copy()
    opts.update(cachedir=str(tmp_path / "cache"), cache="localfs")
    kwargs = dict(options, compat="salt3007", api_url=target.url + "/api", api_token=target.token)
    out = {m: compile_pillar(m, {}, opts, {}, **kwargs) for m in minions}
    forget_memory()
    forget_engines()
    return json.loads(json.dumps(out, default=str))


@pytest.mark.parametrize(
    "options",
    [
        {"interfaces": True, "interface_ips": True, "connected_devices": True},
        {"interfaces": True, "interface_ips": True, "site_details": False},
        {
            "interfaces": True,
            "interface_ips": True,
            "connected_devices": True,
            "proxy_return": False,
        },
        {},
    ],
    ids=["interfaces-ips-connected", "no-site-details", "connected-no-proxy", "defaults"],
)
def test_same_pillar_as_salt3007(tmp_path, netbox_target, options):
    options = dict(options, site_prefixes=False)
    old = salt3007(netbox_target, MINIONS, options)
    new = ours(tmp_path, netbox_target, MINIONS, options)
    for minion in MINIONS:
        assert "__error__" not in old[minion], old[minion]
        assert new[minion] == old[minion], minion
    assert netbox_target.token not in json.dumps(new)


def test_site_prefixes_where_salt3007_crashes(tmp_path, netbox_target):
    old = salt3007(netbox_target, ["srv-r1-01"], {})
    assert old["srv-r1-01"]["__error__"] == "KeyError: 'site'"
    new = ours(tmp_path, netbox_target, ["srv-r1-01"], {})["srv-r1-01"]["netbox"]
    prefixes = new["site"]["prefixes"]
    assert len(prefixes) == 8
    assert not {"scope", "scope_type", "scope_id", "site"} & {k for p in prefixes for k in p}
    # everything else is 3007's shape: the same pillar with the prefixes switched off
    without = salt3007(netbox_target, ["srv-r1-01"], {"site_prefixes": False})["srv-r1-01"]
    new["site"].pop("prefixes")
    assert new == without["netbox"]


def test_interfaces_without_ips_where_salt3007_dropped_them(tmp_path, netbox_target):
    # 3007.8 fetched the interfaces but kept them only with interface_ips (documented difference)
    old = salt3007(netbox_target, ["tor1-r1"], {"interfaces": True, "site_prefixes": False})
    new = ours(tmp_path, netbox_target, ["tor1-r1"], {"interfaces": True, "site_prefixes": False})
    node = new["tor1-r1"]["netbox"]
    assert "interfaces" not in old["tor1-r1"]["netbox"]
    names = [i["name"] for i in node.pop("interfaces")]
    assert names[:3] == ["Ethernet1", "Ethernet2", "Ethernet3"] and "Ethernet10" in names
    assert new["tor1-r1"] == old["tor1-r1"]
