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

ex = add_compression_experiment(make_experiment("ucf_compress"),
                                "resnet3d_18")

if __name__ == "__main__":
    ex.run_commandline()
