"""Figures of the group k-sparse temporal autoencoders (the paper's mosaics).

`make_mosaic` tiles images on a background of ones with a 1-pixel border,
filling column by column (image `i` at row `i % nrows`, column
`i // nrows`), as the original `utils/plot.make_mosaic`. `save_image` draws
one image with matplotlib (value range [0, 1], nearest interpolation, gray
colormap for one channel, axis off, tight bounding box), as the original
`utils/plot.plot`. `decoder_weights_mosaic` and `predictions_mosaic` build the
two figures of the protocol; `plot_decoder_weights` and `plot_predictions`
draw them for a `TemporalAutoencoder`. Matplotlib is imported lazily and only
its Agg canvas is used, so the global pyplot state is untouched.
"""

import keras
import numpy as np


def make_mosaic(images, nrows, ncols, border=1, background=1.0):
    """Tiles images into one array, column-major.

    Args:
        images: array `(N, h, w)` or `(N, h, w, c)` with `N <= nrows * ncols`.
        nrows: int, number of tile rows.
        ncols: int, number of tile columns.
        border: int, pixels between neighbouring tiles. Defaults to `1`.
        background: float, value of the border and of empty tiles. Defaults
            to `1.0`.

    Returns:
        Array `(nrows*h + (nrows-1)*border, ncols*w + (ncols-1)*border[, c])`.

    Example:
    >>> make_mosaic(np.zeros((3, 2, 2)), nrows=2, ncols=2).shape
    (5, 5)
    """
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(
            "`images` must have shape (N, h, w) or (N, h, w, c). "
            f"Received: images.shape={images.shape}"
        )
    if nrows < 1 or ncols < 1 or len(images) > nrows * ncols:
        raise ValueError(
            "`nrows * ncols` must be positive and hold all images. "
            f"Received: nrows={nrows}, ncols={ncols}, images={len(images)}"
        )
    n, h, w = images.shape[:3]
    shape = (nrows * h + (nrows - 1) * border, ncols * w + (ncols - 1) * border)
    mosaic = np.full(shape + images.shape[3:], background, dtype="float32")
    for i in range(n):
        row, col = i % nrows, i // nrows
        top, left = row * (h + border), col * (w + border)
        mosaic[top : top + h, left : left + w] = images[i]
    return mosaic


