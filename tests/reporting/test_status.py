"""Truthful statuses: DIED for a dead RUNNING run, UNREADABLE for a broken
`run.json`."""

import datetime
import json
import os
import socket
import subprocess
import sys

from deltasparse.reporting import DIED
from deltasparse.reporting import UNREADABLE
from deltasparse.reporting import load_run
from deltasparse.reporting import load_runs
from deltasparse.reporting import main
from deltasparse.reporting import run_status
from tests.reporting.conftest import write_run


def test_stale_running_run_is_died(mixed_runs):
    table = load_runs(str(mixed_runs))
    status = dict(zip(table.column("id"), table.column("status")))
    assert status == {"1": "COMPLETED", "2": "RUNNING", "3": DIED,
                      "4": UNREADABLE}
    died = table.rows[2]
    assert died["sacred_status"] == "RUNNING"
    assert died["note"] == "no heartbeat for 1h00m"
    assert table.rows[1]["sacred_status"] == "RUNNING"


def test_stale_after_option(mixed_runs, capsys):
    assert main([str(mixed_runs), "--format", "csv", "--columns",
                 "id,status", "--stale-after", "7200"]) == 0
    out = capsys.readouterr().out
    assert "3,RUNNING" in out and DIED not in out
    assert main([str(mixed_runs), "--format", "csv", "--columns",
                 "id,status", "--stale-after", "1"]) == 0
    out = capsys.readouterr().out
    assert "2,DIED" in out and "3,DIED" in out


def test_start_time_is_used_without_heartbeat(tmp_path):
    fresh = write_run(tmp_path, 1, status="RUNNING", heartbeat_age=None,
                      start_age=30)
    old = write_run(tmp_path, 2, status="RUNNING", heartbeat_age=None,
                    start_age=1000)
    assert load_run(fresh)["status"] == "RUNNING"
    assert load_run(old)["status"] == DIED
    assert load_run(old)["note"] == "no heartbeat, started 16m40s ago"


def test_process_check_on_this_host():
    now = datetime.datetime(2024, 1, 1, 12, 0, 0)
    beat = "2024-01-01T11:59:55"
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    here = socket.gethostname()
    gone = {"status": "RUNNING", "heartbeat": beat,
            "host": {"hostname": here, "pid": proc.pid}}
    status, note = run_status(gone, now=now)
    assert status == DIED and note == f"process {proc.pid} gone from {here}"
    # A live process keeps the run RUNNING even with an old heartbeat.
    alive = {"status": "RUNNING", "heartbeat": "2024-01-01T10:00:00",
             "host": {"hostname": here, "pid": os.getpid()}}
    assert run_status(alive, now=now)[0] == "RUNNING"
    # Another host's pid cannot be checked: the heartbeat decides.
    other = dict(gone, host={"hostname": here + "-elsewhere", "pid": 1})
    assert run_status(other, now=now) == ("RUNNING", "")
    assert run_status(dict(other, heartbeat="2024-01-01T11:00:00"),
                      now=now)[0] == DIED


def test_finished_statuses_are_kept():
    now = datetime.datetime(2024, 1, 1, 12, 0, 0)
    for status in ("COMPLETED", "FAILED", "INTERRUPTED"):
        old = {"status": status, "heartbeat": "2023-01-01T00:00:00"}
        assert run_status(old, now=now) == (status, "")


def test_truncated_run_json_is_unreadable_and_warns(mixed_runs, capsys):
    run = load_run(os.path.join(str(mixed_runs), "4"))
    assert run["status"] == UNREADABLE
    assert run["error"].startswith("run.json: invalid JSON")
    assert main([str(mixed_runs)]) == 0
    captured = capsys.readouterr()
    row = [line for line in captured.out.splitlines()
           if line.split()[:1] == ["4"]]
    assert len(row) == 1 and UNREADABLE in row[0]
    warning = [line for line in captured.err.splitlines()
               if line.startswith("warning:")]
    assert len(warning) == 1
    assert os.path.join(str(mixed_runs), "4", "run.json") in warning[0]


def test_only_unreadable_runs_exit_1(tmp_path, capsys):
    write_run(tmp_path / "bad", 1, raw='{"status": "COMPL')
    write_run(tmp_path / "bad", 2, raw="")
    assert load_run(str(tmp_path / "bad" / "2"))["error"] == \
        "run.json: empty file"
    assert main([str(tmp_path / "bad")]) == 1
    err = capsys.readouterr().err
    assert err.count("warning: cannot read") == 2
    assert err.splitlines()[-1].startswith("error: no readable run")


def test_broken_metrics_file_warns_but_keeps_the_run(tmp_path, capsys):
    directory = write_run(tmp_path / "m", 1, metrics={"loss": {
        "steps": [0], "values": [1.0]}})
    with open(os.path.join(directory, "metrics.json"), "w") as handle:
        handle.write(json.dumps({"loss": {"steps": [0]}})[:10])
    run = load_run(directory)
    assert run["status"] == "COMPLETED" and run["metrics"] == {}
    assert run["warnings"][0].startswith("metrics.json: invalid JSON")
    assert main([str(tmp_path / "m")]) == 0
    assert "metrics.json: invalid JSON" in capsys.readouterr().err
