import numpy as np
import pytest

from deltasparse.experiment import runtime


@pytest.mark.parametrize(
    "gpus, expected",
    [(None, None), ("all", None), ("", []), ("cpu", []), (1, [1]),
     ("0,1", [0, 1]), ([2], [2])],
)
def test_parse_gpus(gpus, expected):
    assert runtime._parse_gpus(gpus) == expected


@pytest.mark.parametrize("gpus", ["a,b", True, [object()]])
def test_parse_gpus_rejects_garbage(gpus):
    with pytest.raises(ValueError, match="`gpus`"):
        runtime._parse_gpus(gpus)


def test_configure_devices_cpu_only():
    assert runtime.configure_devices(gpus="", memory_growth=True) == []


def test_configure_devices_rejects_missing_gpu():
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("device selection is TensorFlow-specific")
    import tensorflow as tf

    n = len(tf.config.list_physical_devices("GPU"))
    if n == 0:
        # No GPU: asking for GPU 3 selects nothing rather than failing.
        assert runtime.configure_devices(gpus=3) == []
    else:
        with pytest.raises(ValueError, match="only"):
            runtime.configure_devices(gpus=n + 5)


def test_set_global_seed_repeats_numpy_and_keras():
    import keras

    runtime.set_global_seed(123)
    a = np.random.rand(3), keras.random.uniform((3,))
    runtime.set_global_seed(123)
    b = np.random.rand(3), keras.random.uniform((3,))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(np.asarray(a[1]), np.asarray(b[1]))
    with pytest.raises(ValueError, match="`seed`"):
        runtime.set_global_seed("x")
