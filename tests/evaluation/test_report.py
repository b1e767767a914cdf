"""Tests of `deltasparse.evaluation.report`: the JSON report, per-class and
misclassified CSVs, the confusion-matrix PNG and the text table."""

import csv
import json
import os

import matplotlib.image
import numpy as np
import pytest
from sklearn import metrics as sk

from deltasparse.evaluation import VideoEvaluation
from deltasparse.evaluation import format_evaluation
from deltasparse.evaluation import plot_confusion_matrix
from deltasparse.evaluation import write_evaluation_artifacts
from deltasparse.evaluation.report import misclassified_rows

CLASSES = ["run", "jump", "swim"]


def _single_label():
    # Truth 0, 0, 1, 2, 2, 2; predictions 0, 1, 1, 1, 2, 0.
    scores = np.array([[0.7, 0.2, 0.1], [0.3, 0.6, 0.1], [0.1, 0.8, 0.1],
                       [0.2, 0.5, 0.3], [0.1, 0.2, 0.7], [0.5, 0.1, 0.4]])
    labels = np.eye(3, dtype="float32")[[0, 0, 1, 2, 2, 2]]
    return VideoEvaluation(
        figures={"clip_top1": 0.4, "clip_top2": 0.8, "video_top1": 0.5,
                 "video_top2": 0.9, "video_map": float("nan"), "videos": 6,
                 "views": 18},
        video_ids=[f"v{i}.avi" for i in range(6)], video_scores=scores,
        video_labels=labels, class_names=CLASSES,
        views={"num_clips": 3, "num_crops": 1, "views_per_video": 3,
               "sampling": "uniform", "clip_length": 4,
               "image_size": [32, 32]})


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_single_label_artifacts(tmp_path):
    evaluation = _single_label()
    paths = write_evaluation_artifacts(evaluation, tmp_path / "eval",
                                       gflops_per_view=0.25,
                                       extra={"checkpoint": "best.keras"})
    assert set(paths) == {"evaluation", "per_class", "misclassified",
                          "confusion_matrix"}
    assert sorted(os.listdir(tmp_path / "eval")) == sorted(
        os.path.basename(p) for p in paths.values())   # no temporary files
    report = json.load(open(paths["evaluation"]))
    assert report["gflops_per_view"] == 0.25
    assert report["gflops_per_video"] == pytest.approx(0.75)   # 3 views
    assert report["clip_length"] == 4 and report["image_size"] == [32, 32]
    assert report["views"]["num_clips"] == 3
    assert report["figures"]["video_top1"] == 0.5
    assert report["figures"]["video_map"] is None                # NaN
    assert report["extra"] == {"checkpoint": "best.keras"}

    rows = _read_csv(paths["per_class"])
    assert [r["class"] for r in rows] == CLASSES
    assert [int(r["support"]) for r in rows] == [2, 1, 3]
    assert [int(r["correct"]) for r in rows] == [1, 1, 1]
    recall = sk.recall_score([0, 0, 1, 2, 2, 2], [0, 1, 1, 1, 2, 0],
                             average=None)
    np.testing.assert_allclose([float(r["accuracy"]) for r in rows], recall,
                               rtol=1e-5)
    # Class 0 -> once 1; class 1 never wrong; class 2 -> 1 once, 0 once
    # (tie: the smaller index).
    assert [r["most_confused_class"] for r in rows] == ["jump", "", "run"]
    assert [int(r["most_confused_count"]) for r in rows] == [1, 0, 1]

    wrong = _read_csv(paths["misclassified"])
    assert [r["video_id"] for r in wrong] == ["v1.avi", "v3.avi", "v5.avi"]
    assert wrong[0]["true_class"] == "run"
    assert [wrong[1][f"top{r}_class"] for r in (1, 2, 3)] == [
        "jump", "swim", "run"]
    assert float(wrong[1]["top1_score"]) == pytest.approx(0.5)
    assert "top4_class" not in wrong[0]           # only 3 classes

    with open(paths["confusion_matrix"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_multilabel_artifacts_have_average_precision(tmp_path):
    labels = np.array([[1, 1, 0], [0, 1, 0], [1, 0, 0]], "float32")
    scores = np.array([[0.9, 0.2, 0.3], [0.1, 0.8, 0.3], [0.4, 0.5, 0.6]])
    evaluation = VideoEvaluation(
        figures={"video_map": 0.8, "videos": 3, "views": 7},
        video_ids=["a", "b", "c"], video_scores=scores, video_labels=labels,
        class_names=CLASSES, views={"views_per_video": None},
        multilabel=True)
    paths = write_evaluation_artifacts(evaluation, tmp_path,
                                       gflops_per_view=1.0)
    assert "confusion_matrix" not in paths
    assert not os.path.exists(tmp_path / "confusion_matrix.png")
    report = json.load(open(paths["evaluation"]))
    assert report["gflops_per_video"] == pytest.approx(7 / 3)  # mean views
    rows = _read_csv(paths["per_class"])
    for j, row in enumerate(rows[:2]):
        assert float(row["average_precision"]) == pytest.approx(
            sk.average_precision_score(labels[:, j], scores[:, j]), rel=1e-5)
    assert rows[2]["average_precision"] == ""     # no positive video
    wrong = _read_csv(paths["misclassified"])      # c: top-1 swim not a label
    assert [r["video_id"] for r in wrong] == ["c"]
    assert wrong[0]["true_class"] == "run"
    evaluation.video_labels[2] = [1, 0, 1]        # now swim is a label
    assert misclassified_rows(evaluation)[1] == []


def test_confusion_matrix_png_for_101_classes(tmp_path):
    rng = np.random.default_rng(0)
    matrix = rng.integers(0, 5, (101, 101))
    names = [f"Class{j:03d}" for j in range(101)]
    path = plot_confusion_matrix(matrix, names, str(tmp_path / "cm.png"))
    image = matplotlib.image.imread(path)
    assert image.shape[0] >= 1500 and image.shape[1] >= 1500
    assert len(image.shape) == 3


def test_format_evaluation_table():
    one = _single_label()
    three = _single_label()
    three.views = dict(one.views, num_crops=3)
    three.figures = dict(one.figures, video_top1=0.75)
    text = format_evaluation([one, three])
    lines = text.splitlines()
    assert lines[0].split()[:4] == ["views", "T", "size", "videos"]
    assert "clip top-1" in lines[0] and "video top-2" in lines[0]
    assert "mAP" not in lines[0]
    assert lines[1].startswith("3 clips x 1 crop uniform")
    assert lines[2].startswith("3 clips x 3 crops uniform")
    assert lines[1].split()[-4:] == ["40.0", "80.0", "50.0", "90.0"]
    assert lines[2].split()[-2] == "75.0"
    labelled = format_evaluation({"centre crop": one})
    assert labelled.splitlines()[1].startswith("centre crop")
    one.figures = {"clip_top1": 0.5, "video_top1": 0.25, "videos": 6}
    assert format_evaluation(one).splitlines()[0].split()[-4:] == [
        "clip", "top-1", "video", "top-1"]              # no top-k column
    with pytest.raises(ValueError, match="at least one"):
        format_evaluation([])
    # GFLOPs per video = per view x views per video (12 views, 6 videos).
    one.figures = dict(one.figures, views=12)
    table = format_evaluation({"a": one, "b": one},
                              gflops_per_view={"a": 1.5, "b": None})
    assert table.splitlines()[0].endswith("GFLOPs/video")
    assert table.splitlines()[1].split()[-1] == "3"
    assert table.splitlines()[2].split()[-1] == "-"
    with pytest.raises(ValueError, match="one value per evaluation"):
        format_evaluation([one], gflops_per_view=[1.0, 2.0])
