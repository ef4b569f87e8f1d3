"""
Generate a fleet-sized site in a NetBox store (the stand-in's ``NetBoxStore``) for
``bench/pillar_bench.py``: ``racks`` racks of ``tors`` ToR switches and ``servers`` servers each.

Every server has 4 interfaces (``eno1``/``eno2`` cabled to the two ToRs and bonded in ``bond0``,
``bmc``), a primary IPv4 on ``bond0``, an OOB IP on ``bmc`` and MAC addresses; every ToR has one
downlink per server and a management port with an IP. Objects are created through the store's
write path (as API POSTs would), so NetBox's computed fields and change log are filled in.
"""

from __future__ import annotations


def build_fleet(store, sites=1, racks=25, tors=2, servers=38):
    """
    ``sites`` sites of ``racks`` racks each, sharing manufacturers, roles, types and platforms.
    One site is ``bench1`` with today's device names; several are ``bench001``... with names
    prefixed by the slug (minion ids are unique fleet-wide). Returns the list of
    :func:`build_site` results.
    """
    common = _common(store)
    out = []
    for k in range(sites):
        slug = "bench1" if sites == 1 else f"bench{k + 1:03d}"
        out.append(
            build_site(
                store,
                racks=racks,
                tors=tors,
                servers=servers,
                slug=slug,
                common=common,
                first_rack=k * racks,
                prefix="" if sites == 1 else f"{slug}-",
            )
        )
    return out


def _common(store):
    """The objects every site refers to (custom fields, region, types, roles, platforms)."""
    create = store.create
    create(
        "extras.custom-fields",
        [
            {"name": "hw_generation", "object_types": ["dcim.devicetype"], "type": "text"},
            {"name": "minion_id", "object_types": ["dcim.device"], "type": "text"},
        ],
    )
    region = create("dcim.regions", {"name": "Bench Region", "slug": "bench-region"})
    arista, dell = create(
        "dcim.manufacturers",
        [{"name": "Arista", "slug": "arista"}, {"name": "Dell", "slug": "dell"}],
    )
    tor_role, srv_role = create(
        "dcim.device-roles",
        [
            {"name": "ToR Switch", "slug": "tor-switch", "color": "2196f3"},
            {"name": "Edge Server", "slug": "edge-server", "color": "4caf50"},
        ],
    )
    eos, debian = create(
        "dcim.platforms",
        [{"name": "Arista EOS", "slug": "arista-eos"}, {"name": "Debian 12", "slug": "debian-12"}],
    )
    tor_type, srv_type = create(
        "dcim.device-types",
        [
            {"manufacturer": arista["id"], "model": "DCS-7050SX3-48YC8", "slug": "dcs-7050sx3"},
            {
                "manufacturer": dell["id"],
                "model": "PowerEdge M630",
                "slug": "poweredge-m630",
                "custom_fields": {"hw_generation": "gen10"},
            },
        ],
    )
    return {
        "region": region,
        "tor_type": tor_type,
        "srv_type": srv_type,
        "tor_role": tor_role,
        "srv_role": srv_role,
        "eos": eos,
        "debian": debian,
    }


def build_site(
    store, racks=25, tors=2, servers=38, slug="bench1", *, common=None, first_rack=0, prefix=""
):  # pylint: disable=too-many-arguments
    """Create the site; return ``{"site_id", "devices", "device_ids", "servers", "tors"}``."""
    create = store.create
    kinds = common or _common(store)
    region = kinds["region"]
    site = create(
        "dcim.sites",
        {
            "name": slug.upper(),
            "slug": slug,
            "status": "active",
            "region": region["id"],
            "time_zone": "Europe/Amsterdam",
            "facility": "Bench PoP",
        },
    )
    create(
        "ipam.vlans",
        [
            {"vid": 100, "name": "prod", "site": site["id"], "status": "active"},
            {"vid": 200, "name": "mgmt", "site": site["id"], "status": "active"},
        ],
    )
    rack_objs = create(
        "dcim.racks",
        [
            {"name": f"R{r:02d}", "site": site["id"], "status": "active", "u_height": 48}
            for r in range(1, racks + 1)
        ],
    )
    create(
        "ipam.prefixes",
        [
            {
                "prefix": f"10.{100 + g // 250}.{g % 250}.0/24",
                "scope_type": "dcim.site",
                "scope_id": site["id"],
                "status": "active",
            }
            for g in range(first_rack + 1, first_rack + racks + 1)
        ]
        + [
            {
                "prefix": (
                    "10.250.0.0/16"
                    if not first_rack
                    else f"10.{250 + first_rack // 256}.{first_rack % 256}.0/24"
                ),
                "scope_type": "dcim.site",
                "scope_id": site["id"],
                "status": "active",
                "description": "OOB",
            }
        ],
    )
    out = {"site_id": site["id"], "devices": [], "device_ids": [], "servers": [], "tors": []}
    for r, rack in enumerate(rack_objs, start=1):
        _build_rack(
            store,
            out,
            {
                "site": site,
                "rack": rack,
                "r": r,
                "g": first_rack + r,
                "prefix": prefix,
                "shape": (tors, servers),
            },
            kinds,
        )
    return out


