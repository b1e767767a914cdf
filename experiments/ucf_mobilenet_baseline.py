"""UCF101 baseline: MobileNet v1 fine-tuned on frames, evaluated on clips.

The dense reference of the MobileNet temporal-sparsity experiments (spec
`delta_activation.md` §5, §6.2, §9): a 2-D `keras.applications` MobileNet v1
(ImageNet weights from the file `imagenet_weights`, never downloaded) with
the original convolutional head (global average pool, `reshape_1`, dropout
0.001, `conv_preds` 1x1, `reshape_2`, softmax `predictions`) is fine-tuned,
every layer trainable, on single frames of UCF101 split 1: batch 32, SGD lr
5e-4, momentum 0.9, inverse-time decay 5e-4, 30 epochs. Then `TDMobileNet`
receives the weights by layer name and is evaluated on test clips with the
inference settings of §7 (T = 32, sequence stride 16, batch 1), with
zero-weight L1 slots that measure its activation densities; the original
`TD_MobileNet` inference had none (`measure_activations=False` gives that
plain `TDMobileNet(sparsity=None)`; accuracy and loss are the same).

Its `last.weights.h5` seeds the sparse models:
`python experiments/ucf_mobilenet_l1.py with initial_weights=<this run>/last.weights.h5`.

Run: python experiments/ucf_mobilenet_baseline.py with imagenet_weights=<mobilenet_1_0_224_tf_no_top.h5> seed=123
Demo on the embedded synthetic dataset (no download):
python experiments/ucf_mobilenet_baseline.py with demo
Evaluate a checkpoint (2-D or TD): python experiments/ucf_mobilenet_baseline.py evaluate with weights=<file>
Resume a killed run: start it again with the same config plus resume=True.

UCF101 must be prepared first (see `deltasparse.experiment.video_experiments`
for what a run records under results/ucf_mobilenet_baseline/<run id>/).
"""

from deltasparse.experiment import make_experiment
from deltasparse.experiment.video_experiments import add_demo
from deltasparse.experiment.video_experiments import add_video_experiment

ex = add_video_experiment(make_experiment("ucf_mobilenet_baseline"),
                          "mobilenet", None)


@ex.config
def config():
    lr = 5e-4  # learning rate (every layer trainable)
    epochs = 30  # last epoch


# Synthetic actions (8 classes), 64x64 frames, alpha 0.25, from scratch
# (72 batches per epoch).
add_demo(ex, image_size=[64, 64], alpha=0.25, frame_step=2, val_frame_step=16,
         lr=2e-3, epochs=8)

if __name__ == "__main__":
    ex.run_commandline()
