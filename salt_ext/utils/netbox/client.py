"""
NetBoxClient: the NetBox REST API behind the source interface of ``docs/architecture.md``.

Built on pynetbox 7.8 and one ``requests.Session`` of our own, shared with pynetbox
(``client.api.http_session``), which gives every request:

- default ``(connect, read)`` timeouts;
- urllib3 ``Retry`` with exponential backoff for idempotent methods only (GET, HEAD, OPTIONS, PUT,
  DELETE; never POST/PATCH) on 429/500/502/503/504 and connection errors, honouring
  ``Retry-After`` (capped by ``retry_after_max``). A read timeout is not retried: a hung NetBox
  fails within the configured timeout instead of a multiple of it;
- TLS verification / CA bundle;
- the ``Authorization`` header (``Bearer nbt_...`` for v2 tokens, ``Token <hex>`` for v1), set on
  the session so that pynetbox (given no token) and our own calls send exactly the same value;
- request counting (:class:`~salt_ext.utils.netbox.counter.RequestCounter`), retries included.

The source methods talk to the session directly rather than through pynetbox ``Endpoint``
objects: they need NetBox's exact JSON shapes (plain dicts, never ``Record``), repeated query
keys in order, ``next``-link pagination and typed errors. ``client.api`` stays available for
pynetbox features (GraphQL, OpenAPI, ...) with the same session. Nothing connects at import time
or at construction.
"""

import logging
import os
import time
from urllib.parse import urlsplit, urlunsplit

import pynetbox
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

from salt_ext.utils.netbox import _common
from salt_ext.utils.netbox.counter import RequestCounter, endpoint_from_url
from salt_ext.utils.netbox.errors import (
    NetBoxAmbiguous,
    NetBoxConfigError,
    NetBoxError,
    NetBoxNotFound,
    NetBoxTimeout,
    NetBoxUnavailable,
    from_response,
    scrub,
)

log = logging.getLogger(__name__)

__all__ = ["NetBoxClient", "RETRY_METHODS", "RETRY_STATUSES"]

RETRY_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "PUT", "DELETE"))
RETRY_STATUSES = frozenset((429, 500, 502, 503, 504))
USER_AGENT = "saltext-turnup"
#: A listing that NetBox changed while it was paged (offset pagination shifts) is read again from
#: the first page, at most this many times in all.
PAGING_ATTEMPTS = 3


class _PagingShifted(Exception):
    """NetBox's result set changed between two pages of one listing."""


class _CountingRetry(Retry):
    """
    urllib3 ``Retry`` that counts every retry in a :class:`RequestCounter` and never retries a
    read timeout (a hung server must fail within the configured timeout).
    """

    counter = None

    def new(self, **kw):
        retry = super().new(**kw)
        retry.counter = self.counter
        return retry

    def increment(self, method=None, url=None, response=None, error=None, **kwargs):
        if isinstance(error, ReadTimeoutError):
            raise error
        retry = super().increment(method=method, url=url, response=response, error=error, **kwargs)
        if self.counter is not None:
            self.counter.record_retry(endpoint_from_url(url or ""), method or "GET")
        if response is not None and response.status == 429:
            log.info("NetBox rate limit (429) on %s %s: retrying", method, endpoint_from_url(url))
        return retry


class _NetBoxSession(requests.Session):
    """A ``requests.Session`` that counts every request and applies default timeouts."""

    def __init__(self, counter, timeout):
        super().__init__()
        self.counter = counter
        self.default_timeout = timeout

    def send(self, request, **kwargs):  # pylint: disable=arguments-differ
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        # never follow a redirect: requests would turn a POST into a GET (a "create" answered
        # by a list page) and could carry the Authorization header to another URL
        kwargs["allow_redirects"] = False
        endpoint = endpoint_from_url(request.url)
        self.counter.record(endpoint, request.method)
        started = time.perf_counter()
        try:
            response = super().send(request, **kwargs)
        except requests.RequestException as err:  # latency and error kind for the metrics
            kind = "timeout" if isinstance(err, requests.Timeout) else "connection"
            self.counter.record_result(
                endpoint, request.method, time.perf_counter() - started, kind
            )
            raise
        status = response.status_code
        self.counter.record_result(
            endpoint,
            request.method,
            time.perf_counter() - started,
            f"http_{status}" if status >= 400 else None,
        )
        return response

    def __repr__(self):
        return f"<_NetBoxSession timeout={self.default_timeout}>"


