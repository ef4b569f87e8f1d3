"""Fixtures shared by the unit tests of the in-memory NetBox store: the lab snapshot, a store loaded with it (ids
kept), and the real NetBox 4.6.8 OpenAPI schema's components (read from ``../shared`` at test time,
never copied into the repository; the tests using it skip when it is absent)."""

import json

import pytest

from salt_ext.utils.netbox.model import NetBoxStore
from tests.support.saltenv import LAB1_SNAPSHOT, REPO_ROOT

SCHEMA = REPO_ROOT.parent / "shared" / "fixtures" / "netbox" / "openapi-4.6.8.json"


@pytest.fixture(scope="module")
def lab1():
    with open(LAB1_SNAPSHOT, encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture(scope="module")
def schema():
    if not SCHEMA.exists():
        pytest.skip(f"NetBox OpenAPI schema not found at {SCHEMA} (shared fixtures absent)")
    with open(SCHEMA, encoding="utf-8") as fh:
        return json.load(fh)["components"]["schemas"]


@pytest.fixture
def store(lab1):
    return NetBoxStore.from_snapshot(lab1)
