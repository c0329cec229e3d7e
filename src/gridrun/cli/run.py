"""`grid run`: expand a sweep and (with --dry_run) show it without launching anything."""

from __future__ import annotations

import click

from gridrun.cli.options import option

RUN_SETTINGS = {"allow_interspersed_args": False}


@click.command("run", context_settings=RUN_SETTINGS)
@option(
    "strategy",
    default="grid_search",
    show_default=True,
    metavar="grid_search|random_search|none",
    help="How to choose experiments from the sweep.",
)
@option("num_trials", type=int, help="How many combinations random_search draws.")
@option("seed", type=int, help="Seed of every draw (random if not given; always recorded).")
@option("name", metavar="NAME", help="The run's name (default: adjective-animal-NNN).")
@option("python", metavar="PATH", help="Interpreter for a .py script (default: gridrun's own).")
@option("dry_run", is_flag=True, help="Show the experiments and launch nothing.")
@click.argument("script")
@click.argument("script_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def run_command(
    settings,
    strategy: str,
    num_trials: int | None,
    seed: int | None,
    name: str | None,
    python: str | None,
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
    from gridrun.cli.render import print_dry_run
    from gridrun.names import check_run_name, random_run_name
    from gridrun.sweep import SweepRequest, draw_seed, plan_sweep

    request = SweepRequest(script, tuple(script_args), strategy, num_trials, seed, python)
    run = check_run_name(name) if name else random_run_name()
    plan = plan_sweep(request, run, seed if seed is not None else draw_seed())
    for notice in plan.notices:
        click.echo(f"{click.style('warning:', fg='yellow', bold=True)} {notice}", err=True)
    if not dry_run:
        raise click.UsageError(
            "launching experiments is not available yet; add --dry_run to see the sweep"
        )
    print_dry_run(plan, as_json=settings.json)
