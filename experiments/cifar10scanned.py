"""Group k-sparse temporal CNN pre-training on Scanned CIFAR-10 (spec §6.3).

Every CIFAR-10 image becomes a 9-frame video: a 16x16 window scans it in a
serpentine (down, up, down) with stride 8. The frames are ZCA-whitened. An
autoencoder (chosen by a named config) is pre-trained on all 50,000
training videos; then, for each labelled-set size, a linear classifier on
the frozen encoder ("stacked") and the fine-tuned whole ("end-to-end") are
trained and evaluated on the 10,000 test videos. The paper used seed 123.

Run (paper protocol; add nospatial or nolifetime for the ablations):
    python experiments/cifar10scanned.py with groupwtacrnn seed=123
Smoke test (the whole protocol in about a minute on 2 CPU cores):
    python experiments/cifar10scanned.py with groupwtacrnn quick
Show the merged config:
    python experiments/cifar10scanned.py print_config with groupwtacrnn nospatial

Algorithms (named configs): wtacnn, wtacrnn, groupwtacnn, groupwtacrnn,
slowgroupwtacnn, denoisingcnn, denoisingcrnn, randominitcnn, randominitcrnn,
vgg19 (needs vgg19_weights=<path>). Ablations: nospatial, nolifetime.
CIFAR-10 is read from `_data.path` (the cifar-10-batches-py folder or the
cifar-10-python.tar.gz archive) or the Keras cache, never downloaded; the
run stops with one message when it is missing. Runs are stored under
results/cifar10scanned/<run id>/ (root: $DELTASPARSE_RESULTS).
"""

from deltasparse.experiment import gks
from deltasparse.experiment import make_experiment

ex = make_experiment("cifar10scanned")


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
        n_videos=8,  # videos drawn in videos_train.png / videos_test.png
        figsize=[30, 90],  # matplotlib figure size in inches
        dpi=160,  # resolution of every PNG
    )
    # Scanned CIFAR-10 (deltasparse.data.CIFAR10ScannedDataset)
    _data = dict(
        # labelled training videos per round (total, not per class)
        num_labeled=[300, 600, 1000, 2000, 5000, 10000, 45000],
        stride=8,  # step of the scanning window
        size=16,  # side of the scanning window
        zca_epsilon=1e-3,  # ZCA whitening epsilon; None = no whitening
        imagenet_preprocessing=False,  # VGG19 input (byte-scale, caffe)
        dtype="float32",  # float dtype of the videos
        path=None,  # CIFAR-10 folder or .tar.gz; None = Keras cache
        n_train=None,  # use only the first n_train training images
        n_test=None,  # use only the first n_test test images
    )
    # model and training (TemporalAutoencoder config)
    _algo = dict(
        mode=None,  # algorithm, set by its named config (e.g. groupwtacrnn)
        batch_size=30,  # videos per batch (also the lifetime competition)
        # T: frames per video, 3 x 3 = 9 windows for size 16, stride 8
        shape1=((32 - _data["size"]) // _data["stride"] + 1) ** 2,
        shape2=_data["size"],  # H
        shape3=_data["size"],  # W
        shape4=3,  # C_in (RGB)
        classes=10,  # CIFAR-10 classes
        filters=256,  # F, encoder channels
        filter_size_enc=5,  # encoder (and ConvMinimalRNN2D) kernel size
        filter_size_dec=7,  # decoder (Conv2DTranspose) kernel size
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
        carry_over=True,  # paper: head and optimizers carry over rounds
        jit_compile="auto",  # XLA: "auto" = on GPU only
        run_eagerly=False,  # eager Keras (faster for a few tiny batches)
    )
    if not spatial_sparsity:
        _algo["k_spatial"] = _algo["shape2"] * _algo["shape3"]  # 16 * 16
    if not lifetime_sparsity:
        _algo["k_lifetime"] = _algo["batch_size"] * _algo["shape1"]  # 30 * 9


# Algorithms and the nospatial / nolifetime ablations (spec §6).
gks.add_algorithm_configs(ex, groups=64)


@ex.named_config
def quick():
    # Smoke test: 300 videos, tiny model, 6 epochs, two rounds.
    # Put it after the algorithm: `with groupwtacrnn quick`.
    _data = dict(
        num_labeled=[100, 200],  # two small rounds (10 classes in each split)
        n_train=300,  # training images
        n_test=100,  # test images
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
    """Builds Scanned CIFAR-10 from `_data` and records its description."""
    return gks.load_dataset("cifar10scanned", _data, log=_log, run=_run)


@ex.automain
def main(_run, _log, _data, _algo, seed, gpus, memory_growth, vgg19_weights,
         plot, verbose):
    """Pre-trains on all training videos, then classifies each labelled set."""
    config = gks.algorithm_config(_algo, vgg19_weights)
    gks.prepare_run(gpus, memory_growth, seed)
    data = load_data()
    return gks.train_test_protocol(
        data, config, _run, _log, num_labeled=_data["num_labeled"],
        plot=plot, verbose=verbose)
