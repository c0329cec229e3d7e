"""Metric ingestion benchmark: does following a chatty experiment's output slow it, and is
every metric line recorded?

Run by hand, never as a test:

    .venv/bin/python bench/ingest.py [--repeat N] [--lines N] [--profile]

The goal (from the issue): a script printing 200,000 metric lines is not slowed by more than
20% against running it with its output sent to a file, and nothing is dropped.

`emit.py`, written to a temporary folder, prints `--lines` lines (default 200,000) of the form
`step=i loss=... acc=...` (three varying numbers a line), flushes, records its own start and
end (`time.time()`, to the file named by EMIT_TIMES) and exits. One untimed round to warm
caches, then `--repeat` rounds (default 5), the cases interleaved within each round:

  direct buf    `PY emit.py > file`, PYTHONUNBUFFERED unset;
  direct unbuf  the same with PYTHONUNBUFFERED=1: the fair baseline, since gridrun sets
                PYTHONUNBUFFERED=1 for its experiments unless the caller set it;
  grid          `grid run --name N emit.py` with a fresh GRIDRUN_HOME: the experiment's
                duration as the store records it (`grid --output json status N`:
                experiments[0].duration_s), the wall time of the whole command (which ends
                with the final ingestion), and the ingestion lag: from the script's end to the
                store's `ended_at` and to the driver's exit, and how many lines the ingestion
                thread had not yet recorded when the script ended;
  direct busy   direct unbuf while another process spins on a CPU (`while True: pass`): the
                control for how much any concurrent CPU work (such as the ingestion thread)
                slows the script on this machine.

Each case also reports the script's own time from its first line to its last (`loop`), which
leaves out interpreter start-up and, under grid, the final ingestion.

Checked every time: the direct output file has every line; under grid the log has every line,
`grid --output json status N-exp0` has count == N and step == N-1 for `loss` and `acc`, and
the metrics table (sqlite3 on $GRIDRUN_HOME/gridrun.db) has exactly N rows per metric, with
N distinct steps from 0 to N-1 and the right last value.

`--profile` then runs one more `grid run` under cProfile, with one profiler on the driver's
main thread and one on the ingestion thread (`python -m cProfile -m gridrun` sees only the main
thread), and times the ingestion steps in-process on a finished log of N lines: reading
(`Tail.read_lines`), parsing (`points_from_output`) and storing (`SQLiteStore.add_metrics`).

Standard library only, besides gridrun. Every interpreter started is `sys.executable`.
"""

from __future__ import annotations

import io
import json
import math
import pstats
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import _common as common
from _common import Result, ScratchRunner, check

import gridrun

SCRIPT = "emit.py"
METRICS = ("acc", "loss")
GOAL_RATIO = 1.20
GOAL_LAG_S = 1.0
T = TypeVar("T")
EMIT_SOURCE = '''\
"""Print {lines} metric lines, then record when the printing began and ended."""
import json
import math
import os
import sys
import time

start = time.time()
for i in range({lines}):
    loss = math.exp(-i / 50000) * (1 + 0.1 * math.sin(i / 7))
    acc = 1 - math.exp(-i / 30000) * (0.9 + 0.05 * math.cos(i / 11))
    print(f"step={{i}} loss={{loss:.6f}} acc={{acc:.4f}}")
sys.stdout.flush()
end = time.time()
times = os.environ.get("EMIT_TIMES")
if times:
    with open(times, "w") as file:
        json.dump({{"start": start, "end": end}}, file)
'''


def expected_values(i: int) -> dict[str, float]:
    """What emit.py prints on line `i`, as the store should hold it."""
    loss = math.exp(-i / 50000) * (1 + 0.1 * math.sin(i / 7))
    acc = 1 - math.exp(-i / 30000) * (0.9 + 0.05 * math.cos(i / 11))
    return {"loss": float(f"{loss:.6f}"), "acc": float(f"{acc:.4f}")}


def expected_line(i: int) -> str:
    values = expected_values(i)
    return f"step={i} loss={values['loss']:.6f} acc={values['acc']:.4f}"


@dataclass
class DirectSample:
    wall_s: float
    loop_s: float


@dataclass
class GridSample:
    wall_s: float
    duration_s: float
    to_script_end_s: float
    loop_s: float
    drain_s: float
    lag_s: float
    backlog: int


