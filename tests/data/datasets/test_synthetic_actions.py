"""Tests of the embedded synthetic action dataset."""

import os
import subprocess
import sys

import cv2
import keras
import numpy as np
import pytest

from deltasparse.data.datasets import synthetic_actions as sa
from deltasparse.data.datasets import ucf101
from deltasparse.data.video import clip_dataset
from deltasparse.data.video import frame_dataset

SMALL = dict(classes=4, videos_per_class=4, clips_per_group=2, test_groups=1,
             frames=10, size=32)


@pytest.fixture(scope="module")
def small_raw(tmp_path_factory):
    return sa.make_synthetic_ucf(str(tmp_path_factory.mktemp("raw")), **SMALL)


def _decode(path):
    cap = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    return np.stack(frames) if frames else None


def test_layout_lists_and_decodable_videos(small_raw):
    names = list(sa.CLASS_NAMES[:4])
    assert sorted(os.listdir(os.path.join(small_raw, "UCF-101"))) == sorted(names)
    lists = os.path.join(small_raw, "ucfTrainTestlist")
    # Official format, CRLF line endings, classInd numbering in table order.
    with open(os.path.join(lists, "classInd.txt"), "rb") as f:
        raw = f.read()
    assert raw.count(b"\r\n") == 4 and raw.startswith(b"1 MoveUp\r\n")
    assert ucf101.read_class_index(os.path.join(lists, "classInd.txt")) == names
    assert sorted(names) != names  # the sorted model order differs, as in UCF
    train = ucf101.read_split_list(os.path.join(lists, "trainlist01.txt"))
    test = ucf101.read_split_list(os.path.join(lists, "testlist01.txt"))
    assert len(train) == 4 * 2 and len(test) == 4 * 2
    assert all(e.label == names.index(e.class_name) + 1 for e in train)
    assert all(e.label is None for e in test)
    assert all("_g01_" in e.filename for e in test)
    assert all("_g02_" in e.filename for e in train)
    assert train[0].relpath == "MoveUp/v_MoveUp_g02_c01.avi"
    for e in train + test:
        path = os.path.join(small_raw, "UCF-101", e.relpath)
        video = _decode(path)
        assert video.shape == (10, 32, 32, 3)
        assert video.std(axis=0).mean() > 0.5  # something moves
    leftovers = [f for _, _, fs in os.walk(small_raw) for f in fs
                 if ".tmp" in f]
    assert leftovers == []


