"""Tests for `deltasparse.ops.distillation` against a NumPy reference written
from Hinton et al. (2015) / Distiller's definition (values and gradients),
on the TensorFlow and JAX backends."""

import keras
import numpy as np
from absl.testing import parameterized

from deltasparse.ops.distillation import distillation_loss
from deltasparse.ops.distillation import log_probabilities
from deltasparse.ops.distillation import soft_target_divergence
from deltasparse.testing import TestCase


def np_log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def np_loss(labels, student, teacher, temperature, alpha, beta):
    """alpha T^2 KL(p_t || p_s) + beta CE, float64, batch means."""
    student = student.astype("float64")
    teacher = teacher.astype("float64")
    log_s = np_log_softmax(student / temperature)
    log_t = np_log_softmax(teacher / temperature)
    kl = (np.exp(log_t) * (log_t - log_s)).sum(axis=-1).mean()
    ce = -np_log_softmax(student)[np.arange(len(labels)), labels].mean()
    return alpha * temperature ** 2 * kl + beta * ce


def np_student_gradient(labels, student, teacher, temperature, alpha, beta):
    """d loss / d z_s = alpha T (p_s^T - p_t^T) / B + beta (p_s - y) / B."""
    batch, classes = student.shape
    p_s_t = np.exp(np_log_softmax(student.astype("float64") / temperature))
    p_t_t = np.exp(np_log_softmax(teacher.astype("float64") / temperature))
    p_s = np.exp(np_log_softmax(student.astype("float64")))
    onehot = np.eye(classes)[labels]
    soft = alpha * temperature * (p_s_t - p_t_t)
    return (soft + beta * (p_s - onehot)) / batch


def gradients(fn, student, teacher):
    """`fn(student, teacher)` and its gradients w.r.t. both (TF or JAX)."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        s, t = tf.Variable(student), tf.Variable(teacher)
        with tf.GradientTape() as tape:
            value = fn(s, t)
        grad_s, grad_t = tape.gradient(value, [s, t])
        return value, grad_s, grad_t
    import jax

    value, (grad_s, grad_t) = jax.value_and_grad(fn, argnums=(0, 1))(
        student, teacher)
    return value, grad_s, grad_t


class DistillationLossTest(TestCase):
    def setUp(self):
        super().setUp()
        rng = np.random.default_rng(0)
        self.student = rng.normal(0, 3, (4, 6)).astype("float32")
        self.teacher = rng.normal(0, 3, (4, 6)).astype("float32")
        self.labels = np.array([0, 5, 2, 2])

    @parameterized.named_parameters(
        ("seed_grid", 5.0, 0.7, 0.3), ("seed_default", 0.3, 0.7, 0.3),
        ("other_weights", 1.0, 0.8, 0.4), ("hard_only", 2.0, 0.0, 1.0))
    def test_values_match_numpy(self, temperature, alpha, beta):
        got = distillation_loss(self.labels, self.student, self.teacher,
                                temperature, alpha, beta)
        want = np_loss(self.labels, self.student, self.teacher, temperature,
                       alpha, beta)
        self.assertAllClose(got, want, rtol=1e-5, atol=1e-6)
        self.assertEqual(keras.backend.standardize_dtype(got.dtype),
                         "float32")

    def test_hand_computed_case(self):
        # Equal logits: KL = 0, CE = -log(1/2) for two equal classes.
        z = np.zeros((2, 2), "float32")
        got = distillation_loss(np.array([0, 1]), z, z, 4.0, 0.7, 0.3)
        self.assertAllClose(got, 0.3 * np.log(2.0), rtol=1e-6)
        # Column labels (batch, 1) are the same labels.
        again = distillation_loss(np.array([[0], [1]]), z, z, 4.0, 0.7, 0.3)
        self.assertAllClose(again, got)

    def test_gradient_reaches_the_student_only(self):
        def fn(student, teacher):
            return distillation_loss(self.labels, student, teacher, 5.0, 0.7,
                                     0.3)

        value, grad_s, grad_t = gradients(fn, self.student, self.teacher)
        want = np_student_gradient(self.labels, self.student, self.teacher,
                                   5.0, 0.7, 0.3)
        self.assertAllClose(grad_s, want, rtol=1e-4, atol=1e-6)
        if grad_t is not None:  # TF: None, JAX: zeros (stop_gradient)
            self.assertAllClose(grad_t, np.zeros_like(self.teacher))

    def test_stable_for_huge_logits_and_small_temperature(self):
        student = np.array([[1e4, -1e4, 0.0]], "float32")
        teacher = np.array([[-1e4, 1e4, 0.0]], "float32")
        got = keras.ops.convert_to_numpy(distillation_loss(
            np.array([1]), student, teacher, 0.3, 0.7, 0.3))
        self.assertTrue(np.isfinite(got))
        want = np_loss(np.array([1]), student, teacher, 0.3, 0.7, 0.3)
        self.assertAllClose(got, want, rtol=1e-4)

    def test_divergence_is_zero_for_equal_and_positive_otherwise(self):
        same = soft_target_divergence(self.student, self.student, 3.0)
        self.assertAllClose(same, np.zeros(4), atol=1e-6)
        other = keras.ops.convert_to_numpy(
            soft_target_divergence(self.student, self.teacher, 3.0))
        self.assertTrue(np.all(other > 0))

    def test_log_probabilities_of_softmax_outputs_give_the_same_loss(self):
        probs = keras.ops.softmax(self.student)
        recovered = log_probabilities(probs, from_logits=False)
        got = distillation_loss(self.labels, recovered, self.teacher, 5.0)
        want = np_loss(self.labels, self.student, self.teacher, 5.0, 0.7, 0.3)
        self.assertAllClose(got, want, rtol=1e-4)
        self.assertAllClose(log_probabilities(self.student),
                            np_log_softmax(self.student), atol=1e-5)

    @parameterized.named_parameters(
        ("temperature", dict(temperature=0.0), "`temperature`"),
        ("negative_weight", dict(distill_weight=-1.0), "`distill_weight`"),
        ("student_weight", dict(student_weight="x"), "`student_weight`"))
    def test_invalid_arguments(self, kwargs, name):
        with self.assertRaisesRegex(ValueError, name + ".*Received"):
            distillation_loss(self.labels, self.student, self.teacher,
                              **kwargs)
