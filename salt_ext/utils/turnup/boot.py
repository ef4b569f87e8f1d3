"""
Boot verification of a new server's minion (``salt-run turnup.on_boot``, from the reactor on
``salt/minion/<id>/start``).

A minion accepted by serial (:mod:`.autosign`) is only trusted once what it reports, ASKED OF THE
MINION over its own accepted key (its ``grains.item`` and ``hardware.inventory``, in one job of
``turnup.boot_facts``, through the LocalClient, never the event data, which any accepted minion can forge), points at exactly one
NetBox device that expects to boot:

- the minion id is that device's name or its custom field ``minion_id`` (exactly);
- the device is ``planned`` or ``staged``;
- the serial it reports is a real serial (no placeholder), equals the device's, and NetBox gives
  it to no other device; the ``serialnumber`` grain (what autosign accepted) says the same;
- every MAC NetBox records on the device's physical interfaces is reported, and no reported MAC
  belongs to another device in NetBox.

Verdicts and actions (:func:`judge`, :meth:`Enrolment.run`):

``match``
    ``netbox.sync_inventory`` (run on the master with the inventory the minion reported: the
    provisioning image holds no NetBox token), status ``staged`` with a journal entry, event
    ``turnup/device/ready``, then the rack check (:func:`rack_ready`): when every server of a
    rack whose custom field ``auto_turnup`` is true is staged, event ``turnup/rack/ready`` once.
``mismatch``
    key deleted (wheel ``key.delete``), the serials it used quarantined (out of the autosign
    file until ``turnup.release``, so its next authentication stays pending instead of looping),
    a journal entry on every device concerned, event ``turnup/security/mismatch`` with the
    evidence. Never a status change.
``barred``
    the id or the serial is a ``decommissioning``/``offline`` device's: as ``mismatch``.
``in_service``
    an active (or failed, inventory) device's minion restarting: nothing. If what it reports
    disagrees with NetBox but points at no device that is being enrolled, the journal entry and
    the event are written (``action: reported``) and the key is kept: production servers are
    never cut off on a NetBox data error.
``ignored``
    the minion id matches a glob of ``turnup_boot:ignore`` (the master's own minion, minions
    NetBox does not manage).

Repeated start events never repeat actions: the verdict per minion and key fingerprint is kept
in ``salt.cache`` (bank ``turnup/boot``); a verified, staged device is not journaled twice, a
mismatch is journaled and announced once, a rack triggers once per set of staged servers
(bank ``turnup/rackready``; the turn-up run lock decides between masters).
"""

import fnmatch
import hashlib
import logging
import re
import time

import salt.cache
import salt.client
import salt.key
import salt.loader
import salt.utils.event
from salt.exceptions import SaltInvocationError

from salt_ext.utils.netbox_ops import ops
from salt_ext.utils.netbox_ops.diff import normalize_mac, simplify
from salt_ext.utils.netbox_ops.inventory import clean_serial, serials_equal
from salt_ext.utils.turnup import autosign
from salt_ext.utils.turnup import record as record_mod

log = logging.getLogger(__name__)

ENROL_STATUSES = ("planned", "staged")
BARRED_STATUSES = ("decommissioning", "offline", "decommissioned")
BOOT_BANK = "turnup/boot"
RACK_BANK = "turnup/rackready"
TAG_MISMATCH = "turnup/security/mismatch"
TAG_READY = "turnup/device/ready"
TAG_RACK_READY = "turnup/rack/ready"
#: interface types whose MACs are not a board's own
VIRTUAL_TYPES = ("lag", "virtual", "bridge")
_BAD_ID = re.compile(r"[\s*?\[\],!/\\]")


def check_minion_id(minion):
    """A minion id that can be targeted exactly (no glob, list or path characters)."""
    if not isinstance(minion, str) or not minion or _BAD_ID.search(minion) or minion[0] in ".-":
        raise SaltInvocationError(
            f"minion must be one minion id (no spaces, globs, commas or slashes), got {minion!r}"
        )
    return minion


