"""Spatial activation sparsity on UCF101: time-distributed ResNet-50 with L1.

The spatial-sparsity comparison of the delta model: an
`L1ActivityRegularizer` (identity, mean-absolute-activation loss) in each of
the 51 slots of the time-distributed ResNet-50 v1 (the input slot only
measures, `sp_rate` 0), trained on clips of UCF101 split 1 with the paper's
settings (spec `delta_activation.md` §5, §9: batch 16, T = 2, sp_rate 4e-4,
SGD lr 1e-3, momentum 0.9, inverse-time decay 5e-4, up to epoch 30), then
evaluated on the test split with the inference settings of §7 (T = 32,
sequence stride 16, batch 1), reporting clip accuracy and the activation
density (`act_density_<stage>`) of every stage.

The paper's chain: the 2-D baseline (experiments/ucf_resnet50_baseline.py)
-> L1 stage A (`with stage_a initial_weights=<baseline run>/last.weights.h5`:
batch 4, T = 8, 1 epoch) -> the default config
(`with initial_weights=<stage A run>/last.weights.h5 start_epoch=1`).

Validation after every epoch reads the TEST split, as the original first
commit did (HEAD's ResNet generator read the training videos, spec §10
item 1).

Run: python experiments/ucf_resnet50_l1.py with seed=123
Demo on the embedded synthetic dataset (no download):
python experiments/ucf_resnet50_l1.py with demo
Evaluate a checkpoint: python experiments/ucf_resnet50_l1.py evaluate with weights=<file>
Resume a killed run: start it again with the same config plus resume=True.

UCF101 must be prepared first (see `deltasparse.experiment.ucf` for what a
run records under results/ucf_resnet50_l1/<run id>/).
"""

from deltasparse.experiment import make_experiment
from deltasparse.experiment import ucf

ARCHITECTURE = "resnet50"
VARIANT = "l1"

ex = make_experiment("ucf_resnet50_l1")


@ex.config
def config():
    seed = 123  # random seed of Python, NumPy, Keras and the clip pipeline
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
    batch_size = 16  # clips per training batch
    nb_frames = 2  # clip length T during training (and validation)
    frame_stride = 1  # step between the frames of a clip
    sequence_stride = 1.0  # step between clip starts (ceil(T / 2))
    val_sequence_stride = None  # clip step of the validation clips; None = same
    augment = True  # one random affine transform per training clip (§6.3)
    sp_rate = 4e-4  # weight of every slot's activation L1 loss (input: 0)
    bn_momentum = None  # BatchNorm momentum; None = Keras 0.99 (the original)
    optimizer = "sgd"  # 'sgd' (paper) or 'adam' (demo only)
    lr = 1e-3  # initial learning rate
    momentum = 0.9  # SGD momentum (classic)
    decay = 5e-4  # legacy inverse-time decay per step: lr / (1 + decay * t)
    epochs = 30  # last epoch (training runs start_epoch+1 .. epochs)
    start_epoch = 0  # epochs already done by initial_weights (original: 1)
    steps_per_epoch = None  # batches per epoch; None = every training clip
    validation_steps = None  # validation batches per epoch; None = all
    initial_weights = None  # weights file loaded by layer name; None = random
    resume = False  # continue from this configuration's last epoch checkpoint
    run_name = None  # checkpoint folder name; None = hash of the training config
    checkpoint_keep = 2  # epoch checkpoints kept for resuming
    run_eagerly = False  # eager Keras (debugging, tiny tests)
    jit_compile = False  # XLA compilation; "auto" = on GPU only
    verbose = 2  # Keras verbosity: 0 silent, 1 progress bar, 2 line per epoch
    final_evaluation = True  # evaluate on the test split after training
    eval_weights = "last"  # weights of the final evaluation: 'last' or 'best'
    weights = None  # evaluate command: weights file; None = latest checkpoint
    eval_nb_frames = 32  # clip length T of the evaluation (§7)
    eval_sequence_stride = 16  # step between evaluation clip starts (§7)
    eval_batch_size = 1  # evaluation clips per batch (§7)
    eval_steps = None  # evaluation batches; None = every test clip (orig. all)
    eval_shuffle = False  # shuffle test clips (random subset with eval_steps)
    plot_clips = 4  # test clips of the per-layer sparsity plot; 0 = no plot


@ex.named_config
def stage_a():
    # The paper's first L1 stage (from the TD baseline): batch 4, T = 8.
    batch_size = 4  # clips per batch
    nb_frames = 8  # clip length T
    sequence_stride = 4.0  # ceil(T / 2)
    epochs = 1  # produced the original weights.01-0.55


@ex.named_config
def demo():
    # Synthetic actions (8 classes), 32x32 frames, T = 2, from scratch: a
    # smoke-size run (~6 min on 2 CPU cores, accuracy little above chance;
    # ResNet-50 needs far more steps than a CPU demo allows).
    dataset = "synthetic"  # embedded synthetic action dataset, no download
    classes = None  # 8 synthetic classes
    image_size = [32, 32]  # smallest ResNet-50 input (1x1 conv5 maps)
    nb_frames = 2  # clip length T (the paper's)
    sequence_stride = 8.0  # 4 clips per 32-frame training video
    val_sequence_stride = 16.0  # 2 validation clips per test video
    bn_momentum = 0.9  # few hundred steps: let moving statistics converge
    optimizer = "adam"  # from scratch in minutes (the paper fine-tuned SGD)
    lr = 1e-3  # Adam step size
    decay = 0.0  # constant learning rate
    epochs = 4  # 36 batches each
    eval_batch_size = 4  # 48 test videos, one 32-frame clip each


@ex.command
def evaluate(_config, _run, _log):
    """Evaluates `weights` (or the latest checkpoint) on the test split."""
    return ucf.evaluate(_config, _run, _log, ex.path, ARCHITECTURE, VARIANT)


@ex.automain
def main(_config, _run, _log):
    """Trains the L1 ResNet-50 on clips, then evaluates it (§5, §7)."""
    return ucf.train_clips(_config, _run, _log, ex.path, ARCHITECTURE, VARIANT)
