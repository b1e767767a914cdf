"""`StreamingDeltaModel`: frame-by-frame inference that computes only what
changed since the previous frame.

Every step of the per-frame program (`deltasparse.inference.streaming
.graph`) keeps its output of the previous frame per stream. A new frame
gives the input's change; linear steps (convolutions, depthwise
convolutions, dense, BatchNorm folded in) add the linear map of their
input's change to their cached output (`kernels`); pointwise chains
(ReLU/ReLU6, the `DeltaActivation` quantizer, softmax), residual adds and
max pooling are re-evaluated only at the output pixels whose input changed,
and pass on the change of their (quantized) output, which is exactly zero
wherever a quantized level stayed the same; global average pooling keeps a
running sum. A dense key frame every `refresh` frames recomputes everything
and bounds floating-point drift of the accumulated outputs.
"""

import time

import numpy as np

from deltasparse.inference.streaming.graph import build_program
from deltasparse.inference.streaming.graph import dilate_mask
from deltasparse.inference.streaming.graph import pads

from deltasparse.inference.streaming import dense_frames as _dense_frames
from deltasparse.inference.streaming import kernels as _kernels

DEFAULT_REFRESH = 64
# A frame whose incremental update executed more than this fraction of the
# dense MACs cost more than a dense TensorFlow frame: the following frames
# are computed densely (probing an incremental update every
# `DEFAULT_PROBE_EVERY` frames). Measured with
# `python benchmarks/bench_streaming_delta.py --models mobilenet resnet50`
# on the 2-core development machine: an incremental frame reaches the time
# of a dense TensorFlow frame at 0.45-0.65 of the dense MACs.
DEFAULT_DENSE_FRAME_ABOVE = 0.5
DEFAULT_PROBE_EVERY = 16
DENSE_FRAMES = ("tensorflow", "numpy")
# Above this fraction of changed input pixels a pointwise step recomputes
# its whole output (no gather / scatter).
DENSE_POINTWISE_ABOVE = 0.5


# `last_where` marker: the delta may be nonzero anywhere (a dense update).
_WHOLE = Ellipsis


def _pointwise(fns, x, where):
    """Applies the chain `fns` to `x`: a whole `(B, ...)` tensor when
    `where` is None, else the rows `x = value[where]` (a copy). Works in
    place on one float32 copy; every step is the same float32 operation
    as the layer's (no fused multiply-add), so values are unchanged."""
    x = (np.array(x, dtype="float32") if where is None
         else np.asarray(x, dtype="float32"))
    for fn in fns:
        kind = fn[0]
        if kind == "affine":
            np.multiply(x, fn[1], out=x)
            np.add(x, fn[2], out=x)
        elif kind == "bias":
            np.add(x, fn[1], out=x)
        elif kind == "relu":
            np.maximum(x, np.float32(0), out=x)
            if fn[1] is not None:
                np.minimum(x, np.float32(fn[1]), out=x)
        elif kind == "softmax":
            e = np.exp(x - x.max(axis=-1, keepdims=True))
            x = (e / e.sum(axis=-1, keepdims=True)).astype("float32")
        else:  # quantize(x, step): step * round(x / step), 0-step identity
            step = fn[1]
            if fn[2] and where is not None:  # neuron-wise: per-pixel steps
                step = step[where[1:]]
            if fn[3]:  # every step nonzero
                np.divide(x, step, out=x)
                np.round(x, out=x)
                np.multiply(x, step, out=x)
            else:
                nonzero = step != 0
                safe = np.where(nonzero, step, np.float32(1))
                x = np.where(nonzero, np.round(x / safe) * step,
                             x).astype("float32")
    return x


class _Op:
    """Runtime of one program step; state lives in the `StreamingState`."""

    needs_delta = False  # whether it reads its input's delta

    def __init__(self, step, index):
        self.step = step
        self.index = index
        self.name = step.name
        self.inputs = step.inputs
        self.emit_delta = False  # set when a consumer needs_delta
        self.label = step.kind  # what `timings` adds this op's time to
        if step.kind == "linear":
            kind = step.params["kernel_kind"]
            shape = step.params["kernel"].shape
            self.label = kind if kind == "dense" else (
                f"{kind} {shape[0]}x{shape[1]}")

    def key(self, state):
        """Dense evaluation from the input values."""
        raise NotImplementedError

    def update(self, state):
        """Incremental evaluation; sets value, changed (and delta)."""
        raise NotImplementedError

    def load(self, state, value):
        """A dense frame computed elsewhere (`DenseFramePrograms`): takes
        `value` as this step's output, as `key` would have computed it."""
        state.values[self.index] = value
        if self.emit_delta:
            state.deltas[self.index] = np.zeros_like(value)
            state.last_where[self.index] = None


