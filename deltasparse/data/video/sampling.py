"""Frame samplers and test-time crops, as seeded pure NumPy functions.

Every sampler maps a video length to 0-based int64 frame indices; random
ones take `seed` (None, an int or a `np.random.Generator`), so a sample is a
pure function of its seed. They are the temporal half of multi-view
testing (`deltasparse.data.video.views`); `crop_boxes` is the spatial half.

- `segment_frame_indices`: TSN segment sampling (Wang et al., 2016): one
  frame per each of `num_segments` equal segments, random in training,
  the segment centre in testing.
- `dense_clip_indices`: MMAction2's `SampleFrames` (`clip_len`,
  `frame_interval`, `num_clips`): `num_clips` clips of `clip_length`
  frames `frame_stride` apart, random offsets in training.
- `uniform_clip_indices`: MMAction2's `SampleFrames` in test mode: `N`
  uniformly spaced clips.
- `crop_boxes`: 1 centre crop, 3 crops along the long side, or 10 crops
  (4 corners + centre, and their horizontal flips).
- `prefix_covering_order`: AdaFocusV2's frame reordering (middle, first,
  last, then bisection points), so that every prefix covers the video.

The sliding-window clips of the original pipeline stay in
`deltasparse.data.video.index.clip_frame_indices`.

A clip's *span* is `clip_length * frame_stride` frames, as MMAction2's
`ori_clip_len`, not the `(clip_length - 1) * frame_stride + 1` frames the
clip touches: offsets are chosen so that `span` frames fit, which leaves the
last `frame_stride - 1` start positions unused. Frames past the end of a
short video loop (`index mod num_frames`, MMAction2's
`out_of_bound_opt="loop"`).
"""

import numbers

import numpy as np

from deltasparse.data.video.index import check_positive_int

#: The crop layouts of `crop_boxes` and their default `crop_fraction`.
CROP_FRACTIONS = {1: 0.875, 3: 1.0, 10: 0.875}


def _rng(seed):
    if seed is None or isinstance(seed, np.random.Generator):
        return np.random.default_rng(seed)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or (
            seed < 0):
        raise ValueError(
            "`seed` must be None, an int >= 0 or a `np.random.Generator`. "
            f"Received: seed={seed!r}")
    return np.random.default_rng(int(seed))


def segment_frame_indices(num_frames, num_segments, training, seed=None):
    """TSN segment sampling: one frame in each of `num_segments` segments.

    Training (TSN's `_sample_indices` with one frame per segment): the
    video is cut into `num_segments` segments of `num_frames //
    num_segments` frames, and one frame is drawn uniformly in each; the
    frames left over after the last whole segment are never used. A video
    with fewer frames than segments gets frame 0 for every segment (TSN's
    fallback; MMAction2 spreads them instead).

    Testing (TSN's `_get_test_indices`): the centre of each of
    `num_segments` equal segments, `int(tick / 2 + tick * i)` with `tick =
    num_frames / num_segments`; this stays inside the video even when it
    has fewer frames than segments (frames repeat). TSM's validation
    sampler returns zeros in that case; the centres are kept here.

    Args:
        num_frames: int >= 1, frames in the video (F).
        num_segments: int >= 1 (N).
        training: bool, random frame per segment (True) or the segment
            centre (False).
        seed: None, an int or a `np.random.Generator` (training only).

    Returns:
        int64 array `(num_segments,)`, increasing, 0-based.

    Raises:
        ValueError: for a non-positive `num_frames` or `num_segments`.

    Example:
    >>> segment_frame_indices(10, 4, training=False).tolist()
    [1, 3, 6, 8]
    >>> segment_frame_indices(3, 5, training=False).tolist()
    [0, 0, 1, 2, 2]
    >>> segment_frame_indices(10, 4, training=True, seed=0).shape
    (4,)
    """
    num_frames = check_positive_int("num_frames", num_frames)
    num_segments = check_positive_int("num_segments", num_segments)
    if not training:
        tick = num_frames / num_segments
        return np.array([int(tick / 2.0 + tick * i)
                         for i in range(num_segments)], np.int64)
    duration = num_frames // num_segments
    if duration == 0:
        return np.zeros((num_segments,), np.int64)
    rng = _rng(seed)
    base = np.arange(num_segments, dtype=np.int64) * duration
    return base + rng.integers(duration, size=num_segments, dtype=np.int64)


