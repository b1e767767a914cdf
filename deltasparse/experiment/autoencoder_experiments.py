"""Sacred glue of the group k-sparse temporal autoencoder experiments.

The four scripts `experiments/mnistrotated.py`, `cifar10scanned.py`,
`coil100.py` and `necanimal.py` hold only what differs between them (their
data and sizes); everything they share is here:

- `add_shared_config(ex)`: the runtime keys (`seed`, `gpus`,
  `memory_growth`, `verbose`) and the defaults every script shares
  (`autoencoder_config`); call it before the script's own `@ex.config`.
- `add_named_configs(ex, groups, quick_data, vgg19_algo)`: the ten algorithm
  named configs, `nospatial`, `nolifetime`, `quick`, and the ablation scope
  that turns the two flags into k values; call it after the script's config.
- `run_experiment(name, _config, _run, _log)`: the whole run of a script
  (config check, devices and seeds, data, model, protocol of
  `deltasparse.training.autoencoder_protocol`, and what the run records).

Resuming a killed run: every training phase has its own Trainer checkpoint
folder under `checkpoint_dir` (default: the run's folder). Start the same
command again with `checkpoint_dir=<that folder> resume=True`: finished
phases are skipped (their kept weights reloaded), the unfinished one goes on
after its last finished epoch.

Config keys renamed from the original `_algo`:

| before | now |
|---|---|
| `_algo.mode` | `_algo.algorithm` |
| `_algo.shape1` | `_algo.clip_length` |
| `_algo.shape2`, `_algo.shape3` | `_algo.image_size` (`[height, width]`) |
| `_algo.shape4` | `_algo.channels` |
| `_algo.classes` | `_algo.num_classes` |
| `_algo.filter_size_enc` | `_algo.encoder_kernel_size` |
| `_algo.filter_size_dec` | `_algo.decoder_kernel_size` |
| `_data.rotations` (Rotated MNIST) | `_data.clip_length` |

What a run records (in its own folder, `run_directory(_run)`):

- per-epoch `log_scalar` of every Keras metric: `pretrain.loss`,
  `nl300.stacked.loss`, `nl300.stacked.val_accuracy`, ...; the final
  evaluations as `result.stacked.test_accuracy` etc. with the labelled-set
  size as step, and the autoencoder losses as `pretrain.eval.*`;
- `_run.result`: the original's nested list (see `ProtocolResult.result`);
- `_run.info["result_table"]` (also the artifact `result_table.csv`),
  `["data"]` (NEC Animal runs add `["coil100"]`), `["num_labeled"]`,
  `["timings"]`, `["autoencoder_loss"]`;
- artifacts: `decoder_weights.png`, the reconstruction mosaics, the three
  weight files and `result_table.csv`.

Differences from the original scripts (spec §6.1, §6.6), all deliberate:
files go into the Sacred run folder and are registered as artifacts;
metrics are logged; TensorFlow randomness is seeded too; with
`_algo.carry_over = False` (Rotated MNIST / Scanned CIFAR-10) each
labelled-set size starts from a fresh head and fresh optimizers; when
Rotated MNIST falls back to scikit-learn's digits, the labelled-set sizes
that do not fit are dropped and `round(0.9 * N)` is used instead.
"""

import copy
import dataclasses
import logging
import os
import time

import numpy as np

from deltasparse.data.datasets.video_arrays import validation_end
from deltasparse.experiment.config import add_runtime_config
from deltasparse.experiment.errors import ConfigurationError
from deltasparse.experiment.errors import DataNotFoundError
from deltasparse.experiment.runtime import configure_devices
from deltasparse.experiment.observers import plain
from deltasparse.experiment.observers import run_directory
from deltasparse.experiment.runtime import set_global_seed
from deltasparse.models.temporal_autoencoder.encoders import check_vgg19_weights
from deltasparse.models.temporal_autoencoder.temporal_autoencoder import TemporalAutoencoder
from deltasparse.models.temporal_autoencoder.temporal_autoencoder_presets import ALGORITHMS
from deltasparse.models.temporal_autoencoder.temporal_autoencoder_presets import get_algorithm
from deltasparse.models.temporal_autoencoder.temporal_autoencoder_presets import preset_clipnorm
from deltasparse.training import autoencoder_protocol as protocols

logger = logging.getLogger(__name__)

DATASETS = ("mnistrotated", "cifar10scanned", "coil100", "necanimal")
"""Names of the four experiments (and of their scripts in `experiments/`)."""

