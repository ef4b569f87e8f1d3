"""``make demo``: a local salt-master and salt-minion (non-root, temp dir) against the lab NetBox.

What it does, step by step, printing each command and its output:

1. serves the lab snapshot (``salt_ext/data/snapshots/lab1.json``: site ``lab1``, racks R1..R3) from the
   NetBox stand-in on 127.0.0.1 (a real NetBox is used instead when ``NETBOX_URL``/``NETBOX_TOKEN`` are set);
2. writes a master and a minion config in a new temporary directory (loopback ports, the current user, the repo's
   ``states/`` and ``pillar/`` trees) and starts both daemons from the project's venv: they load
   saltext-turnup through its installed ``salt.loader`` entry point;
3. shows NetBox from the master and from a minion (``netbox.status``);
4. shows the minion's NetBox pillar (its device, the ToR switch port at the other end of each cable, its
   hardware generation profile) and the pillar cache the master shares between all minions of a site;
5. inventories the minion's hardware (simulated: a real Dell PowerEdge M630's ``dmidecode`` from
   ``../shared`` with the lab server's NICs, LLDP neighbours and serial) and validates it against its
   generation profile and NetBox;
6. applies an SLS of ``netbox.*`` states twice (the second run changes nothing) and reads the journal;
7. stops everything (``--keep``, i.e. ``make demo-keep``, leaves it running and prints how to use
   and stop it).

The minion is simulated and rooted in the demo's directory (``hardware: root``): ``state.apply
hwgen`` there writes ``<demo dir>/rootfs/etc/...``, never the host's ``/etc`` (hardware.config
refuses a simulated box without a root of its own).

Run it with the project's venv (``make demo``, ``make demo-keep`` or ``.venv/bin/python -m
tests.support.demo``): a Python without Salt and pynetbox stops at once saying so.
"""

from __future__ import annotations

import argparse
import getpass
import importlib.util
import json
import os
import pathlib
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

REQUIRED = ("salt", "pynetbox", "yaml", "salt_ext")


def require_venv():
    """Stop at once, saying why, when this Python lacks what the demo needs (not the venv's)."""
    missing = [name for name in REQUIRED if importlib.util.find_spec(name) is None]
    if missing:
        raise SystemExit(
            f"demo: {sys.executable} cannot import {', '.join(missing)}: run the demo with the "
            "project's venv: `make demo` / `make demo-keep`, or `.venv/bin/python -m "
            "tests.support.demo [--keep]` after `make setup`"
        )


if __name__ == "__main__":
    require_venv()

import yaml  # noqa: E402  (after the interpreter check above)

from tests.support.saltenv import SHARED_FIXTURES  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
MINION_ID = "srv-r1-01"
SIMULATED = REPO / "tests" / "unit" / "hardware" / "fixtures" / "simulated" / MINION_ID


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def say(text):
    print(f"\n\033[1m== {text}\033[0m", flush=True)


def shell(cmd):
    """``cmd`` as a line a user can paste into a POSIX shell (arguments quoted as needed)."""
    return shlex.join(str(c) for c in cmd)


def run(cmd, check=True, show=True, timeout=120):
    if show:
        print("$ " + shell(cmd), flush=True)
    proc = subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, check=False
    )
    if show:
        out = (proc.stdout or "").rstrip()
        if out:
            print(out, flush=True)
    if check and proc.returncode != 0:
        raise SystemExit(
            f"demo: command failed ({proc.returncode}): {shell(cmd)}\n{proc.stderr[-2000:]}"
        )
    return proc


