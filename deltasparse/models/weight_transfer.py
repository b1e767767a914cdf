"""Copy weights between models by layer name.

The time-distributed models of `deltasparse.models` keep the layer names of
`keras.applications.ResNet50` / `keras.applications.MobileNet` and share
their names across the baseline, L1 and delta variants (`conv2_block1_1_conv`,
`fc1024`, `conv_pw_3_bn`, ...). The original code moved weights between
these graphs by layer *index* (Keras-2 topological h5 loading, spec
`delta_activation.md` §5 and §10 item 11), which breaks as soon as a layer is
added; here they are matched by *name*:

- a 2-D `keras.applications` model (or any Keras model) -> a TD model;
- a weights file: a Keras-2/legacy `.h5` (the `keras.applications` ImageNet
  files, the original repo's checkpoints, `model.save("x.h5")`), a Keras 3
  `.weights.h5` or a `.keras` archive;
- baseline -> L1 -> delta, and between checkpoints of different variants.

Only layers that own weights are considered. `DeltaActivation` thresholds
are copied only from a layer of the same name that has them (another delta
model or checkpoint); from a baseline, L1 or `keras.applications` source
they are reported as skipped and keep `thr_init`. Nothing is ever
downloaded: `imagenet_weights_path` finds the Keras cache file or says what
to download.
"""

import dataclasses
import io
import os
import warnings
import zipfile

import h5py
import keras
import numpy as np

from deltasparse.layers.sparsity.delta_activation import DeltaActivation
from deltasparse.models.sparsity_slots import SparsityAccumulator

KERAS_APPLICATIONS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/"
)
_MOBILENET_ALPHAS = {0.25: "2_5", 0.5: "5_0", 0.75: "7_5", 1.0: "1_0"}
_MOBILENET_ROWS = (128, 160, 192, 224)


def _download_hint(path):
    base = os.path.basename(str(path))
    if base.startswith("resnet50_weights_tf_dim_ordering"):
        return (
            f"Download {KERAS_APPLICATIONS_URL}resnet/{base} on a machine "
            "with network (or run `keras.applications.ResNet50("
            "weights='imagenet')` there, which caches it in "
            "~/.keras/models/) and copy it to this path."
        )
    if base.startswith("mobilenet_") and base.endswith(".h5"):
        return (
            f"Download {KERAS_APPLICATIONS_URL}mobilenet/{base} on a machine "
            "with network (or run `keras.applications.MobileNet("
            "weights='imagenet')` there, which caches it in "
            "~/.keras/models/) and copy it to this path."
        )
    return (
        "ImageNet weights of the 2-D backbones come from "
        f"{KERAS_APPLICATIONS_URL}resnet/"
        "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5 and "
        f"{KERAS_APPLICATIONS_URL}mobilenet/mobilenet_1_0_224_tf_no_top.h5 "
        "(see `imagenet_weights_path`); fine-tuned checkpoints come from a "
        "training run (`model.save_weights(...)`). Nothing is downloaded at "
        "run time."
    )


def _keras_cache_dirs(cache_dir):
    if cache_dir is not None:
        return [str(cache_dir)]
    home = os.environ.get("KERAS_HOME") or os.path.join(
        os.path.expanduser("~"), ".keras"
    )
    dirs = [os.path.join(home, "models")]
    tmp = os.path.join("/tmp", ".keras", "models")
    if tmp not in dirs:
        dirs.append(tmp)
    return dirs


