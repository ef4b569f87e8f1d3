"""
The HTML report of a rack turn-up run (``salt-run turnup.report run=<id> path=<file.html>``).

One self-contained page, built from the run record only (no NetBox call, no network fetch when
it is opened: inline CSS and SVG, system fonts): the run's summary, a Gantt chart of every device
and step (from the per-step ``started``/``ended`` times of the record), the waves, the failures
with their errors and job ids, and the NetBox status changes the run made.

Everything from the record is data (device names, errors, comments) and is escaped by Jinja's
autoescape; strings that look like NetBox API tokens are masked before rendering.
"""

import datetime
import os
import re

import jinja2
from salt.exceptions import SaltInvocationError

from salt_ext.utils.files import atomic_write
from salt_ext.utils.turnup import record as rec
from salt_ext.utils.turnup.steps import ORDER

#: colour of a failed step bar (the test looks for it in the screenshot: keep it unique)
FAIL_COLOUR = "#d7263d"
#: colour of a step whose job is still running (result None)
RUNNING_COLOUR = "#f2a541"
#: colours of the steps that passed (blues/greens/greys, never the failure red)
STEP_COLOURS = {
    "preflight": "#9aa5b1",
    "start": "#9aa5b1",
    "stage": "#6c8ebf",
    "network": "#8e7cc3",
    "wait_minions": "#7fa7d6",
    "sync_all": "#4f86c6",
    "validate": "#2f6fb3",
    "sync_inventory": "#3d9970",
    "highstate": "#1b7f5f",
    "postcheck": "#52a37a",
    "activate": "#2e8b57",
    "finish": "#9aa5b1",
}
#: text colours of the NetBox status (darker than, and distinct from, the bar colours)
STATUS_COLOURS = {
    "active": "#1d6b41",
    "failed": "#a61b2b",
    "staged": "#3f5f8f",
    "planned": "#616e7c",
}

# Token forms of NetBox 4.x: v1 "Token <40 hex>", v2 "Bearer nbt_<key>.<token>"
_TOKEN_RES = (
    re.compile(r"(?i)\b(token|bearer)(\s+|[=:]\s*)([A-Za-z0-9_.\-]{8,})"),
    re.compile(r"\bnbt_[A-Za-z0-9_.\-]+"),
    re.compile(r"\b[0-9a-f]{40}\b"),
)

# Gantt geometry (SVG user units = CSS px)
LABEL_W = 190
STATUS_W = 70
CHART_W = 760
ROW_H = 26
BAR_H = 16
TOP = 34


def redact(text, secrets=()):
    """``text`` with the given secrets and anything shaped like a NetBox token masked."""
    if text is None:
        return None
    text = str(text)
    for secret in secrets:
        if secret and len(str(secret)) >= 4:
            text = text.replace(str(secret), "***")
    text = _TOKEN_RES[0].sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
    text = _TOKEN_RES[1].sub("nbt_***", text)
    return _TOKEN_RES[2].sub("***", text)


def _iso(stamp):
    return rec.iso(stamp) if stamp else "-"


def _hms(seconds):
    if seconds is None:
        return "-"
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{sec:02d}s" if hours else f"{minutes}m{sec:02d}s"


def _order(record):
    """Device names in wave order (network first, then canary and batches)."""
    names = []
    for wave in (record.get("plan") or {}).get("waves") or []:
        names += [n for n in wave["devices"] if n in record["devices"] and n not in names]
    names += [n for n in record["devices"] if n not in names]
    return names


def _result(dev):
    if dev.get("failed_step"):
        return "failed"
    if dev["kind"] != "server":
        return "checked" if dev.get("managed") else "unmanaged"
    steps = dev.get("steps") or {}
    if any((s or {}).get("result") is None and (s or {}).get("jid") for s in steps.values()):
        return "running"
    if (steps.get("activate") or {}).get("result") is True:
        return "done"
    return "pending"


