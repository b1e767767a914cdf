"""Tests for the shared helpers in deltasparse.data.datasets.video_arrays."""

import os

import numpy as np
import pytest
from PIL import Image

from deltasparse.data.datasets import video_arrays as va

SPEC_VAL_SIZES = {300: 33, 600: 67, 1000: 111, 2000: 222, 5000: 556,
                  10000: 1111, 54000: 5999, 45000: 5000}


def test_one_hot():
    out = va.one_hot(np.array([[2], [0], [1]]), 3, dtype="float64")
    np.testing.assert_array_equal(out, np.eye(3)[[2, 0, 1]])
    assert out.dtype == np.float64
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        va.one_hot([3], 3)


@pytest.mark.parametrize("num_labeled,val", sorted(SPEC_VAL_SIZES.items()))
def test_validation_sizes_follow_python_round(num_labeled, val):
    assert va.validation_end(num_labeled) - num_labeled == val


def test_labeled_split_every_class_in_both_splits():
    # Class 9 is rare (8 of 1000): most permutations miss it in the
    # 33-video validation split, so the loop must retry.
    labels = np.concatenate([np.arange(992) % 9, [9] * 8])
    for seed in range(3):
        tr, val = va.labeled_split_indices(labels, 300, 10, rng=seed)
        assert len(tr) == 300 and len(val) == 33
        assert not set(tr) & set(val)
        assert set(labels[tr]) == set(range(10))
        assert set(labels[val]) == set(range(10))


def test_labeled_split_is_first_valid_permutation():
    """Independent re-implementation of the 'repeat until' loop (§5.1)."""
    labels = np.concatenate([np.arange(196) % 3, [3] * 4])
    rs = np.random.RandomState(7)
    tries = 0
    while True:
        tries += 1
        perm = rs.permutation(200)
        tr, val = perm[:40], perm[40:44]
        if len(set(labels[tr])) == 4 and len(set(labels[val])) == 4:
            break
    assert tries > 1  # the retry path is exercised
    got_tr, got_val = va.labeled_split_indices(
        labels, 40, 4, rng=np.random.RandomState(7))
    np.testing.assert_array_equal(got_tr, tr)
    np.testing.assert_array_equal(got_val, val)


def test_labeled_split_uses_global_rng_by_default():
    labels = np.arange(100) % 10
    np.random.seed(11)
    a = va.labeled_split_indices(labels, 30, 3)
    b = va.labeled_split_indices(labels % 3, 30, 3,
                                 rng=np.random.RandomState(11))
    np.random.seed(11)
    c = va.labeled_split_indices(labels % 3, 30, 3)
    np.testing.assert_array_equal(b[0], c[0])
    assert len(a[1]) == 3


def test_labeled_split_errors():
    labels = np.arange(100) % 10
    with pytest.raises(ValueError, match="num_labeled=95"):
        va.labeled_split_indices(labels, 95, 10)
    with pytest.raises(ValueError, match="num_labeled=20"):
        va.labeled_split_indices(labels, 20, 10)   # val would hold 2
    with pytest.raises(ValueError, match="num_labeled"):
        va.labeled_split_indices(labels, 2.5, 10)
    with pytest.raises(RuntimeError, match="permutations"):
        va.labeled_split_indices(np.zeros(100, int), 90, 2, max_tries=3)


def test_argument_checks():
    assert va.check_dtype("float64") == np.float64
    with pytest.raises(ValueError, match="dtype='int32'"):
        va.check_dtype("int32")
    with pytest.raises(ValueError, match="n_train=0"):
        va.check_count(0, "n_train")
    with pytest.raises(ValueError, match="rng='x'"):
        va.as_random_state("x")
    assert va.as_random_state(None) is np.random
    assert va.uniform(np.random.default_rng(0), 3).shape == (3,)
    with pytest.raises(ValueError, match="n_test=5"):
        va.subset((np.zeros(3),), 5, "n_test")


def test_keras_cache_dirs(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert va.keras_dataset_dirs() == [str(tmp_path / "datasets")]
    assert va.find_in_keras_cache(["a.npz"]) is None
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "b.npz").write_bytes(b"")
    assert va.find_in_keras_cache(["a.npz", "b.npz"]) == str(
        tmp_path / "datasets" / "b.npz")
    monkeypatch.delenv("KERAS_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert va.keras_dataset_dirs()[0] == os.path.join(
        str(tmp_path / "home"), ".keras", "datasets")


def test_bytescale_independent():
    np.testing.assert_array_equal(
        va.bytescale(np.array([0.2, 0.6, 1.0])), [0, 127, 255])
    np.testing.assert_array_equal(va.bytescale(np.full((2, 2), 0.3)), 0)
    x = np.random.RandomState(0).rand(3, 4, 4, 3)
    lo = x.min(axis=(1, 2, 3), keepdims=True)
    hi = x.max(axis=(1, 2, 3), keepdims=True)
    expected = np.floor((x - lo) * 255.0 / (hi - lo) + 0.4999)
    np.testing.assert_array_equal(va.bytescale(x, axes=(1, 2, 3)), expected)
    u8 = np.array([3, 9], np.uint8)
    assert va.bytescale(u8) is u8


def test_resize_matches_pil():
    img = (np.random.RandomState(1).rand(16, 12, 3) * 255).astype(np.uint8)
    expected = np.asarray(Image.fromarray(img).resize((6, 8),
                                                      Image.BILINEAR))
    np.testing.assert_array_equal(va.resize_uint8(img, (8, 6)), expected)
    assert va.resize_uint8(img, (16, 12)) is img
    gray = img[..., :1]
    assert va.resize_uint8(gray, (4, 4)).shape == (4, 4, 1)
    np.testing.assert_array_equal(va.imresize(np.eye(3) * 0.5, (3, 3)),
                                  np.eye(3) * 255)


def test_imagenet_preprocessing_gray_and_rgb():
    rng = np.random.RandomState(2)
    gray = rng.rand(2, 3, 14, 14, 1) * 0.5 + 0.25
    out = va.imagenet_preprocess_videos(gray, 32, "float64")
    assert out.shape == (2, 3, 32, 32, 3)
    frame = np.zeros((32, 32))
    frame[:14, :14] = gray[1, 2, ..., 0]
    scaled = np.floor(frame / frame.max() * 255 + 0.4999)  # min is 0 (pad)
    for c, mean in enumerate((103.939, 116.779, 123.68)):
        np.testing.assert_allclose(out[1, 2, ..., c], scaled - mean)
    rgb = rng.rand(1, 2, 32, 32, 3)
    out = va.imagenet_preprocess_videos(rgb, 32, "float32", chunk_frames=1)
    f = rgb[0, 1]
    scaled = np.floor((f - f.min()) / (f.max() - f.min()) * 255 + 0.4999)
    bgr = scaled[..., ::-1] - np.array([103.939, 116.779, 123.68])
    np.testing.assert_allclose(out[0, 1], bgr, atol=1e-4)
    with pytest.raises(ValueError, match="videos.shape"):
        va.imagenet_preprocess_videos(np.zeros((2, 4, 4, 2)))