def _clip_frames(offsets, num_frames, clip_length, frame_stride):
    offsets = np.asarray(offsets, np.int64)
    frames = offsets[:, None] + np.arange(
        clip_length, dtype=np.int64) * frame_stride
    return np.mod(frames, num_frames)


def _check_clip_args(num_frames, clip_length, frame_stride, num_clips):
    return (check_positive_int("num_frames", num_frames),
            check_positive_int("clip_length", clip_length),
            check_positive_int("frame_stride", frame_stride),
            check_positive_int("num_clips", num_clips))


def dense_clip_indices(num_frames, clip_length, frame_stride=1, num_clips=1,
                       training=True, seed=None):
    """Dense clips of consecutive (strided) frames: MMAction2's `SampleFrames`.

    With `span = clip_length * frame_stride` and `avg = (num_frames - span
    + 1) // num_clips`, the clip offsets in training are, as MMAction2's
    training rule:

    - `avg > 0`: one random offset in each of `num_clips` equal intervals,
      `i * avg + U{0, ..., avg - 1}`;
    - else, if `num_frames > max(num_clips, span)`: `num_clips` sorted
      random offsets in `[0, num_frames - span]`;
    - else, if `avg == 0`: the evenly spread `round(i * (num_frames - span
      + 1) / num_clips)` (NumPy rounding, half to even);
    - else (the video is shorter than one span): 0.

    Clip `i` holds `offset_i + j * frame_stride` for `j < clip_length`,
    looped into the video (`mod num_frames`). With `training=False` this is
    `uniform_clip_indices` (MMAction2's test mode).

    Args:
        num_frames: int >= 1, frames in the video (F).
        clip_length: int >= 1, frames per clip (MMAction2's `clip_len`).
        frame_stride: int >= 1, step between the frames of a clip
            (`frame_interval`). Defaults to 1.
        num_clips: int >= 1. Defaults to 1.
        training: bool. Defaults to True.
        seed: None, an int or a `np.random.Generator`.

    Returns:
        int64 array `(num_clips, clip_length)`, 0-based.

    Raises:
        ValueError: for arguments out of range.

    Example:
    >>> dense_clip_indices(20, 4, frame_stride=2, seed=0).shape
    (1, 4)
    >>> dense_clip_indices(5, 4, frame_stride=2).tolist()  # loops
    [[0, 2, 4, 1]]
    """
    num_frames, clip_length, frame_stride, num_clips = _check_clip_args(
        num_frames, clip_length, frame_stride, num_clips)
    if not training:
        return uniform_clip_indices(num_frames, clip_length, num_clips,
                                    frame_stride)
    span = clip_length * frame_stride
    room = num_frames - span + 1
    avg = room // num_clips
    if avg > 0:
        rng = _rng(seed)
        offsets = np.arange(num_clips, dtype=np.int64) * avg + rng.integers(
            avg, size=num_clips, dtype=np.int64)
    elif num_frames > max(num_clips, span):
        rng = _rng(seed)
        offsets = np.sort(rng.integers(room, size=num_clips, dtype=np.int64))
    elif avg == 0:
        offsets = np.round(np.arange(num_clips) * (room / num_clips))
    else:
        offsets = np.zeros((num_clips,), np.int64)
    return _clip_frames(offsets, num_frames, clip_length, frame_stride)


