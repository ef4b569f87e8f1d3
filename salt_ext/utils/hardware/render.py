"""
Render a generation's host configuration as file contents (pure functions):

- udev rules naming NICs by MAC (MACs from NetBox) or by PCI address (from the profile)
- systemd-networkd ``.netdev``/``.network`` files for the bond, its members and its addresses
  (addresses from NetBox, DNS from the config context)
- a sysctl.d file (profile ``config.sysctl`` overlaid with the config context's ``sysctl``)
- a GRUB drop-in with the kernel arguments (profile ``config.kernel_args`` + the config
  context's ``kernel_cmdline``)

NetBox interfaces are accepted in REST shape (list, with IP addresses given separately) or in the
NetBox pillar's shape (``{name: {..., "ip_addresses": [{"address": ...}], "peer": {...}}}``).
"""

import ipaddress
import os
import re

from salt_ext.utils.hardware.profiles import IFNAME, kernel_arg_problem, sysctl_problem
from salt_ext.utils.hardware.values import mac as norm_mac

VIRTUAL_TYPES = frozenset(("lag", "virtual", "bridge"))

DEFAULT_PATHS = {
    "udev_rules": "etc/udev/rules.d/70-hwgen-net.rules",
    "network_dir": "etc/systemd/network",
    "sysctl_file": "etc/sysctl.d/90-hwgen.conf",
    "kernel_args_file": "etc/default/grub.d/90-hwgen.cfg",
}


def _value(choice):
    return choice.get("value") if isinstance(choice, dict) else choice


def _peer(device, port, object_type):
    """A cable peer; one that is not an interface (a patch panel's front/rear port, a circuit
    termination) carries ``via``: the far interface is then further along the cable path."""
    if not device or not port:
        return None
    peer = {"device": device, "port": port}
    if object_type not in (None, "dcim.interface"):
        peer["via"] = object_type
    return peer


def _rest_peer(iface):
    """The interface at the far end of the cable path (``connected_endpoints``, which NetBox
    traces through patch panels), else the cable's own far end (``link_peers``)."""
    for key in ("connected_endpoints", "link_peers"):
        if key == "connected_endpoints" and iface.get("connected_endpoints_reachable") is False:
            continue
        for end in iface.get(key) or []:
            if isinstance(end, dict):
                found = _peer(
                    (end.get("device") or {}).get("name"), end.get("name"), iface.get(f"{key}_type")
                )
                if found:
                    return found
    return None


def simple_interfaces(interfaces, ip_addresses=None):
    """
    Normalise NetBox interfaces (REST list or pillar mapping) to
    ``[{name, type, mgmt_only, mac, lag, mtu, addresses, peer}]`` sorted by name.
    """
    result = []
    if isinstance(interfaces, dict):
        for name, entry in interfaces.items():
            peer = entry.get("peer") or {}
            result.append(
                {
                    "name": entry.get("name") or name,
                    "type": _value(entry.get("type")),
                    "mgmt_only": bool(entry.get("mgmt_only")),
                    "mac": norm_mac(entry.get("mac_address"))
                    or next(
                        (norm_mac(m) for m in entry.get("mac_addresses") or [] if norm_mac(m)), None
                    ),
                    "lag": entry.get("lag"),
                    "mtu": entry.get("mtu"),
                    "addresses": [
                        ip.get("address")
                        for ip in entry.get("ip_addresses") or []
                        if ip.get("address")
                    ],
                    "peer": _peer(peer.get("device"), peer.get("interface"), peer.get("type")),
                }
            )
        return sorted(result, key=lambda i: i["name"])
    by_id = {}
    by_name = {}
    for ip in ip_addresses or []:
        obj = ip.get("assigned_object") or {}
        if ip.get("assigned_object_type", "dcim.interface") != "dcim.interface":
            continue
        if ip.get("assigned_object_id") is not None:
            by_id.setdefault(ip["assigned_object_id"], []).append(ip["address"])
        elif obj.get("name"):
            by_name.setdefault(obj["name"], []).append(ip["address"])
    for iface in interfaces or []:
        primary = iface.get("primary_mac_address") or {}
        mac = norm_mac(primary.get("mac_address")) or norm_mac(iface.get("mac_address"))
        if mac is None:
            mac = next(
                (
                    norm_mac(m.get("mac_address"))
                    for m in iface.get("mac_addresses") or []
                    if norm_mac(m.get("mac_address"))
                ),
                None,
            )
        peer = _rest_peer(iface)
        result.append(
            {
                "name": iface.get("name"),
                "type": _value(iface.get("type")),
                "mgmt_only": bool(iface.get("mgmt_only")),
                "mac": mac,
                "lag": (iface.get("lag") or {}).get("name") if iface.get("lag") else None,
                "mtu": iface.get("mtu"),
                "addresses": by_id.get(iface.get("id"), []) + by_name.get(iface.get("name"), []),
                "peer": peer,
            }
        )
    return sorted(result, key=lambda i: i["name"] or "")


