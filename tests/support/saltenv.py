"""Configuration helpers for Salt daemons and loaders used by the functional and integration tests.

Daemons load saltext-turnup through the installed ``salt.loader`` entry point (the project is
pip-installed), never through ``extension_modules`` copies: nothing here points Salt at ``salt_ext/``.
"""

from __future__ import annotations

import os
import pathlib

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
STATES_ROOT = REPO_ROOT / "states"
PILLAR_ROOT = REPO_ROOT / "pillar"
LAB1_SNAPSHOT = REPO_ROOT / "salt_ext" / "data" / "snapshots" / "lab1.json"


def _find_shared_fixtures():
    candidates = []
    if os.environ.get("TURNUP_SHARED_FIXTURES", "").lower() == "none":
        return None  # as on a clone without ../shared beside it
    if os.environ.get("TURNUP_SHARED_FIXTURES"):
        candidates.append(pathlib.Path(os.environ["TURNUP_SHARED_FIXTURES"]))
    candidates.append(REPO_ROOT.parent / "shared" / "fixtures")
    for cand in candidates:
        if cand.is_dir():
            return cand
    return None


#: ``../shared/fixtures`` (third-party hardware output, NetBox schema) or ``None`` when absent.
SHARED_FIXTURES = _find_shared_fixtures()

#: Reason used by tests that need ``../shared`` when it is not there.
SHARED_MISSING_REASON = (
    "../shared/fixtures is absent: third-party hardware output and the NetBox OpenAPI schema may "
    "not be copied into the repo, so these tests read them from ../shared"
)


#: NetBox read timeout (s) of the tests' configs: generous, since tests assert request counts and
#: results, never speed. On a loaded 2-core machine (a second test run beside this one) the stand-in
#: can take longer than 5 s to answer; a timeout then means a retry, i.e. a wrong request count.
#: Tests of timeouts themselves set their own short value.
NETBOX_TEST_TIMEOUT = 60


def netbox_config(netbox_target, **extra):
    """The ``netbox:`` block pointing at the test NetBox (stand-in or real)."""
    cfg = {
        "url": netbox_target.url,
        "token": netbox_target.token,
        "timeout": NETBOX_TEST_TIMEOUT,
        "retries": 2,
    }
    cfg.update(extra)
    return cfg


def master_overrides(netbox_target=None, **extra):
    """Config overrides for a salt-factories master: repo SLS tree and pillar, loopback only."""
    overrides = {
        "file_roots": {"base": [str(STATES_ROOT)]},
        "pillar_roots": {"base": [str(PILLAR_ROOT)]},
        "interface": "127.0.0.1",
        "open_mode": False,
        "auto_accept": True,
        "pillar_cache": False,
        "log_level_logfile": "info",
    }
    if netbox_target is not None:
        overrides["netbox"] = netbox_config(netbox_target)
    overrides.update(extra)
    return overrides


def minion_overrides(netbox_target=None, **extra):
    """Config overrides for a salt-factories minion."""
    overrides = {
        "file_roots": {"base": [str(STATES_ROOT)]},
        "pillar_roots": {"base": [str(PILLAR_ROOT)]},
        "master": "127.0.0.1",
        "log_level_logfile": "info",
    }
    if netbox_target is not None:
        overrides["netbox"] = netbox_config(netbox_target)
    overrides.update(extra)
    return overrides