def _make_session(config, counter):
    session = _NetBoxSession(counter, tuple(config.timeout))
    retry = _CountingRetry(
        total=config.retries,
        connect=config.retries,
        read=config.retries,
        status=config.retries,
        other=0,
        redirect=False,
        backoff_factor=config.backoff,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=RETRY_METHODS,
        respect_retry_after_header=True,
        retry_after_max=int(max(config.retry_after_max, 0)),
        raise_on_status=False,
        raise_on_redirect=False,
    )
    retry.counter = counter
    adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=8)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.verify = config.tls_verify
    session.trust_env = False  # never pick up proxies/netrc: talk to the configured NetBox only
    session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
    if config.authorization:
        session.headers["Authorization"] = config.authorization
    return session


class NetBoxClient:
    """
    The source interface over NetBox's REST API.

    :param config: a :class:`~salt_ext.utils.netbox.config.NetBoxConfig` with ``url`` and token
    :param counter: an optional shared :class:`RequestCounter`
    """

    kind = "api"

    def __init__(self, config, counter=None):
        if not config.url:
            raise NetBoxConfigError(
                "NetBoxClient needs netbox:url; for a snapshot file use SnapshotSource"
            )
        self.config = config
        self.counter = counter if counter is not None else RequestCounter()
        self.base_url = config.url
        self.api_url = config.api_url
        self._session = None
        self._pid = None
        self._api = None

    # -- plumbing ---------------------------------------------------------------------------
    @property
    def session(self):
        """
        The ``requests.Session`` (built on first use, and again in a forked child: Salt forks a
        process per job, and a pooled connection shared by two processes mixes their answers).
        """
        if self._session is None or self._pid != os.getpid():
            self._session = _make_session(self.config, self.counter)
            self._pid = os.getpid()
            self._api = None
        return self._session

    @property
    def api(self):
        """A ``pynetbox.api`` sharing our session (auth, timeouts, retries, counting)."""
        session = self.session
        if self._api is None:
            api = pynetbox.api(self.base_url, token=None)
            api.http_session = session
            self._api = api
        return self._api

    @property
    def source(self):
        """Where the data comes from (the NetBox URL)."""
        return self.base_url

    def close(self):
        """Close the HTTP connections."""
        if self._session is not None:
            self._session.close()
            self._session = None
            self._api = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"NetBoxClient({self.base_url!r})"

    def endpoint_url(self, endpoint, ident=None, action=None):
        """The URL of ``endpoint`` (``dcim.devices``), an object of it, or an action on it."""
        url = f"{self.api_url}/{_common.endpoint_path(endpoint)}/"
        if ident is not None:
            url += f"{_common.check_ident(ident)}/"
        if action:
            url += f"{action}/"
        return url

    def _rebase(self, link):
        """Point a ``next`` link at our configured scheme/host (NetBox builds it from Host)."""
        ours = urlsplit(self.base_url)
        theirs = urlsplit(link)
        return urlunsplit((ours.scheme, ours.netloc, theirs.path, theirs.query, ""))

    def request(self, method, url, *, params=None, json=None, headers=None, endpoint=None):
        """
        Send one request and return the parsed JSON body (``None`` for 204).

        Raises the typed :mod:`~salt_ext.utils.netbox.errors` for HTTP errors and transport
        failures. ``url`` may be absolute or relative to the API root (``dcim/devices/``).
        """
        response = self.send(
            method, url, params=params, json=json, headers=headers, endpoint=endpoint
        )
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise NetBoxError(
                f"NetBox answered {method} {urlsplit(response.url).path} with "
                f"{response.status_code} but not JSON (Content-Type "
                f"{response.headers.get('Content-Type')!r}); is netbox:url the NetBox root URL?",
                status=response.status_code,
                endpoint=endpoint,
            ) from None

    def send(self, method, url, *, params=None, json=None, headers=None, endpoint=None):
        """
        Send one request and return the ``requests.Response`` if it succeeded (2xx); otherwise
        raise the typed error.
        """
        if not url.startswith(("http://", "https://")):
            url = f"{self.api_url}/{url.lstrip('/')}"
        endpoint = endpoint or endpoint_from_url(url)
        path = urlsplit(url).path
        log.debug("NetBox %s %s", method, path)
        try:
            response = self.session.request(
                method, url, params=params or None, json=json, headers=headers
            )
        except requests.exceptions.Timeout as err:
            kind = "connect" if isinstance(err, requests.exceptions.ConnectTimeout) else "read"
            raise NetBoxTimeout(
                f"NetBox at {self.base_url} did not answer {method} {path} within the {kind} "
                f"timeout ({self._timeout_text()}); check that NetBox is up or raise "
                "netbox:timeout",
                endpoint=endpoint,
            ) from None
        except requests.exceptions.SSLError as err:
            raise NetBoxUnavailable(
                f"TLS with NetBox at {self.base_url} failed ({method} {path}): "
                f"{scrub(_reason(err))}; set netbox:ca_bundle to the CA that signed NetBox's "
                "certificate (netbox:verify: false only for a lab)",
                endpoint=endpoint,
            ) from None
        except requests.exceptions.RetryError as err:
            raise NetBoxUnavailable(
                f"NetBox at {self.base_url} kept failing {method} {path} after "
                f"{self.config.retries} retries: {scrub(_reason(err))}",
                endpoint=endpoint,
            ) from None
        except requests.exceptions.ConnectionError as err:
            reason = _reason(err)
            if "timed out" in reason.lower():
                raise NetBoxTimeout(
                    f"NetBox at {self.base_url} did not answer {method} {path} within the "
                    f"timeout ({self._timeout_text()}): {scrub(reason)}",
                    endpoint=endpoint,
                ) from None
            raise NetBoxUnavailable(
                f"cannot reach NetBox at {self.base_url} ({method} {path}): {scrub(reason)}",
                endpoint=endpoint,
            ) from None
        except requests.exceptions.RequestException as err:
            raise NetBoxError(
                f"request to NetBox failed ({method} {path}): {scrub(_reason(err))}",
                endpoint=endpoint,
            ) from None
        if response.is_redirect or 300 <= response.status_code < 400:
            target = urlsplit(response.headers.get("Location") or "")
            raise NetBoxError(
                f"NetBox at {self.base_url} answered {method} {path} with a redirect "
                f"({response.status_code}) to {target.scheme}://{target.netloc}{target.path}; "
                "set netbox:url to the URL NetBox is served at (redirects are not followed: "
                "they turn a POST into a GET)",
                status=response.status_code,
                endpoint=endpoint,
            )
        if not response.ok:
            log.debug("NetBox %s %s -> %s", method, path, response.status_code)
            raise from_response(response, endpoint=endpoint)
        return response

    def _timeout_text(self):
        connect, read = self.config.timeout
        return f"connect {connect:g}s, read {read:g}s"

    # -- source interface ----------------------------------------------------------------------
    def status(self):
        """
        NetBox's version and the latency of ``GET /api/status/``. Raises the typed errors when
        NetBox cannot be reached (``NetBoxUnavailable``/``NetBoxTimeout``) or refuses the token.
        """
        started = time.perf_counter()
        try:
            response = self.send("GET", f"{self.api_url}/status/", endpoint="status")
        except NetBoxNotFound as err:
            # every NetBox answers /api/status/: a 404 there is another web server (or a wrong
            # path in netbox:url), not a missing object
            raise NetBoxError(
                f"{self.base_url}: this is not a NetBox API (no /api/status/: 404); netbox:url "
                "must be NetBox's root URL (https://netbox.example.net, without /api)",
                status=404,
                endpoint="status",
            ) from err
        latency = (time.perf_counter() - started) * 1000.0
        try:
            body = response.json()
        except ValueError:
            body = None
        version = body.get("netbox-version") if isinstance(body, dict) else None
        if not version:
            # something answers, but not NetBox (a web server's page, a proxy's login page)
            raise NetBoxError(
                f"{self.api_url}/status/ answered {response.status_code} without NetBox's "
                f"'netbox-version' (Content-Type {response.headers.get('Content-Type')!r}); "
                "is netbox:url the NetBox root URL?",
                status=response.status_code,
                endpoint="status",
            )
        version = str(version)
        api_version = response.headers.get("API-Version")
        if not api_version and version:
            api_version = ".".join(version.split(".")[:2])
        return {
            "netbox_version": version,
            "api_version": api_version,
            "reachable": True,
            "latency_ms": round(latency, 1),
            "source": self.base_url,
            "kind": self.kind,
        }

    def _listing(self, endpoint, params, *, fields, brief, exclude, page_size):
        size = _common.check_page_size(page_size, self.config.page_size)
        pairs = _common.build_query(
            params, fields=fields, brief=brief, exclude=exclude, endpoint=endpoint
        )
        return self.endpoint_url(endpoint), pairs + [("limit", str(size))]

    def iter(
        self, endpoint, params=None, *, fields=None, brief=False, exclude=None, page_size=None
    ):
        """
        Yield the objects of ``endpoint`` matching ``params`` lazily, page by page
        (``page_size`` objects a page, at most 1000), for readers that may stop early (the newest
        change-log entries). A full listing that must be consistent while NetBox changes is
        ``list()``.
        """
        url, pairs = self._listing(
            endpoint, params, fields=fields, brief=brief, exclude=exclude, page_size=page_size
        )
        for page in self._walk(endpoint, url, pairs):
            yield from page["results"]

    def _walk(self, endpoint, url, pairs):
        """Yield each page's body (``results`` always a list), following ``next`` links."""
        seen_urls = set()
        while url:
            body = self.request("GET", url, params=pairs, endpoint=endpoint)
            self.counter.record_page(endpoint)
            if isinstance(body, list):  # a non-paginated list view
                yield {"results": body, "count": None, "next": None}
                return
            if not isinstance(body, dict) or "results" not in body:
                raise NetBoxError(
                    f"NetBox answered GET {urlsplit(url).path} with an unexpected body (no "
                    "'results'); is this a list endpoint?",
                    endpoint=endpoint,
                )
            yield body
            link = body.get("next")
            if not link:
                return
            url = self._rebase(link)
            pairs = None
            if url in seen_urls:
                raise NetBoxError(f"NetBox pagination loops on {url}", endpoint=endpoint)
            seen_urls.add(url)

    def _pages(self, endpoint, url, pairs):
        """
        Every object of a listing, consistent. NetBox pages by limit/offset, so an object created
        or deleted between two pages shifts the rest: one would be skipped or returned twice. A
        listing whose ``count`` changes between pages, or whose objects do not add up to it, is
        therefore read again from the first page, keeping NetBox's ordering.
        """
        out = []
        for attempt in range(1, PAGING_ATTEMPTS + 1):
            try:
                out, mismatch = self._collect_pages(endpoint, url, pairs)
            except _PagingShifted as shift:
                problem, out = str(shift), None
            else:
                if not mismatch:
                    return out
                problem = mismatch
            log.info(
                "NetBox changed %s while it was paged (%s); reading it again (%d/%d)",
                urlsplit(url).path,
                problem,
                attempt,
                PAGING_ATTEMPTS,
            )
        if out is not None:
            # the same shortfall every time: NetBox's own count, not a change under way
            log.warning("NetBox listing %s: %s (kept as returned)", urlsplit(url).path, problem)
            return out
        raise NetBoxUnavailable(
            f"NetBox kept changing {urlsplit(url).path} while it was paged "
            f"({PAGING_ATTEMPTS} attempts: {problem}); try again when the bulk change is over",
            endpoint=endpoint,
        )

    def _collect_pages(self, endpoint, url, pairs):
        """One pass over a listing: ``(objects, mismatch or None)``; raises _PagingShifted."""
        out = []
        expected = None
        pages = 0
        for body in self._walk(endpoint, url, pairs):
            pages += 1
            count = body.get("count")
            if expected is None:
                expected = count
            elif count is not None and count != expected:
                raise _PagingShifted(f"count {expected} became {count}")
            out.extend(body["results"])
        if isinstance(expected, int) and pages > 1:
            distinct = len({obj.get("id") for obj in out if isinstance(obj, dict)})
            if distinct != expected:
                return out, f"{distinct} distinct objects for count {expected}"
        return out, None

    def list(
        self, endpoint, params=None, *, fields=None, brief=False, exclude=None, page_size=None
    ):
        """
        Every object of ``endpoint`` matching ``params`` (all pages), as plain dicts; read again
        from the first page when NetBox changed the listing while it was paged.
        """
        url, pairs = self._listing(
            endpoint, params, fields=fields, brief=brief, exclude=exclude, page_size=page_size
        )
        return self._pages(endpoint, url, pairs)

    def list_by(
        self,
        endpoint,
        key,
        values,
        params=None,
        *,
        fields=None,
        brief=False,
        exclude=None,
        page_size=None,
    ):
        """
        Objects of ``endpoint`` whose filter ``key`` (``id``, ``device_id``, ...) matches any of
        ``values``, batching the values so that every URL stays under 4,000 characters. Objects
        matched by several batches are returned once; order is per batch.
        """
        size = _common.check_page_size(page_size, self.config.page_size)
        values = _common.unique_values(values)
        if not values:
            return []
        pairs = _common.build_query(
            params, fields=fields, brief=brief, exclude=exclude, endpoint=endpoint, key=key
        )
        pairs.append(("limit", str(size)))
        url = self.endpoint_url(endpoint)
        out = []
        for batch in _common.batch_values(url, pairs, key, values):
            out.extend(self._pages(endpoint, url, pairs + [(key, v) for v in batch]))
        return _common.dedupe_by_id(out)

    def get(self, endpoint, ident):
        """The object ``ident`` of ``endpoint``; raises ``NetBoxNotFound``."""
        return self.request(
            "GET", self.endpoint_url(endpoint, _common.check_ident(ident)), endpoint=endpoint
        )

    def find(self, endpoint, **keys):
        """
        The one object of ``endpoint`` matching the natural ``keys`` (allow-listed per endpoint),
        ``None`` if there is none; ``NetBoxAmbiguous`` if there are several.
        """
        pairs = _common.natural_key_params(endpoint, keys)
        body = self.request(
            "GET",
            self.endpoint_url(endpoint),
            params=pairs + [("limit", "2")],
            endpoint=endpoint,
        )
        self.counter.record_page(endpoint)
        results = body.get("results", []) if isinstance(body, dict) else []
        count = body.get("count", len(results)) if isinstance(body, dict) else 0
        return _one(endpoint, keys, results, count)

    def create(self, endpoint, data):
        """Create one object (``data`` a dict) or several (a list); returns what NetBox made."""
        _check_body(endpoint, data, "create")
        return self.request("POST", self.endpoint_url(endpoint), json=data, endpoint=endpoint)

    def update(self, endpoint, ident, data, *, if_match=None):
        """PATCH object ``ident`` with ``data``; ``if_match`` (an ETag) makes it conditional."""
        if not isinstance(data, dict):
            raise NetBoxConfigError(f"update({endpoint}) data must be a dict (got {data!r})")
        headers = {"If-Match": if_match} if if_match else None
        return self.request(
            "PATCH",
            self.endpoint_url(endpoint, _common.check_ident(ident)),
            json=data,
            headers=headers,
            endpoint=endpoint,
        )

    def bulk_update(self, endpoint, items):
        """PATCH several objects at once; every item needs its ``id``."""
        _check_bulk(endpoint, items)
        if not items:
            return []
        return self.request("PATCH", self.endpoint_url(endpoint), json=items, endpoint=endpoint)

    def delete(self, endpoint, ident):
        """Delete object ``ident``; raises ``NetBoxNotFound`` if it is gone."""
        self.request(
            "DELETE", self.endpoint_url(endpoint, _common.check_ident(ident)), endpoint=endpoint
        )

    def available_ips(self, prefix_id, count=None):
        """Free addresses of prefix ``prefix_id`` (``count`` of them, or NetBox's default)."""
        params = [("limit", str(int(count)))] if count else None
        return self.request(
            "GET",
            self.endpoint_url("ipam.prefixes", _common.check_ident(prefix_id), "available-ips"),
            params=params,
            endpoint="ipam.prefixes.available-ips",
        )

    def allocate_ip(self, prefix_id, data):
        """Allocate the next free address of prefix ``prefix_id`` (race-safe in NetBox)."""
        _check_body("ipam.prefixes.available-ips", data, "allocate_ip")
        return self.request(
            "POST",
            self.endpoint_url("ipam.prefixes", _common.check_ident(prefix_id), "available-ips"),
            json=data,
            endpoint="ipam.prefixes.available-ips",
        )


