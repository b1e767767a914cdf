"""Tests of `deltasparse.evaluation.metrics` against scikit-learn and hand
computations (ties, absent classes, k > 1, many clips of one video)."""

import numpy as np
import pytest
from sklearn import metrics as sk

from deltasparse.evaluation import aggregate_video_scores
from deltasparse.evaluation import average_precision_per_class
from deltasparse.evaluation import confusion_matrix
from deltasparse.evaluation import mean_average_precision
from deltasparse.evaluation import mean_class_accuracy
from deltasparse.evaluation import top_k_accuracy


def _random_case(seed, n=60, k=7):
    rng = np.random.default_rng(seed)
    return rng.integers(0, k, n), rng.normal(size=(n, k))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [1, 2, 5])
def test_top_k_matches_sklearn_without_ties(seed, k):
    labels, scores = _random_case(seed)
    want = sk.top_k_accuracy_score(labels, scores, k=k, labels=range(7))
    assert top_k_accuracy(labels, scores, k) == pytest.approx(want)
    one_hot = np.eye(7)[labels]
    assert top_k_accuracy(one_hot, scores, k) == pytest.approx(want)


def test_top_k_ties_by_hand():
    # Sample 0: all equal -> class order 0, 1, 2; label 1 has rank 1.
    # Sample 1: label 2 tied with class 0 at the top -> rank 1.
    # Sample 2: label 0 tied with class 2 at the top -> rank 0.
    scores = [[1, 1, 1], [5, 0, 5], [3, 1, 3]]
    labels = [1, 2, 0]
    assert top_k_accuracy(labels, scores, 1) == pytest.approx(1 / 3)
    assert top_k_accuracy(labels, scores, 2) == 1.0
    assert top_k_accuracy(labels, scores, 3) == 1.0
    # Top-1 is the accuracy of argmax (lowest index wins ties).
    argmax_accuracy = np.mean(np.argmax(scores, axis=1) == labels)
    assert top_k_accuracy(labels, scores, 1) == pytest.approx(argmax_accuracy)


@pytest.mark.parametrize("k", [0, 4, 2.0, True])
def test_top_k_out_of_range(k):
    with pytest.raises(ValueError, match=r"Received: k="):
        top_k_accuracy([0, 1], np.eye(3)[:2], k)


