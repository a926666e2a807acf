"""The ``nhisim`` command: one Typer app, one module per group of commands.

Bad input never shows a traceback: :class:`~nhisim.errors.InputError` is printed as a
one-screen message on stderr and the process exits with code 2.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from nhisim.errors import InputError

app = typer.Typer(
    name="nhisim",
    help="A discrete-event laboratory for the identities of AI agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def report_input_error(exc: InputError) -> None:
    """Print a bad-input message the way every command does."""
    err_console.print(f"[bold red]error:[/] {exc.title}")
    err_console.print(exc.render(), markup=False)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script."""
    from nhisim.cli import (  # noqa: F401  (registers commands)
        commands_pack,
        commands_policy,
        commands_report,
        commands_scenario,
        commands_sim,
        commands_sweep,
        commands_world,
    )
    from nhisim.experiments.executors import ExecutorError

    try:
        app(args=argv, standalone_mode=True)
    except InputError as exc:
        report_input_error(exc)
        sys.exit(exc.exit_code)
    except ExecutorError as exc:  # a worker process died, every Dask worker was lost: not a bug of ours
        err_console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
        sys.exit(1)