RENAMED_KEYS = {
    "_algo.mode": "_algo.algorithm",
    "_algo.shape1": "_algo.clip_length",
    "_algo.shape2": "_algo.image_size[0]",
    "_algo.shape3": "_algo.image_size[1]",
    "_algo.shape4": "_algo.channels",
    "_algo.classes": "_algo.num_classes",
    "_algo.filter_size_enc": "_algo.encoder_kernel_size",
    "_algo.filter_size_dec": "_algo.decoder_kernel_size",
    "_data.rotations": "_data.clip_length",
}
"""Original config key -> its name now (the table of the module docstring)."""

ADDED_KEYS = ("checkpoint_dir", "resume")
"""Config keys the original scripts did not have (resumable training)."""

MODEL_KEYS = (
    "algorithm", "clip_length", "image_size", "channels", "num_classes",
    "filters", "encoder_kernel_size", "decoder_kernel_size", "k_spatial",
    "k_lifetime", "groups", "pool_size", "dropout", "l2", "l1_slow",
    "norm_epsilon", "pad_value",
)
"""`_algo` keys passed to `TemporalAutoencoder`."""

TRAINING_KEYS = tuple(
    f.name for f in dataclasses.fields(protocols.AutoencoderTrainingConfig)
    if f.name != "verbose")
"""`_algo` keys passed to `AutoencoderTrainingConfig`."""

_DATA_PREPARE_HINT = {
    "cifar10scanned": "set `_data.path` to the CIFAR-10 folder or archive",
    "coil100": "set `_data.path` to the unzipped coil-100 folder",
    "necanimal": ("set `_data.path` to the animalclean folder and "
                  "`_data.coil_path` to the coil-100 folder"),
    "mnistrotated": "set `_data.path` to an mnist.npz",
}


# --------------------------------------------------------------------------
# Shared configuration
# --------------------------------------------------------------------------


def autoencoder_config():
    vgg19_weights = None  # vgg19 only: ImageNet VGG19 no-top .h5 file
    checkpoint_dir = None  # per-phase checkpoints; None = <run folder>/checkpoints
    resume = False  # with a fixed checkpoint_dir: skip/continue its phases
    spatial_sparsity = True  # False (nospatial): k_spatial = H * W
    lifetime_sparsity = True  # False (nolifetime): k_lifetime = batch * T
    # reconstruction and decoder-weight PNGs
    plot = dict(
        n_videos=8,  # videos drawn in each reconstruction PNG; None = all
        figsize=[30, 90],  # matplotlib figure size in inches
        dpi=160,  # resolution of every PNG
    )
    _data = dict(
        imagenet_preprocessing=False,  # VGG19 input (byte-scale, caffe)
        dtype="float32",  # float dtype of the videos
    )
    # model (TemporalAutoencoder) and training (AutoencoderTrainingConfig)
    _algo = dict(
        algorithm=None,  # preset, set by its named config (e.g. groupwtacrnn)
        batch_size=30,  # videos per batch (also the lifetime competition)
        k_spatial=1,  # winners per frame (and channel or group)
        k_lifetime=1,  # winners per position over batch x time
        groups=None,  # channel groups (set by the group named configs)
        pool_size=2,  # classifier max-pooling
        dropout=0.3,  # classifier dropout (and input dropout of denoising*)
        l2=0.0,  # L2 weight on every kernel
        epochs=50,  # pre-training epochs; classifier epochs at most
        patience=5,  # early-stopping patience of the classifiers (val_loss)
        lr=1e-4,  # Adam learning rate (end-to-end SGD uses lr / 10)
        momentum=0.9,  # end-to-end SGD momentum
        clipnorm=0.0,  # global gradient-norm clipping; 0 = off
        gpus=1,  # replicas of the original's multi_gpu_model; must be 1
        l1_slow=1e-4,  # slowness penalty weight (slowgroupwtacnn only)
        jit_compile="auto",  # XLA: "auto" = on GPU only
        run_eagerly=False,  # eager Keras (faster for a few tiny batches)
    )


def autoencoder_ablations(_algo, spatial_sparsity, lifetime_sparsity):
    if not spatial_sparsity:  # nospatial: every position of a frame wins
        _algo["k_spatial"] = _algo["image_size"][0] * _algo["image_size"][1]
    if not lifetime_sparsity:  # nolifetime: every (sample, frame) wins
        _algo["k_lifetime"] = _algo["batch_size"] * _algo["clip_length"]


def add_shared_config(ex):
    """Adds the runtime keys and `autoencoder_config` to an experiment.

    Call it before the script's own `@ex.config`, whose values then win.

    Args:
        ex: a `sacred.Experiment`.

    Returns:
        The experiment.
    """
    add_runtime_config(ex)
    ex.config(autoencoder_config)
    return ex


