"""Datasets, video I/O and tf.data pipelines.

- `deltasparse.data.video`: clip indexing, frame decoding, augmentation and
  the `tf.data` clip / frame pipelines (imports TensorFlow).
- `deltasparse.data.datasets`: the datasets of the papers (UCF101 and its
  preparation, the embedded synthetic actions, Rotated MNIST, Scanned
  CIFAR-10, COIL-100, NEC Animal) and their shared helpers.

This package module imports nothing itself, so preparation workers that
import `deltasparse.data.datasets.ucf101` do not pay for TensorFlow.
"""
