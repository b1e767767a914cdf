"""Temporal sparsity on UCF101: time-distributed MobileNet v1 with delta layers.

A `DeltaActivation` (quantized activations, temporal-delta L1 loss) follows
every ReLU6 of a time-distributed MobileNet v1 (27 slots,
`VideoClassifier` preset `mobilenet_delta`), trained on clips
of UCF101 split 1 with the paper's settings (spec `delta_activation.md` §5,
§9: batch 16, T = 2, sp_rate 1e-3, thresholds 14 x 1.0, SGD lr 1e-3,
momentum 0.9, inverse-time decay 5e-4, 30 epochs), then evaluated on the
test split with the inference settings of §7 (T = 32, sequence stride 16,
batch 1), reporting clip accuracy, the temporal-delta density of every
block and the counted MAC ratio. The paper initialised it from the
fine-tuned baseline (`initial_weights=<ucf_mobilenet_baseline or
ucf_mobilenet_l1 run>/last.weights.h5`).

Run: python experiments/ucf_mobilenet_delta.py with seed=123; `with demo` for the
synthetic dataset, `evaluate with weights=<file>`, `resume=True` (what a run
records: `deltasparse.experiment.video_experiments`).
"""

from deltasparse.experiment import make_experiment
from deltasparse.experiment.video_experiments import add_demo
from deltasparse.experiment.video_experiments import add_video_experiment

ex = add_video_experiment(make_experiment("ucf_mobilenet_delta"), "mobilenet",
                          "delta")


@ex.config
def config():
    sp_rate = 1e-3  # weight of every slot's temporal-delta L1 loss
    thr_init = [1.0] * 14  # initial quantization steps: conv1, blocks 1..13


# Synthetic actions (8 classes), 64x64 frames, alpha 0.25, T = 4, from
# scratch, 72 batches per epoch: 7.7 min on 2 shared CPU cores (TensorFlow;
# JAX on XLA:CPU ~30 min, same densities).
add_demo(ex, image_size=[64, 64], alpha=0.25, clip_length=4,
         sequence_stride=4.0, val_sequence_stride=8.0, lr=2e-3, epochs=12)

if __name__ == "__main__":
    ex.run_commandline()
