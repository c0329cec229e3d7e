"""What `grid run` shows while it runs: a live rich display on a terminal, plain lines (one
per event) anywhere else, and the same final summary, which lists failed experiments with
their exit code, log path and last lines.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable, Sequence
from typing import IO, Any

from gridrun.store.records import ExperimentRecord, RunRecord, State

SUMMARY_TAIL_LINES = 5
SUMMARY_MAX_FAILED = 10


class Reporter:
    """Told of every event of a drive. The base class reports nothing."""

    refresh_s: float = 3600.0

    def run_started(self, run: RunRecord, queued: int, parallel: int) -> None: ...

    def experiment_started(self, record: ExperimentRecord, gpus: str | None) -> None: ...

    def experiment_retrying(self, record: ExperimentRecord, attempt: int, why: str) -> None: ...

    def experiment_ended(
        self,
        record: ExperimentRecord,
        state: State,
        exit_code: int | None,
        signum: int | None,
        duration_s: float,
    ) -> None: ...

    def message(self, text: str) -> None: ...

    def run_ended(self, run: RunRecord, failed: Sequence[ExperimentRecord]) -> None:
        """The drive ended; `failed` are the run's failed and lost experiments."""


def describe_exit(exit_code: int | None, signum: int | None) -> str:
    if signum is not None:
        try:
            return f"killed by {signal.Signals(signum).name}"
        except ValueError:
            return f"killed by signal {signum}"
    return f"exit code {exit_code}" if exit_code is not None else ""


