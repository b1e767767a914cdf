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

from deltasparse.experiment import autoencoder_experiments as shared
from deltasparse.experiment import make_experiment

ex = make_experiment("coil100")
shared.add_shared_config(ex)  # seed, gpus, ..., and every shared default


@ex.config
def config():
    plot = dict(n_videos=None)  # videos_train.png shows all 100 videos
    # COIL-100 (deltasparse.data.COIL100Dataset)
    _data = dict(
        num_labeled=[2, 4, 8, 16, 32],  # labelled frames per object (rounds)
        path="datasets/coil-100",  # folder with obj{i}__{angle}.png
        size=32,  # frame side after resizing
        zca_epsilon=1e-3,  # ZCA epsilon (fit on all frames); None = none
        n_objects=None,  # use objects 1..n_objects only; None = all 100
    )
    _algo = dict(
        batch_size=10,  # videos per batch (also the lifetime competition)
        clip_length=72,  # T of pre-training (classification: num_labeled)
        image_size=[_data["size"], _data["size"]],  # [H, W]
        channels=3,  # RGB
        num_classes=_data["n_objects"] or 100,  # one class per object
        filters=128,  # F, encoder channels
        encoder_kernel_size=5,  # encoder (and ConvMinimalRNN2D) kernel
        decoder_kernel_size=7,  # decoder (Conv2DTranspose) kernel
        epochs=200,  # pre-training epochs; classifier epochs at most
    )


shared.add_named_configs(ex, groups=32, quick_data=dict(
    num_labeled=[2, 4], size=8, n_objects=10))


@ex.automain
def main(_config, _run, _log):
    """Pre-trains on all videos, then classifies at each labelled length."""
    return shared.run_experiment("coil100", _config, _run, _log)
