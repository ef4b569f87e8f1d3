"""
Simulated servers for any lab1 device (``salt_ext/data/snapshots/lab1.json``): the
``hardware:simulate`` spec of a box derived from NetBox (its serial, its cable peers as LLDP
neighbours, MACs of the vendor's range), on top of the R1 box of the same device type
(``tests/unit/hardware/fixtures/simulated`` + the real dmidecode output in ../shared).

Without ../shared (a clone on its own, or ``TURNUP_SHARED_FIXTURES=none``) the facts dmidecode
would give (system, BIOS, CPUs, DIMMs, PSUs) come from :data:`AUTHORED` instead: written by this
project from each model's generation profile (pillar/hwgen), not copied from any capture. The
other tool outputs are the project's own either way.
"""

from __future__ import annotations

import json

from tests.unit.hardware import lab

#: device type slug -> the R1 box of that model whose captured outputs are reused
TEMPLATE = {
    "poweredge-m630": "srv-r1-01",
    "proliant-bl460c-gen9": "srv-r1-02",
    "ssg-6028r-osd072p": "srv-r1-03",
}


def _dimms(prefix, count, size_gb, speed):
    return {
        f"{prefix}{i}": {
            "locator": f"{prefix}{i}",
            "size_bytes": size_gb * 1024**3,
            "type": "DDR4",
            "module": "RDIMM",
            "form_factor": "DIMM",
            "ecc": True,
            "speed_mts": speed,
            "configured_speed_mts": speed,
        }
        for i in range(1, count + 1)
    }


def _cpu(model, sockets, cores_each, labels):
    return {
        "model": model,
        "vendor": "Intel",
        "sockets": sockets,
        "cores": sockets * cores_each,
        "threads": 2 * sockets * cores_each,
        "packages": {
            label: {"model": model, "cores": cores_each, "threads": 2 * cores_each}
            for label in labels[:sockets]
        },
    }


#: template box -> what its dmidecode would report, authored from its generation profile (used
#: only when ../shared is absent)
AUTHORED = {
    "srv-r1-01": {  # gen10
        "system": {
            "vendor": "Dell Inc.",
            "product": "PowerEdge M630",
            "bios_vendor": "Dell Inc.",
            "bios_version": "1.2.5",
        },
        "cpu": _cpu("Intel(R) Xeon(R) CPU E5-2683 v3 @ 2.00GHz", 2, 14, ["CPU1", "CPU2"]),
        "memory": {"dimms": _dimms("A", 8, 8, 2133)},
    },
    "srv-r1-02": {  # gen11
        "system": {
            "vendor": "HP",
            "product": "ProLiant BL460c Gen9",
            "family": "ProLiant",
            "bios_vendor": "HP",
            "bios_version": "I36",
        },
        "oem": {"firmware": {"System ROM": "v2.52 (10/25/2017)"}},
        "cpu": _cpu("Intel(R) Xeon(R) CPU E5-2640 v4 @ 2.40GHz", 2, 10, ["Proc 1", "Proc 2"]),
        "memory": {"dimms": _dimms("PROC 1 DIMM ", 6, 8, 2133)},
    },
    "srv-r1-03": {  # gen12
        "system": {
            "vendor": "Supermicro",
            "product": "SSG-6028R-OSD072P",
            "bios_vendor": "American Megatrends Inc.",
            "bios_version": "2.0b",
        },
        "cpu": _cpu("Intel(R) Xeon(R) CPU E5-2620 v4 @ 2.10GHz", 1, 8, ["SOCKET 0"]),
        "memory": {"dimms": _dimms("P1_DIMMA", 4, 16, 2133)},
        "psus": {
            f"PSU{i}": {"location": f"System Power Supply #{i}", "present": True} for i in (1, 2)
        },
    },
}


def _mac(template_mac, rack, index, port):
    """The vendor OUI of the template box, then rack, box and port: ``24:6e:96:02:05:01``."""
    oui = template_mac.split(":")[:3]
    return ":".join(oui + [f"{rack:02x}", f"{index:02x}", f"{port:02x}"])


class LabBoxes:
    """Derives the simulated outputs of lab1 devices."""

    def __init__(self):
        self.lab = lab.Lab()

    def template(self, name):
        dev = self.lab.device(name)
        slug = self.lab.device_type(dev)["slug"]
        if slug not in TEMPLATE:
            raise KeyError(f"{name}: no simulated model for device type {slug}")
        return TEMPLATE[slug]

    def expected(self, name):
        """``{serial, nics: {eno1: mac}, lldp: {eno1: (switch, port)}, bmc}`` of a box."""
        dev = self.lab.device(name)
        rack = int(
            "".join(c for c in (dev.get("rack") or {}).get("name", "R0") if c.isdigit()) or 0
        )
        index = (
            int(name.rsplit("-", 1)[-1]) if name.rsplit("-", 1)[-1].isdigit() else dev["id"] % 256
        )
        base = lab.simulate_spec(self.template(name))
        from salt_ext.utils.hardware import inventory as inv  # noqa: PLC0415

        template = inv.simulate(base)
        macs = {
            nic["name"]: _mac(nic["mac"], rack, index, pos + 1)
            for pos, nic in enumerate(template["nics"])
        }
        peers = {}
        for iface in self.lab.interfaces(dev):
            for peer in iface.get("link_peers") or []:
                if iface["name"] in template["lldp"]:
                    peers[iface["name"]] = (peer["device"]["name"], peer["name"])
        return {
            "serial": dev.get("serial"),
            "nics": macs,
            "lldp": peers,
            "bmc_mac": _mac(template["bmc"]["mac"], rack, index, 3),
        }

    def spec(self, name, overrides=None):
        """The ``hardware:simulate`` mapping of device ``name`` (plus fault ``overrides``)."""
        want = self.expected(name)
        spec = lab.simulate_spec(self.template(name))
        base = dict(spec.pop("overrides", None) or {})
        derived = {
            "system": {"serial": want["serial"]},
            "nics": {n: {"mac": mac} for n, mac in want["nics"].items()},
            "lldp": {
                n: {"chassis_name": switch, "port_id": port, "port_descr": f"{name}:{n}"}
                for n, (switch, port) in want["lldp"].items()
            },
            "bmc": {"mac": want["bmc_mac"]},
        }
        from salt_ext.utils.hardware.inventory import merge  # noqa: PLC0415

        merged = merge(merge(base, derived), overrides or {})
        spec["overrides"] = merged
        return spec

    def write(self, path, name, overrides=None):
        path.write_text(json.dumps(self.spec(name, overrides)))
        return path
