"""The one sparsity path, end to end on the running backend.

A tiny delta model is trained for a few compiled steps with
`SparsityLogger`; the logged per-group densities (training and `val_`) must
equal an independent NumPy count of the nonzero quantized deltas. The CI's
JAX job runs this module with `KERAS_BACKEND=jax` (where the layers' old
metric updates silently logged 0), the default job on TensorFlow;
`tests/models/test_sparsity_path_backends.py` also runs it under JAX in a
subprocess from the TensorFlow job.
"""

import keras
import numpy as np
import pytest

from deltasparse.evaluation import evaluate_clips
from deltasparse.layers.sparsity.delta_activation import DeltaActivation
from deltasparse.models import SparsityLogger
from tests.models.tiny_video_model import numpy_counts
from tests.models.tiny_video_model import numpy_figures
from tests.models.tiny_video_model import tiny_data
from tests.models.tiny_video_model import tiny_video_model

BATCH = 4


def test_logged_densities_match_numpy_count():
    keras.utils.set_random_seed(0)
    model = tiny_video_model("delta")
    x, y = tiny_data(batches=3, batch=BATCH, seed=0)
    xv, yv = tiny_data(batches=2, batch=BATCH, seed=1)
    # lr 0: the compiled steps run (stateless on JAX) but the weights stay,
    # so the NumPy count on the final weights is the count of every step.
    model.compile(optimizer=keras.optimizers.SGD(0.0),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False,
                        validation_data=(xv, yv), verbose=0,
                        callbacks=[SparsityLogger()]).history
    want = numpy_figures(*numpy_counts(model, x, BATCH))
    want_val = numpy_figures(*numpy_counts(model, xv, BATCH))
    assert 0.05 < want["delta_density_all"] < 0.95  # a count that can fail
    assert want["delta_density_all"] != want_val["delta_density_all"]
    for name, value in want.items():
        # Both epochs: the sums are reset at every epoch begin.
        np.testing.assert_allclose(history[name], [value] * 2, rtol=1e-5,
                                   err_msg=name)
        np.testing.assert_allclose(history[f"val_{name}"],
                                   [want_val[name]] * 2, rtol=1e-5,
                                   err_msg=name)
    # evaluate_clips reads the same totals, over its own batches only.
    result = evaluate_clips(model, [(xv[:4], yv[:4]), (xv[4:], yv[4:])],
                            progress=False)
    for name, value in want_val.items():
        np.testing.assert_allclose(result[name], value, rtol=1e-5)


def test_training_moves_thresholds_and_logs_finite_figures():
    keras.utils.set_random_seed(1)
    model = tiny_video_model("delta", sp_rate=1.0)
    x, y = tiny_data(batches=2, batch=BATCH, seed=2)
    model.compile(optimizer=keras.optimizers.SGD(0.05),
                  loss="categorical_crossentropy")
    before = keras.ops.convert_to_numpy(model.get_layer("c1_delta").threshold)
    history = model.fit(x, y, batch_size=BATCH, epochs=2, verbose=0,
                        callbacks=[SparsityLogger()]).history
    after = keras.ops.convert_to_numpy(model.get_layer("c1_delta").threshold)
    assert not np.allclose(before, after)
    assert all(0 < v <= 1 for v in history["delta_density_all"])
    assert history["macs_dense_counted"][0] > 0


def test_show_metric_figures_through_the_same_path():
    keras.utils.set_random_seed(2)
    inp = keras.Input((3, 4))
    out = DeltaActivation(name="dal", show_metric=True, thr_init=0.25,
                          n_outputs=7.0)(inp)
    model = keras.Model(inp, out)
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.normal(0, 0.3, (6, 3, 4)), axis=1).astype("float32")
    logger = SparsityLogger()
    history = model.fit(x, x, batch_size=3, epochs=1, verbose=0,
                        callbacks=[logger]).history
    y = 0.25 * np.round(x / 0.25)
    spikes = np.count_nonzero(y[:, :-1] - y[:, 1:]) / (6 * 2)
    np.testing.assert_allclose(history["n_spikes_dal"], [spikes], rtol=1e-5)
    np.testing.assert_allclose(history["n_neurons_dal"], [4.0])
    np.testing.assert_allclose(history["n_outputs_dal"], [7.0])
    model.evaluate(x, x, batch_size=6, verbose=0, callbacks=[logger])
    np.testing.assert_allclose(logger.test_figures["n_spikes_dal"], spikes,
                               rtol=1e-5)


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="JAX only")
def test_jax_fit_does_not_log_zero():
    model = tiny_video_model("delta")
    x, y = tiny_data(batches=2, batch=BATCH, seed=3)
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    history = model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0,
                        callbacks=[SparsityLogger()]).history
    assert history["delta_density_all"][0] > 0
