"""Placeholder: being written."""
import keras

class KSparse(keras.layers.Layer):
    pass
