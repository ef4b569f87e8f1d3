"""
Run saltext-turnup's NetBox ext_pillar for a list of minions (one phase of
``bench/pillar_bench.py``, in a process of its own like a master's MWorker).

Reads ``{"url", "token", "minions", "cachedir", "pki_dir", "phase", "options", "profiles"}`` as
JSON on stdin and prints one JSON line: ``{"wall_s", "minions", "with_pillar", "latencies_ms",
"requests", "rss_kb", "sample"}``. ``phase`` is a label only: the cache in ``cachedir`` decides
whether NetBox is asked. ``requests`` is counted by the client's own RequestCounter; ``rss_kb``
is the process's resident memory before the first compile and after the last one.
"""

import json
import sys
import time

import requests  # noqa: F401  (imported before measuring: every MWorker has it loaded)
import salt.config

from salt_ext.utils.pillar import compile_pillar
from salt_ext.utils.pillar.engine import get_engine


def main():
    args = json.load(sys.stdin)
    opts = salt.config.DEFAULT_MASTER_OPTS.copy()
    opts.update(
        pki_dir=args.get("pki_dir") or args["cachedir"],
        cachedir=args["cachedir"],
        cache="localfs",
        netbox={"url": args["url"], "token": args["token"], "timeout": 30},
    )
    context = {}
    pillar = {"hwgen_profiles": args.get("profiles") or {}}
    options = args.get("options") or {}
    latencies = []
    with_pillar = 0
    sample = None
    rss_before = _rss_kb()
    started = time.perf_counter()
    for minion in args["minions"]:
        t0 = time.perf_counter()
        ret = compile_pillar(minion, pillar, opts, context, **options)
        latencies.append((time.perf_counter() - t0) * 1000.0)
        node = ret.get("netbox")
        if node:
            with_pillar += 1
            if sample is None and node.get("interfaces", {}).get("eno1"):
                sample = {
                    "name": node["name"],
                    "interfaces": len(node["interfaces"]),
                    "eno1_peer": node["interfaces"]["eno1"]["peer"]["device"],
                    "tors": [d["name"] for d in node["rack_devices"].get("tor-switch", ())],
                    "hwgen": (ret.get("hwgen") or {}).get("name"),
                }
    wall = time.perf_counter() - started
    engine = get_engine(opts, context, options)
    print(
        json.dumps(
            {
                "phase": args.get("phase"),
                "wall_s": wall,
                "minions": len(args["minions"]),
                "with_pillar": with_pillar,
                "latencies_ms": latencies,
                "requests": engine.source().counter.snapshot()["total"],
                "rss_kb": [rss_before, _rss_kb()],
                "sample": sample,
            }
        )
    )


def _rss_kb():
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


if __name__ == "__main__":
    main()
