"""Conditional early exit without retraining (AdaFocusV2+), on NumPy arrays.

A model with one prediction per time step (AdaFocusV2's `step_logits`,
`(N, T, K)`: step `t` has seen frames `0..t`) can stop reading a video as
soon as its prediction is confident enough. AdaFocusV2+ (Wang et al., CVPR
2022, `test_early_exit.py` and `ops/early_exit.py` of the original) does it
without retraining:

1. collect the per-step logits on (a subset of) the training set and on the
   validation set;
2. score every step of every sample with an exit criterion (`exit_scores`):
   `"confidence"`, the largest raw logit, or `"entropy"`, the negative
   entropy of the softmax (larger = more confident in both);
3. for a budget parameter `p`, ask that a fraction
   `q_k = p^k / sum_j p^j` of the samples exits at step `k`
   (`exit_distribution`: `p < 1` favours early exits, `p > 1` late ones) and
   find per-step thresholds on the TRAINING scores that produce exactly that
   split (`fit_exit_thresholds`);
4. apply the thresholds to the validation set (`apply_early_exit`): a
   sample exits at the first step whose score reaches the step's threshold
   and is classified by that step's logits;
5. report, for every `p` of a grid, the expected cost per video (the mean
   of `(exit step + 1) * gflops_per_frame`) and the metric of the exited
   predictions: the budget curve (`early_exit_curve`), written as CSV and
   PNG by `write_early_exit_curve`.

Differences from the original, all deliberate:
- thresholds are `+inf` (no exit) and `-inf` (everyone exits) where the
  original uses `1e8` and `-1e8`;
- among equal training scores the sample with the smaller index is counted
  first (a stable sort; the original's `torch.sort` leaves the order of
  ties unspecified), and the number of exits `floor(n * q_k)` is computed
  in float64 with a `1e-9` allowance, so an exact product such as
  `3 * (1/3)` gives 1, not 0 (the original floors a float32 product);
- `early_exit_curve` appends the full-video point (every sample runs all
  `T` steps, the limit `p -> inf`) as a last row with `p = inf`; the
  original prints it separately ("Flops Tot", last-step mAP/accuracy).

All of it is offline NumPy bookkeeping on collected logits (any backend
produced them).
"""

import csv
import io
import math
import os

import numpy as np

from deltasparse.evaluation.metrics import mean_average_precision
from deltasparse.evaluation.metrics import top_k_accuracy
from deltasparse.training.checkpoints import write_bytes_atomic

#: The exit criteria of the original (`CRITERIONS` in `ops/early_exit.py`).
CRITERIA = ("confidence", "entropy")

#: The metrics `early_exit_curve` computes: mAP (ActivityNet, FCVID) and
#: top-1 / top-5 accuracy (Mini-Kinetics).
METRICS = ("map", "top1", "top5")

#: The original's budget grid: `p = 0.5, 0.6, ..., 3.9` (`range(5, 40) / 10`).
DEFAULT_P_VALUES = tuple(round(0.1 * i, 1) for i in range(5, 40))

CSV_NAME = "early_exit.csv"
PNG_NAME = "early_exit.png"

# Allowance when flooring `n * q_k` (see the module docstring).
_FLOOR_ALLOWANCE = 1e-9


def _check_step_logits(step_logits, name="step_logits"):
    array = np.asarray(step_logits)
    if array.ndim != 3 or min(array.shape) < 1:
        raise ValueError(
            f"`{name}` must be a 3-D array `(num_samples, num_steps, "
            f"num_classes)` with no empty axis. Received: "
            f"{name}.shape={array.shape}")
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"`{name}` must be numeric. Received: "
                         f"{name}.dtype={array.dtype}")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"`{name}` must be finite (no NaN or inf). "
                         f"Received: {np.sum(~np.isfinite(array))} "
                         "non-finite values")
    return array


def _check_criterion(criterion):
    if criterion not in CRITERIA:
        raise ValueError(f"`criterion` must be one of {CRITERIA}. "
                         f"Received: criterion={criterion!r}")


