"""The driver's inbox: the one place its thread waits for anything to happen.

Two kinds of news arrive. Other threads and signal handlers `put` events (a metric report, a
signal number, a Ray task's exit); each put also writes a byte to a wake-up pipe. File
descriptors `watch`ed by the driver's own thread (the pidfd of a child process, readable once
it has exited) are polled alongside that pipe, and their callback turns readiness into an
event in the driver's thread. So a child's exit wakes the driver directly, as `waitpid` wakes
xargs: no thread hands the news over.
"""

from __future__ import annotations

import contextlib
import math
import os
import select
import time
from collections import deque
from collections.abc import Callable

Ready = Callable[[], object | None]
"""Called in the driver's thread when a watched descriptor is readable: the event, or None."""


class Inbox:
    """Events from any thread, and readiness of descriptors watched by the driver's thread."""

    def __init__(self) -> None:
        self._events: deque[object] = deque()  # append and popleft are thread-safe
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._poll = select.poll()
        self._poll.register(self._wake_read, select.POLLIN)
        self._watched: dict[int, Ready] = {}

    def put(self, event: object) -> None:
        """Deliver `event` (from any thread, or a signal handler)."""
        self._events.append(event)
        with contextlib.suppress(BlockingIOError, OSError):  # full: the reader wakes anyway
            os.write(self._wake_write, b"\0")

    def watch(self, fd: int, ready: Ready) -> None:
        """Call `ready` in the driver's thread once `fd` is readable (until `unwatch`)."""
        self._watched[fd] = ready
        self._poll.register(fd, select.POLLIN)

    def unwatch(self, fd: int) -> None:
        if self._watched.pop(fd, None) is not None:
            self._poll.unregister(fd)

    def get(self, timeout: float | None = None) -> object | None:
        """The next event, waiting at most `timeout` seconds (None: no limit, 0: no wait);
        None when nothing came in time."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._events:
            if deadline is None:
                wait_ms = None
            else:
                left = deadline - time.monotonic()
                if left <= 0:
                    self._collect(0)
                    break
                wait_ms = math.ceil(left * 1000)
            self._collect(wait_ms)
        return self._events.popleft() if self._events else None

    def _collect(self, wait_ms: int | None) -> None:
        for fd, _ in self._poll.poll(wait_ms):
            if fd == self._wake_read:
                with contextlib.suppress(BlockingIOError):
                    while os.read(self._wake_read, 4096):
                        pass
                continue
            ready = self._watched.get(fd)
            if ready is not None:
                event = ready()
                if event is not None:
                    self._events.append(event)

    def close(self) -> None:
        for fd in (self._wake_read, self._wake_write):
            with contextlib.suppress(OSError):
                os.close(fd)
