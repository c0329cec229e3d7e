"""`grid view`: serve the dashboard on this machine."""

from __future__ import annotations

from typing import Any

import click

from gridrun.cli.options import option


@click.command("view")
@click.argument("run_name", required=False, metavar="[RUN]")
@option(
    "port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="The port to serve on.",
)
@option(
    "host",
    default="127.0.0.1",
    show_default=True,
    help="The address to serve on (others than this machine's loopback: with care).",
)
@option("no_browser", is_flag=True, help="Do not open a browser.")
@click.pass_obj
def view_command(
    settings: Any, run_name: str | None, port: int, host: str, no_browser: bool
) -> None:
    """Serve a read-only web dashboard of the runs (or of RUN) and open it in a browser."""
    from urllib.parse import quote

    from gridrun.cli.resolve import resolve_run
    from gridrun.errors import UserError
    from gridrun.paths import gridrun_home
    from gridrun.store import open_store

    try:
        from gridrun.dashboard.app import serve
    except ImportError as error:  # pragma: no cover - depends on the installation
        raise UserError(
            f"grid view needs the dashboard packages ({error.name}): pip install 'gridrun[view]'"
        ) from None
    home = gridrun_home()
    path = "/"
    if run_name:
        store = open_store(home)
        path = "/#/run/" + quote(resolve_run(store, run_name).name, safe="")
        store.close()
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(
            f"{click.style('warning:', fg='yellow', bold=True)} serving on {host}: anyone who "
            "can reach it can read every run, command and log in the store",
            err=True,
        )
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}{path}"
    click.echo(f"gridrun dashboard: {url}  (Ctrl-C to stop)")
    if not no_browser:
        import threading
        import webbrowser

        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    serve(home, host, port)
