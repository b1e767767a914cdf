"""Tiny models and data for the trainer tests (also run in subprocesses)."""

import numpy as np


def tiny_model(regularized=False, dropout=True, batch_norm=True, seed=0):
    """A small conv classifier (Dropout, BatchNorm) compiled with paper SGD."""
    import keras

    from deltasparse.training import make_optimizer

    keras.utils.set_random_seed(seed)
    layers = [keras.Input((6, 6, 2)),
              keras.layers.Conv2D(4, 3, name="conv")]
    if batch_norm:
        layers.append(keras.layers.BatchNormalization(name="bn"))
    layers += [keras.layers.ReLU(), keras.layers.Flatten()]
    if dropout:
        layers.append(keras.layers.Dropout(0.3, name="drop"))
    layers.append(keras.layers.Dense(
        8, activation="relu", name="hidden",
        activity_regularizer=keras.regularizers.L1(0.01) if regularized
        else None))
    layers.append(keras.layers.Dense(3, activation="softmax", name="head"))
    model = keras.Sequential(layers, name="tiny")
    model.compile(optimizer=make_optimizer(0.05, momentum=0.9, decay=0.01),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def arrays(n=24, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6, 6, 2)).astype("float32")
    labels = rng.integers(0, 3, size=n)
    y = np.eye(3, dtype="float32")[labels]
    return x, y


def train_data(seed=0, n=24, batch_size=8, augment=True):
    """A callable `epoch -> tf.data.Dataset`: order and noise from (seed, epoch)."""
    import tensorflow as tf

    x, y = arrays(n, seed)

    def make(epoch):
        # Order drawn in NumPy from (seed, epoch): a `tf.data` shuffle is
        # re-seeded when a strategy distributes the dataset.
        order = np.random.default_rng([seed, epoch]).permutation(n)
        ds = tf.data.Dataset.from_tensor_slices((x[order], y[order]))
        ds = ds.batch(batch_size)
        if augment:  # global-seeded noise: a function of the epoch seed
            ds = ds.map(lambda a, b: (a + tf.random.normal(tf.shape(a),
                                                           stddev=0.1), b))
        return ds

    return make


def validation_data(seed=1, n=12, batch_size=6):
    import tensorflow as tf

    x, y = arrays(n, seed)
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)


def all_weights(model):
    return [np.array(v.numpy()) for v in model.variables]


def optimizer_state(model):
    return [np.array(v.numpy()) for v in model.optimizer.variables]
