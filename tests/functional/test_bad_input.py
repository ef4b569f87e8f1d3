"""
Bad input that pointed the wrong way (issue 8), through Salt's own runner client and loaders:

- a URL of something that is not NetBox (a web server answering 404 to everything): ``netbox.status``
  and ``netbox.filter`` say it is not a NetBox API instead of "404" / "the endpoint does not exist";
- a misspelled keyword argument of a runner (``sitee=lab1``) fails the job naming it and the known
  arguments (Salt's runner client used to drop it silently and print the docstring with success);
- ``device_typ=`` in ``netbox.device_present`` names the unknown key, not "device_type is required";
- ``netbox.pillar_refresh`` while NetBox is down is one clear error line with retcode 1, not the
  runner client's "Exception occurred ..." traceback.
"""

import http.server
import shutil
import socket
import threading

import pytest
import salt.config
import salt.loader
import salt.runner
import salt.utils.args
from salt.exceptions import CommandExecutionError, SaltInvocationError

from salt_ext.utils.netbox_ops.jobs import fails_job, known_args
from tests.support.saltenv import LAB1_SNAPSHOT

NOT_NETBOX = "this is not a NetBox API (no /api/status/"


class _NotFound(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        body = b"<html><body>404 Not Found</body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture
def not_netbox():
    """A web server on loopback that is not NetBox: 404 for every path."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=30)


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _minion_mods(tmp_path, netbox):
    opts = salt.config.minion_config(None)
    opts.update(cachedir=str(tmp_path / "cache"), file_client="local", id="srv-r1-01")
    opts["netbox"] = netbox
    opts["grains"] = {}
    mods = salt.loader.minion_mods(opts, whitelist=["netbox"])
    states = salt.loader.states(opts, mods, salt.loader.utils(opts), {}, whitelist=["netbox"])
    return mods, states


def _runner_client(tmp_path, **extra):
    opts = salt.config.master_config(None)
    opts.update(
        cachedir=str(tmp_path / "cache"),
        pki_dir=str(tmp_path / "pki"),
        sock_dir=str(tmp_path / "sock"),
        **extra,
    )
    (tmp_path / "cache" / "proc").mkdir(parents=True, exist_ok=True)
    return salt.runner.RunnerClient(opts)


def _snapshot(tmp_path):
    shutil.copy(LAB1_SNAPSHOT, tmp_path / "lab1.json")
    return {"snapshot": str(tmp_path / "lab1.json")}


# -- not NetBox ---------------------------------------------------------------------------------
def test_status_of_a_url_that_is_not_netbox_says_so(tmp_path, not_netbox):
    mods, _ = _minion_mods(tmp_path, {"url": not_netbox, "token": "0" * 40, "retries": 0})
    ret = mods["netbox.status"]()
    assert NOT_NETBOX in ret["error"], ret
    assert ret["reachable"] is True  # something answered: it is just not NetBox


def test_filter_on_a_url_that_is_not_netbox_does_not_blame_the_endpoint(tmp_path, not_netbox):
    mods, _ = _minion_mods(tmp_path, {"url": not_netbox, "token": "0" * 40, "retries": 0})
    with pytest.raises(CommandExecutionError, match=r"this is not a NetBox API \(no /api/status/"):
        mods["netbox.filter"]("dcim.devices", site="lab1")


def test_a_misspelled_endpoint_on_netbox_still_names_the_endpoint(tmp_path):
    mods, _ = _minion_mods(tmp_path, _snapshot(tmp_path))
    with pytest.raises(SaltInvocationError, match="endpoint dcim.devicez does not exist"):
        mods["netbox.filter"]("dcim.devicez", site="lab1")


# -- misspelled keyword arguments ----------------------------------------------------------------
def test_a_misspelled_runner_argument_fails_the_job_naming_it(tmp_path):
    client = _runner_client(tmp_path, netbox=_snapshot(tmp_path))
    ret = client.cmd(
        "netbox.export_snapshot",
        kwarg={"sitee": "lab1", "path": str(tmp_path / "out.json")},
        full_return=True,
        print_event=False,
    )
    text = str(ret["return"])
    assert ret["success"] is False, ret
    assert "unknown argument sitee (did you mean site?)" in text
    assert "known arguments: site, path" in text
    assert not (tmp_path / "out.json").exists()


def test_a_missing_runner_argument_is_named(tmp_path):
    client = _runner_client(tmp_path, netbox=_snapshot(tmp_path))
    ret = client.cmd(
        "netbox.export_snapshot", kwarg={"site": "lab1"}, full_return=True, print_event=False
    )
    assert ret["success"] is False
    assert "missing required argument path" in str(ret["return"])


def test_a_misspelled_module_argument_is_refused(tmp_path):
    mods, _ = _minion_mods(tmp_path, _snapshot(tmp_path))
    with pytest.raises(SaltInvocationError, match=r"unknown argument nmae \(did you mean name\?\)"):
        mods["netbox.device"](nmae="srv-r1-01")
    assert mods["netbox.device"](name="srv-r1-01")["name"] == "srv-r1-01"


def test_known_args_keeps_salt_internals_out_and_kwargs_functions_open():
    def plain(site, path=None):
        return site, path

    def open_ended(endpoint, **kwargs):
        return endpoint, kwargs

    checked = known_args(plain)
    # Salt adds its publication data to a function that takes **kwargs: dropped, not refused
    assert checked("lab1", __pub_fun="x", __pub_jid="1") == ("lab1", None)
    with pytest.raises(SaltInvocationError, match="known arguments: site, path"):
        checked(sitee="lab1")
    with pytest.raises(SaltInvocationError, match="missing required argument site"):
        checked(path="/x")
    assert known_args(open_ended)("dcim.devices", name="x") == ("dcim.devices", {"name": "x"})
    # Salt reads the signature the wrapper shows (it follows __wrapped__ when set)
    assert not hasattr(checked, "__wrapped__")
    assert "kwargs" in str(salt.utils.args.get_function_argspec(checked))


def test_fails_job_sets_the_retcode_on_a_misspelled_argument():
    context = {}

    def runner_fun(site):
        return site

    runner_fun.__globals__.setdefault("__context__", context)
    wrapped = fails_job(runner_fun)
    with pytest.raises(SaltInvocationError):
        wrapped(sitee="x")
    assert runner_fun.__globals__["__context__"]["retcode"] == 1


# -- device_typ= --------------------------------------------------------------------------------
def test_device_present_names_a_misspelled_field(tmp_path):
    _, states = _minion_mods(tmp_path, _snapshot(tmp_path))
    ret = states["netbox.device_present"](
        "srv-new-01", site="lab1", device_typ="PowerEdge M630", role="edge-server"
    )
    assert ret["result"] is False
    assert "device_typ: not a writable field of dcim.devices objects" in ret["comment"]
    assert "did you mean device_type?" in ret["comment"]
    assert "are required" not in ret["comment"]


# -- NetBox down: pillar_refresh ------------------------------------------------------------------
def test_pillar_refresh_with_netbox_down_is_one_clear_error(tmp_path):
    netbox = {"url": f"http://127.0.0.1:{_closed_port()}", "token": "0" * 40, "retries": 0}
    client = _runner_client(tmp_path, netbox=netbox, ext_pillar=[{"netbox": {}}], cache="localfs")
    ret = client.cmd("netbox.pillar_refresh", full_return=True, print_event=False)
    text = str(ret["return"])
    assert ret["success"] is False, ret
    assert "Traceback" not in text and "Exception occurred" not in text
    assert "netbox.pillar_refresh" in text and "cannot reach NetBox" in text and "127.0.0.1" in text
    assert ret["return"]["retcode"] == 1
    assert netbox["token"] not in text
