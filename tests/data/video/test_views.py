"""Tests of the multi-view test pipeline and the one-clip training pipeline.

The frames are painted so that every value says where it came from: red
= 10 x the frame number, green = 8 x the column, blue = 10 x the row. So
the frames and crops read back can be checked against the hand-computed
indices and boxes, and against an independent NumPy crop +
`tf.image.resize` reference.
"""

import os

import cv2
import numpy as np
import pytest
import tensorflow as tf

from deltasparse.data.video import VideoList
from deltasparse.data.video import crop_boxes
from deltasparse.data.video import dense_clip_indices
from deltasparse.data.video import epoch_seed
from deltasparse.data.video import index_clips
from deltasparse.data.video import segment_frame_indices
from deltasparse.data.video import uniform_clip_indices
from deltasparse.data.video import video_dataset
from deltasparse.data.video import view_dataset

HEIGHT, WIDTH = 16, 24


def painted_frame(k, height=HEIGHT, width=WIDTH):
    """RGB uint8 frame: R = 10 k, G = 8 x, B = 10 y."""
    y, x = np.mgrid[:height, :width]
    return np.stack([np.full_like(x, 10 * k), 8 * x, 10 * y],
                    axis=-1).astype(np.uint8)


def _write_png_video(folder, num_frames):
    os.makedirs(folder)
    for k in range(num_frames):  # img_00001.png is frame 0
        cv2.imwrite(os.path.join(folder, f"img_{k + 1:05d}.png"),
                    painted_frame(k)[..., ::-1])


@pytest.fixture(scope="module")
def png_videos(tmp_path_factory):
    """Three PNG frame folders (10, 3 and 24 frames), multi-label."""
    base = tmp_path_factory.mktemp("png")
    counts = [10, 3, 24]
    paths = []
    for i, n in enumerate(counts):
        paths.append(str(base / f"video{i}"))
        _write_png_video(paths[-1], n)
    return VideoList(paths=paths, num_frames=counts,
                     labels=[(0, 2), (1,), (2,)],
                     class_names=["a", "b", "c"],
                     video_ids=["v0", "v1", "v2"],
                     frame_template="{path}/img_{index:05d}.png",
                     frame_offset=1, name="painted")


def _collect(ds):
    clips, labels, index = [], [], []
    for x, y, v in ds:
        clips.append(x.numpy())
        labels.append(y.numpy())
        index.append(v.numpy())
    return (np.concatenate(clips), np.concatenate(labels),
            np.concatenate(index))


def _reference_view(frame_ids, box, flip, image_size):
    """NumPy crop (+ mirror) of painted frames, resized by tf.image.resize."""
    y1, x1, y2, x2 = (int(v) for v in box)
    frames = np.stack([painted_frame(k) for k in frame_ids]).astype(np.float32)
    crop = frames[:, y1:y2, x1:x2]
    if flip:
        crop = crop[:, :, ::-1]
    return tf.image.resize(crop, image_size).numpy()


# --------------------------------------------------------------------------
# view_dataset
# --------------------------------------------------------------------------


