"""Package-level contract: cheap import, public names, version."""

import subprocess
import sys


def _run(code):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def test_import_has_no_heavy_side_effects():
    line = _run(
        "import sys, deltasparse\n"
        "heavy = ['cv2', 'sacred', 'tensorflow_datasets', 'tensorflow', 'keras']\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    assert line == "[]"


def test_layers_and_ops_do_not_pull_data_or_experiment_code():
    # Keras itself may import cv2 when it is installed; deltasparse's own
    # layers and ops must add neither Sacred, tf.data helpers of ours, nor
    # dataset libraries.
    line = _run(
        "import sys, keras\n"
        "before = set(sys.modules)\n"
        "import deltasparse\n"
        "deltasparse.layers.DeltaActivation; deltasparse.ops.quantize\n"
        "new = set(sys.modules) - before\n"
        "bad = [m for m in new if m.split('.')[0] in ('cv2', 'sacred', "
        "'tensorflow_datasets') or m.startswith(('deltasparse.data', "
        "'deltasparse.experiment'))]\n"
        "print(sorted(bad))"
    )
    assert line == "[]"


def test_export_and_inference_do_not_pull_experiment_code():
    line = _run(
        "import sys\n"
        "import deltasparse.export.cli, deltasparse.export.formats\n"
        "import deltasparse.inference.demo, deltasparse.evaluation\n"
        "bad = [m for m in sys.modules if m.startswith("
        "('deltasparse.experiment', 'sacred'))]\n"
        "print(sorted(bad))"
    )
    assert line == "[]"


def test_public_api():
    import deltasparse

    assert isinstance(deltasparse.__version__, str)
    for name in ["DeltaActivation", "L1ActivityRegularizer", "KSparse",
                 "GroupKSparse", "ConvMinimalRNN2D", "ConvMinimalRNN2DCell",
                 "FoldTime", "UnfoldTime"]:
        assert hasattr(deltasparse.layers, name), name
    for name in ["quantize", "n_p", "group_norms", "ksparse", "group_ksparse",
                 "diff", "cumsum", "kron"]:
        assert callable(getattr(deltasparse.ops, name)), name
