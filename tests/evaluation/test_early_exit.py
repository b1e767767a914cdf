"""Tests of `deltasparse.evaluation.early_exit` (AdaFocusV2+'s conditional
exit): thresholds and exit steps worked out by hand, the exit distribution
reproduced on the training logits, the criteria against SciPy, the whole
budget curve against a loop-by-loop NumPy/scikit-learn reference, and the
CSV/PNG artifacts."""

import csv
import math
import os

import matplotlib.image
import numpy as np
import pytest
from scipy import special
from scipy import stats
from sklearn import metrics as sk

from deltasparse.evaluation.early_exit import DEFAULT_P_VALUES
from deltasparse.evaluation.early_exit import apply_early_exit
from deltasparse.evaluation.early_exit import early_exit_curve
from deltasparse.evaluation.early_exit import exit_distribution
from deltasparse.evaluation.early_exit import exit_scores
from deltasparse.evaluation.early_exit import fit_exit_thresholds
from deltasparse.evaluation.early_exit import format_early_exit_curve
from deltasparse.evaluation.early_exit import write_early_exit_curve


def _logits_with_confidence(confidence):
    """`(N, T, 2)` logits whose largest logit is `confidence[n, t]`."""
    confidence = np.asarray(confidence, np.float64)
    return np.stack([confidence, np.full_like(confidence, -10.0)], axis=-1)


# Six training samples, three steps; the step-0 and step-1 confidences.
# At step 1, samples 0 and 2 score highest, but they already exit at step 0
# for p = 1, so they must not set the step-1 threshold.
HAND_CONFIDENCE = np.array([[5, 9, 0], [1, 2, 0], [4, 9, 0],
                            [2, 6, 0], [0, 1, 0], [3, 7, 0]], np.float64)


@pytest.mark.parametrize("p, thresholds, exit_steps", [
    # q = 1/3 each: 2 exit at step 0 (scores 5, 4), then 2 of the remaining
    # {1, 3, 4, 5} at step 1 (scores 7, 6).
    (1.0, [4, 6, -np.inf], [0, 2, 0, 1, 2, 1]),
    # q = 4/7, 2/7, 1/7: floor(6 q) = 3, 1: scores 5, 4, 3 at step 0, then
    # the best of {1, 3, 4} at step 1 (6).
    (0.5, [3, 6, -np.inf], [0, 2, 0, 1, 2, 0]),
    # q = 1/7, 2/7, 4/7: floor(6 q) = 0, 1: nobody at step 0 (threshold
    # +inf); one exit at step 1, sample 0 (9, tied with sample 2, which
    # exits with it when the thresholds are applied).
    (2.0, [np.inf, 9, -np.inf], [1, 2, 1, 2, 2, 2]),
])
def test_thresholds_and_exits_by_hand(p, thresholds, exit_steps):
    logits = _logits_with_confidence(HAND_CONFIDENCE)
    fitted = fit_exit_thresholds(logits, p, "confidence")
    np.testing.assert_array_equal(fitted, thresholds)
    steps, exited = apply_early_exit(logits, fitted, "confidence")
    np.testing.assert_array_equal(steps, exit_steps)
    np.testing.assert_array_equal(exited, logits[np.arange(6), exit_steps])
    assert steps.dtype == np.int64


def test_validation_exits_by_hand():
    # Thresholds 4, 6, -inf: a score equal to a threshold exits (>=); the
    # last step takes everything left, whatever its threshold.
    val = _logits_with_confidence([[4, 0, 0], [3.9, 6, 0], [3.9, 5.9, -50],
                                   [10, 10, 10]])
    steps, exited = apply_early_exit(val, [4, 6, -np.inf])
    assert steps.tolist() == [0, 1, 2, 0]
    steps, _ = apply_early_exit(val, [4, 6, 1e9])
    assert steps.tolist() == [0, 1, 2, 0]
    assert exited[2].tolist() == [-50.0, -10.0]


def test_exit_distribution():
    q = exit_distribution(2.0, 4)
    np.testing.assert_allclose(q, np.array([2, 4, 8, 16]) / 30)
    for p in (0.5, 1.0, 3.9):
        q = exit_distribution(p, 16)
        assert q.sum() == pytest.approx(1.0)
        np.testing.assert_allclose(q[1:] / q[:-1], p)
    # No overflow for long videos.
    q = exit_distribution(3.9, 2000)
    assert np.all(np.isfinite(q)) and q.sum() == pytest.approx(1.0)
    assert exit_distribution(0.7, 1).tolist() == [1.0]


