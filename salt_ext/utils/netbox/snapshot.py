"""
SnapshotSource: the source interface of ``docs/architecture.md`` over a JSON snapshot file
(``salt_ext/data/snapshots/lab1.json`` format), for an embedded NetBox (``netbox:snapshot``).

Reads and writes go through :class:`~salt_ext.utils.netbox.model.NetBoxStore`, the same object
model (filters, ordering, brief/nested representations, validation) the test stand-in serves, so
a snapshot answers exactly like the API.

- Reads reload the file when it changed on disk (mtime/size/inode).
- Writes take a file lock (``<file>.lock``, ``filelock``), reload the file, apply the change,
  write a temporary file in the same directory and ``os.replace`` it over the snapshot. Several
  processes (minions, the master) writing the same file therefore never lose an update, and a
  reader never sees a half-written file.
"""

import json
import logging
import math
import os
import threading
import time

import filelock

from salt_ext.utils.netbox import _common
from salt_ext.utils.netbox._common import DEPENDENCY_ORDER, order_objects
from salt_ext.utils.netbox.client import one_match
from salt_ext.utils.netbox.counter import RequestCounter
from salt_ext.utils.netbox.errors import (
    NetBoxConfigError,
    NetBoxError,
    NetBoxPermissionDenied,
    from_status,
)
from salt_ext.utils.netbox.model import DEFAULT_BASE_URL, NetBoxStore, StoreError

log = logging.getLogger(__name__)

__all__ = ["SnapshotSource", "DEPENDENCY_ORDER", "order_objects"]

LOCK_TIMEOUT = 60