def _reason(err):
    """The innermost useful text of a requests/urllib3 exception."""
    reason = err.args[0] if err.args else err
    inner = getattr(reason, "reason", None)
    return str(inner if inner is not None else reason)


def _check_body(endpoint, data, what):
    if isinstance(data, list):
        if not all(isinstance(item, dict) for item in data):
            raise NetBoxConfigError(f"{what}({endpoint}) items must be dicts")
        return
    if not isinstance(data, dict):
        raise NetBoxConfigError(f"{what}({endpoint}) data must be a dict or a list of dicts")


def _check_bulk(endpoint, items):
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise NetBoxConfigError(f"bulk_update({endpoint}) needs a list of dicts")
    missing = [i for i, item in enumerate(items) if item.get("id") is None]
    if missing:
        raise NetBoxConfigError(
            f"bulk_update({endpoint}) items {missing} have no 'id'; every item must name the "
            "object it changes"
        )


def _one(endpoint, keys, results, count):
    """Shared by both sources: ``None``, the object, or ``NetBoxAmbiguous``."""
    if count == 0 or not results:
        return None
    if count > 1 or len(results) > 1:
        shown = ", ".join(f"{k}={v!r}" for k, v in sorted(keys.items()))
        ids = [r.get("id") for r in results]
        raise NetBoxAmbiguous(
            f"{count} {endpoint} objects match {shown} (ids {ids}{'...' if count > 2 else ''}); "
            "add keys to make the look-up unique",
            endpoint=endpoint,
            matches=results,
        )
    return results[0]


one_match = _one