def settings(opts):
    """The ``turnup_boot`` block of the master configuration, with defaults."""
    conf = opts.get("turnup_boot") or {}
    if not isinstance(conf, dict):
        raise SaltInvocationError("turnup_boot in the master configuration must be a mapping")
    ignore = conf.get("ignore") or []
    if isinstance(ignore, str):
        ignore = [ignore]
    return {
        "ignore": [str(i) for i in ignore],
        "timeout": conf.get("timeout", 60),
        "grain": conf.get("grain", "serialnumber"),
    }


# --- what the minion says ------------------------------------------------------------------


def reported(answers, grain="serialnumber"):
    """
    The evidence a minion gave: ``{"serial", "grain_serial", "raw_serial", "macs": {mac: iface},
    "sources": [...]}`` from its ``grains.item`` and ``hardware.inventory`` answers (either may
    be missing or an error string).
    """
    answers = answers if isinstance(answers, dict) else {}
    grains = answers.get("grains.item")
    grains = grains if isinstance(grains, dict) else {}
    inv = answers.get("hardware.inventory")
    inv = inv if isinstance(inv, dict) else {}
    out = {"sources": [], "macs": {}}
    raw_grain = grains.get(grain)
    out["grain_serial"] = clean_serial(raw_grain)
    raw_inv = (inv.get("system") or {}).get("serial") if inv else None
    if inv:
        out["sources"].append("hardware.inventory")
        out["raw_serial"] = raw_inv
        out["serial"] = clean_serial(raw_inv)
        for nic in inv.get("nics") or []:
            if isinstance(nic, dict) and nic.get("mac"):
                try:
                    out["macs"][normalize_mac(nic["mac"])] = nic.get("name")
                except Exception:  # pylint: disable=broad-except
                    continue
        bmc = inv.get("bmc") or {}
        if isinstance(bmc, dict) and bmc.get("mac"):
            try:
                out["macs"][normalize_mac(bmc["mac"])] = "bmc"
            except Exception:  # pylint: disable=broad-except
                pass
    if grains:
        out["sources"].append("grains")
        if not inv:
            out["raw_serial"] = raw_grain
            out["serial"] = out["grain_serial"]
            for name, raw_mac in (grains.get("hwaddr_interfaces") or {}).items():
                try:
                    mac = normalize_mac(raw_mac)
                except Exception:  # pylint: disable=broad-except
                    continue
                if mac != "00:00:00:00:00:00":
                    out["macs"][mac] = name
    out.setdefault("serial", None)
    out.setdefault("raw_serial", None)
    return out


# --- what NetBox says ----------------------------------------------------------------------


def _dev_brief(dev):
    site = dev.get("site") or {}
    rack = dev.get("rack") or {}
    return {
        "id": dev.get("id"),
        "name": dev.get("name"),
        "status": autosign.status_of(dev),
        "serial": dev.get("serial") or "",
        "site": site.get("slug") if isinstance(site, dict) else site,
        "rack": rack.get("name") if isinstance(rack, dict) else rack,
        "minion_id": (dev.get("custom_fields") or {}).get("minion_id"),
    }