def test_default_grid_is_the_originals():
    assert DEFAULT_P_VALUES == tuple(p / 10 for p in range(5, 40))
    assert len(DEFAULT_P_VALUES) == 35


@pytest.mark.parametrize("criterion", ["confidence", "entropy"])
def test_exit_fractions_follow_q_on_train(criterion):
    rng = np.random.default_rng(3)
    train = rng.normal(size=(997, 16, 12))
    for p in (0.5, 1.0, 1.7, 3.9):
        q = exit_distribution(p, 16)
        steps, _ = apply_early_exit(
            train, fit_exit_thresholds(train, p, criterion), criterion)
        counts = np.bincount(steps, minlength=16)
        np.testing.assert_array_equal(counts[:-1], np.floor(997 * q[:-1]))
        assert counts.sum() == 997


def test_criteria_against_scipy():
    rng = np.random.default_rng(0)
    logits = 3 * rng.normal(size=(5, 4, 7))
    np.testing.assert_allclose(exit_scores(logits, "confidence"),
                               logits.max(axis=-1))
    want = -stats.entropy(special.softmax(logits, axis=-1), axis=-1)
    np.testing.assert_allclose(exit_scores(logits, "entropy"), want,
                               rtol=1e-10, atol=1e-12)
    # Entropy ignores a constant shift of the logits; confidence does not.
    np.testing.assert_allclose(exit_scores(logits + 5, "entropy"), want,
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(exit_scores(logits + 5, "confidence"),
                               logits.max(axis=-1) + 5)
    # Stable for huge logits; -log K for a uniform softmax.
    huge = np.array([[[1000.0, 0.0, 0.0], [7.0, 7.0, 7.0]]])
    np.testing.assert_allclose(exit_scores(huge, "entropy"),
                               [[0.0, -math.log(3)]], atol=1e-12)


def test_entropy_and_confidence_pick_different_samples():
    # A: two tied top logits (max 3, entropy ~ log 2); B: one clear winner
    # (max 2, peaked softmax). One of two samples exits at step 0 (p = 1).
    logits = np.array([[[3.0, 3.0, -10.0], [0, 0, 0]],
                       [[2.0, -1.0, -1.0], [0, 0, 0]]])
    by_confidence, _ = apply_early_exit(
        logits, fit_exit_thresholds(logits, 1.0, "confidence"), "confidence")
    by_entropy, _ = apply_early_exit(
        logits, fit_exit_thresholds(logits, 1.0, "entropy"), "entropy")
    assert by_confidence.tolist() == [0, 1]
    assert by_entropy.tolist() == [1, 0]


def _reference_curve(train, val, labels, gflops, p, criterion, metric):
    """A loop-by-loop re-implementation: per-step sorting on train, then a
    per-sample scan of the validation steps."""
    def score(x):
        if criterion == "confidence":
            return float(np.max(x))
        s = np.exp(x - x.max())
        s = s / s.sum()
        return float(np.sum(s * np.log(s)))

    n, t, k = train.shape
    q = np.array([p ** j for j in range(1, t + 1)])
    q = q / q.sum()
    gone = set()
    thresholds = [math.inf] * t
    for j in range(t - 1):
        count = int(math.floor(n * q[j] + 1e-9))
        left = sorted((i for i in range(n) if i not in gone),
                      key=lambda i: -score(train[i, j]))
        if count:
            thresholds[j] = score(train[left[count - 1], j])
            gone.update(left[:count])
    steps, outputs = [], []
    for i in range(len(val)):
        for j in range(t):
            if j == t - 1 or score(val[i, j]) >= thresholds[j]:
                steps.append(j)
                outputs.append(val[i, j])
                break
    outputs = np.array(outputs)
    if metric == "map":
        value = np.mean([sk.average_precision_score(labels[:, c],
                                                    outputs[:, c])
                         for c in range(k) if labels[:, c].any()])
    else:
        top = int(metric[3:])
        best = np.argsort(-outputs, axis=1, kind="stable")[:, :top]
        value = np.mean([labels[i, best[i]].any() for i in range(len(val))])
    fractions = np.bincount(steps, minlength=t) / len(val)
    return (np.mean(np.array(steps) + 1) * gflops, value, fractions)


@pytest.mark.parametrize("metric, criterion, multi_hot", [
    ("map", "confidence", False), ("map", "entropy", True),
    ("top1", "confidence", False), ("top5", "entropy", True),
])
def test_curve_matches_reference(metric, criterion, multi_hot):
    rng = np.random.default_rng(7)
    n_train, n_val, t, k = 120, 40, 6, 9
    train = rng.normal(size=(n_train, t, k))
    val = rng.normal(size=(n_val, t, k))
    classes = rng.integers(0, k, n_val)
    labels = np.eye(k)[classes]
    if multi_hot:
        labels = np.maximum(labels, rng.random((n_val, k)) < 0.15)
    # Later steps are better: add the label with a growing weight.
    val += 0.6 * np.arange(1, t + 1)[None, :, None] * labels[:, None, :]
    p_values = (0.5, 0.9, 1.0, 1.4, 3.9)
    rows = early_exit_curve(train, val, labels if multi_hot else classes,
                            1.685, metric=metric, p_values=p_values,
                            criterion=criterion)
    assert [row["p"] for row in rows] == list(p_values) + [math.inf]
    for row, p in zip(rows, p_values):
        gflops, value, fractions = _reference_curve(
            train, val, labels, 1.685, p, criterion, metric)
        assert row["expected_gflops"] == pytest.approx(gflops)
        assert row["metric"] == pytest.approx(value)
        np.testing.assert_allclose(row["exit_fractions"], fractions)
    full = rows[-1]
    assert full["expected_gflops"] == pytest.approx(t * 1.685)
    assert full["exit_fractions"] == [0.0] * (t - 1) + [1.0]
    if metric == "map":
        want = np.mean([sk.average_precision_score(labels[:, c], val[:, -1, c])
                        for c in range(k) if labels[:, c].any()])
    elif not multi_hot:
        want = np.mean(val[:, -1].argmax(axis=1) == classes)
    else:
        want = None
    if want is not None:
        assert full["metric"] == pytest.approx(want)


def test_integer_and_one_hot_labels_agree():
    rng = np.random.default_rng(1)
    train, val = rng.normal(size=(30, 4, 5)), rng.normal(size=(12, 4, 5))
    classes = rng.integers(0, 5, 12)
    for metric in ("map", "top1"):
        by_index = early_exit_curve(train, val, classes, 2.0, metric=metric,
                                    p_values=[0.8, 2.5])
        by_matrix = early_exit_curve(train, val, np.eye(5)[classes], 2.0,
                                     metric=metric, p_values=[0.8, 2.5])
        assert by_index == by_matrix


def test_later_exits_never_cost_less_on_train():
    rng = np.random.default_rng(5)
    train = rng.normal(size=(400, 16, 20))
    for criterion in ("confidence", "entropy"):
        costs = []
        for p in DEFAULT_P_VALUES:
            steps, _ = apply_early_exit(
                train, fit_exit_thresholds(train, p, criterion), criterion)
            costs.append(np.mean(steps + 1) * 1.685)
        assert np.all(np.diff(costs) >= 0), costs
        assert costs[0] < 0.5 * 16 * 1.685 < costs[-1]


def test_write_curve(tmp_path):
    rng = np.random.default_rng(2)
    train, val = rng.normal(size=(40, 5, 4)), rng.normal(size=(15, 5, 4))
    rows = early_exit_curve(train, val, rng.integers(0, 4, 15), 0.5,
                            metric="top1", p_values=DEFAULT_P_VALUES[:6])
    folder = tmp_path / "exit"
    paths = write_early_exit_curve(rows, folder, "top-1", "Synthetic exit")
    assert paths == {"csv": str(folder / "early_exit.csv"),
                     "png": str(folder / "early_exit.png")}
    assert sorted(os.listdir(folder)) == ["early_exit.csv", "early_exit.png"]
    with open(paths["csv"], newline="") as handle:
        table = list(csv.DictReader(handle))
    assert list(table[0]) == (["p", "expected_gflops", "top-1"]
                              + [f"exit_fraction_{s}" for s in range(1, 6)])
    assert len(table) == len(rows)
    for line, row in zip(table, rows):
        assert float(line["p"]) == pytest.approx(row["p"])
        assert float(line["expected_gflops"]) == pytest.approx(
            row["expected_gflops"], rel=1e-5)
        assert float(line["top-1"]) == pytest.approx(row["metric"], rel=1e-5)
        fractions = [float(line[f"exit_fraction_{s}"]) for s in range(1, 6)]
        np.testing.assert_allclose(fractions, row["exit_fractions"],
                                   rtol=1e-5)
    assert table[-1]["p"] == "inf"
    image = matplotlib.image.imread(paths["png"])
    assert image.shape[:2] == (460, 640) and image.std() > 0


@pytest.mark.parametrize("call, match", [
    (lambda: exit_scores(np.zeros((3, 4))), r"step_logits.shape=\(3, 4\)"),
    (lambda: exit_scores(np.zeros((0, 4, 2))), r"no empty axis"),
    (lambda: exit_scores(np.full((1, 2, 2), np.nan)), r"must be finite"),
    (lambda: exit_scores(np.zeros((1, 2, 2)), "max"),
     r"Received: criterion='max'"),
    (lambda: exit_distribution(0.0, 4), r"Received: p=0.0"),
    (lambda: exit_distribution(math.inf, 4), r"Received: p=inf"),
    (lambda: exit_distribution(1.0, 0), r"Received: num_steps=0"),
    (lambda: fit_exit_thresholds(np.zeros((2, 3, 2)), -1.0),
     r"Received: p=-1.0"),
    (lambda: apply_early_exit(np.zeros((2, 3, 2)), [0.0, 1.0]),
     r"thresholds.shape=\(2,\)"),
    (lambda: early_exit_curve(np.zeros((4, 3, 2)), np.zeros((2, 4, 2)),
                              [0, 1], 1.0), r"same number of steps"),
    (lambda: early_exit_curve(np.zeros((4, 3, 2)), np.zeros((2, 3, 2)),
                              [0, 1, 1], 1.0), r"val_labels.shape=\(3,\)"),
    (lambda: early_exit_curve(np.zeros((4, 3, 2)), np.zeros((2, 3, 2)),
                              [0, 2], 1.0), r"in \[0, 2\)"),
    (lambda: early_exit_curve(np.zeros((4, 3, 2)), np.zeros((2, 3, 2)),
                              [0, 1], 0.0), r"Received: gflops_per_frame=0"),
    (lambda: early_exit_curve(np.zeros((4, 3, 2)), np.zeros((2, 3, 2)),
                              [0, 1], 1.0, metric="auc"),
     r"Received: metric='auc'"),
    (lambda: early_exit_curve(np.zeros((4, 3, 2)), np.zeros((2, 3, 2)),
                              [0, 1], 1.0, metric="top5"),
     r"at least 5 classes"),
    (lambda: early_exit_curve(np.zeros((4, 3, 2)), np.zeros((2, 3, 2)),
                              [0, 1], 1.0, p_values=[1.0, -2.0]),
     r"Received: p_values=-2.0"),
    (lambda: write_early_exit_curve([], "unused"), r"Received: rows=\[\]"),
    (lambda: write_early_exit_curve([{"p": 1.0}], "unused"),
     r"keys \('p', 'expected_gflops'"),
])
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_format_curve():
    rng = np.random.default_rng(4)
    rows = early_exit_curve(rng.normal(size=(30, 4, 3)),
                            rng.normal(size=(10, 4, 3)),
                            rng.integers(0, 3, 10), 2.0, metric="top1",
                            p_values=[0.5, 3.9])
    lines = format_early_exit_curve(rows, "top-1").splitlines()
    assert lines[0].split() == ["p", "GFLOPs/video", "top-1", "(%)",
                                "frames", "read"]
    assert len(lines) == 4
    for line, row in zip(lines[1:], rows):
        p, gflops, metric, frames = (float(v) for v in line.split())
        assert p == pytest.approx(row["p"])
        assert gflops == pytest.approx(row["expected_gflops"], abs=1e-3)
        assert metric == pytest.approx(100 * row["metric"], abs=1e-2)
        # Frames read = GFLOPs / GFLOPs per frame.
        assert frames == pytest.approx(row["expected_gflops"] / 2.0,
                                       abs=1e-2)
