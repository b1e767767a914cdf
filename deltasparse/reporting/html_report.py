"""One self-contained HTML page about a set of Sacred runs.

`write_html_report(table, path)` writes a single `.html` file that opens
from disk (`file://`) in any browser, without a server and without network:
all CSS and the small table-sorting script are inline, and every image is
embedded as a base64 `data:image/png` URI. The page holds:

1. the run table (the same columns as the text table; click a column name
   to sort),
2. the concatenated result tables (`_run.info["result_table"]` rows),
3. one section per run: status (with why it was corrected, e.g. `DIED`),
   times, host, the headline result, the metric curves (drawn with
   Matplotlib), the PNG artifacts found in the run folder (e.g.
   `layer_sparsity.png`, `decoder_weights.png`), and relative links to the
   other files (checkpoints, CSVs, Sacred's JSON files).

All text from the runs is escaped with `html.escape`; links are relative
to the report's folder, so moving the results and the report together
keeps them working.
"""

import base64
import datetime
import html
import os
import urllib.parse

from deltasparse.reporting import plots
from deltasparse.reporting.runs import DIED
from deltasparse.reporting.runs import UNREADABLE
from deltasparse.reporting.runs import cell
from deltasparse.reporting.runs import compact
from deltasparse.reporting.runs import display_name
from deltasparse.reporting.runs import is_number
from deltasparse.reporting.runs import run_files
from deltasparse.reporting.runs import summary_columns
from deltasparse.training.checkpoints import write_bytes_atomic

MAX_EMBED_BYTES = 8 * 1024 * 1024
"""PNG artifacts larger than this are linked, not embedded."""

_CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
h3 { font-size: 1.05em; margin-bottom: .3em; }
table { border-collapse: collapse; font-size: .85em; margin: .5em 0; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: left;
         vertical-align: top; }
