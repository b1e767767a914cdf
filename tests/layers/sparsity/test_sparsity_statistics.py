"""Tests for the fused sparsity statistics against NumPy references.

`sparsity_statistics` computes the count, the element count and the mean
magnitude of a tensor (`L1ActivityRegularizer`) or of its temporal deltas
(`DeltaActivation`) in fused custom-gradient ops that never materialise the
time slices. The references below are the plain definitions (spec
`delta_activation.md` §2.3 steps 7-10, §3), values and gradients.
"""

import keras
import numpy as np
from absl.testing import parameterized
from keras import ops

from deltasparse.layers.sparsity.delta_activation import DeltaActivation
from deltasparse.layers.sparsity.l1_activity_regularizer import (
    L1ActivityRegularizer,
)
from deltasparse.layers.sparsity.sparsity_statistics import sparsity_statistics
from deltasparse.layers.temporal.time_folding import FoldTime
from deltasparse.layers.temporal.time_folding import UnfoldTime
from deltasparse.testing import TestCase


def np_statistics(values, temporal):
    """(l0, n, mean_abs, d mean_abs / d values) from the definitions."""
    values = values.astype("float64")
    if temporal:
        d = values[:, :-1] - values[:, 1:]  # previous minus next
    else:
        d = values
    n = d.size
    grad_d = np.sign(d) / max(n, 1)
    if temporal:
        grad = np.zeros_like(values)
        grad[:, :-1] += grad_d
        grad[:, 1:] -= grad_d
    else:
        grad = grad_d
    mean_abs = np.abs(d).sum() / max(n, 1)
    return np.count_nonzero(d), n, mean_abs, grad


def quantized_clip(shape, seed=0, step=0.5):
    """A slowly changing clip on the grid `step * Z`: many exact zeros in
    the temporal deltas, and clips that differ from each other (so a delta
    across a clip boundary would be counted if it were not masked)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 1, (shape[0], 1) + tuple(shape[2:]))
    walk = np.cumsum(rng.normal(0, 0.3, shape), axis=1)
    return (step * np.round((base + walk) / step)).astype("float32")


def value_and_grad(fn, x):
    """`fn(x)` (a tuple of scalars) and the gradient of its last entry."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        xv = tf.Variable(x)
        with tf.GradientTape() as tape:
            out = fn(xv)
        return out, tape.gradient(out[-1], xv)
    import jax

    out = jax.jit(fn)(x)
    grad = jax.jit(jax.grad(lambda v: fn(v)[-1]))(x)
    return out, grad


SHAPES = (
    ("rank3_b1", (1, 4, 6)),
    ("rank3_b3_t2", (3, 2, 5)),
    ("rank5_b2_t3", (2, 3, 4, 4, 3)),
    ("rank5_b4_t4", (4, 4, 3, 5, 2)),
)


class SparsityStatisticsTest(TestCase):
    @parameterized.named_parameters(
        *[(f"{name}_{kind}", shape, kind == "delta")
          for name, shape in SHAPES for kind in ("delta", "activation")]
    )
    def test_values_and_gradient_match_reference(self, shape, temporal):
        x = quantized_clip(shape)
        if not temporal:
            x = x - 0.5  # signed, with exact zeros
        l0_ref, n_ref, mean_ref, grad_ref = np_statistics(x, temporal)
        frames = shape[0] * (shape[1] - 1 if temporal else shape[1])
        (l0, n, nf, mean_abs), grad = value_and_grad(
            lambda v: sparsity_statistics(v, frames, temporal=temporal), x
        )
        # The data must have zero and nonzero values (deltas), and the
        # clips differ (a delta across a clip boundary would count).
        self.assertGreater(l0_ref, 0)
        self.assertLess(l0_ref, n_ref)
        self.assertAllEqual(l0, l0_ref)
        self.assertAllEqual(n, n_ref)
        self.assertAllEqual(nf, frames)
        self.assertAllClose(mean_abs, mean_ref, rtol=1e-6, atol=0)
        self.assertAllClose(grad, grad_ref, rtol=1e-6, atol=1e-9)

    def test_without_loss_counts_the_same_and_has_no_gradient(self):
        x = quantized_clip((3, 4, 6))
        for temporal in (False, True):
            with self.subTest(temporal=temporal):
                l0_ref, n_ref, _, _ = np_statistics(x, temporal)
                (l0, n, _, mean_abs), grad = value_and_grad(
                    lambda v: sparsity_statistics(
                        v, 1, temporal=temporal, with_loss=False),
                    x,
                )
                self.assertAllEqual(l0, l0_ref)
                self.assertAllEqual(n, n_ref)
                self.assertAllEqual(mean_abs, 0.0)
                if grad is not None:  # TensorFlow: None (not connected)
                    self.assertAllEqual(grad, np.zeros_like(x))

    def test_clip_boundaries_are_not_deltas(self):
        # Two constant clips with different values: no delta inside a clip,
        # a large jump between the last frame of clip 0 and clip 1's first.
        x = np.concatenate(
            [np.zeros((1, 3, 4), "float32"), np.ones((1, 3, 4), "float32")]
        )
        (l0, n, _, mean_abs), grad = value_and_grad(
            lambda v: sparsity_statistics(v, 4, temporal=True), x
        )
        self.assertAllEqual([l0, n, mean_abs], [0.0, 16.0, 0.0])
        self.assertAllEqual(grad, np.zeros_like(x))

    def test_single_frame_has_no_delta(self):
        # One frame of one clip: no delta, zero statistics and gradient
        # (the gradient still has the input's shape).
        x = np.full((1, 1, 4), 0.5, "float32")
        (l0, n, _, mean_abs), grad = value_and_grad(
            lambda v: sparsity_statistics(v, 0, temporal=True), x
        )
        self.assertAllEqual([l0, n, mean_abs], [0.0, 0.0, 0.0])
        self.assertAllEqual(grad, np.zeros_like(x))

    def test_count_is_exact_for_large_rows(self):
        # Per-row counts are summed as integers (rounded once, like
        # `cast(count_nonzero(d), float32)`).
        rng = np.random.default_rng(0)
        x = rng.integers(0, 2, (2, 3, 64, 64, 8)).astype("float32")
        l0_ref, _, _, _ = np_statistics(x, temporal=True)
        l0 = sparsity_statistics(x, 4, temporal=True)[0]
        self.assertEqual(float(ops.convert_to_numpy(l0)), float(l0_ref))