def imagenet_weights_path(
    architecture, alpha=1.0, rows=224, include_top=False, cache_dir=None
):
    """Finds a cached `keras.applications` ImageNet weights file, no download.

    Args:
        architecture: `'resnet50'` or `'mobilenet'`.
        alpha: float, MobileNet width (0.25, 0.5, 0.75 or 1.0). Defaults to
            `1.0`.
        rows: int, MobileNet training resolution (128, 160, 192 or 224).
            Defaults to `224`.
        include_top: bool, the file with the ImageNet classifier. Defaults to
            `False` (the `_notop` / `_no_top` file).
        cache_dir: directory to look in. Defaults to `None`:
            `$KERAS_HOME/models` (`~/.keras/models`), then
            `/tmp/.keras/models`, where Keras caches downloads.

    Returns:
        str, the path of the file.

    Raises:
        ValueError: unknown architecture, alpha or rows.
        FileNotFoundError: the file is not cached; the message gives the URL
            to download on a machine with network and where to put it.

    Example:
    >>> path = imagenet_weights_path("resnet50")  # doctest: +SKIP
    >>> from deltasparse.models import VideoClassifier
    >>> report = transfer_weights(path, VideoClassifier.from_preset(
    ...     "resnet50_delta", num_classes=101))  # doctest: +SKIP
    """
    if architecture == "resnet50":
        suffix = "" if include_top else "_notop"
        fname = f"resnet50_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
        url = f"{KERAS_APPLICATIONS_URL}resnet/{fname}"
        call = "keras.applications.ResNet50(weights='imagenet'"
    elif architecture == "mobilenet":
        if alpha not in _MOBILENET_ALPHAS:
            raise ValueError(
                "`alpha` must be one of 0.25, 0.5, 0.75, 1.0 for ImageNet "
                f"MobileNet weights. Received: alpha={alpha!r}"
            )
        if rows not in _MOBILENET_ROWS:
            raise ValueError(
                f"`rows` must be one of {_MOBILENET_ROWS} for ImageNet "
                f"MobileNet weights. Received: rows={rows!r}"
            )
        suffix = "" if include_top else "_no_top"
        fname = f"mobilenet_{_MOBILENET_ALPHAS[alpha]}_{rows}_tf{suffix}.h5"
        url = f"{KERAS_APPLICATIONS_URL}mobilenet/{fname}"
        call = (
            f"keras.applications.MobileNet(weights='imagenet', alpha={alpha}, "
            f"input_shape=({rows}, {rows}, 3)"
        )
    else:
        raise ValueError(
            "`architecture` must be 'resnet50' or 'mobilenet'. "
            f"Received: architecture={architecture!r}"
        )
    dirs = _keras_cache_dirs(cache_dir)
    for d in dirs:
        path = os.path.join(d, fname)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        f"ImageNet weights file {fname!r} not found in {dirs}. Download "
        f"{url} on a machine with network (e.g. `curl -L -o {fname} {url}`, "
        f"or `python -c \"import keras; {call}, "
        f"include_top={include_top})\"`, which caches it in "
        f"~/.keras/models/) and copy it to {dirs[0]}. deltasparse never "
        "downloads."
    )


# === Reading weights ===


def _legacy_h5_weights(group):
    names = [
        n.decode("utf8") if isinstance(n, bytes) else str(n)
        for n in group.attrs["layer_names"]
    ]
    weights = {}
    for name in names:
        g = group[name]
        wnames = [
            n.decode("utf8") if isinstance(n, bytes) else str(n)
            for n in g.attrs.get("weight_names", [])
        ]
        weights[name] = [np.asarray(g[w]) for w in wnames]
    return weights


def _keras3_h5_weights(f, path):
    weights = {}
    unnamed = []

    def visit(name, obj):
        parts = name.split("/")
        if (
            not isinstance(obj, h5py.Group)
            or parts[-1] != "vars"
            or len(parts) < 3
            or parts[-3] != "layers"
        ):
            return
        layer_name = obj.attrs.get("name")
        if layer_name is None:
            if len(obj.keys()):
                unnamed.append(name)
            return
        if isinstance(layer_name, bytes):
            layer_name = layer_name.decode("utf8")
        keys = sorted(obj.keys(), key=int)
        weights[str(layer_name)] = [np.asarray(obj[k]) for k in keys]

    f.visititems(visit)
    if unnamed:
        raise ValueError(
            "This Keras 3 weights file does not record layer names (written "
            "by a Keras version older than 3.x with name attributes), so it "
            "cannot be matched by name. Build the source model, call "
            "`source.load_weights(path)` and pass the model instead. "
            f"Received: path={path!r}"
        )
    return weights


def _read_h5(f, path):
    if "layer_names" in f.attrs:
        return _legacy_h5_weights(f)
    if "model_weights" in f and "layer_names" in f["model_weights"].attrs:
        return _legacy_h5_weights(f["model_weights"])
    if "layers" in f:
        return _keras3_h5_weights(f, path)
    raise ValueError(
        "Unrecognised HDF5 weights layout: expected a Keras-2/legacy file "
        "(`layer_names` attribute) or a Keras 3 `.weights.h5` (`layers` "
        f"group). Received: path={path!r}"
    )


