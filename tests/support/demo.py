"""``make demo``: a rack of lab1 turns itself up from NetBox, on your machine, in a few minutes.

Step by step, printing each command it runs and its output (``make demo-keep`` / ``--keep`` leaves
everything running and prints commands to paste and how to stop and clean up):

1. NetBox: the embedded lab snapshot (``salt_ext/data/snapshots/lab1.json``) behind the stand-in on
   127.0.0.1, or the real NetBox of ``NETBOX_URL``/``NETBOX_TOKEN`` (then in a private copy of lab1
   that the demo creates and removes, tests/support/live_lab.py). Rack R2 before: 8 servers
   ``planned``, the rack's custom field ``auto_turnup`` true.
2. A salt-master with the reactor of ``states/reactor/`` and ``autosign_grains_dir``, and salt-api
   (rest_cherrypy) on 127.0.0.1, as the current user under a temporary directory.
3. Preflight of R2, and the NetBox record it names fixed; NetBox's webhook (signed, through
   salt-api) refreshes the autosign file: the serials NetBox expects to boot.
4. The servers boot: one provisioning-image salt-minion per server of R2, each simulating its own
   server (tests/support/lab_boxes.py: the real dmidecode of its model from ../shared, or without
   ../shared facts authored from its generation profile; its serial, MACs and LLDP neighbours
   from NetBox), accepted by serial (``autosign_grains``) and verified by
   boot verification (``turnup.on_boot``: staged). An impostor with a guessed planned hostname and
   a serial NetBox does not expect stays pending.
5. The last server staged: the reactor's rack trigger starts ``orch.rack_turnup`` by itself,
   followed wave by wave as a progress table (the run record ``turnup.status`` reads). One box,
   srv-r2-03, is cabled to the wrong ToR port (its LLDP says so): it fails validation, is set
   ``failed`` with a journal entry, and the others go on to ``active``.
6. The rack after, the failure's journal entry, the keys; the run's Prometheus textfile
   (``turnup.metrics``) and HTML report (``turnup.report``) written to ``--out`` (default
   ``.demo/`` in the repository) and their paths printed.
7. Every process it started is stopped and its directory removed, also on failure or Ctrl-C.

The boxes are simulated and rooted in the demo's directory (``hardware: root``): their highstate
writes ``<demo dir>/boxes/<name>/etc/...``, never the host's ``/etc``; nothing listens beyond
127.0.0.1. Run it with the project's venv (``make demo``, ``make demo-keep`` or ``.venv/bin/python -m
tests.support.demo``): a Python without Salt and pynetbox stops at once saying so.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import os
import pathlib
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

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

# pylint: disable=wrong-import-position
from tests.support.demo_daemons import (  # noqa: E402  (after the interpreter check above)
    BIN,
    EventTap,
    Processes,
    SaltSetup,
    dump_json,
    keys,
    shell,
)
from tests.support.saltenv import LAB1_SNAPSHOT, REPO_ROOT, SHARED_FIXTURES  # noqa: E402

REPO = REPO_ROOT
RACK = "R2"
SERVERS = [f"srv-r2-0{i}" for i in range(1, 9)]
#: the deliberate failure: its LLDP shows the wrong ToR port for eno2
FAULTY = "srv-r2-03"
FAULTS = {FAULTY: {"lldp": {"eno2": {"port_id": "Ethernet7"}}}}
#: the impostor: a planned device's hostname (another rack), a serial NetBox does not expect
IMPOSTOR = "srv-r3-01"
IMPOSTOR_SERIAL = "ZZ-NOT-IN-NETBOX-17"
#: lab1's deliberate data error preflight names: srv-r3-03 carries srv-r2-01's serial
DUPLICATE_HOLDER, DUPLICATE_FIX = "srv-r3-03", "LAB1R3S03"
#: the progress table's step columns (the orchestration's per-device steps)
COLUMNS = (
    ("stage", "stage"),
    ("wait_minions", "wait"),
    ("sync_all", "sync"),
    ("validate", "validate"),
    ("sync_inventory", "inventory"),
    ("highstate", "highstate"),
    ("postcheck", "postcheck"),
    ("activate", "activate"),
)
WAIT = 600  # generous bounds: a loaded 2-core machine


def say(text):
    print(f"\n\033[1m== {text}\033[0m", flush=True)


def explain(text):
    print(f"   {text}", flush=True)


def run(cmd, check=True, show=True, timeout=300):
    """Run ``cmd``; print it as a paste-able line (``$ ...``) and its output when ``show``."""
    print("$ " + shell(cmd), flush=True)
    proc = subprocess.run(  # noqa: S603
        [str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, check=False
    )
    if show:
        out = (proc.stdout or "").rstrip()
        if out:
            print(out, flush=True)
    if check and proc.returncode != 0:
        raise SystemExit(
            f"demo: command failed ({proc.returncode}): {shell(cmd)}\n"
            f"{(proc.stdout or '')[-2000:]}\n{(proc.stderr or '')[-2000:]}"
        )
    return proc


def table(header, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join("   " + ln for ln in lines)


def progress_rows(record):
    """One row per device of a run record: its wave and a mark per step."""
    rows = []
    for name, dev in record["devices"].items():
        if dev["kind"] != "server":
            rows.append([name, dev["wave"], *(["checked"] + [""] * (len(COLUMNS) - 1))])
            continue
        marks = []
        for step, _ in COLUMNS:
            info = dev["steps"].get(step)
            if dev.get("failed_step") == step:
                marks.append("FAILED")
            elif info is None:
                marks.append("")
            else:
                marks.append({True: "ok", None: "..."}.get(info.get("result"), "FAILED"))
        rows.append([name, dev["wave"], *marks])
    return rows


class Demo:  # pylint: disable=too-many-instance-attributes
    def __init__(self, root, out, keep=False):
        self.root = pathlib.Path(root)
        self.out = pathlib.Path(out)
        self.keep = keep
        self.procs = Processes(self.root)
        self.url = self.token = None
        self.client = self.lab_copy = self.salt = self.opts = self.tap = None
        from tests.support.live_lab import LabNames  # noqa: PLC0415

        self.names = LabNames()
        self.events = []
        self.boot_failures = []
        self._seen = set()
        self.run_id = None

    # -- names in this NetBox (lab1's, or the private copy's) ---------------------------------
    @property
    def site(self):
        return self.names.site

    def n(self, name):
        return self.names.name(name)

    def servers(self):
        return [self.n(s) for s in SERVERS]

    def salt_run(self, *args, **kwargs):
        return run([BIN / "salt-run", "-c", self.salt.etc, *args], **kwargs)

    # -- 1. NetBox ------------------------------------------------------------------------------
    def start_netbox(self):
        from salt_ext.utils.netbox import NetBoxClient, load_config  # noqa: PLC0415

        if os.environ.get("NETBOX_URL") and os.environ.get("NETBOX_TOKEN"):
            from tests.support.live_lab import LabCopy  # noqa: PLC0415

            self.url, self.token = os.environ["NETBOX_URL"], os.environ["NETBOX_TOKEN"]
            self.client = self._client(NetBoxClient, load_config)
            say(f"NetBox: the real NetBox at {self.url}, in a private copy of lab1")
            snapshot = json.loads(LAB1_SNAPSHOT.read_text(encoding="utf-8"))
            self.lab_copy = LabCopy(self.client, snapshot)
            self.names = self.lab_copy.names
            explain(
                f"site {self.site} (lab1 renamed with run id {self.names.run}); removed at the end"
            )
            self._save_state()
            self.lab_copy.seed()
            return
        say("NetBox: the lab snapshot served by the NetBox stand-in on 127.0.0.1")
        proc = self.procs.start(
            "netbox-standin",
            [sys.executable, "-m", "tests.support.netbox_standin", "--snapshot", "lab1"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = proc.stdout.readline()
        if not line:
            proc.wait(timeout=30)
            raise SystemExit(
                f"demo: the NetBox stand-in did not start (exit {proc.returncode}):\n"
                + self.procs.tail("netbox-standin")
            )
        info = json.loads(line)
        self.url, self.token = info["url"], info["token_v1"]
        self.client = self._client(NetBoxClient, load_config)
        explain(f"NetBox API at {self.url}: site lab1, racks R1 (in service), R2, R3")

    def _client(self, client_cls, load_config):
        return client_cls(
            load_config({"netbox": {"url": self.url, "token": self.token, "timeout": 60}})
        )

    def rack_devices(self):
        rack = self.client.list("dcim.racks", {"site": self.site, "name": RACK})[0]
        devices = self.client.list("dcim.devices", {"rack_id": rack["id"]})
        return rack, sorted(devices, key=lambda d: d["name"])

    def show_rack(self, when):
        rack, devices = self.rack_devices()
        say(f"NetBox {when}: rack {RACK} of site {self.site}")
        print(
            f"# read by the demo through NetBox's API (GET /api/dcim/devices/?rack_id="
            f"{rack['id']}); rack custom field auto_turnup = "
            f"{(rack.get('custom_fields') or {}).get('auto_turnup')}"
        )
        rows = [
            [d["name"], (d.get("role") or {}).get("slug", ""), d["status"]["value"], d["serial"]]
            for d in devices
        ]
        print(table(["device", "role", "status", "serial"], rows))
        return devices

    # -- 2. Salt --------------------------------------------------------------------------------
    def start_salt(self):
        self.salt = SaltSetup(self.root, self.url, self.token)
        self.out.mkdir(parents=True, exist_ok=True)
        master = self.salt.write_master(self.out / "saltext_turnup.prom")
        say(
            "salt-master with the reactor, and salt-api, on 127.0.0.1 (config in "
            f"{self.salt.etc})"
        )
        explain("reactor: " + ", ".join(next(iter(r)) for r in master["reactor"]))
        explain(f"autosign_grains_dir: {master['autosign_grains_dir']} (keys accepted by serial)")
        explain(f"salt-api: http://127.0.0.1:{self.salt.api_port}/hook (NetBox's webhook)")
        self.procs.start("master", [BIN / "salt-master", "-c", self.salt.etc, "-l", "quiet"])
        self.procs.start("salt-api", [BIN / "salt-api", "-c", self.salt.etc, "-l", "quiet"])
        self._save_state()
        self.salt.wait_master(self.procs)
        self.opts = self.salt.master_opts()
        self.tap = EventTap(self.opts)
        explain("salt-master and salt-api are up")

    # -- 3. preflight, autosign -----------------------------------------------------------------
    def preflight(self):
        say(f"Preflight of rack {RACK}: NetBox checked before anything is written")
        explain("(errors block the turn-up; warnings name the object and the fix)")
        ret = self.salt_run("turnup.preflight", f"site={self.site}", f"rack={RACK}", "--out=yaml")
        say("The autosign file: the serials NetBox expects to boot (what the schedule runs)")
        self.salt_run("netbox.sync_autosign", "--out=yaml")
        explain(
            f"{self.n('srv-r2-01')}'s serial is withheld: NetBox gives it to "
            f"{self.n(DUPLICATE_HOLDER)} too (a typo preflight warned about)"
        )
        return ret

    def fix_duplicate(self):
        holder = self.client.find("dcim.devices", name=self.n(DUPLICATE_HOLDER))
        fixed = self.names.sub(DUPLICATE_FIX)
        say(f"The operator corrects {self.n(DUPLICATE_HOLDER)}'s serial in NetBox")
        ret = self.salt_run(
            "salt.cmd",
            "netbox.update",
            "dcim.devices",
            str(holder["id"]),
            f"serial={fixed}",
            "--out=json",
            show=False,
        )
        changes = json.loads(ret.stdout or "{}").get("changes")
        print(f"# summary of that command's JSON output (the whole device): changes = {changes}")
        explain(
            "NetBox's event rule posts the change to salt-api (/hook/netbox, HMAC-signed); the "
            "reactor refreshes the autosign file. The demo posts the body NetBox 4.6 sends:"
        )
        after = self.client.get("dcim.devices", holder["id"])
        status = self.post_webhook(after, {"serial": holder["serial"]})
        explain(f"POST http://127.0.0.1:{self.salt.api_port}/hook/netbox -> HTTP {status}")
        serial = self.names.sub("LAB1R2S01")
        self.wait(lambda: serial in self.autosign_serials(), f"{serial} in the autosign file", 180)
        print(
            f"# summary: the autosign file now holds {len(self.autosign_serials())} serials, "
            f"{serial} among them"
        )

    def post_webhook(self, device, before):
        body = json.dumps(
            {
                "event": "updated",
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000000+00:00", time.gmtime()),
                "model": "device",
                "username": "admin",
                "request_id": str(uuid.uuid4()),
                "data": device,
                "snapshots": {
                    "prechange": {**device, **before},
                    "postchange": device,
                },
            }
        ).encode()
        from salt_ext.utils.turnup.autosign import signature_of  # noqa: PLC0415

        req = urllib.request.Request(  # noqa: S310 (loopback salt-api)
            f"http://127.0.0.1:{self.salt.api_port}/hook/netbox",
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-Hook-Signature": signature_of(self.salt.secret, body),
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310
                return resp.status
        except urllib.error.HTTPError as err:
            return err.code

    def autosign_serials(self):
        path = pathlib.Path(self.opts["autosign_grains_dir"]) / "serialnumber"
        if not path.exists():
            return []
        return [ln.strip() for ln in path.read_text().splitlines() if ln and not ln.startswith("#")]

    # -- 4. boot --------------------------------------------------------------------------------
    def boot(self):
        from tests.support.lab_boxes import LabBoxes  # noqa: PLC0415

        say(f"The servers of {RACK} boot the provisioning image (one salt-minion each)")
        explain(
            "each minion simulates its own server (its model's real dmidecode, its serial, "
            "MACs, LLDP neighbours) and sends autosign_grains: [serialnumber]"
        )
        explain(
            f"{self.n(FAULTY)} is cabled to the wrong ToR port (its LLDP shows Ethernet7): the "
            "deliberate failure"
        )
        explain(
            f"and an impostor boots too: hostname {self.n(IMPOSTOR)} (planned, another rack), "
            f"serial {IMPOSTOR_SERIAL}"
        )
        boxes = LabBoxes()
        specs = self.root / "specs"
        specs.mkdir(exist_ok=True)
        for lab_name in SERVERS:
            spec = boxes.spec(lab_name, FAULTS.get(lab_name))
            spec["overrides"] = self.names.sub(spec["overrides"])
            self._minion(self.n(lab_name), spec, spec["overrides"]["system"]["serial"])
        impostor = boxes.spec("srv-r2-01", {"system": {"serial": IMPOSTOR_SERIAL}})
        impostor["overrides"]["nics"] = {
            nic: {"mac": f"02:00:00:00:99:0{i}"} for i, nic in enumerate(("eno1", "eno2"), 1)
        }
        self._minion(self.n(IMPOSTOR), impostor, IMPOSTOR_SERIAL)
        self._save_state()
        started = self.wait_events(self._rack_started, "the rack's turn-up to start", WAIT)
        return started

    def _minion(self, name, spec, serial):
        path = self.root / "specs" / f"{name}.json"
        path.write_text(json.dumps(spec), encoding="utf-8")
        conf = self.salt.write_minion(name, path, serial)
        self.procs.start(f"minion-{name}", [BIN / "salt-minion", "-c", conf, "-l", "quiet"])

    def narrate(self, tag, data):
        """One line for the events of the story (the rest of the bus is left out)."""
        self.events.append((time.time(), tag, data))
        mine = set(self.servers()) | {self.n(IMPOSTOR)}
        if tag == "salt/auth" and data.get("id") in mine:
            act = data.get("act")
            key = ("auth", data["id"], act)
            if key in self._seen:
                return
            self._seen.add(key)
            if act == "accept":
                print(f"   {data['id']}: key accepted by serial (autosign_grains)")
            elif act == "pend":
                print(f"   {data['id']}: key left PENDING (its serial is not one NetBox expects)")
        elif tag.startswith("salt/minion/") and tag.endswith("/start") and data.get("id") in mine:
            print(f"   {data['id']}: minion started -> reactor -> turnup.on_boot (asks the minion)")
        elif tag.startswith("salt/run/") and data.get("fun") == "runner.turnup.on_boot":
            ret = data.get("return") if isinstance(data.get("return"), dict) else {}
            if ret.get("minion") in self.servers() and ret.get("verdict") not in ("match", None):
                # a server of the rack that cannot be staged: the rack never turns up, say why now
                self.boot_failures.append(ret)
                print(f"   {ret.get('minion')}: boot verification {ret.get('verdict')}: {ret}")
        elif tag == "turnup/device/ready":
            print(f"   {data.get('minion')}: serial and MACs match NetBox: staged (journal entry)")
        elif tag == "turnup/security/mismatch":
            print(f"   {data.get('minion')}: MISMATCH, {data.get('action')}: {data.get('reasons')}")
        elif tag == "turnup/rack/ready":
            print(
                f"   rack {data.get('rack')}: every server staged and auto_turnup is true -> "
                "turnup/rack/ready -> reactor -> turnup.auto_turnup"
            )
        elif tag == "turnup/rack/started":
            print(
                f"   rack {data.get('rack')}: orch.rack_turnup started by itself (job {data.get('jid')})"
            )

    def _rack_started(self):
        for _, tag, data in self.events:
            if tag == "turnup/rack/started" and data.get("rack") == RACK:
                return data
        return None

    def wait_events(self, predicate, what, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for tag, data in self.tap.poll(1.0):
                self.narrate(tag, data)
            found = predicate()
            if found:
                return found
            if self.boot_failures:
                raise SystemExit(
                    f"demo: boot verification of {len(self.boot_failures)} server(s) failed, the "
                    f"rack cannot turn up: {self.boot_failures}\n" + self.procs.tail("master")
                )
            self.procs.check_running()
        raise SystemExit(f"demo: timed out after {timeout}s waiting for {what}")

    def wait(self, predicate, what, timeout):
        return self.wait_events(predicate, what, timeout)

    # -- 5. the turn-up -------------------------------------------------------------------------
    def follow(self, started):
        from salt_ext.utils.turnup import record as rec  # noqa: PLC0415

        say(f"The turn-up of {RACK}, wave by wave (orch.rack_turnup, job {started['jid']})")
        explain("network devices are checked, then the servers: a canary, then batches of 25 %")
        explain(
            "# the progress table: the run record (salt-run turnup.status) read every 2 s, "
            "printed when it changes"
        )
        store = rec.Store(self.opts)
        t0, last = time.time(), None
        jid = started["jid"]

        def finished():
            record = store.latest(self.site, RACK)
            if record is None:
                return None
            self.run_id = record["id"]
            rows = progress_rows(record)
            nonlocal last
            if rows != last:
                last = rows
                print(f"\n   t+{time.time() - t0:4.0f}s  run {record['id']}: {record['state']}")
                print(table(["device", "wave", *(c for _, c in COLUMNS)], rows), flush=True)
            done = record["state"] in ("done", "stopped", "aborted")
            returned = any(t == f"salt/run/{jid}/ret" for _, t, _ in self.events)
            return record if done and returned else None

        return self.wait_events(finished, "the turn-up to finish", 1200)

    # -- 6. results -----------------------------------------------------------------------------
    def results(self, record):
        say("The run's status table (the same, any time later)")
        self.salt_run("turnup.status", f"site={self.site}", f"rack={RACK}", "--out=txt")
        failed = self.n(FAULTY)
        dev = self.client.find("dcim.devices", name=failed)
        say(f"The failure, isolated: {failed}'s NetBox journal")
        ret = self.salt_run(
            "salt.cmd",
            "netbox.filter",
            "extras.journal-entries",
            "assigned_object_type=dcim.device",
            f"assigned_object_id={dev['id']}",
            "--out=json",
            show=False,
        )
        entries = json.loads(ret.stdout or "[]")
        print("# summary of that command's JSON output: kind and comments of each entry")
        for entry in entries:
            kind = (entry.get("kind") or {}).get("value")
            print(f"   [{kind}] " + entry["comments"].replace("\n", "\n           "))
        say("A staged-then-active server's NetBox pillar (values shown: unmask=True)")
        explain("Salt 3008 prints pillar values as '**********' unless asked to show them")
        healthy = self.n("srv-r2-01")
        run(
            [
                BIN / "salt",
                "-c",
                self.salt.etc,
                healthy,
                "pillar.get",
                "netbox:interfaces:eno1:peer",
                "unmask=True",
                "--out=yaml",
                "-t",
                "120",
            ]
        )
        after = self.show_rack("after")
        say("The keys: the impostor was never accepted")
        run([BIN / "salt-key", "-c", self.salt.etc, "-L"])
        return {"entries": entries, "devices": after}

    def artefacts(self, record):
        say("The run as Prometheus metrics and as an HTML report")
        prom = self.out / "saltext_turnup.prom"
        html = self.out / f"{record['id']}.html"
        self.salt_run("turnup.metrics", f"path={prom}", "--out=yaml")
        print("# the saltext_turnup_devices lines of that file:")
        for line in prom.read_text(encoding="utf-8").splitlines():
            if line.startswith("saltext_turnup_devices{"):
                print("   " + line)
        self.salt_run("turnup.report", f"run={record['id']}", f"path={html}", "--out=yaml")
        print(f"metrics textfile: {prom}")
        print(f"run report:       {html}  (open it in a browser)")
        return prom, html

    def save_result(self, record, shown):
        """``<out>/demo-result.json``: what NetBox said at the end, the keys, the processes."""
        dump_json(
            self.out / "demo-result.json",
            {
                "run": record["id"],
                "site": self.site,
                "rack": RACK,
                "servers": self.servers(),
                "faulty": self.n(FAULTY),
                "impostor": self.n(IMPOSTOR),
                "netbox_devices": shown["devices"],
                "journal_faulty": shown["entries"],
                "keys": keys(self.opts),
                "record_state": record["state"],
                "root": str(self.root),
                "pids": self.procs.pids(),
            },
        )

    def _save_state(self):
        """``<out>/demo-processes.json``: every process started so far (pid = process group),
        written as soon as they start, so that a test finds them even if the demo dies."""
        self.out.mkdir(parents=True, exist_ok=True)
        dump_json(
            self.out / "demo-processes.json",
            {
                "root": str(self.root),
                "pids": self.procs.pids(),
                "lab_copy": self.names.run,
            },
        )

    # -- 7. keep or stop ------------------------------------------------------------------------
    def keep_instructions(self):
        """The commands to paste (and how to stop) of ``--keep``."""
        say("Left running (--keep): paste any of these")
        etc = self.salt.etc
        healthy = self.n("srv-r2-01")
        report = self.out / f"{self.run_id or 'RUN'}.html"
        cmds = [
            [BIN / "salt-run", "-c", etc, "turnup.status", f"site={self.site}", f"rack={RACK}"],
            [
                BIN / "salt-run",
                "-c",
                etc,
                "turnup.plan",
                f"site={self.site}",
                f"rack={RACK}",
                "table=True",
            ],
            [BIN / "salt-key", "-c", etc, "-L"],
            [BIN / "salt", "-c", etc, healthy, "pillar.get", "netbox:rack:name", "unmask=True"],
            [BIN / "salt", "-c", etc, healthy, "hardware.validate"],
            [BIN / "salt", "-c", etc, healthy, "state.apply", "hwgen", "test=True"],
            [BIN / "salt-run", "-c", etc, "turnup.report", f"run={self.run_id}", f"path={report}"],
            [BIN / "salt-run", "-c", etc, "state.event", "pretty=True"],
        ]
        for cmd in cmds:
            print("  " + shell(cmd))
        print(f"  (the simulated boxes' files go under {self.root / 'boxes'}, not /etc)")
        stop = self.procs.write_stop_script()
        if self.lab_copy is not None:
            with open(stop, "a", encoding="utf-8") as handle:
                handle.write(
                    f"cd {shlex.quote(str(REPO))} && {shlex.quote(sys.executable)} -m "
                    f"tests.support.demo --remove-copy {self.names.run}\n"
                )
            print(
                f"  the NetBox copy {self.site} stays until the stop script removes it "
                "(run it with NETBOX_URL and NETBOX_TOKEN set)"
            )
        print(f"  stop everything and remove {self.root} with: sh {shlex.quote(str(stop))}")

    def stop(self, ok=True):
        """Leave everything running (``--keep`` after a successful run) or stop it all."""
        if self.keep and ok and self.salt is not None:
            self.keep_instructions()
            return
        if self.tap is not None:
            self.tap.close()
            self.tap = None
        self.procs.stop()
        if self.lab_copy is not None:
            left = self.lab_copy.remove()
            if left:
                print(
                    f"demo: NetBox copy {self.site}: objects left behind: {left}", file=sys.stderr
                )

    def show(self):
        self.start_netbox()
        self.show_rack("before")
        self.start_salt()
        self.preflight()
        self.fix_duplicate()
        started = self.boot()
        record = self.follow(started)
        shown = self.results(record)
        self.artefacts(record)
        self.save_result(record, shown)
        return record


def remove_copy(run_id):
    """``--remove-copy RUN``: remove a kept demo's private lab copy from the real NetBox."""
    from salt_ext.utils.netbox import NetBoxClient, load_config  # noqa: PLC0415
    from tests.support.live_lab import LabCopy  # noqa: PLC0415

    url, token = os.environ.get("NETBOX_URL"), os.environ.get("NETBOX_TOKEN")
    if not url or not token:
        raise SystemExit("demo: --remove-copy needs NETBOX_URL and NETBOX_TOKEN")
    client = NetBoxClient(load_config({"netbox": {"url": url, "token": token, "timeout": 60}}))
    snapshot = json.loads(LAB1_SNAPSHOT.read_text(encoding="utf-8"))
    left = LabCopy(client, copy.deepcopy(snapshot), run=run_id).remove()
    print(f"NetBox copy {run_id} removed" + (f"; left behind: {left}" if left else ""))
    return 1 if left else 0