def lookup(src, minion, rep):
    """
    The NetBox objects the verdict needs: devices named by the id, devices carrying the reported
    serials, the owners of the reported MACs, and the MACs NetBox records on the id's device.
    """
    by_name = src.list("dcim.devices", {"name": minion})
    by_cf = [
        d
        for d in src.list("dcim.devices", {"cf_minion_id": minion})
        if (d.get("custom_fields") or {}).get("minion_id") == minion
    ]
    by_name = [d for d in by_name if d.get("name") == minion]
    by_id = list({d["id"]: d for d in by_name + by_cf}.values())
    serials = sorted({s for s in (rep.get("serial"), rep.get("grain_serial")) if s})
    by_serial = src.list_by("dcim.devices", "serial", serials) if serials else []
    by_serial = [d for d in by_serial if any(serials_equal(d.get("serial"), s) for s in serials)]
    mac_owner = {}
    if rep.get("macs"):
        for obj in src.list_by("dcim.mac-addresses", "mac_address", sorted(rep["macs"])):
            assigned = obj.get("assigned_object") or {}
            dev = assigned.get("device") if isinstance(assigned, dict) else None
            if dev and obj.get("mac_address"):
                mac_owner[normalize_mac(obj["mac_address"])] = {
                    "id": dev.get("id"),
                    "name": dev.get("name"),
                    "interface": assigned.get("name"),
                }
    device_macs = {}
    if len(by_id) == 1:
        dev = by_id[0]
        ifaces = {
            i["id"]: i
            for i in src.list("dcim.interfaces", {"device_id": dev["id"]})
            if simplify(i.get("type")) not in VIRTUAL_TYPES
        }
        for obj in src.list("dcim.mac-addresses", {"device_id": dev["id"]}):
            if obj.get("assigned_object_id") in ifaces and obj.get("mac_address"):
                device_macs[normalize_mac(obj["mac_address"])] = ifaces[obj["assigned_object_id"]][
                    "name"
                ]
        for iface in ifaces.values():
            if iface.get("mac_address"):
                device_macs.setdefault(normalize_mac(iface["mac_address"]), iface["name"])
    return {
        "by_id": by_id,
        "by_serial": by_serial,
        "mac_owner": mac_owner,
        "device_macs": device_macs,
    }


def judge(minion, rep, found):
    """
    The verdict for one minion (pure): ``{"verdict", "device" (brief or None), "reasons": [...],
    "concerned": {device id: brief}, "action": delete|enrol|none|reported}``.
    """
    by_id, by_serial = found["by_id"], found["by_serial"]
    concerned = {d["id"]: _dev_brief(d) for d in by_id + by_serial}
    for owner in found["mac_owner"].values():
        concerned.setdefault(owner["id"], {"id": owner["id"], "name": owner["name"]})
    reasons = []
    dev = by_id[0] if len(by_id) == 1 else None
    if not by_id:
        reasons.append(
            f"no NetBox device is named {minion!r} or has custom field minion_id {minion!r}"
        )
    elif len(by_id) > 1:
        names = ", ".join(sorted(d["name"] for d in by_id))
        reasons.append(f"the minion id names {len(by_id)} NetBox devices ({names})")
    serial = rep.get("serial")
    if serial is None:
        reasons.append(
            f"the minion reports no usable serial ({rep.get('raw_serial')!r}: missing or placeholder)"
        )
    if rep.get("grain_serial") and serial and not serials_equal(rep["grain_serial"], serial):
        reasons.append(
            f"its serialnumber grain {rep['grain_serial']!r} differs from the serial its hardware "
            f"reports {serial!r}"
        )
    if dev is not None and serial is not None and not serials_equal(dev.get("serial"), serial):
        reasons.append(
            f"it reports serial {serial!r}; NetBox has {dev.get('serial') or '(none)'!r} for {dev['name']}"
        )
    others = sorted(d["name"] for d in by_serial if dev is None or d["id"] != dev["id"])
    if others:
        reasons.append(f"NetBox gives the serial it reports to {', '.join(others)}")
    if dev is not None:
        for mac, iface in sorted(found["device_macs"].items()):
            if mac not in rep.get("macs", {}):
                reasons.append(f"NetBox MAC {mac} ({dev['name']} {iface}) is not on the minion")
    for mac, owner in sorted(found["mac_owner"].items()):
        if dev is None or owner["id"] != dev["id"]:
            reasons.append(
                f"its MAC {mac} belongs to {owner['name']} {owner.get('interface') or ''} in NetBox".rstrip()
            )
    status = autosign.status_of(dev) if dev else None
    barred = [d for d in by_id + by_serial if autosign.status_of(d) in BARRED_STATUSES]
    enrolling = [d for d in by_serial if autosign.status_of(d) in ENROL_STATUSES]
    enrolling += [
        o
        for o in found["mac_owner"].values()
        if o["id"] in concerned and concerned[o["id"]].get("status") in ENROL_STATUSES
    ]
    brief = _dev_brief(dev) if dev else None
    if barred:
        names = ", ".join(sorted({d["name"] for d in barred}))
        reasons.insert(
            0,
            f"{names} is {autosign.status_of(barred[0])} in NetBox: its id and serial never get back in",
        )
        return {
            "verdict": "barred",
            "device": brief,
            "reasons": reasons,
            "concerned": concerned,
            "action": "delete",
        }
    if dev is not None and status in ENROL_STATUSES and not reasons:
        return {
            "verdict": "match",
            "device": brief,
            "reasons": [],
            "concerned": concerned,
            "action": "enrol",
        }
    if dev is not None and status not in ENROL_STATUSES:
        if not reasons:
            return {
                "verdict": "in_service",
                "device": brief,
                "reasons": [],
                "concerned": concerned,
                "action": "none",
            }
        if not enrolling:
            return {
                "verdict": "in_service",
                "device": brief,
                "reasons": reasons,
                "concerned": concerned,
                "action": "reported",
            }
    return {
        "verdict": "mismatch",
        "device": brief,
        "reasons": reasons,
        "concerned": concerned,
        "action": "delete",
    }


