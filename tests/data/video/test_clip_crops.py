"""Hara's temporal and spatial crops (`deltasparse.data.video.clip_crops`).

References are hand-computed from the rules of `3D-ResNets-PyTorch`
(`temporal_transforms.py`, `spatial_transforms.py`, `dataset.py`); the
pipelines are checked by value on tiny PNG frames whose pixels encode the
frame number, row and column.
"""

import math

import cv2
import numpy as np
import pytest
import tensorflow as tf

from deltasparse.data.video import VideoList
from deltasparse.data.video.clip_crops import CROP_POSITIONS
from deltasparse.data.video.clip_crops import ClipNormalization
from deltasparse.data.video.clip_crops import KINETICS_STD
from deltasparse.data.video.clip_crops import MEANS
from deltasparse.data.video.clip_crops import clip3d_training_dataset
from deltasparse.data.video.clip_crops import clip3d_view_dataset
from deltasparse.data.video.clip_crops import corner_crop_box
from deltasparse.data.video.clip_crops import hara_clip_indices
from deltasparse.data.video.clip_crops import loop_padding
from deltasparse.data.video.clip_crops import multiscale_scales
from deltasparse.data.video.clip_crops import scale_center_crop_shape
from deltasparse.data.video.clip_crops import temporal_center_crop
from deltasparse.data.video.clip_crops import temporal_random_crop


def hara_windows(num_frames, clip_length, num_samples):
    """Hara's `make_dataset` + `LoopPadding`, 1-based, then made 0-based."""
    if num_samples == 1:
        return None
    if num_samples > 1:
        step = max(1, math.ceil((num_frames - 1 - clip_length)
                                / (num_samples - 1)))
    else:
        step = clip_length
    clips = []
    for j in range(1, num_frames, step):
        out = list(range(j, min(num_frames + 1, j + clip_length)))
        for index in out:  # Hara's loop: appends while iterating
            if len(out) >= clip_length:
                break
            out.append(index)
        clips.append([k - 1 for k in out])
    return clips


# --------------------------------------------------------------------------
# Temporal
# --------------------------------------------------------------------------


def test_loop_padding_repeats_cyclically():
    assert loop_padding([7], 3).tolist() == [7, 7, 7]
    assert loop_padding([1, 2, 3, 4], 3).tolist() == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="frame_ids"):
        loop_padding([], 3)


def test_temporal_random_crop_starts_and_looping():
    # F = 20, T = 16: Hara draws randint(0, 20 - 16 - 1) = {0, 1, 2, 3}.
    starts = {int(temporal_random_crop(20, 16, seed=s)[0])
              for s in range(200)}
    assert starts == {0, 1, 2, 3}
    clip = temporal_random_crop(20, 16, seed=5)
    np.testing.assert_array_equal(clip, np.arange(clip[0], clip[0] + 16))
    # F = T + 1: only start 0 (the last full window is never drawn).
    assert {int(temporal_random_crop(17, 16, seed=s)[0])
            for s in range(50)} == {0}
    # Short video: every frame, repeated cyclically.
    assert temporal_random_crop(3, 8, seed=0).tolist() == [
        0, 1, 2, 0, 1, 2, 0, 1]
    # Seeded: same seed, same clip.
    assert temporal_random_crop(100, 16, seed=7).tolist() == (
        temporal_random_crop(100, 16, seed=7).tolist())


def test_temporal_center_crop_by_hand():
    assert temporal_center_crop(10, 4).tolist() == [3, 4, 5, 6]  # 5 - 2
    assert temporal_center_crop(11, 4).tolist() == [3, 4, 5, 6]
    assert temporal_center_crop(20, 16).tolist() == list(range(2, 18))
    assert temporal_center_crop(5, 8).tolist() == [0, 1, 2, 3, 4, 0, 1, 2]


@pytest.mark.parametrize("num_frames", [1, 2, 15, 16, 17, 32, 33, 34, 50])
@pytest.mark.parametrize("num_samples", [0, 3])
def test_hara_clip_indices_equal_hara_make_dataset(num_frames, num_samples):
    ours = hara_clip_indices(num_frames, 16, num_samples).tolist()
    reference = hara_windows(num_frames, 16, num_samples)
    if num_frames == 1:  # Hara gives a one-frame video no clip; we loop it
        assert reference == [] and ours == [[0] * 16]
    else:
        assert ours == reference


