"""The `deltasparse-results` command: summarise Sacred runs stored on disk.

Run: `deltasparse-results results/mnistrotated` (or
`python -m deltasparse.reporting results/mnistrotated`).

By default it prints one row per run: id, experiment, status (`DIED` for a
run whose heartbeat stopped, `UNREADABLE` for a broken `run.json`),
duration, only the config keys that differ between the runs, and the
headline result; then the runs' result tables. Options choose columns
(`--columns`, glob patterns), rows (`--filter key=value`), the output
format (`--format text|csv|markdown`) and write files (`--csv`,
`--results-csv`, `--plot`, `--html`).

Exit status: 0 when at least one run was readable (a warning line on
stderr names every unreadable run file), 1 on any error (missing results
folder, no readable run, no run matching the filters, an output path that
cannot be written), 2 for invalid command-line usage. Errors are one
`error: ...` line on stderr, never a traceback.
"""

import argparse
import os
import sys

from deltasparse.reporting.runs import STALE_AFTER_S
from deltasparse.reporting.runs import UNREADABLE
from deltasparse.reporting.runs import hidden_config_count
from deltasparse.reporting.runs import load_result_tables
from deltasparse.reporting.runs import load_runs
from deltasparse.reporting.runs import summary_columns


class CommandError(Exception):
    """An error reported as one `error: ...` line and exit status 1."""


def build_parser():
    """Returns the `argparse.ArgumentParser` of `deltasparse-results`."""
    parser = argparse.ArgumentParser(
        prog="deltasparse-results",
        description="Summarise Sacred runs stored on disk (one row per run: "
                    "status, duration, the config keys that differ between "
                    "the runs, the headline result).",
    )
    parser.add_argument("path",
                        help="results folder, e.g. results/mnistrotated")
    parser.add_argument(
        "--columns", metavar="A,B,...",
        help="exact list of columns, comma-separated; names or glob "
             "patterns matched against full (config._algo.mode) and short "
             "(_algo.mode) names, e.g. 'id,status,_algo.*,metric:*loss*'")
    parser.add_argument(
        "--filter", action="append", default=[], metavar="KEY=VALUE",
        help="keep runs where KEY equals VALUE (numbers compare as numbers, "
             "text may use globs; KEY!=VALUE negates); repeatable, e.g. "
             "--filter status=COMPLETED --filter _algo.mode=group*")
    parser.add_argument("--status", default=None,
                        help="same as --filter status=STATUS")
    parser.add_argument("--all-config", action="store_true",
                        help="show every config key, not only those that "
                             "differ between the runs")
    parser.add_argument("--format", choices=("text", "csv", "markdown"),
                        default="text", help="output format (default text)")
    parser.add_argument("--width", type=int, default=120,
                        help="text width to wrap the table to; 0 = no "
                             "wrapping (default 120)")
    parser.add_argument(
        "--stale-after", type=float, default=STALE_AFTER_S,
        metavar="SECONDS",
        help="a RUNNING run whose last heartbeat is older than this is "
             f"shown as DIED (default {STALE_AFTER_S:g})")
    parser.add_argument("--csv", metavar="PATH",
                        help="write the run table (all metrics, full column "
                             "names) to this CSV file")
    parser.add_argument("--results-csv", metavar="PATH",
                        help="write the concatenated result tables to this "
                             "CSV file")
    parser.add_argument("--plot", metavar="PATH",
                        help="write learning curves (all runs) to this PNG")
    parser.add_argument("--metric", action="append",
                        help="metric to plot with --plot (repeatable; "
                             "default all)")
    parser.add_argument("--html", metavar="PATH",
                        help="write a self-contained HTML report (tables, "
                             "curves, embedded PNG artifacts, file links)")
    return parser


def _reason(err):
    return err.strerror or str(err) if isinstance(err, OSError) else str(err)


def check_writable(path):
    """Checks that `path` can be created or replaced, before any work.

    Args:
        path: the output file.

    Raises:
        CommandError: `cannot write <path>: <reason>` when the parent
            folder is missing, is a file, or is not writable, or when
            `path` is a folder.
    """
    parent = os.path.dirname(os.path.abspath(path))
    reason = None
    probe = parent
    while not os.path.exists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    if os.path.isdir(path):
        reason = "it is a folder"
    elif not os.path.isdir(probe):
        reason = f"{probe} is a file, not a folder"
    elif probe != parent:
        reason = f"folder {parent} does not exist"
    elif not os.access(parent, os.W_OK | os.X_OK):
        reason = f"permission denied (folder {parent} is not writable)"
    if reason:
        raise CommandError(f"cannot write {path}: {reason}")


