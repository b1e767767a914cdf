"""Datasets, video decoding and tf.data pipelines.

Import the modules you need (`deltasparse.data.clips`,
`deltasparse.data.ucf101`, `deltasparse.data.synthetic_actions`,
`deltasparse.data.mnist_rotated`, ...). This package module imports nothing
itself, so preparation workers that import `deltasparse.data.ucf101` do not
pay for TensorFlow.
"""
