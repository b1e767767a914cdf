"""Pruning sensitivity analysis: how accuracy falls as ONE weight is pruned.

`sensitivity_analysis(model, evaluate)` prunes each prunable weight alone to
each sparsity of a grid (element-wise by magnitude, or whole output filters
by L1 norm), calls `evaluate(model)` and restores the weight. It writes
`sensitivity.csv` (columns `parameter,sparsity,top1,top5,loss`, as the
seed's `model-sensitivity.py` / Distiller's `sensitivity_analysis` do) and
one PNG per layer group, and resumes from an existing CSV.
`keras_evaluate(dataset)` builds an `evaluate` callable (top-1, top-5,
cross-entropy) for a dataset of `(clips, labels)` batches.

Differences from Distiller: accuracies are fractions in [0, 1] (Distiller
writes percentages); the weight is restored from a copy after every
evaluation, so evaluations never see each other's pruning; BatchNorm gammas
are swept too (they are prunable weights here).
"""

import csv
import io
import numbers
import os
import re

import keras
import numpy as np

from deltasparse.compression.pruning import _matches
from deltasparse.compression.pruning import _to_numpy
from deltasparse.compression.pruning import prunable_weights
from deltasparse.ops.pruning import filter_mask
from deltasparse.ops.pruning import magnitude_mask
from deltasparse.training.checkpoints import write_bytes_atomic

#: The columns of `sensitivity.csv`, in order.
COLUMNS = ("parameter", "sparsity", "top1", "top5", "loss")
#: The default sparsity grid, 0.0, 0.1, ..., 0.9 (Distiller's default).
DEFAULT_SPARSITIES = tuple(round(0.1 * i, 1) for i in range(10))
KINDS = ("element", "filter")
CSV_NAME = "sensitivity.csv"


def layer_group(parameter):
    """The plot group of a weight path: its layer name's stage prefix.

    `"conv2_block1_1_conv/kernel"` -> `"conv2"`, `"block_3_expand/kernel"`
    -> `"block_3"`, `"classifier/kernel"` -> `"classifier"`: the leading
    letters and the first number (an optional `_` between them), else the
    name's first `_`-separated token.

    Example:
    >>> [layer_group(p) for p in ("conv2_block1_1_conv/kernel",
    ...  "block_3_expand_BN/gamma", "classifier/kernel", "net/bn_x/gamma")]
    ['conv2', 'block_3', 'classifier', 'bn']
    """
    name = parameter.split("/")[-2] if "/" in parameter else parameter
    match = re.match(r"[A-Za-z]+_?\d+", name)
    return match.group(0) if match else name.split("_")[0]


def _sparsity_key(sparsity):
    return f"{float(sparsity):.6g}"


def read_sensitivity_csv(path):
    """The rows of a `sensitivity.csv` as dicts (floats but `parameter`).

    Args:
        path: a CSV written by `sensitivity_analysis`.

    Returns:
        A list of dicts with the keys of `COLUMNS`.

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: the header is not `parameter,sparsity,top1,top5,loss`.

    Example:
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "sensitivity.csv")
    >>> _ = open(path, "w").write(
    ...     "parameter,sparsity,top1,top5,loss\\nfc/kernel,0.5,0.25,1,2\\n")
    >>> read_sensitivity_csv(path)
    [{'parameter': 'fc/kernel', 'sparsity': 0.5, 'top1': 0.25, 'top5': 1.0, \
'loss': 2.0}]
    """
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"No sensitivity CSV at `path`. Received: path={path!r}")
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(
                f"A sensitivity CSV must have the columns {','.join(COLUMNS)}"
                f". Received: columns={reader.fieldnames}")
        return [{key: (row[key] if key == "parameter" else float(row[key]))
                 for key in COLUMNS} for row in reader]


def _write_csv(path, rows):
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: (row[key] if key == "parameter"
                               else repr(float(row[key])))
                         for key in COLUMNS})
    return write_bytes_atomic(path, text.getvalue().encode())


def _plot_groups(rows, output_dir, group_by):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    groups = {}
    for row in rows:
        groups.setdefault(group_by(row["parameter"]), {}).setdefault(
            row["parameter"], []).append(row)
    paths = []
    for group, parameters in groups.items():
        fig = Figure(figsize=(10, 3.6))
        FigureCanvasAgg(fig)
        axes = fig.subplots(1, 2)
        for parameter, points in parameters.items():
            points = sorted(points, key=lambda r: r["sparsity"])
            x = [p["sparsity"] for p in points]
            axes[0].plot(x, [p["top1"] for p in points], marker="o",
                         label=parameter)
            axes[1].plot(x, [p["loss"] for p in points], marker="o",
                         label=parameter)
        for ax, metric in zip(axes, ("top-1 accuracy", "loss")):
            ax.set_xlabel("sparsity (fraction of zeros)")
            ax.set_ylabel(metric)
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=6)
        fig.suptitle(f"Pruning sensitivity: {group}")
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=90)
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", group)
        paths.append(write_bytes_atomic(
            os.path.join(output_dir, f"sensitivity_{safe}.png"),
            buffer.getvalue()))
    return paths


