"""The synthetic small-object focus dataset (`synthetic_focus`)."""

import os

import cv2
import numpy as np
import pytest

from deltasparse.data.datasets import synthetic_focus as sf
from deltasparse.data.video.segment_crops import segment_training_dataset
from deltasparse.data.video.segment_crops import segment_view_dataset

SMALL = dict(classes=3, train_per_class=3, test_per_class=2, frames=4,
             size=48)


@pytest.fixture(scope="module")
def small_root(tmp_path_factory):
    return sf.make_synthetic_focus(str(tmp_path_factory.mktemp("focus")),
                                   **SMALL)


def _area_downsample(image, factor=4):
    h, w = image.shape[:2]
    return image.reshape(h // factor, factor, w // factor, factor,
                         -1).mean(axis=(1, 3))


def test_layout_lists_and_class_balance(small_root):
    names = list(sf.CLASS_NAMES[:3])
    with open(os.path.join(small_root, "classInd.txt")) as f:
        assert f.read() == "1 horizontal\n2 vertical\n3 checker\n"
    train = sf.synthetic_focus_videos(small_root, "train")
    test = sf.synthetic_focus_videos(small_root, "test")
    assert train.class_names == names and test.class_names == names
    assert np.bincount(train.single_labels()).tolist() == [3, 3, 3]
    assert np.bincount(test.single_labels()).tolist() == [2, 2, 2]
    assert not set(train.video_ids) & set(test.video_ids)
    assert train.num_frames.tolist() == [4] * 9
    assert train.name == "synthetic_focus/train" and not train.multilabel
    # Every frame of every listed video exists, PNG, 48 x 48 RGB.
    for videos in (train, test):
        for i in range(len(videos)):
            for k in range(4):
                frame = cv2.imread(videos.frame_path(i, k))
                assert frame is not None and frame.shape == (48, 48, 3)
    leftovers = [d for _, ds, fs in os.walk(small_root) for d in ds + fs
                 if ".tmp" in d]
    assert leftovers == []


def test_generation_is_deterministic_and_idempotent(small_root, tmp_path):
    other = sf.make_synthetic_focus(str(tmp_path / "again"), **SMALL)
    videos = sf.synthetic_focus_videos(small_root, "train")
    again = sf.synthetic_focus_videos(other, "train")
    assert videos.video_ids == again.video_ids
    for i in (0, 4, 8):
        with open(videos.frame_path(i, 2), "rb") as a, open(
                again.frame_path(i, 2), "rb") as b:
            assert a.read() == b.read()
    # Same arguments: returns at once; other arguments: refused.
    assert sf.make_synthetic_focus(small_root, **SMALL) == small_root
    with pytest.raises(ValueError, match="`root` already holds"):
        sf.make_synthetic_focus(small_root, **{**SMALL, "seed": 1})
    a, _ = sf.render_focus_video("dots", 3, 48, seed=0, index=1)
    b, _ = sf.render_focus_video("dots", 3, 48, seed=0, index=1)
    c, _ = sf.render_focus_video("dots", 3, 48, seed=1, index=1)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a.astype(int) - c).mean() > 5


def test_object_lies_inside_the_frame_and_shows_its_ring(small_root):
    test = sf.synthetic_focus_videos(small_root, "test")
    boxes = sf.object_boxes(small_root, test)
    assert boxes.shape == (6, 4, 4)
    assert np.all(boxes[..., :2] >= 0) and np.all(boxes[..., 2:] <= 48)
    np.testing.assert_array_equal(boxes[..., 2:] - boxes[..., :2], 12)
    ring = np.array(sf.RING_COLOUR, float)
    for i in range(len(test)):
        for k in range(4):
            frame = cv2.imread(test.frame_path(i, k))[..., ::-1].astype(float)
            y1, x1, y2, x2 = boxes[i, k]
            border = np.concatenate([frame[y1, x1:x2], frame[y2 - 1, x1:x2],
                                     frame[y1:y2, x1], frame[y1:y2, x2 - 1]])
            assert np.abs(border - ring).max() < 12  # noise std 2
    # The object moves (slowly) in some video.
    steps = np.abs(np.diff(boxes[..., :2], axis=1))
    assert steps.max() <= 2 and steps.sum() > 0
    with pytest.raises(ValueError, match="`videos` must come from"):
        sf.object_boxes(small_root, sf.synthetic_focus_videos(
            sf.make_synthetic_focus(str(small_root) + "_x", **{
                **SMALL, "classes": ["flat", "dots"]}), "test"))


