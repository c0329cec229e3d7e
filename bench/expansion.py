"""Expansion benchmark: how long a sweep takes to expand and show, through the CLI and not.

Run by hand, never as a test:

    .venv/bin/python bench/expansion.py [--repeat N] [--profile]

Cases (each run once untimed to warm caches, then `--repeat` times; median and min reported):

  a. `grid --output json run --dry_run` of a 100,000-experiment grid, as a subprocess
     (the whole CLI), its JSON written to a temporary file, parsed and checked;
  b. the same expansion in-process: `plan_sweep` and iterating every experiment, without
     and then with the JSON writer (to a null stream), to tell expansion from CLI and JSON;
  c. `--strategy random_search --num_trials 1000 --seed 1` over 10^18 combinations, as a
     subprocess, checked for 1000 distinct experiments in grid order;
  d. the table (non-JSON) dry run of the 100,000 grid, as a subprocess (middle elided);
  e. `grid --help` startup, and `python -c pass` with the same interpreter as the floor.

Standard library only, besides gridrun. Every interpreter started is `sys.executable`.
`--profile` also prints a cProfile of the in-process JSON dry run of case b.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import io
import itertools
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gridrun
from gridrun.cli.render import write_dry_run_json
from gridrun.sweep import SweepRequest, plan_sweep

SCRIPT = "train.py"  # need not exist: a dry run launches nothing
GRID_ARGS = ("--a", "range(100)", "--b", "range(100)", "--c", "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]")
GRID_SIZE = 100 * 100 * 10
RANDOM_ARGS = tuple(item for flag in "abcdef" for item in (f"--{flag}", "range(1000)"))
RANDOM_TRIALS = 1000


class BenchError(RuntimeError):
    """An output that does not say what it should: the numbers would mean nothing."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise BenchError(message)


@dataclass
class Result:
    case: str
    what: str
    times_s: list[float]
    note: str = ""

    @property
    def median_s(self) -> float:
        return statistics.median(self.times_s)

    @property
    def min_s(self) -> float:
        return min(self.times_s)


def grid_command() -> list[str]:
    """The `grid` console script beside this interpreter, or `python -m gridrun`."""
    script = Path(sys.executable).with_name("grid")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "gridrun"]


def measure(
    repeat: int, work: Callable[[], object], verify: Callable[[object], None]
) -> list[float]:
    """Run `work` once untimed and `repeat` times timed; `verify` each output, untimed."""
    verify(work())
    times: list[float] = []
    for _ in range(repeat):
        start = time.perf_counter()
        output = work()
        times.append(time.perf_counter() - start)
        verify(output)
    return times


DROPPED_ENV = ("PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE")
"""Inherited settings that would skew the numbers (this project's dev shells set both):
unbuffered stdout makes one write syscall per `write()`, and no bytecode cache makes every
start compile gridrun from source. Case a is also run with PYTHONUNBUFFERED=1, as many
containers and CI jobs set it."""


