"""`grid best` and `grid export`: the results of a run."""

from __future__ import annotations

import contextlib
import shlex
import sys
from typing import Any

import click

from gridrun.cli.inspect import console, echo_json, objective_options, open_reader, run_objective
from gridrun.cli.options import option


@click.command("best")
@click.argument("run_name", metavar="RUN")
@objective_options
@click.pass_obj
def best_command(
    settings: Any, run_name: str, metric: str | None, mode: str | None, scope: str
) -> None:
    """The best experiment of RUN: its values, and the exact command to reproduce it."""
    from gridrun.cli.resolve import resolve_run
    from gridrun.cli.views import experiment_json, summary_json
    from gridrun.errors import UserError
    from gridrun.results import best, check_metric, format_value

    store = open_reader()
    run = resolve_run(store, run_name)
    objective = run_objective(run, metric, mode, scope)
    if objective is None:
        raise UserError(
            f"which metric? `grid best {run.name} --metric NAME [--mode min|max]` "
            "(the run was started without --metric)"
        )
    summaries = store.metric_summaries(run.id)
    check_metric(objective, summaries, run.name)
    experiments = store.experiments(run.id)
    winner = best(experiments, summaries, objective)
    if winner is None:
        raise UserError(
            f"no succeeded or running experiment of {run.name} has a value of {objective.metric!r}"
        )
    values = summaries.get(winner.id, {})
    value = objective.value(values.get(objective.metric))
    command = shlex.join(winner.command)
    if settings.json:
        data = experiment_json(winner, 0.0, values)
        data.update(
            {
                "metric": objective.metric,
                "mode": objective.mode,
                "scope": objective.scope,
                "value": value,
                "metrics": summary_json(values),
                "cwd": run.cwd,
                "reproduce": command,
            }
        )
        data.pop("duration_s", None)
        echo_json(data)
        return
    out = console()
    out.print(
        f"best of [cyan]{run.name}[/] by {objective.metric} ({objective.mode}, "
        f"{objective.scope}): [bold]{winner.name}[/] = [bold]{format_value(value)}[/]",
        highlight=False,
    )
    if winner.params:
        params = "  ".join(f"{k} {v}" for k, v in winner.params.items())
        out.print(f"  params:  {params}", highlight=False)
    for name, summary in values.items():
        out.print(
            f"  {name}: {format_value(summary.last)} (min {format_value(summary.min)}, "
            f"max {format_value(summary.max)})",
            highlight=False,
        )
    out.print("  reproduce it:", highlight=False)
    out.print(f"    cd {shlex.quote(run.cwd)} && {command}", highlight=False, soft_wrap=True)


@click.command("export")
@click.argument("run_name", metavar="RUN")
@option(
    "format",
    dest="output_format",
    type=click.Choice(["csv", "json"]),
    default="csv",
    show_default=True,
    help="The file format.",
)
@option("output_file", metavar="FILE", help="Write to FILE instead of standard output.")
@option(
    "metrics_history",
    is_flag=True,
    help="Every recorded (step, value): CSV in long form, one row per value; JSON per row.",
)
@click.pass_obj
def export_command(
    settings: Any,
    run_name: str,
    output_format: str,
    output_file: str | None,
    metrics_history: bool,
) -> None:
    """Write one row per experiment of RUN: name, state, exit code, duration, params, final
    and best metrics."""
    from gridrun.cli.resolve import resolve_run
    from gridrun.cli.run import given_on_command_line
    from gridrun.errors import UserError
    from gridrun.export import experiment_rows, write_csv, write_history_csv, write_json

    if settings.json and "output_format" not in given_on_command_line():
        output_format = "json"  # `grid --output json export RUN` writes JSON
    store = open_reader()
    run = resolve_run(store, run_name)
    rows = experiment_rows(run, store.experiments(run.id), store, history=metrics_history)
    with contextlib.ExitStack() as stack:
        stream = sys.stdout
        if output_file:
            try:
                stream = stack.enter_context(open(output_file, "w", newline="", encoding="utf-8"))
            except OSError as error:
                raise UserError(
                    f"cannot write --output_file {output_file}: {error.strerror}"
                ) from None
        if output_format == "json":
            write_json(rows, stream)
        elif metrics_history:
            write_history_csv(rows, stream)
        else:
            write_csv(rows, stream)
    if output_file:
        click.echo(f"wrote {len(rows)} experiment(s) of {run.name} to {output_file}", err=True)
