"""The datasets of the papers and their preparation.

Import the module you need (`deltasparse.data.datasets.ucf101`,
`...synthetic_actions`, `...mnist_rotated`, `...cifar10_scanned`,
`...coil100`, `...nec_animal`); this package module imports nothing itself.
"""