def test_test_clips_keep_the_last_partial_window_looped():
    clips = hara_clip_indices(34, 16, 0)
    assert clips.shape == (3, 16)
    assert clips[2].tolist() == [32, 33] * 8
    assert hara_clip_indices(33, 16, 0).shape == (2, 16)  # frame 32 unused
    assert hara_clip_indices(40, 16, 1).tolist() == [list(range(12, 28))]
    with pytest.raises(ValueError, match="num_clips"):
        hara_clip_indices(40, 16, -1)


# --------------------------------------------------------------------------
# Spatial boxes
# --------------------------------------------------------------------------


def test_multiscale_scales_are_powers_of_two_to_minus_quarter():
    np.testing.assert_allclose(multiscale_scales(),
                               [2 ** (-i / 4) for i in range(5)])
    assert multiscale_scales(3, 0.5, 0.8) == [0.8, 0.4, 0.2]
    with pytest.raises(ValueError, match="scale_step"):
        multiscale_scales(5, 1.5)


def test_corner_crop_boxes_by_hand():
    # 6 x 8 frame (h x w), scale 0.5 of the shorter side: side 3.
    boxes = {p: corner_crop_box(6, 8, 0.5, p) for p in CROP_POSITIONS}
    assert boxes == {
        "tl": (0, 0, 3, 3), "tr": (0, 5, 3, 8), "bl": (3, 0, 6, 3),
        "br": (3, 5, 6, 8),
        # Hara's centre: (w/2 - 3//2, h/2 - 3//2) .. (w/2 + 1, h/2 + 1)
        "c": (2, 3, 4, 5)}
    # int(min * scale): 240 * 2^(-1/4) = 201.8 -> 201 pixels.
    y1, x1, y2, x2 = corner_crop_box(240, 320, 2 ** -0.25, "br")
    assert (y2 - y1, x2 - x1, y2, x2) == (201, 201, 240, 320)
    with pytest.raises(ValueError, match="position"):
        corner_crop_box(6, 8, 0.5, "middle")


def test_scale_center_crop_shape_by_hand():
    assert scale_center_crop_shape(240, 320, 112) == ((112, 149), (0, 18))
    assert scale_center_crop_shape(320, 240, 112) == ((149, 112), (18, 0))
    assert scale_center_crop_shape(6, 8, 6) == ((6, 8), (0, 1))


def test_normalization_by_value():
    x = np.array([[[10.0, 120.0, 250.0]]], "float32")
    mean = np.array(MEANS["activitynet"])
    np.testing.assert_allclose(ClipNormalization()(x), x - mean, rtol=1e-5)
    out = ClipNormalization("kinetics", std_norm=True, norm_value=255)(x)
    expected = (x / 255 - np.array(MEANS["kinetics"]) / 255) / (
        np.array(KINETICS_STD) / 255)
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    np.testing.assert_allclose(ClipNormalization(mean_norm=False)(x), x)
    with pytest.raises(ValueError, match="norm_value"):
        ClipNormalization(norm_value=2)
    with pytest.raises(ValueError, match="mean_dataset"):
        ClipNormalization("imagenet")


# --------------------------------------------------------------------------
# Pipelines on hand-made frames
# --------------------------------------------------------------------------


def frame_value(k, height, width):
    """uint8 RGB frame: R = 10 * frame, G = row, B = column."""
    frame = np.zeros((height, width, 3), np.uint8)
    frame[..., 0] = 10 * k
    frame[..., 1] = np.arange(height)[:, None]
    frame[..., 2] = np.arange(width)[None, :]
    return frame


@pytest.fixture()
def tiny_videos(tmp_path):
    """Two videos of PNG frames (lossless): 3 and 10 frames of 6 x 8."""
    paths = []
    for v, frames in enumerate((3, 10)):
        folder = tmp_path / f"video{v}"
        folder.mkdir()
        for k in range(frames):
            cv2.imwrite(str(folder / f"{k}.png"),
                        frame_value(k, 6, 8)[..., ::-1])
        paths.append(str(folder))
    return VideoList(paths=paths, num_frames=[3, 10], labels=[0, 1],
                     class_names=["a", "b"], video_ids=["v0", "v1"],
                     frame_template="{path}/{index}.png")


