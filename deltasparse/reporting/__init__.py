"""Inspect Sacred runs stored on disk: tables, learning curves, HTML reports.

What a person uses after (or while) running the experiments in
`experiments/`:

- `deltasparse.reporting.runs`: find and read run folders (`load_runs`,
  `load_run`, `load_result_tables`) into a `RunTable`, with truthful
  statuses (`DIED` for a run whose heartbeat stopped, `UNREADABLE` for a
  broken `run.json`) and a default view of only what differs between runs
  (`summary_columns`).
- `deltasparse.reporting.plots`: learning curves as PNG (Matplotlib Agg).
- `deltasparse.reporting.html_report`: one self-contained HTML page.
- `deltasparse.reporting.cli`: the `deltasparse-results` command (also
  `python -m deltasparse.reporting`).

Importing this package is cheap: Matplotlib loads only when a figure is
drawn.

Example:

>>> from deltasparse.reporting import load_runs, summary_columns
>>> table = load_runs("results/mnistrotated")          # doctest: +SKIP
>>> print(table.format(summary_columns(table)))        # doctest: +SKIP
"""

from deltasparse.reporting.cli import main
from deltasparse.reporting.html_report import render_html
from deltasparse.reporting.html_report import write_html_report
from deltasparse.reporting.plots import plot_learning_curves
from deltasparse.reporting.plots import plot_run_metrics
from deltasparse.reporting.runs import DIED
from deltasparse.reporting.runs import STALE_AFTER_S
from deltasparse.reporting.runs import UNREADABLE
from deltasparse.reporting.runs import RunTable
from deltasparse.reporting.runs import find_run_dirs
from deltasparse.reporting.runs import flatten
from deltasparse.reporting.runs import load_result_tables
from deltasparse.reporting.runs import load_run
from deltasparse.reporting.runs import load_runs
from deltasparse.reporting.runs import run_status
from deltasparse.reporting.runs import summary_columns

__all__ = [
    "DIED",
    "STALE_AFTER_S",
    "UNREADABLE",
    "RunTable",
    "find_run_dirs",
    "flatten",
    "load_result_tables",
    "load_run",
    "load_runs",
    "main",
    "plot_learning_curves",
    "plot_run_metrics",
    "render_html",
    "run_status",
    "summary_columns",
    "write_html_report",
]
