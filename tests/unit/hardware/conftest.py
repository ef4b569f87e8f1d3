import pathlib

import pytest

from tests.support.saltenv import SHARED_FIXTURES

REPO_ROOT = pathlib.Path(__file__).resolve().parents[3]
CAPTURED = pathlib.Path(__file__).resolve().parent / "fixtures" / "captured"

#: ``../shared/fixtures/hardware`` (read-only, never copied into the repo), found like every other
#: shared fixture (tests.support.saltenv: beside the checkout, or TURNUP_SHARED_FIXTURES).
SHARED_HW = (
    SHARED_FIXTURES / "hardware"
    if SHARED_FIXTURES is not None and (SHARED_FIXTURES / "hardware").is_dir()
    else None
)
requires_shared = pytest.mark.skipif(
    SHARED_HW is None,
    reason="real hardware fixtures ../shared/fixtures/hardware are absent (not shipped in the repo)",
)


def shared_files(kind, pattern="*.txt"):
    if SHARED_HW is None:
        return []
    return sorted((SHARED_HW / kind).glob(pattern))


@pytest.fixture
def shared_hw():
    if SHARED_HW is None:
        pytest.skip("real hardware fixtures ../shared/fixtures/hardware are absent")
    return SHARED_HW


@pytest.fixture
def captured():
    return CAPTURED
