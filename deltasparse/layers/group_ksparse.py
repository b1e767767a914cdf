"""Placeholder: being written."""
import keras

class GroupKSparse(keras.layers.Layer):
    pass
