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

UCF101 must be prepared first (see `deltasparse.experiment.ucf` for what a
run records under results/ucf_resnet50_baseline/<run id>/).
"""

from deltasparse.experiment import make_experiment
from deltasparse.experiment import ucf

ARCHITECTURE = "resnet50"
VARIANT = "baseline"

ex = make_experiment("ucf_resnet50_baseline")


@ex.config
def config():
    seed = 123  # random seed of Python, NumPy, Keras and the data pipeline
    gpus = None  # GPUs to use: None = all, "0" or [0, 1], "" = CPU only
    memory_growth = True  # allocate GPU memory on demand
    dataset = "ucf101"  # 'ucf101' (prepared split at data_root) or 'synthetic'
    data_root = "data/ucf101/split1"  # prepared split: train/, test/, *_frames/
    source = "frames"  # read 'frames' (extracted JPEGs) or decode 'video'
    # dataset='synthetic' only: arguments of ensure_synthetic_ucf
    synthetic = dict(
        cache_dir=None,  # None = $DELTASPARSE_HOME or ~/.deltasparse
        classes=None,  # None = all 8 action classes; n = the first n
        videos_per_class=24,  # videos per class
        clips_per_group=3,  # videos per group (a group shares a background)
        test_groups=2,  # the first groups of every class form the test set
        frames=32,  # frames per video
        size=64,  # frame side in pixels
    )
    classes = 101  # expected number of classes (None = take it from the data)
    class_limit = None  # use only the first N classes (sorted names); None = all
    image_size = [224, 224]  # frame height and width fed to the network
    batch_size = 32  # frames per training batch
    frame_step = 1  # train on every frame_step-th frame (original: every one)
    val_frame_step = None  # frame step of the validation frames; None = same
    augment = True  # random affine augmentation per frame (§6.2)
    imagenet_weights = None  # keras.applications ResNet50 notop .h5 (a path)
    initial_weights = None  # another weights file loaded by name, after it
    bn_momentum = None  # BatchNorm momentum; None = Keras 0.99 (the original)
    optimizer = "sgd"  # 'sgd' (paper) or 'adam' (demo only)
    head_lr = 5e-4  # phase 1 (head only) learning rate
    head_epochs = 8  # phase 1 epochs
    lr = 5e-5  # phase 2 learning rate
    finetune_prefix = "conv5_"  # phase 2 trains these layers + head; None = all
    momentum = 0.9  # SGD momentum (classic)
    decay = 5e-4  # legacy inverse-time decay per step: lr / (1 + decay * t)
    epochs = 16  # last epoch of phase 2 (phase 2 runs head_epochs+1 .. epochs)
    steps_per_epoch = None  # batches per epoch; None = every training frame
    validation_steps = None  # validation batches per epoch; None = all
    resume = False  # continue from this configuration's last epoch checkpoint
    run_name = None  # checkpoint folder name; None = hash of the training config
    checkpoint_keep = 2  # epoch checkpoints kept for resuming
    run_eagerly = False  # eager Keras (debugging, tiny tests)
    jit_compile = False  # XLA compilation; "auto" = on GPU only
    verbose = 2  # Keras verbosity: 0 silent, 1 progress bar, 2 line per epoch
    final_evaluation = True  # evaluate the TD model on test clips afterwards
    eval_weights = "last"  # weights of the final evaluation: 'last' or 'best'
    measure_activations = True  # TD model with sp_rate-0 L1 slots (densities)
    weights = None  # evaluate command: weights file; None = latest checkpoint
    eval_nb_frames = 32  # clip length T of the evaluation (§7)
    eval_sequence_stride = 16  # step between evaluation clip starts (§7)
    eval_batch_size = 1  # evaluation clips per batch (§7)
    eval_steps = None  # evaluation batches; None = all (the original: 1000)
    eval_shuffle = False  # shuffle test clips (random subset with eval_steps)
    plot_clips = 4  # test clips of the per-layer density plot; 0 = no plot


@ex.named_config
def demo():
    # Synthetic actions (8 classes), 32x32 frames, from scratch (~6 min on 2
    # CPU cores).
    dataset = "synthetic"  # embedded synthetic action dataset, no download
    classes = None  # 8 synthetic classes
    image_size = [32, 32]  # smallest ResNet-50 input (1x1 conv5 maps)
    frame_step = 4  # 8 frames per training video
    val_frame_step = 16  # 2 frames per test video
    bn_momentum = 0.9  # few hundred steps: let moving statistics converge
    optimizer = "adam"  # from scratch in minutes (the paper fine-tuned SGD)
    head_lr = 1e-3  # phase 1 (head only) Adam step size
    head_epochs = 1  # one head-only epoch
    lr = 1e-3  # phase 2 Adam step size
    finetune_prefix = None  # no ImageNet weights: train every layer
    decay = 0.0  # constant learning rate
    epochs = 5  # 4 epochs of phase 2, 36 batches each
    eval_batch_size = 4  # 48 test videos, one 32-frame clip each


@ex.command
def evaluate(_config, _run, _log):
    """Evaluates `weights` (or the latest checkpoint) as a TD model on clips."""
    return ucf.evaluate(_config, _run, _log, ex.path, ARCHITECTURE, VARIANT)


@ex.automain
def main(_config, _run, _log):
    """Fine-tunes the 2-D ResNet-50 on frames, evaluates it on clips."""
    return ucf.train_frames(_config, _run, _log, ex.path, ARCHITECTURE)
