"""Temporal sparsity on UCF101: time-distributed ResNet-50 with delta layers.

A `DeltaActivation` (quantized activations, temporal-delta L1 loss) sits on
the input and after every activation of a time-distributed ResNet-50 v1 (51
slots, `VideoClassifier` preset `resnet50_delta`), trained on clips of
UCF101 split 1 with the paper's current settings (spec
`delta_activation.md` §5, §9, "stage B": batch 16, T = 2, sp_rate 1e-6,
thresholds [3, 3, 3, 4, 4, 4, 3], SGD lr 1e-3, momentum 0.9, inverse-time
decay 5e-4, up to epoch 30), then evaluated on the test split with the
inference settings of §7 (T = 32, sequence stride 16, batch 1), reporting
clip accuracy, the temporal-delta density of every stage and the counted
MAC ratio.

The paper's chain: the 2-D baseline (experiments/ucf_resnet50_baseline.py)
-> delta stage A (`with stage_a initial_weights=<baseline run>/last.weights.h5`:
batch 4, T = 8, sp_rate 1e-4, 8 epochs) -> stage B (the default config,
`with initial_weights=<stage A run>/last.weights.h5 start_epoch=8`).

Run: python experiments/ucf_resnet50_delta.py with seed=123; `with demo` for the
synthetic dataset, `evaluate with weights=<file>`, `resume=True` (what a run
records: `deltasparse.experiment.video_experiments`).
"""

from deltasparse.experiment import make_experiment
from deltasparse.experiment.video_experiments import add_demo
from deltasparse.experiment.video_experiments import add_video_experiment

ex = add_video_experiment(make_experiment("ucf_resnet50_delta"), "resnet50",
                          "delta")


@ex.config
def config():
    sp_rate = 1e-6  # weight of every slot's temporal-delta L1 loss (stage B)
    thr_init = [3, 3, 3, 4, 4, 4, 3]  # initial steps: in, conv1, conv2-5, fc
    start_epoch = 0  # epochs already done by initial_weights (stage B: 8)


@ex.named_config
def stage_a():
    # The paper's first delta stage (from the TD baseline): batch 4, T = 8.
    batch_size = 4  # clips per batch
    clip_length = 8  # clip length T
    sequence_stride = 4.0  # ceil(T / 2)
    sp_rate = 1e-4  # stronger temporal-delta loss
    epochs = 8  # produced the original weights.08-0.60


# Synthetic actions (8 classes), 32x32 frames (the smallest ResNet-50 input:
# 1x1 conv5 maps), T = 2, from scratch: a smoke-size run (~6 min on 2 CPU
# cores, accuracy little above chance; ResNet-50 needs far more steps).
add_demo(ex, image_size=[32, 32], clip_length=2, sequence_stride=8.0,
         val_sequence_stride=16.0, sp_rate=1e-5, thr_init=[8, 1, 1, 1, 1, 1, 1],
         lr=1e-3, epochs=4)

if __name__ == "__main__":
    ex.run_commandline()
