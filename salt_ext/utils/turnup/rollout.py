"""
Generation rollout: apply a changed hardware generation profile to every ``active`` box of that
generation in a site, a canary first, then batches; ``orch.hwgen_rollout`` validates each wave
(``hardware.validated``) and stops at the first wave that fails.

The generation of a device is its device type's custom field ``hw_generation`` (the same tag
``hardware.profile`` and ``turnup.check_generation`` use).

Batch sizes and minion ids are the rack turn-up planner's (:func:`salt_ext.utils.turnup.plan.
parse_batch`, :func:`~salt_ext.utils.turnup.plan.minion_id`): ``batch`` a count or a percentage
of the boxes, the canary one box.
"""

from salt.exceptions import SaltInvocationError

from salt_ext.utils.netbox_ops.diff import simplify
from salt_ext.utils.turnup import plan as tplan
from salt_ext.utils.turnup.decommission import _site

DEFAULT_BATCH = "25%"


def batch_size(batch, total):
    """The boxes per batch for ``total`` boxes (a count, or a percentage of ``total``)."""
    return tplan.parse_batch(DEFAULT_BATCH if batch is None else batch, total)


def waves(items, batch=DEFAULT_BATCH, canary=1):
    """``[{"name": "canary"|"batch-N", "items": [...]}]``: ``canary`` boxes, then batches."""
    try:
        canary = int(canary)
        if canary < 0 or isinstance(canary, bool):
            raise ValueError
    except (TypeError, ValueError):
        raise SaltInvocationError(
            f"canary must be a number of boxes (0 or more), got {canary!r}"
        ) from None
    items = list(items)
    out = []
    if canary and items:
        out.append({"name": "canary", "items": items[:canary]})
        items = items[canary:]
    size = batch_size(batch, len(items) + (len(out[0]["items"]) if out else 0))
    for number, start in enumerate(range(0, len(items), size), start=1):
        out.append({"name": f"batch-{number}", "items": items[start : start + size]})
    return out


def generations(src):
    """``{generation: [device type slug, ...]}`` from the device types' ``hw_generation``."""
    out = {}
    for dtype in src.list("dcim.device-types", {}):
        gen = (dtype.get("custom_fields") or {}).get("hw_generation")
        if gen:
            out.setdefault(gen, []).append(dtype.get("slug"))
    return out


def plan(src, site, generation, batch=DEFAULT_BATCH, canary=1):
    """
    The rollout of ``generation`` in ``site``: the active devices of that generation, sorted by
    rack and name, in waves. Raises SaltInvocationError for an unknown site or generation, or a
    generation with no active box in the site (naming the statuses found).

    :returns: ``{"site", "generation", "device_types", "batch", "devices": [{name, minion,
        rack}], "skipped": {name: status}, "waves": [{"name", "devices", "minions"}]}``
    """
    if not generation or not isinstance(generation, str):
        raise SaltInvocationError("generation=<name> is required, e.g. generation=gen10")
    batch_size(batch, 1)  # refuses a bad batch before any NetBox read
    site_obj = _site(src, site)
    gens = generations(src)
    if generation not in gens:
        raise SaltInvocationError(
            f"generation {generation!r}: no NetBox device type has custom field "
            f"hw_generation={generation} (known: {', '.join(sorted(gens)) or 'none'}); tag the "
            "device type (turnup.check_generation tells which)"
        )
    types = sorted(gens[generation])
    found = []
    for dtype in src.list_by("dcim.device-types", "slug", types):
        found.extend(
            src.list("dcim.devices", {"site_id": site_obj["id"], "device_type_id": dtype["id"]})
        )
    found.sort(key=lambda d: ((d.get("rack") or {}).get("name") or "", d.get("name") or ""))
    active = [d for d in found if simplify(d.get("status")) == "active"]
    skipped = {d["name"]: simplify(d.get("status")) for d in found if d not in active}
    if not active:
        seen = ", ".join(f"{n}: {s}" for n, s in sorted(skipped.items())) or "no device at all"
        raise SaltInvocationError(
            f"no active {generation} box in site {site!r} ({seen}); a rollout only touches active "
            "boxes (new ones get the profile at turn-up)"
        )
    devices = [
        {"name": d["name"], "minion": tplan.minion_id(d), "rack": (d.get("rack") or {}).get("name")}
        for d in active
    ]
    return {
        "site": site_obj.get("slug"),
        "generation": generation,
        "device_types": types,
        "batch": str(batch),
        "devices": devices,
        "skipped": skipped,
        "waves": [
            {
                "name": w["name"],
                "devices": [d["name"] for d in w["items"]],
                "minions": [d["minion"] for d in w["items"]],
            }
            for w in waves(devices, batch, canary)
        ],
    }
