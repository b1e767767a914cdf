"""Unit tests of `deltasparse.experiment.ucf` (no training; a few seconds).

The end-to-end runs of the six scripts are in
`tests/experiments/test_ucf_experiments.py`.
"""

import os

import keras
import numpy as np
import pytest

from deltasparse.experiment import ucf
from deltasparse.experiment.errors import ConfigurationError
from deltasparse.experiment.errors import DataNotFoundError
from deltasparse.models.video_classifier import VideoClassifier
from deltasparse.models.weight_transfer import transfer_weights


def _fake_split(root, classes=("B", "A"), frames=True):
    for subset in ("train", "test"):
        for c in classes:
            os.makedirs(os.path.join(root, subset, c), exist_ok=True)
            if frames:
                os.makedirs(os.path.join(root, f"{subset}_frames", c),
                            exist_ok=True)
    return str(root)


def test_missing_prepared_split_names_the_command(tmp_path):
    with pytest.raises(DataNotFoundError) as info:
        ucf.resolve_data_root("ucf101", str(tmp_path / "nope"))
    message = str(info.value)
    assert ucf.PREPARE_COMMAND in message
    assert "python dataset_preparation/prepare_ucf101.py" in message
    assert "data_root='" in message and "with demo" in message
    # One line of text, no traceback for the CLI.
    assert "\n" not in message and info.value.print_traceback is False
    # Videos present but no extracted frames: frames/ is what is missing.
    root = _fake_split(tmp_path / "split1", frames=False)
    with pytest.raises(DataNotFoundError, match="train_frames/"):
        ucf.resolve_data_root("ucf101", root, source="frames")
    assert ucf.resolve_data_root("ucf101", root, source="video") == root


def test_resolve_and_class_names(tmp_path):
    root = _fake_split(tmp_path / "split1", classes=("b", "C", "a"))
    assert ucf.resolve_data_root("ucf101", root) == root
    # Python-sorted (case-sensitive) names, like the original (§10 item 14).
    assert ucf.class_names(root) == ["C", "a", "b"]
    assert ucf.class_names(root, classes=2, class_limit=2) == ["C", "a"]
    with pytest.raises(ConfigurationError, match="expects `classes`=101"):
        ucf.class_names(root, classes=101)
    with pytest.raises(ConfigurationError, match="`dataset` must be one"):
        ucf.resolve_data_root("kinetics", root)


def test_config_key_ignores_non_training_keys():
    base = {"lr": 1e-3, "epochs": 30, "resume": False, "gpus": None,
            "eval_steps": None, "seed": 1, "thr_init": [1.0, 2.0]}
    key = ucf.config_key(base)
    assert key.startswith("cfg-") and len(key) == 16
    same = dict(base, epochs=5, resume=True, gpus="0", eval_steps=1000)
    assert ucf.config_key(same) == key
    assert ucf.config_key(dict(base, lr=1e-2)) != key
    assert ucf.config_key(dict(base, seed=2)) != key
    assert ucf.config_key(dict(base, run_name="paper")) == "paper"
    with pytest.raises(ConfigurationError, match="run_name"):
        ucf.config_key(dict(base, run_name="../x"))


def test_optimizer_is_sgd_with_legacy_inverse_time_decay():
    opt = ucf.make_optimizer(1e-3, momentum=0.9, decay=5e-4)
    assert isinstance(opt, keras.optimizers.SGD)
    assert opt.momentum == pytest.approx(0.9) and not opt.nesterov
    for step in (0, 10, 2000):
        opt.iterations.assign(step)
        # TF-2.3 SGD(decay=...): lr / (1 + decay * iterations), per step.
        assert float(opt.learning_rate) == pytest.approx(
            1e-3 / (1 + 5e-4 * step), rel=1e-5)
    constant = ucf.make_optimizer(0.1, decay=0.0)
    constant.iterations.assign(1000)
    assert float(constant.learning_rate) == pytest.approx(0.1)
    assert isinstance(ucf.make_optimizer(1e-3, optimizer="adam"),
                      keras.optimizers.Adam)
    with pytest.raises(ConfigurationError, match="`optimizer`"):
        ucf.make_optimizer(1e-3, optimizer="rmsprop")
    with pytest.raises(ConfigurationError, match="`lr`"):
        ucf.make_optimizer(0.0)


