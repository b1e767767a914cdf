"""End-to-end tests of experiments/mnistrotated.py (spec §6.2)."""

import os

import pytest

from deltasparse.experiment import autoencoder_experiments
from tests.experiments import autoencoder_helpers as h


@pytest.fixture
def script(tmp_path, monkeypatch):
    # No MNIST file anywhere: the run uses scikit-learn's digits.
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    return h.load_script("mnistrotated", tmp_path / "results", monkeypatch)


def test_print_config_merges_paper_values(script):
    run = script.ex.run("print_config",
                        named_configs=["groupwtacrnn", "nospatial"])
    algo, data = run.config["_algo"], run.config["_data"]
    assert algo["algorithm"] == "groupwtacrnn"
    assert (algo["groups"], algo["clipnorm"]) == (16, 1.0)
    assert (algo["k_spatial"], algo["k_lifetime"]) == (14 * 14, 1)
    assert (algo["clip_length"], algo["image_size"], algo["filters"]) == (
        36, [14, 14], 64)
    assert (algo["epochs"], algo["batch_size"], algo["lr"]) == (50, 30, 1e-4)
    assert data["num_labeled"] == [300, 600, 1000, 2000, 5000, 10000, 54000]
    assert run.config["seed"] == 123


def test_ablations_follow_batch_size_and_shape(script):
    config = script.ex.run("print_config",
                           named_configs=["wtacnn", "nolifetime"]).config
    assert config["_algo"]["k_lifetime"] == 30 * 36
    assert config["_algo"]["clipnorm"] == 0.0
    config = script.ex.run(
        "print_config", named_configs=["groupwtacnn", "quick", "nolifetime",
                                       "nospatial"],
        config_updates={"_algo": {"batch_size": 4}}).config
    assert config["_algo"]["k_lifetime"] == 4 * 8      # batch * rotations
    assert config["_algo"]["k_spatial"] == 14 * 14
    vgg = script.ex.run("print_config", named_configs=["vgg19"]).config
    assert (vgg["_algo"]["image_size"], vgg["_algo"]["channels"]) == ([32, 32], 3)
    assert vgg["_data"]["imagenet_preprocessing"] is True


def test_no_algorithm_and_bad_order_fail_clearly(script):
    with pytest.raises(ValueError, match="Choose an algorithm"):
        script.ex.run(named_configs=["quick"])
    with pytest.raises(ValueError, match="put size changes after"):
        script.ex.run(named_configs=["quick", "groupwtacrnn"])


def test_missing_mnist_file_stops_at_once(script, tmp_path):
    with pytest.raises(FileNotFoundError, match="_data.path"):
        script.ex.run(named_configs=["wtacnn", "quick"], config_updates={
            "_data": {"path": str(tmp_path / "nope.npz")}})


def test_quick_groupwtacrnn_end_to_end(script, tmp_path):
    num_labeled = [100, 150]
    run = script.ex.run(
        named_configs=["groupwtacrnn", "quick"],
        config_updates=h.merge(h.TINY, {"_data": {
            "num_labeled": num_labeled, "clip_length": 4, "n_train": 180,
            "n_test": 40}}))
    run_dir = h.check_completed_run(
        run, tmp_path / "results", "mnistrotated", num_labeled,
        ["decoder_weights.png", "videos_train.png", "videos_test.png"],
        ae_losses=2)
    info = run.info
    assert info["data"]["source"] == "sklearn_digits_fallback"
    assert info["data"]["train_shape"] == [180, 4, 14, 14, 1]
    assert info["num_labeled"] == num_labeled
    assert set(info["timings"]) >= {"load_data", "pretrain",
                                    "nl100.stacked", "nl150.endtoend"}
    assert run.config["_algo"]["clip_length"] == 4
    assert os.path.getsize(os.path.join(run_dir, "decoder_weights.png")) > 0


def test_fallback_trims_paper_sizes():
    class Fallback:
        X_train = range(1497)
        num_classes = 10
        source = "sklearn_digits_fallback"

    sizes = autoencoder_experiments.usable_num_labeled(
        [300, 600, 1000, 2000, 5000, 10000, 54000], Fallback())
    assert sizes == [300, 600, 1000, 1347]
