"""Something-Something V2 parser and preparation, official-format fixture."""

import json
import warnings

import pytest

from deltasparse.data.datasets import something_something as sthv2
from tests.data.datasets.video_fixtures import write_corrupt
from tests.data.datasets.video_fixtures import write_video

LABELS = {"Holding something next to something": "2",
          "Approaching something with your camera": "0",
          "Putting something on a surface": "1"}
CLASSES = ["Approaching something with your camera",
           "Putting something on a surface",
           "Holding something next to something"]
TRAIN = [("78687", "Holding [something] next to [something]",
          ["potato", "vicks vaporub bottle"]),
         ("42326", "Putting [something] on a surface", ["a cup"]),
         ("100", "Approaching [something] with your camera", ["a door"]),
         ("555", "Putting [something] on a surface", ["a pen"])]


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    base = tmp_path_factory.mktemp("sthv2")
    (base / "something-something-v2-labels.json").write_text(
        json.dumps(LABELS))
    (base / "something-something-v2-train.json").write_text(json.dumps([
        {"id": i, "label": template.replace("[something]", "x"),
         "template": template, "placeholders": things}
        for i, template, things in TRAIN]))
    (base / "something-something-v2-test.json").write_text(
        json.dumps([{"id": "9001"}, {"id": "9002"}]))
    videos = base / "20bn-something-something-v2"
    for k, (i, _, _) in enumerate(TRAIN[:3]):
        write_video(videos / f"{i}.webm", 3 + k, "VP80")
    write_corrupt(videos / "9001.webm")
    write_video(videos / "9002.webm", 4, "VP80")
    return base


def _prepare(base, subset, annotations, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        videos = sthv2.prepare_something_something(
            base / "something-something-v2-labels.json",
            base / f"something-something-v2-{annotations}.json",
            str(base / "20bn-something-something-v2"), str(base / "out"),
            subset, check_num_classes=False, progress=False, **kwargs)
    return videos, [str(w.message) for w in caught]


def test_labels_and_templates(official):
    assert sthv2.read_labels(
        official / "something-something-v2-labels.json") == CLASSES
    rows = sthv2.read_annotations(
        official / "something-something-v2-train.json", CLASSES)
    assert rows == [("78687", (2,)), ("42326", (1,)), ("100", (0,)),
                    ("555", (1,))]


def test_train_subset(official):
    videos, messages = _prepare(official, "train", "train")
    assert videos.video_ids == ["78687", "42326", "100"]
    assert videos.labels == [(2,), (1,), (0,)]
    assert videos.num_frames.tolist() == [3, 4, 5]
    assert videos.name == "something_something_v2/train"
    assert (official / "out" / "missing_train.txt").read_text() == (
        "555\t555.webm\n")
    assert any("1 of 4 annotated videos" in m for m in messages)
    read = sthv2.something_something_videos(official / "out", "train")
    assert read.class_names == CLASSES and read.labels == videos.labels


def test_unlabeled_test_subset(official):
    videos, messages = _prepare(official, "test", "test")
    assert videos.video_ids == ["9002"] and videos.labels == [()]
    assert videos.unreadable[0][0] == "9001"
    assert any("unreadable" in m for m in messages)


def test_errors(official, tmp_path):
    with pytest.raises(ValueError, match="must give 174 classes"):
        sthv2.prepare_something_something(
            official / "something-something-v2-labels.json",
            official / "something-something-v2-train.json",
            official / "20bn-something-something-v2", tmp_path, "train")
    bad = tmp_path / "labels.json"
    bad.write_text('{"a": "0", "b": "2"}')
    with pytest.raises(ValueError, match="distinct index 0..N-1"):
        sthv2.read_labels(bad)
    with pytest.raises(ValueError, match="not in the labels file"):
        sthv2.read_annotations(
            official / "something-something-v2-train.json", CLASSES[:2])
    with pytest.raises(FileNotFoundError) as info:
        sthv2.something_something_videos(tmp_path, "val")
    assert sthv2.SOMETHING_SOMETHING_URL in str(info.value)
    assert "prepare_something_something.py" in str(info.value)
    with pytest.raises(FileNotFoundError, match="labels_json"):
        sthv2.read_labels(tmp_path / "absent.json")


def test_cli(official, tmp_path, capsys):
    with pytest.warns(UserWarning, match="not in the videos folder"):
        code = sthv2.main([
            "--labels", str(official / "something-something-v2-labels.json"),
            "--annotations",
            str(official / "something-something-v2-train.json"),
            "--videos", str(official / "20bn-something-something-v2"),
            "--output", str(tmp_path), "--subset", "train",
            "--any-num-classes", "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "something_something_v2/train: 3 videos, 3 classes" in printed
    assert "1 missing (listed in" in printed
