"""Helpers shared by the hardware tests: lab1 NetBox objects, pillar profiles, simulated boxes."""

import json
import pathlib

import yaml

from salt_ext.utils.hardware.inventory import merge
from tests.unit.hardware.conftest import REPO_ROOT, SHARED_HW

SIMULATED = pathlib.Path(__file__).resolve().parent / "fixtures" / "simulated"
LAB1 = REPO_ROOT / "salt_ext" / "data" / "snapshots" / "lab1.json"

#: box -> (dmidecode fixture, generation)
BOXES = {
    "srv-r1-01": ("Dell_PowerEdge_M630.txt", "gen10"),
    "srv-r1-02": ("HP_BL460c_Gen9.txt", "gen11"),
    "srv-r1-03": ("SM_SSG-6028R.txt", "gen12"),
}


def load_profiles():
    profiles = {}
    for path in sorted((REPO_ROOT / "pillar" / "hwgen").glob("*.sls")):
        profiles.update(yaml.safe_load(path.read_text())["hwgen_profiles"])
    return profiles


def simulate_spec(box, overrides=None):
    """The ``hardware:simulate`` mapping for a lab box: its real dmidecode from ../shared, or
    without ../shared the facts authored from its profile (tests.support.lab_boxes.AUTHORED),
    ``overrides`` on top of them."""
    if SHARED_HW is None:
        from tests.support.lab_boxes import AUTHORED  # noqa: PLC0415  (it imports this module)

        return {"dir": str(SIMULATED / box), "overrides": merge(AUTHORED[box], overrides or {})}
    spec = {
        "dir": str(SIMULATED / box),
        "dmidecode": str(SHARED_HW / "dmidecode" / BOXES[box][0]),
    }
    if box == "srv-r1-03":
        spec["nvme"] = str(SHARED_HW / "inventory" / "nvme.json")
    if overrides:
        spec["overrides"] = overrides
    return spec


class Lab:
    """lab1.json objects, looked up the way the module does through the access layer."""

    def __init__(self):
        self.objects = json.loads(LAB1.read_text())["objects"]

    def device(self, name):
        return next(d for d in self.objects["dcim.devices"] if d["name"] == name)

    def device_type(self, dev):
        return next(
            t for t in self.objects["dcim.device-types"] if t["id"] == dev["device_type"]["id"]
        )

    def interfaces(self, dev):
        return [i for i in self.objects["dcim.interfaces"] if i["device"]["id"] == dev["id"]]

    def cables(self, dev):
        out = []
        for cable in self.objects["dcim.cables"]:
            ends = cable["a_terminations"] + cable["b_terminations"]
            if any((t.get("object") or {}).get("device", {}).get("id") == dev["id"] for t in ends):
                out.append(cable)
        return out

    def ip_addresses(self, dev):
        return [
            ip
            for ip in self.objects["ipam.ip-addresses"]
            if (ip.get("assigned_object") or {}).get("device", {}).get("id") == dev["id"]
        ]
