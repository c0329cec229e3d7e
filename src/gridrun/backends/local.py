"""The local backend: one subprocess per experiment, in its own process group (session).

Its stdout and stderr go straight to its log file, opened for appending: the kernel writes
each line as the process emits it, so nothing is lost if the process or the driver dies.
One reaper thread waits for any child to end (`waitpid(-1)`) and reports the exit on the
driver's queue, so that a launch never waits for a thread to start.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable

from gridrun.backends.base import Backend, Exited, Handle, Launch
from gridrun.processes import signal_group


class LocalBackend(Backend):
    """Experiments as child processes of this one (which must have no other children that
    it waits for while experiments run)."""

    def __init__(self, events: queue.SimpleQueue, clock: Callable[[], float] = time.time) -> None:
        self.events = events
        self.clock = clock
        self.processes: dict[int, tuple[int, subprocess.Popen]] = {}  # pid -> (id, process)
        self.lock = threading.Lock()
        self.children = threading.Condition(self.lock)
        self.reaper: threading.Thread | None = None

    def launch(self, spec: Launch) -> Handle | None:
        with open(spec.log_path, "ab", buffering=0) as log:
            try:
                with self.lock:  # the reaper must know the pid before it can reap it
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
                    self.processes[process.pid] = (spec.experiment_id, process)
                    self.children.notify()
            except OSError as error:
                message = f"cannot start {spec.command[0]!r}: {error.strerror or error}"
                log.write(f"gridrun: {message}\n".encode())
                self.events.put(Exited(spec.experiment_id, 127, message))
                return None
        if self.reaper is None:
            self.reaper = threading.Thread(target=self._reap, name="gridrun-reaper", daemon=True)
            self.reaper.start()
        return Handle(spec.experiment_id, process.pid)

    def _reap(self) -> None:
        while True:
            with self.lock:
                while not self.processes:
                    self.children.wait()
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                continue
            except InterruptedError:  # pragma: no cover - retried by Python since 3.5
                continue
            ended_at = self.clock()
            with self.lock:
                found = self.processes.pop(pid, None)
            if found is None:  # another child of ours (the watchdog): not an experiment
                continue
            experiment_id, process = found
            returncode = os.waitstatus_to_exitcode(status)
            process.returncode = returncode  # reaped here: Popen must not wait for it
            self.events.put(Exited(experiment_id, returncode, ended_at=ended_at))

    def terminate(self, handle: Handle) -> None:
        signal_group(handle.pid, signal.SIGTERM)

    def kill(self, handle: Handle) -> None:
        signal_group(handle.pid, signal.SIGKILL)