def test_prepare_checkpoints_resume_and_set_aside(tmp_path):
    directory = str(tmp_path / "ckpt")
    assert ucf.prepare_checkpoints(directory, resume=True) == (0, None)
    os.makedirs(directory)
    for epoch in (2, 3):
        open(os.path.join(directory, f"epoch-{epoch:03d}.weights.h5"),
             "w").close()
    epoch, path = ucf.prepare_checkpoints(directory, resume=True)
    assert epoch == 3 and path.endswith("epoch-003.weights.h5")
    # A fresh start moves the old checkpoints aside, never deletes them.
    assert ucf.prepare_checkpoints(directory, resume=False) == (0, None)
    assert not os.path.exists(directory)
    aside = [n for n in os.listdir(tmp_path) if n.startswith("ckpt.replaced")]
    assert len(aside) == 1
    assert len(os.listdir(tmp_path / aside[0])) == 2


def test_sparsity_table():
    figures = {"delta_density_block2": 0.5, "delta_density_conv1": 0.25,
               "delta_density_block10": 0.1, "delta_density_all": 0.2,
               "op_ratio_counted": 0.25, "macs_dense_counted": 400.0,
               "macs_effective_counted": 100.0, "accuracy": 0.9}
    table = ucf.sparsity_table(figures)
    lines = table.splitlines()
    assert "temporal delta density" in lines[0]
    groups = [line.split()[0] for line in lines[2:-1]]
    assert groups == ["conv1", "block2", "block10", "all"]
    assert "0.7500" in lines[2 + groups.index("conv1")]  # sparsity
    assert "4.0x fewer" in lines[-1]
    assert "activation density" in ucf.sparsity_table(
        {"act_density_in": 1.0, "act_density_all": 0.5})
    assert ucf.sparsity_table({"accuracy": 1.0}) == ""


def test_plot_layer_sparsity(tmp_path):
    stats = {"names": ["a_delta", "b_delta", "c_delta"],
             "groups": ["conv1", "block1", "block1"],
             "density": np.array([0.5, 0.1, 0.2]),
             "l0": np.array([5.0, 1.0, 2.0]), "n": np.array([10.0] * 3),
             "kind": "delta"}
    path = ucf.plot_layer_sparsity(stats, str(tmp_path / "p.png"), "t")
    with open(path, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"


def test_frame_model_transfers_by_name_to_td_model():
    config = {"image_size": [32, 32], "alpha": 0.25, "bn_momentum": 0.9}
    frames, backbone = ucf.build_frame_model("mobilenet", config, classes=3)
    assert "conv_pw_13" in backbone and "conv_preds" not in backbone
    td = ucf.build_td_model("mobilenet", "delta",
                            dict(config, sp_rate=0.0, thr_init=0.5), 3)
    assert isinstance(td, VideoClassifier)
    bns = [layer for layer in td.layers
           if isinstance(layer, keras.layers.BatchNormalization)]
    assert bns and all(layer.momentum == 0.9 for layer in bns)
    report = transfer_weights(frames, td)
    # Every layer with weights matches except the 27 delta thresholds.
    assert not report.mismatched and not report.unused
    assert len(report.skipped_absent) == 27
    assert "conv_preds" in report.matched and "conv1" in report.matched
    with pytest.raises(ConfigurationError, match="`bn_momentum`"):
        ucf.build_td_model("mobilenet", None,
                           dict(config, bn_momentum=1.5), 3)


def test_load_weights_by_name_errors(tmp_path):
    config = {"image_size": [32, 32], "alpha": 0.25}
    target, _ = ucf.build_frame_model("mobilenet", config, classes=3)
    with pytest.raises(DataNotFoundError, match="`initial_weights` file"):
        ucf.load_weights_by_name(target, str(tmp_path / "none.weights.h5"))
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(
        2, name="unrelated")])
    path = str(tmp_path / "other.weights.h5")
    other.save_weights(path)
    with pytest.raises(ConfigurationError, match="shares no layer"), \
            pytest.warns(UserWarning, match="no weights were copied"):
        ucf.load_weights_by_name(target, path, "weights")
    report = ucf.load_weights_by_name(target, target)
    assert ucf.report_dict(report)["matched"] == 55
