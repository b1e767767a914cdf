"""Run by tests/models/test_sparsity_path_backends.py in a subprocess:
`python -m tests.models.sparsity_path_script [mirrored]`. Trains the tiny
delta model (lr 0) with SparsityLogger and prints JSON with the logged
figures, the accumulator totals and the independent NumPy counts."""

import json
import sys


def main(mirrored):
    if mirrored:
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras

    from deltasparse.models import SparsityLogger
    from tests.models.tiny_video_model import numpy_counts
    from tests.models.tiny_video_model import numpy_figures
    from tests.models.tiny_video_model import tiny_data
    from tests.models.tiny_video_model import tiny_video_model

    keras.utils.set_random_seed(0)
    x, y = tiny_data(batches=3, batch=4, seed=0)
    if mirrored:
        import tensorflow as tf

        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        scope = strategy.scope()
    else:
        import contextlib

        strategy = None
        scope = contextlib.nullcontext()
    with scope:
        model = tiny_video_model("delta")
        model.compile(optimizer=keras.optimizers.SGD(0.0),
                      loss="categorical_crossentropy")
    history = model.fit(x, y, batch_size=4, epochs=1, shuffle=False,
                        verbose=0, callbacks=[SparsityLogger()]).history
    l0, n, frames = numpy_counts(model, x, 4)
    totals = model.get_layer("sparsity_accumulator").read()
    print(json.dumps({
        "backend": keras.backend.backend(),
        "replicas": 1 if strategy is None else strategy.num_replicas_in_sync,
        "logged": {k: v[-1] for k, v in history.items()},
        "want": numpy_figures(l0, n, frames),
        "totals": {"l0": totals["l0"].tolist(), "n": totals["n"].tolist(),
                   "frames": totals["frames"]},
        "numpy": {"l0": l0.tolist(), "n": n.tolist(), "frames": frames},
    }))


if __name__ == "__main__":
    main("mirrored" in sys.argv[1:])