def paths(root="/", overrides=None):
    """Absolute file paths under ``root`` (``overrides`` may replace any entry of DEFAULT_PATHS)."""
    root = root or "/"
    out = {}
    for key, rel in DEFAULT_PATHS.items():
        value = (overrides or {}).get(key) or rel
        out[key] = value if os.path.isabs(value) else os.path.join(root, value)
    return out


def _header(generation, what):
    return f"# Managed by Salt (hardware generation {generation}): {what}. Do not edit.\n"


_DOMAIN = re.compile(r"^~?[A-Za-z0-9_.-]+$")


def _ifname(name):
    """A NetBox interface name going into a udev rule or a networkd file (a name like
    ``eno1", RUN+="...`` would run a command on every hotplug)."""
    if not isinstance(name, str) or not IFNAME.match(name):
        raise ValueError(
            f"NetBox interface {name!r} is not a Linux interface name (1-15 letters, digits, "
            "_ . -): rename it in NetBox"
        )
    return name


def _ip(value, what, interface=True):
    try:
        return str(ipaddress.ip_interface(value) if interface else ipaddress.ip_address(value))
    except ValueError as err:
        raise ValueError(f"{what} {value!r} is not an IP address ({err})") from err


def _network_inputs(config_context):
    """DNS servers and search domains of the config context, checked for the networkd files."""
    context = config_context or {}
    dns = [
        _ip(s, "NetBox config context 'dns_servers':", interface=False)
        for s in _context_part(context, "dns_servers", list)
    ]
    domains = [str(d) for d in _context_part(context, "dns_search", list)]
    for domain in domains:
        if not _DOMAIN.match(domain):
            raise ValueError(f"NetBox config context 'dns_search': {domain!r} is not a domain")
    return dns, domains


def udev_rules(profile, interfaces):
    """udev rules naming the NICs; ``None`` when the profile has no ``config.nic_naming``."""
    naming = (profile.get("config") or {}).get("nic_naming")
    if not naming:
        return None
    lines = [_header(profile.get("name"), f"NIC names by {naming['by']}")]
    if naming["by"] == "pci":
        for name, pci in sorted(naming["names"].items()):
            lines.append(
                f'SUBSYSTEM=="net", ACTION=="add", KERNELS=="{pci.lower()}", NAME="{name}"\n'
            )
    else:
        for iface in interfaces:
            if iface["type"] in VIRTUAL_TYPES or iface["mgmt_only"] or not iface["mac"]:
                continue
            lines.append(
                f'SUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", ATTR{{type}}=="1", '
                f'ATTR{{address}}=="{iface["mac"]}", NAME="{_ifname(iface["name"])}"\n'
            )
    return "".join(lines)


def _network_section(addresses, dns, domains):
    lines = ["\n[Network]\n"]
    for address in addresses:
        lines.append(f"Address={_ip(address, 'NetBox IP address')}\n")
    for server in dns:
        lines.append(f"DNS={server}\n")
    if domains:
        lines.append(f"Domains={' '.join(domains)}\n")
    lines.append("LinkLocalAddressing=ipv6\n" if addresses else "LinkLocalAddressing=no\n")
    return lines


