"""AdaFocusV2 on FCVID (239 classes, mAP), Wang et al., CVPR 2022.

The original's `scripts/train.sh` run for `--dataset fcvid`, trained and
evaluated as `deltasparse.experiment.adafocus_experiments` describes (16
segments in the prefix-covering order, TSN crops, GroupedSGD with the
per-module multipliers, cosine learning rate, 50 epochs).

Run: python experiments/adafocus_fcvid.py with data_root=<folder> \
         glance_weights=<mobilenet_v2 no-top .h5> local_weights=<resnet50 no-top .h5>
     (named configs: mobilenetv2_patch96/128/160/192, resnet50_patch96/128/160;
     `with demo` on the embedded synthetic focus set; `evaluate with
     weights=<file or run folder>`; `early_exit with weights=...`;
     `resume=True`).
"""

from deltasparse.experiment import make_experiment
from deltasparse.experiment.adafocus_experiments import add_adafocus_experiment

ex = add_adafocus_experiment(make_experiment("adafocus_fcvid"),
                             dataset="fcvid")

if __name__ == "__main__":
    ex.run_commandline()
