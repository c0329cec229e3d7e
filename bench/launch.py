"""Launch benchmark: what `grid run` costs over the bare launch of its experiments, and how
fast the readers are on a big store.

Run by hand, never as a test:

    .venv/bin/python bench/launch.py [--repeat N] [--only launch|status]

Launch (one untimed round to warm caches, then `--repeat` rounds, the tools interleaved
within each round: xargs, parallel, grid, xargs, parallel, grid, ...; median and min):

  xargs     `xargs -P2 -n1 PY trivial.py --x` fed 0..99: 100 experiments, 2 at a time (floor);
  parallel  `parallel --will-cite -j2 PY trivial.py --x` fed the same 100 lines;
  grid      `grid run --max_parallel 2 --name N trivial.py --x "range(100)"`, plain output
            to a file, checked afterwards with `grid --output json status N` (100
            experiments, all succeeded, exit code 0); every round records into the same
            GRIDRUN_HOME, as a user's runs do (the untimed first round creates the store:
            a new store costs ~15 ms more, once);
  grid 1    `grid run --name N trivial.py` (a single experiment, same GRIDRUN_HOME, checked
            the same way) against
  python 1  `PY trivial.py` run once: the difference is grid's fixed start-up cost.

`trivial.py` is `import sys` and nothing else; PY is `sys.executable`, never a `python3`
found on PATH. Besides wall time, each case reports its CPU time (user + system, the command
and every process it waited for, from RUSAGE_CHILDREN): on a small, shared machine the wall
time moves with other work, the CPU time much less, and grid's CPU time over xargs's is what
the driver itself costs.

Status (a store made in-process through the Store API, then each reader timed as a
subprocess, once untimed, then `--repeat` times):

  `big`       10,000 experiments, all succeeded;
  `big-live`  10,000 experiments, driven by this process (alive): 5,000 succeeded, 2 running,
              the rest queued, so that `grid status` has a run in progress to show;
  100 small runs of 100 experiments each, so that `grid history` lists 102 runs.

Timed: `grid status big` (table), `grid --output json status big`, `grid status` (runs in
progress), `grid history`, and `grid --help` as the floor of any `grid` command.

Standard library only, besides gridrun (and the xargs and GNU parallel programs).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import _common as common
from _common import Result, ScratchRunner, Timing, check

import gridrun
from gridrun.paths import LOG_NAME, experiment_dir
from gridrun.processes import this_driver
from gridrun.store import NewExperiment, NewRun, RunState, SQLiteStore, State, open_store

EXPERIMENTS = 100
PARALLEL = 2
BIG = 10_000
SMALL_RUNS = 100
SMALL_SIZE = 100
TRIVIAL = "trivial.py"
TRIVIAL_SOURCE = "import sys\n"
MINIMAL_LAUNCHER = "minimal_launcher.py"
MINIMAL_LAUNCHER_SOURCE = """\
# The least a Python launcher does: read the values, start each command with subprocess,
# at most JOBS at a time, wait for them. No store, no logs, no checks. With --click it first
# imports click, as a click CLI does before it parses anything.
import os, subprocess, sys
jobs, with_click, command = int(sys.argv[1]), sys.argv[2] == "--click", sys.argv[3:]
if with_click:
    import click  # noqa: F401
running, started = 0, []  # kept: a collected Popen would reap its child itself
for line in sys.stdin:
    if running == jobs:
        os.wait()
        running -= 1
    started.append(subprocess.Popen([*command, line.strip()], stdin=subprocess.DEVNULL))
    running += 1
while running:
    os.wait()
    running -= 1