class _InputOp(_Op):
    def key(self, state):
        state.values[self.index] = state.frame.copy()
        state.deltas[self.index] = np.zeros_like(state.frame)

    def load(self, state, value):
        self.key(state)

    def update(self, state):
        value = state.values[self.index]
        delta = np.subtract(state.frame, value, dtype="float32")
        changed = np.any(delta != 0, axis=-1)
        value[...] = state.frame
        state.deltas[self.index] = delta
        state.changed[self.index] = changed


class _PointwiseOp(_Op):
    """Recomputes its output at the pixels where an input changed."""

    def compute(self, state, where):
        raise NotImplementedError

    def key(self, state):
        value = self.compute(state, None)
        state.values[self.index] = value
        if self.emit_delta:
            state.deltas[self.index] = np.zeros_like(value)
            state.last_where[self.index] = None

    def input_changed(self, state):
        return state.changed[self.inputs[0]]

    def update(self, state):
        mask = self.input_changed(state)
        if np.count_nonzero(mask) > DENSE_POINTWISE_ABOVE * mask.size:
            self._update_dense(state)
            return
        value = state.values[self.index]
        where = np.nonzero(mask)
        new = self.compute(state, where)
        old = value[where]
        different = new != old
        self._moved_elements = int(np.count_nonzero(different))
        moved = np.any(different, axis=-1)
        changed = np.zeros(mask.shape, bool)
        moved_at = tuple(w[moved] for w in where)
        changed[moved_at] = True
        if self.emit_delta:
            delta = state.deltas[self.index]
            previous = state.last_where[self.index]
            if previous is _WHOLE:  # after a dense update: nonzero anywhere
                delta.fill(0)
            elif previous is not None:
                delta[previous] = 0
            delta[moved_at] = new[moved] - old[moved]
            state.last_where[self.index] = moved_at
        value[moved_at] = new[moved]
        state.changed[self.index] = changed

    def _update_dense(self, state):
        """The same update computed on whole tensors (most pixels
        changed): recompute everywhere, delta = new - old."""
        new = self.compute(state, None)
        old = state.values[self.index]
        different = new != old
        self._moved_elements = int(np.count_nonzero(different))
        if self.emit_delta:
            state.deltas[self.index] = np.subtract(new, old,
                                                   dtype="float32")
            state.last_where[self.index] = _WHOLE
        state.values[self.index] = new
        state.changed[self.index] = np.any(different, axis=-1)


class _ChainOp(_PointwiseOp):
    """Pointwise chain; counts the nonzero elements of its output delta
    (`delta_elements` of `total_elements`) when it ends in a quantizer."""

    def __init__(self, step, index):
        super().__init__(step, index)
        self.quantizer = step.params["fns"][-1][0] == "quantize"
        self.delta_elements = 0
        self.total_elements = 0

    def update(self, state):
        super().update(state)
        if self.quantizer:
            self.total_elements += state.values[self.index].size
            self.delta_elements += self._moved_elements

    def compute(self, state, where):
        x = state.values[self.inputs[0]]
        return _pointwise(self.step.params["fns"],
                          x if where is None else x[where], where)


class _AddOp(_PointwiseOp):
    def compute(self, state, where):
        total = None
        for i in self.inputs:
            x = state.values[i] if where is None else state.values[i][where]
            total = x if total is None else total + x
        return total

    def input_changed(self, state):
        mask = state.changed[self.inputs[0]]
        for i in self.inputs[1:]:
            mask = mask | state.changed[i]
        return mask