class Runner(ScratchRunner):
    """Runs commands in a scratch folder: the bytecode cache and GRIDRUN_HOMEs live there.
    The direct run is timed both with and without PYTHONUNBUFFERED (see DROPPED_ENV); `grid
    run` is started without it, so that it sets PYTHONUNBUFFERED=1 for the experiment itself."""

    def __init__(self, folder: Path, lines: int, pycache: Path | None = None) -> None:
        self.times = folder / "times.json"
        env = common.subprocess_env(pycache or folder / "pycache", EMIT_TIMES=str(self.times))
        super().__init__(folder, env)
        self.lines = lines
        (folder / SCRIPT).write_text(EMIT_SOURCE.format(lines=lines))

    def run(self, command: list[str], **extra_env: str) -> tuple[float, float]:
        """Run `command` (stdout to a file), check its exit code; return (seconds, exit time)."""
        self.times.unlink(missing_ok=True)
        timing = self.execute(command, {**self.env, **extra_env})
        return timing.wall_s, timing.exited

    def emit_times(self) -> tuple[float, float]:
        times = json.loads(self.times.read_text())
        return times["start"], times["end"]

    def direct(self, unbuffered: bool, busy: bool = False) -> DirectSample:
        """`PY emit.py > file`; with `busy`, while another process spins on a CPU."""
        extra = {"PYTHONUNBUFFERED": "1"} if unbuffered else {}
        spinner = None
        if busy:
            spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"], env=self.env)
            time.sleep(0.1)  # started and spinning
        try:
            elapsed, _ = self.run([sys.executable, SCRIPT], **extra)
        finally:
            if spinner is not None:
                spinner.kill()
                spinner.wait()
        check_lines(self.out, self.lines)
        start, end = self.emit_times()
        return DirectSample(elapsed, end - start)

    def grid(self, name: str) -> GridSample:
        home = self.fresh_home()
        grid = common.grid_command()
        elapsed, exited = self.run([*grid, "run", "--name", name, SCRIPT], GRIDRUN_HOME=str(home))
        check(f"run {name} succeeded" in self.out.read_text(), "no summary in grid's output")
        emit_start, emit_end = self.emit_times()
        self.run([*grid, "--output", "json", "status", name], GRIDRUN_HOME=str(home))
        experiment = json.loads(self.out.read_text())["experiments"][0]
        check(experiment["state"] == "succeeded", f"{name}-exp0 is {experiment['state']}")
        check(experiment["command"][0] == sys.executable, "a .py runs under sys.executable")
        check_lines(Path(experiment["log_path"]), self.lines)
        self.run([*grid, "--output", "json", "status", f"{name}-exp0"], GRIDRUN_HOME=str(home))
        check_summaries(json.loads(self.out.read_text())["metrics"], self.lines)
        started_at, ended_at, backlog = check_table(home / "gridrun.db", self.lines, emit_end)
        duration = experiment["duration_s"]
        check(abs(duration - (ended_at - started_at)) < 1e-3, "duration_s is not end - start")
        shutil.rmtree(home)
        return GridSample(
            wall_s=elapsed,
            duration_s=duration,
            to_script_end_s=emit_end - started_at,
            loop_s=emit_end - emit_start,
            drain_s=ended_at - emit_end,
            lag_s=exited - emit_end,
            backlog=backlog,
        )


def check_lines(path: Path, lines: int) -> None:
    """The file holds exactly `lines` lines, the last one as emit.py prints it."""
    data = path.read_bytes()
    count = data.count(b"\n")
    check(count == lines, f"{path.name}: {count} lines, not {lines}")
    last = data.rstrip(b"\n").rsplit(b"\n", 1)[-1].decode()
    check(last == expected_line(lines - 1), f"{path.name}: last line {last!r}")


def check_summaries(summaries: dict, lines: int) -> None:
    """`grid status NAME-exp0`'s metric summaries: every line counted, the last step last."""
    check(sorted(summaries) == list(METRICS), f"metrics {sorted(summaries)}")
    last = expected_values(lines - 1)
    for name in METRICS:
        summary = summaries[name]
        check(summary["count"] == lines, f"{name}: count {summary['count']}, not {lines}")
        check(summary["step"] == lines - 1, f"{name}: step {summary['step']}, not {lines - 1}")
        check(summary["last"] == last[name], f"{name}: last {summary['last']}")


