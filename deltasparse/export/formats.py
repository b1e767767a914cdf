"""Export a video model to `.keras`, SavedModel and TFLite, with proof.

`export_model` writes every requested format into one folder, runs each
exported file on the same sample clips as the Keras model
(`deltasparse.export.parity.check_parity`), and writes what it found to
`export_report.json`: file, size, maximum and mean absolute difference of
the outputs, top-1 agreement, whether the format passed, the ops that need
the TF Select (Flex) runtime, and for int8 the ops and layers that stay
float.

The serving function is `model(clips, training=False)` traced inside
`sparsity_statistics_disabled(model)`: the delta and L1 models sum their
sparsity statistics in variables in every call, and the exported graph
must not (TFLite has no variables by default, and a served model has no
use for training statistics). The Keras model keeps counting outside the
export. The exported signature takes `clips` float32 `(batch, T, H, W, C)`
with a dynamic batch and the clip length of the sample clips.

Formats:
- `"keras"`: `model.keras` (+ `model_info.json` through
  `save_model_bundle` when the class names are known), reloaded and
  compared.
- `"saved_model"`: a TF SavedModel folder with the `serve` endpoint
  (`keras.export.ExportArchive`), reloaded with `tf.saved_model.load`.
- `"tflite_float32"`, `"tflite_dynamic_range"` (int8 weights, float
  activations), `"tflite_int8"` (full integer quantization calibrated on
  `representative_clips`; inputs and outputs stay float32 unless
  `int8_io=True`). Conversion tries `TFLITE_BUILTINS` only first; when
  that fails it converts with `SELECT_TF_OPS` as well and reports the Flex
  ops the model then needs.

Pass criteria: a float format (`FLOAT_FORMATS`: keras, saved_model,
tflite_float32) passes when its maximum absolute difference is
`<= tolerance` (default 1e-4). The quantized formats (`QUANTIZED_FORMATS`:
tflite_dynamic_range, whose int8 weights alone move a tiny MobileNet's
probabilities by about 1e-3, and tflite_int8) pass when the difference is
`<= int8_tolerance` (default `DEFAULT_INT8_TOLERANCE` = 0.1, i.e. 10 points
of probability for a softmax model: an int8 tensor has 256 levels and the
errors of every layer add up) and the top-1 classes agree on at least
`INT8_MIN_TOP1_AGREEMENT` (0.9) of the clips.
"""

import dataclasses
import numbers
import os
import shutil
import tempfile
import time
import warnings

import numpy as np

from deltasparse.export.model_files import MODEL_FILE
from deltasparse.export.model_files import ModelBundle
from deltasparse.export.model_files import save_model_bundle
from deltasparse.export.parity import check_parity
from deltasparse.export.tflite_inspection import TFLiteRunner
from deltasparse.export.tflite_inspection import flex_ops
from deltasparse.export.tflite_inspection import float_ops
from deltasparse.models.sparsity_slots import sparsity_statistics_disabled
from deltasparse.training.checkpoints import write_bytes_atomic
from deltasparse.training.checkpoints import write_json_atomic

FORMATS = ("keras", "saved_model", "tflite_float32", "tflite_dynamic_range",
           "tflite_int8")
FLOAT_FORMATS = FORMATS[:3]
QUANTIZED_FORMATS = FORMATS[3:]
FILE_NAMES = {
    "keras": MODEL_FILE,
    "saved_model": "saved_model",
    "tflite_float32": "model_float32.tflite",
    "tflite_dynamic_range": "model_dynamic_range.tflite",
    "tflite_int8": "model_int8.tflite",
}
REPORT_FILE = "export_report.json"
DEFAULT_TOLERANCE = 1e-4
DEFAULT_INT8_TOLERANCE = 0.1
INT8_MIN_TOP1_AGREEMENT = 0.9
DEFAULT_SAMPLE_CLIPS = 4
PARITY_BATCH_SIZE = 8