def _build_rack(store, out, where, ctx):  # pylint: disable=too-many-locals
    site, rack, r = where["site"], where["rack"], where["r"]
    tors, servers = where["shape"]
    create = store.create
    g, prefix = where["g"], where["prefix"]
    tor_names = [f"{prefix}tor{t}-r{r:02d}" for t in range(1, tors + 1)]
    srv_names = [f"{prefix}srv-r{r:02d}-{s:02d}" for s in range(1, servers + 1)]
    common = {"site": site["id"], "rack": rack["id"], "status": "active", "face": "front"}
    devs = create(
        "dcim.devices",
        [
            dict(
                common,
                name=name,
                device_type=ctx["tor_type"]["id"],
                role=ctx["tor_role"]["id"],
                platform=ctx["eos"]["id"],
                position=48 - t,
            )
            for t, name in enumerate(tor_names)
        ]
        + [
            dict(
                common,
                name=name,
                device_type=ctx["srv_type"]["id"],
                role=ctx["srv_role"]["id"],
                platform=ctx["debian"]["id"],
                position=s + 1,
                custom_fields={"minion_id": f"{name}.bench.example.net"},
            )
            for s, name in enumerate(srv_names)
        ],
    )
    tor_devs, srv_devs = devs[:tors], devs[tors:]
    tor_ifaces = create(
        "dcim.interfaces",
        [
            {"device": d["id"], "name": f"Ethernet{p}", "type": "25gbase-x-sfp28"}
            for d in tor_devs
            for p in range(1, servers + 1)
        ]
        + [
            {"device": d["id"], "name": "Management1", "type": "1000base-t", "mgmt_only": True}
            for d in tor_devs
        ],
    )
    downlinks = {(i["device"]["id"], i["name"]): i for i in tor_ifaces}
    bonds = create(
        "dcim.interfaces",
        [{"device": d["id"], "name": "bond0", "type": "lag", "mtu": 9000} for d in srv_devs],
    )
    phys = create(
        "dcim.interfaces",
        [
            {
                "device": d["id"],
                "name": name,
                "type": "25gbase-x-sfp28",
                "lag": bond["id"],
                "mtu": 9000,
            }
            for d, bond in zip(srv_devs, bonds, strict=True)
            for name in ("eno1", "eno2")
        ]
        + [
            {"device": d["id"], "name": "bmc", "type": "1000base-t", "mgmt_only": True}
            for d in srv_devs
        ],
    )
    enos, bmcs = phys[: 2 * len(srv_devs)], phys[2 * len(srv_devs) :]
    cables = []
    for s, dev in enumerate(srv_devs):
        for t in range(min(tors, 2)):
            near = enos[2 * s + t]
            far = downlinks[(tor_devs[t]["id"], f"Ethernet{s + 1}")]
            cables.append(
                {
                    "a_terminations": [{"object_type": "dcim.interface", "object_id": near["id"]}],
                    "b_terminations": [{"object_type": "dcim.interface", "object_id": far["id"]}],
                    "status": "connected",
                    "type": "dac-passive",
                    "label": f"{dev['name']}:{near['name']}",
                }
            )
    create("dcim.cables", cables)
    net = f"10.{100 + g // 250}.{g % 250}"
    oob = f"10.{250 + g // 256}.{g % 256}"
    ips = create(
        "ipam.ip-addresses",
        [
            {
                "address": f"{net}.{s + 11}/24",
                "assigned_object_type": "dcim.interface",
                "assigned_object_id": bond["id"],
                "status": "active",
                "dns_name": f"{dev['name']}.bench.example.net",
            }
            for s, (dev, bond) in enumerate(zip(srv_devs, bonds, strict=True))
        ]
        + [
            {
                "address": f"{oob}.{s + 11}/16",
                "assigned_object_type": "dcim.interface",
                "assigned_object_id": bmc["id"],
                "status": "active",
            }
            for s, bmc in enumerate(bmcs)
        ]
        + [
            {
                "address": f"{oob}.{t + 1}/16",
                "assigned_object_type": "dcim.interface",
                "assigned_object_id": downlinks[(d["id"], "Management1")]["id"],
                "status": "active",
            }
            for t, d in enumerate(tor_devs)
        ],
    )
    n = len(srv_devs)
    primaries, oobs, tor_ips = ips[:n], ips[n : 2 * n], ips[2 * n :]
    store.bulk_update(
        "dcim.devices",
        [
            {"id": dev["id"], "primary_ip4": p["id"], "oob_ip": o["id"]}
            for dev, p, o in zip(srv_devs, primaries, oobs, strict=True)
        ]
        + [
            {"id": dev["id"], "primary_ip4": ip["id"]}
            for dev, ip in zip(tor_devs, tor_ips, strict=True)
        ],
    )
    create(
        "dcim.mac-addresses",
        [
            {
                "mac_address": f"02:{(g >> 8) & 0xFF:02X}:{g & 0xFF:02X}:"
                f"{(i >> 8) & 0xFF:02X}:{i & 0xFF:02X}:01",
                "assigned_object_type": "dcim.interface",
                "assigned_object_id": iface["id"],
            }
            for i, iface in enumerate(enos + bmcs)
        ],
    )
    out["devices"].extend(d["name"] for d in devs)
    out["device_ids"].extend(d["id"] for d in devs)
    out["servers"].extend(srv_names)
    out["tors"].extend(tor_names)
