"""End-to-end tests of experiments/necanimal.py (spec §6.5)."""

import pytest

from tests.experiments import autoencoder_helpers as h


@pytest.fixture
def script(tmp_path, monkeypatch):
    return h.load_script("necanimal", tmp_path / "results", monkeypatch)


def test_print_config_merges_paper_values(script):
    config = script.ex.run(
        "print_config", named_configs=["groupwtacrnn", "nospatial"]).config
    algo, data = config["_algo"], config["_data"]
    assert (algo["algorithm"], algo["groups"], algo["clipnorm"]) == (
        "groupwtacrnn", 32, 1.0)
    assert (algo["clip_length"], algo["epochs"], algo["pad_value"]) == (
        79, 300, -1)
    assert algo["k_spatial"] == 32 * 32
    assert (data["path"], data["coil_path"]) == (
        "datasets/animalclean", "datasets/coil-100")
    nolife = script.ex.run("print_config",
                           named_configs=["wtacnn", "nolifetime"]).config
    assert nolife["_algo"]["k_lifetime"] == 10 * 79


def test_missing_data_stops_with_one_message(script, tmp_path):
    coil = h.write_fake_coil(str(tmp_path / "coil-100"), n_objects=1, side=8)
    with pytest.raises(FileNotFoundError, match="coil_path"):
        script.ex.run(named_configs=["wtacnn", "quick"], config_updates={
            "_data": {"coil_path": str(tmp_path / "nope")}})
    with pytest.raises(FileNotFoundError, match="seq_ref_clean.txt"):
        script.ex.run(named_configs=["wtacnn", "quick"], config_updates={
            "_data": {"coil_path": coil, "path": str(tmp_path / "nope")}})


def test_quick_denoisingcrnn_transfer_end_to_end(script, tmp_path):
    nec = h.write_fake_nec(str(tmp_path / "animalclean"), lengths=(5, 4, 3))
    coil = h.write_fake_coil(str(tmp_path / "coil-100"), n_objects=3)
    num_labeled = [2]
    run = script.ex.run(
        named_configs=["denoisingcrnn", "quick"],
        config_updates=h.merge(h.TINY, {
            "_data": {"path": nec, "coil_path": coil, "last_end": None,
                      "num_labeled": num_labeled, "n_objects": 3},
            "_algo": {"clip_length": 6}}))
    h.check_completed_run(
        run, tmp_path / "results", "necanimal", num_labeled,
        ["decoder_weights.png", "videos_necanimal.png", "videos_coil100.png"],
        ae_losses=2)
    assert run.info["data"]["shape"] == [3, 6, 8, 8, 3]
    assert run.info["data"]["lengths"] == [5, 4, 3]
    assert run.info["coil100"]["shape"] == [3, 72, 8, 8, 3]
    assert set(run.info["autoencoder_loss"]) == {"necanimal", "coil100"}