def _add_named_config(ex, name, conf):
    """`ex.add_named_config(name, conf)`, evaluated on a fresh copy each time.

    Sacred's `ConfigDict` fills the run's presets into the very dicts it was
    given, so a dict named config reused in the same process (several
    `ex.run` calls) would carry values over from an earlier run.
    """
    from sacred.config.config_dict import ConfigDict

    class FreshConfigDict(ConfigDict):
        def __call__(self, fixed=None, preset=None, fallback=None):
            return ConfigDict(copy.deepcopy(conf))(fixed, preset, fallback)

    ex.add_named_config(name, conf)
    ex.named_configs[name] = FreshConfigDict(conf)


QUICK_ALGO = {
    "filters": 8,  # F
    "groups": 2,  # F / G = 4 as in the paper
    "encoder_kernel_size": 3,
    "decoder_kernel_size": 5,
    "epochs": 6,  # epochs per stage
    "patience": 2,
    "lr": 1e-2,  # large steps: a few epochs learn something
}
"""`_algo` part of every script's `quick` named config (smoke test)."""


def add_named_configs(ex, groups, quick_data, vgg19_algo=None):
    """Registers the named configs shared by the four experiment scripts.

    One named config per algorithm (`wtacnn`, ..., `vgg19`) with the
    preset's settings (global-norm clipping 1.0 for wtacrnn, groupwtacrnn
    and randominitcrnn; `groups` for the group algorithms; ImageNet input
    for vgg19), the ablations `nospatial` (k_spatial = H * W) and
    `nolifetime` (k_lifetime = batch_size * T), turned into k values by the
    `autoencoder_ablations` scope added here (so call this after the
    script's own config), and `quick`, a smoke test (tiny model, 6 epochs,
    small PNGs; put it after the algorithm: `with groupwtacrnn quick`).

    Args:
        ex: the `sacred.Experiment`.
        groups: channel groups of the group algorithms for this dataset (the
            paper keeps 4 channels per group: 16, 64 or 32).
        quick_data: `_data` entries of the `quick` config.
        vgg19_algo: extra `_algo` entries of the vgg19 config (e.g.
            `{"channels": 3}` for grayscale MNIST). Defaults to none.
    """
    for algorithm in ALGORITHMS:
        spec = get_algorithm(algorithm)
        algo = {"algorithm": algorithm}
        if preset_clipnorm(algorithm):
            algo["clipnorm"] = preset_clipnorm(algorithm)
        if spec.sparsity in ("group_ksparse", "slow_group_ksparse"):
            algo["groups"] = groups
        if spec.encoder == "vgg19":
            algo.update(image_size=[32, 32], **(vgg19_algo or {}))
            _add_named_config(ex, algorithm, {"_algo": algo, "_data": {
                "zca_epsilon": None, "imagenet_preprocessing": True}})
        else:
            _add_named_config(ex, algorithm, {"_algo": algo})
    _add_named_config(ex, "nospatial", {"spatial_sparsity": False})
    _add_named_config(ex, "nolifetime", {"lifetime_sparsity": False})
    _add_named_config(ex, "quick", {
        "_data": dict(quick_data), "_algo": dict(QUICK_ALGO),
        "plot": {"n_videos": 4, "figsize": [8, 4], "dpi": 80}})
    ex.config(autoencoder_ablations)


