"""The watchdog: if the driver dies (even by SIGKILL), its experiments die with it.

Forked from the driver before anything else runs. Two pipes link them: the driver writes the
process groups of its experiments to the first as they start and end; it never writes to the
second but says goodbye there before it exits. The watchdog sleeps on the second pipe and
reads the first only about once a second, so that an experiment's start costs the driver one
pipe write and wakes nobody. If the second pipe closes without a goodbye, the driver died:
the watchdog reads the rest of the first, stops every group it knows (SIGTERM, then SIGKILL
after the grace period) and records the run's running experiments as lost.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from pathlib import Path

from gridrun.processes import driver_marker, stop_groups
from gridrun.store.records import Driver

GOODBYE = b"Q"
DRAIN_S = 1.0
"""How often the watchdog reads the groups the driver sent (the pipe holds far more than a
second's worth)."""


class Watchdog:
    """The driver's end of the pipes to its watchdog process."""

    def __init__(self, home: Path, run_id: int, driver: Driver, grace_s: float) -> None:
        life_read, self.life_write = os.pipe()
        groups_read, self.groups_write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the watchdog
            os.close(self.life_write)
            os.close(self.groups_write)
            code = 0
            try:
                _watch(life_read, groups_read, home, run_id, driver, grace_s)
            except BaseException:
                code = 1
            os._exit(code)
        os.close(life_read)
        os.close(groups_read)
        self.pid = pid

    def _send(self, message: bytes) -> None:
        with contextlib.suppress(OSError):
            os.write(self.groups_write, message)

    def watch(self, pgid: int) -> None:
        self._send(b"+%d\n" % pgid)

    def unwatch(self, pgid: int) -> None:
        self._send(b"-%d\n" % pgid)

    def close(self) -> None:
        """The driver ends cleanly: the watchdog exits without touching anything."""
        with contextlib.suppress(OSError):
            os.write(self.life_write, GOODBYE)
        self._hang_up()

    def abandon(self) -> None:
        """The driver fails: the watchdog stops what is still running, as if it had died."""
        self._hang_up()

    def _hang_up(self) -> None:
        for end in (self.life_write, self.groups_write):
            with contextlib.suppress(OSError):
                os.close(end)
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(self.pid, 0)


class _Groups:
    """The experiments' process groups, as the driver's messages say."""

    def __init__(self, read_end: int) -> None:
        self.read_end = read_end
        os.set_blocking(read_end, False)
        self.groups: set[int] = set()
        self.buffer = b""

    def drain(self) -> None:
        """Read every message waiting in the pipe."""
        while True:
            try:
                chunk = os.read(self.read_end, 65536)
            except BlockingIOError:
                return
            if not chunk:
                return
            self.buffer += chunk
            *lines, self.buffer = self.buffer.split(b"\n")
            for line in lines:
                if line[:1] == b"+":
                    self.groups.add(int(line[1:]))
                elif line[:1] == b"-":
                    self.groups.discard(int(line[1:]))


def _watch(
    life_read: int, groups_read: int, home: Path, run_id: int, driver: Driver, grace_s: float
) -> None:
    os.setsid()  # out of the driver's group: killing that group must not kill the watchdog
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_IGN)
    groups = _Groups(groups_read)
    while True:
        ready, _, _ = select.select([life_read], [], [], DRAIN_S)
        groups.drain()
        if ready:
            said = os.read(life_read, 64)
            if GOODBYE in said:
                return
            if not said:
                break
    # The driver is gone without a goodbye. Its experiments' groups, and any process that
    # carries its mark in its environment (one started just before the driver died, or one
    # that left its group), are stopped.
    groups.drain()
    stop_groups(groups.groups, driver_marker(driver), grace_s)
    from gridrun.store import open_store

    store = open_store(home)
    try:
        store.mark_lost(run_id, driver, time.time())
    finally:
        store.close()
