"""Tests of `prepare_ucf101` and its CLI on a mini UCF tree made here."""

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from deltasparse.data.datasets import ucf101
from deltasparse.data.datasets import ucf101_prepare

H, W = 16, 24
CLASS_IND = ["Hammering", "HammerThrow", "JumpingJack", "JumpRope"]
TRAIN = {  # relpath -> frames
    "Hammering/v_Hammering_g02_c01.avi": 5,
    "HammerThrow/v_HammerThrow_g02_c01.avi": 4,
    "JumpingJack/v_JumpingJack_g02_c01.avi": 6,
    "JumpRope/v_JumpRope_g02_c01.avi": 3,
}
TEST = {
    "Hammering/v_Hammering_g01_c01.avi": 4,
    "JumpRope/v_JumpRope_g01_c01.avi": 5,
}
CORRUPT = "HammerThrow/v_HammerThrow_g03_c01.avi"  # in the train list


def _frame_value(rel, k):
    return (40 * k + 10 * len(rel)) % 250


def _write_video(path, rel, n):
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 25, (W, H))
    assert writer.isOpened()
    for k in range(n):
        frame = np.full((H, W, 3), _frame_value(rel, k), np.uint8)
        frame[:, :4, 2] = 255  # a red stripe on the left (BGR order)
        writer.write(frame)
    writer.release()


def _make_mini_ucf(base):
    src = base / "UCF-101"
    lists = base / "ucfTrainTestlist"
    for c in CLASS_IND:
        (src / c).mkdir(parents=True)
    lists.mkdir()
    for rel, n in {**TRAIN, **TEST}.items():
        _write_video(str(src / rel), rel, n)
    with open(src / CORRUPT, "wb") as f:
        f.write(b"RIFF\x00\x00garbage, not a video" * 10)
    crlf = "\r\n"
    label = {c: i + 1 for i, c in enumerate(CLASS_IND)}
    (lists / "classInd.txt").write_bytes(
        "".join(f"{label[c]} {c}{crlf}" for c in CLASS_IND).encode())
    train = list(TRAIN) + [CORRUPT]
    (lists / "trainlist01.txt").write_bytes("".join(
        f"{r} {label[r.split('/')[0]]}{crlf}" for r in train).encode())
    (lists / "testlist01.txt").write_bytes(
        "".join(f"{r}{crlf}" for r in TEST).encode())
    return str(src), str(lists)


@pytest.fixture(scope="module")
def mini_ucf(tmp_path_factory):
    return _make_mini_ucf(tmp_path_factory.mktemp("mini"))


def _prepare(mini, out, **kwargs):
    src, lists = mini
    kwargs.setdefault("workers", 1)
    kwargs.setdefault("progress", False)
    return ucf101.prepare_ucf101(src, lists, str(out), split=1, **kwargs)


def _frames_of(root, subset, rel):
    d = os.path.join(root, f"{subset}_frames", os.path.dirname(rel))
    name = os.path.basename(rel)
    return sorted(f for f in os.listdir(d) if f.startswith(name + "_"))


def test_prepare_layout_frames_and_corrupt(mini_ucf, tmp_path, caplog):
    res = _prepare(mini_ucf, tmp_path)
    root = res.root
    assert root == os.path.join(str(tmp_path), "split1")
    assert os.fspath(res) == root
    assert res.classes == ["HammerThrow", "Hammering", "JumpRope",
                           "JumpingJack"]
    assert res.prepared == {"train": 4, "test": 2}
    assert res.skipped == {"train": 0, "test": 0}
    assert res.frames["train"] == TRAIN and res.frames["test"] == TEST
    for subset, videos in (("train", TRAIN), ("test", TEST)):
        for rel, n in videos.items():
            video = os.path.join(root, subset, rel)
            src = os.path.join(mini_ucf[0], rel)
            assert os.path.samefile(video, src)  # hard link
            names = _frames_of(root, subset, rel)
            assert len(names) == n
            for k in range(n):
                img = cv2.imread(ucf101.frame_path(
                    os.path.join(root, f"{subset}_frames", rel.split("/")[0]),
                    os.path.basename(rel), k))
                assert img.shape == (H, W, 3)
                assert abs(img[:, 8:, 0].mean() - _frame_value(rel, k)) < 6
                assert img[:, :3, 2].mean() > 200  # still red (BGR)
    # Every class folder exists, even the ones without videos in a subset.
    assert sorted(os.listdir(os.path.join(root, "test"))) == res.classes
    # The corrupt video is skipped, logged and listed.
    assert res.corrupt == [("train", CORRUPT, res.corrupt[0][2])]
    assert not os.path.exists(os.path.join(root, "train", CORRUPT))
    assert _frames_of(root, "train", CORRUPT) == []
    assert ucf101.read_corrupt_list(root) == res.corrupt
    assert "unreadable" in caplog.text and CORRUPT in caplog.text
    index = ucf101.read_index(root, "train")
    assert index["classes"] == res.classes
    assert index["videos"] == TRAIN
    assert index["frames_extracted"] is True
    # No temporary file is left behind.
    leftovers = [f for _, _, files in os.walk(root) for f in files
                 if f.endswith(".tmp")]
    assert leftovers == []


