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

from deltasparse.experiment import autoencoder_experiments as shared
from deltasparse.experiment import make_experiment

ex = make_experiment("necanimal")
shared.add_shared_config(ex)  # seed, gpus, ..., and every shared default


@ex.config
def config():
    # NEC Animal (pre-training) and COIL-100 (classification)
    _data = dict(
        num_labeled=[2, 4, 8, 16, 32],  # labelled COIL frames per object
        path="datasets/animalclean",  # NEC Animal folder
        coil_path="datasets/coil-100",  # COIL-100 folder
        size=32,  # frame side after resizing (both data sets)
        zca_epsilon=1e-3,  # ZCA epsilon (each data set its own); None = none
        pad_value=-1,  # fill of the frames after a clip's end (before /255)
        n_videos=None,  # use the first n_videos NEC clips; None = all
        last_end=4371,  # forced last frame of the last NEC clip (original)
        n_objects=None,  # use COIL objects 1..n_objects; None = all 100
    )
    _algo = dict(
        batch_size=10,  # videos per batch (also the lifetime competition)
        clip_length=79,  # T: NEC clips are padded to this many frames
        image_size=[_data["size"], _data["size"]],  # [H, W]
        channels=3,  # RGB
        num_classes=_data["n_objects"] or 100,  # one class per COIL object
        filters=128,  # F, encoder channels
        encoder_kernel_size=5,  # encoder (and ConvMinimalRNN2D) kernel
        decoder_kernel_size=7,  # decoder (Conv2DTranspose) kernel
        epochs=300,  # pre-training epochs; classifier epochs at most
        pad_value=-1,  # masked loss on true != pad_value (inactive, see docs)
    )


shared.add_named_configs(ex, groups=32, quick_data=dict(
    num_labeled=[2, 4], size=8, n_objects=10))


@ex.automain
def main(_config, _run, _log):
    """Pre-trains on NEC Animal, then classifies COIL-100 clips."""
    return shared.run_experiment("necanimal", _config, _run, _log)