def split_algo_config(_algo, vgg19_weights=None, verbose=1):
    """Checks an experiment's `_algo` and splits it into model and training.

    Args:
        _algo: mapping (see `autoencoder_config` and the scripts).
        vgg19_weights: path of the ImageNet VGG19 weights (vgg19 only).
        verbose: Keras fit verbosity. Defaults to `1`.

    Returns:
        `(model_kwargs, settings)`: keyword arguments of
        `TemporalAutoencoder` and an `AutoencoderTrainingConfig`.

    Raises:
        ConfigurationError: when no algorithm was chosen, a key is unknown,
            `groups` does not divide `filters`, or a value is invalid.
        DataNotFoundError: for vgg19 without an existing weights file.

    Example:
    >>> model_kwargs, settings = split_algo_config({"algorithm": "wtacnn",
    ...     "clip_length": 4, "image_size": [8, 8], "channels": 1,
    ...     "num_classes": 10, "filters": 8, "encoder_kernel_size": 3,
    ...     "decoder_kernel_size": 5})
    >>> settings.clipnorm, model_kwargs["filters"]
    (0.0, 8)
    """
    config = dict(_algo)
    algorithm = config.get("algorithm")
    if algorithm is None:
        raise ConfigurationError(
            "Choose an algorithm with its named config, e.g. `python "
            "experiments/<dataset>.py with groupwtacrnn`; one of "
            f"{', '.join(ALGORITHMS)}. Received: _algo.algorithm=None")
    if algorithm not in ALGORITHMS:
        raise ConfigurationError(
            f"`_algo.algorithm` must be one of {', '.join(ALGORITHMS)}. "
            f"Received: _algo.algorithm={algorithm!r}")
    unknown = sorted(set(config) - set(MODEL_KEYS) - set(TRAINING_KEYS)
                     - {"gpus"})
    if unknown:
        raise ConfigurationError(
            f"Unknown config keys {unknown} in `_algo`; allowed are "
            f"{sorted(set(MODEL_KEYS) | set(TRAINING_KEYS) | {'gpus'})}. "
            f"Received: keys={sorted(config)}")
    if config.get("gpus", 1) != 1:
        raise ConfigurationError(
            "`_algo.gpus` must be 1 (multi-GPU would split the lifetime "
            f"competition over devices). Received: gpus={config['gpus']}")
    spec = get_algorithm(algorithm)
    groups, filters = config.get("groups"), config.get("filters")
    if (spec.sparsity in ("group_ksparse", "slow_group_ksparse")
            and isinstance(groups, int) and isinstance(filters, int)
            and (groups < 1 or filters % groups)):
        raise ConfigurationError(
            f"`_algo.groups` must divide `_algo.filters`={filters}. Named "
            "configs are applied left to right, so put size changes after "
            "the algorithm (`with groupwtacrnn quick`, not `with quick "
            f"groupwtacrnn`). Received: _algo.groups={groups}")
    model_kwargs = {k: config[k] for k in MODEL_KEYS if k in config}
    model_kwargs["vgg19_weights"] = vgg19_weights
    try:
        settings = protocols.AutoencoderTrainingConfig(
            verbose=verbose, **{k: config[k] for k in TRAINING_KEYS
                                if k in config})
    except ValueError as err:
        raise ConfigurationError(f"{err} (config key `_algo`)") from None
    if spec.encoder == "vgg19":
        try:
            check_vgg19_weights(vgg19_weights)
        except FileNotFoundError as err:
            raise DataNotFoundError(
                f"{err} (config key `vgg19_weights`)") from None
    return model_kwargs, settings


def build_model(model_kwargs, **overrides):
    """`TemporalAutoencoder(**model_kwargs, **overrides)`; errors as
    `ConfigurationError` (one line on the command line)."""
    try:
        return TemporalAutoencoder(**dict(model_kwargs, **overrides))
    except ValueError as err:
        raise ConfigurationError(f"{err} (config key `_algo`)") from None


