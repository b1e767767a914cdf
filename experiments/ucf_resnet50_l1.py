"""Spatial activation sparsity on UCF101: time-distributed ResNet-50 with L1.

The spatial-sparsity comparison of the delta model: an
`L1ActivityRegularizer` (activation L1 loss, activation density) sits in
the 51 slots of the time-distributed ResNet-50 v1 (`VideoClassifier` preset
`resnet50_l1`; the input slot only measures, `sp_rate` 0), trained on clips
of UCF101 split 1 with the paper's settings (spec `delta_activation.md` §5,
§9: batch 16, T = 2, sp_rate 4e-4, SGD lr 1e-3, momentum 0.9, inverse-time
decay 5e-4, up to epoch 30), then evaluated on the test split with the
inference settings of §7 (T = 32, sequence stride 16, batch 1), reporting
clip accuracy and the activation density (`act_density_<stage>`) of every
stage.

The paper's chain: the 2-D baseline (experiments/ucf_resnet50_baseline.py)
-> L1 stage A (`with stage_a initial_weights=<baseline run>/last.weights.h5`:
batch 4, T = 8, 1 epoch) -> the default config
(`with initial_weights=<stage A run>/last.weights.h5 start_epoch=1`).

Run: python experiments/ucf_resnet50_l1.py with seed=123; `with demo` for the
synthetic dataset, `evaluate with weights=<file>`, `resume=True` (what a run
records: `deltasparse.experiment.video_experiments`).
"""

from deltasparse.experiment import make_experiment
from deltasparse.experiment.video_experiments import add_demo
from deltasparse.experiment.video_experiments import add_video_experiment

ex = add_video_experiment(make_experiment("ucf_resnet50_l1"), "resnet50",
                          "l1")


@ex.config
def config():
    sp_rate = 4e-4  # weight of every slot's activation L1 loss (input: 0)
    start_epoch = 0  # epochs already done by initial_weights (original: 1)


@ex.named_config
def stage_a():
    # The paper's first L1 stage (from the TD baseline): batch 4, T = 8.
    batch_size = 4  # clips per batch
    clip_length = 8  # clip length T
    sequence_stride = 4.0  # ceil(T / 2)
    epochs = 1  # produced the original weights.01-0.55


# Synthetic actions (8 classes), 32x32 frames, T = 2, from scratch: a
# smoke-size run (accuracy little above chance).
add_demo(ex, image_size=[32, 32], clip_length=2, sequence_stride=8.0,
         val_sequence_stride=16.0, lr=1e-3, epochs=4)

if __name__ == "__main__":
    ex.run_commandline()
