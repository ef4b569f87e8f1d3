"""
Key acceptance from NetBox: the master's ``autosign_grains_dir/<grain>`` file.

Salt's master accepts a new minion key without a human when the minion sends
``autosign_grains: [serialnumber]`` and its ``serialnumber`` grain is a line of
``<autosign_grains_dir>/serialnumber``. This module keeps that file to exactly the serials NetBox
expects to boot:

- serials of devices whose status is ``planned`` or ``staged`` (never ``active``, ``failed``,
  ``decommissioning``, ``offline``: a device leaves the file when it takes one of those);
- never a placeholder serial (``To Be Filled By O.E.M.``, ``0123456789``, empty, ``4242``...):
  thousands of boards share them (:func:`salt_ext.utils.netbox_ops.inventory.clean_serial`);
- never a serial NetBox gives to two or more devices, whatever their status (compared without
  case): it cannot name one device, it is reported for a human to fix NetBox;
- never a quarantined serial: one a boot verification caught on a minion that was not the
  device NetBox expects (:mod:`salt_ext.utils.turnup.boot`); it stays out until
  ``salt-run turnup.release serial=...``.

The file is rewritten atomically (temporary file + rename, mode 0644, which Salt's
``check_permissions`` accepts) and only when its content changes, under an exclusive lock so
that the schedule, the webhook reactor and boot verification never interleave.
"""

import contextlib
import datetime
import fcntl
import hashlib
import hmac
import json
import os
import tempfile
import time

import salt.cache
import salt.utils.files
from salt.exceptions import SaltInvocationError

from salt_ext.utils.hardware.values import placeholder_reason
from salt_ext.utils.netbox_ops.inventory import clean_serial

#: statuses whose serials are written by default
AUTOSIGN_STATUSES = ("planned", "staged")
#: statuses that must never be accepted by serial (a device taking one leaves the file)
NEVER_STATUSES = ("active", "failed", "decommissioning", "offline")
#: salt.cache bank of quarantined serials (key: :func:`serial_key`)
QUARANTINE_BANK = "turnup/quarantine"


def serial_key(serial):
    """The cache key of a serial (serials may hold characters a file name cannot)."""
    return hashlib.sha256(str(serial).strip().upper().encode("utf-8")).hexdigest()[:32]


def parse_statuses(statuses):
    """
    The device statuses to write: a list or a comma-separated string; default planned,staged.
    Refuses the statuses of devices in service or going away.
    """
    if statuses is None:
        return list(AUTOSIGN_STATUSES)
    if isinstance(statuses, str):
        statuses = [s.strip() for s in statuses.split(",") if s.strip()]
    if not isinstance(statuses, (list, tuple)) or not statuses:
        raise SaltInvocationError(
            f"statuses must be a list or a comma-separated string of device statuses, got "
            f"{statuses!r} (default: {','.join(AUTOSIGN_STATUSES)})"
        )
    statuses = [str(s).strip().lower() for s in statuses]
    barred = sorted(set(statuses) & set(NEVER_STATUSES))
    if barred:
        raise SaltInvocationError(
            f"statuses: {', '.join(barred)} devices must never be accepted by serial; use "
            f"statuses from planned, staged, inventory"
        )
    return statuses


def check_grain(grain):
    if not isinstance(grain, str) or not grain or "/" in grain or grain.startswith("."):
        raise SaltInvocationError(f"grain must be a plain grain name, got {grain!r}")
    return grain


def status_of(dev):
    """A device's status value (NetBox's choice ``{value, label}`` or a plain string)."""
    status = (dev or {}).get("status")
    if isinstance(status, dict):
        status = status.get("value")
    return str(status).lower() if status else None


def device_label(dev):
    return dev.get("name") or f"#{dev.get('id')}"


