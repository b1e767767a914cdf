"""Incremental kernels against independent NumPy references.

The reference convolution below loops over output pixels with explicit
TensorFlow-style padding (written from the TF definition, not from the
kernels' im2col); one test also checks it against Keras layers so that the
padding semantics ("same" pads more at the end for stride 2) are the real
ones.
"""

import numpy as np
import pytest

from deltasparse.inference.streaming import calibration
from deltasparse.inference.streaming.kernels import Conv2DKernel
from deltasparse.inference.streaming.kernels import DenseKernel
from deltasparse.inference.streaming.kernels import DepthwiseConv2DKernel


def tf_padding(size, kernel, stride, dilation, padding):
    effective = (kernel - 1) * dilation + 1
    if padding == "valid":
        return (size - effective) // stride + 1, 0
    out = -(-size // stride)
    return out, max((out - 1) * stride + effective - size, 0) // 2


def reference_conv(x, kernel, strides, padding, dilation=(1, 1),
                   depthwise=False):
    """Direct convolution, float64, one output pixel at a time."""
    batch, height, width, _ = x.shape
    kh, kw = kernel.shape[:2]
    out_h, top = tf_padding(height, kh, strides[0], dilation[0], padding)
    out_w, left = tf_padding(width, kw, strides[1], dilation[1], padding)
    units = kernel.shape[2] if depthwise else kernel.shape[3]
    y = np.zeros((batch, out_h, out_w, units))
    for oy in range(out_h):
        for ox in range(out_w):
            for i in range(kh):
                for j in range(kw):
                    iy = oy * strides[0] + i * dilation[0] - top
                    ix = ox * strides[1] + j * dilation[1] - left
                    if 0 <= iy < height and 0 <= ix < width:
                        pixel = x[:, iy, ix].astype(np.float64)
                        if depthwise:
                            y[:, oy, ox] += pixel * kernel[i, j, :, 0]
                        else:
                            y[:, oy, ox] += pixel @ kernel[i, j]
    return y


def sparse_change(rng, shape, density):
    changed = rng.random(shape[:-1]) < density
    delta = rng.standard_normal(shape).astype(np.float32) * changed[..., None]
    return delta.astype(np.float32), changed


# (name, kernel size, cin, cout, strides, padding, dilation, input size)
CONV_CASES = [
    ("1x1", 1, 5, 6, 1, "same", 1, (9, 9)),
    ("1x1_stride2", 1, 5, 6, 2, "valid", 1, (9, 8)),
    ("3x3_same", 3, 4, 5, 1, "same", 1, (9, 10)),
    ("3x3_stride2_same", 3, 4, 5, 2, "same", 1, (10, 9)),
    ("3x3_stride2_valid", 3, 4, 5, 2, "valid", 1, (11, 10)),
    ("3x3_valid", 3, 3, 4, 1, "valid", 1, (8, 8)),
    ("3x3_dilated", 3, 3, 4, 1, "same", 2, (10, 10)),
    ("7x7_stride2", 7, 3, 4, 2, "same", 1, (16, 15)),
    ("7x7_stride2_valid", 7, 3, 4, 2, "valid", 1, (18, 18)),
]
DEPTHWISE_CASES = [
    ("3x3_stride1_same", 3, 6, None, 1, "same", 1, (9, 10)),
    ("3x3_stride2_same", 3, 6, None, 2, "same", 1, (10, 9)),
    ("3x3_stride2_valid", 3, 6, None, 2, "valid", 1, (11, 11)),
    ("5x5_stride1_valid", 5, 4, None, 1, "valid", 1, (10, 9)),
]
ALL_CASES = [("conv",) + case for case in CONV_CASES] + [
    ("depthwise",) + case for case in DEPTHWISE_CASES]


def make_kernel(kind, size, cin, cout, strides, padding, dilation, rng,
                dense_above=None):
    if kind == "conv":
        weights = rng.standard_normal((size, size, cin, cout))
        cls = Conv2DKernel
    else:
        weights = rng.standard_normal((size, size, cin, 1))
        cls = DepthwiseConv2DKernel
    weights = weights.astype(np.float32)
    bias = rng.standard_normal(weights.shape[2] if kind == "depthwise"
                               else cout).astype(np.float32)
    kernel = cls(weights, bias, strides=strides, padding=padding,
                 dilation=dilation, dense_above=dense_above)
    return kernel, weights, bias


def case_ids(cases):
    return [f"{case[0]}_{case[1]}" for case in cases]


@pytest.mark.parametrize("case", ALL_CASES, ids=case_ids(ALL_CASES))
def test_dense_matches_reference(case):
    kind, _, size, cin, cout, strides, padding, dilation, (h, w) = case
    rng = np.random.default_rng(1)
    kernel, weights, bias = make_kernel(kind, size, cin, cout, strides,
                                        padding, dilation, rng)
    x = rng.standard_normal((2, h, w, cin)).astype(np.float32)
    expected = reference_conv(x, weights, (strides, strides), padding,
                              (dilation, dilation), kind == "depthwise")
    y = kernel.dense(x)
    assert y.shape == kernel.output_shape(x.shape) == expected.shape
    np.testing.assert_allclose(y, expected + bias, rtol=1e-5, atol=1e-4)
    assert kernel.last_macs == kernel.dense_macs == y.shape[0] * y.shape[1] \
        * y.shape[2] * (size * size * cin * (1 if kind == "depthwise"
                                             else cout))


@pytest.mark.parametrize("method,dense_above", [
    ("gather", np.inf), ("scatter", np.inf), ("gather", 0.0)],
    ids=["gather", "scatter", "dense_fallback"])
@pytest.mark.parametrize("case", ALL_CASES, ids=case_ids(ALL_CASES))
def test_update_is_exact_and_mask_is_receptive_field(case, method,
                                                     dense_above):
    kind, _, size, cin, cout, strides, padding, dilation, (h, w) = case
    rng = np.random.default_rng(2)
    kernel, weights, bias = make_kernel(kind, size, cin, cout, strides,
                                        padding, dilation, rng, dense_above)
    kernel.method = method
    x0 = rng.standard_normal((3, h, w, cin)).astype(np.float32)
    y = kernel.dense(x0)
    x = x0
    for density in (0.1, 0.02, 0.3):  # successive frames reuse buffers
        delta, changed = sparse_change(rng, x0.shape, density)
        changed[2] = False  # one stream of the batch does not change
        delta[2] = 0.0
        before = y.copy()
        out_changed = kernel.update(y, delta, changed)
        x = x + delta
        expected = reference_conv(
            x, weights, (strides, strides), padding, (dilation, dilation),
            kind == "depthwise") + bias
        np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-4)
        # The receptive-field dilation, computed as a ones-kernel
        # convolution of the changed mask.
        # `reached` counts, per output pixel, the changed inputs under the
        # kernel's taps: the (input pixel, tap) pairs the sparse path
        # executes.
        ones = np.ones((size, size, 1, 1))
        reached = reference_conv(changed[..., None].astype(np.float64), ones,
                                 (strides, strides), padding,
                                 (dilation, dilation))[..., 0]
        np.testing.assert_array_equal(out_changed, reached > 0)
        where_changed = np.any(y != before, axis=-1)
        assert not np.any(where_changed & ~out_changed)
        assert not out_changed[2].any()
        macs_per_pixel = size * size * cin * (
            1 if kind == "depthwise" else cout)
        assert kernel.dense_macs == out_changed.size * macs_per_pixel
        if dense_above == 0.0:
            assert kernel.last_macs == kernel.dense_macs
        elif method == "gather":
            assert kernel.last_macs == out_changed.sum() * macs_per_pixel
        else:  # one product per (changed input pixel, tap) reaching y
            assert kernel.last_macs == reached.sum() * macs_per_pixel \
                // (size * size)
            assert kernel.last_macs <= out_changed.sum() * macs_per_pixel


