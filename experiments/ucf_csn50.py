"""UCF101 split 1: CSN-50 interaction-reduced, Tran et al. 2019.

The seed's `--model csn --model_depth 50 --model_type ir`, trained and tested as
`deltasparse.experiment.clip3d_experiments` describes (16x112x112 clips,
PyTorch SGD lr 0.1, 20 epochs; video accuracy over all clips, `val.json`).

Run: python experiments/ucf_csn50.py with seed=1 (or `with demo`;
`evaluate with weights=<file or run folder>`; `pretrain_path=...
ft_portion=last_layer`; `resume=True`).
"""

from deltasparse.experiment import make_experiment
from deltasparse.experiment.clip3d_experiments import add_clip3d_demo
from deltasparse.experiment.clip3d_experiments import add_clip3d_experiment

ex = add_clip3d_experiment(make_experiment("ucf_csn50"), "csn_ir_50")

# Synthetic actions, 4-frame 32x32 centre-scale crops, from scratch, Adam
# 1e-3 with zero_init_residual, 30 epochs: 9.0 min on 2 quiet CPU cores
# (DepthwiseConv3D), video accuracy 47.9 % (top-5 93.8 %, chance 12.5 %).
# Before (8 epochs, the seed's BatchNorm scales): 20.8 %.
add_clip3d_demo(ex, epochs=30, lr=1e-3, zero_init_residual=True)

if __name__ == "__main__":
    ex.run_commandline()
