"""Tests of the frame samplers and crop boxes against hand-computed indices."""

import numpy as np
import pytest

from deltasparse.data.video import crop_boxes
from deltasparse.data.video import dense_clip_indices
from deltasparse.data.video import segment_frame_indices
from deltasparse.data.video import uniform_clip_indices


def _starts_over_seeds(fn, seeds=range(200)):
    """The set of first frames of every clip, over many seeds."""
    return np.stack([fn(seed)[..., 0] for seed in seeds])


# --------------------------------------------------------------------------
# TSN segments
# --------------------------------------------------------------------------


@pytest.mark.parametrize("num_frames, num_segments, expected", [
    (10, 4, [1, 3, 6, 8]),         # tick 2.5: int(1.25), int(3.75), ...
    (8, 8, [0, 1, 2, 3, 4, 5, 6, 7]),
    (3, 5, [0, 0, 1, 2, 2]),       # F < N: tick 0.6, frames repeat
    (1, 3, [0, 0, 0]),
    (100, 1, [50]),
])
def test_segment_centres(num_frames, num_segments, expected):
    out = segment_frame_indices(num_frames, num_segments, training=False)
    assert out.dtype == np.int64
    assert out.tolist() == expected


def test_segment_training_draws_one_frame_per_segment():
    # F = 10, N = 4: segments of 10 // 4 = 2 frames; frames 8, 9 unused.
    draws = np.stack([segment_frame_indices(10, 4, True, seed=s)
                      for s in range(200)])
    assert draws.dtype == np.int64 and draws.shape == (200, 4)
    for i in range(4):
        assert set(draws[:, i].tolist()) == {2 * i, 2 * i + 1}


def test_segment_training_short_video_falls_back_to_frame_zero():
    # TSN: average duration 3 // 5 = 0 -> every segment takes frame 0.
    assert segment_frame_indices(3, 5, True, seed=1).tolist() == [0] * 5


def test_segment_training_seeds():
    a = segment_frame_indices(90, 8, True, seed=3)
    assert np.array_equal(a, segment_frame_indices(90, 8, True, seed=3))
    rng = np.random.default_rng(3)
    assert np.array_equal(a, segment_frame_indices(90, 8, True, seed=rng))
    # Every segment is 90 // 8 = 11 frames long.
    assert np.all((a >= np.arange(8) * 11) & (a < np.arange(8) * 11 + 11))
    draws = {tuple(segment_frame_indices(90, 8, True, seed=s)) for s in
             range(5)}
    assert len(draws) > 1


# --------------------------------------------------------------------------
# Dense clips (training) and uniform clips (test)
# --------------------------------------------------------------------------


def test_dense_random_offset_per_interval():
    # F = 20, T = 4, stride 2, N = 2: span 8, avg (20 - 8 + 1) // 2 = 6.
    draws = np.stack([dense_clip_indices(20, 4, 2, 2, seed=s)
                      for s in range(300)])
    assert draws.shape == (300, 2, 4)
    assert set(draws[:, 0, 0].tolist()) == set(range(0, 6))
    assert set(draws[:, 1, 0].tolist()) == set(range(6, 12))
    assert np.all(np.diff(draws, axis=-1) == 2)


def test_dense_sorted_random_offsets_when_intervals_are_empty():
    # F = 10, T = 4, stride 2, N = 4: span 8, avg 3 // 4 = 0, F > max(4, 8):
    # 4 sorted offsets drawn in [0, 2].
    starts = _starts_over_seeds(lambda s: dense_clip_indices(10, 4, 2, 4,
                                                             seed=s))
    assert set(starts.ravel().tolist()) == {0, 1, 2}
    assert np.all(np.diff(starts, axis=1) >= 0)


@pytest.mark.parametrize("args, expected", [
    # F = 8, T = 4, stride 2, N = 3: span 8, room 1, avg 0, F = span:
    # offsets round([0, 1/3, 2/3]) = [0, 0, 1].
    ((8, 4, 2, 3), [[0, 2, 4, 6], [0, 2, 4, 6], [1, 3, 5, 7]]),
    # F = 5, T = 1, N = 8: room 5, offsets round(i * 0.625), half to even.
    ((5, 1, 1, 8), [[0], [1], [1], [2], [2], [3], [4], [4]]),
    # F = 5 < span 8: offset 0, frames loop (6 mod 5 = 1).
    ((5, 4, 2, 1), [[0, 2, 4, 1]]),
    ((2, 3, 1, 2), [[0, 1, 0], [0, 1, 0]]),
])
def test_dense_deterministic_fallbacks(args, expected):
    out = dense_clip_indices(*args, training=True, seed=0)
    assert out.dtype == np.int64
    assert out.tolist() == expected


