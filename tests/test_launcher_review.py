"""Defects found in review of the cheap launcher (posix_spawn, the inbox, one commit per
wake-up, `os._exit` at the end), each shown through the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

LINUX = pytest.mark.skipif(sys.platform != "linux", reason="Linux: inotify, /proc")

LINES = 40_000

ENDS_WHILE_THE_METRICS_THREAD_READS = f"""
import ctypes, os, sys
# Wait (inotify) until the metrics thread has read our log (it then parses what it read),
# and end at that moment: the driver reads the rest while the thread is still at work.
libc = ctypes.CDLL(None, use_errno=True)
watcher = libc.inotify_init()
log = os.path.join(os.path.dirname(os.environ["GRID_ARTIFACTS_DIR"]), "stdout.log")
assert libc.inotify_add_watch(watcher, log.encode(), 0x10) >= 0  # IN_CLOSE_NOWRITE
sys.stdout.write("".join(f"step={{i}} loss={{1 / (i + 1)}}\\n" for i in range({LINES})))
sys.stdout.flush()
os.read(watcher, 4096)
"""


@LINUX
def test_an_exit_while_the_metrics_thread_reads_its_output_stalls_nothing(
    grid, run_status, workdir
):
    # The driver took the store's write lock for its wake-up (the launch that fills the
    # freed slot), then waited for the metrics thread to let go of the ended experiment;
    # the thread waited for the write lock to record what it had read: both stood still
    # until SQLite's busy timeout (60 s), and the thread's rows were lost.
    (workdir / "ends.py").write_text(ENDS_WHILE_THE_METRICS_THREAD_READS)
    grid(
        "run", "--name", "ends", "--max_parallel", "1", "ends.py", "--x", "[1, 2]",
        check=True, timeout=45,
    )  # fmt: skip
    for name in ("ends-exp0", "ends-exp1"):
        loss = run_status(name)["metrics"]["loss"]
        assert (loss["count"], loss["step"]) == (LINES, LINES - 1)


LISTS_ITS_DESCRIPTORS = """
import os
found = []
for fd in range(3, 1024):
    try:
        os.fstat(fd)
    except OSError:
        continue
    found.append(f"{fd} {os.readlink(f'/proc/self/fd/{fd}')}")
