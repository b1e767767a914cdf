"""Tests for `deltasparse.ops.adafocus_loss` against a NumPy reference written
from the original's `train` (three per-frame cross-entropies per branch, the
two branches averaged), on the TensorFlow and JAX backends."""

import keras
import numpy as np

from deltasparse.ops.adafocus_loss import adafocus_loss
from deltasparse.ops.adafocus_loss import frame_cross_entropy
from deltasparse.ops.adafocus_loss import label_distribution
from deltasparse.testing import TestCase

KEYS = ("step_logits", "glance_logits", "local_logits")


def np_cross_entropy(labels, logits):
    """Mean over B*T frames of -log softmax(logits)[label], float64."""
    batch, time, _ = logits.shape
    z = logits.astype("float64").reshape(batch * time, -1)
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -log_p[np.arange(batch * time), np.repeat(labels, time)].mean()


def random_outputs(rng, batch=3, time=4, classes=5):
    return {k: rng.normal(size=(batch, time, classes)).astype("float32") * 3
            for k in KEYS}


class AdaFocusLossTest(TestCase):

    def test_two_branches_against_numpy(self):
        rng = np.random.default_rng(0)
        labels = np.array([0, 4, 2])
        learned, random = random_outputs(rng), random_outputs(rng)
        expected = 0.5 * (sum(np_cross_entropy(labels, learned[k]) for k in KEYS)
                          + sum(np_cross_entropy(labels, random[k]) for k in KEYS))
        got = adafocus_loss(np.eye(5, dtype="float32")[labels], learned, random)
        self.assertAllClose(float(got), expected, rtol=1e-5)
        # int labels give the same loss as one-hot rows.
        self.assertAllClose(float(adafocus_loss(labels, learned, random)),
                            expected, rtol=1e-5)

    def test_learned_branch_alone(self):
        rng = np.random.default_rng(1)
        labels = np.array([1, 3, 0])
        learned = random_outputs(rng)
        expected = sum(np_cross_entropy(labels, learned[k]) for k in KEYS)
        self.assertAllClose(float(adafocus_loss(labels, learned)), expected,
                            rtol=1e-5)

    def test_sample_weight_is_a_weighted_mean_over_clips(self):
        rng = np.random.default_rng(2)
        labels = np.array([1, 3, 0])
        learned = random_outputs(rng)
        per_clip = [sum(np_cross_entropy(labels[i:i + 1], learned[k][i:i + 1])
                        for k in KEYS) for i in range(3)]
        weights = np.array([1.0, 0.0, 3.0], "float32")
        expected = np.dot(per_clip, weights) / weights.sum()
        self.assertAllClose(
            float(adafocus_loss(labels, learned, sample_weight=weights)),
            expected, rtol=1e-5)

    def test_gradient_of_the_step_logits(self):
        """d loss / d step_logits = (softmax - onehot) / (B T) / 2 per branch."""
        rng = np.random.default_rng(3)
        labels = np.array([2, 0])
        learned = random_outputs(rng, batch=2, time=3, classes=4)
        random = random_outputs(rng, batch=2, time=3, classes=4)
        z = learned["step_logits"]

        def loss(step_logits):
            return adafocus_loss(labels, {**learned, "step_logits": step_logits},
                                 random)

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf
            v = tf.Variable(z)
            with tf.GradientTape() as tape:
                value = loss(v)
            grad = tape.gradient(value, v).numpy()
        else:
            import jax
            grad = np.asarray(jax.grad(loss)(z))
        p = np.exp(z - z.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        onehot = np.eye(4)[labels][:, None, :]
        self.assertAllClose(grad, (p - onehot) / 6 / 2, atol=1e-6)

    def test_multi_hot_rows_are_normalised(self):
        dist = keras.ops.convert_to_numpy(
            label_distribution(np.array([[1, 0, 1, 0], [0, 0, 0, 1]]), 4))
        self.assertAllClose(dist, [[0.5, 0, 0.5, 0], [0, 0, 0, 1]])
        zeros = np.zeros((1, 2, 2), "float32")
        self.assertAllClose(
            float(frame_cross_entropy(np.array([[1.0, 0.0]]), zeros)[0]),
            np.log(2.0))

    def test_errors(self):
        rng = np.random.default_rng(4)
        learned = random_outputs(rng)
        with self.assertRaisesRegex(ValueError, "`outputs_learned` must be a "
                                                "dict with the keys"):
            adafocus_loss(np.array([0, 1, 2]), {"step_logits": 0})
        bad = {**learned, "local_logits": learned["local_logits"][:, 0]}
        with self.assertRaisesRegex(ValueError, r"outputs_random\['local_logits'\]"):
            adafocus_loss(np.array([0, 1, 2]), learned, bad)
        with self.assertRaisesRegex(ValueError, "Received: labels.shape=\\(3, 7\\)"):
            adafocus_loss(np.zeros((3, 7)), learned)
