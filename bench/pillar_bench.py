#!/usr/bin/env python3
"""
NetBox ext_pillar benchmark: Salt 3007.8's ``salt.pillar.netbox`` against saltext-turnup's pillar,
side by side, on the same NetBox stand-in holding a generated 1,000-device site
(25 racks x (2 ToR + 38 servers), 4 interfaces per server, IPs, MACs, cables to both ToRs).

Measured (NetBox requests counted by the stand-in, wall time by the clients):

- full-fleet refresh: every minion of the site compiles its pillar once. Salt 3007 (with
  ``interfaces``, ``interface_ips``, ``connected_devices``, ``site_prefixes: False``, other
  options at their defaults) asks NetBox for every minion; ours starts from an empty cache;
- warm compile: ours again, in a new process (another MWorker) reading the cache (p50/p95);
- refresh after the TTL with nothing changed (ours): the change log only.

Salt 3007.8 is installed by this script in its own venv ``.venv/salt3007`` (inside the
project's gitignored venv, so linters and git never see it).
Usage: ``python bench/pillar_bench.py [--racks 25] [--servers 38] [--salt3007-python PATH]``.
The last line is machine-readable::

    pillar_bench: devices=N requests_ratio=X wall_ratio=Y warm_p50_ms=Z
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
from _pillar_site import build_site  # noqa: E402  pylint: disable=wrong-import-position

from tests.support.netbox_standin import NetBoxStandin  # noqa: E402

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


def run_salt3007(python, standin, minions, chunk):
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
                "url": standin.url,
                "token": standin.token_v1,
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--racks", type=int, default=25)
    parser.add_argument("--tors", type=int, default=2)
    parser.add_argument("--servers", type=int, default=38)
    parser.add_argument("--salt3007-python", help="python of an existing salt==3007.8 venv")
    parser.add_argument(
        "--salt3007-chunk",
        type=int,
        default=100,
        help="minions per Salt 3007.8 process (it leaks file descriptors)",
    )
    args = parser.parse_args(argv)

    py3007 = salt3007_python(args.salt3007_python)
    standin = NetBoxStandin().start()
    try:
        started = time.perf_counter()
        site = build_site(standin.store, racks=args.racks, tors=args.tors, servers=args.servers)
        minions = site["devices"]
        counts = {
            ep: len(standin.store.query_ids(ep, {}))
            for ep in ("dcim.devices", "dcim.interfaces", "ipam.ip-addresses", "dcim.cables")
        }
        log(
            f"bench: site of {len(minions)} devices ({args.racks} racks x {args.tors} ToR + "
            f"{args.servers} servers), {counts['dcim.interfaces']} interfaces, "
            f"{counts['ipam.ip-addresses']} IPs, {counts['dcim.cables']} cables "
            f"({time.perf_counter() - started:.1f}s) on {standin.url}"
        )

        # --- Salt 3007.8
        standin.reset_requests()
        old = run_salt3007(py3007, standin, minions, args.salt3007_chunk)
        old_requests = len(standin.requests)
        log(
            f"salt 3007.8 full refresh : {old_requests:6d} requests {old['wall_s']:8.2f}s  "
            f"({old['with_pillar']} pillars, {old['empty']} empty, {old['errors']} errors; "
            f"sample {old['sample']})"
        )
        if old["errors"]:
            log(f"salt 3007.8 first error: {old['first_error']}")

        # --- ours: full refresh from an empty cache, warm compile, refresh after the TTL
        with tempfile.TemporaryDirectory(prefix="pillar-bench-") as cachedir:
            payload = {
                "url": standin.url,
                "token": standin.token_v1,
                "minions": minions,
                "cachedir": cachedir,
                "options": {},
                "profiles": PROFILES,
            }
            ours_py = [sys.executable, str(HERE / "_pillar_ours.py")]
            env_note = ""
            standin.reset_requests()
            full = run_json(ours_py, dict(payload, phase="full"))
            new_requests = len(standin.requests)
            log(
                f"saltext-turnup full refresh: {new_requests:6d} requests {full['wall_s']:8.2f}s  "
                f"({full['with_pillar']} pillars; sample {full['sample']})"
            )
            standin.reset_requests()
            warm = run_json(ours_py, dict(payload, phase="warm"))
            warm_requests = len(standin.requests)
            lat = warm["latencies_ms"][1:]  # the first call loads the site record into memory
            p50, p95 = statistics.median(lat), percentile(lat, 95)
            log(
                f"saltext-turnup warm compile: {warm_requests:6d} requests  p50 {p50:.3f} ms  "
                f"p95 {p95:.3f} ms  (first call, loading the cache: "
                f"{warm['latencies_ms'][0]:.0f} ms){env_note}"
            )
            _age_cache(cachedir)
            standin.reset_requests()
            ttl = run_json(ours_py, dict(payload, phase="after-ttl"))
            log(
                f"saltext-turnup after TTL (nothing changed): {len(standin.requests)} requests "
                f"{ttl['wall_s']:.2f}s"
            )
        requests_ratio = old_requests / max(new_requests, 1)
        wall_ratio = old["wall_s"] / max(full["wall_s"], 1e-9)
        log(
            f"ratios: requests {requests_ratio:.1f}x fewer (target >= 50x), wall time "
            f"{wall_ratio:.1f}x less (target >= 10x), warm p50 {p50:.3f} ms (target <= 2 ms)"
        )
        if full["with_pillar"] != len(minions) or old["with_pillar"] != len(minions):
            log("bench: WARNING: not every minion got a pillar")
        print(
            f"pillar_bench: devices={len(minions)} requests_ratio={requests_ratio:.1f} "
            f"wall_ratio={wall_ratio:.1f} warm_p50_ms={p50:.3f}",
            flush=True,
        )
    finally:
        standin.stop()
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