def test_method_follows_the_measured_rule():
    rng = np.random.default_rng(6)
    assert make_kernel("conv", 3, 2, 2, 1, "same", 1, rng)[0].method \
        == "scatter"
    assert make_kernel("conv", 3, 2, 2, 2, "same", 1, rng)[0].method \
        == "gather"
    assert make_kernel("conv", 1, 2, 2, 1, "same", 1, rng)[0].method \
        == "gather"
    assert make_kernel("depthwise", 3, 2, None, 1, "same", 1, rng)[0] \
        .method == "scatter"


def test_update_without_change_executes_nothing():
    rng = np.random.default_rng(3)
    kernel, _, _ = make_kernel("conv", 3, 4, 5, 1, "same", 1, rng, 0.0)
    y = kernel.dense(rng.standard_normal((2, 8, 8, 4)).astype(np.float32))
    before = y.copy()
    out_changed = kernel.update(y, np.zeros((2, 8, 8, 4), np.float32),
                                np.zeros((2, 8, 8), bool))
    assert not out_changed.any() and kernel.last_macs == 0
    np.testing.assert_array_equal(y, before)


def test_dense_above_switches_at_the_output_fraction():
    kernel = Conv2DKernel(np.ones((1, 1, 2, 2), np.float32), None,
                          dense_above=0.25)
    y = np.zeros((1, 4, 4, 2), np.float32)
    delta = np.zeros((1, 4, 4, 2), np.float32)
    changed = np.zeros((1, 4, 4), bool)
    changed[0, 0, :4] = True  # 4 of 16 pixels: not above 0.25
    delta[changed] = 1.0
    kernel.update(y, delta, changed)
    assert kernel.last_macs == 4 * 4
    changed[0, 1, 0] = True  # 5 of 16: dense
    kernel.update(y, delta, changed)
    assert kernel.last_macs == kernel.dense_macs == 16 * 4
    np.testing.assert_array_equal(y[0, 0], np.full((4, 2), 4.0))