def uniform_clip_indices(num_frames, clip_length, num_clips, frame_stride=1):
    """`num_clips` uniformly spaced test clips: MMAction2's test sampling.

    With `span = clip_length * frame_stride` and `avg = (num_frames - span
    + 1) / num_clips` (a float), clip `i` starts at `int(i * avg + avg /
    2)`: the centres of `num_clips` equal intervals of the possible starts.
    A video shorter than one span (`num_frames < span`) gets offset 0 for
    every clip. Frames past the end loop (`mod num_frames`).

    Args:
        num_frames: int >= 1, frames in the video (F).
        clip_length: int >= 1, frames per clip.
        num_clips: int >= 1.
        frame_stride: int >= 1. Defaults to 1.

    Returns:
        int64 array `(num_clips, clip_length)`, 0-based.

    Raises:
        ValueError: for arguments out of range.

    Example:
    >>> uniform_clip_indices(10, 2, num_clips=3).tolist()
    [[1, 2], [4, 5], [7, 8]]
    >>> uniform_clip_indices(3, 4, num_clips=2).tolist()
    [[0, 1, 2, 0], [0, 1, 2, 0]]
    """
    num_frames, clip_length, frame_stride, num_clips = _check_clip_args(
        num_frames, clip_length, frame_stride, num_clips)
    span = clip_length * frame_stride
    if num_frames >= span:
        avg = (num_frames - span + 1) / num_clips
        offsets = (np.arange(num_clips) * avg + avg / 2.0).astype(np.int64)
    else:
        offsets = np.zeros((num_clips,), np.int64)
    return _clip_frames(offsets, num_frames, clip_length, frame_stride)


