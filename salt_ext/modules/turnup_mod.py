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


def prepare(forms=None, saltenv=None, validate=True):
    """
    The turn-up's first question to a server, in one job: :py:func:`sync_all`, then (unless
    that synced a module) ``hardware.validate with_inventory=True``, the next two steps'
    work. A box that synced something is not validated here, since its new modules load with the
    next job: the turn-up's ``validate`` step asks it with a job of its own. Returns
    ``{sync_all: <sync_all's return>, validate: <hardware.validate's return> | None}``; a part
    that raised is its error (``"<exception>: <message>"``; an error of the sync leaves
    ``validate`` None).

    forms
        As :py:func:`sync_all`.
    saltenv
        As :py:func:`sync_all`.
    validate
        Also validate the box (default True); False: only the sync.

    CLI Example:

    .. code-block:: bash

        salt srv-r2-04 turnup.prepare forms=modules
        salt srv-r2-04 turnup.prepare validate=False
    """
    out = {"sync_all": None, "validate": None}
    try:
        out["sync_all"] = sync_all(forms=forms, saltenv=saltenv)
    except SaltInvocationError:
        raise
    except Exception as err:  # pylint: disable=broad-except
        out["sync_all"] = f"{type(err).__name__}: {err}"
        return out
    if not validate or out["sync_all"]["synced"]:
        return out
    fun = __salt__.get("hardware.validate")
    if fun is None:
        out["validate"] = "'hardware.validate' is not available."
        return out
    try:
        out["validate"] = fun(with_inventory=True)
    except Exception as err:  # pylint: disable=broad-except
        out["validate"] = f"{type(err).__name__}: {err}"
    return out


def boot_facts(grain="serialnumber"):
    """
    What a box booting the provisioning image tells the master's enrolment (``turnup.on_boot``)
    in one job: ``{"grains.item": {<grain>: ..., hwaddr_interfaces: ...}, "hardware.inventory":
    {...}}``. A function of its own rather than a compound job, whose list-valued ``Function`` in
    the job cache breaks ``salt-run jobs.list_jobs search_function=...``. Either part may be an
    error string (the other is still returned).

    grain
        The grain holding the box's serial number (``turnup:boot:grain``, default
        ``serialnumber``).

    CLI Example:

    .. code-block:: bash

        salt srv-r2-04 turnup.boot_facts
        salt srv-r2-04 turnup.boot_facts grain=serial
    """
    if not isinstance(grain, str) or not grain:
        raise SaltInvocationError(f"grain must name a grain, got {grain!r}")
    out = {}
    try:
        out["grains.item"] = __salt__["grains.item"](grain, "hwaddr_interfaces")
    except Exception as err:  # pylint: disable=broad-except
        out["grains.item"] = f"grains.item failed: {type(err).__name__}: {err}"
    try:
        out["hardware.inventory"] = __salt__["hardware.inventory"]()
    except Exception as err:  # pylint: disable=broad-except
        out["hardware.inventory"] = f"hardware.inventory failed: {type(err).__name__}: {err}"
    return out
