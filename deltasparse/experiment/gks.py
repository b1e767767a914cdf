"""Run protocols of the group k-sparse temporal CNN experiments (spec §6).

The four Sacred scripts `experiments/mnistrotated.py`, `cifar10scanned.py`,
`coil100.py` and `necanimal.py` hold only their configuration; the work is
done here, so that the four stay thin and share one tested implementation:

- `load_dataset(name, _data)`: the dataset of a script, built from its
  `_data` config (`deltasparse.data`), after `check_available` made sure
  its files exist (otherwise one clear `DataNotFoundError`).
- `algorithm_config(_algo)`: the validated protocol config of
  `deltasparse.models.temporal_autoencoder.temporal_autoencoder.TemporalAutoencoder`.
- `prepare_run(...)`: device selection, memory growth and seeding.
- `train_test_protocol` (Rotated MNIST, Scanned CIFAR-10; spec §6.2, §6.3),
  `coil100_protocol` (§6.4) and `necanimal_protocol` (§6.5) run the
  pre-training and the classification rounds.

What a run records (all in the run's own folder, `run_directory(_run)`):

- per-epoch `log_scalar` of every Keras metric: `pretrain.loss`,
  `nl300.stacked.loss`, `nl300.stacked.val_accuracy`,
  `nl300.endtoend.val_loss`, ...; the final evaluations as
  `result.stacked.test_accuracy` etc. with the labelled-set size as step,
  and the autoencoder losses as `pretrain.eval.*`;
- `_run.result`: the original's nested list, `[AE losses]` followed by one
  `[[loss, acc] train-labelled, [loss, acc] val-labelled, [loss, acc]
  test]` entry per labelled-set size and stage (stacked, end-to-end, ...);
- `_run.info["result_table"]`: one row per labelled-set size and stage
  (`num_labeled`, `stage`, `epochs`, `train_loss`, `train_accuracy`,
  `val_loss`, `val_accuracy`, `test_loss`, `test_accuracy`), also written
  as the artifact `result_table.csv`; `_run.info["data"]` (data source,
  shapes; NEC Animal runs add `["coil100"]`), `["num_labeled"]` (the sizes
  actually used), `["timings"]` (seconds per stage), `["autoencoder_loss"]`;
- artifacts: `decoder_weights.png`, the reconstruction mosaics
  (`videos_train.png`, `videos_test.png`, `videos_necanimal.png`,
  `videos_coil100.png`), `autoencoder.weights.h5`,
  `supervised_True.weights.h5` and `supervised_False.weights.h5` (those of
  the last labelled-set size) and `result_table.csv`.

Differences from the original scripts (spec §6.1, §6.6), all deliberate:

- Files go into the Sacred run folder, not next to it, and are registered
  as artifacts; metrics are logged (the original only returned the list).
- TensorFlow randomness is seeded too (`set_global_seed`); the original's
  `clear_session()` left it unseeded.
- With `_algo["carry_over"] = False` (Rotated MNIST / Scanned CIFAR-10) each
  labelled-set size starts from a fresh classifier head and fresh
  optimizers; end-to-end training still starts from the best stacked head,
  with a fresh SGD, as in every dataset of the original. `True` (the
  default) is the original's state carry-over (§6.2).
- When Rotated MNIST falls back to scikit-learn's digits (no MNIST file),
  the labelled-set sizes that do not fit the ~1.5k training videos are
  dropped and `round(0.9 * N)` (the analogue of 54000 of 60000) is used
  instead; the sizes used are in `_run.info["num_labeled"]`.
- The weight files are Keras 3 `.weights.h5` files (see
  `TemporalAutoencoder`).
"""

import csv
import logging
import os
import time

import numpy as np

from deltasparse.data.datasets.video_arrays import validation_end
from deltasparse.experiment.errors import ConfigurationError
from deltasparse.experiment.errors import DataNotFoundError
from deltasparse.experiment.runtime import configure_devices
from deltasparse.experiment.runtime import set_global_seed
from deltasparse.experiment.sacred_utils import SacredMetricsLogger
from deltasparse.experiment.sacred_utils import run_directory
from deltasparse.models.temporal_autoencoder import components
from deltasparse.models.temporal_autoencoder.temporal_autoencoder import MODES
from deltasparse.models.temporal_autoencoder.temporal_autoencoder import TemporalAutoencoder
from deltasparse.models.temporal_autoencoder.temporal_autoencoder import validate_config

