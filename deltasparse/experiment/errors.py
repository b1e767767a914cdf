"""Errors that a Sacred command line prints as one line, without a traceback.

Both are ordinary Python exceptions (`FileNotFoundError`, `ValueError`) so
library callers and tests catch them as such, and also
`sacred.utils.SacredError`s with `print_traceback=False`, so that
`python experiments/<name>.py ...` stops with one line that says what is
wrong and how to fix it.
"""

from sacred.utils import SacredError


class _OneLineError(SacredError):
    """A `SacredError` that the Sacred CLI prints as its message alone."""

    def __init__(self, message):
        Exception.__init__(self, message)
        self.print_traceback = False
        self.filter_traceback = "default"
        self.print_usage = False

    def __str__(self):
        return str(self.args[0]) if self.args else ""


class DataNotFoundError(_OneLineError, FileNotFoundError):
    """A dataset or weights file is missing; the CLI prints only the message.

    A `FileNotFoundError` (so callers and tests can catch it as one) that is
    also a `sacred.utils.SacredError` with `print_traceback=False`, so that
    `python experiments/<name>.py ...` stops with one line saying what to
    download and which config key to set, instead of a stack trace.

    Args:
        message: str, what is missing and how to get it.
    """


class ConfigurationError(_OneLineError, ValueError):
    """An invalid experiment config; the CLI prints only the message.

    A `ValueError` that is also a `SacredError` without traceback (see
    `DataNotFoundError`).

    Args:
        message: str, what is wrong and how to fix it.
    """
