"""Tests for deltasparse.data.datasets.cifar10_scanned (spec §5.2)."""

import io
import os
import pickle
import tarfile

import numpy as np
import pytest

from deltasparse.data.datasets import cifar10_scanned as cs

SPEC_ORDER = [(0, 0), (8, 0), (16, 0),      # down the left band
              (16, 8), (8, 8), (0, 8),      # up the middle band
              (0, 16), (8, 16), (16, 16)]   # down the right band


def batch_bytes(images, labels):
    """A CIFAR-10 python batch: rows = 1024 R, 1024 G, 1024 B values."""
    data = images.transpose(0, 3, 1, 2).reshape(len(images), 3072)
    return pickle.dumps({b"data": data, b"labels": list(labels)})


def fake_cifar(rng, per_batch=20, n_test=10):
    train = rng.randint(0, 256, size=(5 * per_batch, 32, 32, 3)).astype(
        np.uint8)
    test = rng.randint(0, 256, size=(n_test, 32, 32, 3)).astype(np.uint8)
    return (train, np.arange(len(train)) % 10), (test,
                                                 np.arange(n_test) % 10)


def write_folder(folder, train, test, per_batch=20):
    os.makedirs(folder, exist_ok=True)
    for i in range(5):
        sl = slice(i * per_batch, (i + 1) * per_batch)
        with open(os.path.join(folder, f"data_batch_{i + 1}"), "wb") as f:
            f.write(batch_bytes(train[0][sl], train[1][sl]))
    with open(os.path.join(folder, "test_batch"), "wb") as f:
        f.write(batch_bytes(*test))


def write_tar(path, train, test, per_batch=20):
    with tarfile.open(path, "w:gz") as tar:
        names = [f"data_batch_{i + 1}" for i in range(5)] + ["test_batch"]
        for i, name in enumerate(names):
            if i < 5:
                sl = slice(i * per_batch, (i + 1) * per_batch)
                raw = batch_bytes(train[0][sl], train[1][sl])
            else:
                raw = batch_bytes(*test)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))


@pytest.fixture
def cifar(tmp_path, monkeypatch):
    data = fake_cifar(np.random.RandomState(0))
    write_folder(str(tmp_path / "datasets" / "cifar-10-batches-py"), *data)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    return data


def test_serpentine_scan_order():
    assert cs.scan_offsets() == SPEC_ORDER
    assert cs.scan_offsets(32, 32, 8) == [(0, 0)]
    assert len(cs.scan_offsets(32, 8, 8)) == 16
    with pytest.raises(ValueError, match="size=40"):
        cs.scan_offsets(32, 40, 8)


def test_frames_on_coordinate_image():
    """Pixel (r, c) stores r and c: each frame reveals its window."""
    rows, cols = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
    img = np.stack([rows, cols, rows + cols], axis=-1).astype(np.uint8)
    video = cs.scanned_videos(img[None], dtype="float64")[0] * 255
    assert video.shape == (9, 16, 16, 3)
    for f, (r0, c0) in enumerate(SPEC_ORDER):
        np.testing.assert_allclose(video[f, ..., 0], rows[r0:r0 + 16,
                                                          c0:c0 + 16])
        np.testing.assert_allclose(video[f, ..., 1], cols[r0:r0 + 16,
                                                          c0:c0 + 16])
    # Consecutive windows are one stride apart (a continuous path).
    corners = video[:, 0, 0, :2]
    steps = np.abs(np.diff(corners, axis=0)).sum(axis=1)
    np.testing.assert_allclose(steps, 8)


