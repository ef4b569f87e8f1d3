"""
The HTML run report: built from a run record stored with record.Store on a localfs cache (the
real code path), opened in headless Chromium; the rendered DOM and the screenshot are checked
against the run's data (every device row, the two failures, their errors and bars).
"""

import html.parser
import os
import shutil
import struct
import subprocess
import zlib

import pytest
from salt.exceptions import SaltInvocationError

from salt_ext.utils.netbox import SnapshotSource
from salt_ext.utils.turnup import plan as planner
from salt_ext.utils.turnup import record as rec
from salt_ext.utils.turnup import report
from tests.support.saltenv import LAB1_SNAPSHOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FAILED = {
    "srv-r2-04": (
        "validate",
        "hardware validation failed: memory.total_gb: expected 384, found 256 <b>dimm</b>",
    ),
    "srv-r2-07": ("highstate", "highstate failed: pkg-chrony: Package chrony is not available"),
}
#: step -> seconds each server spends in it (a slow highstate, like a real rack)
DURATIONS = {
    "stage": 1.5,
    "wait_minions": 12.0,
    "sync_all": 9.0,
    "validate": 24.0,
    "sync_inventory": 7.0,
    "highstate": 95.0,
    "postcheck": 11.0,
    "activate": 1.2,
}


def make_run(opts, token_in_error=None):
    """
    A realistic finished run of lab1 R2 (3 network devices checked, 8 servers: canary then 4
    batches for highstate, srv-r2-04 failing validate and srv-r2-07 failing highstate), saved
    through record.Store. Returns ``(store, record)``.
    """
    store = rec.Store(opts)
    plan = planner.build(SnapshotSource(str(LAB1_SNAPSHOT)), "lab1", "R2")
    record = rec.new_record(
        opts, plan, {"batch": "25%", "max_failures": None, "minion_timeout": 300}, jid="2026120215"
    )
    t0 = record["created"]
    servers = rec.servers(record)
    clock = t0 + 2.0

    def run_step(names, step, start, jid=None):
        end = start
        for offset, name in enumerate(names):
            dev = record["devices"][name]
            if dev["failed_step"]:
                continue
            began = start + 0.2 * offset
            took = DURATIONS[step] * (1 + 0.07 * ((offset * 3 + len(step)) % 5))
            fail = FAILED.get(name)
            ok = not (fail and fail[0] == step)
            comment = {"stage": "planned -> staged", "activate": "staged -> active"}.get(step, "")
            if not ok:
                comment = fail[1]
                dev["failed_step"], dev["error"], dev["status"] = step, fail[1], "failed"
                if token_in_error:
                    dev["error"] += f" (NetBox said: Token {token_in_error})"
            elif step in ("stage", "activate"):
                dev["status"] = comment.split(" -> ")[1]
            dev["steps"][step] = {
                "result": ok,
                "jid": jid,
                "started": began,
                "ended": began + took,
                "duration": round(took, 3),
                "comment": comment,
            }
            end = max(end, began + took)
        return end

    for number, step in enumerate(
        ("stage", "wait_minions", "sync_all", "validate", "sync_inventory")
    ):
        clock = run_step(servers, step, clock, jid=None if step == "stage" else f"2026{number}")
    for number, wave in enumerate(w for w in plan["waves"] if w["kind"] != "network"):
        clock = run_step(wave["devices"], "highstate", clock, jid=f"20261202hs{number}")
    clock = run_step(servers, "postcheck", clock, jid="20261202pc")
    clock = run_step(servers, "activate", clock)
    record["state"] = "done"
    record["finished"] = clock + 0.5
    record["history"].append({"at": clock + 0.5, "event": "finished: done"})
    store.save(record)
    return store, record


@pytest.fixture
def opts(tmp_path):
    return {"cache": "localfs", "cachedir": str(tmp_path / "cache"), "id": "master-a"}


