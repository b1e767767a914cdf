"""Independent references for the 3-D ResNet / CSN tests: parameter counts
by arithmetic from the papers' tables, and NumPy convolutions."""

import numpy as np

WIDTHS = (64, 128, 256, 512)
STAGES = {
    10: ("basic", (1, 1, 1, 1)), 18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)), 50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)), 152: ("bottleneck", (3, 8, 36, 3)),
    200: ("bottleneck", (3, 24, 36, 3)),
}


def parameter_count(depth, shortcut="B", separation=None, stem=(7, 7, 7),
                    channels=3, num_classes=None, bn_per_channel=4):
    """Weights of a bias-free 3-D ResNet / CSN with BatchNormalization
    after every convolution (in "ip" also after the 1x1x1 that precedes
    the depthwise one); `bn_per_channel`: 4 = gamma, beta, moving mean and
    variance as `count_params` counts, 2 = trainable only (PyTorch's
    count)."""
    block, counts = STAGES[depth]
    total = int(np.prod(stem)) * channels * 64 + bn_per_channel * 64
    in_channels = 64
    for stage, (width, count) in enumerate(zip(WIDTHS, counts)):
        for index in range(count):
            stride = 2 if stage > 0 and index == 0 else 1
            out = width if block == "basic" else 4 * width
            if block == "basic":
                total += 27 * in_channels * width + 27 * width * width
                total += 2 * bn_per_channel * width
            else:
                middle = {None: 27 * width * width, "ir": 27 * width,
                          "ip": width * width + 27 * width
                          + bn_per_channel * width}[separation]
                total += in_channels * width + middle + width * out
                total += bn_per_channel * (2 * width + out)
            if (stride != 1 or in_channels != out) and shortcut == "B":
                total += in_channels * out + bn_per_channel * out
            in_channels = out
    if num_classes:
        total += in_channels * num_classes + num_classes
    return total


def depthwise_conv3d(x, kernel, strides, padding):
    """Per-channel 3-D cross-correlation (PyTorch `groups=channels`).

    Args:
        x: `(batch, t, h, w, channels)`.
        kernel: `(kt, kh, kw, 1, channels)` (the Keras grouped layout).
        strides: 3 ints.
        padding: 3 ints, zeros on both sides of t, h, w.
    """
    x = np.pad(x, [(0, 0)] + [(p, p) for p in padding] + [(0, 0)])
    kt, kh, kw = kernel.shape[:3]
    sizes = [(n - k) // s + 1 for n, k, s in
             zip(x.shape[1:4], (kt, kh, kw), strides)]
    out = np.zeros((x.shape[0], *sizes, x.shape[-1]))
    for c in range(x.shape[-1]):
        for t in range(sizes[0]):
            for i in range(sizes[1]):
                for j in range(sizes[2]):
                    t0, i0, j0 = t * strides[0], i * strides[1], j * strides[2]
                    window = x[:, t0:t0 + kt, i0:i0 + kh, j0:j0 + kw, c]
                    out[:, t, i, j, c] = (window * kernel[..., 0, c]).sum(
                        axis=(1, 2, 3))
    return out


def max_pool3d(x, size, strides, padding):
    """PyTorch `MaxPool3d` (padding with -inf) on `(batch, t, h, w, c)`."""
    x = np.pad(x, [(0, 0)] + [(p, p) for p in padding] + [(0, 0)],
               constant_values=-np.inf)
    sizes = [(n - k) // s + 1 for n, k, s in zip(x.shape[1:4], size, strides)]
    out = np.empty((x.shape[0], *sizes, x.shape[-1]))
    for t in range(sizes[0]):
        for i in range(sizes[1]):
            for j in range(sizes[2]):
                t0, i0, j0 = t * strides[0], i * strides[1], j * strides[2]
                out[:, t, i, j] = x[:, t0:t0 + size[0], i0:i0 + size[1],
                                    j0:j0 + size[2]].max(axis=(1, 2, 3))
    return out


def check_one_training_step(model, clip_length=8, size=32, batch=2):
    """Fits `model` one SGD step on random clips and asserts a finite loss
    and that every trainable weight moved.

    Runs eagerly: the same `train_step`, without tracing the whole graph
    (2x faster for one step; the grouped convolutions still go through
    XLA on the TensorFlow CPU backend)."""
    import keras

    rng = np.random.default_rng(0)
    clips = rng.normal(size=(batch, clip_length, size, size, 3)).astype(
        "float32")
    labels = np.arange(batch) % model.output.shape[-1]
    before = [np.array(w) for w in model.trainable_weights]
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss="sparse_categorical_crossentropy", run_eagerly=True)
    history = model.fit(clips, labels, batch_size=batch, epochs=1,
                        steps_per_epoch=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    unchanged = [w.path for b, w in zip(before, model.trainable_weights)
                 if np.array_equal(b, np.array(w))]
    assert unchanged == []


def check_keras_round_trip(model, path):
    """Saves `model` to `path` (`.keras`), loads it, asserts equal outputs
    on a random clip and equal backbone configs; returns the loaded one."""
    import keras

    model.save(path)
    loaded = keras.saving.load_model(path)
    shape = (1, model.backbone.clip_length or 4, *model.frame_shape)
    clips = np.random.default_rng(3).normal(size=shape).astype("float32")
    np.testing.assert_allclose(loaded(clips), model(clips), rtol=1e-5,
                               atol=1e-7)
    assert loaded.backbone.get_config() == model.backbone.get_config()
    return loaded


def layer_outputs(backbone, names, clips):
    """NumPy outputs of the named layers of `backbone` on `clips`."""
    import keras

    probe = keras.Model(backbone.input,
                        [backbone.get_layer(n).output for n in names])
    return [np.asarray(v) for v in probe(clips.astype("float32"))]


def check_parameter_counts(backbone, pinned, **reference):
    """Asserts the pinned `(backbone, 400-class classifier)` counts, and
    that both match `parameter_count(**reference)` (all weights, and the
    trainable ones, as PyTorch counts)."""
    from deltasparse.models import VideoClassifier

    model = VideoClassifier(backbone, num_classes=400)
    assert (backbone.count_params(), model.count_params()) == pinned
    assert backbone.count_params() == parameter_count(**reference)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == parameter_count(num_classes=400, bn_per_channel=2,
                                        **reference)
