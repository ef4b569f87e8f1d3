"""
``netbox.diff_inventory``: what NetBox says about the servers of a site (serial, MAC address per
interface) against what their minions report (``hardware.inventory`` or the cached grains), as rows
and a text table.
"""

import contextlib

from salt_ext.utils.netbox_ops import ops
from salt_ext.utils.netbox_ops.diff import normalize_mac, simplify
from salt_ext.utils.netbox_ops.inventory import clean_serial, serials_equal

__all__ = ["HEADER", "compare", "minion_for", "reported", "site_devices", "table"]

HEADER = ["device", "minion", "status", "check", "netbox", "reported", "result"]
#: interface types without a MAC address of their own
_NO_MAC = ("lag", "virtual", "bridge")


def site_devices(src, site, rack=None):
    """``(devices, {device id: [interfaces]})`` of a site (slug or id), or of one of its racks."""
    resolver = ops.Resolver(src)
    site_id = resolver.ref("dcim.sites", site, field="site")
    params = {"site_id": site_id}
    if rack:
        params["rack_id"] = resolver.ref("dcim.racks", rack, scope={"site_id": site_id})
    devices = [d for d in src.list("dcim.devices", params) if d.get("name")]
    interfaces = (
        src.list_by("dcim.interfaces", "device_id", [d["id"] for d in devices]) if devices else []
    )
    by_device = {}
    for iface in interfaces:
        by_device.setdefault(iface["device"]["id"], []).append(iface)
    return devices, by_device


def minion_for(dev, known):
    """The minion id of device ``dev`` among ``known`` ones (custom field ``minion_id``, the
    name, or a minion id whose first label is the name); else the custom field or None."""
    cf_id = (dev.get("custom_fields") or {}).get("minion_id")
    for candidate in (cf_id, dev["name"]):
        if candidate and candidate in known:
            return candidate
    for minion in known:
        if minion.split(".")[0] == dev["name"]:
            return minion
    return cf_id or None


def reported(report):
    """Serial and ``{interface: MAC}`` from a hardware.inventory return, or from cached grains."""
    if not isinstance(report, dict):
        return None, {}
    if "system" in report or "nics" in report:
        serial = clean_serial((report.get("system") or {}).get("serial"))
        macs = {}
        for nic in report.get("nics") or []:
            with contextlib.suppress(Exception):
                macs[nic["name"]] = normalize_mac(nic["mac"])
        return serial, macs
    serial = clean_serial(report.get("serialnumber"))
    macs = {}
    for name, mac in (report.get("hwaddr_interfaces") or {}).items():
        with contextlib.suppress(Exception):
            if normalize_mac(mac) != "00:00:00:00:00:00":
                macs[name] = normalize_mac(mac)
    return serial, macs


def table(header, rows):
    """A plain text table (columns padded, a dashed rule under the header)."""
    widths = [len(h) for h in header]
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(str(cell)))
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def _serial_result(nb_serial, serial):
    if not nb_serial and not serial:
        return "ok"
    if not serial:
        return "not reported"
    if not nb_serial:
        return "missing in NetBox"
    return "ok" if serials_equal(nb_serial, serial) else "MISMATCH"


def _mac_result(iface, nb_mac, seen):
    if iface is None:
        return "missing in NetBox"
    if seen is None:
        return "not reported"
    if nb_mac is None:
        return "missing in NetBox"
    return "ok" if nb_mac == seen else "MISMATCH"


def _device_rows(dev, minion, report, ifaces):
    """``(rows, mismatches)`` of one reporting device: its serial, then a MAC per interface."""
    state = simplify(dev.get("status"))
    serial, macs = reported(report)
    nb_serial = dev.get("serial") or ""
    result = _serial_result(nb_serial, serial)
    mismatches = int(result in ("MISMATCH", "missing in NetBox"))
    rows = [[dev["name"], minion, state, "serial", nb_serial or "-", serial or "-", result]]
    ifaces = {i["name"]: i for i in ifaces}
    for name in sorted(set(ifaces) | set(macs)):
        iface = ifaces.get(name)
        if iface is not None and simplify(iface.get("type")) in _NO_MAC:
            continue
        nb_mac = (iface or {}).get("mac_address")
        nb_mac = normalize_mac(nb_mac) if nb_mac else None
        seen = macs.get(name)
        result = _mac_result(iface, nb_mac, seen)
        if result == "not reported" and nb_mac is None:
            continue
        mismatches += result not in ("ok", "not reported")
        rows.append([dev["name"], minion, state, f"mac {name}", nb_mac or "-", seen or "-", result])
    return rows, mismatches


def compare(devices, by_device, reports, unanswered=(), live=False):
    """
    The diff of ``devices`` (with their interfaces ``by_device``) against ``reports`` (minion id
    -> hardware.inventory return or cached grains); ``unanswered``: minions asked that did not
    answer. Returns ``{"table", "rows", "mismatches"}`` (and a ``hint`` when the master has no
    cached grains).
    """
    unanswered = set(unanswered)
    rows, mismatches = [], 0
    for dev in sorted(devices, key=lambda d: d["name"]):
        minion = minion_for(dev, reports.keys() | unanswered)
        state = simplify(dev.get("status"))
        if minion in unanswered:
            rows.append([dev["name"], minion, state, "-", "-", "-", "no answer"])
        elif minion not in reports:
            rows.append([dev["name"], minion or "-", state, "-", "-", "-", "no minion"])
        elif not reports[minion]:
            rows.append([dev["name"], minion, state, "-", "-", "-", "no data"])
        else:
            more, count = _device_rows(dev, minion, reports[minion], by_device.get(dev["id"], []))
            rows += more
            mismatches += count
    ret = {
        "table": table(HEADER, rows),
        "rows": [dict(zip(HEADER, row, strict=True)) for row in rows],
        "mismatches": mismatches,
    }
    if not live and reports and not any(reports.values()):
        ret["hint"] = (
            "the master has no cached grains: set minion_data_cache: True in the master "
            "configuration, or run with live=True"
        )
    return ret
