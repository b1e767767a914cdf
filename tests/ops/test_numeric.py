"""Tests for `deltasparse.ops.numeric` (spec `group_ksparse.md` §2.6, §2.7)."""

import numpy as np

from deltasparse.ops.numeric import cumsum
from deltasparse.ops.numeric import diff
from deltasparse.ops.numeric import kron
from deltasparse.testing import TestCase
from tests.ops.test_ksparse import run


def np_cumsum_drop(a, n, axis):
    """n-fold cumulative sum, then the first n entries along `axis` dropped."""
    out = np.asarray(a, np.float64)
    for _ in range(n):
        out = np.cumsum(out, axis=axis)
    return np.take(out, np.arange(n, out.shape[axis]), axis=axis)


def np_kron_loops(a, b):
    m1, n1 = a.shape
    m2, n2 = b.shape
    out = np.zeros((m1 * m2, n1 * n2))
    for i in range(m1):
        for j in range(n1):
            for k in range(m2):
                for l in range(n2):
                    out[i * m2 + k, j * n2 + l] = a[i, j] * b[k, l]
    return out


X = np.random.default_rng(0).normal(size=(3, 5, 4)).astype("float32")


class NumericTest(TestCase):
    def test_diff_equals_numpy(self):
        for n in (0, 1, 2, 3, 6):
            for axis in (0, 1, -1):
                with self.subTest(n=n, axis=axis):
                    y = run(lambda z: diff(z, n, axis), X)
                    self.assertAllClose(
                        y, np.diff(X, n, axis), atol=1e-4, rtol=1e-5
                    )

    def test_cumsum_nfold_drops_first_n(self):
        for n in (0, 1, 2, 3, 6):
            for axis in (0, 1, -1):
                with self.subTest(n=n, axis=axis):
                    y = run(lambda z: cumsum(z, n, axis), X)
                    self.assertAllClose(
                        y, np_cumsum_drop(X, n, axis), atol=1e-4
                    )

    def test_cumsum_small_example(self):
        a = np.array([1.0, 2.0, 3.0, 4.0], "float32")
        self.assertAllClose(cumsum(a), [3.0, 6.0, 10.0])
        self.assertAllClose(cumsum(a, 2), [10.0, 20.0])  # [1, 4, 10, 20][2:]

    def test_kron_equals_numpy(self):
        rng = np.random.default_rng(1)
        a = rng.normal(size=(2, 3)).astype("float32")
        b = rng.normal(size=(4, 2)).astype("float32")
        y = run(kron, a, b)
        self.assertAllClose(y, np.kron(a, b), atol=1e-6)
        self.assertAllClose(y, np_kron_loops(a, b), atol=1e-6)

    def test_invalid(self):
        with self.assertRaisesRegex(ValueError, "Received: n=-1"):
            diff(X, -1)
        with self.assertRaisesRegex(ValueError, "Received: n=1.5"):
            cumsum(X, 1.5)
        with self.assertRaisesRegex(ValueError, "Received: axis=3"):
            diff(X, 1, axis=3)
        with self.assertRaisesRegex(ValueError, r"a.shape=\(3, 5, 4\)"):
            kron(X, np.ones((2, 2)))
