"""Tests of deltasparse.reporting.autoencoder_plots (the mosaics)."""

import numpy as np
import pytest

from deltasparse.reporting import autoencoder_plots as plots


def test_make_mosaic_is_column_major_with_border_of_ones():
    images = np.stack([np.full((2, 3), i, "float32") for i in range(5)])
    mosaic = plots.make_mosaic(images, nrows=2, ncols=3)
    assert mosaic.shape == (2 * 2 + 1, 3 * 3 + 2)
    # Image i sits at row i % 2, column i // 2.
    for i in range(5):
        row, col = i % 2, i // 2
        tile = mosaic[row * 3 : row * 3 + 2, col * 4 : col * 4 + 3]
        np.testing.assert_array_equal(tile, i)
    np.testing.assert_array_equal(mosaic[2, :], 1.0)  # horizontal border
    np.testing.assert_array_equal(mosaic[:, 3], 1.0)  # vertical border
    np.testing.assert_array_equal(mosaic[3:, 8:], 1.0)  # empty sixth tile


def test_make_mosaic_validates():
    with pytest.raises(ValueError, match="Received: nrows=1, ncols=1"):
        plots.make_mosaic(np.zeros((2, 2, 2)), 1, 1)
    with pytest.raises(ValueError, match="Received: images.shape"):
        plots.make_mosaic(np.zeros((2, 2)), 1, 2)


def test_decoder_weights_mosaic_normalises_each_filter():
    rng = np.random.default_rng(1)
    kernel = rng.normal(size=(3, 3, 1, 8)).astype("float32")
    mosaic = plots.decoder_weights_mosaic(kernel, nrows=4)
    assert mosaic.shape == (4 * 3 + 3, 2 * 3 + 1)
    # Filter 5 (transposed to (F, k, k, C)) is at row 1, column 1.
    tile = mosaic[4:7, 4:7]
    f = kernel[:, :, 0, 5]
    np.testing.assert_allclose(tile, (f - f.min()) / (f.max() - f.min()))
    assert tile.min() == 0.0 and tile.max() == 1.0


def test_predictions_mosaic_rows_are_videos():
    inputs = np.full((2, 3, 2, 2, 1), 0.25, "float32")
    inputs[1] = 0.5
    outputs = np.full((2, 3, 2, 2, 1), 2.0, "float32")  # clipped to 1
    outputs[1] = -1.0  # clipped to 0
    mosaic = plots.predictions_mosaic(inputs, outputs)
    assert mosaic.shape == (2 * 2 + 1, 6 * 2 + 5)
    np.testing.assert_array_equal(mosaic[0:2, 0:2], 0.25)  # video 0, frame 0
    np.testing.assert_array_equal(mosaic[3:5, 6:8], 0.5)  # video 1, frame 2
    np.testing.assert_array_equal(mosaic[0:2, 9:11], 1.0)  # video 0, output 0
    np.testing.assert_array_equal(mosaic[3:5, 15:17], 0.0)  # video 1, output 2
    with pytest.raises(ValueError, match="Received: inputs.shape"):
        plots.predictions_mosaic(inputs, outputs[:1])


def test_save_image_writes_png(tmp_path):
    for image in (np.zeros((4, 6)), np.zeros((4, 6, 1)), np.ones((4, 6, 3))):
        path = str(tmp_path / f"x{image.ndim}.png")
        assert plots.save_image(image, path, "t", figsize=(2, 2), dpi=20) == path
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
