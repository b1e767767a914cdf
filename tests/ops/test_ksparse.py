"""Tests for `deltasparse.ops.ksparse` against loop-based NumPy references
written from the spec (`group_ksparse.md` §2.4, §2.5)."""

import math

import keras
import numpy as np

from deltasparse.ops.ksparse import group_ksparse
from deltasparse.ops.ksparse import ksparse
from deltasparse.testing import TestCase

EPS = 1e-7


# --------------------------------------------------------------------------
# Independent NumPy references (also imported by the layer tests).
# --------------------------------------------------------------------------
def _phase_k(k, alpha, training):
    if training:
        return k
    return k if alpha == 1 else max(1, int(math.floor(alpha * k + 0.5)))


def _rank_key(scores):
    """Sort key of the spec's ranking: larger first, NaN after every real
    value (also after -inf), ties to the lower index."""

    def key(i):
        nan = math.isnan(scores[i])
        return (nan, 0.0 if nan else -scores[i], i)

    return key


def _index(ndim, axes_a, idx_a, axes_b, idx_b):
    full = [0] * ndim
    for a, i in zip(axes_a, idx_a):
        full[a] = i
    for a, i in zip(axes_b, idx_b):
        full[a] = i
    return tuple(full)


def np_ksparse_mask(x, k, axis, alpha=1, absolute=False, training=False):
    """Boolean winner mask of `ksparse`, one competition row at a time."""
    x = np.asarray(x)
    axes = [a % x.ndim for a in np.atleast_1d(axis)]
    rest = [a for a in range(x.ndim) if a not in axes]
    k_phase = _phase_k(k, alpha, training)
    mask = np.zeros(x.shape, bool)
    positions = list(np.ndindex(*[x.shape[a] for a in axes]))  # row-major
    for row in np.ndindex(*[x.shape[a] for a in rest]):
        cells = [_index(x.ndim, rest, row, axes, p) for p in positions]
        scores = [float(x[c]) for c in cells]
        if absolute:
            scores = [abs(s) for s in scores]
        order = sorted(range(len(cells)), key=_rank_key(scores))
        for i in order[: min(k_phase, len(cells))]:
            mask[cells[i]] = True
    return mask


def np_ksparse(x, k, axis, **kwargs):
    x = np.asarray(x)
    return np.where(np_ksparse_mask(x, k, axis, **kwargs), x, 0).astype(x.dtype)


def np_group_ksparse_mask(
    x,
    groups,
    k,
    axis_group,
    axis_sparse,
    norm=2,
    alpha=1,
    epsilon=EPS,
    training=False,
):
    """Boolean winner mask of `group_ksparse`, one (row, group) at a time."""
    x = np.asarray(x, np.float64)
    g_axes = list(np.atleast_1d(axis_group))
    s_axes = list(np.atleast_1d(axis_sparse))
    rest = [a for a in range(x.ndim) if a not in g_axes + s_axes]
    channels = list(np.ndindex(*[x.shape[a] for a in g_axes]))  # row-major
    size = len(channels) // groups
    k_phase = _phase_k(k, alpha, training)
    mask = np.zeros(x.shape, bool)
    positions = list(np.ndindex(*[x.shape[a] for a in s_axes]))
    for row in np.ndindex(*[x.shape[a] for a in rest]):
        for g in range(groups):
            block = channels[g * size : (g + 1) * size]
            norms = []
            for p in positions:
                total = 0.0
                for c in block:
                    cell = _index(x.ndim, rest + s_axes, row + p, g_axes, c)
                    total += abs(x[cell]) ** norm
                norms.append((total + epsilon) ** (1.0 / norm))
            order = sorted(range(len(positions)), key=_rank_key(norms))
            for i in order[: min(k_phase, len(positions))]:
                for c in block:
                    cell = _index(
                        x.ndim, rest + s_axes, row + positions[i], g_axes, c
                    )
                    mask[cell] = True
    return mask