"""
GOAL_RATIO = 1.1


class Runner(ScratchRunner):
    """Runs commands in a scratch folder: GRIDRUN_HOME and the bytecode cache live there."""

    def __init__(self, folder: Path) -> None:
        home = str(folder / "home")
        super().__init__(folder, common.subprocess_env(folder / "pycache", GRIDRUN_HOME=home))

    def run(
        self, command: list[str], stdin: str | None = None, home: str | None = None
    ) -> tuple[Timing, Path]:
        """Run `command` (stdout to a file), check its exit code; return its timing (wall and
        CPU time, see `ScratchRunner.execute`) and the file."""
        env = self.env if home is None else {**self.env, "GRIDRUN_HOME": home}
        return self.execute(command, env, stdin), self.out

    def json(self, command: list[str], home: str | None = None) -> dict:
        _, path = self.run(command, home=home)
        return json.loads(path.read_text())


# -- launch ------------------------------------------------------------------------------------


def check_grid_run(runner: Runner, home: str, name: str, count: int) -> None:
    data = runner.json([*common.grid_command(), "--output", "json", "status", name], home=home)
    check(data["state"] == "succeeded", f"run {name} is {data['state']}")
    check(data["num_experiments"] == count, f"{data['num_experiments']} experiments")
    check(data["counts"]["succeeded"] == count, f"counts {data['counts']}")
    experiments = data["experiments"]
    check(len(experiments) == count, f"{len(experiments)} experiments listed")
    check(all(e["exit_code"] == 0 for e in experiments), "an experiment did not exit 0")
    if count > 1:
        values = sorted(int(e["params"]["--x"]) for e in experiments)
        check(values == list(range(count)), "not every --x from 0 to 99 ran")
    same = all(os.path.samefile(e["command"][0], sys.executable) for e in experiments)
    check(same, "an experiment did not run under gridrun's own interpreter")


def launch_cases(runner: Runner) -> list[tuple[Result, Callable[[str], Timing]]]:
    """The cases of the launch benchmark: each a Result and a timed, checked piece of work."""
    python = sys.executable
    numbers = "".join(f"{i}\n" for i in range(EXPERIMENTS))
    grid = common.grid_command()
    parallel = shutil.which("parallel")

    def xargs(_: str) -> Timing:
        command = ["xargs", f"-P{PARALLEL}", "-n1", python, TRIVIAL, "--x"]
        return runner.run(command, stdin=numbers)[0]

    def gnu_parallel(_: str) -> Timing:
        assert parallel is not None
        command = [parallel, "--will-cite", f"-j{PARALLEL}", python, TRIVIAL, "--x"]
        return runner.run(command, stdin=numbers)[0]

    warm_home = str(runner.fresh_home())  # one store, as a user has: made by the first round

    def grid_run(name: str) -> Timing:
        home = warm_home
        command = [*grid, "run", "--max_parallel", str(PARALLEL), "--name", name]
        timing, out = runner.run([*command, TRIVIAL, "--x", f"range({EXPERIMENTS})"], home=home)
        check(f"{EXPERIMENTS} succeeded" in out.read_text(), "no summary in grid's output")
        check_grid_run(runner, home, name, EXPERIMENTS)
        return timing

    def grid_one(name: str) -> Timing:
        home = warm_home
        timing, _ = runner.run([*grid, "run", "--name", name, TRIVIAL], home=home)
        check_grid_run(runner, home, name, 1)
        return timing

    def python_one(_: str) -> Timing:
        return runner.run([python, TRIVIAL])[0]

    def minimal(with_click: bool) -> Callable[[str], Timing]:
        flag = "--click" if with_click else "--bare"
        command = [python, MINIMAL_LAUNCHER, str(PARALLEL), flag, python, TRIVIAL, "--x"]
        return lambda _: runner.run(command, stdin=numbers)[0]

    cases = [
        (Result("xargs", f"`xargs -P{PARALLEL} -n1`, {EXPERIMENTS} runs of trivial.py"), xargs),
    ]
    if parallel is None:
        print("  GNU parallel not found: apt-get install parallel", file=sys.stderr)
    else:
        what = f"GNU `parallel --will-cite -j{PARALLEL}`, the same {EXPERIMENTS} commands"
        cases.append((Result("parallel", what), gnu_parallel))
    what = "the least a Python launcher does (subprocess, 2 at a time, nothing recorded)"
    cases.append((Result("py minimal", what), minimal(False)))
    cases.append((Result("py+click", "the same, after `import click`"), minimal(True)))
    what = f'`grid run --max_parallel {PARALLEL} trivial.py --x "range({EXPERIMENTS})"`'
    cases += [
        (Result("grid", what), grid_run),
        (Result("grid 1", "`grid run trivial.py`: one experiment"), grid_one),
        (Result("python 1", "`python trivial.py` once, same interpreter"), python_one),
    ]
    return cases


def run_launch(repeat: int, folder: Path) -> list[Result]:
    runner = Runner(folder)
    (folder / TRIVIAL).write_text(TRIVIAL_SOURCE)
    (folder / MINIMAL_LAUNCHER).write_text(MINIMAL_LAUNCHER_SOURCE)
    cases = launch_cases(runner)
    for round_number in range(repeat + 1):  # round 0: warm-up, untimed
        for result, work in cases:
            timing = work(f"bench-{result.case.replace(' ', '')}-{round_number}")
            if round_number:
                result.add(timing)
    results = [result for result, _ in cases]
    by_case = {r.case: r for r in results}
    floor = by_case["xargs"]
    for case in ("xargs", "parallel", "py minimal", "py+click", "grid"):
        if case in by_case:
            r = by_case[case]
            r.note = (
                f"{r.median_s / floor.median_s:.2f}× xargs; CPU "
                f"{r.cpu_median_s / floor.cpu_median_s:.2f}× xargs"
            )
    grid, one, bare = by_case["grid"], by_case["grid 1"], by_case["python 1"]
    fixed_s = one.median_s - bare.median_s
    fixed_cpu_s = one.cpu_median_s - bare.cpu_median_s
    extra_ms = (grid.median_s - floor.median_s - fixed_s) / EXPERIMENTS * 1e3
    extra_cpu_ms = (grid.cpu_median_s - floor.cpu_median_s - fixed_cpu_s) / EXPERIMENTS * 1e3
    grid.note += (
        f"; less the fixed cost: +{extra_ms:.1f} ms wall, +{extra_cpu_ms:.1f} ms CPU per experiment"
    )
    one.note = (
        f"fixed cost: +{fixed_s * 1e3:.0f} ms wall, +{fixed_cpu_s * 1e3:.0f} ms CPU over `python 1`"
    )
    bare.note = "the floor of one experiment"
    common.print_medians(results)
    return results


# -- status on a big store -------------------------------------------------------------------------


def new_run(name: str, size: int, folder: Path, home: Path) -> tuple[NewRun, list, list[str]]:
    args = ["--x", f"range({size})"]
    run = NewRun(
        name=name,
        invocation=["grid", "run", "--name", name, TRIVIAL, *args],
        script=TRIVIAL,
        script_args=args,
        space={"--x": f"range({size})"},
        strategy="grid_search",
        seed=1,
        num_trials=None,
        options={"max_parallel": PARALLEL},
        cwd=str(folder),
    )
    experiments = [
        NewExperiment(
            index,
            f"{name}-exp{index}",
            {"--x": str(index)},
            ["--x", str(index)],
            [sys.executable, TRIVIAL, "--x", str(index)],
        )
        for index in range(size)
    ]
    logs = [str(experiment_dir(name, e.name, home) / LOG_NAME) for e in experiments]
    return run, experiments, logs


SUCCEEDED_SQL = (
    f"UPDATE experiments SET state = '{State.SUCCEEDED.value}', exit_code = 0, attempts = 1, "
    "pid = 4242 + idx, started_at = ? + idx * 0.01, ended_at = ? + idx * 0.01 + 0.005 "
    "WHERE run_id = ? AND idx < ?"
)
RUNNING_SQL = (
    f"UPDATE experiments SET state = '{State.RUNNING.value}', attempts = 1, pid = ?, "
    "started_at = ? WHERE run_id = ? AND idx IN (?, ?)"
)


def execute_in_one_transaction(store: SQLiteStore, *statements: tuple[str, tuple]) -> None:
    """Direct SQL, as one write transaction (the Store API writes one experiment at a time)."""
    db = store.connection
    db.execute("BEGIN IMMEDIATE")
    try:
        for sql, parameters in statements:
            db.execute(sql, parameters)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def make_store(folder: Path, home: Path) -> float:
    """Record the runs of the status benchmark straight into the store; return seconds."""
    start = time.perf_counter()
    store = open_store(home)
    driver = this_driver()
    now = time.time() - 3600
    for number in range(SMALL_RUNS):
        created = now - 86400 + number * 60
        planned = new_run(f"small-{number:03d}", SMALL_SIZE, folder, home)
        record = store.create_run(*planned, created)
        store.claim_run(record.id, driver, created)
        done = (created, created, record.id, SMALL_SIZE)
        execute_in_one_transaction(store, (SUCCEEDED_SQL, done))
        store.finish_run(record.id, RunState.SUCCEEDED, created + 1.0)
    big = store.create_run(*new_run("big", BIG, folder, home), now)
    store.claim_run(big.id, driver, now)
    execute_in_one_transaction(store, (SUCCEEDED_SQL, (now, now, big.id, BIG)))
    store.finish_run(big.id, RunState.SUCCEEDED, now + BIG * 0.01)
    live_at = now + BIG * 0.01 + 60
    live = store.create_run(*new_run("big-live", BIG, folder, home), live_at)
    store.claim_run(live.id, driver, live_at)  # this process: alive, so not marked lost
    half = BIG // 2
    execute_in_one_transaction(
        store,
        (SUCCEEDED_SQL, (live_at, live_at, live.id, half)),
        (RUNNING_SQL, (os.getpid(), time.time(), live.id, half, half + 1)),
    )
    store.close()
    return time.perf_counter() - start


def run_status(repeat: int, folder: Path) -> tuple[list[Result], str]:
    runner = Runner(folder)
    home = folder / "home"
    (folder / TRIVIAL).write_text(TRIVIAL_SOURCE)
    (folder / MINIMAL_LAUNCHER).write_text(MINIMAL_LAUNCHER_SOURCE)
    made_s = make_store(folder, home)
    size_mb = sum(p.stat().st_size for p in home.glob("gridrun.db*")) / 1e6
    store_note = (
        f"{SMALL_RUNS + 2} runs, {BIG * 2 + SMALL_RUNS * SMALL_SIZE:,} experiments, "
        f"{size_mb:.1f} MB, recorded in-process in {made_s:.2f} s"
    )
    grid = common.grid_command()

    def table_big(path: Path) -> None:
        text = path.read_text()
        check("big" in text and "succeeded 10000" in text, "header lacks the counts")
        check("big-exp0 " in text and "big-exp99 " in text, "first rows missing")
        check("9,900 not shown" in text, "the rest is not elided")

    def json_big(path: Path) -> None:
        data = json.loads(path.read_text())
        experiments = data["experiments"]
        check(len(experiments) == BIG, f"{len(experiments)} experiments")
        check(all(e["state"] == "succeeded" for e in experiments), "not all succeeded")
        check(data["counts"]["succeeded"] == BIG, f"counts {data['counts']}")

    def in_progress(path: Path) -> None:
        text = path.read_text()
        check("big-live" in text and "runs in progress" in text, "big-live not in progress")
        check("small-000" not in text, "a finished run shown as in progress")

    def history(path: Path) -> None:
        text = path.read_text()
        check(all(n in text for n in ("big-live", "big ", "small-000", "small-099")), "runs")

    def usage(path: Path) -> None:
        check("Usage" in path.read_text(), "no usage in --help")

    cases = [
        (
            "status big",
            "`grid status big` (table: 100 of 10,000 rows)",
            ["status", "big"],
            table_big,
        ),
        (
            "status big json",
            "`grid --output json status big` (all 10,000)",
            ["--output", "json", "status", "big"],
            json_big,
        ),
        ("status", "`grid status` (runs in progress)", ["status"], in_progress),
        ("history", f"`grid history` ({SMALL_RUNS + 2} runs)", ["history"], history),
        ("help", "`grid --help`: the floor of any `grid` command", ["--help"], usage),
    ]
    results = [Result(case, what) for case, what, _, _ in cases]
    for round_number in range(repeat + 1):  # round 0: warm-up, untimed
        for result, (_, _, args, verify) in zip(results, cases, strict=True):
            timing, out = runner.run([*grid, *args])
            verify(out)
            if round_number:
                result.add(timing)
    floor = results[-1].median_s
    for r in results[:-1]:
        r.note = f"+{(r.median_s - floor) * 1e3:.0f} ms over `grid --help`"
    common.print_medians(results)
    return results, store_note


# -- reporting -------------------------------------------------------------------------------------


def tool_version(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        return f"{program}: not found"
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return program
    lines = done.stdout.splitlines()
    return lines[0] if lines else program


def verdict(results: list[Result]) -> str:
    by_case = {r.case: r for r in results}
    grid, floor = by_case["grid"].median_s, by_case["xargs"].median_s
    ratio = grid / floor
    met = "met" if ratio <= GOAL_RATIO else "MISSED"
    cpu_ratio = by_case["grid"].cpu_median_s / by_case["xargs"].cpu_median_s
    parts = [f"grid/xargs = {ratio:.2f} (goal ≤ {GOAL_RATIO}: {met}; CPU {cpu_ratio:.2f})"]
    if "parallel" in by_case:
        other = by_case["parallel"].median_s
        parts.append(f"grid/parallel = {grid / other:.2f} ({'below' if grid < other else 'ABOVE'})")
    return "; ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = common.argument_parser(__doc__, 7)
    parser.add_argument("--only", choices=["launch", "status"], help="run only one section")
    options = common.parse_options(parser, argv)
    started = time.perf_counter()
    load_before = common.load_now(pressure=True)
    sections: list[str] = []
    if options.only in (None, "launch"):
        with tempfile.TemporaryDirectory(prefix="gridrun-bench-") as folder:
            results = run_launch(options.repeat, Path(folder))
        sections += ["## Launch overhead\n", *common.table(results, options.repeat, cpu=True)]
        sections += ["", verdict(results)]
    if options.only in (None, "status"):
        with tempfile.TemporaryDirectory(prefix="gridrun-bench-") as folder:
            results, note = run_status(options.repeat, Path(folder))
        sections += ["", "## Status on a big store\n", f"Store: {note}.\n"]
        sections += common.table(results, options.repeat, cpu=True)
    tools = f"- tools: {tool_version('xargs')}; {tool_version('parallel')}"
    print("\n".join(common.machine_lines(gridrun.__version__, tools, common.subprocesses_line())))
    load_after = common.load_now(pressure=True)
    print(f"- machine load: {load_before} before; {load_after} after (counting this benchmark)")
    print()
    print("\n".join(sections).strip())
    print(f"\n(benchmark took {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