# -- tiny PNG decoder (8-bit RGB/RGBA, non-interlaced: what Chromium writes) ------------------
def read_png(path):
    with open(path, "rb") as handle:
        data = handle.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, prev = [], bytearray(stride)
    for y in range(height):
        line = raw[y * (stride + 1) : (y + 1) * (stride + 1)]
        kind, cur = line[0], bytearray(line[1:])
        for i in range(stride):
            a = cur[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if kind == 1:
                cur[i] = (cur[i] + a) & 255
            elif kind == 2:
                cur[i] = (cur[i] + b) & 255
            elif kind == 3:
                cur[i] = (cur[i] + ((a + b) >> 1)) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                cur[i] = (cur[i] + pred) & 255
        rows.append(bytes(cur))
        prev = cur
    return width, height, channels, rows


def hex_rgb(colour):
    colour = colour.lstrip("#")
    return tuple(int(colour[i : i + 2], 16) for i in (0, 2, 4))


def bands(png, colours, min_run=3):
    """
    Horizontal bands of bar-shaped pixels of ``colours``: ``[(y0, y1, {colour: longest run})]``
    (rows where some colour runs at least ``min_run`` pixels, grouped when consecutive).
    """
    width, _, channels, rows = png
    wanted = {hex_rgb(c): c for c in colours}
    found = []
    for y, row in enumerate(rows):
        runs, last, length = {}, None, 0
        for x in range(width):
            pixel = tuple(row[x * channels : x * channels + 3])
            hit = wanted.get(pixel)
            length = length + 1 if hit is not None and hit == last else (1 if hit else 0)
            last = hit
            if hit is not None and length >= min_run:
                runs[hit] = max(runs.get(hit, 0), length)
        if runs:
            if found and found[-1][1] == y - 1:
                y0, _, seen = found[-1]
                for c, n in runs.items():
                    seen[c] = max(seen.get(c, 0), n)
                found[-1] = (y0, y, seen)
            else:
                found.append((y, y, runs))
    return found


class _Dom(html.parser.HTMLParser):
    """Elements with ``data-device`` and the text inside the failure rows."""

    def __init__(self):
        super().__init__()
        self.rows, self.bars, self.failures, self._in = {}, [], {}, None
        self._depth = 0
        self._row = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "g" and "row" in (attrs.get("class") or "").split():
            self._row = attrs["data-device"]
            self.rows[self._row] = attrs
        if tag == "rect" and "bar" in (attrs.get("class") or "").split():
            self.bars.append((self._row, attrs["data-step"], attrs["data-result"]))
        if tag == "tr" and attrs.get("class") == "failure":
            self._in = attrs["data-device"]
            self.failures[self._in] = ""

    def handle_endtag(self, tag):
        if tag == "tr":
            self._in = None
        if tag == "g":
            self._row = None

    def handle_data(self, data):
        if self._in:
            self.failures[self._in] += data


def chromium(tmp_path, url, *args):
    profile = tmp_path / f"chromium-profile-{len(list(tmp_path.iterdir()))}"
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--window-size=1280,1100",
        f"--user-data-dir={profile}",
        *args,
        url,
    ]
    env = {**os.environ, "HOME": str(tmp_path)}
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_build_follows_the_record(opts):
    _, record = make_run(opts)
    data = report.build(record)
    names = [r["name"] for r in data["rows"]]
    assert names[:3] == ["oob-r2", "tor1-r2", "tor2-r2"] and len(names) == 11
    assert {f["device"]: f["step"] for f in data["failures"]} == {
        "srv-r2-04": "validate",
        "srv-r2-07": "highstate",
    }
    assert data["counts"] == {"servers": 8, "done": 6, "failed": 2, "network": 3}
    # the NetBox status changes: 8 staged, 6 active, 2 failed
    changes = [(c["device"], c["old"], c["new"]) for c in data["changes"]]
    assert sum(1 for c in changes if c[2] == "staged") == 8
    assert sum(1 for c in changes if c[2] == "active") == 6
    assert ("srv-r2-04", "staged", "failed") in changes
    assert ("srv-r2-07", "staged", "failed") in changes
    # bars sit inside the chart, in time order per device, failure red only on the failures
    geo = data["geometry"]
    for row in data["rows"]:
        xs = [b["x"] for b in row["bars"]]
        assert xs == sorted(xs)
        assert all(geo["chart_x"] <= b["x"] <= geo["chart_x"] + geo["chart_w"] for b in row["bars"])
        reds = [b["step"] for b in row["bars"] if b["colour"] == report.FAIL_COLOUR]
        assert reds == ([FAILED[row["name"]][0]] if row["name"] in FAILED else [])