logger = logging.getLogger(__name__)

DATASETS = ("mnistrotated", "cifar10scanned", "coil100", "necanimal")
"""Names of the four experiments (and of their scripts in `experiments/`)."""

STAGES = ("stacked", "endtoend")
"""Classification stages, in the order they run for each labelled-set size."""

RESULT_COLUMNS = (
    "num_labeled", "stage", "epochs", "train_loss", "train_accuracy",
    "val_loss", "val_accuracy", "test_loss", "test_accuracy",
)
"""Columns of `_run.info["result_table"]` and `result_table.csv`."""

DEFAULT_PLOT = {"n_videos": 8, "figsize": (30, 90), "dpi": 160}
"""Reconstruction plots of the original: 8 videos, figure 30x90 in, 160 dpi."""

_DATA_PREPARE_HINT = {
    "cifar10scanned": "set `_data.path` to the CIFAR-10 folder or archive",
    "coil100": "set `_data.path` to the unzipped coil-100 folder",
    "necanimal": ("set `_data.path` to the animalclean folder and "
                  "`_data.coil_path` to the coil-100 folder"),
    "mnistrotated": "set `_data.path` to an mnist.npz",
}


# --------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------


def add_algorithm_configs(ex, groups, vgg19_algo=None):
    """Registers the named configs shared by the four experiment scripts.

    One named config per algorithm (`wtacnn`, `wtacrnn`, `groupwtacnn`,
    `groupwtacrnn`, `slowgroupwtacnn`, `randominitcnn`, `randominitcrnn`,
    `denoisingcnn`, `denoisingcrnn`, `vgg19`) with the spec's settings
    (global-norm clipping 1.0 for wtacrnn, groupwtacrnn and randominitcrnn;
    `groups` for the group modes; ImageNet input for vgg19), plus the two
    ablations `nospatial` (k_spatial = H * W) and `nolifetime`
    (k_lifetime = batch_size * T), which the scripts' config turns into k
    values from their own shapes.

    Args:
        ex: the `sacred.Experiment`.
        groups: channel groups of the group modes for this dataset (the
            paper keeps 4 channels per group: 16, 64 or 32).
        vgg19_algo: extra `_algo` entries of the vgg19 config (e.g.
            `{"shape4": 3}` for grayscale MNIST). Defaults to none.
    """
    algos = {
        "wtacnn": {},
        "wtacrnn": {"clipnorm": 1.0},
        "groupwtacnn": {"groups": groups},
        "groupwtacrnn": {"groups": groups, "clipnorm": 1.0},
        "slowgroupwtacnn": {"groups": groups, "l1_slow": 1e-4},
        "randominitcnn": {},
        "randominitcrnn": {"clipnorm": 1.0},
        "denoisingcnn": {},
        "denoisingcrnn": {},  # clipnorm stays 0 in the paper config
    }
    for mode, extra in algos.items():
        ex.add_named_config(mode, {"_algo": {"mode": mode, **extra}})
    ex.add_named_config("vgg19", {
        "_data": {"zca_epsilon": None, "imagenet_preprocessing": True},
        "_algo": {"mode": "vgg19", "shape2": 32, "shape3": 32,
                  **(vgg19_algo or {})},
    })
    ex.add_named_config("nospatial", {"spatial_sparsity": False})
    ex.add_named_config("nolifetime", {"lifetime_sparsity": False})


