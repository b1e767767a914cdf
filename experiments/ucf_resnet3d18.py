"""UCF101 split 1: 3-D ResNet-18, shortcut A (parameter-free), Hara et al. 2018.

The seed's `--model resnet --model_depth 18 --resnet_shortcut A`, trained and tested as
`deltasparse.experiment.clip3d_experiments` describes (16x112x112 clips,
PyTorch SGD lr 0.1, 20 epochs; video accuracy over all clips, `val.json`).

Run: python experiments/ucf_resnet3d18.py with seed=1 (or `with demo`;
`evaluate with weights=<file or run folder>`; `pretrain_path=...
ft_portion=last_layer`; `resume=True`).
"""

from deltasparse.experiment import make_experiment
from deltasparse.experiment.clip3d_experiments import add_clip3d_demo
from deltasparse.experiment.clip3d_experiments import add_clip3d_experiment

ex = add_clip3d_experiment(make_experiment("ucf_resnet3d18"), "resnet3d_18")

# Synthetic actions, 4-frame 32x32 centre-scale crops, Adam 2e-4, from
# scratch, 15 epochs: video accuracy 52.1 % (top-5 85.4 %, clip 41.1 %,
# chance 12.5 %), 9.0 min on 2 CPU cores (partly shared with other jobs).
add_clip3d_demo(ex, epochs=15)

if __name__ == "__main__":
    ex.run_commandline()
