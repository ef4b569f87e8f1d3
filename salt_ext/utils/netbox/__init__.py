"""
The NetBox access layer: one interface over the NetBox REST API (:class:`NetBoxClient`) and over a
snapshot file (:class:`SnapshotSource`). See ``docs/architecture.md``.

Loader modules call :func:`get_source` with their ``__opts__`` and ``__context__``:

.. code-block:: python

    from salt_ext.utils.netbox import get_source, NetBoxError

    src = get_source(__opts__, __context__, pillar=__pillar__)
    devices = src.list("dcim.devices", {"site": "lab1", "status": ["active", "staged"]})
"""

from salt_ext.utils.netbox.client import NetBoxClient
from salt_ext.utils.netbox.config import NetBoxConfig, load_config
from salt_ext.utils.netbox.counter import RequestCounter
from salt_ext.utils.netbox.errors import (
    NetBoxAmbiguous,
    NetBoxConfigError,
    NetBoxConflict,
    NetBoxError,
    NetBoxInvalidRequest,
    NetBoxNotFound,
    NetBoxPermissionDenied,
    NetBoxPreconditionFailed,
    NetBoxTimeout,
    NetBoxUnavailable,
    NetBoxUnknownFilter,
)

__all__ = [
    "NetBoxAmbiguous",
    "NetBoxClient",
    "NetBoxConfig",
    "NetBoxConfigError",
    "NetBoxConflict",
    "NetBoxError",
    "NetBoxInvalidRequest",
    "NetBoxNotFound",
    "NetBoxPermissionDenied",
    "NetBoxPreconditionFailed",
    "NetBoxTimeout",
    "NetBoxUnavailable",
    "NetBoxUnknownFilter",
    "RequestCounter",
    "SnapshotSource",
    "get_source",
    "load_config",
    "source_from_config",
]

CONTEXT_KEY = "saltext_turnup.netbox.sources"


def __getattr__(name):
    # SnapshotSource (and with it the store) is loaded on first use: API-only callers never pay
    # for the in-memory object model.
    if name == "SnapshotSource":
        from salt_ext.utils.netbox.snapshot import SnapshotSource  # noqa: PLC0415

        return SnapshotSource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def source_from_config(config, counter=None):
    """Build the source a :class:`NetBoxConfig` describes (snapshot file or API)."""
    if config.kind == "snapshot":
        return __getattr__("SnapshotSource")(
            config.snapshot, counter=counter, page_size=config.page_size
        )
    return NetBoxClient(config, counter=counter)


def get_source(opts, context, pillar=None, overrides=None):
    """
    The NetBox source for ``opts`` (plus ``pillar``/``overrides``): a :class:`NetBoxClient`, or a
    :class:`SnapshotSource` when ``netbox:snapshot`` is set. Cached in ``context`` (the loader's
    ``__context__``) under a fingerprint of the configuration (the token only enters it hashed),
    so one process builds one client per configuration. Nothing connects here.

    :param opts: ``__opts__`` of the calling loader module
    :param context: ``__context__`` (any dict), or ``None`` for no caching
    :param pillar: pillar data whose ``netbox`` key fills keys the opts leave unset
    :param overrides: dict of ``netbox`` keys that win over both
    """
    config = load_config(opts, pillar=pillar, overrides=overrides)
    if context is None:
        return source_from_config(config)
    cache = context.setdefault(CONTEXT_KEY, {})
    key = config.fingerprint()
    source = cache.get(key)
    if source is None:
        source = source_from_config(config)
        cache[key] = source
    return source
