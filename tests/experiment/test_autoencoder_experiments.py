"""Tests for deltasparse.experiment.gks (shared group k-sparse protocols)."""

import csv
import os

import numpy as np
import pytest
from sacred.utils import SacredError
from sacred.utils import format_sacred_error

from deltasparse.data.datasets.video_arrays import VideoClassificationData
from deltasparse.data.datasets.video_arrays import one_hot
from deltasparse.experiment import gks
from deltasparse.experiment import errors

TINY_ALGO = {
    "mode": "groupwtacnn", "shape1": 3, "shape2": 8, "shape3": 8,
    "shape4": 1, "classes": 10, "filters": 4, "filter_size_enc": 3,
    "filter_size_dec": 3, "groups": 1, "epochs": 1, "batch_size": 16,
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


def test_algorithm_config_fills_defaults():
    config = gks.algorithm_config(TINY_ALGO, shape1=5)
    assert config["shape1"] == 5
    assert config["carry_over"] is True
    assert config["clipnorm"] == 0.0


@pytest.mark.parametrize("update, match", [
    ({"mode": None}, "Choose an algorithm"),
    ({"mode": "sparsecnn"}, "must be one of"),
    ({"groups": 3}, "put size changes after the algorithm"),
    ({"epochs": -1}, "epochs"),
    ({"unknown_key": 1}, "Unknown config keys"),
])
def test_algorithm_config_errors(update, match):
    with pytest.raises(ValueError, match=match) as info:
        gks.algorithm_config(dict(TINY_ALGO, **update))
    assert isinstance(info.value, errors.ConfigurationError)


def test_vgg19_without_weights_is_a_data_error(tmp_path):
    algo = dict(TINY_ALGO, mode="vgg19", shape2=32, shape3=32, shape4=3)
    with pytest.raises(FileNotFoundError, match="vgg19_weights"):
        gks.algorithm_config(algo, vgg19_weights=str(tmp_path / "no.h5"))


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
        gks.load_dataset(name, data)


def test_unknown_dataset():
    with pytest.raises(ValueError, match="must be one of"):
        gks.check_available("ucf101", {})


def test_load_dataset_records_info_and_timing(tmp_path):
    from PIL import Image

    folder = tmp_path / "coil"
    folder.mkdir()
    for obj in (1, 2):
        for t in range(72):
            Image.new("RGB", (8, 8), (obj * 60, t, 0)).save(
                folder / f"obj{obj}__{5 * t}.png")
    run = FakeRun()
    data = gks.load_dataset("coil100", {"path": str(folder), "size": 4,
                                        "zca_epsilon": None, "n_objects": 2},
                            run=run, info_key="coil")
    assert data.X.shape == (2, 72, 4, 4, 3)
    assert run.info["coil"]["source"] == "coil100"
    assert "load_coil" in run.info["timings"]


def test_usable_num_labeled():
    data = TinyVideos()
    assert gks.usable_num_labeled([100, 120], data) == [100, 120]
    with pytest.raises(ValueError, match="n_train"):
        gks.usable_num_labeled([100, 130], data)     # 130 -> 144 > 140
    with pytest.raises(ValueError, match="too small"):
        gks.usable_num_labeled([50], data)           # 5 validation videos
    data.source = "sklearn_digits_fallback"
    assert gks.usable_num_labeled([100, 300], data) == [100, 126]


def test_shape_and_class_checks():
    config = gks.algorithm_config(TINY_ALGO)
    gks.check_frame_shape(np.zeros((1, 3, 8, 8, 1)), config)
    with pytest.raises(ValueError, match="shape2..shape4"):
        gks.check_frame_shape(np.zeros((1, 3, 8, 8, 3)), config)
    gks.check_classes(10, config)
    with pytest.raises(ValueError, match="_algo.classes=100"):
        gks.check_classes(100, config)


def test_write_result_table(tmp_path):
    rows = [{"num_labeled": 300, "stage": "stacked", "epochs": 3,
             "train_loss": 0.5, "train_accuracy": 0.9, "val_loss": 0.6,
             "val_accuracy": 0.8, "test_loss": 0.7, "test_accuracy": 0.75,
             "extra": 1}]
    path = gks.write_result_table(rows, str(tmp_path / "t.csv"))
    with open(path) as handle:
        read = list(csv.DictReader(handle))
    assert list(read[0]) == list(gks.RESULT_COLUMNS) + ["extra"]
    assert read[0]["stage"] == "stacked" and read[0]["test_accuracy"] == "0.75"


def test_train_test_protocol_without_pretraining():
    """randominitcnn: no decoder plot, no pretrain metrics; same table."""
    run = FakeRun()
    config = gks.algorithm_config(dict(TINY_ALGO, mode="randominitcnn"))
    result = gks.train_test_protocol(
        TinyVideos(), config, run, num_labeled=[100], verbose=0,
        plot={"n_videos": 2, "figsize": [2, 2], "dpi": 30})
    assert len(result) == 3 and len(result[0]) == 2
    assert [r["stage"] for r in run.info["result_table"]] == [
        "stacked", "endtoend"]
    assert "pretrain.loss" not in run.scalars
    assert "nl100.stacked.loss" in run.scalars
    assert run.scalars["result.endtoend.test_accuracy"][0][0] == 100
    assert "decoder_weights.png" not in run.artifacts
    assert {"videos_train.png", "result_table.csv",
            "autoencoder.weights.h5"} <= set(run.artifacts)
    # Without an observer the files go to a temporary run folder.
    assert os.path.isfile(os.path.join(run._deltasparse_tmpdir,
                                       "result_table.csv"))
