"""Video-level evaluation over several views (clips x crops) per video.

`evaluate_videos` runs a model over every view of a multi-view dataset
(`deltasparse.data.video.view_dataset`, or any iterable of `(clips, labels,
video_index)` batches), and reports clip accuracy (every view counted on its
own) next to video accuracy (the views of a video averaged first), as the
papers do: Hara's and compressed-3d-cnn's video accuracy averages the
softmax of all non-overlapping clips, MMAction2 averages the softmax of N
clips x K crops (`average_clips="prob"`).
"""

import dataclasses

import keras
import numpy as np
from keras import ops

from deltasparse.evaluation.clips import _progress
from deltasparse.evaluation.metrics import aggregate_video_scores
from deltasparse.evaluation.metrics import average_precision_per_class
from deltasparse.evaluation.metrics import mean_class_accuracy
from deltasparse.evaluation.metrics import top_k_accuracy
from deltasparse.models.sparsity_logger import accumulated_figures
from deltasparse.models.sparsity_logger import reset_sparsity_totals

OUTPUT_KINDS = ("auto", "probabilities", "logits", "sigmoid")
# Rows of probabilities sum to 1 within this (float32 softmax + averaging).
_SUM_TOLERANCE = 1e-3


@dataclasses.dataclass
class VideoEvaluation:
    """The result of `evaluate_videos`.

    Attributes:
        figures: dict name -> float (counts as ints): `clip_top1`,
            `clip_top<k>`, `clip_mean_class_accuracy`, `video_top1`,
            `video_top<k>`, `video_mean_class_accuracy` (single-label sets),
            `clip_map`, `video_map`, `map_classes` (classes with a positive
            video, those the mAP averages over), `videos`, `views`,
            `steps`, and the model's sparsity figures.
        video_ids: list, one id per video in first-seen order (the
            `video_ids` of `dataset.video_list`, else the video indices).
        video_scores: float64 `(V, K)` aggregated scores (probabilities for
            `mode="prob"`).
        video_labels: float32 `(V, K)` 0/1 label matrix of the videos.
        class_names: list of str, `K` names.
        views: dict with `num_clips`, `num_crops`, `views_per_video`,
            `sampling`, `clip_length`, `image_size` (None where unknown;
            `views_per_video` None when it varies between videos).
        multilabel: bool, whether the labels are multi-label.
        mode: `"prob"` or `"score"`, how the views were averaged.
        outputs: the kind of model outputs used (`"probabilities"`,
            `"logits"` or `"sigmoid"`).
        view_scores: float32 `(N, K)` model outputs, one row per view.
        view_video_index: int64 `(N,)`, the video (row of `video_ids`) of
            every view.
    """

    figures: dict
    video_ids: list
    video_scores: np.ndarray
    video_labels: np.ndarray
    class_names: list
    views: dict
    multilabel: bool = False
    mode: str = "prob"
    outputs: str = "probabilities"
    view_scores: np.ndarray = None
    view_video_index: np.ndarray = None

    @property
    def num_classes(self):
        return len(self.class_names)

    @property
    def video_predictions(self):
        """int64 `(V,)` argmax of `video_scores`."""
        return np.argmax(self.video_scores, axis=1)


def _split_batch(batch):
    if not isinstance(batch, (list, tuple)) or len(batch) != 3:
        kind = f"a dict with keys {sorted(batch)}" if isinstance(
            batch, dict) else type(batch).__name__ + (
            f" of length {len(batch)}" if isinstance(batch, (list, tuple))
            else "")
        raise ValueError(
            "`dataset` must yield `(clips, labels, video_index)` batches "
            "(e.g. `deltasparse.data.video.view_dataset`). "
            f"Received: {kind}")
    return batch


