"""A run-private copy of lab1 for tests that write to a real NetBox (issue 11).

On a real NetBox (``NETBOX_URL`` with ``NETBOX_ALLOW_WRITES=1``) a test that writes cannot get a fresh
NetBox, so it gets a copy of lab1 of its own inside the shared one: every name that is unique in NetBox
(site, devices, serials, config contexts, VLAN group, IP space, minion ids) is rewritten with a run id,
the objects the import creates carry a marker tag, and :meth:`LabCopy.remove` deletes the copy and what
the test created in it afterwards. On the stand-in the copy is lab1 itself (:class:`LabNames` with no
rewriting), so expectations written through :meth:`LabNames.sub` hold on both.
"""

from __future__ import annotations

import copy
import logging
import re
import secrets

from salt_ext.utils.netbox._common import DEPENDENCY_ORDER
from salt_ext.utils.netbox.errors import NetBoxError, NetBoxNotFound
from salt_ext.utils.netbox.seed import import_snapshot

log = logging.getLogger(__name__)

#: device names of lab1 and of devices tests add to it (srv-r2-09, tor1-r3, oob-r1 ...)
_DEVICE = r"(?<![0-9A-Za-z-])((?:srv|tor\d*|oob)-r\d+(?:-\d+)?)(?![0-9A-Za-z])"
#: endpoints whose objects are looked up by name and must be unique per run
_SUFFIXED_NAMES = ("extras.config-contexts",)