@pytest.mark.parametrize("num_crops, image_size", [
    (1, (14, 14)),   # centre square of side 14 (0.875 x 16), not resized
    (3, (8, 8)),     # three 16-pixel squares, downsampled by 2
    (10, (7, 7)),    # corners + centre and flips, side 14 downsampled by 2
])
def test_views_read_the_right_frames_and_crops(png_videos, num_crops,
                                               image_size):
    ds = view_dataset(png_videos, clip_length=4, num_clips=2,
                      num_crops=num_crops, frame_stride=2,
                      image_size=image_size, preprocessing=None,
                      batch_size=5)
    views = 2 * num_crops
    assert (ds.num_clips, ds.num_crops, ds.views_per_video) == (
        2, num_crops, views)
    assert ds.num_views == 3 * views and len(ds) == -(-3 * views // 5)
    clips, labels, index = _collect(ds)
    assert clips.shape == (3 * views, 4, *image_size, 3)
    assert clips.dtype == np.float32
    assert index.dtype == np.int32
    assert index.tolist() == np.repeat([0, 1, 2], views).tolist()
    assert np.array_equal(labels, np.repeat(png_videos.label_matrix(), views,
                                            axis=0))
    boxes, flips = crop_boxes(HEIGHT, WIDTH, num_crops)
    row = 0
    for v, n in enumerate(png_videos.num_frames):
        frame_ids = uniform_clip_indices(int(n), 4, 2, frame_stride=2)
        for c in range(2):
            for box, flip in zip(boxes, flips):
                expected = _reference_view(frame_ids[c], box, flip,
                                           image_size)
                np.testing.assert_allclose(clips[row], expected, atol=1e-3)
                row += 1
    # Spot check by hand, video 0 (F = 10): span 8, avg 3 / 2 = 1.5, clip
    # starts int(0.75) = 0 and int(2.25) = 2: frames 0, 2, 4, 6 / 2, 4, 6, 8.
    first_clip, second_clip = clips[0], clips[num_crops]
    assert first_clip[:, 0, 0, 0].tolist() == [0, 20, 40, 60]
    assert second_clip[:, 0, 0, 0].tolist() == [20, 40, 60, 80]


def test_centre_crop_pixels_by_hand(png_videos):
    ds = view_dataset(png_videos.subset([0]), 1, num_crops=1,
                      image_size=(14, 14), preprocessing=None)
    (clip,), _, _ = _collect(ds)
    # Side 14, top (16 - 14) // 2 = 1, left (24 - 14) // 2 = 5.
    columns = [8.0 * (5 + x) for x in range(14)]
    assert clip[0, :, :, 1].tolist() == [columns] * 14
    assert clip[0, :, 0, 2].tolist() == [10.0 * (1 + y) for y in range(14)]


def test_ten_crop_flips_mirror_the_columns(png_videos):
    ds = view_dataset(png_videos.subset([0]), 1, num_crops=10,
                      image_size=(14, 14), preprocessing=None, batch_size=10)
    clips, _, _ = _collect(ds)
    columns = clips[:, 0, 0, :, 1] / 8  # green = 8 x
    lefts = [0, 10, 0, 10, 5]
    for i, left in enumerate(lefts):
        assert columns[i].tolist() == list(range(left, left + 14))
        assert columns[5 + i].tolist() == list(range(left + 13, left - 1, -1))
    tops = clips[:, 0, :, 0, 2][:, 0] / 10
    assert tops.tolist() == [0, 0, 2, 2, 1] * 2


def test_sliding_views_cover_every_non_overlapping_clip(png_videos):
    ds = view_dataset(png_videos, clip_length=4, sampling="sliding",
                      image_size=(8, 8), preprocessing=None, batch_size=4)
    # F = 10: clips 0-3, 4-7; F = 3: one looped clip 0, 1, 2, 0;
    # F = 24: six clips.
    assert ds.num_clips is None and ds.views_per_video is None
    assert ds.clips_per_video.tolist() == [2, 1, 6]
    assert ds.num_views == 9 and len(ds) == 3
    clips, _, index = _collect(ds)
    assert index.tolist() == [0, 0, 1] + [2] * 6
    frames = (clips[:, :, 0, 0, 0] / 10).round().astype(int).tolist()
    assert frames[:3] == [[0, 1, 2, 3], [4, 5, 6, 7], [0, 1, 2, 0]]
    assert frames[3:] == [list(range(s, s + 4)) for s in range(0, 24, 4)]
    overlap = view_dataset(png_videos.subset([0]), 4, sampling="sliding",
                           sequence_stride=3, image_size=(8, 8))
    assert overlap.num_views == 3  # starts 0, 3, 6


def test_segment_views_take_segment_centres(png_videos):
    ds = view_dataset(png_videos, clip_length=4, sampling="segments",
                      num_crops=3, image_size=(8, 8), preprocessing=None)
    assert ds.views_per_video == 3 and ds.clip_length == 4
    clips, _, _ = _collect(ds)
    frames = (clips[::3, :, 0, 0, 0] / 10).round().astype(int).tolist()
    assert frames == [segment_frame_indices(int(n), 4, False).tolist()
                      for n in png_videos.num_frames]
    assert frames[0] == [1, 3, 6, 8]


def test_views_preprocessing_is_applied(png_videos):
    ds = view_dataset(png_videos.subset([0]), 1, image_size=(14, 14),
                      preprocessing="caffe")
    (clip,), _, _ = _collect(ds)
    # caffe: BGR minus the ImageNet means; channel 0 is blue = 10 (1 + y).
    np.testing.assert_allclose(clip[0, :, 0, 0],
                               10.0 * (1 + np.arange(14)) - 103.939,
                               atol=1e-3)


def test_view_dataset_errors(png_videos):
    empty = VideoList(paths=["a", "b"], num_frames=[4, 0], labels=[0, 0],
                      class_names=["x"], video_ids=["ok.avi", "empty.avi"])
    with pytest.raises(ValueError, match="'empty.avi'"):
        view_dataset(empty, 2)
    with pytest.raises(ValueError, match="`num_clips` must be 1"):
        view_dataset(png_videos, 4, num_clips=2, sampling="segments")
    with pytest.raises(ValueError, match="Received: sampling='dense'"):
        view_dataset(png_videos, 4, sampling="dense")
    with pytest.raises(ValueError, match="Received: num_crops=5"):
        view_dataset(png_videos, 4, num_crops=5)
    with pytest.raises(ValueError, match="`videos` must be"):
        view_dataset(["a.avi"], 4)


# --------------------------------------------------------------------------
# Prepared UCF-style folders: ClipIndex.video_list(), JPEG frames and .avi
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ucf_root(tmp_path_factory):
    """`test/<Class>/<v>.avi` (MJPG) + `test_frames/<Class>/<v>.avi_<k>.jpg`.

    Every frame is a flat grey of 10 x its number, which survives JPEG.
    """
    base = tmp_path_factory.mktemp("ucf")
    videos = {"b": [("v_b_1.avi", 7)], "a": [("v_a_2.avi", 9),
                                              ("v_a_1.avi", 5)]}
    for cls, items in videos.items():
        os.makedirs(base / "test" / cls)
        os.makedirs(base / "test_frames" / cls)
        for name, n in items:
            writer = cv2.VideoWriter(str(base / "test" / cls / name),
                                     cv2.VideoWriter_fourcc(*"MJPG"), 25,
                                     (WIDTH, HEIGHT))
            for k in range(n):
                img = np.full((HEIGHT, WIDTH, 3), 10 * k, np.uint8)
                writer.write(img)
                cv2.imwrite(str(base / "test_frames" / cls / f"{name}_{k}.jpg"),
                            img)
            writer.release()
    return str(base)


@pytest.mark.parametrize("source", ["frames", "video"])
def test_clip_index_video_list_reads_back(ucf_root, source):
    with pytest.warns(UserWarning, match="shorter than one clip"):
        index = index_clips(ucf_root, 6, subset="test", source=source,
                            progress=False)
    videos = index.video_list()
    assert videos.video_ids == ["a/v_a_1.avi", "a/v_a_2.avi", "b/v_b_1.avi"]
    assert videos.num_frames.tolist() == [5, 9, 7]
    assert videos.labels == [(0,), (0,), (1,)]
    assert videos.class_names == ["a", "b"] and not videos.multilabel
    assert videos.name == os.path.basename(ucf_root) + "/test"
    if source == "frames":
        assert videos.frame_template == "{path}_{index}.jpg"
        assert videos.frame_path(0, 3) == os.path.join(
            ucf_root, "test_frames", "a", "v_a_1.avi_3.jpg")
    else:
        assert videos.frame_template is None
        assert videos.paths[2] == os.path.join(ucf_root, "test", "b",
                                               "v_b_1.avi")
    # The 5-frame video is shorter than a 6-frame clip but still a video.
    ds = view_dataset(videos, 3, num_clips=2, image_size=(8, 8),
                      preprocessing=None, batch_size=6)
    clips, labels, index_ = _collect(ds)
    assert index_.tolist() == [0, 0, 1, 1, 2, 2]
    assert labels[:, 1].tolist() == [0, 0, 0, 0, 1, 1]
    grey = clips[:, :, :, :, 0].mean(axis=(2, 3)) / 10
    expected = np.concatenate([uniform_clip_indices(int(n), 3, 2)
                               for n in videos.num_frames])
    np.testing.assert_allclose(grey, expected, atol=0.4)
    if source == "video":  # clip by clip, seeking: the same views
        seeking = view_dataset(videos, 3, num_clips=2, image_size=(8, 8),
                               preprocessing=None, video_seek=True)
        np.testing.assert_allclose(_collect(seeking)[0], clips, atol=1e-4)


def test_video_list_copies_unreadable(tmp_path, ucf_root):
    import shutil
    root = tmp_path / "copy"
    shutil.copytree(ucf_root, root)
    with open(root / "test" / "a" / "v_a_3.avi", "w") as f:
        f.write("not a video")
    with pytest.warns(UserWarning, match="unreadable"):
        videos = index_clips(str(root), 2, subset="test", source="video",
                             progress=False).video_list()
    assert [vid for vid, _ in videos.unreadable] == ["a/v_a_3.avi"]
    assert "a/v_a_3.avi" not in videos.video_ids


# --------------------------------------------------------------------------
# video_dataset
# --------------------------------------------------------------------------


def _frames_of(clips):
    return (clips[:, :, 0, 0, 0] / 10).round().astype(int)


def test_video_dataset_epoch_is_a_function_of_seed_and_epoch(png_videos):
    def epoch(e, **kwargs):
        ds = video_dataset(png_videos, 3, frame_stride=2, seed=5, epoch=e,
                           image_size=(HEIGHT, WIDTH), preprocessing=None,
                           batch_size=2, **kwargs)
        return [(x.numpy(), y.numpy()) for x, y in ds]

    first = epoch(1, shuffle=False)
    assert len(first) == 2
    clips = np.concatenate([x for x, _ in first])
    labels = np.concatenate([y for _, y in first])
    assert np.array_equal(labels, png_videos.label_matrix())
    # The sampler's generator is seeded with (epoch seed, video index).
    r = epoch_seed(5, 1)
    expected = [dense_clip_indices(int(n), 3, 2, 1, True,
                                   np.random.default_rng([r, v]))[0]
                for v, n in enumerate(png_videos.num_frames)]
    assert _frames_of(clips).tolist() == [e.tolist() for e in expected]
    # Full frames, resized to their own size: the columns are exact.
    assert clips[0, 0, 0, :, 1].tolist() == [8.0 * x for x in range(WIDTH)]
    again = epoch(1, shuffle=False)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(first, again))
    shuffled = [epoch(e) for e in (2, 2)]
    assert all(np.array_equal(a[0], b[0])
               for a, b in zip(*shuffled))
    seen = {tuple(map(tuple, _frames_of(np.concatenate([x for x, _ in
                                                        epoch(e)]))))
            for e in range(4)}
    assert len(seen) > 1


