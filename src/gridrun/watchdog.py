"""The watchdog: if the driver dies (even by SIGKILL), its experiments die with it.

Forked from the driver before anything else runs, it reads the process groups of the
running experiments from a pipe. The driver says goodbye before it exits; if the pipe closes
without that, the driver died: the watchdog stops every group it knows (SIGTERM, then SIGKILL
after the grace period) and records the run's running experiments as lost.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from gridrun.processes import driver_marker, stop_groups
from gridrun.store.records import Driver

GOODBYE = b"Q"


class Watchdog:
    """The driver's end of the pipe to its watchdog process."""

    def __init__(self, home: Path, run_id: int, driver: Driver, grace_s: float) -> None:
        read_end, self.write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the watchdog
            os.close(self.write_end)
            code = 0
            try:
                _watch(read_end, home, run_id, driver, grace_s)
            except BaseException:
                code = 1
            os._exit(code)
        os.close(read_end)
        self.pid = pid

    def _send(self, message: bytes) -> None:
        with contextlib.suppress(OSError):
            os.write(self.write_end, message)

    def watch(self, pgid: int) -> None:
        self._send(b"+%d\n" % pgid)

    def unwatch(self, pgid: int) -> None:
        self._send(b"-%d\n" % pgid)

    def close(self) -> None:
        """The driver ends cleanly: the watchdog exits without touching anything."""
        self._send(GOODBYE + b"\n")
        self._hang_up()

    def abandon(self) -> None:
        """The driver fails: the watchdog stops what is still running, as if it had died."""
        self._hang_up()

    def _hang_up(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.write_end)
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(self.pid, 0)


def _watch(read_end: int, home: Path, run_id: int, driver: Driver, grace_s: float) -> None:
    os.setsid()  # out of the driver's group: killing that group must not kill the watchdog
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_IGN)
    groups: set[int] = set()
    buffer = b""
    while True:
        chunk = os.read(read_end, 4096)
        if not chunk:
            break
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if line == GOODBYE:
                return
            if line[:1] == b"+":
                groups.add(int(line[1:]))
            elif line[:1] == b"-":
                groups.discard(int(line[1:]))
    # The driver is gone without a goodbye. Its experiments' groups, and any process that
    # carries its mark in its environment (one started just before the driver died, or one
    # that left its group), are stopped.
    stop_groups(groups, driver_marker(driver), grace_s)
    from gridrun.store import open_store

    store = open_store(home)
    try:
        store.mark_lost(run_id, driver, time.time())
    finally:
        store.close()
