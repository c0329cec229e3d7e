"""Faults, end to end: Ctrl-C and SIGTERM to the driver, `kill -9` of the driver, experiments
that crash, die by a signal or hang, retries, resume, and readers during a busy run.

Every test drives the real CLI in subprocesses and judges the outcome by what a user sees:
`grid --output json status`, the log files, a counter file each experiment appends to, and
/proc, where no process of a run may remain. Waits are polls with generous deadlines; no
test asserts how long anything took.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import BackgroundGrid, GridRunner, wait_until, words

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="needs /proc and POSIX process groups"
)

# One script for every fault. Its behaviour is `--kind KIND`, or with `--kind table` the kind
# that kinds.json (in the working folder) gives its `--i`. Each attempt appends `start` to
# counts/<experiment> and prints a marker line; an attempt that succeeds appends `done`.
FAULTY = r"""
import json, os, resource, signal, sys, time
from pathlib import Path


def arg(flag):
    return sys.argv[sys.argv.index(flag) + 1]


name = os.environ["GRID_EXPERIMENT_NAME"]
kind = arg("--kind")
if kind == "table":
    kind = json.loads(Path("kinds.json").read_text())[arg("--i")]
counter = Path("counts") / name
counter.parent.mkdir(exist_ok=True)
with open(counter, "a") as f:
    f.write("start\n")
attempt = counter.read_text().count("start")
print(f"MARKER {name} {kind} attempt {attempt}", flush=True)


def succeed():
    with open(counter, "a") as f:
        f.write("done\n")
    sys.exit(0)


