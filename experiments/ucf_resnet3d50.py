"""UCF101 split 1: 3-D ResNet-50, projection shortcuts B, Hara et al. 2018.

The seed's `--model resnet --model_depth 50 --resnet_shortcut B`, trained and tested as
`deltasparse.experiment.clip3d_experiments` describes (16x112x112 clips,
PyTorch SGD lr 0.1, 20 epochs; video accuracy over all clips, `val.json`).

Run: python experiments/ucf_resnet3d50.py with seed=1 (or `with demo`;
`evaluate with weights=<file or run folder>`; `pretrain_path=...
ft_portion=last_layer`; `resume=True`).
"""

from deltasparse.experiment import make_experiment
from deltasparse.experiment.clip3d_experiments import add_clip3d_demo
from deltasparse.experiment.clip3d_experiments import add_clip3d_experiment

ex = add_clip3d_experiment(make_experiment("ucf_resnet3d50"), "resnet3d_50")

# Synthetic actions, 4-frame 32x32 centre-scale crops, Adam 2e-4, from
# scratch, 15 epochs: 8.4 min on 2 CPU cores (mostly quiet), video accuracy
# 18.8 % (clip 21.6 %, chance 12.5 %): barely above chance; training
# accuracy reaches only 30 %. Too few steps for 46M parameters from scratch.
# Also tried (3 epochs each, then 20 of a 30-epoch run): zero_init_residual
# (no gain), Adam 1e-3 (loss 2.5-3.0), the seed's SGD lr 0.1 (loss 27-50,
# diverging); 20 Adam epochs reach 22-30 % training accuracy, chance on test.
add_clip3d_demo(ex, epochs=15)

if __name__ == "__main__":
    ex.run_commandline()
