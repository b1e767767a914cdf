"""Trainer: exact resume, history across a kill, best weights, logging."""

import json
import os

import keras
import numpy as np
import pytest

from deltasparse.training import Trainer
from deltasparse.training import TrainingResult
from deltasparse.training import epoch_seed
from deltasparse.training import make_optimizer
from tests.training import helpers


class Kill(Exception):
    """Stands in for SIGKILL: aborts the run mid-way."""


class KillAtEpoch(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise Kill(f"killed at epoch {epoch}")


def _fit(directory, epochs, resume=False, callbacks=(), log=None,
         init_seed=0, **kwargs):
    model = helpers.tiny_model(seed=init_seed)
    trainer = Trainer(directory, resume=resume, seed=7, monitor="val_loss",
                      mode="min", verbose=0, log_scalar=log, **kwargs)
    result = trainer.fit(model, helpers.train_data(), epochs,
                         validation_data=helpers.validation_data(),
                         callbacks=callbacks)
    return model, result


def _without_timing(history):
    return {k: v for k, v in history.items()
            if k not in ("data_time", "step_time", "clips_per_second")}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    directory = tmp_path_factory.mktemp("full")
    model, result = _fit(str(directory), 2)
    return (helpers.all_weights(model), helpers.optimizer_state(model),
            result)


def test_resume_is_bit_for_bit(tmp_path, uninterrupted):
    weights, opt_state, full = uninterrupted
    _, first = _fit(str(tmp_path), 1)
    assert first.epochs == [1]
    # A new model object (different random init) and a new Trainer.
    model, second = _fit(str(tmp_path), 2, resume=True, init_seed=99)
    assert second.resumed_from_epoch == 1
    assert second.epochs == full.epochs == [1, 2]
    assert _without_timing(second.history) == _without_timing(full.history)
    for got, want in zip(helpers.all_weights(model), weights):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(helpers.optimizer_state(model), opt_state):
        np.testing.assert_array_equal(got, want)
    assert int(model.optimizer.iterations.numpy()) == 2 * 3
    # The loss went somewhere: the two epochs are not the same numbers.
    assert full.history["loss"][0] != full.history["loss"][1]


def test_history_and_best_survive_a_kill(tmp_path, uninterrupted):
    _, _, full = uninterrupted
    logged = []
    with pytest.raises(Kill):
        _fit(str(tmp_path), 2, callbacks=[KillAtEpoch(1)],
             log=lambda *a: logged.append(a))
    on_disk = json.loads((tmp_path / "history.json").read_text())
    assert on_disk["epochs"] == [1]
    assert {step for _, _, step in logged} == {1}
    assert (tmp_path / "best.weights.h5").is_file()

    relogged = []
    model, result = _fit(str(tmp_path), 2, resume=True,
                         log=lambda *a: relogged.append(a))
    assert result.epochs == [1, 2]
    assert result.resumed_from_epoch == 1
    assert _without_timing(result.history) == _without_timing(full.history)
    # Epoch 1 is not re-logged by the trainer; epoch 2 logs every figure.
    assert {step for _, _, step in relogged} == {2}
    names = {name for name, _, _ in relogged}
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "data_time",
            "step_time", "clips_per_second"} <= names
    assert result.best_value == full.best_value
    assert result.best_epoch == full.best_epoch
    assert result.best_value == min(result.history["val_loss"])
    assert os.path.basename(result.best_weights_path) == "best.weights.h5"
    # best.weights.h5 holds the best epoch's weights: load it, re-evaluate.
    reloaded = helpers.tiny_model()
    reloaded.load_weights(result.best_weights_path)
    assert os.path.isfile(result.last_weights_path)
    replayed = []
    trainer = Trainer(str(tmp_path), resume=True, monitor="val_loss",
                      mode="min")
    trainer.replay_history(lambda *a: replayed.append(a))
    assert sorted({s for _, _, s in replayed}) == [1, 2]
    assert len(replayed) == 2 * len(result.history)


def test_best_is_tracked_across_resume(tmp_path):
    """The best value found before a resume is not forgotten after it."""
    directory = str(tmp_path)
    model = helpers.tiny_model()
    trainer = Trainer(directory, seed=3, monitor="loss", mode="max",
                      verbose=0)
    first = trainer.fit(model, helpers.train_data(), 1)
    assert first.best_epoch == 1
    best_bytes = (tmp_path / "best.weights.h5").read_bytes()
    model = helpers.tiny_model()
    trainer = Trainer(directory, seed=3, monitor="loss", mode="max",
                      verbose=0, resume=True)
    second = trainer.fit(model, helpers.train_data(), 3)
    losses = second.history["loss"]
    assert second.best_value == max(losses)
    assert second.best_epoch == 1 + int(np.argmax(losses))
    if second.best_epoch == 1:  # training lowers the loss: epoch 1 is max
        assert (tmp_path / "best.weights.h5").read_bytes() == best_bytes


