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


class _FakeGPU:
    def __init__(self, index):
        self.name = f"/physical_device:GPU:{index}"
        self.device_type = "GPU"


@pytest.fixture
def fake_gpus(monkeypatch):
    """Two fake physical GPUs behind `tf.config`, recording every call."""
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("device selection is TensorFlow-specific")
    import tensorflow as tf

    gpus = [_FakeGPU(0), _FakeGPU(1)]
    state = {"visible": list(gpus), "growth": []}

    def list_physical(kind=None):
        return list(gpus) if kind == "GPU" else []

    def set_visible(devices, kind=None):
        state["visible"] = list(devices)

    def get_visible(kind=None):
        return list(state["visible"]) if kind == "GPU" else []

    def set_growth(device, enable):
        state["growth"].append((device.name, enable))

    monkeypatch.setattr(tf.config, "list_physical_devices", list_physical)
    monkeypatch.setattr(tf.config, "set_visible_devices", set_visible)
    monkeypatch.setattr(tf.config, "get_visible_devices", get_visible)
    monkeypatch.setattr(tf.config.experimental, "set_memory_growth",
                        set_growth)
    return state


def test_configure_devices_selects_the_named_gpu(fake_gpus):
    names = runtime.configure_devices(gpus="1", memory_growth=True)
    assert names == ["/physical_device:GPU:1"]
    assert fake_gpus["growth"] == [("/physical_device:GPU:1", True)]


def test_configure_devices_all_gpus_without_memory_growth(fake_gpus):
    names = runtime.configure_devices(gpus=None, memory_growth=False)
    assert names == ["/physical_device:GPU:0", "/physical_device:GPU:1"]
    assert fake_gpus["growth"] == []


def test_configure_devices_cpu_only_hides_every_gpu(fake_gpus):
    assert runtime.configure_devices(gpus="", memory_growth=True) == []
    assert fake_gpus["visible"] == []


def test_configure_devices_rejects_missing_gpu(fake_gpus):
    with pytest.raises(ValueError, match=r"only 2 are present.*gpus=5"):
        runtime.configure_devices(gpus=5)


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
