"""Group k-sparse temporal CNN pre-training on COIL-100 (spec §6.4).

Each of the 100 COIL objects is one 72-frame turntable video (5 degree
steps, frames resized to 32x32, ZCA-whitened). An autoencoder (chosen by a
named config) is pre-trained on all 100 videos; then, for each number of
labelled frames per object (2, 4, 8, 16, 32), every video is split by frame
index into train / validation / test clips, and a linear classifier on the
frozen encoder ("stacked") and the fine-tuned whole ("end-to-end",
initialised from the stacked one) are trained on clips of that length and
tested on the remaining frames. The paper used seed 123.

Run (paper protocol; add nospatial or nolifetime for the ablations):
    python experiments/coil100.py with groupwtacrnn seed=123
Smoke test (the whole protocol in about a minute on 2 CPU cores):
    python experiments/coil100.py with groupwtacrnn quick
Show the merged config:
    python experiments/coil100.py print_config with groupwtacrnn nospatial

Algorithms (named configs): wtacnn, wtacrnn, groupwtacnn, groupwtacrnn,
slowgroupwtacnn, denoisingcnn, denoisingcrnn, randominitcnn, randominitcrnn,
vgg19 (needs vgg19_weights=<path>). Ablations: nospatial, nolifetime.
COIL-100 is read from the folder `_data.path` (unzipped coil-100.zip from
https://www.cs.columbia.edu/CAVE/software/softlib/coil-100.php), never
downloaded; the run stops with one message when it is missing. Runs are
stored under results/coil100/<run id>/ (root: $DELTASPARSE_RESULTS).
"""

from deltasparse.experiment import gks
from deltasparse.experiment import make_experiment

ex = make_experiment("coil100")


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
        n_videos=None,  # videos drawn in videos_train.png; None = all 100
        figsize=[30, 90],  # matplotlib figure size in inches
        dpi=160,  # resolution of every PNG
    )
    # COIL-100 (deltasparse.data.COIL100Dataset)
    _data = dict(
        num_labeled=[2, 4, 8, 16, 32],  # labelled frames per object (rounds)
        path="datasets/coil-100",  # folder with obj{i}__{angle}.png
        size=32,  # frame side after resizing
        zca_epsilon=1e-3,  # ZCA epsilon (fit on all frames); None = none
        imagenet_preprocessing=False,  # VGG19 input (byte-scale, caffe)
        dtype="float32",  # float dtype of the videos
        n_objects=None,  # use objects 1..n_objects only; None = all 100
    )
    # model and training (TemporalAutoencoder config)
    _algo = dict(
        mode=None,  # algorithm, set by its named config (e.g. groupwtacrnn)
        batch_size=10,  # videos per batch (also the lifetime competition)
        shape1=72,  # T of pre-training (classification: num_labeled, test)
        shape2=_data["size"],  # H
        shape3=_data["size"],  # W
        shape4=3,  # C_in (RGB)
        classes=_data["n_objects"] or 100,  # one class per object
        filters=128,  # F, encoder channels
        filter_size_enc=5,  # encoder (and ConvMinimalRNN2D) kernel size
        filter_size_dec=7,  # decoder (Conv2DTranspose) kernel size
        k_spatial=1,  # winners per frame (and channel or group)
        k_lifetime=1,  # winners per position over batch x time
        groups=None,  # channel groups (set by the group named configs)
        pool_size=2,  # classifier max-pooling
        dropout=0.3,  # classifier dropout (and input dropout of denoising*)
        l2=0.0,  # L2 weight on every kernel
        epochs=200,  # pre-training epochs; classifier epochs at most
        patience=5,  # early-stopping patience of the classifiers (val_loss)
        lr=1e-4,  # Adam learning rate (end-to-end SGD uses lr / 10)
        momentum=0.9,  # end-to-end SGD momentum
        clipnorm=0.0,  # global gradient-norm clipping; 0 = off
        gpus=1,  # replicas of the original's multi_gpu_model; must be 1
        l1_slow=1e-4,  # slowness penalty weight (slowgroupwtacnn only)
        jit_compile="auto",  # XLA: "auto" = on GPU only
        run_eagerly=False,  # eager Keras (faster for a few tiny batches)
    )
    if not spatial_sparsity:
        _algo["k_spatial"] = _algo["shape2"] * _algo["shape3"]  # 32 * 32
    if not lifetime_sparsity:
        _algo["k_lifetime"] = _algo["batch_size"] * _algo["shape1"]  # 10 * 72


# Algorithms and the nospatial / nolifetime ablations (spec §6).
gks.add_algorithm_configs(ex, groups=32)


@ex.named_config
def quick():
    # Smoke test: 10 objects at 8x8, tiny model, 6 epochs, two rounds.
    # Put it after the algorithm: `with groupwtacrnn quick`.
    _data = dict(
        num_labeled=[2, 4],  # two small rounds
        size=8,  # 8x8 frames
        n_objects=10,  # objects (= classes)
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
def load_data(_data, _run, _log):
    """Builds COIL-100 from `_data` and records its description."""
    return gks.load_dataset("coil100", _data, log=_log, run=_run)


@ex.automain
def main(_run, _log, _data, _algo, seed, gpus, memory_growth, vgg19_weights,
         plot, verbose):
    """Pre-trains on all videos, then classifies at each labelled length."""
    config = gks.algorithm_config(_algo, vgg19_weights)
    gks.prepare_run(gpus, memory_growth, seed)
    data = load_data()
    return gks.coil100_protocol(
        data, config, _run, _log, num_labeled=_data["num_labeled"],
        plot=plot, verbose=verbose)