def algorithm_config(_algo, vgg19_weights=None, **overrides):
    """Validates an experiment's `_algo` and returns the protocol config.

    Args:
        _algo: mapping with the original `_algo` keys (plus `mode`, set by the
            algorithm's named config, and optionally `carry_over`,
            `run_eagerly`, `jit_compile`).
        vgg19_weights: path of the ImageNet VGG19 weights (mode vgg19 only).
            Defaults to `None`.
        **overrides: keys replaced after validation of `_algo` (e.g.
            `shape1=8`).

    Returns:
        The full config dict of `validate_config`.

    Raises:
        ConfigurationError: when no algorithm was chosen, `groups` does not
            divide `filters`, or another key is invalid.
        DataNotFoundError: for mode vgg19 without an existing weights file.

    Example:
    >>> cfg = algorithm_config({"mode": "wtacnn", "shape1": 4, "shape2": 8,
    ...     "shape3": 8, "shape4": 1, "classes": 10, "filters": 8,
    ...     "filter_size_enc": 3, "filter_size_dec": 5})
    >>> cfg["clipnorm"]
    0.0
    """
    config = dict(_algo)
    mode = config.get("mode")
    if mode is None:
        raise ConfigurationError(
            "Choose an algorithm with its named config, e.g. `python "
            "experiments/<dataset>.py with groupwtacrnn`; one of "
            f"{', '.join(MODES)}. Received: _algo.mode=None"
        )
    if mode not in MODES:
        raise ConfigurationError(
            f"`_algo.mode` must be one of {', '.join(MODES)}. "
            f"Received: _algo.mode={mode!r}"
        )
    spec = components.get_algorithm(mode)
    groups, filters = config.get("groups"), config.get("filters")
    if (spec.sparsity in ("group_ksparse", "slow_group_ksparse")
            and isinstance(groups, int) and isinstance(filters, int)
            and (groups < 1 or filters % groups)):
        raise ConfigurationError(
            f"`_algo.groups` must divide `_algo.filters`={filters}. Named "
            "configs are applied left to right, so put size changes after "
            "the algorithm (`with groupwtacrnn quick`, not `with quick "
            f"groupwtacrnn`). Received: _algo.groups={groups}"
        )
    if vgg19_weights is not None:
        config["vgg19_weights"] = vgg19_weights
    config.update(overrides)
    try:
        config = validate_config(config)
    except ValueError as err:
        raise ConfigurationError(str(err)) from None
    if spec.encoder == "vgg19":
        try:
            components.check_vgg19_weights(config["vgg19_weights"])
        except FileNotFoundError as err:
            raise DataNotFoundError(
                f"{err} (config key `vgg19_weights`)") from None
    return config


def prepare_run(gpus=None, memory_growth=True, seed=None):
    """Selects devices, turns on memory growth and seeds every RNG.

    Args:
        gpus: GPU selection, see `configure_devices`. Defaults to all.
        memory_growth: bool. Defaults to `True`.
        seed: int seed for Python, NumPy and Keras, or `None` to skip.

    Returns:
        List of the visible GPU names.
    """
    names = configure_devices(gpus, memory_growth)
    if seed is not None:
        set_global_seed(seed)
    return names


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------


def global_random_state():
    """numpy's global `RandomState` (the one `np.random.seed` seeds).

    The datasets draw from numpy's global RNG, as the original; passing the
    global `RandomState` object explicitly gives the same numbers.

    Returns:
        `np.random.RandomState`.
    """
    return np.random.mtrand._rand


def _get(mapping, key, default=None):
    value = mapping.get(key, default)
    return default if value is None and default is not None else value


def check_available(name, _data):
    """Cheaply checks that a dataset's files exist, before loading anything.

    Args:
        name: one of `DATASETS`.
        _data: mapping, the `_data` config (`path`).

    Raises:
        DataNotFoundError: with what to download and which key to set.
    """
    from deltasparse.data.datasets import cifar10_scanned
    from deltasparse.data.datasets import coil100
    from deltasparse.data.datasets import nec_animal

    path = _data.get("path")
    if name == "mnistrotated":
        if path is not None and not os.path.isfile(os.path.expanduser(path)):
            raise DataNotFoundError(
                "MNIST file not found: set `_data.path` to a Keras "
                "mnist.npz, or to None to use the Keras cache (or the "
                f"scikit-learn fallback). Received: _data.path={path!r}")
    elif name == "cifar10scanned":
        try:
            cifar10_scanned.cifar10_source_path(path)
        except FileNotFoundError as err:
            raise DataNotFoundError(
                f"{err} (config key `_data.path`)") from None
    elif name == "coil100":
        path = os.path.expanduser(path or "datasets/coil-100")
        if not os.path.isfile(coil100.coil100_frame_path(path, 1, 0)):
            raise DataNotFoundError(
                f"COIL-100 not found: {path}/obj1__0.png does not exist. "
                f"Download coil-100.zip from {coil100.COIL100_URL}, unzip "
                "it and set `_data.path` (necanimal: `_data.coil_path`) to "
                f"the folder holding obj1__0.png. Received: path={path!r}")
    elif name == "necanimal":
        path = os.path.expanduser(path or "datasets/animalclean")
        seq = os.path.join(path, nec_animal.SEQUENCE_FILE)
        if not os.path.isfile(seq):
            raise DataNotFoundError(
                f"NEC Animal not found: {seq} does not exist. Get the NEC "
                "Animal data set ('animalclean', Mobahi et al., ICML 2009) "
                "and set `_data.path` to the folder holding "
                "seq_ref_clean.txt and img_clean/. Received: "
                f"_data.path={path!r}")
    else:
        raise ConfigurationError(
            f"`name` must be one of {DATASETS}. Received: name={name!r}")


