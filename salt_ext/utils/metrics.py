"""
Prometheus metrics of saltext-turnup, written as a textfile for node_exporter's textfile
collector (``salt-run turnup.metrics``, e.g. from the master's schedule).

What is exported (all names ``saltext_turnup_...``):

- rack turn-ups, from the run records in ``salt.cache`` (bank ``turnup/runs``, shared by the
  masters): devices of each rack's latest run by NetBox status, runs by state, step durations
  (histogram over every recorded step), failures by step;
- the NetBox pillar cache: hits, misses (refreshed from NetBox) and stale serves counted by the
  ext_pillar in the master's worker processes, and each cached record's age and freshness;
- NetBox requests of the master's processes: count, latency (histogram) and errors per endpoint.

The ext_pillar and NetBox clients run in many processes (the master's workers, ``salt-run``);
each process keeps its counts in memory and spools them, at most every
:data:`FLUSH_INTERVAL` seconds and at exit, to ``<cachedir>/saltext_turnup/metrics/`` (one
small JSON file per process, written atomically). The exporter sums the spool; the files of
processes that are gone are folded into one ``retired.json`` so counters never go down.
"""

import atexit
import json
import logging
import os
import socket
import threading
import time
from collections import Counter

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from salt.exceptions import SaltInvocationError

from salt_ext.utils.files import atomic_write
from salt_ext.utils.netbox import counter as nb_counter

log = logging.getLogger(__name__)

PREFIX = "saltext_turnup"
DEFAULT_FILE = "/var/lib/node_exporter/textfile/saltext_turnup.prom"
SPOOL = os.path.join("saltext_turnup", "metrics")
RETIRED = "retired.json"
FLUSH_INTERVAL = 10.0
#: step duration buckets (seconds): a stage is a second, a highstate can take half an hour
STEP_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600)
PILLAR_EVENTS = ("hit", "miss", "stale")

_LOCK = threading.Lock()
_PILLAR = Counter()
_STATE = {"dir": None, "flushed": 0.0, "timer": None, "started": None, "atexit": False}


# -- in-process counting and spooling -------------------------------------------------------------
def spool_dir(opts):
    return os.path.join(opts.get("cachedir") or "/var/cache/salt/master", SPOOL)


def configure(opts):
    """Spool this process's counts under ``opts['cachedir']`` (the first call wins)."""
    if _STATE["dir"] is None and opts and opts.get("cachedir"):
        with _LOCK:
            if _STATE["dir"] is None:
                _STATE["dir"] = spool_dir(opts)
                _STATE["started"] = time.time()
                if not _STATE["atexit"]:
                    atexit.register(flush)
                    _STATE["atexit"] = True


def reset():
    """Forget this process's counts and spool directory (tests; a forked worker)."""
    with _LOCK:
        timer = _STATE["timer"]
        if timer is not None:
            timer.cancel()
        _PILLAR.clear()
        _STATE.update(dir=None, flushed=0.0, timer=None, started=None)
    nb_counter.PROCESS.reset()


def _after_fork():
    """A forked worker counts only its own work (the parent's counts stay the parent's)."""
    _PILLAR.clear()
    nb_counter.PROCESS.reset()
    _STATE.update(flushed=0.0, timer=None, started=time.time())


os.register_at_fork(after_in_child=_after_fork)


def record_kind(name):
    """``site-12`` -> ``site``, ``vm-3`` -> ``vm``, the identity index -> ``index``."""
    head = str(name).split("-", 1)[0]
    return head if head in ("site", "vm") else "index"


def pillar_event(event, name, opts=None):
    """Count a pillar cache ``hit``/``miss``/``stale`` serve of record ``name`` (cheap)."""
    try:
        if opts is not None:
            configure(opts)
        with _LOCK:
            _PILLAR[(event, record_kind(name))] += 1
        maybe_flush()
    except Exception as err:  # pylint: disable=broad-except  # never fail a pillar compile
        log.debug("metrics: pillar counting failed: %s", err)


def maybe_flush():
    """Flush when the last flush is older than FLUSH_INTERVAL, else once the interval ends."""
    if _STATE["dir"] is None:
        return
    wait = _STATE["flushed"] + FLUSH_INTERVAL - time.time()
    if wait <= 0:
        flush()
        return
    with _LOCK:
        if _STATE["timer"] is None:
            timer = threading.Timer(wait, _timed_flush)
            timer.daemon = True
            _STATE["timer"] = timer
            timer.start()


def _timed_flush():
    with _LOCK:
        _STATE["timer"] = None
    flush()


