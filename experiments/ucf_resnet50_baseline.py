"""UCF101 baseline: ResNet-50 fine-tuned on frames, evaluated on clips.

The dense reference of the temporal-sparsity experiments (spec
`delta_activation.md` §5, §6.2, §9): a 2-D `keras.applications` ResNet-50
(ImageNet weights from the file `imagenet_weights`, never downloaded) with
the original head (7x7 average pool, `fc1024` ReLU, dropout 0.5, `fc101`
softmax) is fine-tuned on single frames of UCF101 split 1, batch 32, SGD
momentum 0.9 with inverse-time decay 5e-4: phase 1 trains the head only (lr
5e-4, 8 epochs), phase 2 also the `conv5_*` layers (the original's
`model.layers[143:]`, from `conv5_block1_1_conv` on; lr 5e-5, epochs 9-16).
Then `TDResNet50` receives the weights by layer name and is evaluated on
test clips with the inference settings of §7 (T = 32, sequence stride 16,
batch 1), with zero-weight L1 slots that measure its activation densities
as the original TD inference did (`measure_activations=False`: the plain
`TDResNet50(sparsity=None)`).

Its `last.weights.h5` seeds the sparse models:
`python experiments/ucf_resnet50_delta.py with stage_a initial_weights=<this run>/last.weights.h5`.

Run: python experiments/ucf_resnet50_baseline.py with imagenet_weights=<resnet50 notop .h5> seed=123
Demo on the embedded synthetic dataset (no download):
python experiments/ucf_resnet50_baseline.py with demo
Evaluate a checkpoint (2-D or TD): python experiments/ucf_resnet50_baseline.py evaluate with weights=<file>
Resume a killed run: start it again with the same config plus resume=True.

UCF101 must be prepared first (see `deltasparse.experiment.video_experiments`
for what a run records under results/ucf_resnet50_baseline/<run id>/).
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
