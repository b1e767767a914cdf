"""Kinetics CSV parser and preparation on a fixture in the official format."""

import os
import warnings

import pytest

from deltasparse.data.datasets import kinetics
from tests.data.datasets.video_fixtures import write_corrupt
from tests.data.datasets.video_fixtures import write_video

HEADER = "label,youtube_id,time_start,time_end,split"
TRAIN = [("air drumming", "-aB3_x9", 10, 20), ("abseiling", "q0Zz", 0, 10),
         ("zumba", "Kk-9", 95, 105), ("abseiling", "mM1", 4, 14)]
VAL = [("zumba", "v1", 1, 11), ("air drumming", "v2", 3, 13),
       ("abseiling", "v3gone", 0, 10), ("zumba", "v4bad", 2, 12)]
TEST = [("t1", 5, 15), ("t2", 0, 10)]
CLASSES = ["abseiling", "air drumming", "zumba"]


def _stem(yid, start, end):
    return f"{yid}_{start:06d}_{end:06d}"


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    base = tmp_path_factory.mktemp("kinetics")
    ann = base / "kinetics400"
    ann.mkdir()
    (ann / "train.csv").write_text(HEADER + "\n" + "".join(
        f"{lab},{y},{s},{e},train\n" for lab, y, s, e in TRAIN))
    (ann / "validate.csv").write_text(HEADER + ",is_cc\n" + "".join(
        f'"{lab}",{y},{s}.0,{e},val,0\n' for lab, y, s, e in VAL))
    (ann / "test.csv").write_text("youtube_id,time_start,time_end,split\n"
                                  + "".join(f"{y},{s},{e},test\n"
                                            for y, s, e in TEST))
    # train clips in <label>/ folders (with spaces), one .mkv
    for i, (lab, y, s, e) in enumerate(TRAIN):
        ext = ".mkv" if i == 2 else ".mp4"
        write_video(base / "train" / lab / (_stem(y, s, e) + ext), 3 + i,
                    "MJPG" if ext == ".mkv" else "mp4v")
    # val clips flat; one missing, one corrupt
    write_video(base / "val" / (_stem("v1", 1, 11) + ".mp4"), 4, "mp4v")
    write_video(base / "val" / (_stem("v2", 3, 13) + ".mp4"), 5, "mp4v")
    write_corrupt(base / "val" / (_stem("v4bad", 2, 12) + ".mp4"))
    write_video(base / "test" / "t1.mp4", 3, "mp4v")  # named by id only
    write_video(base / "test" / (_stem("t2", 0, 10) + ".mp4"), 2, "mp4v")
    return base


def _prepare(base, subset, csv, folder, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        videos = kinetics.prepare_kinetics(
            str(base / "kinetics400" / csv), str(base / folder),
            str(base / "out"), subset,
            classes_csv=str(base / "kinetics400" / "train.csv"),
            progress=False, workers=2, **kwargs)
    return videos, [str(w.message) for w in caught]


def test_read_annotations(official):
    rows = kinetics.read_annotations(official / "kinetics400" /
                                     "validate.csv")
    assert [(r["label"], r["youtube_id"], r["time_start"], r["time_end"])
            for r in rows] == VAL
    test = kinetics.read_annotations(official / "kinetics400" / "test.csv")
    assert [r["label"] for r in test] == [None, None]
    assert kinetics.class_names_from(
        official / "kinetics400" / "train.csv") == CLASSES


def test_train_subset_in_label_folders(official):
    videos, _ = _prepare(official, "train", "train.csv", "train")
    assert videos.video_ids == [_stem(y, s, e) for _, y, s, e in TRAIN]
    assert [CLASSES[j] for j in videos.single_labels()] == [
        lab for lab, *_ in TRAIN]
    assert videos.num_frames.tolist() == [3, 4, 5, 6]
    assert videos.class_names == CLASSES
    assert all(os.path.isfile(p) and " " not in p for p in videos.paths)
    assert videos.name == "kinetics/train"
    read = kinetics.kinetics_videos(official / "out", "train")
    assert read.paths == videos.paths


def test_val_subset_lists_missing_and_unreadable(official):
    videos, messages = _prepare(official, "val", "validate.csv", "val")
    assert videos.video_ids == [_stem("v1", 1, 11), _stem("v2", 3, 13)]
    assert [CLASSES[j] for j in videos.single_labels()] == ["zumba",
                                                           "air drumming"]
    missing = (official / "out" / "missing_val.txt").read_text()
    assert missing == f"{_stem('v3gone', 0, 10)}\t" \
                      f"{_stem('v3gone', 0, 10)}.mp4\n"
    assert any("1 of 4 annotated videos" in m for m in messages)
    assert videos.unreadable[0][0] == _stem("v4bad", 2, 12)


def test_unlabeled_test_subset(official):
    videos, _ = _prepare(official, "test", "test.csv", "test")
    assert videos.labels == [(), ()]
    assert videos.video_ids == [_stem("t1", 5, 15), _stem("t2", 0, 10)]
    assert videos.paths[0].endswith("test/t1.mp4")


def test_errors_and_missing_data(official, tmp_path):
    with pytest.raises(ValueError, match="must give 400 classes"):
        _prepare(official, "train", "train.csv", "train", num_classes=400)
    with pytest.raises(FileNotFoundError) as info:
        kinetics.kinetics_videos(tmp_path, "val")
    assert kinetics.KINETICS_URL in str(info.value)
    assert "prepare_kinetics.py" in str(info.value)
    with pytest.raises(FileNotFoundError, match="None of the 4 clips"):
        _prepare(official, "val", "validate.csv", "train")
    bad = tmp_path / "bad.csv"
    bad.write_text("label,youtube_id\nx,y\n")
    with pytest.raises(ValueError, match="time_start"):
        kinetics.read_annotations(bad)
    few = tmp_path / "few.csv"
    few.write_text(HEADER + "\nzumba,a,0,10,train\n")
    with pytest.raises(ValueError, match="classes CSV lacks"):
        kinetics.prepare_kinetics(
            official / "kinetics400" / "train.csv", official / "train",
            tmp_path / "o", "train", classes_csv=few, progress=False)


def test_cli(official, tmp_path, capsys):
    code = kinetics.main([
        "--annotations", str(official / "kinetics400" / "train.csv"),
        "--videos", str(official / "train"), "--output", str(tmp_path),
        "--subset", "train", "--quiet"])
    assert code == 0
    assert "kinetics/train: 4 videos, 3 classes" in capsys.readouterr().out
