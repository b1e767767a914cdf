"""AdaFocusV2's frame reordering (`sampling.prefix_covering_order`)."""

import math

import numpy as np
import pytest

from deltasparse.data.video.sampling import prefix_covering_order

# `input_order(16)` of AdaFocusV2's main_v2.py, as it prints it.
ORIGINAL_16 = [7, 0, 15, 3, 11, 1, 5, 9, 13, 2, 4, 6, 8, 10, 12, 14]


def reference_order(num_frames):
    """The rule as the spec states it, with NumPy's float `linspace`
    breakpoints (the original's arithmetic) instead of integer division."""
    order = [math.floor((num_frames - 1) / 2), 0, num_frames - 1]
    q = 2
    while len(order) < num_frames:
        points = np.floor(np.linspace(0, num_frames - 1, q + 1))
        for a, b in zip(points[:-1], points[1:]):
            middle = int(np.floor((a + b) / 2))
            if middle not in order:
                order.append(middle)
        q *= 2
    return order


def max_gap(frames, num_frames):
    """The longest run of uncovered frames, at the edges included."""
    covered = sorted(set(frames))
    gaps = [covered[0], num_frames - 1 - covered[-1]]
    gaps += [b - a - 1 for a, b in zip(covered[:-1], covered[1:])]
    return max(gaps)


def test_sixteen_frames_give_the_original_order():
    assert prefix_covering_order(16) == ORIGINAL_16
    assert prefix_covering_order(8) == [3, 0, 7, 1, 5, 2, 4, 6]


@pytest.mark.parametrize("num_frames", list(range(1, 41)) + [64, 100])
def test_a_permutation_equal_to_the_rule(num_frames):
    order = prefix_covering_order(num_frames)
    assert sorted(order) == list(range(num_frames))
    if num_frames >= 3:  # the original repeats frames for 1 and 2
        assert order == reference_order(num_frames)


@pytest.mark.parametrize("num_frames", [5, 8, 9, 16, 17, 25, 32, 33])
def test_every_prefix_spreads_over_the_video(num_frames):
    order = prefix_covering_order(num_frames)
    gaps = [max_gap(order[:k], num_frames) for k in range(1, num_frames + 1)]
    # Three frames reach both ends; after 2^j + 1 frames no gap is longer
    # than one bisection step (runs of fewer than `ceil((F - 1) / 2^j)`
    # uncovered frames).
    assert set(order[:3]) == {0, (num_frames - 1) // 2, num_frames - 1}
    j = 1
    while 2 ** j + 1 <= num_frames:
        assert gaps[2 ** j] < math.ceil((num_frames - 1) / 2 ** j), j
        j += 1
    # Much better covered than the first frames in time order.
    for k in range(3, num_frames):
        assert gaps[k - 1] <= max_gap(range(k), num_frames)
    assert gaps[2] < max_gap(range(3), num_frames)
    assert gaps[-1] == 0


def test_small_and_bad_lengths():
    assert prefix_covering_order(1) == [0]
    assert prefix_covering_order(2) == [0, 1]
    assert prefix_covering_order(3) == [1, 0, 2]
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="`num_frames`"):
            prefix_covering_order(bad)