def test_low_resolution_hides_the_class_full_resolution_shows_it():
    # Two classes with the same seed and index share everything but the
    # pattern inside the ring.
    videos = {c: sf.render_focus_video(c, 2, 128, seed=3, index=7, noise=0)
              for c in sf.CLASS_NAMES}
    positions = videos["flat"][1]
    for c in sf.CLASS_NAMES:
        np.testing.assert_array_equal(videos[c][1], positions)
    y, x = positions[0]
    window = np.s_[max(0, y // 4 - 1):(y + 12) // 4 + 2,
                   max(0, x // 4 - 1):(x + 12) // 4 + 2]
    for a in sf.CLASS_NAMES:
        for b in sf.CLASS_NAMES:
            if a >= b:
                continue
            fa = videos[a][0][0].astype(float)
            fb = videos[b][0][0].astype(float)
            full = np.abs(fa - fb)
            patch = full[y + 2:y + 10, x + 2:x + 10]
            assert patch.mean() > 20, (a, b)  # full resolution: different
            outside = full.copy()
            outside[y:y + 12, x:x + 12] = 0
            assert outside.max() == 0  # the rest is the same frame
            low = np.abs(_area_downsample(fa) - _area_downsample(fb))
            # 4x area-downsampled: the same blob up to the blocks that cut
            # the pattern at an odd row or column (at most 3 x 3 of its
            # pixels: 2 x 3 x 3 x contrast / 16 = 18 grey levels between
            # two striped classes), and identical where whole blocks lie.
            assert low[window].max() <= 18 + 1e-6, (a, b)
            inner_y = -(-(y + 2) // 4)  # the 4-aligned blocks inside the
            inner_x = -(-(x + 2) // 4)  # 8 x 8 interior (one at least)
            assert low[inner_y, inner_x].max() < 1e-9, (a, b)
            assert low[window].mean() < 0.25 * patch.mean(), (a, b)


def test_patterns_have_the_same_mean_in_every_2x2_block():
    for c in sf.CLASS_NAMES:
        video, positions = sf.render_focus_video(c, 1, 64, seed=0, index=2,
                                                 noise=0)
        y, x = positions[0]
        interior = video[0, y + 2:y + 10, x + 2:x + 10, 0].astype(float)
        blocks = interior.reshape(4, 2, 4, 2).mean(axis=(1, 3))
        np.testing.assert_array_equal(blocks, 128.0)
        assert np.all(video[0, y + 2:y + 10, x + 2:x + 10, 0] == video[
            0, y + 2:y + 10, x + 2:x + 10, 2])  # grey


def test_object_coverage_by_hand():
    boxes = np.array([10, 20, 22, 32])  # 12 x 12 at (10, 20)
    # Frame 64, patch 16: top-left = position * 48.
    covering = np.array([8 / 48, 18 / 48])  # patch [8, 24) x [18, 34)
    half = np.array([16 / 48, 20 / 48])  # rows [16, 32): 6 of 12 rows
    away = np.array([1.0, 1.0])
    np.testing.assert_allclose(
        sf.object_coverage(np.stack([covering, half, away]), boxes, 16, 64),
        [1.0, 0.5, 0.0])


def test_pipelines_read_the_dataset(small_root):
    train = sf.synthetic_focus_videos(small_root, "train")
    ds = segment_training_dataset(train, 4, image_size=48, scales=(1.0,),
                                  frame_order="prefix_covering",
                                  batch_size=4, seed=0, epoch=0)
    frames, labels = next(iter(ds))
    assert frames.shape == (4, 4, 48, 48, 3) and labels.shape == (4, 3)
    test = sf.synthetic_focus_videos(small_root, "test")
    view = segment_view_dataset(test, 4, image_size=48, full_frame=True,
                                preprocessing=None, batch_size=6)
    frames, labels, index = next(iter(view))
    assert frames.shape == (6, 4, 48, 48, 3)
    assert index.numpy().tolist() == list(range(6))
    # Whole frames at their own size are the stored pixels.
    stored = cv2.imread(test.frame_path(1, 0))[..., ::-1]
    np.testing.assert_array_equal(frames[1, 0].numpy(), stored)
    # In the prefix order, `frame_indices` aligns the boxes with the steps:
    # a patch placed on the aligned box holds the ring in every step.
    view = segment_view_dataset(test, 4, image_size=48, full_frame=True,
                                frame_order="prefix_covering",
                                preprocessing=None, batch_size=6)
    frames = next(iter(view))[0].numpy()
    assert view.frame_indices[0].tolist() == [1, 0, 3, 2]
    boxes = sf.object_boxes(small_root, test)[
        np.arange(6)[:, None], view.frame_indices]
    ring = np.array(sf.RING_COLOUR, float)
    for i in range(6):
        for t in range(4):
            y1, x1, _, _ = boxes[i, t]
            assert np.abs(frames[i, t, y1, x1] - ring).max() < 12
    positions = boxes[..., :2] / (48 - 12)  # a 12-pixel patch on the box
    np.testing.assert_allclose(sf.object_coverage(positions, boxes, 12, 48),
                               1.0)


def test_ensure_uses_the_cache_and_hashes_other_arguments(tmp_path,
                                                          monkeypatch):
    monkeypatch.setenv("DELTASPARSE_HOME", str(tmp_path / "home"))
    small = dict(classes=2, train_per_class=1, test_per_class=1, frames=2,
                 size=32)
    root = sf.ensure_synthetic_focus(**small)
    assert root.startswith(str(tmp_path / "home" / "datasets" /
                               "synthetic_focus_"))
    assert sf.ensure_synthetic_focus(**small) == root
    assert sf.ensure_synthetic_focus(**{**small, "seed": 2}) != root
    assert sf.main(["--root", str(tmp_path / "cli"), "--classes", "2",
                    "--train-per-class", "1", "--test-per-class", "1",
                    "--frames", "2", "--size", "32"]) == 0
    assert len(sf.synthetic_focus_videos(str(tmp_path / "cli"), "test")) == 2


def test_errors_name_the_argument(tmp_path, capsys):
    with pytest.raises(ValueError, match="`class_name`"):
        sf.render_focus_video("stripes")
    with pytest.raises(ValueError, match="`object_size`"):
        sf.render_focus_video("flat", size=16, object_size=14)
    with pytest.raises(ValueError, match="`contrast`"):
        sf.render_focus_video("flat", contrast=100)
    with pytest.raises(ValueError, match="`classes`"):
        sf.make_synthetic_focus(str(tmp_path), classes=["flat", "flat"])
    with pytest.raises(ValueError, match="`train_per_class`"):
        sf.make_synthetic_focus(str(tmp_path), train_per_class=0)
    with pytest.raises(FileNotFoundError, match="make_synthetic_focus"):
        sf.synthetic_focus_videos(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="`subset`"):
        sf.synthetic_focus_videos(str(tmp_path), "val")
    assert sf.main(["--root", str(tmp_path / "bad"), "--size", "8"]) == 1
    assert "error: `size`" in capsys.readouterr().err


def test_cell_size_two_keeps_the_pattern_under_a_half_pixel_shift():
    # A bilinear patch at a half-pixel offset averages neighbouring
    # pixels: 1-pixel vertical stripes become flat grey, 2-pixel ones keep
    # their swing (the learned position then sees the object, not the
    # sub-pixel phase).
    swings = {}
    for cell in (1, 2):
        video, positions = sf.render_focus_video(
            "vertical", 1, 64, object_size=16, seed=0, index=2, noise=0,
            cell_size=cell)
        y, x = positions[0]
        interior = video[0, y + 2:y + 14, x + 2:x + 14, 0].astype(float)
        shifted = 0.5 * (interior[:, :-1] + interior[:, 1:])
        swings[cell] = shifted.max() - shifted.min()
        # Same mean over every (2 * cell)-square block (a 4x downsampled
        # glance cannot tell the class for cell 1 or 2).
        blocks = interior[:12 // (2 * cell) * 2 * cell,
                          :12 // (2 * cell) * 2 * cell].reshape(
            12 // (2 * cell), 2 * cell, 12 // (2 * cell), 2 * cell)
        np.testing.assert_array_equal(blocks.mean(axis=(1, 3)), 128.0)
    assert swings[1] == 0.0
    assert swings[2] >= 48.0  # half the 96-level swing survives at least


def test_cell_size_is_recorded_only_when_not_one(tmp_path):
    small = dict(classes=2, train_per_class=1, test_per_class=1, frames=2,
                 size=32)
    old = sf.make_synthetic_focus(str(tmp_path / "one"), **small)
    with open(os.path.join(old, "synthetic_focus.json")) as f:
        assert "cell_size" not in f.read()  # earlier datasets stay valid
    two = sf.make_synthetic_focus(str(tmp_path / "two"), cell_size=2,
                                  **small)
    with open(os.path.join(two, "synthetic_focus.json")) as f:
        assert '"cell_size": 2' in f.read()
    with pytest.raises(ValueError, match="other arguments|holds"):
        sf.make_synthetic_focus(old, cell_size=2, **small)
    with pytest.raises(ValueError, match="`cell_size`"):
        sf.render_focus_video("flat", cell_size=0)
    with pytest.raises(ValueError, match="`cell_size`.*at most 4"):
        sf.render_focus_video("flat", object_size=12, cell_size=5)