def test_video_dataset_segments_and_augment(png_videos):
    ds = video_dataset(png_videos.subset([2]), 4, sampling="segments",
                       seed=0, epoch=0, image_size=(8, 12), augment=True,
                       preprocessing="tf", batch_size=1)
    assert len(ds) == 1 and ds.num_videos == 1
    (x, y), = list(ds)
    assert x.shape == (1, 4, 8, 12, 3) and y.shape == (1, 3)
    assert float(tf.reduce_min(x)) >= -1.0 and float(tf.reduce_max(x)) <= 1.0
    plain = video_dataset(png_videos.subset([2]), 4, sampling="segments",
                          seed=0, epoch=0, image_size=(8, 12),
                          preprocessing=None, batch_size=1)
    frames = _frames_of(next(iter(plain))[0].numpy())[0]
    # F = 24, 4 segments of 6 frames: one frame in each.
    assert np.all((frames >= [0, 6, 12, 18]) & (frames < [6, 12, 18, 24]))


def test_video_dataset_errors(png_videos):
    with pytest.raises(ValueError, match="Received: sampling='uniform'"):
        video_dataset(png_videos, 4, sampling="uniform")
    with pytest.raises(ValueError, match="Received: num_segments=8"):
        video_dataset(png_videos, 4, sampling="segments", num_segments=8)
    with pytest.raises(ValueError, match="Received: epoch=-1"):
        video_dataset(png_videos, 4, epoch=-1)
    with pytest.raises(ValueError, match="Received: augmentation="):
        video_dataset(png_videos, 4, augmentation={"spin": 1})