def test_padding_semantics_match_keras():
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 10, 9, 3)).astype(np.float32)
    for layer, cls in (
            (keras.layers.Conv2D(4, 3, strides=2, padding="same"),
             Conv2DKernel),
            (keras.layers.DepthwiseConv2D(3, strides=2, padding="same"),
             DepthwiseConv2DKernel),
            (keras.layers.Conv2D(4, 7, strides=2, padding="valid"),
             Conv2DKernel)):
        expected = np.asarray(layer(x))
        weights = [np.asarray(w) for w in layer.weights]
        kernel = cls(weights[0], weights[1], strides=2,
                     padding=layer.padding)
        np.testing.assert_allclose(kernel.dense(x), expected, rtol=1e-5,
                                   atol=1e-5)
        assert kernel.output_shape(x.shape) == expected.shape


@pytest.mark.parametrize("dense_above", [np.inf, 0.0])
def test_dense_kernel_update(dense_above):
    rng = np.random.default_rng(5)
    weights = rng.standard_normal((7, 4)).astype(np.float32)
    bias = rng.standard_normal(4).astype(np.float32)
    kernel = DenseKernel(weights, bias, dense_above=dense_above)
    x = rng.standard_normal((3, 7)).astype(np.float32)
    y = kernel.dense(x)
    np.testing.assert_allclose(y, x.astype(np.float64) @ weights + bias,
                               rtol=1e-5, atol=1e-5)
    changed = np.zeros((3, 7), bool)
    changed[0, [1, 5]] = True
    changed[2, 5] = True
    delta = np.where(changed, rng.standard_normal((3, 7)), 0.0).astype(
        np.float32)
    out_changed = kernel.update(y, delta, changed)
    np.testing.assert_allclose(
        y, (x + delta).astype(np.float64) @ weights + bias, rtol=1e-5,
        atol=1e-5)
    assert out_changed.tolist() == [True, False, True]
    assert kernel.dense_macs == 3 * 7 * 4
    expected_macs = kernel.dense_macs if dense_above == 0.0 else 2 * 2 * 4
    assert kernel.last_macs == expected_macs


