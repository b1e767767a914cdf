"""The knowledge-distillation loss (Hinton et al., 2015), `keras.ops` only.

`distillation_loss` is what Intel Distiller's `KnowledgeDistillationPolicy`
computes for the compressed-3d-cnn seed (spec `video_systems.md` §A2.3):

    distill_weight * T**2 * KL(softmax(z_t / T) || softmax(z_s / T))
        + student_weight * CE(labels, softmax(z_s))

with the KL divergence summed over the classes and every term averaged over
the batch (Distiller: `kl_div(..., size_average=False) / batch_size`), the
teacher's logits `z_t` held constant (no gradient reaches the teacher) and
the `T**2` factor keeping the soft-target gradients on the scale of the
hard-label ones when `T` changes. Distiller's third weight, `teacher_wt`
(a cross-entropy of the teacher's own predictions), is 0 in every seed
configuration and the teacher is frozen, so it is left out.

Everything is computed from log-softmax values (`log_softmax`), in
float32 whatever the inputs' dtype (mixed precision), so large logits or
small temperatures neither overflow nor give `0 * log(0)`.
"""

import numbers

from keras import ops

PROBABILITY_EPSILON = 1e-7
"""Probabilities are clipped to `[1e-7, 1]` before their log is taken
(`from_logits=False`), as Keras' own cross-entropies do."""


def _check_number(name, value, minimum, strict):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or (
            value <= minimum if strict else value < minimum):
        bound = "> 0" if strict else ">= 0"
        raise ValueError(
            f"`{name}` must be a number {bound}. Received: {name}={value!r}")


def log_probabilities(outputs, from_logits=True):
    """Log-softmax of logits, or the log of (clipped) probabilities.

    A softmax output `p = softmax(z)` gives `log(p) = z - logsumexp(z)`:
    the logits up to a constant per example, which no softmax (at any
    temperature) sees. So a model ending in a softmax can be distilled
    without its pre-activation, up to the clipping of probabilities under
    `PROBABILITY_EPSILON`.

    Args:
        outputs: float tensor `(batch, num_classes)`, logits or
            probabilities.
        from_logits: bool, whether `outputs` are logits. Defaults to `True`.

    Returns:
        float32 tensor of the same shape: log-probabilities
        (`from_logits=True`) or logits up to a constant per row.

    Example:
    >>> import numpy as np
    >>> out = log_probabilities(np.array([[0.0, 0.0]], "float32"))
    >>> np.round(np.exp(np.asarray(out)), 3).tolist()
    [[0.5, 0.5]]
    """
    outputs = ops.cast(outputs, "float32")
    if from_logits:
        return ops.log_softmax(outputs, axis=-1)
    return ops.log(ops.clip(outputs, PROBABILITY_EPSILON, 1.0))


def soft_target_divergence(student_logits, teacher_logits, temperature):
    """`KL(softmax(z_t / T) || softmax(z_s / T))` per example.

    Args:
        student_logits: float tensor `(batch, num_classes)`.
        teacher_logits: float tensor `(batch, num_classes)`; no gradient
            flows into it (`stop_gradient`).
        temperature: float > 0, `T`.

    Returns:
        float32 tensor `(batch,)`, the divergence summed over the classes
        (not scaled by `T**2`).

    Raises:
        ValueError: `temperature` is not > 0.

    Example:
    >>> import numpy as np
    >>> z = np.array([[1.0, 2.0, 3.0]], "float32")
    >>> float(np.asarray(soft_target_divergence(z, z, 2.0))[0])
    0.0
    """
    _check_number("temperature", temperature, 0, strict=True)
    student = ops.cast(student_logits, "float32") / temperature
    teacher = ops.stop_gradient(ops.cast(teacher_logits, "float32"))
    teacher = teacher / temperature
    log_student = ops.log_softmax(student, axis=-1)
    log_teacher = ops.log_softmax(teacher, axis=-1)
    return ops.sum(ops.exp(log_teacher) * (log_teacher - log_student),
                   axis=-1)


def distillation_loss(labels, student_logits, teacher_logits, temperature=5.0,
                      distill_weight=0.7, student_weight=0.3):
    """The knowledge-distillation loss, averaged over the batch.

    `distill_weight * T**2 * KL(softmax(z_t/T) || softmax(z_s/T)) +
    student_weight * CE(labels, softmax(z_s))`, the KL summed over classes,
    both terms averaged over the batch; see the module docstring for the
    relation to Distiller.

    Args:
        labels: int tensor `(batch,)` (or `(batch, 1)`), sparse class ids.
        student_logits: float tensor `(batch, num_classes)`, `z_s` (the
            gradient flows to it).
        teacher_logits: float tensor `(batch, num_classes)`, `z_t`
            (constant: `stop_gradient`).
        temperature: float > 0, `T`. Defaults to `5.0` (the seed's grid
            search; its `--kd_temp` default is 0.3).
        distill_weight: float >= 0, the weight of the soft-target term.
            Defaults to `0.7`.
        student_weight: float >= 0, the weight of the hard-label
            cross-entropy. Defaults to `0.3`.

    Returns:
        float32 scalar tensor.

    Raises:
        ValueError: a temperature or weight out of range.

    Example:
    >>> import numpy as np
    >>> z = np.array([[2.0, 0.0]], "float32")
    >>> loss = distillation_loss(np.array([0]), z, z, 5.0, 0.7, 0.3)
    >>> round(float(np.asarray(loss)), 4)  # 0.3 * -log(softmax(z)[0])
    0.0381
    """
    _check_number("distill_weight", distill_weight, 0, strict=False)
    _check_number("student_weight", student_weight, 0, strict=False)
    divergence = soft_target_divergence(student_logits, teacher_logits,
                                        temperature)
    log_student = ops.log_softmax(ops.cast(student_logits, "float32"),
                                  axis=-1)
    labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
    num_classes = ops.shape(log_student)[-1]
    hard = -ops.sum(ops.one_hot(labels, num_classes) * log_student, axis=-1)
    return (distill_weight * temperature ** 2 * ops.mean(divergence)
            + student_weight * ops.mean(hard))


__all__ = [
    "PROBABILITY_EPSILON",
    "distillation_loss",
    "log_probabilities",
    "soft_target_divergence",
]
