"""Classification metrics on NumPy arrays: top-k and mean-class accuracy,
mean average precision, video-level score aggregation, confusion matrices.

Every function takes plain arrays, so users can call them on their own
predictions. Labels are either integer class indices `(N,)` or a one-hot
matrix `(N, K)`; scores are `(N, K)` (logits, probabilities or any score
where larger means more likely).

Ties: a class ranks before every class with a smaller score and, among
equal scores, before the classes with a larger index (the order of
`np.argmax`, so top-1 accuracy equals the accuracy of
`scores.argmax(-1)`). scikit-learn's `top_k_accuracy_score` breaks ties the
other way round (larger index first); the two agree whenever the scores of a
sample are distinct. Average precision handles ties as scikit-learn's
`average_precision_score` (all samples of one score enter at once).
"""

import numpy as np

AGGREGATION_MODES = ("prob", "score")


def _scores_matrix(scores, name="scores"):
    scores = np.asarray(scores)
    if scores.ndim != 2 or scores.shape[1] < 1:
        raise ValueError(
            f"`{name}` must be a 2-D array `(num_samples, num_classes)`. "
            f"Received: {name}.shape={scores.shape}")
    if not np.issubdtype(scores.dtype, np.number):
        raise ValueError(f"`{name}` must be numeric. Received: "
                         f"{name}.dtype={scores.dtype}")
    return scores.astype(np.float64)


def _class_indices(labels, num_classes, name="labels"):
    """Integer labels `(N,)` from integer labels or a one-hot matrix."""
    labels = np.asarray(labels)
    if labels.ndim == 2:
        if labels.shape[1] != num_classes:
            raise ValueError(
                f"A one-hot `{name}` must have {num_classes} columns (one per "
                f"class). Received: {name}.shape={labels.shape}")
        sums = labels.sum(axis=1)
        if not np.allclose(sums, 1.0):
            raise ValueError(
                f"A 2-D `{name}` must be one-hot (one label per row; use "
                "`mean_average_precision` for multi-label sets). Received: "
                f"row sums {np.unique(sums)[:5].tolist()}")
        return labels.argmax(axis=1).astype(np.int64)
    if labels.ndim != 1:
        raise ValueError(
            f"`{name}` must be integer class indices `(N,)` or one-hot "
            f"`(N, num_classes)`. Received: {name}.shape={labels.shape}")
    if labels.size and not np.all(np.equal(np.mod(labels, 1), 0)):
        raise ValueError(f"`{name}` must hold integer class indices. "
                         f"Received: {name}[:5]={labels[:5].tolist()}")
    labels = labels.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"`{name}` must be in [0, {num_classes}). Received: "
            f"{name} in [{labels.min()}, {labels.max()}]")
    return labels


def _labels_and_scores(labels, scores):
    scores = _scores_matrix(scores)
    labels = _class_indices(labels, scores.shape[1])
    if len(labels) != len(scores):
        raise ValueError(
            "`labels` and `scores` must have one entry per sample. Received: "
            f"len(labels)={len(labels)}, len(scores)={len(scores)}")
    if len(labels) == 0:
        raise ValueError("`labels` and `scores` must not be empty. "
                         f"Received: scores.shape={scores.shape}")
    return labels, scores


def label_ranks(labels, scores):
    """The 0-based rank of each sample's true class among its scores.

    Rank 0 is the best. A class ranks after every class with a larger score
    and, among equal scores, after the classes with a smaller index (the
    `np.argmax` order).

    Args:
        labels: integer labels `(N,)` or one-hot `(N, K)`.
        scores: `(N, K)` scores.

    Returns:
        int64 array `(N,)`.

    Example:
    >>> label_ranks([2, 0], [[0.1, 0.5, 0.4], [0.3, 0.3, 0.4]]).tolist()
    [1, 1]
    """
    labels, scores = _labels_and_scores(labels, scores)
    own = scores[np.arange(len(labels)), labels][:, None]
    larger = np.sum(scores > own, axis=1)
    columns = np.arange(scores.shape[1])[None, :]
    tied_before = np.sum((scores == own) & (columns < labels[:, None]), axis=1)
    return (larger + tied_before).astype(np.int64)