def _terminated(signum, _frame):
    raise SystemExit(f"demo: stopped by signal {signal.Signals(signum).name}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="leave everything running")
    parser.add_argument(
        "--out",
        default=str(REPO / ".demo"),
        help="where the run report and the metrics textfile go (default: .demo/ in the repo)",
    )
    parser.add_argument("--remove-copy", metavar="RUN", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    require_venv()
    if args.remove_copy:
        return remove_copy(args.remove_copy)
    if SHARED_FIXTURES is None:
        print(
            "demo: ../shared/fixtures is absent: the boxes' dmidecode facts (system, BIOS, CPUs, "
            "DIMMs) are authored from their generation profiles (tests/support/lab_boxes.py "
            "AUTHORED) instead of a real server's captured output",
            flush=True,
        )
    root = pathlib.Path(tempfile.mkdtemp(prefix="turnup-demo."))
    demo = Demo(root, pathlib.Path(args.out).resolve(), keep=args.keep)
    previous = signal.signal(signal.SIGTERM, _terminated)
    ok, reason = False, None
    try:
        demo.show()
        ok = True
    except KeyboardInterrupt:
        reason = "demo: interrupted (Ctrl-C)"
        raise SystemExit(130) from None
    except SystemExit as err:
        if isinstance(err.code, int) or err.code is None:
            raise
        reason = str(err.code)  # printed below, after the cleanup, as the last words
        raise SystemExit(1) from None
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second TERM must not cut the cleanup
        try:
            demo.stop(ok)  # a failure stops everything, --keep or not
        finally:
            signal.signal(signal.SIGTERM, previous)
            if not (ok and args.keep):
                shutil.rmtree(root, ignore_errors=True)
            if reason:
                print(
                    f"\n{reason}\ndemo: stopped everything it started, removed {root}",
                    file=sys.stderr,
                )
    say("Demo finished" + (" (left running)" if args.keep else ": everything stopped and removed"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