def np_group_ksparse(x, groups, k, axis_group, axis_sparse, **kwargs):
    mask = np_group_ksparse_mask(
        x, groups, k, axis_group, axis_sparse, **kwargs
    )
    x = np.asarray(x)
    return np.where(mask, x, 0).astype(x.dtype)


def value_and_grad(fn, x, upstream):
    """`fn(x)` and d/dx sum(fn(x) * upstream) with the backend's autodiff."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        xv = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xv)
            y = fn(xv)
            loss = tf.reduce_sum(tf.cast(y, "float32") * upstream)
        return (
            keras.ops.convert_to_numpy(y),
            keras.ops.convert_to_numpy(tape.gradient(loss, xv)),
        )
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        def loss(z):
            return jnp.sum(fn(z).astype("float32") * upstream)

        y, g = jax.jit(jax.value_and_grad(lambda z: (loss(z), fn(z)),
                                          has_aux=True))(jnp.asarray(x))
        return np.asarray(y[1]), np.asarray(g)
    raise NotImplementedError(f"no gradient helper for backend {backend}")


def run(fn, *args):
    """`fn(*args)` as NumPy: eager on TF, through `jax.jit` on JAX (one XLA
    compile is much faster than op-by-op eager dispatch)."""
    if keras.backend.backend() == "jax":
        import jax

        fn = jax.jit(fn)
    return keras.ops.convert_to_numpy(fn(*args))


def compiled(fn, dynamic_shape):
    """`fn` compiled for the backend: a TF graph with the `None` dims of
    `dynamic_shape` left dynamic, or `jax.jit` (JAX shapes are static)."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        spec = tf.TensorSpec(dynamic_shape, "float32")
        return tf.function(fn, input_signature=[spec], autograph=False)
    import jax

    return jax.jit(fn)


def _rand(shape, seed=0, low=0.0):
    return np.random.default_rng(seed).uniform(low, 1, shape).astype("float32")


