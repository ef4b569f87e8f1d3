"""
Targets of ``bench/pillar_bench.py``: the NetBox stand-in (default) or a real NetBox
(``NETBOX_URL``/``NETBOX_TOKEN``), and a counting loopback proxy for Salt 3007.8's requests.

- :class:`StandinTarget` generates the fleet in the stand-in's store (fast, in-process).
- :class:`ApiTarget` seeds the same fleet through the NetBox API with bulk POSTs, every object it
  creates tagged ``pillar-bench-<run>``, and deletes them (bulk DELETEs, newest first) and the
  tag afterwards. It writes only when ``NETBOX_ALLOW_WRITES=1`` says that NetBox may be
  written. Objects every site shares (custom fields, region, manufacturers, roles, platforms,
  device types) are reused when NetBox already has them by slug/name, and then left in place.
- :class:`CountingProxy` forwards Salt 3007.8's requests to the target and counts them with the
  product's own :class:`~salt_ext.utils.netbox.counter.RequestCounter` (ours are counted by the
  client's own counter).
"""

from __future__ import annotations

import http.server
import threading
import urllib.parse
import uuid

import requests

from salt_ext.utils.netbox.client import NetBoxClient
from salt_ext.utils.netbox.config import load_config
from salt_ext.utils.netbox.counter import RequestCounter, endpoint_from_url

#: endpoints whose objects the sites share: reused when present (looked up by this key)
SHARED = {
    "extras.custom-fields": "name",
    "dcim.regions": "slug",
    "dcim.manufacturers": "slug",
    "dcim.device-roles": "slug",
    "dcim.platforms": "slug",
    "dcim.device-types": "slug",
}
#: endpoints that take tags (everything the generator creates except custom fields)
UNTAGGED = {"extras.custom-fields"}
BULK = 500


class StandinTarget:
    """The in-process NetBox stand-in (tests/support), fleet generated in its store."""

    kind = "stand-in"

    def __init__(self):
        from tests.support.netbox_standin import NetBoxStandin  # noqa: PLC0415

        self.standin = NetBoxStandin().start()
        self.url, self.token = self.standin.url, self.standin.token_v1
        self.store = self.standin.store

    def writer(self):
        return self.store

    def change_devices(self, ids, stamp):
        self.store.bulk_update("dcim.devices", [{"id": i, "serial": f"{stamp}-{i}"} for i in ids])

    def close(self):
        self.standin.stop()


class _ApiWriter:
    """``create``/``bulk_update`` of the generator, through the API, tracked for clean-up."""

    def __init__(self, client, tag):
        self.client = client
        self.tag = tag
        self.created = []  # (endpoint, [ids]) in creation order

    def create(self, endpoint, data):
        many = isinstance(data, list)
        items = data if many else [data]
        out, todo = [None] * len(items), []
        key = SHARED.get(endpoint)
        for n, item in enumerate(items):
            if key:
                found = self.client.list(endpoint, {key: item[key]})
                if found:
                    out[n] = found[0]
                    continue
            body = dict(item)
            if endpoint not in UNTAGGED:
                body["tags"] = [{"slug": self.tag}]
            todo.append((n, body))
        for start in range(0, len(todo), BULK):
            chunk = todo[start : start + BULK]
            made = self.client.create(endpoint, [b for _, b in chunk])
            self.created.append((endpoint, [m["id"] for m in made]))
            for (n, _), obj in zip(chunk, made, strict=True):
                out[n] = obj
        return out if many else out[0]

    def bulk_update(self, endpoint, items):
        for start in range(0, len(items), BULK):
            self.client.bulk_update(endpoint, items[start : start + BULK])


class ApiTarget:
    """A real NetBox: the fleet seeded through its API under a tag, removed afterwards."""

    kind = "real NetBox"

    def __init__(self, url, token):
        self.url, self.token = url.rstrip("/"), token
        self.client = NetBoxClient(load_config({"netbox": {"url": url, "token": token}}))
        self.tag = f"pillar-bench-{uuid.uuid4().hex[:8]}"
        self.client.create(
            "extras.tags", {"name": self.tag, "slug": self.tag, "description": "pillar_bench"}
        )
        self._writer = _ApiWriter(self.client, self.tag)

    def writer(self):
        return self._writer

    def change_devices(self, ids, stamp):
        self._writer.bulk_update("dcim.devices", [{"id": i, "serial": f"{stamp}-{i}"} for i in ids])

    def close(self):
        """Delete what the bench created, newest first, then its tag."""
        failures = []
        for endpoint, ids in reversed(self._writer.created):
            url = self.client.endpoint_url(endpoint)
            for start in range(0, len(ids), BULK):
                try:
                    self.client.request(
                        "DELETE",
                        url,
                        json=[{"id": i} for i in ids[start : start + BULK]],
                        endpoint=endpoint,
                    )
                except Exception as err:  # pylint: disable=broad-except
                    failures.append(f"{endpoint}: {err}")
        try:
            tag = self.client.find("extras.tags", slug=self.tag)
            self.client.delete("extras.tags", tag["id"])
        except Exception as err:  # pylint: disable=broad-except
            failures.append(f"tag {self.tag}: {err}")
        if failures:
            print(
                f"bench: clean-up left objects tagged {self.tag} in {self.url}: "
                + "; ".join(failures[:5]),
                flush=True,
            )


class CountingProxy:
    """A loopback reverse proxy to ``upstream`` counting every request (RequestCounter)."""

    def __init__(self, upstream):
        self.upstream = upstream.rstrip("/")
        self.counter = RequestCounter()
        session = requests.Session()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else ~40 ms per keep-alive answer (Nagle)

            def log_message(self, *args):  # quiet
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                proxy.counter.record(endpoint_from_url(self.path), self.command)
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")
                }
                resp = session.request(
                    self.command,
                    proxy.upstream + self.path,
                    data=body,
                    headers=headers,
                    allow_redirects=False,
                    timeout=120,
                )
                content = resp.content
                self.send_response(resp.status_code)
                for key, value in resp.headers.items():
                    if key.lower() in (
                        "content-length",
                        "transfer-encoding",
                        "connection",
                        "content-encoding",
                    ):
                        continue
                    if key.lower() == "location":
                        self.send_header(key, value.replace(proxy.upstream, proxy.url))
                    else:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        host, port = self.server.server_address
        parts = urllib.parse.urlsplit(self.upstream)
        self.url = f"http://{host}:{port}{parts.path}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def total(self):
        return self.counter.total

    def close(self):
        self.server.shutdown()
        self.server.server_close()
