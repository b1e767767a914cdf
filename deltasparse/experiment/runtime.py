"""Runtime set-up shared by every experiment: devices, memory growth, seeds.

The original scripts hard-coded `CUDA_VISIBLE_DEVICES` and turned on memory
growth for GPU 0 only. Here both are configuration: `configure_devices` is
called once at the start of a run, before TensorFlow touches a GPU.
"""

import logging
import os
import random

import numpy as np

logger = logging.getLogger(__name__)


def _parse_gpus(gpus):
    """Normalises a GPU selection to a list of ints, or `None` for "all"."""
    if gpus is None or gpus == "all":
        return None
    if isinstance(gpus, bool):
        raise ValueError(
            "`gpus` must be None/'all', an int, a comma-separated string or "
            f"a list of ints. Received: gpus={gpus!r}"
        )
    if isinstance(gpus, int):
        return [gpus]
    if isinstance(gpus, str):
        text = gpus.strip()
        if text in ("", "none", "cpu"):
            return []
        try:
            return [int(p) for p in text.split(",") if p.strip()]
        except ValueError:
            raise ValueError(
                "`gpus` must look like '0' or '0,1' (or '' / 'cpu' for none). "
                f"Received: gpus={gpus!r}"
            ) from None
    try:
        return [int(g) for g in gpus]
    except (TypeError, ValueError):
        raise ValueError(
            "`gpus` must be None/'all', an int, a comma-separated string or "
            f"a list of ints. Received: gpus={gpus!r}"
        ) from None


def configure_devices(gpus=None, memory_growth=True):
    """Selects visible GPUs and enables memory growth on them.

    Call it before any TensorFlow op runs. With the TensorFlow backend the
    selection goes through `tf.config.set_visible_devices`; if TensorFlow has
    already initialised its devices, the selection is skipped with a warning
    (the run then uses whatever is visible).

    Args:
        gpus: `None` or `"all"` (every GPU), an int, a list of ints, a
            string like `"0,1"`, or `""` / `"cpu"` / `[]` for CPU only.
            Defaults to `None`.
        memory_growth: bool. Allocate GPU memory on demand instead of
            grabbing all of it up front. Defaults to `True`.

    Returns:
        List of the names of the visible GPUs (empty on CPU-only machines).

    Example:
    >>> configure_devices(gpus="", memory_growth=True)
    []
    """
    selection = _parse_gpus(gpus)
    import keras

    if keras.backend.backend() != "tensorflow":
        if selection is not None:
            os.environ.setdefault(
                "CUDA_VISIBLE_DEVICES", ",".join(str(g) for g in selection)
            )
        return []

    import tensorflow as tf

    physical = tf.config.list_physical_devices("GPU")
    if selection is not None:
        bad = [g for g in selection if g < 0 or g >= len(physical)]
        if bad and physical:
            raise ValueError(
                f"`gpus` names GPUs {bad} but only {len(physical)} are "
                f"present. Received: gpus={gpus!r}"
            )
        chosen = [physical[g] for g in selection if g < len(physical)]
        try:
            tf.config.set_visible_devices(chosen, "GPU")
        except RuntimeError as err:
            logger.warning("GPU selection skipped (%s)", err)
    visible = tf.config.get_visible_devices("GPU")
    if memory_growth:
        for device in visible:
            try:
                tf.config.experimental.set_memory_growth(device, True)
            except RuntimeError as err:
                logger.warning("memory growth not set on %s (%s)", device, err)
    names = [d.name for d in visible]
    logger.info("visible GPUs: %s", names or "none (CPU)")
    return names


def set_global_seed(seed):
    """Seeds Python, NumPy and the Keras backend.

    Sacred seeds TensorFlow only through `tf.compat.v1.set_random_seed` and
    only if TensorFlow is already imported, so experiments call this.

    Args:
        seed: int seed.

    Returns:
        The seed.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ValueError(f"`seed` must be an int. Received: seed={seed!r}")
    import keras

    random.seed(int(seed))
    np.random.seed(int(seed) % (2**32))
    keras.utils.set_random_seed(int(seed) % (2**32))
    return int(seed)