def check_table(database: Path, lines: int, emit_end: float) -> tuple[float, float, int]:
    """The metrics table holds every line once; return the experiment's (started_at,
    ended_at) and how many `loss` rows were recorded after the script had ended."""
    connection = sqlite3.connect(database)
    try:
        rows = connection.execute(
            "SELECT name, COUNT(*), COUNT(DISTINCT step), MIN(step), MAX(step) "
            "FROM metrics GROUP BY name ORDER BY name"
        ).fetchall()
        expected = [(name, lines, lines, 0.0, float(lines - 1)) for name in METRICS]
        check(rows == expected, f"metrics table: {rows}, expected {expected}")
        last = dict(
            connection.execute("SELECT name, value FROM metrics WHERE step = ?", (lines - 1,))
        )
        check(last == expected_values(lines - 1), f"last values {last}")
        (started_at, ended_at), *more = connection.execute(
            "SELECT started_at, ended_at FROM experiments"
        ).fetchall()
        check(not more, "more than one experiment")
        (backlog,) = connection.execute(
            "SELECT COUNT(*) FROM metrics WHERE name = 'loss' AND time > ?", (emit_end,)
        ).fetchone()
    finally:
        connection.close()
    return started_at, ended_at, backlog


# -- the cases ---------------------------------------------------------------------------------


def run_cases(repeat: int, lines: int, folder: Path) -> tuple[list[Result], list[GridSample]]:
    runner = Runner(folder, lines)
    buffered: list[DirectSample] = []
    unbuffered: list[DirectSample] = []
    busy: list[DirectSample] = []
    grid: list[GridSample] = []
    for round_number in range(repeat + 1):  # round 0: warm-up, untimed
        samples = (
            runner.direct(unbuffered=False),
            runner.direct(unbuffered=True),
            runner.grid(f"bench-ingest-{round_number}"),
            runner.direct(unbuffered=True, busy=True),
        )
        if round_number:
            buffered.append(samples[0])
            unbuffered.append(samples[1])
            grid.append(samples[2])
            busy.append(samples[3])
        print(
            f"  round {round_number}{' (warm-up)' if not round_number else ''}: direct "
            f"{samples[0].wall_s:.3f} s / unbuf {samples[1].wall_s:.3f} s; grid experiment "
            f"{samples[2].duration_s:.3f} s, wall {samples[2].wall_s:.3f} s, "
            f"backlog {samples[2].backlog:,} lines; direct busy {samples[3].wall_s:.3f} s",
            file=sys.stderr,
        )
    base = statistics.median(s.wall_s for s in unbuffered)
    base_loop = statistics.median(s.loop_s for s in unbuffered)

    def over(value: float, floor: float = base, what: str = "direct unbuf") -> str:
        return f"{value / floor:.2f}× {what}"

    per_line = "{:.2f} µs per line"
    own_time = "the script's own time from first line to last"
    cases: list[tuple[str, str, list[DirectSample] | list[GridSample], str]] = [
        ("direct buf", "`PY emit.py > file`, PYTHONUNBUFFERED unset", buffered, "wall_s"),
        (
            "direct unbuf",
            "`PY emit.py > file`, PYTHONUNBUFFERED=1 (the baseline)",
            unbuffered,
            "wall_s",
        ),
        ("direct loop", f"direct unbuf, {own_time}", unbuffered, "loop_s"),
        (
            "direct busy",
            "direct unbuf while another process spins on a CPU (control)",
            busy,
            "wall_s",
        ),
        ("busy loop", f"direct busy, {own_time}", busy, "loop_s"),
        ("grid exp", "`grid run`: the experiment's `duration_s` in the store", grid, "duration_s"),
        (
            "grid to end",
            "`grid run`: the store's `started_at` to the script's last line",
            grid,
            "to_script_end_s",
        ),
        ("grid loop", f"`grid run`: {own_time}", grid, "loop_s"),
        ("grid wall", "the whole `grid run` command", grid, "wall_s"),
        ("drain", "script's last line → the store's `ended_at` (final ingestion)", grid, "drain_s"),
        ("lag", "script's last line → the driver's exit", grid, "lag_s"),
    ]
    results = [
        Result(case, what, [getattr(sample, attribute) for sample in samples])
        for case, what, samples, attribute in cases
    ]
    by_case = {r.case: r for r in results}
    by_case["direct buf"].note = over(by_case["direct buf"].median_s)
    by_case["direct unbuf"].note = "the baseline"
    for case in ("direct buf", "direct unbuf"):
        r = by_case[case]
        r.note += ("; " if r.note else "") + per_line.format(r.median_s / lines * 1e6)
    for case in ("grid exp", "grid to end", "grid wall"):
        by_case[case].note = over(by_case[case].median_s)
    by_case["direct busy"].note = over(by_case["direct busy"].median_s)
    for case in ("grid loop", "busy loop"):
        by_case[case].note = over(by_case[case].median_s, base_loop, "direct loop")
    backlogs = sorted(s.backlog for s in grid)
    by_case["drain"].note = (
        f"lines not yet recorded at the script's end: median {statistics.median(backlogs):,.0f}"
        f" of {lines:,} (min {backlogs[0]:,}, max {backlogs[-1]:,})"
    )
    common.print_medians(results)
    return results, grid


