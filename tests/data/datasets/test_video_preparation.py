"""Tests of the shared preparation engine (`prepare_videos`) on tiny videos."""

import json
import os
import runpy
import warnings

import cv2
import numpy as np
import pytest

from deltasparse.data.datasets import ucf101
from deltasparse.data.datasets import video_preparation as preparation
from deltasparse.data.video.video_list import read_list_file
from tests.data.datasets.video_fixtures import frame_value
from tests.data.datasets.video_fixtures import write_corrupt
from tests.data.datasets.video_fixtures import write_video

FRAMES = {"run/a.avi": 5, "run/b.avi": 3, "walk/c.avi": 4, "walk/d.avi": 6}
CLASSES = ["run", "walk"]


class SimulatedKill(Exception):
    """Stands for a kill: raised by a worker, it stops the run."""


@pytest.fixture
def source(tmp_path):
    src = tmp_path / "src"
    for rel, n in FRAMES.items():
        write_video(src / rel, n)
    write_corrupt(src / "walk" / "broken.avi")
    return src


def _entries(src, extra=True):
    rows = [(rel, str(src / rel), (CLASSES.index(rel.split("/")[0]),))
            for rel in FRAMES]
    if extra:
        rows += [("walk/broken.avi", str(src / "walk/broken.avi"), (1,)),
                 ("walk/gone.avi", str(src / "walk/gone.avi"), (1,))]
    return rows


