"""End-to-end tests of experiments/coil100.py (spec §6.4)."""

import pytest

from tests.experiments import autoencoder_helpers as h


@pytest.fixture
def script(tmp_path, monkeypatch):
    return h.load_script("coil100", tmp_path / "results", monkeypatch)


def test_print_config_merges_paper_values(script):
    config = script.ex.run(
        "print_config", named_configs=["groupwtacrnn", "nospatial"]).config
    algo = config["_algo"]
    assert (algo["algorithm"], algo["groups"], algo["clipnorm"]) == (
        "groupwtacrnn", 32, 1.0)
    assert (algo["clip_length"], algo["image_size"], algo["num_classes"]) == (
        72, [32, 32], 100)
    assert (algo["k_spatial"], algo["batch_size"], algo["epochs"]) == (
        32 * 32, 10, 200)
    assert config["_data"]["num_labeled"] == [2, 4, 8, 16, 32]
    nolife = script.ex.run("print_config",
                           named_configs=["wtacnn", "nolifetime"]).config
    assert nolife["_algo"]["k_lifetime"] == 10 * 72
    quick = script.ex.run("print_config",
                          named_configs=["wtacnn", "quick"]).config
    assert (quick["_algo"]["num_classes"],
            quick["_algo"]["image_size"]) == (10, [8, 8])


def test_missing_coil_stops_with_one_message(script, tmp_path):
    with pytest.raises(FileNotFoundError, match="coil-100.zip"):
        script.ex.run(named_configs=["wtacnn", "quick"], config_updates={
            "_data": {"path": str(tmp_path / "nope")}})


def test_quick_wtacrnn_end_to_end(script, tmp_path):
    folder = h.write_fake_coil(str(tmp_path / "coil-100"), n_objects=3)
    num_labeled = [2, 4]
    run = script.ex.run(
        named_configs=["wtacrnn", "quick"],
        config_updates=h.merge(h.TINY, {"_data": {
            "path": folder, "num_labeled": num_labeled, "n_objects": 3}}))
    h.check_completed_run(
        run, tmp_path / "results", "coil100", num_labeled,
        ["decoder_weights.png", "videos_train.png"], ae_losses=1)
    assert run.config["_algo"]["num_classes"] == 3
    assert run.info["data"]["shape"] == [3, 72, 8, 8, 3]
