"""Group k-sparse temporal convolutional (recurrent) autoencoders."""