def status_changes(record):
    """
    The NetBox status changes of the run, from the record: ``[{device, step, old, new, at}]``
    (``stage``/``activate`` comments ``old -> new``, and each failure setting ``failed``).
    """
    plan_devices = (record.get("plan") or {}).get("devices") or {}
    changes = []
    for name in _order(record):
        dev = record["devices"][name]
        if dev["kind"] != "server":
            continue
        status = (plan_devices.get(name) or {}).get("status")
        for step in ORDER:
            info = (dev.get("steps") or {}).get(step)
            if not info:
                continue
            match = re.match(r"^(\w+) -> (\w+)$", str(info.get("comment") or ""))
            if info.get("result") is True and match:
                changes.append(
                    {
                        "device": name,
                        "step": step,
                        "old": match.group(1),
                        "new": match.group(2),
                        "at": info.get("ended"),
                    }
                )
                status = match.group(2)
            if dev.get("failed_step") == step and dev.get("status") == "failed":
                changes.append(
                    {
                        "device": name,
                        "step": step,
                        "old": status,
                        "new": "failed",
                        "at": info.get("ended"),
                    }
                )
                status = "failed"
    return sorted(changes, key=lambda c: (c["at"] or 0, c["device"]))


def build(record, secrets=(), now=None):  # noqa: PLR0914
    """The data of the report (what the template shows), from a run record."""
    now = now or rec.now()
    start = record.get("created") or now
    ends = [start]
    for dev in record["devices"].values():
        for info in (dev.get("steps") or {}).values():
            ends += [t for t in ((info or {}).get("started"), (info or {}).get("ended")) if t]
    end = record.get("finished") or max(ends)
    if record.get("state") == "running":
        end = max(end, now)
    span = max(end - start, 1.0)

    def x(stamp):
        return LABEL_W + STATUS_W + CHART_W * (min(max(stamp, start), end) - start) / span

    rows = []
    for index, name in enumerate(_order(record)):
        dev = record["devices"][name]
        y = TOP + index * ROW_H
        bars = []
        for step in ORDER:
            info = (dev.get("steps") or {}).get(step)
            if not info or not info.get("started"):
                continue
            failed = dev.get("failed_step") == step or info.get("result") is False
            running = info.get("result") is None and not failed
            ended = info.get("ended") or (now if running else info["started"])
            x0 = x(info["started"])
            width = max(x(ended) - x0, 3.0)
            bars.append(
                {
                    "step": step,
                    "x": round(x0, 1),
                    "w": round(width, 1),
                    "colour": (
                        FAIL_COLOUR
                        if failed
                        else RUNNING_COLOUR if running else STEP_COLOURS.get(step, "#9aa5b1")
                    ),
                    "result": "failed" if failed else "running" if running else "ok",
                    "title": f"{name} {step}: "
                    + ("failed" if failed else "running" if running else "ok")
                    + f", {_hms(info.get('duration'))}"
                    + (f", job {info['jid']}" if info.get("jid") else "")
                    + (f" - {redact(info.get('comment'), secrets)}" if info.get("comment") else ""),
                }
            )
        total = sum(((s or {}).get("duration") or 0) for s in (dev.get("steps") or {}).values())
        rows.append(
            {
                "name": name,
                "kind": dev["kind"],
                "wave": dev.get("wave"),
                "minion": dev.get("minion"),
                "status": dev.get("status"),
                "status_colour": STATUS_COLOURS.get(dev.get("status"), "#c0c6cc"),
                "result": _result(dev),
                "failed_step": dev.get("failed_step"),
                "error": redact(dev.get("error"), secrets),
                "duration": _hms(total) if dev["kind"] == "server" else "-",
                "y": y,
                "bars": bars,
            }
        )
    ticks = []
    step_s = _tick(span)
    t = 0.0
    while t <= span + 1e-6:
        ticks.append({"x": round(x(start + t), 1), "label": _hms(t) if t else "0"})
        t += step_s
    failures = [
        {
            "device": r["name"],
            "step": r["failed_step"],
            "wave": r["wave"],
            "jid": (record["devices"][r["name"]]["steps"].get(r["failed_step"]) or {}).get("jid"),
            "at": _iso(
                (record["devices"][r["name"]]["steps"].get(r["failed_step"]) or {}).get("ended")
            ),
            "error": r["error"],
        }
        for r in rows
        if r["failed_step"]
    ]
    by_name = {r["name"]: r for r in rows}
    waves = []
    for wave in (record.get("plan") or {}).get("waves") or []:
        members = [by_name[n] for n in wave["devices"] if n in by_name]
        waves.append(
            {
                "name": wave["name"],
                "kind": wave["kind"],
                "devices": [{"name": m["name"], "result": m["result"]} for m in members],
                "failed": sum(1 for m in members if m["result"] == "failed"),
            }
        )
    servers = [r for r in rows if r["kind"] == "server"]
    stopped = record.get("stopped") or {}
    return {
        "id": record["id"],
        "site": record.get("site"),
        "rack": record.get("rack"),
        "state": record.get("state"),
        "master": record.get("master"),
        "jid": record.get("jid"),
        "created": _iso(record.get("created")),
        "finished": _iso(record.get("finished")),
        "updated": _iso(record.get("updated")),
        "duration": _hms(end - start),
        "options": {k: v for k, v in (record.get("options") or {}).items() if v is not None},
        "stopped": (
            {"step": stopped.get("step"), "reason": redact(stopped.get("reason"), secrets)}
            if stopped
            else None
        ),
        "counts": {
            "servers": len(servers),
            "done": sum(1 for r in servers if r["result"] == "done"),
            "failed": sum(1 for r in servers if r["result"] == "failed"),
            "network": len(rows) - len(servers),
        },
        "rows": rows,
        "ticks": ticks,
        "failures": failures,
        "waves": waves,
        "changes": [{**c, "at": _iso(c["at"])} for c in status_changes(record)],
        "history": [
            {"at": _iso(h.get("at")), "event": redact(h.get("event"), secrets), "jid": h.get("jid")}
            for h in record.get("history") or []
        ],
        "legend": [{"step": s, "colour": STEP_COLOURS[s]} for s in ORDER[2:-1]]
        + [
            {"step": "failed", "colour": FAIL_COLOUR},
            {"step": "running", "colour": RUNNING_COLOUR},
        ],
        "geometry": {
            "width": LABEL_W + STATUS_W + CHART_W + 20,
            "height": TOP + len(rows) * ROW_H + 10,
            "label_w": LABEL_W,
            "status_w": STATUS_W,
            "chart_x": LABEL_W + STATUS_W,
            "chart_w": CHART_W,
            "row_h": ROW_H,
            "bar_h": BAR_H,
            "top": TOP,
        },
        "generated": _iso(now),
        "generated_at": datetime.datetime.fromtimestamp(now, datetime.timezone.utc).isoformat(),
    }


