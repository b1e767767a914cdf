"""Fixtures: tiny Sacred runs made by `make_experiment`, and hand-written
run folders for the cases Sacred does not produce on demand (a run killed
while RUNNING, a truncated `run.json`)."""

import datetime
import json
import os

import pytest

from deltasparse.experiment import observers


def _png(path, color):
    """Writes a small real PNG (Matplotlib Agg, no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1.5))
    FigureCanvasAgg(fig)
    fig.subplots().bar([0, 1, 2], [0.2, 0.5, 0.9], color=color)
    fig.savefig(path, format="png", dpi=50)


@pytest.fixture(scope="session")
def finished_runs(tmp_path_factory):
    """Two COMPLETED runs of experiment `toy` that differ in `_algo.mode`."""
    root = tmp_path_factory.mktemp("results")
    ex = observers.make_experiment("toy", root=str(root))

    @ex.config
    def config():
        _algo = {"mode": "wtacnn", "lr": 1e-4}  # noqa: F841
        seed = 1  # noqa: F841

    @ex.main
    def main(_algo, _run):
        for epoch in range(3):
            _run.log_scalar("pretrain.loss", 1.0 / (epoch + 1), epoch)
            _run.log_scalar("pretrain.val_loss", 1.5 / (epoch + 1), epoch)
        _run.log_scalar("test.accuracy", 0.75 if _algo["mode"] == "wtacnn"
                        else 0.8125, 2)
        _run.info["result_table"] = [
            {"num_labeled": 10, "stage": "stacked", "test_acc": 0.5},
            {"num_labeled": 10, "stage": "endtoend", "test_acc": 0.6},
        ]
        run_dir = observers.run_directory(_run)
        png = os.path.join(run_dir, "layer_sparsity.png")
        _png(png, "tab:blue" if _algo["mode"] == "wtacnn" else "tab:red")
        _run.add_artifact(png, name="layer_sparsity.png")
        ckpt = os.path.join(run_dir, "last.weights.h5")
        with open(ckpt, "wb") as handle:
            handle.write(b"\0" * 64)
        _run.add_artifact(ckpt, name="last.weights.h5")
        return [[0.1, 0.2]]

    ex.run(config_updates={"_algo": {"mode": "wtacnn"}})
    ex.run(config_updates={"_algo": {"mode": "groupwtacnn"}})
    return root / "toy"


def _iso(delta_s):
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    return (now - datetime.timedelta(seconds=delta_s)).isoformat()


def write_run(root, run_id, status="COMPLETED", heartbeat_age=5.0,
              start_age=600.0, config=None, result=None, metrics=None,
              host=None, raw=None):
    """Writes a Sacred-like run folder by hand; returns its path.

    `raw` (a string) replaces the `run.json` content (to truncate it).
    """
    directory = os.path.join(str(root), str(run_id))
    os.makedirs(directory, exist_ok=True)
    run_json = {
        "experiment": {"name": "hand"},
        "status": status,
        "start_time": _iso(start_age),
        "heartbeat": None if heartbeat_age is None else _iso(heartbeat_age),
        "host": host or {"hostname": "some-other-host"},
        "result": result,
        "artifacts": [],
    }
    if status != "RUNNING":
        run_json["stop_time"] = _iso(heartbeat_age or 0)
    with open(os.path.join(directory, "run.json"), "w") as handle:
        handle.write(raw if raw is not None else json.dumps(run_json))
    with open(os.path.join(directory, "config.json"), "w") as handle:
        json.dump(config or {"seed": 1, "lr": 0.1}, handle)
    with open(os.path.join(directory, "metrics.json"), "w") as handle:
        json.dump(metrics or {}, handle)
    return directory


@pytest.fixture
def mixed_runs(tmp_path):
    """Four runs: completed, alive, died (old heartbeat), unreadable."""
    root = tmp_path / "hand"
    write_run(root, 1, config={"seed": 1, "lr": 0.1}, result={"acc": 0.9})
    write_run(root, 2, status="RUNNING", heartbeat_age=3.0,
              config={"seed": 2, "lr": 0.1})
    write_run(root, 3, status="RUNNING", heartbeat_age=3600.0,
              config={"seed": 3, "lr": 0.1})
    full = json.dumps({"experiment": {"name": "hand"}, "status": "COMPLETED",
                       "start_time": _iso(100)})
    write_run(root, 4, raw=full[: len(full) // 2])
    return root