print(found)
"""


@LINUX
def test_an_experiment_inherits_no_descriptor_but_stdin_stdout_and_stderr(
    grid, workdir, run_status
):
    # Popen(close_fds=True) gave each experiment 0, 1 and 2 only; posix_spawn closes
    # nothing, so what `grid` itself inherited (a lock a shell holds on fd 9, a build
    # tool's pipe) reached every experiment. gridrun's own descriptors (the store, the
    # inbox's pipe, pidfds, the watchdog's pipes, logs) must not reach them either.
    (workdir / "fds.py").write_text(LISTS_ITS_DESCRIPTORS)
    read_end, write_end = os.pipe()
    try:
        grid("run", "--name", "fds", "fds.py", "--x", "[1, 2]", check=True, pass_fds=[write_end])
    finally:
        os.close(read_end)
        os.close(write_end)
    for name in ("fds-exp0", "fds-exp1"):
        assert Path(run_status(name)["log_path"]).read_text() == "[]\n"


def test_more_experiments_at_once_than_the_driver_may_open_descriptors(grid, workdir, run_status):
    # Each running experiment held a pidfd in the driver: with the usual limit of 1024
    # descriptors, the 1011th experiment at once crashed the drive ("Too many open files"),
    # where Popen and the reaper thread ran any number. Here: 80 at once under a limit of 64.
    # Half of them fail: each exit code must still be the experiment's own.
    (workdir / "wait.sh").write_text("sleep 2\nexit $(( $2 % 2 * 3 ))\n")

    def few_descriptors() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    grid(
        "run", "--name", "crowd", "--cpus", "0.01", "wait.sh", "--x", "range(80)",
        preexec_fn=few_descriptors, timeout=120,
    )  # fmt: skip
    run = run_status("crowd")
    assert (run["counts"]["succeeded"], run["counts"]["failed"]) == (40, 40)
    for index in (0, 1, 78, 79):
        assert run_status(f"crowd-exp{index}")["exit_code"] == index % 2 * 3


def test_a_line_of_many_whole_numbers_that_is_no_metric_line_is_read_at_once(
    grid, workdir, run_status
):
    # (Older than the launcher.) NUMBER matched `1000` four ways ([0-9]+ then [0-9]*), so a
    # line of many integer pairs that then failed to match was tried in 4**n ways: the
    # metrics thread, then the driver (holding the store's write lock), stood still.
    (workdir / "counts.py").write_text(
        "print(' '.join(f'n{i}=1000' for i in range(40)) + ' (done)')\nprint('loss=0.5')\n"
    )
    grid("run", "--name", "counts", "counts.py", check=True, timeout=45)
    assert run_status("counts-exp0")["metrics"]["loss"]["last"] == 0.5


def test_reading_an_ended_experiments_backlog_lets_other_writers_in_between_pieces(
    tmp_path: Path,
):
    # A chatty experiment's metrics lag behind (the metrics thread takes half a CPU at
    # most); the driver reads the rest when it ends, a megabyte at a time. Inside the
    # wake-up's batch it held the store's write lock for the whole backlog: every other
    # writer (the metrics thread, `grid stop`, the driver of another run) waited, and one
    # that waited past the busy timeout (60 s) failed with "database is locked".
    import sqlite3

    from gridrun.ingest import SWEEP_BYTES, MetricsIngestor
    from gridrun.store import NewExperiment, NewRun, SQLiteStore, State

    path = tmp_path / "gridrun.db"
    store = SQLiteStore(path)
    run = store.create_run(
        NewRun("r", ["grid"], "t.py", [], {}, "grid_search", 1, None, {}, str(tmp_path)),
        [NewExperiment(0, "r-exp0", {}, [], ["t.py"]), NewExperiment(1, "r-exp1", {}, [], [])],
        [str(tmp_path / "0.log"), str(tmp_path / "1.log")],
        0.0,
    )
    first, second = store.experiments(run.id, [State.QUEUED])
    line = b"step=1 loss=0.5\n"
    (tmp_path / "0.log").write_bytes(line * (3 * SWEEP_BYTES // len(line)))

    others_could_write: list[bool] = []

    def clock() -> float:  # called before each piece is read: can another writer get in?
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            others_could_write.append(True)
        except sqlite3.OperationalError:
            others_could_write.append(False)
        finally:
            other.close()
        return 1.0

    ingestor = MetricsIngestor(lambda: SQLiteStore(path), clock=clock, poll_s=3600)
    ingestor.follow(first.id, tmp_path / "0.log", tmp_path / "0.jsonl")
    try:
        with store.batch():
            store.mark_started(second.id, 4242, None, 1.0)  # the launch into the freed slot
            ingestor.finish(first.id, store)
            store.mark_finished(first.id, State.SUCCEEDED, 0, None, None, 2.0)
    finally:
        ingestor.close()
    assert store.experiment_summaries(first.id)["loss"].count == 3 * SWEEP_BYTES // len(line)
    assert len(others_could_write) >= 3 and all(others_could_write)
    store.close()


EMBEDS_THE_CLI = """
from gridrun.cli.main import main

with open("notes.txt", "w") as notes:
    notes.write("written before the sweep\\n")
    try:
        main(["run", "--name", "embedded", "hello.py", "--x", "[1, 2]"])
    except SystemExit as done:
        print("grid exited", done.code)
print("the program goes on")
"""


def test_the_cli_called_from_python_returns_to_its_caller(workdir, grid_env, run_status):
    # `exit_at_once` ends the process with os._exit after a foreground run: right for the
    # `grid` command, whose process is its own, but a program that calls `main([...])`
    # (as the tests of --help do) was ended with it, its buffered files never written.
    (workdir / "hello.py").write_text("print('hello')\n")
    done = subprocess.run(
        [sys.executable, "-c", EMBEDS_THE_CLI],
        cwd=workdir, env=grid_env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "grid exited 0\nthe program goes on\n" in done.stdout
    assert (workdir / "notes.txt").read_text() == "written before the sweep\n"
    assert run_status("embedded")["counts"]["succeeded"] == 2
