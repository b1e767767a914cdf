"""Tests of `deltasparse.compression`."""
