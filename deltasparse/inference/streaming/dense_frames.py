"""Dense frames of a streaming program, computed with TensorFlow.

A `StreamingDeltaModel` needs, at a key frame, the output of every program
step (the caches its incremental updates start from). Computing those with
NumPy costs about twice a TensorFlow frame (oneDNN convolutions are faster
than NumPy's im2col and shifted sums). `DenseFramePrograms` compiles the
whole per-frame `Program` into one `tf.function` per batch size that
returns every step's output, so a key frame costs about twice a dense
TensorFlow frame (the intermediates it must return cannot be fused), and
`output` computes only the program's output: a frame that changed too much
to be worth updating costs about one fused dense frame, leaving the caches
stale until the next key frame.

The functions are the same float32 operations as the NumPy path
(`engine._pointwise`: multiply then add for an unfolded BatchNorm,
divide-round-multiply for the quantizer, round half to even in both
libraries), so the two paths differ only by the summation order of the
convolutions, as the Keras model does.
"""

import numpy as np

try:  # TensorFlow is a dependency of the package; keep the import local.
    import tensorflow as tf
except ImportError:  # pragma: no cover - the NumPy key frames remain
    tf = None


def available():
    """Whether TensorFlow is importable (dense frames can use it)."""
    return tf is not None


def _pointwise_tf(fns, x):
    for fn in fns:
        kind = fn[0]
        if kind == "affine":
            x = x * fn[1] + fn[2]
        elif kind == "bias":
            x = x + fn[1]
        elif kind == "relu":
            x = tf.maximum(x, 0.0)
            if fn[1] is not None:
                x = tf.minimum(x, np.float32(fn[1]))
        elif kind == "softmax":
            x = tf.nn.softmax(x, axis=-1)
        else:  # quantize(x, step): step * round(x / step), 0-step identity
            step = fn[1]
            if fn[3]:
                x = tf.round(x / step) * step
            else:
                nonzero = step != 0
                safe = np.where(nonzero, step, np.float32(1)).astype(
                    "float32")
                x = tf.where(nonzero, tf.round(x / safe) * step, x)
    return x


def _linear_tf(params, x):
    kind = params["kernel_kind"]
    if kind == "dense":
        return tf.matmul(x, params["kernel"]) + params["bias"]
    strides = (1,) + tuple(params["strides"]) + (1,)
    dilations = tuple(params["dilation"])
    padding = params["padding"].upper()
    if kind == "depthwise":
        if dilations != (1, 1) and strides != (1, 1, 1, 1):
            # tf.nn.depthwise_conv2d refuses both; the grouped convolution
            # is the same operation.
            kernel = np.transpose(params["kernel"], (0, 1, 3, 2))
            y = tf.nn.conv2d(x, kernel, strides, padding,
                             dilations=(1,) + dilations + (1,))
        else:
            y = tf.nn.depthwise_conv2d(x, params["kernel"], strides,
                                       padding, dilations=dilations)
    else:
        y = tf.nn.conv2d(x, params["kernel"], strides, padding,
                         dilations=(1,) + dilations + (1,))
    return y + params["bias"]


def _run_program(program, frames):
    """Every step's output for `frames` `(B, H, W, C)`: a list whose `gap`
    entries are `(float64 sums, float32 mean)` pairs."""
    outputs = []
    for step in program.steps:
        inputs = [outputs[i] for i in step.inputs]
        x = inputs[0] if inputs else frames
        if isinstance(x, tuple):
            x = x[1]
        kind = step.kind
        if kind == "input":
            y = frames
        elif kind == "linear":
            y = _linear_tf(step.params, x)
        elif kind == "pointwise":
            y = _pointwise_tf(step.params["fns"], x)
        elif kind == "add":
            y = inputs[0]
            for other in inputs[1:]:
                y = y + other
        elif kind == "pad":
            y = tf.pad(x, ((0, 0),) + tuple(step.params["pads"])
                       + ((0, 0),))
        elif kind == "maxpool":
            # TF's "same" max pooling ignores the padded positions: the
            # NumPy path pads with -inf, the same values.
            y = tf.nn.max_pool2d(x, step.params["pool_size"],
                                 step.params["strides"],
                                 step.params["padding"].upper())
        elif kind == "gap":
            sums = tf.reduce_sum(tf.cast(x, tf.float64), axis=(1, 2))
            size = float(x.shape[1] * x.shape[2])
            mean = tf.reshape(tf.cast(sums / size, tf.float32),
                              (-1,) + tuple(step.shape))
            y = (sums, mean)
        elif kind == "reshape":
            y = tf.reshape(x, (-1,) + tuple(step.shape))
        else:  # pragma: no cover - build_program makes only these kinds
            raise ValueError(f"Unknown step kind {kind!r}")
        outputs.append(y)
    return outputs


class DenseFramePrograms:
    """Compiled dense evaluation of a `Program`, one trace per batch size.

    Args:
        program: the `Program` of `build_program`.

    Example:
    >>> from deltasparse.inference.streaming.graph import build_program
    >>> from deltasparse.models.video_classifier import VideoClassifier
    >>> model = VideoClassifier.from_preset(
    ...     "mobilenet_delta", num_classes=3, image_size=(32, 32),
    ...     alpha=0.25)
    >>> program = build_program(model)
    >>> values = DenseFramePrograms(program)(np.zeros((1, 32, 32, 3),
    ...                                               "float32"))
    >>> values[program.output].shape
    (1, 3)
    """

    def __init__(self, program):
        if tf is None:  # pragma: no cover
            raise ValueError("Dense TensorFlow frames need TensorFlow; "
                             "install it or pass `dense_frames='numpy'`.")
        self.program = program
        self._functions = {}

    def _function(self, batch_size, output_only):
        key = (batch_size, output_only)
        function = self._functions.get(key)
        if function is None:
            shape = (batch_size,) + tuple(self.program.steps[0].shape)
            program = self.program
            if output_only:
                def run(frames):
                    return _run_program(program, frames)[program.output]
            else:
                def run(frames):
                    return _run_program(program, frames)
            function = tf.function(
                run, input_signature=[tf.TensorSpec(shape, tf.float32)],
                jit_compile=False)
            self._functions[key] = function
        return function

    def __call__(self, frames):
        """Every step's output, as writable NumPy arrays (`gap` steps give
        `(sums, mean)`). Returning every intermediate keeps TensorFlow from
        fusing a convolution with its bias and activation: this costs about
        twice `output`."""
        frames = np.asarray(frames, dtype="float32")
        outputs = self._function(frames.shape[0], False)(tf.constant(frames))
        # `.numpy()` of a CPU tensor is a writable copy the caches own.
        return [tuple(v.numpy() for v in out) if isinstance(out, tuple)
                else out.numpy() for out in outputs]

    def output(self, frames):
        """The program's output only (e.g. class probabilities): one
        fused dense frame, about the cost of the Keras model on a frame."""
        frames = np.asarray(frames, dtype="float32")
        return self._function(frames.shape[0], True)(
            tf.constant(frames)).numpy()
