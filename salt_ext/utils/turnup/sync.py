"""
The turn-up's ``sync_all`` step without the requests that cannot sync anything.

``saltutil.sync_all`` asks the master's file server for every custom module type (``salt://
_modules``, ``_grains``, ``_states``, ... about 20), one request each per minion, then refreshes
the pillar, whether or not the master holds a single custom module: on a rack of 24 minions that
is some 500 file-server requests and 24 pillar compiles, 30 s or more of a turn-up on 2 cores.

The step does the same sync with two facts taken first:

- the master lists, once, which ``_<type>`` directories of its file server hold module files
  (:func:`master_forms`, every saltenv, every backend: roots, gitfs, ...);
- each minion adds the types it holds synced copies of (a type removed from the master must be
  cleaned from the minion, as ``saltutil.sync_<type>`` does).

Only those types are synced, each with Salt's own ``saltutil.sync_<type>``; the modules are
reloaded and the pillar refreshed (waited for, so the next step sees both) when something
changed, as ``sync_all`` does. A master without custom modules costs a minion one local
directory check. A masterless minion (``file_client: local``) runs ``saltutil.sync_all`` itself.
"""

import logging
import os
import re

log = logging.getLogger(__name__)

#: ``saltutil.sync_all``'s keys -> the type's directory (``salt://_<form>``, ``extmods/<form>``)
FORMS = {
    "clouds": "clouds",
    "beacons": "beacons",
    "modules": "modules",
    "states": "states",
    "sdb": "sdb",
    "grains": "grains",
    "renderers": "renderers",
    "returners": "returners",
    "output": "output",
    "utils": "utils",
    "log_handlers": "log_handlers",
    "executors": "executors",
    "proxymodules": "proxy",
    "engines": "engines",
    "thorium": "thorium",
    "serializers": "serializers",
    "matchers": "matchers",
    "resources": "resources",
}
#: the files ``salt.utils.extmods.sync`` copies
MODULE_FILE = re.compile(r"\.(pyx?|so|zip)$")
#: ``saltutil.sync_<key>`` functions without a ``refresh`` argument
NO_REFRESH_ARG = ("sdb",)


def forms_in(paths):
    """The module types (directory forms, sorted) that file-server ``paths`` hold files of."""
    forms = set(FORMS.values())
    found = set()
    for path in paths:
        top, _, rest = str(path).partition("/")
        if top.startswith("_") and top[1:] in forms and rest and MODULE_FILE.search(rest):
            found.add(top[1:])
    return sorted(found)


def master_forms(opts):
    """
    The module types the master's file server holds files of, in any saltenv and backend (the
    runner side of the step; one file-list read per saltenv, from the file server's cache).
    """
    import salt.fileserver  # noqa: PLC0415  # pylint: disable=import-outside-toplevel

    server = salt.fileserver.Fileserver(opts)
    paths = []
    for env in sorted(server.envs()):
        paths.extend(server.file_list({"saltenv": env}) or [])
    return forms_in(paths)


def local_forms(extension_modules):
    """The module types a minion holds synced files of (``<extension_modules>/<form>``)."""
    found = []
    for form in sorted(set(FORMS.values())):
        path = os.path.join(extension_modules, form)
        try:
            if any(MODULE_FILE.search(name) for name in os.listdir(path)):
                found.append(form)
        except OSError:
            continue
    return found


def sync(salt_funcs, opts, forms, *, saltenv=None, refresh=True):
    """
    The minion side: ``saltutil.sync_<type>`` for every type in ``forms`` (the master's) or held
    locally, then, when anything changed and ``refresh``, ``saltutil.refresh_pillar
    wait=True`` (which reloads the modules too). Returns ``{synced: {key: [modules]}, checked:
    [keys], skipped: [keys], refreshed}``.
    """
    if opts.get("file_client") == "local":
        synced = salt_funcs["saltutil.sync_all"](saltenv=saltenv, refresh=refresh)
        return {"synced": synced, "checked": sorted(synced), "skipped": [], "refreshed": refresh}
    wanted = set(forms or ()) | set(local_forms(opts["extension_modules"]))
    synced, checked, skipped = {}, [], []
    for key, form in FORMS.items():
        fun = salt_funcs.get(f"saltutil.sync_{key}")
        if fun is None:  # a type this Salt release does not have
            continue
        if form not in wanted:
            skipped.append(key)
            continue
        kwargs = {"saltenv": saltenv}
        if key not in NO_REFRESH_ARG:
            kwargs["refresh"] = False
        checked.append(key)
        changed = fun(**kwargs) or []
        if changed:
            synced[key] = list(changed)
    refreshed = bool(synced) and bool(refresh)
    if refreshed:
        salt_funcs["saltutil.refresh_pillar"](wait=True)
    return {"synced": synced, "checked": checked, "skipped": skipped, "refreshed": refreshed}
