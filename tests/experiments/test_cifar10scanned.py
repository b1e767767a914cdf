"""End-to-end tests of experiments/cifar10scanned.py (spec §6.3)."""

import pytest

from tests.experiments import autoencoder_helpers as h


@pytest.fixture
def script(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    return h.load_script("cifar10scanned", tmp_path / "results", monkeypatch)


def test_print_config_merges_paper_values(script):
    config = script.ex.run(
        "print_config", named_configs=["groupwtacrnn", "nospatial"]).config
    algo = config["_algo"]
    assert (algo["algorithm"], algo["groups"], algo["clipnorm"]) == (
        "groupwtacrnn", 64, 1.0)
    assert (algo["clip_length"], algo["image_size"], algo["channels"]) == (
        9, [16, 16], 3)
    assert (algo["k_spatial"], algo["filters"]) == (16 * 16, 256)
    assert (algo["encoder_kernel_size"], algo["decoder_kernel_size"]) == (5, 7)
    assert config["_data"]["zca_epsilon"] == 1e-3
    assert config["_data"]["num_labeled"][-1] == 45000
    nolife = script.ex.run("print_config",
                           named_configs=["wtacnn", "nolifetime"]).config
    assert nolife["_algo"]["k_lifetime"] == 30 * 9


def test_missing_cifar_stops_with_one_message(script):
    with pytest.raises(FileNotFoundError) as info:
        script.ex.run(named_configs=["wtacnn", "quick"])
    assert "cifar-10-python.tar.gz" in str(info.value)
    assert info.value.print_traceback is False    # CLI: message only


def test_quick_slowgroupwtacnn_without_carry_over(script, tmp_path):
    folder = h.write_fake_cifar(str(tmp_path / "cifar"), n_train=150,
                                n_test=30)
    num_labeled = [100]
    run = script.ex.run(
        named_configs=["slowgroupwtacnn", "quick"],
        config_updates=h.merge(h.TINY, {
            "_data": {"path": folder, "num_labeled": num_labeled,
                      "n_train": 150, "n_test": 30},
            "_algo": {"carry_over": False}}))
    h.check_completed_run(
        run, tmp_path / "results", "cifar10scanned", num_labeled,
        ["decoder_weights.png", "videos_train.png", "videos_test.png"],
        ae_losses=2)
    assert run.info["data"]["source"] == "cifar10"
    assert run.info["data"]["train_shape"] == [150, 9, 16, 16, 3]