def _check_positive(value, name):
    if isinstance(value, bool) or not isinstance(
            value, (int, float, np.integer, np.floating)) or not (
            math.isfinite(value) and value > 0):
        raise ValueError(f"`{name}` must be a finite number > 0. "
                         f"Received: {name}={value!r}")
    return float(value)


def exit_scores(step_logits, criterion="confidence"):
    """How confident every step of every sample is: larger = exit sooner.

    `"confidence"` is the largest RAW logit of the step (not the softmax
    probability), as the original; `"entropy"` is the negative entropy of
    the step's softmax, `sum_k s_k log s_k` (0 for a one-hot softmax,
    `-log K` for a uniform one), computed stably from the logits.

    Args:
        step_logits: `(N, T, K)` per-step logits.
        criterion: `"confidence"` or `"entropy"`. Defaults to
            `"confidence"`.

    Returns:
        float64 array `(N, T)`.

    Raises:
        ValueError: for a bad shape, non-finite logits or an unknown
            criterion.

    Example:
    >>> logits = np.array([[[2.0, 0.0], [1.0, 1.0]]])  # N=1, T=2, K=2
    >>> exit_scores(logits, "confidence").tolist()
    [[2.0, 1.0]]
    >>> np.round(exit_scores(logits, "entropy"), 4).tolist()
    [[-0.3653, -0.6931]]
    """
    _check_criterion(criterion)
    logits = _check_step_logits(step_logits)
    if criterion == "confidence":
        return logits.max(axis=-1)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probabilities = shifted - np.log(
        np.exp(shifted).sum(axis=-1, keepdims=True))
    return np.sum(np.exp(log_probabilities) * log_probabilities, axis=-1)


def exit_distribution(p, num_steps):
    """The target fraction of samples exiting at each step, `q_k ∝ p^k`.

    The original uses `k = 1..T` (`torch.range(1, num_exit)`); after the
    normalisation `k = 0..T-1` gives the same `q`. `p < 1` puts more
    samples on the early (cheap) steps, `p = 1` spreads them evenly,
    `p > 1` keeps most of them until the late steps.

    Args:
        p: float > 0.
        num_steps: int >= 1, `T`.

    Returns:
        float64 array `(T,)`, positive, summing to 1, with
        `q[k + 1] / q[k] = p`.

    Raises:
        ValueError: for `p <= 0`, a non-finite `p` or `num_steps < 1`.

    Example:
    >>> exit_distribution(2.0, 3).tolist()  # 2, 4, 8 over 14
    [0.14285714285714285, 0.2857142857142857, 0.5714285714285714]
    """
    p = _check_positive(p, "p")
    if isinstance(num_steps, bool) or not isinstance(
            num_steps, (int, np.integer)) or num_steps < 1:
        raise ValueError("`num_steps` must be an int >= 1. Received: "
                         f"num_steps={num_steps!r}")
    # Exponents shifted so the largest term is 1 (no overflow for large T).
    exponents = np.arange(1, num_steps + 1, dtype=np.float64)
    exponents -= exponents.max() if p > 1 else exponents.min()
    weights = np.exp(exponents * np.log(p))
    return weights / weights.sum()


def _fit_thresholds_on_scores(scores, p):
    """Per-step thresholds for `(N, T)` scores (the original's
    `dynamic_eval_find_threshold`)."""
    num_samples, num_steps = scores.shape
    quota = exit_distribution(p, num_steps)
    thresholds = np.full(num_steps, np.inf)
    running = np.ones(num_samples, bool)
    for step in range(num_steps - 1):
        count = int(np.floor(num_samples * quota[step] + _FLOOR_ALLOWANCE))
        candidates = np.flatnonzero(running)
        count = min(count, len(candidates))
        if count == 0:
            continue
        order = np.argsort(-scores[candidates, step], kind="stable")
        leaving = candidates[order[:count]]
        thresholds[step] = scores[leaving[-1], step]
        running[leaving] = False
    thresholds[-1] = -np.inf
    return thresholds


