"""UCF101 split 1: 3-D MobileNetV2 1.0x, Kopuklu et al. 2019 (Efficient-3DCNNs).

The seed's `--model mobilenetv2 --width_mult 1.0`, trained and tested as
`deltasparse.experiment.clip3d_experiments` describes (16x112x112 clips,
PyTorch SGD lr 0.1, 20 epochs; video accuracy over all clips, `val.json`).

Run: python experiments/ucf_mobilenetv2_3d.py with seed=1 (or `with demo`;
`evaluate with weights=<file or run folder>`; `pretrain_path=...
ft_portion=last_layer`; `resume=True`).
"""

from deltasparse.experiment import make_experiment
from deltasparse.experiment.clip3d_experiments import add_clip3d_demo
from deltasparse.experiment.clip3d_experiments import add_clip3d_experiment

ex = add_clip3d_experiment(make_experiment("ucf_mobilenetv2_3d"), "mobilenetv2_3d_1.0x")

# Synthetic actions, 4-frame 32x32 centre-scale crops, Adam 1e-3, from
# scratch, 32 epochs: 8.8 min on 2 quiet CPU cores (DepthwiseConv3D), video
# accuracy 22.9 % (top-5 83.3 %, chance 12.5 %): above chance, the weakest
# demo. Tried: 12 epochs (14.6 %), lr 3e-3 batch 16 (no better), 64x64 with
# batch 16 (no learning in 8 epochs), zero_init_residual (stalls: loss
# fixed at ln 8).
add_clip3d_demo(ex, epochs=32, lr=1e-3)

if __name__ == "__main__":
    ex.run_commandline()