def test_dataset_from_keras_cache(cifar):
    (train, y_train), (test, y_test) = cifar
    data = cs.CIFAR10ScannedDataset(zca_epsilon=None, dtype="float64")
    assert data.source == "cifar10" and data.num_classes == 10
    assert data.X_train.shape == (100, 9, 16, 16, 3)
    assert data.X_test.shape == (10, 9, 16, 16, 3)
    # channels-last decoding of the (R plane, G plane, B plane) rows
    np.testing.assert_allclose(data.X_train[37, 0], train[37, :16, :16] /
                               255.0)
    np.testing.assert_allclose(data.X_test[4, 3], test[4, 16:32, 8:24] /
                               255.0)
    np.testing.assert_array_equal(data.Y_train, np.eye(10)[y_train])
    np.testing.assert_array_equal(data.y_test, y_test)


def test_zca_fitted_on_training_frames(cifar):
    (train, _), (test, _) = cifar
    # 8x8 windows, stride 12: 9 frames of 192 dims keep the SVD small.
    data = cs.CIFAR10ScannedDataset(size=8, stride=12, n_train=100, n_test=3)
    raw_train = cs.scanned_videos(train, 8, 12, "float64").reshape(-1, 192)
    raw_test = cs.scanned_videos(test[:3], 8, 12, "float64").reshape(-1, 192)
    mean = raw_train.mean(0)
    cov = (raw_train - mean).T @ (raw_train - mean) / len(raw_train)
    w, v = np.linalg.eigh(cov)
    p = v @ np.diag(1 / np.sqrt(np.clip(w, 0, None) + 1e-3)) @ v.T
    np.testing.assert_allclose(data.X_test.reshape(-1, 192),
                               (raw_test - mean) @ p, atol=2e-3)
    assert data.X_train.dtype == np.float32
    assert data.zca.n_samples_ == 900


def test_other_layouts_and_subsets(tmp_path, monkeypatch):
    (train, y), test = fake_cifar(np.random.RandomState(1))
    keras3 = tmp_path / "k3" / "datasets" / "cifar-10-batches-py-target"
    write_folder(str(keras3 / "cifar-10-batches-py"), (train, y), test)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "k3"))
    (x, _), (xt, _) = cs.load_cifar10(n_train=45, n_test=4)
    np.testing.assert_array_equal(x, train[:45])
    assert xt.shape == (4, 32, 32, 3)

    archive = tmp_path / "cifar-10-python.tar.gz"
    write_tar(str(archive), (train, y), test)
    data = cs.CIFAR10ScannedDataset(path=str(archive), n_train=30,
                                    zca_epsilon=None)
    np.testing.assert_allclose(data.X_train[29, 8],
                               train[29, 16:, 16:] / 255.0, atol=1e-7)
    with pytest.raises(ValueError, match="n_train"):
        cs.load_cifar10(path=str(archive), n_train=101)


def test_generate_labeled_data(cifar):
    data = cs.CIFAR10ScannedDataset(zca_epsilon=None, rng=3)
    (xl, yl), (xv, yv), (xt, yt) = data.generate_labeled_data(90)
    assert len(xl) == 90 and len(xv) == 10
    assert set(yl.argmax(1)) == set(range(10)) == set(yv.argmax(1))
    assert xt.shape == (10, 9, 16, 16, 3)


def test_missing_data_raises_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError) as err:
        cs.CIFAR10ScannedDataset()
    message = str(err.value)
    assert cs.CIFAR10_URL in message and "Received: path=None" in message
    assert str(tmp_path / "datasets") in message
    with pytest.raises(FileNotFoundError, match="nothere"):
        cs.CIFAR10ScannedDataset(path=str(tmp_path / "nothere"))
    partial = tmp_path / "partial"
    partial.mkdir()
    with pytest.raises(FileNotFoundError, match="data_batch_1"):
        cs.load_cifar10(path=str(partial))
    (partial / "data_batch_1").write_bytes(pickle.dumps({"x": 1}))
    with pytest.raises(ValueError, match="CIFAR-10 python batch"):
        cs.load_cifar10(path=str(partial))
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a tar")
    with pytest.raises(ValueError, match="cifar-10-python.tar.gz"):
        cs.load_cifar10(path=str(junk))
