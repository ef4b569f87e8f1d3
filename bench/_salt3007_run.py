"""
Run Salt 3007.8's own ``salt.pillar.netbox.ext_pillar`` for a list of minions (executed by
``bench/pillar_bench.py`` with the Python of ``.venv/salt3007``, where salt==3007.8 is installed).

Reads ``{"url", "token", "minions", "options"}`` as JSON on stdin, prints one JSON line:
``{"wall_s", "minions", "with_pillar", "empty", "errors", "sample"}``.
"""

import json
import resource
import sys
import time

# salt==3007.8, from the venv this script runs in
from salt.pillar import netbox


def _raise_fd_limit():
    """3007.8's salt.utils.http.query leaks a file descriptor per request (tornado IOLoops):
    with the usual 1,024 limit a fleet refresh in one process dies of EMFILE after ~6,000
    requests. Lift the soft limit to the hard one so that every minion is measured."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main():
    args = json.load(sys.stdin)
    _raise_fd_limit()
    options = dict(args["options"], api_url=args["url"] + "/api", api_token=args["token"])
    with_pillar = empty = errors = 0
    sample = first_error = None
    started = time.perf_counter()
    for minion in args["minions"]:
        try:
            ret = netbox.ext_pillar(minion, {}, **options)
        except Exception as err:  # pylint: disable=broad-except
            errors += 1
            if first_error is None:
                first_error = f"{minion}: {type(err).__name__}: {err}"
            continue
        if ret and ret.get("netbox"):
            with_pillar += 1
            if sample is None:
                node = ret["netbox"]
                sample = {
                    "name": node.get("name"),
                    "interfaces": len(node.get("interfaces") or ()),
                    "connected_devices": len(node.get("connected_devices") or {}),
                }
        else:
            empty += 1
    wall = time.perf_counter() - started
    print(
        json.dumps(
            {
                "wall_s": wall,
                "minions": len(args["minions"]),
                "with_pillar": with_pillar,
                "empty": empty,
                "errors": errors,
                "sample": sample,
                "first_error": first_error,
            }
        )
    )


if __name__ == "__main__":
    main()
