"""
The NetBox external pillar: logic behind ``salt_ext/pillar/netbox_mod.py`` and the
``netbox.pillar_refresh`` / ``netbox.pillar_cache_info`` runner functions.

Modules: :mod:`.options` (configuration), :mod:`.identity` (minion id -> node),
:mod:`.fetch` (bulk site fetch, change-log refresh), :mod:`.cache` (Salt cache, single-flight),
:mod:`.assemble` (pillar from site data), :mod:`.compat` (Salt 3007 shape), :mod:`.engine`.
"""

from salt.exceptions import SaltInvocationError

from salt_ext.utils.pillar.engine import (
    Engine,
    PillarUnavailable,
    compile_pillar,
    configured_options,
    get_engine,
)
from salt_ext.utils.pillar.options import PillarOptions, parse_options

__all__ = [
    "Engine",
    "PillarOptions",
    "PillarUnavailable",
    "compile_pillar",
    "get_engine",
    "parse_options",
    "pillar_cache_info",
    "pillar_refresh",
]


def _engines(opts, context, options):
    if options is not None:
        entries = [options]
    else:
        entries = configured_options(opts)
    if not entries:
        raise SaltInvocationError(
            "no 'netbox' entry in the master's ext_pillar list: configure "
            "'ext_pillar: [{netbox: {...}}]' (see docs/pillar.md)"
        )
    return [get_engine(opts, context, entry) for entry in entries]


def pillar_refresh(opts, site=None, context=None, options=None):
    """
    Refetch from NetBox, in full, the identity index and the cached site records (all of them,
    or only ``site``: a slug or id, a comma-separated list or a list of them, ``*`` for every
    site of the identity index; fetched even when not cached yet) of every ``netbox`` ext_pillar
    configured on the master. Several sites are fetched together (one listing per object type).

    :param opts: master opts
    :param site: site slug or id, a list of them, or ``*`` (optional)
    :param context: the runner's ``__context__``
    :param options: one ext_pillar option dict instead of the master's configuration
    :returns: ``{source: {"index": {...}, "sites": {slug: {...}}, "seconds": s}}``
    """
    out = {}
    for engine in _engines(opts, context, options):
        out[engine.label] = engine.refresh(site=site)
    return out


def pillar_cache_info(opts, context=None, options=None):
    """
    Describe the pillar cache of every configured ``netbox`` ext_pillar: records, ages,
    freshness, object counts, last fetch (mode, requests), last error.

    :param opts: master opts
    :param context: the runner's ``__context__``
    :param options: one ext_pillar option dict instead of the master's configuration
    """
    out = {}
    for engine in _engines(opts, context, options):
        out[engine.label] = engine.cache_info()
    return out
