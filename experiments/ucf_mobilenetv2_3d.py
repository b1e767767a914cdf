"""UCF101 with 3-D MobileNetV2 1.0x (Kopuklu et al. 2019, Efficient-3DCNNs).

The compressed-3d-cnn seed's configuration `--model mobilenetv2 --width_mult 1.0` (spec
`video_systems.md` §A2.1): 16-frame 112x112 clips (temporal random crop,
multi-scale corner crop, flip, ActivityNet mean), PyTorch SGD lr 0.1,
momentum 0.9, dampening 0.9, weight decay 1e-3, batch 32, 20 epochs,
plateau learning-rate reduction (patience 10); clip accuracy of the centre
clip every epoch, then video accuracy over every non-overlapping 16-frame
clip of every test video (top-1, top-5, `val.json`). Fine-tune with
`pretrain_path=<file> ft_portion=last_layer`, or inflate ImageNet weights
with `inflate_from=<keras.applications .h5>`.

Run: python experiments/ucf_mobilenetv2_3d.py with seed=1; `with demo` for the
synthetic dataset, `evaluate with weights=<file or run folder>`,
`resume=True` (what a run records: `deltasparse.experiment.clip3d_experiments`).
"""

from deltasparse.experiment import make_experiment
from deltasparse.experiment.clip3d_experiments import add_clip3d_demo
from deltasparse.experiment.clip3d_experiments import add_clip3d_experiment

ex = add_clip3d_experiment(make_experiment("ucf_mobilenetv2_3d"), "mobilenetv2_3d_1.0x")

# Synthetic actions (8 classes), 8-frame 32x32 clips, Adam, from scratch.
add_clip3d_demo(ex, epochs=8)

if __name__ == "__main__":
    ex.run_commandline()
