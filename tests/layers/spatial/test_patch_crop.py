"""PatchCrop against an independent NumPy model of AdaFocusV2's crop
(`F.affine_grid` with scale P / W + `F.grid_sample`, bilinear,
`align_corners=False`, zero padding), and its gradients against finite
differences; runs on TensorFlow and on JAX (the CI's JAX job)."""

import os

import keras
import numpy as np
from absl.testing import parameterized

from deltasparse.layers import PatchCrop
from deltasparse.testing import TestCase


def grid_sample_reference(frames, positions, patch):
    """AdaFocusV2's crop, written from PyTorch's documented semantics.

    The affine grid maps output pixel centres u = (2i + 1) / P - 1 to
    x = (P / W) u + t with t = (2 left + P) / W - 1 (left = position x
    (W - P)); grid_sample (align_corners=False) reads normalized x at pixel
    coordinate ((x + 1) W - 1) / 2 and interpolates bilinearly with zeros
    outside the frame.
    """
    batch, height, width, channels = frames.shape
    out = np.zeros((batch, patch, patch, channels))

    def pixel(extent, corner):
        normalized = (patch / extent) * ((2 * np.arange(patch) + 1) / patch
                                         - 1) + (2 * corner + patch) / extent - 1
        return ((normalized + 1) * extent - 1) / 2

    def read(b, y, x):
        if 0 <= y < height and 0 <= x < width:
            return frames[b, y, x]
        return np.zeros(channels)

    for b in range(batch):
        ys = pixel(height, positions[b, 0] * (height - patch))
        xs = pixel(width, positions[b, 1] * (width - patch))
        for i, y in enumerate(ys):
            for j, x in enumerate(xs):
                y0, x0 = int(np.floor(y)), int(np.floor(x))
                wy, wx = y - y0, x - x0
                out[b, i, j] = ((1 - wy) * (1 - wx) * read(b, y0, x0)
                                + (1 - wy) * wx * read(b, y0, x0 + 1)
                                + wy * (1 - wx) * read(b, y0 + 1, x0)
                                + wy * wx * read(b, y0 + 1, x0 + 1))
    return out