def top_k_accuracy(labels, scores, k):
    """The fraction of samples whose true class is among the `k` best scores.

    Args:
        labels: integer labels `(N,)` or one-hot `(N, K)`.
        scores: `(N, K)` scores (logits or probabilities).
        k: int in `[1, K]`.

    Returns:
        float in `[0, 1]`.

    Raises:
        ValueError: on mismatched shapes or `k` outside `[1, K]`.

    Example:
    >>> top_k_accuracy([0, 1, 2], [[0.5, 0.3, 0.2], [0.6, 0.3, 0.1],
    ...                            [0.5, 0.4, 0.1]], k=2)
    0.6666666666666666
    """
    labels, scores = _labels_and_scores(labels, scores)
    num_classes = scores.shape[1]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not (
            1 <= k <= num_classes):
        raise ValueError(
            f"`k` must be an int in [1, {num_classes}] (the number of "
            f"classes). Received: k={k!r}")
    return float(np.mean(label_ranks(labels, scores) < k))


def mean_class_accuracy(labels, scores):
    """The mean over the classes present in `labels` of their top-1 recall.

    Classes that never occur in `labels` are left out (their recall is
    undefined), as scikit-learn's `balanced_accuracy_score` and MMAction2's
    `mean_class_accuracy` do. The prediction is `scores.argmax(-1)`.

    Args:
        labels: integer labels `(N,)` or one-hot `(N, K)`.
        scores: `(N, K)` scores.

    Returns:
        float in `[0, 1]`.

    Example:
    >>> mean_class_accuracy([0, 0, 0, 1], [[1, 0], [1, 0], [0, 1], [0, 1]])
    0.8333333333333333
    """
    labels, scores = _labels_and_scores(labels, scores)
    matrix = confusion_matrix(labels, scores.argmax(axis=1), scores.shape[1])
    support = matrix.sum(axis=1)
    present = support > 0
    return float(np.mean(np.diag(matrix)[present] / support[present]))


