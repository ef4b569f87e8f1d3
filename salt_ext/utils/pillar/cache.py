"""
Records in Salt's cache, shared by every MWorker (and every master on a shared backend), with
single-flight refresh.

Each record is stored under two keys of the bank ``netbox_pillar/<source id>``:

- ``<name>.meta``: a small dict (``version``, ``synced_at``, ``error``, ``error_at``, counts) read on
  every compile: it says whether the record is fresh and whether this process's in-memory copy is
  still current;
- ``<name>``: the record itself, read only when the version changed.

Refresh is single-flight: the refresher holds a lock named after the record (a file lock in the
master's cachedir for the ``localfs`` driver, a Redis lock on the cache's own Redis server for the
``redis`` driver, so that several masters sharing Redis fetch a site once) and every waiter
re-reads the meta after acquiring it: when somebody else refreshed meanwhile, it just loads.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time

import filelock
import salt.cache
import salt.payload

try:
    import redis
except ImportError:  # pragma: no cover - only needed with the redis driver
    redis = None

log = logging.getLogger(__name__)

BANK_ROOT = "netbox_pillar"

_CACHES = {}
_CACHES_LOCK = threading.Lock()
#: per process: (bank, name) -> (version, record, view)
_MEMORY = {}
#: per process, localfs only: meta file path -> (its bytes, meta)
_META_FILES = {}
_THREAD_LOCKS = {}


class LockTimeout(Exception):
    """Another process held the refresh lock for longer than ``lock_timeout``."""


def _salt_cache(opts, driver):
    """One ``salt.cache.Cache`` per driver and location (its loader is costly to build)."""
    redis_opts = tuple(sorted((k, str(v)) for k, v in opts.items() if k.startswith("cache.")))
    key = (driver, opts.get("cachedir"), redis_opts)
    with _CACHES_LOCK:
        cache = _CACHES.get(key)
        if cache is None:
            cache = salt.cache.Cache(opts, driver=driver)
            _CACHES[key] = cache
        return cache


class RecordStore:
    """
    Salt-cache access for the records of one NetBox source.

    :param opts: the master's opts (``cache``, ``cachedir``, ``cache.redis.*``)
    :param source_id: short stable id of the NetBox (hash of its URL)
    :param driver: cache driver (default: ``opts["cache"]``, i.e. ``localfs``)
    """

    def __init__(self, opts, source_id, driver=None):
        self.opts = opts
        self.driver = driver or opts.get("cache") or "localfs"
        self.bank = f"{BANK_ROOT}/{source_id}"
        self.source_id = source_id
        self.cache = _salt_cache(opts, self.driver)

    # -------------------------------------------------------------- meta and records
    def _fetch(self, key):
        """
        ``cache.fetch`` that treats an unreadable entry (a truncated or garbage file, a value
        that does not deserialize) as absent, so that it is refetched instead of failing every
        compile until somebody deletes it.
        """
        try:
            return self.cache.fetch(self.bank, key)
        except Exception as err:  # pylint: disable=broad-except
            log.warning(
                "netbox pillar: cache entry %s/%s is unreadable, ignoring it: %s",
                self.bank,
                key,
                err,
            )
            return None

    def _meta_path(self, name):
        cachedir = self.opts.get("cachedir") or "/var/cache/salt/master"
        return os.path.join(cachedir, os.path.normpath(self.bank), f"{name}.meta.p")

    def meta(self, name):
        """
        The meta dict of record ``name`` (``{}`` when absent or damaged).

        Read on every compile. With ``localfs`` the file's bytes are read directly and decoded
        only when they differ from the last read (a few microseconds, against a fifth of a
        millisecond through Salt's cache loader and msgpack). Comparing the bytes, not the
        inode/mtime, stays exact when a rewrite reuses the inode within one clock tick.
        """
        if self.driver != "localfs":
            return self._read_meta(name)
        path = self._meta_path(name)
        try:
            with open(path, "rb") as handle:
                raw = handle.read()
        except OSError:
            _META_FILES.pop(path, None)
            return self._read_meta(name)
        known = _META_FILES.get(path)
        if known is not None and known[0] == raw:
            return dict(known[1])
        try:
            data = salt.payload.loads(raw)
        except Exception as err:  # pylint: disable=broad-except
            log.warning(
                "netbox pillar: cache entry %s/%s.meta is unreadable, ignoring it: %s",
                self.bank,
                name,
                err,
            )
            data = None
        data = self._check_meta(name, data)
        _META_FILES[path] = (raw, data)
        return dict(data)

    def _read_meta(self, name):
        return self._check_meta(name, self._fetch(f"{name}.meta"))

    @staticmethod
    def _check_meta(name, data):
        if not isinstance(data, dict):
            return {}
        for key in ("synced_at", "full_at", "error_at"):
            if data.get(key) is not None and not isinstance(data[key], (int, float)):
                log.warning("netbox pillar: cache entry %s.meta is damaged, ignoring it", name)
                return {}
        return data

    def save_meta(self, name, meta):
        """Store the meta dict of ``name``."""
        self.cache.store(self.bank, f"{name}.meta", meta)

    def load(self, name, meta, build_view=None):
        """
        ``(record, view)`` for the version named in ``meta``: from this process's memory when the
        version matches, else from the cache (``view = build_view(record)``).
        Returns ``(None, None)`` when the record is missing.
        """
        version = meta.get("version")
        if not version:
            return None, None
        mem = _MEMORY.get((self.bank, name))
        if mem and mem[0] == version:
            return mem[1], mem[2]
        record = self._fetch(name)
        # written by a newer/older refresher between the two reads (another version): trust
        # the record; a damaged one is treated as missing (refetched)
        if not _well_formed(record):
            if record not in (None, {}):
                log.warning("netbox pillar: cache entry %s is damaged, ignoring it", name)
            return None, None
        try:
            view = build_view(record) if build_view else None
        except Exception as err:  # pylint: disable=broad-except
            log.warning("netbox pillar: cache entry %s is damaged, ignoring it: %r", name, err)
            return None, None
        _MEMORY[(self.bank, name)] = (record.get("version"), record, view)
        return record, view

    def save(self, name, record, build_view=None, meta_extra=None):
        """Store ``record`` (if its version changed) and its meta; remember it in memory."""
        old = _MEMORY.get((self.bank, name))
        current = self.meta(name)
        if current.get("version") != record["version"]:
            self.cache.store(self.bank, name, record)
        meta = {
            "version": record["version"],
            "synced_at": record["synced_at"],
            "full_at": record.get("full_at"),
            "scope": record.get("scope"),
            "endpoints": record.get("endpoints"),
            "cursor": record.get("cursor"),
            "last_fetch": record.get("last_fetch"),
            "counts": {ep: len(objs) for ep, objs in record.get("objects", {}).items()},
            "created_at": record.get("created_at"),
            "error": None,
            "error_at": None,
        }
        meta.update(meta_extra or {})
        self.save_meta(name, meta)
        if old and old[0] == record["version"]:
            _MEMORY[(self.bank, name)] = (old[0], record, old[2])
        else:
            view = build_view(record) if build_view else None
            _MEMORY[(self.bank, name)] = (record["version"], record, view)
        return meta

    def names(self):
        """Names of the records stored for this source."""
        try:
            keys = self.cache.list(self.bank)
        except Exception:  # pylint: disable=broad-except
            return []
        return sorted({k[: -len(".meta")] for k in keys if k.endswith(".meta")})

    def flush(self, name=None):
        """Forget one record (or all) in the cache and in this process."""
        if name is None:
            self.cache.flush(self.bank)
            for key in [k for k in _MEMORY if k[0] == self.bank]:
                _MEMORY.pop(key, None)
            return
        for key in (name, f"{name}.meta"):
            self.cache.flush(self.bank, key)
        _MEMORY.pop((self.bank, name), None)

    # -------------------------------------------------------------- locking
    @contextlib.contextmanager
    def lock(self, name, timeout):
        """
        Hold the refresh lock of ``name`` (across processes, and across masters with Redis).

        :raises LockTimeout: when it could not be acquired within ``timeout`` seconds
        """
        tkey = (self.bank, name)
        with _CACHES_LOCK:
            tlock = _THREAD_LOCKS.setdefault(tkey, threading.Lock())
        deadline = time.monotonic() + timeout
        if not tlock.acquire(timeout=timeout):
            raise LockTimeout(f"refresh lock for {name} busy for {timeout:g}s")
        try:
            remaining = max(0.1, deadline - time.monotonic())
            if self.driver == "redis":
                with self._redis_lock(name, timeout, remaining):
                    yield
            else:
                with self._file_lock(name, remaining):
                    yield
        finally:
            tlock.release()

    @contextlib.contextmanager
    def try_lock(self, name, hold=120.0):
        """
        Hold the refresh lock of ``name`` if nobody else does: yields ``True`` when it was
        acquired, ``False`` at once when it is busy (a refresher adding other records to its
        fetch never waits for them, so two refreshers cannot deadlock).

        :param hold: with Redis, seconds after which a lock whose holder died expires
        """
        tkey = (self.bank, name)
        with _CACHES_LOCK:
            tlock = _THREAD_LOCKS.setdefault(tkey, threading.Lock())
        if not tlock.acquire(blocking=False):
            yield False
            return
        try:
            if self.driver == "redis":
                lock = self.redis_client().lock(
                    f"{BANK_ROOT}:lock:{self.source_id}:{name}",
                    timeout=max(hold, 1),
                    thread_local=False,
                )
                if not lock.acquire(blocking=False):
                    yield False
                    return
                try:
                    yield True
                finally:
                    try:
                        lock.release()
                    except Exception as err:  # pylint: disable=broad-except
                        log.warning("netbox pillar: releasing the redis lock for %s: %s", name, err)
            else:
                lockdir = os.path.join(
                    self.opts.get("cachedir") or "/var/cache/salt/master", BANK_ROOT
                )
                os.makedirs(os.path.join(lockdir, "locks"), exist_ok=True)
                lock = filelock.FileLock(
                    os.path.join(lockdir, "locks", f"{self.source_id}-{name}.lock")
                )
                try:
                    lock.acquire(timeout=0)
                except filelock.Timeout:
                    yield False
                    return
                try:
                    yield True
                finally:
                    lock.release()
        finally:
            tlock.release()

    @contextlib.contextmanager
    def _file_lock(self, name, wait):
        lockdir = os.path.join(self.opts.get("cachedir") or "/var/cache/salt/master", BANK_ROOT)
        os.makedirs(os.path.join(lockdir, "locks"), exist_ok=True)
        path = os.path.join(lockdir, "locks", f"{self.source_id}-{name}.lock")
        lock = filelock.FileLock(path)
        try:
            lock.acquire(timeout=wait)
        except filelock.Timeout:
            raise LockTimeout(f"refresh lock {path} busy for {wait:g}s") from None
        try:
            yield
        finally:
            lock.release()

    def redis_client(self):
        """A Redis client on the server of Salt's redis cache (``cache.redis.*`` options)."""
        if redis is None:
            raise LockTimeout("the redis cache driver needs the 'redis' Python package")
        opts = self.opts
        return redis.Redis(
            host=opts.get("cache.redis.host", "localhost"),
            port=int(opts.get("cache.redis.port", 6379)),
            unix_socket_path=opts.get("cache.redis.unix_socket_path"),
            db=int(opts.get("cache.redis.db", 0)),
            password=opts.get("cache.redis.password") or None,
        )

    @contextlib.contextmanager
    def _redis_lock(self, name, ttl, wait):
        client = self.redis_client()
        lock = client.lock(
            f"{BANK_ROOT}:lock:{self.source_id}:{name}",
            timeout=max(ttl, 1),
            blocking_timeout=wait,
            thread_local=False,
        )
        if not lock.acquire(blocking=True):
            raise LockTimeout(f"redis refresh lock for {name} busy for {wait:g}s")
        try:
            yield
        finally:
            try:
                lock.release()
            except Exception as err:  # pylint: disable=broad-except
                log.warning("netbox pillar: releasing the redis lock for %s: %s", name, err)


def _well_formed(record):
    """Whether ``record`` has the shape :mod:`.fetch` writes (a damaged entry does not)."""
    return (
        isinstance(record, dict)
        and bool(record.get("version"))
        and isinstance(record.get("objects"), dict)
        and all(isinstance(objs, list) for objs in record["objects"].values())
        and isinstance(record.get("scope"), dict)
        and isinstance(record.get("endpoints"), list)
        and isinstance(record.get("synced_at"), (int, float))
    )


def forget_memory():
    """Drop every in-process copy (tests)."""
    _MEMORY.clear()
    _META_FILES.clear()