def test_dense_test_mode_is_uniform():
    assert np.array_equal(dense_clip_indices(50, 4, 3, 5, training=False),
                          uniform_clip_indices(50, 4, 5, frame_stride=3))


@pytest.mark.parametrize("args, expected_starts", [
    ((10, 2, 3, 1), [1, 4, 7]),               # avg 3
    ((100, 8, 4, 2), [10, 31, 53, 74]),       # span 16, avg 85 / 4 = 21.25
    ((16, 8, 1, 2), [0]),                     # F == span: avg 1, int(0.5)
    ((3, 1, 5, 1), [0, 0, 1, 2, 2]),          # F < N: avg 0.6
    ((6, 4, 2, 2), [0, 0]),                   # F < span 8: zeros
])
def test_uniform_clips(args, expected_starts):
    num_frames, clip_length, num_clips, stride = args
    out = uniform_clip_indices(num_frames, clip_length, num_clips, stride)
    assert out.shape == (num_clips, clip_length) and out.dtype == np.int64
    expected = (np.array(expected_starts)[:, None]
                + np.arange(clip_length) * stride) % num_frames
    assert out.tolist() == expected.tolist()


def test_uniform_short_video_loops():
    assert uniform_clip_indices(6, 4, 1, 2).tolist() == [[0, 2, 4, 0]]


@pytest.mark.parametrize("call, name", [
    (lambda: segment_frame_indices(0, 4, False), "num_frames"),
    (lambda: segment_frame_indices(10, 0, True), "num_segments"),
    (lambda: segment_frame_indices(10, 2, True, seed="a"), "seed"),
    (lambda: dense_clip_indices(10, 0), "clip_length"),
    (lambda: dense_clip_indices(10, 2, frame_stride=1.5), "frame_stride"),
    (lambda: uniform_clip_indices(10, 2, 0), "num_clips"),
    (lambda: uniform_clip_indices(True, 2, 1), "num_frames"),
])
def test_sampler_errors_name_the_argument(call, name):
    with pytest.raises(ValueError, match=f"`{name}`.*Received: {name}="):
        call()


# --------------------------------------------------------------------------
# Crops
# --------------------------------------------------------------------------


def test_centre_crop_is_mmaction_resize_256_centre_224():
    boxes, flips = crop_boxes(256, 340, 1)
    assert boxes.dtype == np.float32
    assert boxes.tolist() == [[16, 58, 240, 282]]
    assert flips.tolist() == [False]
    assert crop_boxes(16, 24, 1, crop_fraction=0.5)[0].tolist() == [
        [4, 8, 12, 16]]


def test_three_crops_along_the_long_side():
    wide, flips = crop_boxes(240, 320, 3)
    assert wide.tolist() == [[0, 0, 240, 240], [0, 40, 240, 280],
                             [0, 80, 240, 320]]
    assert not flips.any()
    tall, _ = crop_boxes(320, 240, 3)
    assert tall.tolist() == [[0, 0, 240, 240], [40, 0, 280, 240],
                             [80, 0, 320, 240]]
    # A smaller square is centred on the short side.
    small, _ = crop_boxes(256, 340, 3, crop_fraction=0.875)
    assert small[:, 0].tolist() == [16] * 3
    assert small[:, 1].tolist() == [0, 58, 116]


def test_ten_crops_corners_centre_and_flips():
    boxes, flips = crop_boxes(256, 340, 10)
    corners = [(0, 0), (0, 116), (32, 0), (32, 116), (16, 58)]
    expected = [[y, x, y + 224, x + 224] for y, x in corners] * 2
    assert boxes.tolist() == expected
    assert flips.tolist() == [False] * 5 + [True] * 5


@pytest.mark.parametrize("kwargs, name", [
    (dict(num_crops=2), "num_crops"),
    (dict(num_crops=True), "num_crops"),
    (dict(num_crops=1, crop_fraction=0), "crop_fraction"),
    (dict(num_crops=1, crop_fraction=1.5), "crop_fraction"),
    (dict(num_crops=3, crop_fraction="all"), "crop_fraction"),
])
def test_crop_errors(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`.*Received: {name}="):
        crop_boxes(32, 32, **kwargs)
