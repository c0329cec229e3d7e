"""The `grid` command group: global options, the commands, and the one error reporter.

Kept thin and cheap to import: `grid --help` loads click and nothing heavy (no numpy, no
rich); each command imports what it needs when it runs.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from gridrun._version import __version__
from gridrun.errors import GridrunError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class CliSettings:
    """What the global options say, handed to every command through `click`'s context."""

    __slots__ = ("debug", "output")

    def __init__(self, output: str = "table", debug: bool = False) -> None:
        self.output = output
        self.debug = debug

    @property
    def json(self) -> bool:
        return self.output == "json"


_debug = False
"""Set by the group's callback: whether `--debug` was given (the reporter needs it)."""


_owns_process = False
"""Set by `main` when called with no arguments (the `grid` command, `python -m gridrun`): the
command line is this process's own, which may end at once when a run is over."""


def owns_process() -> bool:
    return _owns_process


def debug_requested() -> bool:
    return _debug or os.environ.get("GRIDRUN_DEBUG", "") not in ("", "0")


COMMANDS = {
    "run": "gridrun.cli.run:run_command",
    "status": "gridrun.cli.inspect:status_command",
    "history": "gridrun.cli.inspect:history_command",
    "logs": "gridrun.cli.inspect:logs_command",
    "stop": "gridrun.cli.manage:stop_command",
    "delete": "gridrun.cli.manage:delete_command",
    "resume": "gridrun.cli.run:resume_command",
    "best": "gridrun.cli.results:best_command",
    "export": "gridrun.cli.results:export_command",
    "artifacts": "gridrun.cli.artifacts:artifacts_command",
    "view": "gridrun.cli.view:view_command",
    "_drive": "gridrun.cli.run:drive_command",
}
"""Each command and where it lives: a module is imported only when its command runs (or
`--help` lists them), so that `grid run` starts its first experiment sooner."""


class LazyGroup(click.Group):
    """A group whose commands are imported on first use (click's documented pattern)."""

    def __init__(self, *args: Any, lazy_commands: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *self.lazy_commands]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands:
            import importlib

            module_name, attribute = self.lazy_commands[cmd_name].split(":")
            return getattr(importlib.import_module(module_name), attribute)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, lazy_commands=COMMANDS, context_settings=CONTEXT_SETTINGS)
@click.option(
    "--output",
    "-o",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="How commands print their results: for people, or as JSON for programs.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks (also: GRIDRUN_DEBUG=1).")
@click.version_option(__version__, "--version", prog_name="gridrun", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context, output: str, debug: bool) -> None:
    """gridrun: hyperparameter sweeps of any script, with Grid.ai's sweep syntax.

    \b
      grid run train.py --lr "[0.1, 0.01]" --layers "range(2, 5)"
      grid run --strategy random_search --num_trials 20 train.py --lr "loguniform(1e-5, 1e-1, 100)"
      grid --output json run --dry_run train.py --batch "[32, 64]"
    """
    global _debug
    _debug = debug
    ctx.obj = CliSettings(output=output, debug=debug_requested())


@cli.command("version")
@click.pass_obj
def version_command(settings: CliSettings) -> None:
    """Print gridrun's version."""
    if settings.json:
        import json

        click.echo(json.dumps({"version": __version__, "python": sys.version.split()[0]}))
    else:
        click.echo(f"gridrun {__version__}")


def report_error(message: str) -> None:
    """Print a user-facing error on stderr: `error:` and the message, nothing else."""
    click.echo(f"{click.style('error:', fg='red', bold=True)} {message}", err=True)


def main(argv: list[str] | None = None) -> None:
    """The console script: run the CLI, turn errors into one message and an exit code."""
    global _owns_process
    _owns_process = argv is None
    try:
        cli.main(args=argv, prog_name="grid", standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.Abort:
        report_error("aborted")
        sys.exit(130)
    except GridrunError as error:
        if debug_requested():
            raise
        report_error(str(error))
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        report_error("interrupted")
        sys.exit(130)
    except BrokenPipeError:
        # The reader went away (e.g. `grid ... | head`): not an error of ours.
        sys.stderr.close()
        sys.exit(0)
    except Exception as error:  # a bug of ours: say so in one line, trace when debugging
        if debug_requested():
            raise
        report_error(f"internal error: {type(error).__name__}: {error} (rerun with --debug)")
        sys.exit(1)
    sys.exit(0)