def verdict(results: list[Result], lines: int) -> list[str]:
    by_case = {r.case: r for r in results}
    experiment = by_case["grid exp"].median_s
    unbuffered, buffered = by_case["direct unbuf"].median_s, by_case["direct buf"].median_s
    ratio = experiment / unbuffered
    lag = by_case["lag"].median_s
    return [
        f"- slowdown: grid experiment / direct unbuf = {ratio:.2f} "
        f"(goal ≤ {GOAL_RATIO:.2f}: {'met' if ratio <= GOAL_RATIO else 'MISSED'}); "
        f"/ direct buf = {experiment / buffered:.2f}; "
        f"whole `grid run` / direct unbuf = {by_case['grid wall'].median_s / unbuffered:.2f}",
        f"- ingestion lag (script's end → driver's exit): {common.seconds(lag)} "
        f"({'under' if lag <= GOAL_LAG_S else 'OVER'} {GOAL_LAG_S:.0f} s)",
        f"- dropped: none ({lines:,} rows per metric and {lines:,} counted in every run, "
        f"steps 0 to {lines - 1:,} each once)",
    ]


# -- profile -----------------------------------------------------------------------------------

PROFILE_WRAPPER = '''\
"""`grid run` under two profilers: the driver's main thread, and the ingestion thread."""
import cProfile
import sys

import gridrun.ingest
from gridrun.cli.main import main

thread_profile = cProfile.Profile()
original_run = gridrun.ingest.MetricsIngestor._run


def profiled_run(self):
    thread_profile.enable()
    try:
        original_run(self)
    finally:
        thread_profile.disable()


gridrun.ingest.MetricsIngestor._run = profiled_run
main_profile = cProfile.Profile()
main_profile.enable()
try:
    main(sys.argv[2:])
finally:
    main_profile.disable()
    main_profile.dump_stats(sys.argv[1] + ".main")
    thread_profile.dump_stats(sys.argv[1] + ".thread")
'''

KEY_FUNCTIONS = ("read_lines", "points_from_output", "parse_metric_line", "add_metrics")


def profile_grid(folder: Path, lines: int) -> None:
    folder.mkdir()
    runner = Runner(folder, lines, pycache=folder.parent / "pycache")  # warm from the rounds
    wrapper = folder / "profiled_grid.py"
    wrapper.write_text(PROFILE_WRAPPER)
    out = folder / "grid"
    home = runner.fresh_home()
    command = [sys.executable, str(wrapper), str(out), "run", "--name", "bench-profile", SCRIPT]
    elapsed, exited = runner.run(command, GRIDRUN_HOME=str(home))
    emit_start, emit_end = runner.emit_times()
    started_at, ended_at, backlog = check_table(home / "gridrun.db", lines, emit_end)
    print(
        f"\n## cProfile: `grid run` of {lines:,} lines\n\n"
        f"Under the profilers: experiment {ended_at - started_at:.2f} s (script's own loop "
        f"{emit_end - emit_start:.2f} s), whole command {elapsed:.2f} s, lag after the "
        f"script's end {exited - emit_end:.2f} s, {backlog:,} lines left for the final "
        "ingestion.\n"
    )
    for part, title in (("thread", "the ingestion thread"), ("main", "the driver's main thread")):
        stats = pstats.Stats(f"{out}.{part}").strip_dirs()
        print(f"### {title} ({stats.total_tt:.2f} s profiled)\n\n```")
        print_stats(stats, "tottime", 12)
        print_stats(stats, "cumulative", "|".join(KEY_FUNCTIONS))
        print("```\n")


def print_stats(stats: pstats.Stats, sort: str, restriction: int | str) -> None:
    """The rows of a cProfile table, without pstats' header."""
    stream = io.StringIO()
    stats.stream = stream  # type: ignore[attr-defined]
    stats.sort_stats(sort).print_stats(restriction)
    text = stream.getvalue()
    at = text.find("   ncalls")
    rows = text[at:].rstrip() if at >= 0 else "(none of them ran here)"
    print(f"sorted by {sort}, {restriction}:\n{rows}\n")


