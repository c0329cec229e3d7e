"""How a plan is shown: a readable table for people, one JSON object for programs."""

from __future__ import annotations

import json
import os
import shlex
import sys
from typing import IO

from gridrun.sweep import Experiment, Plan

TABLE_HEAD_ROWS = 40
TABLE_TAIL_ROWS = 10


def dry_run_record(experiment: Experiment) -> dict[str, object]:
    """One experiment as the dry run's JSON contract lists it."""
    return {
        "name": experiment.name,
        "index": experiment.index,
        "params": experiment.params,
        "args": list(experiment.args),
        "command": list(experiment.command),
    }


def write_dry_run_json(plan: Plan, stream: IO[str]) -> None:
    """Write the plan as one JSON object, experiment by experiment (a plan may be large)."""
    head = {
        "run": plan.run,
        "strategy": plan.strategy,
        "seed": plan.seed,
        "num_experiments": len(plan),
    }
    if plan.adaptive:
        head["space"] = adaptive_space(plan)
    stream.write(json.dumps(head)[:-1] + ', "experiments": [')
    chunk: list[str] = []
    for position, experiment in enumerate(plan):
        chunk.append((",\n" if position else "\n") + json.dumps(dry_run_record(experiment)))
        if len(chunk) == 1000:  # few large writes: stdout may be unbuffered
            stream.write("".join(chunk))
            chunk.clear()
    stream.write("".join(chunk))
    stream.write("\n]}\n")


def adaptive_space(plan: Plan) -> dict[str, dict[str, object]]:
    """What an adaptive strategy searches, flag by flag (its values come as experiments start)."""
    from dataclasses import asdict

    from gridrun.tuning.dimensions import search_dimensions

    described: dict[str, dict[str, object]] = {}
    for dimension in search_dimensions(plan.space)[0]:
        fields = asdict(dimension)
        flag = fields.pop("flag")
        if dimension.kind == "categorical":
            described[flag] = {"kind": "categorical", "choices": list(dimension.choices)}
        else:
            keep = (
                ("kind", "low", "high", "step")
                if dimension.kind == "int"
                else ("kind", "low", "high", "log")
            )
            described[flag] = {key: fields[key] for key in keep}
    return described


def print_adaptive_plan(plan: Plan, console: object) -> None:
    """An adaptive plan: the space searched, since no values exist before experiments start."""
    from rich.table import Table

    table = Table(header_style="bold")
    for column in ("flag", "searched as", "values"):
        table.add_column(column)
    for flag, described in adaptive_space(plan).items():
        if described["kind"] == "categorical":
            values = ", ".join(str(c) for c in described["choices"])  # type: ignore[union-attr]
        elif described["kind"] == "int":
            values = f"{described['low']} … {described['high']} (step {described['step']})"
        else:
            scale = ", log scale" if described["log"] else ""
            values = f"{described['low']:g} … {described['high']:g}{scale}"
        table.add_row(flag, str(described["kind"]), values)
    console.print(table)  # type: ignore[attr-defined]
    console.print(  # type: ignore[attr-defined]
        f"{len(plan):,} experiments; each one's values are proposed when it starts, from the "
        "results so far (needs --metric NAME --mode min|max)"
    )
    console.print("[dim]run them: the same command without --dry_run[/dim]")  # type: ignore[attr-defined]


def shown_command(experiment: Experiment) -> str:
    """The command as a shell would take it, without gridrun's interpreter (said once above)."""
    command = list(experiment.command)
    if command and command[0] == sys.executable:
        command = command[1:]
    return shlex.join(command)


def make_console(stream: IO[str]):
    """A rich console on `stream`: the terminal's width, or a wide page when piped."""
    from rich.console import Console

    width = None if stream.isatty() else int(os.environ.get("COLUMNS", "160"))
    return Console(file=stream, highlight=False, width=width)


def print_dry_run(plan: Plan, as_json: bool, stream: IO[str] | None = None) -> None:
    """Show the plan: JSON, or a table that elides the middle of a long run."""
    stream = stream or sys.stdout
    if as_json:
        write_dry_run_json(plan, stream)
        return
    from rich.table import Table

    console = make_console(stream)
    count = len(plan)
    noun = "experiment" if count == 1 else "experiments"
    console.print(f"[bold]Dry run[/bold] of [cyan]{plan.run}[/cyan]: nothing is launched")
    console.print(f"strategy {plan.strategy} · seed {plan.seed} · {count:,} {noun}")
    if plan.prefix and plan.prefix[0] == sys.executable:
        console.print(f"[dim].py scripts run under {sys.executable}[/dim]", soft_wrap=True)
    if plan.adaptive:
        print_adaptive_plan(plan, console)
        return
    flags = [flag.name for _, flag in plan.space.dimensions]
    table = Table(show_lines=False, header_style="bold")
    table.add_column("name", no_wrap=True)
    for flag in flags:
        table.add_column(flag, no_wrap=True)
    table.add_column("command", overflow="fold", ratio=1)
    positions: list[int | None] = list(range(count))
    if count > TABLE_HEAD_ROWS + TABLE_TAIL_ROWS:
        positions = [*range(TABLE_HEAD_ROWS), None, *range(count - TABLE_TAIL_ROWS, count)]
    for position in positions:
        if position is None:
            hidden = count - TABLE_HEAD_ROWS - TABLE_TAIL_ROWS
            table.add_row(f"[dim]… {hidden:,} more[/dim]", *[""] * (len(flags) + 1))
            continue
        experiment = plan.experiment(position)
        table.add_row(
            experiment.name,
            *(experiment.params[flag] for flag in flags),
            shown_command(experiment),
        )
    console.print(table)
    if None in positions:
        console.print("[dim]all of them: grid --output json run --dry_run ...[/dim]")
    console.print(f"{count:,} {noun}")
    console.print("[dim]run them: the same command without --dry_run[/dim]")
