"""The ``nhisim`` command: one Typer app, one module per group of commands.

The app itself lives in :mod:`nhisim.cli.common`, where the command modules register on
it; this module imports them and runs it (the console script's entry point is
:func:`main`). Bad input never shows a traceback: :class:`~nhisim.errors.InputError` is
printed as a one-screen message on stderr and the process exits with code 2.
"""

from __future__ import annotations

import sys

from nhisim.cli.common import app, err_console, os_error, report_input_error
from nhisim.errors import InputError

__all__ = ["app", "main", "report_input_error"]


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script."""
    # imported here, not at the top, so that importing the app stays cheap; this order is
    # the order of the commands in --help
    from nhisim.cli import (  # noqa: F401, I001  (registers the commands, in this order)
        commands_pack,
        commands_scenario,
        commands_import,
        commands_policy,
        commands_report,
        commands_sim,
        commands_sweep,
        commands_world,
        commands_whatif,
    )
    from nhisim.experiments.executors import ExecutorError

    try:
        app(args=argv, prog_name="nhisim", standalone_mode=True)  # as installed, also under python -m
    except InputError as exc:
        report_input_error(exc)
        sys.exit(exc.exit_code)
    except OSError as exc:  # the machine refused a read or write: the user's to fix, not a bug to trace
        error = os_error(exc)
        report_input_error(error)
        sys.exit(error.exit_code)
    except ExecutorError as exc:  # a worker process died, every Dask worker was lost: not a bug of ours
        err_console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
        sys.exit(1)
