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

# Synthetic actions, 4-frame 32x32 centre-scale crops, Adam 1e-3, from
# scratch, 8 epochs: 2.6 min on 2 CPU cores (DepthwiseConv3D), video
# accuracy 20.8 % (top-5 75.0 %, chance 12.5 %): barely above chance.
add_clip3d_demo(ex, epochs=8, lr=1e-3)

if __name__ == "__main__":
    ex.run_commandline()
