"""Readable tables for ``turnup.plan`` and ``turnup.status`` (``--out=txt`` / ``nested``)."""

from salt_ext.utils.turnup import record as rec
from salt_ext.utils.turnup.steps import ORDER


def _table(header, rows):
    rows = [[("" if c is None else str(c)) for c in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def plan_table(plan):
    rows = []
    for wave in plan["waves"]:
        for name in wave["devices"]:
            dev = plan["devices"][name]
            peers = ", ".join(
                f"{i}->{p}" for i, p in sorted(dev["peers"].items()) if not i.startswith("Ethernet")
            )
            rows.append(
                [
                    wave["name"],
                    name,
                    dev["minion"] if dev["managed"] else "unmanaged",
                    dev.get("generation") or "-",
                    dev["status"],
                    dev["primary_ip"] or "-",
                    peers if dev["kind"] == "server" else f"{len(dev['peers'])} cabled ports",
                ]
            )
    head = (
        f"Turn-up plan {plan['site']}/{plan['rack']}: batch {plan['batch']} ({plan['batch_size']})"
    )
    return (
        head
        + "\n"
        + _table(["wave", "device", "minion", "gen", "status", "primary ip", "peers"], rows)
    )


def last_step(dev):
    steps = dev["steps"]
    done = [s for s in ORDER + ("check",) if s in steps]
    return done[-1] if done else None


def status_table(record):
    rows = []
    for name, dev in record["devices"].items():
        step = dev.get("failed_step") or last_step(dev)
        info = dev["steps"].get(step) or {}
        result = (
            "failed"
            if dev.get("failed_step")
            else {True: "ok", None: "running"}.get(info.get("result"), "failed")
        )
        if dev["kind"] != "server" and step is None:
            result = "pending" if dev["managed"] else "unmanaged"
        elif step == "check" and info.get("result") is False:
            result = "warning"  # an unmanaged device: checked from NetBox, never failed
        total = sum((s.get("duration") or 0) for s in dev["steps"].values())
        error = dev.get("error") or (info.get("comment") if result == "warning" else "")
        rows.append([name, dev["wave"], step or "-", result, f"{total:.1f}s", (error or "")[:80]])
    head = (
        f"Run {record['id']} ({record['site']}/{record['rack']}): {record['state']}, master "
        f"{record['master']}, started {rec.iso(record['created'])}, updated "
        f"{rec.iso(record['updated'])}"
    )
    return head + "\n" + _table(["device", "wave", "step", "result", "duration", "error"], rows)