def _write(path, writer):
    try:
        writer()
    except OSError as err:
        raise CommandError(f"cannot write {path}: {_reason(err)}") from None
    print(f"wrote {path}", file=sys.stderr)


def _emit(table, columns, fmt, width):
    if fmt == "csv":
        sys.stdout.write(table.to_csv(None, columns=columns,
                                      short_names=True))
    elif fmt == "markdown":
        print(table.to_markdown(columns=columns))
    else:
        print(table.format(columns=columns, width=width or None))


def run(args):
    """Runs the command for parsed arguments.

    Args:
        args: the `argparse.Namespace` of `build_parser()`.

    Returns:
        The exit status (0 or 1).

    Raises:
        CommandError: for every error the user can fix.
    """
    outputs = [p for p in (args.csv, args.results_csv, args.plot, args.html)
               if p]
    try:
        table = load_runs(args.path, stale_after=args.stale_after)
    except FileNotFoundError as err:
        raise CommandError(str(err)) from None
    for run in table.runs:
        if run["status"] == UNREADABLE:
            print(f"warning: cannot read {run['error_file']}: "
                  f"{run['error'].split(': ', 1)[-1]} "
                  f"(run {run['id']} shown as {UNREADABLE})", file=sys.stderr)
        for message in run["warnings"]:
            print(f"warning: run {run['id']} ({run['dir']}): {message}",
                  file=sys.stderr)
    if not len(table):
        raise CommandError(f"no runs found below {args.path} (no run.json)")
    readable = sum(r["status"] != UNREADABLE for r in table.runs)
    conditions = list(args.filter)
    if args.status:
        conditions.append(f"status={args.status}")
    try:
        table = table.filter(conditions)
    except ValueError as err:
        raise CommandError(str(err)) from None
    if not len(table):
        raise CommandError(
            f"no run below {args.path} matches {' and '.join(conditions)}")
    try:
        if args.columns:
            columns = table.resolve(
                [c.strip() for c in args.columns.split(",") if c.strip()])
        else:
            columns = summary_columns(table)
            if args.all_config:
                columns = [c for c in columns if not c.startswith("config.")]
                at = columns.index("duration") + 1
                columns[at:at] = [c for c in table.columns
                                  if c.startswith("config.")]
    except KeyError as err:
        raise CommandError(err.args[0]) from None
    for path in outputs:
        check_writable(path)

    _emit(table, columns, args.format, args.width)
    hidden = hidden_config_count(table, columns)
    if not args.columns and hidden and args.format == "text":
        keys = "key has" if hidden == 1 else "keys have"
        print(f"({hidden} config {keys} the same value in every run; "
              "--all-config or --columns 'config.*' shows them)",
              file=sys.stderr)
    hidden = hidden_config_count(table, columns, "result.")
    if not args.columns and hidden and args.format == "text":
        print(f"({hidden} more result keys; --columns 'id,result.*' shows "
              "them)", file=sys.stderr)
    results = load_result_tables(args.path, runs=table)
    if len(results) and args.format != "csv":
        print()
        if args.format == "markdown":
            print(results.to_markdown())
        else:
            print(results.format(width=args.width or None))

    if args.csv:
        csv_table = table if args.all_config or args.columns else load_runs(
            args.path, stale_after=args.stale_after,
            varying_only=True).filter(conditions)
        csv_columns = columns if args.columns else None
        _write(args.csv, lambda: csv_table.to_csv(args.csv,
                                                  columns=csv_columns))
    if args.results_csv:
        _write(args.results_csv, lambda: results.to_csv(args.results_csv))
    if args.plot:
        from deltasparse.reporting.plots import plot_learning_curves

        try:
            _write(args.plot, lambda: plot_learning_curves(
                table, args.plot, metrics=args.metric))
        except ValueError as err:
            raise CommandError(str(err)) from None
    if args.html:
        from deltasparse.reporting.html_report import write_html_report

        _write(args.html, lambda: write_html_report(
            table, args.html, columns=columns, result_table=results,
            title=f"Runs below {args.path}", source=args.path))
    return 0 if readable else 1


def main(argv=None):
    """Entry point of `deltasparse-results` (`python -m deltasparse.reporting`).

    Args:
        argv: command-line arguments without the program name. Defaults to
            `sys.argv[1:]`.

    Returns:
        The exit status: 0 when at least one run was readable, 1 on errors
        (printed as one `error: ...` line on stderr).
    """
    args = build_parser().parse_args(argv)
    try:
        code = run(args)
    except CommandError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if code:
        print(f"error: no readable run below {args.path}", file=sys.stderr)
    return code