# --------------------------------------------------------------------------
class KSparseOpTest(TestCase):
    def test_values_and_gradients_match_reference(self):
        x = _rand((2, 3, 4, 4, 3), seed=1)
        u = _rand(x.shape, seed=2, low=-1)
        cases = [([2, 3], 2), ([0, 1], 3), (1, 2), (-1, 1), ([3, 2], 3)]
        for axis, k in cases:
            with self.subTest(axis=axis, k=k):
                y, g = value_and_grad(lambda z: ksparse(z, k, axis), x, u)
                mask = np_ksparse_mask(x, k, axis)
                self.assertAllClose(y, x * mask)
                self.assertAllClose(g, u * mask)

    def test_ties_go_to_lower_index(self):
        x = np.array([[1.0, 3.0, 3.0, 3.0, 2.0]], "float32")
        self.assertAllClose(
            run(lambda z: ksparse(z, 2, -1), x), [[0, 3, 3, 0, 0]]
        )
        # Two sparse axes flatten row-major in the given order: [2, 1]
        # flattens (w, h), so the second winner is (h=1, w=0).
        x = np.ones((1, 2, 2), "float32")
        u = np.ones_like(x)
        _, g = value_and_grad(lambda z: ksparse(z, 2, [1, 2]), x, u)
        self.assertAllClose(g, [[[1, 1], [0, 0]]])
        _, g = value_and_grad(lambda z: ksparse(z, 2, [2, 1]), x, u)
        self.assertAllClose(g, [[[1, 0], [1, 0]]])

    def test_exactly_k_winners_among_zeros(self):
        # A count, not a threshold: the gradient reveals the mask.
        x = np.zeros((2, 3, 4, 4, 2), "float32")
        x[0, 0, 3, 3, 0] = 1.0
        u = np.ones_like(x)
        y, g = value_and_grad(lambda z: ksparse(z, 3, [2, 3]), x, u)
        self.assertAllClose(y, x)
        per_row = g.reshape(2, 3, 16, 2).sum(axis=2)
        self.assertAllClose(per_row, np.full((2, 3, 2), 3.0))
        self.assertAllClose(g, np_ksparse_mask(x, 3, [2, 3]).astype("f4"))
        # Winner 1 (the 1.0) then the lowest-index zeros (0,0) and (0,1).
        self.assertAllClose(
            np.flatnonzero(g[0, 0, :, :, 0].ravel()), [0, 1, 15]
        )

    def test_lifetime_competition_spans_batch_and_time(self):
        x = _rand((3, 2, 2, 2, 1), seed=3)
        x[2, 1] += 10.0  # the last frame of the last sample beats all
        x[1, 0] += 5.0
        y = run(lambda z: ksparse(z, 2, [0, 1]), x)
        kept = (y != 0).reshape(6, 4)  # rows b*T + t
        self.assertAllClose(kept.sum(0), [2, 2, 2, 2])
        self.assertTrue(kept[5].all() and kept[2].all())
        # Ties over (b, t) go to the lowest b*T + t.
        const = np.ones((3, 2, 2, 2, 1), "float32")
        _, g = value_and_grad(
            lambda z: ksparse(z, 4, [0, 1]), const, np.ones_like(const)
        )
        self.assertAllClose(g.reshape(6, 4).sum(1), [4, 4, 4, 4, 0, 0])

    def test_absolute(self):
        x = np.array([[-5.0, 1.0, -0.5, 2.0]], "float32")
        self.assertAllClose(
            run(lambda z: ksparse(z, 2, -1, absolute=True), x), [[-5, 0, 0, 2]]
        )
        self.assertAllClose(run(lambda z: ksparse(z, 2, -1), x), [[0, 1, 0, 2]])

    def test_alpha_and_training(self):
        x = _rand((1, 6), seed=4)
        # (alpha, k, inference k): 0.5 * 3 = 1.5 rounds up; at least 1.
        for alpha, k, k_infer in ((2, 1, 2), (0.5, 3, 2), (0.1, 2, 1)):
            phases = ((True, k), (False, k_infer), (None, k_infer))
            for training, k_phase in phases:
                with self.subTest(alpha=alpha, k=k, training=training):
                    y = run(
                        lambda z: ksparse(
                            z, k, -1, alpha=alpha, training=training
                        ),
                        x,
                    )
                    ref = np_ksparse(
                        x, k, -1, alpha=alpha, training=bool(training)
                    )
                    self.assertAllClose(y, ref)
                    self.assertEqual(int((y != 0).sum()), k_phase)

    def test_k_larger_than_competition_keeps_all(self):
        x = _rand((2, 3, 2, 2, 2), seed=5)
        self.assertAllClose(run(lambda z: ksparse(z, 5, [2, 3]), x), x)
        self.assertAllClose(run(lambda z: ksparse(z, 7, [0, 1]), x), x)

    def test_dynamic_batch_lifetime(self):
        # S = B*T is unknown when the graph is built; k=9 exceeds B*T=6.
        for k in (1, 4, 9):
            fn = compiled(lambda z: ksparse(z, k, [0, 1]), (None, 2, 3, 3, 2))
            for batch in (1, 3):
                with self.subTest(k=k, batch=batch):
                    x = _rand((batch, 2, 3, 3, 2), seed=batch)
                    self.assertAllClose(fn(x), np_ksparse(x, k, [0, 1]))
        fn = compiled(lambda z: ksparse(z, 2, [2, 3]), (None, None, 3, 3, 2))
        x = _rand((2, 3, 3, 3, 2), seed=6)
        self.assertAllClose(fn(x), np_ksparse(x, 2, [2, 3]))

    def test_symbolic_call(self):
        inp = keras.Input((2, 3, 3, 2))
        out = ksparse(inp, 2, [0, 1])
        self.assertEqual(tuple(out.shape), (None, 2, 3, 3, 2))
        self.assertEqual(
            tuple(group_ksparse(inp, 2, 1, [4], [0, 1]).shape),
            (None, 2, 3, 3, 2),
        )

    def test_training_tensor(self):
        self.skip_unless_backend(
            "tensorflow", reason="a symbolic `training` flag is TF-graph only"
        )
        import tensorflow as tf

        x = _rand((1, 6), seed=7)

        @tf.function(autograph=False)
        def fn(z, flag):
            return ksparse(z, 1, -1, alpha=3, training=flag)

        self.assertEqual(int((fn(x, tf.constant(True)).numpy() != 0).sum()), 1)
        self.assertEqual(int((fn(x, tf.constant(False)).numpy() != 0).sum()), 3)

    def test_float16_scores_in_float32(self):
        x = _rand((2, 2, 3, 3, 2), seed=8).astype("float16")
        y = run(lambda z: ksparse(z, 2, [2, 3]), x)
        self.assertEqual(y.dtype, np.float16)
        self.assertAllClose(y, np_ksparse(x.astype("f4"), 2, [2, 3]))

    def test_nan_ranks_lowest(self):
        # The original's top_k put NaN first: with k=1 the true maximum 3
        # was zeroed. Here NaN is below every real value, -inf included.
        x = np.array(
            [
                [1.0, np.nan, 3.0, 2.0],
                [np.nan, -np.inf, np.nan, 0.5],
                [np.nan, np.nan, np.nan, 4.0],
                [np.inf, np.nan, -1.0, np.inf],
            ],
            "float32",
        )
        for k in (1, 2, 3):
            for absolute in (False, True):
                with self.subTest(k=k, absolute=absolute):
                    y = run(lambda z: ksparse(z, k, -1, absolute=absolute), x)
                    mask = np_ksparse_mask(x, k, -1, absolute=absolute)
                    self.assertTrue(np.array_equal(y != 0, mask & (x != 0)))
                    np.testing.assert_array_equal(
                        y, np_ksparse(x, k, -1, absolute=absolute)
                    )
        y = run(lambda z: ksparse(z, 1, -1), x)
        np.testing.assert_array_equal(y[0], [0, 0, 3, 0])
        # Fewer real values than k: the real ones win, then the first NaNs.
        y = run(lambda z: ksparse(z, 3, -1), x)
        np.testing.assert_array_equal(y[1], [np.nan, -np.inf, 0, 0.5])
        np.testing.assert_array_equal(y[2], [np.nan, np.nan, 0, 4.0])

    def test_nan_ranks_lowest_random_and_lifetime(self):
        x = _rand((2, 3, 3, 3, 2), seed=30, low=-1)
        x[np.random.default_rng(31).random(x.shape) < 0.3] = np.nan
        for axis, k in (([2, 3], 2), ([0, 1], 4), (-1, 1)):
            with self.subTest(axis=axis, k=k):
                y, g = value_and_grad(
                    lambda z: ksparse(z, k, axis), x, np.ones_like(x)
                )
                mask = np_ksparse_mask(x, k, axis)
                np.testing.assert_array_equal(y, np.where(mask, x, 0))
                np.testing.assert_array_equal(g, mask.astype("float32"))

    def test_losers_are_exactly_zero(self):
        # mask * x would turn a losing inf into NaN (inf * 0).
        x = np.array([[-np.inf, 2.0, 1.0]], "float32")
        np.testing.assert_array_equal(
            run(lambda z: ksparse(z, 1, -1), x), [[0.0, 2.0, 0.0]]
        )

    def test_empty_inputs_give_empty_results(self):
        # Nothing to rank: the empty tensor itself is the right answer.
        for shape, axis in (
            ((2, 0), -1),
            ((0, 5), -1),
            ((0, 3, 4), [0, 1]),
            ((2, 0, 4, 4, 3), [2, 3]),
        ):
            for k in (1, 3):
                with self.subTest(shape=shape, axis=axis, k=k):
                    x = np.zeros(shape, "float32")
                    y = run(lambda z: ksparse(z, k, axis), x)
                    self.assertEqual(y.shape, shape)
                    y = run(
                        lambda z: group_ksparse(z, 1, k, [len(shape) - 1],
                                                [0]),
                        x,
                    )
                    self.assertEqual(y.shape, shape)

    def test_empty_batch_only_known_at_run_time(self):
        self.skip_unless_backend(
            "tensorflow", reason="JAX traces every shape statically"
        )
        for k in (1, 2):
            for axis in ([2, 3], [0, 1]):
                with self.subTest(k=k, axis=axis):
                    fn = compiled(
                        lambda z: ksparse(z, k, axis), (None, 2, 3, 3, 2)
                    )
                    y = fn(np.zeros((0, 2, 3, 3, 2), "float32"))
                    self.assertEqual(tuple(y.shape), (0, 2, 3, 3, 2))

    def test_invalid_ksparse(self):
        cases = [
            (dict(k=0, axis=1), "`k` must be a positive int"),
            (dict(k=1.5, axis=1), "Received: k=1.5"),
            (dict(k=True, axis=1), "Received: k=True"),
            (dict(k=1, axis=1, alpha=0), "Received: alpha=0"),
            (dict(k=1, axis=[1, 5]), r"Received: axis=\[1, 5\]"),
            (dict(k=1, axis=[1, -2]), "must not repeat"),
            (dict(k=1, axis="h"), "Received: axis='h'"),
            (dict(k=1, axis=[]), r"Received: axis=\[\]"),
        ]
        for kwargs, message in cases:
            with self.subTest(**kwargs):
                with self.assertRaisesRegex(ValueError, message):
                    ksparse(np.zeros((2, 3, 4), "float32"), **kwargs)


