"""Tests for deltasparse.data.datasets.zca against an independent NumPy ZCA."""

import numpy as np
import pytest

from deltasparse.data.datasets.zca import ZCAWhitening


def reference_zca(fit_rows, epsilon):
    """Per-pixel mean and whitening matrix via eigh (not svd)."""
    mean = fit_rows.mean(axis=0)
    centred = fit_rows - mean
    cov = centred.T @ centred / len(fit_rows)
    w, v = np.linalg.eigh(cov)
    w = np.clip(w, 0, None)
    return mean, v @ np.diag(1.0 / np.sqrt(w + epsilon)) @ v.T


def correlated_frames(rng, shape):
    """Frames with strongly correlated pixels (non-trivial covariance)."""
    n = int(np.prod(shape[:-3]))
    dim = int(np.prod(shape[-3:]))
    mix = rng.randn(dim, dim)
    rows = rng.rand(n, dim) @ mix + 3.0
    return rows.reshape(shape)


def test_whitened_covariance_is_identity_for_small_epsilon():
    rng = np.random.RandomState(0)
    x = correlated_frames(rng, (400, 2, 2, 3))
    y = ZCAWhitening(epsilon=1e-9).fit_transform(x)
    rows = y.reshape(400, -1)
    np.testing.assert_allclose(rows.mean(axis=0), 0, atol=1e-8)
    np.testing.assert_allclose(rows.T @ rows / 400, np.eye(12), atol=1e-5)


def test_zca_is_symmetric_and_matches_reference_4d():
    rng = np.random.RandomState(1)
    x = correlated_frames(rng, (300, 2, 3, 2))
    zca = ZCAWhitening(epsilon=1e-2).fit(x)
    mean, matrix = reference_zca(x.reshape(300, -1), 1e-2)
    assert zca.mean_.shape == (1, 2, 3, 2)
    np.testing.assert_allclose(zca.mean_.reshape(-1), mean, rtol=1e-12)
    np.testing.assert_allclose(zca.matrix_, matrix, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(zca.matrix_, zca.matrix_.T, atol=1e-10)
    expected = ((x.reshape(300, -1) - mean) @ matrix).reshape(x.shape)
    np.testing.assert_allclose(zca.transform(x), expected, rtol=1e-7,
                               atol=1e-9)


def test_5d_mean_over_videos_and_time():
    rng = np.random.RandomState(2)
    x = correlated_frames(rng, (20, 6, 2, 2, 3))
    zca = ZCAWhitening(epsilon=1e-3).fit(x)
    assert zca.mean_.shape == (1, 1, 2, 2, 3)
    np.testing.assert_allclose(zca.mean_, x.mean(axis=(0, 1), keepdims=True))
    assert zca.n_samples_ == 120
    _, matrix = reference_zca(x.reshape(120, -1), 1e-3)
    np.testing.assert_allclose(zca.matrix_, matrix, rtol=1e-7, atol=1e-9)


def test_transform_uses_training_statistics():
    rng = np.random.RandomState(3)
    train = correlated_frames(rng, (200, 2, 2, 2))
    test = correlated_frames(rng, (7, 5, 2, 2, 2)) * 2.0 - 1.0
    zca = ZCAWhitening(epsilon=1e-3).fit(train)
    mean, matrix = reference_zca(train.reshape(200, -1), 1e-3)
    expected = ((test.reshape(35, -1) - mean) @ matrix).reshape(test.shape)
    np.testing.assert_allclose(zca.transform(test), expected, rtol=1e-7,
                               atol=1e-8)
    refit = ZCAWhitening(epsilon=1e-3).fit_transform(test)
    assert not np.allclose(refit, expected, atol=1e-3)


def test_chunking_and_dtype():
    rng = np.random.RandomState(4)
    x = correlated_frames(rng, (50, 3, 2, 2, 1)).astype("float32")
    big = ZCAWhitening(1e-3).fit_transform(x)
    small = ZCAWhitening(1e-3, chunk_size=7).fit_transform(x)
    assert big.dtype == np.float32
    np.testing.assert_allclose(big, small, rtol=1e-5, atol=1e-5)
    assert ZCAWhitening(1e-3).fit(x).transform(x, "float64").dtype == \
        np.float64
    ints = (x * 10).astype(np.int64)
    assert ZCAWhitening(1e-3).fit_transform(ints).dtype == np.float64


def test_save_load_round_trip(tmp_path):
    rng = np.random.RandomState(5)
    x = correlated_frames(rng, (40, 2, 2, 3))
    zca = ZCAWhitening(epsilon=0.05).fit(x)
    path = str(tmp_path / "zca.npz")
    zca.save(path)
    loaded = ZCAWhitening.load(path)
    assert loaded.epsilon == 0.05 and loaded.n_samples_ == 40
    np.testing.assert_array_equal(loaded.transform(x), zca.transform(x))


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="epsilon"):
        ZCAWhitening(epsilon=-1.0)
    with pytest.raises(ValueError, match="chunk_size"):
        ZCAWhitening(chunk_size=0)
    with pytest.raises(ValueError, match="4-D .* or 5-D"):
        ZCAWhitening().fit(np.zeros((4, 4, 4)))
    with pytest.raises(RuntimeError, match="not fitted"):
        ZCAWhitening().transform(np.zeros((2, 2, 2, 1)))
    with pytest.raises(RuntimeError, match="unfitted"):
        ZCAWhitening().save(str(tmp_path / "z.npz"))
    zca = ZCAWhitening().fit(np.random.rand(5, 2, 2, 1))
    with pytest.raises(ValueError, match=r"\(H, W, C\)"):
        zca.transform(np.zeros((2, 3, 2, 1)))
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        ZCAWhitening.load(str(tmp_path / "missing.npz"))
    bad = tmp_path / "bad.npz"
    np.savez(bad, mean=np.zeros(3))
    with pytest.raises(ValueError, match="lacks"):
        ZCAWhitening.load(str(bad))