def crop_boxes(height, width, num_crops, crop_fraction=None):
    """Square test-time crops of a `height x width` frame, in pixels.

    The square side is `round(crop_fraction * min(height, width))` pixels
    (at least 1). The layouts follow MMAction2's test configurations:

    - `num_crops=1`: the centre square (`Resize(-1, 256)` + `CenterCrop(224)`:
      `crop_fraction` defaults to 0.875 = 224 / 256);
    - `num_crops=3`: three squares along the long side, at its start,
      centre and end, centred on the short side (`ThreeCrop(256)` after
      resizing the short side to 256: `crop_fraction` defaults to 1.0);
    - `num_crops=10`: the four corners (top-left, top-right, bottom-left,
      bottom-right) and the centre, then the same five flipped
      horizontally (`TenCrop(224)`: `crop_fraction` defaults to 0.875).

    Offsets are whole pixels: the centre is at `(size - side) // 2` and the
    far edge at `size - side`. MMAction2 puts its far crops at
    `2 * ((size - side) // 2)` (ThreeCrop) or `4 * ((size - side) // 4)`
    (TenCrop), up to 3 pixels short of the edge, and orders ThreeCrop as
    start, end, centre; here the far crops touch the edge and the order is
    start, centre, end. Resizing and cropping are done in one step by the
    view pipeline (`tf.image.crop_and_resize` of these boxes), so the
    crops of a 320 x 240 frame are the regions MMAction2 takes after its
    resize, up to interpolation.

    Args:
        height: int >= 1, frame height in pixels.
        width: int >= 1, frame width in pixels.
        num_crops: 1, 3 or 10.
        crop_fraction: None (the default of the layout, see above) or a
            float in (0, 1]: the square side over the short side.

    Returns:
        `(boxes, flips)`: float32 array `(num_crops, 4)` of `[y1, x1, y2,
        x2]` pixel boxes (`y2`, `x2` exclusive), and bool array
        `(num_crops,)`, True where the crop is flipped horizontally.

    Raises:
        ValueError: for an unknown `num_crops` or a `crop_fraction` out of
            range.

    Example:
    >>> boxes, flips = crop_boxes(256, 340, 1)
    >>> boxes.tolist(), flips.tolist()
    ([[16.0, 58.0, 240.0, 282.0]], [False])
    >>> crop_boxes(240, 320, 3)[0][:, 1].tolist()  # x1 along the width
    [0.0, 40.0, 80.0]
    """
    height = check_positive_int("height", height)
    width = check_positive_int("width", width)
    if isinstance(num_crops, bool) or num_crops not in CROP_FRACTIONS:
        raise ValueError(
            "`num_crops` must be 1 (centre), 3 (along the long side) or 10 "
            "(corners, centre and their flips). "
            f"Received: num_crops={num_crops!r}")
    if crop_fraction is None:
        crop_fraction = CROP_FRACTIONS[num_crops]
    if isinstance(crop_fraction, bool) or not isinstance(
            crop_fraction, numbers.Real) or not 0 < crop_fraction <= 1:
        raise ValueError(
            "`crop_fraction` must be None or a float in (0, 1], the crop "
            "side over the short side of the frame. "
            f"Received: crop_fraction={crop_fraction!r}")
    side = max(1, int(round(crop_fraction * min(height, width))))
    free_y, free_x = height - side, width - side
    if num_crops == 1:
        corners = [(free_y // 2, free_x // 2)]
    elif num_crops == 3:
        if height > width:
            corners = [(y, free_x // 2) for y in (0, free_y // 2, free_y)]
        else:
            corners = [(free_y // 2, x) for x in (0, free_x // 2, free_x)]
    else:
        corners = [(0, 0), (0, free_x), (free_y, 0), (free_y, free_x),
                   (free_y // 2, free_x // 2)] * 2
    boxes = np.array([(y, x, y + side, x + side) for y, x in corners],
                     np.float32)
    flips = np.arange(len(corners)) >= 5
    return boxes, flips


def prefix_covering_order(num_frames):
    """An order of `num_frames` frames in which every prefix covers the video.

    AdaFocusV2's `--sample` reordering (`input_order` of its `main_v2.py`):
    the middle frame `(F - 1) // 2`, the first, the last, then bisection
    points at ever finer levels: at level `q = 2, 4, 8, ...` the
    breakpoints are `b_i = floor(i (F - 1) / q)` for `i = 0 ... q`, and the
    midpoint `floor((b_i + b_(i+1)) / 2)` of each pair of neighbours is
    appended, left to right, unless already taken. The model then sees the
    frames in this order, so the step-`t` prediction of an early-exit model
    has looked at `t + 1` frames spread over the whole video rather than its
    beginning. For 16 frames this gives the original's order `[7, 0, 15, 3,
    11, 1, 5, 9, 13, 2, 4, 6, 8, 10, 12, 14]`.

    Differs from the original only for 1 and 2 frames, where its starting
    triple repeats a frame (`[0, 0, 0]`, `[0, 0, 1]`, not permutations);
    here repeated starting frames are dropped (`[0]`, `[0, 1]`).

    Args:
        num_frames: int >= 1, frames (TSN segments) per video.

    Returns:
        list of `num_frames` distinct ints, a permutation of
        `range(num_frames)`.

    Raises:
        ValueError: for a non-positive `num_frames`.

    Example:
    >>> prefix_covering_order(16)
    [7, 0, 15, 3, 11, 1, 5, 9, 13, 2, 4, 6, 8, 10, 12, 14]
    >>> prefix_covering_order(5)
    [2, 0, 4, 1, 3]
    """
    num_frames = check_positive_int("num_frames", num_frames)
    last = num_frames - 1
    order = list(dict.fromkeys([last // 2, 0, last]))
    taken = set(order)
    level = 2
    while len(order) < num_frames:
        breaks = [(i * last) // level for i in range(level + 1)]
        for a, b in zip(breaks[:-1], breaks[1:]):
            middle = (a + b) // 2
            if middle not in taken:
                taken.add(middle)
                order.append(middle)
        level *= 2
    return order


__all__ = ["CROP_FRACTIONS", "crop_boxes", "dense_clip_indices",
           "prefix_covering_order", "segment_frame_indices",
           "uniform_clip_indices"]
