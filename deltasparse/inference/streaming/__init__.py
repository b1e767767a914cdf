"""Streaming delta inference: incremental linear kernels (`kernels`) and
their measured dense fallbacks (`calibration`)."""