def test_training_clips_are_the_corner_crop_of_a_looped_window(tiny_videos):
    # scale 0.5 of the shorter side (6) = 3 pixels, resized to 3: the
    # bottom-right 3 x 3 pixels exactly.
    ds = clip3d_training_dataset(
        tiny_videos, 4, image_size=3, scales=[0.5], crop_positions=("br",),
        horizontal_flip=False, batch_size=2, shuffle=False, seed=0, epoch=0)
    clips, labels = next(iter(ds))
    clips = clips.numpy()
    np.testing.assert_array_equal(labels.numpy(), [[1, 0], [0, 1]])
    # Video 0 has 3 frames: looped 0, 1, 2, 0.
    np.testing.assert_array_equal(clips[0, :, 0, 0, 0], [0, 10, 20, 0])
    np.testing.assert_array_equal(clips[0, 0, :, :, 1],
                                  np.repeat([[3], [4], [5]], 3, 1))
    np.testing.assert_array_equal(clips[0, 0, :, :, 2],
                                  np.repeat([[5, 6, 7]], 3, 0))
    # Video 1 (10 frames): 4 consecutive frames from a start in 0..5.
    first = clips[1, 0, 0, 0, 0] / 10
    assert first in range(6)
    np.testing.assert_array_equal(clips[1, :, 0, 0, 0] / 10,
                                  first + np.arange(4))


def test_training_flip_and_positions_vary_per_clip_and_repeat_per_epoch(
        tiny_videos):
    def epoch(e):
        ds = clip3d_training_dataset(tiny_videos, 2, image_size=3,
                                     scales=[0.5], batch_size=2,
                                     shuffle=True, seed=3, epoch=e)
        return [c.numpy() for c, _ in ds]

    assert all(np.array_equal(a, b) for a, b in zip(epoch(4), epoch(4)))
    corners = set()
    for e in range(12):
        for clip in epoch(e)[0]:
            columns = clip[0, 0, :, 2]
            rows = clip[0, :, 0, 1]
            # One crop per clip: every frame has the same box and flip.
            np.testing.assert_array_equal(clip[:, :, :, 1:],
                                          np.broadcast_to(clip[:1, :, :, 1:],
                                                          clip[:, :, :, 1:].shape))
            corners.add((int(rows[0]), int(columns[0]), int(columns[-1])))
    # left/right edges seen both ways (flipped: the columns decrease)
    assert any(c[1] > c[2] for c in corners) and any(
        c[1] < c[2] for c in corners)
    assert {c[0] for c in corners} >= {0, 3}


def test_view_dataset_all_clips_and_centre_crop(tiny_videos):
    ds = clip3d_view_dataset(tiny_videos, 4, num_clips=0, image_size=6,
                             batch_size=8)
    # 3 frames -> 1 clip; 10 frames -> starts 0, 4, 8 -> 3 clips.
    np.testing.assert_array_equal(ds.clips_per_video, [1, 3])
    assert ds.num_views == 4 and ds.num_clips is None
    clips, labels, index = next(iter(ds))
    np.testing.assert_array_equal(index.numpy(), [0, 1, 1, 1])
    np.testing.assert_array_equal(clips.numpy()[:, :, 0, 0, 0] / 10, [
        [0, 1, 2, 0], [0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 8, 9]])
    # Scale(6) keeps 6 x 8, CenterCrop(6) takes columns 1..6.
    np.testing.assert_array_equal(clips.numpy()[0, 0, 0, :, 2],
                                  np.arange(1, 7))
    centre = clip3d_view_dataset(tiny_videos, 4, num_clips=1, image_size=6)
    assert centre.num_clips == 1 and centre.views_per_video == 1
    clips = next(iter(centre))[0].numpy()
    np.testing.assert_array_equal(clips[1, :, 0, 0, 0] / 10, [3, 4, 5, 6])


def test_pipeline_errors(tiny_videos):
    with pytest.raises(ValueError, match="image_size"):
        clip3d_view_dataset(tiny_videos, 4, image_size=(6, 8))
    with pytest.raises(ValueError, match="crop_positions"):
        clip3d_training_dataset(tiny_videos, 4, crop_positions=("x",))
    with pytest.raises(ValueError, match="scales"):
        clip3d_training_dataset(tiny_videos, 4, scales=[0.0])
    with pytest.raises(ValueError, match="videos"):
        clip3d_view_dataset([], 4)
    assert tf.is_tensor(ClipNormalization()(np.zeros((1, 3), "float32")))
