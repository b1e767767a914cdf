"""UCF101 baseline: ResNet-50 fine-tuned on frames, evaluated on clips.

The dense reference of the temporal-sparsity experiments (spec
`delta_activation.md` §5, §6.2, §9): the ResNet-50 video classifier
(`VideoClassifier` preset `resnet50_baseline`, the original head: 7x7
average pool, `fc1024` ReLU, dropout 0.5, `fc101` softmax; ImageNet weights
from the `keras.applications` file `imagenet_weights`, by layer name, never
downloaded) is fine-tuned on 1-frame clips of UCF101 split 1 (the 2-D
model), batch 32, SGD momentum 0.9, inverse-time decay 5e-4: phase 1 trains
the head only (lr 5e-4, 8 epochs), phase 2 also the `conv5_*` layers (the
original's `model.layers[143:]`; lr 5e-5, epochs 9-16). The same model is
then evaluated on test clips with the inference settings of §7 (T = 32,
sequence stride 16, batch 1), with zero-weight L1 slots that measure its
activation densities as the original TD inference did
(`measure_activations=False`: no slots).

Run: python experiments/ucf_resnet50_baseline.py with seed=123
imagenet_weights=<file>; `with demo`, `evaluate with weights=<file>`,
`resume=True` as for every UCF script. Its `last.weights.h5` seeds
`ucf_resnet50_delta.py with stage_a initial_weights=<file>`.
"""

from deltasparse.experiment import make_experiment
from deltasparse.experiment.video_experiments import add_demo
from deltasparse.experiment.video_experiments import add_video_experiment

ex = add_video_experiment(make_experiment("ucf_resnet50_baseline"),
                          "resnet50", None)


@ex.config
def config():
    head_lr = 5e-4  # phase 1 (head only) learning rate
    head_epochs = 8  # phase 1 epochs
    lr = 5e-5  # phase 2 learning rate
    finetune_prefix = "conv5_"  # phase 2 trains these layers + head; None = all
    epochs = 16  # last epoch of phase 2 (phase 2 runs head_epochs+1 .. epochs)


# Synthetic actions (8 classes), 32x32 frames, from scratch: one head-only
# epoch (Adam 1e-3), then 4 epochs of every layer (no ImageNet weights),
# 36 batches each.
add_demo(ex, image_size=[32, 32], frame_step=4, val_frame_step=16,
         head_lr=1e-3, head_epochs=1, lr=1e-3, finetune_prefix=None, epochs=5)

if __name__ == "__main__":
    ex.run_commandline()