# --- rack trigger --------------------------------------------------------------------------


def rack_ready(src, rack_id):
    """
    ``(ready, rack, servers)``: the rack's custom field ``auto_turnup`` is true and every device
    of it that is being turned up (status planned or staged) is staged (at least one).
    """
    rack = src.get("dcim.racks", rack_id)
    if not (rack.get("custom_fields") or {}).get("auto_turnup"):
        return False, rack, []
    devices = src.list("dcim.devices", {"rack_id": rack_id, "status": list(ENROL_STATUSES)})
    servers = sorted(d["name"] for d in devices if d.get("name"))
    ready = bool(servers) and all(autosign.status_of(d) == "staged" for d in devices)
    return ready, rack, servers


# --- the run -------------------------------------------------------------------------------


class Enrolment:
    """
    One boot verification. The Salt side effects are methods so that tests can observe them;
    the runner gives the real ones (``ask``, ``fingerprint``, ``delete_key``, ``fire``,
    ``sync_inventory``).
    """

    def __init__(self, opts, src, *, jid=None, who=None):
        self.opts = opts
        self.src = src
        self.jid = jid
        self.who = who or opts.get("id")
        self.conf = settings(opts)
        self.cache = salt.cache.factory(opts)

    # side effects (overridden by the runner)
    def ask(self, minion, timeout):  # pragma: no cover - the runner provides it
        raise NotImplementedError

    def fingerprint(self, minion):  # pragma: no cover
        raise NotImplementedError

    def delete_key(self, minion):  # pragma: no cover
        raise NotImplementedError

    def fire(self, tag, data):  # pragma: no cover
        raise NotImplementedError

    def sync_inventory(self, device, inventory):  # pragma: no cover
        raise NotImplementedError

    def sync_autosign(self):
        return autosign.sync(self.opts, self.src, grain=self.conf["grain"])

    # helpers
    def _journal(self, dev_id, text, kind):
        try:
            ops.write_journal(
                self.src, "dcim.device", dev_id, text, kind=kind, jid=self.jid, who=self.who
            )
            return True
        except Exception as err:  # pylint: disable=broad-except
            log.error("turnup.on_boot: journal entry on device %s failed: %s", dev_id, err)
            return False

    def run(self, minion):
        minion = check_minion_id(minion)
        for pattern in self.conf["ignore"]:
            if fnmatch.fnmatch(minion, pattern):
                return {
                    "minion": minion,
                    "verdict": "ignored",
                    "action": "none",
                    "pattern": pattern,
                }
        finger = self.fingerprint(minion)
        if not finger:
            return {
                "minion": minion,
                "verdict": "not_accepted",
                "action": "none",
                "comment": "no accepted key for this minion (deleted already, or never accepted)",
            }
        answers = self.ask(minion, self.conf["timeout"])
        if answers is None:
            return {
                "minion": minion,
                "verdict": "no_answer",
                "action": "none",
                "comment": f"the minion did not answer within {self.conf['timeout']}s",
                "retcode": 1,
            }
        rep = reported(answers, self.conf["grain"])
        if not rep["sources"]:
            # it answered, but neither function gave data (errors): nothing to judge it by; its
            # key stays, NetBox is not written, a restart of the minion (or turnup.on_boot) retries
            return {
                "minion": minion,
                "verdict": "no_evidence",
                "action": "none",
                "comment": "the minion answered grains.item and hardware.inventory with errors: "
                + repr(answers)[:500],
                "retcode": 1,
            }
        found = lookup(self.src, minion, rep)
        result = judge(minion, rep, found)
        evidence = {
            "minion": minion,
            "key_fingerprint": finger,
            "reported": {
                "serial": rep.get("raw_serial"),
                "grain_serial": rep.get("grain_serial"),
                "macs": dict(sorted(rep["macs"].items())),
                "sources": rep["sources"],
            },
            "netbox": sorted(result["concerned"].values(), key=lambda d: str(d.get("name"))),
            "reasons": result["reasons"],
            "verdict": result["verdict"],
        }
        record_key = minion
        previous = self.cache.fetch(BOOT_BANK, record_key) or {}
        same = (
            previous.get("fingerprint") == finger
            and previous.get("verdict") == result["verdict"]
            and previous.get("reasons") == result["reasons"]
        )
        out = {"minion": minion, **{k: result[k] for k in ("verdict", "action", "reasons")}}
        out["device"] = (result["device"] or {}).get("name")
        if result["action"] == "delete":
            out.update(self._reject(minion, rep, result, evidence, repeat=same))
        elif result["action"] == "reported":
            if not same:
                for dev_id in result["concerned"]:
                    self._journal(
                        dev_id, self._text(minion, result, "kept (device in service)"), "warning"
                    )
                self.fire(TAG_MISMATCH, {**evidence, "action": "reported"})
            out["repeat"] = same
        elif result["action"] == "enrol":
            out.update(self._enrol(minion, answers, result, evidence, repeat=same))
        self.cache.store(
            BOOT_BANK,
            record_key,
            {
                "fingerprint": finger,
                "verdict": result["verdict"],
                "reasons": result["reasons"],
                "device": out["device"],
                "at": time.time(),
                "jid": self.jid,
            },
        )
        return out

    @staticmethod
    def _text(minion, result, what):
        lines = [f"Boot verification of minion {minion}: {result['verdict'].upper()}, key {what}."]
        lines += [f"- {r}" for r in result["reasons"]]
        return "\n".join(lines)

    def _reject(self, minion, rep, result, evidence, repeat):
        out = {"quarantined": []}
        # quarantine first: once the key is gone the minion authenticates again at once, and
        # the serial it sends must no longer be in the autosign file
        for serial in sorted({s for s in (rep.get("grain_serial"), rep.get("serial")) if s}):
            if autosign.quarantine(
                self.opts, serial, {"minion": minion, "verdict": result["verdict"], "jid": self.jid}
            ):
                out["quarantined"].append(serial)
        try:
            out["autosign"] = {
                k: v for k, v in self.sync_autosign().items() if k in ("removed", "changed")
            }
        except Exception as err:  # pylint: disable=broad-except
            out["autosign_error"] = str(err)
            log.error("turnup.on_boot: autosign rewrite after a mismatch failed: %s", err)
        out["key_deleted"] = bool(self.delete_key(minion))
        out["repeat"] = repeat
        if not repeat:
            journaled = []
            for dev_id, brief in sorted(result["concerned"].items()):
                if self._journal(dev_id, self._text(minion, result, "deleted"), "danger"):
                    journaled.append(brief.get("name"))
            out["journaled"] = sorted(journaled)
            self.fire(
                TAG_MISMATCH,
                {**evidence, "action": "key deleted", "quarantined": out["quarantined"]},
            )
        return out

    def _enrol(self, minion, answers, result, evidence, repeat):
        dev = result["device"]
        full = self.src.get("dcim.devices", dev["id"])
        out = {}
        if repeat and dev["status"] == "staged":
            out["repeat"] = True
        else:
            inventory = answers.get("hardware.inventory")
            if isinstance(inventory, dict):
                sync = self.sync_inventory(dev["name"], inventory)
                out["sync_inventory"] = {
                    k: sync.get(k) for k in ("changes", "conflicts") if isinstance(sync, dict)
                }
                if isinstance(sync, dict) and sync.get("conflicts"):
                    out["comment"] = "netbox.sync_inventory found conflicts: not staged"
                    out["retcode"] = 1
                    return out
            if dev["status"] != "staged":
                after, _entry = ops.change_status(
                    self.src,
                    full,
                    "staged",
                    f"boot verification of minion {minion} passed (serial {dev['serial']}, "
                    f"{len(evidence['reported']['macs'])} MACs, key {evidence['key_fingerprint']})",
                    jid=self.jid,
                    who=self.who,
                )
                out["status"] = {"old": dev["status"], "new": after}
                if after != "staged":
                    out["comment"] = f"NetBox kept status {after!r}"
                    out["retcode"] = 1
                    return out
            self.fire(
                TAG_READY,
                {
                    "minion": minion,
                    "device": dev["name"],
                    "site": dev["site"],
                    "rack": dev["rack"],
                    "serial": dev["serial"],
                    "key_fingerprint": evidence["key_fingerprint"],
                },
            )
        rack = full.get("rack")
        if rack:
            out["rack"] = self.check_rack(rack["id"])
        return out

    def check_rack(self, rack_id):
        """Fire ``turnup/rack/ready`` once per rack and set of staged servers."""
        ready, rack, servers = rack_ready(self.src, rack_id)
        site = (rack.get("site") or {}).get("slug")
        info = {"site": site, "rack": rack.get("name"), "ready": ready, "servers": servers}
        if not ready:
            return info
        digest = hashlib.sha256("\n".join(servers).encode()).hexdigest()[:16]
        key = f"{site}.{rack.get('name')}"
        seen = self.cache.fetch(RACK_BANK, key) or {}
        if seen.get("digest") == digest:
            info["triggered"] = False
            info["since"] = seen.get("at")
            return info
        self.cache.store(
            RACK_BANK,
            key,
            {"digest": digest, "servers": servers, "at": time.time(), "master": self.who},
        )
        self.fire(TAG_RACK_READY, {"site": site, "rack": rack.get("name"), "servers": servers})
        info["triggered"] = True
        return info


