"""`embedded` commands: see and stop the embedded PostgreSQL that runs when no URL is set."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sentinel_db.cli.context import get_state
from sentinel_db.cli.render import ReportFormat, info, out, print_json

if TYPE_CHECKING:
    from sentinel_db.runtime.embedded import EmbeddedStatus

app = typer.Typer(
    help="The embedded PostgreSQL used when no DATABASE_URL is set: status and stop.",
    no_args_is_help=True,
)


def _data_dir(ctx: typer.Context) -> Path:
    from sentinel_db.runtime.embedded import default_data_dir

    return get_state(ctx).settings().embedded_dir or default_data_dir()


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB"


def _print_status(result: EmbeddedStatus) -> None:
    lines = [
        f"data dir: {result.data_dir}",
        f"running:  {'yes' if result.running else 'no'}",
    ]
    if result.running:
        lines.append(f"pid:      {result.pid}")
        socket = f"{result.socket_dir}/.s.PGSQL.{result.port}" if result.socket_dir else "-"
        lines.append(f"socket:   {socket}")
        if result.listen_address:
            lines.append(f"tcp:      {result.listen_address} port {result.port}")
        else:
            lines.append("tcp:      none (the socket only; any server on that port is another)")
    lines.append(f"version:  {f'PostgreSQL {result.version}' if result.version else '-'}")
    lines.append(f"size:     {_size(result.size_bytes)}")
    if result.system_user:
        lines.append(f"runs as:  system user {result.system_user} (PostgreSQL refuses root)")
    if not result.initialised:
        lines.append("not created yet: the first command without DATABASE_URL creates it")
    out.print("\n".join(lines), markup=False, highlight=False)


@app.command("status")
def status_cmd(
    ctx: typer.Context,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="text or json.")] = (
        ReportFormat.text
    ),
) -> None:
    """Data folder, version, pid, socket, running or not, size. Starts nothing."""
    from sentinel_db.runtime.embedded import status

    result = status(_data_dir(ctx))
    if fmt is ReportFormat.json:
        print_json(result.to_dict())
        return
    _print_status(result)


@app.command("stop")
def stop_cmd(ctx: typer.Context) -> None:
    """Stop the embedded server (the next command without DATABASE_URL starts it again)."""
    from sentinel_db.runtime.embedded import stop

    state = get_state(ctx)
    data_dir = _data_dir(ctx)
    if stop(data_dir):
        info(f"stopped the embedded PostgreSQL in {data_dir}", quiet=state.quiet)
    else:
        info(f"the embedded PostgreSQL in {data_dir} is not running; nothing changed")
