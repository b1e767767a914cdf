"""Tests of deltasparse.experiment.autoencoder_experiments and the protocols
of deltasparse.training.autoencoder_protocol run without Sacred."""

import csv
import os

import numpy as np
import pytest
from sacred.utils import SacredError
from sacred.utils import format_sacred_error

from deltasparse.data.datasets.video_arrays import VideoClassificationData
from deltasparse.data.datasets.video_arrays import one_hot
from deltasparse.experiment import autoencoder_experiments as ae
from deltasparse.experiment import errors
from deltasparse.training import autoencoder_protocol as protocols

TINY_ALGO = {
    "algorithm": "groupwtacnn", "clip_length": 3, "image_size": [8, 8],
    "channels": 1, "num_classes": 10, "filters": 4, "encoder_kernel_size": 3,
    "decoder_kernel_size": 3, "groups": 1, "epochs": 1, "batch_size": 16,
    "run_eagerly": True,
}


class FakeRun:
    """The parts of a Sacred `_run` the protocols use (no observer)."""

    def __init__(self):
        self.info = {}
        self.observers = []
        self.scalars = {}
        self.artifacts = []

    def log_scalar(self, name, value, step):
        self.scalars.setdefault(name, []).append((step, value))

    def add_artifact(self, path, name=None):
        self.artifacts.append(name or os.path.basename(path))


class TinyVideos(VideoClassificationData):
    """Random 3-frame 8x8 videos, 10 classes."""

    def __init__(self, n_train=140, n_test=20, seed=0):
        rng = np.random.RandomState(seed)
        self.rng = rng
        self.num_classes = 10
        self.source = "tiny"
        self.y_train = np.arange(n_train) % 10
        self.y_test = np.arange(n_test) % 10
        self.X_train = rng.rand(n_train, 3, 8, 8, 1).astype("float32")
        self.X_test = rng.rand(n_test, 3, 8, 8, 1).astype("float32")
        self.Y_train = one_hot(self.y_train, 10, "float32")
        self.Y_test = one_hot(self.y_test, 10, "float32")


def test_split_algo_config_fills_defaults():
    model_kwargs, settings = ae.split_algo_config(TINY_ALGO, verbose=0)
    assert model_kwargs["clip_length"] == 3 and model_kwargs["groups"] == 1
    assert settings.carry_over is True and settings.clipnorm == 0.0
    assert (settings.batch_size, settings.verbose) == (16, 0)


@pytest.mark.parametrize("update, match", [
    ({"algorithm": None}, "Choose an algorithm"),
    ({"algorithm": "sparsecnn"}, "must be one of"),
    ({"groups": 3}, "put size changes after the algorithm"),
    ({"epochs": -1}, "epochs"),
    ({"unknown_key": 1}, "Unknown config keys"),
    ({"gpus": 2}, "Received: gpus=2"),
])
def test_split_algo_config_errors(update, match):
    with pytest.raises(ValueError, match=match) as info:
        ae.split_algo_config(dict(TINY_ALGO, **update))
    assert isinstance(info.value, errors.ConfigurationError)


def test_vgg19_without_weights_is_a_data_error(tmp_path):
    algo = dict(TINY_ALGO, algorithm="vgg19", image_size=[32, 32], channels=3)
    with pytest.raises(FileNotFoundError, match="vgg19_weights"):
        ae.split_algo_config(algo, vgg19_weights=str(tmp_path / "no.h5"))


def test_bad_model_values_are_configuration_errors():
    model_kwargs, _ = ae.split_algo_config(dict(TINY_ALGO, filters=None))
    with pytest.raises(errors.ConfigurationError,
                       match="Received: filters=None"):
        ae.build_model(model_kwargs)


def test_errors_print_one_message_on_the_command_line():
    for error in (errors.DataNotFoundError("COIL-100 not found."),
                  errors.ConfigurationError("Choose an algorithm.")):
        assert isinstance(error, SacredError)
        text = format_sacred_error(error, short_usage="")
        assert text.strip().count("\n") == 0
        assert "Traceback" not in text
    assert isinstance(errors.DataNotFoundError("x"), FileNotFoundError)
    assert str(errors.DataNotFoundError("x")) == "x"


@pytest.mark.parametrize("name, data, match", [
    ("mnistrotated", {"path": "/nonexistent/mnist.npz"}, "_data.path"),
    ("cifar10scanned", {"path": "/nonexistent/cifar"}, "_data.path"),
    ("coil100", {"path": "/nonexistent/coil"}, "coil-100.zip"),
    ("necanimal", {"path": "/nonexistent/nec"}, "seq_ref_clean.txt"),
])
def test_missing_data_is_reported_before_loading(name, data, match):
    with pytest.raises(errors.DataNotFoundError, match=match):
        ae.load_dataset(name, data)


