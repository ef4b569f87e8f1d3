"""Rollout waves: canary, then batches as a count or a percentage."""

import pytest
from salt.exceptions import SaltInvocationError

from salt_ext.utils.turnup import rollout


def names(waves):
    return [(w["name"], w["items"]) for w in waves]


def test_waves_canary_then_count_batches():
    assert names(rollout.waves(list("abcdef"), batch=2)) == [
        ("canary", ["a"]),
        ("batch-1", ["b", "c"]),
        ("batch-2", ["d", "e"]),
        ("batch-3", ["f"]),
    ]


def test_waves_percentage_of_all_boxes():
    waves = rollout.waves(list(range(9)), batch="25%")  # ceil(9 * 0.25) = 3
    assert [len(w["items"]) for w in waves] == [1, 3, 3, 2]
    assert [len(w["items"]) for w in rollout.waves(list(range(4)), "100%", canary=0)] == [4]
    assert names(rollout.waves(["a"], batch=5)) == [("canary", ["a"])]
    assert rollout.waves([], batch=5) == []


@pytest.mark.parametrize("batch", [0, "0", "0%", "101%", "-1", "abc", True, 1.5])
def test_bad_batch(batch):
    with pytest.raises(SaltInvocationError, match="batch"):
        rollout.batch_size(batch, 10)


@pytest.mark.parametrize("canary", [-1, "x"])
def test_bad_canary(canary):
    with pytest.raises(SaltInvocationError, match="canary must be"):
        rollout.waves(["a"], canary=canary)