def networkd_files(profile, interfaces, config_context=None):
    """
    ``{file name: content}`` for systemd-networkd: the bond's netdev, its members' and its own
    network (with the profile's MTU), and a network for every other interface NetBox gives
    addresses (with NetBox's MTU when there is a bond, the profile's otherwise).
    """
    config = profile.get("config") or {}
    generation = profile.get("name")
    dns, domains = _network_inputs(config_context)
    mtu = config.get("mtu")
    files = {}
    by_name = {i["name"]: i for i in interfaces}
    bond = config.get("bond")
    link = f"\n[Link]\nMTUBytes={mtu}\n" if mtu else ""
    if bond:
        name = bond["name"]
        netdev = [
            _header(generation, f"bond {name}"),
            f"[NetDev]\nName={name}\nKind=bond\n",
            f"MTUBytes={mtu}\n" if mtu else "",
            f"\n[Bond]\nMode={bond.get('mode', '802.3ad')}\n",
        ]
        if bond.get("mode", "802.3ad") == "802.3ad":
            netdev.append(f"LACPTransmitRate={bond.get('lacp_rate', 'slow')}\n")
        if bond.get("xmit_hash_policy"):
            netdev.append(f"TransmitHashPolicy={bond['xmit_hash_policy']}\n")
        netdev.append(f"MIIMonitorSec={bond.get('miimon', 100)}ms\n")
        files[f"10-hwgen-{name}.netdev"] = "".join(netdev)
        for member in bond["members"]:
            files[f"20-hwgen-{member}.network"] = "".join(
                [
                    _header(generation, f"{member} in {name}"),
                    f"[Match]\nName={member}\n",
                    link,
                    f"\n[Network]\nBond={name}\n",
                ]
            )
        addresses = (by_name.get(name) or {}).get("addresses") or []
        files[f"30-hwgen-{name}.network"] = "".join(
            [_header(generation, f"addresses of {name}"), f"[Match]\nName={name}\n", link]
            + _network_section(addresses, dns, domains)
        )
    bonded = {bond["name"], *bond["members"]} if bond else set()
    for iface in interfaces:
        if (
            iface["name"] in bonded
            or iface["type"] in VIRTUAL_TYPES
            or iface["mgmt_only"]
            or not iface["addresses"]
        ):
            continue
        # Outside the bond the profile's MTU is not asked for: NetBox's MTU of the interface.
        own_mtu = (iface.get("mtu") if bond else mtu) or None
        _ifname(iface["name"])
        files[f"30-hwgen-{iface['name']}.network"] = "".join(
            [
                _header(generation, f"addresses of {iface['name']}"),
                f"[Match]\nName={iface['name']}\n",
                f"\n[Link]\nMTUBytes={own_mtu}\n" if own_mtu else "",
            ]
            + _network_section(iface["addresses"], dns, domains)
        )
    return files


def _context_part(config_context, key, kind):
    value = (config_context or {}).get(key)
    if value is not None and not isinstance(value, kind):
        raise ValueError(
            f"NetBox config context '{key}' must be a {kind.__name__} (got {type(value).__name__})"
        )
    return value or kind()


def sysctl_settings(profile, config_context=None):
    """
    Profile ``config.sysctl`` overlaid with the config context's ``sysctl`` (context wins).
    Raises ``ValueError`` for a context entry that cannot go into a sysctl.d file.
    """
    context = _context_part(config_context, "sysctl", dict)
    for key, value in context.items():
        problem = sysctl_problem(key, value)
        if problem:
            raise ValueError(f"NetBox config context 'sysctl:{key}' {problem}")
    merged = dict((profile.get("config") or {}).get("sysctl") or {})
    merged.update(context)
    return dict(sorted(merged.items()))


def kernel_args(profile, config_context=None):
    """
    Profile ``config.kernel_args`` then the config context's ``kernel_cmdline``, deduplicated.
    Raises ``ValueError`` for a context argument unsafe in the GRUB drop-in (a shell script).
    """
    context = _context_part(config_context, "kernel_cmdline", list)
    for arg in context:
        problem = kernel_arg_problem(arg)
        if problem:
            raise ValueError(f"NetBox config context 'kernel_cmdline': {problem}")
    args = []
    for arg in list((profile.get("config") or {}).get("kernel_args") or []) + context:
        if arg not in args:
            args.append(str(arg))
    return args


