"""Ray benchmark: 100 trivial experiments on one local Ray cluster, `grid run --backend ray`
against Ray Tune running the same 100 commands, side by side.

Run by hand, never as a test (needs `pip install 'gridrun[ray]' 'ray[tune]'`; `make bench`
has both):

    .venv/bin/python bench/ray_launch.py [--repeat N] [--cpus N] [--experiments N]

One Ray cluster (a head node of `--cpus` CPUs, the machine's by default, no dashboard) is
started for the whole benchmark and both tools connect to it by its address; each timed
command is a fresh process that connects, runs the 100 experiments and exits:

  grid   `grid run --backend ray --address ADDR trivial.py --x "range(100)"` (a fresh
         GRIDRUN_HOME each time, plain output to a file), checked afterwards with
         `grid --output json status` (100 experiments, all succeeded, exit code 0);
  tune   `python tune_trivial.py ADDR 100`: `ray.init(address=ADDR)`, then a `tune.Tuner`
         over `tune.grid_search(range(100))` of a function trainable that runs the same
         `PY trivial.py --x N` as a subprocess and reports its exit code (Tune's defaults:
         one CPU per trial, as many trials at once as the cluster fits); it checks that the
         100 trials ended and every exit code was 0;
  tune reuse  the same with `TuneConfig(reuse_actors=True)` (one trial actor runs trial
         after trial instead of a new actor each).

Both ask one CPU per experiment, so both run as many at once as the cluster has CPUs. One
untimed round first (grid's 100, Tune's two cases with 10 trials: enough to warm the
cluster's worker pool and the caches), then `--repeat` rounds, the three interleaved;
median and min. A SIGTERM or Ctrl-C stops it and the cluster with it. `trivial.py` is `import sys`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import _common as common
from _common import Result, ScratchRunner, check

import gridrun

TRIVIAL = "trivial.py"
TRIVIAL_SOURCE = "import sys\n"
GOAL_RATIO = 5.0
WARM_UP_TRIALS = 10

TUNE_SCRIPT = '''\
"""100 runs of trivial.py as Ray Tune trials (a function trainable)."""
import os, subprocess, sys, tempfile

import ray
from ray import tune

address, count, reuse = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "reuse"
folder = os.getcwd()
ray.init(address=address, log_to_driver=False, logging_level="error")


def trainable(config):
    code = subprocess.run(
        [sys.executable, os.path.join(folder, "trivial.py"), "--x", str(config["x"])],
        cwd=folder,
    ).returncode
    tune.report({"code": code})


tuner = tune.Tuner(
    trainable,
    param_space={"x": tune.grid_search(list(range(count)))},
    run_config=tune.RunConfig(storage_path=tempfile.mkdtemp(dir=folder), verbose=0),
    tune_config=tune.TuneConfig(reuse_actors=True) if reuse else None,
)
results = tuner.fit()
codes = [result.metrics.get("code") for result in results]
assert len(codes) == count and all(code == 0 for code in codes), codes
assert not results.errors, results.errors
print("trials", len(codes))
'''


class Runner(ScratchRunner):
    def __init__(self, folder: Path) -> None:
        env = common.subprocess_env(folder / "pycache")
        for name in ("RAY_ADDRESS", "GRIDRUN_HOME"):
            env.pop(name, None)
        super().__init__(folder, env)


def start_cluster(cpus: int):
    from ray.cluster_utils import Cluster

    return Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": cpus,
            "object_store_memory": 100 * 1024**2,
            "include_dashboard": False,
        },
    )


def run_grid(runner: Runner, address: str, count: int) -> common.Timing:
    home = runner.fresh_home()
    env = {**runner.env, "GRIDRUN_HOME": str(home)}
    command = [*common.grid_command(), "run", "--backend", "ray", "--address", address]
    command += ["--name", "bench", TRIVIAL, "--x", f"range({count})"]
    timing = runner.execute(command, env=env)
    runner.execute([*common.grid_command(), "--output", "json", "status", "bench"], env=env)
    run = json.loads(runner.out.read_text())
    check(run["counts"]["succeeded"] == count, f"grid: {run['counts']}")
    check(all(e["exit_code"] == 0 for e in run["experiments"]), "grid: an exit code not 0")
    shutil.rmtree(home)
    return timing


def run_tune(runner: Runner, address: str, count: int, reuse: bool) -> common.Timing:
    how = "reuse" if reuse else "defaults"
    timing = runner.execute([sys.executable, "tune_trivial.py", address, str(count), how])
    check(f"trials {count}" in runner.out.read_text(), "tune: not every trial reported")
    return timing


def main(argv: list[str] | None = None) -> int:
    parser = common.argument_parser(__doc__, repeat=2)
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parser.add_argument("--cpus", type=int, default=usable or 1, help="the cluster's CPUs")
    parser.add_argument("--experiments", type=int, default=100, help="experiments per sweep")
    options = common.parse_options(parser, argv)
    count = options.experiments
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))  # the cluster too
    folder = Path(tempfile.mkdtemp(prefix="gridrun-bench-ray-"))
    cluster = None
    try:
        (folder / TRIVIAL).write_text(TRIVIAL_SOURCE)
        (folder / "tune_trivial.py").write_text(TUNE_SCRIPT)
        runner = Runner(folder)
        cluster = start_cluster(options.cpus)
        address = cluster.address
        print(f"cluster at {address}, {options.cpus} CPUs; warm-up round", file=sys.stderr)
        grid = Result(
            "grid",
            f'`grid run --backend ray --address ADDR trivial.py --x "range({count})"`',
        )
        tune = Result("tune", f"Ray Tune, function trainable running the same {count} commands")
        reuse = Result("tune reuse", "the same, with `TuneConfig(reuse_actors=True)`")
        run_grid(runner, address, count)
        run_tune(runner, address, WARM_UP_TRIALS, reuse=False)
        run_tune(runner, address, WARM_UP_TRIALS, reuse=True)
        for round_number in range(options.repeat):
            print(f"round {round_number + 1}/{options.repeat}", file=sys.stderr)
            grid.add(run_grid(runner, address, count))
            tune.add(run_tune(runner, address, count, reuse=False))
            reuse.add(run_tune(runner, address, count, reuse=True))
            common.print_medians([grid, tune, reuse])
        ratio = tune.median_s / grid.median_s
        ratio_reuse = reuse.median_s / grid.median_s
        grid.note = (
            f"{ratio:.1f}× faster than tune, {ratio_reuse:.1f}× than tune reuse (medians); "
            f"{grid.median_s / count * 1000:.0f} ms per experiment"
        )
        for result in (tune, reuse):
            result.note = f"{result.median_s / count * 1000:.0f} ms per experiment"
        print()
        print("\n".join(common.table([grid, tune, reuse], options.repeat, cpu=True)))
        print()
        worst = min(ratio, ratio_reuse)
        verdict = "met" if worst >= GOAL_RATIO else "MISSED"
        print(
            f"goal: grid at least {GOAL_RATIO:g}× faster than Tune: {verdict} "
            f"({ratio:.1f}× Tune's defaults, {ratio_reuse:.1f}× with reuse_actors)"
        )
        print()
        ray = sys.modules["ray"]
        print(
            "\n".join(
                common.machine_lines(
                    gridrun.__version__,
                    f"- Ray {ray.__version__}: one local head node, {options.cpus} CPUs, "
                    "100 MB object store, no dashboard",
                    common.subprocesses_line(),
                    f"- {common.load_now()} at the end",
                )
            )
        )
    finally:
        if cluster is not None:
            cluster.shutdown()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
