"""Tests for deltasparse.data.datasets.mnist_rotated (spec §5.1)."""

import logging

import numpy as np
import pytest
from PIL import Image

from deltasparse.data.datasets import mnist_rotated as mr


def fake_digits(rng, n):
    """uint8 28x28 'digits': random blobs, distinct per image."""
    images = np.zeros((n, 28, 28), np.uint8)
    images[:, 4:24, 4:24] = rng.randint(0, 256, size=(n, 20, 20))
    return images


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """A temporary KERAS_HOME holding a fake mnist.npz (30 train, 12 test)."""
    rng = np.random.RandomState(0)
    (tmp_path / "datasets").mkdir()
    arrays = dict(x_train=fake_digits(rng, 30), y_train=np.arange(30) % 10,
                  x_test=fake_digits(rng, 12), y_test=np.arange(12) % 10)
    np.savez(tmp_path / "datasets" / "mnist.npz", **arrays)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    return arrays


def test_quarter_turns_equal_numpy_rot90():
    """With phase 0 and a clip length of 4, PIL's bilinear rotation is exact."""
    img = (np.arange(28 * 28) % 251).astype(np.uint8).reshape(28, 28)
    frames = mr.rotated_frames(img, 0.0, clip_length=4, size=14)
    for t in range(4):
        np.testing.assert_array_equal(frames[t], np.rot90(img, t)[:14, :14])
    # phase 90 shifts every frame by one quarter turn (counter-clockwise).
    frames = mr.rotated_frames(img, 90.0, clip_length=4, size=10)
    for t in range(4):
        np.testing.assert_array_equal(frames[t],
                                      np.rot90(img, t + 1)[:10, :10])


def test_frame_t_is_pil_rotation_by_phase_plus_10t():
    img = fake_digits(np.random.RandomState(1), 1)[0]
    phase = 123.4
    videos = mr.rotated_videos(img[None], [phase], progress=False)
    assert videos.shape == (1, 36, 14, 14, 1) and videos.dtype == np.float32
    pil = Image.fromarray(img)
    for t in (0, 1, 17, 35):
        ref = np.asarray(pil.rotate(phase + 10 * t, resample=Image.BILINEAR))
        np.testing.assert_array_equal(
            videos[0, t, :, :, 0], (ref[:14, :14] / 255.0).astype("float32"))


def test_rotated_videos_errors():
    with pytest.raises(ValueError, match="uint8"):
        mr.rotated_videos(np.zeros((1, 28, 28)), [0.0])
    with pytest.raises(ValueError, match="phases"):
        mr.rotated_videos(np.zeros((2, 28, 28), np.uint8), [0.0])


def test_dataset_from_keras_cache(keras_home):
    data = mr.MNISTRotatedDataset(rng=np.random.RandomState(5),
                                  progress=False)
    assert data.source == "mnist"
    assert data.X_train.shape == (30, 36, 14, 14, 1)
    assert data.X_test.shape == (12, 36, 14, 14, 1)
    assert data.num_classes == 10
    # Phases: 360 * rand(), all training digits first, then test digits.
    phases = 360.0 * np.random.RandomState(5).rand(42)
    np.testing.assert_allclose(data.phases_train, phases[:30])
    np.testing.assert_allclose(data.phases_test, phases[30:])
    for x, split, i, t in ((keras_home["x_train"], data.X_train, 3, 7),
                           (keras_home["x_test"], data.X_test, 11, 30)):
        phase = phases[i] if split is data.X_train else phases[30 + i]
        ref = np.asarray(Image.fromarray(x[i]).rotate(
            phase + 10 * t, resample=Image.BILINEAR))[:14, :14] / 255.0
        np.testing.assert_allclose(split[i, t, :, :, 0], ref, atol=1e-7)
    np.testing.assert_array_equal(data.Y_train,
                                  np.eye(10)[keras_home["y_train"]])
    np.testing.assert_array_equal(data.y_test, keras_home["y_test"])


def test_subset_equals_prefix_of_full_dataset(keras_home):
    full = mr.MNISTRotatedDataset(rng=9, progress=False)
    part = mr.MNISTRotatedDataset(rng=9, n_train=10, n_test=4,
                                  dtype="float64", progress=False)
    assert part.X_train.dtype == np.float64
    np.testing.assert_allclose(part.X_train, full.X_train[:10], atol=1e-7)
    np.testing.assert_allclose(part.X_test, full.X_test[:4], atol=1e-7)


def test_global_rng_by_default(keras_home):
    np.random.seed(123)
    data = mr.MNISTRotatedDataset(n_train=2, n_test=1, clip_length=3,
                                  progress=False)
    np.testing.assert_allclose(
        data.phases_train, 360.0 * np.random.RandomState(123).rand(2))


