"""Spatial activation sparsity on UCF101: time-distributed MobileNet with L1.

The spatial-sparsity variant of the delta MobileNet: an
`L1ActivityRegularizer` (identity, mean-absolute-activation loss) in each of
its 27 slots, trained on clips of UCF101 split 1 and evaluated on the test
split with the inference settings of spec `delta_activation.md` §7 (T = 32,
sequence stride 16, batch 1), reporting clip accuracy and the activation
density (`act_density_<block>`) of every block.

The original `mobilenet_L1_model.py` is missing from its repository (spec
§4.6, §10 item 2): only its checkpoint `MobileNet_L1/weights.01-0.76`, which
seeded the delta MobileNet, is known. Its settings here are assumptions:
the delta MobileNet's schedule (batch 16, T = 2, SGD lr 1e-3, momentum 0.9,
inverse-time decay 5e-4) with the L1 weight of the ResNet-50 L1 script
(sp_rate 4e-4). The chain: the 2-D baseline
(experiments/ucf_mobilenet_baseline.py) -> this model
(`with initial_weights=<baseline run>/last.weights.h5`) -> the delta
MobileNet (`initial_weights=<this run>/last.weights.h5`).

Run: python experiments/ucf_mobilenet_l1.py with seed=123; `with demo` for the
synthetic dataset, `evaluate with weights=<file>`, `resume=True` (what a run
records: `deltasparse.experiment.video_experiments`).
"""

from deltasparse.experiment import make_experiment
from deltasparse.experiment.video_experiments import add_demo
from deltasparse.experiment.video_experiments import add_video_experiment

ex = add_video_experiment(make_experiment("ucf_mobilenet_l1"), "mobilenet",
                          "l1")


@ex.config
def config():
    sp_rate = 4e-4  # weight of every slot's activation L1 loss (assumed)
    epochs = 30  # last epoch (training runs start_epoch+1 .. epochs; assumed)


# Synthetic actions (8 classes), 64x64 frames, alpha 0.25, T = 4, from
# scratch (72 batches per epoch).
add_demo(ex, image_size=[64, 64], alpha=0.25, clip_length=4,
         sequence_stride=4.0, val_sequence_stride=8.0, lr=2e-3, epochs=8)

if __name__ == "__main__":
    ex.run_commandline()