def plan(candidates, owners, statuses, quarantined=None):
    """
    Decide the serials of the file. Pure.

    :param candidates: NetBox devices whose status is one of ``statuses``
    :param owners: every NetBox device (any status) carrying one of the candidates' serials
        (NetBox's ``serial`` filter); may repeat candidates
    :param statuses: the statuses written
    :param quarantined: ``{serial_upper: record}`` of quarantined serials
    :returns: ``{"serials": [...], "duplicate_serials": {serial: [device, ...]},
        "placeholder_serials": {device: serial}, "no_serial": [device, ...],
        "quarantined": {serial: [device, ...]}}``
    """
    quarantined = quarantined or {}
    by_serial = {}  # upper -> {"value": first spelling, "devices": {id: dev}}
    placeholders, no_serial = {}, []
    for dev in candidates:
        if status_of(dev) not in statuses:
            continue
        raw = dev.get("serial")
        serial = clean_serial(raw)
        if serial is None:
            if raw is None or not str(raw).strip():
                no_serial.append(device_label(dev))
            else:
                placeholders[device_label(dev)] = str(raw)
            continue
        entry = by_serial.setdefault(serial.upper(), {"value": serial, "devices": {}})
        entry["devices"][dev.get("id", device_label(dev))] = dev
    for dev in owners:
        serial = clean_serial(dev.get("serial"))
        if serial and serial.upper() in by_serial:
            by_serial[serial.upper()]["devices"][dev.get("id", device_label(dev))] = dev
    serials, duplicates, held = [], {}, {}
    for upper, entry in sorted(by_serial.items()):
        names = sorted(device_label(d) for d in entry["devices"].values())
        if len(names) > 1:
            duplicates[entry["value"]] = names
        elif upper in quarantined:
            held[entry["value"]] = names
        else:
            serials.append(entry["value"])
    return {
        "serials": sorted(serials),
        "duplicate_serials": duplicates,
        "placeholder_serials": placeholders,
        "no_serial": sorted(no_serial),
        "quarantined": held,
    }


def read_serials(path):
    """The serial lines of an autosign grains file (comments and blanks left out)."""
    if not os.path.exists(path):
        return []
    with salt.utils.files.fopen(path, "r") as handle:
        return [
            line.strip() for line in handle if line.strip() and not line.strip().startswith("#")
        ]