def _select(model, weights):
    candidates = prunable_weights(model)
    if weights is None:
        return candidates
    patterns = [weights] if isinstance(weights, str) else list(weights)
    selected = []
    for pattern in patterns:
        hits = [w for w in candidates if _matches(w, pattern)]
        if not hits:
            raise ValueError(
                "Every entry of `weights` must match a prunable weight "
                "(a weight path, a layer name or an fnmatch pattern, e.g. "
                f"{[w.path for w in candidates[:3]]}). Received: "
                f"weights={pattern!r}")
        chosen = {w.path for w in selected}
        selected += [w for w in hits if w.path not in chosen]
    return selected


def _check_metrics(metrics, parameter):
    if not isinstance(metrics, dict) or any(
            key not in metrics for key in COLUMNS[2:]):
        raise ValueError(
            "`evaluate(model)` must return a dict with `top1`, `top5` and "
            f"`loss` (evaluating {parameter}). Received: metrics={metrics!r}")
    return {key: float(metrics[key]) for key in COLUMNS[2:]}


def sensitivity_analysis(model, evaluate, sparsities=DEFAULT_SPARSITIES,
                         weights=None, kind="element", output_dir=None,
                         progress=True, group_by=layer_group):
    """Evaluates the model with each prunable weight alone pruned.

    For every selected weight and every sparsity, the weight is pruned
    (`kind="element"`: the smallest `|w|`, `deltasparse.ops.magnitude_mask`;
    `kind="filter"`: whole output filters of lowest L1 norm,
    `deltasparse.ops.filter_mask`, as Distiller's
    `L1RankedStructureParameterPruner` with `group_type="Filters"`),
    `evaluate(model)` is called, and the weight is restored exactly. With
    `output_dir`, `sensitivity.csv` is rewritten atomically after every
    evaluation, rows already in it are skipped (resuming an interrupted
    sweep; the sparsity is matched to 6 significant digits), and at the
    end one PNG per layer group (`sensitivity_<group>.png`: top-1 and loss
    against sparsity, one line per weight) is written.

    Args:
        model: a built Keras model.
        evaluate: callable `evaluate(model)` -> dict with `top1`, `top5`
            and `loss` (e.g. `keras_evaluate(dataset)`).
        sparsities: the grid of fractions in [0, 1]. Defaults to
            `(0.0, 0.1, ..., 0.9)`.
        weights: `None` (every prunable weight), or a weight path, layer
            name or `fnmatch` pattern, or a list of them.
        kind: `"element"` or `"filter"`. Defaults to `"element"`.
        output_dir: folder for `sensitivity.csv` and the PNGs, or `None`
            (nothing written). Defaults to `None`.
        progress: bool, show a tqdm progress bar. Defaults to `True`.
        group_by: callable mapping a weight path to its plot group.
            Defaults to `layer_group` (`conv2_*` -> `"conv2"`).

    Returns:
        A list of dicts with the keys `parameter`, `sparsity`, `top1`,
        `top5`, `loss`, one per (weight, sparsity), in sweep order (rows
        read from an existing CSV included).

    Raises:
        ValueError: an unknown `kind`, a sparsity outside [0, 1], `weights`
            that match nothing, or an `evaluate` result without the three
            metrics.

    Example:
    >>> model = keras.Sequential([keras.Input((4,)),
    ...     keras.layers.Dense(2, name="fc")], name="net")
    >>> def evaluate(model):  # a stand-in: the kernel's fraction of zeros
    ...     zeros = float(np.mean(model.get_layer("fc").kernel.numpy() == 0))
    ...     return {"top1": 1 - zeros, "top5": 1.0, "loss": zeros}
    >>> rows = sensitivity_analysis(model, evaluate, sparsities=(0.0, 0.5),
    ...                             progress=False)
    >>> [(r["parameter"], r["sparsity"], r["top1"]) for r in rows]
    [('net/fc/kernel', 0.0, 1.0), ('net/fc/kernel', 0.5, 0.5)]
    """
    if kind not in KINDS:
        raise ValueError(
            f"`kind` must be one of {KINDS}. Received: kind={kind!r}")
    if not callable(evaluate):
        raise ValueError(
            "`evaluate` must be a callable `evaluate(model)` -> dict. "
            f"Received: evaluate={evaluate!r}")
    sparsities = tuple(sparsities)
    for value in sparsities:
        if (not isinstance(value, numbers.Real) or isinstance(value, bool)
                or not 0.0 <= value <= 1.0):
            raise ValueError(
                "`sparsities` must be fractions of zeros in [0, 1]. "
                f"Received: sparsities={sparsities!r}")
    if not sparsities:
        raise ValueError("`sparsities` must not be empty. Received: "
                         "sparsities=()")
    selected = _select(model, weights)
    mask_fn = magnitude_mask if kind == "element" else filter_mask

    table = {}  # (parameter, sparsity key) -> row, file order kept
    csv_path = None
    if output_dir is not None:
        os.makedirs(output_dir, exist_ok=True)
        csv_path = os.path.join(output_dir, CSV_NAME)
        if os.path.exists(csv_path):
            for row in read_sensitivity_csv(csv_path):
                table[(row["parameter"], _sparsity_key(row["sparsity"]))] = row
    todo = sum((w.path, _sparsity_key(s)) not in table
               for w in selected for s in sparsities)

    from tqdm.auto import tqdm

    bar = tqdm(total=todo, desc="sensitivity", unit="eval",
               disable=not progress)
    rows = []
    try:
        for weight in selected:
            variable = weight.variable
            original = None
            for sparsity in sparsities:
                key = (weight.path, _sparsity_key(sparsity))
                if key in table:
                    rows.append(table[key])
                    continue
                if original is None:
                    original = keras.ops.convert_to_tensor(
                        _to_numpy(variable.value).copy())
                variable.assign(keras.ops.multiply(
                    original, mask_fn(original, float(sparsity))))
                try:
                    metrics = evaluate(model)
                finally:
                    variable.assign(original)
                row = {"parameter": weight.path, "sparsity": float(sparsity),
                       **_check_metrics(metrics, weight.path)}
                table[key] = row
                rows.append(row)
                if csv_path is not None:
                    _write_csv(csv_path, table.values())
                bar.update(1)
    finally:
        bar.close()
    if output_dir is not None:
        if not os.path.exists(csv_path):
            _write_csv(csv_path, table.values())
        _plot_groups(list(table.values()), output_dir, group_by)
    return rows


