"""Shared helpers of the temporal autoencoder experiment tests (not collected).

- `load_script(name, results_root)`: a fresh module of
  `experiments/<name>.py` whose Sacred observer writes below
  `results_root` (the observer is attached at import time).
- `write_fake_cifar`, `write_fake_coil`, `write_fake_nec`: tiny data sets in
  the on-disk formats the loaders of `deltasparse.data` read.
- `TINY`: config updates that make any run of the quick configs finish in
  seconds (eager Keras, one epoch).
- `check_completed_run`: the assertions every end-to-end test shares.
"""

import csv
import importlib.util
import json
import os
import pickle
import uuid

import numpy as np
from PIL import Image

from deltasparse import reporting as results
from deltasparse.experiment import observers

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
EXPERIMENTS = os.path.join(REPO, "experiments")

TINY = {
    "verbose": 0,
    "_algo": {"epochs": 1, "run_eagerly": True},
    "plot": {"n_videos": 2, "figsize": [3, 3], "dpi": 40},
}
"""Config updates shared by the end-to-end tests."""


def load_script(name, results_root, monkeypatch):
    """Imports `experiments/<name>.py` as a new module.

    Args:
        name: script name without `.py`.
        results_root: folder that receives `<name>/<run id>/`.
        monkeypatch: pytest fixture used to set `$DELTASPARSE_RESULTS`.

    Returns:
        The module (its `ex` is the Sacred experiment).
    """
    monkeypatch.setenv(observers.RESULTS_ENV, str(results_root))
    path = os.path.join(EXPERIMENTS, f"{name}.py")
    spec = importlib.util.spec_from_file_location(
        f"_autoencoder_script_{name}_{uuid.uuid4().hex}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def merge(*updates):
    """Recursively merges config-update dicts (later ones win)."""
    out = {}
    for update in updates:
        for key, value in update.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = merge(out[key], value)
            else:
                out[key] = value
    return out


def write_fake_cifar(folder, n_train=150, n_test=30, seed=0):
    """CIFAR-10 python batches (`data_batch_1..5`, `test_batch`).

    Labels cycle through the 10 classes; every image is noise around a
    class-specific colour so that a classifier can learn something.
    """
    os.makedirs(folder, exist_ok=True)
    rng = np.random.RandomState(seed)

    def images(n):
        labels = np.arange(n) % 10
        base = (labels[:, None, None, None] * 25).astype(np.float64)
        noise = rng.randint(0, 40, size=(n, 32, 32, 3))
        return np.clip(base + noise, 0, 255).astype(np.uint8), labels

    def dump(name, x, y):
        data = x.transpose(0, 3, 1, 2).reshape(len(x), 3072)
        with open(os.path.join(folder, name), "wb") as handle:
            pickle.dump({b"data": data, b"labels": [int(v) for v in y]},
                        handle)

    x, y = images(n_train)
    for i, part in enumerate(np.array_split(np.arange(n_train), 5)):
        dump(f"data_batch_{i + 1}", x[part], y[part])
    dump("test_batch", *images(n_test))
    return folder


def write_fake_coil(folder, n_objects=3, side=16, seed=0):
    """`obj{i}__{angle}.png` turntable frames (72 per object)."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.RandomState(seed)
    for obj in range(1, n_objects + 1):
        colour = rng.randint(0, 256, size=3)
        for t in range(72):
            img = np.clip(colour + rng.randint(-30, 30, size=(side, side, 3)),
                          0, 255).astype(np.uint8)
            Image.fromarray(img).save(
                os.path.join(folder, f"obj{obj}__{5 * t}.png"))
    return folder


def write_fake_nec(folder, lengths=(5, 4, 3), side=16, seed=0):
    """`seq_ref_clean.txt` (4 header lines) and `img_clean/img%04d.jpg`."""
    os.makedirs(os.path.join(folder, "img_clean"), exist_ok=True)
    rng = np.random.RandomState(seed)
    lines, start = [], 1
    for n in lengths:
        lines.append(f"{start} {start + n - 1}")
        start += n
    header = ["NEC Animal (fake)", "clean", "# start end", "---"]
    with open(os.path.join(folder, "seq_ref_clean.txt"), "w",
              encoding="latin-1") as handle:
        handle.write("\n".join(header + lines) + "\n")
    for q in range(1, start):
        img = rng.randint(0, 256, size=(side, side, 3)).astype(np.uint8)
        Image.fromarray(img).save(
            os.path.join(folder, "img_clean", f"img{q:04d}.jpg"))
    return folder


def check_completed_run(run, results_root, name, num_labeled, pngs,
                        ae_losses, pretrains=True):
    """Assertions shared by the end-to-end tests; returns the run folder."""
    assert run.status == "COMPLETED"
    stages = ["stacked", "endtoend"]
    # Result in the original's nested-list form.
    assert len(run.result) == 1 + 2 * len(num_labeled)
    assert len(run.result[0]) == ae_losses
    for entry in run.result[1:]:
        assert np.shape(entry) == (3, 2)
        assert all(0.0 <= acc <= 1.0 for _, acc in entry)
    # Result table, in the info and as CSV.
    table = run.info["result_table"]
    assert [(r["num_labeled"], r["stage"]) for r in table] == [
        (n, s) for n in num_labeled for s in stages]
    run_dir = os.path.join(str(results_root), name, str(run._id))
    with open(os.path.join(run_dir, "result_table.csv")) as handle:
        rows = list(csv.DictReader(handle))
    assert [(int(r["num_labeled"]), r["stage"]) for r in rows] == [
        (n, s) for n in num_labeled for s in stages]
    assert float(rows[0]["test_accuracy"]) == table[0]["test_accuracy"]
    # Artifacts live in the run's own folder.
    for fname in pngs + ["result_table.csv", "autoencoder.weights.h5",
                         "supervised_True.weights.h5",
                         "supervised_False.weights.h5"]:
        assert os.path.isfile(os.path.join(run_dir, fname)), fname
    # deltasparse.reporting reads what the run wrote.
    loaded = results.load_runs(os.path.join(str(results_root), name))
    assert loaded.column("status") == ["COMPLETED"]
    assert set(pngs) <= set(loaded.runs[0]["artifacts"])
    assert "result_table.csv" in loaded.runs[0]["artifacts"]
    metrics = loaded.runs[0]["metrics"]
    n0 = num_labeled[0]
    for key in (f"nl{n0}.stacked.val_loss", f"nl{n0}.endtoend.accuracy",
                "result.stacked.test_accuracy"):
        assert key in metrics, key
    assert ("pretrain.loss" in metrics) == pretrains
    assert metrics["result.endtoend.test_accuracy"]["steps"] == list(
        num_labeled)
    tables = results.load_result_tables(os.path.join(str(results_root), name))
    assert len(tables) == 2 * len(num_labeled)
    assert tables.column("stage") == stages * len(num_labeled)
    assert "timings" in loaded.runs[0]["info"]
    # The script itself is among the run's recorded sources.
    with open(os.path.join(run_dir, "run.json")) as handle:
        sources = json.load(handle)["experiment"]["sources"]
    assert any(src.endswith(f"{name}.py") for src, _ in sources)
    return run_dir