def load_dataset(name, _data, log=None, run=None, info_key="data"):
    """Builds the dataset of one experiment from its `_data` config.

    - `mnistrotated`: `MNISTRotatedDataset` (keys `rotations`, `size`,
      `zca_epsilon`, `imagenet_preprocessing`, `dtype`, `path`, `fallback`,
      `n_train`, `n_test`); falls back to scikit-learn's digits when no
      MNIST file exists and `fallback` is true (logged, `source` says so).
    - `cifar10scanned`: `CIFAR10ScannedDataset` (`stride`, `size`,
      `zca_epsilon`, `imagenet_preprocessing`, `dtype`, `path`, `n_train`,
      `n_test`).
    - `coil100`: `COIL100Dataset` (`path`, `size`, `zca_epsilon`,
      `imagenet_preprocessing`, `dtype`, `n_objects`).
    - `necanimal`: `NECAnimalDataset` (`path`, `size`, `zca_epsilon`,
      `pad_value`, `length`, `imagenet_preprocessing`, `dtype`, `n_videos`,
      `last_end`). The COIL-100 data of the transfer experiment come from
      `load_dataset("coil100", ...)` with `path=_data["coil_path"]`.

    Randomness (MNIST phases, labelled subsets) comes from numpy's global
    RNG, as in the original; seed it first (`prepare_run`).

    Args:
        name: one of `DATASETS`.
        _data: mapping, the experiment's `_data` config.
        log: logger for the fallback notice. Defaults to this module's.
        run: Sacred run; if given, `data.info` goes to
            `run.info[info_key]` and the load time to
            `run.info["timings"]["load_<info_key>"]`. Defaults to `None`.
        info_key: str. Defaults to `"data"`.

    Returns:
        The dataset object (with an `info` dict).

    Raises:
        DataNotFoundError: if the data files are missing.
        ConfigurationError: for an unknown `name`.
    """
    from deltasparse.data.datasets import cifar10_scanned
    from deltasparse.data.datasets import coil100
    from deltasparse.data.datasets import mnist_rotated
    from deltasparse.data.datasets import nec_animal

    log = log or logger
    start = time.time()
    d = dict(_data)
    check_available(name, d)
    common = {
        "zca_epsilon": d.get("zca_epsilon"),
        "imagenet_preprocessing": bool(d.get("imagenet_preprocessing")),
        "dtype": _get(d, "dtype", "float32"),
    }
    try:
        if name == "mnistrotated":
            data = mnist_rotated.MNISTRotatedDataset(
                clip_length=_get(d, "rotations", 36), size=_get(d, "size", 14),
                n_train=d.get("n_train"), n_test=d.get("n_test"),
                path=d.get("path"), fallback=bool(d.get("fallback", True)),
                rng=global_random_state(), **common)
            if data.source == mnist_rotated.SOURCE_FALLBACK:
                log.warning(
                    "MNIST not found: using scikit-learn's digits "
                    "(source=%s, %d training videos); results are not "
                    "comparable with the paper.", data.source,
                    len(data.X_train))
        elif name == "cifar10scanned":
            data = cifar10_scanned.CIFAR10ScannedDataset(
                stride=_get(d, "stride", 8), size=_get(d, "size", 16),
                n_train=d.get("n_train"), n_test=d.get("n_test"),
                path=d.get("path"), rng=global_random_state(), **common)
        elif name == "coil100":
            data = coil100.COIL100Dataset(
                path=_get(d, "path", "datasets/coil-100"),
                size=_get(d, "size", 32), n_objects=d.get("n_objects"),
                **common)
        elif name == "necanimal":
            data = nec_animal.NECAnimalDataset(
                path=_get(d, "path", "datasets/animalclean"),
                size=_get(d, "size", 32),
                pad_value=_get(d, "pad_value", -1),
                clip_length=d.get("length"), n_videos=d.get("n_videos"),
                last_end=d.get("last_end", nec_animal.LAST_END), **common)
    except FileNotFoundError as err:
        if isinstance(err, DataNotFoundError):
            raise
        hint = _DATA_PREPARE_HINT.get(name, "")
        raise DataNotFoundError(f"{err} ({hint})" if hint else str(err)) \
            from None
    if run is not None:
        record_data_info(run, info_key, data, start)
    return data


