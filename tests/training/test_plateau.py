"""`ReduceLearningRateOnPlateau` against PyTorch's rule, and its resume."""

import json
import math

import keras
import numpy as np
import pytest

from deltasparse.training import Trainer
from deltasparse.training.optimizers import SGDWithDampening
from deltasparse.training.plateau import ReduceLearningRateOnPlateau


def pytorch_plateau(values, lr, mode="min", factor=0.1, patience=10,
                    threshold=1e-4, threshold_mode="rel", cooldown=0,
                    min_lr=0.0, eps=1e-8):
    """`torch.optim.lr_scheduler.ReduceLROnPlateau.step` per value, written
    out from its documented rule; returns the learning rate after each."""
    best = math.inf if mode == "min" else -math.inf
    bad = cooldown_counter = 0
    rates = []
    for value in values:
        if mode == "min" and threshold_mode == "rel":
            better = value < best * (1.0 - threshold)
        elif mode == "min":
            better = value < best - threshold
        elif threshold_mode == "rel":
            better = value > best * (threshold + 1.0)
        else:
            better = value > best + threshold
        if better:
            best, bad = value, 0
        else:
            bad += 1
        if cooldown_counter > 0:
            cooldown_counter -= 1
            bad = 0
        if bad > patience:
            new_lr = max(lr * factor, min_lr)
            if lr - new_lr > eps:
                lr = new_lr
            cooldown_counter = cooldown
            bad = 0
        rates.append(lr)
    return rates


LOSSES = [1.0, 0.9, 0.89995, 0.9, 0.95, 0.8, 0.8, 0.79999, 0.81, 0.82, 0.7,
          0.7, 0.7, 0.7, 0.7, 0.69, 0.69, float("nan"), 0.5, 0.5]


def compiled_model(learning_rate=0.1):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(SGDWithDampening(learning_rate), "mse")
    return model


def run_callback(values, **arguments):
    model = compiled_model()
    callback = ReduceLearningRateOnPlateau(**arguments)
    callback.set_model(model)
    rates = []
    for epoch, value in enumerate(values):
        callback.on_epoch_begin(epoch)
        callback.on_epoch_end(epoch, {"val_loss": value})
        rates.append(float(model.optimizer.learning_rate))
    return rates, callback


@pytest.mark.parametrize("arguments", [
    {"patience": 1},
    {"patience": 2, "cooldown": 2},
    {"patience": 0, "threshold": 0.05},            # large relative threshold
    {"patience": 1, "threshold": 0.02, "threshold_mode": "abs"},
    {"patience": 0, "min_learning_rate": 2e-4},    # floor, then eps rule
    {"patience": 1, "mode": "max", "factor": 0.5},
    {},                                            # the defaults: patience 10
])
def test_learning_rates_follow_the_pytorch_rule(arguments):
    renamed = {("min_lr" if k == "min_learning_rate" else k): v
               for k, v in arguments.items()}
    expected = pytorch_plateau(LOSSES, 0.1, **renamed)
    got, _ = run_callback(LOSSES, **arguments)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_threshold_makes_a_tiny_improvement_a_bad_epoch():
    # 0.89995 < 0.9 but not < 0.9 * (1 - 1e-4) = 0.89991: a bad epoch.
    _, callback = run_callback([1.0, 0.9, 0.89995], patience=5)
    assert callback.best == 0.9 and callback.bad_epochs == 1
    _, callback = run_callback([1.0, 0.9, 0.8999], patience=5)
    assert callback.best == 0.8999 and callback.bad_epochs == 0


def test_resume_from_the_state_file_continues_exactly(tmp_path):
    path = tmp_path / "plateau_state.json"
    arguments = {"patience": 1, "cooldown": 1, "state_path": str(path)}
    straight, callback = run_callback(LOSSES, **arguments)
    reference = callback.get_state()
    # A new process: fresh model and callback, resumed after epoch 7.
    model = compiled_model(learning_rate=0.1)
    resumed = ReduceLearningRateOnPlateau(**arguments)
    resumed.set_model(model)
    rates = []
    for epoch in range(7, len(LOSSES)):
        resumed.on_epoch_begin(epoch)
        resumed.on_epoch_end(epoch, {"val_loss": LOSSES[epoch]})
        rates.append(float(model.optimizer.learning_rate))
    np.testing.assert_allclose(rates, straight[7:], rtol=1e-7)
    assert resumed.get_state() == reference
    saved = json.loads(path.read_text())
    assert sorted(saved, key=int) == [str(e) for e in range(1, 21)]


def test_trainer_resume_equals_an_uninterrupted_run(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 2)).astype("float32")
    y = rng.normal(size=(8, 1)).astype("float32")
    data = lambda epoch: (x, y)  # noqa: E731

    def train(folder, epochs, resume):
        keras.utils.set_random_seed(1)
        model = compiled_model(learning_rate=0.5)
        model.build((None, 2))
        plateau = ReduceLearningRateOnPlateau(
            patience=0, threshold=0.2,
            state_path=str(folder / "plateau_state.json"))
        trainer = Trainer(str(folder), resume=resume, seed=3,
                          monitor="val_loss", mode="min", verbose=0)
        result = trainer.fit(model, data, epochs, validation_data=(x, y),
                             callbacks=[plateau])
        return model, result, plateau

    model, straight, plateau = train(tmp_path / "a", 4, False)
    train(tmp_path / "b", 2, False)
    resumed_model, resumed, resumed_plateau = train(tmp_path / "b", 4, True)
    assert resumed.resumed_from_epoch == 2
    assert straight.history["learning_rate"] == resumed.history[
        "learning_rate"]
    assert len(set(straight.history["learning_rate"])) > 1  # it reduced
    np.testing.assert_array_equal(model.get_weights()[0],
                                  resumed_model.get_weights()[0])
    assert plateau.get_state() == resumed_plateau.get_state()
    assert float(model.optimizer.learning_rate) == float(
        resumed_model.optimizer.learning_rate)


def test_a_learning_rate_schedule_is_refused():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(SGDWithDampening(
        keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)), "mse")
    callback = ReduceLearningRateOnPlateau()
    callback.set_model(model)
    with pytest.raises(ValueError, match="settable"):
        callback.on_train_begin()


@pytest.mark.parametrize("arguments, name", [
    ({"mode": "mean"}, "mode"),
    ({"threshold_mode": "percent"}, "threshold_mode"),
    ({"factor": 1.0}, "factor"),
    ({"factor": 0.0}, "factor"),
    ({"patience": -1}, "patience"),
    ({"cooldown": 1.5}, "cooldown"),
    ({"threshold": -1e-4}, "threshold"),
    ({"monitor": ""}, "monitor"),
    ({"state_path": 3}, "state_path"),
])
def test_bad_arguments_raise(arguments, name):
    with pytest.raises(ValueError, match=f"`{name}`.*Received: {name}="):
        ReduceLearningRateOnPlateau(**arguments)