if kind in ("stubborn", "hang_stubborn"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("ignoring SIGTERM", flush=True)
if kind == "quick":
    succeed()
elif kind == "ok":
    time.sleep(0.2)
    succeed()
elif kind == "crash":
    print("crashing with exit code 3", flush=True)
    sys.exit(3)
elif kind == "sigkill":
    os.kill(os.getpid(), signal.SIGKILL)
elif kind == "sigsegv":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.kill(os.getpid(), signal.SIGSEGV)
elif kind == "flag":  # done at once if the file `go` exists; else waits to be killed
    if Path("go").exists():
        succeed()
    time.sleep(60)
elif kind == "gated":  # waits for the file `release`, then succeeds
    while not Path("release").exists():
        time.sleep(0.05)
    succeed()
elif kind == "flaky":  # fails on its first two attempts
    if attempt <= 2:
        print(f"failing on attempt {attempt}", flush=True)
        sys.exit(1)
    succeed()
else:  # sleep, stubborn, hang, hang_stubborn: wait to be stopped
    time.sleep(60)
sys.exit(99)
"""


# -- processes -------------------------------------------------------------------------------------


def _stat(pid: str) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text(errors="replace")
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def live_processes(run: str) -> dict[int, str]:
    """Processes (not zombies) of `run`: experiments and their children carry
    GRID_RUN_NAME=<run> in their environment; the driver and its watchdog carry the run's
    name in their command line. Returns {pid: command line}."""
    in_env = f"\0GRID_RUN_NAME={run}\0".encode()
    in_argv = f"\0{run}\0".encode()
    found: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = b"\0" + Path(f"/proc/{entry}/environ").read_bytes()
            argv = b"\0" + Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if in_env not in environ and in_argv not in argv:
            continue
        stat = _stat(entry)
        if stat is None or stat[0] in ("Z", "X"):
            continue
        found[int(entry)] = argv.replace(b"\0", b" ").decode(errors="replace").strip()
    return found


def live_in_groups(pgids: set[int]) -> list[int]:
    """Processes (not zombies) whose process group is one of `pgids`."""
    alive = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _stat(entry)
        if stat is not None and stat[0] not in ("Z", "X") and int(stat[2]) in pgids:
            alive.append(int(entry))
    return alive


def pid_gone(pid: int) -> bool:
    stat = _stat(str(pid))
    return stat is None or stat[0] in ("Z", "X")


def assert_nothing_of_run_remains(run: str, pgids: Collection[int] = ()) -> None:
    assert live_processes(run) == {}, f"processes of {run} remain"
    assert live_in_groups(set(pgids)) == [], "experiment process groups remain"
    for pgid in pgids:
        with contextlib.suppress(PermissionError):  # a zombie answers; none may be alive
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                continue
            assert pid_gone(pgid), f"process group {pgid} is alive"


# -- fixtures --------------------------------------------------------------------------------------


class Faults:
    """The faulty script in the work folder, drivers started in their own session, and
    what the store and the CLI say about a run. Tears down whatever is left."""

    def __init__(
        self,
        workdir: Path,
        env: dict[str, str],
        grid: GridRunner,
        grid_background: Callable[..., BackgroundGrid],
    ) -> None:
        self.workdir = workdir
        self.home = Path(env["GRIDRUN_HOME"])
        self.cli = grid
        self._start = grid_background
        self.drivers: list[BackgroundGrid] = []
        self.runs: list[str] = []
        (workdir / "faulty.py").write_text(FAULTY)

    def new_run(self, kinds: dict[int, str] | None = None) -> str:
        name = f"faults-{uuid.uuid4().hex[:10]}"
        self.runs.append(name)
        if kinds is not None:
            text = json.dumps({str(i): kind for i, kind in kinds.items()})
            (self.workdir / "kinds.json").write_text(text)
        return name

    def start(self, *args: str) -> BackgroundGrid:
        """`grid ARGS...` in the background, in its own session, so that a signal reaches
        it alone (as Ctrl-C reaches the foreground job)."""
        process = self._start(*args)
        self.drivers.append(process)
        return process

    def status(self, run: str) -> dict[str, Any]:
        result = self.cli("--output", "json", "status", run)
        assert result.returncode == 0, result.stderr
        assert "database is locked" not in result.stderr
        return json.loads(result.stdout)

    def experiments(self, run: str) -> dict[str, dict[str, Any]]:
        return {e["name"]: e for e in self.status(run)["experiments"]}

    def states(self, run: str) -> dict[str, str]:
        """Experiment states straight from the store (cheap enough to poll; writes nothing)."""
        database = self.home / "gridrun.db"
        if not database.exists():
            return {}
        connection = sqlite3.connect(str(database), timeout=30)
        try:
            rows = connection.execute(
                "SELECT e.name, e.state FROM experiments e JOIN runs r ON r.id = e.run_id "
                "WHERE r.name = ? ORDER BY e.idx",
                (run,),
            ).fetchall()
        except sqlite3.OperationalError:  # not created yet
            return {}
        finally:
            connection.close()
        return dict(rows)

    def log(self, run: str, experiment: str, name: str = "stdout.log") -> str:
        path = self.home / "runs" / run / experiment / name
        return path.read_text(errors="replace") if path.exists() else ""

    def counter(self, experiment: str) -> list[str]:
        path = self.workdir / "counts" / experiment
        return path.read_text().split() if path.exists() else []

    def driver_log(self, process: BackgroundGrid) -> str:
        return process.output()

    def cleanup(self) -> None:
        for process in self.drivers:
            if process.poll() is None:
                process.kill()
                process.wait()
        for run in self.runs:
            for pid in live_processes(run):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)


@pytest.fixture
def faults(
    workdir: Path,
    grid_env: dict[str, str],
    grid: GridRunner,
    grid_background: Callable[..., BackgroundGrid],
) -> Iterator[Faults]:
    helper = Faults(workdir, grid_env, grid, grid_background)
    yield helper
    helper.cleanup()


def name_of(run: str, index: int) -> str:
    return f"{run}-exp{index}"


def table_sweep(run: str, options: str, i: str) -> list[str]:
    """`run --name RUN OPTIONS faulty.py --kind table --i I`: a sweep over `--i` in which each
    experiment does what kinds.json gives its `--i` (see `Faults.new_run`)."""
    return ["run", "--name", run, *words(options), "faulty.py", "--kind", "table", "--i", i]


# -- 1. Ctrl-C and SIGTERM to the driver -----------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_to_the_driver_stops_every_experiment(faults: Faults, signum: int) -> None:
    # exp0 ignores SIGTERM, exp1 does not; exp2 and exp3 wait in the queue.
    run = faults.new_run({0: "stubborn", 1: "sleep", 2: "sleep", 3: "sleep"})
    e = [name_of(run, i) for i in range(4)]
    driver = faults.start(*table_sweep(run, "--max_parallel 2 --grace_period 1s", "range(4)"))
    wait_until(
        lambda: (
            faults.states(run) == dict.fromkeys(e[:2], "running") | dict.fromkeys(e[2:], "queued")
        ),
        what="two experiments running, two queued",
    )
    wait_until(lambda: "ignoring SIGTERM" in faults.log(run, e[0]), what="exp0 to ignore SIGTERM")
    wait_until(lambda: "MARKER" in faults.log(run, e[1]), what="exp1 to start its script")
    running = faults.experiments(run)
    pgids = {running[e[0]]["pid"], running[e[1]]["pid"]}
    assert all(pgids), running

    if signum == signal.SIGINT:  # Ctrl-C: the terminal signals the driver's whole group
        os.killpg(driver.pid, signum)
    else:  # kill PID
        os.kill(driver.pid, signum)
    code = driver.wait(timeout=60)

    output = faults.driver_log(driver)
    assert code == 130, output
    assert_nothing_of_run_remains(run, pgids)
    status = faults.status(run)
    assert status["state"] == "stopped"
    assert status["counts"] == {
        "queued": 0,
        "running": 0,
        "succeeded": 0,
        "failed": 0,
        "stopped": 4,
        "lost": 0,
        "preempted": 0,
        "pruned": 0,
    }
    by_name = {x["name"]: x for x in status["experiments"]}
    name = signal.Signals(signum).name
    # exp0 ignored SIGTERM: killed after the grace period.
    assert by_name[e[0]]["state"] == "stopped"
    assert by_name[e[0]]["signal"] == signal.SIGKILL
    assert by_name[e[0]]["exit_code"] is None
    assert name in by_name[e[0]]["reason"]
    # exp1 ended on SIGTERM.
    assert by_name[e[1]]["state"] == "stopped"
    assert by_name[e[1]]["signal"] == signal.SIGTERM
    assert name in by_name[e[1]]["reason"]
    for queued in e[2:]:
        assert by_name[queued]["state"] == "stopped"
        assert "before it started" in by_name[queued]["reason"]
        assert by_name[queued]["attempts"] == 0
        assert by_name[queued]["exit_code"] is None and by_name[queued]["signal"] is None
        assert faults.counter(queued) == []  # never launched
    assert faults.counter(e[0]) == ["start"] and faults.counter(e[1]) == ["start"]


def test_a_second_ctrl_c_kills_at_once(faults: Faults) -> None:
    run = faults.new_run({0: "stubborn"})
    experiment = name_of(run, 0)
    driver = faults.start(*table_sweep(run, "--grace_period 10m", "[0]"))
    wait_until(
        lambda: "ignoring SIGTERM" in faults.log(run, experiment), what="exp0 to ignore SIGTERM"
    )
    pgid = faults.experiments(run)[experiment]["pid"]
    os.killpg(driver.pid, signal.SIGINT)
    wait_until(lambda: "SIGINT" in faults.driver_log(driver), what="the driver to say it stops")
    assert driver.poll() is None  # waiting out the grace period of a stubborn experiment
    os.killpg(driver.pid, signal.SIGINT)
    assert driver.wait(timeout=30) == 130
    assert_nothing_of_run_remains(run, {pgid})
    status = faults.status(run)
    assert status["state"] == "stopped"
    assert status["experiments"][0]["state"] == "stopped"
    assert status["experiments"][0]["signal"] == signal.SIGKILL


# -- 2. kill -9 of the driver, then resume ---------------------------------------------------------


def test_kill_9_of_the_driver_loses_the_run_and_resume_finishes_the_rest(faults: Faults) -> None:
    # exp0 and exp1 succeed at once; exp2..exp4 wait for the file `go` (exp4 stays queued).
    run = faults.new_run({0: "quick", 1: "quick", 2: "flag", 3: "flag", 4: "flag"})
    e = [name_of(run, i) for i in range(5)]
    driver = faults.start(*table_sweep(run, "--max_parallel 2 --grace_period 1s", "range(5)"))
    expected = {e[0]: "succeeded", e[1]: "succeeded", e[2]: "running", e[3]: "running"}
    wait_until(
        lambda: faults.states(run) == expected | {e[4]: "queued"}, what="2 succeeded, 2 running"
    )
    for waiting in e[2:4]:
        wait_until(
            lambda w=waiting: "MARKER" in faults.log(run, w), what=f"{waiting} to start its script"
        )
    pgids = {x["pid"] for x in faults.experiments(run).values() if x["state"] == "running"}
    assert len(pgids) == 2 and all(pgids)

    driver.kill()  # kill -9
    assert driver.wait(timeout=30) == -signal.SIGKILL

    # From the first look on, the run and its running experiments are lost, never running.
    def check_lost() -> dict[str, dict[str, Any]]:
        status = faults.status(run)
        assert status["state"] == "lost", status
        by_name = {x["name"]: x for x in status["experiments"]}
        assert {n: x["state"] for n, x in by_name.items()} == {
            e[0]: "succeeded",
            e[1]: "succeeded",
            e[2]: "lost",
            e[3]: "lost",
            e[4]: "stopped",  # it will never start: its driver died before it did
        }
        return by_name

    check_lost()
    wait_until(
        lambda: check_lost() and not live_processes(run) and not live_in_groups(pgids),
        20,
        what="the experiments to be killed by the watchdog",
    )
    assert_nothing_of_run_remains(run, pgids)
    lost = check_lost()
    assert "driver" in lost[e[2]]["reason"]
    assert [faults.counter(n) for n in e] == [
        ["start", "done"],
        ["start", "done"],
        ["start"],
        ["start"],
        [],
    ]

    (faults.workdir / "go").write_text("")
    resumed = faults.cli("resume", run)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resuming 3 experiment(s)" in resumed.stdout
    status = faults.status(run)
    assert status["state"] == "succeeded"
    assert status["counts"]["succeeded"] == 5
    # Succeeded experiments were left alone; the others ran once more, exactly.
    assert [faults.counter(n) for n in e] == [
        ["start", "done"],
        ["start", "done"],
        ["start", "start", "done"],
        ["start", "start", "done"],
        ["start", "done"],
    ]
    for again in e[2:4]:
        assert f"MARKER {again} flag attempt 1" in faults.log(run, again, "stdout.attempt1.log")
        assert f"MARKER {again} flag attempt 2" in faults.log(run, again)
    assert "MARKER" in faults.log(run, e[0])
    assert not (faults.home / "runs" / run / e[0] / "stdout.attempt1.log").exists()
    assert_nothing_of_run_remains(run, pgids)

    again = faults.cli("resume", run)
    assert again.returncode == 0 and "nothing to resume" in again.stdout
    assert faults.counter(e[0]) == ["start", "done"]


# -- 3. a mini fault run: crashes, signals, hangs, two kill -9s, resumes ---------------------------


def fault_kind(index: int) -> str:
    if index >= 36:
        return "gated"  # holds the run open until the test releases it
    return {
        1: "crash",
        3: "sigkill" if index % 16 == 3 else "sigsegv",
        5: "hang" if index % 16 == 5 else "hang_stubborn",
    }.get(index % 8, "ok")


def test_a_fault_run_killed_twice_and_resumed_ends_right(faults: Faults) -> None:
    count = 40
    kinds = {i: fault_kind(i) for i in range(count)}
    run = faults.new_run(kinds)
    names = [name_of(run, i) for i in range(count)]
    seen_pgids: set[int] = set()
    succeeded_counters: dict[str, list[str]] = {}

    def final_count() -> int:
        return sum(state in ("succeeded", "failed") for state in faults.states(run).values())

    def after_kill() -> None:
        """The killed driver's experiments die; nothing shows as running; remember what
        each succeeded experiment's counter said."""
        wait_until(
            lambda: not live_processes(run) and not live_in_groups(seen_pgids),
            20,
            what="every process of the run to end",
        )
        status = faults.status(run)
        assert status["state"] == "lost"
        assert status["counts"]["running"] == 0
        for experiment in status["experiments"]:
            if experiment["pid"]:
                seen_pgids.add(experiment["pid"])
            if experiment["state"] == "succeeded":
                counter = faults.counter(experiment["name"])
                assert counter[-1] == "done", (experiment["name"], counter)
                succeeded_counters.setdefault(experiment["name"], counter)

    def running_pgids() -> set[int]:
        return {x["pid"] for x in faults.experiments(run).values() if x["state"] == "running"}

    # Phase 1: the run in the foreground, killed -9 after a few experiments ended.
    options = "--max_parallel 4 --cpus 0.5 --timeout 2s --grace_period 1s"
    driver = faults.start(*table_sweep(run, options, f"range({count})"))
    wait_until(lambda: final_count() >= 8, what="8 experiments to end")
    seen_pgids |= running_pgids()
    driver.kill()
    assert driver.wait(timeout=30) == -signal.SIGKILL
    after_kill()

    # Phase 2: resumed in the background, its driver killed -9 in turn.
    resumed = faults.cli("resume", run, "--detach")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    detached = faults.status(run)["driver_pid"]
    assert detached and b"_drive" in Path(f"/proc/{detached}/cmdline").read_bytes()
    wait_until(lambda: final_count() >= 20, what="20 experiments to end")
    seen_pgids |= running_pgids()
    os.kill(detached, signal.SIGKILL)
    wait_until(lambda: pid_gone(detached), what="the detached driver to die")
    after_kill()

    # Phase 3: resumed in the foreground, to the end.
    (faults.workdir / "release").write_text("")
    final = faults.cli("resume", run, timeout=120)
    assert final.returncode == 1, final.stdout + final.stderr  # some experiments failed
    status = faults.status(run)
    assert status["state"] == "failed"
    succeeding = sum(kind in ("ok", "gated") for kind in kinds.values())
    assert status["counts"] == {
        "queued": 0,
        "running": 0,
        "succeeded": succeeding,
        "failed": count - succeeding,
        "stopped": 0,
        "lost": 0,
        "preempted": 0,
        "pruned": 0,
    }
    by_name = {x["name"]: x for x in status["experiments"]}
    assert sorted(by_name) == sorted(names)
    for index, name in enumerate(names):
        kind, experiment = kinds[index], by_name[name]
        seen_pgids.add(experiment["pid"])
        where = (name, kind, experiment)
        if kind in ("ok", "gated"):
            assert experiment["state"] == "succeeded", where
            assert experiment["exit_code"] == 0 and experiment["signal"] is None, where
            counter = faults.counter(name)
            assert counter[-1] == "done", (where, counter)
        elif kind == "crash":
            assert experiment["state"] == "failed", where
            assert experiment["exit_code"] == 3 and experiment["signal"] is None, where
        elif kind in ("sigkill", "sigsegv"):
            assert experiment["state"] == "failed", where
            expected = signal.SIGKILL if kind == "sigkill" else signal.SIGSEGV
            assert experiment["signal"] == expected and experiment["exit_code"] is None, where
        else:
            assert experiment["state"] == "failed", where
            assert "timed out" in (experiment["reason"] or ""), where
            expected = signal.SIGTERM if kind == "hang" else signal.SIGKILL
            assert experiment["signal"] == expected, where
        log = Path(experiment["log_path"]).read_text(errors="replace")
        assert f"MARKER {name} {kind} attempt" in log, where
    # An experiment that had succeeded never ran again.
    for name, counter in succeeded_counters.items():
        assert faults.counter(name) == counter, name
    assert_nothing_of_run_remains(run, seen_pgids)


# -- 4. retries ------------------------------------------------------------------------------------


def test_retries_keep_every_attempts_log(faults: Faults) -> None:
    run = faults.new_run({0: "flaky", 1: "crash"})
    result = faults.cli(*table_sweep(run, "--max_parallel 2 --retries 2", "range(2)"))
    assert result.returncode == 1, result.stdout + result.stderr  # exp1 always fails
    flaky, crash = name_of(run, 0), name_of(run, 1)
    by_name = faults.experiments(run)
    assert by_name[flaky]["state"] == "succeeded"
    assert by_name[flaky]["attempts"] == 3
    assert by_name[flaky]["exit_code"] == 0
    assert faults.counter(flaky) == ["start", "start", "start", "done"]
    for number in (1, 2):
        earlier = faults.log(run, flaky, f"stdout.attempt{number}.log")
        assert f"MARKER {flaky} flaky attempt {number}" in earlier
        assert f"failing on attempt {number}" in earlier
    assert f"MARKER {flaky} flaky attempt 3" in faults.log(run, flaky)
    assert "attempt 1" not in faults.log(run, flaky)
    assert not (faults.home / "runs" / run / flaky / "stdout.attempt3.log").exists()
    # Retries exhausted: failed after 1 + 2 attempts, each log kept.
    assert by_name[crash]["state"] == "failed"
    assert by_name[crash]["attempts"] == 3
    assert by_name[crash]["exit_code"] == 3
    assert faults.counter(crash) == ["start"] * 3
    for number in (1, 2):
        assert f"attempt {number}" in faults.log(run, crash, f"stdout.attempt{number}.log")
    assert f"MARKER {crash} crash attempt 3" in faults.log(run, crash)
    assert faults.status(run)["state"] == "failed"
    assert_nothing_of_run_remains(run)


# -- 5. readers during a busy run ------------------------------------------------------------------


def test_readers_never_see_a_locked_database(faults: Faults) -> None:
    run = faults.new_run()
    sweep = words("--max_parallel 2 faulty.py --kind ok --i range(30)")
    started = faults.cli("--output", "json", "run", "--detach", "--name", run, *sweep)
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout)["run"] == run

    failures: list[str] = []
    seen_running = threading.Event()
    run_over = threading.Event()

    def read(args: tuple[str, ...], minimum: int) -> None:
        calls = 0
        while calls < minimum or not run_over.is_set():
            if calls >= 400:
                failures.append(f"{args}: the run did not end")
                return
            result = faults.cli("--output", "json", *args)
            calls += 1
            if result.returncode != 0 or "locked" in result.stderr:
                failures.append(f"{args} exited {result.returncode}: {result.stderr}")
                continue
            try:
                payload = json.loads(result.stdout)
            except json.JSONDecodeError as error:
                failures.append(f"{args}: not JSON ({error}): {result.stdout!r}")
                continue
            if args[0] == "status":
                if payload["state"] == "running":
                    seen_running.set()
                else:
                    run_over.set()

    readers = [
        threading.Thread(target=read, args=(("status", run), 20)),
        threading.Thread(target=read, args=(("history",), 20)),
        threading.Thread(target=read, args=(("status", run), 20)),
    ]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join(timeout=120)
    assert not any(reader.is_alive() for reader in readers)
    assert failures == []
    assert seen_running.is_set()  # the readers did overlap the run
    status = faults.status(run)
    assert status["state"] == "succeeded" and status["counts"]["succeeded"] == 30
    assert_nothing_of_run_remains(run)