def decoder_weights_mosaic(kernel, nrows):
    """Mosaic of the decoder filters, each min-max normalised to [0, 1].

    Args:
        kernel: `Conv2DTranspose` kernel `(k, k, C_in, F)`.
        nrows: int, tile rows (4, or F // groups for the group modes).

    Returns:
        Array: the F filters `(k, k, C_in)` tiled in `nrows` rows and
        `ceil(F / nrows)` columns, column-major; one channel is squeezed.

    Example:
    >>> decoder_weights_mosaic(np.random.rand(3, 3, 1, 8), nrows=4).shape
    (15, 7)
    """
    kernel = np.asarray(kernel, dtype="float32")
    if kernel.ndim != 4:
        raise ValueError(
            "`kernel` must have shape (k, k, C_in, F). "
            f"Received: kernel.shape={kernel.shape}"
        )
    filters = np.transpose(kernel, (3, 0, 1, 2))
    lo = filters.min(axis=(1, 2, 3), keepdims=True)
    hi = filters.max(axis=(1, 2, 3), keepdims=True)
    span = np.where(hi > lo, hi - lo, 1.0)
    filters = (filters - lo) / span
    if filters.shape[-1] == 1:
        filters = filters[..., 0]
    ncols = -(-len(filters) // nrows)
    return make_mosaic(filters, nrows, ncols)


def predictions_mosaic(inputs, outputs):
    """Mosaic with one row per video: input frames, then output frames.

    Args:
        inputs: array `(N, T, h, w, c)`.
        outputs: array `(N, T, h, w, c)` (reconstructions or next-frame
            predictions).

    Returns:
        Array with N tile rows and 2T tile columns, values clipped to
        [0, 1]; one channel is squeezed.

    Example:
    >>> x = np.zeros((2, 3, 4, 4, 1))
    >>> predictions_mosaic(x, x).shape
    (9, 29)
    """
    inputs = np.asarray(inputs, dtype="float32")
    outputs = np.asarray(outputs, dtype="float32")
    if inputs.ndim != 5 or inputs.shape != outputs.shape:
        raise ValueError(
            "`inputs` and `outputs` must both have shape (N, T, h, w, c). "
            f"Received: inputs.shape={inputs.shape}, "
            f"outputs.shape={outputs.shape}"
        )
    grid = np.clip(np.concatenate([inputs, outputs], axis=1), 0.0, 1.0)
    n, cols = grid.shape[:2]
    # Column-major filling: tile index = column * n + row.
    tiles = np.swapaxes(grid, 0, 1).reshape((n * cols,) + grid.shape[2:])
    if tiles.shape[-1] == 1:
        tiles = tiles[..., 0]
    return make_mosaic(tiles, n, cols)


def save_image(image, path, title="", figsize=(30, 90), dpi=160):
    """Saves one image as a PNG figure, as the original `utils/plot.plot`.

    Args:
        image: array `(h, w)`, `(h, w, 1)` or `(h, w, 3)` with values in
            [0, 1].
        path: output file path.
        title: str, figure title. Defaults to `""`.
        figsize: figure size in inches. Defaults to `(30, 90)`.
        dpi: int. Defaults to `160`.

    Returns:
        `path`.

    Example:
    >>> save_image(np.zeros((4, 4)), "/tmp/x.png")  # doctest: +SKIP
    '/tmp/x.png'
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    image = np.asarray(image, dtype="float32")
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    cmap = "gray" if image.ndim == 2 else "jet"
    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(image, vmin=0.0, vmax=1.0, interpolation="nearest", cmap=cmap)
    ax.set_axis_off()
    ax.set_title(title)
    fig.savefig(path, bbox_inches="tight")
    return path


def plot_decoder_weights(model, path, figsize=(30, 90), dpi=160):
    """Draws the decoder filters of a `TemporalAutoencoder` as a mosaic PNG.

    The `(k, k, C_in, F)` kernel becomes F tiles, each min-max normalised, in
    4 rows (group algorithms: `F // groups` rows, one column per group),
    filled column by column.

    Args:
        model: a `TemporalAutoencoder`.
        path: output file.
        figsize: matplotlib figure size. Defaults to `(30, 90)`.
        dpi: int. Defaults to `160`.

    Returns:
        The path written, or `None` for vgg19 (no decoder).
    """
    if not model.has_decoder:
        return None
    kernel = keras.ops.convert_to_numpy(model.decoder.get_layer("deconv").kernel)
    if model.group_count:
        nrows = model.filters // model.group_count
    else:
        nrows = min(4, kernel.shape[-1])
    mosaic = decoder_weights_mosaic(kernel, nrows)
    return save_image(mosaic, path, "decoder weights", figsize=figsize, dpi=dpi)


def plot_predictions(model, x, path, title="", batch_size=30, figsize=(30, 90),
                     dpi=160):
    """Draws input frames next to the autoencoder outputs.

    One row per video: its T input frames, then the T outputs
    (reconstructions, or next-frame predictions for the recurrent
    algorithms), clipped to [0, 1]. The sparsity is active and its lifetime
    competition runs over `x` in chunks of `batch_size`.

    Args:
        model: a `TemporalAutoencoder` (or its clip-length copy).
        x: array `(N, T, H, W, C_in)` (the original used 8 videos).
        path: output file.
        title: figure title. Defaults to `""`.
        batch_size: int, prediction batch size. Defaults to `30`.
        figsize: matplotlib figure size. Defaults to `(30, 90)`.
        dpi: int. Defaults to `160`.

    Returns:
        The path written, or `None` for vgg19.
    """
    if not model.has_decoder:
        return None
    outputs = model.autoencoder_view().predict(x, batch_size=batch_size,
                                               verbose=0)
    mosaic = predictions_mosaic(x, outputs)
    return save_image(mosaic, path, title, figsize=figsize, dpi=dpi)
