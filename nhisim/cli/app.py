"""The ``nhisim`` command: one Typer app, one module per group of commands.

The app itself lives in :mod:`nhisim.cli.common`, where the command modules register on
it; this module imports them and runs it (the console script's entry point is
:func:`main`). Bad input never shows a traceback: :class:`~nhisim.errors.InputError` is
printed as a one-screen message on stderr and the process exits with code 2.

Ctrl-C and SIGTERM are handled from the first line of :func:`main`, before the heavy
imports: at any moment the command stops with one line saying what it kept, and exits
with 130 (Ctrl-C) or 143 (SIGTERM); with ``--json`` the envelope on stdout says so too.
This module imports nothing heavy, so that window is as small as Python allows.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from nhisim import interrupt

if TYPE_CHECKING:  # at run time imported on first use (see __getattr__)
    from nhisim.cli.common import app, report_input_error

__all__ = ["app", "main", "report_input_error"]


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script (``argv``: the arguments, when called from Python)."""
    previous: dict = {}
    before: int | None = None  # how many files the process had written when the command started
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        previous = interrupt.install()
        from nhisim.files import written

        before = len(written())
        _run(args)
    except KeyboardInterrupt as exc:
        _stop(exc, before, args)
    finally:
        if argv is not None:  # called as a function: leave the process's signal handling as it was
            interrupt.restore(previous)


def _register() -> None:
    # imported here, not at the top, so that Ctrl-C during the imports is told like any other;
    # this order is the order of the commands in --help
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


def _run(args: list[str]) -> None:
    _register()
    import typer

    from nhisim.cli.common import app, err_console, os_error, plain, report_input_error
    from nhisim.cli.envelope import emit_failure, wants_json
    from nhisim.errors import InputError
    from nhisim.experiments.executors import ExecutorError

    # click's base of usage errors, from whichever click Typer uses (its own copy in recent versions)
    usage_error = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
    as_json = wants_json(args)

    def fail(error: BaseException, code: int) -> None:
        if as_json:  # the envelope on stdout, the message on stderr as always
            emit_failure(typer.main.get_command(app), args, error)
        sys.exit(code)

    try:
        # as installed, also under python -m; with --json, usage errors reach us to be told as JSON
        code = app(args=args, prog_name="nhisim", standalone_mode=not as_json)
        if as_json and code == 130:  # Typer returns Ctrl-C as this code, the exception dropped
            raise interrupt.last() or interrupt.Interrupted()
        sys.exit(code if isinstance(code, int) else 0)
    except SystemExit as exc:
        cause = _interruption(exc)
        if cause is not None:  # Typer turns Ctrl-C into a silent exit 130: tell it, by its signal
            raise cause from None
        raise
    except InputError as exc:
        report_input_error(exc)
        fail(exc, exc.exit_code)
    except OSError as exc:  # the machine refused a read or write: the user's to fix, not a bug to trace
        error = os_error(exc)
        report_input_error(error)
        fail(error, error.exit_code)
    except ExecutorError as exc:  # a worker process died, every Dask worker was lost: not a bug of ours
        if interrupt.received():  # the workers were stopped by the signal that stops us
            raise interrupt.Interrupted() from None
        err_console.print(f"[bold red]error:[/] {plain(exc)}", markup=True, highlight=False)
        fail(exc, 1)
    except usage_error as exc:  # only with --json: without it Typer prints these itself
        err_console.print(f"[bold red]error:[/] {plain(exc.format_message())}", highlight=False)
        fail(exc, exc.exit_code)
    except typer.Abort as exc:
        cause = _interruption(exc)
        if cause is not None:
            raise cause from None
        err_console.print("Aborted.", markup=False)
        fail(exc, 1)


def _interruption(exc: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C or SIGTERM behind an exit, if that is what it was."""
    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        if isinstance(node, KeyboardInterrupt):
            return node
        seen.add(id(node))
        node = node.__cause__ or node.__context__
    return None


def _stop(exc: KeyboardInterrupt, before: int | None, args: list[str]) -> None:
    """One line saying what the interrupted command kept (the files it wrote since ``before``), the
    ``--json`` envelope saying the same, and the exit code of its signal."""
    interrupt.ignore()  # a second Ctrl-C must not cut this line short, nor these imports
    from nhisim.errors import printable, shown
    from nhisim.files import written

    signum = interrupt.first_signal()
    kept = getattr(exc, "kept", "")
    if not kept:
        names = list(dict.fromkeys(shown(f) for f in written()[before:])) if before is not None else []
        kept = (f"kept {', '.join(names[:3])}" + (f" and {len(names) - 3} more" if len(names) > 3 else "")
                if names else "nothing was written")
    line = f"interrupted ({interrupt.NAMES.get(signum, 'a signal')}): {printable(kept, one_line=True)}"
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
    _envelope_of_interruption(args, line)
    sys.exit(interrupt.exit_code())


def _envelope_of_interruption(args: list[str], line: str) -> None:
    """With ``--json``, the envelope (ok false, the kept line as its error) on stdout: it promises one."""
    from nhisim.cli.envelope import wants_json

    if not wants_json(args):
        return
    try:
        import typer

        from nhisim.cli.common import app
        from nhisim.cli.envelope import emit_failure

        _register()
        emit_failure(typer.main.get_command(app), args, interrupt.Interrupted(line))
    except Exception:  # noqa: BLE001, S110  (stdout closed or half-imported: the line on stderr has said it)
        pass


def __getattr__(name: str) -> Any:  # the app and its helpers, imported on first use
    if name in ("app", "report_input_error"):
        from nhisim.cli import common

        _register()
        return getattr(common, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
