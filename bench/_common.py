"""What the benchmarks under bench/ share: checks, results and their table, the `grid` command,
the environment and timing of the subprocesses they start, and the machine they ran on.

Standard library only: gridrun's version is passed in. Not a benchmark: the
scripts import it as `_common`, which works because `python bench/X.py` puts the script's
folder, bench/, first on sys.path.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


class BenchError(RuntimeError):
    """An output that does not say what it should: the numbers would mean nothing."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise BenchError(message)


# -- options -----------------------------------------------------------------------------------


def argument_parser(doc: str, repeat: int, what: str = "rounds") -> argparse.ArgumentParser:
    """A parser described by the first paragraph of `doc`, with `--repeat` (timed `what`)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument(
        "--repeat", type=int, default=repeat, help=f"timed {what} (default {repeat})"
    )
    return parser


def parse_options(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    options = parser.parse_args(argv)
    if options.repeat < 1:
        parser.error("--repeat must be at least 1")
    return options


# -- running commands --------------------------------------------------------------------------


def grid_command() -> list[str]:
    """The `grid` console script beside this interpreter, or `python -m gridrun`."""
    script = Path(sys.executable).with_name("grid")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "gridrun"]


DROPPED_ENV = ("PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE")
"""Inherited settings that would skew the numbers (this project's dev shells set both):
unbuffered stdout makes one write syscall per `write()`, and no bytecode cache makes every
start compile gridrun from source."""


def subprocess_env(pycache: Path, **extra: str) -> dict[str, str]:
    """This process's environment less DROPPED_ENV, bytecode cached under `pycache` (never the
    source tree), and `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env.update(extra)
    return env


@dataclass(frozen=True)
class Timing:
    wall_s: float
    cpu_s: float
    """CPU time (user + system) of the command and every process it waited for."""
    exited: float = 0.0
    """`time.time()` as the command had exited."""


class ScratchRunner:
    """Runs commands in a scratch folder, their stdout to the file `out` there; the bytecode
    cache and GRIDRUN_HOMEs live there too."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.env = env
        self.out = folder / "stdout"
        self.homes = 0

    def fresh_home(self) -> Path:
        self.homes += 1
        return self.folder / f"home{self.homes}"

    def execute(
        self, command: list[str], env: Mapping[str, str] | None = None, stdin: str | None = None
    ) -> Timing:
        """Run `command` (stdout to `out`), check its exit code; return its timing. Its CPU
        time counts every descendant that was waited for (RUSAGE_CHILDREN): unlike the wall
        time, it hardly moves when other work shares the machine."""
        with self.out.open("w") as stdout:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            done = subprocess.run(
                command,
                input=stdin,
                stdout=stdout,
                stderr=subprocess.PIPE,
                text=True,
                cwd=self.folder,
                env=self.env if env is None else env,
            )
            elapsed = time.perf_counter() - start
            exited = time.time()
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
        check(done.returncode == 0, f"{command[:4]}... exited {done.returncode}: {done.stderr}")
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        return Timing(elapsed, cpu, exited)


# -- results -----------------------------------------------------------------------------------


@dataclass
class Result:
    case: str
    what: str
    times_s: list[float] = field(default_factory=list)
    note: str = ""
    cpu_s: list[float] = field(default_factory=list)
    """CPU time (user + system) of the command and every process it waited for."""

    def add(self, timing: Timing) -> None:
        self.times_s.append(timing.wall_s)
        self.cpu_s.append(timing.cpu_s)

    @property
    def median_s(self) -> float:
        return statistics.median(self.times_s)

    @property
    def min_s(self) -> float:
        return min(self.times_s)

    @property
    def cpu_median_s(self) -> float:
        return statistics.median(self.cpu_s)


def seconds(value: float) -> str:
    return f"{value:.3f} s" if value >= 1 else f"{value * 1000:.1f} ms"


def print_medians(results: list[Result]) -> None:
    """Each case's median, as progress on stderr."""
    for r in results:
        print(f"  {r.case}: median {seconds(r.median_s)}", file=sys.stderr)


def table(results: list[Result], repeat: int, cpu: bool = False) -> list[str]:
    """The markdown table of `results`; with `cpu`, a column of the median CPU time."""
    cpu_head, cpu_rule = (" CPU |", " ---: |") if cpu else ("", "")
    lines = [
        f"| case | what | median | min |{cpu_head} notes ({repeat} timed runs each) |",
        f"| --- | --- | ---: | ---: |{cpu_rule} --- |",
    ]
    for r in results:
        cpu_cell = f" {seconds(r.cpu_median_s)} |" if cpu else ""
        lines.append(
            f"| {r.case} | {r.what} | {seconds(r.median_s)} | {seconds(r.min_s)} |{cpu_cell}"
            f" {r.note} |"
        )
    return lines


# -- the machine -------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def subprocesses_line(note: str = "") -> str:
    return f"- subprocesses: {', '.join(DROPPED_ENV)} unset{note}; bytecode cached in a temp folder"


def machine_lines(gridrun_version: str, *more: str, python_note: str = "") -> list[str]:
    """The machine, Python and gridrun as markdown list items, then `more` items and the date."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        f"- CPU: {cpu_model()}, {usable} usable cores (os.cpu_count() = {os.cpu_count()})",
        f"- OS: {platform.platform()}",
        f"- Python: {platform.python_implementation()} {platform.python_version()}"
        f" ({sys.executable}){python_note}",
        f"- gridrun: {gridrun_version}; CLI run as `{' '.join(grid_command())}`",
        *more,
        f"- date: {datetime.date.today().isoformat()}",
    ]


def load_now(pressure: bool = False) -> str:
    """The 1-minute load average and, with `pressure` where the kernel has it, the CPU
    pressure (avg10)."""
    parts = []
    try:
        parts.append(f"load {Path('/proc/loadavg').read_text().split()[0]}")
    except OSError:
        return "load unknown"
    if pressure:
        try:
            some = Path("/proc/pressure/cpu").read_text().splitlines()[0]
            parts.append(f"CPU pressure {some.split()[1].split('=')[1]}%")
        except (OSError, IndexError):
            pass
    return ", ".join(parts)
