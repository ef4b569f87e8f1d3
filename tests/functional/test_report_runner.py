"""
``salt-run turnup.report`` through Salt's own runner client (master opts, localfs cache under
tmp): the run record written with record.Store becomes the HTML page; bad input fails the job
(retcode 1) naming the argument; the configured NetBox token never reaches the page.
"""

import os

import salt.config
import salt.runner

from tests.unit.turnup.test_report import FAILED, make_run

TOKEN = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"


def _client(tmp_path):
    opts = salt.config.master_config(None)
    opts.update(
        cachedir=str(tmp_path / "cache"),
        pki_dir=str(tmp_path / "pki"),
        sock_dir=str(tmp_path / "sock"),
        cache="localfs",
        id="master-a",
        netbox={"url": "http://127.0.0.1:9", "token": TOKEN},
    )
    (tmp_path / "cache" / "proc").mkdir(parents=True, exist_ok=True)
    return opts, salt.runner.RunnerClient(opts)


def test_report_runner_writes_the_page(tmp_path):
    opts, client = _client(tmp_path)
    _, record = make_run(opts, token_in_error=TOKEN)
    path = str(tmp_path / "r.html")
    ret = client.cmd(
        "turnup.report",
        kwarg={"run": record["id"], "path": path},
        full_return=True,
        print_event=False,
    )
    assert ret["success"] is True, ret
    assert ret["return"]["failed"] == {n: s for n, (s, _) in FAILED.items()}
    assert ret["return"]["devices"] == 11
    text = open(path, encoding="utf-8").read()
    assert record["id"] in text and TOKEN not in text
    assert all(f'data-device="{name}"' in text for name in record["devices"])
    assert os.stat(path).st_mode & 0o777 == 0o644


def test_report_runner_bad_input_fails_the_job(tmp_path):
    opts, client = _client(tmp_path)
    make_run(opts)
    ret = client.cmd(
        "turnup.report",
        kwarg={"run": "lab1-R2-19990101T000000", "path": str(tmp_path / "x")},
        full_return=True,
        print_event=False,
    )
    assert ret["return"]["retcode"] == 1 and "lab1-R2-19990101T000000" in ret["return"]["error"]
    ret = client.cmd(
        "turnup.report",
        kwarg={"run": "x", "path": "rel.html"},
        full_return=True,
        print_event=False,
    )
    assert ret["return"]["retcode"] == 1 and "path='rel.html'" in ret["return"]["error"]
    ret = client.cmd(
        "turnup.report",
        kwarg={"runn": "x", "path": "/tmp/x.html"},
        full_return=True,
        print_event=False,
    )
    assert ret["return"]["retcode"] == 1 and "runn" in ret["return"]["error"]
    assert not os.path.exists("/tmp/x.html")
