"""`grid run`, `grid resume` and the hidden `grid _drive`: expand a sweep, record it, run it."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

import click

from gridrun.cli.options import option

RUN_SETTINGS = {"allow_interspersed_args": False}


def warn(text: str) -> None:
    click.echo(f"{click.style('warning:', fg='yellow', bold=True)} {text}", err=True)


def make_reporter(as_json: bool) -> Any:
    """A live display on a terminal, plain lines elsewhere (on stderr for JSON output)."""
    from gridrun.progress import PlainReporter, RichReporter

    stream = sys.stderr if as_json else sys.stdout
    if stream.isatty() and os.environ.get("TERM") != "dumb":
        return RichReporter(stream)
    return PlainReporter(stream)


@click.command("run", context_settings=RUN_SETTINGS)
@option(
    "strategy",
    default="grid_search",
    show_default=True,
    metavar="grid_search|random_search|bayesian|none",
    help="How to choose experiments (bayesian: Optuna's TPE, needs --metric).",
)
@option("num_trials", type=int, help="How many experiments random_search or bayesian runs.")
@option("seed", type=int, help="Seed of every draw (random if not given; always recorded).")
@option("name", metavar="NAME", help="The run's name (default: adjective-animal-NNN).")
@option("max_parallel", type=int, help="At most N experiments at once [default: what fits].")
@option("cpus", type=float, default=1.0, show_default=True, help="CPUs per experiment.")
@option(
    "gpus", type=float, default=0.0, show_default=True, help="GPUs per experiment (0.5 shares)."
)
@option("memory", metavar="SIZE", help="Memory per experiment, e.g. 8G (for scheduling).")
@option("retries", type=int, default=0, show_default=True, help="Retries of a failed experiment.")
@option("timeout", metavar="DURATION", help="Per experiment, e.g. 90s, 30m, 2h.")
@option(
    "grace_period",
    metavar="DURATION",
    default="10s",
    show_default=True,
    help="From SIGTERM to SIGKILL when stopping an experiment.",
)
@option("metric", metavar="NAME", help="The metric that ranks experiments (status, best).")
@option(
    "mode",
    type=click.Choice(["min", "max"]),
    default="min",
    show_default=True,
    help="Whether lower or higher --metric is better.",
)
@option(
    "early_stop",
    type=click.Choice(["median", "asha"]),
    help="Stop experiments whose --metric falls behind along the way (median rule or ASHA).",
)
@option("max_time", metavar="DURATION", help="Wall-clock budget of the sweep, e.g. 2h.")
@option(
    "stop_when", metavar="TARGET", help='End the sweep once a value meets it, e.g. "val_loss<0.1".'
)
@option("config", metavar="FILE", help="Grid's run spec (YAML); options given here win.")
@option(
    "auto_resume",
    is_flag=True,
    help="On SIGTERM to grid run, experiments that exit 0 are preempted (grid resume).",
)
@option(
    "isolate",
    is_flag=True,
    help="Each experiment in its own copy of the project, taken when the run starts.",
)
@option(
    "backend",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Where experiments run: this machine, or a Ray cluster.",
)
@option("address", metavar="ADDR", help="With --backend ray: the cluster [default: RAY_ADDRESS].")
@option("shared_fs", is_flag=True, help="With --backend ray: every node sees this folder.")
@option("python", metavar="PATH", help="Interpreter for a .py script (default: gridrun's own).")
@option("detach", is_flag=True, help="Run in the background; print the run's name and return.")
@option("dry_run", is_flag=True, help="Show the experiments and launch nothing.")
@click.argument("script")
@click.argument("script_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def run_command(
    settings: Any,
    strategy: str,
    num_trials: int | None,
    seed: int | None,
    name: str | None,
    max_parallel: int | None,
    cpus: float,
    gpus: float,
    memory: str | None,
    retries: int,
    timeout: str | None,
    grace_period: str,
    metric: str | None,
    mode: str,
    early_stop: str | None,
    max_time: str | None,
    stop_when: str | None,
    config: str | None,
    auto_resume: bool,
    isolate: bool,
    backend: str,
    address: str | None,
    shared_fs: bool,
    python: str | None,
    detach: bool,
    dry_run: bool,
    script: str,
    script_args: tuple[str, ...],
) -> None:
    """Run SCRIPT once per combination of the values swept in SCRIPT_ARGS.

    Options of gridrun go before SCRIPT; everything after it is the script's own.
    Use `grid run [OPTIONS] -- COMMAND ARGS...` for any command.

    \b
    Values: 0.01 | 1e-2 | bert | "[32, 64, 128]" | "['a' 'b', 'c']" | "range(1, 10, 2)"
            "uniform(1e-5, 1e-1, 3)" | "loguniform(1e-5, 1e-1, 3)" | any numpy distribution
    """
    from gridrun.errors import UserError
    from gridrun.names import check_run_name, random_run_name
    from gridrun.runner import RunOptions
    from gridrun.scheduler import Request, parse_duration_s, parse_memory_gb
    from gridrun.sweep import SweepRequest, draw_seed, plan_sweep

    if retries < 0:
        raise UserError(f"--retries must be 0 or more, got {retries}")
    if stop_when is not None:
        from gridrun.tuning.targets import Target

        stop_when = str(Target.parse(stop_when))
    start_actions: list[str] = []
    end_actions: list[str] = []
    environment: dict[str, str] = {}
    if config:
        from gridrun.config import load_config

        spec = load_config(config)
        for notice in spec.notices:
            warn(notice)
        given = given_on_command_line()
        cpus = cpus if "cpus" in given or spec.cpus is None else spec.cpus
        gpus = gpus if "gpus" in given or spec.gpus is None else spec.gpus
        memory = memory if "memory" in given else (memory or spec.memory)
        strategy = strategy if "strategy" in given else (spec.strategy or strategy)
        num_trials = num_trials if "num_trials" in given else spec.num_trials
        seed = seed if "seed" in given else spec.seed
        start_actions, end_actions = list(spec.on_experiment_start), list(spec.on_experiment_end)
        environment = dict(spec.environment)
        script_args = (*script_args, *config_arguments(spec.params, script_args))
    options = RunOptions(
        max_parallel=max_parallel,
        cpus=cpus,
        gpus=gpus,
        memory_gb=parse_memory_gb(memory) if memory else None,
        retries=retries,
        timeout_s=parse_duration_s(timeout) if timeout else None,
        grace_s=parse_duration_s(grace_period, "--grace_period"),
        metric=metric,
        mode=mode,
        environment=environment,
        on_experiment_start=start_actions,
        on_experiment_end=end_actions,
        auto_resume=auto_resume,
        isolate=isolate,
        early_stop=early_stop,
        max_time_s=parse_duration_s(max_time, "--max_time") if max_time else None,
        stop_when=stop_when,
        backend=backend,
        address=ray_address(backend, address, shared_fs),
        shared_fs=shared_fs,
    )
    Request(options.cpus, options.gpus, options.memory_gb)  # validates
    request = SweepRequest(script, tuple(script_args), strategy, num_trials, seed, python)
    run_name = check_run_name(name) if name else random_run_name()
    plan = plan_sweep(request, run_name, seed if seed is not None else draw_seed())
    for notice in plan.notices:
        warn(notice)
    if (plan.adaptive or early_stop) and not metric:
        what = f"--strategy {plan.strategy}" if plan.adaptive else f"--early_stop {early_stop}"
        raise UserError(f"{what} needs --metric NAME (and --mode min|max): what to optimize")
    if plan.adaptive:
        options = options._replace(command_prefix=list(plan.prefix))
    if dry_run:
        from gridrun.cli.render import print_dry_run

        print_dry_run(plan, as_json=settings.json)
        return
    if plan.adaptive:
        from gridrun.tuning.proposer import import_optuna

        import_optuna()  # says how to install it, before anything is recorded
    launch(settings, plan, request, options, detach, name is None)


def ray_address(backend: str, address: str | None, shared_fs: bool) -> str | None:
    """The Ray cluster to use: --address, else RAY_ADDRESS, else None (a local Ray)."""
    from gridrun.errors import UserError

    if backend != "ray":
        if address or shared_fs:
            raise UserError("--address and --shared_fs go with --backend ray")
        return None
    return address or os.environ.get("RAY_ADDRESS") or None


def given_on_command_line() -> set[str]:
    """The options of this command that the user typed (not defaults)."""
    from click.core import ParameterSource

    context = click.get_current_context()
    return {
        name
        for name in context.params
        if context.get_parameter_source(name) is ParameterSource.COMMANDLINE
    }


def config_arguments(
    params: tuple[tuple[str, str | None], ...], script_args: tuple[str, ...]
) -> list[str]:
    """The config file's params as script arguments, each value one argument; a flag the
    command line already gives is left to the command line."""
    given = {arg.split("=", 1)[0] for arg in script_args if arg.startswith("-")}
    arguments: list[str] = []
    for flag, value in params:
        if flag in given:
            continue
        arguments.append(flag)
        if value is not None:
            arguments.append(value)
    return arguments


def launch(
    settings: Any, plan: Any, request: Any, options: Any, detach: bool, generated_name: bool
) -> None:
    """Record the planned run and run it (here, or detached). A generated name that is taken
    is drawn again; a name the user gave must be free."""
    import time

    from gridrun.paths import gridrun_home
    from gridrun.processes import this_driver
    from gridrun.runner import check_backend, check_command, choose_name, record_run
    from gridrun.store import open_store

    cwd = os.getcwd()
    check_command(plan.prefix, request.script, cwd)
    check_backend(options)  # fails now, before anything is recorded, if it cannot run
    home = gridrun_home()
    store = open_store(home)
    if not generated_name:
        choose_name(store, plan.run)
    elif store.get_run(plan.run) is not None:
        plan = plan.renamed(choose_name(store, None))
    invocation = ["grid", *sys.argv[1:]]
    if options.isolate:
        from pathlib import Path

        from gridrun.isolation import take_snapshot
        from gridrun.paths import run_dir

        snapshot = take_snapshot(Path(cwd), run_dir(plan.run, home), home)
        options = options._replace(isolate_subdir=snapshot.subdir)
    run = record_run(store, plan, request, options, invocation, cwd, home)
    store.claim_run(run.id, this_driver(), time.time())  # held until a driver claims it
    if detach:
        from gridrun.runner import detach_driver

        pid = detach_driver(store, run, home)
        if settings.json:
            import json

            click.echo(
                json.dumps(
                    {
                        "run": run.name,
                        "driver_pid": pid,
                        "seed": run.seed,
                        "num_experiments": run.num_experiments,
                    }
                )
            )
        else:
            click.echo(
                f"run {run.name} started in the background (driver pid {pid}, seed "
                f"{run.seed}, {run.num_experiments} experiments)"
            )
            click.echo(f"  follow it:  grid status {run.name}")
            click.echo(f"  its logs:   grid logs {run.name}-exp0 -f")
            click.echo(f"  stop it:    grid stop run {run.name}")
        return
    finish(settings, store, run, home)


def finish(settings: Any, store: Any, run: Any, home: Any) -> None:
    """Drive the run here; print the outcome; exit with its code."""
    from gridrun.runner import drive_run

    outcome = drive_run(store, run, home, make_reporter(settings.json))
    final = store.get_run_by_id(run.id)
    if final.options.get("metric") and not settings.json:
        report_best(store, final)
    if final.options.get("stop_when"):
        warn_unreported_target(store, final)
    if settings.json:
        import json

        from gridrun.cli.views import run_json

        final = store.get_run_by_id(run.id)
        click.echo(json.dumps(run_json(final, store.experiments(run.id))))
    exit_at_once(outcome.exit_code, store)


def exit_at_once(code: int, store: Any) -> None:
    """End the process now that everything is recorded and shown: the store is closed, the
    output flushed, every thread of the drive joined. Python's own teardown (freeing every
    module, ~10 ms on a small machine) would only delay the shell's next command. (A program
    that called the CLI's `main` with its arguments gets a SystemExit back, as always.)"""
    from gridrun.cli.main import owns_process

    store.close()
    if not owns_process():
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a reader gone away (`| head`)
            stream.flush()
    os._exit(code)


