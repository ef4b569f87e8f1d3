"""
``lldpctl`` output (``-f keyvalue``, ``-f json`` and ``-f json0``) -> LLDP neighbours per local
interface::

    {"eno1": {"interface": "eno1", "chassis_name": "tor1-r1", "chassis_mac": "44:4c:...",
              "chassis_id": "...", "chassis_id_type": "mac", "chassis_descr": "...",
              "mgmt_ip": "10.0.0.1", "mgmt_ips": [...], "port_id": "Ethernet1",
              "port_id_type": "ifname", "port_descr": "...", "vlan": 296,
              "vlans": [{"id": 296, "name": "vlan-296", "pvid": True}], "ttl": 120,
              "port_mfs": 1514, "link_type": "10GigBaseLR", "link_speed_mbps": 10000,
              "link_descr": "10GigBaseLR - R fiber over 1310 nm optics", "autoneg": False,
              "additional": [<further neighbours on the same port>]}}

Only interfaces with a neighbour are listed: lldpd also reports interfaces where it saw no
chassis or port identity (only VLAN or MED lines); those have no neighbour.
"""

import ipaddress
import json
import re

from salt_ext.utils.hardware.values import clean
from salt_ext.utils.hardware.values import mac as norm_mac
from salt_ext.utils.hardware.values import to_bool, to_int

_SECTIONS = (
    "via",
    "rid",
    "age",
    "chassis",
    "port",
    "vlan",
    "ppvid",
    "pi",
    "lldp-med",
    "unknown-tlvs",
    "dot3",
)
_KV_LINE = re.compile(
    r"^lldp\.(.+?)\.(" + "|".join(re.escape(s) for s in _SECTIONS) + r")(?:\.(.*?))?=(.*)$"
)


def _empty(ifname):
    return {
        "interface": ifname,
        "via": None,
        "chassis_name": None,
        "chassis_id": None,
        "chassis_id_type": None,
        "chassis_mac": None,
        "chassis_descr": None,
        "mgmt_ips": [],
        "mgmt_ip": None,
        "port_id": None,
        "port_id_type": None,
        "port_descr": None,
        "vlans": [],
        "vlan": None,
        "ttl": None,
        "port_mfs": None,
        "autoneg": None,
        "link_descr": None,
        "link_type": None,
        "link_speed_mbps": None,
    }


_MAU = re.compile(r"^(\d+(?:[.p]\d+)?)\s*(G|Gig|M|Mb)?\s*Base", re.I)


def mau_type(descr):
    """
    lldpd's description of the negotiated MAU type (``10GigBaseLR - R fiber over 1310 nm
    optics``, ``1000BaseTFD - Four-pair Category 5 UTP, full duplex mode``, ``25GbaseSR``) ->
    ``(link type, speed in Mb/s)``: ``("10GigBaseLR", 10000)``; ``(None, None)`` if absent.
    """
    text = (descr or "").strip()
    if not text or text.lower() in ("unknown", "other"):
        return None, None
    link_type = text.split(" - ", 1)[0].strip() or None
    match = _MAU.match(link_type or "")
    if not match:
        return link_type, None
    number = float(match.group(1).replace("p", "."))
    factor = 1000 if (match.group(2) or "").lower() in ("g", "gig") else 1
    return link_type, int(number * factor)


def _has_identity(neighbour):
    """A neighbour is known by its chassis or its port; VLAN/MED lines alone are not one."""
    return any(
        neighbour.get(key) for key in ("chassis_id", "chassis_name", "chassis_mac", "port_id")
    )


def _finish(neighbour):
    ips = neighbour["mgmt_ips"]
    v4 = [ip for ip in ips if _is_v4(ip)]
    neighbour["mgmt_ip"] = (v4 or ips or [None])[0]
    pvid = [v["id"] for v in neighbour["vlans"] if v.get("pvid")]
    ids = [v["id"] for v in neighbour["vlans"] if v.get("id") is not None]
    neighbour["vlan"] = (pvid or ids or [None])[0]
    if neighbour["chassis_mac"] is None and neighbour["chassis_id_type"] == "mac":
        neighbour["chassis_mac"] = norm_mac(neighbour["chassis_id"])
    for key in ("chassis_descr", "port_descr"):
        if isinstance(neighbour.get(key), str):
            neighbour[key] = neighbour[key].strip() or None
    neighbour["link_type"], neighbour["link_speed_mbps"] = mau_type(neighbour["link_descr"])
    return neighbour


