"""
The services a hardware generation profile requires (``services:``), and whether a box runs them.

Profile key::

    services:                    # service (systemd unit without .service) -> what it must be
      lldpd: {}                  # running and enabled (the default)
      chrony: {running: true, enabled: true}
      rasdaemon: {enabled: false}  # must run; whether it starts at boot is not checked

A real host is asked through Salt's ``service`` module (``service.available``, ``service.status``,
``service.enabled``: systemd on a systemd host). A simulated box (``hardware:simulate``) never asks
the host it runs on: its services are the simulation's, ``services.json``/``services.yaml`` in its
directory of captured outputs and/or ``overrides: {services: ...}`` of its spec, each
``{<name>: {running: bool, enabled: bool}}``; a service the simulation does not list is not
installed on the box.
"""

import json
import os

import yaml

from salt_ext.utils.hardware import inventory as inv
from salt_ext.utils.hardware.profiles import SERVICE_STATES as STATES

#: files of a simulated box's directory holding its services
FILES = ("services.json", "services.yaml", "services.yml")


def required(profile):
    """``{name: {"running": bool, "enabled": bool}}`` the profile requires (True by default)."""
    out = {}
    for name, want in sorted(((profile or {}).get("services") or {}).items()):
        out[name] = {key: (want or {}).get(key, True) for key in STATES}
    return out


def _load(path):
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        return json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as err:
        raise inv.SimulationError(f"hardware:simulate: {path!r} is not valid: {err}") from err


def _directories(simulate, base=None):
    """The captured-output directories a simulation spec reads (where ``services.json`` lives)."""
    if isinstance(simulate, str):
        path = os.path.expanduser(simulate)
        if base and not os.path.isabs(path):
            path = os.path.join(base, path)
        if os.path.isdir(path):
            return [path]
        if os.path.isfile(path) and path.endswith((".json", ".yaml", ".yml")):
            doc = _load(path)
            if isinstance(doc, dict) and "system" not in doc:
                return _directories(doc, os.path.dirname(path))
        return []
    if isinstance(simulate, dict) and simulate.get("dir"):
        return _directories(str(simulate["dir"]), simulate.get("base") or base)
    return []


def simulated(simulate):
    """``{name: {"running", "enabled"}}`` of a simulated box (never the host's own services)."""
    found = {}
    for directory in _directories(simulate):
        for name in FILES:
            path = os.path.join(directory, name)
            if os.path.isfile(path):
                found.update(_load(path) or {})
                break
    overrides = (inv.normalize_spec(simulate).get("overrides") or {}).get("services") or {}
    for name, state in overrides.items():
        found[name] = {**(found.get(name) or {}), **(state or {})}
    return {
        name: {
            "available": True,
            "running": bool((state or {}).get("running")),
            "enabled": bool((state or {}).get("enabled")),
        }
        for name, state in found.items()
    }


def observe(names, salt):
    """``{name: {"available", "running", "enabled"}}`` of a real host, through Salt's ``service``
    module (``salt``: the loader's ``__salt__``)."""
    out = {}
    for name in names:
        try:
            available = bool(salt["service.available"](name))
        except Exception as err:  # pylint: disable=broad-except
            out[name] = {"available": None, "error": f"service.available failed: {err}"}
            continue
        if not available:
            out[name] = {"available": False, "running": False, "enabled": False}
            continue
        out[name] = {
            "available": True,
            "running": bool(salt["service.status"](name)),
            "enabled": bool(salt["service.enabled"](name)),
        }
    return out


def checks(profile, observed, source):
    """One validation check ``services.<name>`` per required service (``validate`` shape)."""
    out = []
    for name, want in required(profile).items():
        seen = observed.get(name) or {"available": False}
        expected = {k: v for k, v in want.items() if v}
        if seen.get("error"):
            ok, actual = False, None
            comment = f"could not ask the box about service {name}: {seen['error']}"
        elif not seen.get("available"):
            ok, actual = False, "not installed"
            comment = f"required service {name} is not installed on the box ({source})"
        else:
            actual = {k: bool(seen.get(k)) for k in STATES}
            wrong = [k for k in STATES if want[k] and not actual[k]]
            ok = not wrong
            comment = (
                ""
                if ok
                else f"required service {name} is "
                + " and ".join(
                    {"running": "not running", "enabled": "not enabled"}[k] for k in wrong
                )
                + f" ({source}); fix: systemctl enable --now {name}, or fix the highstate"
            )
        out.append(
            {
                "name": f"services.{name}",
                "expected": expected,
                "actual": actual,
                "ok": bool(ok),
                "severity": "error",
                "comment": comment,
            }
        )
    return out


def add_checks(report, profile, simulate, salt):
    """Append the ``services.*`` checks to a :func:`validate.validate` report (updates
    ``passed``, ``failed`` and ``summary``)."""
    names = list(required(profile))
    if simulate:
        observed, source = simulated(simulate), "simulated box"
    else:
        observed, source = observe(names, salt), "service manager"
    added = checks(profile, observed, source)
    report["checks"].extend(added)
    bad = [c["name"] for c in added if not c["ok"]]
    report["failed"].extend(bad)
    report["passed"] = report["passed"] and not bad
    report["summary"] += f"; services: {len(added) - len(bad)} of {len(added)} up" + (
        f" (down: {', '.join(n.split('.', 1)[1] for n in bad)})" if bad else ""
    )
    return report