class SnapshotSource:
    """
    The source interface over a snapshot file.

    :param path: the snapshot JSON file
    :param counter: an optional :class:`RequestCounter`; every call is counted as the API
        requests it would take (list pages included), so code paths can be compared with both
        sources
    :param page_size: the page size used to count list pages (default 1000)
    """

    kind = "snapshot"

    def __init__(self, path, counter=None, page_size=1000):
        self.path = os.path.abspath(os.fspath(path))
        self.counter = counter if counter is not None else RequestCounter()
        self.page_size = _common.check_page_size(page_size, 1000)
        self._lock = threading.RLock()
        self._store = None
        self._meta = {}
        self._order = ()
        self._signature = None
        self._filelock = filelock.FileLock(self.path + ".lock", timeout=LOCK_TIMEOUT)

    def __repr__(self):
        return f"SnapshotSource({self.path!r})"

    @property
    def source(self):
        """Where the data comes from (the snapshot path)."""
        return self.path

    @property
    def base_url(self):
        """The base URL the snapshot's objects carry in their ``url`` fields."""
        self._fresh()
        return self._meta.get("base_url") or DEFAULT_BASE_URL

    @property
    def api_url(self):
        """The API root matching :attr:`base_url`."""
        return f"{self.base_url.rstrip('/')}/api"

    # -- file handling -------------------------------------------------------------------------
    def _stat(self):
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise NetBoxConfigError(
                f"snapshot file {self.path!r} does not exist; set netbox:snapshot to an existing "
                "snapshot (lab1.json format)"
            ) from None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _fresh(self, force=False):
        """The store, reloaded when the file changed since it was read."""
        with self._lock:
            signature = self._stat()
            if force or self._store is None or signature != self._signature:
                self._load(signature)
            return self._store

    def _load(self, signature):
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
        except ValueError as err:
            raise NetBoxConfigError(
                f"snapshot file {self.path!r} is not valid JSON ({err}); restore it or export it "
                "again"
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("objects"), dict):
            raise NetBoxConfigError(
                f"snapshot file {self.path!r} has no 'objects' mapping; it must be in the "
                "lab1.json format (endpoint -> list of objects)"
            )
        self._store = NetBoxStore.from_snapshot(data, keep_ids=True)
        self._meta = {k: v for k, v in data.items() if k != "objects"}
        self._order = tuple(data["objects"])
        self._signature = signature
        log.debug("Loaded NetBox snapshot %s", self.path)

    def _write(self):
        """Write the store back atomically (caller holds the file lock)."""
        base_url = self._meta.get("base_url") or DEFAULT_BASE_URL
        exported = self._store.export(base_url=base_url)
        data = dict(self._meta)
        data.update({k: v for k, v in exported.items() if k != "objects"})
        data["source"] = self._meta.get("source", exported.get("source"))
        data["objects"] = order_objects(exported["objects"], self._order)
        _common.write_json_atomic(self.path, data)
        self._order = tuple(data["objects"])
        self._signature = self._stat()

    def _mutate(self, endpoint, method, path, func):
        """Run ``func(store)`` under the file lock on freshly read data and save the result."""
        self.counter.record(endpoint, method)
        with self._lock:
            try:
                with self._filelock:
                    self._check_writable(endpoint)
                    store = self._fresh()
                    try:
                        result = func(store)
                        self._write()
                    except StoreError as err:
                        # nothing is written; reload on next use in case the store was touched
                        self._signature = None
                        raise _map(err, endpoint, method, path) from None
                    except BaseException:
                        # the change is in memory but not on disk (disk full, ...): the next
                        # read reloads the file instead of serving what was never saved
                        self._signature = None
                        raise
                    return result
            except filelock.Timeout:
                raise NetBoxError(
                    f"snapshot {self.path!r} is locked by another process for more than "
                    f"{LOCK_TIMEOUT}s ({self.path}.lock)",
                    endpoint=endpoint,
                ) from None
            except OSError as err:
                raise NetBoxError(
                    f"cannot write the snapshot {self.path!r} ({err.strerror or err}); the "
                    "salt user needs write access to the file's directory (for the lock file and "
                    "the atomic replace)",
                    endpoint=endpoint,
                ) from None

    def _check_writable(self, endpoint):
        """
        A snapshot file without any write permission bit is a read-only data set (a rehearsal's
        reference, a CI fixture): writes are refused like a read-only NetBox token, even for
        root, whose atomic replace would otherwise ignore the file's mode.
        """
        try:
            mode = os.stat(self.path).st_mode
        except FileNotFoundError:
            return
        if not mode & 0o222:
            raise NetBoxPermissionDenied(
                f"snapshot {self.path!r} is read-only (mode {mode & 0o777:04o}): writes are "
                f"refused; make it writable (chmod u+w) to let Salt change it",
                status=403,
                endpoint=endpoint,
            )

    def _read(self, endpoint, method, path, func, pages=1):
        for _ in range(max(pages, 1)):
            self.counter.record(endpoint, method)
        store = self._fresh()
        try:
            return func(store)
        except StoreError as err:
            raise _map(err, endpoint, method, path) from None

    # -- source interface ----------------------------------------------------------------------
    def status(self):
        """Version of the snapshot's NetBox and the time to (re)read it."""
        started = time.perf_counter()
        self.counter.record("status", "GET")
        store = self._fresh()
        latency = (time.perf_counter() - started) * 1000.0
        version = str(self._meta.get("netbox_version") or store.netbox_version)
        return {
            "netbox_version": version,
            "api_version": ".".join(version.split(".")[:2]),
            "reachable": True,
            "latency_ms": round(latency, 1),
            "source": self.path,
            "kind": self.kind,
        }

    def _query(self, endpoint, pairs):
        """Split our query pairs into store filters and brief/fields/exclude."""
        filters = []
        brief = False
        fields = None
        exclude = ()
        for key, value in pairs:
            if key == "brief":
                brief = value.lower() in ("true", "1", "yes")
            elif key == "fields":
                fields = [f for f in value.split(",") if f]
            elif key == "exclude":
                exclude = tuple(f for f in value.split(",") if f)
            else:
                filters.append((key, value))
        return filters, brief, fields, exclude

    def _list(self, endpoint, pairs, page_size):
        filters, brief, fields, exclude = self._query(endpoint, pairs)
        path = f"/api/{_common.endpoint_path(endpoint)}/"
        base_url = self.base_url
        store = self._fresh()
        try:
            ids = store.query_ids(endpoint, filters)
        except StoreError as err:
            self.counter.record(endpoint, "GET")
            raise _map(err, endpoint, "GET", path) from None
        pages = max(1, math.ceil(len(ids) / page_size))
        for _ in range(pages):
            self.counter.record(endpoint, "GET")
            self.counter.record_page(endpoint)
        return store.represent_ids(
            endpoint, ids, base_url, brief=brief, fields=fields, exclude=exclude
        )

    def list(
        self, endpoint, params=None, *, fields=None, brief=False, exclude=None, page_size=None
    ):
        """Every object of ``endpoint`` matching ``params``, as the API would return them."""
        size = _common.check_page_size(page_size, self.page_size)
        pairs = _common.build_query(
            params, fields=fields, brief=brief, exclude=exclude, endpoint=endpoint
        )
        return self._list(endpoint, pairs, size)

    def iter(
        self, endpoint, params=None, *, fields=None, brief=False, exclude=None, page_size=None
    ):
        """Iterator over :meth:`list`."""
        return iter(
            self.list(
                endpoint, params, fields=fields, brief=brief, exclude=exclude, page_size=page_size
            )
        )

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
        Objects whose filter ``key`` matches any of ``values``, in the batches the API client
        would send (so results, their order and the request count are the API's).
        """
        size = _common.check_page_size(page_size, self.page_size)
        values = _common.unique_values(values)
        if not values:
            return []
        pairs = _common.build_query(
            params, fields=fields, brief=brief, exclude=exclude, endpoint=endpoint, key=key
        )
        url = f"{self.api_url}/{_common.endpoint_path(endpoint)}/"
        batches = _common.batch_values(url, pairs + [("limit", str(size))], key, values)
        out = []
        for batch in batches:
            out.extend(self._list(endpoint, pairs + [(key, v) for v in batch], size))
        return _common.dedupe_by_id(out)

    def get(self, endpoint, ident):
        """The object ``ident`` of ``endpoint``; raises ``NetBoxNotFound``."""
        ident = _common.check_ident(ident)
        path = f"/api/{_common.endpoint_path(endpoint)}/{ident}/"
        base_url = self.base_url
        return self._read(endpoint, "GET", path, lambda s: s.get(endpoint, ident, base_url))

    def find(self, endpoint, **keys):
        """The one object matching the natural ``keys``; ``None``; or ``NetBoxAmbiguous``."""
        pairs = _common.natural_key_params(endpoint, keys)
        results = self._list(endpoint, pairs, self.page_size)
        return one_match(endpoint, keys, results[:2], len(results))

    def create(self, endpoint, data):
        """Create one object (dict) or several (list)."""
        if not isinstance(data, (dict, list)):
            raise NetBoxConfigError(f"create({endpoint}) data must be a dict or a list of dicts")
        path = f"/api/{_common.endpoint_path(endpoint)}/"
        base_url = self.base_url
        return self._mutate(
            endpoint, "POST", path, lambda s: s.create(endpoint, data, base_url=base_url)
        )

    def update(self, endpoint, ident, data, *, if_match=None):
        """PATCH object ``ident``; ``if_match`` (an ETag) makes it conditional."""
        if not isinstance(data, dict):
            raise NetBoxConfigError(f"update({endpoint}) data must be a dict (got {data!r})")
        ident = _common.check_ident(ident)
        path = f"/api/{_common.endpoint_path(endpoint)}/{ident}/"
        base_url = self.base_url

        def apply(store):
            return store.update(endpoint, ident, data, base_url=base_url, if_match=if_match)

        return self._mutate(endpoint, "PATCH", path, apply)

    def bulk_update(self, endpoint, items):
        """PATCH several objects (every item with its ``id``) atomically."""
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise NetBoxConfigError(f"bulk_update({endpoint}) needs a list of dicts")
        missing = [i for i, item in enumerate(items) if item.get("id") is None]
        if missing:
            raise NetBoxConfigError(
                f"bulk_update({endpoint}) items {missing} have no 'id'; every item must name the "
                "object it changes"
            )
        if not items:
            return []
        path = f"/api/{_common.endpoint_path(endpoint)}/"
        base_url = self.base_url
        return self._mutate(
            endpoint, "PATCH", path, lambda s: s.bulk_update(endpoint, items, base_url=base_url)
        )

    def delete(self, endpoint, ident):
        """Delete object ``ident`` (NetBox's cascades apply)."""
        ident = _common.check_ident(ident)
        path = f"/api/{_common.endpoint_path(endpoint)}/{ident}/"
        self._mutate(endpoint, "DELETE", path, lambda s: s.delete(endpoint, ident))

    def available_ips(self, prefix_id, count=None):
        """Free addresses of prefix ``prefix_id``."""
        prefix_id = _common.check_ident(prefix_id)
        path = f"/api/ipam/prefixes/{prefix_id}/available-ips/"
        base_url = self.base_url
        return self._read(
            "ipam.prefixes.available-ips",
            "GET",
            path,
            lambda s: s.available_ips(prefix_id, limit=count, base_url=base_url),
        )

    def allocate_ip(self, prefix_id, data):
        """Allocate the next free address of prefix ``prefix_id`` (under the file lock)."""
        prefix_id = _common.check_ident(prefix_id)
        path = f"/api/ipam/prefixes/{prefix_id}/available-ips/"
        base_url = self.base_url
        return self._mutate(
            "ipam.prefixes.available-ips",
            "POST",
            path,
            lambda s: s.allocate_ips(prefix_id, data, base_url=base_url),
        )

    def export(self):
        """The whole snapshot (as written to the file)."""
        with open(self.path, encoding="utf-8") as handle:
            return json.load(handle)


def _map(err, endpoint, method, path):
    """A ``StoreError`` as the typed error the API would have produced."""
    return from_status(err.status, err.body, endpoint=endpoint, method=method, path=path)
