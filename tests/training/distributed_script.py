"""Subprocess body of the distribution tests (devices must be set first).

    python -m tests.training.distributed_script mirrored OUT_JSON DIR
    TF_CONFIG=... python -m tests.training.distributed_script multi_worker \
        OUT_JSON DIR
"""

import json
import os
import sys


def _losses(strategy, directory, epochs=2):
    from deltasparse.training import Trainer
    from tests.training import helpers

    with strategy.scope():
        model = helpers.tiny_model(regularized=True, dropout=False,
                                   batch_norm=False)
    trainer = Trainer(directory, seed=5, monitor="loss", mode="min",
                      verbose=0, strategy=strategy)
    result = trainer.fit(model, helpers.train_data(augment=False), epochs)
    model(helpers.arrays()[0][:8])
    regularization = sum(float(v) for v in model.losses)
    return {"loss": result.history["loss"],
            "replicas": strategy.num_replicas_in_sync,
            "clips_per_second": result.history["clips_per_second"],
            "regularization": regularization}


def mirrored(out, directory):
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from deltasparse.training import distribution_strategy

    one = _losses(distribution_strategy(None), os.path.join(directory, "one"))
    two = _losses(distribution_strategy("mirrored"),
                  os.path.join(directory, "two"))
    with open(out, "w") as handle:
        json.dump({"one": one, "two": two}, handle)


def multi_worker(out, directory):
    from deltasparse.training import distribution_strategy
    from deltasparse.training import is_chief

    strategy = distribution_strategy("multi_worker")
    result = _losses(strategy, directory)
    result["chief"] = is_chief(strategy)
    with open(out, "w") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    mode, out, directory = sys.argv[1:4]
    {"mirrored": mirrored, "multi_worker": multi_worker}[mode](out, directory)