def test_shape_mismatches():
    with pytest.raises(ValueError, match="one entry per sample"):
        top_k_accuracy([0, 1, 2], np.eye(3)[:2], 1)
    with pytest.raises(ValueError, match=r"scores.shape=\(3,\)"):
        mean_class_accuracy([0, 1, 2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match=r"in \[0, 3\)"):
        mean_class_accuracy([0, 3], np.eye(3)[:2])
    with pytest.raises(ValueError, match="same shape"):
        mean_average_precision(np.eye(3), np.eye(3)[:, :2])
    with pytest.raises(ValueError, match="one-hot"):
        top_k_accuracy([[1, 1, 0]], [[0.1, 0.2, 0.3]], 1)


@pytest.mark.parametrize("seed", [0, 3])
def test_mean_class_accuracy_matches_balanced_accuracy(seed):
    labels, scores = _random_case(seed, n=40)
    want = sk.balanced_accuracy_score(labels, scores.argmax(1))
    assert mean_class_accuracy(labels, scores) == pytest.approx(want)


def test_mean_class_accuracy_absent_classes_by_hand():
    # Classes 1 and 3 never occur in the labels: left out of the mean.
    labels = [0, 0, 0, 2]
    scores = np.eye(4)[[0, 1, 3, 2]]      # predictions 0, 1, 3, 2
    # recall(0) = 1/3, recall(2) = 1 -> mean 2/3 (plain accuracy is 1/2).
    assert mean_class_accuracy(labels, scores) == pytest.approx(2 / 3)


@pytest.mark.parametrize("seed", [0, 1])
def test_average_precision_matches_sklearn_with_ties(seed):
    rng = np.random.default_rng(seed)
    label_matrix = (rng.random((50, 6)) < 0.3).astype(int)
    label_matrix[:, 4] = 0                      # a class without positives
    scores = np.round(rng.random((50, 6)), 1)   # many tied scores
    per_class = average_precision_per_class(label_matrix, scores)
    for j in range(6):
        if j == 4:
            assert np.isnan(per_class[j])
            continue
        want = sk.average_precision_score(label_matrix[:, j], scores[:, j])
        assert per_class[j] == pytest.approx(want), j
    want_map = np.mean([sk.average_precision_score(label_matrix[:, j],
                                                   scores[:, j])
                        for j in (0, 1, 2, 3, 5)])
    assert mean_average_precision(label_matrix, scores) == pytest.approx(
        want_map)


def test_average_precision_by_hand():
    # Positives at ranks 1 and 3 of 4: AP = (1/1 + 2/3) / 2.
    ap = average_precision_per_class([[1], [0], [1], [0]],
                                     [[0.9], [0.8], [0.7], [0.1]])
    assert ap[0] == pytest.approx((1 + 2 / 3) / 2)
    # All tied: one threshold, precision = prevalence.
    ap = average_precision_per_class([[1], [0], [0], [0]], [[0.5]] * 4)
    assert ap[0] == pytest.approx(0.25)


def test_mean_average_precision_integer_labels_and_no_positive():
    labels = np.array([0, 2, 2])
    scores = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.6, 0.3, 0.1]])
    # Class 1 has no positive: skipped. Class 0 scores 0.7, 0.1, 0.6 ->
    # its positive first, AP 1. Class 2 scores 0.1, 0.8, 0.1 -> positives
    # at rank 1 and in the tie at ranks 2-3:
    # thresholds 0.8 (P 1, R .5), 0.1 (P 2/3, R 1) -> AP = .5 + .5 * 2/3.
    assert mean_average_precision(labels, scores) == pytest.approx(
        (1 + 0.5 + 1 / 3) / 2)
    with pytest.raises(ValueError, match="at least one positive"):
        mean_average_precision(np.zeros((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="only 0 and 1"):
        mean_average_precision([[0.5, 0.5]], [[0.1, 0.2]])


def test_aggregate_prob_and_score_by_hand():
    logits = np.array([[0.0, 0.0], [np.log(3.0), 0.0], [10.0, 10.0]])
    ids, prob = aggregate_video_scores(logits, [7, 7, 3], mode="prob")
    assert ids.tolist() == [7, 3]              # first-seen order, not sorted
    np.testing.assert_allclose(prob, [[(0.5 + 0.75) / 2, (0.5 + 0.25) / 2],
                                      [0.5, 0.5]])
    ids, score = aggregate_video_scores(logits, [7, 7, 3], mode="score")
    np.testing.assert_allclose(score, [[np.log(3.0) / 2, 0.0], [10, 10]])


def test_aggregate_single_video_many_clips_and_str_ids():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(30, 5)) * 20     # large logits: stable softmax
    ids, prob = aggregate_video_scores(logits, ["v"] * 30)
    exp = np.exp(logits - logits.max(1, keepdims=True))
    want = (exp / exp.sum(1, keepdims=True)).mean(0)
    assert ids.tolist() == ["v"]
    np.testing.assert_allclose(prob[0], want, rtol=1e-12)
    assert prob.sum() == pytest.approx(1.0)
    ids, _ = aggregate_video_scores(logits[:4], ["b/x.avi", "a/y.avi",
                                                 "b/x.avi", "c"])
    assert ids.tolist() == ["b/x.avi", "a/y.avi", "c"]


def test_aggregate_errors():
    with pytest.raises(ValueError, match="Received: mode='mean'"):
        aggregate_video_scores(np.zeros((2, 2)), [0, 1], mode="mean")
    with pytest.raises(ValueError, match="one id per row"):
        aggregate_video_scores(np.zeros((2, 2)), [0, 1, 2])


def test_confusion_matrix_matches_sklearn():
    labels, scores = _random_case(5, n=80, k=6)
    want = sk.confusion_matrix(labels, scores.argmax(1), labels=range(6))
    np.testing.assert_array_equal(confusion_matrix(labels, scores, 6), want)
    np.testing.assert_array_equal(
        confusion_matrix(np.eye(6)[labels], scores.argmax(1), 6), want)
    # Rows are the true classes; absent classes give zero rows.
    got = confusion_matrix([0, 0, 2], [1, 0, 1], num_classes=3)
    assert got.tolist() == [[1, 1, 0], [0, 0, 0], [0, 1, 0]]
    with pytest.raises(ValueError, match="Received: num_classes=0"):
        confusion_matrix([0], [0], 0)
    with pytest.raises(ValueError, match="predictions"):
        confusion_matrix([0], [5], 3)
