"""The HTML report: self-contained, escaped, and checked in a real browser."""

import base64
import os
import re
import shutil
import subprocess
import urllib.parse

import pytest

from deltasparse.reporting import load_runs
from deltasparse.reporting import main
from deltasparse.reporting import write_html_report
from tests.reporting.conftest import write_run

IMG = re.compile(r'<img[^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


@pytest.fixture(scope="module")
def report(finished_runs, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "report.html"
    assert main([str(finished_runs), "--html", str(path)]) == 0
    return path


def test_report_is_self_contained(report):
    text = report.read_text()
    assert text.startswith("<!DOCTYPE html>")
    assert not re.search(r'(src|href)\s*=\s*["\']?\s*(https?:)?//', text)
    assert "<link" not in text and "@import" not in text
    assert not re.search(r"<script[^>]*\ssrc=", text)
    images = IMG.findall(text)
    # Per run: the metric curves and the layer_sparsity.png artifact.
    assert len(images) == 4
    for data in images:
        assert base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n")
    assert text.count('alt="layer_sparsity.png"') == 2
    assert text.count('alt="metric curves of run') == 2


def test_report_tables_and_links(report, finished_runs):
    text = report.read_text()
    assert text.count('<tr class="run-row') == 2
    for run_id in ("1", "2"):
        assert f'id="run-{int(run_id) - 1}"' in text
    assert "<th>_algo.mode</th>" in text and "groupwtacnn" in text
    assert "<h2>Result tables</h2>" in text
    assert text.count("<td data-v=\"endtoend\">endtoend</td>") == 2
    links = re.findall(r'<a href="([^"#]+)">', text)
    checkpoints = [link for link in links
                   if link.endswith("last.weights.h5")]
    assert len(checkpoints) == 2
    for link in checkpoints:
        assert not os.path.isabs(link)
        target = os.path.join(report.parent, urllib.parse.unquote(link))
        assert os.path.isfile(target), target


def test_report_escapes_text(tmp_path):
    nasty = '<script>alert("x")</script>'
    write_run(tmp_path / "esc", 1, config={"name": nasty, "seed": 1},
              result={"acc": 0.5})
    write_run(tmp_path / "esc", 2, config={"name": "plain", "seed": 1})
    out = write_html_report(load_runs(str(tmp_path / "esc")),
                            tmp_path / "r.html")
    text = open(out).read()
    assert nasty not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_report_in_headless_chromium(report, finished_runs, tmp_path):
    binary = _chromium()
    if binary is None:
        pytest.skip("no chromium binary found (apt-get install chromium)")
    proc = subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-dev-shm-usage", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}",
         "--dump-dom", report.resolve().as_uri()],
        capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert "<table" in dom
    rows = re.findall(r'<tr class="run-row status-(\w+)">(.*?)</tr>', dom,
                      re.S)
    assert [status for status, _ in rows] == ["COMPLETED", "COMPLETED"]
    ids = [re.search(r'<a href="#run-\d+">([^<]+)</a>', row).group(1)
           for _, row in rows]
    assert ids == ["1", "2"]
    assert len(IMG.findall(dom)) == 4
