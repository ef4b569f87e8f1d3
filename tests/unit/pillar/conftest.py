"""Fixtures of the pillar unit tests: lab1 objects arranged as a site record."""

import copy

import pytest

from salt_ext.utils.pillar.assemble import SiteView
from salt_ext.utils.pillar.fetch import SCHEMA

#: lab1.json endpoints that make up a site record
RECORD_ENDPOINTS = (
    "dcim.sites",
    "dcim.racks",
    "dcim.device-types",
    "dcim.platforms",
    "dcim.devices",
    "dcim.interfaces",
    "dcim.mac-addresses",
    "dcim.cables",
    "ipam.ip-addresses",
    "ipam.services",
    "ipam.prefixes",
    "ipam.vlans",
)


def lab1_record(snapshot):
    """A site record of LAB1 built directly from the snapshot's objects (REST shapes)."""
    objects = {ep: copy.deepcopy(snapshot["objects"].get(ep, [])) for ep in RECORD_ENDPOINTS}
    site = objects["dcim.sites"][0]
    return {
        "schema": SCHEMA,
        "scope": {"kind": "site", "id": site["id"], "slug": site["slug"]},
        "endpoints": sorted(RECORD_ENDPOINTS),
        "objects": objects,
        "cursor": 1,
        "synced_at": 1000.0,
        "full_at": 1000.0,
        "version": "v1",
        "last_fetch": {"mode": "full", "requests": 0, "changes": 0},
    }


def device_id(snapshot, name):
    return next(d["id"] for d in snapshot["objects"]["dcim.devices"] if d["name"] == name)


@pytest.fixture
def record(lab1_snapshot):
    return lab1_record(lab1_snapshot)


@pytest.fixture
def view(record):
    return SiteView(record)
