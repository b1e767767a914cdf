"""CLI error lines and exit codes; `python -m deltasparse.reporting`."""

import os
import subprocess
import sys

import pytest

from deltasparse.reporting import main

OUTPUTS = [("--csv", "runs.csv"), ("--results-csv", "results.csv"),
           ("--plot", "curves.png"), ("--html", "report.html")]


def _one_error_line(err):
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    return lines[0]


def test_missing_results_folder(tmp_path, capsys):
    assert main([str(tmp_path / "absent")]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "No results folder at" in line and "absent" in line


def test_results_path_is_a_file(tmp_path, capsys):
    path = tmp_path / "file.txt"
    path.write_text("x")
    assert main([str(path)]) == 1
    assert "is a file, not a results folder" in _one_error_line(
        capsys.readouterr().err)


def test_empty_folder(tmp_path, capsys):
    assert main([str(tmp_path)]) == 1
    assert "no runs found" in _one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("option,name", OUTPUTS)
def test_output_in_a_folder_that_is_a_file(finished_runs, tmp_path, capsys,
                                           option, name):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("I am a file")
    target = blocker / name
    assert main([str(finished_runs), option, str(target)]) == 1
    captured = capsys.readouterr()
    line = _one_error_line(captured.err)
    assert line.startswith(f"error: cannot write {target}: ")
    assert "is a file, not a folder" in line
    assert captured.out == ""          # nothing printed, nothing half done


@pytest.mark.parametrize("option,name", OUTPUTS)
def test_output_in_a_missing_folder(finished_runs, tmp_path, capsys, option,
                                    name):
    target = tmp_path / "no" / "such" / name
    assert main([str(finished_runs), option, str(target)]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert line == (f"error: cannot write {target}: folder "
                    f"{tmp_path / 'no' / 'such'} does not exist")


def test_output_path_is_a_folder(finished_runs, tmp_path, capsys):
    assert main([str(finished_runs), "--html", str(tmp_path)]) == 1
    assert _one_error_line(capsys.readouterr().err) == (
        f"error: cannot write {tmp_path}: it is a folder")


@pytest.mark.skipif(os.geteuid() == 0,
                    reason="root ignores folder permissions, so a read-only "
                           "folder cannot block the write")
@pytest.mark.parametrize("option,name", OUTPUTS)
def test_output_in_a_read_only_folder(finished_runs, tmp_path, capsys,
                                      option, name):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        target = folder / name
        assert main([str(finished_runs), option, str(target)]) == 1
        line = _one_error_line(capsys.readouterr().err)
        assert line.startswith(f"error: cannot write {target}: ")
        assert "permission denied" in line.lower()
        assert not target.exists()
    finally:
        folder.chmod(0o700)


def test_unwritable_folder_message(finished_runs, tmp_path, capsys,
                                   monkeypatch):
    # Runs as root too: fakes what `os.access` says for a read-only folder
    # (the real chmod case is test_output_in_a_read_only_folder).
    real_access = os.access
    folder = tmp_path / "ro"
    folder.mkdir()

    def access(path, mode, **kwargs):
        if os.path.abspath(path) == str(folder) and mode & os.W_OK:
            return False
        return real_access(path, mode, **kwargs)

    monkeypatch.setattr(os, "access", access)
    target = folder / "report.html"
    assert main([str(finished_runs), "--html", str(target)]) == 1
    assert _one_error_line(capsys.readouterr().err) == (
        f"error: cannot write {target}: permission denied "
        f"(folder {folder} is not writable)")
    assert not target.exists()


def test_write_failure_after_checks_is_one_line(finished_runs, tmp_path,
                                                capsys, monkeypatch):
    # A failure the up-front check cannot see (disk full, a race).
    from deltasparse.reporting import runs

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runs.RunTable, "to_csv", fail)
    target = tmp_path / "runs.csv"
    assert main([str(finished_runs), "--csv", str(target)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error")]
    assert errors == [f"error: cannot write {target}: No space left on device"]


def test_outputs_are_written(finished_runs, tmp_path, capsys):
    paths = {option: tmp_path / name for option, name in OUTPUTS}
    argv = [str(finished_runs)]
    for option, path in paths.items():
        argv += [option, str(path)]
    assert main(argv) == 0
    for path in paths.values():
        assert path.stat().st_size > 100, path
        assert not os.path.exists(f"{path}.tmp")
    err = capsys.readouterr().err
    assert all(f"wrote {p}" in err for p in paths.values())


def test_python_dash_m(finished_runs):
    env = dict(os.environ, PYTHONPATH=os.getcwd() + os.pathsep
               + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, "-m", "deltasparse.reporting", str(finished_runs),
         "--format", "csv", "--columns", "id,_algo.mode"],
        capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "id,_algo.mode", "1,wtacnn", "2,groupwtacnn"]