# -- 6. more faults: a stubborn hang past its timeout, a zombie driver -----------------------------


def test_a_hang_that_ignores_sigterm_is_killed_after_its_timeout(faults: Faults) -> None:
    run = faults.new_run({0: "hang_stubborn", 1: "quick"})
    hang = name_of(run, 0)
    driver = faults.start(*table_sweep(run, "--timeout 1s --grace_period 1s", "range(2)"))
    wait_until(lambda: "ignoring SIGTERM" in faults.log(run, hang), what="exp0 to ignore SIGTERM")
    pgid = faults.experiments(run)[hang]["pid"]
    # SIGTERM at its deadline, SIGKILL a grace period later: then it is gone...
    wait_until(lambda: not live_in_groups({pgid}), 30, what="exp0 to be killed")
    # ...and the driver records it and goes on (to exp1, then the end) at once.
    try:
        code = driver.wait(timeout=6)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the driver is stuck: {faults.states(run)}\n{faults.driver_log(driver)}")
    assert code == 1
    by_name = faults.experiments(run)
    assert by_name[hang]["state"] == "failed"
    assert by_name[hang]["signal"] == signal.SIGKILL
    assert "timed out" in by_name[hang]["reason"]
    assert by_name[name_of(run, 1)]["state"] == "succeeded"
    assert_nothing_of_run_remains(run, {pgid})