class LabNames:
    """Maps lab1 names to the names of one seeded copy (identity on the stand-in)."""

    def __init__(self, run=None):
        self.run = run
        self.tag = f"turnup-run-{run}" if run else None
        if run:
            num = int(run, 16)
            a = 64 + 2 * (num % 32)
            self._v4 = {"10.10.": f"100.{a}.", "10.20.": f"100.{a + 1}."}
            self._v6 = f"2001:db8:{0x1000 + num % 0xE000:x}:"
            self.v4_spaces = (f"100.{a}.0.0/16", f"100.{a + 1}.0.0/16")
            self.v6_space = f"{self._v6}:/48"
        else:
            self._v4, self._v6 = {}, None
            self.v4_spaces, self.v6_space = (), None

    @property
    def renamed(self):
        return self.run is not None

    @property
    def site(self):
        """The site's slug."""
        return self.sub("lab1")

    @property
    def site_name(self):
        return self.sub("LAB1")

    def name(self, name):
        """A lab1 device name (or one the test adds) in this copy."""
        return self.sub(name)

    def ip(self, address):
        """An address/prefix of lab1's space (``10.10.x``, ``10.20.x``, ``2001:db8:10:``) in this copy."""
        return self.sub(address)

    def unique(self, name):
        """``name`` made run-unique (``name-<run>`` on a real NetBox) for an object a test adds
        outside the lab copy's names (a site, a tag...)."""
        return f"{name}-{self.run}" if self.run else name

    def minion(self, device):
        """The minion id of a lab1 device (its ``minion_id`` custom field)."""
        return self.sub(f"{device}.lab1.example.net")

    def sub(self, value):
        """``value`` (str, or list/tuple/set/dict of them, keys included) with lab1 names rewritten."""
        if not self.run:
            return value
        if isinstance(value, str):
            return self._sub_str(value)
        if isinstance(value, dict):
            return {self.sub(k): self.sub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.sub(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.sub(v) for v in value)
        if isinstance(value, (set, frozenset)):
            return type(value)(self.sub(v) for v in value)
        return value

    def _sub_str(self, text):
        run, up = self.run, self.run.upper()
        text = re.sub(_DEVICE, lambda m: f"{m.group(1)}-{run}", text)
        text = re.sub(r"\blab1\b", f"lab1-{run}", text)
        text = re.sub(r"\bLAB1\b", f"LAB1-{up}", text)
        text = re.sub(r"\bLAB1(?=R\d)", f"LAB1{up}", text)  # serials LAB1R2S01
        for old, new in self._v4.items():
            text = re.sub(r"(?<![\d.])" + re.escape(old), new, text)
        if self._v6:
            text = re.sub(r"(?i)\b2001:db8:10:", self._v6, text)
        return text

    def unsub(self, value):
        """Best-effort inverse for messages: strip the run id from names."""
        if not self.run or not isinstance(value, str):
            return value
        return value.replace(f"-{self.run}", "").replace(f"-{self.run.upper()}", "")


def _rewrite_snapshot(snapshot, names):
    data = copy.deepcopy(snapshot)
    objects = data["objects"]
    for endpoint, objs in objects.items():
        if endpoint in ("extras.tags", "extras.custom-fields"):
            continue  # shared by every copy (the seeder reuses them)
        for obj in objs:
            for field, value in list(obj.items()):
                if field in ("url", "display_url", "created", "last_updated", "id"):
                    continue
                if field in ("tenant", "role", "device_type", "manufacturer", "platform", "region"):
                    continue  # references to shared objects: keep their natural keys
                obj[field] = names.sub(value)
            if endpoint in _SUFFIXED_NAMES and not re.search(r"\blab1\b", obj.get("name", "")):
                obj["name"] = f"{obj['name']}-{names.run}"
    return data


class LabCopy:
    """One run-private copy of lab1 in a real NetBox."""

    def __init__(self, client, snapshot, run=None):
        self.client = client
        self.names = LabNames(run or secrets.token_hex(3))
        self.snapshot = _rewrite_snapshot(snapshot, self.names)
        self.report = {}

    #: endpoints where a test may create objects assigned to nothing (found by id afterwards)
    FLOATING = ("dcim.mac-addresses", "ipam.ip-addresses")

    def seed(self):
        self.watermarks = {ep: self._newest_id(ep) for ep in self.FLOATING}
        self.report = import_snapshot(self.client, self.snapshot, tag=self.names.tag)
        return self.report

    def _newest_id(self, endpoint):
        body = self.client.request(
            "GET", self.client.endpoint_url(endpoint), params=[("ordering", "-id"), ("limit", "1")]
        )
        results = body.get("results") if isinstance(body, dict) else None
        return results[0]["id"] if results else 0

    # -- teardown ------------------------------------------------------------------------------
    def _delete_all(self, endpoint, objs):
        ids = [obj["id"] for obj in objs]
        url = self.client.endpoint_url(endpoint)
        for start in range(0, len(ids), 200):
            chunk = ids[start : start + 200]
            try:  # NetBox's bulk delete: DELETE on the list with [{"id": n}, ...]
                self.client.request("DELETE", url, json=[{"id": i} for i in chunk])
            except NetBoxNotFound:  # one of them went with a cascade meanwhile
                for ident in chunk:
                    try:
                        self.client.delete(endpoint, ident)
                    except NetBoxNotFound:
                        pass

    def _list(self, endpoint, **filters):
        try:
            return self.client.list(endpoint, filters)
        except NetBoxNotFound:
            return []

    def remove(self):
        """Delete the copy and everything a test created in it (its site, its devices and their
        components, its IP space, anything carrying the marker tag). Returns the ids it could not
        delete per endpoint (empty when all went)."""
        client, names = self.client, self.names
        site = client.find("dcim.sites", slug=names.site)
        devices = self._list("dcim.devices", site_id=site["id"]) if site else []
        dev_ids = [d["id"] for d in devices]
        if site:
            self._delete_all("dcim.cables", self._list("dcim.cables", site_id=site["id"]))
        if dev_ids:
            for endpoint in ("extras.journal-entries",):
                self._delete_all(
                    endpoint,
                    client.list_by(
                        endpoint,
                        "assigned_object_id",
                        dev_ids,
                        {"assigned_object_type": "dcim.device"},
                    ),
                )
            for endpoint in ("ipam.services", "ipam.ip-addresses", "dcim.mac-addresses"):
                self._delete_all(endpoint, client.list_by(endpoint, "device_id", dev_ids))
        spaces = list(names.v4_spaces) + ([names.v6_space] if names.v6_space else [])
        for space in spaces:
            self._delete_all("ipam.ip-addresses", self._list("ipam.ip-addresses", parent=space))
        # MACs/IPs assigned to nothing that appeared since the copy was made (a test's spares)
        for endpoint, newest in getattr(self, "watermarks", {}).items():
            floating = self._list(endpoint, id__gt=newest)
            self._delete_all(endpoint, [o for o in floating if o.get("assigned_object_id") is None])
        if dev_ids:
            for endpoint in ("dcim.inventory-items", "dcim.interfaces"):
                self._delete_all(endpoint, client.list_by(endpoint, "device_id", dev_ids))
        self._delete_all("dcim.devices", devices)
        for space in spaces:
            self._delete_all("ipam.prefixes", self._list("ipam.prefixes", within_include=space))
        if site:
            for endpoint in ("ipam.vlans", "dcim.racks", "dcim.locations"):
                self._delete_all(endpoint, self._list(endpoint, site_id=site["id"]))
        # whatever else the import (or the test) tagged, in reverse dependency order
        left = {}
        for endpoint in reversed(DEPENDENCY_ORDER):
            if endpoint == "extras.tags":
                continue
            try:
                tagged = self._list(endpoint, tag=names.tag)
            except NetBoxError:
                continue  # an endpoint without tags
            self._delete_all(endpoint, tagged)
        site = client.find("dcim.sites", slug=names.site)
        if site:
            self._delete_all("dcim.sites", [site])
        for endpoint in reversed(DEPENDENCY_ORDER):
            if endpoint == "extras.tags":
                continue
            try:
                still = self._list(endpoint, tag=names.tag)
            except NetBoxError:
                continue
            if still:
                left[endpoint] = [o["id"] for o in still]
        tag = client.find("extras.tags", slug=names.tag)
        if tag and not left:
            self._delete_all("extras.tags", [tag])
        if left:
            log.warning("lab copy %s: objects left behind: %s", names.run, left)
        return left


#: endpoints whose object counts ``object_counts`` reports (everything a lab copy or a test makes)
COUNTED = tuple(
    ep
    for ep in DEPENDENCY_ORDER
    if ep
    not in ("dcim.inventory-items", "virtualization.virtual-machines", "virtualization.interfaces")
)


def object_counts(client, endpoints=COUNTED):
    """``{endpoint: count}`` as NetBox reports it (one ``?limit=1`` request per endpoint)."""
    out = {}
    for endpoint in endpoints:
        try:
            body = client.request("GET", client.endpoint_url(endpoint), params=[("limit", "1")])
        except NetBoxNotFound:
            continue  # an endpoint this NetBox does not serve
        out[endpoint] = body.get("count") if isinstance(body, dict) else None
    return out
