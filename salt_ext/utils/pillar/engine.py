"""
The NetBox ext_pillar engine: identity -> site record (cached, single-flight) -> pillar.

Safety rules (see ``docs/pillar.md``):

- NetBox fails and a cached copy exists that is at most ``max_stale`` seconds old: the copy is
  served and the pillar says ``_meta: {stale: true, age_s, error}``;
- no copy, or an older one: :class:`PillarUnavailable` is raised, Salt records it in the pillar's
  ``_errors`` and state runs refuse to run. The pillar of a device NetBox knows is never empty.
- after a failure, NetBox is not asked again for ``retry_after`` seconds (1,000 minions refreshing
  against a NetBox that is down do not each wait for a timeout).
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import logging
import os
import threading
import time
import urllib.parse

from salt.exceptions import CommandExecutionError, SaltInvocationError

from salt_ext.utils import metrics
from salt_ext.utils import netbox as netbox_access
from salt_ext.utils.netbox.errors import NetBoxError
from salt_ext.utils.pillar import fetch
from salt_ext.utils.pillar.assemble import SiteView, node_hwgen, node_pillar
from salt_ext.utils.pillar.cache import LockTimeout, RecordStore
from salt_ext.utils.pillar.compat import salt3007_pillar
from salt_ext.utils.pillar.identity import AmbiguousMinion, IdentityView
from salt_ext.utils.pillar.options import parse_options

log = logging.getLogger(__name__)

#: a site record at least this fraction of its TTL old joins another site's refresh
GROUP_EARLY = 0.5

#: cap, in seconds, of a 429's Retry-After wait while a pillar compile holds a refresh lock
PILLAR_RETRY_AFTER_MAX = 10.0

_ENGINES = {}
_ENGINES_LOCK = threading.Lock()


class PillarUnavailable(CommandExecutionError):
    """NetBox data for the minion cannot be served (NetBox down and no usable cached copy)."""


#: seconds a timestamp may lie in the future (clocks of masters sharing a cache differ a little);
#: beyond that the master's clock jumped back and the timestamp's age is unknown
CLOCK_SKEW = 60.0


def _within(ts, now, seconds):
    """Whether the timestamp ``ts`` is less than ``seconds`` old (and not in the future)."""
    if ts is None or not isinstance(ts, (int, float)):
        return False
    age = now - ts
    return -CLOCK_SKEW <= age < seconds


def _public_url(url):
    """``url`` without user info or query (``https://user:secret@nb/`` -> ``https://nb/``)."""
    parts = urllib.parse.urlsplit(str(url))
    if not parts.scheme or not parts.netloc:
        return str(url)
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def _iso(ts):
    if not ts:
        return None
    return datetime.datetime.fromtimestamp(ts, tz=datetime.timezone.utc).isoformat(
        timespec="seconds"
    )


class Engine:
    """
    Pillar compilation for one ``ext_pillar`` configuration on one master process.

    :param opts: master opts
    :param context: a dict used by the access layer to cache its client (``__context__``)
    :param options: :class:`~salt_ext.utils.pillar.options.PillarOptions`
    """

    def __init__(self, opts, context, options):
        self.opts = opts
        self.context = context if context is not None else {}
        self.options = options
        overrides = dict(options.netbox or {})
        if options.page_size:
            overrides["page_size"] = options.page_size
        # A compile holds the site's refresh lock while it waits: a rate-limited NetBox must not
        # stall every minion of the site for minutes (3 retries x Retry-After). The ext_pillar's
        # own `netbox: {retry_after_max: N}` still wins.
        overrides.setdefault("retry_after_max", PILLAR_RETRY_AFTER_MAX)
        self.overrides = overrides or None
        cfg = netbox_access.load_config(opts, overrides=self.overrides)
        source = cfg.url or cfg.snapshot
        self.source_id = hashlib.sha1(str(source).encode()).hexdigest()[:12]
        #: the source as shown in pillars, messages and runner output: without credentials
        self.label = _public_url(source)
        self.store = RecordStore(opts, self.source_id, options.cache_driver)

    # ------------------------------------------------------------------ sources
    def source(self):
        """The NetBox source (client) of the access layer, cached in the context."""
        return netbox_access.get_source(self.opts, self.context, overrides=self.overrides)

    # ------------------------------------------------------------------ records
    def _usable(self, meta, covers, min_synced, now):
        if not meta.get("version") or meta.get("synced_at") is None:
            return False
        if not _within(meta["synced_at"], now, self.options.ttl):
            # expired, or synced "in the future" (clock jump): its age is unknown, refresh it
            return False
        if covers and not set(covers) <= set(meta.get("endpoints") or ()):
            return False
        if min_synced is not None and meta["synced_at"] < min_synced:
            return False
        return True

    @staticmethod
    def _status(meta, now, stale=False, error=None):
        return {
            "stale": stale,
            "error": error,
            "age_s": round(max(0.0, now - (meta.get("synced_at") or now)), 1),
            "synced_at": meta.get("synced_at"),
        }

    def _fallback(self, name, meta, error, build_view, what):
        """Serve the cached copy of ``name`` as stale, or raise when there is none usable."""
        now = time.time()
        record, view = (
            self.store.load(name, meta, build_view) if meta.get("version") else (None, None)
        )
        if record is not None:
            # the meta's synced_at is the last successful sync (an unchanged refresh moves it
            # without rewriting the record)
            synced = meta.get("synced_at") or record["synced_at"]
            age = now - synced
            if age <= self.options.max_stale:
                log.warning(
                    "netbox pillar: serving %s from a cache %.0fs old: %s", name, age, error
                )
                metrics.pillar_event("stale", name, self.opts)
                return record, view, self._status({"synced_at": synced}, now, True, error)
            raise PillarUnavailable(
                f"NetBox failed for {what} ({error}) and the cached copy is "
                f"{age:.0f}s old, past max_stale ({self.options.max_stale:g}s)"
            )
        raise PillarUnavailable(f"NetBox failed for {what} ({error}) and no cached copy exists")

    def obtain(
        self,
        name,
        full_fn,
        incr_fn,
        build_view,
        what,
        *,
        covers=(),
        min_synced=None,
        force_full=False,
        refresh=None,
    ):
        """
        The record ``name``: from the cache when fresh, else refreshed once for all processes.

        :param full_fn: ``full_fn(src, endpoints) -> record``
        :param incr_fn: ``incr_fn(src, record) -> record`` (may raise ``NeedFullFetch``)
        :param build_view: record -> view (indexes), kept in memory per version
        :param what: label for messages (``site lab1``)
        :param covers: endpoints the record must cover
        :param min_synced: the record must have been synced at or after this time
        :param force_full: refetch everything (``netbox.pillar_refresh``)
        :param refresh: ``refresh(src, record) -> record`` instead of ``full_fn``/``incr_fn``
            (a site refreshed together with others)
        :returns: ``(record, view, status)``
        """
        now = time.time()
        meta = self.store.meta(name)
        if not force_full and self._usable(meta, covers, min_synced, now):
            record, view = self.store.load(name, meta, build_view)
            if record is not None:
                metrics.pillar_event("hit", name, self.opts)
                return record, view, self._status(meta, now)
        if not force_full and _within(meta.get("error_at"), now, self.options.retry_after):
            return self._fallback(name, meta, meta.get("error"), build_view, what)
        requested = time.time()
        try:
            with self.store.lock(name, self.options.lock_timeout):
                meta = self.store.meta(name)
                now = time.time()
                error_at = meta.get("error_at")
                if not force_full and (
                    _within(error_at, now, self.options.retry_after)
                    or (error_at and requested <= error_at <= now + CLOCK_SKEW)
                ):
                    # the worker that held the lock failed while we waited (a hung NetBox):
                    # serve its outcome instead of each waiter asking NetBox again in turn
                    return self._fallback(name, meta, meta.get("error"), build_view, what)
                threshold = requested if force_full else min_synced
                if self._usable(meta, covers, threshold, now) and (
                    not force_full or meta.get("last_fetch", {}).get("mode") == "full"
                ):
                    record, view = self.store.load(name, meta, build_view)
                    if record is not None:
                        # refreshed by another worker while this one waited for the lock
                        metrics.pillar_event("hit", name, self.opts)
                        return record, view, self._status(meta, now)
                record, _ = self.store.load(name, meta, build_view)
                try:
                    src = self.source()
                    if refresh is not None:
                        new = refresh(src, record)
                    else:
                        new = self._refresh(
                            src,
                            record,
                            full_fn,
                            incr_fn,
                            covers=covers,
                            force_full=force_full,
                            what=what,
                        )
                    _keep_created(new, record)
                except NetBoxError as err:
                    failed = dict(meta)
                    failed.update(error=str(err), error_at=time.time())
                    self.store.save_meta(name, failed)
                    return self._fallback(name, failed, str(err), build_view, what)
                meta = self.store.save(name, new, build_view)
                metrics.pillar_event("miss", name, self.opts)
                record, view = self.store.load(name, meta, build_view)
                return record, view, self._status(meta, time.time())
        except LockTimeout as err:
            return self._fallback(name, self.store.meta(name), str(err), build_view, what)

    def _refresh(self, src, record, full_fn, incr_fn, *, covers, force_full, what):
        endpoints = set(covers) | set((record or {}).get("endpoints") or ())
        if record is not None and not force_full and set(covers) <= set(record["endpoints"]):
            interval = self.options.full_interval
            since_full = time.time() - (record.get("full_at") or 0)
            if interval and not _within(record.get("full_at") or 0, time.time(), interval):
                # nested copies inside unchanged objects (a peer's name in a cable end, an
                # address in a device's primary_ip) are only refreshed by a full fetch
                log.info("netbox pillar: full refetch of %s: last one %.0fs ago", what, since_full)
            else:
                try:
                    return incr_fn(src, record)
                except fetch.NeedFullFetch as why:
                    log.info("netbox pillar: full refetch of %s: %s", what, why)
        return full_fn(src, endpoints)

    # ------------------------------------------------------------------ identity
    def index(self, min_synced=None, force_full=False):
        """The identity index ``(record, view, status)``."""
        options = self.options
        return self.obtain(
            options.index_key,
            lambda src, _eps: fetch.full_index(src, options),
            lambda src, rec: fetch.incremental_index(src, rec, options),
            IdentityView,
            "the identity index",
            min_synced=min_synced,
            force_full=force_full,
        )

    def resolve(self, minion_id, min_synced=None):
        """``((kind, id, site_id) or None, status)`` for ``minion_id``."""
        record, view, status = self.index(min_synced=min_synced)
        try:
            found = view.resolve(minion_id, self.options)
            if (
                found is None
                and not status["stale"]
                # the meta's sync time: an unchanged refresh moves it, not the stored record's
                and time.time() - (status["synced_at"] or record["synced_at"])
                > self.options.unknown_recheck
            ):
                record, view, status = self.index(min_synced=time.time())
                found = view.resolve(minion_id, self.options)
        except AmbiguousMinion as err:
            raise CommandExecutionError(str(err)) from None
        if found is None and status["stale"]:
            raise PillarUnavailable(
                f"cannot tell whether minion {minion_id!r} is in NetBox: the identity index is "
                f"stale ({status['error']})"
            )
        return found, status

    # ------------------------------------------------------------------ sites
    @staticmethod
    def scope_name(scope):
        """Cache name of a scope's record."""
        return f"site-{scope['id']}" if scope["kind"] == "site" else f"vm-{scope['id']}"

    def scope(self, scope, min_synced=None, force_full=False):
        """The record of a scope ``(record, view, status)``."""
        options = self.options
        name = self.scope_name(scope)
        what = f"{scope['kind']} {scope.get('slug') or scope['id']}"

        def full_fn(src, eps):
            return fetch.full_scope(src, scope, eps, options)

        def incr_fn(src, rec):
            return fetch.incremental_scope(src, rec, options)

        refresh = None
        if scope["kind"] == "site" and not force_full:

            def refresh(src, record):
                return self._refresh_site(src, scope, record, what=what, fns=(full_fn, incr_fn))

        return self.obtain(
            name,
            full_fn,
            incr_fn,
            SiteView,
            what,
            covers=options.endpoints,
            min_synced=min_synced,
            force_full=force_full,
            refresh=refresh,
        )

    # ------------------------------------------------------------------ several sites
    def _refresh_site(self, src, scope, record, *, what, fns):
        """
        Refresh the site ``scope`` (its lock held), together with the other site records that
        are due at the same time (see :meth:`_companions`): one listing per object type, or one
        change-log read, for all of them.
        """
        companions = self._companions(scope, record)
        if companions:
            with contextlib.ExitStack() as stack:
                items, held = [(scope, record)], {}
                now = time.time()
                for other in companions:
                    name = self.scope_name(other)
                    if not stack.enter_context(
                        self.store.try_lock(name, max(self.options.lock_timeout, 1))
                    ):
                        continue  # another worker is refreshing it
                    meta = self.store.meta(name)
                    if not self._due(meta, now):
                        continue  # refreshed meanwhile
                    other_record, _ = self.store.load(name, meta, SiteView)
                    items.append((other, other_record))
                    held[other["id"]] = (name, meta, other_record)
                if held:
                    return self._refresh_together(src, scope, items, held, what)
        return self._refresh(
            src,
            record,
            *fns,
            covers=self.options.endpoints,
            force_full=False,
            what=what,
        )

    def _refresh_together(self, src, scope, items, held, what):
        started = time.time()
        try:
            results = self._fetch_sites(src, items)
        except NetBoxError as err:
            for name, meta, _ in held.values():
                failed = dict(meta)
                failed.update(error=str(err), error_at=time.time())
                self.store.save_meta(name, failed)
            raise
        for sid, (name, _, old) in held.items():
            new = results.get(sid)
            if new is not None:
                _keep_created(new, old)
                self.store.save(name, new, SiteView)
        log.info(
            "netbox pillar: %s refreshed with %d other site(s) in %.2fs",
            what,
            len(held),
            time.time() - started,
        )
        return results[scope["id"]]

    def _due(self, meta, now):
        """Whether a site record may join a refresh now: missing, or at least half its TTL old
        (so that records refreshed together keep expiring together), and not failing."""
        if _within(meta.get("error_at"), now, self.options.retry_after):
            return False
        if not meta.get("version"):
            return True
        return not _within(meta.get("synced_at"), now, self.options.ttl * GROUP_EARLY)

    def _companions(self, scope, record):
        """
        The other sites to refresh with ``scope`` (see docs/pillar.md, "Several sites in one
        fetch"):

        - cached site records that are due too (expired, or past half their TTL): sites whose
          records expire together are refreshed together;
        - on a cold start, the sites of the master's accepted minions that have no record yet,
          once a second site is needed (another record was created within the last ``ttl``):
          a single minion's first compile still fetches only its site.

        At most :data:`~.fetch.GROUP_MAX_SITES` sites and about
        :data:`~.fetch.GROUP_MAX_NODES` devices and VMs (counted from the identity index).
        """
        now = time.time()
        metas = {}
        for name in self.store.names():
            kind, _, ident = name.partition("-")
            if kind == "site" and ident.isdigit() and int(ident) != scope["id"]:
                metas[int(ident)] = self.store.meta(name)
        wanted = [sid for sid, meta in sorted(metas.items()) if meta.get("version")]
        wanted = [sid for sid in wanted if self._due(metas[sid], now)]
        if record is None:
            burst = any(
                _within(meta.get("created_at"), now, self.options.ttl) for meta in metas.values()
            )
            if burst:
                have = {sid for sid, meta in metas.items() if meta.get("version")}
                wanted += sorted(self._needed_sites() - have - {scope["id"]})
        if not wanted:
            return []
        counts = self._site_counts()
        total, out = counts.get(scope["id"], 0), []
        for sid in wanted:
            size = counts.get(sid, 0)
            if len(out) + 1 >= fetch.GROUP_MAX_SITES or total + size > fetch.GROUP_MAX_NODES:
                continue
            total += size
            out.append({"kind": "site", "id": sid})
        return out

    def _site_counts(self):
        """``{site id: devices and VMs}`` from the identity index."""
        record, _, _ = self.index()
        counts = {}
        for row in record.get("objects", {}).get("nodes", ()):
            counts[row[3]] = counts.get(row[3], 0) + 1
        return counts

    def _needed_sites(self):
        """Sites of the master's accepted minions (their keys in ``pki_dir/minions``)."""
        pki = self.opts.get("pki_dir")
        if not pki:
            return set()
        try:
            minions = os.listdir(os.path.join(pki, "minions"))
        except OSError:
            return set()
        _, view, _ = self.index()
        sites = set()
        for minion in minions:
            try:
                found = view.resolve(minion, self.options)
            except AmbiguousMinion:
                continue
            if found and found[2] is not None:
                sites.add(found[2])
        return sites

    def _fetch_sites(self, src, items, force_full=False):
        """
        New records for ``items`` (``[(scope, record or None), ...]``, sites): records that need
        a full fetch are fetched together, the others refreshed from the change log together
        when they share a change-log position. Returns ``{site id: record}``.
        """
        options = self.options
        endpoints = set(options.endpoints)
        for _, record in items:
            endpoints |= set((record or {}).get("endpoints") or ())
        now, interval = time.time(), options.full_interval
        full, incr = [], {}
        for scope, record in items:
            if (
                record is None
                or force_full
                or not set(options.endpoints) <= set(record["endpoints"])
                or (interval and not _within(record.get("full_at") or 0, now, interval))
            ):
                full.append(scope["id"])
            else:
                key = (record.get("cursor"), tuple(record.get("seen") or ()))
                incr.setdefault(key, []).append(record)
        out = {}
        for records in incr.values():
            try:
                if len(records) == 1:
                    out[records[0]["scope"]["id"]] = fetch.incremental_scope(
                        src, records[0], options
                    )
                else:
                    out.update(fetch.incremental_sites(src, records, options))
            except fetch.NeedFullFetch as why:
                log.info("netbox pillar: full refetch of %d site(s): %s", len(records), why)
                full.extend(r["scope"]["id"] for r in records)
        if len(full) == 1:
            out[full[0]] = fetch.full_scope(
                src, {"kind": "site", "id": full[0]}, endpoints, options
            )
        elif full:
            out.update(fetch.full_sites(src, full, endpoints, options))
        return out

    # ------------------------------------------------------------------ compile
    def compile(self, minion_id, pillar):
        """The ext_pillar data of ``minion_id`` (``{}`` for an unknown minion with
        ``on_unknown: empty``)."""
        options = self.options
        found, index_status = self.resolve(minion_id)
        located = found and self._locate(minion_id, found)
        if located and located[1].node(found[0], found[1]) is None and not located[2]["stale"]:
            # the site record, just refreshed, no longer has the node: it moved to another site
            # or was deleted since the identity index (still within its TTL) was synced
            if not index_status["stale"]:
                found, index_status = self.resolve(minion_id, min_synced=time.time())
                located = found and self._locate(minion_id, found)
        if found is None:
            if options.on_unknown == "error":
                raise CommandExecutionError(
                    f"minion {minion_id!r} is not in NetBox ({self.label}): no device"
                    f"{' or virtual machine' if options.virtual_machines else ''} matches by "
                    f"{', '.join(options.identity)}; add it to NetBox or set its "
                    f"'{options.minion_id_field}' custom field"
                )
            log.info("netbox pillar: minion %s is not in NetBox, empty pillar", minion_id)
            return {}
        kind, node_id, _ = found
        record, view, status, scope = located
        if view.node(kind, node_id) is None:
            raise PillarUnavailable(
                f"NetBox {kind} {node_id} (minion {minion_id!r}) is not in the cached data of "
                f"{scope['kind']} {record['scope'].get('slug') or scope['id']}"
                f"{' (stale: ' + str(status['error']) + ')' if status['stale'] else ''}; "
                "run 'salt-run netbox.pillar_refresh'"
            )
        stale = status["stale"] or index_status["stale"]
        meta = {
            "source": self.label,
            "scope": record["scope"].get("slug") or f"{scope['kind']}-{scope['id']}",
            # the meta's sync time: an unchanged refresh moves it without rewriting the record
            "synced_at": _iso(status["synced_at"] or record["synced_at"]),
            "age_s": status["age_s"],
            "stale": stale,
        }
        if stale:
            meta["error"] = status["error"] or index_status["error"]
            meta["age_s"] = max(status["age_s"], index_status["age_s"])
        if options.compat == "salt3007":
            ret = salt3007_pillar(view, kind, node_id, options, minion_id)
            if stale:
                ret[options.key]["_meta"] = meta
            return ret
        data = node_pillar(view, kind, node_id, options)
        data["_meta"] = meta
        ret = {options.key: data}
        if options.want("hwgen"):
            hwgen = node_hwgen(view, kind, node_id, options, pillar)
            if hwgen is not None:
                ret[options.hwgen_key] = hwgen
        return ret

    def _locate(self, minion_id, found):
        """``(record, view, status, scope)`` of the scope holding the node ``found``."""
        kind, node_id, site_id = found
        scope = (
            {"kind": "site", "id": site_id}
            if site_id is not None
            else {"kind": "vm", "id": node_id}
        )
        record, view, status = self.scope(scope)
        if view.node(kind, node_id) is None and not status["stale"]:
            # the index knows the node in this site, the site record does not yet
            log.debug("netbox pillar: %s not in %s yet, refreshing it", minion_id, scope)
            record, view, status = self.scope(scope, min_synced=time.time())
        return record, view, status, scope

    # ------------------------------------------------------------------ runner helpers
    def refresh(self, site=None):
        """
        Refetch the index and the site records in full: all cached ones, or ``site`` (a slug or
        id, a comma-separated list or a list of them, or ``*`` for every site of the identity
        index: warming a cold master). Several sites are fetched together (one listing per
        object type for up to :data:`~.fetch.GROUP_MAX_SITES` sites).
        """
        started = time.time()
        index_rec, index_view, status = self.index(force_full=True)
        if status["stale"]:
            raise PillarUnavailable(
                f"refresh of the identity index from {self.label} failed: {status['error']} "
                f"(minions are served the cached copy, {status['age_s']:g}s old)"
            )
        names = self.store.names()
        scopes = []
        if site is not None:
            if isinstance(site, (list, tuple)):
                names_wanted = [str(s).strip() for s in site]
            else:
                names_wanted = [s.strip() for s in str(site).split(",")]
            ids = []
            for wanted in [w for w in names_wanted if w]:
                found = [
                    sid
                    for sid, slug in index_view.sites.items()
                    if wanted == "*" or wanted in (slug, str(sid))
                ]
                if not found:
                    raise SaltInvocationError(
                        f"site {wanted!r} has no device in NetBox{self._sites_hint()}; known "
                        "sites: "
                        f"{', '.join(sorted(str(s) for s in index_view.sites.values())) or 'none'}"
                    )
                ids.extend(sid for sid in found if sid not in ids)
            scopes = [{"kind": "site", "id": sid} for sid in sorted(ids)]
        else:
            for name in names:
                kind, _, ident = name.partition("-")
                if kind in ("site", "vm") and ident.isdigit():
                    scopes.append({"kind": kind, "id": int(ident)})
        out = {"index": _summary(index_rec), "sites": {}}
        failed = []
        sites = [s for s in scopes if s["kind"] == "site"]
        if len(sites) > 1:
            scopes = [s for s in scopes if s["kind"] != "site"]
            self._refresh_all(sites, out, failed)
        for scope in scopes:
            try:
                record, _, status = self.scope(scope, force_full=True)
            except PillarUnavailable as err:
                failed.append(f"{self.scope_name(scope)}: {err}")
                continue
            label = record["scope"].get("slug") or self.scope_name(scope)
            if status["stale"]:
                failed.append(f"{label}: {status['error']}")
                continue
            out["sites"][label] = _summary(record)
        if failed:
            raise PillarUnavailable(
                f"refresh from {self.label} failed for {'; '.join(failed)}"
                f"{' (refreshed: ' + ', '.join(out['sites']) + ')' if out['sites'] else ''}"
            )
        out["seconds"] = round(time.time() - started, 3)
        return out

    def _refresh_all(self, scopes, out, failed):
        """Full refetch of several sites, grouped (``netbox.pillar_refresh``)."""
        counts = self._site_counts()
        groups, group, size = [], [], 0
        for scope in scopes:
            nodes = counts.get(scope["id"], 0)
            if group and (
                len(group) >= fetch.GROUP_MAX_SITES or size + nodes > fetch.GROUP_MAX_NODES
            ):
                groups.append(group)
                group, size = [], 0
            group.append(scope)
            size += nodes
        if group:
            groups.append(group)
        for group in groups:
            try:
                with contextlib.ExitStack() as stack:
                    for scope in group:
                        stack.enter_context(
                            self.store.lock(self.scope_name(scope), self.options.lock_timeout)
                        )
                    old = {s["id"]: self.store.meta(self.scope_name(s)) for s in group}
                    try:
                        results = self._fetch_sites(
                            self.source(), [(s, None) for s in group], force_full=True
                        )
                    except NetBoxError as err:
                        for scope in group:
                            failed_meta = dict(old[scope["id"]])
                            failed_meta.update(error=str(err), error_at=time.time())
                            self.store.save_meta(self.scope_name(scope), failed_meta)
                        names = ", ".join(self.scope_name(s) for s in group)
                        failed.append(f"{names}: {err}")
                        continue
                    for scope in group:
                        name = self.scope_name(scope)
                        record = results[scope["id"]]
                        record["created_at"] = old[scope["id"]].get("created_at") or time.time()
                        self.store.save(name, record, SiteView)
                        out["sites"][record["scope"].get("slug") or name] = _summary(record)
            except LockTimeout as err:
                failed.append(f"{', '.join(self.scope_name(s) for s in group)}: {err}")

    def _sites_hint(self):
        return (
            f" (restricted to sites {', '.join(self.options.sites)})" if self.options.sites else ""
        )

    def cache_info(self):
        """What is cached for this configuration, with ages and counts."""
        now = time.time()
        records = {}
        for name in self.store.names():
            meta = self.store.meta(name)
            synced = meta.get("synced_at")
            records[name] = {
                "scope": meta.get("scope"),
                "version": meta.get("version"),
                "synced_at": _iso(synced),
                "age_s": round(now - synced, 1) if synced else None,
                "fresh": _within(synced, now, self.options.ttl),
                "full_at": _iso(meta.get("full_at")),
                "cursor": meta.get("cursor"),
                "counts": meta.get("counts"),
                "last_fetch": meta.get("last_fetch"),
                "error": meta.get("error"),
                "error_at": _iso(meta.get("error_at")),
            }
        return {
            "source": self.label,
            "driver": self.store.driver,
            "bank": self.store.bank,
            "ttl": self.options.ttl,
            "max_stale": self.options.max_stale,
            "records": records,
        }


def _keep_created(new, old):
    """A refreshed record keeps the time its site was first fetched (cold-start grouping)."""
    if isinstance(new, dict):
        new["created_at"] = (old or {}).get("created_at") or new.get("created_at") or time.time()


def _summary(record):
    out = {
        "synced_at": _iso(record["synced_at"]),
        "mode": record["last_fetch"]["mode"],
        "requests": record["last_fetch"].get("requests"),
        "seconds": record["last_fetch"].get("seconds"),
        "counts": {ep: len(objs) for ep, objs in record.get("objects", {}).items()},
    }
    if record["last_fetch"].get("group"):
        # the sites fetched together; ``requests`` counts the whole group's
        out["group"] = record["last_fetch"]["group"]
    return out


def _engine_key(opts, kwargs):
    """
    Engines are shared by every compile of a process with the same configuration. Salt hands the
    ext_pillar a fresh copy of the master opts for each compile, so the key is what the engine
    reads from the opts (cache driver and location, the ``netbox`` section) plus the options.
    """
    relevant = {k: v for k, v in opts.items() if k[:6] == "cache."}
    relevant.update(
        cachedir=opts.get("cachedir"), cache=opts.get("cache"), netbox=opts.get("netbox")
    )
    raw = json.dumps([relevant, kwargs], sort_keys=True, default=str)
    key = _KEYS.get(raw)
    if key is None:
        key = hashlib.sha1(raw.encode()).hexdigest()
        if len(_KEYS) > 256:
            _KEYS.clear()
        _KEYS[raw] = key
    return key


_KEYS = {}


def get_engine(opts, context, kwargs):
    """The process-wide :class:`Engine` for ``opts`` and these ext_pillar options."""
    key = _engine_key(opts, kwargs)
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            engine = Engine(opts, context, parse_options(kwargs))
            _ENGINES[key] = engine
        return engine


def forget_engines():
    """Drop every cached engine (tests)."""
    with _ENGINES_LOCK:
        _ENGINES.clear()


def compile_pillar(minion_id, pillar, opts, context=None, **kwargs):
    """
    The ext_pillar entry point: the NetBox pillar of ``minion_id``.

    :param minion_id: the minion id (``*`` gives ``{}``, as for Salt's own ext_pillars)
    :param pillar: the pillar compiled so far (``hwgen_profiles`` is read from it)
    :param opts: master opts
    :param context: the loader's ``__context__`` (the access layer caches its client there)
    :param kwargs: the ``ext_pillar: - netbox: {...}`` options
    """
    if minion_id == "*":
        return {}
    engine = get_engine(opts, context, kwargs)
    return engine.compile(minion_id, pillar)


def configured_options(opts):
    """The option dicts of every ``netbox`` entry of the master's ``ext_pillar`` list."""
    out = []
    for entry in opts.get("ext_pillar") or ():
        if isinstance(entry, dict) and "netbox" in entry:
            out.append(entry["netbox"] or {})
    return out