def test_unusual_frame_template_is_formatted_by_python(png_videos):
    # `{index:0>5}` names the same files as `{index:05d}` but is not a
    # spec the in-graph formatter handles.
    import dataclasses
    odd = dataclasses.replace(png_videos,
                              frame_template="{path}/img_{index:0>5}.png")
    ds = view_dataset(odd.subset([0]), 4, sampling="segments",
                      image_size=(8, 8), preprocessing=None)
    clips, _, _ = _collect(ds)
    assert _frames_of(clips).tolist() == [[1, 3, 6, 8]]


def test_full_frame_sliding_views_are_the_clips_of_clip_dataset(tmp_path):
    """The UCF101 §7 evaluation reads the same pixels through either path."""
    from deltasparse.data.datasets.synthetic_actions import (
        ensure_synthetic_ucf)
    from deltasparse.data.video import clip_dataset

    root = ensure_synthetic_ucf(cache_dir=str(tmp_path), classes=2,
                                videos_per_class=2, clips_per_group=1,
                                test_groups=1, frames=10, size=40)
    want = clip_dataset(root, 4, sequence_stride=3, subset="test",
                        image_size=(24, 32), preprocessing="tf",
                        batch_size=3, progress=False)
    videos = want.clip_index.video_list()
    got = view_dataset(videos, 4, sampling="sliding", sequence_stride=3,
                       image_size=(24, 32), preprocessing="tf",
                       batch_size=3, full_frame=True)
    x_want = np.concatenate([x for x, _ in want.as_numpy_iterator()])
    x_got, labels, index = _collect(got)
    assert got.num_views == want.num_clips == len(x_want)
    np.testing.assert_allclose(x_got, x_want, atol=1e-6)
    np.testing.assert_array_equal(index, want.clip_index.clip_video)
    with pytest.raises(ValueError, match="full_frame"):
        view_dataset(videos, 4, num_crops=3, full_frame=True)
