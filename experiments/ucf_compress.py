"""UCF101 split 1: compress a trained video classifier (compressed-3d-cnn).

One named config per method of the seed's `--compression_type` (spec
`video_systems.md` §A2.3): `prune` (element-wise, 20 % conv/BN, 80 %
classifier, one-shot), `filter_prune` (50 % of the filters, thinned),
`qat` (4-bit weights and activations), `ptq` (8-bit weights), `kd`
(distil the trained `architecture`, the teacher, into `student`). Before
and after: video accuracy, `.keras` bytes, non-zero parameters, counted
MACs, CPU ms per clip (`deltasparse.experiment.compression_experiments`).

Run: python experiments/ucf_compress.py with prune architecture=resnet3d_18
weights=results/ucf_resnet3d18/<run id>/last.weights.h5 (or `with demo
prune`, `with demo kd`, ...; `kd architecture=resnet3d_101 weights=...
student=resnet3d_18`).
"""

from deltasparse.experiment import make_experiment
from deltasparse.experiment.compression_experiments import (
    add_compression_experiment)

# Demos (synthetic actions, 4x32x32, base resnet3d_18 6 epochs of Adam 2e-4:
# 4.5 min, cached), 2 CPU cores shared with other users (load 6-8), video
# accuracy before -> after, parameters / non-zero, ms per clip unreliable
# under that load: base 27.1 %, 33.0 M parameters, 0.198 GMACs, 132 MB;
# prune (2 epochs) 37.5 %, non-zero 0.80x, gzip weights 0.86x, 8.6 min;
# filter_prune (2 epochs) 18.8 %, parameters 0.50x, MACs 0.67x, 3.6 min;
# qat (1 epoch, 4/4 bits) 29.2 %, 2.9 min; ptq (8-bit weights) 27.1 %,
# 1.3 min; kd into resnet3d_10 (3 epochs from scratch) 33.3 %, parameters
# 0.43x, MACs 0.64x, 3.9 min.
ex = add_compression_experiment(make_experiment("ucf_compress"),
                                "resnet3d_18")

if __name__ == "__main__":
    ex.run_commandline()
