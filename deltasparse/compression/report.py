"""What a compressed model costs: parameters, zeros, bytes, MACs and time.

`compression_report(model, input_shape)` measures one model;
`compare_reports(before, after)` puts two side by side. The figures:

- per weight: parameters, non-zero parameters, sparsity (fraction of
  zeros); totals over every weight (trainable or not, as
  `model.count_params()`);
- bytes on disk of the `.keras` file (without the optimizer state) and
  of the weights file
  (`.weights.h5`) compressed with gzip (level 9): the zeros of an
  element-wise pruned model only shrink the compressed file, a thinned
  model shrinks both;
- counted MACs of one clip (`deltasparse.evaluation.count_macs`), and
  "non-zero MACs": each layer's MACs scaled by the density of its kernel
  (non-zero / size). This is a count, not a measurement: dense kernels do
  every multiplication whether the weight is zero or not;
- measured inference time: the median wall-clock of
  `model.predict_on_batch` (a compiled predict function) over
  `timing_repeats` calls per batch size, after two warm-up calls; reported
  in milliseconds per batch and per clip. Timings on a shared machine move
  with its load: compare the two models of one process side by side.
"""

import dataclasses
import gzip
import json
import os
import statistics
import tempfile
import time

import keras
import numpy as np

from deltasparse.evaluation.flops import _named_layers
from deltasparse.evaluation.flops import count_macs
from deltasparse.training.checkpoints import temp_path

REPORT_NAME = "compression_report"
ROW_COLUMNS = ("layer", "weight", "parameters", "non_zero", "sparsity")


