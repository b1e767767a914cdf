"""Tests for deltasparse.data.datasets.nec_animal (spec §5.4) on a tiny fake folder."""

import os

import numpy as np
import pytest
from PIL import Image

from deltasparse.data.datasets import nec_animal as nec

HEADER = ["NEC Animal \u00e9quipe", "clean sequences", "# start end", "---"]


def write_folder(root, lines, frames, side=16, seed=0):
    """seq_ref_clean.txt (latin-1) + img_clean/img%04d.jpg frames."""
    os.makedirs(os.path.join(root, "img_clean"), exist_ok=True)
    with open(os.path.join(root, "seq_ref_clean.txt"), "w",
              encoding="latin-1") as f:
        f.write("\n".join(HEADER + lines) + "\n")
    rng = np.random.RandomState(seed)
    for q in frames:
        img = rng.randint(0, 256, size=(side, side, 3)).astype(np.uint8)
        Image.fromarray(img).save(os.path.join(root, "img_clean",
                                               f"img{q:04d}.jpg"))
    return root


def reference_frame(root, q, size):
    path = os.path.join(root, "img_clean", f"img{q:04d}.jpg")
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB").resize((size, size),
                                                    Image.BILINEAR)) / 255.0


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    # Sequences 1-3, 4-5, 6-7; the file's last end (7) is forced to 9.
    root = str(tmp_path_factory.mktemp("animalclean"))
    return write_folder(root, ["1 3", "4 5", "", "6 7"], range(1, 10))


def test_sequence_ranges_force_last_end(folder):
    path = os.path.join(folder, "seq_ref_clean.txt")
    assert nec.read_sequence_ranges(path) == [(1, 3), (4, 5), (6, 4371)]
    assert nec.read_sequence_ranges(path, last_end=9) == [(1, 3), (4, 5),
                                                          (6, 9)]
    assert nec.read_sequence_ranges(path, last_end=None)[-1] == (6, 7)
    assert nec.read_sequence_ranges(path, header_lines=5,
                                    last_end=None) == [(4, 5), (6, 7)]


def test_padding_and_frames(folder):
    data = nec.NECAnimalDataset(folder, size=8, zca_epsilon=None,
                                last_end=9, dtype="float64", progress=False)
    np.testing.assert_array_equal(data.lengths, [3, 2, 4])
    assert data.X.shape == (3, 4, 8, 8, 3)          # T = longest sequence
    first = {0: 1, 1: 4, 2: 6}
    for i, n in enumerate(data.lengths):
        for t in range(n):
            np.testing.assert_allclose(data.X[i, t],
                                       reference_frame(folder, first[i] + t,
                                                       8))
        # pad -1 written first, then everything / 255 (faithful quirk)
        np.testing.assert_array_equal(data.X[i, n:], -1.0 / 255.0)
    np.testing.assert_array_equal(
        data.pad_mask, [[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]])
    np.testing.assert_array_equal(data.Y, np.eye(3))
    assert data.source == "nec_animal"


def test_given_length_and_subset(folder):
    data = nec.NECAnimalDataset(folder, size=8, zca_epsilon=None,
                                last_end=9, clip_length=6, n_videos=2,
                                pad_value=-2, progress=False)
    assert data.X.shape == (2, 6, 8, 8, 3) and data.X.dtype == np.float32
    np.testing.assert_array_equal(data.X[1, 2:], np.float32(-2 / 255.0))
    with pytest.raises(ValueError, match="clip_length=3"):
        nec.NECAnimalDataset(folder, last_end=9, clip_length=3, progress=False)
    with pytest.raises(ValueError, match="n_videos=4"):
        nec.NECAnimalDataset(folder, last_end=9, n_videos=4)


def test_zca_on_all_frames_including_pads(folder):
    data = nec.NECAnimalDataset(folder, size=2, last_end=9, clip_length=5,
                                dtype="float64", progress=False)
    raw = np.full((3, 5, 2, 2, 3), -1.0 / 255.0)
    for i, (start, n) in enumerate(((1, 3), (4, 2), (6, 4))):
        for t in range(n):
            raw[i, t] = reference_frame(folder, start + t, 2)
    rows = raw.reshape(-1, 12)
    mean = rows.mean(0)
    cov = (rows - mean).T @ (rows - mean) / len(rows)
    w, v = np.linalg.eigh(cov)
    p = v @ np.diag(1 / np.sqrt(np.clip(w, 0, None) + 1e-3)) @ v.T
    np.testing.assert_allclose(data.X.reshape(-1, 12), (rows - mean) @ p,
                               atol=1e-6)
    assert data.info["lengths"] == [3, 2, 4]


def test_missing_and_malformed(tmp_path, folder):
    with pytest.raises(FileNotFoundError, match="animalclean"):
        nec.NECAnimalDataset(str(tmp_path / "nothing"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="seq_ref_clean.txt"):
        nec.NECAnimalDataset(str(empty))
    # default last_end=4371 needs frames up to img4371.jpg
    with pytest.raises(FileNotFoundError, match=r"img0010\.jpg"):
        nec.NECAnimalDataset(folder, progress=False)
    bad = write_folder(str(tmp_path / "bad"), ["1 2", "three 4"], [])
    with pytest.raises(ValueError, match="Line 6"):
        nec.NECAnimalDataset(bad)
    none = write_folder(str(tmp_path / "none"), [], [])
    with pytest.raises(ValueError, match="no 'start end'"):
        nec.NECAnimalDataset(none)
    backwards = write_folder(str(tmp_path / "back"), ["5 2"], [])
    with pytest.raises(ValueError, match="end >= start"):
        nec.NECAnimalDataset(backwards, last_end=None)
