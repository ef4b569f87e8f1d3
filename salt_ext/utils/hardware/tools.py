"""
Parsers for the JSON/text output of ``lscpu -J``, ``lsblk -J -b``, ``nvme list -o json``,
``ip -j addr``/``ip -j -d link``, ``ethtool -i``, ``ethtool``, ``ipmitool lan print``,
``ipmitool mc info`` and ``/proc/meminfo``.

Every parser accepts the tool's text (a ``str``) or an already decoded object and raises
``ValueError`` with a clear message when the text is not the tool's format.
"""

import json
import re

from salt_ext.utils.hardware.values import clean
from salt_ext.utils.hardware.values import mac as norm_mac
from salt_ext.utils.hardware.values import raw, speed_number, to_bool, to_int


def _load_json(data, tool):
    if isinstance(data, (dict, list)):
        return data
    try:
        return json.loads(data)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{tool}: output is not JSON ({err})") from err


# --- lscpu -------------------------------------------------------------------------------------


def _flatten_lscpu(entries, out):
    for entry in entries or []:
        field = (entry.get("field") or "").strip().rstrip(":")
        if field and field not in out:
            out[field] = entry.get("data")
        _flatten_lscpu(entry.get("children"), out)
    return out


def parse_lscpu(data):
    """
    ``lscpu -J`` (flat util-linux <= 2.37 or nested >= 2.38 layout) -> ``{"model", "vendor",
    "sockets", "cores_per_socket", "threads_per_core", "cores", "threads", "hypervisor",
    "numa_nodes", "family_number", "model_number", "stepping", "signature", "socket_type"}``
    (lscpu does not know the socket type: ``None``).
    """
    doc = _load_json(data, "lscpu")
    if not isinstance(doc, dict) or not isinstance(doc.get("lscpu"), list):
        raise ValueError("lscpu: expected a JSON object with an 'lscpu' list (lscpu -J)")
    fields = _flatten_lscpu(doc["lscpu"], {})
    sockets = to_int(fields.get("Socket(s)"))
    cores_per_socket = to_int(fields.get("Core(s) per socket")) or to_int(
        fields.get("Core(s) per cluster")
    )
    threads_per_core = to_int(fields.get("Thread(s) per core"))
    threads = to_int(fields.get("CPU(s)"))
    cores = sockets * cores_per_socket if sockets and cores_per_socket else None
    family = to_int(fields.get("CPU family"))
    model_number = to_int(fields.get("Model"))
    stepping = to_int(fields.get("Stepping"))
    return {
        "model": clean(fields.get("Model name")),
        "vendor": clean(fields.get("Vendor ID")),
        "architecture": clean(fields.get("Architecture")),
        "sockets": sockets,
        "cores_per_socket": cores_per_socket,
        "threads_per_core": threads_per_core,
        "cores": cores,
        "threads": threads,
        "hypervisor": clean(fields.get("Hypervisor vendor")),
        "numa_nodes": to_int(fields.get("NUMA node(s)")),
        "family_number": family,
        "model_number": model_number,
        "stepping": stepping,
        "signature": (
            f"Family {family}, Model {model_number}, Stepping {stepping}"
            if None not in (family, model_number, stepping)
            else None
        ),
        "socket_type": None,
    }


# --- lsblk -------------------------------------------------------------------------------------

_SKIP_DISK_PREFIXES = ("loop", "ram", "zram", "nbd", "fd", "sr", "md", "dm-", "drbd")


