"""
Minion side of the rack turn-up (``orch.rack_turnup``): what the runner ``turnup.step`` asks of a
server's minion besides ``hardware.validate``, ``netbox.sync_inventory`` and the highstate.
"""

from salt.exceptions import SaltInvocationError

from salt_ext.utils.turnup import sync as tsync

__virtualname__ = "turnup"


def __virtual__():
    return __virtualname__


def sync_all(forms=None, saltenv=None, refresh=True):
    """
    ``saltutil.sync_all`` without the file-server requests that cannot sync anything: only the
    custom module types the master holds (``forms``, listed once by the turn-up runner from the
    master's file server) or this minion holds synced copies of are synced, each with
    ``saltutil.sync_<type>``; when something changed and ``refresh``, the pillar is refreshed
    (and the modules reloaded) before this returns. Returns ``{synced: {type: [modules]},
    checked: [types], skipped: [types], refreshed}``.

    forms
        The master's module types (directory names without the ``_``: ``modules``, ``grains``,
        ``proxy``, ...), a list or a comma-separated string. None or empty: the master holds
        none (only types this minion holds are synced, which removes them).
    saltenv
        As ``saltutil.sync_all`` (default: the environments of the top file).
    refresh
        Refresh the pillar and modules when something changed (default True).

    CLI Example:

    .. code-block:: bash

        salt '*' turnup.sync_all forms=modules,grains
        salt-call turnup.sync_all
    """
    if isinstance(forms, str):
        forms = [f.strip() for f in forms.split(",") if f.strip()]
    known = set(tsync.FORMS.values())
    if forms is not None and (
        not isinstance(forms, (list, tuple)) or any(f not in known for f in forms)
    ):
        raise SaltInvocationError(
            f"forms must list custom module types among {', '.join(sorted(known))}, got {forms!r}"
        )
    return tsync.sync(__salt__, __opts__, forms or [], saltenv=saltenv, refresh=bool(refresh))
