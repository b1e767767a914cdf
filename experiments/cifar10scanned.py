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

from deltasparse.experiment import autoencoder_experiments as shared
from deltasparse.experiment import make_experiment

ex = make_experiment("cifar10scanned")
shared.add_shared_config(ex)  # seed, gpus, ..., and every shared default


@ex.config
def config():
    # Scanned CIFAR-10 (deltasparse.data.CIFAR10ScannedDataset)
    _data = dict(
        # labelled training videos per round (total, not per class)
        num_labeled=[300, 600, 1000, 2000, 5000, 10000, 45000],
        stride=8,  # step of the scanning window
        size=16,  # side of the scanning window
        zca_epsilon=1e-3,  # ZCA whitening epsilon; None = no whitening
        path=None,  # CIFAR-10 folder or .tar.gz; None = Keras cache
        n_train=None,  # use only the first n_train training images
        n_test=None,  # use only the first n_test test images
    )
    _algo = dict(
        # T: frames per video, 3 x 3 = 9 windows for size 16, stride 8
        clip_length=((32 - _data["size"]) // _data["stride"] + 1) ** 2,
        image_size=[_data["size"], _data["size"]],  # [H, W]
        channels=3,  # RGB
        num_classes=10,  # CIFAR-10 classes
        filters=256,  # F, encoder channels
        encoder_kernel_size=5,  # encoder (and ConvMinimalRNN2D) kernel
        decoder_kernel_size=7,  # decoder (Conv2DTranspose) kernel
        carry_over=True,  # paper: head and optimizers carry over rounds
    )


shared.add_named_configs(ex, groups=64, quick_data=dict(
    num_labeled=[100, 200], n_train=300, n_test=100))


@ex.automain
def main(_config, _run, _log):
    """Pre-trains on all training videos, then classifies each labelled set."""
    return shared.run_experiment("cifar10scanned", _config, _run, _log)