def _proc_file(folder):
    return os.path.join(folder, f"proc-{os.getpid()}-{int(_STATE['started'] * 1000)}.json")


def snapshot():
    """This process's counts (JSON-friendly)."""
    with _LOCK:
        pillar = [[e, k, n] for (e, k), n in sorted(_PILLAR.items())]
    snap = nb_counter.PROCESS.snapshot()
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "pillar": pillar,
        "netbox": {
            "requests": [
                [ep, meth, n] for ep, by in snap["by_endpoint"].items() for meth, n in by.items()
            ],
            "retries": [
                [ep, meth, n]
                for ep, by in snap["retries_by_endpoint"].items()
                for meth, n in by.items()
            ],
            **nb_counter.PROCESS.results(),
        },
    }


def _atomic_json(path, data, mode=0o600):
    atomic_write(path, json.dumps(data), mode)


def flush():
    """Write this process's counts to its spool file (atomic). Quiet on errors."""
    folder = _STATE["dir"]
    if folder is None:
        return
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        _atomic_json(_proc_file(folder), snapshot())
        _STATE["flushed"] = time.time()
    except Exception as err:  # pylint: disable=broad-except
        log.debug("metrics: could not spool counts to %s: %s", folder, err)


def _alive(pid):
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, ValueError):
        return True
    return True


def _merge(total, part):
    for section in ("pillar",):
        acc = Counter({tuple(k[:-1]): 0 for k in total.get(section, [])})
        for *key, n in total.get(section, []) + part.get(section, []):
            acc[tuple(key)] += n
        total[section] = [[*k, n] for k, n in sorted(acc.items())]
    nb_total, nb_part = total.setdefault("netbox", {}), part.get("netbox") or {}
    for section in ("requests", "retries", "errors"):
        acc = Counter()
        for *key, n in nb_total.get(section, []) + nb_part.get(section, []):
            acc[tuple(key)] += n
        nb_total[section] = [[*k, n] for k, n in sorted(acc.items())]
    lat = {}
    for ep, meth, n, total_s, buckets in nb_total.get("latency", []) + nb_part.get("latency", []):
        entry = lat.setdefault((ep, meth), [0, 0.0, [0] * len(nb_counter.LATENCY_BUCKETS)])
        entry[0] += n
        entry[1] += total_s
        entry[2] = [a + b for a, b in zip(entry[2], buckets, strict=False)]
    nb_total["latency"] = [[ep, m, n, s, b] for (ep, m), (n, s, b) in sorted(lat.items())]
    return total


def spooled(opts):
    """
    The counts of every process of this master (the spool), summed; the files of processes
    that are gone are folded into ``retired.json`` first.
    """
    import filelock  # noqa: PLC0415  # pylint: disable=import-outside-toplevel

    folder = spool_dir(opts)
    total = {"pillar": [], "netbox": {}}
    if not os.path.isdir(folder):
        return total
    with filelock.FileLock(os.path.join(folder, ".fold.lock"), timeout=60):
        retired_path = os.path.join(folder, RETIRED)
        retired = _read(retired_path) or {"pillar": [], "netbox": {}}
        folded = []
        for entry in sorted(os.listdir(folder)):
            if not (entry.startswith("proc-") and entry.endswith(".json")):
                continue
            path = os.path.join(folder, entry)
            data = _read(path)
            if data is None:
                continue
            pid = entry.split("-")[1]
            if int(pid) != os.getpid() and not _alive(pid):
                retired = _merge(retired, data)
                folded.append(path)
            else:
                total = _merge(total, data)
        if folded:
            _atomic_json(retired_path, retired)
            for path in folded:
                os.unlink(path)
    return _merge(total, retired)


def _read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