def test_a_killed_driver_not_yet_reaped_is_dead_to_readers(faults: Faults) -> None:
    # The experiment ignores SIGTERM, so the watchdog waits out the grace period before it
    # records anything: meanwhile only the readers can tell that the driver died.
    run = faults.new_run({0: "stubborn"})
    driver = faults.start(*table_sweep(run, "--grace_period 30s", "[0]"))
    experiment = name_of(run, 0)
    wait_until(
        lambda: "ignoring SIGTERM" in faults.log(run, experiment), what="exp0 to ignore SIGTERM"
    )
    pgid = faults.experiments(run)[experiment]["pid"]
    os.kill(driver.pid, signal.SIGKILL)  # not reaped: a zombie until its parent waits
    wait_until(lambda: pid_gone(driver.pid), what="the driver to die")
    try:
        status = faults.status(run)
        assert status["state"] == "lost"
        assert status["experiments"][0]["state"] == "lost"
    finally:
        driver.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        wait_until(lambda: not live_processes(run), what="the run's processes to end")


def test_a_driver_that_crashes_takes_its_experiments_with_it(faults: Faults) -> None:
    # A file where exp1's folder should be: launching exp1 raises inside the driver while
    # exp0 runs. The design promises that when the driver dies, its experiments die too.
    run = faults.new_run({0: "sleep", 1: "quick"})
    folder = faults.home / "runs" / run
    folder.mkdir(parents=True)
    (folder / name_of(run, 1)).write_text("not a folder")
    result = faults.cli(*table_sweep(run, "--max_parallel 2 --grace_period 1s", "range(2)"))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr  # one clean line, as for any error
    launched = faults.experiments(run)[name_of(run, 0)]
    assert launched["pid"], launched  # exp0 was out when the driver died
    wait_until(lambda: not live_processes(run), 8, what="the run's processes to end")
    assert_nothing_of_run_remains(run, {launched["pid"]})
    status = faults.status(run)
    assert status["state"] != "running"
    assert status["experiments"][0]["state"] in ("lost", "failed", "stopped")
