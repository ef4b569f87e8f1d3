"""
``compat: salt3007``: the pillar shape of Salt 3007's ``salt.pillar.netbox`` (removed in Salt 3008),
built from the same bulk site data as our own pillar.

Shape (as 3007.8 produced it, with NetBox 4 field names):

- ``netbox``: the device (or VM) object exactly as ``GET /api/dcim/devices/?name=<minion>``
  returns it, plus ``node_type`` (``device`` / ``virtual-machine``);
- ``netbox.interfaces``: the node's interfaces without their ``device``/``virtual_machine`` key,
  each with ``ip_addresses`` (IP objects without ``assigned_object*``) when ``interface_ips``;
- ``netbox.site``: the full site object (``site_details``) with ``prefixes`` (``site_prefixes``,
  each prefix without its ``scope``/``scope_type``/``scope_id``: NetBox 4.2+ replaced ``site``);
- ``netbox.connected_devices``: ``{device id: device object}`` for every device at the far end
  of the interfaces' ``connected_endpoints``;
- ``proxy``: ``{host, driver, proxytype: napalm[, username]}`` (``proxy_return``).

Intentional differences are listed in ``docs/pillar.md`` ("Compatibility with Salt 3007").
"""

from __future__ import annotations

import copy
import ipaddress
import logging

from salt_ext.utils.netbox.model.util import ip_sort_key, natural_key
from salt_ext.utils.pillar.assemble import DEVICE

log = logging.getLogger(__name__)

_SCOPE_KEYS = ("scope", "scope_type", "scope_id", "site")


# Lists come in NetBox's default ordering, as 3007 passed on what NetBox returned:
# interfaces by natural name, IP addresses by address, prefixes by VRF (global first) then prefix.
def _interface_order(iface):
    return (natural_key(iface.get("name")), iface["id"])


def _ip_order(ip):
    return (ip_sort_key(ip.get("address")), ip["id"])


def _prefix_order(prefix):
    vrf = prefix.get("vrf")
    return (vrf is not None, str((vrf or {}).get("name") or ""), ip_sort_key(prefix.get("prefix")))


def _napalm_driver(platform):
    """NetBox < 3.5 had ``napalm_driver`` on the platform; later versions keep it in a custom field."""
    if not isinstance(platform, dict):
        return None
    return platform.get("napalm_driver") or (platform.get("custom_fields") or {}).get(
        "napalm_driver"
    )


def salt3007_pillar(view, kind, node_id, options, minion_id):
    """
    Build ``{key: node, ["proxy": {...}]}`` in Salt 3007's shape.

    :param view: :class:`~salt_ext.utils.pillar.assemble.SiteView` of the node's site
    :param kind: ``"device"`` or ``"virtual_machine"``
    :param node_id: NetBox id of the node
    :param options: the parsed options (``compat == "salt3007"``)
    :param minion_id: the minion id (for messages)
    """
    node = copy.deepcopy(view.node(kind, node_id))
    if node is None:
        raise KeyError(node_id)
    node["node_type"] = "device" if kind == DEVICE else "virtual-machine"
    if options.interfaces_needed:
        parent_key = "device" if kind == DEVICE else "virtual_machine"
        interfaces = []
        for raw in view.interfaces_by_node.get((kind, node_id), ()):
            iface = copy.deepcopy(raw)
            iface.pop(parent_key, None)
            interfaces.append(iface)
        interfaces.sort(key=_interface_order)
        if options.interface_ips:
            ips = sorted(view.ips_by_node.get((kind, node_id), ()), key=_ip_order)
            if ips:
                for iface in interfaces:
                    iface["ip_addresses"] = []
                    for raw in ips:
                        if raw.get("assigned_object_id") == iface["id"]:
                            ip = copy.deepcopy(raw)
                            for key in (
                                "assigned_object_type",
                                "assigned_object_id",
                                "assigned_object",
                            ):
                                ip.pop(key, None)
                            iface["ip_addresses"].append(ip)
        node["interfaces"] = interfaces
    site_nested = node.get("site")
    if site_nested:
        if options.site_details:
            full = view.sites.get(site_nested.get("id"))
            if full is not None:
                node["site"] = copy.deepcopy(full)
        if options.site_prefixes:
            prefixes = []
            for raw in sorted(view.prefixes, key=lambda p: (_prefix_order(p), p["id"])):
                prefix = copy.deepcopy(raw)
                for key in _SCOPE_KEYS:
                    prefix.pop(key, None)
                prefixes.append(prefix)
            node["site"]["prefixes"] = prefixes
    if options.connected_devices:
        connected = {}
        for iface in node.get("interfaces", ()):
            for endpoint in iface.get("connected_endpoints") or ():
                dev = endpoint.get("device") if isinstance(endpoint, dict) else None
                if dev and dev.get("id") not in connected:
                    full = view.any_device(dev["id"])
                    if full is not None:
                        connected[dev["id"]] = copy.deepcopy(full)
                    else:
                        log.error(
                            "netbox pillar: connected device %s of %s was not fetched",
                            dev.get("name"),
                            minion_id,
                        )
        node["connected_devices"] = connected
    ret = {options.key: node}
    if options.proxy_return:
        proxy = _proxy(view, node, options, minion_id)
        if proxy:
            ret["proxy"] = proxy
    return ret


def _proxy(view, node, options, minion_id):
    platform = node.get("platform")
    if not platform:
        log.error(
            'You have set "proxy_return" to "True" but you have not set the platform in NetBox '
            'for "%s"',
            minion_id,
        )
        return None
    primary = node.get("primary_ip")
    if not primary:
        log.error(
            'You have set "proxy_return" to "True" but you have not set the primary IPv4 or IPv6 '
            'address in NetBox for "%s"',
            minion_id,
        )
        return None
    driver = _napalm_driver(view.platforms.get(platform.get("id")) or platform)
    if not driver:
        log.debug("netbox pillar: platform %s has no napalm_driver, no proxy", platform.get("name"))
        return None
    proxy = {
        "host": str(ipaddress.ip_interface(primary["address"]).ip),
        "driver": driver,
        "proxytype": "napalm",
    }
    if options.proxy_username:
        proxy["username"] = options.proxy_username
    return proxy
