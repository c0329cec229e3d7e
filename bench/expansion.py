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

import cProfile
import io
import itertools
import json
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import _common as common
from _common import Result, ScratchRunner, check

import gridrun
from gridrun.cli.render import write_dry_run_json
from gridrun.sweep import SweepRequest, plan_sweep

SCRIPT = "train.py"  # need not exist: a dry run launches nothing
GRID_ARGS = ("--a", "range(100)", "--b", "range(100)", "--c", "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]")
GRID_SIZE = 100 * 100 * 10
RANDOM_ARGS = tuple(item for flag in "abcdef" for item in (f"--{flag}", "range(1000)"))
RANDOM_TRIALS = 1000


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


class Runner(ScratchRunner):
    """Runs commands in a scratch folder: GRIDRUN_HOME and the bytecode cache live there.
    Case a is also run with PYTHONUNBUFFERED=1 (otherwise dropped, see DROPPED_ENV), as many
    containers and CI jobs set it."""

    def __init__(self, folder: Path) -> None:
        home = str(folder / "home")
        super().__init__(folder, common.subprocess_env(folder / "pycache", GRIDRUN_HOME=home))

    def to_file(self, command: list[str], **extra_env: str) -> Callable[[], Path]:
        """Work that runs `command` with its stdout in a file and returns the file."""
        env = {**self.env, **extra_env}

        def work() -> Path:
            self.execute(command, env)
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


Notes = Callable[[list[float]], str]
"""A case's note in the table, from its times."""


def run_cases(repeat: int, folder: Path) -> list[Result]:
    runner = Runner(folder)
    grid = common.grid_command()
    json_run = [*grid, "--output", "json", "run", "--dry_run"]
    random_run = [*json_run, "--strategy", "random_search", "--num_trials", str(RANDOM_TRIALS)]

    def per_experiment(times: list[float]) -> str:
        return f"{statistics.median(times) / GRID_SIZE * 1e6:.1f} µs per experiment"

    def with_size(times: list[float]) -> str:
        return f"{per_experiment(times)}; {runner.out.stat().st_size / 1e6:.1f} MB JSON"

    def note(text: str) -> Notes:
        return lambda _: text

    # case, what, work, verify, and its note from its times
    cases: list[tuple[str, str, Callable[[], object], Callable[[object], None], Notes]] = [
        (
            "a",
            "CLI JSON dry run, 100,000-experiment grid (subprocess)",
            runner.to_file([*json_run, SCRIPT, *GRID_ARGS]),
            verify_grid_json,
            with_size,
        ),
        (
            "a unbuf",
            "case a with PYTHONUNBUFFERED=1 (subprocess)",
            runner.to_file([*json_run, SCRIPT, *GRID_ARGS], PYTHONUNBUFFERED="1"),
            verify_grid_json,
            per_experiment,
        ),
        (
            "b",
            "in-process `plan_sweep` + iterate all 100,000 experiments",
            in_process_iterate,
            verify_count,
            per_experiment,
        ),
        (
            "b+json",
            "in-process `plan_sweep` + `write_dry_run_json` to a StringIO",
            in_process_json,
            verify_json_length,
            per_experiment,
        ),
        (
            "c",
            "CLI JSON random_search, 1,000 of 10^18 (subprocess)",
            runner.to_file([*random_run, "--seed", "1", SCRIPT, *RANDOM_ARGS]),
            verify_random_json,
            note(""),
        ),
        (
            "d",
            "CLI table dry run, 100,000-experiment grid (subprocess)",
            runner.to_file([*grid, "run", "--dry_run", SCRIPT, *GRID_ARGS]),
            verify_table,
            note("50 rows shown"),
        ),
        (
            "e",
            "`grid --help` (subprocess)",
            runner.to_file([*grid, "--help"]),
            verify_help,
            note(""),
        ),
        (
            "e floor",
            "`python -c pass`, same interpreter (subprocess)",
            runner.to_file([sys.executable, "-c", "pass"]),
            verify_nothing,
            note("the floor"),
        ),
    ]
    results: list[Result] = []
    for case, what, work, verify, notes in cases:
        times = measure(repeat, work, verify)
        results.append(Result(case, what, times, notes(times)))
        print(f"  {case}: median {statistics.median(times):.3f} s", file=sys.stderr)
    return results


def profile() -> None:
    profiler = cProfile.Profile()
    profiler.runcall(in_process_json)
    print("\n## cProfile: in-process JSON dry run of the 100,000 grid\n\n```")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(15)
    print("```")


def main(argv: list[str] | None = None) -> int:
    parser = common.argument_parser(__doc__, 5, "runs per case")
    parser.add_argument("--profile", action="store_true", help="also cProfile case b+json")
    options = common.parse_options(parser, argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gridrun-bench-") as folder:
        results = run_cases(options.repeat, Path(folder))
    print("## Expansion\n")
    print("\n".join(common.machine_lines(gridrun.__version__, common.subprocesses_line())))
    print()
    print("\n".join(common.table(results, options.repeat)))
    print(f"\n(benchmark took {time.perf_counter() - started:.0f} s)")
    if options.profile:
        profile()
    return 0


if __name__ == "__main__":
    sys.exit(main())