def read_weights(path):
    """Reads the weights of every layer of a weights file, by layer name.

    Supported: Keras-2 / legacy `.h5` and `.hdf5` (the `keras.applications`
    ImageNet files, the original repo's checkpoints, `model.save("x.h5")`),
    Keras 3 `.weights.h5`, and `.keras` archives.

    Args:
        path: str or path-like, the file.

    Returns:
        dict `layer name -> list of NumPy arrays` (in `layer.get_weights()`
        order); layers without weights map to `[]` where the file lists them.

    Raises:
        FileNotFoundError: the file does not exist (the message says what to
            download).
        ValueError: the format is not recognised.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"Weights file not found. {_download_hint(path)} "
            f"Received: path={path!r}"
        )
    if path.endswith(".keras"):
        with zipfile.ZipFile(path) as archive:
            if "model.weights.h5" not in archive.namelist():
                raise ValueError(
                    "The `.keras` archive has no `model.weights.h5`. "
                    f"Received: path={path!r}"
                )
            data = io.BytesIO(archive.read("model.weights.h5"))
        with h5py.File(data, "r") as f:
            return _read_h5(f, path)
    if not h5py.is_hdf5(path):
        raise ValueError(
            "Weights must be an HDF5 file (`.h5`, `.hdf5`, `.weights.h5`) or "
            f"a `.keras` archive. Received: path={path!r}"
        )
    with h5py.File(path, "r") as f:
        return _read_h5(f, path)


def _leaf_layers(model):
    """All non-model layers of `model`, nested models flattened."""
    leaves = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            leaves.extend(_leaf_layers(layer))
        else:
            leaves.append(layer)
    return leaves


def _transferable(layer):
    """The learned variables of `layer`: all but sparsity totals (the
    run-time sums of `SparsityAccumulator` and of `show_metric` layers,
    which are state of a run, not weights)."""
    if isinstance(layer, SparsityAccumulator):
        return []
    totals = getattr(layer, "sparsity_totals", None)
    skip = set() if totals is None else {id(v) for v in totals.variables}
    return [v for v in layer.weights if id(v) not in skip]


def _model_weights(model):
    """`name -> (layer, weights)` for every leaf layer of `model`."""
    return {
        layer.name: (
            layer, [keras.ops.convert_to_numpy(v) for v in _transferable(layer)]
        )
        for layer in _leaf_layers(model)
    }


# === Transfer ===


@dataclasses.dataclass
class TransferReport:
    """Outcome of `transfer_weights`, one list per category of layer names.

    Attributes:
        source: str, description of the source (model name or path).
        target: str, target model name.
        matched: layers whose weights were copied.
        mismatched: `(name, detail)` pairs: same name, different number or
            shapes of weights; left untouched.
        skipped_no_weights: target layers whose same-named source layer has
            no weights (e.g. a `DeltaActivation` threshold when the source
            is an L1 or baseline model); left untouched.
        skipped_absent: target layers with weights that the source lacks
            (e.g. `fc1024` from a `keras.applications` backbone, or the
            thresholds from a 2-D model); left untouched.
        excluded: target layers skipped because of `exclude`.
        unused: source layers with weights that the target lacks.
    """

    source: str
    target: str
    matched: list = dataclasses.field(default_factory=list)
    mismatched: list = dataclasses.field(default_factory=list)
    skipped_no_weights: list = dataclasses.field(default_factory=list)
    skipped_absent: list = dataclasses.field(default_factory=list)
    excluded: list = dataclasses.field(default_factory=list)
    unused: list = dataclasses.field(default_factory=list)

    def summary(self, max_names=12):
        """Human-readable report.

        Args:
            max_names: int, how many names to list per category.

        Returns:
            str, one header line plus one line per non-empty category.
        """

        def names(items):
            items = [i if isinstance(i, str) else i[0] for i in items]
            shown = ", ".join(items[:max_names])
            more = len(items) - max_names
            return shown + (f", ... (+{more})" if more > 0 else "")

        lines = [
            f"Weight transfer {self.source} -> {self.target}: "
            f"{len(self.matched)} matched, {len(self.mismatched)} mismatched, "
            f"{len(self.skipped_no_weights)} skipped (no weights in source), "
            f"{len(self.skipped_absent)} skipped (absent from source), "
            f"{len(self.excluded)} excluded, {len(self.unused)} unused in "
            "source."
        ]
        for name, detail in self.mismatched:
            lines.append(f"  mismatched {name}: {detail}")
        for label, items in (
            ("skipped (no weights in source)", self.skipped_no_weights),
            ("skipped (absent from source)", self.skipped_absent),
            ("excluded", self.excluded),
            ("unused in source", self.unused),
        ):
            if items:
                lines.append(f"  {label}: {names(items)}")
        return "\n".join(lines)

    def __str__(self):
        return self.summary()


def _shapes(arrays):
    return [tuple(np.shape(a)) for a in arrays]


def transfer_weights(source, target, exclude=None, name_map=None,
                     strict=False, verbose=False):
    """Copies weights from `source` into `target`, layer by layer, by name.

    For every layer of `target` that owns weights (nested models are
    flattened): if `source` has a layer of the same name with the same number
    of weights and the same shapes, its weights are copied (`matched`);
    otherwise the target layer is left as it is and reported as `mismatched`,
    `skipped_no_weights` or `skipped_absent`. `DeltaActivation` thresholds
    are copied only from a `DeltaActivation` of the same name (for a file
    source: from a same-named layer that has weights), so from a 2-D,
    baseline or L1 source they keep `thr_init`.

    Args:
        source: a Keras model (e.g. `keras.applications.ResNet50(weights=None,
            include_top=False)`, a baseline or L1 TD model) or a path to a
            weights file (see `read_weights`).
        target: the Keras model to fill.
        exclude: optional iterable of target layer names, or a callable
            `layer -> bool`, for layers to leave untouched (e.g.
            `lambda l: isinstance(l, DeltaActivation)` to keep `thr_init`
            when copying from another delta model). Defaults to `None`.
        name_map: optional dict `target layer name -> source layer name`
            for layers named differently in the source, e.g.
            `{"fc101": "predictions"}` for a 2-D model whose classifier has
            the `keras.applications` name. Reports use target names.
            Defaults to `None`.
        strict: bool, raise `ValueError` (before copying anything) if any
            layer is mismatched. Defaults to `False`.
        verbose: bool, print the report. Defaults to `False`.

    Returns:
        `TransferReport`.

    Raises:
        FileNotFoundError: `source` is a path that does not exist.
        ValueError: `strict=True` and some layers are mismatched, or a bad
            argument.

    Example:
    >>> from deltasparse.models import VideoClassifier
    >>> base = keras.applications.MobileNet(
    ...     weights=None, include_top=False, input_shape=(32, 32, 3))
    >>> model = VideoClassifier.from_preset(
    ...     "mobilenet_delta", num_classes=101, image_size=(32, 32))
    >>> report = transfer_weights(base, model)
    >>> len(report.matched), len(report.skipped_absent)
    (54, 28)
    """
    if isinstance(source, keras.Model):
        src = _model_weights(source)
        src_desc = f"model {source.name!r}"
    elif isinstance(source, (str, os.PathLike)):
        src = {
            name: (None, arrays)
            for name, arrays in read_weights(source).items()
        }
        src_desc = repr(os.fspath(source))
    else:
        raise ValueError(
            "`source` must be a Keras model or a path to a weights file. "
            f"Received: source={type(source).__name__}"
        )
    if not isinstance(target, keras.Model):
        raise ValueError(
            "`target` must be a Keras model. "
            f"Received: target={type(target).__name__}"
        )
    if exclude is None:
        is_excluded = lambda layer: False  # noqa: E731
    elif callable(exclude):
        is_excluded = exclude
    elif isinstance(exclude, str):
        raise ValueError(
            "`exclude` must be an iterable of layer names or a callable, not "
            f"a single string. Received: exclude={exclude!r}"
        )
    else:
        excluded_names = set(exclude)
        is_excluded = lambda layer: layer.name in excluded_names  # noqa: E731

    if name_map is None:
        name_map = {}
    elif not isinstance(name_map, dict):
        raise ValueError(
            "`name_map` must be a dict `target name -> source name`. "
            f"Received: name_map={name_map!r}"
        )

    report = TransferReport(source=src_desc, target=repr(target.name))
    copies = []
    looked_up = set()
    for layer in _leaf_layers(target):
        src_name = name_map.get(layer.name, layer.name)
        looked_up.add(src_name)
        variables = _transferable(layer)
        if not variables:
            continue
        if is_excluded(layer):
            report.excluded.append(layer.name)
            continue
        if src_name not in src:
            report.skipped_absent.append(layer.name)
            continue
        src_layer, arrays = src[src_name]
        threshold_from_non_dal = (
            isinstance(layer, DeltaActivation)
            and src_layer is not None
            and not isinstance(src_layer, DeltaActivation)
        )
        if not arrays or threshold_from_non_dal:
            report.skipped_no_weights.append(layer.name)
            continue
        want = _shapes(variables)
        got = _shapes(arrays)
        if want != got:
            report.mismatched.append(
                (layer.name, f"target shapes {want}, source shapes {got}")
            )
            continue
        copies.append((variables, arrays))
        report.matched.append(layer.name)
    report.unused = [
        name
        for name, (_, arrays) in src.items()
        if arrays and name not in looked_up
    ]
    if strict and report.mismatched:
        raise ValueError(
            "Some layers have the same name but different weight shapes "
            "(`strict=True`); nothing was copied.\n"
            f"{report.summary()}\nReceived: strict=True"
        )
    for variables, arrays in copies:
        for variable, value in zip(variables, arrays):
            variable.assign(value)
    if not report.matched:
        warnings.warn(
            f"No layer of {report.target} matched a layer of {src_desc} by "
            "name; no weights were copied.",
            stacklevel=2,
        )
    if verbose:
        print(report.summary())
    return report