def fit_exit_thresholds(train_step_logits, p, criterion="confidence"):
    """Per-step exit thresholds so that the training samples exit as `q`.

    For every step `k < T - 1` in turn: of the training samples that have
    not exited yet, the `floor(N * q_k)` with the largest scores exit at
    `k`, and the threshold of step `k` is the smallest of their scores
    (`+inf` when no sample is to exit there). The last step's threshold is
    `-inf`: every sample still running exits there. Applied to the same
    training logits (`apply_early_exit`), exactly `floor(N * q_k)` samples
    exit at each step `k < T - 1` when their scores have no ties at a
    threshold (a tied sample exits with the one it ties).

    Args:
        train_step_logits: `(N, T, K)` per-step logits of training samples.
        p: float > 0, the budget parameter of `exit_distribution`.
        criterion: `"confidence"` or `"entropy"`. Defaults to
            `"confidence"`.

    Returns:
        float64 array `(T,)`.

    Raises:
        ValueError: for a bad shape, non-finite logits, `p <= 0` or an
            unknown criterion.

    Example:
    >>> logits = np.zeros((4, 2, 2))
    >>> logits[:, 0, 0] = [3.0, 1.0, 4.0, 2.0]  # step-0 confidence
    >>> fit_exit_thresholds(logits, p=1.0).tolist()  # half exit at step 0
    [3.0, -inf]
    """
    scores = exit_scores(train_step_logits, criterion)
    return _fit_thresholds_on_scores(scores, _check_positive(p, "p"))


def _check_thresholds(thresholds, num_steps):
    thresholds = np.asarray(thresholds, dtype=np.float64)
    if thresholds.shape != (num_steps,) or np.any(np.isnan(thresholds)):
        raise ValueError(
            f"`thresholds` must be a 1-D array of {num_steps} numbers (one "
            "per step of `step_logits`, no NaN). Received: "
            f"thresholds.shape={thresholds.shape}")
    return thresholds


def _exit_steps_from_scores(scores, thresholds):
    reached = scores >= thresholds[None, :]
    reached[:, -1] = True  # Every sample exits at the last step at the latest.
    return np.argmax(reached, axis=1)


def apply_early_exit(step_logits, thresholds, criterion="confidence"):
    """The exit step of every sample and the logits it exits with.

    A sample exits at the first step `k` whose score reaches the threshold
    (`score >= thresholds[k]`, as the original's `dynamic_evaluate`), and
    at the last step if none does (whatever the last threshold).

    Args:
        step_logits: `(N, T, K)` per-step logits.
        thresholds: `(T,)`, from `fit_exit_thresholds`.
        criterion: `"confidence"` or `"entropy"`, the one the thresholds
            were fitted with. Defaults to `"confidence"`.

    Returns:
        `(exit_steps, exit_logits)`: int64 `(N,)` 0-based exit steps (the
        sample has read `exit_steps + 1` frames) and float64 `(N, K)`, the
        logits of each sample's exit step.

    Raises:
        ValueError: for bad shapes, non-finite logits or an unknown
            criterion.

    Example:
    >>> logits = np.array([[[3.0, 0.0], [0.0, 5.0]],
    ...                    [[1.0, 0.0], [0.0, 2.0]]])
    >>> steps, exited = apply_early_exit(logits, [2.0, -np.inf])
    >>> steps.tolist(), exited.tolist()
    ([0, 1], [[3.0, 0.0], [0.0, 2.0]])
    """
    logits = _check_step_logits(step_logits)
    scores = exit_scores(logits, criterion)
    thresholds = _check_thresholds(thresholds, logits.shape[1])
    exit_steps = _exit_steps_from_scores(scores, thresholds).astype(np.int64)
    return exit_steps, logits[np.arange(len(logits)), exit_steps]


def _label_matrix(labels, num_samples, num_classes):
    """`(N, K)` 0/1 labels from integer or one/multi-hot labels."""
    labels = np.asarray(labels)
    if labels.ndim == 1 and len(labels) == num_samples:
        if not np.issubdtype(labels.dtype, np.number) or np.any(
                np.mod(labels, 1) != 0) or labels.min() < 0 or (
                labels.max() >= num_classes):
            raise ValueError(
                f"Integer `val_labels` must be class indices in [0, "
                f"{num_classes}). Received: val_labels[:5]="
                f"{labels[:5].tolist()}")
        return np.eye(num_classes)[labels.astype(np.int64)]
    if labels.shape != (num_samples, num_classes) or not np.all(
            np.isin(labels, (0, 1))):
        raise ValueError(
            f"`val_labels` must be {num_samples} integer class indices or a "
            f"0/1 matrix `({num_samples}, {num_classes})` (one row per "
            "validation sample, one column per class). Received: "
            f"val_labels.shape={labels.shape}")
    return labels.astype(np.float64)