th { background: #f2f2f2; cursor: pointer; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.status-DIED td, tr.status-FAILED td { background: #fde8e8; }
tr.status-UNREADABLE td { background: #fff3cd; }
tr.status-RUNNING td { background: #e8f4fd; }
.run { border-top: 2px solid #ddd; margin-top: 1.2em; }
.meta td:first-child { font-weight: 600; }
img { max-width: 100%; border: 1px solid #eee; margin: .3em 0; }
figure { margin: .5em 0; } figcaption { font-size: .8em; color: #555; }
.note { color: #a00; }
"""

_SORT_JS = """
document.querySelectorAll("table.sortable th").forEach(function (th) {
  th.addEventListener("click", function () {
    var col = th.cellIndex;
    var body = th.closest("table").tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var up = th.dataset.dir !== "asc";
    th.dataset.dir = up ? "asc" : "desc";
    rows.sort(function (a, b) {
      var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
      var nx = parseFloat(x), ny = parseFloat(y);
      var r = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return up ? r : -r;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"""


def _e(value):
    return html.escape(str(value), quote=True)


def png_data_uri(data):
    """Returns `data:image/png;base64,...` for PNG bytes."""
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _table_html(table, columns, anchors=None, max_width=80):
    heads = "".join(f"<th>{_e(display_name(c))}</th>" for c in columns)
    lines = [f'<table class="sortable"><thead><tr>{heads}</tr></thead>'
             "<tbody>"]
    for i, row in enumerate(table.rows):
        status = row.get("status") or ""
        cls = f' class="run-row status-{_e(status)}"' if anchors else ""
        cells = []
        for c in columns:
            full = cell(row.get(c))
            shown = cell(row.get(c), 4)
            if len(shown) > max_width:
                shown = shown[: max_width - 1] + "…"
            text = _e(shown)
            if c == "id" and anchors:
                text = f'<a href="#{anchors[i]}">{text}</a>'
            num = ' class="num"' if shown and is_number(shown) else ""
            title = f' title="{_e(full)}"' if full != shown else ""
            cells.append(f'<td{num} data-v="{_e(full)}"{title}>{text}</td>')
        lines.append(f"<tr{cls}>{''.join(cells)}</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)


def _href(target, base):
    rel = os.path.relpath(target, base).replace(os.sep, "/")
    return _e(urllib.parse.quote(rel))


def _size(path):
    try:
        size = os.path.getsize(path)
    except OSError:
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


def _run_section(run, anchor, base, max_panels):
    out = [f'<section class="run" id="{anchor}">',
           f"<h3>Run {_e(run['id'])}"
           f"{' (' + _e(run['experiment']) + ')' if run['experiment'] else ''}"
           f" — {_e(run['status'])}</h3>"]
    meta = [("folder", f'<a href="{_href(run["dir"], base)}">'
                       f"{_e(run['dir'])}</a>")]
    if run["status"] != run["sacred_status"] and run["sacred_status"]:
        meta.append(("Sacred status", _e(run["sacred_status"])))
    if run["note"]:
        note_cls = "note" if run["status"] in (DIED, UNREADABLE) else ""
        meta.append(("note", f'<span class="{note_cls}">{_e(run["note"])}'
                             "</span>"))
    for key in ("start_time", "stop_time", "heartbeat", "host"):
        if run.get(key):
            meta.append((key.replace("_", " "), _e(run[key])))
    if run["duration_s"] is not None:
        meta.append(("duration", f"{_e(run['duration_s'])} s"))
    if run["result"] is not None:
        meta.append(("result", f"<code>{_e(compact(run['result']))}</code>"))
    for warning in run["warnings"]:
        meta.append(("warning", f'<span class="note">{_e(warning)}</span>'))
    out.append('<table class="meta">' + "".join(
        f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in meta) + "</table>")
    if run["status"] == UNREADABLE:
        out.append("</section>")
        return out
    curves = plots.plot_run_metrics(run, None, max_panels=max_panels)
    if curves:
        shown = min(len(plots.metric_panels(run["metrics"])), max_panels)
        out.append(f'<figure><img alt="metric curves of run {_e(run["id"])}"'
                   f' src="{png_data_uri(curves)}"><figcaption>metric curves'
                   f" ({len(run['metrics'])} metrics, {shown} panels)"
                   "</figcaption></figure>")
    files = run_files(run)
    links = []
    for rel in files:
        path = os.path.join(run["dir"], rel)
        if rel.lower().endswith(".png"):
            try:
                size = os.path.getsize(path)
                data = None
                if size <= MAX_EMBED_BYTES:
                    with open(path, "rb") as handle:
                        data = handle.read()
            except OSError:
                data = None
            if data is not None and data.startswith(b"\x89PNG"):
                out.append(f'<figure><img alt="{_e(rel)}" '
                           f'src="{png_data_uri(data)}"><figcaption>'
                           f"{_e(rel)}</figcaption></figure>")
                continue
        links.append(f'<li><a href="{_href(path, base)}">{_e(rel)}</a> '
                     f"<small>{_e(_size(path))}</small></li>")
    checkpoint_dir = run["info"].get("checkpoint_dir") \
        if isinstance(run["info"], dict) else None
    if isinstance(checkpoint_dir, str) and os.path.isdir(checkpoint_dir):
        links.append(f'<li><a href="{_href(checkpoint_dir, base)}">'
                     f"checkpoints: {_e(checkpoint_dir)}</a></li>")
    if links:
        out.append("<p>Files:</p><ul>" + "".join(links) + "</ul>")
    out.append("</section>")
    return out


def render_html(table, columns=None, result_table=None, title=None,
                base_dir=".", source=None, max_panels=24):
    """Builds the report page as a string.

    Args:
        table: a `RunTable` from `load_runs` (after any filtering).
        columns: columns of the run table. Defaults to
            `summary_columns(table)`.
        result_table: a `RunTable` of result rows (`load_result_tables`).
            Defaults to none.
        title: page title. Defaults to `"deltasparse runs"`.
        base_dir: folder the page will be written to; links are relative
            to it. Defaults to `"."`.
        source: the results folder, shown in the header. Defaults to none.
        max_panels: most metric panels per run. Defaults to 24.

    Returns:
        The HTML text.
    """
    columns = list(columns or summary_columns(table))
    title = title or "deltasparse runs"
    anchors = [f"run-{i}" for i in range(len(table.runs))]
    counts = {}
    for row in table.rows:
        counts[row.get("status")] = counts.get(row.get("status"), 0) + 1
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f"<p>{len(table)} runs"
        + (f" below <code>{_e(source)}</code>" if source else "")
        + ": " + ", ".join(f"{_e(k)} {v}" for k, v in sorted(
            counts.items(), key=lambda kv: str(kv[0])))
        + f". Generated {_e(stamp)}.</p>",
        "<h2>Runs</h2>",
        _table_html(table, columns, anchors=anchors if table.runs else None),
    ]
    if result_table is not None and len(result_table):
        parts += ["<h2>Result tables</h2>",
                  _table_html(result_table, result_table.columns)]
    parts.append("<h2>Run details</h2>")
    for run, anchor in zip(table.runs, anchors):
        parts += _run_section(run, anchor, base_dir, max_panels)
    parts += [f"<script>{_SORT_JS}</script>", "</body></html>"]
    return "\n".join(parts)


def write_html_report(table, path, columns=None, result_table=None,
                      title=None, source=None, max_panels=24):
    """Writes the self-contained report page (atomically).

    Args:
        table: a `RunTable` from `load_runs`.
        path: the `.html` file to write.
        columns: columns of the run table. Defaults to
            `summary_columns(table)`.
        result_table: a `RunTable` of result rows. Defaults to none.
        title: page title. Defaults to `"deltasparse runs"`.
        source: the results folder, shown in the header. Defaults to none.
        max_panels: most metric panels per run. Defaults to 24.

    Returns:
        `path`.
    """
    path = os.fspath(path)
    base = os.path.dirname(os.path.abspath(path))
    text = render_html(table, columns=columns, result_table=result_table,
                       title=title, base_dir=base, source=source,
                       max_panels=max_panels)
    return write_bytes_atomic(path, text.encode("utf-8"))
