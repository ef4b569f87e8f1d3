import os
import pathlib

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[3]
CAPTURED = pathlib.Path(__file__).resolve().parent / "fixtures" / "captured"


def shared_hardware_dir():
    """``../shared/fixtures/hardware`` relative to the repository (read-only, not in the repo)."""
    for candidate in (
        REPO_ROOT.parent / "shared" / "fixtures" / "hardware",
        pathlib.Path(os.environ.get("SHARED_FIXTURES", "/nonexistent")) / "hardware",
    ):
        if candidate.is_dir():
            return candidate
    return None


SHARED_HW = shared_hardware_dir()
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