def warn_unreported_target(store: Any, run: Any) -> None:
    """A --stop_when target on a metric that no experiment reported: say so (a typo, most
    often), since the sweep then simply ran to its end."""
    from gridrun.tuning.targets import Target

    target = Target.parse(run.options["stop_when"])
    summaries = store.metric_summaries(run.id)
    if not any(target.metric in per_experiment for per_experiment in summaries.values()):
        warn(f"the target {target} was never met: no experiment reported {target.metric}")


def report_best(store: Any, run: Any) -> None:
    """After a run with --metric: its best experiment, or a warning that nobody reported it."""
    from gridrun.errors import UserError
    from gridrun.results import Objective, best, check_metric, format_value

    objective = Objective(run.options["metric"], run.options.get("mode") or "min")
    summaries = store.metric_summaries(run.id)
    try:
        check_metric(objective, summaries, run.name)
    except UserError as problem:
        warn(str(problem))
        return
    winner = best(store.experiments(run.id), summaries, objective)
    if winner is not None:
        value = objective.value(summaries[winner.id].get(objective.metric))
        click.echo(
            f"best by {objective.metric} ({objective.mode}): {winner.name} = "
            f"{format_value(value)}  (grid best {run.name})"
        )


@click.command("resume")
@click.argument("run_name", metavar="RUN")
@option("detach", is_flag=True, help="Resume in the background.")
@click.pass_obj
def resume_command(settings: Any, run_name: str, detach: bool) -> None:
    """Run again every experiment of RUN that did not succeed (same names, same values)."""
    import json
    import time

    from gridrun.cli.resolve import resolve_run
    from gridrun.paths import gridrun_home
    from gridrun.runner import detach_driver, prepare_resume
    from gridrun.store import RunState, State, open_store

    home = gridrun_home()
    store = open_store(home)
    run = resolve_run(store, run_name)
    count = prepare_resume(store, run)
    if count == 0:
        store.finish_run(run.id, RunState.SUCCEEDED, time.time())
        if settings.json:
            click.echo(json.dumps({"run": run.name, "resumed": 0}))
        else:
            ended = "succeeded or was pruned" if run.count(State.PRUNED) else "succeeded"
            click.echo(f"run {run.name}: every experiment {ended}; nothing to resume")
        return
    run = store.get_run_by_id(run.id)
    if detach:
        pid = detach_driver(store, run, home)
        if settings.json:
            click.echo(json.dumps({"run": run.name, "resumed": count, "driver_pid": pid}))
        else:
            click.echo(
                f"resuming {count} experiment(s) of {run.name} in the background (pid {pid})"
            )
        return
    if not settings.json:
        click.echo(f"resuming {count} experiment(s) of {run.name}")
    finish(settings, store, run, home)


@click.command("_drive", hidden=True)
@click.argument("run_name")
@click.pass_obj
def drive_command(settings: Any, run_name: str) -> None:
    """Drive a recorded run (what --detach starts)."""
    from gridrun.paths import gridrun_home
    from gridrun.progress import PlainReporter
    from gridrun.runner import drive_run
    from gridrun.store import open_store

    home = gridrun_home()
    store = open_store(home)
    run = store.get_run(run_name)
    if run is None:
        raise click.UsageError(f"no run named {run_name!r}")
    outcome = drive_run(store, run, home, PlainReporter(sys.stdout))
    sys.exit(outcome.exit_code)
