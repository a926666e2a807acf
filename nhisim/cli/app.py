"""The ``nhisim`` command: one Typer app, one module per group of commands.

The app itself lives in :mod:`nhisim.cli.common`, where the command modules register on
it; this module imports them and runs it (the console script's entry point is
:func:`main`). Bad input never shows a traceback: :class:`~nhisim.errors.InputError` is
printed as a one-screen message on stderr and the process exits with code 2.
"""

from __future__ import annotations

import sys

import typer

from nhisim.cli.common import app, err_console, os_error, plain, report_input_error
from nhisim.errors import InputError

__all__ = ["app", "main", "report_input_error"]

# click's base of usage errors, from whichever click Typer uses (its own copy in recent versions)
USAGE_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


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
        commands_plan,
    )
    from nhisim.cli.envelope import emit_failure, wants_json
    from nhisim.experiments.executors import ExecutorError

    args = list(sys.argv[1:] if argv is None else argv)
    as_json = wants_json(args)

    def fail(error: BaseException, code: int) -> None:
        if as_json:  # the envelope on stdout, the message on stderr as always
            emit_failure(typer.main.get_command(app), args, error)
        sys.exit(code)

    try:
        # as installed, also under python -m; with --json, usage errors reach us to be told as JSON
        code = app(args=args, prog_name="nhisim", standalone_mode=not as_json)
        sys.exit(code if isinstance(code, int) else 0)
    except InputError as exc:
        report_input_error(exc)
        fail(exc, exc.exit_code)
    except OSError as exc:  # the machine refused a read or write: the user's to fix, not a bug to trace
        error = os_error(exc)
        report_input_error(error)
        fail(error, error.exit_code)
    except ExecutorError as exc:  # a worker process died, every Dask worker was lost: not a bug of ours
        err_console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
        fail(exc, 1)
    except USAGE_ERROR as exc:  # only with --json: without it Typer prints these itself
        err_console.print(f"[bold red]error:[/] {plain(exc.format_message())}", highlight=False)
        fail(exc, exc.exit_code)
    except typer.Abort as exc:
        err_console.print("Aborted.", markup=False)
        fail(exc, 1)
