#!/usr/bin/env python3
"""
NetBox ext_pillar benchmark: Salt 3007.8's ``salt.pillar.netbox`` against saltext-turnup's pillar,
side by side, on the same NetBox, in three scenarios (each printing its own ratios):

- ``one``: one site of 1,000 devices (25 racks x (2 ToR + 38 servers));
- ``ten``: 10 sites of 1,000 devices (10,000 devices);
- ``hundred``: 100 sites of 10 devices (1 rack x (2 ToR + 8 servers)).

Every server has 4 interfaces (two cabled to the ToRs and bonded, a BMC), IPs and MACs.

The NetBox is the stand-in (tests/support, in-process, loopback) unless ``NETBOX_URL`` and
``NETBOX_TOKEN`` are set: then the fleet is seeded into that NetBox through its API (bulk POSTs,
every object tagged ``pillar-bench-<run>`` and deleted afterwards), which needs
``NETBOX_ALLOW_WRITES=1`` (the bench refuses to write to a NetBox otherwise). Our requests are
counted by the client's own RequestCounter; Salt 3007.8's by the stand-in, or, on a real NetBox,
by a loopback proxy counting with the same RequestCounter.

Measured per scenario:

- cold full-fleet refresh: every minion compiles its pillar once. Salt 3007 (``interfaces``,
  ``interface_ips``, ``connected_devices``, ``site_prefixes: False``) asks NetBox for every minion
  (``--salt3007-sample N`` measures N minions spread over the fleet and extrapolates, labelled as
  such: the 10,000-device baseline takes long on 2 cores); ours from an empty cache, the
  master's accepted minions being the fleet (``pki_dir/minions``);
- warm compile: ours in a new process (another MWorker) reading the cache: p50/p95, and the
  process's RSS growth per 1,000 devices once it holds every site;
- refresh after the TTL with nothing changed, and after 1 % of the devices changed (ours; Salt
  3007 has no cache: its refresh is the cold one again).

Salt 3007.8 is installed by this script in its own venv ``.venv/salt3007``.
Usage: ``python bench/pillar_bench.py [--scenarios one,ten,hundred] [--salt3007-sample N]``.
Each scenario ends with a machine-readable line::

    pillar_bench: devices=N sites=S requests_ratio=X wall_ratio=Y warm_p50_ms=Z
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

import salt.cache  # noqa: E402
import salt.config  # noqa: E402
from _pillar_netbox import ApiTarget, CountingProxy, StandinTarget  # noqa: E402
from _pillar_site import build_fleet  # noqa: E402  pylint: disable=wrong-import-position

#: the Salt 3007.8 venv lives inside the project's (gitignored, lint-excluded) .venv
VENV3007 = REPO / ".venv" / "salt3007"
#: salt==3007.8's sdist does not declare its requirements to pip: what ext_pillar needs to import
SALT3007_REQUIREMENTS = [
    "salt==3007.8",
    "tornado>=6.4.1",
    "msgpack>=1.0.0",
    "PyYAML",
    "Jinja2>=3.1.5",
    "MarkupSafe",
    "requests>=2.32.3",
    "certifi",
    "distro>=1.0.1",
    "psutil>=5.0.0",
    "packaging==24.0",
    "looseversion",
    "cryptography>=42.0.0",
    "jmespath",
    "pycryptodomex>=3.9.8",
    "pyzmq>=25.1.2",
    "aiohttp>=3.10.2",
    "croniter>=0.3.0",
    "python-dateutil>=2.8.1",
    "jaraco.text>=4.0.0",
    "jaraco.functools>=4.1.0",
    "contextvars",
    "setproctitle>=1.2.3",
]
SALT3007_OPTIONS = {
    "interfaces": True,
    "interface_ips": True,
    "connected_devices": True,
    "site_prefixes": False,
}
PROFILES = {
    "gen10": {
        "description": "Dell PowerEdge M630 blade (bench)",
        "device_types": ["poweredge-m630"],
        "config": {"mtu": 9000, "bond": {"name": "bond0", "members": ["eno1", "eno2"]}},
    }
}


def log(msg):
    print(msg, flush=True)


def salt3007_python(explicit):
    """The Python of a venv with salt==3007.8 (created in .venv/salt3007 when missing)."""
    if explicit:
        return explicit
    python = VENV3007 / "bin" / "python"
    probe = [
        str(python),
        "-c",
        "import salt.version, salt.pillar.netbox; print(salt.version.__version__)",
    ]
    if python.exists():
        done = subprocess.run(probe, capture_output=True, text=True, check=False)
        if done.returncode == 0 and done.stdout.strip().startswith("3007.8"):
            return str(python)
    log(f"bench: installing salt==3007.8 into {VENV3007} (once)")
    subprocess.run([sys.executable, "-m", "venv", str(VENV3007)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *SALT3007_REQUIREMENTS], check=True)
    subprocess.run(probe, check=True, capture_output=True)
    return str(python)


def run_json(cmd, payload):
    done = subprocess.run(
        cmd, input=json.dumps(payload), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"bench: {cmd[-1]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_salt3007(python, url, token, minions, chunk):
    """
    Salt 3007.8's ext_pillar for every minion, ``chunk`` minions per process: 3007.8 leaks three
    file descriptors per NetBox request (one tornado IOLoop each), so one process cannot compile
    a 1,000-device fleet (EMFILE). Wall times are summed (measured inside each process, without
    interpreter start-up).
    """
    total = {"wall_s": 0.0, "with_pillar": 0, "empty": 0, "errors": 0}
    sample = first_error = None
    for start in range(0, len(minions), chunk):
        part = run_json(
            [python, str(HERE / "_salt3007_run.py")],
            {
                "url": url,
                "token": token,
                "minions": minions[start : start + chunk],
                "options": SALT3007_OPTIONS,
            },
        )
        for key in total:
            total[key] += part[key]
        sample = sample or part["sample"]
        first_error = first_error or part["first_error"]
    return dict(total, sample=sample, first_error=first_error)


def percentile(values, pct):
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100.0 * (len(ordered) - 1))))
    return ordered[index]


#: name -> (sites, racks per site, ToRs per rack, servers per rack)
SCENARIOS = {
    "one": (1, 25, 2, 38),
    "ten": (10, 25, 2, 38),
    "hundred": (100, 1, 2, 8),
}


def spread(items, count, block=1):
    """
    About ``count`` items spread evenly over ``items`` in whole blocks of ``block`` (racks: a
    sample of whole racks keeps the fleet's mix of ToRs and servers, whose costs differ 6x).
    """
    if not count or count >= len(items):
        return list(items)
    blocks = [items[i : i + block] for i in range(0, len(items), block)]
    want = max(1, round(count / block))
    step = len(blocks) / want
    return [item for i in range(want) for item in blocks[int(i * step)]]


def make_target():
    url, token = os.environ.get("NETBOX_URL"), os.environ.get("NETBOX_TOKEN")
    if not (url and token):
        return StandinTarget()
    if os.environ.get("NETBOX_ALLOW_WRITES") != "1":
        raise SystemExit(
            f"bench: NETBOX_URL is set ({url}) but NETBOX_ALLOW_WRITES=1 is not: the bench seeds "
            "its sites into NetBox (tagged, deleted afterwards) and writes only when told it may"
        )
    return ApiTarget(url, token)


def run_scenario(name, args, py3007):  # pylint: disable=too-many-locals,too-many-statements
    """One scenario on a NetBox of its own (a fresh stand-in, or seeded objects removed after)."""
    sites_n, racks, tors, servers = SCENARIOS[name]
    target = make_target()
    proxy = None
    try:
        started = time.perf_counter()
        sites = build_fleet(target.writer(), sites=sites_n, racks=racks, tors=tors, servers=servers)
        minions = [m for site in sites for m in site["devices"]]
        device_ids = [i for site in sites for i in site["device_ids"]]
        log(
            f"\n=== scenario {name}: {sites_n} site(s) x {racks} rack(s) x ({tors} ToR + {servers} "
            f"servers) = {len(minions)} devices on the {target.kind} {target.url} "
            f"(seeded in {time.perf_counter() - started:.1f}s)"
        )

        # --- Salt 3007.8 (on a sample of the minions when asked: extrapolated)
        sample = spread(
            minions, args.salt3007_sample or SAMPLE_DEFAULTS.get(name, 0), block=tors + servers
        )
        scale = len(minions) / len(sample)
        label = (
            ""
            if scale == 1
            else f" (EXTRAPOLATED x{scale:.1f} from {len(sample)} minions in whole racks)"
        )
        if isinstance(target, StandinTarget):
            target.standin.reset_requests()
            old = run_salt3007(py3007, target.url, target.token, sample, args.salt3007_chunk)
            old_requests = len(target.standin.requests) * scale
        else:
            proxy = CountingProxy(target.url)
            old = run_salt3007(py3007, proxy.url, target.token, sample, args.salt3007_chunk)
            old_requests = proxy.total * scale
        old_wall = old["wall_s"] * scale
        log(
            f"salt 3007.8 full refresh  : {old_requests:9.0f} requests {old_wall:8.2f}s{label}  "
            f"({old['with_pillar']} pillars, {old['empty']} empty, {old['errors']} errors; "
            f"sample {old['sample']})"
        )
        if old["errors"]:
            log(f"salt 3007.8 first error: {old['first_error']}")

        # --- ours
        with tempfile.TemporaryDirectory(prefix="pillar-bench-") as cachedir:
            pki = pathlib.Path(cachedir) / "pki"
            (pki / "minions").mkdir(parents=True)
            for minion in minions:  # the master's accepted minions: the whole fleet
                (pki / "minions" / minion).write_text("bench\n")
            payload = {
                "url": target.url,
                "token": target.token,
                "minions": minions,
                "cachedir": cachedir,
                "pki_dir": str(pki),
                "options": {},
                "profiles": PROFILES,
            }
            ours_py = [sys.executable, str(HERE / "_pillar_ours.py")]
            cold = run_json(ours_py, dict(payload, phase="cold"))
            log(
                f"saltext-turnup cold refresh: {cold['requests']:9d} requests "
                f"{cold['wall_s']:8.2f}s  ({cold['with_pillar']} pillars; sample {cold['sample']})"
            )
            warm = run_json(ours_py, dict(payload, phase="warm"))
            lat = warm["latencies_ms"]
            lat = lat[1:] if len(lat) > 1 else lat  # the first call loads the records
            p50, p95 = statistics.median(lat), percentile(lat, 95)
            rss = (warm["rss_kb"][1] - warm["rss_kb"][0]) / 1024.0
            rss_per_1k = rss / (len(minions) / 1000.0)
            log(
                f"saltext-turnup warm compile: {warm['requests']:9d} requests  p50 {p50:.3f} ms  "
                f"p95 {p95:.3f} ms  (first call {warm['latencies_ms'][0]:.0f} ms); RSS growth "
                f"{rss:.1f} MiB holding every site = {rss_per_1k:.1f} MiB per 1,000 devices"
            )
            _age_cache(cachedir)
            ttl = run_json(ours_py, dict(payload, phase="after-ttl"))
            log(
                f"saltext-turnup after TTL, nothing changed: {ttl['requests']} requests "
                f"{ttl['wall_s']:.2f}s for the fleet"
            )
            changed = spread(device_ids, max(1, len(device_ids) // 100))
            target.change_devices(changed, f"BENCH-{int(time.time())}")
            _age_cache(cachedir)
            one_pct = run_json(ours_py, dict(payload, phase="after-1pct"))
            log(
                f"saltext-turnup after TTL, {len(changed)} devices (1 %) changed: "
                f"{one_pct['requests']} requests {one_pct['wall_s']:.2f}s for the fleet"
            )
        requests_ratio = old_requests / max(cold["requests"], 1)
        wall_ratio = old_wall / max(cold["wall_s"], 1e-9)
        log(
            f"ratios ({name}): requests {requests_ratio:.1f}x fewer, wall time {wall_ratio:.1f}x "
            f"less{' (3007 extrapolated)' if scale != 1 else ''}, warm p50 {p50:.3f} ms"
        )
        if cold["with_pillar"] != len(minions) or old["with_pillar"] != len(sample):
            log("bench: WARNING: not every minion got a pillar")
        print(
            f"pillar_bench: devices={len(minions)} sites={sites_n} "
            f"requests_ratio={requests_ratio:.1f} wall_ratio={wall_ratio:.1f} "
            f"warm_p50_ms={p50:.3f}",
            flush=True,
        )
    finally:
        if proxy is not None:
            proxy.close()
        target.close()


#: Salt 3007.8 minions measured by default (0: all); the 10,000-device baseline is sampled
SAMPLE_DEFAULTS = {"ten": 1000}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument(
        "--scenarios",
        default="one,ten,hundred",
        help="comma-separated scenarios to run: one, ten, hundred (default: all three)",
    )
    parser.add_argument("--salt3007-python", help="python of an existing salt==3007.8 venv")
    parser.add_argument(
        "--salt3007-chunk",
        type=int,
        default=100,
        help="minions per Salt 3007.8 process (it leaks file descriptors)",
    )
    parser.add_argument(
        "--salt3007-sample",
        type=int,
        default=0,
        help="measure Salt 3007.8 on this many minions spread over the fleet and extrapolate "
        "(default: all, except 1,000 for 'ten')",
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(
            f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}"
        )
    py3007 = salt3007_python(args.salt3007_python)
    for name in names:
        run_scenario(name, args, py3007)
    return 0


def _age_cache(cachedir):
    """Age every cached record past its TTL (as if the TTL went by)."""
    opts = salt.config.DEFAULT_MASTER_OPTS.copy()
    opts.update(cachedir=cachedir, cache="localfs")
    cache = salt.cache.Cache(opts, driver="localfs")
    root = pathlib.Path(cachedir) / "netbox_pillar"
    for bank_dir in root.iterdir():
        if bank_dir.name == "locks" or not bank_dir.is_dir():
            continue
        bank = f"netbox_pillar/{bank_dir.name}"
        for key in cache.list(bank):
            if key.endswith(".meta"):
                meta = cache.fetch(bank, key)
                meta["synced_at"] -= 3600
                cache.store(bank, key, meta)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