def parse_lsblk(data):
    """
    ``lsblk -J -b [-O]`` -> list of physical disks ``{"name", "path", "model", "serial", "size_bytes",
    "rotational", "transport", "nvme", "removable", "wwn", "vendor", "firmware"}``.

    Partitions, loop/zram/ram devices, optical drives and zero-size devices are left out.
    Old lsblk versions print numbers and booleans as strings; both forms are accepted.
    """
    doc = _load_json(data, "lsblk")
    if not isinstance(doc, dict) or not isinstance(doc.get("blockdevices"), list):
        raise ValueError("lsblk: expected a JSON object with a 'blockdevices' list (lsblk -J)")
    disks = []
    for dev in doc["blockdevices"]:
        name = dev.get("name") or dev.get("kname")
        if not name or (dev.get("type") or "disk") != "disk":
            continue
        if name.startswith(_SKIP_DISK_PREFIXES):
            continue
        size = to_int(dev.get("size"))
        if not size:
            continue
        transport = clean(dev.get("tran"))
        disks.append(
            {
                "name": name,
                "path": dev.get("path") or f"/dev/{name}",
                "model": clean(dev.get("model")),
                "serial": raw(dev.get("serial")),
                "size_bytes": size,
                "rotational": to_bool(dev.get("rota")),
                "transport": transport,
                "nvme": transport == "nvme" or name.startswith("nvme"),
                "removable": to_bool(dev.get("rm")),
                "wwn": clean(dev.get("wwn")),
                "vendor": clean(dev.get("vendor")),
                "firmware": clean(dev.get("rev")),
            }
        )
    return disks


# --- nvme list -------------------------------------------------------------------------------


def parse_nvme_list(data):
    """
    ``nvme list -o json`` (nvme-cli 1.x flat ``Devices`` list, or 2.x verbose
    ``Subsystems/Controllers/Namespaces`` tree) -> list of ``{"name", "path", "model", "serial",
    "firmware", "size_bytes"}`` namespaces.
    """
    doc = _load_json(data, "nvme")
    if not isinstance(doc, dict) or not isinstance(doc.get("Devices"), list):
        raise ValueError("nvme: expected a JSON object with a 'Devices' list (nvme list -o json)")
    found = []
    for dev in doc["Devices"]:
        if "DevicePath" in dev:
            path = dev["DevicePath"]
            found.append(
                {
                    "name": path.rsplit("/", 1)[-1],
                    "path": path,
                    "model": clean(dev.get("ModelNumber")),
                    "serial": raw(dev.get("SerialNumber")),
                    "firmware": clean(dev.get("Firmware")),
                    "size_bytes": to_int(dev.get("PhysicalSize")),
                }
            )
            continue
        for subsystem in dev.get("Subsystems") or []:
            for ctrl in subsystem.get("Controllers") or []:
                for ns in ctrl.get("Namespaces") or []:
                    name = ns.get("NameSpace")
                    found.append(
                        {
                            "name": name,
                            "path": f"/dev/{name}",
                            "model": clean(ctrl.get("ModelNumber")),
                            "serial": raw(ctrl.get("SerialNumber")),
                            "firmware": clean(ctrl.get("Firmware")),
                            "size_bytes": to_int(ns.get("PhysicalSize")),
                        }
                    )
    return found


# --- ip ----------------------------------------------------------------------------------------

VIRTUAL_KINDS = frozenset(
    (
        "bond",
        "bridge",
        "vlan",
        "veth",
        "dummy",
        "ifb",
        "tun",
        "tap",
        "macvlan",
        "macvtap",
        "ipvlan",
        "vxlan",
        "geneve",
        "gre",
        "gretap",
        "ipip",
        "sit",
        "wireguard",
        "team",
        "openvswitch",
        "vrf",
        "nlmon",
    )
)


def parse_ip(data):
    """
    ``ip -j addr`` or ``ip -j [-d] link`` -> list of ``{"name", "mac", "permanent_mac", "mtu",
    "state", "up", "link_type", "kind", "master", "addresses": ["10.0.0.1/24", ...]}``.
    ``kind`` (bond, vlan, veth, ...) is only known with ``-d``.
    """
    doc = _load_json(data, "ip")
    if not isinstance(doc, list):
        raise ValueError("ip: expected a JSON list of links (ip -j addr / ip -j link)")
    links = []
    for link in doc:
        if not isinstance(link, dict) or "ifname" not in link:
            continue
        info = link.get("linkinfo") or {}
        addresses = [
            f"{a['local']}/{a['prefixlen']}"
            for a in link.get("addr_info") or []
            if a.get("local") and a.get("prefixlen") is not None
        ]
        flags = link.get("flags") or []
        links.append(
            {
                "name": link["ifname"],
                "mac": norm_mac(link.get("address")) if link.get("link_type") == "ether" else None,
                "permanent_mac": norm_mac(link.get("permaddr")),
                "mtu": to_int(link.get("mtu")),
                "state": link.get("operstate"),
                "up": "UP" in flags,
                "carrier": "LOWER_UP" in flags,
                "link_type": link.get("link_type"),
                "kind": info.get("info_kind"),
                "slave_kind": info.get("info_slave_kind"),
                "master": link.get("master"),
                "addresses": addresses,
            }
        )
    return links


