"""Test utilities shared by the deltasparse test-suite (not public API)."""

from deltasparse.testing.test_case import TestCase  # noqa: F401