def fire_event(opts, tag, data):
    """Fire ``tag`` on the master's event bus."""
    with salt.utils.event.get_master_event(opts, opts["sock_dir"], listen=False) as event:
        event.fire_event(data, tag)


def auto_turnup(opts, src, site, rack, *, start):
    """
    Start a rack's turn-up once when NetBox says it is ready (see ``turnup.auto_turnup``).
    ``start(pillar)`` starts ``orch.rack_turnup`` and returns its jid.
    """
    if not isinstance(site, str) or not site or not isinstance(rack, str) or not rack:
        raise SaltInvocationError("site and rack must be a site slug and a rack name")
    resolver = ops.Resolver(src)
    site_id = resolver.ref("dcim.sites", site, field="site")
    rack_id = resolver.ref("dcim.racks", rack, scope={"site_id": site_id})
    ready, _rack, servers = rack_ready(src, rack_id)
    out = {"site": site, "rack": rack, "servers": servers, "started": False}
    if not ready:
        out["comment"] = (
            "not started: NetBox does not say every server of this auto_turnup rack is staged"
        )
        return out
    cache = salt.cache.factory(opts)
    lock = cache.fetch("turnup/locks", f"{site}.{rack}")
    if lock:
        out["comment"] = (
            f"not started: run {lock.get('run')} holds the rack (master {lock.get('master')})"
        )
        out["lock"] = lock
        return out
    digest = hashlib.sha256("\n".join(servers).encode()).hexdigest()[:16]
    key = f"{site}.{rack}.started"
    seen = cache.fetch(RACK_BANK, key) or {}
    if seen.get("digest") == digest:
        out["comment"] = f"not started again: started at {seen.get('at')} (jid {seen.get('jid')})"
        out["previous"] = seen
        return out
    record = {
        "digest": digest,
        "servers": servers,
        "at": time.time(),
        "master": opts.get("id"),
    }
    # several masters sharing the cache may get the same event at once: one claim wins
    won, held = record_mod.claim(
        cache, RACK_BANK, key, record, taken=lambda held: held.get("digest") == digest
    )
    if not won:
        out["comment"] = (
            f"not started here: master {held.get('master')} claimed it at the same time"
        )
        out["previous"] = held
        return out
    started = start({"site": site, "rack": rack})
    jid = started.get("jid") if isinstance(started, dict) else started
    record["jid"] = jid
    cache.store(RACK_BANK, key, record)
    out.update({"started": True, "jid": jid})
    fire_event(
        opts, "turnup/rack/started", {"site": site, "rack": rack, "jid": jid, "servers": servers}
    )
    return out


