"""The root ``sentinel-db`` app: global options, command groups, and the one error path."""

from __future__ import annotations

import copy
import gc
import sys
import traceback
from collections.abc import Sequence
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sentinel_db.cli.context import CliState, current_state, get_state, scrub
from sentinel_db.cli.render import err

if TYPE_CHECKING:
    from sentinel_db.errors import SentinelDBError


def _version(value: bool) -> None:
    if value:
        from sentinel_db import __version__

        typer.echo(f"sentinel-db {__version__}")
        raise typer.Exit()


def root(
    ctx: typer.Context,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="More detail, and tracebacks of bugs.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only problems.")] = False,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Read settings from this .env file.", dir_okay=False),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url", help="PostgreSQL URL (overrides DATABASE_URL).", show_default=False
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Global options apply to every command."""
    state = get_state(ctx)
    state.verbose, state.quiet, state.config, state.database_url = (
        verbose,
        quiet,
        config,
        database_url,
    )
    if database_url:
        from sentinel_db.config import database_target
        from sentinel_db.errors import ConfigError

        try:
            password = database_target(database_url).password
        except ConfigError:
            password = None
        if password:
            state.secrets.append(password)


# Each command and group by name: (module of sentinel_db.cli, attribute, help). A command line
# loads and builds only the one it names, so `stats` neither imports nor builds `import`.
_GROUPS: dict[str, tuple[str, str]] = {
    "auth": ("db_cmd", "auth_app"),
    "db": ("db_cmd", "db_app"),
    "import-data": ("import_cmd", "app"),
    "data": ("data_cmd", "app"),
    "embedded": ("embedded_cmd", "app"),
}
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "migrate": ("db_cmd", "migrate", "Upgrade the schema (same as `db migrate`)."),
    "import": (
        "import_cmd",
        "import_everyday",
        "Import every recognised CSV under SOURCE (same as `import-data bulk`).",
    ),
    "embed": (
        "vectors_cmd",
        "embed",
        "Embed rows whose vector is missing or stale (needs a provider).",
    ),
    "stats": ("data_cmd", "stats", "Row counts, sizes, coverage (same as `data stats`)."),
}
# Global options that take a value: the word after them is not a command's name.
_VALUED = ("--config", "--database-url")


def build_app(only: str | None = None, sub: str | None = None) -> typer.Typer:
    """The root app with every command, or with only the command or group named ``only``
    (and of that group only its command ``sub``, when it has one of that name)."""
    from sentinel_db.cli.args import PlainCommand

    app = typer.Typer(
        name="sentinel-db",
        help="Load, check and query PCI DSS controls, AWS Config rule guidance and their mappings.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(root)
    for name, (module, attribute) in _GROUPS.items():
        if only in (None, name):
            app.add_typer(_pruned(_load(module, attribute), sub), name=name)
    for name, (module, attribute, text) in _COMMANDS.items():
        if only in (None, name):
            cls = PlainCommand if name == "import" else None
            app.command(name, cls=cls, help=text)(_load(module, attribute))
    return app


def _load(module: str, attribute: str) -> Any:
    return getattr(import_module(f"sentinel_db.cli.{module}"), attribute)


def _pruned(group: typer.Typer, sub: str | None) -> typer.Typer:
    """``group`` with only its command ``sub``: building the others' options costs time.

    The whole group when ``sub`` names none of its commands (its help lists them all)."""
    kept = [
        info
        for info in group.registered_commands
        if sub is not None
        and str(info.name or getattr(info.callback, "__name__", "")).lower().replace("_", "-")
        == sub
    ]
    if not kept:
        return group
    pruned = copy.copy(group)
    pruned.registered_commands = kept
    return pruned


def command_named(argv: Sequence[str]) -> tuple[str | None, str | None]:
    """The command or group ``argv`` names (its first word that is not a global option), and
    the word after a group's name that is not an option (the group's command, if any)."""
    words = iter(argv)
    for word in words:
        if word in _VALUED:
            next(words, None)
        elif not word.startswith("-"):
            if word in _COMMANDS:
                return word, None
            if word not in _GROUPS:
                return None, None
            sub = next((w for w in words if not w.startswith("-")), None)
            return word, sub
    return None, None


def __getattr__(name: str) -> Any:
    # ``app``, the whole command tree, is built only when asked for (documentation, tests).
    if name == "app":
        return build_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _report(exc: SentinelDBError, state: CliState) -> int:
    err.print(
        f"error: {scrub(exc.message, state.secrets)}", markup=False, highlight=False, style="red"
    )
    if exc.hint:
        err.print(f"hint: {scrub(exc.hint, state.secrets)}", markup=False, highlight=False)
    if state.verbose and exc.__cause__ is not None:
        detail = "".join(traceback.format_exception(exc.__cause__))
        err.print(scrub(detail, state.secrets), markup=False, highlight=False)
    return int(exc.exit_code)


# Typer's parser errors, found through a public class (Typer vendors its parser in newer releases).
_ClickException: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)
_UsageError: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError"
)


def _usage_error(exc: Exception) -> int:
    """A usage error (unknown option, bad value, missing argument) as ``error:`` and ``hint:``."""
    code = int(getattr(exc, "exit_code", 2))
    if type(exc).__name__ == "NoArgsIsHelpError":
        return code  # the help has been printed: that is the answer
    ctx = getattr(exc, "ctx", None)
    message = getattr(exc, "format_message", exc.__str__)()
    err.print(f"error: {message}", markup=False, highlight=False, style="red")
    if isinstance(exc, _UsageError):
        command = ctx.command_path if ctx is not None else "sentinel-db"
        hint = f"see '{command} --help' for its arguments and options"
        err.print(f"hint: {hint}", markup=False, highlight=False)
    return code


# Young objects collected every this many allocations, not Python's 700 (see main()).
_GC_THRESHOLD = (100_000, 50, 100)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; library errors become one message and their exit code, never a traceback.

    Run as the program (``argv`` None), the process lives for one command: its cyclic garbage is
    collected rarely, and what is left at the end is frozen, so Python's collection at exit does
    not walk every object the libraries made (together about 50 ms of an everyday command's
    half second). Called in a process that goes on (``argv`` given), the collector is untouched.
    """
    if argv is None:
        gc.set_threshold(*_GC_THRESHOLD)
        try:
            _main(sys.argv[1:])
        finally:
            gc.freeze()
    else:
        _main(argv)


def _main(args: list[str]) -> None:
    app = build_app(*command_named(args))
    try:
        code = app(args=args, prog_name="sentinel-db", standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except _ClickException as exc:
        sys.exit(_usage_error(exc))
    except typer.Abort:
        err.print("interrupted", markup=False)
        sys.exit(130)
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        sys.exit(130)
    except Exception as exc:
        # Imported here, not at the top: the library is loaded only by commands that use it.
        from sentinel_db.errors import SentinelDBError

        if not isinstance(exc, SentinelDBError):
            raise  # a bug: the traceback is the right output
        sys.exit(_report(exc, current_state()))