def usable_num_labeled(num_labeled, data, log=None):
    """The labelled-set sizes that fit the training set.

    For Rotated MNIST on the scikit-learn fallback, sizes whose validation
    split would run past the data are dropped and `round(0.9 * N)` is added
    (the analogue of the paper's 54000 of 60000). For real data every size
    must fit: a size that does not raises before any training starts.

    Args:
        num_labeled: list of ints.
        data: a train/test dataset (`X_train`, `num_classes`, `source`).
        log: logger. Defaults to this module's.

    Returns:
        List of ints.

    Raises:
        ConfigurationError: if a size does not fit real data or is too
            small for every class to occur in the validation split.
    """
    log = log or logger
    sizes = [int(n) for n in num_labeled]
    n_total = len(data.X_train)
    fits = [n for n in sizes if validation_end(n) <= n_total]
    if data.source == "sklearn_digits_fallback" and fits != sizes:
        full = int(round(0.9 * n_total))
        if full not in fits:
            fits.append(full)
        log.warning("Labelled-set sizes trimmed to the %d fallback training "
                    "videos: %s -> %s", n_total, sizes, fits)
        sizes = fits
    for n in sizes:
        end = validation_end(n)
        if end > n_total:
            raise ConfigurationError(
                f"`_data.num_labeled` entry {n} needs round(1.1111 * {n}) = "
                f"{end} training videos but there are {n_total} (see "
                f"`_data.n_train`). Received: _data.num_labeled={sizes}")
        if n < data.num_classes or end - n < data.num_classes:
            raise ConfigurationError(
                f"`_data.num_labeled` entry {n} is too small: both the "
                f"training split and the validation split of "
                f"round(1.1111 * n) - n = {end - n} videos must hold all "
                f"{data.num_classes} classes. Received: "
                f"_data.num_labeled={sizes}")
    return sizes


def check_classes(num_classes, config):
    """Checks that `_algo.classes` equals the data's number of classes.

    Raises:
        ConfigurationError: if they differ.
    """
    if int(num_classes) != int(config["classes"]):
        raise ConfigurationError(
            f"The data have {num_classes} classes but `_algo.classes`="
            f"{config['classes']}; set `_algo.classes={num_classes}`. "
            f"Received: _algo.classes={config['classes']}")


def check_frame_shape(x, config, what="videos"):
    """Checks that videos match `shape1` (T) and `shape2..shape4` of a config.

    Args:
        x: array `(N, T, H, W, C)`.
        config: protocol config (`shape1` `None` accepts any T).
        what: name used in the message. Defaults to `"videos"`.

    Raises:
        ConfigurationError: if the frame shape or the length differs.
    """
    expected = (config["shape2"], config["shape3"], config["shape4"])
    if tuple(x.shape[2:]) != expected:
        raise ConfigurationError(
            f"The {what} have frames of shape {tuple(x.shape[2:])} but "
            f"`_algo` shape2..shape4 = {expected}; set them to the frame "
            "shape (`_data.size`, channels). "
            f"Received: x.shape={tuple(x.shape)}")
    if config["shape1"] is not None and x.shape[1] != config["shape1"]:
        raise ConfigurationError(
            f"The {what} have {x.shape[1]} frames but `_algo.shape1`="
            f"{config['shape1']}; set `_algo.shape1={x.shape[1]}`. "
            f"Received: x.shape={tuple(x.shape)}")


# --------------------------------------------------------------------------
# Protocol pieces
# --------------------------------------------------------------------------