def test_resume_false_moves_old_files_aside(tmp_path):
    directory = tmp_path / "ckpt"
    _fit(str(directory), 1)
    model, result = _fit(str(directory), 1)
    assert result.resumed_from_epoch is None
    aside = [p for p in tmp_path.iterdir() if ".replaced-" in p.name]
    assert len(aside) == 1
    assert (aside[0] / "history.json").is_file()
    assert (directory / ".lock").is_file()
    assert not [n for n in os.listdir(directory) if n.startswith(".tmp-")]


def test_keep_prunes_epoch_states_and_log_lines(tmp_path, caplog):
    model = helpers.tiny_model(dropout=False)
    trainer = Trainer(str(tmp_path), seed=1, monitor="loss", mode="min",
                      keep=1, verbose=0)
    with caplog.at_level("INFO", logger="deltasparse.training"):
        result = trainer.fit(model, helpers.train_data(augment=False), 3,
                             steps_per_epoch=2)
    states = sorted(n for n in os.listdir(tmp_path) if n.endswith(".npz"))
    assert states == ["epoch-003.state.npz"]
    lines = [r.getMessage() for r in caplog.records
             if r.getMessage().startswith("epoch ")]
    assert [line.split(" - ")[0] for line in lines] == [
        "epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert int(model.optimizer.iterations.numpy()) == 6
    assert isinstance(result, TrainingResult)


def test_stop_training_ends_the_run(tmp_path):
    class StopAfterFirst(keras.callbacks.Callback):
        began = ended = 0

        def on_train_begin(self, logs=None):
            StopAfterFirst.began += 1

        def on_train_end(self, logs=None):
            StopAfterFirst.ended += 1

        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True

    model = helpers.tiny_model()
    result = Trainer(str(tmp_path), seed=0, monitor="loss", mode="min",
                     verbose=0).fit(model, helpers.train_data(), 5,
                                    callbacks=[StopAfterFirst()])
    assert result.epochs == [1, 2]
    assert (StopAfterFirst.began, StopAfterFirst.ended) == (1, 1)


def test_epoch_seed_is_a_function_of_seed_and_epoch():
    assert epoch_seed(1, 2) == epoch_seed(1, 2)
    assert len({epoch_seed(s, e) for s in range(3) for e in range(3)}) == 9
    assert 0 <= epoch_seed(2**40, 5) < 2**31


def test_make_optimizer_inverse_time_decay():
    opt = make_optimizer(0.1, momentum=0.5, decay=0.01)
    opt.iterations.assign(100)
    np.testing.assert_allclose(float(opt.learning_rate), 0.1 / 2.0,
                               rtol=1e-6)
    assert float(opt.momentum) == 0.5
    assert float(make_optimizer(0.1, decay=0).learning_rate) == (
        pytest.approx(0.1))


@pytest.mark.parametrize("kwargs, match", [
    ({"mode": "up"}, "Received: mode='up'"),
    ({"keep": 0}, "Received: keep=0"),
    ({"seed": -1}, "Received: seed=-1"),
    ({"monitor": ""}, "Received: monitor=''"),
    ({"log_scalar": 3}, "Received: log_scalar=3"),
])
def test_bad_trainer_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        Trainer(str(tmp_path), **kwargs)


def test_bad_fit_arguments(tmp_path):
    trainer = Trainer(str(tmp_path), verbose=0)
    model = helpers.tiny_model()
    with pytest.raises(ValueError, match="Received: epochs=0"):
        trainer.fit(model, helpers.train_data(), 0)
    uncompiled = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="must be compiled"):
        trainer.fit(uncompiled, helpers.train_data(), 1)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a file"):
        Trainer(str(tmp_path / "file"))


@pytest.mark.parametrize("kwargs, match", [
    ({"lr": 0}, "Received: lr=0"),
    ({"lr": 0.1, "decay": -1}, "Received: decay=-1"),
    ({"lr": 0.1, "optimizer": "rmsprop"}, "Received: optimizer='rmsprop'"),
])
def test_bad_optimizer_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_optimizer(**kwargs)


def test_weights_files_hold_the_weights_without_the_optimizer(tmp_path):
    import warnings

    import h5py

    from deltasparse.training.checkpoints import load_weights_quietly
    from deltasparse.training.checkpoints import save_weights_atomic

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(keras.optimizers.Adam(0.1), "mse")
    model.fit(np.ones((8, 4)), np.zeros((8, 3)), verbose=0)
    path = str(tmp_path / "w.weights.h5")
    save_weights_atomic(model, path)
    with h5py.File(path) as f:
        assert "optimizer" not in f  # Keras' save_weights would add it
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    other.compile(keras.optimizers.Adam(0.1), "mse")
    other.fit(np.ones((8, 4)), np.ones((8, 3)), verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_weights_quietly(other, path)
    for a, b in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