def test_report_escapes_data_and_masks_tokens(opts, tmp_path):
    token = "0123456789abcdef0123456789abcdef01234567"
    store, record = make_run(opts, token_in_error=token)
    path = str(tmp_path / "out" / "run.html")
    os.makedirs(os.path.dirname(path))
    out = report.report(store, record["id"], path, secrets=["s3cr3t-v2"])
    text = open(path, encoding="utf-8").read()
    assert out["failed"] == {"srv-r2-04": "validate", "srv-r2-07": "highstate"}
    assert token not in text and "Token ***" in text
    assert "<b>dimm</b>" not in text and "&lt;b&gt;dimm&lt;/b&gt;" in text
    assert os.stat(path).st_mode & 0o777 == 0o644
    assert sorted(os.listdir(os.path.dirname(path))) == ["run.html"]  # no temporary left
    # self-contained: nothing fetched from anywhere
    for needle in ("http://", "https://", "<script", "@import", "<link", "url("):
        assert needle not in text.replace('xmlns="http://www.w3.org/2000/svg"', ""), needle


def test_report_bad_input(opts, tmp_path):
    store, _ = make_run(opts)
    with pytest.raises(SaltInvocationError, match="lab1-R2-nope"):
        report.report(store, "lab1-R2-nope", str(tmp_path / "x.html"))
    with pytest.raises(SaltInvocationError, match="absolute"):
        report.write("relative.html", "x")
    with pytest.raises(SaltInvocationError, match="does not exist"):
        report.write(str(tmp_path / "missing" / "x.html"), "x")


@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason="chromium (Debian package) absent")
def test_report_in_headless_chromium_shows_every_device_and_failure(opts, tmp_path):
    store, record = make_run(opts)
    path = str(tmp_path / "report.html")
    report.report(store, record["id"], path)
    url = "file://" + path

    # the DOM after layout: every device of the run has its row, the failures their errors
    dom = _Dom()
    dom.feed(chromium(tmp_path, url, "--dump-dom"))
    assert list(dom.rows) == report._order(record)  # pylint: disable=protected-access
    for name, dev in record["devices"].items():
        row = dom.rows[name]
        if name in FAILED:
            assert row["data-result"] == "failed" and row["data-failed-step"] == FAILED[name][0]
            assert FAILED[name][1] in dom.failures[name]
        elif dev["kind"] == "server":
            assert row["data-result"] == "done" and row["data-status"] == "active"
    assert set(dom.failures) == set(FAILED)
    failed_bars = {(d, s) for d, s, r in dom.bars if r == "failed"}
    assert failed_bars == {(n, s) for n, (s, _) in FAILED.items()}

    # the screenshot: one band of bars per server, in row order; failure red exactly in the
    # bands of the two failed servers
    shot = tmp_path / "report.png"
    chromium(tmp_path, url, f"--screenshot={shot}")
    png = read_png(str(shot))
    colours = set(report.STEP_COLOURS.values()) | {report.FAIL_COLOUR}
    bar_h = report.BAR_H
    found = [b for b in bands(png, colours, min_run=3) if bar_h - 2 <= b[1] - b[0] + 1 <= bar_h + 2]
    servers = rec.servers(record)
    assert len(found) == len(servers), [(b[0], b[1]) for b in found]
    red = [i for i, b in enumerate(found) if b[2].get(report.FAIL_COLOUR, 0) >= 3]
    assert [servers[i] for i in red] == sorted(FAILED)
    # a failed server's bars stop at its failure; a healthy one has all eight steps' colours
    for i, name in enumerate(servers):
        steps_seen = {c for c in found[i][2] if c != report.FAIL_COLOUR}
        if name not in FAILED:
            assert len(steps_seen) >= 6, (name, steps_seen)


def test_running_run_shows_the_job_in_flight(opts):
    """A run still going: the highstate in flight is amber up to now, the badge says running."""
    store, record = make_run(opts)
    record["state"] = "running"
    record.pop("finished")
    dev = record["devices"]["srv-r2-08"]
    for step in ("postcheck", "activate"):
        dev["steps"].pop(step)
    dev["status"] = "staged"
    started = dev["steps"]["highstate"]["started"]
    dev["steps"]["highstate"].update(result=None, ended=None, duration=None)
    store.save(record)
    data = report.build(store.get(record["id"]), now=started + 500)
    row = next(r for r in data["rows"] if r["name"] == "srv-r2-08")
    assert row["result"] == "running"
    bar = row["bars"][-1]
    assert bar["step"] == "highstate" and bar["colour"] == report.RUNNING_COLOUR
    geo = data["geometry"]
    assert bar["x"] + bar["w"] == pytest.approx(geo["chart_x"] + geo["chart_w"], abs=0.2)
    html = report.render(store.get(record["id"]), now=started + 500)
    assert 'class="state state-running"' in html
