"""Tests of the clip indexer and the tf.data clip / frame pipelines."""

import math
import os

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import ndimage

from deltasparse.data import video
from deltasparse.data.datasets.synthetic_actions import make_synthetic_ucf
from deltasparse.data.datasets.ucf101 import prepare_ucf101

# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory):
    """A prepared 3-class synthetic split (6 train / 6 test videos of 8 frames)."""
    base = tmp_path_factory.mktemp("synth")
    raw = make_synthetic_ucf(str(base / "raw"), classes=3, videos_per_class=4,
                             clips_per_group=2, test_groups=1, frames=8,
                             size=32)
    res = prepare_ucf101(os.path.join(raw, "UCF-101"),
                         os.path.join(raw, "ucfTrainTestlist"),
                         str(base / "prepared"), workers=1, progress=False)
    return res.root


# Static videos: every frame of a video is the same random texture.
STATIC = {"b": [("v_b_1.avi", 5)], "B": [("v_B_1.avi", 4), ("v_B_0.avi", 3)],
          "a": [("v_a_1.avi", 6)]}


@pytest.fixture(scope="module")
def static_root(tmp_path_factory):
    """`<root>/train/<Class>/*.avi` + `train_frames`, no index file."""
    base = tmp_path_factory.mktemp("static")
    rng = np.random.default_rng(0)
    for cls, videos in STATIC.items():
        os.makedirs(base / "train" / cls)
        os.makedirs(base / "train_frames" / cls)
        for name, n in videos:
            img = ndimage.gaussian_filter(
                rng.uniform(0, 255, (24, 32, 3)), (2, 2, 0)).astype(np.uint8)
            img[:, :6] = 250  # asymmetric, so a flip is visible
            writer = cv2.VideoWriter(str(base / "train" / cls / name),
                                     cv2.VideoWriter_fourcc(*"MJPG"), 25,
                                     (32, 24))
            for k in range(n):
                writer.write(img)
                cv2.imwrite(str(base / "train_frames" / cls / f"{name}_{k}.jpg"),
                            img)
            writer.release()
    # A gap: frame 4 of a 6-frame video without frame 3 is not counted.
    os.remove(base / "train_frames" / "a" / "v_a_1.avi_3.jpg")
    # Files that are not frames are ignored.
    open(base / "train_frames" / "a" / "notes.txt", "w").close()
    return str(base / "train")


def _all(ds):
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    return np.concatenate(xs), np.concatenate(ys)


# --------------------------------------------------------------------------
# Clip indexer
# --------------------------------------------------------------------------


@pytest.mark.parametrize("f, nb, fs, s, expected", [
    (5, 2, 1, 1, [[0, 1], [1, 2], [2, 3], [3, 4]]),
    (5, 2, 1, 1.0, [[0, 1], [1, 2], [2, 3], [3, 4]]),
    (6, 2, 1, 2, [[0, 1], [2, 3], [4, 5]]),
    (7, 3, 2, 1, [[0, 2, 4], [1, 3, 5], [2, 4, 6]]),
    (10, 3, 2, 3, [[0, 2, 4], [3, 5, 7]]),
    (8, 2, 1, 2.5, [[0, 1], [2, 3], [5, 6]]),
    (40, 16, 1, 16.0, [list(range(16)), list(range(16, 32))]),
    (3, 1, 1, 1, [[0], [1], [2]]),
    (4, 4, 1, 1, [[0, 1, 2, 3]]),
    (3, 4, 1, 1, []),
    (0, 1, 1, 1, []),
])
def test_clip_frame_indices_hand_computed(f, nb, fs, s, expected):
    got = video.clip_frame_indices(f, nb, fs, s)
    assert got.dtype == np.int64 and got.shape == (len(expected), nb)
    assert got.tolist() == expected
    assert video.num_clips(f, nb, fs, s) == len(expected)


def test_clip_count_matches_original_for_unit_frame_stride():
    # The original's count, floor((F - nb) / s) + 1, is kept for stride 1.
    for f in range(0, 30):
        for nb in range(1, 6):
            for s in (1, 2, 3.0, 16.0):
                want = math.floor((f - nb) / s) + 1 if f >= nb else 0
                assert video.num_clips(f, nb, 1, s) == want, (f, nb, s)


