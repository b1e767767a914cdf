"""UCF101 baseline: MobileNet v1 fine-tuned on frames, evaluated on clips.

The dense reference of the MobileNet temporal-sparsity experiments (spec
`delta_activation.md` §5, §6.2, §9): the MobileNet v1 video classifier
(`VideoClassifier` preset `mobilenet_baseline`, the original convolutional
head: global average pool, `reshape_1`, dropout 0.001, `conv_preds` 1x1,
`reshape_2`, softmax `predictions`; ImageNet weights from the file
`imagenet_weights`, never downloaded) is fine-tuned, every layer trainable,
on 1-frame clips of UCF101 split 1: batch 32, SGD lr 5e-4, momentum 0.9,
inverse-time decay 5e-4, 30 epochs. The same model is then evaluated on
test clips with the inference settings of §7 (T = 32, sequence stride 16,
batch 1), with zero-weight L1 slots that measure its activation densities
(the original `TD_MobileNet` inference had none; `measure_activations=False`
gives that plain model, with the same accuracy and loss).

Its `last.weights.h5` seeds `ucf_mobilenet_l1.py with initial_weights=<file>`.
Run it with `python experiments/ucf_mobilenet_baseline.py with seed=123
imagenet_weights=<file>`; `with demo`, `evaluate with weights=<file>` and
`resume=True` work as for every UCF script.
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