class _Recorder:
    """Collects results, timings and files of one run and reports them."""

    def __init__(self, run, log, plot=None, verbose=2):
        self.run = run
        self.log = log or logger
        self.dir = run_directory(run)
        os.makedirs(self.dir, exist_ok=True)
        self.plot = dict(DEFAULT_PLOT)
        self.plot.update(plot or {})
        self.plot["figsize"] = tuple(self.plot["figsize"])
        self.verbose = verbose
        self.rows = []
        self.timings = run.info.setdefault("timings", {})
        self.artifacts = []

    def path(self, name):
        return os.path.join(self.dir, name)

    def timed(self, key, start):
        self.timings[key] = round(time.time() - start, 3)
        self.run.info["timings"] = self.timings

    def scalar(self, name, value, step=0):
        if value is not None:
            self.run.log_scalar(name, float(value), step)

    def logger_cb(self, prefix):
        return [SacredMetricsLogger(self.run, prefix=prefix)]

    def add_file(self, path):
        if path and os.path.isfile(path) and path not in self.artifacts:
            self.artifacts.append(path)

    def plot_videos(self, alg, x, name, title):
        n = self.plot["n_videos"]
        videos = x if n is None else x[:n]
        path = alg.plot_predictions(videos, self.path(name), title,
                                    figsize=self.plot["figsize"],
                                    dpi=self.plot["dpi"])
        self.add_file(path)
        return path

    def plot_decoder(self, alg):
        if not alg.algorithm.pretrains:
            return None
        path = alg.plot_decoder_weights(self.path("decoder_weights.png"),
                                        figsize=self.plot["figsize"],
                                        dpi=self.plot["dpi"])
        self.add_file(path)
        return path

    def add_row(self, num_labeled, stage, epochs, scores):
        (tl, ta), (vl, va), (sl, sa) = scores
        row = {"num_labeled": int(num_labeled), "stage": stage,
               "epochs": int(epochs), "train_loss": tl,
               "train_accuracy": ta, "val_loss": vl, "val_accuracy": va,
               "test_loss": sl, "test_accuracy": sa}
        self.rows.append(row)
        self.run.info["result_table"] = list(self.rows)
        for split, loss, acc in (("train", tl, ta), ("val", vl, va),
                                 ("test", sl, sa)):
            self.scalar(f"result.{stage}.{split}_loss", loss, num_labeled)
            self.scalar(f"result.{stage}.{split}_accuracy", acc,
                        num_labeled)
        self.log.info("num_labeled=%s %s: train %.4f/%.4f val %.4f/%.4f "
                      "test %.4f/%.4f (loss/acc)", num_labeled, stage, tl,
                      ta, vl, va, sl, sa)

    def finish(self, alg):
        csv_path = write_result_table(self.rows, self.path("result_table.csv"))
        for name in ("autoencoder.weights.h5", "supervised_True.weights.h5",
                     "supervised_False.weights.h5"):
            self.add_file(os.path.join(alg.results_dir, name))
        self.add_file(csv_path)
        for path in self.artifacts:
            self.run.add_artifact(path, name=os.path.basename(path))


def write_result_table(rows, path):
    """Writes result-table rows (dicts) to a CSV file with `RESULT_COLUMNS`.

    Args:
        rows: list of dicts.
        path: output file.

    Returns:
        `path`.
    """
    columns = list(RESULT_COLUMNS) + sorted(
        {k for row in rows for k in row} - set(RESULT_COLUMNS))
    tmp = f"{path}.tmp"
    with open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c) for c in columns})
    os.replace(tmp, path)
    return path


def _make_algorithm(config, rec, **overrides):
    config = dict(config, **overrides)
    return TemporalAutoencoder(config, rec.dir, verbose=rec.verbose).build()


def _pretrain(alg, x, rec, key="pretrain"):
    start = time.time()
    alg.train(x, callbacks=rec.logger_cb(f"{key}."), plot=False)
    rec.timed(key, start)
    rec.plot_decoder(alg)
    rec.add_file(alg.autoencoder_path)


def _epochs_run(history):
    if history is None or not getattr(history, "epoch", None):
        return 0
    return len(history.epoch)


def _evaluate(alg, splits, stacked, test_alg=None):
    """[[loss, acc] train, val, test]; test may use a copy at another T."""
    (xl, yl), (xv, yv), (xt, yt) = splits
    scores = [alg.test_classifier(xl, yl, stacked=stacked),
              alg.test_classifier(xv, yv, stacked=stacked)]
    scores.append((test_alg or alg).test_classifier(xt, yt, stacked=stacked))
    return scores


def _ae_loss(alg, x):
    loss = alg.test(x)
    return None if loss is None else float(loss)


# --------------------------------------------------------------------------
# Protocols
# --------------------------------------------------------------------------


