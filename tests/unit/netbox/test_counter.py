"""Unit tests: RequestCounter."""

import json
import threading

import pytest

from salt_ext.utils.netbox.counter import RequestCounter, endpoint_from_url


@pytest.mark.parametrize(
    "url,name",
    [
        ("http://127.0.0.1:1/api/dcim/devices/?site=lab1", "dcim.devices"),
        ("http://127.0.0.1:1/api/dcim/devices/12/", "dcim.devices"),
        ("http://127.0.0.1:1/api/ipam/prefixes/9/available-ips/", "ipam.prefixes.available-ips"),
        ("http://127.0.0.1:1/api/status/", "status"),
        ("http://127.0.0.1:1/api/", "api"),
        ("/api/extras/tags/", "extras.tags"),
        ("http://h/netbox/api/dcim/sites/", "dcim.sites"),
    ],
)
def test_endpoint_from_url(url, name):
    assert endpoint_from_url(url) == name


def test_counts_and_snapshot():
    counter = RequestCounter()
    counter.record("dcim.devices", "get")
    counter.record("dcim.devices", "GET")
    counter.record("dcim.interfaces", "POST")
    counter.record_retry("dcim.devices", "GET")
    counter.record_page("dcim.devices")
    assert counter.total == 4
    assert counter.retries == 1
    assert counter.pages == 1
    assert counter.count("dcim.devices") == 3
    assert counter.count("dcim.devices", retries=False) == 2
    assert counter.count(method="POST") == 1
    assert counter.count("dcim.") == 4
    snap = counter.snapshot()
    assert snap["by_endpoint"] == {"dcim.devices": {"GET": 2}, "dcim.interfaces": {"POST": 1}}
    assert snap["retries_by_endpoint"] == {"dcim.devices": {"GET": 1}}
    assert snap["pages_by_endpoint"] == {"dcim.devices": 1}
    assert (snap["total"], snap["requests"], snap["retries"]) == (4, 3, 1)
    json.dumps(snap)  # JSON friendly for bench/
    counter.reset()
    assert counter.total == 0
    assert counter.snapshot()["by_endpoint"] == {}


def test_thread_safe():
    counter = RequestCounter()

    def work():
        for _ in range(2000):
            counter.record("dcim.devices", "GET")
            counter.record_page("dcim.devices")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counter.total == 16000
    assert counter.pages == 16000
