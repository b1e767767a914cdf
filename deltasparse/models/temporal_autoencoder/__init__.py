"""Group k-sparse temporal convolutional (recurrent) autoencoders.

Milacski et al., IJCNN 2019. `temporal_autoencoder.TemporalAutoencoder` is
the Keras model; `temporal_autoencoder_presets` holds the ten algorithms;
`encoders`, `blocks` (sparsity bottleneck), `decoders` (decoder and
classification head) and `losses` are its parts. Training is
`deltasparse.training.autoencoder_protocol`, figures
`deltasparse.reporting.autoencoder_plots`.
"""