@pytest.mark.parametrize("kwargs, match", [
    ({"clip_length": 0}, "`clip_length`"),
    ({"clip_length": 2.0}, "`clip_length`"),
    ({"frame_stride": 0}, "`frame_stride`"),
    ({"sequence_stride": 0}, "`sequence_stride`"),
    ({"sequence_stride": float("nan")}, "`sequence_stride`"),
    ({"num_frames": -1}, "`num_frames`"),
])
def test_clip_frame_indices_invalid(kwargs, match):
    args = {"num_frames": 5, "clip_length": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        video.clip_frame_indices(**args)


def test_index_sorted_classes_labels_and_gaps(static_root):
    idx = video.index_clips(static_root, 2)
    assert idx.class_names == ["B", "a", "b"]  # case-sensitive sort
    assert idx.videos == ["B/v_B_0.avi", "B/v_B_1.avi", "a/v_a_1.avi",
                          "b/v_b_1.avi"]
    assert idx.video_frames.tolist() == [3, 4, 3, 5]  # a: frames 0-2 only
    assert idx.video_labels.tolist() == [0, 0, 1, 2]
    assert len(idx) == 2 + 3 + 2 + 4
    assert idx.clip_frames(2).tolist() == [0, 1]
    assert idx.clip_label(len(idx) - 1) == 2
    assert idx.clip_frame_paths(0)[1].endswith(
        os.path.join("train_frames", "B", "v_B_0.avi_1.jpg"))
    # The video source reads the (full) header counts.
    vid = video.index_clips(static_root, 2, source="video")
    assert vid.video_frames.tolist() == [3, 4, 6, 5]
    # `classes` restricts and orders.
    sub = video.index_clips(static_root + "_frames", 1, classes=["b", "B"])
    assert sub.class_names == ["b", "B"]
    assert sub.video_labels.tolist() == [0, 1, 1]


def test_index_warns_for_short_videos_and_fails_when_nothing_fits(static_root):
    # T=4 leaves class "a" (3 contiguous frames) without a clip: refused ...
    with pytest.raises(ValueError, match=r"\['a'\].*allow_empty_classes"), \
            pytest.warns(UserWarning, match="shorter than one clip"):
        video.index_clips(static_root, 4)
    # ... unless asked for; the label numbering stays that of sorted names.
    with pytest.warns(UserWarning, match="shorter than one clip"):
        idx = video.index_clips(static_root, 4, allow_empty_classes=True)
    assert len(idx) == 1 + 0 + 0 + 2
    assert idx.class_names == ["B", "a", "b"] and idx.empty_classes == ["a"]
    assert sorted(set(idx.video_labels[idx.clip_video].tolist())) == [0, 2]
    with pytest.raises(ValueError, match="No clip of 9 frames"), \
            pytest.warns(UserWarning):
        video.index_clips(static_root, 9)


def test_missing_root_says_how_to_prepare(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        video.clip_dataset(str(tmp_path / "nope"), 2)
    assert "ensure_synthetic_ucf" in str(e.value)
    assert "deltasparse-prepare-ucf101" in str(e.value)


@pytest.mark.parametrize("kwargs, match", [
    ({"preprocessing": "bogus"}, "`preprocessing`"),
    ({"image_size": (0, 4)}, "`image_size`"),
    ({"source": "hdf5"}, "`source`"),
    ({"classes": ["Z"]}, "`classes`"),
    ({"batch_size": 0}, "`batch_size`"),
    ({"interpolation": "cubic"}, "`interpolation`"),
    ({"augmentation": {"brightness": 1}}, "`augmentation`"),
    ({"seed": 1.5}, "`seed`"),
])
def test_clip_dataset_invalid_arguments(static_root, kwargs, match):
    with pytest.raises(ValueError, match=match):
        video.clip_dataset(static_root, 2, **kwargs)


# --------------------------------------------------------------------------
# Preprocessing and augmentation against NumPy
# --------------------------------------------------------------------------


def test_preprocess_modes_against_numpy():
    x = np.random.default_rng(1).uniform(0, 255, (2, 3, 4, 3)).astype("float32")
    caffe = x[..., ::-1] - np.array([103.939, 116.779, 123.68], "float32")
    np.testing.assert_allclose(video.preprocess(tf.constant(x), "caffe"),
                               caffe, rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(video.preprocess(tf.constant(x), "ResNet50"),
                               caffe, rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(video.preprocess(tf.constant(x), "tf"),
                               x / 127.5 - 1.0, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(video.preprocess(tf.constant(x), None), x)
    np.testing.assert_allclose(
        video.preprocess(tf.constant(x), lambda t: t * 2.0), x * 2.0)


def _keras2_affine_reference(x, theta, tx, ty, shear, zx, zy, flip):
    """Keras 2 `apply_affine_transform` (+ flip), written with scipy."""
    th, sh = np.deg2rad(theta), np.deg2rad(shear)
    rot = np.array([[np.cos(th), -np.sin(th), 0], [np.sin(th), np.cos(th), 0],
                    [0, 0, 1]])
    shift = np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]])
    shr = np.array([[1, -np.sin(sh), 0], [0, np.cos(sh), 0], [0, 0, 1]])
    zoom = np.array([[zx, 0, 0], [0, zy, 0], [0, 0, 1]])
    m = rot @ shift @ shr @ zoom
    h, w = x.shape[:2]
    o_x, o_y = h / 2 + 0.5, w / 2 + 0.5
    offset = np.array([[1, 0, o_x], [0, 1, o_y], [0, 0, 1]])
    reset = np.array([[1, 0, -o_x], [0, 1, -o_y], [0, 0, 1]])
    m = offset @ m @ reset
    out = np.stack([ndimage.affine_transform(x[..., c], m[:2, :2], m[:2, 2],
                                             order=1, mode="nearest")
                    for c in range(x.shape[-1])], axis=-1)
    return out[:, ::-1] if flip else out


@pytest.mark.parametrize("params", [
    (0, 0, 0, 0, 1, 1, False),
    (0, 0, 0, 0, 1, 1, True),
    (25, 3, -4, 10, 0.9, 1.1, False),
    (-20, -2, 5, -0.15, 1.12, 0.87, True),
    (30, 4.8, 4.8, 0.15, 0.85, 1.15, True),
])
def test_affine_matches_keras2_reference(params):
    x = ndimage.gaussian_filter(np.random.default_rng(2).uniform(
        0, 255, (20, 24, 3)), (2, 2, 0)).astype("float32")
    m = video.affine_transform_matrix(*params, height=20, width=24)
    got = tf.raw_ops.ImageProjectiveTransformV3(
        images=x[None], transforms=m[None], output_shape=[20, 24],
        fill_value=0.0, interpolation="BILINEAR", fill_mode="NEAREST")[0]
    np.testing.assert_allclose(got, _keras2_affine_reference(x, *params),
                               atol=1e-3)


def test_random_params_follow_image_data_generator_ranges():
    draws = [video.random_affine_params(tf.constant([7, i]), 224, 224)
             for i in range(120)]
    p = {k: np.array([float(d[k]) for d in draws]) for k in draws[0]}
    assert np.abs(p["theta"]).max() <= 30 and np.abs(p["theta"]).max() > 25
    assert np.abs(p["tx"]).max() <= 0.2 * 224 and np.abs(p["ty"]).max() > 40
    assert np.abs(p["shear"]).max() <= 0.15
    for z in ("zx", "zy"):
        assert 0.85 <= p[z].min() and p[z].max() <= 1.15
    assert abs(np.corrcoef(p["zx"], p["zy"])[0, 1]) < 0.2  # independent
    assert 0.35 < p["flip"].mean() < 0.65
    same = video.random_affine_params(tf.constant([7, 0]), 224, 224)
    assert float(same["theta"]) == p["theta"][0]


def test_augment_clip_shares_one_transform(static_root):
    frame = tf.random.uniform((16, 16, 3), 0, 255, seed=1)
    clip = tf.stack([frame, frame, frame])
    out = video.augment_clip(clip, tf.constant([3, 4])).numpy()
    np.testing.assert_array_equal(out[0], out[1])
    np.testing.assert_array_equal(out[0], out[2])
    single = video.augment_clip(frame, tf.constant([3, 4])).numpy()
    np.testing.assert_allclose(single, out[0], atol=1e-4)
    other = video.augment_clip(clip, tf.constant([3, 5])).numpy()
    assert np.abs(other - out).mean() > 1.0


def test_fused_resize_and_augment_matches_two_steps():
    x = ndimage.gaussian_filter(np.random.default_rng(3).uniform(
        0, 255, (2, 48, 40, 3)), (0, 2, 2, 0)).astype("uint8")
    # Down-sampling interpolates once instead of twice (a little sharper);
    # up-sampling agrees almost exactly.
    for size, tol in (((24, 20), 2.5), ((64, 64), 0.5)):
        for i in range(3):
            seed = tf.constant([9, i])
            two = video.augment_clip(tf.image.resize(x, size), seed).numpy()
            one = video.resize_and_augment_clip(x, seed, size).numpy()
            assert one.shape == (2,) + size + (3,)
            assert np.abs(one - two).mean() < tol
    # With an identity transform it is exactly the resize.
    ident = {k: 0.0 for k in video.AUGMENTATION if k != "horizontal_flip"}
    out = video.resize_and_augment_clip(x, tf.constant([1, 1]), (64, 64),
                                        horizontal_flip=False, **ident)
    np.testing.assert_allclose(out, tf.image.resize(x, (64, 64)), atol=1e-3)
    out = video.resize_and_augment_clip(x, tf.constant([1, 1]), (96, 80),
                                        "nearest", horizontal_flip=False,
                                        **ident)
    np.testing.assert_array_equal(out, tf.image.resize(x, (96, 80), "nearest"))


# --------------------------------------------------------------------------
# Pipelines
# --------------------------------------------------------------------------


def test_augmentation_in_pipeline_per_clip_and_per_epoch(static_root):
    ds = video.clip_dataset(static_root, 3, batch_size=64, image_size=(24, 32),
                            preprocessing=None, augment=True, seed=5)
    x1, y1 = _all(ds)
    assert x1.shape == (len(ds.clip_index), 3, 24, 32, 3)
    # Frames of a static video stay identical inside every clip ...
    np.testing.assert_array_equal(x1[:, 0], x1[:, 1])
    np.testing.assert_array_equal(x1[:, 0], x1[:, 2])
    # ... while two clips of the same video get different transforms.
    idx = ds.clip_index
    same_video = np.flatnonzero(idx.clip_video == idx.clip_video[-1])
    assert len(same_video) >= 2
    assert np.abs(x1[same_video[0]] - x1[same_video[1]]).mean() > 1.0
    # A new epoch draws new transforms; the same seed reproduces the stream.
    x2, _ = _all(ds)
    assert np.abs(x1 - x2).mean() > 1.0
    again = video.clip_dataset(static_root, 3, batch_size=64,
                               image_size=(24, 32), preprocessing=None,
                               augment=True, seed=5)
    np.testing.assert_array_equal(_all(again)[0], x1)
    # Without augmentation the frames are just resized.
    plain, _ = _all(video.clip_dataset(static_root, 3, batch_size=64,
                                       image_size=(24, 32), preprocessing=None))
    img = tf.io.decode_jpeg(tf.io.read_file(idx.clip_frame_paths(0)[0]))
    np.testing.assert_allclose(plain[0, 0], img.numpy(), atol=1e-3)


def test_shuffle_is_a_fresh_permutation_each_epoch(static_root):
    idx = video.index_clips(static_root, 1)
    n = len(idx)
    ds = video.clip_dataset(static_root, 1, batch_size=n, image_size=(8, 8),
                            preprocessing=None, shuffle=True, seed=3)
    plain = _all(video.clip_dataset(static_root, 1, batch_size=n,
                                    image_size=(8, 8), preprocessing=None))
    epochs = [_all(ds) for _ in range(3)]
    keys = [tuple(np.round(x.reshape(n, -1).sum(1), 2)) for x, _ in epochs]
    base = tuple(np.round(plain[0].reshape(n, -1).sum(1), 2))
    for k in keys:
        assert sorted(k) == sorted(base)
    assert len({base, *keys}) == 4  # all orders differ
    again = video.clip_dataset(static_root, 1, batch_size=n, image_size=(8, 8),
                               preprocessing=None, shuffle=True, seed=3)
    np.testing.assert_array_equal(_all(again)[1], epochs[0][1])


def test_len_batches_and_drop_remainder(synthetic_root):
    ds = video.clip_dataset(synthetic_root, 2, subset="train", batch_size=5,
                            image_size=(16, 16))
    n = ds.num_clips
    assert n == 6 * 7  # 6 train videos of 8 frames, T=2, stride 1
    assert len(ds) == math.ceil(n / 5)
    dropped = video.clip_dataset(synthetic_root, 2, subset="train",
                                 batch_size=5, image_size=(16, 16),
                                 drop_remainder=True, sequence_stride=2.0)
    assert dropped.num_clips == 6 * 4 and len(dropped) == 4
    sizes = [int(x.shape[0]) for x, _ in dropped]
    assert sizes == [5] * 4


def test_frames_and_video_sources_agree(synthetic_root):
    kw = dict(subset="test", batch_size=32, image_size=(32, 32),
              preprocessing=None, frame_stride=2, sequence_stride=3)
    xf, yf = _all(video.clip_dataset(synthetic_root, 3, **kw))
    xv, yv = _all(video.clip_dataset(synthetic_root, 3, source="video", **kw))
    assert xf.shape == xv.shape == (6 * 2, 3, 32, 32, 3)
    np.testing.assert_array_equal(yf, yv)
    assert yf.shape == (12, 3)
    assert np.abs(xf - xv).mean() < 4.0  # JPEG re-encoding only
    # The frames are consecutive 0-based frames (no off-by-one).
    idx = video.index_clips(synthetic_root, 3, 2, 3, subset="test")
    assert idx.clip_frames(1).tolist() == [3, 5, 7]
    first = video.read_video_frames(idx.clip_video_path(1), [3, 5, 7])
    np.testing.assert_allclose(xv[1], first.astype("float32"), atol=1e-3)


def test_labels_follow_sorted_class_names(synthetic_root):
    ds = video.clip_dataset(synthetic_root, 2, subset="test", batch_size=64,
                            image_size=(8, 8))
    _, y = _all(ds)
    assert ds.class_names == ["MoveDown", "MoveUp", "Slide"]
    idx = ds.clip_index
    expected = [idx.class_names.index(idx.videos[v].split("/")[0])
                for v in idx.clip_video]
    assert y.argmax(1).tolist() == expected
    np.testing.assert_array_equal(y.sum(1), 1.0)


def test_video_seek_gives_the_same_frames(synthetic_root):
    idx = video.index_clips(synthetic_root, 1, subset="train", source="video")
    path = idx.clip_video_path(0)
    seq = video.read_video_frames(path, [2, 3, 6])
    sought = video.read_video_frames(path, [2, 3, 6], seek=True)
    np.testing.assert_array_equal(seq, sought)
    kw = dict(subset="train", batch_size=64, image_size=(16, 16),
              preprocessing=None, source="video")
    a, _ = _all(video.clip_dataset(synthetic_root, 2, **kw))
    b, _ = _all(video.clip_dataset(synthetic_root, 2, video_seek=True, **kw))
    np.testing.assert_array_equal(a, b)


def test_read_video_frames_repeats_last_after_end(static_root):
    path = os.path.join(static_root, "b", "v_b_1.avi")
    x = video.read_video_frames(path, [0, 4, 9])
    assert x.shape == (3, 24, 32, 3) and x.dtype == np.uint8
    np.testing.assert_array_equal(x[2], x[1])
    assert video.count_video_frames(path) == 5
    assert video.count_video_frames(path, decode=True) == 5
    with pytest.raises(ValueError, match="Cannot decode"):
        video.read_video_frames(os.path.join(static_root, "nope.avi"), [0])


def test_frame_dataset(synthetic_root):
    ds = video.frame_dataset(synthetic_root, subset="train", batch_size=16,
                             image_size=(20, 24), preprocessing="tf",
                             augment=True, shuffle=True, seed=0, frame_step=2)
    assert ds.num_clips == 6 * 4 and len(ds) == 2
    x, y = next(iter(ds))
    assert x.shape == (16, 20, 24, 3) and y.shape == (16, 3)
    assert -1.0 <= float(tf.reduce_min(x)) and float(tf.reduce_max(x)) <= 1.0
    near = video.frame_dataset(synthetic_root + "/train_frames", batch_size=4,
                               image_size=(64, 64), preprocessing=None,
                               interpolation="nearest")
    x, _ = next(iter(near))
    # nearest upsampling by 2 repeats pixels exactly
    np.testing.assert_array_equal(x[:, ::2, ::2], x[:, 1::2, 1::2])


def test_keras_fit_uses_the_dataset_length(synthetic_root):
    ds = video.clip_dataset(synthetic_root, 2, subset="train", batch_size=16,
                            image_size=(8, 8), preprocessing="tf",
                            augment=True, shuffle=True, seed=1)
    model = keras.Sequential([
        keras.Input((2, 8, 8, 3)), keras.layers.Flatten(),
        keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    hist = model.fit(ds, epochs=2, verbose=0, shuffle=False)
    assert len(hist.history["loss"]) == 2
    assert np.isfinite(hist.history["loss"]).all()
