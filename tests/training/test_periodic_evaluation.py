"""`periodic_epochs` and `PeriodicEvaluation` (evaluate at chosen epochs,
select the best with the Trainer)."""

import math

import keras
import numpy as np
import pytest

from deltasparse.training import Trainer
from deltasparse.training.callbacks import PeriodicEvaluation
from deltasparse.training.callbacks import periodic_epochs


def test_periodic_epochs_are_the_originals_schedule():
    # AdaFocusV2: every 5 epochs and each of the last 10 of 50.
    assert periodic_epochs(50) == [5, 10, 15, 20, 25, 30, 35, 40] + list(
        range(41, 51))
    assert periodic_epochs(3, every=5, last=0) == []
    for kwargs in ({"epochs": 0}, {"epochs": 5, "every": 0},
                   {"epochs": 5, "last": -1}):
        with pytest.raises(ValueError, match="must be an int"):
            periodic_epochs(**kwargs)


def test_trainer_keeps_the_best_evaluated_epoch(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    calls = []
    scores = {2: 0.7, 4: 0.5}  # epoch 2 is the best evaluated epoch

    def evaluate(m):
        calls.append(len(calls))
        return {"score": scores[2 * len(calls)]}
    callback = PeriodicEvaluation(evaluate, [2, 4], ["score"])
    trainer = Trainer(str(tmp_path), seed=0, monitor="val_score", verbose=0)
    data = (np.ones((4, 2), "float32"), np.zeros((4, 1), "float32"))
    result = trainer.fit(model, data, epochs=4, callbacks=[callback])
    assert len(calls) == 2
    values = result.history["val_score"]
    assert [v for v in values if not math.isnan(v)] == [0.7, 0.5]
    assert math.isnan(values[0]) and math.isnan(values[2])
    assert result.best_epoch == 2


def test_evaluate_must_be_callable():
    with pytest.raises(ValueError, match="`evaluate` must be a callable"):
        PeriodicEvaluation(None, [1], ["score"])