class _MaxPoolOp(_PointwiseOp):
    def __init__(self, step, index):
        super().__init__(step, index)
        p = step.params
        self.pool, self.strides = p["pool_size"], p["strides"]
        self.padding = p["padding"]

    def _geometry(self, h, w):
        ho, pt, pb = pads(h, self.pool[0], self.strides[0], 1, self.padding)
        wo, pl, pr = pads(w, self.pool[1], self.strides[1], 1, self.padding)
        return ho, wo, ((pt, pb), (pl, pr))

    def compute(self, state, where):
        x = state.values[self.inputs[0]]
        _, h, w, _ = x.shape
        ho, wo, pad = self._geometry(h, w)
        xp = np.pad(x, ((0, 0),) + pad + ((0, 0),),
                    constant_values=-np.inf) if pad != ((0, 0), (0, 0)) else x
        (kh, kw), (sh, sw) = self.pool, self.strides
        if where is None:
            out = None
            for i in range(kh):
                for j in range(kw):
                    v = xp[:, i:i + (ho - 1) * sh + 1:sh,
                           j:j + (wo - 1) * sw + 1:sw]
                    out = v.copy() if out is None else np.maximum(out, v)
            return out
        b, oi, oj = where
        out = None
        for i in range(kh):
            for j in range(kw):
                v = xp[b, oi * sh + i, oj * sw + j]
                out = v if out is None else np.maximum(out, v)
        return out

    def input_changed(self, state):
        mask = state.changed[self.inputs[0]]
        _, h, w = mask.shape
        ho, wo, pad = self._geometry(h, w)
        return dilate_mask(mask, self.pool, self.strides, (1, 1), pad,
                           (ho, wo))


class _LinearOp(_Op):
    needs_delta = True

    def __init__(self, step, index, dense_above):
        super().__init__(step, index)
        p = step.params
        kind = p["kernel_kind"]
        if kind == "dense":
            self.kernel = _kernels.DenseKernel(p["kernel"], p["bias"],
                                               dense_above=dense_above)
        else:
            cls = (_kernels.Conv2DKernel if kind == "conv"
                   else _kernels.DepthwiseConv2DKernel)
            self.kernel = cls(p["kernel"], p["bias"], strides=p["strides"],
                              padding=p["padding"], dilation=p["dilation"],
                              dense_above=dense_above)
        self.kind = kind
        self.executed_macs = 0
        self.total_macs = 0

    def _count(self, executed):
        self.executed_macs += executed
        self.total_macs += self.kernel.dense_macs

    def key(self, state):
        x = state.values[self.inputs[0]]
        value = np.asarray(self.kernel.dense(x), dtype="float32")
        state.values[self.index] = value
        self._count(self.kernel.dense_macs)
        if self.emit_delta:
            state.deltas[self.index] = np.zeros_like(value)

    def load(self, state, value):
        super().load(state, value)
        kernel = self.kernel
        if self.kind == "dense":
            macs = value.shape[0] * kernel.kernel.size
        else:
            macs = int(np.prod(value.shape[:-1])) * kernel.macs_per_pixel
        kernel.dense_macs = kernel.last_macs = macs
        self._count(macs)

    def update(self, state):
        value = state.values[self.index]
        delta = state.deltas[self.inputs[0]]
        changed = state.changed[self.inputs[0]]
        old = value.copy() if self.emit_delta else None
        if self.kind == "dense":
            out = self.kernel.update(value, delta, delta != 0)
        else:
            out = self.kernel.update(value, delta, changed)
        self._count(self.kernel.last_macs)
        state.changed[self.index] = out
        if self.emit_delta:
            state.deltas[self.index] = value - old


class _PadOp(_Op):
    needs_delta = True

    def _pad(self, x, value=0):
        amounts = self.step.params["pads"]
        return np.pad(x, ((0, 0),) + amounts + ((0, 0),) * (x.ndim - 3),
                      constant_values=value)

    def key(self, state):
        state.values[self.index] = self._pad(state.values[self.inputs[0]])
        state.deltas[self.index] = np.zeros_like(state.values[self.index])

    def load(self, state, value):
        state.values[self.index] = value
        state.deltas[self.index] = np.zeros_like(value)

    def update(self, state):
        i = self.inputs[0]
        state.changed[self.index] = self._pad(state.changed[i], False)
        state.deltas[self.index] = self._pad(state.deltas[i])
        state.values[self.index] += state.deltas[self.index]