class GroupKSparseOpTest(TestCase):
    def test_values_and_gradients_match_reference(self):
        x = _rand((2, 3, 3, 3, 6), seed=9)
        u = _rand(x.shape, seed=10, low=-1)
        cases = [
            ([2, 3], 2, 2, 2),
            ([0, 1], 3, 3, 2),
            ([1, 0], 2, 6, 2),
            ([2, 3], 2, 2, 1),
        ]
        for axis, groups, k, norm in cases:
            with self.subTest(axis=axis, groups=groups, k=k, norm=norm):
                y, g = value_and_grad(
                    lambda z: group_ksparse(z, groups, k, [4], axis, norm=norm),
                    x,
                    u,
                )
                mask = np_group_ksparse_mask(x, groups, k, [4], axis, norm=norm)
                self.assertAllClose(y, x * mask)
                self.assertAllClose(g, u * mask)

    def test_multiple_group_axes_and_rest_axes(self):
        x = _rand((3, 2, 4, 2), seed=11)
        y = run(lambda z: group_ksparse(z, 2, 1, [1, 3], 2), x)
        self.assertAllClose(y, np_group_ksparse(x, 2, 1, [1, 3], [2]))

    def test_whole_groups_win_together(self):
        # 2 positions x 4 channels, groups of 2: group 0 wins at position 1,
        # group 1 wins at position 0, even though single channels disagree.
        x = np.array([[[0.0, 0.9, 3.0, 0.0], [0.7, 0.7, 0.0, 2.0]]], "f4")
        y = run(lambda z: group_ksparse(z, 2, 1, 2, 1), x)
        self.assertAllClose(y, [[[0, 0, 3, 0], [0.7, 0.7, 0, 0]]])

    def test_ties_and_all_zero_groups(self):
        # All-zero input: every norm is sqrt(eps); exactly k winners, the
        # lowest flat indices h*W + w.
        x = np.zeros((1, 2, 3, 3, 4), "float32")
        x[0, 1, 2, 2, 2:] = 1.0
        _, g = value_and_grad(
            lambda z: group_ksparse(z, 2, 2, [4], [2, 3]), x, np.ones_like(x)
        )
        self.assertAllClose(
            g, np_group_ksparse_mask(x, 2, 2, [4], [2, 3]).astype("f4")
        )
        self.assertAllClose(g.reshape(2, 9, 4).sum(1), np.full((2, 4), 2.0))
        self.assertAllClose(
            np.flatnonzero(g[0, 1, :, :, 2].ravel()), [0, 8]
        )

    def test_groups_equal_channels_is_ksparse_of_abs(self):
        x = _rand((2, 2, 3, 3, 4), seed=12, low=-1)
        for axis in ([2, 3], [0, 1]):
            self.assertAllClose(
                run(lambda z: group_ksparse(z, 4, 2, [4], axis), x),
                run(lambda z: ksparse(z, 2, axis, absolute=True), x),
            )

    def test_custom_epsilon(self):
        # With a huge epsilon the norms sqrt(x^2 + eps) still rank like |x|.
        x = _rand((1, 1, 2, 2, 2), seed=13)
        self.assertAllClose(
            run(lambda z: group_ksparse(z, 1, 1, [4], [2, 3], epsilon=10.0), x),
            np_group_ksparse(x, 1, 1, [4], [2, 3], epsilon=10.0),
        )

    def test_alpha(self):
        x = _rand((2, 2, 3, 3, 4), seed=14)
        for training in (True, False):
            self.assertAllClose(
                run(
                    lambda z: group_ksparse(
                        z, 2, 1, [4], [2, 3], alpha=3, training=training
                    ),
                    x,
                ),
                np_group_ksparse(
                    x, 2, 1, [4], [2, 3], alpha=3, training=training
                ),
            )

    def test_dynamic_batch_lifetime(self):
        for k in (1, 3, 7):
            fn = compiled(
                lambda z: group_ksparse(z, 2, k, [4], [0, 1]),
                (None, 2, 2, 2, 4),
            )
            for batch in (1, 3):
                with self.subTest(k=k, batch=batch):
                    x = _rand((batch, 2, 2, 2, 4), seed=20 + batch)
                    ref = np_group_ksparse(x, 2, k, [4], [0, 1])
                    self.assertAllClose(fn(x), ref)

    def test_nan_group_ranks_lowest(self):
        # A group holding a NaN has a NaN norm: it never beats a real group.
        x = np.zeros((1, 4, 4), "float32")  # (rows, positions, channels)
        x[0, 0] = [np.nan, 9.0, 1.0, 1.0]
        x[0, 1] = [0.1, 0.1, 0.2, np.nan]
        x[0, 2] = [5.0, 5.0, 0.3, 0.3]
        x[0, 3] = [0.2, 0.2, 0.4, 0.4]
        for k in (1, 2, 3, 4):
            with self.subTest(k=k):
                y = run(lambda z: group_ksparse(z, 2, k, [2], [1]), x)
                mask = np_group_ksparse_mask(x, 2, k, [2], [1])
                np.testing.assert_array_equal(y, np.where(mask, x, 0))
        y = run(lambda z: group_ksparse(z, 2, 1, [2], [1]), x)
        np.testing.assert_array_equal(
            y[0], [[0, 0, 1, 1], [0, 0, 0, 0], [5, 5, 0, 0], [0, 0, 0, 0]]
        )

    def test_invalid_group_ksparse(self):
        cases = [
            (dict(groups=2, k=0), "Received: k=0"),
            (dict(groups=0, k=1), "Received: groups=0"),
            (dict(groups=4, k=1), "divisible by `groups`"),
            (dict(groups=2, k=1, axis_sparse=[3, 4]), "disjoint"),
            (dict(groups=2, k=1, axis_sparse=[7]), "axis_sparse"),
            (dict(groups=2, k=1, norm=0), "Received: norm=0"),
            (dict(groups=2, k=1, epsilon=-1.0), "epsilon=-1.0"),
        ]
        for kwargs, message in cases:
            kwargs = {"axis_group": [4], "axis_sparse": [2, 3], **kwargs}
            with self.subTest(**kwargs):
                with self.assertRaisesRegex(ValueError, message):
                    group_ksparse(np.zeros((1, 2, 2, 2, 6), "f4"), **kwargs)
