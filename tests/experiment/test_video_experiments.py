"""Unit tests of `deltasparse.experiment.video_experiments` (no training).

The end-to-end runs of the six scripts are in
`tests/experiments/test_ucf_experiments.py`.
"""

import os

import pytest

from deltasparse.experiment import video_experiments as glue
from deltasparse.experiment.errors import ConfigurationError
from deltasparse.experiment.errors import DataNotFoundError


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
        glue.resolve_data_root("ucf101", str(tmp_path / "nope"))
    message = str(info.value)
    assert glue.PREPARE_COMMAND.format(split=1) in message
    assert "python dataset_preparation/prepare_ucf101.py" in message
    # Another official split: the message prepares that one.
    with pytest.raises(DataNotFoundError, match="--split 3`") as other:
        glue.resolve_data_root("ucf101", str(tmp_path / "nope"), split=3)
    assert "`split=3`" in str(other.value)
    assert "data_root='" in message and "with demo" in message
    # One line of text, no traceback for the CLI.
    assert "\n" not in message and info.value.print_traceback is False
    # Videos present but no extracted frames: frames/ is what is missing.
    root = _fake_split(tmp_path / "split1", frames=False)
    with pytest.raises(DataNotFoundError, match="train_frames/"):
        glue.resolve_data_root("ucf101", root, source="frames")
    assert glue.resolve_data_root("ucf101", root, source="video") == root


def test_resolve_and_class_names(tmp_path):
    root = _fake_split(tmp_path / "split1", classes=("b", "C", "a"))
    assert glue.resolve_data_root("ucf101", root) == root
    # Python-sorted (case-sensitive) names, like the original (§10 item 14).
    assert glue.class_names(root) == ["C", "a", "b"]
    assert glue.class_names(root, num_classes=2, class_limit=2) == ["C", "a"]
    with pytest.raises(ConfigurationError, match="expects `num_classes`=101"):
        glue.class_names(root, num_classes=101)
    with pytest.raises(ConfigurationError, match="`dataset` must be one"):
        glue.resolve_data_root("kinetics", root)
    with pytest.raises(ConfigurationError, match="`class_limit`"):
        glue.class_names(root, class_limit=0)


@pytest.mark.parametrize("key, value", [
    ("eval_views", [[1, 2]]), ("eval_views", [[0, 1]]), ("eval_views", [3]),
    ("eval_views", "[[1, 1]]"), ("eval_aggregate", "mean"), ("split", 4),
    ("eval_crop_fraction", 1.5), ("eval_view_clip_length", 0)])
def test_bad_evaluation_keys_name_their_key(key, value):
    config = {"image_size": [64, 64], "epochs": 1, "batch_size": 2,
              "eval_batch_size": 1, "eval_clip_length": 4, "eval_steps": None,
              "steps_per_epoch": None, "validation_steps": None,
              "eval_weights": "last", "clip_length": 2, key: value}
    with pytest.raises(ConfigurationError, match=f"`{key}`"):
        glue.check_config(config, "l1")
    assert glue.check_views([[1, 1], [10, 3], [2, 10]]) == [
        (1, 1), (10, 3), (2, 10)]


def test_config_key_ignores_non_training_keys():
    base = {"lr": 1e-3, "epochs": 30, "resume": False, "gpus": None,
            "eval_steps": None, "seed": 1, "thr_init": [1.0, 2.0],
            "distribution": None}
    key = glue.config_key(base)
    assert key.startswith("cfg-") and len(key) == 16
    same = dict(base, epochs=5, resume=True, gpus="0", eval_steps=1000,
                distribution="mirrored")
    assert glue.config_key(same) == key
    assert glue.config_key(dict(base, lr=1e-2)) != key
    assert glue.config_key(dict(base, seed=2)) != key
    assert glue.config_key(dict(base, run_name="paper")) == "paper"
    with pytest.raises(ConfigurationError, match="run_name"):
        glue.config_key(dict(base, run_name="../x"))


def _config(**updates):
    config = {"image_size": [32, 32], "epochs": 2, "batch_size": 2,
              "eval_batch_size": 1, "eval_clip_length": 4, "eval_steps": None,
              "steps_per_epoch": None, "validation_steps": None,
              "eval_weights": "last", "distribution": None,
              "bn_momentum": None, "clip_length": 2}
    config.update(updates)
    return config


@pytest.mark.parametrize("value", [[16, 32], [32], "32x32", [32.0, 32],
                                   [True, 32], None])
def test_image_size_error_names_the_key_typed(value):
    with pytest.raises(ConfigurationError) as info:
        glue.check_config(_config(image_size=value), "delta")
    message = str(info.value)
    assert message.startswith("`image_size` must be [height, width]")
    assert "input_shape" not in message
    assert message.endswith(f"Received: image_size={value!r}")


@pytest.mark.parametrize("key, value, sparsity", [
    ("epochs", 0, "l1"), ("batch_size", 1.5, "l1"),
    ("eval_steps", -1, "l1"), ("distribution", "ring", "l1"),
    ("eval_weights", "first", "l1"), ("bn_momentum", 1.0, "l1"),
    ("clip_length", 1, "delta"), ("frame_step", 0, None),
])
def test_bad_config_values_name_their_key(key, value, sparsity):
    config = _config(**{key: value})
    if sparsity is None:
        config.setdefault("frame_step", 1)
    with pytest.raises(ConfigurationError, match=f"`{key}`"):
        glue.check_config(config, sparsity)


def test_head_epochs_checks():
    config = _config(frame_step=1, head_epochs=3, head_lr=1e-3)
    with pytest.raises(ConfigurationError, match="`head_epochs` must not"):
        glue.check_config(config, None)
    with pytest.raises(ConfigurationError, match="`head_lr`"):
        glue.check_config(dict(config, head_epochs=1, head_lr=None), None)
    assert glue.check_config(dict(config, head_epochs=1), None)["epochs"] == 2


def test_add_demo_shares_the_common_values():
    class FakeExperiment:
        def __init__(self):
            self.named = {}

        def add_named_config(self, name, value):
            self.named[name] = value

    ex = FakeExperiment()
    demo = glue.add_demo(ex, lr=2e-3, optimizer="sgd")
    assert ex.named["demo"] is demo
    assert demo["dataset"] == "synthetic" and demo["num_classes"] is None
    assert demo["lr"] == 2e-3 and demo["optimizer"] == "sgd"
    assert glue.DEMO["optimizer"] == "adam"  # not mutated


def test_load_weights_errors(tmp_path):
    import keras

    target = keras.Sequential([keras.Input((4,)), keras.layers.Dense(
        2, name="dense_a")], name="target")
    with pytest.raises(DataNotFoundError, match="`initial_weights` file"):
        glue.load_weights_by_name(target, str(tmp_path / "none.weights.h5"))
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(
        2, name="unrelated")])
    path = str(tmp_path / "other.weights.h5")
    other.save_weights(path)
    with pytest.raises(ConfigurationError, match="shares no layer"), \
            pytest.warns(UserWarning, match="no weights were copied"):
        glue.load_weights_by_name(target, path, "weights")
    path = str(tmp_path / "same.weights.h5")
    target.save_weights(path)
    assert glue.load_weights_by_name(target, path)["matched"] == 1