def gradients(function, *arrays):
    """d sum(function(*arrays) * weights) / d arrays, on this backend."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        variables = [tf.constant(a) for a in arrays]
        with tf.GradientTape() as tape:
            tape.watch(variables)
            value = function(*variables)
        return [g.numpy() for g in tape.gradient(value, variables)]
    if backend == "jax":
        import jax

        return [np.asarray(g) for g in jax.grad(
            function, argnums=tuple(range(len(arrays))))(*arrays)]
    raise NotImplementedError(backend)


class PatchCropTest(TestCase, parameterized.TestCase):
    def test_basics(self):
        self.run_layer_test(
            PatchCrop, init_kwargs={"patch_size": 3},
            input_shape=[(2, 8, 9, 2), (2, 2)],
            expected_output_shape=(2, 3, 3, 2),
            expected_num_trainable_weights=0,
            expected_num_non_trainable_weights=0,
            supports_masking=False, run_training_check=False)

    @parameterized.parameters((8, 8, 3), (9, 7, 4), (6, 6, 6), (5, 9, 1))
    def test_values_match_the_grid_sample_reference(self, height, width,
                                                    patch):
        rng = np.random.default_rng(height * width + patch)
        frames = rng.normal(size=(3, height, width, 2)).astype("float32")
        positions = np.array([[0.0, 1.0], [0.37, 0.81], [1.0, 0.0]],
                             "float32")
        got = keras.ops.convert_to_numpy(PatchCrop(patch)(frames, positions))
        want = grid_sample_reference(frames, positions, patch)
        self.assertAllClose(got, want, atol=1e-5)

    def test_integer_corners_copy_pixels_and_the_ends_touch_the_edges(self):
        frames = np.arange(2 * 7 * 6, dtype="float32").reshape(2, 7, 6, 1)
        patch = keras.ops.convert_to_numpy(PatchCrop((3, 2))(
            frames, np.array([[0.0, 0.0], [1.0, 1.0]], "float32")))
        self.assertAllEqual(patch[0], frames[0, 0:3, 0:2])
        self.assertAllEqual(patch[1], frames[1, 4:7, 4:6])
        # y = 0.5 on 7 rows, P = 3: the corner is at row 2 exactly.
        middle = keras.ops.convert_to_numpy(PatchCrop((3, 2))(
            frames[:1], np.array([[0.5, 0.25]], "float32")))
        self.assertAllEqual(middle[0], frames[0, 2:5, 1:3])

    def test_half_pixel_positions_average_neighbours(self):
        frames = np.zeros((1, 5, 5, 1), "float32")
        frames[0, 2, 2, 0] = 1.0
        # P = 3 on 5 pixels: the corner is at 0.75 * (5 - 3) = 1.5.
        patch = keras.ops.convert_to_numpy(PatchCrop(3)(
            frames, np.array([[0.75, 0.75]], "float32")))[0, :, :, 0]
        # Samples at 1.5, 2.5, 3.5: the pixel at 2 gets weight 1/2 per axis.
        self.assertAllClose(patch, [[0.25, 0.25, 0.0], [0.25, 0.25, 0.0],
                                    [0.0, 0.0, 0.0]])

    def test_gradients_match_finite_differences(self):
        self.skip_unless_backend("tensorflow", "jax", reason="gradients")
        rng = np.random.default_rng(3)
        frames = rng.normal(size=(2, 9, 8, 2)).astype("float32")
        # Corners (y * 5, x * 4) are 0.2-0.8 px from integers: no kink
        # within the finite-difference step.
        positions = np.array([[0.3, 0.55], [0.68, 0.15]], "float32")
        weights = rng.normal(size=(2, 4, 4, 2)).astype("float32")
        layer = PatchCrop(4)

        def loss(frames, positions):
            return keras.ops.sum(layer(frames, positions) * weights)

        frame_grad, position_grad = gradients(loss, frames, positions)

        def value(frames, positions):
            return float(np.sum(keras.ops.convert_to_numpy(
                layer(frames, positions)) * weights))

        step = 1e-3
        for b in range(2):
            for k in range(2):
                up, down = positions.copy(), positions.copy()
                up[b, k] += step
                down[b, k] -= step
                numeric = (value(frames, up) - value(frames, down)) / (
                    2 * step)
                self.assertAllClose(position_grad[b, k], numeric, rtol=2e-2,
                                    atol=2e-2)
        self.assertGreater(np.abs(position_grad).min(), 1e-3)
        # The frames' gradient: the patch is linear in the frame.
        for index in [(0, 3, 4, 1), (1, 6, 1, 0), (0, 0, 0, 0)]:
            up, down = frames.copy(), frames.copy()
            up[index] += 0.5
            down[index] -= 0.5
            numeric = value(up, positions) - value(down, positions)
            self.assertAllClose(frame_grad[index], numeric, atol=1e-3)

    def test_keras_file_round_trip(self):
        frames = keras.Input((8, 8, 3))
        positions = keras.Input((2,))
        model = keras.Model([frames, positions],
                            PatchCrop(5, name="crop")(frames, positions))
        path = os.path.join(self.get_temp_dir(), "crop.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        self.assertIsInstance(loaded.get_layer("crop"), PatchCrop)
        self.assertEqual(loaded.get_layer("crop").patch_size, (5, 5))
        x = [np.random.default_rng(0).normal(size=(2, 8, 8, 3)),
             np.array([[0.1, 0.9], [0.5, 0.5]])]
        self.assertAllClose(loaded.predict(x, verbose=0),
                            model.predict(x, verbose=0))

    def test_invalid_arguments(self):
        for bad in (0, 2.5, (3,), True):
            with self.assertRaisesRegex(ValueError, "`patch_size`"):
                PatchCrop(bad)
        with self.assertRaisesRegex(ValueError, "must fit in the frame"):
            PatchCrop(9)(np.zeros((1, 8, 8, 1)), np.zeros((1, 2)))
        with self.assertRaisesRegex(ValueError, "`positions` must be"):
            PatchCrop(3)(np.zeros((1, 8, 8, 1)), np.zeros((1, 3)))
        with self.assertRaisesRegex(ValueError, "`frames` must be"):
            PatchCrop(3)(np.zeros((1, 8, 8)), np.zeros((1, 2)))