def prepare_run(gpus=None, memory_growth=True, seed=None):
    """Selects devices, turns on memory growth and seeds every RNG.

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

    - `mnistrotated`: `MNISTRotatedDataset` (keys `clip_length`, `size`,
      `zca_epsilon`, `imagenet_preprocessing`, `dtype`, `path`, `fallback`,
      `n_train`, `n_test`); falls back to scikit-learn's digits when no
      MNIST file exists and `fallback` is true (logged, `source` says so).
    - `cifar10scanned`: `CIFAR10ScannedDataset` (`stride`, `size`,
      `zca_epsilon`, `imagenet_preprocessing`, `dtype`, `path`, `n_train`,
      `n_test`).
    - `coil100`: `COIL100Dataset` (`path`, `size`, `zca_epsilon`,
      `imagenet_preprocessing`, `dtype`, `n_objects`).
    - `necanimal`: `NECAnimalDataset` (`path`, `size`, `zca_epsilon`,
      `pad_value`, `clip_length`, `imagenet_preprocessing`, `dtype`, `n_videos`,
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
                clip_length=_get(d, "clip_length", 36),
                size=_get(d, "size", 14),
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
                clip_length=d.get("clip_length"), n_videos=d.get("n_videos"),
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


def check_classes(num_classes, model_kwargs):
    """Checks that `_algo.num_classes` equals the data's number of classes.

    Raises:
        ConfigurationError: if they differ.
    """
    expected = model_kwargs["num_classes"]
    if int(num_classes) != int(expected):
        raise ConfigurationError(
            f"The data have {num_classes} classes but `_algo.num_classes`="
            f"{expected}; set `_algo.num_classes={num_classes}`. "
            f"Received: _algo.num_classes={expected}")


def check_frame_shape(x, model_kwargs, what="videos", check_length=True):
    """Checks that videos match `_algo.image_size`, `channels`, `clip_length`.

    Args:
        x: array `(N, T, H, W, C)`.
        model_kwargs: the model part of `split_algo_config`.
        what: name used in the message. Defaults to `"videos"`.
        check_length: also compare T with `clip_length` (unless `None`).

    Raises:
        ConfigurationError: if the frame shape or the length differs.
    """
    expected = tuple(model_kwargs["image_size"]) + (model_kwargs["channels"],)
    if tuple(x.shape[2:]) != expected:
        raise ConfigurationError(
            f"The {what} have frames of shape {tuple(x.shape[2:])} but "
            f"`_algo.image_size` + `_algo.channels` = {expected}; set them "
            "to the frame shape (`_data.size`, channels). "
            f"Received: x.shape={tuple(x.shape)}")
    length = model_kwargs["clip_length"]
    if check_length and length is not None and x.shape[1] != length:
        raise ConfigurationError(
            f"The {what} have {x.shape[1]} frames but `_algo.clip_length`="
            f"{length}; set `_algo.clip_length={x.shape[1]}`. "
            f"Received: x.shape={tuple(x.shape)}")


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
    info = plain(dict(data.info))
    _run.info[key] = info
    if start is not None:
        timings = _run.info.setdefault("timings", {})
        timings[f"load_{key}"] = round(time.time() - start, 3)
    return info


# --------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------


def record_result(_run, out):
    """Stores a `ProtocolResult` in a Sacred run (info and artifacts).

    Returns:
        `out.result` (the run's result).
    """
    timings = _run.info.setdefault("timings", {})
    timings.update(out.info.get("timings", {}))
    _run.info["timings"] = timings
    _run.info["num_labeled"] = list(out.info["num_labeled"])
    _run.info["autoencoder_loss"] = out.info.get("autoencoder_loss")
    _run.info["result_table"] = list(out.rows)
    for path in out.artifacts:
        _run.add_artifact(path, name=os.path.basename(path))
    return out.result


def _load_data(name, _data, _algo, _run, _log):
    if name != "necanimal":
        return (load_dataset(name, _data, log=_log, run=_run),)
    coil_data = dict(_data, path=_data["coil_path"])
    check_available("coil100", coil_data)  # fail before loading NEC
    nec = load_dataset("necanimal",
                       dict(_data, clip_length=_algo["clip_length"]),
                       log=_log, run=_run)
    coil = load_dataset("coil100", coil_data, log=_log, run=_run,
                        info_key="coil100")
    return nec, coil


def run_experiment(name, _config, _run, _log=None):
    """The whole run of one of the four scripts.

    Checks `_algo`, selects devices and seeds, loads the data of `name`,
    checks it against the config, builds the `TemporalAutoencoder` and runs
    the dataset's protocol (`train_test_protocol` for Rotated MNIST and
    Scanned CIFAR-10, `coil100_protocol`, `necanimal_protocol`), then
    records the result in `_run`.

    Args:
        name: one of `DATASETS`.
        _config: the run's merged config.
        _run: the Sacred run.
        _log: logger. Defaults to this module's.

    Returns:
        The result list (the run's result).
    """
    log = _log or logger
    if name not in DATASETS:
        raise ConfigurationError(
            f"`name` must be one of {DATASETS}. Received: name={name!r}")
    c = _config
    model_kwargs, settings = split_algo_config(
        c["_algo"], c["vgg19_weights"], verbose=c["verbose"])
    prepare_run(c["gpus"], c["memory_growth"], c["seed"])
    data = _load_data(name, c["_data"], c["_algo"], _run, log)
    num_labeled = [int(n) for n in c["_data"]["num_labeled"]]
    kwargs = {"num_labeled": num_labeled, "log_scalar": _run.log_scalar,
              "plot": c["plot"]}
    first = data[0]
    if name in ("mnistrotated", "cifar10scanned"):
        check_frame_shape(first.X_train, model_kwargs, "training videos")
        check_classes(first.num_classes, model_kwargs)
        kwargs["num_labeled"] = usable_num_labeled(num_labeled, first, log)
        _run.info["num_labeled"] = kwargs["num_labeled"]
        run_protocol = protocols.train_test_protocol
    else:
        coil = data[-1]
        check_frame_shape(first.X, model_kwargs, f"{name} videos")
        check_frame_shape(coil.X, model_kwargs, "COIL-100 videos",
                          check_length=False)
        check_classes(coil.num_classes, model_kwargs)
        run_protocol = (protocols.coil100_protocol if name == "coil100"
                        else protocols.necanimal_protocol)
    model = build_model(model_kwargs)
    out = run_protocol(*data, model, settings, run_directory(_run),
                       checkpoint_dir=c["checkpoint_dir"], resume=c["resume"],
                       seed=c["seed"], **kwargs)
    return record_result(_run, out)