def stale_files(rendered, existing_network_files):
    """
    Files an earlier run of ``hwgen`` wrote that this rendering no longer produces: networkd
    files named ``*-hwgen-*`` in the network directory, and the fixed-name udev/sysctl/kernel
    argument files when the profile stopped asking for them (``existing_network_files`` lists
    the network directory; fixed-name files are checked by the caller's ``exists``).
    """
    where = rendered["paths"]
    stale = [
        os.path.join(where["network_dir"], name)
        for name in sorted(existing_network_files or [])
        if "-hwgen-" in name
        and name.endswith((".network", ".netdev", ".link"))
        and os.path.join(where["network_dir"], name) not in rendered["files"]
    ]
    return stale


def reload_commands(rendered, stale=()):
    """
    The commands that make the running system take up changed files, each with the ``onchanges``
    requisites of the ``hwgen`` SLS (``file: hwgen-file-<path>`` for a written file,
    ``file: hwgen-stale-<path>`` for a removed one)::

        [{"id": "hwgen-sysctl-load", "name": "sysctl --load=/etc/sysctl.d/90-hwgen.conf",
          "onlyif": None, "onchanges": [{"file": "hwgen-file-/etc/sysctl.d/90-hwgen.conf"}]}, ...]
    """
    where = rendered["paths"]
    written = set(rendered["files"])
    removed = set(stale or ())

    def watched(paths):
        return [{"file": f"hwgen-file-{p}"} for p in sorted(written & paths)] + [
            {"file": f"hwgen-stale-{p}"} for p in sorted(removed & paths)
        ]

    network_dir = where["network_dir"].rstrip("/") + "/"
    network = {p for p in written | removed if p.startswith(network_dir)}
    wanted = (
        ("hwgen-udev-reload", "udevadm control --reload-rules", None, {where["udev_rules"]}),
        (
            "hwgen-sysctl-load",
            f"sysctl --load={where['sysctl_file']}",
            None,
            {where["sysctl_file"]} & written,
        ),
        (
            "hwgen-update-grub",
            "update-grub",
            "command -v update-grub",
            {where["kernel_args_file"]},
        ),
        ("hwgen-networkd-reload", "networkctl reload", "command -v networkctl", network),
    )
    commands = []
    for ident, name, onlyif, paths in wanted:
        onchanges = watched(paths)
        if onchanges:
            commands.append({"id": ident, "name": name, "onlyif": onlyif, "onchanges": onchanges})
    return commands


def render(
    profile, interfaces, ip_addresses=None, config_context=None, *, root="/", path_overrides=None
):
    """
    Everything the ``hwgen`` SLS writes::

        {"generation": "gen10", "paths": {...},
         "files": {<absolute path>: <content>},       # udev, networkd, sysctl, grub drop-in
         "sysctl": {...}, "kernel_args": [...], "network_files": [<networkd file names>]}
    """
    where = paths(root, path_overrides)
    ifaces = simple_interfaces(interfaces, ip_addresses)
    generation = profile.get("name")
    files = {}
    rules = udev_rules(profile, ifaces)
    if rules:
        files[where["udev_rules"]] = rules
    network = networkd_files(profile, ifaces, config_context)
    for name, content in network.items():
        files[os.path.join(where["network_dir"], name)] = content
    sysctl = sysctl_settings(profile, config_context)
    if sysctl:
        files[where["sysctl_file"]] = _header(generation, "sysctl") + "".join(
            f"{key} = {value}\n" for key, value in sysctl.items()
        )
    args = kernel_args(profile, config_context)
    if args:
        files[where["kernel_args_file"]] = (
            _header(generation, "kernel arguments")
            + f'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX {" ".join(args)}"\n'
        )
    return {
        "generation": generation,
        "paths": where,
        "files": files,
        "sysctl": sysctl,
        "kernel_args": args,
        "network_files": sorted(network),
    }
