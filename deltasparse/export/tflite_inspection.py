"""Reading a TFLite model: its ops, the ops needing the TF Select (Flex)
runtime, the ops that stay float in a quantized model, and running it.

Everything goes through `tf.lite.Interpreter` (the full `tensorflow`
package links the Flex delegate, so models with `Flex*` ops load and run
here; on a device they need the TF Select runtime). The op list is read
from an interpreter without the default (XNNPACK) delegate, so it shows the
model's own ops rather than `DELEGATE` nodes.
"""

import os
import warnings

import numpy as np

# Ops that only convert between float and integer at the boundaries of a
# quantized region; they are not computation that "stays float".
CONVERSION_OPS = ("QUANTIZE", "DEQUANTIZE")


def _interpreter(model, default_delegates=True, num_threads=None):
    import tensorflow as tf

    kwargs = {}
    if isinstance(model, (bytes, bytearray)):
        kwargs["model_content"] = bytes(model)
    else:
        path = os.fspath(model)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                "`model` must be a `.tflite` file or its bytes. "
                f"Received: model={path!r}")
        kwargs["model_path"] = path
    if not default_delegates:
        kwargs["experimental_op_resolver_type"] = (
            tf.lite.experimental.OpResolverType
            .BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    with warnings.catch_warnings():
        # TF 2.20+ warns that tf.lite.Interpreter moves to ai_edge_litert.
        warnings.simplefilter("ignore")
        return tf.lite.Interpreter(num_threads=num_threads, **kwargs)


def _layer_of(tensor_name, layer_names):
    """The Keras layer a converted tensor comes from (best effort).

    Converted names look like `model_1/conv_dw_1_1/depthwise;...`: the
    first fused name, its second path component, with the `_1` suffix of
    tracing. With `layer_names`, the longest layer name that this component
    starts with wins."""
    first = tensor_name.split(";")[0]
    parts = first.split("/")
    part = parts[1] if len(parts) > 1 else parts[0]
    if layer_names:
        matches = [n for n in layer_names
                   if part == n or part.startswith(n + "_")]
        if matches:
            return max(matches, key=len)
    return part


def tflite_ops(model, layer_names=None):
    """The ops of a TFLite model, in execution order.

    Args:
        model: path of a `.tflite` file, or its bytes.
        layer_names: optional list of the Keras model's layer names, to
            attribute every op to a layer.

    Returns:
        list of dicts: `op` (e.g. `"CONV_2D"`, `"FlexConv3D"`), `layer`,
        `input_types` and `output_types` (NumPy dtype names).
    """
    interpreter = _interpreter(model, default_delegates=False)
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    ops = []
    for op in interpreter._get_ops_details():
        outputs = [tensors[i]["name"] for i in op["outputs"] if i in tensors]
        ops.append({
            "op": op["op_name"],
            "layer": _layer_of(outputs[0], layer_names) if outputs else "",
            "input_types": [np.dtype(t).name for t in op["operand_types"]],
            "output_types": [np.dtype(t).name for t in op["result_types"]],
        })
    return ops


def flex_ops(model):
    """Sorted names of the ops needing the TF Select runtime (`Flex*`) or
    a custom op registration.

    Args:
        model: path of a `.tflite` file, or its bytes.

    Returns:
        list of str (empty for a builtins-only model).
    """
    names = {op["op"] for op in tflite_ops(model)}
    # Builtin op names are upper case (`CONV_2D`); Flex and custom ops
    # carry their registration name (`FlexConv3D`).
    return sorted(n for n in names if not n.isupper())


def float_ops(model, layer_names=None):
    """The computing ops of a (quantized) TFLite model that run in float.

    An op "stays float" when one of its inputs or outputs is float32;
    `QUANTIZE` / `DEQUANTIZE` (conversions at the edges of quantized parts)
    are left out. In a fully int8 model with float inputs and outputs the
    list is empty; ops the converter could not quantize appear here.

    Args:
        model: path of a `.tflite` file, or its bytes.
        layer_names: optional list of the Keras layer names (see
            `tflite_ops`).

    Returns:
        list of dicts `{"op", "layer"}` in execution order.
    """
    found = []
    for op in tflite_ops(model, layer_names):
        if op["op"] in CONVERSION_OPS:
            continue
        if "float32" in op["input_types"] + op["output_types"]:
            found.append({"op": op["op"], "layer": op["layer"]})
    return found


class TFLiteRunner:
    """A TFLite model as a callable: float32 batch -> float32 outputs.

    The input is resized to every new batch shape (the exported models have
    a dynamic batch axis). Integer inputs or outputs (an int8 model
    converted with integer I/O) are quantized and dequantized with the
    model's scale and zero point, so callers always see float32.

    Args:
        model: path of a `.tflite` file, or its bytes.
        num_threads: int or None.

    Example:
    >>> run = TFLiteRunner("model_float32.tflite")  # doctest: +SKIP
    >>> run(np.zeros((2, 4, 32, 32, 3), "float32")).shape  # doctest: +SKIP
    (2, 3)
    """

    def __init__(self, model, num_threads=None):
        self.interpreter = _interpreter(model, num_threads=num_threads)
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self._shape = None

    def __call__(self, clips):
        clips = np.asarray(clips, dtype="float32")
        if self._shape != clips.shape:
            self.interpreter.resize_tensor_input(self.input["index"],
                                                 clips.shape)
            self.interpreter.allocate_tensors()
            self.input = self.interpreter.get_input_details()[0]
            self.output = self.interpreter.get_output_details()[0]
            self._shape = clips.shape
        dtype = np.dtype(self.input["dtype"])
        if dtype.kind in "iu":
            scale, zero = self.input["quantization"]
            info = np.iinfo(dtype)
            clips = np.clip(np.round(clips / scale + zero), info.min,
                            info.max).astype(dtype)
        self.interpreter.set_tensor(self.input["index"], clips)
        self.interpreter.invoke()
        out = self.interpreter.get_tensor(self.output["index"])
        if np.dtype(out.dtype).kind in "iu":
            scale, zero = self.output["quantization"]
            out = (out.astype("float32") - zero) * scale
        return np.asarray(out, dtype="float32")


__all__ = ["CONVERSION_OPS", "TFLiteRunner", "flex_ops", "float_ops",
           "tflite_ops"]
