"""
A NetBox 4.6 REST stand-in for tests, the demo and the benchmark: an HTTP server on 127.0.0.1 over a
``NetBoxStore`` (the product's own in-memory NetBox model), with NetBox's pagination, brief/fields/exclude,
auth (v1 and v2 tokens), ETag/If-Match, headers and error bodies, plus fault injection.

    nb = NetBoxStandin(snapshot="lab1")      # None | dict | path | "lab1"
    nb.start(); nb.url; nb.token_v1; nb.token_v2; nb.store
    nb.faults.add("status", status=503, count=2, path_prefix="/api/dcim/")
    nb.faults.down(); nb.faults.up()
    nb.requests; nb.count(method=None, path_prefix=None); nb.settle(); nb.reset_requests()
    nb.stop()

Request log: every request is logged when it ARRIVES (request line and headers read), before its body
is read or any fault applies, as ``{"method", "path", "query", "received_at", "status",
"answered_at", "client_gone"}``: ``received_at``/``answered_at`` are ``time.monotonic()`` values of the
test process; ``status`` is filled just before the response is written, so a client that has its
answer always finds it logged. It stays ``None`` for a request never answered: a ``drop`` fault, a
request still hanging, or one whose client had gone by the time the answer was ready (then
``client_gone`` is ``True`` and nothing is written). ``settle()`` waits until no request is in flight.

CLI: ``python -m tests.support.netbox_standin [--port N] [--snapshot PATH|lab1] [--token-v1 X]
[--token-v2 Y]`` prints one JSON line ``{"url", "token_v1", "token_v2"}`` and serves until killed.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import secrets
import select
import signal
import socket
import string
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

from salt_ext.utils.netbox.model import NetBoxStore, StoreError

REPO = pathlib.Path(__file__).resolve().parents[2]
LAB1 = REPO / "salt_ext" / "data" / "snapshots" / "lab1.json"

API_VERSION = "4.6"
ALLOW_LIST = "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"
ALLOW_DETAIL = "GET, PUT, PATCH, DELETE, HEAD, OPTIONS"
ALLOW_READONLY = "GET, HEAD, OPTIONS"
ALLOW_AVAILABLE = "GET, POST, HEAD, OPTIONS"
#: viewsets with NetBox's path-trace action answer TRACE too
TRACE_ENDPOINTS = {"dcim.interfaces"}
READONLY_ENDPOINTS = {"core.object-changes"}

STATUS_BODY = {
    "django-version": "6.0.8",
    "hostname": "vm",
    "installed_apps": {
        "django_filters": "26.1",
        "django_prometheus": "2.4.0",
        "django_rq": "4.1.1",
        "django_tables2": "2.8.0",
        "drf_spectacular": "0.30.0",
        "drf_spectacular_sidecar": "2026.8.1",
        "mptt": "0.18.0",
        "rest_framework": "3.17.1",
        "social_django": "5.9.0",
        "taggit": "6.1.0",
        "timezone_field": "7.2.2",
    },
    "netbox-version": "4.6.8",
    "netbox-full-version": "4.6.8",
    "plugins": {},
    "python-version": "3.12.1",
    "rq-workers-running": 0,
}
API_APPS = (
    "circuits",
    "core",
    "dcim",
    "extras",
    "ipam",
    "plugins",
    "status",
    "tenancy",
    "users",
    "virtualization",
    "vpn",
    "wireless",
)


def make_token_v1():
    return secrets.token_hex(20)


def make_token_v2():
    alnum = string.ascii_letters + string.digits
    key = "".join(secrets.choice(alnum) for _ in range(12))
    secret = "".join(secrets.choice(alnum) for _ in range(40))
    return f"nbt_{key}.{secret}"


def load_snapshot_arg(snapshot):
    """``None`` | dict | path | ``"lab1"`` -> dict or None."""
    if snapshot is None or isinstance(snapshot, dict):
        return snapshot
    path = LAB1 if str(snapshot) == "lab1" else pathlib.Path(snapshot)
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


class _Rule:
    def __init__(self, kind, count, path_prefix, methods, kw):
        self.kind = kind
        self.count = count
        self.path_prefix = path_prefix
        self.methods = {m.upper() for m in methods} if methods else None
        self.kw = kw

    def matches(self, method, path):
        if self.count is not None and self.count <= 0:
            return False
        if self.path_prefix and not path.startswith(self.path_prefix):
            return False
        return not (self.methods and method.upper() not in self.methods)


class Faults:
    """Fault injection: rules matched in order; ``count=None`` applies forever."""

    KINDS = {"status", "ratelimit", "latency", "hang", "drop"}

    def __init__(self, standin):
        self._standin = standin
        self._rules = []
        self._lock = threading.Lock()

    def add(self, kind, *, count=None, path_prefix=None, methods=None, **kw):
        """Add a fault: ``status`` (status=503, body=...), ``ratelimit`` (429, retry_after=seconds),
        ``latency`` (seconds added), ``hang`` (sleep ``seconds`` before answering), ``drop`` (close the
        connection without a response)."""
        if kind not in self.KINDS:
            raise ValueError(f"unknown fault kind {kind!r}: use one of {sorted(self.KINDS)}")
        rule = _Rule(kind, count, path_prefix, methods, kw)
        with self._lock:
            self._rules.append(rule)
        return rule

    def take(self, method, path):
        """The fault to apply to this request (its count consumed), or ``None``."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path):
                    if rule.count is not None:
                        rule.count -= 1
                    return rule
        return None

    def clear(self):
        with self._lock:
            self._rules.clear()
        self.up()

    def down(self):
        """Fully down: the listening socket is closed (connections refused)."""
        self._standin._unbind()

    def up(self):
        """Listen again on the same port."""
        self._standin._bind()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class NetBoxStandin:
    """A NetBox 4.6 REST API on 127.0.0.1 over a ``NetBoxStore``."""

    def __init__(
        self,
        snapshot=None,
        keep_ids=True,
        *,
        max_page_size=1000,
        paginate_count=50,
        port=0,
        token_v1=None,
        token_v2=None,
    ):
        data = load_snapshot_arg(snapshot)
        self.store = NetBoxStore.from_snapshot(data, keep_ids=keep_ids) if data else NetBoxStore()
        self.max_page_size = max_page_size
        self.paginate_count = paginate_count
        self.token_v1 = token_v1 or make_token_v1()
        self.token_v2 = token_v2 or make_token_v2()
        self.faults = Faults(self)
        self.requests = []
        self._log_lock = threading.Condition()
        self._in_flight = 0
        self._port = port
        self._server = None
        self._thread = None
        self._bind_lock = threading.Lock()
        self._started = False

    # -- lifecycle -----------------------------------------------------------------------------------
    @property
    def port(self):
        return self._port

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self._port}"

    url = base_url

    def start(self):
        self._started = True
        self._bind()
        return self

    def stop(self):
        self._started = False
        self._unbind()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _bind(self):
        with self._bind_lock:
            if self._server is not None or not self._started:
                return
            handler = type("Handler", (_Handler,), {"standin": self})
            server = None
            for _ in range(50):
                try:
                    server = _Server(("127.0.0.1", self._port), handler)
                    break
                except OSError:
                    if not self._port:
                        raise
                    time.sleep(0.1)
            if server is None:
                raise OSError(f"cannot bind 127.0.0.1:{self._port}")
            self._port = server.server_address[1]
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            self._thread.start()

    def _unbind(self):
        with self._bind_lock:
            server, self._server = self._server, None
            if server is None:
                return
            server.shutdown()
            server.server_close()
            self._thread.join(timeout=5)

    # -- request log ---------------------------------------------------------------------------------
    def _arrived(self, method, path, query):
        """Log a request as it arrives; returns its (live) log entry."""
        entry = {
            "method": method,
            "path": path,
            "query": query,
            "received_at": time.monotonic(),
            "status": None,
            "answered_at": None,
            "client_gone": False,
        }
        with self._log_lock:
            self.requests.append(entry)
            self._in_flight += 1
        return entry

    def _answered(self, entry, status):
        with self._log_lock:
            entry["status"] = status
            entry["answered_at"] = time.monotonic()

    def _unanswered(self, entry, client_gone):
        with self._log_lock:
            entry["status"] = None
            entry["answered_at"] = None
            entry["client_gone"] = client_gone

    def _finished(self):
        with self._log_lock:
            self._in_flight -= 1
            self._log_lock.notify_all()

    def settle(self, timeout=10.0):
        """Wait (up to ``timeout`` seconds) until no request is being handled (hung ones included);
        returns a copy of the log."""
        with self._log_lock:
            self._log_lock.wait_for(lambda: self._in_flight <= 0, timeout=timeout)
            return list(self.requests)

    def reset_requests(self):
        """Forget the logged requests (requests still in flight finish unlogged)."""
        with self._log_lock:
            self.requests.clear()

    def count(self, method=None, path_prefix=None):
        with self._log_lock:
            return sum(
                1
                for r in self.requests
                if (method is None or r["method"] == method.upper())
                and (path_prefix is None or r["path"].startswith(path_prefix))
            )

    # -- auth ----------------------------------------------------------------------------------------
    def check_auth(self, header):
        """``None`` when authorized, else the 403 detail message."""
        if not header:
            return "Authentication credentials were not provided."
        parts = header.split()
        if len(parts) != 2 or parts[0].lower() not in ("token", "bearer"):
            return "Invalid token header. No credentials provided."
        token = parts[1]
        if token.startswith("nbt_"):
            return None if secrets.compare_digest(token, self.token_v2) else "Invalid v2 token"
        return None if secrets.compare_digest(token, self.token_v1) else "Invalid v1 token"


