"""
An in-memory model of NetBox 4.6: REST-shaped objects per endpoint, NetBox's filter sets, its write
validation and cascades, and the change log.

This is not the access layer (``salt_ext.utils.netbox``: config, client, errors, seed/export): it is the
object model the snapshot source (``salt_ext.utils.netbox.snapshot``) and the test stand-in
(``tests/support/netbox_standin.py``) both serve from. Import it through this package:

.. code-block:: python

    from salt_ext.utils.netbox.model import NetBoxStore, StoreError

Modules:

- ``store``: :class:`NetBoxStore` (objects, reads, id allocation, snapshot import/export)
- ``filters``: NetBox's filter sets (lookups, custom fields, ordering)
- ``writes``: create/update/delete with NetBox's validation, cascades and object changes
- ``render``: representations (full/brief, nested references, computed fields, URLs)
- ``util``: helpers shared by the above (StoreError, clock, natural ordering, JSON copies)
- ``schema_meta``: the table of endpoints, fields, choices and constraints generated from NetBox's
  OpenAPI schema (``tests/support/gen_schema_meta.py``; ``make schema-meta SCHEMA=...``)
"""

__all__ = ["DEFAULT_BASE_URL", "NetBoxStore", "StoreError"]


def __getattr__(name):
    # Loaded on first use: the access layer reads ``schema_meta``/``util`` alone and must not pay for
    # importing the whole store.
    if name in ("DEFAULT_BASE_URL", "NetBoxStore"):
        from salt_ext.utils.netbox.model import store  # noqa: PLC0415

        return getattr(store, name)
    if name == "StoreError":
        from salt_ext.utils.netbox.model.util import StoreError  # noqa: PLC0415

        return StoreError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