@dataclasses.dataclass
class FormatResult:
    """The export of one format and its parity check.

    Attributes:
        format: str, one of `FORMATS`.
        path: str or None, the written file or folder.
        size_bytes: int or None (a folder counts all its files).
        max_abs_diff: float or None, vs the Keras model on the sample clips.
        mean_abs_diff: float or None.
        top1_agreement: float or None, fraction of clips with the same
            top-1 class.
        tolerance: float, the maximum difference allowed.
        passed: bool.
        error: str or None, why the conversion or the check failed.
        ops_set: str or None (TFLite): one of `OPS_SETS`.
        builtins_error: str or None (TFLite), why builtins alone failed.
        flex_ops: list of str (TFLite), ops needing TF Select or custom ops.
        float_ops: list of `{"op", "layer"}` (int8), ops that stay float.
        float_layers: list of str (int8), the layers of `float_ops`.
        seconds: float, export + check time.
    """

    format: str
    path: str = None
    size_bytes: int = None
    max_abs_diff: float = None
    mean_abs_diff: float = None
    top1_agreement: float = None
    tolerance: float = None
    passed: bool = False
    error: str = None
    ops_set: str = None
    builtins_error: str = None
    flex_ops: list = dataclasses.field(default_factory=list)
    float_ops: list = dataclasses.field(default_factory=list)
    float_layers: list = dataclasses.field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass
class ExportReport:
    """What `export_model` wrote and measured (JSON-able via `to_dict`).

    Attributes:
        output_dir: str.
        formats: dict format -> `FormatResult`, in export order.
        input_shape: list, the serving input shape (`None` = dynamic batch).
        num_sample_clips: int, clips of the parity check.
        sample_source: str, where they came from (`"given"`, `"random"`).
        num_representative_clips: int, int8 calibration clips.
        class_names: list of str or None.
        versions: dict, TensorFlow and Keras versions.
        report_path: str, the `export_report.json`.
    """

    output_dir: str
    formats: dict
    input_shape: list
    num_sample_clips: int
    sample_source: str
    num_representative_clips: int = 0
    class_names: list = None
    versions: dict = None
    report_path: str = None

    @property
    def passed(self):
        """True when every exported format passed its check."""
        return all(r.passed for r in self.formats.values())

    @property
    def float_formats_passed(self):
        """True when every float format (keras, saved_model,
        tflite_float32) passed; the command's exit code."""
        return all(r.passed for name, r in self.formats.items()
                   if name in FLOAT_FORMATS)

    def to_dict(self):
        data = dataclasses.asdict(self)
        data["formats"] = {k: v.to_dict() for k, v in self.formats.items()}
        data["passed"] = self.passed
        data["float_formats_passed"] = self.float_formats_passed
        return data


def check_formats(formats):
    """`formats` as a tuple of known names, in the order of `FORMATS`."""
    if isinstance(formats, str):
        formats = (formats,)
    formats = tuple(formats)
    unknown = [f for f in formats if f not in FORMATS]
    if not formats or unknown:
        raise ValueError(
            f"`formats` must be a non-empty list of {list(FORMATS)}. "
            f"Received: formats={list(formats)}")
    return tuple(f for f in FORMATS if f in formats)


def _check_tolerance(name, value):
    if isinstance(value, bool) or not isinstance(
            value, numbers.Real) or not value >= 0:
        raise ValueError(
            f"`{name}` must be a number >= 0. Received: {name}={value!r}")
    return float(value)


def serving_call(model):
    """The function an export serves: `model(clips, training=False)`."""
    def serve(clips):
        return model(clips, training=False)
    return serve


def keras_predict_fn(model):
    """The reference: the Keras model called eagerly in inference mode,
    without adding to its sparsity statistics."""
    serve = serving_call(model)

    def predict(clips):
        with sparsity_statistics_disabled(model):
            return serve(clips)
    return predict


def write_saved_model(model, path, input_shape):
    """Writes a SavedModel with one `serve` endpoint, traced with the
    sparsity statistics disabled.

    Args:
        model: a `keras.Model`.
        path: str, the SavedModel folder (replaced atomically).
        input_shape: tuple `(None, T, H, W, C)`.

    Returns:
        `path`.
    """
    import keras
    import tensorflow as tf

    tmp = f"{path}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    archive = keras.export.ExportArchive()
    archive.track(model)
    with sparsity_statistics_disabled(model):
        archive.add_endpoint(
            "serve", serving_call(model),
            input_signature=[tf.TensorSpec(input_shape, tf.float32,
                                           name="clips")])
        archive.write_out(tmp, verbose=False)
    shutil.rmtree(path, ignore_errors=True)
    os.replace(tmp, path)
    return path


def _saved_model_fn(path):
    import tensorflow as tf

    loaded = tf.saved_model.load(path)

    def predict(clips):
        return loaded.serve(tf.constant(clips))
    predict.loaded = loaded
    return predict


OPS_SETS = ("TFLITE_BUILTINS", "TFLITE_BUILTINS+SELECT_TF_OPS",
            "SELECT_TF_OPS")