def format_duration(seconds: float | None) -> str:
    """`4.2s`, `3m05s`, `2h03m`."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def tail_lines(path: str, count: int) -> list[str]:
    """The last `count` lines of a file, reading only its end."""
    try:
        with open(path, "rb") as file:
            file.seek(0, 2)
            size = file.tell()
            file.seek(max(0, size - 64 * 1024))
            data = file.read()
    except OSError:
        return []
    lines = data.decode("utf-8", errors="replace").splitlines()
    return lines[-count:]


def summary_lines(run: RunRecord, experiments: Sequence[ExperimentRecord]) -> list[str]:
    """The final summary, as plain text lines (`experiments`: at least the failed and lost
    ones)."""
    counts = ", ".join(f"{run.count(state)} {state.value}" for state in State if run.count(state))
    took = format_duration((run.ended_at or time.time()) - (run.started_at or run.created_at))
    lines = [f"run {run.name} {run.state.value}: {counts} in {took}"]
    failed = [e for e in experiments if e.state in (State.FAILED, State.LOST)]
    for record in failed[:SUMMARY_MAX_FAILED]:
        how = record.reason or describe_exit(record.exit_code, record.signal)
        lines.append(f"  {record.state.value}: {record.name} ({how})  log: {record.log_path}")
        lines.extend(f"    | {line}" for line in tail_lines(record.log_path, SUMMARY_TAIL_LINES))
    if len(failed) > SUMMARY_MAX_FAILED:
        lines.append(
            f"  … and {len(failed) - SUMMARY_MAX_FAILED} more: grid status {run.name} "
            "--state failed"
        )
    if run.count(State.QUEUED) or failed or run.count(State.STOPPED) or run.count(State.PREEMPTED):
        lines.append(f"finish what did not succeed: grid resume {run.name}")
    return lines


def short_params(record: ExperimentRecord) -> str:
    return " ".join(f"{flag} {value}" for flag, value in record.params.items())


class PlainReporter(Reporter):
    """One line per event, for logs and pipes. The clock and the stream are injected."""

    def __init__(self, stream: IO[str], clock: Callable[[], float] = time.monotonic) -> None:
        self.stream: IO[str] | None = stream
        self.clock = clock
        self.start = clock()
        self.total = 0
        self.done = 0

    def _line(self, text: str) -> None:
        self._write(f"[{self.clock() - self.start:7.1f}s] {text}\n")

    def _write(self, text: str) -> None:
        """Write, unless the reader went away (`| head`): the sweep goes on regardless."""
        if self.stream is None:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            self.stream = None

    def run_started(self, run: RunRecord, queued: int, parallel: int) -> None:
        self.total = queued
        self._line(
            f"run {run.name} · seed {run.seed} · {queued} experiment(s), up to {parallel} at a time"
        )

    def experiment_started(self, record: ExperimentRecord, gpus: str | None) -> None:
        on = f" on GPU {gpus}" if gpus else ""
        self._line(f"started   {record.name}{on}  {short_params(record)}".rstrip())

    def experiment_retrying(self, record: ExperimentRecord, attempt: int, why: str) -> None:
        self._line(f"retrying  {record.name} (attempt {attempt + 1}) after {why}")

    def experiment_ended(
        self,
        record: ExperimentRecord,
        state: State,
        exit_code: int | None,
        signum: int | None,
        duration_s: float,
    ) -> None:
        self.done += 1
        how = (
            ""
            if state in (State.SUCCEEDED, State.PRUNED)
            else f" ({describe_exit(exit_code, signum)})"
        )
        self._line(
            f"{state.value:<9} {record.name} in {format_duration(duration_s)}{how} "
            f"[{self.done}/{self.total}]"
        )

    def message(self, text: str) -> None:
        self._line(text)

    def run_ended(self, run: RunRecord, failed: Sequence[ExperimentRecord]) -> None:
        self._write("".join(line + "\n" for line in summary_lines(run, failed)))


class RichReporter(Reporter):
    """A live display: a progress bar (done, running, failed, elapsed, ETA) and the running
    experiments."""

    refresh_s = 0.5

    def __init__(self, stream: IO[str]) -> None:
        from rich.console import Console

        self.console = Console(file=stream)
        self.live: Any = None
        self.running: dict[int, tuple[ExperimentRecord, float, str | None]] = {}
        self.succeeded = 0
        self.failed = 0
        self.other = 0

    def run_started(self, run: RunRecord, queued: int, parallel: int) -> None:
        from rich.live import Live
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.run = run
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[states]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
        )
        self.task = self.progress.add_task(run.name, total=queued, states="")
        self.console.print(
            f"run [cyan]{run.name}[/cyan] · seed {run.seed} · {queued} experiment(s), "
            f"up to {parallel} at a time"
        )
        self.live = Live(console=self.console, refresh_per_second=4, get_renderable=self._render)
        self.live.start()

    def _render(self) -> Any:
        from rich.console import Group
        from rich.table import Table

        states = f"[green]{self.succeeded} ok[/] [yellow]{len(self.running)} running[/]"
        if self.failed:
            states += f" [red]{self.failed} failed[/]"
        self.progress.update(self.task, states=states)
        table = Table.grid(padding=(0, 2))
        now = time.time()
        for record, started, gpus in list(self.running.values())[:10]:
            on = f"GPU {gpus}" if gpus else ""
            table.add_row(
                f"[dim]{record.name}[/]", format_duration(now - started), on, short_params(record)
            )
        if len(self.running) > 10:
            table.add_row(f"[dim]… {len(self.running) - 10} more running[/]", "", "", "")
        return Group(self.progress, table)

    def _refresh(self) -> None:
        if self.live is not None:
            self.live.refresh()

    def experiment_started(self, record: ExperimentRecord, gpus: str | None) -> None:
        self.running[record.id] = (record, time.time(), gpus)
        self._refresh()

    def experiment_retrying(self, record: ExperimentRecord, attempt: int, why: str) -> None:
        self.running.pop(record.id, None)
        self.console.print(f"[yellow]retrying[/] {record.name} (attempt {attempt + 1}): {why}")
        self._refresh()

    def experiment_ended(
        self,
        record: ExperimentRecord,
        state: State,
        exit_code: int | None,
        signum: int | None,
        duration_s: float,
    ) -> None:
        self.running.pop(record.id, None)
        if state is State.SUCCEEDED:
            self.succeeded += 1
        elif state in (State.FAILED, State.LOST):
            self.failed += 1
            self.console.print(f"[red]failed[/] {record.name} ({describe_exit(exit_code, signum)})")
        else:
            self.other += 1
        self.progress.advance(self.task)
        self._refresh()

    def message(self, text: str) -> None:
        self.console.print(f"[yellow]{text}[/]")

    def run_ended(self, run: RunRecord, failed: Sequence[ExperimentRecord]) -> None:
        if self.live is not None:
            with contextlib.suppress(Exception):
                self.live.refresh()
            self.live.stop()
            self.live = None
        lines = summary_lines(run, failed)
        style = "green" if run.state.value == "succeeded" else "red"
        self.console.print(f"[{style}]{lines[0]}[/]", highlight=False)
        for line in lines[1:]:
            self.console.print(line, highlight=False, markup=False)
