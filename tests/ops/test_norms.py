"""Tests for `deltasparse.ops.norms` against NumPy references written from
the spec (`group_ksparse.md` §2.1, §2.3)."""

import numpy as np

from deltasparse.ops.norms import group_norms
from deltasparse.ops.norms import n_p
from deltasparse.testing import TestCase
from tests.ops.test_ksparse import compiled
from tests.ops.test_ksparse import run
from tests.ops.test_ksparse import value_and_grad


def np_group_norms(x, groups, axis, norm=2, epsilon=1e-7):
    """Loop over groups: contiguous chunks of `C // groups` along `axis`."""
    x = np.moveaxis(np.asarray(x, np.float64), axis, -1)
    size = x.shape[-1] // groups
    out = np.empty(x.shape[:-1] + (groups,))
    for g in range(groups):
        chunk = x[..., g * size : (g + 1) * size]
        out[..., g] = (np.sum(np.abs(chunk) ** norm, -1) + epsilon) ** (
            1.0 / norm
        )
    return np.moveaxis(out, -1, axis)


class NormsTest(TestCase):
    def test_n_p_matches_numpy(self):
        x = np.random.default_rng(0).normal(size=(3, 4, 5)).astype("f4")
        for p, axis in ((2, 1), (1, (0, 2)), (3, -1), (2.5, (1, 2))):
            with self.subTest(p=p, axis=axis):
                ref = (np.sum(np.abs(x) ** p, axis=axis) + 1e-7) ** (1.0 / p)
                y = run(lambda z: n_p(z, p, axis), x)
                self.assertAllClose(y, ref, rtol=1e-5)

    def test_epsilon_inside_root(self):
        zeros = np.zeros((2, 3), "float32")
        self.assertAllClose(n_p(zeros, 2, -1), np.full(2, np.sqrt(1e-7)))
        self.assertAllClose(n_p(zeros, 2, -1, epsilon=4.0), [2.0, 2.0])
        self.assertAllClose(n_p(zeros, 1, -1, epsilon=0.5), [0.5, 0.5])
        self.assertAllClose(n_p(np.array([3.0, 4.0]), 2, 0, epsilon=0), 5.0)

    def test_group_norms_match_reference(self):
        x = np.random.default_rng(1).normal(size=(2, 6, 3, 6)).astype("f4")
        for axis in (-1, 1):
            with self.subTest(axis=axis):
                y = run(lambda z: group_norms(z, 3, axis), x)
                self.assertEqual(y.shape[axis], 3)
                self.assertAllClose(y, np_group_norms(x, 3, axis), rtol=1e-5)
                y = run(
                    lambda z: group_norms(z, 2, axis, norm=1, epsilon=0.1), x
                )
                ref = np_group_norms(x, 2, axis, norm=1, epsilon=0.1)
                self.assertAllClose(y, ref, rtol=1e-5)

    def test_groups_are_contiguous_and_zero_group_is_sqrt_eps(self):
        x = np.array([[3.0, 4.0, 0.0, 0.0, 1.0, 0.0]], "float32")
        self.assertAllClose(
            group_norms(x, 3, axis=-1),
            [[np.sqrt(25 + 1e-7), np.sqrt(1e-7), np.sqrt(1 + 1e-7)]],
        )

    def test_gradient_finite_at_zero(self):
        # d sqrt(x^2 + eps)/dx = x / sqrt(x^2 + eps): 0 at x = 0, never NaN.
        x = np.array([[0.0, 0.0, 3.0, 4.0]], "float32")
        u = np.array([[1.0, 2.0]], "float32")
        y, g = value_and_grad(lambda z: group_norms(z, 2, -1), x, u)
        self.assertAllClose(g, [[0.0, 0.0, 2 * 0.6, 2 * 0.8]], atol=1e-5)

    def test_dynamic_batch(self):
        fn = compiled(lambda z: group_norms(z, 2, -1), (None, 3, 4))
        x = np.random.default_rng(2).uniform(size=(5, 3, 4)).astype("f4")
        self.assertAllClose(fn(x), np_group_norms(x, 2, -1), rtol=1e-5)

    def test_invalid_group_norms(self):
        cases = [
            (dict(groups=4, axis=-1), "divisible by `groups`"),
            (dict(groups=0, axis=-1), "Received: groups=0"),
            (dict(groups=2, axis=3), "Received: axis=3"),
            (dict(groups=2, axis=-1, norm=-2), "Received: norm=-2"),
            (dict(groups=2, axis=-1, epsilon=-1), "Received: epsilon=-1"),
        ]
        for kwargs, message in cases:
            with self.subTest(**kwargs):
                with self.assertRaisesRegex(ValueError, message):
                    group_norms(np.zeros((2, 3, 6), "float32"), **kwargs)

    def test_invalid_n_p(self):
        with self.assertRaisesRegex(ValueError, "Received: p=0"):
            n_p(np.zeros(3), 0, 0)

    def test_invalid_n_p_axis(self):
        # Before: a backend error from deep inside the reduction.
        z = np.ones((2, 3, 4, 5), "float32")
        cases = [
            (7, r"must be in \[-4, 4\) for inputs of rank 4\. Received: axis=7"),
            (-5, r"\[-4, 4\).*Received: axis=-5"),
            ((1, 9), r"\[-4, 4\).*Received: axis=\(1, 9\)"),
            ((1, -3), r"must not repeat an axis\. Received: axis=\(1, -3\)"),
            (1.0, r"int or a non-empty list/tuple of ints\. Received: axis=1.0"),
            ((), r"Received: axis=\(\)"),
        ]
        for axis, message in cases:
            with self.subTest(axis=axis):
                with self.assertRaisesRegex(ValueError, message):
                    n_p(z, 2, axis=axis)

    def test_n_p_axis_none_and_negative(self):
        z = np.random.default_rng(3).normal(size=(2, 3, 4)).astype("f4")
        self.assertAllClose(
            run(lambda a: n_p(a, 2, axis=None, epsilon=0.0), z),
            np.sqrt(np.sum(z.astype("f8") ** 2)),
        )
        self.assertAllClose(
            run(lambda a: n_p(a, 1, axis=[-1, 0], epsilon=0.0), z),
            np.abs(z).sum(axis=(0, 2)),
        )