def test_second_run_does_no_work(mini_ucf, tmp_path):
    root = _prepare(mini_ucf, tmp_path).root
    frame = os.path.join(root, "train_frames", "Hammering",
                         "v_Hammering_g02_c01.avi_0.jpg")
    before = os.stat(frame).st_mtime_ns
    res = _prepare(mini_ucf, tmp_path)
    assert res.prepared == {"train": 0, "test": 0}
    assert res.skipped == {"train": 5, "test": 2}  # incl. the known corrupt
    assert len(res.corrupt) == 1
    assert os.stat(frame).st_mtime_ns == before
    assert res.frames["train"] == TRAIN


def test_interrupted_video_is_redone(mini_ucf, tmp_path):
    root = _prepare(mini_ucf, tmp_path).root
    rel = "JumpingJack/v_JumpingJack_g02_c01.avi"
    frames_dir = os.path.join(root, "train_frames", "JumpingJack")
    name = os.path.basename(rel)
    # Simulate a crash mid-video: marker gone, frames 3.. missing, a stale
    # frame from some other run and a temporary file left over.
    os.remove(os.path.join(root, ".markers", "train", rel + ".json"))
    for k in range(3, 6):
        os.remove(ucf101.frame_path(frames_dir, name, k))
    stale = ucf101.frame_path(frames_dir, name, 40)
    open(stale, "wb").close()
    with open(ucf101.frame_path(frames_dir, name, 1), "wb") as f:
        f.write(b"truncated")
    res = _prepare(mini_ucf, tmp_path)
    assert res.prepared == {"train": 1, "test": 0}
    assert len(_frames_of(root, "train", rel)) == 6
    assert not os.path.exists(stale)
    img = cv2.imread(ucf101.frame_path(frames_dir, name, 1))
    assert img is not None and abs(
        img[:, 8:, 0].mean() - _frame_value(rel, 1)) < 6


def test_missing_output_file_is_redone(mini_ucf, tmp_path):
    root = _prepare(mini_ucf, tmp_path).root
    rel = "Hammering/v_Hammering_g01_c01.avi"
    os.remove(os.path.join(root, "test", rel))
    res = _prepare(mini_ucf, tmp_path)
    assert res.prepared == {"train": 0, "test": 1}
    assert os.path.exists(os.path.join(root, "test", rel))


def test_parallel_workers_and_copy(mini_ucf, tmp_path):
    res = _prepare(mini_ucf, tmp_path, workers=2, link="copy",
                   subsets=("test",))
    assert res.prepared == {"test": 2}
    assert res.frames["test"] == TEST
    video = os.path.join(res.root, "test", "JumpRope",
                         "v_JumpRope_g01_c01.avi")
    assert not os.path.samefile(video, os.path.join(
        mini_ucf[0], "JumpRope", "v_JumpRope_g01_c01.avi"))
    assert not os.path.exists(os.path.join(res.root, "train"))


def test_symlink_without_frames_then_with_frames(mini_ucf, tmp_path):
    res = _prepare(mini_ucf, tmp_path, link="symlink", extract_frames=False)
    video = os.path.join(res.root, "train", "JumpRope",
                         "v_JumpRope_g02_c01.avi")
    assert os.path.islink(video)
    assert not os.path.exists(os.path.join(res.root, "train_frames"))
    assert res.frames["train"] == TRAIN  # counted by decoding
    assert ucf101.read_index(res.root, "train")["frames_extracted"] is False
    res = _prepare(mini_ucf, tmp_path, link="symlink")
    assert res.prepared == {"train": 4, "test": 2}
    assert len(_frames_of(res.root, "train", "JumpRope/v_JumpRope_g02_c01.avi")) == 3


def test_unknown_class_in_list(tmp_path):
    src, lists = _make_mini_ucf(tmp_path)
    with open(os.path.join(lists, "testlist01.txt"), "ab") as f:
        f.write(b"Nope/v_Nope_g01_c01.avi\r\n")
    with pytest.raises(ValueError, match="missing from classInd"):
        ucf101.prepare_ucf101(src, lists, str(tmp_path / "o"), workers=1,
                              progress=False)


def test_lists_found_next_to_source(mini_ucf, tmp_path):
    src, _ = mini_ucf
    res = ucf101.prepare_ucf101(os.path.dirname(src), None, str(tmp_path),
                                subsets="test", workers=1, progress=False)
    assert res.prepared == {"test": 2}


def test_cli_main(mini_ucf, tmp_path, capsys):
    src, lists = mini_ucf
    rc = ucf101_prepare.main(["--source", src, "--lists", lists, "--output",
                              str(tmp_path), "--workers", "1", "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "train: 4 prepared" in out and "1 unreadable" in out
    with open(os.path.join(tmp_path, "split1", "test_index.json")) as f:
        assert json.load(f)["videos"] == TEST
    rc = ucf101_prepare.main(["--source", str(tmp_path / "missing"),
                              "--output", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 1 and "UCF101.rar" in err


def test_cli_help_runs_as_module():
    out = subprocess.run(
        [sys.executable, "-m", "deltasparse.data.datasets.ucf101_prepare", "--help"],
        capture_output=True, text=True, check=True).stdout
    assert "--source" in out and "--split" in out