@contextlib.contextmanager
def locked(directory, grain):
    """Exclusive lock for rewriting ``<directory>/<grain>`` (a ``.<grain>.lock`` file)."""
    os.makedirs(directory, mode=0o755, exist_ok=True)
    lock_path = os.path.join(directory, f".{grain}.lock")
    with salt.utils.files.fopen(lock_path, "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def write_serials(path, serials, header):
    """Replace ``path`` atomically with ``header`` and one serial a line (mode 0644)."""
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(header + "".join(f"{s}\n" for s in serials))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def quarantined(opts):
    """``{serial_upper: record}`` of the quarantined serials (salt.cache, shared by masters)."""
    cache = salt.cache.factory(opts)
    out = {}
    for key in cache.list(QUARANTINE_BANK) or []:
        record = cache.fetch(QUARANTINE_BANK, key)
        if isinstance(record, dict) and record.get("serial"):
            out[str(record["serial"]).strip().upper()] = record
    return out


def quarantine(opts, serial, record):
    """
    Keep ``serial`` out of the autosign file until released. Returns True when it was not
    quarantined before.
    """
    cache = salt.cache.factory(opts)
    key = serial_key(serial)
    old = cache.fetch(QUARANTINE_BANK, key)
    if isinstance(old, dict) and old.get("serial"):
        return False
    data = dict(record)
    data["serial"] = str(serial).strip()
    data.setdefault("since", time.time())
    cache.store(QUARANTINE_BANK, key, data)
    return True


def release(opts, serial):
    """Forget a quarantined serial; returns its record (None when it was not quarantined)."""
    cache = salt.cache.factory(opts)
    key = serial_key(serial)
    old = cache.fetch(QUARANTINE_BANK, key)
    if not (isinstance(old, dict) and old.get("serial")):
        return None
    cache.flush(QUARANTINE_BANK, key)
    return old


def fetch(src, statuses, site_id=None):
    """The NetBox reads :func:`plan` needs: ``(candidates, owners)``."""
    params = {"status": list(statuses)}
    if site_id is not None:
        params["site_id"] = site_id
    candidates = src.list("dcim.devices", params)
    serials = sorted(
        {s for s in (clean_serial(d.get("serial")) for d in candidates) if s is not None}
    )
    owners = src.list_by("dcim.devices", "serial", serials) if serials else []
    return candidates, owners


def sync(opts, src, *, grain="serialnumber", statuses=None, site=None, site_id=None):
    """
    Rewrite ``<autosign_grains_dir>/<grain>`` from NetBox (see the module docstring).

    :param opts: master opts (``autosign_grains_dir``; the cache for quarantined serials)
    :param src: the NetBox source (access layer)
    :param site: the site slug, for the report and the header only
    :param site_id: only devices of this site (the file still replaces every other serial)
    :returns: ``{"path", "serials", "added", "removed", "changed", "duplicate_serials",
        "placeholder_serials", "no_serial", "quarantined"}``
    """
    directory = opts.get("autosign_grains_dir")
    if not directory:
        raise SaltInvocationError(
            "autosign_grains_dir is not set in the master configuration; set it (for example "
            "/etc/salt/autosign_grains) and restart the master"
        )
    grain = check_grain(grain)
    statuses = parse_statuses(statuses)
    path = os.path.join(directory, grain)
    with locked(directory, grain):
        candidates, owners = fetch(src, statuses, site_id=site_id)
        result = plan(candidates, owners, statuses, quarantined(opts))
        old = read_serials(path)
        serials = result["serials"]
        changed = old != serials
        if changed or not os.path.exists(path):
            header = (
                "# Managed by salt-run netbox.sync_autosign: serials of NetBox devices with "
                f"status {', '.join(statuses)}{' in site ' + site if site else ''}, each "
                "given to one device only. Do not edit.\n"
            )
            write_serials(path, serials, header)
    return {
        "path": path,
        "serials": len(serials),
        "added": sorted(set(serials) - set(old)),
        "removed": sorted(set(old) - set(serials)),
        "changed": changed,
        "duplicate_serials": result["duplicate_serials"],
        "placeholder_serials": result["placeholder_serials"],
        "placeholder_reasons": {
            dev: placeholder_reason(value) for dev, value in result["placeholder_serials"].items()
        },
        "no_serial": result["no_serial"],
        "quarantined": result["quarantined"],
    }


# --- NetBox webhook (salt-api /hook/netbox -> salt/netapi/hook/netbox -> reactor -> here) ---

WEBHOOK_BANK = "turnup/webhook"
TAG_WEBHOOK_REJECTED = "turnup/security/webhook_rejected"
#: the NetBox fields whose change can move a serial into or out of the autosign file
WATCHED_FIELDS = ("status", "serial")


def webhook_settings(opts):
    """``turnup_webhook: {secret_file | secret, max_age: 600}`` of the master configuration."""
    conf = opts.get("turnup_webhook") or {}
    if not isinstance(conf, dict):
        raise SaltInvocationError("turnup_webhook in the master configuration must be a mapping")
    secret = conf.get("secret")
    if conf.get("secret_file"):
        with salt.utils.files.fopen(conf["secret_file"], "r") as handle:
            secret = handle.read().strip()
    try:
        max_age = float(conf.get("max_age", 600))
    except (TypeError, ValueError) as err:
        raise SaltInvocationError("turnup_webhook:max_age must be a number of seconds") from err
    return {"secret": secret or None, "max_age": max_age}


def signature_of(secret, body):
    """NetBox's ``X-Hook-Signature``: hex HMAC-SHA512 of the request body with the secret."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha512).hexdigest()


def _timestamp(value):
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=datetime.timezone.utc)
    return stamp.timestamp()


def _field(snapshot, name):
    if not isinstance(snapshot, dict):
        return None
    value = snapshot.get(name)
    if isinstance(value, dict):
        value = value.get("value")
    return value


def check_webhook(opts, body, signature, now=None):
    """
    Authenticate and parse a NetBox webhook body. Returns ``(payload, None)`` or
    ``(None, reason)``. Pure apart from reading the secret file.
    """
    conf = webhook_settings(opts)
    if not conf["secret"]:
        return None, (
            "no webhook secret configured on the master (turnup_webhook:secret_file): every "
            "webhook is refused"
        )
    if not isinstance(body, str) or not body:
        return None, "empty body"
    if not isinstance(signature, str) or not signature:
        return None, "no X-Hook-Signature header (unsigned request)"
    if not hmac.compare_digest(signature.strip().lower(), signature_of(conf["secret"], body)):
        return None, "X-Hook-Signature does not match the body (wrong secret or altered body)"
    try:
        payload = json.loads(body)
    except ValueError:
        return None, "the body is not JSON"
    if not isinstance(payload, dict):
        return None, "the body is not a JSON object"
    stamp = _timestamp(payload.get("timestamp"))
    now = time.time() if now is None else now
    if stamp is None:
        return None, f"no usable timestamp in the body ({payload.get('timestamp')!r})"
    if now - stamp > conf["max_age"] or stamp - now > 300:
        return None, (
            f"timestamp {payload.get('timestamp')} is outside the accepted window "
            f"({conf['max_age']:g}s old at most): replayed or clocks apart"
        )
    return payload, None


def device_change(payload):
    """
    ``(relevant, why, site slug)`` for a NetBox device event: created/deleted, or status/serial
    differ between ``snapshots.prechange`` and ``snapshots.postchange``.
    """
    if payload.get("model") != "device":
        return False, f"model {payload.get('model')!r} is not a device", None
    data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
    site = data.get("site") if isinstance(data.get("site"), dict) else {}
    slug = site.get("slug")
    event = str(payload.get("event") or "").replace("object_", "")
    snaps = payload.get("snapshots") if isinstance(payload.get("snapshots"), dict) else {}
    pre, post = snaps.get("prechange"), snaps.get("postchange")
    if event in ("created", "deleted") or not pre or not post:
        return True, f"device {event or 'event'}", slug
    changed = [f for f in WATCHED_FIELDS if _field(pre, f) != _field(post, f)]
    if changed:
        what = ", ".join(f"{f} {_field(pre, f)!r} -> {_field(post, f)!r}" for f in changed)
        return True, what, slug
    return False, "neither status nor serial changed", slug


def on_netbox_event(opts, get_source, body, signature, *, fire, refresh_pillar, now=None):
    """
    The webhook hand-off (``turnup.on_netbox_event``): authenticate, then, for a device whose
    status or serial changed, rewrite the autosign file from NetBox and refetch the site's
    pillar. Returns ``{"accepted", "reason"|..., "autosign", "pillar"}``.
    """
    payload, reason = check_webhook(opts, body, signature, now=now)
    if payload is None:
        fire(TAG_WEBHOOK_REJECTED, {"reason": reason, "body_sha256": _sha(body)})
        return {"accepted": False, "reason": reason}
    out = {
        "accepted": True,
        "event": payload.get("event"),
        "model": payload.get("model"),
        "request_id": payload.get("request_id"),
        "username": payload.get("username"),
    }
    cache = salt.cache.factory(opts)
    seen_key = hashlib.sha256(
        f"{payload.get('request_id')}|{payload.get('timestamp')}|{_sha(body)}".encode()
    ).hexdigest()[:32]
    if cache.fetch(WEBHOOK_BANK, seen_key):
        out.update({"action": "none", "comment": "this delivery was handled already (replay)"})
        return out
    relevant, why, site = device_change(payload)
    out["change"] = why
    if relevant:
        out["autosign"] = sync(opts, get_source())
        if site:
            try:
                refresh_pillar(site)
                out["pillar"] = {"site": site, "refreshed": True}
            except SaltInvocationError as err:  # no netbox ext_pillar on this master
                out["pillar"] = {"site": site, "refreshed": False, "comment": str(err)}
        out["action"] = "refreshed"
    else:
        out["action"] = "none"
    cache.store(
        WEBHOOK_BANK, seen_key, {"at": time.time(), "request_id": payload.get("request_id")}
    )
    return out


def _sha(body):
    if isinstance(body, str):
        body = body.encode("utf-8")
    return hashlib.sha256(body or b"").hexdigest()
