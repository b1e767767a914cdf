"""Checkpoint-folder lock (a live holder in another process) and timing."""

import os
import subprocess
import sys
import time

import pytest
import tensorflow as tf

from deltasparse.training import CheckpointLockedError
from deltasparse.training import Trainer
from tests.training import helpers

HOLD = (
    "import sys, time\n"
    "from deltasparse.training import CheckpointLock\n"
    "lock = CheckpointLock(sys.argv[1]).acquire()\n"
    "print('locked', flush=True)\n"
    "sys.stdin.read()\n"
)


def test_second_run_on_a_locked_folder_stops(tmp_path):
    directory = tmp_path / "ckpt"
    directory.mkdir()
    (directory / "history.json").write_text("{}")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(directory)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        trainer = Trainer(str(directory), verbose=0, monitor="loss",
                          mode="min")
        with pytest.raises(CheckpointLockedError) as info:
            trainer.fit(helpers.tiny_model(), helpers.train_data(), 1)
        message = str(info.value)
        assert "\n" not in message
        assert str(directory) in message and f"pid {holder.pid}" in message
        # A live run's folder is never moved aside (resume=False).
        assert (directory / "history.json").read_text() == "{}"
        assert not [p for p in tmp_path.iterdir() if ".replaced-" in p.name]
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    # The holder is gone: the OS dropped its lock.
    result = Trainer(str(directory), verbose=0, monitor="loss",
                     mode="min").fit(helpers.tiny_model(),
                                     helpers.train_data(), 1)
    assert result.epochs == [1]


def test_timing_separates_data_wait_from_steps(tmp_path):
    wait = 0.05

    def slow(x, y):
        def sleep(a):
            time.sleep(wait)
            return a
        x = tf.py_function(sleep, [x], tf.float32)
        x.set_shape([None, 6, 6, 2])
        return x, y

    def data(epoch):
        return helpers.train_data(augment=False)(epoch).map(slow)

    trainer = Trainer(str(tmp_path), verbose=0, monitor="loss", mode="min")
    result = trainer.fit(helpers.tiny_model(), data, 2)
    history = result.history
    for epoch in range(2):
        # Prefetching may overlap some of the 3 waits with steps, not all.
        assert history["data_time"][epoch] >= wait
        total = history["data_time"][epoch] + history["step_time"][epoch]
        assert history["clips_per_second"][epoch] == pytest.approx(
            24 / total, rel=1e-6)
    assert all(v > 0 for v in history["step_time"])