def _average_precision(positive, scores):
    """Non-interpolated AP of one class (scikit-learn's definition)."""
    order = np.argsort(-scores, kind="stable")
    scores, positive = scores[order], positive[order]
    # The last sample of every group of equal scores: a threshold.
    ends = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    true_positives = np.cumsum(positive)[ends]
    precision = true_positives / (ends + 1.0)
    recall = true_positives / true_positives[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def average_precision_per_class(label_matrix, scores):
    """The non-interpolated average precision of every class.

    AP = sum over thresholds of (recall step) x precision, with one
    threshold per distinct score: scikit-learn's
    `average_precision_score(label_matrix[:, j], scores[:, j])`.

    Args:
        label_matrix: `(N, K)` 0/1 matrix (1 = the sample has the class);
            integer labels `(N,)` are one-hot encoded.
        scores: `(N, K)` scores.

    Returns:
        float64 array `(K,)`, NaN for the classes without a positive sample.

    Example:
    >>> average_precision_per_class([[1, 0], [0, 0], [1, 0]],
    ...                             [[0.9, 0.2], [0.8, 0.1], [0.3, 0.7]])
    array([0.83333333,        nan])
    """
    scores = _scores_matrix(scores)
    label_matrix = np.asarray(label_matrix)
    if label_matrix.ndim == 1:
        label_matrix = np.eye(scores.shape[1])[
            _class_indices(label_matrix, scores.shape[1], "label_matrix")]
    if label_matrix.shape != scores.shape:
        raise ValueError(
            "`label_matrix` and `scores` must have the same shape `(N, K)`. "
            f"Received: label_matrix.shape={label_matrix.shape}, "
            f"scores.shape={scores.shape}")
    if not np.all(np.isin(label_matrix, (0, 1))):
        raise ValueError("`label_matrix` must hold only 0 and 1. Received: "
                         f"values {np.unique(label_matrix)[:5].tolist()}")
    positive = label_matrix.astype(bool)
    result = np.full(scores.shape[1], np.nan)
    for j in np.flatnonzero(positive.any(axis=0)):
        result[j] = _average_precision(positive[:, j], scores[:, j])
    return result


def mean_average_precision(label_matrix, scores):
    """The mean over classes of their non-interpolated average precision.

    Classes without a positive sample in `label_matrix` have no AP and are
    skipped (scikit-learn would warn and return 0 for them, which lowers
    the mean); `average_precision_per_class` returns NaN for them, and
    `evaluate_videos` reports how many classes entered the mean
    (`map_classes`). This is the mAP of ActivityNet and FCVID in the
    AdaFocus papers.

    Args:
        label_matrix: `(N, K)` 0/1 matrix; integer labels `(N,)` are one-hot
            encoded (then mAP is the mean over the present classes).
        scores: `(N, K)` scores.

    Returns:
        float in `[0, 1]`.

    Raises:
        ValueError: on mismatched shapes, or no class with a positive.

    Example:
    >>> mean_average_precision([[1, 0], [0, 1], [1, 1]],
    ...                        [[0.9, 0.2], [0.8, 0.1], [0.3, 0.7]])
    0.8333333333333333
    """
    per_class = average_precision_per_class(label_matrix, scores)
    if np.all(np.isnan(per_class)):
        raise ValueError(
            "`label_matrix` must have at least one positive sample. "
            f"Received: label_matrix with {len(per_class)} empty columns")
    return float(np.nanmean(per_class))


def softmax(logits):
    """Row-wise softmax of `(N, K)` logits, in float64 (stable for large
    or `-inf` logits)."""
    logits = _scores_matrix(logits, "logits")
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def aggregate_video_scores(clip_scores, video_ids, mode="prob"):
    """Averages the scores of every view (clip, crop) of a video.

    Args:
        clip_scores: `(N, K)` logits, one row per view.
        video_ids: `(N,)` the video of each row: str, int or any hashable
            value NumPy can hold.
        mode: `"prob"` (softmax per view, then the mean, MMAction2's
            `average_clips="prob"`) or `"score"` (the mean of the scores as
            given, `average_clips="score"`). Defaults to `"prob"`.

    Returns:
        `(ids, scores)`: a NumPy array of the `V` distinct video ids in the
        order they first appear, and the float64 `(V, K)` averages.

    Example:
    >>> ids, scores = aggregate_video_scores(
    ...     [[0.0, 0.0], [2.0, 0.0], [0.0, 1.0]], ["a", "b", "a"],
    ...     mode="score")
    >>> ids.tolist(), scores.tolist()
    (['a', 'b'], [[0.0, 0.5], [2.0, 0.0]])
    """
    if mode not in AGGREGATION_MODES:
        raise ValueError(f"`mode` must be one of {AGGREGATION_MODES}. "
                         f"Received: mode={mode!r}")
    scores = _scores_matrix(clip_scores, "clip_scores")
    ids = np.asarray(video_ids)
    if ids.ndim != 1 or len(ids) != len(scores):
        raise ValueError(
            "`video_ids` must be 1-D with one id per row of `clip_scores`. "
            f"Received: video_ids.shape={ids.shape}, "
            f"clip_scores.shape={scores.shape}")
    if len(ids) == 0:
        raise ValueError("`clip_scores` must not be empty. "
                         f"Received: clip_scores.shape={scores.shape}")
    if mode == "prob":
        scores = softmax(scores)
    _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    # Renumber the groups by first appearance.
    rank = np.empty(len(first), np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    group = rank[inverse.reshape(-1)]
    sums = np.zeros((len(first), scores.shape[1]))
    np.add.at(sums, group, scores)
    counts = np.bincount(group, minlength=len(first))
    return ids[np.sort(first)], sums / counts[:, None]


def confusion_matrix(labels, predictions, num_classes):
    """Counts of (true class, predicted class) pairs; rows are true classes.

    Args:
        labels: integer labels `(N,)` or one-hot `(N, num_classes)`.
        predictions: integer predictions `(N,)` or scores
            `(N, num_classes)` (then their argmax).
        num_classes: int >= 1.

    Returns:
        int64 array `(num_classes, num_classes)`; entry `[i, j]` counts the
        samples of class `i` predicted as `j`.

    Example:
    >>> confusion_matrix([0, 1, 1], [0, 0, 1], num_classes=2).tolist()
    [[1, 0], [1, 1]]
    """
    if isinstance(num_classes, bool) or not isinstance(
            num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError("`num_classes` must be a positive int. Received: "
                         f"num_classes={num_classes!r}")
    labels = _class_indices(labels, num_classes)
    predictions = np.asarray(predictions)
    if predictions.ndim == 2:
        predictions = _scores_matrix(predictions, "predictions")
        if predictions.shape[1] != num_classes:
            raise ValueError(
                f"Score `predictions` must have {num_classes} columns. "
                f"Received: predictions.shape={predictions.shape}")
        predictions = predictions.argmax(axis=1)
    predictions = _class_indices(predictions, num_classes, "predictions")
    if len(labels) != len(predictions):
        raise ValueError(
            "`labels` and `predictions` must have one entry per sample. "
            f"Received: len(labels)={len(labels)}, "
            f"len(predictions)={len(predictions)}")
    flat = np.bincount(labels * num_classes + predictions,
                       minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes).astype(np.int64)


__all__ = ["aggregate_video_scores", "average_precision_per_class",
           "confusion_matrix", "label_ranks", "mean_average_precision",
           "mean_class_accuracy", "softmax", "top_k_accuracy"]