def _is_v4(value):
    try:
        return ipaddress.ip_address(value).version == 4
    except ValueError:
        return False


def _group(neighbours):
    result = {}
    for raw_nb in neighbours:
        nb = _finish(raw_nb)
        if not _has_identity(nb):
            continue
        if nb["interface"] in result:
            result[nb["interface"]].setdefault("additional", []).append(nb)
        else:
            result[nb["interface"]] = nb
    return result


# Free-text values lldpd prints verbatim: a newline in them continues on the next output line.
_MULTILINE_KEYS = {"chassis.descr": "chassis_descr", "port.descr": "port_descr"}


def parse_lldp_keyvalue(text):
    """
    Parse ``lldpctl -f keyvalue``. Interface names may contain dots (``eth0.100``); a second
    ``via`` line for the same interface starts a second neighbour on that port. A value holding
    newlines (a Cisco ``chassis.descr`` with its copyright lines) goes on over the following
    lines, which do not start with ``lldp.``: they are joined back with newlines. Other lines that
    do not follow the ``lldp.<if>.<key>=<value>`` shape are ignored.
    """
    neighbours = []
    current = {}
    continued = None  # (neighbour, field) a following non-"lldp." line belongs to
    for line in (text or "").splitlines():
        match = _KV_LINE.match(line.strip())
        if not match:
            if continued is not None and not line.startswith("lldp."):
                nb, field = continued
                nb[field] = f"{nb[field] or ''}\n{line.rstrip()}"
            else:
                continued = None
            continue
        continued = None
        ifname, section, rest, value = match.groups()
        value = value.strip()
        nb = current.get(ifname)
        if nb is None or (section == "via" and nb["via"] is not None):
            nb = _empty(ifname)
            current[ifname] = nb
            neighbours.append(nb)
        key = f"{section}.{rest}" if rest else section
        if key in _MULTILINE_KEYS:
            nb[_MULTILINE_KEYS[key]] = value
            continued = (nb, _MULTILINE_KEYS[key])
        elif key == "via":
            nb["via"] = value
        elif key == "chassis.name":
            nb["chassis_name"] = value or None
        elif key == "chassis.mac":
            nb["chassis_mac"] = norm_mac(value)
            nb["chassis_id"], nb["chassis_id_type"] = value, "mac"
        elif key in ("chassis.local", "chassis.ip", "chassis.ifname"):
            nb["chassis_id"], nb["chassis_id_type"] = value, rest
        elif key == "chassis.mgmt-ip":
            nb["mgmt_ips"].append(value)
        elif key in ("port.ifname", "port.local", "port.mac", "port.ip"):
            if nb["port_id"] is None or nb["port_id_type"] == "mac":
                nb["port_id"], nb["port_id_type"] = value, rest
        elif key in ("port.ttl", "chassis.ttl"):
            nb["ttl"] = to_int(value)
        elif key == "port.mfs":
            nb["port_mfs"] = to_int(value)
        elif key == "port.auto-negotiation.enabled":
            nb["autoneg"] = to_bool(value)
        elif key == "port.auto-negotiation.current":
            nb["link_descr"] = value or None
        elif key == "vlan.vlan-id":
            nb["vlans"].append({"id": to_int(value), "name": None, "pvid": False})
        elif key == "vlan.pvid":
            if nb["vlans"]:
                nb["vlans"][-1]["pvid"] = to_bool(value) is True
        elif key == "vlan":
            if nb["vlans"] and nb["vlans"][-1]["name"] is None:
                nb["vlans"][-1]["name"] = value
            else:
                nb["vlans"].append({"id": _vlan_id_from_name(value), "name": value, "pvid": False})
    return _group(neighbours)