TEMPLATE = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>Turn-up {{ r.id }} ({{ r.site }}/{{ r.rack }}): {{ r.state }}</title>
<style>
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 13px;
       color: #1f2933; margin: 18px 24px; background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px 0; }
h2 { font-size: 15px; margin: 22px 0 6px 0; border-bottom: 1px solid #d9dee3; padding-bottom: 3px; }
.sub { color: #52606d; margin-bottom: 10px; }
.state { display: inline-block; padding: 1px 8px; border-radius: 3px; color: #fff; font-weight: bold; }
.state-done { background: #2e8b57; } .state-running { background: #f2a541; }
.state-stopped, .state-aborted { background: #d7263d; }
table { border-collapse: collapse; margin: 4px 0; }
th, td { text-align: left; padding: 3px 10px 3px 0; vertical-align: top; }
th { color: #52606d; font-weight: normal; border-bottom: 1px solid #d9dee3; }
td.err { color: #a61b2b; font-family: "DejaVu Sans Mono", monospace; font-size: 12px;
         white-space: pre-wrap; max-width: 900px; }
.kv td:first-child { color: #52606d; padding-right: 16px; }
.res-failed { color: #a61b2b; font-weight: bold; } .res-done { color: #2e8b57; }
.legend span { display: inline-block; margin-right: 12px; }
.legend i { display: inline-block; width: 12px; height: 10px; margin-right: 4px; vertical-align: middle; }
svg text { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 12px; }
</style>
</head>
<body>
<h1>Rack turn-up {{ r.site }}/{{ r.rack }} <span class="state state-{{ r.state }}">{{ r.state }}</span></h1>
<div class="sub">run <b id="run-id">{{ r.id }}</b> &middot; master {{ r.master }} &middot;
orchestration job {{ r.jid or "-" }} &middot; started {{ r.created }} &middot; finished {{ r.finished }}
&middot; {{ r.duration }}</div>
<table class="kv" id="summary">
<tr><td>servers</td><td>{{ r.counts.servers }} ({{ r.counts.done }} done, {{ r.counts.failed }} failed)
  &middot; {{ r.counts.network }} network device(s) checked</td></tr>
<tr><td>options</td><td>{% for k, v in r.options.items() %}{{ k }}={{ v }}{% if not loop.last %}, {% endif %}{% endfor %}</td></tr>
{% if r.stopped %}<tr><td>stopped</td><td class="err">at {{ r.stopped.step }}: {{ r.stopped.reason }}</td></tr>{% endif %}
</table>

<h2>Timeline</h2>
<div class="legend">{% for l in r.legend %}<span><i style="background:{{ l.colour }}"></i>{{ l.step }}</span>{% endfor %}</div>
{% set g = r.geometry %}
<svg id="gantt" xmlns="http://www.w3.org/2000/svg" width="{{ g.width }}" height="{{ g.height }}"
     viewBox="0 0 {{ g.width }} {{ g.height }}" role="img" aria-label="Gantt chart of run {{ r.id }}">
  <text x="4" y="18" fill="#52606d">device</text>
  <text x="{{ g.label_w }}" y="18" fill="#52606d">status</text>
  {% for t in r.ticks %}
  <line x1="{{ t.x }}" y1="{{ g.top - 8 }}" x2="{{ t.x }}" y2="{{ g.height - 8 }}" stroke="#e4e7eb"/>
  <text x="{{ t.x + 2 }}" y="18" fill="#7b8794">{{ t.label }}</text>
  {% endfor %}
  {% for row in r.rows %}
  <g class="row" data-device="{{ row.name }}" data-result="{{ row.result }}" data-status="{{ row.status }}"
     data-failed-step="{{ row.failed_step or '' }}">
    {% if loop.index is even %}<rect x="0" y="{{ row.y }}" width="{{ g.width }}" height="{{ g.row_h }}" fill="#f5f7fa"/>{% endif %}
    <text class="name" x="4" y="{{ row.y + 17 }}" fill="{{ '#a61b2b' if row.result == 'failed' else '#1f2933' }}">{{ row.name }}</text>
    <text class="status" x="{{ g.label_w }}" y="{{ row.y + 17 }}" fill="{{ row.status_colour }}">{{ row.status }}</text>
    {% if not row.bars %}
    <text x="{{ g.chart_x + 4 }}" y="{{ row.y + 17 }}" fill="#7b8794">{{ row.kind }}, {{ row.result }} (no steps run on it)</text>
    {% endif %}
    {% for b in row.bars %}
    <rect class="bar" data-step="{{ b.step }}" data-result="{{ b.result }}" x="{{ b.x }}" y="{{ row.y + (g.row_h - g.bar_h) / 2 }}"
          width="{{ b.w }}" height="{{ g.bar_h }}" fill="{{ b.colour }}"><title>{{ b.title }}</title></rect>
    {% endfor %}
  </g>
  {% endfor %}
</svg>

<h2>Failures ({{ r.failures | length }})</h2>
{% if r.failures %}
<table id="failures">
<tr><th>device</th><th>wave</th><th>step</th><th>at</th><th>minion job</th><th>error</th></tr>
{% for f in r.failures %}
<tr class="failure" data-device="{{ f.device }}"><td class="res-failed">{{ f.device }}</td><td>{{ f.wave }}</td><td>{{ f.step }}</td><td>{{ f.at }}</td><td>{{ f.jid or "-" }}</td><td class="err">{{ f.error }}</td></tr>
{% endfor %}
</table>
{% else %}<p>No device failed.</p>{% endif %}

<h2>Devices</h2>
<table id="devices">
<tr><th>device</th><th>kind</th><th>wave</th><th>minion</th><th>NetBox status</th><th>result</th><th>time in steps</th></tr>
{% for row in r.rows %}
<tr class="device" data-device="{{ row.name }}"><td>{{ row.name }}</td><td>{{ row.kind }}</td><td>{{ row.wave }}</td><td>{{ row.minion }}</td>
<td>{{ row.status }}</td><td class="res-{{ row.result }}">{{ row.result }}{% if row.failed_step %} at {{ row.failed_step }}{% endif %}</td><td>{{ row.duration }}</td></tr>
{% endfor %}
</table>

<h2>Waves</h2>
<table id="waves">
<tr><th>wave</th><th>kind</th><th>devices</th><th>failed</th></tr>
{% for w in r.waves %}
<tr><td>{{ w.name }}</td><td>{{ w.kind }}</td><td>{% for d in w.devices %}<span class="res-{{ d.result }}">{{ d.name }}</span>{% if not loop.last %}, {% endif %}{% endfor %}</td><td>{{ w.failed }}</td></tr>
{% endfor %}
</table>

<h2>NetBox status changes ({{ r.changes | length }})</h2>
<table id="changes">
<tr><th>at</th><th>device</th><th>step</th><th>old</th><th>new</th></tr>
{% for c in r.changes %}
<tr class="change" data-device="{{ c.device }}"><td>{{ c.at }}</td><td>{{ c.device }}</td><td>{{ c.step }}</td><td>{{ c.old }}</td><td class="{{ 'res-failed' if c.new == 'failed' else '' }}">{{ c.new }}</td></tr>
{% endfor %}
</table>

<h2>History</h2>
<table id="history">
{% for h in r.history %}<tr><td>{{ h.at }}</td><td>{{ h.event }}</td><td>{{ h.jid or "" }}</td></tr>{% endfor %}
</table>
<p class="sub">generated {{ r.generated }} by saltext-turnup (salt-run turnup.report)</p>
</body>
</html>
"""


def _tick(span):
    for step in (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400):
        if span / step <= 10:
            return float(step)
    return span / 10


_ENV = jinja2.Environment(
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(record, secrets=(), now=None):
    """The HTML page of a run record (a string)."""
    return _ENV.from_string(TEMPLATE).render(r=build(record, secrets=secrets, now=now))


def check_path(path):
    """``path`` is an absolute file path in an existing directory, else SaltInvocationError."""
    if not path or not isinstance(path, str) or not os.path.isabs(path):
        raise SaltInvocationError(
            f"path={path!r} must be an absolute file path (path=/srv/reports/run.html)"
        )
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        raise SaltInvocationError(f"path={path!r}: directory {folder} does not exist")
    if os.path.isdir(path):
        raise SaltInvocationError(f"path={path!r} is a directory: give a file name (report.html)")
    return folder


def write(path, html):
    """Write ``html`` to ``path`` atomically (a temporary file beside it, renamed), mode 0644."""
    check_path(path)
    return atomic_write(path, html, 0o644, fsync=True)


def report(store, run, path, secrets=()):
    """Render the run ``run`` of ``store`` (:class:`record.Store`) to ``path``; a summary."""
    check_path(path)
    record = store.get(run)
    html = render(record, secrets=secrets)
    write(path, html)
    data = build(record, secrets=secrets)
    return {
        "run": record["id"],
        "path": path,
        "bytes": len(html.encode("utf-8")),
        "state": record.get("state"),
        "devices": len(data["rows"]),
        "failed": {f["device"]: f["step"] for f in data["failures"]},
    }
