"""Placeholder: being written."""
import keras

class ConvMinimalRNN2D(keras.layers.Layer):
    pass

class ConvMinimalRNN2DCell(keras.layers.Layer):
    pass
