"""Placeholder: being written."""

def group_ksparse(*args, **kwargs):
    raise NotImplementedError("group_ksparse")

def ksparse(*args, **kwargs):
    raise NotImplementedError("ksparse")
