"""Tests of `deltasparse.evaluation`: clip accuracy, the plain loss (no
sparsity terms, no second model) and the sparsity figures."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from deltasparse.evaluation import evaluate_clips
from deltasparse.evaluation import layer_sparsity
from deltasparse.evaluation import plain_crossentropy
from tests.models.tiny_video_model import numpy_counts
from tests.models.tiny_video_model import numpy_figures
from tests.models.tiny_video_model import tiny_data
from tests.models.tiny_video_model import tiny_video_model


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return tiny_video_model("delta", sp_rate=1.0)


def test_accuracy_loss_and_figures(model):
    x, y = tiny_data(batches=3, batch=4, seed=4)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(5)  # 5, 5, 2
    result = evaluate_clips(model, ds, progress=False)
    probs = np.asarray(model.predict(x, verbose=0))
    assert result["clips"] == 12 and result["steps"] == 3
    want_acc = np.mean(probs.argmax(-1) == y.argmax(-1))
    assert result["accuracy"] == pytest.approx(want_acc)
    keras_ce = keras.ops.convert_to_numpy(
        keras.losses.categorical_crossentropy(y, probs))
    assert result["loss"] == pytest.approx(float(np.mean(keras_ce)),
                                           rel=1e-5)
    # Keras' evaluate adds the slots' sparsity losses; evaluate_clips not.
    model.compile(loss="categorical_crossentropy")
    with_terms = model.evaluate(x, y, batch_size=12, verbose=0)
    assert with_terms > result["loss"] + 1e-3
    # Figures: the independent NumPy count over the same 12 clips.
    want = numpy_figures(*numpy_counts(model, x, 12))
    for name, value in want.items():
        assert result[name] == pytest.approx(value, rel=1e-5), name


def test_steps_integer_labels_and_progress_bar(model, capsys):
    x, y = tiny_data(batches=3, batch=4, seed=5)
    batches = [(x[i:i + 4], y[i:i + 4].argmax(-1)) for i in (0, 4, 8)]
    result = evaluate_clips(model, batches, steps=2, progress=True)
    assert result["clips"] == 8 and result["steps"] == 2
    probs = np.asarray(model.predict(x[:8], verbose=0))
    assert result["loss"] == pytest.approx(
        float(np.mean(plain_crossentropy(y[:8], probs))), rel=1e-6)
    assert "evaluate" in capsys.readouterr().err  # tqdm writes to stderr


def test_bad_arguments(model):
    x, y = tiny_data(batches=1, batch=2, seed=6)
    with pytest.raises(ValueError, match="Received: steps=0"):
        evaluate_clips(model, [(x, y)], steps=0)
    with pytest.raises(ValueError, match="yielded no batch"):
        evaluate_clips(model, [], progress=False)
    with pytest.raises(ValueError, match=r"\(clips, labels\)"):
        evaluate_clips(model, [x], progress=False)


def test_layer_sparsity_per_slot(model):
    x, _ = tiny_data(batches=1, batch=3, seed=7)
    stats = layer_sparsity(model, x)
    l0, n, frames = numpy_counts(model, x, 3)
    assert stats["names"] == ["c1_delta", "c2_delta", "c3_delta"]
    assert stats["kind"] == "delta" and stats["frames"] == frames == 6
    np.testing.assert_allclose(stats["l0"], l0)
    np.testing.assert_allclose(stats["n"], n)
    np.testing.assert_allclose(stats["density"], l0 / n)
    np.testing.assert_allclose(stats["macs_effective_per_frame"],
                               stats["n_outputs"] * l0 / frames)
