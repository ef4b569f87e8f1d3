"""The daemons of ``make demo`` (tests/support/demo.py), started WITHOUT pytest: a salt-master with
the reactor of ``states/reactor/`` and ``autosign_grains_dir``, salt-api (rest_cherrypy, loopback),
and one provisioning-image salt-minion per simulated box (tests/support/lab_boxes.py), all as the
current user under one directory (root, when the demo runs as root: nothing needs it), ports on
127.0.0.1 only. Every daemon leads a process group of its own, so that it and its workers are
stopped as a whole (:meth:`Processes.stop`, the ``stop`` script of ``--keep``).
"""

from __future__ import annotations

import getpass
import json
import os
import pathlib
import shlex
import signal
import socket
import subprocess
import sys
import time

import yaml

from tests.support.saltenv import PILLAR_ROOT, STATES_ROOT

BIN = pathlib.Path(sys.executable).parent

#: the longest path a Unix socket may have (``sun_path`` holds 108 bytes with its NUL); Salt binds
#: its IPC sockets in each daemon's ``sock_dir`` and a longer path fails there, late and obscurely
#: (the master: "IPC publish server did not start within 30 seconds"; a minion: its event bus is
#: never up and its jobs do not return)
UNIX_PATH_MAX = 107

#: the longest IPC socket file name Salt puts in a ``sock_dir``: a minion's event pull socket,
#: ``minion_event_<10 hex digits of its id's hash>_pull.ipc``
LONGEST_IPC_NAME = len("minion_event_0123456789_pull.ipc")

#: the master's reactor (docs/security.md): boot verification, NetBox webhook, rack trigger
REACTOR = [
    {"salt/minion/*/start": ["salt://reactor/boot.sls"]},
    {"salt/netapi/hook/netbox": ["salt://reactor/netbox_hook.sls"]},
    {"turnup/rack/ready": ["salt://reactor/rack_ready.sls"]},
]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening(port):
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def shell(cmd):
    """``cmd`` as a line a user can paste into a POSIX shell (arguments quoted as needed)."""
    return shlex.join(str(c) for c in cmd)


def _signal_group(pid, sig):
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def group_alive(pid):
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Processes:
    """The processes the demo started, each the leader of its own process group."""

    def __init__(self, root):
        self.root = pathlib.Path(root)
        self.procs = {}  # name -> Popen
        self.logs = self.root / "log"
        self.logs.mkdir(parents=True, exist_ok=True)

    def start(self, name, argv, **kwargs):
        log = open(self.logs / f"{name}.out", "w", encoding="utf-8")  # noqa: SIM115
        kwargs.setdefault("stdout", log)
        proc = subprocess.Popen(  # noqa: S603
            [str(a) for a in argv],
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # a daemon and its workers: one process group
            **kwargs,
        )
        log.close()
        self.procs[name] = proc
        return proc

    def pids(self):
        return {name: proc.pid for name, proc in self.procs.items()}

    def tail(self, name, lines=12):
        """The last lines of a daemon's own log file and of its output (for error messages)."""
        out = []
        for path in (self.logs / name, self.logs / f"{name}.out"):
            if path.exists() and path.stat().st_size:
                text = path.read_text(encoding="utf-8", errors="replace").splitlines()
                out.append(f"--- {path} (last lines):\n" + "\n".join(text[-lines:]))
        return "\n".join(out) or f"(no output from {name})"

    def check_running(self):
        """Raise naming the daemon that died, with the end of its log."""
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise SystemExit(f"demo: {name} exited (code {proc.returncode})\n{self.tail(name)}")

    def stop(self, timeout=20):
        """TERM every group, KILL what is left after ``timeout`` s; returns the groups killed."""
        for proc in reversed(list(self.procs.values())):
            _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.time() + timeout
        killed = []
        for name, proc in self.procs.items():
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                pass
            if group_alive(proc.pid):  # workers left behind by their daemon
                _signal_group(proc.pid, signal.SIGKILL)
                killed.append(name)
            if proc.poll() is None:
                proc.wait(timeout=20)
        for proc in self.procs.values():  # workers of a group whose leader exited first
            for _ in range(40):
                if not group_alive(proc.pid):
                    break
                _signal_group(proc.pid, signal.SIGKILL)
                time.sleep(0.25)
        return killed

    def write_stop_script(self):
        """``<root>/stop``: TERM the demo's process groups, KILL what is left after 20 s, remove
        the directory (a salt-minion can take a while to exit on TERM)."""
        pids = " ".join(str(p.pid) for p in self.procs.values())
        script = self.root / "stop"
        script.write_text(
            "#!/bin/sh\n"
            f"# stops the saltext-turnup demo started in {self.root} and removes that directory\n"
            f"pids='{pids}'\n"
            "# each pid leads a process group: a daemon and its workers (kill -SIG -PGID: dash and bash)\n"
            "for pid in $pids; do kill -TERM -$pid 2>/dev/null; done\n"
            "for _ in $(seq 20); do\n"
            "  alive=; for pid in $pids; do kill -0 -$pid 2>/dev/null && alive=1; done\n"
            '  [ -z "$alive" ] && break; sleep 1\n'
            "done\n"
            "for pid in $pids; do kill -KILL -$pid 2>/dev/null; done\n"
            f"rm -rf {shlex.quote(str(self.root))}\n"
            "echo 'demo stopped and removed'\n",
            encoding="utf-8",
        )
        return script


