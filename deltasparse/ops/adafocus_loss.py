"""AdaFocusV2's training loss (Wang et al., CVPR 2022), `keras.ops` only.

The original (`main_v2.py`, `train`) repeats each clip's label over its T
frames and sums three cross-entropies, each averaged over the B*T frames:

    loss(branch) = CE(step_logits) + CE(glance_logits) + CE(local_logits)

where `step_logits` are the fused logits of every step (head t on the
running max of the frames 0..t). In training it evaluates the local network
twice, at the policy's patch positions and at uniformly random ones, and
averages the two:

    loss = (loss(learned) + loss(random)) / 2

The glance logits do not depend on the patch, so both branches use the same
ones (the original reuses one tensor). Labels are one-hot, or int class
indices; a multi-hot row is normalised to sum 1 (the original trains on the
first label of such rows only: the same for single-label data).
"""

from keras import ops

OUTPUT_KEYS = ("step_logits", "glance_logits", "local_logits")
"""The entries of an outputs dict that the loss reads, each `(B, T, K)`."""


def _check_outputs(name, outputs):
    if not isinstance(outputs, dict) or any(k not in outputs
                                            for k in OUTPUT_KEYS):
        keys = sorted(outputs) if isinstance(outputs, dict) else outputs
        raise ValueError(
            f"`{name}` must be a dict with the keys {list(OUTPUT_KEYS)}, "
            f"each (batch, time, classes). Received: {name}={keys!r}")
    for key in OUTPUT_KEYS:
        shape = tuple(outputs[key].shape)
        if len(shape) != 3:
            raise ValueError(
                f"`{name}[{key!r}]` must be (batch, time, classes). "
                f"Received: {name}[{key!r}].shape={shape}")


def label_distribution(labels, num_classes):
    """One row of class probabilities per clip.

    Args:
        labels: `(B,)` int class indices, or `(B, K)` one-hot / multi-hot
            (or soft) targets.
        num_classes: int K.

    Returns:
        float32 `(B, K)`, each row summing to 1 (all-zero rows stay zero).

    Raises:
        ValueError: for labels of another rank or class count.

    Example:
    >>> keras.ops.convert_to_numpy(label_distribution(
    ...     np.array([[1, 0, 1]]), 3)).tolist()
    [[0.5, 0.0, 0.5]]
    """
    shape = tuple(labels.shape)
    if len(shape) == 1:
        return ops.one_hot(ops.cast(labels, "int32"), num_classes)
    if len(shape) != 2 or (shape[1] is not None and shape[1] != num_classes):
        raise ValueError(
            f"`labels` must be (batch,) class indices or (batch, {num_classes})"
            f" one-hot rows. Received: labels.shape={shape}")
    labels = ops.cast(labels, "float32")
    total = ops.sum(labels, axis=-1, keepdims=True)
    return labels / ops.maximum(total, 1e-12)


def frame_cross_entropy(labels, logits):
    """Cross-entropy of every frame's logits with its clip's label.

    Args:
        labels: `(B, K)` class distribution (see `label_distribution`).
        logits: `(B, T, K)` raw logits.

    Returns:
        float32 `(B,)`: the mean over the T frames of each clip.

    Example:
    >>> keras.ops.convert_to_numpy(frame_cross_entropy(
    ...     np.array([[1.0, 0.0]]), np.zeros((1, 3, 2)))).round(4)  # log 2
    array([0.6931], dtype=float32)
    """
    log_p = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
    labels = ops.expand_dims(ops.cast(labels, "float32"), 1)
    per_frame = -ops.sum(labels * log_p, axis=-1)
    return ops.mean(per_frame, axis=1)


def _branch_loss(labels, outputs):
    return sum(frame_cross_entropy(labels, outputs[key])
               for key in OUTPUT_KEYS)


def adafocus_loss(labels, outputs_learned, outputs_random=None,
                  sample_weight=None):
    """AdaFocusV2's loss: three per-frame cross-entropies, two branches.

    Args:
        labels: `(B,)` int class indices or `(B, K)` one-hot rows.
        outputs_learned: dict with `"step_logits"`, `"glance_logits"` and
            `"local_logits"`, each `(B, T, K)`, at the policy's positions.
        outputs_random: the same dict at uniformly random positions, or
            `None` (then the loss is the learned branch's alone, as at
            evaluation).
        sample_weight: optional `(B,)` weights; the loss is their weighted
            mean over the clips. Defaults to `None` (plain mean).

    Returns:
        float32 scalar tensor.

    Raises:
        ValueError: for outputs without the three keys or of the wrong rank.

    Example:
    >>> zeros = {k: np.zeros((2, 4, 3), "float32") for k in
    ...          ("step_logits", "glance_logits", "local_logits")}
    >>> round(float(adafocus_loss(np.array([0, 2]), zeros, zeros)), 4)
    3.2958
    """
    _check_outputs("outputs_learned", outputs_learned)
    num_classes = outputs_learned["step_logits"].shape[-1]
    labels = label_distribution(labels, num_classes)
    per_clip = _branch_loss(labels, outputs_learned)
    if outputs_random is not None:
        _check_outputs("outputs_random", outputs_random)
        per_clip = 0.5 * (per_clip + _branch_loss(labels, outputs_random))
    if sample_weight is None:
        return ops.mean(per_clip)
    weights = ops.reshape(ops.cast(sample_weight, "float32"), (-1,))
    return ops.sum(per_clip * weights) / ops.maximum(ops.sum(weights), 1e-12)


__all__ = ["OUTPUT_KEYS", "adafocus_loss", "frame_cross_entropy",
           "label_distribution"]