def timed(work: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def profile_steps(folder: Path, lines: int) -> None:
    """Time each ingestion step in-process, without a profiler, on a finished log (what the
    driver does when the experiment ends), and the parts of the two slow steps."""
    from gridrun.ingest import Tail
    from gridrun.metrics import METRIC_LINE, PAIRS, points_from_output
    from gridrun.store import NewExperiment, NewRun, open_store

    log = folder / "steps.log"
    log.write_text("".join(expected_line(i) + "\n" for i in range(lines)))
    store = open_store(folder / "steps-home")
    try:
        run = NewRun(
            name="steps",
            invocation=["grid", "run", SCRIPT],
            script=SCRIPT,
            script_args=[],
            space={},
            strategy="grid_search",
            seed=1,
            num_trials=None,
            options={},
            cwd=str(folder),
        )
        experiment = NewExperiment(0, "steps-exp0", {}, [], [sys.executable, SCRIPT])
        record = store.create_run(run, [experiment], [str(log)], time.time())
        (experiment_id,) = [e.id for e in store.experiments(record.id)]
        read_s, read = timed(lambda: Tail(log).read_lines(final=True))
        parse_s, points = timed(lambda: list(points_from_output(read, time.time())))
        store_s, _ = timed(lambda: store.add_metrics(experiment_id, points, "stdout"))
        match_s, _ = timed(lambda: [METRIC_LINE.fullmatch(line) for line in read])
        pairs_s, _ = timed(lambda: [PAIRS.findall(line) for line in read])
        rows = [
            (experiment_id, name, step, value, when, "stdout")
            for name, step, value, when in points  # gridrun.metrics.Row
        ]
        db = store.connection

        def insert_rows() -> None:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(
                "INSERT INTO metrics (experiment_id, name, step, value, time, source) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            db.execute("COMMIT")

        insert_s, _ = timed(insert_rows)
    finally:
        store.close()
    check(len(read) == lines and len(points) == 2 * lines, "in-process steps lost lines")
    total = read_s + parse_s + store_s
    print(f"### ingestion steps in-process, {lines:,} lines ({2 * lines:,} points), no profiler\n")
    print("| step | time | per line | share |\n| --- | ---: | ---: | ---: |")
    for step, value, share in (
        ("`Tail.read_lines` (read, split, decode)", read_s, True),
        ("`points_from_output` (parse)", parse_s, True),
        ("… of which `METRIC_LINE.fullmatch` alone", match_s, False),
        ("… of which `PAIRS.findall` alone", pairs_s, False),
        ("`SQLiteStore.add_metrics` (summaries, executemany, commit)", store_s, True),
        ("… of which the bare `INSERT INTO metrics` executemany + commit", insert_s, False),
        ("total", total, True),
    ):
        print(
            f"| {step} | {common.seconds(value)} | {value / lines * 1e6:.2f} µs | "
            f"{f'{value / total:.0%}' if share else ''} |"
        )
    rate = lines / total
    print(
        f"\nOne thread ingests about {rate:,.0f} lines a second this way; the script printed "
        f"{lines:,} lines in the time given above as `direct loop`."
    )


# -- reporting ---------------------------------------------------------------------------------


def machine(folder: str) -> list[str]:
    return common.machine_lines(
        gridrun.__version__,
        common.subprocesses_line(" (the direct run also timed with PYTHONUNBUFFERED=1)"),
        f"- files: temporary folder on {filesystem(folder)}",
        python_note=f"; SQLite {sqlite3.sqlite_version}",
    )


def filesystem(folder: str) -> str:
    """The file system type of the mount holding `folder` (from /proc/mounts)."""
    best, kind = "", "unknown"
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            _, mount, fs_type, *_ = line.split()
            if folder.startswith(mount) and len(mount) > len(best):
                best, kind = mount, fs_type
    except (OSError, ValueError):
        pass
    return f"{kind} ({best or '?'})"


def main(argv: list[str] | None = None) -> int:
    parser = common.argument_parser(__doc__, 5)
    parser.add_argument("--lines", type=int, default=200_000, help="lines (default 200,000)")
    parser.add_argument("--profile", action="store_true", help="also profile the ingestion")
    options = common.parse_options(parser, argv)
    if options.lines < 2:
        parser.error("--lines must be at least 2")
    started = time.perf_counter()
    load_before = common.load_now()
    with tempfile.TemporaryDirectory(prefix="gridrun-bench-") as folder:
        results, _ = run_cases(options.repeat, options.lines, Path(folder))
        print(f"## Metric ingestion ({options.lines:,} lines)\n")
        print("\n".join(machine(folder)))
        print(f"- machine load: {load_before} before; {common.load_now()} after")
        print()
        print("\n".join(common.table(results, options.repeat)))
        print()
        print("\n".join(verdict(results, options.lines)))
        print(f"\n(benchmark took {time.perf_counter() - started:.0f} s)")
        if options.profile:
            profile_grid(Path(folder) / "profile", options.lines)
            profile_steps(Path(folder), options.lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
