#!/usr/bin/env python3
"""
Rack turn-up benchmark: ``salt-run state.orchestrate orch.rack_turnup`` against a bare
``salt -L <wave> state.apply`` run wave by wave (the same canary and batches), in one run, on the
same master, minions and NetBox.

- NetBox: the stand-in on 127.0.0.1 holding a generated site ``bench1`` (bench/_pillar_site.py):
  one rack ``R01`` with two ToR switches and N servers (PowerEdge M630, generation gen10), set
  ``planned`` with serials, every server cabled to both ToRs with MACs and a primary IP;
- Salt: one salt-master (NetBox ext_pillar) and N salt-minions started from the project's venv
  in a temporary directory (loopback only); each minion simulates its server (the Dell M630 of
  lab1's R1 with this box's serial, MACs and LLDP neighbours; files under its own
  ``hardware:root``, nothing on the host);
- baseline: for each wave of ``turnup.plan`` (canary, batches): ``salt -L <minions> state.apply``
  (the highstate: the hwgen SLS validates the box, then writes its network/sysctl/grub files);
- then every box's ``hardware:root`` is emptied and the orchestration runs the whole turn-up:
  preflight, run record, planned -> staged, wait for minions, sync_all, validate, sync_inventory,
  highstate in the same waves, post-checks, staged -> active with journal entries.

The two alternate ``--repeat`` times (default 5), in turns bare first and orchestration first:
before each run the boxes' roots are emptied, before each pair the servers are set back to
``planned``, and each orchestration is a new run (``new: true``; from the second pair on, NetBox
already holds the inventory the first one synced). On a shared 2-core machine a single pair's
ratio swings by a third from run to run; the reported ratio is the median of the pairs' ratios
(each pair's two runs are a minute apart, under the same load). Every pair,
the medians and the ratio are printed; the last line is machine-readable::

    turnup_bench: minions=N overhead_ratio=X

Usage: ``python bench/turnup_bench.py [--minions 24] [--batch 25%] [--repeat 5] [--keep]``.
"""

from __future__ import annotations

import argparse
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

import yaml  # noqa: E402
from _pillar_site import build_site  # noqa: E402  pylint: disable=wrong-import-position

from salt_ext.utils.netbox import NetBoxClient, load_config  # noqa: E402
from tests.support.netbox_standin import NetBoxStandin  # noqa: E402
from tests.unit.hardware.lab import simulate_spec  # noqa: E402

BIN = pathlib.Path(sys.executable).parent
SITE, RACK = "bench1", "R01"
TEMPLATE = "srv-r1-01"  # lab1's simulated Dell M630


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log(text):
    print(text, flush=True)


def client_of(standin):
    return NetBoxClient(
        load_config({"netbox": {"url": standin.url, "token": standin.token_v1, "timeout": 60}})
    )


def build_netbox(servers):
    """The stand-in with site bench1 (rack R01: 2 ToRs, ``servers`` planned servers)."""
    standin = NetBoxStandin().start()
    store = standin.store
    site = build_site(store, racks=1, tors=2, servers=servers, slug=SITE)
    api = client_of(standin)
    devs = api.list("dcim.devices", {"site_id": site["site_id"]})
    prod = api.list("ipam.vlans", {"site_id": site["site_id"], "vid": 100})[0]
    store.bulk_update(
        "dcim.devices",
        [
            {"id": d["id"], "status": "planned", "serial": f"BENCH{d['id']:05d}"}
            for d in devs
            if d["name"] in site["servers"]
        ],
    )
    # the ToR downlinks carry the servers' VLAN, as a real rack's do
    ports = [
        i
        for i in api.list("dcim.interfaces", {"site_id": site["site_id"]})
        if i["name"].startswith("Ethernet")
    ]
    store.bulk_update(
        "dcim.interfaces",
        [{"id": i["id"], "mode": "access", "untagged_vlan": prod["id"]} for i in ports],
    )
    standin.reset_requests()
    return standin, site