# --- ethtool -----------------------------------------------------------------------------------


def _colon_pairs(text):
    pairs = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            pairs.setdefault(key.strip().lower(), value.strip())
    return pairs


def parse_ethtool_driver(text):
    """``ethtool -i IFACE`` -> ``{"driver", "version", "firmware", "bus_info", "pci"}``."""
    pairs = _colon_pairs(text)
    if "driver" not in pairs:
        raise ValueError("ethtool -i: no 'driver:' line in the output")
    bus = clean(pairs.get("bus-info"))
    pci = (
        bus.lower()
        if bus and re.match(r"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.\d$", bus, re.I)
        else None
    )
    return {
        "driver": clean(pairs.get("driver")),
        "version": clean(pairs.get("version")),
        "firmware": clean(pairs.get("firmware-version")),
        "bus_info": bus,
        "pci": pci,
    }


def parse_ethtool_settings(text):
    """``ethtool IFACE`` -> ``{"speed_mbps", "duplex", "link", "port", "autoneg"}``."""
    pairs = _colon_pairs(text)
    if not pairs:
        raise ValueError("ethtool: empty output")
    return {
        "speed_mbps": speed_number(pairs.get("speed")),
        "duplex": clean((pairs.get("duplex") or "").split(" ")[0].rstrip("!")),
        "link": to_bool(pairs.get("link detected")),
        "port": clean(pairs.get("port")),
        "autoneg": to_bool(pairs.get("auto-negotiation")),
    }


# --- ipmitool ------------------------------------------------------------------------------


def parse_ipmitool_lan(text):
    """``ipmitool lan print [channel]`` -> ``{"ip", "mac", "netmask", "gateway", "source"}``."""
    pairs = _colon_pairs(text)
    if "ip address" not in pairs and "mac address" not in pairs:
        raise ValueError("ipmitool lan print: no 'IP Address'/'MAC Address' lines")
    ip = clean(pairs.get("ip address"))
    return {
        "ip": None if ip in ("0.0.0.0",) else ip,
        "mac": norm_mac(pairs.get("mac address")),
        "netmask": clean(pairs.get("subnet mask")),
        "gateway": clean(pairs.get("default gateway ip")),
        "source": clean(pairs.get("ip address source")),
    }


def parse_ipmitool_mc(text):
    """``ipmitool mc info`` -> ``{"firmware", "manufacturer", "product", "ipmi_version"}``."""
    pairs = _colon_pairs(text)
    if "firmware revision" not in pairs:
        raise ValueError("ipmitool mc info: no 'Firmware Revision' line")
    return {
        "firmware": clean(pairs.get("firmware revision")),
        "manufacturer": clean(pairs.get("manufacturer name")),
        "product": clean(pairs.get("product name")),
        "ipmi_version": clean(pairs.get("ipmi version")),
    }


# --- /proc/meminfo ---------------------------------------------------------------------------


def parse_meminfo(text):
    """``/proc/meminfo`` -> ``{"total_bytes"}`` (the kernel's view, below installed memory)."""
    match = re.search(r"^MemTotal:\s+(\d+)\s*kB", text or "", re.M)
    if not match:
        raise ValueError("meminfo: no 'MemTotal:' line")
    return {"total_bytes": int(match.group(1)) * 1024}
