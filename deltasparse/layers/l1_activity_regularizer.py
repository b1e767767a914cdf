"""Placeholder: being written."""
import keras

class L1ActivityRegularizer(keras.layers.Layer):
    pass