class Runner:
    """Runs commands in a scratch folder: GRIDRUN_HOME and the bytecode cache live there."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
        self.env["GRIDRUN_HOME"] = str(folder / "home")
        self.env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")  # never the source tree
        self.out = folder / "stdout"

    def to_file(self, command: list[str], **extra_env: str) -> Callable[[], Path]:
        """Work that runs `command` with its stdout in a file and returns the file."""
        env = {**self.env, **extra_env}

        def work() -> Path:
            with self.out.open("w") as stdout:
                done = subprocess.run(
                    command,
                    stdout=stdout,
                    stderr=subprocess.PIPE,
                    text=True,
                    cwd=self.folder,
                    env=env,
                )
            check(done.returncode == 0, f"{command[:4]}... exited {done.returncode}: {done.stderr}")
            return self.out

        return work


def verify_grid_json(path: object) -> None:
    assert isinstance(path, Path)
    with path.open() as stream:
        data = json.load(stream)
    experiments = data["experiments"]
    check(data["num_experiments"] == GRID_SIZE, f"num_experiments is {data['num_experiments']}")
    check(len(experiments) == GRID_SIZE, f"{len(experiments)} experiments, not {GRID_SIZE}")
    check(experiments[0]["params"] == {"--a": "0", "--b": "0", "--c": "1"}, "first is wrong")
    check(experiments[-1]["params"] == {"--a": "99", "--b": "99", "--c": "10"}, "last is wrong")
    check(experiments[-1]["command"][0] == sys.executable, "a .py runs under sys.executable")


def verify_random_json(path: object) -> None:
    assert isinstance(path, Path)
    data = json.loads(path.read_text())
    experiments = data["experiments"]
    check(len(experiments) == RANDOM_TRIALS, f"{len(experiments)} experiments")
    check(data["seed"] == 1, f"seed {data['seed']}")
    keys = [tuple(int(v) for v in e["params"].values()) for e in experiments]
    check(all(len(k) == 6 for k in keys), "six swept flags expected")
    check(all(a < b for a, b in itertools.pairwise(keys)), "not distinct and in grid order")
    check([e["index"] for e in experiments] == list(range(RANDOM_TRIALS)), "indices")


def verify_table(path: object) -> None:
    assert isinstance(path, Path)
    text = path.read_text()
    check(f"{GRID_SIZE:,} experiments" in text, "table lacks its count")
    check(f"{GRID_SIZE - 50:,} more" in text, "table does not elide the middle")
    check(len(text.splitlines()) < 100, f"table has {len(text.splitlines())} lines")


def verify_help(path: object) -> None:
    assert isinstance(path, Path)
    check("Usage" in path.read_text(), "no usage in --help")


def verify_nothing(_: object) -> None:
    return None


def in_process_plan():
    return plan_sweep(SweepRequest(SCRIPT, GRID_ARGS), "bench-run", 1)


def in_process_iterate() -> int:
    return sum(1 for _ in in_process_plan())


def in_process_json() -> int:
    stream = io.StringIO()
    write_dry_run_json(in_process_plan(), stream)
    return len(stream.getvalue())


def verify_count(count: object) -> None:
    check(count == GRID_SIZE, f"{count} experiments, not {GRID_SIZE}")


def verify_json_length(length: object) -> None:
    check(isinstance(length, int) and length > GRID_SIZE * 100, f"JSON of {length} chars")


def run_cases(repeat: int, folder: Path) -> list[Result]:
    runner = Runner(folder)
    grid = grid_command()
    json_run = [*grid, "--output", "json", "run", "--dry_run"]
    per_exp = "{:.1f} µs per experiment"
    results: list[Result] = []

    def add(case: str, what: str, times: list[float], note: str = "") -> None:
        results.append(Result(case, what, times, note))
        print(f"  {case}: median {statistics.median(times):.3f} s", file=sys.stderr)

    times = measure(repeat, runner.to_file([*json_run, SCRIPT, *GRID_ARGS]), verify_grid_json)
    size_mb = runner.out.stat().st_size / 1e6
    add(
        "a",
        "CLI JSON dry run, 100,000-experiment grid (subprocess)",
        times,
        f"{per_exp.format(statistics.median(times) / GRID_SIZE * 1e6)}; {size_mb:.1f} MB JSON",
    )
    unbuffered = runner.to_file([*json_run, SCRIPT, *GRID_ARGS], PYTHONUNBUFFERED="1")
    times = measure(repeat, unbuffered, verify_grid_json)
    add(
        "a unbuf",
        "case a with PYTHONUNBUFFERED=1 (subprocess)",
        times,
        per_exp.format(statistics.median(times) / GRID_SIZE * 1e6),
    )
    times = measure(repeat, in_process_iterate, verify_count)
    add(
        "b",
        "in-process `plan_sweep` + iterate all 100,000 experiments",
        times,
        per_exp.format(statistics.median(times) / GRID_SIZE * 1e6),
    )
    times = measure(repeat, in_process_json, verify_json_length)
    add(
        "b+json",
        "in-process `plan_sweep` + `write_dry_run_json` to a StringIO",
        times,
        per_exp.format(statistics.median(times) / GRID_SIZE * 1e6),
    )
    random_run = [*json_run, "--strategy", "random_search", "--num_trials", str(RANDOM_TRIALS)]
    random_work = runner.to_file([*random_run, "--seed", "1", SCRIPT, *RANDOM_ARGS])
    times = measure(repeat, random_work, verify_random_json)
    add("c", "CLI JSON random_search, 1,000 of 10^18 (subprocess)", times)
    times = measure(
        repeat, runner.to_file([*grid, "run", "--dry_run", SCRIPT, *GRID_ARGS]), verify_table
    )
    add("d", "CLI table dry run, 100,000-experiment grid (subprocess)", times, "50 rows shown")
    times = measure(repeat, runner.to_file([*grid, "--help"]), verify_help)
    add("e", "`grid --help` (subprocess)", times)
    times = measure(repeat, runner.to_file([sys.executable, "-c", "pass"]), verify_nothing)
    add("e floor", "`python -c pass`, same interpreter (subprocess)", times, "the floor")
    return results


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_lines() -> list[str]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        f"- CPU: {cpu_model()}, {usable} usable cores (os.cpu_count() = {os.cpu_count()})",
        f"- OS: {platform.platform()}",
        f"- Python: {platform.python_implementation()} {platform.python_version()}"
        f" ({sys.executable})",
        f"- gridrun: {gridrun.__version__}; CLI run as `{' '.join(grid_command())}`",
        f"- subprocesses: {', '.join(DROPPED_ENV)} unset; bytecode cached in a temp folder",
        f"- date: {datetime.date.today().isoformat()}",
    ]


def table(results: list[Result], repeat: int) -> list[str]:
    lines = [
        f"| case | what | median | min | notes ({repeat} timed runs each) |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r.case} | {r.what} | {seconds(r.median_s)} | {seconds(r.min_s)} | {r.note} |"
        )
    return lines


def seconds(value: float) -> str:
    return f"{value:.3f} s" if value >= 1 else f"{value * 1000:.1f} ms"


def profile() -> None:
    profiler = cProfile.Profile()
    profiler.runcall(in_process_json)
    print("\n## cProfile: in-process JSON dry run of the 100,000 grid\n\n```")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(15)
    print("```")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per case (default 5)")
    parser.add_argument("--profile", action="store_true", help="also cProfile case b+json")
    options = parser.parse_args(argv)
    if options.repeat < 1:
        parser.error("--repeat must be at least 1")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gridrun-bench-") as folder:
        results = run_cases(options.repeat, Path(folder))
    print("## Expansion\n")
    print("\n".join(machine_lines()))
    print()
    print("\n".join(table(results, options.repeat)))
    print(f"\n(benchmark took {time.perf_counter() - started:.0f} s)")
    if options.profile:
        profile()
    return 0


if __name__ == "__main__":
    sys.exit(main())