def train_test_protocol(data, config, _run, _log=None, num_labeled=(),
                        plot=None, verbose=2):
    """Rotated MNIST / Scanned CIFAR-10 protocol (spec §6.2, §6.3).

    1. Build the algorithm once and pre-train it on all training videos
       (`epochs` epochs, last epoch kept); draw the decoder filters and the
       reconstructions of the first `plot["n_videos"]` training and test
       videos (`videos_train.png`, `videos_test.png`).
    2. result[0] = [AE loss on the training set, on the test set].
    3. For each labelled-set size: draw the labelled subsets, reload the
       pre-trained encoder, train the stacked classifier (frozen encoder,
       Adam, early stopping on the validation loss), evaluate [loss, acc]
       on the labelled training, validation and full test sets; then train
       end-to-end (SGD lr/10) from there and evaluate again.

    With `config["carry_over"]` (the paper setting) the classifier head and
    both optimizers carry over between stages and sizes (§6.2); otherwise
    each size starts from a fresh head and optimizers, and end-to-end from
    the stacked head with a fresh SGD.

    Args:
        data: a `MNISTRotatedDataset` / `CIFAR10ScannedDataset`.
        config: validated protocol config (`algorithm_config`).
        _run: the Sacred run.
        _log: logger. Defaults to this module's.
        num_labeled: labelled-set sizes (total videos).
        plot: dict `n_videos`, `figsize`, `dpi`. Defaults to
            `DEFAULT_PLOT`.
        verbose: Keras fit verbosity. Defaults to `2`.

    Returns:
        The result list (also stored by Sacred as the run's result).
    """
    rec = _Recorder(_run, _log, plot, verbose)
    check_frame_shape(data.X_train, config, "training videos")
    check_classes(data.num_classes, config)
    sizes = usable_num_labeled(num_labeled, data, rec.log)
    _run.info["num_labeled"] = sizes
    alg = _make_algorithm(config, rec)
    _pretrain(alg, data.X_train, rec)
    rec.plot_videos(alg, data.X_train, "videos_train.png", "train")
    rec.plot_videos(alg, data.X_test, "videos_test.png", "test")
    start = time.time()
    ae = [_ae_loss(alg, data.X_train), _ae_loss(alg, data.X_test)]
    rec.timed("pretrain.eval", start)
    rec.scalar("pretrain.eval.train_loss", ae[0])
    rec.scalar("pretrain.eval.test_loss", ae[1])
    _run.info["autoencoder_loss"] = {"train": ae[0], "test": ae[1]}
    result = [ae]
    for n in sizes:
        splits = data.generate_labeled_data(n)
        (xl, yl), (xv, yv), _ = splits
        alg.load_pretrained()
        for stage in STAGES:
            stacked = stage == "stacked"
            start = time.time()
            history = alg.train_classifier(
                xl, yl, xv, yv, stacked=stacked,
                callbacks=rec.logger_cb(f"nl{n}.{stage}."))
            scores = _evaluate(alg, splits, stacked)
            rec.timed(f"nl{n}.{stage}", start)
            rec.add_row(n, stage, _epochs_run(history), scores)
            result.append(scores)
    rec.finish(alg)
    return result


def _classification_rounds(data, config, rec, sizes, result):
    """COIL-100 classification rounds (spec §6.4 step 2), appends results."""
    alg = None
    for n in sizes:
        splits = data.generate_labeled_data(n)
        (xl, yl), (xv, yv), (xt, _) = splits
        test_steps = xt.shape[1]
        for stage in STAGES:
            stacked = stage == "stacked"
            start = time.time()
            alg = _make_algorithm(config, rec, shape1=n, carry_over=True)
            if stacked:
                alg.load_pretrained()
            else:
                alg.load_classifier(stacked=True)
            history = alg.train_classifier(
                xl, yl, xv, yv, stacked=stacked,
                callbacks=rec.logger_cb(f"nl{n}.{stage}."))
            scores = _evaluate(alg, splits, stacked,
                               test_alg=alg.with_time_steps(test_steps))
            rec.timed(f"nl{n}.{stage}", start)
            rec.add_row(n, stage, _epochs_run(history), scores)
            result.append(scores)
    return alg


