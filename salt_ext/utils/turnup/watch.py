"""
``turnup.watch``: follow a run live from the master's event bus until ``turnup/<run>/done``.

It subscribes first, then prints what the run record already holds (steps finished before the
watch began, marked ``(earlier)``), then one line per ``turnup/<run>/<device>/<step>`` event as
it comes; a line is never printed twice. The orchestration fires a step's events as each device
finishes and saves the record once the step is over, so a watch that subscribes in the middle of
a step would miss the events fired before it and not find them in the record yet: whenever the
bus is quiet, and before the final line, it prints what the record holds that it has not shown
(marked ``(recorded)``). It ends on the run's ``done`` event, or when the record says the run
ended (a done event missed), or at ``timeout``.
"""

import time

import salt.utils.event

from salt_ext.utils.turnup import events
from salt_ext.utils.turnup import record as rec

ENDED = ("done", "aborted", "stopped")


def line(device, step, result, duration, comment, *, note=""):
    """One progress line; ``note``: ``earlier`` or ``recorded`` for a step read from the record."""
    mark = "ok" if result else "FAILED"
    text = f"{device + '/' + step:<30} {mark:<7} {duration or 0:>7.1f}s {comment or ''}"
    return text + (f" ({note})" if note else "")


def _recorded(data):
    """Finished step entries of the record, oldest first: ``(ended, device, step, entry)``."""
    out = []
    for device, dev in (data.get("devices") or {}).items():
        for step, entry in (dev.get("steps") or {}).items():
            if entry and entry.get("result") is not None and entry.get("ended"):
                out.append((entry["ended"], device, step, entry))
    return sorted(out, key=lambda item: item[0])


def _print(text):
    print(text, flush=True)  # salt-run's stdout may be a pipe: each line as it happens


def follow(opts, store, run, timeout, out=_print):
    """Print the progress of ``run`` until it ends; returns the final record."""
    bus = salt.utils.event.get_master_event(opts, opts["sock_dir"], listen=True)
    prefix = f"{events.PREFIX}/{run}/"
    seen = set()
    deadline = time.time() + timeout

    def catch_up(record, note):
        for _, device, step, entry in _recorded(record):
            key = (device, step, bool(entry["result"]), entry.get("comment") or "")
            if key not in seen:
                seen.add(key)
                out(
                    line(
                        device,
                        step,
                        entry["result"],
                        entry.get("duration"),
                        entry.get("comment"),
                        note=note,
                    )
                )

    try:
        bus.subscribe(prefix)
        catch_up(store.get(run), "earlier")
        while time.time() < deadline:
            event = bus.get_event(
                wait=min(5, max(0.1, deadline - time.time())), tag=prefix, full=True
            )
            if not event:
                record = store.get(run)
                catch_up(record, "recorded")
                if record["state"] in ENDED:  # its done event missed: the same last line
                    out(f"{run}: {record['state']} (failed: {rec.failed(record) or 'none'})")
                    break
                continue
            tag, body = event["tag"], event["data"]
            if tag == events.done_tag(run):
                catch_up(store.get(run), "recorded")  # saved before the done event
                out(f"{run}: {body.get('state')} (failed: {body.get('failed') or 'none'})")
                break
            if body.get("test"):
                continue  # a test=True prediction of the same rack is not this run's progress
            device, step = body.get("device"), body.get("step")
            key = (device, step, bool(body.get("result")), body.get("comment") or "")
            if key in seen:
                continue
            seen.add(key)
            out(line(device, step, body.get("result"), body.get("duration"), body.get("comment")))
    finally:
        bus.destroy()
    return store.get(run)
