import json

import numpy as np

from deltasparse.export.cli import main
from deltasparse.export.formats import REPORT_FILE
from deltasparse.export.model_files import save_model_bundle
from tests.export.conftest import tiny_clip_model


def _bundle(folder):
    """A tiny hand-made clip model saved as a bundle (fast to convert)."""
    model = tiny_clip_model()
    save_model_bundle(model, str(folder), ["run", "jump", "sit"], (8, 8), 2,
                      "tf")
    return model


def test_cli_exports_and_exits_zero(tmp_path, capsys):
    _bundle(tmp_path / "run")
    code = main([str(tmp_path / "run"), "--output", str(tmp_path / "out"),
                 "--formats", "keras", "tflite_float32", "--clips", "3"])
    printed = capsys.readouterr()
    assert code == 0
    assert "tflite_float32" in printed.out and "max abs diff" in printed.out
    assert "random clips" in printed.err
    with open(tmp_path / "out" / REPORT_FILE) as handle:
        report = json.load(handle)
    assert set(report["formats"]) == {"keras", "tflite_float32"}
    assert report["num_sample_clips"] == 3
    assert report["sample_source"] == "random"
    assert report["class_names"] == ["run", "jump", "sit"]


def test_cli_exit_code_follows_tolerance(tmp_path, capsys):
    _bundle(tmp_path / "run")
    common = [str(tmp_path / "run"), "--output", str(tmp_path / "out"),
              "--formats", "tflite_dynamic_range", "--int8-tolerance", "0"]
    # A quantized format alone does not fail the command ...
    assert main(common) == 0
    # ... unless --strict.
    assert main(common + ["--strict"]) == 1
    assert "more than" in capsys.readouterr().err


def test_cli_uses_run_info_data_root(tmp_path, capsys):
    _bundle(tmp_path / "run")
    with open(tmp_path / "run" / "info.json", "w") as handle:
        json.dump({"data": {"root": str(tmp_path / "gone")}}, handle)
    code = main([str(tmp_path / "run"), "--output", str(tmp_path / "out"),
                 "--formats", "keras"])
    assert code == 0
    assert "data root" in capsys.readouterr().err
    assert np.isfinite(json.load(open(tmp_path / "out" / REPORT_FILE))[
        "formats"]["keras"]["max_abs_diff"])


def test_cli_reads_clips_from_data(tmp_path, capsys):
    from deltasparse.data.datasets import synthetic_actions

    root = synthetic_actions.ensure_synthetic_ucf(
        cache_dir=str(tmp_path / "cache"), classes=3, videos_per_class=4,
        clips_per_group=2, test_groups=1, frames=8, size=32)
    _bundle(tmp_path / "run")
    code = main([str(tmp_path / "run"), "--output", str(tmp_path / "out"),
                 "--formats", "saved_model", "tflite_int8", "--data", root,
                 "--clips", "3"])
    assert code == 0
    assert "random clips" not in capsys.readouterr().err
    with open(tmp_path / "out" / REPORT_FILE) as handle:
        report = json.load(handle)
    assert report["num_sample_clips"] == 3
    assert report["num_representative_clips"] == 3
    assert report["sample_source"] == f"test clips of {root}"
    assert report["formats"]["saved_model"]["max_abs_diff"] <= 1e-4


def test_cli_missing_model_is_one_error_line(tmp_path, capsys):
    assert main([str(tmp_path / "nope"), "--output", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: `path` must be") and "Traceback" not in err
    assert not (tmp_path / "out").exists()