def _tflite_converter(saved_model_dir, mode, representative_clips,
                      int8_io, ops_set):
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
    converter.target_spec.supported_ops = [
        getattr(tf.lite.OpsSet, name) for name in ops_set.split("+")]
    if mode != "tflite_float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "tflite_int8":
        clips = np.asarray(representative_clips, "float32")

        def representative_dataset():
            for clip in clips:
                yield [clip[None]]
        converter.representative_dataset = representative_dataset
        if int8_io:
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
    return converter


def _short_error(error, limit=2000):
    text = f"{type(error).__name__}: {error}".strip()
    return text if len(text) <= limit else text[:limit] + " ..."


FLEX_MISSING = "Select TensorFlow op"


def _runs(content, clip, ops_set):
    """Raises unless the TFLite model runs on one clip (a converter may
    emit a builtin op whose kernel rejects the shapes, e.g. a grouped
    CONV_3D). A Flex model that only lacks the TF Select runtime in this
    interpreter counts as running."""
    if clip is None:
        return
    try:
        TFLiteRunner(content)(clip[None])
    except RuntimeError as error:
        if "SELECT_TF_OPS" not in ops_set or FLEX_MISSING not in str(error):
            raise


def convert_tflite(saved_model_dir, mode, representative_clips=None,
                   int8_io=False, check_clip=None):
    """Converts a SavedModel to TFLite, builtins only first.

    The op sets of `OPS_SETS` are tried in turn: builtins; builtins + TF
    Select; TF Select alone (a grouped Conv3D converts to a builtin
    CONV_3D whose kernel rejects groups, so only the last gives a model
    that runs, with `FlexConv3D`).

    Args:
        saved_model_dir: str.
        mode: `"tflite_float32"`, `"tflite_dynamic_range"` or
            `"tflite_int8"`.
        representative_clips: float32 `(N, T, H, W, C)`, int8 calibration.
        int8_io: bool, int8 inputs and outputs (int8 mode only).
        check_clip: float32 `(T, H, W, C)` or None: the builtins-only model
            must also run on it, else SELECT_TF_OPS is tried.

    Returns:
        `(flatbuffer bytes, ops_set, builtins_error or None)`: the first
        op set that converts and runs, and why builtins alone did not.

    Raises:
        The converter's (or interpreter's) error when SELECT_TF_OPS does
        not help either.
    """
    builtins_error = None
    for ops_set in OPS_SETS:
        try:
            converter = _tflite_converter(saved_model_dir, mode,
                                          representative_clips, int8_io,
                                          ops_set)
            content = converter.convert()
            _runs(content, check_clip, ops_set)
            return content, ops_set, builtins_error
        except Exception as error:  # noqa: BLE001 (converter errors vary)
            if ops_set == OPS_SETS[-1]:
                raise
            if builtins_error is None:
                builtins_error = _short_error(error)


def _size(path):
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(folder, name))
                   for folder, _, names in os.walk(path) for name in names)
    return os.path.getsize(path)


def _random_clips(shape, preprocessing, seed):
    """Random frames in [0, 255], preprocessed like the model's data."""
    from deltasparse.data.video.augment import preprocess

    frames = np.random.default_rng(seed).uniform(0, 255, shape)
    return np.asarray(preprocess(frames.astype("float32"), preprocessing),
                      dtype="float32")


def _input_shape(model, clips, clip_length):
    shape = tuple(model.input_shape)
    if len(shape) != 5:
        raise ValueError(
            "`model` must take clips `(batch, T, H, W, C)`. "
            f"Received: input_shape={shape}")
    length = shape[1]
    if clips is not None:
        length = clips.shape[1]
    elif length is None:
        length = clip_length
    if length is None:
        raise ValueError(
            "`clip_length` is needed when the model's clip length is "
            "dynamic and no `sample_clips` are given. Received: "
            "clip_length=None")
    full = (None, int(length)) + tuple(shape[2:])
    if clips is not None and tuple(clips.shape[1:]) != full[1:]:
        raise ValueError(
            f"`sample_clips` must have the shape (N, *{full[1:]}). "
            f"Received: sample_clips.shape={clips.shape}")
    return full


def _clips_array(name, clips):
    if clips is None:
        return None
    clips = np.asarray(clips, dtype="float32")
    if clips.ndim != 5 or len(clips) == 0:
        raise ValueError(
            f"`{name}` must be a non-empty float array (N, T, H, W, C). "
            f"Received: {name}.shape={clips.shape}")
    return clips