def test_invalid_arguments():
    weights = np.ones((3, 3, 2, 4), np.float32)
    with pytest.raises(ValueError, match="`padding` must be one of"):
        Conv2DKernel(weights, None, padding="causal")
    with pytest.raises(ValueError, match="`bias` must have shape"):
        Conv2DKernel(weights, np.ones(3, np.float32))
    with pytest.raises(ValueError, match="`strides` must be"):
        Conv2DKernel(weights, None, strides=0)
    with pytest.raises(ValueError, match="`kernel` must be an array with 4"):
        Conv2DKernel(np.ones((3, 3, 2)), None)
    with pytest.raises(ValueError, match="depth_multiplier 1"):
        DepthwiseConv2DKernel(np.ones((3, 3, 2, 2)), None)
    with pytest.raises(ValueError, match="`dense_above` must be"):
        DenseKernel(np.ones((2, 2)), None, dense_above=-1)
    conv = Conv2DKernel(weights, None)
    x = np.zeros((1, 5, 5, 2), np.float32)
    with pytest.raises(ValueError, match="`delta` must be a NumPy array"):
        conv.update(np.zeros((1, 5, 5, 4), np.float32),
                    np.zeros((1, 5, 5, 3), np.float32),
                    np.zeros((1, 5, 5), bool))
    with pytest.raises(ValueError, match="`y` must be the cached output"):
        conv.update(np.zeros((1, 5, 5, 4)), x, np.zeros((1, 5, 5), bool))
    with pytest.raises(ValueError, match="`changed` must be a bool array"):
        conv.update(np.zeros((1, 5, 5, 4), np.float32), x,
                    np.zeros((1, 5, 4), bool))


def test_default_thresholds_cover_every_kind_and_size():
    table = calibration.default_thresholds()
    for kind in calibration.KINDS:
        for pixels in (1, 14 * 14, 56 * 56):
            value = calibration.default_threshold(kind, pixels)
            assert 0.0 <= value <= 1.0
            if kind != "dense":
                key = (kind, calibration.size_class(pixels))
                assert table[key] == value
    kernel = Conv2DKernel(np.ones((1, 1, 2, 2), np.float32), None)
    assert kernel.threshold((1, 56, 56, 2)) == table[("conv1x1", "large")]
    kernel = DepthwiseConv2DKernel(np.ones((3, 3, 2, 1), np.float32), None)
    assert kernel.threshold((1, 7, 7, 2)) == table[("depthwise", "small")]
    with pytest.raises(ValueError, match="`kind` must be one of"):
        calibration.default_threshold("pool", 10)


def test_measure_break_even_brackets_the_crossing():
    kernel = Conv2DKernel(np.ones((3, 3, 8, 8), np.float32), None)
    break_even, rows = calibration.measure_break_even(
        kernel, (1, 16, 16, 8), densities=(0.05, 0.5, 1.0), repeats=1)
    assert 0.0 <= break_even <= 1.0
    assert [row["density"] for row in rows] == [0.05, 0.5, 1.0]
    fractions = [row["fraction"] for row in rows]
    # All pixels changed: every tap that does not fall into the padding.
    assert fractions == sorted(fractions) and 0.8 < fractions[-1] <= 1.0
    assert kernel.dense_above is None  # restored
    with pytest.raises(ValueError, match="`densities` must be increasing"):
        calibration.measure_break_even(kernel, (1, 16, 16, 8),
                                       densities=(0.5, 0.1))
