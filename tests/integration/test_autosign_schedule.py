"""
The autosign schedule of docs/security.md with a real salt-master: the master's own ``schedule``
runs the RUNNER ``netbox.sync_autosign`` (a master schedule runs runner functions), first at
master start (``run_on_start: True``), then every interval; the autosign file follows NetBox
(a serial changed, a device set active and back to planned) without any manual call.

The interval is shortened to ``seconds: 3`` here; the entry is otherwise the documented one.
"""

from __future__ import annotations

import pathlib

import pytest
import salt.config
from saltfactories.utils import random_string

from tests.integration.test_reactor_boot import device, serials, wait_until
from tests.support.saltenv import master_overrides

pytestmark = [pytest.mark.integration, pytest.mark.live_capable]

#: the entry of docs/security.md, its interval shortened for the test
SCHEDULE = {
    "netbox_sync_autosign": {
        "function": "netbox.sync_autosign",
        "seconds": 3,
        "run_on_start": True,
        "return_job": False,
    }
}


def listed(path):
    """The serials in the autosign grains file (none while it does not exist)."""
    return serials(path) if path.exists() else []


def test_scheduled_sync_autosign_follows_netbox(salt_factories, fresh_netbox, tmp_path):
    lab = fresh_netbox.lab
    nb = fresh_netbox.client()
    overrides = master_overrides(
        fresh_netbox,
        auto_accept=False,
        autosign_grains_dir=str(tmp_path / "autosign_grains"),
        schedule=SCHEDULE,
    )
    factory = salt_factories.salt_master_daemon(
        random_string("autosign-m-"),
        overrides=overrides,
        on_auth_event_callback=lambda _master, _payload: None,
    )
    # where the master itself puts the file (Salt prefixes autosign_grains_dir with root_dir)
    opts = salt.config.master_config(factory.config_file)
    path = pathlib.Path(opts["autosign_grains_dir"]) / "serialnumber"
    first, second = lab.name("srv-r2-02"), lab.name("srv-r2-03")
    old_serial, other = lab.sub("LAB1R2S02"), lab.sub("LAB1R2S03")
    new_serial = old_serial + "X"
    with factory.started():
        # the first sync at master start: nothing called by hand
        wait_until(lambda: {old_serial, other} <= set(listed(path)), "the first scheduled sync")

        # a serial changed in NetBox: the file follows
        nb.update("dcim.devices", device(nb, first)["id"], {"serial": new_serial})
        wait_until(
            lambda: new_serial in listed(path) and old_serial not in listed(path),
            "the changed serial in the autosign file",
        )

        # a device set active leaves the file, back to planned comes back
        dev_id = device(nb, second)["id"]
        nb.update("dcim.devices", dev_id, {"status": "active"})
        wait_until(lambda: other not in listed(path), "the active device to leave the file")
        assert new_serial in listed(path)
        nb.update("dcim.devices", dev_id, {"status": "planned"})
        wait_until(lambda: other in listed(path), "the planned device back in the file")