class _GlobalPoolOp(_Op):
    """Global average pooling as a running (float64) sum of the deltas."""

    needs_delta = True

    def _mean(self, state):
        x = state.values[self.inputs[0]]
        size = x.shape[1] * x.shape[2]
        mean = (state.sums[self.index] / size).astype("float32")
        return mean.reshape((x.shape[0],) + self.step.shape)

    def key(self, state):
        x = state.values[self.inputs[0]]
        state.sums[self.index] = x.sum(axis=(1, 2), dtype="float64")
        state.values[self.index] = self._mean(state)
        state.deltas[self.index] = np.zeros_like(state.values[self.index])

    def load(self, state, value):
        state.sums[self.index], _ = value
        state.values[self.index] = self._mean(state)
        state.deltas[self.index] = np.zeros_like(state.values[self.index])

    def update(self, state):
        i = self.inputs[0]
        if state.changed[i].any():
            state.sums[self.index] += state.deltas[i].sum(axis=(1, 2),
                                                          dtype="float64")
        new = self._mean(state)
        delta = new - state.values[self.index]
        state.values[self.index] = new
        state.deltas[self.index] = delta
        state.changed[self.index] = np.any(delta != 0, axis=-1)


class _ReshapeOp(_Op):
    """Keeps views of its input (every pixel keeps its channels)."""

    needs_delta = True

    def _shape(self, batch, channels=True):
        shape = self.step.shape if channels else self.step.shape[:-1]
        return (batch,) + tuple(shape)

    def key(self, state):
        x = state.values[self.inputs[0]]
        state.values[self.index] = x.reshape(self._shape(x.shape[0]))
        delta = state.deltas[self.inputs[0]]
        state.deltas[self.index] = None if delta is None else delta.reshape(
            self._shape(x.shape[0]))

    def load(self, state, value):
        self.key(state)  # views of its input, like `key`

    def update(self, state):
        i = self.inputs[0]
        batch = state.values[i].shape[0]
        self.key(state)
        state.changed[self.index] = state.changed[i].reshape(
            self._shape(batch, channels=False))


_OPS = {"input": _InputOp, "pointwise": _ChainOp, "add": _AddOp,
        "maxpool": _MaxPoolOp, "pad": _PadOp, "gap": _GlobalPoolOp,
        "reshape": _ReshapeOp}


class StreamingState:
    """Per-stream caches of a `StreamingDeltaModel` (one entry per program
    step): `values` (outputs of the last frame), `deltas`, `changed`
    masks, running sums; `frames` counts the frames seen."""

    def __init__(self, batch_size, size):
        self.batch_size = batch_size
        self.frames = 0
        self.values = [None] * size
        self.deltas = [None] * size
        self.changed = [None] * size
        self.last_where = [None] * size
        self.sums = [None] * size
        self.frame = None
        # Fraction of dense MACs of the last incremental frame, and the
        # number of dense frames since then (the fallback policy).
        self.last_fraction = None
        self.dense_run = 0
        self.stale = False  # caches behind the last (fused dense) frame
        # Wall-clock seconds of the last incremental and dense frames.
        self.update_seconds = None
        self.dense_seconds = None


def _check_fraction(name, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            0 <= value <= 1):
        raise ValueError(
            f"`{name}` must be None or a number in [0, 1]. "
            f"Received: {name}={value!r}"
        )
    return float(value)


def _check_refresh(refresh):
    if refresh is None:
        return None
    if isinstance(refresh, bool) or not isinstance(refresh, int) or (
            refresh < 1):
        raise ValueError(
            "`refresh` must be None (never) or an int >= 1 (a dense key "
            f"frame every `refresh` frames). Received: refresh={refresh!r}"
        )
    return refresh