class Demo:
    def __init__(self, root, keep=False):
        self.root = pathlib.Path(root)
        self.keep = keep
        self.procs = []
        self.url = self.token = None
        self.conf = None

    # -- NetBox --------------------------------------------------------------------------------
    def start_netbox(self):
        if os.environ.get("NETBOX_URL") and os.environ.get("NETBOX_TOKEN"):
            self.url, self.token = os.environ["NETBOX_URL"], os.environ["NETBOX_TOKEN"]
            say(f"Using the real NetBox at {self.url}")
            return
        say("Serving the lab snapshot from the NetBox stand-in on 127.0.0.1")
        log = open(self.root / "netbox-standin.log", "w", encoding="utf-8")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.netbox_standin", "--snapshot", "lab1"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            start_new_session=True,  # its own process group: stopped as a whole
        )
        self.procs.append(proc)
        line = proc.stdout.readline()
        if not line:
            proc.wait(timeout=30)
            log.close()
            reason = (self.root / "netbox-standin.log").read_text(encoding="utf-8").strip()
            raise SystemExit(
                f"demo: the NetBox stand-in did not start (exit {proc.returncode}):\n"
                + "\n".join(reason.splitlines()[-15:])
            )
        info = json.loads(line)
        self.url, self.token = info["url"], info["token_v1"]
        print(f"NetBox API at {self.url} (lab1: 24 devices in racks R1, R2, R3)")

    # -- Salt ----------------------------------------------------------------------------------
    def write_configs(self):
        conf = self.root / "etc"
        conf.mkdir(parents=True, exist_ok=True)
        publish_port, ret_port = free_port(), free_port()
        token_file = self.root / "netbox.token"
        token_file.write_text(self.token + "\n", encoding="utf-8")
        token_file.chmod(0o600)
        netbox = {"url": self.url, "token_file": str(token_file), "timeout": 5}
        common = {
            "root_dir": str(self.root),
            "user": getpass.getuser(),
            "file_roots": {"base": [str(REPO / "states")]},
            "pillar_roots": {"base": [str(REPO / "pillar")]},
            "log_file": str(self.root / "log" / "salt"),
            "log_level_logfile": "info",
            "netbox": netbox,
        }
        master = dict(
            common,
            ext_pillar=[{"netbox": {"key": "netbox"}}],
            interface="127.0.0.1",
            publish_port=publish_port,
            ret_port=ret_port,
            log_file=str(self.root / "log" / "master"),
            pidfile=str(self.root / "run" / "master.pid"),
            sock_dir=str(self.root / "run" / "master"),
        )
        # the simulated box lives in the demo directory: hwgen writes <demo>/rootfs/etc/...
        rootfs = self.root / "rootfs"
        rootfs.mkdir(exist_ok=True)
        simulate = {"dir": str(SIMULATED)}
        if SHARED_FIXTURES is not None:
            simulate["dmidecode"] = str(
                SHARED_FIXTURES / "hardware" / "dmidecode" / "Dell_PowerEdge_M630.txt"
            )
        minion = dict(
            common,
            id=MINION_ID,
            hardware={"simulate": simulate, "root": str(rootfs), "apply_live": False},
            master="127.0.0.1",
            master_port=ret_port,
            publish_port=publish_port,
            log_file=str(self.root / "log" / "minion"),
            pidfile=str(self.root / "run" / "minion.pid"),
            sock_dir=str(self.root / "run" / "minion"),
        )
        (conf / "master").write_text(yaml.safe_dump(master), encoding="utf-8")
        (conf / "minion").write_text(yaml.safe_dump(minion), encoding="utf-8")
        for sub in ("log", "run"):
            (self.root / sub).mkdir(exist_ok=True)
        self.conf = conf

    def start_salt(self):
        say(f"Starting salt-master and salt-minion '{MINION_ID}' (config in {self.conf})")
        for daemon in ("salt-master", "salt-minion"):
            proc = subprocess.Popen(
                [str(BIN / daemon), "-c", str(self.conf), "-l", "quiet"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # a daemon and its workers: one process group
            )
            self.procs.append(proc)
        deadline = time.time() + 90
        while time.time() < deadline:
            run([BIN / "salt-key", "-c", self.conf, "-A", "-y"], check=False, show=False)
            ping = run(
                [BIN / "salt", "-c", self.conf, MINION_ID, "test.ping", "--out=json", "-t", "5"],
                check=False,
                show=False,
            )
            if ping.returncode == 0 and "true" in ping.stdout:
                print(f"minion {MINION_ID} is up and its key accepted")
                return
            time.sleep(1)
        logs = []
        for name in ("master", "minion"):
            path = self.root / "log" / name
            if path.exists():
                tail = path.read_text(encoding="utf-8", errors="replace").splitlines()[-10:]
                logs.append(f"--- log/{name} (last lines):\n" + "\n".join(tail))
        raise SystemExit(
            "demo: the minion did not answer within 90 s\n" + "\n".join(logs or ["(no logs)"])
        )

    def salt(self, *args, out="yaml", check=True, show_output=True):
        cmd = [BIN / "salt", "-c", self.conf, MINION_ID, *args, f"--out={out}", "-t", "60"]
        if not show_output:
            print("$ " + shell(cmd), flush=True)
        return run(cmd, check=check, show=show_output)

    def salt_run(self, *args, out="yaml"):
        return run([BIN / "salt-run", "-c", self.conf, *args, f"--out={out}"])

    # -- the show ------------------------------------------------------------------------------
    def show(self):
        say("NetBox as seen from the master (runner)")
        self.salt_run("netbox.status")
        say("NetBox as seen from a minion (execution module)")
        self.salt("netbox.status")

        say("The minion's NetBox pillar: one bulk fetch per site, shared through Salt's cache")
        print(
            "(unmask=True: Salt 3008 prints pillar values as '**********' unless asked to show "
            "them)"
        )
        self.salt("saltutil.refresh_pillar", "wait=True")
        self.salt("pillar.get", "netbox:device_type", "unmask=True")
        self.salt("pillar.get", "netbox:interfaces:eno1:peer", "unmask=True")
        self.salt("pillar.get", "netbox:rack_devices", "unmask=True")
        self.salt("pillar.get", "hwgen:name", "unmask=True")
        self.salt_run("netbox.pillar_cache_info", out="json")

        say("Hardware: inventory of the box, then validation against its profile and NetBox")
        if SHARED_FIXTURES is None:
            print(
                "(../shared/fixtures is absent: the simulated box has no dmidecode output, so the "
                "CPU/memory checks below fail by design)"
            )
        inv = self.salt("hardware.inventory", out="json", check=False, show_output=False)
        try:
            inventory = json.loads(inv.stdout)[MINION_ID]
            summary = {k: inventory.get(k) for k in ("system", "cpu", "memory") if k in inventory}
            if isinstance(summary.get("memory"), dict):
                summary["memory"] = {
                    k: v for k, v in summary["memory"].items() if not isinstance(v, list)
                }
            print("# a summary of that command's JSON output (system, cpu and memory only):")
            print(yaml.safe_dump({MINION_ID: summary}, sort_keys=False).rstrip())
        except (ValueError, KeyError, AttributeError):
            print(inv.stdout)
        val = self.salt("hardware.validate", out="json", check=False, show_output=False)
        try:
            text = json.loads(val.stdout)[MINION_ID]["text"]
            print("# the report's 'text' field (the whole report is that command's JSON):")
            print(text)
        except (ValueError, KeyError, TypeError):
            print(val.stdout)

        say("NetBox states: declare a new server's record; test=True first shows what would change")
        pillar = json.dumps({"netbox_example": {"device": "srv-r2-09"}})
        sls = ("state.apply", "netbox_examples.turnup", f"pillar={pillar}")
        self.salt(*sls, "test=True", out="highstate")
        say("... applied for real, then again: the second run changes nothing")
        self.salt(*sls, out="highstate")
        self.salt(*sls, out="highstate")
        self.salt("netbox.filter", "extras.journal-entries", "assigned_object_type=dcim.device")

    def write_stop_script(self):
        """``<demo dir>/stop``: TERM the demo's processes, KILL what is left after 20 s, remove the
        directory (a salt-minion can take a while to exit on TERM)."""
        pids = " ".join(str(p.pid) for p in self.procs)
        root = shlex.quote(str(self.root))
        script = self.root / "stop"
        script.write_text(
            "#!/bin/sh\n"
            f"# stops the saltext-turnup demo started in {self.root} and removes that directory\n"
            f"pids='{pids}'\n"
            "# each pid leads a process group: a daemon and its workers\n"
            "for pid in $pids; do kill -TERM -- -$pid 2>/dev/null; done\n"
            "for _ in $(seq 20); do\n"
            "  alive=; for pid in $pids; do kill -0 -- -$pid 2>/dev/null && alive=1; done\n"
            '  [ -z "$alive" ] && break; sleep 1\n'
            "done\n"
            "for pid in $pids; do kill -KILL -- -$pid 2>/dev/null; done\n"
            f"rm -rf {root}\n"
            "echo 'demo stopped and removed'\n",
            encoding="utf-8",
        )
        return script

    def stop(self, ok=True):
        """Leave the daemons running (``--keep`` after a successful run) or stop them all."""
        if self.keep and ok:
            say("Left running (--keep): paste any of these")
            salt = [BIN / "salt", "-c", self.conf, MINION_ID]
            for cmd in (
                [*salt, "netbox.status"],
                [*salt, "pillar.get", "netbox:rack:name", "unmask=True"],
                [*salt, "hardware.validate"],
                [*salt, "state.apply", "hwgen", "test=True"],
                [BIN / "salt-run", "-c", self.conf, "netbox.status"],
            ):
                print("  " + shell(cmd))
            print(f"  (the simulated box's files go under {self.root / 'rootfs'}, not /etc)")
            stop = self.write_stop_script()
            print(f"  stop everything and remove {self.root} with: sh {shlex.quote(str(stop))}")
            return
        for proc in reversed(self.procs):
            _signal_group(proc, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
            _signal_group(proc, signal.SIGKILL)  # workers left behind by their daemon
            if proc.poll() is None:
                proc.wait(timeout=20)


def _signal_group(proc, sig):
    """Signal the process group ``proc`` leads (started with ``start_new_session``)."""
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root", help="working directory (wiped first; default: a new temporary directory)"
    )
    parser.add_argument("--keep", action="store_true", help="leave the daemons running")
    args = parser.parse_args(argv)
    require_venv()
    if args.root:
        root = pathlib.Path(args.root)
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
    else:
        root = pathlib.Path(tempfile.mkdtemp(prefix="saltext-turnup-demo."))
    demo = Demo(root, keep=args.keep)
    ok = False
    try:
        demo.start_netbox()
        demo.write_configs()
        demo.start_salt()
        demo.show()
        ok = True
    finally:
        # a failure stops everything (also with --keep); its reason is the exception raised
        demo.stop(ok)
        if args.root:
            if not ok:
                print(f"demo: logs and configs kept in {root} (--root)", file=sys.stderr)
        elif not (ok and args.keep):
            shutil.rmtree(root, ignore_errors=True)
    say("Demo finished")
    return 0


if __name__ == "__main__":
    sys.exit(main())
