"""The local backend: one subprocess per experiment, in its own process group (session).

Its stdout and stderr go straight to its log file, opened for appending: the kernel writes
each line as the process emits it, so nothing is lost if the process or the driver dies.
A thread per experiment waits for it and reports the exit on the driver's queue.
"""

from __future__ import annotations

import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable

from gridrun.backends.base import Backend, Exited, Handle, Launch
from gridrun.processes import signal_group


class LocalBackend(Backend):
    """Experiments as child processes of this one."""

    def __init__(self, events: queue.SimpleQueue, clock: Callable[[], float] = time.time) -> None:
        self.events = events
        self.clock = clock
        self.processes: dict[int, subprocess.Popen] = {}

    def launch(self, spec: Launch) -> Handle | None:
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(spec.log_path, "ab", buffering=0) as log:
            try:
                process = subprocess.Popen(
                    list(spec.command),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=spec.cwd,
                    env=dict(spec.env),
                    start_new_session=True,
                    close_fds=True,
                )
            except OSError as error:
                message = f"cannot start {spec.command[0]!r}: {error.strerror or error}"
                log.write(f"gridrun: {message}\n".encode())
                self.events.put(Exited(spec.experiment_id, 127, message))
                return None
        self.processes[spec.experiment_id] = process
        threading.Thread(target=self._wait, args=(spec.experiment_id, process), daemon=True).start()
        return Handle(spec.experiment_id, process.pid)

    def _wait(self, experiment_id: int, process: subprocess.Popen) -> None:
        returncode = process.wait()
        self.events.put(Exited(experiment_id, returncode, ended_at=self.clock()))

    def forget(self, experiment_id: int) -> None:
        """The driver has handled the exit."""
        self.processes.pop(experiment_id, None)

    def terminate(self, handle: Handle) -> None:
        signal_group(handle.pid, signal.SIGTERM)

    def kill(self, handle: Handle) -> None:
        signal_group(handle.pid, signal.SIGKILL)