class SaltEnrolment(Enrolment):
    """:class:`Enrolment` with the master's real Salt clients (used by ``turnup.on_boot``)."""

    def ask(self, minion, timeout):
        """The minion's answer, or ``None`` when it gave none within ``timeout`` seconds. A minion
        whose start event just fired may not be subscribed to the master's publisher yet (a
        loaded master, many boxes booting at once): Salt then says ``Minion did not return. [No
        response]`` at once, so it is asked again until ``timeout``."""
        client = salt.client.get_local_client(self.opts["conf_file"])
        deadline = time.time() + float(timeout)
        while True:
            left = deadline - time.time()
            # one function, not a compound job ("fun": [...]): salt-run jobs.list_jobs
            # search_function= fails on a job cache holding a list-valued Function
            ret = client.cmd(
                minion,
                "turnup.boot_facts",
                kwarg={"grain": self.conf["grain"]},
                tgt_type="list",
                timeout=max(5, min(30, left)),
            )
            answer = (ret or {}).get(minion)
            if isinstance(answer, str) and "turnup.boot_facts" in answer:
                # an image with an older saltext-turnup: ask the two functions one by one
                return self.ask_each(client, minion, max(5, min(30, left)))
            if isinstance(answer, dict) or time.time() + 2 >= deadline:
                return answer if isinstance(answer, dict) else None
            log.info("turnup.on_boot: %s did not answer yet (%s); asking again", minion, answer)
            time.sleep(2)

    def ask_each(self, client, minion, timeout):
        """``turnup.boot_facts``'s answer from ``grains.item`` and ``hardware.inventory`` asked
        one after the other (a minion without that function); None when it answers neither."""
        grains = client.cmd(
            minion, "grains.item", [self.conf["grain"], "hwaddr_interfaces"], timeout=timeout
        )
        inventory = client.cmd(minion, "hardware.inventory", timeout=timeout)
        answer = {
            "grains.item": (grains or {}).get(minion),
            "hardware.inventory": (inventory or {}).get(minion),
        }
        return answer if any(v not in (None, False) for v in answer.values()) else None

    # The master's keys through salt.key, as the wheel's key.finger/key.delete_dict do, not
    # through a WheelClient: that builds a MasterMinion, which loads the grains, and Salt's
    # grains reset the platform module's os-release cache, so reactor threads verifying several
    # boxes at once crashed each other ("'NoneType' object has no attribute 'copy'") and a box
    # was never staged.
    def fingerprint(self, minion):
        with salt.key.get_key(self.opts) as keys:
            found = keys.finger(minion) or {}
        return (found.get("minions") or {}).get(minion)

    def delete_key(self, minion):
        with salt.key.get_key(self.opts) as keys:
            keys.delete_key(match_dict={"minions": [minion]})
        return not self.fingerprint(minion)

    def fire(self, tag, data):
        fire_event(self.opts, tag, data)

    def sync_inventory(self, device, inventory):
        # the netbox execution module loaded on the master: NetBox is written with the master's
        # token and the inventory the minion reported; the provisioning image holds no token
        opts = dict(self.opts)
        opts.setdefault("grains", {})
        mods = salt.loader.minion_mods(opts, whitelist=["netbox"], context={})
        return mods["netbox.sync_inventory"](device=device, inventory=inventory)