def test_render_is_deterministic_and_varied():
    a = sa.render_video("Pulse", frames=6, size=32, seed=3, group=1, clip=1)
    b = sa.render_video("Pulse", frames=6, size=32, seed=3, group=1, clip=1)
    c = sa.render_video("Pulse", frames=6, size=32, seed=4, group=1, clip=1)
    assert a.shape == (6, 32, 32, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert np.abs(a.astype(int) - c).mean() > 5
    # Clips of different classes in the same group share the background,
    # so the difference is confined to where the objects are.
    up = sa.render_video("MoveUp", 4, 48, seed=0, group=2, clip=1, noise=0)
    blink = sa.render_video("Blink", 4, 48, seed=0, group=2, clip=1, noise=0)
    same = np.all(up[0] == blink[0], axis=-1).mean()
    assert same > 0.6
    with pytest.raises(ValueError, match="`class_name`"):
        sa.render_video("Juggling")


def test_every_class_renders_and_moves():
    for name in sa.CLASS_NAMES:
        v = sa.render_video(name, frames=12, size=48, seed=1, noise=0).astype(
            np.float32)
        motion = np.abs(np.diff(v, axis=0)).mean()
        assert motion > 0.2, name


def test_idempotent_and_resumable(small_raw, tmp_path):
    video = os.path.join(small_raw, "UCF-101", "MoveUp",
                         "v_MoveUp_g01_c01.avi")
    before = os.stat(video).st_mtime_ns
    assert sa.make_synthetic_ucf(small_raw, **SMALL) == small_raw
    assert os.stat(video).st_mtime_ns == before
    with pytest.raises(ValueError, match="other arguments"):
        sa.make_synthetic_ucf(small_raw, **{**SMALL, "frames": 11})
    # An interrupted run (no completion marker, a video missing) resumes and
    # produces the same bytes.
    root = str(tmp_path / "r")
    sa.make_synthetic_ucf(root, **SMALL)
    os.remove(os.path.join(root, "synthetic_ucf.json"))
    gone = os.path.join(root, "UCF-101", "Slide", "v_Slide_g02_c02.avi")
    with open(gone, "rb") as f:
        expected = f.read()
    os.remove(gone)
    sa.make_synthetic_ucf(root, **SMALL)
    with open(gone, "rb") as f:
        assert f.read() == expected


@pytest.mark.parametrize("kwargs, match", [
    ({"classes": 1}, "`classes`"),
    ({"classes": ["MoveUp", "Nope"]}, "`classes`"),
    ({"videos_per_class": 1}, "`videos_per_class`"),
    ({"test_groups": 2, "videos_per_class": 4, "clips_per_group": 2},
     "`test_groups`"),
    ({"size": 8}, "`size`"),
    ({"noise": -1.0}, "`noise`"),
])
def test_invalid_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        sa.make_synthetic_ucf(str(tmp_path), **kwargs)


def test_ensure_synthetic_ucf_prepares_into_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DELTASPARSE_HOME", str(tmp_path / "home"))
    root = sa.ensure_synthetic_ucf(**SMALL)
    assert root.startswith(str(tmp_path / "home"))
    assert os.path.basename(root) == "split1"
    for sub in ("train", "test", "train_frames", "test_frames"):
        assert sorted(os.listdir(os.path.join(root, sub))) == sorted(
            sa.CLASS_NAMES[:4])
    assert ucf101.read_corrupt_list(root) == []
    index = ucf101.read_index(root, "train")
    assert set(index["videos"].values()) == {10}
    # A second call does no work and returns the same folder.
    frame = os.path.join(root, "test_frames", "MoveUp",
                         "v_MoveUp_g01_c01.avi_0.jpg")
    before = os.stat(frame).st_mtime_ns
    assert sa.ensure_synthetic_ucf(**SMALL) == root
    assert os.stat(frame).st_mtime_ns == before
    # The pipeline reads it.
    ds = clip_dataset(root, 2, subset="train", batch_size=4, image_size=(32, 32))
    x, y = next(iter(ds))
    assert x.shape == (4, 2, 32, 32, 3) and y.shape == (4, 4)
    assert ds.class_names == sorted(sa.CLASS_NAMES[:4])
    # Explicit cache_dir wins over the environment.
    other = sa.ensure_synthetic_ucf(cache_dir=str(tmp_path / "c"), **SMALL)
    assert other.startswith(str(tmp_path / "c"))


def test_default_cache_dir(monkeypatch):
    monkeypatch.setenv("DELTASPARSE_HOME", "/x/y")
    assert sa.default_cache_dir() == "/x/y"
    monkeypatch.delenv("DELTASPARSE_HOME")
    assert sa.default_cache_dir() == os.path.join(
        os.path.expanduser("~"), ".deltasparse")


def test_cli_script(tmp_path):
    script = os.path.join(os.path.dirname(__file__), "..", "..", "..",
                          "dataset_preparation", "make_synthetic_ucf.py")
    out = subprocess.run(
        [sys.executable, script, "--root", str(tmp_path / "raw"), "--prepare",
         str(tmp_path / "prep"), "--videos-per-class", "2",
         "--clips-per-group", "1", "--test-groups", "1", "--frames", "4",
         "--size", "16"],
        capture_output=True, text=True, check=True).stdout
    assert out.split() == [str(tmp_path / "raw"),
                           str(tmp_path / "prep" / "split1")]
    assert os.path.isfile(tmp_path / "prep" / "split1" / "train_index.json")


@pytest.mark.slow
def test_learnable_by_a_small_frame_model(tmp_path):
    """A tiny CNN beats chance (1/8) clearly on held-out groups, in seconds."""
    raw = sa.make_synthetic_ucf(str(tmp_path / "raw"), videos_per_class=12,
                                clips_per_group=3, test_groups=1, frames=16,
                                size=32)
    root = ucf101.prepare_ucf101(
        os.path.join(raw, "UCF-101"), os.path.join(raw, "ucfTrainTestlist"),
        str(tmp_path / "p"), workers=1, progress=False).root
    x, y = next(iter(frame_dataset(root, subset="train", batch_size=4096,
                                   image_size=(32, 32), preprocessing="tf")))
    xt, yt = next(iter(clip_dataset(root, 4, sequence_stride=4, subset="test",
                                    batch_size=4096, image_size=(32, 32),
                                    preprocessing="tf")))
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((32, 32, 3)),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.MaxPool2D(),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.MaxPool2D(),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(8, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss="categorical_crossentropy")
    model.fit(x.numpy(), y.numpy(), batch_size=32, epochs=8, verbose=0)
    xt = xt.numpy()
    probs = model.predict(xt.reshape((-1,) + xt.shape[2:]), verbose=0)
    clip_probs = probs.reshape(xt.shape[0], xt.shape[1], -1).mean(1)
    accuracy = (clip_probs.argmax(1) == yt.numpy().argmax(1)).mean()
    assert accuracy >= 0.25, accuracy  # chance is 0.125