def _metric_value(label_matrix, scores, metric):
    """mAP or top-k; a multi-hot sample counts as a top-k hit when any of
    its classes is among the `k` best scores."""
    if metric == "map":
        return mean_average_precision(label_matrix, scores)
    k = int(metric[3:])
    if k > scores.shape[1]:
        raise ValueError(
            f"`metric` {metric!r} needs at least {k} classes. Received: "
            f"metric={metric!r} with {scores.shape[1]} classes")
    positives = label_matrix.sum(axis=1)
    if np.all(positives == 1):
        return top_k_accuracy(label_matrix.argmax(axis=1), scores, k)
    if np.any(positives == 0):
        raise ValueError(
            f"`metric={metric!r}` needs at least one class per sample in "
            f"`val_labels`. Received: {int(np.sum(positives == 0))} rows "
            "without a class")
    # Rank of every class in the `np.argmax` order (ties: lower index
    # first), as `deltasparse.evaluation.metrics.label_ranks`.
    order = np.argsort(-scores, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(scores.shape[1])[None, :],
                      axis=1)
    return float(np.mean(np.any((ranks < k) & (label_matrix > 0), axis=1)))


def _curve_row(p, exit_steps, exit_logits, label_matrix, num_steps,
               gflops_per_frame, metric):
    fractions = np.bincount(exit_steps, minlength=num_steps) / len(exit_steps)
    return {
        "p": float(p),
        "expected_gflops": float(np.mean(exit_steps + 1) * gflops_per_frame),
        "metric": _metric_value(label_matrix, exit_logits, metric),
        "exit_fractions": [float(f) for f in fractions],
    }


