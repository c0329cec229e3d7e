"""The local backend and the driver's inbox, with real child processes: every way a launch
can go (posix_spawn here, Popen in another folder, the reaper thread where pidfds are
missing) reports the right exit, and a child sees what `subprocess` would give it."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gridrun.backends.base import Exited, Launch
from gridrun.backends.local import LocalBackend
from gridrun.inbox import Inbox

PY = sys.executable


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    box = Inbox()
    yield box
    box.close()


def launch(
    backend: LocalBackend, tmp_path: Path, experiment_id: int, code: str, cwd: str | None = None
) -> Path:
    log = tmp_path / f"exp{experiment_id}.log"
    command = [PY, "-c", code]
    spec = Launch(experiment_id, command, cwd or os.getcwd(), dict(os.environ), str(log))
    assert backend.launch(spec) is not None
    return log


def exits(inbox: Inbox, count: int) -> dict[int, Exited]:
    """The next `count` exits (nothing else is expected in the inbox)."""
    found: dict[int, Exited] = {}
    while len(found) < count:
        event = inbox.get(30)
        assert isinstance(event, Exited), f"no exit within 30 s (got {event!r})"
        found[event.experiment_id] = event
    return found


CASES = {
    1: ("print('one'); import sys; sys.stdout.flush()", 0),
    2: ("import sys; print('two', file=sys.stderr); sys.exit(3)", 3),
    3: ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", -signal.SIGKILL),
}


@pytest.mark.parametrize("how", ["pidfd", "reaper thread", "popen"])
def test_every_launch_path_reports_each_exit_and_keeps_the_output(
    inbox: Inbox, tmp_path: Path, how: str
) -> None:
    backend = LocalBackend(inbox, clock=lambda: 42.0)
    if how == "reaper thread":  # as where pidfd_open does not exist
        backend.use_pidfds = False
    elsewhere = str(tmp_path) if how == "popen" else None  # another folder: Popen
    logs = {i: launch(backend, tmp_path, i, code, elsewhere) for i, (code, _) in CASES.items()}
    found = exits(inbox, len(CASES))
    assert {i: e.returncode for i, e in found.items()} == {i: c for i, (_, c) in CASES.items()}
    assert all(e.ended_at == 42.0 and e.error is None for e in found.values())
    assert logs[1].read_text() == "one\n"
    assert logs[2].read_text() == "two\n"
    assert backend.popens == {}  # every Popen reaped and forgotten
    assert inbox.get(0) is None


def test_a_child_runs_in_its_own_session_with_no_stdin(inbox: Inbox, tmp_path: Path) -> None:
    code = "import os, sys; print(os.getsid(0) == os.getpid(), sys.stdin.read() == '')"
    log = launch(LocalBackend(inbox), tmp_path, 1, code)
    assert exits(inbox, 1)[1].returncode == 0
    assert log.read_text() == "True True\n"


def test_a_child_gets_sigpipe_back_at_its_default(inbox: Inbox, tmp_path: Path) -> None:
    # Python ignores SIGPIPE; a child that inherited that would see `yes | head -1` fail
    # with "Broken pipe" instead of `yes` ending quietly.
    log = tmp_path / "exp1.log"
    command = ["sh", "-c", "yes | head -1"]
    assert LocalBackend(inbox).launch(Launch(1, command, os.getcwd(), dict(os.environ), str(log)))
    assert exits(inbox, 1)[1].returncode == 0
    assert log.read_text() == "y\n"


def test_a_program_is_found_on_the_experiments_path_not_the_drivers(
    inbox: Inbox, tmp_path: Path
) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    program = tools / "only-here"
    program.write_text("#!/bin/sh\necho found $1\n")
    program.chmod(0o755)
    env = {**os.environ, "PATH": f"{tools}{os.pathsep}{os.environ.get('PATH', '')}"}
    log = tmp_path / "exp1.log"
    backend = LocalBackend(inbox)
    assert backend.launch(Launch(1, ["only-here", "x"], os.getcwd(), env, str(log))) is not None
    assert exits(inbox, 1)[1].returncode == 0
    assert log.read_text() == "found x\n"


def test_a_program_that_cannot_start_is_reported_as_exit_127(inbox: Inbox, tmp_path: Path) -> None:
    log = tmp_path / "exp1.log"
    backend = LocalBackend(inbox)
    spec = Launch(1, ["no-such-program-anywhere"], os.getcwd(), dict(os.environ), str(log))
    assert backend.launch(spec) is None
    exited = exits(inbox, 1)[1]
    assert exited.returncode == 127
    assert "cannot start 'no-such-program-anywhere'" in (exited.error or "")
    assert "No such file or directory" in log.read_text()


def test_the_inbox_wakes_for_an_event_from_another_thread_and_times_out_otherwise(
    inbox: Inbox,
) -> None:
    assert inbox.get(0.01) is None
    threading.Timer(0.05, inbox.put, args=("hello",)).start()
    assert inbox.get(30) == "hello"
    for n in range(10_000):  # more than the wake-up pipe holds: none is lost
        inbox.put(n)
    assert [inbox.get(0) for _ in range(10_000)] == list(range(10_000))
    assert inbox.get(0) is None
