"""`ActivationQuantizer`: fake quantization of activations with a range
tracked by an exponential moving average (quantization-aware training)."""

import keras
from keras import ops

from deltasparse.layers.quantization.weight_quantization import check_bool
from deltasparse.ops.fake_quantization import check_decay
from deltasparse.ops.fake_quantization import check_num_bits
from deltasparse.ops.fake_quantization import ema_update
from deltasparse.ops.fake_quantization import fake_quantize
from deltasparse.ops.fake_quantization import tensor_range

CALIBRATION_MODES = (None, "ema", "minmax", "average")


@keras.saving.register_keras_serializable(package="deltasparse")
class ActivationQuantizer(keras.layers.Layer):
    """Fake-quantizes its input on a per-tensor range tracked over batches.

    Distiller's `FakeLinearQuantization` (the seed's QAT activations) in
    Keras: three non-trainable float32 variables, `minimum`, `maximum` (the
    range in use) and `steps` (range updates so far).

    - Update (only when `training=True`, or while `calibration` is set, see
      below): the batch's minimum and maximum over the whole tensor enter a
      bias-corrected exponential moving average (`ema_update` with
      `step`), Distiller's `update_ema`. Initialisation rule: the first
      update sets the range to the first batch's range exactly (the bias
      correction of an average started at 0); later ones move it by
      `1 - decay` (debiased). The updated range is used for that same
      batch.
    - Inference (`training=False` or `None`): the stored range, unchanged.
    - Before any update (`steps == 0`) the layer passes its input through
      unchanged: an uncalibrated quantizer does not zero the network (a
      range of `[0, 0]` would). Distiller's zero-initialised buffers would
      quantize everything to 0 there.

    `calibration` (a Python attribute, not saved; set by
    `deltasparse.compression.calibrate`) makes an inference-mode call
    update the range too: `"ema"` as in training, `"minmax"` keeps the
    running minimum and maximum over every calibration batch, `"average"`
    the mean of the per-batch minima and maxima (Distiller's
    `clip_acts: AVG`). Layers such
    as BatchNormalization and Dropout stay in inference mode meanwhile.

    The gradient is `fake_quantize`'s straight-through estimator: 1 inside
    the range (widened to contain 0), 0 outside; none to the range.

    Args:
        num_bits: int in 2..16. Defaults to `8`.
        symmetric: bool, signed grid `[-max|range|, max|range|]`, zero
            point 0. Defaults to `False` (asymmetric, unsigned).
        decay: float in [0, 1), the EMA decay. Defaults to `0.999`
            (Distiller's `ema_decay`, the seed's setting).
        narrow_range: bool, drop the lowest integer level. Defaults to
            `False`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: float tensor of any shape.
        training: bool or None.

    Returns:
        Tensor of the shape and dtype of `inputs`, on the grid once
        calibrated.

    Raises:
        ValueError: for invalid arguments.

    Example:
    >>> quantizer = ActivationQuantizer(num_bits=2)
    >>> x = np.array([[0.0, 0.4, 1.0, 3.0]], "float32")
    >>> keras.ops.convert_to_numpy(quantizer(x, training=True))
    array([[0., 0., 1., 3.]], dtype=float32)
    >>> float(quantizer.maximum.value), float(quantizer.steps.value)
    (3.0, 1.0)
    """

    def __init__(self, num_bits=8, symmetric=False, decay=0.999,
                 narrow_range=False, **kwargs):
        check_num_bits(num_bits)
        check_bool("symmetric", symmetric)
        check_bool("narrow_range", narrow_range)
        check_decay(decay)
        super().__init__(**kwargs)
        self.num_bits = num_bits
        self.symmetric = symmetric
        self.decay = float(decay)
        self.narrow_range = narrow_range
        self.calibration = None
        self.supports_masking = True

    def build(self, input_shape):
        for name in ("minimum", "maximum", "steps"):
            setattr(self, name, self.add_weight(
                name=name, shape=(), initializer="zeros", trainable=False,
                dtype="float32"))

    @property
    def calibration(self):
        return self._calibration

    @calibration.setter
    def calibration(self, mode):
        if mode not in CALIBRATION_MODES:
            raise ValueError(
                f"`calibration` must be one of {CALIBRATION_MODES}. "
                f"Received: calibration={mode!r}")
        self._calibration = mode

    def reset_range(self):
        """Forgets the tracked range (back to the uncalibrated state)."""
        for variable in (self.minimum, self.maximum, self.steps):
            variable.assign(ops.zeros((), "float32"))

    def _updated_range(self, values):
        low, high = tensor_range(values)
        steps = self.steps + 1.0
        if self.calibration == "minmax":
            first = ops.equal(self.steps, 0.0)
            low = ops.where(first, low, ops.minimum(self.minimum, low))
            high = ops.where(first, high, ops.maximum(self.maximum, high))
        elif self.calibration == "average":
            low = self.minimum + (low - self.minimum) / steps
            high = self.maximum + (high - self.maximum) / steps
        else:
            low = ema_update(self.minimum, low, self.decay, steps)
            high = ema_update(self.maximum, high, self.decay, steps)
        self.minimum.assign(low)
        self.maximum.assign(high)
        self.steps.assign(steps)
        return low, high

    def call(self, inputs, training=None):
        values = ops.cast(inputs, "float32")
        if training or self.calibration is not None:
            low, high = self._updated_range(ops.stop_gradient(values))
        else:
            low, high = self.minimum, self.maximum
        quantized = fake_quantize(values, low, high, self.num_bits,
                                  self.symmetric, self.narrow_range)
        calibrated = ops.greater(ops.convert_to_tensor(self.steps), 0.0)
        outputs = ops.where(calibrated, quantized, values)
        return ops.cast(outputs, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"num_bits": self.num_bits, "symmetric": self.symmetric,
                       "decay": self.decay,
                       "narrow_range": self.narrow_range})
        return config