def _export_one(fmt, model, output_dir, context):
    """Writes one format and returns `(path, predict_fn, extra)`."""
    path = os.path.join(output_dir, FILE_NAMES[fmt])
    if fmt == "keras":
        import keras

        if context["class_names"] is not None:
            save_model_bundle(model, output_dir, context["class_names"],
                              context["input_shape"][2:4],
                              context["input_shape"][1],
                              context["preprocessing"])
        else:
            tmp = os.path.join(output_dir, f".tmp-{os.getpid()}-{MODEL_FILE}")
            model.save(tmp)
            os.replace(tmp, path)
        import deltasparse.models  # noqa: F401,I001  (registers the layers)

        loaded = keras.saving.load_model(path, compile=False)
        return path, keras_predict_fn(loaded), {}
    if fmt == "saved_model":
        write_saved_model(model, path, context["input_shape"])
        return path, _saved_model_fn(path), {}
    content, ops_set, builtins_error = convert_tflite(
        context["saved_model_dir"](), fmt, context["representative_clips"],
        context["int8_io"], context["representative_clips"][0])
    write_bytes_atomic(path, content)
    extra = {"ops_set": ops_set, "builtins_error": builtins_error,
             "flex_ops": flex_ops(path)}
    if fmt == "tflite_int8":
        names = [layer.name for layer in model._flatten_layers(
            include_self=False, recursive=True)]
        stays_float = float_ops(path, names)
        extra["float_ops"] = stays_float
        extra["float_layers"] = sorted({op["layer"] for op in stays_float})
    return path, TFLiteRunner(path), extra