def _vlan_id_from_name(name):
    match = re.search(r"(\d+)$", name or "")
    return int(match.group(1)) if match else None


def _listify(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _v(value):
    """json0 wraps scalars as [{"value": x}]; json uses x or {"value": x}."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict) and "value" in value:
        value = value["value"]
    return value


def _typed_id(value):
    """``{"type": "mac", "value": x}`` (json) or ``[{...}]`` (json0) -> ``(type, value)``."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        return value.get("type"), _v(value.get("value"))
    return None, None


def _from_json_body(ifname, body):
    nb = _empty(ifname)
    nb["via"] = _v(body.get("via"))
    chassis = body.get("chassis")
    if isinstance(chassis, list):  # json0
        chassis = chassis[0] if chassis else {}
        name = _v(chassis.get("name"))
    elif isinstance(chassis, dict) and not (
        isinstance(chassis.get("id"), dict) and "type" in chassis["id"]
    ):
        # {"<system name>": {...}}
        name, chassis = next(iter(chassis.items()), (None, {}))
    else:
        name = None
    chassis = chassis or {}
    nb["chassis_name"] = clean(name) if isinstance(name, str) else None
    nb["chassis_id_type"], nb["chassis_id"] = _typed_id(chassis.get("id"))
    nb["chassis_descr"] = _v(chassis.get("descr"))
    nb["mgmt_ips"] = [ip for ip in (_v(x) for x in _listify(chassis.get("mgmt-ip"))) if ip]
    port = body.get("port") or {}
    if isinstance(port, list):
        port = port[0] if port else {}
    nb["port_id_type"], nb["port_id"] = _typed_id(port.get("id"))
    nb["port_descr"] = _v(port.get("descr"))
    nb["ttl"] = to_int(_v(port.get("ttl")) or _v(chassis.get("ttl")))
    nb["port_mfs"] = to_int(_v(port.get("mfs")))
    autoneg = port.get("auto-negotiation")
    if isinstance(autoneg, list):  # json0
        autoneg = autoneg[0] if autoneg else {}
    if isinstance(autoneg, dict):
        nb["autoneg"] = to_bool(_v(autoneg.get("enabled")))
        current = _v(autoneg.get("current"))
        nb["link_descr"] = current if isinstance(current, str) and current else None
    for vlan in _listify(body.get("vlan")):
        if not isinstance(vlan, dict):
            continue
        name = _v(vlan.get("value"))
        vid = to_int(_v(vlan.get("vlan-id"))) or _vlan_id_from_name(name)
        nb["vlans"].append({"id": vid, "name": name, "pvid": to_bool(_v(vlan.get("pvid"))) is True})
    return nb


def parse_lldp_json(data):
    """
    Parse ``lldpctl -f json`` (interfaces as an object, or a list of one-key objects when there
    are several) and ``lldpctl -f json0`` (everything a list, names in ``"name"``). ``{"lldp": {}}``
    (no neighbours) gives ``{}``.
    """
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError as err:
            raise ValueError(f"lldpctl: output is not JSON ({err})") from err
    if not isinstance(data, dict) or "lldp" not in data:
        raise ValueError("lldpctl: expected a JSON object with an 'lldp' key (lldpctl -f json)")
    root = data["lldp"]
    if isinstance(root, list):  # json0
        root = root[0] if root else {}
    neighbours = []
    for entry in _listify((root or {}).get("interface")):
        if not isinstance(entry, dict):
            continue
        if "name" in entry and isinstance(entry.get("name"), str) and "via" in entry:
            neighbours.append(_from_json_body(entry["name"], entry))
            continue
        for ifname, body in entry.items():
            for one in _listify(body):
                neighbours.append(_from_json_body(ifname, one))
    return _group(neighbours)


def parse_lldp(text):
    """Parse lldpctl output in any of the supported formats (JSON detected by its first byte)."""
    if isinstance(text, (dict, list)) or (isinstance(text, str) and text.lstrip().startswith("{")):
        return parse_lldp_json(text)
    return parse_lldp_keyvalue(text)