def _write_text_atomic(path, text):
    tmp = temp_path(path)
    with open(tmp, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


@keras.saving.register_keras_serializable(package="deltasparse")
@dataclasses.dataclass
class CompressionReport:
    """The measured costs of one model (see the module docstring).

    Attributes:
        name: str, the model's name.
        input_shape: tuple, the shape of one clip (no batch axis).
        rows: list of dicts with `layer`, `weight`, `parameters`,
            `non_zero`, `sparsity`, one per weight.
        parameters: int, all weights' entries.
        non_zero: int, their non-zero entries.
        sparsity: float, `1 - non_zero / parameters`.
        keras_bytes: int, size of the `.keras` file.
        gzip_weights_bytes: int, size of the gzip-compressed `.weights.h5`.
        macs: int, counted MACs of one clip.
        non_zero_macs: int, MACs scaled by each layer's kernel density
            (counted, not measured).
        milliseconds: dict batch size (str) -> median milliseconds per
            batch of `predict_on_batch`; `{}` when not timed.
        backend: str, the Keras backend that measured it.

    Example:
    >>> report = CompressionReport(
    ...     name="tiny", input_shape=(4, 8, 8, 3), rows=[], parameters=10,
    ...     non_zero=5, sparsity=0.5, keras_bytes=900, gzip_weights_bytes=400,
    ...     macs=100, non_zero_macs=50, milliseconds={"8": 4.0},
    ...     backend="tensorflow")
    >>> report.milliseconds_per_clip(8)
    0.5
    >>> CompressionReport.from_config(report.get_config()) == report
    True
    """

    name: str
    input_shape: tuple
    rows: list
    parameters: int
    non_zero: int
    sparsity: float
    keras_bytes: int
    gzip_weights_bytes: int
    macs: int
    non_zero_macs: int
    milliseconds: dict
    backend: str

    def milliseconds_per_clip(self, batch_size):
        """float or None, median milliseconds per clip at `batch_size`."""
        value = self.milliseconds.get(str(batch_size))
        return None if value is None else value / int(batch_size)

    def get_config(self):
        config = dataclasses.asdict(self)
        config["input_shape"] = list(self.input_shape)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["input_shape"] = tuple(config["input_shape"])
        return cls(**config)

    def to_json(self):
        """str, the report as JSON (`from_config(json.loads(...))` reads
        it back)."""
        return json.dumps(self.get_config(), indent=2, sort_keys=True)

    def to_markdown(self):
        """str, totals then the per-weight table, in Markdown."""
        lines = [f"# Compression report: {self.name}", "",
                 f"Clip shape {tuple(self.input_shape)}, backend "
                 f"{self.backend}.", "", "| measure | value |", "|---|---|"]
        for label, value in _summary(self):
            lines.append(f"| {label} | {_format(value)} |")
        lines += ["", "| " + " | ".join(ROW_COLUMNS) + " |",
                  "|" + "---|" * len(ROW_COLUMNS)]
        for row in self.rows:
            lines.append("| " + " | ".join(
                _format(row[c]) for c in ROW_COLUMNS) + " |")
        return "\n".join(lines) + "\n"

    def write(self, output_dir):
        """Writes `compression_report.md` and `.json` into `output_dir`
        (created if needed), each atomically; returns both paths."""
        os.makedirs(output_dir, exist_ok=True)
        paths = []
        for suffix, text in ((".md", self.to_markdown()),
                             (".json", self.to_json())):
            path = os.path.join(output_dir, REPORT_NAME + suffix)
            _write_text_atomic(path, text)
            paths.append(path)
        return tuple(paths)


def _summary(report):
    rows = [("parameters", report.parameters),
            ("non-zero parameters", report.non_zero),
            ("sparsity", report.sparsity),
            (".keras bytes", report.keras_bytes),
            ("gzip weights bytes", report.gzip_weights_bytes),
            ("MACs per clip (counted)", report.macs),
            ("non-zero MACs per clip (counted)", report.non_zero_macs)]
    for batch in sorted(report.milliseconds, key=int):
        rows.append((f"ms/clip, batch {batch} (measured)",
                     report.milliseconds_per_clip(batch)))
    return rows


def _format(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    return str(value)


def _weight_rows(model):
    rows, seen = [], set()
    for variable in model.weights:
        if id(variable) in seen:
            continue
        seen.add(id(variable))
        value = keras.ops.convert_to_numpy(variable)
        size = int(value.size)
        non_zero = int(np.count_nonzero(value))
        layer, _, weight = variable.path.rpartition("/")
        rows.append({"layer": layer, "weight": weight, "parameters": size,
                     "non_zero": non_zero,
                     "sparsity": 0.0 if size == 0 else 1 - non_zero / size})
    return rows


def _kernel_density(layer):
    kernels = [keras.ops.convert_to_numpy(v) for v in layer.weights
               if "kernel" in v.name]
    size = sum(k.size for k in kernels)
    if size == 0:
        return 1.0
    return sum(int(np.count_nonzero(k)) for k in kernels) / size


def _file_sizes(model):
    """Bytes of the model's `.keras` file WITHOUT its optimizer state (a
    compiled Adam model would otherwise weigh 3x its weights) and of its
    gzip-compressed weights."""
    with tempfile.TemporaryDirectory() as folder:
        keras_path = os.path.join(folder, "model.keras")
        optimizer = getattr(model, "optimizer", None)
        model.optimizer = None
        try:
            model.save(keras_path)
        finally:
            model.optimizer = optimizer
        weights_path = os.path.join(folder, "model.weights.h5")
        model.save_weights(weights_path)
        with open(weights_path, "rb") as handle:
            compressed = gzip.compress(handle.read(), compresslevel=9)
        return os.path.getsize(keras_path), len(compressed)


def median_inference_milliseconds(model, input_shape, batch_size=1,
                                  repeats=10):
    """Median wall-clock milliseconds of `model.predict_on_batch` on one
    batch of random clips, after two untimed warm-up calls.

    Args:
        model: a built Keras model.
        input_shape: tuple of ints, one clip without the batch axis.
        batch_size: int >= 1. Defaults to `1`.
        repeats: int >= 1, timed calls. Defaults to `10`.

    Returns:
        float, milliseconds per batch (divide by `batch_size` per clip).

    Example:
    >>> model = keras.Sequential([keras.Input((2, 4, 4, 1)),
    ...                           keras.layers.Conv3D(2, 1)])
    >>> median_inference_milliseconds(model, (2, 4, 4, 1), repeats=2) > 0
    True
    """
    clip_shape = _check_input_shape(model, input_shape)
    clips = np.random.default_rng(0).normal(
        size=(int(batch_size),) + clip_shape).astype("float32")
    for _ in range(2):  # warm-up: tracing and the first allocations
        model.predict_on_batch(clips)
    times = []
    for _ in range(max(int(repeats), 1)):
        start = time.perf_counter()
        model.predict_on_batch(clips)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def _check_input_shape(model, input_shape):
    valid = isinstance(input_shape, (tuple, list)) and input_shape and all(
        isinstance(d, (int, np.integer)) and not isinstance(d, bool)
        and d > 0 for d in input_shape)
    rank = len(model.inputs[0].shape) - 1 if getattr(
        model, "inputs", None) else None
    if not valid or (rank is not None and len(input_shape) != rank):
        raise ValueError(
            "`input_shape` must be the shape of ONE clip without the batch "
            f"axis, {rank} positive ints, e.g. (16, 112, 112, 3). "
            f"Received: input_shape={input_shape!r}")
    return tuple(int(d) for d in input_shape)


def compression_report(model, input_shape, timing_repeats=10,
                       output_dir=None, batch_sizes=(1, 8)):
    """Measures the size, sparsity, MACs and inference time of `model`.

    Args:
        model: a built Keras model taking clips.
        input_shape: tuple of ints, the shape of one clip WITHOUT the batch
            axis, e.g. `(16, 112, 112, 3)`.
        timing_repeats: int >= 0, timed `predict_on_batch` calls per batch
            size (after two warm-up calls); 0 skips the timing. Defaults to
            `10`.
        output_dir: str or None; when given, `compression_report.md` and
            `compression_report.json` are written there (atomically).
            Defaults to `None`.
        batch_sizes: tuple of positive ints timed. Defaults to `(1, 8)`.

    Returns:
        A `CompressionReport`.

    Raises:
        ValueError: for a bad `input_shape`, `timing_repeats` or
            `batch_sizes`.

    Example:
    >>> model = keras.Sequential([keras.Input((4, 8, 8, 3)),
    ...                           keras.layers.Conv3D(2, 1, use_bias=False)])
    >>> report = compression_report(model, (4, 8, 8, 3), timing_repeats=0)
    >>> report.parameters, report.macs
    (6, 1536)
    """
    clip_shape = _check_input_shape(model, input_shape)
    if isinstance(timing_repeats, bool) or not isinstance(
            timing_repeats, (int, np.integer)) or timing_repeats < 0:
        raise ValueError(
            "`timing_repeats` must be an int >= 0 (0: no timing). "
            f"Received: timing_repeats={timing_repeats!r}")
    if not batch_sizes or any(
            isinstance(b, bool) or not isinstance(b, (int, np.integer))
            or b < 1 for b in batch_sizes):
        raise ValueError(
            "`batch_sizes` must be a non-empty tuple of positive ints. "
            f"Received: batch_sizes={batch_sizes!r}")
    rows = _weight_rows(model)
    parameters = sum(row["parameters"] for row in rows)
    non_zero = sum(row["non_zero"] for row in rows)
    count = count_macs(model, (1,) + clip_shape)
    layers = dict(_named_layers(model))
    non_zero_macs = sum(macs * _kernel_density(layers[name])
                        for name, macs in count.per_layer.items())
    keras_bytes, gzip_bytes = _file_sizes(model)
    milliseconds = {}
    if timing_repeats:
        for batch in batch_sizes:
            milliseconds[str(int(batch))] = median_inference_milliseconds(
                model, clip_shape, int(batch), int(timing_repeats))
    report = CompressionReport(
        name=model.name, input_shape=clip_shape, rows=rows,
        parameters=parameters, non_zero=non_zero,
        sparsity=0.0 if parameters == 0 else 1 - non_zero / parameters,
        keras_bytes=keras_bytes, gzip_weights_bytes=gzip_bytes,
        macs=count.total, non_zero_macs=int(round(non_zero_macs)),
        milliseconds=milliseconds, backend=keras.backend.backend())
    if output_dir is not None:
        report.write(output_dir)
    return report


def _as_report(report, name):
    if isinstance(report, CompressionReport):
        return report
    if isinstance(report, dict):
        return CompressionReport.from_config(report)
    raise ValueError(
        f"`{name}` must be a CompressionReport or its `get_config()` dict. "
        f"Received: {name}={type(report).__name__}")


def compare_reports(before, after):
    """A Markdown table of two reports side by side.

    Columns: measure, before, after, and `before / after` (above 1: the
    second model is smaller or faster by that factor).

    Args:
        before: `CompressionReport` (or its `get_config()` dict, e.g. read
            from `compression_report.json`).
        after: the same, for the compressed model.

    Returns:
        str, the Markdown table.

    Raises:
        ValueError: if either is not a report.

    Example:
    >>> model = keras.Sequential([keras.Input((2, 4, 4, 1)),
    ...                           keras.layers.Conv3D(2, 1)])
    >>> report = compression_report(model, (2, 4, 4, 1), timing_repeats=0)
    >>> print(compare_reports(report, report).splitlines()[2])
    | parameters | 4 | 4 | 1 |
    """
    before = _as_report(before, "before")
    after = _as_report(after, "after")
    first, second = dict(_summary(before)), dict(_summary(after))
    lines = [f"| measure | {before.name} | {after.name} | before / after |",
             "|---|---|---|---|"]
    for label in dict.fromkeys(list(first) + list(second)):
        a, b = first.get(label), second.get(label)
        ratio = a / b if isinstance(a, (int, float)) and isinstance(
            b, (int, float)) and b else None
        if label == "sparsity":
            ratio = None
        lines.append(f"| {label} | {_format(a)} | {_format(b)} | "
                     f"{_format(ratio)} |")
    return "\n".join(lines) + "\n"


__all__ = ["CompressionReport", "compare_reports", "compression_report",
           "median_inference_milliseconds"]
