#!/usr/bin/env python3
"""
Boot verification latency benchmark: the time from a minion's start event to the action it
triggers, ``salt/minion/<id>/start`` -> reactor ``states/reactor/boot.sls`` -> runner
``turnup.on_boot`` (asks the minion for its grains and ``hardware.inventory``, reads NetBox,
``netbox.sync_inventory``, planned -> staged with a journal entry) -> event
``turnup/device/ready``, against a baseline measured in the same run: the bare reactor round-trip
of a trivial runner (tag ``reactor-bench/ping`` -> reactor -> ``runner.test.arg`` -> its
``salt/run/<jid>/ret``).

- NetBox: the stand-in on 127.0.0.1 seeded with lab1 (``salt_ext/data/snapshots/lab1.json``);
- Salt: one salt-master with the reactor of docs/security.md (``auto_accept: False``,
  ``autosign_grains_dir``) and two salt-minions, provisioning images of lab1's planned servers
  ``srv-r2-02`` and ``srv-r2-03`` (``autosign_grains: [serialnumber]``, each simulating its box:
  lab1's Dell M630 with this device's serial), started from the project's venv in a temporary
  directory (loopback only, nothing under /etc), stopped and removed at the end;
- the minions are accepted by autosign and verified once (their own start events); then, N times,
  alternately on the two minions: the device is set back to ``planned`` and its cached verdict
  dropped (so that every event is a full verification, not a repeat), the start event is fired
  on the master's event bus and the time to ``turnup/device/ready`` is taken; each boot event is
  paired with one baseline event under the same load.

The split of the boot latency (from the events' ``_stamp``) is printed as medians: the reactor
(start event -> the runner's ``salt/run/<jid>/new``), the runner until it asks the minion, the
minion's answer, and the rest (NetBox reads, ``sync_inventory``, status and journal, the event).
The last line is machine-readable::

    reactor_bench: events=N p50_s=X p95_s=Y

Usage: ``python bench/reactor_bench.py [--events 20] [--keep] [--root DIR]``.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import fnmatch
import getpass
import json
import os
import pathlib
import shutil
import signal
import socket
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
import salt.utils.event  # noqa: E402
import yaml  # noqa: E402

from salt_ext.utils.netbox import NetBoxClient, load_config  # noqa: E402
from salt_ext.utils.netbox.seed import import_snapshot  # noqa: E402
from salt_ext.utils.turnup.boot import BOOT_BANK, TAG_READY  # noqa: E402
from tests.support.netbox_standin import NetBoxStandin  # noqa: E402
from tests.support.saltenv import LAB1_SNAPSHOT  # noqa: E402
from tests.unit.hardware.lab import simulate_spec  # noqa: E402

BIN = pathlib.Path(sys.executable).parent
#: lab1's planned servers the bench's minions claim (unique serials, R2 is not auto_turnup here)
BOXES = {"srv-r2-02": "02:00:00:00:b2", "srv-r2-03": "02:00:00:00:b3"}
TEMPLATE = "srv-r1-01"  # lab1's simulated Dell M630
PING_TAG = "reactor-bench/ping"
PING_SLS = """\
{#- the baseline: the bare reactor round-trip of a trivial runner #}
reactor_bench_ping:
  runner.test.arg:
    - args:
      - seq: {{ data.get('seq') | json }}
"""
TARGET_P50 = 2.0
TIMEOUT = 120  # per event: generous on a loaded 2-core machine


def log(text):
    """Print one line at once (the bench's output may be a pipe)."""
    print(text, flush=True)


def percentile(values, pct):
    """The ``pct`` percentile of ``values``, linearly interpolated (``statistics``' inclusive)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    if len(ordered) == 1:
        return ordered[0]
    if pct >= 100:
        return ordered[-1]
    if pct <= 0:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[pct - 1]


def summary(samples):
    """``{"events", "p50", "p95"}`` of a list of latencies in seconds."""
    return {
        "events": len(samples),
        "p50": percentile(samples, 50),
        "p95": percentile(samples, 95),
    }


def summary_line(samples):
    """The bench's machine-readable last line for the boot latencies ``samples``."""
    stats = summary(samples)
    return (
        f"reactor_bench: events={stats['events']} p50_s={stats['p50']:.3f} p95_s={stats['p95']:.3f}"
    )


def report(boot, baseline, phases=None):
    """
    Print the human-readable results and, last, :func:`summary_line` of ``boot``. ``baseline``
    are the trivial runner's round-trips, ``phases`` ``{name: [seconds, ...]}`` the split of
    the boot latencies. Returns the summary of ``boot``.
    """
    stats, base = summary(boot), summary(baseline)
    log(
        f"baseline reactor -> runner.test.arg -> ret: p50 {base['p50']:.3f} s, "
        f"p95 {base['p95']:.3f} s ({base['events']} events)"
    )
    log(
        f"boot start -> turnup.on_boot -> {TAG_READY}: p50 {stats['p50']:.3f} s, "
        f"p95 {stats['p95']:.3f} s ({stats['events']} events, target p50 <= {TARGET_P50:g} s)"
    )
    for name, values in (phases or {}).items():
        if values:
            log(f"  {name:<48} p50 {percentile(values, 50):.3f} s")
    log(f"boot p50 over the baseline's: +{stats['p50'] - base['p50']:.3f} s")
    log(summary_line(boot))
    return stats


def client_of(standin):
    """A NetBox client on the stand-in."""
    return NetBoxClient(
        load_config({"netbox": {"url": standin.url, "token": standin.token_v1, "timeout": 60}})
    )


def stamp(data):
    """The epoch time of an event's ``_stamp`` (UTC, set by Salt where it was fired)."""
    value = datetime.datetime.fromisoformat(data["_stamp"])
    return value.replace(tzinfo=datetime.timezone.utc).timestamp()


class Bench:
    """The NetBox stand-in, the master and the minions of one bench run."""

    def __init__(self, root, keep=False):
        self.root = pathlib.Path(root)
        self.keep = keep
        self.procs = []
        self.standin = None
        self.devices = {}  # name -> NetBox device
        self.netbox = []  # per boot event: (NetBox requests, seconds the stand-in spent on them)

    def build_netbox(self):
        """The stand-in seeded with lab1; R2 not auto_turnup (the bench starts no turn-up)."""
        self.standin = NetBoxStandin().start()
        with open(LAB1_SNAPSHOT, encoding="utf-8") as handle:
            import_snapshot(client_of(self.standin), copy.deepcopy(json.load(handle)))
        api = client_of(self.standin)
        for name in BOXES:
            self.devices[name] = api.list("dcim.devices", {"name": name})[0]
        rack = self.devices[next(iter(BOXES))]["rack"]["id"]
        api.update("dcim.racks", rack, {"custom_fields": {"auto_turnup": False}})

    def write_configs(self):
        """The master's and the minions' configuration files under the work directory."""
        for sub in ("log", "run", "reactor-states/reactor_bench"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "reactor-states" / "reactor_bench" / "ping.sls").write_text(PING_SLS)
        token_file = self.root / "netbox.token"
        token_file.write_text(self.standin.token_v1 + "\n", encoding="utf-8")
        token_file.chmod(0o600)
        publish_port, ret_port = free_port(), free_port()
        common = {
            "user": getpass.getuser(),
            "file_roots": {"base": [str(REPO / "states"), str(self.root / "reactor-states")]},
            "pillar_roots": {"base": [str(REPO / "pillar")]},
            "log_level_logfile": "info",
        }
        master = dict(
            common,
            root_dir=str(self.root / "master"),
            interface="127.0.0.1",
            publish_port=publish_port,
            ret_port=ret_port,
            auto_accept=False,
            autosign_grains_dir=str(self.root / "master" / "autosign_grains"),
            reactor=[
                {"salt/minion/*/start": ["salt://reactor/boot.sls"]},
                {PING_TAG: ["salt://reactor_bench/ping.sls"]},
            ],
            netbox={"url": self.standin.url, "token_file": str(token_file), "timeout": 60},
            turnup_boot={"timeout": 60},
            log_file=str(self.root / "log" / "master"),
            pidfile=str(self.root / "run" / "master.pid"),
            sock_dir=str(self.root / "run" / "master"),
        )
        self.conf = self.root / "master-conf"
        self.conf.mkdir()
        (self.conf / "master").write_text(yaml.safe_dump(master), encoding="utf-8")
        for name, mac in BOXES.items():
            serial = self.devices[name]["serial"]
            spec = simulate_spec(
                TEMPLATE,
                {
                    "system": {"serial": serial},
                    "bmc": {"mac": f"{mac}:03"},
                    "nics": {"eno1": {"mac": f"{mac}:01"}, "eno2": {"mac": f"{mac}:02"}},
                },
            )
            (self.root / f"{name}-simulate.json").write_text(json.dumps(spec))
            minion = dict(
                common,
                id=name,
                root_dir=str(self.root / name),
                hardware={
                    "simulate": str(self.root / f"{name}-simulate.json"),
                    "root": str(self.root / f"{name}-hwroot"),
                    "apply_live": False,
                },
                autosign_grains=["serialnumber"],
                grains={"serialnumber": serial},  # static here; Salt's core grain on the image
                acceptance_wait_time=1,
                acceptance_wait_time_max=2,
                master="127.0.0.1",
                master_port=ret_port,
                publish_port=publish_port,
                log_file=str(self.root / "log" / name),
                pidfile=str(self.root / "run" / f"{name}.pid"),
                sock_dir=str(self.root / "run" / name),
            )
            mconf = self.root / f"{name}-conf"
            mconf.mkdir()
            (mconf / "minion").write_text(yaml.safe_dump(minion), encoding="utf-8")

    def _daemon(self, daemon, conf):
        return subprocess.Popen(  # noqa: S603
            [str(BIN / daemon), "-c", str(conf), "-l", "quiet"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def salt_run(self, *args, timeout=300):
        """``salt-run`` on the bench's master, its JSON output."""
        proc = subprocess.run(  # noqa: S603
            [str(BIN / "salt-run"), "-c", str(self.conf), "--out=json", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode:
            raise SystemExit(f"reactor_bench: salt-run {' '.join(args)} failed:\n{proc.stderr}")
        return json.loads(proc.stdout)

    def start(self):
        """The master, the first autosign sync, the minions; waits for their first verification."""
        self.procs.append(self._daemon("salt-master", self.conf))
        self.opts = salt.config.master_config(str(self.conf / "master"))
        self.events = salt.utils.event.get_master_event(
            self.opts, self.opts["sock_dir"], listen=True
        )
        self.sender = salt.utils.event.get_master_event(
            self.opts, self.opts["sock_dir"], listen=False
        )
        self.cache = salt.cache.factory(self.opts)
        deadline = time.time() + 300
        while True:  # the master's IPC is up once an event can be sent and received
            try:
                self.sender.fire_event({"seq": -1}, PING_TAG)
                if self.wait("salt/run/*/ret", lambda d: d.get("fun") == "runner.test.arg", 5):
                    break
            except Exception:  # pylint: disable=broad-except
                time.sleep(1)
            if time.time() > deadline:
                raise SystemExit("reactor_bench: the master did not answer within 300 s")
        synced = self.salt_run("netbox.sync_autosign")
        serials = [self.devices[name]["serial"] for name in BOXES]
        if set(synced.get("added", [])) < set(serials):
            raise SystemExit(f"reactor_bench: serials not in the autosign file: {synced}")
        for name in BOXES:
            self.procs.append(self._daemon("salt-minion", self.root / f"{name}-conf"))
        waiting = set(BOXES)
        deadline = time.time() + 600
        while waiting and time.time() < deadline:
            data = self.wait(TAG_READY, lambda d: d.get("minion") in waiting, 10)
            if data:
                waiting.discard(data["minion"])
        if waiting:
            raise SystemExit(f"reactor_bench: not verified after 600 s: {sorted(waiting)}")

    def wait(self, tag, match, timeout):
        """The data of the next event ``tag`` (fnmatch) whose data ``match`` es, or ``None``."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            event = self.events.get_event(wait=max(0.05, deadline - time.time()), full=True)
            if event and fnmatch.fnmatch(event["tag"], tag) and match(event["data"]):
                return dict(event["data"], _tag=event["tag"], _received=time.time())
        return None

    def reset(self, name):
        """The device back to planned, its cached verdict dropped: the next event verifies."""
        self.standin.store.bulk_update(
            "dcim.devices", [{"id": self.devices[name]["id"], "status": "planned"}]
        )
        self.cache.flush(BOOT_BANK, name)

    def ping(self, seq):
        """One baseline round-trip (s)."""
        sent = time.time()
        self.sender.fire_event({"seq": seq}, PING_TAG)
        data = self.wait(
            "salt/run/*/ret",
            lambda d: d.get("fun") == "runner.test.arg"
            and (d.get("return") or {}).get("kwargs", {}).get("seq") == seq,
            TIMEOUT,
        )
        if data is None:
            raise SystemExit(f"reactor_bench: no baseline return within {TIMEOUT} s")
        return data["_received"] - sent

    def collect(self, tag, match, timeout):
        """Every event up to the first ``tag`` whose data ``match`` es: ``(events, hit)``."""
        seen = []
        hit = self.wait("*", lambda d: True, timeout)
        deadline = time.time() + timeout
        while hit is not None:
            seen.append(hit)
            if fnmatch.fnmatch(hit["_tag"], tag) and match(hit):
                return seen, hit
            hit = self.wait("*", lambda d: True, max(0.0, deadline - time.time()))
        return seen, None

    def boot(self, name):
        """
        One start event of ``name`` -> ``turnup/device/ready``: ``(total, phases)``, the phases
        (s) from the events' stamps: reactor (start -> the runner's job), runner to the
        question, the minion's answer (``grains.item``, ``hardware.inventory``), the rest
        (NetBox reads, ``sync_inventory``, status and journal, the event).
        """
        self.reset(name)
        self.standin.reset_requests()
        sent = time.time()
        self.sender.fire_event({"id": name}, f"salt/minion/{name}/start")
        seen, ready = self.collect(TAG_READY, lambda d: d.get("minion") == name, TIMEOUT)
        if ready is None:
            raise SystemExit(f"reactor_bench: no {TAG_READY} for {name} within {TIMEOUT} s")
        served = [r for r in self.standin.settle() if r["answered_at"] is not None]
        self.netbox.append((len(served), sum(r["answered_at"] - r["received_at"] for r in served)))
        new = first(seen, "salt/run/*/new", lambda d: d.get("fun") == "runner.turnup.on_boot")
        asked = first(seen, "salt/job/*/new", lambda d: "hardware.inventory" in str(d.get("fun")))
        answer = first(seen, f"salt/job/*/ret/{name}", lambda d: True)
        phases = {}
        if new and asked and answer:
            phases = {
                PHASES[0]: stamp(new) - sent,
                PHASES[1]: stamp(asked) - stamp(new),
                PHASES[2]: stamp(answer) - stamp(asked),
                PHASES[3]: stamp(ready) - stamp(answer),
            }
        return ready["_received"] - sent, phases

    def stop(self):
        """Stop the daemons and the stand-in (unless ``--keep``)."""
        for bus in (getattr(self, "events", None), getattr(self, "sender", None)):
            if bus is not None:
                bus.destroy()
        if self.keep:
            log(f"left running (--keep): {BIN}/salt-run -c {self.conf} turnup.quarantined")
            log(f"stop with: kill {' '.join(str(p.pid) for p in self.procs)}")
            return
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if self.standin is not None:
            self.standin.stop()


#: the split of a boot latency (:meth:`Bench.boot`)
PHASES = (
    "reactor (start -> salt/run/<jid>/new)",
    "runner until it asks the minion",
    "the minion's answer (grains, inventory)",
    "NetBox, sync_inventory, staged, the event",
)


def first(events, tag, match):
    """The first of ``events`` with a tag matching ``tag`` (fnmatch) whose data ``match`` es."""
    return next((e for e in events if fnmatch.fnmatch(e["_tag"], tag) and match(e)), None)


def free_port():
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main(argv=None):
    """Run the bench; exit status 0 when every event was answered (whatever the p50)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20, help="start events (default 20)")
    parser.add_argument("--keep", action="store_true", help="leave the daemons running")
    parser.add_argument("--root", help="work directory (default: a new temporary directory)")
    args = parser.parse_args(argv)
    if args.events < 1:
        parser.error("--events must be at least 1")
    root = pathlib.Path(args.root or tempfile.mkdtemp(prefix="reactor-bench-"))
    os.makedirs(root, exist_ok=True)
    bench = Bench(root, keep=args.keep)
    try:
        bench.build_netbox()
        bench.write_configs()
        started = time.perf_counter()
        bench.start()
        log(
            f"master and {len(BOXES)} minions up, accepted by autosign and verified in "
            f"{time.perf_counter() - started:.0f} s (work dir {root})"
        )
        names = list(BOXES)
        boot, baseline, phases = [], [], {name: [] for name in PHASES}
        for seq in range(args.events):
            baseline.append(bench.ping(seq))
            total, split = bench.boot(names[seq % len(names)])
            boot.append(total)
            for name, value in split.items():
                phases[name].append(value)
    finally:
        bench.stop()
        if not args.keep and not args.root:
            shutil.rmtree(root, ignore_errors=True)
    # after the daemons stopped: nothing they or the stand-in print comes after the last line
    counts = [n for n, _ in bench.netbox]
    log(
        f"NetBox per verification: {statistics.median(counts):.0f} requests, answered in "
        f"{statistics.median([t for _, t in bench.netbox]):.3f} s (medians; up to the event)"
    )
    report(boot, baseline, phases)
    return 0


if __name__ == "__main__":
    sys.exit(main())
