"""Metric ingestion: follow the running experiments' logs and metrics files, record what they
report. A thread of the driver with its own store connection; it never slows an experiment
(each writes straight to its own file) and never drops a line (the driver reads each file to
its end when the experiment ends, before recording its final state).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from gridrun.store.base import Store

if TYPE_CHECKING:
    from gridrun.metrics import Row

POLL_S = 0.25
WATCHED_POLL_S = 0.05
"""How often the files are read when a metric is watched (early stopping, a target): a
losing experiment is then stopped within about one more line of its output."""
DUTY = 0.5
"""The most of one CPU the thread takes while experiments run: after a sweep that took t
seconds it rests t, so that it does not take a CPU from the experiments. A very chatty
experiment's metrics lag behind; the driver reads the rest when it ends."""
SWEEP_BYTES = 1024 * 1024
"""The most the thread reads of one file in one sweep (the rest waits for the next)."""
MAX_LINE_BYTES = 64 * 1024
"""A longer line (no newline for that long) is not a metric line: it is skipped."""


class Tail:
    """New complete lines of a growing file, read from where the last call stopped."""

    def __init__(self, path: str | Path) -> None:
        self.path = os.fspath(path)
        self.offset = 0
        self.partial = b""

    def unread(self) -> int:
        """How many bytes are still unread (0 while the file does not exist)."""
        try:
            return os.stat(self.path).st_size - self.offset
        except OSError:
            return 0

    def read_lines(self, final: bool = False, limit: int = -1) -> list[str]:
        """The complete lines written since the last call (at most about `limit` bytes of
        them); with `final`, everything, the last line even without its newline."""
        if self.unread() <= 0 and not (final and self.partial):
            return []  # most often: nothing new (one stat instead of an open and a read)
        try:
            with open(self.path, "rb") as file:
                file.seek(self.offset)
                data = file.read(-1 if final else limit)
        except OSError:
            return []
        self.offset += len(data)
        data = self.partial + data
        lines = data.split(b"\n")
        self.partial = lines.pop()
        if len(self.partial) > MAX_LINE_BYTES:
            self.partial = b""
        if final and self.partial:
            lines.append(self.partial)
            self.partial = b""
        return [line.decode("utf-8", errors="replace") for line in lines]


class Followed:
    """One experiment attempt whose files are followed. `notify` is told the rows of the
    `watched` metrics, once they are recorded."""

    __slots__ = (
        "artifacts",
        "done",
        "experiment_id",
        "lock",
        "metrics_file",
        "notify",
        "output",
        "watched",
    )

    def __init__(
        self,
        experiment_id: int,
        output: Tail,
        metrics_file: Tail,
        artifacts: str | Path | None = None,
        notify: Callable[[int, list[Row]], None] | None = None,
        watched: frozenset[str] = frozenset(),
    ) -> None:
        self.experiment_id = experiment_id
        self.output = output
        self.metrics_file = metrics_file
        self.artifacts = artifacts
        self.notify = notify
        self.watched = watched
        self.done = False
        self.lock = threading.Lock()

    def ingest(self, store: Store, now: float, final: bool, limit: int = -1) -> None:
        """Record the metrics of the lines written since the last call."""
        lines = self.output.read_lines(final, limit)
        json_lines = self.metrics_file.read_lines(final, limit)
        if not lines and not json_lines:
            return
        from gridrun.metrics import points_from_json_lines, points_from_output

        output = points_from_output(lines, now)
        if output:
            store.add_metrics(self.experiment_id, output, "stdout")
            self._tell(output)
        logged = points_from_json_lines(json_lines, now)
        if logged:
            store.add_metrics(self.experiment_id, logged, "log")
            self._tell(logged)

    def _tell(self, rows: list[Row]) -> None:
        if self.notify is not None and self.watched:
            watched = [row for row in rows if row[0] in self.watched]
            if watched:
                self.notify(self.experiment_id, watched)


class MetricsIngestor:
    """Follows experiments' files in a thread; `close` drains everything before returning.

    New values of the `watched` metrics are told to `on_points` (early stopping, targets).
    """

    def __init__(
        self,
        open_store: Callable[[], Store],
        clock: Callable[[], float] = time.time,
        poll_s: float = POLL_S,
        watched: frozenset[str] = frozenset(),
        on_points: Callable[[int, list[Row]], None] | None = None,
    ) -> None:
        self.open_store = open_store
        self.clock = clock
        self.poll_s = poll_s
        self.watched = watched
        self.on_points = on_points
        self.followed: dict[int, Followed] = {}
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.closing = False
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="gridrun-metrics", daemon=True)
        self.thread.start()

    def follow(
        self,
        experiment_id: int,
        log_path: str | Path,
        metrics_path: str | Path,
        artifacts: str | Path | None = None,
    ) -> None:
        """Start following an attempt that is about to start (its files are new); the
        TensorBoard scalars under `artifacts` are read when it ends."""
        with self.lock:
            self.followed[experiment_id] = Followed(
                experiment_id,
                Tail(log_path),
                Tail(metrics_path),
                artifacts,
                notify=self.on_points,
                watched=self.watched,
            )

    def finish(self, experiment_id: int, store: Store) -> None:
        """The attempt ended: read its files to their end now (with the caller's `store`),
        and stop following it."""
        with self.lock:
            item = self.followed.pop(experiment_id, None)
        if item is None:
            return
        if not item.lock.acquire(blocking=False):
            # The thread is recording its lines, and may be waiting for the store's write
            # lock, held by the caller's batch: let go of it before waiting for the thread.
            store.commit_batch()
            item.lock.acquire()
        try:
            item.done = True
            backlog = False
            while item.output.unread() > SWEEP_BYTES:  # in pieces: memory stays bounded,
                store.commit_batch()  # and the batch holds the write lock one piece at most
                item.ingest(store, self.clock(), final=False, limit=SWEEP_BYTES)
                backlog = True
            if backlog:
                store.commit_batch()
            item.ingest(store, self.clock(), final=True)
            if item.artifacts is not None and _has_files(item.artifacts):
                from gridrun.tensorboard import read_scalars

                scalars = read_scalars(Path(item.artifacts))
                if scalars:
                    store.add_metrics(item.experiment_id, scalars, "tensorboard")
        finally:
            item.lock.release()

    def close(self) -> None:
        """Read everything that is left and stop the thread."""
        self.closing = True
        self.wake.set()
        self.thread.join()

    def _run(self) -> None:
        store = self.open_store()
        try:
            while True:
                closing = self.closing
                started = time.monotonic()
                self._sweep(store, final_all=closing)
                if closing:
                    return
                busy = time.monotonic() - started
                self.wake.wait(max(self.poll_s, busy * (1 / DUTY - 1)))
                self.wake.clear()
        except BaseException as error:  # recorded, never raised into the driver
            self.error = error
        finally:
            store.close()

    def _sweep(self, store: Store, final_all: bool) -> None:
        with self.lock:
            followed = list(self.followed.values())
        for item in followed:
            with item.lock:
                if not item.done:
                    limit = -1 if final_all else SWEEP_BYTES
                    try:
                        item.ingest(store, self.clock(), final=final_all, limit=limit)
                    except Exception as error:
                        self.error = error


def _has_files(folder: str | Path) -> bool:
    """Whether `folder` holds anything (most experiments write no artifacts)."""
    try:
        with os.scandir(folder) as entries:
            return next(entries, None) is not None
    except OSError:
        return False
