"""
Two masters sharing Salt's ``redis`` cache fetch a site once: the records and the single-flight
lock live in a real Redis server (Debian's redis-server, started on 127.0.0.1 for this module).
"""

import collections
import shutil
import socket
import subprocess
import time

import pytest
import redis

from salt_ext.utils.pillar.cache import forget_memory
from salt_ext.utils.pillar.engine import forget_engines
from tests.functional.test_pillar import compile_pairs, lab1_names, master_opts

REDIS_SERVER = shutil.which("redis-server")

pytestmark = pytest.mark.skipif(
    REDIS_SERVER is None,
    reason="redis-server is not installed (CI installs Debian's redis-server: apt-get install "
    "redis-server)",
)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory):
    port = _free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(  # pylint: disable=consider-using-with
        [
            REDIS_SERVER,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"redis-server did not start on 127.0.0.1:{port}")
            time.sleep(0.1)
    yield port
    proc.terminate()
    proc.wait(timeout=10)


def redis_master(tmp_path, target, name, port):
    opts = master_opts(tmp_path, target, name=name)
    opts.update(
        {
            "cache": "redis",
            "cache.redis.host": "127.0.0.1",
            "cache.redis.port": port,
            "cache.redis.db": "0",
        }
    )
    return opts


@pytest.mark.live_capable
def test_two_masters_share_one_site_fetch(tmp_path, fresh_netbox, lab1_snapshot, redis_port):
    redis.Redis(host="127.0.0.1", port=redis_port).flushall()
    forget_memory()
    forget_engines()
    lab = fresh_netbox.lab
    master_a = redis_master(tmp_path, fresh_netbox, "master-a", redis_port)
    master_b = redis_master(tmp_path, fresh_netbox, "master-b", redis_port)
    assert master_a["cachedir"] != master_b["cachedir"]  # nothing shared on disk
    minions = lab.sub(lab1_names(lab1_snapshot, 12))

    # baseline: what one minion alone costs one master (localfs cache, nothing cached); requests
    # per endpoint as the product's RequestCounter counts them in each worker
    solo = master_opts(tmp_path, fresh_netbox, name="solo")
    baseline = collections.Counter()
    assert compile_pairs([(solo, minions[0])], baseline) == {minions[0]: (None, minions[0])}
    assert baseline["dcim.interfaces"] == -(-456 // 100)

    pairs = [(master_a if i % 2 else master_b, m) for i, m in enumerate(minions)]
    shared = collections.Counter()
    results = compile_pairs(pairs, shared)
    assert results == {m: (None, m) for m in minions}
    # two masters, twelve minions: exactly the requests of one minion on one master
    assert shared == baseline
    # one fetch for both masters: every endpoint's pages read once
    assert shared["dcim.sites"] == 1
    assert shared["dcim.interfaces"] == -(-456 // 100)
    assert shared["dcim.cables"] == 1
    assert all(
        n == 1
        for endpoint, n in shared.items()
        if endpoint
        not in ("dcim.interfaces", "dcim.mac-addresses", "core.object-changes", "dcim.devices")
    )

    # the records are in Redis (one hash per bank), not in either master's cachedir
    client = redis.Redis(host="127.0.0.1", port=redis_port)
    banks = [k for k in client.keys("*") if b"netbox_pillar/" in k and client.type(k) == b"hash"]
    fields = {f.decode() for bank in banks for f in client.hkeys(bank)}
    assert any(f.startswith("site-") and f.endswith(".meta") for f in fields), fields
    assert not list((tmp_path / "master-a" / "cache").glob("netbox_pillar/*/*.p"))

    # a third master on the same Redis compiles without asking NetBox at all
    master_c = redis_master(tmp_path, fresh_netbox, "master-c", redis_port)
    third = collections.Counter()
    box = lab.name("srv-r2-01")
    results = compile_pairs([(master_c, box)], third)
    assert results == {box: (None, box)}
    assert third == collections.Counter()
