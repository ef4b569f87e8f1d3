"""
Minion id -> NetBox device or virtual machine.

The *identity index* lists every device (and VM, when enabled) of NetBox, or of the configured
``sites``, with just ``id``, ``name``, ``site`` and ``custom_fields``; it is fetched in bulk once
and shared through Salt's cache like the site records, so that resolving 1,000 minions costs no
request per minion. Methods, tried in the configured order:

- ``name``: the node's name equals the minion id;
- ``custom_field``: the custom field ``minion_id_field`` (default ``minion_id``) equals the
  minion id;
- ``template``: the node's name equals ``name_template`` rendered with ``minion_id`` (Jinja), e.g.
  ``"{{ minion_id.split('.')[0] }}"`` strips the domain.
"""

from __future__ import annotations

import functools

import jinja2
from salt.exceptions import SaltInvocationError

from salt_ext.utils.pillar.assemble import DEVICE, VIRTUAL_MACHINE

_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)


class AmbiguousMinion(Exception):
    """The minion id matches several NetBox nodes."""


@functools.lru_cache(maxsize=64)
def _template(text):
    try:
        return _ENV.from_string(text)
    except jinja2.TemplateError as err:
        raise SaltInvocationError(
            f"netbox ext_pillar option 'name_template' is not a valid Jinja template: {err}"
        ) from None


def render_name(template, minion_id):
    """Render ``name_template`` for ``minion_id`` (``minion_id`` and ``id`` are defined)."""
    try:
        return _template(template).render(minion_id=minion_id, id=minion_id).strip()
    except jinja2.TemplateError as err:
        raise SaltInvocationError(
            f"netbox ext_pillar option 'name_template' failed for minion {minion_id!r}: {err}"
        ) from None


def index_entry(kind, obj, cf_name):
    """One identity index row ``[kind, id, name, site_id, site_slug, cf_value]``."""
    site = obj.get("site") or {}
    cf_value = (obj.get("custom_fields") or {}).get(cf_name)
    return [kind, obj["id"], obj.get("name"), site.get("id"), site.get("slug"), cf_value]


class IdentityView:
    """Look-up tables over an identity index record (``{"objects": {"nodes": [row, ...]}}``)."""

    def __init__(self, record):
        self.record = record
        self.by_name = {}
        self.by_cf = {}
        self.sites = {}
        for row in record.get("objects", {}).get("nodes", ()):
            kind, node_id, name, site_id, site_slug, cf_value = row
            entry = (kind, node_id, site_id)
            if name:
                self.by_name.setdefault(name, []).append(entry)
            if cf_value:
                self.by_cf.setdefault(str(cf_value), []).append(entry)
            if site_id is not None:
                self.sites[site_id] = site_slug

    def resolve(self, minion_id, options):
        """
        Return ``(kind, id, site_id)`` for ``minion_id``, or ``None`` when unknown.

        :raises AmbiguousMinion: a method matched more than one node
        """
        for method in options.identity:
            if method == "name":
                found = self.by_name.get(minion_id, [])
                what = f"name {minion_id!r}"
            elif method == "custom_field":
                found = self.by_cf.get(minion_id, [])
                what = f"custom field {options.minion_id_field}={minion_id!r}"
            else:
                name = render_name(options.name_template, minion_id)
                found = self.by_name.get(name, [])
                what = f"name {name!r} (from name_template)"
            found = [f for f in found if _kind_enabled(f[0], options)]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                labels = ", ".join(
                    f"{kind} {node_id} in site {self.sites.get(site) or site}"
                    for kind, node_id, site in found
                )
                raise AmbiguousMinion(
                    f"minion {minion_id!r} matches {len(found)} NetBox nodes by {what} "
                    f"({labels}); set the custom field '{options.minion_id_field}' on the right "
                    "one and use identity: [custom_field]"
                )
        return None


def _kind_enabled(kind, options):
    return (kind == DEVICE and options.devices) or (
        kind == VIRTUAL_MACHINE and options.virtual_machines
    )
