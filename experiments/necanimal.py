"""Pre-training on NEC Animal, classification on COIL-100 (spec §6.5).

The NEC Animal clips (toy animals on a turntable, padded to 79 frames of
32x32, ZCA-whitened) pre-train an autoencoder chosen by a named config; the
autoencoder is also scored on COIL-100 (72 frames, its own ZCA). Then the
COIL-100 classification rounds of `experiments/coil100.py` run from the
NEC-pre-trained encoder: for each number of labelled frames per object, a
stacked and an end-to-end classifier. The paper used seed 123.

Run (paper protocol; add nospatial or nolifetime for the ablations):
    python experiments/necanimal.py with groupwtacrnn seed=123
Smoke test (the whole protocol in about a minute on 2 CPU cores):
    python experiments/necanimal.py with groupwtacrnn quick
Show the merged config:
    python experiments/necanimal.py print_config with groupwtacrnn nospatial

Algorithms (named configs): wtacnn, wtacrnn, groupwtacnn, groupwtacrnn,
slowgroupwtacnn, denoisingcnn, denoisingcrnn, randominitcnn, randominitcrnn,
vgg19 (needs vgg19_weights=<path>). Ablations: nospatial, nolifetime.
The data are read from the folders `_data.path` (animalclean: seq_ref_clean.txt
and img_clean/) and `_data.coil_path` (coil-100), never downloaded; the run
stops with one message when either is missing. Runs are stored under
results/necanimal/<run id>/ (root: $DELTASPARSE_RESULTS).
"""

from deltasparse.experiment import gks
from deltasparse.experiment import make_experiment

ex = make_experiment("necanimal")


@ex.config
def config():
    seed = 123  # random seed of Python, NumPy and Keras (the paper's value)
    gpus = None  # GPUs to use: None = all, "0" or [0, 1], "" = CPU only
    memory_growth = True  # allocate GPU memory on demand
    verbose = 2  # Keras fit verbosity: 0 silent, 1 bar, 2 a line per epoch
    vgg19_weights = None  # vgg19 only: ImageNet VGG19 no-top .h5 file
    spatial_sparsity = True  # False (nospatial): k_spatial = H * W
    lifetime_sparsity = True  # False (nolifetime): k_lifetime = batch * T
    # reconstruction and decoder-weight PNGs
    plot = dict(
        n_videos=8,  # videos drawn in videos_necanimal / videos_coil100.png
        figsize=[30, 90],  # matplotlib figure size in inches
        dpi=160,  # resolution of every PNG
    )
    # NEC Animal (pre-training) and COIL-100 (classification)
    _data = dict(
        num_labeled=[2, 4, 8, 16, 32],  # labelled COIL frames per object
        path="datasets/animalclean",  # NEC Animal folder
        coil_path="datasets/coil-100",  # COIL-100 folder
        size=32,  # frame side after resizing (both data sets)
        zca_epsilon=1e-3,  # ZCA epsilon (each data set its own); None = none
        pad_value=-1,  # fill of the frames after a clip's end (before /255)
        imagenet_preprocessing=False,  # VGG19 input (byte-scale, caffe)
        dtype="float32",  # float dtype of the videos
        n_videos=None,  # use the first n_videos NEC clips; None = all
        last_end=4371,  # forced last frame of the last NEC clip (original)
        n_objects=None,  # use COIL objects 1..n_objects; None = all 100
    )
    # model and training (TemporalAutoencoder config)
    _algo = dict(
        mode=None,  # algorithm, set by its named config (e.g. groupwtacrnn)
        batch_size=10,  # videos per batch (also the lifetime competition)
        shape1=79,  # T: NEC clips are padded to this many frames
        shape2=_data["size"],  # H
        shape3=_data["size"],  # W
        shape4=3,  # C_in (RGB)
        classes=_data["n_objects"] or 100,  # one class per COIL object
        filters=128,  # F, encoder channels
        filter_size_enc=5,  # encoder (and ConvMinimalRNN2D) kernel size
        filter_size_dec=7,  # decoder (Conv2DTranspose) kernel size
        k_spatial=1,  # winners per frame (and channel or group)
        k_lifetime=1,  # winners per position over batch x time
        groups=None,  # channel groups (set by the group named configs)
        pool_size=2,  # classifier max-pooling
        dropout=0.3,  # classifier dropout (and input dropout of denoising*)
        l2=0.0,  # L2 weight on every kernel
        epochs=300,  # pre-training epochs; classifier epochs at most
        patience=5,  # early-stopping patience of the classifiers (val_loss)
        lr=1e-4,  # Adam learning rate (end-to-end SGD uses lr / 10)
        momentum=0.9,  # end-to-end SGD momentum
        clipnorm=0.0,  # global gradient-norm clipping; 0 = off
        gpus=1,  # replicas of the original's multi_gpu_model; must be 1
        pad_value=-1,  # masked loss on true != pad_value (inactive, see docs)
        l1_slow=1e-4,  # slowness penalty weight (slowgroupwtacnn only)
        jit_compile="auto",  # XLA: "auto" = on GPU only
        run_eagerly=False,  # eager Keras (faster for a few tiny batches)
    )
    if not spatial_sparsity:
        _algo["k_spatial"] = _algo["shape2"] * _algo["shape3"]  # 32 * 32
    if not lifetime_sparsity:
        _algo["k_lifetime"] = _algo["batch_size"] * _algo["shape1"]  # 10 * 79


# Algorithms and the nospatial / nolifetime ablations (spec §6).
gks.add_algorithm_configs(ex, groups=32)


@ex.named_config
def quick():
    # Smoke test: 8x8 frames, 10 COIL objects, tiny model, 6 epochs.
    # Put it after the algorithm: `with groupwtacrnn quick`.
    _data = dict(
        num_labeled=[2, 4],  # two small rounds
        size=8,  # 8x8 frames
        n_objects=10,  # COIL objects (= classes)
    )
    _algo = dict(
        filters=8,  # F
        groups=2,  # F / G = 4 as in the paper
        filter_size_enc=3,  # encoder kernel
        filter_size_dec=5,  # decoder kernel
        epochs=6,  # epochs per stage
        patience=2,  # early-stopping patience
        lr=1e-2,  # large steps: a few epochs learn something
    )
    plot = dict(n_videos=4, figsize=[8, 4], dpi=80)  # small PNGs


@ex.capture
def load_data(_data, _algo, _run, _log):
    """Builds NEC Animal (padded to `_algo.shape1` frames) and COIL-100."""
    coil_data = dict(_data, path=_data["coil_path"])
    gks.check_available("coil100", coil_data)  # fail before loading NEC
    nec = gks.load_dataset(
        "necanimal", dict(_data, length=_algo["shape1"]), log=_log, run=_run)
    coil = gks.load_dataset(
        "coil100", coil_data, log=_log, run=_run, info_key="coil100")
    return nec, coil


@ex.automain
def main(_run, _log, _data, _algo, seed, gpus, memory_growth, vgg19_weights,
         plot, verbose):
    """Pre-trains on NEC Animal, then classifies COIL-100 clips."""
    config = gks.algorithm_config(_algo, vgg19_weights)
    gks.prepare_run(gpus, memory_growth, seed)
    nec, coil = load_data()
    return gks.necanimal_protocol(
        nec, coil, config, _run, _log, num_labeled=_data["num_labeled"],
        plot=plot, verbose=verbose)