# -- the exporter ---------------------------------------------------------------------------------
class _SpoolCollector:
    """Pillar and NetBox counts from the spool (summed over the master's processes)."""

    def __init__(self, counts, cache_info):
        self.counts = counts
        self.cache_info = cache_info or {}

    def collect(self):  # noqa: PLR0914
        names = {
            "hit": ("pillar_cache_hits", "Pillar compiles served from a fresh cached record"),
            "miss": (
                "pillar_cache_misses",
                "Cached records missing or expired, refreshed from NetBox",
            ),
            "stale": (
                "pillar_cache_stale_serves",
                "Records served stale because NetBox failed (within max_stale)",
            ),
        }
        families = {
            event: CounterMetricFamily(f"{PREFIX}_{name}", text, labels=["record"])
            for event, (name, text) in names.items()
        }
        seen = {event: set() for event in PILLAR_EVENTS}
        for event, kind, n in self.counts.get("pillar") or []:
            if event in families:
                families[event].add_metric([kind], n)
                seen[event].add(kind)
        for event, family in families.items():
            for kind in {"index", "site"} - seen[event]:
                family.add_metric([kind], 0)
            yield family

        age = GaugeMetricFamily(
            f"{PREFIX}_pillar_cache_age_seconds",
            "Age of each cached NetBox pillar record (since its last successful sync)",
            labels=["source", "record", "scope"],
        )
        fresh = GaugeMetricFamily(
            f"{PREFIX}_pillar_cache_fresh",
            "1 when the cached record is within its TTL, 0 when it is due for a refresh",
            labels=["source", "record", "scope"],
        )
        failing = GaugeMetricFamily(
            f"{PREFIX}_pillar_cache_error",
            "1 when the last refresh of the record failed (NetBox error kept in the cache)",
            labels=["source", "record", "scope"],
        )
        for source, info in sorted(self.cache_info.items()):
            for name, rec in sorted((info.get("records") or {}).items()):
                scope = rec.get("scope")
                scope = (
                    scope.get("slug") or scope.get("id") if isinstance(scope, dict) else scope
                ) or ""
                labels = [source, name, str(scope)]
                if rec.get("age_s") is not None:
                    age.add_metric(labels, float(rec["age_s"]))
                fresh.add_metric(labels, 1 if rec.get("fresh") else 0)
                failing.add_metric(labels, 1 if rec.get("error") else 0)
        yield age
        yield fresh
        yield failing

        nb = self.counts.get("netbox") or {}
        requests_f = CounterMetricFamily(
            f"{PREFIX}_netbox_requests",
            "HTTP requests sent to NetBox (first attempts), by endpoint and method",
            labels=["endpoint", "method"],
        )
        for ep, meth, n in nb.get("requests") or []:
            requests_f.add_metric([ep, meth], n)
        yield requests_f
        retries = CounterMetricFamily(
            f"{PREFIX}_netbox_request_retries",
            "Requests to NetBox repeated after a connection error or a 429/5xx",
            labels=["endpoint", "method"],
        )
        for ep, meth, n in nb.get("retries") or []:
            retries.add_metric([ep, meth], n)
        yield retries
        errors = CounterMetricFamily(
            f"{PREFIX}_netbox_request_errors",
            "Requests to NetBox that failed: HTTP status >= 400 (http_<code>), timeout, connection",
            labels=["endpoint", "method", "error"],
        )
        for ep, meth, kind, n in nb.get("errors") or []:
            errors.add_metric([ep, meth, kind], n)
        yield errors
        latency = HistogramMetricFamily(
            f"{PREFIX}_netbox_request_duration_seconds",
            "Latency of requests to NetBox (a request's urllib3 retries and their back-off included)",
            labels=["endpoint", "method"],
        )
        for ep, meth, n, total_s, buckets in nb.get("latency") or []:
            cumulative, running = [], 0
            for bound, count in zip(nb_counter.LATENCY_BUCKETS, buckets, strict=False):
                running += count
                cumulative.append((_le(bound), running))
            cumulative.append(("+Inf", n))
            latency.add_metric([ep, meth], cumulative, sum_value=total_s)
        yield latency


def _le(bound):
    return repr(float(bound))