def export_model(model, output_dir, formats=FORMATS, sample_clips=None,
                 representative_clips=None, tolerance=DEFAULT_TOLERANCE,
                 int8_tolerance=None, class_names=None, clip_length=None,
                 preprocessing=None, int8_io=False, seed=0, progress=True,
                 num_sample_clips=DEFAULT_SAMPLE_CLIPS, sample_source=None):
    """Exports `model` in several formats and checks each against it.

    Every format is written into `output_dir` (see `FILE_NAMES`), run on
    `sample_clips` and compared with the Keras model called in inference
    mode; the results go to `<output_dir>/export_report.json` (written
    atomically). A failing conversion is recorded in its format's `error`
    and does not stop the others.

    Args:
        model: a `keras.Model` taking `(batch, T, H, W, C)` clips, or a
            `ModelBundle` (then its class names, clip length and
            preprocessing are the defaults).
        output_dir: str, created if needed.
        formats: names from `FORMATS`. Defaults to all.
        sample_clips: float32 `(N, T, H, W, C)` preprocessed clips for the
            parity check. None: `num_sample_clips` random clips (frames
            uniform in [0, 255], then `preprocessing`), with a warning.
        representative_clips: float32 clips calibrating int8. Defaults to
            `sample_clips` (then the int8 check sees its calibration data).
        tolerance: float, the largest difference a float format may show.
            Defaults to 1e-4.
        int8_tolerance: float or None (`DEFAULT_INT8_TOLERANCE`, 0.1): the
            largest difference of the quantized formats (dynamic range and
            int8).
        class_names: list of str or None; with names, `"keras"` writes a
            model bundle (`model_info.json` too).
        clip_length: int, needed only when the model's T is dynamic and no
            clips are given.
        preprocessing: `"caffe"`, `"tf"` or None, for random clips and the
            bundle's info.
        int8_io: bool, int8 inputs and outputs for `"tflite_int8"`.
        seed: int, seed of the random clips.
        progress: bool, print one line per format.
        num_sample_clips: int, how many random clips. Defaults to 4.
        sample_source: str or None, where `sample_clips` come from, for
            the report (e.g. the data root). Defaults to `"given"`.

    Returns:
        An `ExportReport`.

    Raises:
        ValueError: for unknown formats, bad tolerances or clip shapes, or
            a Keras backend other than TensorFlow.

    Example:
    >>> model = VideoClassifier.from_preset(  # doctest: +SKIP
    ...     "mobilenet_delta", num_classes=3, image_size=(32, 32), alpha=0.25)
    >>> report = export_model(model, "export", clip_length=4)  # doctest: +SKIP
    >>> report.formats["tflite_float32"].passed  # doctest: +SKIP
    True
    """
    import keras
    import tensorflow as tf

    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            "`export_model` needs the TensorFlow backend (SavedModel and "
            "TFLite are TensorFlow formats): run with "
            "KERAS_BACKEND=tensorflow. "
            f"Received: backend={keras.backend.backend()!r}")
    if isinstance(model, ModelBundle):
        class_names = model.class_names if class_names is None else class_names
        clip_length = model.clip_length if clip_length is None else clip_length
        preprocessing = preprocessing or model.preprocessing
        model = model.model
    formats = check_formats(formats)
    tolerance = _check_tolerance("tolerance", tolerance)
    int8_tolerance = _check_tolerance(
        "int8_tolerance", DEFAULT_INT8_TOLERANCE if int8_tolerance is None
        else int8_tolerance)
    sample_clips = _clips_array("sample_clips", sample_clips)
    representative_clips = _clips_array("representative_clips",
                                        representative_clips)
    input_shape = _input_shape(model, sample_clips, clip_length)
    source = sample_source or "given"
    if sample_clips is None:
        source = "random"
        warnings.warn(
            "No `sample_clips` given: the parity check uses "
            f"{num_sample_clips} random clips, which say less than "
            "clips of the model's data.", stacklevel=2)
        sample_clips = _random_clips(
            (int(num_sample_clips),) + input_shape[1:], preprocessing, seed)
    if representative_clips is None:
        representative_clips = sample_clips
    if class_names is not None:
        class_names = [str(c) for c in class_names]
    output_dir = os.fspath(output_dir)
    os.makedirs(output_dir, exist_ok=True)

    scratch = []

    def saved_model_dir():
        path = os.path.join(output_dir, FILE_NAMES["saved_model"])
        if "saved_model" in formats and os.path.isdir(path):
            return path
        if not scratch:
            scratch.append(tempfile.mkdtemp(prefix="deltasparse-export-"))
            write_saved_model(model, os.path.join(scratch[0], "saved_model"),
                              input_shape)
        return os.path.join(scratch[0], "saved_model")

    context = {"class_names": class_names, "input_shape": input_shape,
               "preprocessing": preprocessing,
               "representative_clips": representative_clips,
               "int8_io": bool(int8_io), "saved_model_dir": saved_model_dir}
    reference = keras_predict_fn(model)
    results = {}
    try:
        for fmt in formats:
            start = time.perf_counter()
            quantized = fmt in QUANTIZED_FORMATS
            limit = int8_tolerance if quantized else tolerance
            result = FormatResult(format=fmt, tolerance=limit)
            try:
                path, predict, extra = _export_one(fmt, model, output_dir,
                                                   context)
                result.path = path
                result.size_bytes = int(_size(path))
                for key, value in extra.items():
                    setattr(result, key, value)
                parity = check_parity(reference, predict, sample_clips,
                                      batch_size=PARITY_BATCH_SIZE)
                result.max_abs_diff = parity.max_abs_diff
                result.mean_abs_diff = parity.mean_abs_diff
                result.top1_agreement = parity.top1_agreement
                result.passed = parity.max_abs_diff <= limit
                if quantized:
                    result.passed = result.passed and (
                        parity.top1_agreement >= INT8_MIN_TOP1_AGREEMENT)
            except Exception as error:  # noqa: BLE001 (recorded, not raised)
                result.error = _short_error(error)
                result.passed = False
            result.seconds = round(time.perf_counter() - start, 3)
            results[fmt] = result
            if progress:
                print(f"export: {fmt}: " + (
                    f"error {result.error.splitlines()[0]}" if result.error
                    else f"max abs diff {result.max_abs_diff:.3g}, "
                    f"top-1 agreement {result.top1_agreement:.3f}"),
                    flush=True)
    finally:
        for folder in scratch:
            shutil.rmtree(folder, ignore_errors=True)
    report = ExportReport(
        output_dir=output_dir, formats=results,
        input_shape=list(input_shape), num_sample_clips=int(len(sample_clips)),
        sample_source=source,
        num_representative_clips=int(len(representative_clips)),
        class_names=class_names,
        versions={"tensorflow": tf.__version__, "keras": keras.__version__},
        report_path=os.path.join(output_dir, REPORT_FILE))
    write_json_atomic(report.report_path, report.to_dict())
    return report


__all__ = [
    "DEFAULT_INT8_TOLERANCE",
    "DEFAULT_TOLERANCE",
    "ExportReport",
    "FILE_NAMES",
    "FLOAT_FORMATS",
    "FORMATS",
    "FormatResult",
    "INT8_MIN_TOP1_AGREEMENT",
    "QUANTIZED_FORMATS",
    "REPORT_FILE",
    "check_formats",
    "convert_tflite",
    "export_model",
    "keras_predict_fn",
    "write_saved_model",
]