def _batches(dataset, batch_size):
    if (isinstance(dataset, tuple) and len(dataset) == 2
            and not hasattr(dataset[0], "element_spec")):
        clips, labels = (np.asarray(part) for part in dataset)
        for start in range(0, len(clips), batch_size):
            yield clips[start:start + batch_size], labels[
                start:start + batch_size]
        return
    for batch in dataset:
        yield batch[0], batch[1]


def keras_evaluate(dataset, from_logits=False, batch_size=8):
    """An `evaluate(model)` callable: top-1, top-5 and cross-entropy.

    The model is run with `predict_on_batch` on every batch, and the
    metrics are computed over all examples: `top1`/`top5` = fraction whose
    label is among the 1/5 highest scores (with fewer than 5 classes,
    `top5` counts all of them; ties go to the lower class index), `loss` =
    mean categorical cross-entropy (probabilities clipped to
    `[1e-7, 1 - 1e-7]` as Keras does; `from_logits=True` applies a log
    softmax first). Integer labels or one-hot labels are accepted.

    Args:
        dataset: an iterable of `(clips, labels, ...)` batches (a
            `tf.data.Dataset`, a list), or a tuple `(clips, labels)` of
            arrays split into `batch_size` batches. Iterated anew at every
            call.
        from_logits: bool, whether the model outputs logits. Defaults to
            `False` (VideoClassifier ends with a softmax).
        batch_size: int, the batch size for an array tuple. Defaults to
            `8`.

    Returns:
        A callable `evaluate(model)` -> `{"top1", "top5", "loss"}` floats.

    Raises:
        ValueError: (when called) an empty dataset.

    Example:
    >>> model = keras.Sequential([keras.Input((3,)),
    ...     keras.layers.Activation("softmax")])
    >>> clips = np.array([[3.0, 1.0, 0.0], [0.0, 2.0, 1.0]], "float32")
    >>> result = keras_evaluate((clips, np.array([0, 2])))(model)
    >>> result["top1"], result["top5"]
    (0.5, 1.0)
    """

    def evaluate(model):
        correct1 = correct5 = count = 0
        loss_sum = 0.0
        for clips, labels in _batches(dataset, batch_size):
            scores = np.asarray(model.predict_on_batch(clips), "float64")
            labels = np.asarray(labels)
            if labels.ndim == scores.ndim:
                labels = np.argmax(labels, axis=-1)
            labels = labels.astype(int).reshape(-1)
            if from_logits:
                shifted = scores - scores.max(axis=-1, keepdims=True)
                log_probs = shifted - np.log(
                    np.exp(shifted).sum(axis=-1, keepdims=True))
            else:
                log_probs = np.log(np.clip(scores, 1e-7, 1 - 1e-7))
            order = np.argsort(-scores, axis=-1, kind="stable")
            hits = order == labels[:, None]
            correct1 += int(hits[:, :1].any(axis=-1).sum())
            correct5 += int(hits[:, :5].any(axis=-1).sum())
            loss_sum += float(-log_probs[np.arange(len(labels)),
                                         labels].sum())
            count += len(labels)
        if count == 0:
            raise ValueError(
                "`dataset` of keras_evaluate yielded no examples. Received: "
                f"dataset={dataset!r}")
        return {"top1": correct1 / count, "top5": correct5 / count,
                "loss": loss_sum / count}

    return evaluate


__all__ = ["COLUMNS", "DEFAULT_SPARSITIES", "keras_evaluate", "layer_group",
           "read_sensitivity_csv", "sensitivity_analysis"]
