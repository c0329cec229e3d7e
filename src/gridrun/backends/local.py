"""The local backend: one subprocess per experiment, in its own process group (session).

Its stdout and stderr go straight to its log file, opened for appending: the kernel writes
each line as the process emits it, so nothing is lost if the process or the driver dies.

A launch is one `posix_spawn` (vfork and exec, no Python in between) when the experiment
runs in the driver's own folder, a `subprocess.Popen` otherwise. Its exit reaches the driver
through the process's pidfd, watched by the driver's inbox, so the driver's own thread
reaps it the moment it ends. Where pidfds do not exist (not Linux, or a kernel before 5.3),
or once so many experiments run at once that their pidfds would take half the descriptors
the driver may open, one reaper thread waits for any child instead (every child from then
on) and puts the exits in the inbox.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from gridrun.backends.base import Backend, Exited, Handle, Launch
from gridrun.inbox import Inbox
from gridrun.processes import signal_group

LOG_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
DEFAULT_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGPIPE", "SIGXFSZ", "SIGXFZ") if hasattr(signal, name)
)
"""Signals Python ignores that a child must get back at their default (as Popen does)."""


class LocalBackend(Backend):
    """Experiments as child processes of this one."""

    def __init__(self, inbox: Inbox, clock: Callable[[], float] = time.time) -> None:
        self.inbox = inbox
        self.clock = clock
        self.use_pidfds = hasattr(os, "pidfd_open")
        self.pidfds: dict[int, tuple[int, int]] = {}
        """pidfd -> (pid, experiment id) of each child followed by its pidfd."""
        self.max_pidfds = _descriptor_limit() // 2
        """Beyond this many children at once, the reaper thread follows them all: a pidfd is
        a descriptor, and the driver must keep room to open logs, the store, metrics."""
        self.popens: dict[int, Any] = {}
        """pid -> the Popen of a child started that way: kept until reaped, or Popen's own
        clean-up would reap it behind our back."""
        self.reaper: _Reaper | None = None
        _close_inherited_on_exec()

    def launch(self, spec: Launch) -> Handle | None:
        log = os.open(spec.log_path, LOG_FLAGS, 0o644)
        try:
            if self.reaper is not None:
                with self.reaper.lock:  # the reaper must know the pid before it can reap it
                    pid = self._spawn(spec, log)
                    self.reaper.add(pid, spec.experiment_id)
                return Handle(spec.experiment_id, pid)
            pid = self._spawn(spec, log)
        except OSError as error:
            message = f"cannot start {spec.command[0]!r}: {error.strerror or error}"
            os.write(log, f"gridrun: {message}\n".encode())
            self.inbox.put(Exited(spec.experiment_id, 127, message))
            return None
        finally:
            os.close(log)
        self._follow(pid, spec.experiment_id)
        return Handle(spec.experiment_id, pid)

    def _spawn(self, spec: Launch, log: int) -> int:
        if spec.cwd == os.getcwd():
            return os.posix_spawn(
                _executable(spec.command[0], spec.env),
                list(spec.command),
                spec.env,
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_DUP2, log, 1),
                    (os.POSIX_SPAWN_DUP2, log, 2),
                ],
                setsid=True,
                setsigdef=DEFAULT_SIGNALS,
            )
        import subprocess  # another folder: posix_spawn cannot change it

        process = subprocess.Popen(
            list(spec.command),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=spec.cwd,
            env=spec.env,
            start_new_session=True,
            close_fds=True,
        )
        self.popens[process.pid] = process
        return process.pid

    def _follow(self, pid: int, experiment_id: int) -> None:
        """Have the driver's inbox tell when `pid` exits."""
        if self.use_pidfds and len(self.pidfds) < self.max_pidfds:
            try:
                pidfd = os.pidfd_open(pid)
            except OSError:  # no pidfds in this kernel (or no descriptor left)
                pass
            else:
                self.pidfds[pidfd] = (pid, experiment_id)
                self.inbox.watch(pidfd, lambda: self._reap(pidfd, pid, experiment_id))
                return
        self.use_pidfds = False  # a reaper thread from now on
        self.reaper = _Reaper(self.inbox, self._reaped)
        with self.reaper.lock:
            self.reaper.add(pid, experiment_id)
            # It waits for any child: it reaps those followed by pidfds so far too, and
            # must know them (their pidfds would find them reaped, their exit codes lost).
            for pidfd, (other, other_id) in self.pidfds.items():
                self.inbox.unwatch(pidfd)
                os.close(pidfd)
                self.reaper.add(other, other_id)
            self.pidfds.clear()

    def _reap(self, pidfd: int, pid: int, experiment_id: int) -> Exited | None:
        """`pid`'s pidfd is readable: it has ended."""
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # reaped elsewhere: its status is lost
            done, status = pid, 255 << 8
        if done == 0:
            return None
        self.inbox.unwatch(pidfd)
        del self.pidfds[pidfd]
        os.close(pidfd)
        return self._reaped(pid, experiment_id, os.waitstatus_to_exitcode(status))

    def _reaped(self, pid: int, experiment_id: int, returncode: int) -> Exited:
        process = self.popens.pop(pid, None)
        if process is not None:
            process.returncode = returncode  # reaped here: Popen must not wait for it
        return Exited(experiment_id, returncode, ended_at=self.clock())

    def terminate(self, handle: Handle) -> None:
        signal_group(handle.pid, signal.SIGTERM)

    def kill(self, handle: Handle) -> None:
        signal_group(handle.pid, signal.SIGKILL)