def early_exit_curve(train_step_logits, val_step_logits, val_labels,
                     gflops_per_frame, metric="map",
                     p_values=DEFAULT_P_VALUES, criterion="confidence"):
    """The budget curve: expected GFLOPs per video against the metric.

    For every `p`, thresholds are fitted on the training logits
    (`fit_exit_thresholds`) and applied to the validation logits
    (`apply_early_exit`); the row holds the mean validation cost, the
    metric of the exited predictions and the fraction of validation
    samples exiting at each step. A last row with `p = inf` is the full
    video: every sample reads all `T` frames and is classified by the
    last step (the model's own prediction, `T * gflops_per_frame`).

    Args:
        train_step_logits: `(N_train, T, K)` per-step logits of training
            samples (the original: the whole training set, or a random
            20k subset for Mini-Kinetics).
        val_step_logits: `(N_val, T, K)` per-step logits of the validation
            samples.
        val_labels: `(N_val,)` integer classes or an `(N_val, K)` one-hot
            or multi-hot 0/1 matrix.
        gflops_per_frame: float > 0, the cost of one step (AdaFocusV2's
            `model.gflops_per_frame()`); a sample exiting at step `k`
            costs `(k + 1) * gflops_per_frame`.
        metric: `"map"` (mean average precision over the classes with a
            positive, as `mean_average_precision`), `"top1"` or `"top5"`
            (a multi-hot sample is a hit when any of its classes is among
            the `k` best). Defaults to `"map"`.
        p_values: iterable of floats > 0. Defaults to the original's grid
            `DEFAULT_P_VALUES` (0.5, 0.6, ..., 3.9).
        criterion: `"confidence"` or `"entropy"`. Defaults to
            `"confidence"`.

    Returns:
        list of dicts, one per `p` (in the given order) and then the
        full-video row (`p = inf`), each with `"p"`, `"expected_gflops"`
        (per video), `"metric"` (in [0, 1]) and `"exit_fractions"` (`T`
        floats summing to 1).

    Raises:
        ValueError: for mismatched shapes, bad labels, an unknown metric
            or criterion, or a `p` or `gflops_per_frame` that is not > 0.

    Example:
    >>> rng = np.random.default_rng(0)
    >>> train = rng.normal(size=(50, 4, 3))
    >>> val = rng.normal(size=(20, 4, 3))
    >>> rows = early_exit_curve(train, val, rng.integers(0, 3, 20), 1.5,
    ...                         metric="top1", p_values=[0.5, 2.0])
    >>> [row["p"] for row in rows], rows[-1]["expected_gflops"]
    ([0.5, 2.0, inf], 6.0)
    """
    _check_criterion(criterion)
    if metric not in METRICS:
        raise ValueError(f"`metric` must be one of {METRICS}. Received: "
                         f"metric={metric!r}")
    train = _check_step_logits(train_step_logits, "train_step_logits")
    val = _check_step_logits(val_step_logits, "val_step_logits")
    if train.shape[1:] != val.shape[1:]:
        raise ValueError(
            "`train_step_logits` and `val_step_logits` must have the same "
            "number of steps and classes `(T, K)`. Received: "
            f"train_step_logits.shape={train.shape}, "
            f"val_step_logits.shape={val.shape}")
    gflops_per_frame = _check_positive(gflops_per_frame, "gflops_per_frame")
    p_values = [_check_positive(p, "p_values") for p in p_values]
    num_steps, num_classes = val.shape[1:]
    label_matrix = _label_matrix(val_labels, len(val), num_classes)

    train_scores = exit_scores(train, criterion)
    val_scores = exit_scores(val, criterion)
    rows = []
    for p in p_values:
        thresholds = _fit_thresholds_on_scores(train_scores, p)
        exit_steps = _exit_steps_from_scores(val_scores, thresholds)
        rows.append(_curve_row(p, exit_steps,
                               val[np.arange(len(val)), exit_steps],
                               label_matrix, num_steps, gflops_per_frame,
                               metric))
    last = np.full(len(val), num_steps - 1)
    rows.append(_curve_row(np.inf, last, val[:, -1], label_matrix,
                           num_steps, gflops_per_frame, metric))
    return rows


def _check_rows(rows):
    rows = list(rows)
    if not rows:
        raise ValueError("`rows` must hold at least one row of "
                         "`early_exit_curve`. Received: rows=[]")
    keys = ("p", "expected_gflops", "metric", "exit_fractions")
    lengths = set()
    for row in rows:
        if not isinstance(row, dict) or any(key not in row for key in keys):
            raise ValueError(
                f"Every row must be a dict with the keys {keys} (as "
                f"`early_exit_curve` returns). Received: row={row!r}")
        lengths.add(len(row["exit_fractions"]))
    if len(lengths) != 1:
        raise ValueError(
            "Every row must have the same number of `exit_fractions`. "
            f"Received: lengths {sorted(lengths)}")
    return rows, lengths.pop()


def _csv_bytes(rows, num_steps, metric_name):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["p", "expected_gflops", metric_name] + [
        f"exit_fraction_{step}" for step in range(1, num_steps + 1)])
    for row in rows:
        writer.writerow(
            [f"{row['p']:g}", f"{row['expected_gflops']:.6g}",
             f"{row['metric']:.6g}"]
            + [f"{fraction:.6g}" for fraction in row["exit_fractions"]])
    return buffer.getvalue().encode()


