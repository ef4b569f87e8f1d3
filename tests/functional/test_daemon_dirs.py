"""The daemons the tests start keep their Unix sockets under the 107-byte AF_UNIX limit, also
with the long run-unique minion ids of a live lab copy."""

import hashlib

import salt.config

from tests.conftest import DAEMON_DIR_ID_MAX

LIVE_ID = "srv-r1-01-03156a.lab1-03156a.example.net"  # a lab copy's minion id on a real NetBox


def _longest_socket(minion_conf):
    opts = salt.config.minion_config(str(minion_conf))
    digest = hashlib.sha256(opts["id"].encode()).hexdigest()[:10]
    return max(
        len(f"{opts['sock_dir']}/minion_event_{digest}_{kind}.ipc") for kind in ("pub", "pull")
    )


def test_a_long_minion_id_gets_a_short_root_dir(salt_factories):
    assert len(LIVE_ID) > DAEMON_DIR_ID_MAX
    master = salt_factories.salt_master_daemon("dirs-master")
    minion = master.salt_minion_daemon(LIVE_ID)
    assert minion.config["id"] == LIVE_ID
    assert LIVE_ID not in minion.config["root_dir"]
    assert _longest_socket(minion.config_file) <= 107, minion.config["sock_dir"]


def test_a_short_id_keeps_its_own_folder(salt_factories):
    master = salt_factories.salt_master_daemon("dirs-master2")
    minion = master.salt_minion_daemon("srv-r2-01.lab1.example.net")
    assert minion.config["root_dir"].endswith("/srv-r2-01.lab1.example.net")