class SaltSetup:
    """Configs of the demo's master, salt-api and provisioning-image minions under ``root``."""

    def __init__(self, root, netbox_url, token):
        self.root = pathlib.Path(root)
        self.etc = self.root / "etc"
        self.etc.mkdir(parents=True, exist_ok=True)
        self.publish_port, self.ret_port, self.api_port = free_port(), free_port(), free_port()
        self.token_file = self.root / "netbox.token"
        self.token_file.write_text(token + "\n", encoding="utf-8")
        self.token_file.chmod(0o600)
        self.secret = os.urandom(24).hex()
        self.secret_file = self.root / "webhook.secret"
        self.secret_file.write_text(self.secret + "\n", encoding="utf-8")
        self.secret_file.chmod(0o600)
        self.netbox = {"url": netbox_url, "token_file": str(self.token_file), "timeout": 60}
        self.user = getpass.getuser()
        self._socks = 0
        # every daemon's sockets in a short directory of its own (root/s/<n>), checked up front
        longest = len(str(self.root / "s" / "99" / "x")) - 1 + LONGEST_IPC_NAME
        if longest > UNIX_PATH_MAX:
            raise SystemExit(
                f"demo: its directory {self.root} is too deep for the daemons' Unix sockets "
                f"({longest} characters, at most {UNIX_PATH_MAX}): set TMPDIR to a shorter "
                "directory (TMPDIR=/tmp make demo)"
            )

    def _daemon(self, name):
        base = self.root / name
        label = pathlib.PurePath(name).name
        self._socks += 1
        sock_dir = self.root / "s" / str(self._socks)
        return {
            # every path below under root_dir, or Salt prepends root_dir to it (prepend_root_dir)
            "root_dir": str(self.root),
            "user": self.user,
            "pki_dir": str(base / "pki"),
            "cachedir": str(base / "cache"),
            "sock_dir": str(sock_dir),
            "pidfile": str(sock_dir / f"{label}.pid"),
            "log_file": str(self.root / "log" / label),
            "log_level_logfile": "info",
        }

    def write_master(self, metrics_file):
        pillar = self.root / "pillar"
        pillar.mkdir(exist_ok=True)
        # the lab boxes opt in to being configured (states/top.sls): hwgen writes under each box's
        # own root (hardware: root), never the host's /etc
        (pillar / "top.sls").write_text(
            "base:\n  '*':\n    - hwgen.gen10\n    - hwgen.gen11\n    - hwgen.gen12\n"
            "    - turnup_demo\n",
            encoding="utf-8",
        )
        (pillar / "turnup_demo.sls").write_text("turnup:\n  manage_host: true\n", encoding="utf-8")
        master = dict(
            self._daemon("master"),
            id="demo-master",
            interface="127.0.0.1",
            publish_port=self.publish_port,
            ret_port=self.ret_port,
            file_roots={"base": [str(STATES_ROOT)]},
            pillar_roots={"base": [str(pillar), str(PILLAR_ROOT)]},
            ext_pillar=[{"netbox": {}}],
            netbox=self.netbox,
            open_mode=False,
            auto_accept=False,
            autosign_grains_dir=str(self.root / "master" / "autosign_grains"),
            reactor=REACTOR,
            worker_threads=4,
            rest_cherrypy={
                "port": self.api_port,
                "host": "127.0.0.1",
                "disable_ssl": True,
                "webhook_disable_auth": True,  # the runner checks NetBox's HMAC signature
                "webhook_url": "/hook",
            },
            turnup_webhook={"secret_file": str(self.secret_file), "max_age": 600},
            # nine minions booting at once on a busy laptop or CI box can take minutes to answer
            # their first job (the product's default: 60 s)
            turnup_boot={"timeout": 300},
            turnup={"metrics_file": str(metrics_file)},
        )
        self._write("master", master)
        return master

    def write_minion(self, name, spec, serial):
        """A provisioning-image minion: ``autosign_grains: [serialnumber]`` (the grain is static
        here, SMBIOS on a real image), the box simulated (``hardware:simulate``) and rooted in
        its own directory (``hardware: root``)."""
        conf = self.etc / "minions" / name
        minion = dict(
            self._daemon(f"minions/{name}"),
            id=name,
            log_file=str(self.root / "log" / f"minion-{name}"),
            master="127.0.0.1",
            master_port=self.ret_port,
            publish_port=self.publish_port,
            autosign_grains=["serialnumber"],
            grains={"serialnumber": serial},
            acceptance_wait_time=2,
            acceptance_wait_time_max=4,
            hardware={
                "simulate": str(spec),
                "root": str(self.root / "boxes" / name),
                "apply_live": False,
            },
            netbox=self.netbox,
        )
        (self.root / "boxes" / name).mkdir(parents=True, exist_ok=True)
        self._write(conf.relative_to(self.etc) / "minion", minion)
        return conf

    def _write(self, rel, data):
        path = self.etc / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        path.chmod(0o600)

    def wait_master(self, procs, timeout=240):
        """Until the master's ports and salt-api's port accept connections."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            procs.check_running()
            if all(listening(p) for p in (self.ret_port, self.publish_port, self.api_port)):
                return
            time.sleep(1)
        raise SystemExit(
            f"demo: the salt-master/salt-api did not listen within {timeout}s\n"
            + procs.tail("master")
            + "\n"
            + procs.tail("salt-api")
        )

    def master_opts(self):
        import salt.config  # noqa: PLC0415

        return salt.config.master_config(str(self.etc / "master"))


def keys(master_opts):
    """``{accepted: [...], pending: [...], rejected: [...]}`` read from the master's pki dir."""
    pki = pathlib.Path(master_opts["pki_dir"])
    return {
        kind: sorted(p.name for p in (pki / sub).glob("*") if p.is_file())
        for kind, sub in (
            ("accepted", "minions"),
            ("pending", "minions_pre"),
            ("rejected", "minions_rejected"),
        )
    }


class EventTap:
    """The master's event bus, read by the demo (what ``salt-run state.event`` shows)."""

    def __init__(self, opts):
        import salt.utils.event  # noqa: PLC0415

        self.bus = salt.utils.event.get_master_event(opts, opts["sock_dir"], listen=True)

    def poll(self, seconds):
        """Events arriving within ``seconds``: ``[(tag, data)]``."""
        out, deadline = [], time.time() + seconds
        while True:
            event = self.bus.get_event(wait=max(0.05, deadline - time.time()), full=True)
            if event:
                out.append((event["tag"], event["data"]))
            if time.time() >= deadline:
                return out

    def close(self):
        self.bus.destroy()


def dump_json(path, data):
    pathlib.Path(path).write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