def np_slot_value_and_grads(x, theta, upstream, c):
    """Folded `(B*T, ...)` activation -> DeltaActivation (delta_level 0,
    channel-wise) -> folded output: values and gradients (spec §2.5)."""
    q = np.abs(theta)
    r = np.round(x / q)
    y = r * q
    d = y[:, :-1] - y[:, 1:]
    grad_d = c * np.sign(d) / d.size
    grad_y = upstream.copy()
    grad_y[:, :-1] += grad_d
    grad_y[:, 1:] -= grad_d
    grad_theta = np.sign(theta) * (-(r * grad_y)).reshape(
        -1, theta.size).sum(axis=0)
    loss = c * np.abs(d).sum() / d.size
    return y, np.count_nonzero(d), loss, grad_y, grad_theta


class FoldedSlotTest(TestCase):
    """The slot as the models use it: UnfoldTime -> slot -> FoldTime."""

    @parameterized.named_parameters(
        ("delta", "delta", 0.7), ("delta_sp0", "delta", 0.0),
        ("l1", "l1", 0.7), ("l1_sp0", "l1", 0.0),
    )
    def test_folded_slot_values_and_gradients(self, kind, sp_rate):
        shape = (3, 4, 4, 4, 5)
        rng = np.random.default_rng(4)
        x = np.abs(quantized_clip(shape, seed=2, step=0.1)) + 0.01 * (
            rng.random(shape).astype("float32"))
        theta = rng.uniform(0.2, 0.5, (shape[-1],)).astype("float32")
        theta *= np.where(rng.random(shape[-1]) < 0.5, -1.0, 1.0).astype(
            "float32")
        upstream = rng.normal(0, 1, shape).astype("float32")
        folded = x.reshape((-1,) + shape[2:])
        if kind == "delta":
            slot = DeltaActivation(sp_rate=sp_rate, n_outputs=3.0,
                                   return_stats=True)
        else:
            slot = L1ActivityRegularizer(sp_rate=sp_rate, n_outputs=3.0,
                                         return_stats=True)
        inp = keras.Input(shape[2:])
        clips = keras.Input(shape[1:])
        y, l0, n = slot(UnfoldTime()(inp, reference=clips))
        model = keras.Model([inp, clips], [FoldTime()(y), l0, n])
        if kind == "delta":
            slot.threshold.assign(theta)
        clip_input = ops.zeros(shape, "float32")
        weights = model.trainable_variables

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            xv = tf.Variable(folded)
            with tf.GradientTape() as tape:
                out, l0, _ = model([xv, clip_input])
                loss = ops.sum(model.losses)
                total = ops.sum(out * upstream.reshape(folded.shape)) + loss
            grads = tape.gradient(total, [xv] + weights)
        else:
            import jax

            def fn(xf, trainable):
                (out, l0, _), _, losses = model.stateless_call(
                    trainable, [v.value for v in model.non_trainable_variables],
                    [xf, clip_input], return_losses=True)
                loss = ops.sum(losses)
                total = ops.sum(out * upstream.reshape(folded.shape)) + loss
                return total, (out, l0, loss)

            (_, (out, l0, loss)), grads = jax.jit(jax.value_and_grad(
                fn, argnums=(0, 1), has_aux=True))(
                    folded, [v.value for v in weights])
            grads = [grads[0]] + list(grads[1])
        c = sp_rate * 3.0
        if kind == "delta":
            y_ref, l0_ref, loss_ref, gx_ref, gtheta_ref = (
                np_slot_value_and_grads(x, theta, upstream, c))
            self.assertAllClose(grads[1], gtheta_ref, rtol=1e-5, atol=1e-4)
        else:
            y_ref = x
            l0_ref = np.count_nonzero(x)
            loss_ref = c * np.abs(x).mean()
            gx_ref = upstream + c * np.sign(x) / x.size
        self.assertGreater(l0_ref, 0)
        self.assertAllClose(out, y_ref.reshape(folded.shape), atol=1e-6)
        self.assertAllEqual(l0, l0_ref)
        self.assertAllClose(loss, loss_ref, rtol=1e-6, atol=1e-9)
        self.assertAllClose(grads[0], gx_ref.reshape(folded.shape),
                            rtol=1e-6, atol=1e-7)
