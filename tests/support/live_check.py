"""Run the suite against a NetBox "as if live" and prove it leaves nothing behind (issue 11).

``python -m tests.support.live_check [--url URL] [-- PYTEST ARGS]``

- with ``--url`` (or ``NETBOX_URL``): that NetBox (``NETBOX_TOKEN`` from the environment), as
  ``make test-live`` does;
- without: a stand-in started as a separate process (``python -m tests.support.netbox_standin``), so
  every test takes the path it takes on a real NetBox (``make test-live-standin``).

It imports lab1 first (idempotent, as the session fixture does), counts the objects of every endpoint
a test may touch, runs pytest with ``NETBOX_URL``/``NETBOX_TOKEN`` (and ``NETBOX_ALLOW_WRITES`` as
given, ``1`` for the stand-in), counts again and exits non-zero if pytest failed or a count differs.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import secrets
import subprocess
import sys

from tests.support.live_lab import object_counts
from tests.support.saltenv import LAB1_SNAPSHOT, REPO_ROOT


def _client(url, token):
    from salt_ext.utils.netbox import NetBoxClient, load_config  # noqa: PLC0415

    return NetBoxClient(load_config({"netbox": {"url": url, "token": token, "timeout": 30}}))


def _start_standin():
    token = secrets.token_hex(20)
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "tests.support.netbox_standin", "--port", "0", "--token-v1", token],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise SystemExit("the stand-in did not start")
    return proc, json.loads(line)["url"], token


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    pytest_args = []
    if "--" in argv:
        pytest_args = argv[argv.index("--") + 1 :]
        argv = argv[: argv.index("--")]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("NETBOX_URL"))
    args = parser.parse_args(argv)
    proc = None
    env = dict(os.environ)
    if args.url:
        url, token = args.url, os.environ.get("NETBOX_TOKEN", "")
        if not token:
            raise SystemExit("NETBOX_TOKEN is not set (a token of the NetBox at --url/NETBOX_URL)")
    else:
        proc, url, token = _start_standin()
        env["NETBOX_ALLOW_WRITES"] = "1"
    env.update(NETBOX_URL=url, NETBOX_TOKEN=token)
    try:
        from salt_ext.utils.netbox.seed import import_snapshot  # noqa: PLC0415

        client = _client(url, token)
        with open(LAB1_SNAPSHOT, encoding="utf-8") as fh:
            import_snapshot(client, copy.deepcopy(json.load(fh)))
        before = object_counts(client)
        print(
            f"live_check: {url}: objects before: {json.dumps(before, sort_keys=True)}", flush=True
        )
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            *(pytest_args or ["tests/functional", "tests/integration"]),
        ]
        rc = subprocess.call(cmd, cwd=REPO_ROOT, env=env)  # noqa: S603
        after = object_counts(client)
        print(f"live_check: objects after:  {json.dumps(after, sort_keys=True)}", flush=True)
        diff = {
            ep: (before.get(ep), after.get(ep)) for ep in before if before.get(ep) != after.get(ep)
        }
        if diff:
            print(f"live_check: LEFT BEHIND (before, after): {diff}", flush=True)
            return rc or 3
        print(f"live_check: object counts before = after ({sum(before.values())} objects)")
        return rc
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