def box_spec(standin, name):
    """The ``hardware:simulate`` spec of a generated server, from its NetBox record."""
    api = client_of(standin)
    dev = api.list("dcim.devices", {"name": name})[0]
    ifaces = {i["name"]: i for i in api.list("dcim.interfaces", {"device_id": dev["id"]})}
    macs = {}
    for mac in api.list("dcim.mac-addresses", {"device_id": dev["id"]}):
        for nic, iface in ifaces.items():
            if iface["id"] == mac.get("assigned_object_id"):
                macs[nic] = mac["mac_address"].lower()
    lldp = {}
    for nic in ("eno1", "eno2"):
        peer = (ifaces[nic].get("link_peers") or [{}])[0]
        lldp[nic] = {
            "chassis_name": (peer.get("device") or {}).get("name"),
            "port_id": peer.get("name"),
            "port_descr": f"{name}:{nic}",
        }
    spec = simulate_spec(TEMPLATE)
    spec["overrides"] = {
        "system": {"serial": dev["serial"]},
        "nics": {nic: {"mac": macs[nic]} for nic in ("eno1", "eno2") if nic in macs},
        "lldp": lldp,
    }
    if "bmc" in macs:
        spec["overrides"]["bmc"] = {"mac": macs["bmc"]}
    return spec


