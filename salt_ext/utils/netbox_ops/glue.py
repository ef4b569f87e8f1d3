"""Glue shared by the ``netbox`` loader modules: one way to get the source and map errors."""

import contextlib

from salt.exceptions import SaltInvocationError

from salt_ext.utils.netbox import NetBoxConfigError, NetBoxError, get_source


def source(opts, context, pillar=None):
    """The access-layer source for a loader module (pillar: the loader's ``__pillar__``)."""
    try:
        pillar = dict(pillar) if pillar else None
    except (TypeError, ValueError):
        pillar = None
    return get_source(opts, context, pillar=pillar)


@contextlib.contextmanager
def mapped_errors(what, error_class):
    """
    Turn access-layer errors into Salt's: bad configuration -> ``SaltInvocationError``, any
    other NetBox failure -> ``error_class`` (``CommandExecutionError`` for execution modules,
    ``SaltRunnerError`` for runners), chained, with ``what`` in front of NetBox's message.
    """
    try:
        yield
    except NetBoxConfigError as err:
        raise SaltInvocationError(f"{what}: {err}") from err
    except NetBoxError as err:
        raise error_class(f"{what}: {err}") from err
