"""Group k-sparse temporal CNN pre-training on Rotated MNIST (spec §6.2).

Every MNIST digit becomes a 36-frame rotation video of its top-left 14x14
quarter. An autoencoder (chosen by a named config) is pre-trained on all
60,000 training videos; then, for each labelled-set size, a linear
classifier on the frozen encoder ("stacked") and the fine-tuned whole
("end-to-end") are trained and evaluated on the 10,000 test videos. The
paper used seed 123.

Run (paper protocol; add nospatial or nolifetime for the ablations):
    python experiments/mnistrotated.py with groupwtacrnn seed=123
Smoke test (the whole protocol in about a minute on 2 CPU cores):
    python experiments/mnistrotated.py with groupwtacrnn quick
Show the merged config:
    python experiments/mnistrotated.py print_config with groupwtacrnn nospatial

Algorithms (named configs): wtacnn, wtacrnn, groupwtacnn, groupwtacrnn,
slowgroupwtacnn, denoisingcnn, denoisingcrnn, randominitcnn, randominitcrnn,
vgg19 (needs vgg19_weights=<path>). Ablations: nospatial, nolifetime.
MNIST is read from `_data.path` or the Keras cache and never downloaded;
without it scikit-learn's digits are used instead (logged, recorded in the
run's info as data.source). Runs are stored under
results/mnistrotated/<run id>/ (root: $DELTASPARSE_RESULTS).
"""

from deltasparse.experiment import autoencoder_experiments as shared
from deltasparse.experiment import make_experiment

ex = make_experiment("mnistrotated")
shared.add_shared_config(ex)  # seed, gpus, ..., and every shared default


@ex.config
def config():
    # Rotated MNIST (deltasparse.data.MNISTRotatedDataset)
    _data = dict(
        # labelled training videos per round (total, not per class)
        num_labeled=[300, 600, 1000, 2000, 5000, 10000, 54000],
        clip_length=36,  # frames per video: a full turn in 10 degree steps
        size=14,  # side of the top-left crop of the 28x28 digit
        zca_epsilon=None,  # ZCA whitening epsilon; None = no whitening
        path=None,  # mnist.npz; None = Keras cache (~/.keras/datasets)
        fallback=True,  # without MNIST, use scikit-learn's digits (logged)
        n_train=None,  # use only the first n_train training digits; None = all
        n_test=None,  # use only the first n_test test digits; None = all
    )
    _algo = dict(
        clip_length=_data["clip_length"],  # T, frames per video
        image_size=[_data["size"], _data["size"]],  # [H, W]
        channels=1,  # grayscale
        num_classes=10,  # digit classes
        filters=64,  # F, encoder channels
        encoder_kernel_size=3,  # encoder (and ConvMinimalRNN2D) kernel
        decoder_kernel_size=11,  # decoder (Conv2DTranspose) kernel
        carry_over=True,  # paper: head and optimizers carry over rounds
    )


shared.add_named_configs(ex, groups=16, vgg19_algo={"channels": 3}, quick_data=dict(
    num_labeled=[100, 200], clip_length=8, n_train=300, n_test=100))


@ex.automain
def main(_config, _run, _log):
    """Pre-trains on all training videos, then classifies each labelled set."""
    return shared.run_experiment("mnistrotated", _config, _run, _log)