def test_unknown_dataset():
    with pytest.raises(ValueError, match="must be one of"):
        ae.check_available("ucf101", {})


def test_load_dataset_records_info_and_timing(tmp_path):
    from PIL import Image

    folder = tmp_path / "coil"
    folder.mkdir()
    for obj in (1, 2):
        for t in range(72):
            Image.new("RGB", (8, 8), (obj * 60, t, 0)).save(
                folder / f"obj{obj}__{5 * t}.png")
    run = FakeRun()
    data = ae.load_dataset("coil100", {"path": str(folder), "size": 4,
                                        "zca_epsilon": None, "n_objects": 2},
                            run=run, info_key="coil")
    assert data.X.shape == (2, 72, 4, 4, 3)
    assert run.info["coil"]["source"] == "coil100"
    assert "load_coil" in run.info["timings"]


def test_usable_num_labeled():
    data = TinyVideos()
    assert ae.usable_num_labeled([100, 120], data) == [100, 120]
    with pytest.raises(ValueError, match="n_train"):
        ae.usable_num_labeled([100, 130], data)     # 130 -> 144 > 140
    with pytest.raises(ValueError, match="too small"):
        ae.usable_num_labeled([50], data)           # 5 validation videos
    data.source = "sklearn_digits_fallback"
    assert ae.usable_num_labeled([100, 300], data) == [100, 126]


def test_shape_and_class_checks():
    config, _ = ae.split_algo_config(TINY_ALGO)
    ae.check_frame_shape(np.zeros((1, 3, 8, 8, 1)), config)
    with pytest.raises(ValueError, match="image_size` \\+ `_algo.channels"):
        ae.check_frame_shape(np.zeros((1, 3, 8, 8, 3)), config)
    with pytest.raises(ValueError, match="set `_algo.clip_length=4`"):
        ae.check_frame_shape(np.zeros((1, 4, 8, 8, 1)), config)
    ae.check_frame_shape(np.zeros((1, 4, 8, 8, 1)), config,
                         check_length=False)
    ae.check_classes(10, config)
    with pytest.raises(ValueError, match="_algo.num_classes=100"):
        ae.check_classes(100, config)


def test_write_result_table(tmp_path):
    rows = [{"num_labeled": 300, "stage": "stacked", "epochs": 3,
             "train_loss": 0.5, "train_accuracy": 0.9, "val_loss": 0.6,
             "val_accuracy": 0.8, "test_loss": 0.7, "test_accuracy": 0.75,
             "extra": 1}]
    path = protocols.write_result_table(rows, str(tmp_path / "t.csv"))
    with open(path) as handle:
        read = list(csv.DictReader(handle))
    assert list(read[0]) == list(protocols.RESULT_COLUMNS) + ["extra"]
    assert read[0]["stage"] == "stacked" and read[0]["test_accuracy"] == "0.75"


def test_train_test_protocol_without_pretraining(tmp_path):
    """randominitcnn: no decoder plot, no pretrain metrics; same table."""
    scalars = {}
    model_kwargs, settings = ae.split_algo_config(
        dict(TINY_ALGO, algorithm="randominitcnn"), verbose=0)
    out = protocols.train_test_protocol(
        TinyVideos(), ae.build_model(model_kwargs), settings, str(tmp_path),
        num_labeled=[100],
        log_scalar=lambda n, v, s: scalars.setdefault(n, []).append((s, v)),
        plot={"n_videos": 2, "figsize": [2, 2], "dpi": 30})
    assert len(out.result) == 3 and len(out.result[0]) == 2
    assert [r["stage"] for r in out.rows] == ["stacked", "endtoend"]
    assert "pretrain.loss" not in scalars
    assert "nl100.stacked.loss" in scalars
    assert scalars["result.endtoend.test_accuracy"][0][0] == 100
    names = {os.path.basename(p) for p in out.artifacts}
    assert "decoder_weights.png" not in names
    assert {"videos_train.png", "result_table.csv",
            "autoencoder.weights.h5"} <= names
    assert set(out.info["timings"]) >= {"pretrain", "nl100.stacked"}
    # The Sacred glue records it in a run.
    run = FakeRun()
    assert ae.record_result(run, out) == out.result
    assert run.info["result_table"] == out.rows
    assert "result_table.csv" in run.artifacts