def _sorted_query(pairs):
    return urlencode(sorted(pairs), doseq=True)


def _replace(pairs, **updates):
    out = [(k, v) for k, v in pairs if k not in updates]
    for key, value in updates.items():
        if value is not None:
            out.append((key, str(value)))
    return out


class _Handler(BaseHTTPRequestHandler):
    standin: NetBoxStandin = None
    protocol_version = "HTTP/1.1"
    # as nginx/gunicorn do on keep-alive connections (tcp_nodelay): without it the headers and
    # the body go out in two writes and Nagle plus the client's delayed ACK hold every answer
    # ~40 ms on loopback (measured: 44 ms per GET, 0.7 ms with it)
    disable_nagle_algorithm = True
    server_version = "nginx"
    sys_version = ""

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        return

    # -- plumbing ------------------------------------------------------------------------------------
    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_OPTIONS(self):
        self._dispatch("OPTIONS")

    def _client_gone(self):
        """Whether the client closed its end while the request was handled (EOF waiting)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def _send(self, status, body=None, headers=None):
        if self._gone:
            return
        if self._client_gone():
            # nobody to answer (e.g. a client timed out on a hung request): never answered
            self._gone = True
            self.close_connection = True
            self.standin._unanswered(self._entry, client_gone=True)
            return
        payload = b""
        hdrs = {"API-Version": API_VERSION}
        if body is not None or status not in (204,):
            if body is not None:
                payload = json.dumps(body).encode("utf-8")
                hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        # logged before the first byte goes out: a client holding its answer finds it logged
        self.standin._answered(self._entry, status)
        self._status = status
        try:
            self.send_response(status)
            for key, value in hdrs.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload) if self.command != "HEAD" else 0))
            self.end_headers()
            if payload and self.command != "HEAD":
                self.wfile.write(payload)
            self.wfile.flush()
        except OSError:
            self._gone = True
            self.close_connection = True
            self.standin._unanswered(self._entry, client_gone=True)

    def _dispatch(self, method):
        split = urlsplit(self.path)
        path = split.path
        query = parse_qsl(split.query, keep_blank_values=True)
        self._status = None
        self._gone = False
        self._entry = self.standin._arrived(method, path, query)
        try:
            self._handle(method, path, query)
        finally:
            self.standin._finished()

    def _handle(self, method, path, query):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        fault = self.standin.faults.take(method, path)
        if fault is not None:
            if fault.kind == "drop":
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if fault.kind in ("latency", "hang"):
                time.sleep(float(fault.kw.get("seconds", 1.0)))
            elif fault.kind == "status":
                status = int(fault.kw.get("status", 503))
                body = fault.kw.get("body", {"detail": f"Injected failure ({status})."})
                self._send(status, body)
                return
            elif fault.kind == "ratelimit":
                retry = fault.kw.get("retry_after", 1)
                self._send(
                    429,
                    {"detail": f"Request was throttled. Expected available in {retry} seconds."},
                    {"Retry-After": str(retry)},
                )
                return
        try:
            self._route(method, path, query, raw)
        except StoreError as err:
            self._send(err.status, err.body, dict(err.headers, Allow=self._allow))
        except Exception as err:  # pylint: disable=broad-except
            if self._status is None:
                self._send(500, {"error": str(err), "exception": type(err).__name__})

    # -- routing -------------------------------------------------------------------------------------
    def _route(self, method, path, query, raw):
        self._allow = ALLOW_READONLY
        base = f"http://{self.headers.get('Host') or f'127.0.0.1:{self.standin.port}'}"
        parts = [p for p in path.split("/") if p]
        if not parts or parts[0] != "api":
            self._send(404, {"detail": "Not found."})
            return
        denied = self.standin.check_auth(self.headers.get("Authorization"))
        if len(parts) >= 3:
            endpoint = f"{parts[1]}.{parts[2]}"
            if endpoint in self.standin.store.endpoints():
                if endpoint in READONLY_ENDPOINTS:
                    self._allow = ALLOW_READONLY
                elif len(parts) == 3:
                    self._allow = ALLOW_LIST
                elif len(parts) == 5 and parts[4] == "available-ips":
                    self._allow = ALLOW_AVAILABLE
                else:
                    self._allow = ALLOW_DETAIL
                if endpoint in TRACE_ENDPOINTS:
                    self._allow += ", TRACE"
        if denied:
            raise StoreError(403, {"detail": denied})
        if method == "OPTIONS":
            self._send(
                200, {"name": "NetBox", "renders": ["application/json"]}, {"Allow": self._allow}
            )
            return
        if len(parts) == 1:
            body = {app: f"{base}/api/{app}/" for app in API_APPS}
            self._reply(method, 200, body)
            return
        if parts[1] == "status" and len(parts) == 2:
            self._reply(method, 200, STATUS_BODY)
            return
        if len(parts) < 3:
            raise StoreError(404, {"detail": "Not found."})
        endpoint = f"{parts[1]}.{parts[2]}"
        store = self.standin.store
        if endpoint not in store.endpoints():
            raise StoreError(404, {"detail": "Not found."})
        body = self._body(raw) if method in ("POST", "PUT", "PATCH") or raw else None
        if len(parts) == 3:
            self._list_view(method, endpoint, query, body, base)
        elif len(parts) == 4 and parts[3].isdigit():
            self._detail_view(method, endpoint, int(parts[3]), query, body, base)
        elif len(parts) == 5 and endpoint == "ipam.prefixes" and parts[4] == "available-ips":
            self._available_ips(
                method, int(parts[3]) if parts[3].isdigit() else -1, query, body, base
            )
        else:
            raise StoreError(404, {"detail": "Not found."})

    def _body(self, raw):
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError as err:
            raise StoreError(400, {"detail": f"JSON parse error - {err}"}) from None

    def _reply(self, method, status, body, headers=None):
        hdrs = {"Allow": self._allow}
        hdrs.update(headers or {})
        self._send(status, body, hdrs)

    def _method_not_allowed(self, method):
        raise StoreError(405, {"detail": f'Method "{method}" not allowed.'})

    # -- views ---------------------------------------------------------------------------------------
    def _repr_opts(self, query):
        brief = any(k == "brief" and v != "" for k, v in query)
        fields = None
        exclude = ()
        for key, value in query:
            if key == "fields" and value:
                fields = {f.strip() for f in value.split(",") if f.strip()}
            elif key in ("exclude", "omit") and value:
                exclude = tuple(f.strip() for f in value.split(",") if f.strip())
        return brief, fields, exclude

    def _list_view(self, method, endpoint, query, body, base):
        store = self.standin.store
        request_id = None
        if method in ("GET", "HEAD"):
            self._paginate(endpoint, query, base)
        elif endpoint in READONLY_ENDPOINTS:
            self._method_not_allowed(method)
        elif method == "POST":
            result = store.create(endpoint, body, base_url=base, request_id=request_id)
            headers = {}
            if isinstance(result, dict) and "last_updated" in result:
                headers["ETag"] = store.etag(endpoint, result["id"])
            self._reply(method, 201, result, headers)
        elif method in ("PATCH", "PUT"):
            result = store.bulk_update(endpoint, body, partial=method == "PATCH", base_url=base)
            self._reply(method, 200, result)
        elif method == "DELETE":
            items = body if isinstance(body, list) else []
            errors = [
                {} if isinstance(i, dict) and i.get("id") else {"id": ["This field is required."]}
                for i in items
            ]
            if any(errors):
                raise StoreError(400, errors)
            for item in items:
                store.delete(endpoint, item["id"])
            self._reply(method, 204, None)
        else:
            self._method_not_allowed(method)

    def _paginate(self, endpoint, query, base):
        store = self.standin.store
        brief, fields, exclude = self._repr_opts(query)
        limit = self.standin.paginate_count
        offset = 0
        start = None
        for key, value in query:
            if key == "limit":
                try:
                    limit = int(value)
                except ValueError:
                    limit = self.standin.paginate_count
                if limit <= 0 or limit > self.standin.max_page_size:
                    limit = (
                        self.standin.max_page_size if limit >= 0 else self.standin.paginate_count
                    )
            elif key == "offset":
                try:
                    offset = max(0, int(value))
                except ValueError:
                    offset = 0
            elif key == "start":
                try:
                    start = int(value)
                except ValueError:
                    start = None
        ids = store.query_ids(endpoint, query)
        url = f"{base}{urlsplit(self.path).path}"
        if start is not None:
            ids = sorted(i for i in ids if i >= start)
            page = ids[:limit]
            nxt = None
            if len(ids) > limit:
                nxt = f"{url}?{_sorted_query(_replace(query, start=page[-1] + 1, limit=limit))}"
            results = store.represent_ids(
                endpoint, page, base, brief=brief, fields=fields, exclude=exclude
            )
            body = {"count": None, "next": nxt, "previous": None, "results": results}
            self._reply("GET", 200, body)
            return
        count = len(ids)
        page = ids[offset : offset + limit]
        nxt = prev = None
        if offset + limit < count:
            nxt = f"{url}?{_sorted_query(_replace(query, limit=limit, offset=offset + limit))}"
        if offset > 0:
            if offset - limit <= 0:
                prev = f"{url}?{_sorted_query(_replace(query, limit=limit, offset=None))}"
            else:
                prev = f"{url}?{_sorted_query(_replace(query, limit=limit, offset=offset - limit))}"
        results = store.represent_ids(
            endpoint, page, base, brief=brief, fields=fields, exclude=exclude
        )
        self._reply("GET", 200, {"count": count, "next": nxt, "previous": prev, "results": results})

    def _detail_view(self, method, endpoint, obj_id, query, body, base):  # noqa: PLR0917
        store = self.standin.store
        if method in ("GET", "HEAD"):
            brief, fields, exclude = self._repr_opts(query)
            obj = store.get(endpoint, obj_id, base_url=base)
            obj = store.represent(endpoint, obj, base, brief=brief, fields=fields, exclude=exclude)
            self._reply(method, 200, obj, {"ETag": store.etag(endpoint, obj_id)})
        elif endpoint in READONLY_ENDPOINTS:
            self._method_not_allowed(method)
        elif method in ("PATCH", "PUT"):
            result = store.update(
                endpoint,
                obj_id,
                body if body is not None else {},
                partial=method == "PATCH",
                base_url=base,
                if_match=self.headers.get("If-Match"),
            )
            self._reply(method, 200, result, {"ETag": store.etag(endpoint, obj_id)})
        elif method == "DELETE":
            if self.headers.get("If-Match"):
                current = store.etag(endpoint, obj_id)
                if current not in [t.strip() for t in self.headers["If-Match"].split(",")]:
                    raise StoreError(412, {"detail": "Precondition failed."}, {"ETag": current})
            store.delete(endpoint, obj_id)
            self._reply(method, 204, None)
        else:
            self._method_not_allowed(method)

    def _available_ips(self, method, prefix_id, query, body, base):
        store = self.standin.store
        if method in ("GET", "HEAD"):
            limit = self.standin.paginate_count
            for key, value in query:
                if key == "limit" and value.isdigit():
                    limit = int(value) or self.standin.max_page_size
            limit = min(limit, self.standin.max_page_size)
            self._reply(method, 200, store.available_ips(prefix_id, limit=limit, base_url=base))
        elif method == "POST":
            result = store.allocate_ips(prefix_id, body if body is not None else {}, base_url=base)
            self._reply(method, 201, result)
        else:
            self._method_not_allowed(method)


def main(argv=None):
    parser = argparse.ArgumentParser(description="NetBox 4.6 REST stand-in on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--snapshot", default=None, help="snapshot file, or 'lab1'")
    parser.add_argument("--token-v1", default=None)
    parser.add_argument("--token-v2", default=None)
    args = parser.parse_args(argv)
    standin = NetBoxStandin(
        snapshot=args.snapshot, port=args.port, token_v1=args.token_v1, token_v2=args.token_v2
    )
    standin.start()
    print(
        json.dumps(
            {"url": standin.url, "token_v1": standin.token_v1, "token_v2": standin.token_v2}
        ),
        flush=True,
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    standin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