def test_explicit_path_overrides_cache(keras_home, tmp_path):
    other = tmp_path / "other.npz"
    np.savez(other, x_train=np.full((11, 28, 28), 255, np.uint8),
             y_train=np.arange(11) % 10, x_test=np.zeros((3, 28, 28),
                                                        np.uint8),
             y_test=np.arange(3))
    data = mr.MNISTRotatedDataset(path=str(other), clip_length=2, rng=0,
                                  progress=False)
    assert data.X_train.shape == (11, 2, 14, 14, 1)
    assert data.X_train[:, :, 6:, 6:].min() == 1.0  # centre stays white
    with pytest.raises(FileNotFoundError, match="nowhere.npz"):
        mr.MNISTRotatedDataset(path=str(tmp_path / "nowhere.npz"))
    bad = tmp_path / "bad.npz"
    np.savez(bad, images=np.zeros(3))
    with pytest.raises(ValueError, match="x_train"):
        mr.MNISTRotatedDataset(path=str(bad))


def test_sklearn_fallback(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with caplog.at_level(logging.WARNING, logger=mr.__name__):
        data = mr.MNISTRotatedDataset(n_train=20, n_test=5, clip_length=4,
                                      rng=0, progress=False)
    assert data.source == "sklearn_digits_fallback"
    assert "sklearn_digits_fallback" in caplog.text
    assert "mnist.npz" in caplog.text
    assert data.X_train.shape == (20, 4, 14, 14, 1)
    assert data.info["source"] == "sklearn_digits_fallback"

    (x, y), (xt, yt) = mr.load_sklearn_digits_as_mnist()
    assert x.shape == (1497, 28, 28) and xt.shape == (300, 28, 28)
    assert x.dtype == np.uint8 and x.max() == 255
    assert set(y) == set(range(10)) and set(yt) == set(range(10))
    outside = x.copy()
    outside[:, 4:24, 4:24] = 0            # the 20x20 box is centred
    assert outside.max() == 0
    from sklearn.datasets import load_digits
    # The upscaled box, averaged over 5x5 blocks, follows the 8x8 digit
    # averaged over 2x2 blocks (both on a 4x4 grid).
    for i in (0, 7, 42):
        coarse = x[i, 4:24, 4:24].reshape(4, 5, 4, 5).mean(axis=(1, 3))
        digit = load_digits().images[i].reshape(4, 2, 4, 2).mean(axis=(1, 3))
        assert np.corrcoef(coarse.ravel(), digit.ravel())[0, 1] > 0.9

    with pytest.raises(FileNotFoundError, match="mnist.npz"):
        mr.MNISTRotatedDataset(fallback=False)


def test_generate_labeled_data_every_class(keras_home, tmp_path):
    rng = np.random.RandomState(0)
    big = tmp_path / "big.npz"
    np.savez(big, x_train=fake_digits(rng, 200),
             y_train=np.arange(200) % 10, x_test=fake_digits(rng, 5),
             y_test=np.arange(5))
    data = mr.MNISTRotatedDataset(path=str(big), clip_length=2, rng=4,
                                  progress=False)
    (xl, yl), (xv, yv), (xt, yt) = data.generate_labeled_data(100)
    assert xl.shape == (100, 2, 14, 14, 1) and len(xv) == 11
    assert set(yl.argmax(1)) == set(range(10))
    assert set(yv.argmax(1)) == set(range(10))
    assert xt is data.X_test
    np.testing.assert_array_equal(xv, data.X_train[data.val_labeled_idx])
    data.generate_labeled_data()               # default: round(0.9 * 200)
    assert len(data.X_train_labeled) == 180 and len(data.X_val_labeled) == 20
    with pytest.raises(ValueError, match="num_labeled=190"):
        data.generate_labeled_data(190)


def test_zca_and_imagenet_options(keras_home):
    raw = mr.MNISTRotatedDataset(rng=1, clip_length=3, progress=False)
    white = mr.MNISTRotatedDataset(rng=1, clip_length=3, zca_epsilon=0.1,
                                   progress=False)
    rows = raw.X_train.reshape(-1, 196).astype(np.float64)
    mean = rows.mean(0)
    cov = (rows - mean).T @ (rows - mean) / len(rows)
    w, v = np.linalg.eigh(cov)
    p = v @ np.diag(1 / np.sqrt(np.clip(w, 0, None) + 0.1)) @ v.T
    expected = (raw.X_test.reshape(-1, 196) - mean) @ p
    np.testing.assert_allclose(white.X_test.reshape(-1, 196), expected,
                               atol=1e-4)
    vgg = mr.MNISTRotatedDataset(rng=1, clip_length=2, n_train=3, n_test=2,
                                 imagenet_preprocessing=True, progress=False)
    assert vgg.X_train.shape == (3, 2, 32, 32, 3)
    assert vgg.X_train[0, 0, 31, 31, 0] == pytest.approx(-103.939, abs=1e-4)


def test_argument_errors(keras_home):
    with pytest.raises(ValueError, match="size=29"):
        mr.MNISTRotatedDataset(size=29)
    with pytest.raises(ValueError, match="n_train=31"):
        mr.MNISTRotatedDataset(n_train=31)
    with pytest.raises(ValueError, match="dtype"):
        mr.MNISTRotatedDataset(dtype="uint8")
