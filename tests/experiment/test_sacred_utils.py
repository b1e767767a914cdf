import json
import os

import keras
import numpy as np

from deltasparse.experiment import sacred_utils


class _FakeRun:
    def __init__(self):
        self.scalars = []
        self.observers = []

    def log_scalar(self, name, value, step):
        self.scalars.append((name, value, step))


def _tiny_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    return model


def test_metrics_logger_and_checkpoints(tmp_path):
    run = _FakeRun()
    x = np.random.rand(8, 3).astype("float32")
    y = np.random.rand(8, 1).astype("float32")
    ckpt = tmp_path / "ckpt"
    model = _tiny_model()
    model.fit(
        x, y, epochs=3, verbose=0,
        callbacks=[
            sacred_utils.SacredMetricsLogger(run, prefix="train."),
            sacred_utils.EpochCheckpoint(str(ckpt), keep=2),
        ],
    )
    names = {name for name, _, _ in run.scalars}
    assert names == {"train.loss"}
    assert [s for _, _, s in run.scalars] == [0, 1, 2]
    epoch, path = sacred_utils.latest_checkpoint(str(ckpt))
    assert epoch == 3 and path.endswith("epoch-003.weights.h5")
    # Only the newest two are kept, no temporary files remain.
    assert sorted(os.listdir(ckpt)) == [
        "epoch-002.weights.h5", "epoch-003.weights.h5", "state.json"]
    assert json.loads((ckpt / "state.json").read_text())["epoch"] == 3
    restored = _tiny_model()
    restored.load_weights(path)
    np.testing.assert_allclose(restored.predict(x, verbose=0),
                               model.predict(x, verbose=0))


def test_latest_checkpoint_empty(tmp_path):
    assert sacred_utils.latest_checkpoint(str(tmp_path / "nope")) == (0, None)


def test_make_experiment_writes_under_results(tmp_path, monkeypatch):
    monkeypatch.setenv(sacred_utils.RESULTS_ENV, str(tmp_path))
    ex = sacred_utils.make_experiment("unit_exp")

    @ex.config
    def config():
        value = 2  # noqa: F841

    @ex.main
    def main(value, _run):
        _run.log_scalar("v", value, 0)
        directory = sacred_utils.run_directory(_run)
        path = os.path.join(directory, "a.txt")
        with open(path, "w") as f:
            f.write("x")
        _run.add_artifact(path)
        return value * 2

    run = ex.run(config_updates={"value": 3})
    assert run.status == "COMPLETED" and run.result == 6
    run_dir = tmp_path / "unit_exp" / str(run._id)
    assert (run_dir / "metrics.json").exists()
    assert (run_dir / "a.txt").exists()


def test_make_experiment_records_the_calling_script(tmp_path, monkeypatch):
    monkeypatch.setenv(sacred_utils.RESULTS_ENV, str(tmp_path))
    script = tmp_path / "my_script.py"
    script.write_text(
        '"""My experiment help text."""\n'
        "from deltasparse.experiment import make_experiment\n"
        "ex = make_experiment('scripted')\n"
    )
    import runpy

    ex = runpy.run_path(str(script))["ex"]
    assert ex.doc == "My experiment help text."
    assert ex.mainfile is not None and ex.mainfile.filename.endswith("my_script.py")


def test_runs_record_their_process_id(tmp_path):
    """`deltasparse-results` marks a RUNNING run whose pid is gone as DIED."""
    ex = sacred_utils.make_experiment("pid", root=str(tmp_path))

    @ex.main
    def main():
        return 1

    run = ex.run()
    with open(tmp_path / "pid" / str(run._id) / "run.json") as handle:
        host = json.load(handle)["host"]
    assert host["pid"] == os.getpid()