def turnup_metrics(registry, records):
    """Register the turn-up metrics of ``records`` (run records) in ``registry``."""
    devices = Gauge(
        f"{PREFIX}_devices",
        "Devices of each rack's latest turn-up run, by NetBox status (as the run last set it)",
        ["site", "rack", "kind", "status"],
        registry=registry,
    )
    runs = Gauge(f"{PREFIX}_runs", "Turn-up run records by state", ["state"], registry=registry)
    # a histogram family of its own: no ``_created`` series (the figures come from records)
    durations = HistogramMetricFamily(
        f"{PREFIX}_step_duration_seconds",
        "Time each device spent in each turn-up step (every recorded run)",
        labels=["step"],
    )
    observed = {}
    failures = CounterMetricFamily(
        f"{PREFIX}_step_failures",
        "Devices that failed a turn-up step (every recorded run)",
        labels=["step"],
    )
    last = Gauge(
        f"{PREFIX}_run_last_update_timestamp_seconds",
        "When the latest run of the rack was last updated (Unix time)",
        ["site", "rack", "state"],
        registry=registry,
    )
    from salt_ext.utils.turnup import record as rec  # noqa: PLC0415  # pylint: disable=C0415
    from salt_ext.utils.turnup.steps import ORDER  # noqa: PLC0415  # pylint: disable=C0415

    for state in rec.STATES:
        runs.labels(state).set(0)
    latest = {}
    failed_by_step = Counter({step: 0 for step in ORDER if step not in ("start", "finish")})
    for record in records:
        runs.labels(record.get("state") or "unknown").inc()
        key = (record.get("site"), record.get("rack"))
        if key not in latest or (record.get("created") or 0) > (latest[key].get("created") or 0):
            latest[key] = record
        for dev in (record.get("devices") or {}).values():
            for step, info in (dev.get("steps") or {}).items():
                if (info or {}).get("duration") is not None and info.get("result") is not None:
                    observed.setdefault(step, []).append(float(info["duration"]))
            if dev.get("failed_step"):
                failed_by_step[dev["failed_step"]] += 1
    for step, n in sorted(failed_by_step.items()):
        failures.add_metric([step], n)
    for step in [s for s in ORDER if s in observed] + sorted(set(observed) - set(ORDER)):
        values = observed[step]
        buckets = [(_le(b), sum(1 for v in values if v <= b)) for b in STEP_BUCKETS]
        durations.add_metric([step], buckets + [("+Inf", len(values))], sum_value=sum(values))
    registry.register(_Fixed([durations, failures]))
    for (site, rack), record in sorted(latest.items(), key=lambda i: (str(i[0][0]), str(i[0][1]))):
        by = Counter(
            (dev.get("kind") or "server", dev.get("status") or "unknown")
            for dev in (record.get("devices") or {}).values()
        )
        for (kind, status), n in sorted(by.items()):
            devices.labels(str(site), str(rack), kind, status).set(n)
        last.labels(str(site), str(rack), record.get("state") or "unknown").set(
            record.get("updated") or 0
        )


class _Fixed:
    def __init__(self, families):
        self.families = families

    def collect(self):
        return iter(self.families)


def build(opts, *, records=None, counts=None, cache_info=None):
    """
    The registry of every metric. ``records``: run records (default: every run in the cache);
    ``counts``: the spooled pillar/NetBox counts (default: :func:`spooled`); ``cache_info``:
    the pillar cache description (default: each configured ext_pillar's).
    """
    registry = CollectorRegistry()
    if records is None:
        from salt_ext.utils.turnup import record as rec  # noqa: PLC0415  # pylint: disable=C0415

        store = rec.Store(opts)
        records = [r for r in (store.cache.fetch(rec.RUNS, k) for k in store.list()) if r]
    turnup_metrics(registry, records)
    if counts is None:
        configure(opts)
        flush()  # this process's own requests too
        counts = spooled(opts)
    if cache_info is None:
        cache_info = _cache_info(opts)
    registry.register(_SpoolCollector(counts, cache_info))
    info = Gauge(
        f"{PREFIX}_metrics_generated_timestamp_seconds",
        "When this file was written (Unix time): alert when it stops moving",
        registry=registry,
    )
    info.set(time.time())
    return registry


def _cache_info(opts):
    if not any(isinstance(e, dict) and "netbox" in e for e in (opts.get("ext_pillar") or [])):
        return {}
    try:
        from salt_ext.utils import pillar as pillar_utils  # noqa: PLC0415  # pylint: disable=C0415

        return pillar_utils.pillar_cache_info(opts)
    except Exception as err:  # pylint: disable=broad-except  # metrics must still be written
        log.warning("metrics: cannot read the pillar cache: %s", err)
        return {}


def metrics_path(opts, path=None):
    """The textfile to write: ``path``, else ``turnup: {metrics_file: ...}``, else the default."""
    path = path or (opts.get("turnup") or {}).get("metrics_file") or DEFAULT_FILE
    if not isinstance(path, str) or not os.path.isabs(path) or not path.endswith(".prom"):
        raise SaltInvocationError(
            f"path={path!r} must be an absolute file path ending in .prom (node_exporter's "
            "textfile collector reads only *.prom), e.g. "
            "path=/var/lib/node_exporter/textfile/saltext_turnup.prom"
        )
    if not os.path.isdir(os.path.dirname(path)):
        raise SaltInvocationError(
            f"path={path!r}: directory {os.path.dirname(path)} does not exist (create it, or set "
            "turnup: {metrics_file: ...} in the master config)"
        )
    return path


def write(opts, path=None, **kwargs):
    """Write the textfile atomically (``write_to_textfile``); a summary."""
    path = metrics_path(opts, path)
    registry = build(opts, **kwargs)
    write_to_textfile(path, registry)
    os.chmod(path, 0o644)
    samples = sum(len(m.samples) for m in registry.collect())
    return {"path": path, "samples": samples, "bytes": os.path.getsize(path)}