class Bench:
    def __init__(self, root, standin, site, keep=False):
        self.root = pathlib.Path(root)
        self.standin, self.site = standin, site
        self.keep = keep
        self.procs = []
        self.minions = {}  # device name -> minion id

    def write_configs(self):
        conf = self.root / "master-conf"
        conf.mkdir(parents=True)
        self.publish_port, self.ret_port = free_port(), free_port()
        token_file = self.root / "netbox.token"
        token_file.write_text(self.standin.token_v1 + "\n", encoding="utf-8")
        token_file.chmod(0o600)
        pillar = self.root / "pillar"
        pillar.mkdir()
        (pillar / "top.sls").write_text("base:\n  '*':\n    - hwgen.gen10\n    - bench\n")
        (pillar / "bench.sls").write_text("turnup:\n  manage_host: true\n")
        self.common = {
            "user": getpass.getuser(),
            "file_roots": {"base": [str(REPO / "states")]},
            "pillar_roots": {"base": [str(pillar), str(REPO / "pillar")]},
            "log_level_logfile": "info",
            "netbox": {"url": self.standin.url, "token_file": str(token_file), "timeout": 60},
        }
        master = dict(
            self.common,
            root_dir=str(self.root / "master"),
            ext_pillar=[{"netbox": {"ttl": 0}}],
            interface="127.0.0.1",
            publish_port=self.publish_port,
            ret_port=self.ret_port,
            auto_accept=True,
            worker_threads=4,
            log_file=str(self.root / "log" / "master"),
            pidfile=str(self.root / "run" / "master.pid"),
            sock_dir=str(self.root / "run" / "master"),
        )
        (conf / "master").write_text(yaml.safe_dump(master), encoding="utf-8")
        self.conf = conf
        for sub in ("log", "run"):
            (self.root / sub).mkdir(exist_ok=True)
        for name in self.site["servers"]:
            minion_id = f"{name}.bench.example.net"
            self.minions[name] = minion_id
            spec = self.root / f"{name}-simulate.json"
            spec.write_text(json.dumps(box_spec(self.standin, name)))
            mconf = self.root / f"{name}-conf"
            mconf.mkdir()
            minion = dict(
                self.common,
                id=minion_id,
                root_dir=str(self.root / name),
                hardware={
                    "simulate": str(spec),
                    "root": str(self.box_root(name)),
                    "apply_live": False,
                },
                master="127.0.0.1",
                master_port=self.ret_port,
                publish_port=self.publish_port,
                log_file=str(self.root / "log" / name),
                pidfile=str(self.root / "run" / f"{name}.pid"),
                sock_dir=str(self.root / "run" / name),
            )
            (mconf / "minion").write_text(yaml.safe_dump(minion), encoding="utf-8")

    def box_root(self, name):
        return self.root / f"{name}-hwroot"

    def start(self):
        self.procs.append(self._daemon("salt-master", self.conf))
        for name in self.site["servers"]:
            self.procs.append(self._daemon("salt-minion", self.root / f"{name}-conf"))
        deadline = time.time() + 600
        want = set(self.minions.values())
        while time.time() < deadline:
            ping = self.salt("*", "test.ping", timeout=10, check=False)
            up = {m for m, ok in (ping or {}).items() if ok is True}
            if want <= up:
                return
            time.sleep(2)
        raise SystemExit(f"turnup_bench: minions not up after 600 s: {sorted(want - up)}")

    def _daemon(self, daemon, conf):
        return subprocess.Popen(  # noqa: S603
            [str(BIN / daemon), "-c", str(conf), "-l", "quiet"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def _json(self, cmd, timeout, check=True):
        proc = subprocess.run(  # noqa: S603
            [str(c) for c in cmd], capture_output=True, text=True, timeout=timeout + 60, check=False
        )
        try:
            data = json.loads(proc.stdout) if proc.stdout.strip() else None
        except ValueError:
            data = None
        if check and data is None:
            raise SystemExit(
                f"turnup_bench: {' '.join(map(str, cmd))} failed:\n{proc.stdout}\n{proc.stderr}"
            )
        return data

    def salt(self, tgt, *args, timeout=300, check=True, tgt_type=None):
        cmd = [BIN / "salt", "-c", self.conf, "--out=json", "--static", "-t", str(timeout)]
        if tgt_type == "list":
            cmd.append("-L")
        return self._json([*cmd, tgt, *args], timeout, check)

    def salt_run(self, *args, timeout=1800):
        cmd = [BIN / "salt-run", "-c", self.conf, "--out=json", *args]
        return self._json(cmd, timeout)

    def waves(self, batch):
        plan = self.salt_run("turnup.plan", f"site={SITE}", f"rack={RACK}", f"batch={batch}")
        return [w for w in plan["waves"] if w.get("kind") in ("canary", "batch")], plan

    def reset_roots(self):
        for name in self.site["servers"]:
            shutil.rmtree(self.box_root(name), ignore_errors=True)

    def bare(self, waves, plan):
        devices = plan["devices"]
        started = time.perf_counter()
        for wave in waves:
            targets = ",".join(devices[d]["minion"] for d in wave["devices"])
            ret = self.salt(targets, "state.apply", tgt_type="list", timeout=600)
            bad = [
                m
                for m, states in (ret or {}).items()
                if not isinstance(states, dict)
                or any(not s.get("result") for s in states.values() if isinstance(s, dict))
            ]
            if bad or len(ret or {}) != len(wave["devices"]):
                raise SystemExit(f"turnup_bench: state.apply failed in {wave['name']}: {bad}")
        return time.perf_counter() - started

    def replan(self):
        """The servers back to ``planned`` (the stand-in's store, as an operator would set them)."""
        store = self.standin.store
        devs = client_of(self.standin).list("dcim.devices", {"site_id": self.site["site_id"]})
        store.bulk_update(
            "dcim.devices",
            [{"id": d["id"], "status": "planned"} for d in devs if d["name"] in self.minions],
        )

    def orchestrate(self, batch, new=False):
        pillar = json.dumps(
            {"site": SITE, "rack": RACK, "batch": batch, "minion_timeout": 600, "new": new}
        )
        started = time.perf_counter()
        ret = self.salt_run("state.orchestrate", "orch.rack_turnup", f"pillar={pillar}")
        elapsed = time.perf_counter() - started
        data = (ret or {}).get("data", ret) or {}
        states = next(iter(data.values())) if isinstance(data, dict) and data else {}
        states = states if isinstance(states, dict) else {}
        failed = [
            s.get("__id__", k)
            for k, s in states.items()
            if isinstance(s, dict) and s.get("result") is False
        ]
        steps = sorted(
            (s for s in states.values() if isinstance(s, dict)),
            key=lambda s: s.get("__run_num__", 0),
        )
        durations = {}
        for state in steps:
            durations[state.get("__id__", "?")] = float(state.get("duration") or 0) / 1000
            log(f"  {state.get('__id__', '?'):<24} {durations[state.get('__id__', '?')]:7.1f} s")
        return elapsed, failed, durations

    def statuses(self):
        devs = client_of(self.standin).list("dcim.devices", {"site_id": self.site["site_id"]})
        out = {}
        for dev in devs:
            if dev["name"] in self.minions:
                status = (
                    dev["status"]["value"] if isinstance(dev["status"], dict) else dev["status"]
                )
                out[status] = out.get(status, 0) + 1
        return out

    def stop(self):
        if self.keep:
            log(f"left running (--keep): {BIN}/salt -c {self.conf} '*' test.ping")
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
        self.standin.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minions", type=int, default=24, help="servers in the rack (default 24)")
    parser.add_argument("--batch", default="25%", help="batch after the canary (default 25%%)")
    parser.add_argument(
        "--repeat", type=int, default=5, help="bare/orchestrated pairs, alternated (default 5)"
    )
    parser.add_argument("--keep", action="store_true", help="leave the daemons running")
    parser.add_argument("--root", help="work directory (default: a new temporary directory)")
    args = parser.parse_args(argv)
    if not 1 <= args.minions <= 48:
        parser.error("--minions must be between 1 and 48 (one ToR port per server)")
    if not 1 <= args.repeat <= 10:
        parser.error("--repeat must be between 1 and 10")
    root = pathlib.Path(args.root or tempfile.mkdtemp(prefix="turnup-bench-"))
    os.makedirs(root, exist_ok=True)
    standin, site = build_netbox(args.minions)
    bench = Bench(root, standin, site, keep=args.keep)
    try:
        bench.write_configs()
        t0 = time.perf_counter()
        bench.start()
        log(f"{args.minions} minions up in {time.perf_counter() - t0:.0f} s (work dir {root})")
        waves, plan = bench.waves(args.batch)
        log("waves: " + ", ".join(f"{w['name']}={len(w['devices'])}" for w in waves))
        pairs = []
        for index in range(args.repeat):
            if index:
                bench.replan()
            # the order alternates (bare first, then orchestration first): neither run always
            # gets the other's warm caches or the machine right after it
            order = ("bare", "orch") if index % 2 == 0 else ("orch", "bare")
            for which in order:
                bench.reset_roots()
                if which == "bare":
                    bare = bench.bare(waves, plan)
                    log(
                        f"[{index + 1}/{args.repeat}] bare salt -L ... state.apply, wave by wave: "
                        f"{bare:.1f} s"
                    )
                else:
                    orch, failed, durations = bench.orchestrate(args.batch, new=index > 0)
            statuses = bench.statuses()
            log(
                f"[{index + 1}/{args.repeat}] salt-run state.orchestrate orch.rack_turnup: "
                f"{orch:.1f} s (NetBox: {statuses}), ratio {orch / bare:.2f}"
            )
            if failed or statuses.get("active", 0) != args.minions:
                log(f"turnup_bench: the orchestration did not take every box to active: {failed}")
                return 1
            highstate = durations.get("turnup-highstate", 0.0)
            extra = {k: v for k, v in durations.items() if k != "turnup-highstate" and v >= 0.05}
            log(
                f"  its highstate waves: {highstate:.1f} s ({highstate / bare:.2f} x bare); "
                f"its other steps: {sum(extra.values()):.1f} s, of which "
                + ", ".join(
                    f"{k.removeprefix('turnup-')} {v:.1f} s"
                    for k, v in sorted(extra.items(), key=lambda kv: -kv[1])[:4]
                )
            )
            pairs.append((bare, orch))
        ratio = statistics.median(o / b for b, o in pairs)
        log(
            f"median of {len(pairs)} pair(s): bare {statistics.median(b for b, _ in pairs):.1f} s, "
            f"orchestrated {statistics.median(o for _, o in pairs):.1f} s; pair ratios "
            + ", ".join(f"{o / b:.2f}" for b, o in pairs)
        )
        log(f"overhead ratio (orchestration / bare, median): {ratio:.2f} (target <= 1.10)")
        log(f"turnup_bench: minions={args.minions} overhead_ratio={ratio:.2f}")
        return 0
    finally:
        bench.stop()
        if not args.keep and not args.root:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