def _png_bytes(rows, metric_name, title):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    curve = sorted((row for row in rows if math.isfinite(row["p"])),
                   key=lambda row: row["expected_gflops"])
    full = [row for row in rows if not math.isfinite(row["p"])]
    figure = Figure(figsize=(6.4, 4.6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    if curve:
        axes.plot([row["expected_gflops"] for row in curve],
                  [100 * row["metric"] for row in curve], "o-",
                  markersize=3, label="early exit (one point per p)")
    for row in full:
        frames = len(row["exit_fractions"])
        axes.plot(row["expected_gflops"], 100 * row["metric"], "r*",
                  markersize=14, label=f"all {frames} frames")
    axes.set_xlabel("expected GFLOPs per video")
    axes.set_ylabel(f"{metric_name} (%)")
    axes.set_title(title or f"Early exit: {metric_name} against GFLOPs")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def write_early_exit_curve(rows, folder, metric_name="mAP", title=None):
    """Writes the budget curve as `early_exit.csv` and `early_exit.png`.

    The CSV has the columns `p, expected_gflops, <metric_name>,
    exit_fraction_1 .. exit_fraction_T` (the fraction exiting after
    1..T frames), one line per row, the metric as a fraction in [0, 1]
    and the full-video row as `p = inf`. The PNG (matplotlib's Agg canvas,
    no display) plots the metric in percent against the expected GFLOPs per
    video and marks the full-video row with a red star. Both files are
    written atomically.

    Args:
        rows: the list `early_exit_curve` returns.
        folder: str, created if needed.
        metric_name: str, the CSV column and the axis label, e.g. `"mAP"`
            or `"top-1"`. Defaults to `"mAP"`.
        title: str or None, the plot title. Defaults to `None` (a title
            naming the metric).

    Returns:
        dict `{"csv": path, "png": path}`.

    Raises:
        ValueError: when `rows` is empty or not as `early_exit_curve`
            returns them.

    Example:
    >>> import tempfile
    >>> rows = [{"p": 1.0, "expected_gflops": 3.0, "metric": 0.5,
    ...          "exit_fractions": [0.5, 0.5]},
    ...         {"p": float("inf"), "expected_gflops": 4.0, "metric": 0.6,
    ...          "exit_fractions": [0.0, 1.0]}]
    >>> paths = write_early_exit_curve(rows, tempfile.mkdtemp())
    >>> print(open(paths["csv"]).read().strip())
    p,expected_gflops,mAP,exit_fraction_1,exit_fraction_2
    1,3,0.5,0.5,0.5
    inf,4,0.6,0,1
    """
    rows, num_steps = _check_rows(rows)
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    csv_path = write_bytes_atomic(os.path.join(folder, CSV_NAME),
                                  _csv_bytes(rows, num_steps, metric_name))
    png_path = write_bytes_atomic(os.path.join(folder, PNG_NAME),
                                  _png_bytes(rows, metric_name, title))
    return {"csv": csv_path, "png": png_path}


def format_early_exit_curve(rows, metric_name="mAP"):
    """The budget curve as a text table (one line per row), like the
    `===EARLY EXIT===` listing the original prints.

    Args:
        rows: the list `early_exit_curve` returns.
        metric_name: str, the metric's column title. Defaults to `"mAP"`.

    Returns:
        str: columns `p`, expected GFLOPs per video, the metric in percent
        and the mean number of frames read.

    Example:
    >>> rows = [{"p": 1.0, "expected_gflops": 3.0, "metric": 0.5,
    ...          "exit_fractions": [0.5, 0.5]},
    ...         {"p": float("inf"), "expected_gflops": 4.0, "metric": 0.6,
    ...          "exit_fractions": [0.0, 1.0]}]
    >>> print(format_early_exit_curve(rows))
        p  GFLOPs/video  mAP (%)  frames read
      1.0         3.000    50.00         1.50
      inf         4.000    60.00         2.00
    """
    rows, _ = _check_rows(rows)
    lines = [f"{'p':>5}  {'GFLOPs/video':>12}  {metric_name + ' (%)':>7}  "
             f"{'frames read':>11}"]
    for row in rows:
        frames = float(np.dot(np.arange(1, len(row["exit_fractions"]) + 1),
                              row["exit_fractions"]))
        lines.append(f"{row['p']:>5.1f}  {row['expected_gflops']:>12.3f}  "
                     f"{100 * row['metric']:>7.2f}  {frames:>11.2f}")
    return "\n".join(lines)


__all__ = ["CRITERIA", "DEFAULT_P_VALUES", "METRICS", "apply_early_exit",
           "early_exit_curve", "exit_distribution", "exit_scores",
           "fit_exit_thresholds", "format_early_exit_curve",
           "write_early_exit_curve"]