def coil100_protocol(data, config, _run, _log=None, num_labeled=(),
                     plot=None, verbose=2):
    """COIL-100 protocol (spec §6.4).

    1. Pre-train at T = 72 on all videos; decoder filters and
       `videos_train.png` (the first `plot["n_videos"]` videos; `None`:
       all, as the original); result[0] = [AE loss on all videos].
    2. For each number of labelled frames per object `n`: split every
       video by frame index; build the model at T = n with a fresh head and
       load the pre-trained autoencoder; train the stacked classifier;
       evaluate train / val at T = n and test at the test length (a copy
       made by `with_time_steps`). Then build again at T = n, load the best
       stacked weights (`supervised_True.weights.h5`: pre-trained encoder +
       stacked head) and train end-to-end with a fresh SGD; evaluate the
       same way. No state carries over between sizes (`carry_over` has no
       effect here).

    Args:
        data: a `COIL100Dataset`.
        config: validated protocol config (`algorithm_config`).
        _run: the Sacred run.
        _log: logger. Defaults to this module's.
        num_labeled: labelled frames per object (2, 4, 8, 16, 32).
        plot: dict `n_videos`, `figsize`, `dpi`. Defaults to
            `DEFAULT_PLOT`.
        verbose: Keras fit verbosity. Defaults to `2`.

    Returns:
        The result list `[[AE loss], [[l, a] x 3], ...]`.
    """
    rec = _Recorder(_run, _log, plot, verbose)
    check_frame_shape(data.X, config, "COIL-100 videos")
    check_classes(data.num_classes, config)
    sizes = [int(n) for n in num_labeled]
    _run.info["num_labeled"] = sizes
    alg = _make_algorithm(config, rec, carry_over=True)
    _pretrain(alg, data.X, rec)
    rec.plot_videos(alg, data.X, "videos_train.png", "COIL-100")
    ae = _ae_loss(alg, data.X)
    rec.scalar("pretrain.eval.loss", ae)
    _run.info["autoencoder_loss"] = {"coil100": ae}
    result = [[ae]]
    last = _classification_rounds(data, config, rec, sizes, result)
    rec.finish(last or alg)
    return result


def necanimal_protocol(nec, coil, config, _run, _log=None, num_labeled=(),
                       plot=None, verbose=2):
    """NEC Animal -> COIL-100 transfer protocol (spec §6.5).

    1. Pre-train at T = `shape1` (79) on the NEC Animal videos; decoder
       filters and `videos_necanimal.png` (first `plot["n_videos"]`).
    2. result[0] = [AE loss on NEC Animal, AE loss on COIL-100], the latter
       with a copy at T = 72 (`videos_coil100.png` too).
    3. The COIL-100 classification rounds of `coil100_protocol`, starting
       from the NEC-pre-trained autoencoder.

    Args:
        nec: a `NECAnimalDataset`.
        coil: a `COIL100Dataset` (its own ZCA).
        config: validated protocol config (`algorithm_config`).
        _run: the Sacred run.
        _log: logger. Defaults to this module's.
        num_labeled: labelled COIL frames per object.
        plot: dict `n_videos`, `figsize`, `dpi`. Defaults to
            `DEFAULT_PLOT`.
        verbose: Keras fit verbosity. Defaults to `2`.

    Returns:
        The result list `[[NEC AE loss, COIL AE loss], [[l, a] x 3], ...]`.
    """
    rec = _Recorder(_run, _log, plot, verbose)
    check_frame_shape(nec.X, config, "NEC Animal videos")
    check_frame_shape(coil.X, dict(config, shape1=None), "COIL-100 videos")
    check_classes(coil.num_classes, config)
    sizes = [int(n) for n in num_labeled]
    _run.info["num_labeled"] = sizes
    alg = _make_algorithm(config, rec, carry_over=True)
    _pretrain(alg, nec.X, rec)
    rec.plot_videos(alg, nec.X, "videos_necanimal.png", "NEC Animal")
    nec_loss = _ae_loss(alg, nec.X)
    coil_alg = alg.with_time_steps(coil.X.shape[1])
    rec.plot_videos(coil_alg, coil.X, "videos_coil100.png", "COIL-100")
    coil_loss = _ae_loss(coil_alg, coil.X)
    rec.scalar("pretrain.eval.necanimal_loss", nec_loss)
    rec.scalar("pretrain.eval.coil100_loss", coil_loss)
    _run.info["autoencoder_loss"] = {"necanimal": nec_loss,
                                     "coil100": coil_loss}
    result = [[nec_loss, coil_loss]]
    last = _classification_rounds(coil, config, rec, sizes, result)
    rec.finish(last or alg)
    return result


def record_data_info(_run, key, data, start=None):
    """Stores `data.info` in `_run.info[key]`, the load time in `timings`.

    Args:
        _run: the Sacred run.
        key: info key (`"data"`, `"coil100"`, ...).
        data: dataset with an `info` dict.
        start: `time.time()` before loading, or `None`.

    Returns:
        The info dict.
    """
    info = _jsonable(dict(data.info))
    _run.info[key] = info
    if start is not None:
        timings = _run.info.setdefault("timings", {})
        timings[f"load_{key}"] = round(time.time() - start, 3)
    return info


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
