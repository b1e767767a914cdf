"""Tests for deltasparse.data.datasets.coil100 (spec §5.3)."""

import os

import numpy as np
import pytest
from PIL import Image

from deltasparse.data.datasets import coil100 as coil

# Spec §5.3: validation frames in the original's Python-set order.
SPEC_VAL = {
    2: [16, 48],
    4: [8, 24, 40, 56],
    8: [4, 36, 12, 44, 28, 20, 52, 60],
    16: [2, 34, 26, 38, 6, 10, 42, 14, 46, 18, 50, 30, 22, 54, 58, 62],
    32: list(range(1, 64, 2)),
}
SPEC_TEST_COUNT = {2: 68, 4: 64, 8: 56, 16: 40, 32: 8}


@pytest.mark.parametrize("num_labeled", sorted(SPEC_VAL))
def test_frame_index_splits(num_labeled):
    train, val, test = coil.coil100_frame_splits(num_labeled)
    step = 64 // num_labeled
    assert train == [step * i for i in range(num_labeled)]
    assert val == SPEC_VAL[num_labeled]          # exact order, unsorted too
    assert len(test) == SPEC_TEST_COUNT[num_labeled]
    assert test == sorted(test)
    assert sorted(train + val + test) == list(range(72))
    if num_labeled == 32:
        assert test == list(range(64, 72))


def test_val_order_is_not_sorted_for_8_and_16():
    for n in (8, 16):
        _, val, _ = coil.coil100_frame_splits(n)
        assert val != sorted(val)


@pytest.mark.parametrize("bad", [0, 3, 64, None, True, "8"])
def test_invalid_num_labeled(bad):
    with pytest.raises(ValueError, match="num_labeled"):
        coil.coil100_frame_splits(bad)


@pytest.fixture(scope="module")
def coil_folder(tmp_path_factory):
    """3 objects x 72 random 64x64 RGB frames named obj{i}__{angle}.png."""
    folder = tmp_path_factory.mktemp("coil-100")
    rng = np.random.RandomState(0)
    for obj in range(1, 4):
        for t in range(72):
            img = rng.randint(0, 256, size=(64, 64, 3)).astype(np.uint8)
            Image.fromarray(img).save(folder / f"obj{obj}__{5 * t}.png")
    return str(folder)


def pil_reference(folder, obj, t, size):
    with Image.open(os.path.join(folder, f"obj{obj}__{5 * t}.png")) as img:
        arr = img.convert("RGB").resize((size, size), Image.BILINEAR)
    return np.asarray(arr) / 255.0


def test_reading_and_resizing(coil_folder):
    data = coil.COIL100Dataset(coil_folder, n_objects=3, zca_epsilon=None,
                               dtype="float64", progress=False)
    assert data.X.shape == (3, 72, 32, 32, 3)
    assert data.num_classes == 3 and data.source == "coil100"
    np.testing.assert_array_equal(data.Y, np.eye(3))
    for obj, t in ((1, 0), (2, 35), (3, 71)):
        np.testing.assert_allclose(data.X[obj - 1, t],
                                   pil_reference(coil_folder, obj, t, 32))


def test_transductive_zca_and_labeled_splits(coil_folder):
    data = coil.COIL100Dataset(coil_folder, size=4, n_objects=3,
                               progress=False)
    raw = np.stack([np.stack([pil_reference(coil_folder, o, t, 4)
                              for t in range(72)]) for o in (1, 2, 3)])
    rows = raw.reshape(-1, 48)                      # all frames (transductive)
    mean = rows.mean(0)
    cov = (rows - mean).T @ (rows - mean) / len(rows)
    w, v = np.linalg.eigh(cov)
    p = v @ np.diag(1 / np.sqrt(np.clip(w, 0, None) + 1e-3)) @ v.T
    np.testing.assert_allclose(data.X.reshape(-1, 48), (rows - mean) @ p,
                               atol=1e-3)
    assert data.X.dtype == np.float32

    (xl, yl), (xv, yv), (xt, yt) = data.generate_labeled_data(8)
    assert xl.shape == (3, 8, 4, 4, 3) and xt.shape == (3, 56, 4, 4, 3)
    np.testing.assert_array_equal(xv, data.X[:, SPEC_VAL[8]])
    np.testing.assert_array_equal(xt[:, 0], data.X[:, 1])
    for y in (yl, yv, yt):
        np.testing.assert_array_equal(y, np.eye(3))
    assert data.info["shape"] == [3, 72, 4, 4, 3]


def test_missing_data_errors(tmp_path, coil_folder):
    with pytest.raises(FileNotFoundError) as err:
        coil.COIL100Dataset(str(tmp_path / "coil-100"))
    assert coil.COIL100_URL in str(err.value)
    assert "does not exist" in str(err.value)
    assert "Received: path=" in str(err.value)
    with pytest.raises(FileNotFoundError, match=r"obj4__0\.png"):
        coil.COIL100Dataset(coil_folder, n_objects=4, progress=False)
    with pytest.raises(ValueError, match="n_objects=101"):
        coil.COIL100Dataset(coil_folder, n_objects=101)
