"""The artifacts of a video evaluation: a JSON report, a per-class CSV, a
confusion-matrix PNG and the list of misclassified videos.

Like the per-class statistic and the error-sample dump of DLAC's
`evaluate.py`, but as plain CSV files next to a JSON report (no pickles), and
at the video level (after the views are averaged).
"""

import csv
import io
import json
import math
import os

import numpy as np

from deltasparse.data.datasets.ucf101 import atomic_write_bytes
from deltasparse.data.datasets.ucf101 import atomic_write_text
from deltasparse.evaluation.metrics import average_precision_per_class
from deltasparse.evaluation.metrics import confusion_matrix

# Above this many classes the confusion matrix has no per-cell counts.
CELL_TEXT_MAX_CLASSES = 20
# Above this many classes only every tenth class is named on the axes.
TICK_LABEL_MAX_CLASSES = 120
MISCLASSIFIED_TOP_K = 5


def _jsonable(value):
    """`value` with NumPy types as Python ones and NaN/inf as None."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _write_text(path, text):
    atomic_write_text(path, text)
    return path


def _csv_text(header, rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _score(value):
    return f"{float(value):.6g}"


def _views_per_video(evaluation):
    views = evaluation.views.get("views_per_video")
    if views is not None:
        return float(views)
    videos = evaluation.figures.get("videos")
    return evaluation.figures.get("views", 0) / videos if videos else None


def evaluation_summary(evaluation, gflops_per_view=None, extra=None):
    """The content of `evaluation.json`, a JSON-able dict.

    `gflops_per_video` = `gflops_per_view` x the views per video (their mean
    when the number of views varies, e.g. all sliding clips of each video).
    GFLOPs are counted GMACs, see `deltasparse.evaluation.flops`.
    """
    per_video = _views_per_video(evaluation)
    gflops_per_video = None
    if gflops_per_view is not None and per_video is not None:
        gflops_per_video = float(gflops_per_view) * per_video
    return _jsonable({
        "views": evaluation.views,
        "clip_length": evaluation.views.get("clip_length"),
        "image_size": evaluation.views.get("image_size"),
        "gflops_per_view": gflops_per_view,
        "gflops_per_video": gflops_per_video,
        "mode": evaluation.mode,
        "outputs": evaluation.outputs,
        "multilabel": evaluation.multilabel,
        "num_classes": evaluation.num_classes,
        "figures": evaluation.figures,
        "class_names": evaluation.class_names,
        "extra": extra,
    })


def _single_labels(evaluation):
    return evaluation.video_labels.argmax(axis=1)


def per_class_rows(evaluation):
    """Header and rows of `per_class.csv`.

    Single-label: `class_index, class, support, correct, accuracy,
    most_confused_class, most_confused_count` (accuracy empty for a class
    without videos; the most confused class is the most frequent wrong
    prediction, empty when there is none). Multi-label: `class_index,
    class, support, average_precision` (empty for a class without a
    positive video).
    """
    names = evaluation.class_names
    if evaluation.multilabel:
        ap = average_precision_per_class(
            evaluation.video_labels.astype(np.int64), evaluation.video_scores)
        support = evaluation.video_labels.sum(axis=0).astype(int)
        rows = [[j, name, int(support[j]),
                 "" if np.isnan(ap[j]) else _score(ap[j])]
                for j, name in enumerate(names)]
        return ["class_index", "class", "support", "average_precision"], rows
    matrix = confusion_matrix(_single_labels(evaluation),
                              evaluation.video_predictions, len(names))
    rows = []
    for j, name in enumerate(names):
        support = int(matrix[j].sum())
        wrong = matrix[j].copy()
        wrong[j] = 0
        other = int(np.argmax(wrong))
        confused = int(wrong[other])
        rows.append([j, name, support, int(matrix[j, j]),
                     _score(matrix[j, j] / support) if support else "",
                     names[other] if confused else "", confused])
    header = ["class_index", "class", "support", "correct", "accuracy",
              "most_confused_class", "most_confused_count"]
    return header, rows


def misclassified_rows(evaluation, top_k=MISCLASSIFIED_TOP_K):
    """Header and rows of `misclassified.csv`: the videos whose best class
    is wrong (multi-label: not one of their labels), with their true
    class(es) (`;`-separated) and their `top_k` classes and scores."""
    names = evaluation.class_names
    k = min(top_k, len(names))
    header = ["video_id", "true_class"]
    for r in range(1, k + 1):
        header += [f"top{r}_class", f"top{r}_score"]
    rows = []
    order = np.argsort(-evaluation.video_scores, axis=1, kind="stable")[:, :k]
    for i, video_id in enumerate(evaluation.video_ids):
        truth = np.flatnonzero(evaluation.video_labels[i])
        if order[i, 0] in truth:
            continue
        row = [video_id, ";".join(names[j] for j in truth)]
        for j in order[i]:
            row += [names[j], _score(evaluation.video_scores[i, j])]
        rows.append(row)
    return header, rows


def plot_confusion_matrix(matrix, class_names, path, title=None):
    """Saves a confusion matrix (rows = true classes) as a PNG.

    Colours are the row-normalised matrix (the recall of each class on the
    diagonal). Counts are written in the cells up to
    `CELL_TEXT_MAX_CLASSES` (20) classes; every class is named on the axes
    up to `TICK_LABEL_MAX_CLASSES` (120, so UCF101's 101 all are), above
    that only every tenth, so 400 classes stay readable. Uses matplotlib's
    Agg canvas (no display, no pyplot state).

    Args:
        matrix: `(K, K)` counts.
        class_names: list of `K` str.
        path: str, the PNG file (written atomically).
        title: str or None.

    Returns:
        str, `path`.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    matrix = np.asarray(matrix)
    k = len(class_names)
    support = matrix.sum(axis=1, keepdims=True)
    normalised = np.divide(matrix, support, out=np.zeros(matrix.shape),
                           where=support > 0)
    side = float(np.clip(3.0 + 0.16 * k, 5.0, 24.0))
    figure = Figure(figsize=(side + 1.2, side), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    image = axes.imshow(normalised, cmap="Blues", vmin=0.0, vmax=1.0,
                        interpolation="nearest")
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04,
                    label="fraction of the true class")
    ticks = np.arange(k) if k <= TICK_LABEL_MAX_CLASSES else np.arange(0, k,
                                                                        10)
    font = 8 if k <= CELL_TEXT_MAX_CLASSES else (6 if k <= 60 else 5)
    labels = [f"{j} {class_names[j]}" if k > TICK_LABEL_MAX_CLASSES
              else class_names[j] for j in ticks]
    axes.set_xticks(ticks, labels, rotation=90, fontsize=font)
    axes.set_yticks(ticks, labels, fontsize=font)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    if k <= CELL_TEXT_MAX_CLASSES:
        for i in range(k):
            for j in range(k):
                if matrix[i, j]:
                    axes.text(j, i, str(int(matrix[i, j])), ha="center",
                              va="center", fontsize=font,
                              color="white" if normalised[i, j] > 0.5
                              else "black")
    axes.set_title(title or "Confusion matrix (rows: true classes)")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    atomic_write_bytes(path, buffer.getvalue())
    return path


def write_evaluation_artifacts(evaluation, folder, gflops_per_view=None,
                               extra=None):
    """Writes the artifacts of a `VideoEvaluation` into `folder`.

    - `evaluation.json`: views (clips, crops, views per video, sampling),
      clip length, input size, `gflops_per_view` and `gflops_per_video`
      (per view x views per video), every figure, and `extra`;
    - `per_class.csv`: per class the support, correct videos, accuracy and
      the most confused class with its count (multi-label: the support and
      the average precision);
    - `confusion_matrix.png` (single-label only): video-level, rows = true;
    - `misclassified.csv`: video id, true class, top-5 classes and scores.

    Every file is written to a temporary name first and then moved into
    place, so a reader never sees half a file.

    Args:
        evaluation: a `VideoEvaluation` (from `evaluate_videos`).
        folder: str, created if missing.
        gflops_per_view: float or None, counted GMACs of one view (e.g.
            `count_macs(model, (1, T, H, W, 3)).gflops`).
        extra: JSON-able dict or None, stored as `extra` (e.g. the run's
            configuration, the checkpoint).

    Returns:
        dict name -> path: `evaluation`, `per_class`, `misclassified`, and
        `confusion_matrix` for single-label sets.

    Example:
    >>> import tempfile
    >>> from deltasparse.evaluation.videos import VideoEvaluation
    >>> evaluation = VideoEvaluation(
    ...     figures={"video_top1": 0.5, "videos": 2, "views": 6},
    ...     video_ids=["a.avi", "b.avi"],
    ...     video_scores=np.array([[0.9, 0.1], [0.8, 0.2]]),
    ...     video_labels=np.eye(2, dtype="float32"), class_names=["x", "y"],
    ...     views={"views_per_video": 3, "clip_length": 16})
    >>> paths = write_evaluation_artifacts(evaluation, tempfile.mkdtemp(),
    ...                                    gflops_per_view=0.5)
    >>> sorted(paths)
    ['confusion_matrix', 'evaluation', 'misclassified', 'per_class']
    >>> json.load(open(paths["evaluation"]))["gflops_per_video"]
    1.5
    """
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    if extra is not None and not isinstance(extra, dict):
        raise ValueError("`extra` must be None or a JSON-able dict. "
                         f"Received: extra={extra!r}")
    summary = evaluation_summary(evaluation, gflops_per_view, extra)
    paths = {"evaluation": _write_text(
        os.path.join(folder, "evaluation.json"),
        json.dumps(summary, indent=2, allow_nan=False) + "\n")}
    paths["per_class"] = _write_text(os.path.join(folder, "per_class.csv"),
                                     _csv_text(*per_class_rows(evaluation)))
    paths["misclassified"] = _write_text(
        os.path.join(folder, "misclassified.csv"),
        _csv_text(*misclassified_rows(evaluation)))
    if not evaluation.multilabel:
        matrix = confusion_matrix(_single_labels(evaluation),
                                  evaluation.video_predictions,
                                  evaluation.num_classes)
        paths["confusion_matrix"] = plot_confusion_matrix(
            matrix, evaluation.class_names,
            os.path.join(folder, "confusion_matrix.png"),
            title="Video confusion matrix (rows: true classes)")
    return paths


def _views_label(views):
    clips, crops = views.get("num_clips"), views.get("num_crops")
    if clips is not None and crops is not None:
        text = (f"{clips} clip{'s' if clips != 1 else ''} x {crops} "
                f"crop{'s' if crops != 1 else ''}")
    elif views.get("views_per_video") is not None:
        text = f"{views['views_per_video']} views/video"
    else:
        text = "all views"
    if views.get("sampling"):
        text += f" {views['sampling']}"
    return text


def _top_k_name(figures):
    names = sorted((int(key[len("video_top"):]), key) for key in figures
                   if key.startswith("video_top") and key[9:].isdigit()
                   and key != "video_top1")
    return names[0][0] if names else None


def _row_values(values, items):
    """`values` (None, a number, a list or a dict by label) per row."""
    if values is None:
        return None
    if isinstance(values, dict):
        return [values.get(label) for label, _ in items]
    if isinstance(values, (list, tuple)):
        if len(values) != len(items):
            raise ValueError(
                "`gflops_per_view` must have one value per evaluation. "
                f"Received: {len(values)} values for {len(items)} rows")
        return list(values)
    return [float(values)] * len(items)


def format_evaluation(evaluation, gflops_per_view=None):
    """A short table of clip vs video figures, one row per views setting.

    Args:
        evaluation: a `VideoEvaluation`, a list of them, or a dict label ->
            `VideoEvaluation` (the labels name the rows).
        gflops_per_view: None, a number (every row) or a list / dict (by
            row label) of counted GFLOPs per view; adds a `GFLOPs/video`
            column (per view x the mean views per video).

    Returns:
        str, e.g.

            views                    T  size     videos  clip top-1  ...
            3 clips x 1 crop uniform 16 112x112     120        61.2  ...

        Accuracies and mAP in percent; `-` where a figure does not exist
        (mAP is shown for multi-label sets, accuracy for single-label ones;
        a column no evaluation has, e.g. top-5 of 3 classes, is left out).
    """
    if isinstance(evaluation, dict):
        items = list(evaluation.items())
    elif isinstance(evaluation, (list, tuple)):
        items = [(None, e) for e in evaluation]
    else:
        items = [(None, evaluation)]
    if not items:
        raise ValueError("`evaluation` must hold at least one "
                         "VideoEvaluation. Received: evaluation=[]")
    top_k = [k for k in (_top_k_name(e.figures) for _, e in items) if k]
    k = top_k[0] if top_k else 5
    columns = [("clip top-1", "clip_top1"), (f"clip top-{k}", f"clip_top{k}"),
               ("video top-1", "video_top1"),
               (f"video top-{k}", f"video_top{k}")]
    if any(e.multilabel for _, e in items):
        columns += [("clip mAP", "clip_map"), ("video mAP", "video_map")]
    columns = [c for c in columns if any(c[1] in e.figures for _, e in items)]
    header = ["views", "T", "size", "videos"] + [c[0] for c in columns]
    gflops = _row_values(gflops_per_view, items)
    if gflops is not None:
        header.append("GFLOPs/video")
    table = [header]
    for number, (label, e) in enumerate(items):
        size = e.views.get("image_size")
        row = [label or _views_label(e.views),
               str(e.views.get("clip_length", "-")),
               "x".join(map(str, size)) if size else "-",
               str(e.figures.get("videos", "-"))]
        for _, key in columns:
            value = e.figures.get(key)
            row.append("-" if value is None else f"{100 * value:.1f}")
        if gflops is not None:
            per_video = e.figures.get("views", 0) / max(
                e.figures.get("videos", 1), 1)
            value = gflops[number]
            row.append("-" if value is None else f"{value * per_video:.3g}")
        table.append(row)
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = []
    for row in table:
        cells = [row[0].ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


__all__ = ["evaluation_summary", "format_evaluation", "misclassified_rows",
           "per_class_rows", "plot_confusion_matrix",
           "write_evaluation_artifacts"]