class _Reaper:
    """Where pidfds are missing: a thread that waits for any child of this process and puts
    the exits of experiments in the inbox (other children, the watchdog, are skipped)."""

    def __init__(self, inbox: Inbox, reaped: Callable[[int, int, int], Exited]) -> None:
        self.inbox = inbox
        self.reaped = reaped
        self.children: dict[int, int] = {}  # pid -> experiment id
        self.lock = threading.Lock()
        self.added = threading.Condition(self.lock)
        threading.Thread(target=self._run, name="gridrun-reaper", daemon=True).start()

    def add(self, pid: int, experiment_id: int) -> None:
        """Reap `pid`. The caller holds `lock`, taken before the child started."""
        self.children[pid] = experiment_id
        self.added.notify()

    def _run(self) -> None:
        while True:
            with self.lock:
                while not self.children:
                    self.added.wait()
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                continue
            with self.lock:
                experiment_id = self.children.pop(pid, None)
            if experiment_id is not None:
                self.inbox.put(self.reaped(pid, experiment_id, os.waitstatus_to_exitcode(status)))


def _descriptor_limit() -> int:
    """How many descriptors this process may open (its soft limit; 1024 where unknown)."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):
        return 1024
    return 1024 if soft == resource.RLIM_INFINITY else soft


def _close_inherited_on_exec() -> None:
    """Make the descriptors this process inherited (a lock a shell holds on fd 9, a build
    tool's pipe) close on exec: `posix_spawn` closes nothing, and an experiment must get
    stdin, stdout and stderr only, as with Popen's `close_fds`. (Python opens its own
    descriptors close-on-exec, and so do SQLite and `pidfd_open`.)"""
    for folder in ("/proc/self/fd", "/dev/fd"):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            fd = int(name)
            if fd > 2:
                with contextlib.suppress(OSError):  # the listing's own, closed by now
                    os.set_inheritable(fd, False)
        return


def _executable(program: str, env: Mapping[str, str]) -> str:
    """The file to execute for `program`, found on the experiment's PATH as `Popen` would
    find it (a program named with a folder is taken as it is)."""
    if os.sep in program:
        return program
    for folder in os.get_exec_path(env):
        candidate = os.path.join(folder, program)
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate
    raise FileNotFoundError(2, "No such file or directory", program)
