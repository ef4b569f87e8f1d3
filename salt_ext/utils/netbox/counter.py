"""
Request counting for the NetBox access layer.

Every HTTP request a :class:`~salt_ext.utils.netbox.client.NetBoxClient` sends is counted per
``(endpoint, method)``; retries done by urllib3 are counted too, separately; list pages are counted
per endpoint. Tests and ``bench/`` read the counts to prove a code path makes the number of
requests it should (no N+1 look-ups).
"""

import re
import threading
from collections import Counter
from urllib.parse import urlsplit

__all__ = ["PROCESS", "LATENCY_BUCKETS", "RequestCounter", "endpoint_from_url"]

#: upper bounds (seconds) of the request latency histogram (``metrics`` exposes it)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

_ID = re.compile(r"^\d+$")


def endpoint_from_url(url):
    """
    Name the endpoint of an API URL: ``/api/dcim/devices/12/`` -> ``dcim.devices``;
    ``/api/ipam/prefixes/9/available-ips/`` -> ``ipam.prefixes.available-ips``;
    ``/api/status/`` -> ``status``; ``/api/`` -> ``api``.
    """
    path = urlsplit(url).path if "://" in str(url) else str(url).split("?", 1)[0]
    parts = [p for p in path.split("/") if p]
    if "api" in parts:
        parts = parts[parts.index("api") + 1 :]
    if not parts:
        return "api"
    if len(parts) == 1:
        return parts[0]
    name = f"{parts[0]}.{parts[1]}"
    rest = [p for p in parts[2:] if not _ID.match(p)]
    if rest:
        name += "." + ".".join(rest)
    return name


class RequestCounter:
    """
    Thread-safe counter of HTTP requests, retries and pages.

    ``total`` is every request that went on the wire (first attempts plus retries).
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._requests = Counter()
        self._retries = Counter()
        self._pages = Counter()
        self._latency = {}
        self._errors = Counter()

    def record(self, endpoint, method):
        """Count one request (first attempt) to ``endpoint`` with ``method``."""
        with self._lock:
            self._requests[(endpoint, method.upper())] += 1
        if self is not PROCESS:
            PROCESS.record(endpoint, method)

    def record_retry(self, endpoint, method):
        """Count one retry (a repeated attempt) to ``endpoint`` with ``method``."""
        with self._lock:
            self._retries[(endpoint, method.upper())] += 1
        if self is not PROCESS:
            PROCESS.record_retry(endpoint, method)

    def record_result(self, endpoint, method, seconds, error=None):
        """
        The outcome of one request (its urllib3 retries included): its latency in seconds and,
        when it failed, ``error`` (``"http_503"`` for an HTTP error status, ``"timeout"``,
        ``"connection"``).
        """
        key = (endpoint, method.upper())
        with self._lock:
            entry = self._latency.get(key)
            if entry is None:
                entry = self._latency[key] = [0, 0.0, [0] * len(LATENCY_BUCKETS)]
            entry[0] += 1
            entry[1] += seconds
            for i, bound in enumerate(LATENCY_BUCKETS):
                if seconds <= bound:
                    entry[2][i] += 1
                    break
            if error:
                self._errors[(endpoint, method.upper(), str(error))] += 1
        if self is not PROCESS:
            PROCESS.record_result(endpoint, method, seconds, error)

    def results(self):
        """
        Latency and errors per ``(endpoint, method)``, JSON-friendly::

            {"latency": [[endpoint, method, count, sum_s, [per-bucket counts]]],
             "errors": [[endpoint, method, error, count]]}

        (bucket ``i`` counts requests with ``LATENCY_BUCKETS[i-1] < s <= LATENCY_BUCKETS[i]``;
        slower than the last bound: ``count`` minus the buckets' sum).
        """
        with self._lock:
            return {
                "latency": [
                    [ep, meth, n, round(total, 6), list(buckets)]
                    for (ep, meth), (n, total, buckets) in sorted(self._latency.items())
                ],
                "errors": [[*key, n] for key, n in sorted(self._errors.items())],
            }

    def record_page(self, endpoint):
        """Count one list page read from ``endpoint``."""
        with self._lock:
            self._pages[endpoint] += 1

    @property
    def total(self):
        """Every request on the wire: first attempts plus retries."""
        with self._lock:
            return sum(self._requests.values()) + sum(self._retries.values())

    @property
    def retries(self):
        """Number of retries."""
        with self._lock:
            return sum(self._retries.values())

    @property
    def pages(self):
        """Number of list pages read."""
        with self._lock:
            return sum(self._pages.values())

    def count(self, endpoint=None, method=None, retries=True):
        """
        Requests matching ``endpoint`` (exact name, or a prefix ending with ``.`` such as
        ``"dcim."``) and ``method``; retries included unless ``retries=False``.
        """

        def match(key):
            ep, meth = key
            if method is not None and meth != method.upper():
                return False
            if endpoint is None:
                return True
            return ep == endpoint or (endpoint.endswith(".") and ep.startswith(endpoint))

        with self._lock:
            total = sum(n for key, n in self._requests.items() if match(key))
            if retries:
                total += sum(n for key, n in self._retries.items() if match(key))
        return total

    def snapshot(self):
        """
        A JSON-friendly copy of the counts::

            {"total": 7, "requests": 6, "retries": 1, "pages": 3,
             "by_endpoint": {"dcim.devices": {"GET": 4}},
             "retries_by_endpoint": {"dcim.devices": {"GET": 1}},
             "pages_by_endpoint": {"dcim.devices": 3}}
        """
        with self._lock:
            by_endpoint = {}
            for (endpoint, method), n in sorted(self._requests.items()):
                by_endpoint.setdefault(endpoint, {})[method] = n
            retries = {}
            for (endpoint, method), n in sorted(self._retries.items()):
                retries.setdefault(endpoint, {})[method] = n
            requests_total = sum(self._requests.values())
            retries_total = sum(self._retries.values())
            return {
                "total": requests_total + retries_total,
                "requests": requests_total,
                "retries": retries_total,
                "pages": sum(self._pages.values()),
                "by_endpoint": by_endpoint,
                "retries_by_endpoint": retries,
                "pages_by_endpoint": dict(sorted(self._pages.items())),
            }

    def reset(self):
        """Forget every count."""
        with self._lock:
            self._requests.clear()
            self._retries.clear()
            self._pages.clear()
            self._latency.clear()
            self._errors.clear()

    def __repr__(self):
        snap = self.snapshot()
        return (
            f"RequestCounter(total={snap['total']}, retries={snap['retries']}, "
            f"pages={snap['pages']})"
        )


#: every request of every client of this process (what ``salt_ext.utils.metrics`` exports)
PROCESS = RequestCounter()
