import pytest

from salt_ext.utils.turnup import record as rec


@pytest.fixture(autouse=True)
def quick_claims(monkeypatch):
    """Unit tests claim the cache one at a time: no settle time needed (tests/unit/turnup/
    test_claims.py races claimants with the real one)."""
    monkeypatch.setattr(rec, "CLAIM_SETTLE", 0.0)