class StreamingDeltaModel:
    """Runs a delta video model frame by frame, computing only changes.

    Built from a functional video model whose sparsity slots are
    `DeltaActivation` layers (`VideoClassifier.from_preset("mobilenet_delta",
    ...)`, `"resnet50_delta"`, or any model of the supported layers; see
    `deltasparse.inference.streaming.graph`). Every layer keeps its
    per-stream output of the previous frame. Linear layers (BatchNorm
    folded into the preceding convolution) add the image of their input's
    change to that cache, using gathered changed pixels below a density
    threshold and a dense computation above it; nonlinearities and the
    quantizer are re-evaluated only where their input changed, so the
    change they pass on is exactly zero wherever a quantized level stayed
    the same. After a first dense frame, a clip of identical frames costs
    (almost) nothing.

    The model's output is the mean over time of per-frame probabilities
    (`VideoClassifier`'s temporal consensus): `step` returns the per-frame
    probabilities and `predict` their mean over the clip, which is what
    `model.predict(clips)` returns (up to float32 rounding: the engine
    folds BatchNorm and sums in a different order, and a value within
    rounding of a quantizer level boundary may land on the other level).

    Computation: incremental updates in NumPy (OpenBLAS), which has
    microseconds of overhead per op where a TensorFlow call costs about a
    millisecond at these sizes (see issue 9's probe); dense frames in
    TensorFlow (`dense_frames="tensorflow"`, one compiled function per
    batch size): key frames return every layer's output (the caches), and
    when the last incremental frame executed more than `dense_frame_above`
    of the dense MACs the following frames are fused dense TensorFlow
    frames (about the cost of the Keras model on one frame) until an
    incremental frame is probed again, `probe_every` frames later, after a
    key frame that re-synchronises the caches. So the engine is never much
    slower than dense per-frame inference. On a small shared CPU run with
    `OPENBLAS_NUM_THREADS=1`: two spinning OpenBLAS threads made the
    matmuls about 10x slower on the 2-core test machine. All streams of a
    state advance together (one frame each per `step`); their key frames
    coincide.

    Granularity is the pixel: a pixel whose quantized output changed in
    any channel is recomputed downstream in all channels, and a k x k
    convolution dilates the changed region by its receptive field. Deep,
    low-resolution layers therefore become dense when changes are
    scattered (see `benchmarks/bench_streaming_delta.py`).

    Args:
        model: a functional `keras.Model` on clips `(B, T, H, W, C)`, in
            inference mode (BatchNorm moving statistics, no Dropout).
        refresh: None (never) or int >= 1: a dense key frame every
            `refresh` frames per stream (the first frame is always one).
            Defaults to 64: the accumulated outputs then drift by at most a
            few float32 ulps (checked in the tests), while a key frame adds
            only 1/64 of a dense frame's cost per frame.
        thresholds: None (the kernels' defaults), a float (every layer), or
            dict layer name -> float: the changed-pixel fraction above which
            a linear layer computes its update densely.
        dense_frames: `"tensorflow"` (default) or `"numpy"`: what computes
            key frames and dense fallback frames. NumPy dense frames keep
            the caches current (no re-synchronising key frame) but cost
            about twice a TensorFlow frame.
        dense_frame_above: None (never fall back) or a fraction in [0, 1]:
            after an incremental frame that executed more than this
            fraction of the dense MACs, the next frame is dense. From then
            on the measured wall-clock times decide: dense frames follow
            while the last incremental frame took longer than the last
            dense frame. Defaults to 0.5 (the measured break-even at
            224x224, see `DEFAULT_DENSE_FRAME_ABOVE`).
        probe_every: int >= 1: while falling back, an incremental frame
            is tried every `probe_every` frames. Defaults to 16.

    Raises:
        ValueError: for an unsupported layer (naming it and its class), or
            invalid `refresh`, `thresholds`, `dense_frames`,
            `dense_frame_above` or `probe_every`.

    Example:
    >>> from deltasparse.models.video_classifier import VideoClassifier
    >>> model = VideoClassifier.from_preset(
    ...     "mobilenet_delta", num_classes=3, image_size=(32, 32),
    ...     alpha=0.25)
    >>> engine = StreamingDeltaModel(model)
    >>> clips = np.zeros((2, 3, 32, 32, 3), "float32")
    >>> engine.predict(clips).shape
    (2, 3)
    >>> state = engine.initial_state(2)
    >>> probabilities, state = engine.step(clips[:, 0], state)
    >>> probabilities.shape
    (2, 3)
    """

    def __init__(self, model, refresh=DEFAULT_REFRESH, thresholds=None,
                 dense_frames="tensorflow",
                 dense_frame_above=DEFAULT_DENSE_FRAME_ABOVE,
                 probe_every=DEFAULT_PROBE_EVERY):
        self.refresh = _check_refresh(refresh)
        if dense_frames not in DENSE_FRAMES:
            raise ValueError(
                f"`dense_frames` must be one of {DENSE_FRAMES}. "
                f"Received: dense_frames={dense_frames!r}"
            )
        if dense_frames == "tensorflow" and not _dense_frames.available():
            dense_frames = "numpy"  # pragma: no cover
        self.dense_frame_above = _check_fraction("dense_frame_above",
                                                 dense_frame_above)
        if isinstance(probe_every, bool) or not isinstance(
                probe_every, int) or probe_every < 1:
            raise ValueError(
                "`probe_every` must be an int >= 1 (an incremental frame at "
                "least every `probe_every` frames while dense frames are "
                f"chosen). Received: probe_every={probe_every!r}"
            )
        self.probe_every = probe_every
        self.dense_frames = dense_frames
        self.program = build_program(model)
        self._tensorflow_frames = (
            _dense_frames.DenseFramePrograms(self.program)
            if dense_frames == "tensorflow" else None)
        self.frame_counts = {"key": 0, "dense": 0, "update": 0}
        self._clock = time.perf_counter  # timing of the frame kinds
        # Set to a dict (e.g. `collections.defaultdict(float)`) to add up the
        # seconds of incremental updates per op kind ("conv 1x1",
        # "depthwise 3x3", "pointwise", ...): where the time goes.
        self.timings = None
        names = {s.name for s in self.program.steps if s.kind == "linear"}
        if isinstance(thresholds, dict):
            unknown = sorted(set(thresholds) - names)
            if unknown:
                raise ValueError(
                    "`thresholds` names layers that are not linear layers of "
                    f"the model; expected some of {sorted(names)}. "
                    f"Received: thresholds keys {unknown}"
                )
        elif thresholds is not None and not isinstance(
                thresholds, (int, float)):
            raise ValueError(
                "`thresholds` must be None, a number or a dict layer name -> "
                f"number. Received: thresholds={thresholds!r}"
            )
        self.ops = []
        for index, step in enumerate(self.program.steps):
            if step.kind == "linear":
                above = (thresholds.get(step.name) if isinstance(
                    thresholds, dict) else thresholds)
                op = _LinearOp(step, index, above)
            else:
                op = _OPS[step.kind](step, index)
            self.ops.append(op)
        for op in self.ops:
            if op.needs_delta:
                for i in op.inputs:
                    self.ops[i].emit_delta = True
        self._linear_ops = [op for op in self.ops
                            if isinstance(op, _LinearOp)]
        self.frame_shape = self.program.steps[0].shape
        self.consensus = self.program.consensus

    @property
    def linear_ops(self):
        return self._linear_ops

    def initial_state(self, batch_size):
        """A fresh `StreamingState` for `batch_size` streams (the next
        frame is a dense key frame)."""
        if isinstance(batch_size, bool) or not isinstance(
                batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(
                "`batch_size` must be an int >= 1. "
                f"Received: batch_size={batch_size!r}"
            )
        return StreamingState(int(batch_size), len(self.ops))

    def step(self, frames, state):
        """Runs one frame per stream.

        Args:
            frames: `(batch_size, height, width, channels)` float32, one
                frame of every stream, preprocessed like the model's input.
            state: the `StreamingState` of the previous call (or of
                `initial_state`).

        Returns:
            `(outputs, state)`: the per-frame output of the model's frame
            part, e.g. `(batch_size, num_classes)` class probabilities, and
            the updated state (the same object, updated in place).
        """
        frames = np.asarray(frames, dtype="float32")
        expected = (state.batch_size,) + tuple(self.frame_shape)
        if frames.shape != expected:
            raise ValueError(
                f"`frames` must have shape {expected} (batch_size, height, "
                "width, channels). Received: frames.shape="
                f"{frames.shape}"
            )
        state.frame = frames
        kind = self._frame_kind(state)
        self.frame_counts[kind] += 1
        output = None
        start = self._clock()
        if kind == "update":
            self._update(state)
        elif kind == "dense" and self._tensorflow_frames is not None:
            # One fused dense frame; the caches stay stale until the next
            # key frame.
            output = self._tensorflow_frames.output(frames)
            for op in self.linear_ops:
                op._count(op.kernel.dense_macs)
            state.stale = True
            state.dense_run += 1
        else:  # key frame, or a dense frame recomputing the NumPy caches
            if self._tensorflow_frames is not None:
                values = self._tensorflow_frames(frames)
                for op in self.ops:
                    op.load(state, values[op.index])
            else:
                for op in self.ops:
                    op.key(state)
            state.stale = False
            if kind == "key":
                state.last_fraction = None  # the next frame probes
                state.dense_run = 0
            else:
                state.dense_run += 1
        state.frames += 1
        state.frame = None
        if output is None:
            output = state.values[self.program.output].copy()
        seconds = self._clock() - start
        if kind == "update":
            state.update_seconds = seconds
        elif kind == "dense":
            state.dense_seconds = seconds
        return output, state

    def _update(self, state):
        linear = self.linear_ops
        executed = sum(op.executed_macs for op in linear)
        total = sum(op.total_macs for op in linear)
        if self.timings is None:
            for op in self.ops:
                op.update(state)
        else:
            for op in self.ops:
                start = time.perf_counter()
                op.update(state)
                self.timings[op.label] += time.perf_counter() - start
        executed = sum(op.executed_macs for op in linear) - executed
        total = sum(op.total_macs for op in linear) - total
        state.last_fraction = executed / total if total else 0.0
        state.dense_run = 0

    def _frame_kind(self, state):
        """`"key"` (first or refresh frame, or the re-synchronisation of
        stale caches), `"dense"` (the last incremental frame was slower
        than a dense frame, or, before both were timed, executed more than
        `dense_frame_above` of the dense MACs) or `"update"`."""
        if state.frames == 0 or (
                self.refresh is not None and state.frames % self.refresh == 0):
            return "key"
        timed = (state.update_seconds is not None
                 and state.dense_seconds is not None)
        if state.stale:
            if timed and state.update_seconds <= state.dense_seconds:
                return "key"  # updates were faster: re-synchronise now
            return "key" if state.dense_run >= self.probe_every - 2 else (
                "dense")
        if self.dense_frame_above is None or state.last_fraction is None:
            return "update"
        # Once both kinds of frame have been timed, the faster one wins;
        # before, the executed fraction of the dense MACs decides.
        slower = (state.update_seconds > state.dense_seconds if timed
                  else state.last_fraction > self.dense_frame_above)
        if slower and state.dense_run < self.probe_every - 1:
            return "dense"
        return "update"

    def predict(self, clips, batch_size=None):
        """What `model.predict(clips)` returns, computed frame by frame.

        Args:
            clips: `(B, T, H, W, C)` float32.
            batch_size: ignored (all clips run as parallel streams); kept
                for symmetry with `keras.Model.predict`.

        Returns:
            For a `VideoClassifier`, `(B, num_classes)`: the mean over time
            of the per-frame probabilities. A model returning per-frame
            outputs gets `(B, T, ...)` (or `(B*T, ...)` when folded).
        """
        clips = np.asarray(clips, dtype="float32")
        if clips.ndim != 5 or tuple(clips.shape[2:]) != tuple(
                self.frame_shape):
            raise ValueError(
                "`clips` must have shape (batch, time) + "
                f"{tuple(self.frame_shape)}. Received: clips.shape="
                f"{clips.shape}"
            )
        state = self.initial_state(clips.shape[0])
        outputs = [self.step(clips[:, t], state)[0]
                   for t in range(clips.shape[1])]
        if self.consensus == "mean":
            return np.mean(np.stack(outputs, axis=1), axis=1,
                           dtype="float32")
        stacked = np.stack(outputs, axis=1)
        if self.consensus == "folded":
            return stacked.reshape((-1,) + stacked.shape[2:])
        return stacked

    @property
    def stats(self):
        """Fraction of dense multiply-accumulates executed since the last
        `reset_stats` (key frames count as dense).

        Returns:
            dict with `"layers"` (linear layer name -> fraction), `"total"`
            (fraction over all linear layers), `"executed_macs"` and
            `"dense_macs"` (ints), `"delta_density"`: the fraction of
            nonzero temporal deltas at the quantizer outputs (the slots'
            delta density) over the incremental frames, and `"frames"`:
            how many frames were key frames, dense frames (the fallback)
            and incremental updates.
        """
        layers = {op.name: (op.executed_macs / op.total_macs
                            if op.total_macs else 0.0)
                  for op in self.linear_ops}
        executed = sum(op.executed_macs for op in self.linear_ops)
        dense = sum(op.total_macs for op in self.linear_ops)
        quantizers = [op for op in self.ops
                      if isinstance(op, _ChainOp) and op.quantizer]
        nonzero = sum(op.delta_elements for op in quantizers)
        elements = sum(op.total_elements for op in quantizers)
        return {"layers": layers, "total": executed / dense if dense else 0.0,
                "executed_macs": executed, "dense_macs": dense,
                "delta_density": nonzero / elements if elements else 0.0,
                "frames": dict(self.frame_counts)}

    def reset_stats(self):
        """Zeroes the counts behind `stats`."""
        for op in self.linear_ops:
            op.executed_macs = 0
            op.total_macs = 0
        self.frame_counts = {"key": 0, "dense": 0, "update": 0}
        for op in self.ops:
            if isinstance(op, _ChainOp):
                op.delta_elements = op.total_elements = 0