def _check_steps(steps):
    if steps is not None and (
            isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise ValueError(
            "`steps` must be None or a positive int. "
            f"Received: steps={steps!r}")


def _total_batches(dataset, steps):
    if steps is not None:
        return steps
    try:
        return len(dataset)
    except TypeError:
        return None


def _predict(model, dataset, steps, progress):
    """Model outputs, labels and video indices of every view, the number of
    batches and the shape `(T, H, W)` of the clips."""
    scores, labels, index = [], [], []
    clip_shape = None
    done = 0
    for batch in _progress(dataset, _total_batches(dataset, steps), progress):
        if steps is not None and done >= steps:
            break
        clips, y, v = _split_batch(batch)
        if keras.backend.backend() != "tensorflow":
            clips = np.asarray(clips)
        if clip_shape is None:
            clip_shape = tuple(int(d) for d in clips.shape[1:4])
        out = np.asarray(ops.convert_to_numpy(model.predict_on_batch(clips)))
        y = np.asarray(ops.convert_to_numpy(y), np.float32)
        v = np.asarray(ops.convert_to_numpy(v)).reshape(-1)
        if out.ndim != 2 or y.shape != out.shape or len(v) != len(out):
            raise ValueError(
                "Every batch must give model outputs `(B, K)`, labels "
                "`(B, K)` and video indices `(B,)`. Received: outputs "
                f"{out.shape}, labels {y.shape}, video_index {v.shape}")
        scores.append(out.astype(np.float32))
        labels.append(y)
        index.append(v.astype(np.int64))
        done += 1
    if not scores:
        raise ValueError("`dataset` yielded no batch to evaluate. "
                         f"Received: dataset={dataset!r}, steps={steps!r}")
    return (np.concatenate(scores), np.concatenate(labels),
            np.concatenate(index), done, clip_shape)


def _resolve_outputs(outputs, scores, multilabel):
    if outputs != "auto":
        return outputs
    in_unit = bool(np.all(scores >= 0) and np.all(scores <= 1))
    sums_to_one = in_unit and bool(np.allclose(scores.sum(axis=1), 1.0,
                                               atol=_SUM_TOLERANCE))
    if sums_to_one and not multilabel:
        return "probabilities"
    if in_unit and multilabel:
        return "sigmoid"
    return "probabilities" if sums_to_one else "logits"


def _aggregate(scores, index, outputs, mode):
    if mode == "prob" and outputs == "probabilities":
        # log p as the logits: softmax(log p) = p, so "prob" averages
        # exactly the model's probabilities.
        with np.errstate(divide="ignore"):
            logits = np.log(scores.astype(np.float64))
        return aggregate_video_scores(logits, index, "prob")
    if mode == "prob" and outputs == "logits":
        return aggregate_video_scores(scores, index, "prob")
    # "score", or independent sigmoid probabilities: the mean as given.
    return aggregate_video_scores(scores, index, "score")


def _video_labels(labels, index, order):
    """The label matrix of the videos in `order` (their views must agree)."""
    videos, first, inverse = np.unique(index, return_index=True,
                                       return_inverse=True)
    differs = np.any(labels != labels[first][inverse.reshape(-1)], axis=1)
    if np.any(differs):
        raise ValueError(
            "All views of a video must carry the same labels. Received: "
            f"different label rows for video index "
            f"{int(index[np.argmax(differs)])}")
    return labels[first[np.searchsorted(videos, order)]].astype(np.float32)


def _accuracy_figures(prefix, labels, scores, top_k):
    single = labels.argmax(axis=1)
    figures = {f"{prefix}_top1": top_k_accuracy(single, scores, 1)}
    if top_k < scores.shape[1]:
        figures[f"{prefix}_top{top_k}"] = top_k_accuracy(single, scores,
                                                         top_k)
    figures[f"{prefix}_mean_class_accuracy"] = mean_class_accuracy(single,
                                                                   scores)
    return figures


def _map_figure(prefix, labels, scores):
    per_class = average_precision_per_class(labels.astype(np.int64), scores)
    if np.all(np.isnan(per_class)):
        return {}
    return {f"{prefix}_map": float(np.nanmean(per_class))}


def _views(dataset, clip_length, image_size, views_per_video):
    def attribute(name, default=None):
        value = getattr(dataset, name, None)
        return default if value is None else value

    size = attribute("image_size", image_size)
    return {
        "num_clips": attribute("num_clips"),
        "num_crops": attribute("num_crops"),
        "views_per_video": attribute("views_per_video", views_per_video),
        "sampling": attribute("sampling"),
        "clip_length": int(attribute("clip_length", clip_length)),
        "image_size": None if size is None else [int(d) for d in size],
    }


def evaluate_videos(model, dataset, steps=None, mode="prob", outputs="auto",
                    progress=True, top_k=5):
    """Clip and video accuracy (or mAP) of `model` over multi-view batches.

    Runs `model.predict_on_batch` (inference mode) over `dataset`, records
    the outputs of every view, averages the views of each video
    (`aggregate_video_scores`) and computes:

    - single-label sets: `clip_top1`, `clip_top<top_k>`,
      `clip_mean_class_accuracy` (every view on its own, as the clip
      accuracy of `evaluate_clips`), `video_top1`, `video_top<top_k>`,
      `video_mean_class_accuracy`; `clip_map` and `video_map` too;
    - multi-label sets (a label row with several ones, or
      `dataset.video_list.multilabel`): `clip_map` and `video_map` only
      (accuracy needs one label per video);
    - `map_classes`: the number of classes with a positive video, the
      classes mAP averages over (the others are skipped);
    - `videos`, `views`, `steps`, and the sparsity figures of the model's
      `SparsityAccumulator` summed over exactly these views (reset first),
      as `evaluate_clips` reports them.

    `top<top_k>` figures are left out when `top_k` >= the number of classes
    (they would be 1.0 by definition).

    Model outputs: a softmax `VideoClassifier` gives probabilities; with
    `outputs="auto"` rows that are non-negative and sum to 1 are taken as
    probabilities, and their logarithms serve as the logits, so that
    `mode="prob"` averages exactly the probabilities (a softmax of
    `log p` is `p`). Other outputs are logits (a softmax per view before
    the mean), except outputs in `[0, 1]` on a multi-label set, which are
    independent sigmoid probabilities and are averaged as given.
    `mode="score"` averages the outputs as given in every case.

    Args:
        model: a Keras video classifier.
        dataset: an iterable of `(clips, labels, video_index)` batches:
            clips float32 `(B, T, H, W, C)`, labels float32 `(B, K)`
            one-hot or multi-hot, video_index int `(B,)` = the index of the
            view's video in `dataset.video_list` (a
            `deltasparse.data.video.VideoList`). Optional attributes used
            for the report: `video_list` (video ids and class names; a
            plain iterable has none, then the ids are the indices),
            `num_clips`, `num_crops`, `views_per_video`, `clip_length`,
            `sampling`, `image_size`.
        steps: int or None, the number of batches (None: all).
        mode: `"prob"` or `"score"`, see above. Defaults to `"prob"`.
        outputs: `"auto"`, `"probabilities"`, `"logits"` or `"sigmoid"`.
            Defaults to `"auto"`.
        progress: bool, show a tqdm progress bar. Defaults to `True`.
        top_k: int >= 2, the k of the `top<k>` figures. Defaults to `5`.

    Returns:
        A `VideoEvaluation`.

    Raises:
        ValueError: on malformed batches, an empty dataset, views of one
            video with different labels, or bad arguments.

    Example:
    >>> from deltasparse.models import VideoClassifier
    >>> model = VideoClassifier.from_preset("mobilenet_delta", num_classes=3,
    ...     image_size=(32, 32), alpha=0.25)
    >>> clips = np.random.rand(4, 2, 32, 32, 3).astype("float32")
    >>> labels = np.eye(3, dtype="float32")[[0, 0, 2, 2]]
    >>> batches = [(clips[:2], labels[:2], np.array([0, 0])),
    ...            (clips[2:], labels[2:], np.array([1, 1]))]
    >>> result = evaluate_videos(model, batches, progress=False)
    >>> result.figures["videos"], result.figures["views"]
    (2, 4)
    >>> result.video_scores.shape, result.views["views_per_video"]
    ((2, 3), 2)
    """
    _check_steps(steps)
    if mode not in ("prob", "score"):
        raise ValueError("`mode` must be 'prob' or 'score'. "
                         f"Received: mode={mode!r}")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 2:
        raise ValueError("`top_k` must be an int >= 2. "
                         f"Received: top_k={top_k!r}")
    if outputs not in OUTPUT_KINDS:
        raise ValueError(f"`outputs` must be one of {OUTPUT_KINDS}. "
                         f"Received: outputs={outputs!r}")
    reset_sparsity_totals(model)
    scores, labels, index, done, clip_shape = _predict(model, dataset, steps,
                                                       progress)
    video_list = getattr(dataset, "video_list", None)
    if video_list is not None and (
            index.min() < 0 or index.max() >= len(video_list)):
        raise ValueError(
            f"`video_index` must be in [0, {len(video_list)}) (the videos "
            "of `dataset.video_list`). Received: video_index in "
            f"[{index.min()}, {index.max()}]")
    if np.any(labels.sum(axis=1) == 0):
        raise ValueError(
            "Every view needs a label to be evaluated (an unlabeled test "
            "set?). Received: a label row of zeros")
    multilabel = bool(getattr(video_list, "multilabel", False)) or bool(
        np.any(labels.sum(axis=1) > 1))
    kind = _resolve_outputs(outputs, scores, multilabel)
    order, video_scores = _aggregate(scores, index, kind, mode)
    video_labels = _video_labels(labels, index, order)

    figures = {}
    if not multilabel:
        figures.update(_accuracy_figures("clip", labels, scores, top_k))
        figures.update(_accuracy_figures("video", video_labels, video_scores,
                                         top_k))
    figures.update(_map_figure("clip", labels, scores))
    figures.update(_map_figure("video", video_labels, video_scores))
    figures["map_classes"] = int(np.sum(video_labels.any(axis=0)))
    figures.update({"videos": len(order), "views": len(scores),
                    "steps": done})
    figures.update(accumulated_figures(model))

    counts = np.unique(index, return_counts=True)[1]
    views_per_video = int(counts[0]) if np.all(counts == counts[0]) else None
    if video_list is not None:
        ids = [video_list.video_ids[i] for i in order.tolist()]
        class_names = list(video_list.class_names)
    else:
        ids = order.tolist()
        class_names = [str(j) for j in range(scores.shape[1])]
    if len(class_names) != scores.shape[1]:
        raise ValueError(
            f"`dataset.video_list` names {len(class_names)} classes but the "
            f"model outputs {scores.shape[1]} scores. Received: "
            f"class_names[:3]={class_names[:3]}")
    views = _views(dataset, clip_shape[0], clip_shape[1:], views_per_video)
    return VideoEvaluation(
        figures=figures, video_ids=ids, video_scores=video_scores,
        video_labels=video_labels, class_names=class_names, views=views,
        multilabel=multilabel, mode=mode, outputs=kind, view_scores=scores,
        view_video_index=index)


__all__ = ["OUTPUT_KINDS", "VideoEvaluation", "evaluate_videos"]
