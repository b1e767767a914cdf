"""The synthetic small-object focus dataset (`synthetic_focus`)."""

import json
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


def _read_video(videos, i):
    return np.stack([cv2.imread(videos.frame_path(i, k))[..., ::-1]
                     for k in range(videos.num_frames[i])])


def test_matched_scenes_differ_only_inside_the_object(tmp_path):
    # Video k of every class shows the same scene: outside the object's
    # box every pixel is equal, inside the interior differs.
    root = sf.make_synthetic_focus(str(tmp_path / "m"), classes=3,
                                   train_per_class=2, test_per_class=1,
                                   frames=3, size=48, matched_scenes=True)
    train = sf.synthetic_focus_videos(root, "train")
    boxes = sf.object_boxes(root, train)
    labels = train.single_labels()
    first = [int(np.flatnonzero(labels == c)[0]) for c in range(3)]
    np.testing.assert_array_equal(boxes[first[0]], boxes[first[1]])
    a, b = _read_video(train, first[0]), _read_video(train, first[1])
    y1, x1, y2, x2 = boxes[first[0], 0]
    outside = np.ones(a.shape[1:3], bool)
    outside[y1:y2, x1:x2] = False
    np.testing.assert_array_equal(a[0][outside], b[0][outside])
    assert np.abs(a[0][y1 + 2:y2 - 2, x1 + 2:x2 - 2].astype(int)
                  - b[0][y1 + 2:y2 - 2, x1 + 2:x2 - 2]).max() > 40
    # Without the option, videos of two classes are different scenes;
    # train and test scenes stay distinct with it.
    plain = sf.make_synthetic_focus(str(tmp_path / "p"), classes=3,
                                    train_per_class=2, test_per_class=1,
                                    frames=3, size=48)
    plain_train = sf.synthetic_focus_videos(plain, "train")
    c, d = _read_video(plain_train, first[0]), _read_video(plain_train,
                                                           first[1])
    assert not np.array_equal(c[0][outside], d[0][outside])
    test = sf.synthetic_focus_videos(root, "test")
    assert not np.array_equal(sf.object_boxes(root, test)[0],
                              boxes[first[0]])


def test_ring_groups_colour_the_rings_by_group():
    # 5 classes in 2 groups: 3 + 2 (np.array_split); the ring pixels wear
    # the group's colour (noise 0: exact), distractors keep away from both.
    spec = sf._make_spec(None, 1, 1, 2, 48, 12, 3, 48.0, 0.0, 0,
                         ring_groups=2)
    groups = [spec.ring_group(name) for name in sf.CLASS_NAMES]
    assert groups == [0, 0, 0, 1, 1]
    for group in (0, 1):
        video, positions = sf.render_focus_video(
            "flat", frames=2, size=48, noise=0.0, ring_group=group,
            ring_groups=2)
        y, x = positions[0]
        np.testing.assert_array_equal(video[0, y, x],
                                      sf.RING_COLOURS[group])
        np.testing.assert_array_equal(video[0, y + 11, x + 5],
                                      sf.RING_COLOURS[group])
    # The group changes the ring only: every other pixel is the same.
    a, _ = sf.render_focus_video("flat", size=48, noise=0.0, ring_group=0,
                                 ring_groups=2)
    b, _ = sf.render_focus_video("flat", size=48, noise=0.0, ring_group=1,
                                 ring_groups=2)
    differs = np.any(a != b, axis=-1)
    assert differs.any() and differs.sum() <= a.shape[0] * (144 - 64)
    with pytest.raises(ValueError, match="`ring_group`"):
        sf.render_focus_video("flat", ring_group=1)
    with pytest.raises(ValueError, match="`ring_groups`.*at most 3"):
        sf.render_focus_video("flat", ring_groups=4)
    with pytest.raises(ValueError, match="`ring_groups`.*number of classes"):
        sf._make_spec(2, 1, 1, 2, 48, 12, 3, 48.0, 0.0, 0, ring_groups=3)


def test_speed_sets_how_far_the_object_moves_per_frame():
    def steps(speed):
        _, positions = sf.render_focus_video("flat", frames=8, size=96,
                                             speed=speed, seed=3)
        return np.abs(np.diff(positions, axis=0)).max(axis=1)
    slow, fast = steps((0.25, 1.0)), steps((3.0, 6.0))
    assert slow.max() <= 2  # at most 1 pixel per frame per axis, rounded
    assert fast.max() >= 3 and fast.max() <= 7
    np.testing.assert_array_equal(steps((0.0, 0.0)), 0)
    for bad in ((1.0, 0.5), (-1.0, 1.0), (1.0,), "fast", (0.0, np.inf)):
        with pytest.raises(ValueError, match="`speed`"):
            sf.render_focus_video("flat", speed=bad)


def test_new_options_are_recorded_only_away_from_their_defaults(tmp_path):
    small = dict(classes=2, train_per_class=1, test_per_class=1, frames=2,
                 size=32)
    old = sf.make_synthetic_focus(str(tmp_path / "old"), **small)
    with open(os.path.join(old, "synthetic_focus.json")) as f:
        marker = f.read()
    for key in ("speed", "ring_groups", "matched_scenes"):
        assert key not in marker  # earlier datasets keep their marker
    new = sf.make_synthetic_focus(str(tmp_path / "new"), speed=(2, 3),
                                  ring_groups=2, matched_scenes=True,
                                  **small)
    with open(os.path.join(new, "synthetic_focus.json")) as f:
        marker = f.read()
    recorded = json.loads(marker)
    assert recorded["speed"] == [2.0, 3.0]
    assert recorded["ring_groups"] == 2
    assert recorded["matched_scenes"] is True
    with pytest.raises(ValueError, match="`matched_scenes`"):
        sf.make_synthetic_focus(str(tmp_path / "x"), matched_scenes="yes",
                                **small)
    assert sf.main(["--root", str(tmp_path / "cli"), "--classes", "2",
                    "--train-per-class", "1", "--test-per-class", "1",
                    "--frames", "2", "--size", "32", "--speed", "2", "3",
                    "--ring-groups", "2", "--matched-scenes"]) == 0
    with open(os.path.join(str(tmp_path / "cli"),
                           "synthetic_focus.json")) as f:
        assert f.read() == marker