def _prepare(src, out, **kwargs):
    kwargs.setdefault("progress", False)
    kwargs.setdefault("workers", 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        videos = preparation.prepare_videos(_entries(src), out, "train",
                                            CLASSES, **kwargs)
    return videos, [str(w.message) for w in caught]


def test_list_classes_and_unreadable(source, tmp_path):
    out = tmp_path / "out"
    videos, messages = _prepare(source, out)
    assert videos.video_ids == list(FRAMES)
    assert videos.num_frames.tolist() == list(FRAMES.values())
    assert videos.labels == [(0,), (0,), (1,), (1,)]
    assert videos.frame_template is None
    assert dict(videos.unreadable).keys() == {"walk/broken.avi",
                                              "walk/gone.avi"}
    assert "missing" in dict(videos.unreadable)["walk/gone.avi"]
    assert any("2 of 6 videos" in m and "unreadable.txt" in m
               for m in messages)
    # The files on disk, read by independent means.
    assert (out / "classes.txt").read_text() == "0 run\n1 walk\n"
    rows = [line.split("\t") for line in (out / "unreadable.txt").read_text(
        ).splitlines() if not line.startswith("#")]
    assert sorted(r[1] for r in rows) == ["walk/broken.avi", "walk/gone.avi"]
    assert all(r[0] == "train" and r[2].startswith(str(source)) for r in rows)
    listed = read_list_file(out / "train.txt")
    assert listed.num_frames.tolist() == list(FRAMES.values())
    assert listed.paths == [str(source / rel) for rel in FRAMES]
    again = preparation.read_prepared_videos(out, "train", "prepare it")
    assert again.video_ids == videos.video_ids
    assert again.class_names == CLASSES
    assert again.unreadable == sorted(videos.unreadable)


def test_extract_frames(source, tmp_path):
    out = tmp_path / "out"
    videos, _ = _prepare(source, out, extract_frames=True)
    assert videos.frame_template == "{path}/img_{index:05d}.jpg"
    assert videos.frame_offset == 1
    folder = out / "frames" / "walk" / "d.avi"
    assert sorted(os.listdir(folder)) == [f"img_{k:05d}.jpg"
                                          for k in range(1, 7)]
    i = videos.video_ids.index("walk/d.avi")
    for k in range(6):  # frame k of the video is frame file k + 1
        image = cv2.imread(videos.frame_path(i, k))
        assert abs(float(image.mean()) - frame_value(k)) < 4
    read = preparation.read_prepared_videos(out, "train", "prepare it")
    assert read.paths[i] == str(folder)
    assert read.frame_path(i, 0).endswith("d.avi/img_00001.jpg")
    assert not any(".partial" in n for n in os.listdir(folder.parent))


def test_interrupted_run_resumes(source, tmp_path, monkeypatch):
    out = tmp_path / "out"
    real = preparation._prepare_one
    calls, state = [], {"kill": True}

    def dies_on_third(entry, *args):
        calls.append(entry.video_id)
        if state["kill"] and len(calls) == 3:
            state["kill"] = False
            raise SimulatedKill  # the run dies in the middle
        return real(entry, *args)

    monkeypatch.setattr(preparation, "_prepare_one", dies_on_third)
    with pytest.raises(SimulatedKill):
        _prepare(source, out, workers=1)
    assert not (out / "train.txt").exists()
    done = [json.loads(line)["video_id"] for line in
            (out / ".preparation.jsonl").read_text().splitlines()]
    assert done == calls[:2]
    # A killed run can leave half a line: it is ignored.
    with open(out / ".preparation.jsonl", "a") as f:
        f.write('{"video_id": "run/a.avi", "fra')
    calls.clear()
    videos, _ = _prepare(source, out, workers=1)
    assert sorted(calls) == sorted(set(v for v, _, _ in _entries(source))
                                   - set(done))
    assert videos.num_frames.tolist() == list(FRAMES.values())
    calls.clear()
    _prepare(source, out, workers=1)
    assert calls == []  # a finished preparation does no work
    _prepare(source, out, workers=1, decode=True)
    assert len(calls) == 6  # decoded counts were asked for: probed again


def test_cut_off_cache_line_is_ended(source, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".preparation.jsonl").write_text('{"video_id": "run/a.avi", "fr')
    real = preparation._prepare_one
    calls = []

    def dies_on_second(entry, *args):
        calls.append(entry.video_id)
        if len(calls) == 2:
            raise SimulatedKill
        return real(entry, *args)

    monkeypatch.setattr(preparation, "_prepare_one", dies_on_second)
    with pytest.raises(SimulatedKill):
        _prepare(source, out, workers=1)
    lines = (out / ".preparation.jsonl").read_text().splitlines()
    assert lines[0] == '{"video_id": "run/a.avi", "fr'
    assert json.loads(lines[1])["video_id"] == calls[0]


def test_changed_source_is_probed_again(source, tmp_path):
    out = tmp_path / "out"
    _prepare(source, out)
    write_video(source / "run/b.avi", 7)
    os.utime(source / "run/b.avi", ns=(1, 1))
    videos, _ = _prepare(source, out)
    assert videos.num_frames[videos.video_ids.index("run/b.avi")] == 7


def test_locked_folder(source, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with ucf101.preparation_lock(str(out)):
        with pytest.raises(ucf101.PreparationLockedError):
            _prepare(source, out)


def test_source_with_spaces_is_linked(tmp_path):
    path = write_video(tmp_path / "air drumming" / "x_000001_000011.mp4", 3,
                       "mp4v")
    videos = preparation.prepare_videos(
        [("x_000001_000011", path, (0,))], tmp_path / "out", "val",
        ["air drumming"], progress=False)
    link = tmp_path / "out" / "videos" / "x_000001_000011.mp4"
    assert videos.paths == [str(link)]
    assert os.path.realpath(link) == os.path.realpath(path)
    assert (tmp_path / "out" / "val.txt").read_text() == (
        "videos/x_000001_000011.mp4 3 0\n")


def test_invalid_arguments(source, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="`video_id`"):
        preparation.prepare_videos([("a b", str(source / "run/a.avi"), (0,))],
                                   out, "train", CLASSES, progress=False)
    with pytest.raises(ValueError, match="repeat"):
        preparation.prepare_videos([("a", "x", (0,)), ("a", "y", (0,))],
                                   out, "train", CLASSES, progress=False)
    with pytest.raises(ValueError, match=r"in \[0, 2\)"):
        preparation.prepare_videos([("a", "x", (2,))], out, "train", CLASSES,
                                   progress=False)
    with pytest.raises(ValueError, match="`name`"):
        preparation.prepare_videos([], out, "../up", CLASSES)
    _prepare(source, out)
    with pytest.raises(ValueError, match="other class names"):
        preparation.prepare_videos([], out, "test", ["jump"], progress=False)


def test_missing_subset_message(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        preparation.read_prepared_videos(tmp_path, "val", "GET IT HERE")
    message = str(info.value)
    assert "GET IT HERE" in message and message.endswith(
        f"Received: output_dir={str(tmp_path)!r}, name='val'")


def test_multilabel_list(source, tmp_path):
    videos = preparation.prepare_videos(
        [("a", str(source / "run/a.avi"), (0, 1))], tmp_path / "out",
        "train", CLASSES, progress=False)
    assert videos.multilabel
    read = preparation.read_prepared_videos(tmp_path / "out", "train", "")
    np.testing.assert_array_equal(read.label_matrix(), [[1.0, 1.0]])


def test_video_id_of_other_frames_is_refused(source, tmp_path):
    out = tmp_path / "out"
    preparation.prepare_videos([("x", str(source / "run/a.avi"), 0)], out,
                               "train", CLASSES, progress=False,
                               extract_frames=True)
    with pytest.raises(ValueError, match="already names the extracted"):
        preparation.prepare_videos([("x", str(source / "run/b.avi"), 0)],
                                   out, "val", CLASSES, progress=False,
                                   extract_frames=True)


@pytest.mark.parametrize("script", [
    "prepare_hmdb51.py", "prepare_kinetics.py",
    "prepare_something_something.py", "prepare_video_list.py"])
def test_preparation_scripts_show_help(script, monkeypatch, capsys):
    path = os.path.join(os.path.dirname(__file__), "..", "..", "..",
                        "dataset_preparation", script)
    monkeypatch.setattr("sys.argv", [script, "--help"])
    with pytest.raises(SystemExit) as info:
        runpy.run_path(path, run_name="__main__")
    assert info.value.code == 0
    assert "--output" in capsys.readouterr().out
