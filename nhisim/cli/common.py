"""What every command module shares: the one Typer app, the error console, and helpers.

Command modules register their commands on :data:`app` by importing it from here;
:mod:`nhisim.cli.app` imports the command modules and runs the app, so no command module
needs to import it back.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.console import Console

from nhisim.errors import InputError, printable, shown
from nhisim.files import make_folders


class SafeConsole(Console):
    """A Rich console that shows the text it is given and never obeys it.

    Every string it renders (a message, a table's title or cell, a path) goes through
    :func:`~nhisim.errors.printable` first: escape sequences, other control characters,
    bidirectional overrides and lone surrogates from a file, a file name or a value
    become visible escapes. Markup stays ours: text from the input put into a markup
    string goes through :func:`plain`.
    """

    def render_str(self, text: str, **options):  # noqa: ANN003  (Rich's own keywords)
        return super().render_str(printable(text), **options)


def make_console(stderr: bool = False, soft_wrap: bool = False) -> SafeConsole:
    """A console for a command's output (stdout), or for its messages and progress (stderr)."""
    return SafeConsole(stderr=stderr, highlight=False, soft_wrap=soft_wrap)


def status(on: Console, text: str):  # noqa: ANN201  (a Rich status, or nothing)
    """A spinner with ``text`` while something slow runs, on a terminal only."""
    import contextlib

    return on.status(text) if on.is_terminal else contextlib.nullcontext()


def live(quiet: bool, on: Console) -> bool:
    """Whether to show a progress bar: not ``quiet``, and ``on`` is a terminal (in a pipe or a log a
    bar shows nothing but leaves a blank line)."""
    return not quiet and on.is_terminal


app = typer.Typer(
    name="nhisim",
    help="A discrete-event laboratory for the identities of AI agents.",
    epilog="Example: nhisim demo",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
    pretty_exceptions_enable=False,
)
err_console = make_console(stderr=True, soft_wrap=True)


def _print_version(value: bool) -> None:
    if value:
        from nhisim._version import __version__

        typer.echo(f"nhisim {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(False, "--version", "-V", callback=_print_version, is_eager=True,
                                 help="print the version and exit"),
    allow_path: list[Path] = typer.Option(None, "--allow-path", metavar="DIR",
                                          help="let scenario files read extends: and policies: files in DIR too "
                                               "(repeatable; by default only their own folder tree and the "
                                               "bundled pack), e.g. nhisim --allow-path ../shared validate x.yaml"),
) -> None:
    # the app's own options (before the command); each command's are on the command
    if allow_path:
        allow_paths(allow_path)


def allow_paths(folders: list[Path]) -> None:
    """``--allow-path``: for every load in this process and the worker processes it starts."""
    from nhisim.scenario.loader import ALLOW_PATHS_ENV

    known = [p for p in os.environ.get(ALLOW_PATHS_ENV, "").split(os.pathsep) if p]
    os.environ[ALLOW_PATHS_ENV] = os.pathsep.join([*known, *(os.fspath(f) for f in folders)])


def plain(text: object) -> str:
    """Text from the input (a title, a path, a value) made safe to put into Rich markup:
    shown, never obeyed (:func:`~nhisim.errors.printable`; a path on one line, with its
    undecodable bytes as ``\\xff``), and ``[`` escaped so ``[/]`` or ``[link=...]`` is text."""
    from rich.markup import escape

    return escape(shown(text) if isinstance(text, os.PathLike) else printable(text))


def report_input_error(exc: InputError) -> None:
    """Print a bad-input message the way every command does."""
    err_console.print(f"[bold red]error:[/] {plain(exc.title)}")
    err_console.print(exc.render(), markup=False)


def parse_sets(values: list[str] | None) -> dict[str, object]:
    """``--set PATH=VALUE`` options as an overrides mapping."""
    from nhisim.scenario.loader import parse_override

    return dict(parse_override(v) for v in values or [])


def force_if(enabled: bool) -> None:
    """``--force``: run whatever the work estimate (:mod:`nhisim.scenario.workload`), workers included."""
    if enabled:
        from nhisim.scenario.workload import force

        force()


def output_file(path: Path, option: str = "--out", what: str = "file") -> Path:
    """A file we may write (its folder created if missing), or bad input naming ``option``.

    Checked before the work, so an hour-long comparison does not fail at its last line.
    """
    if path.is_dir():
        raise InputError.single(f"is a folder; give the {what}'s file name", file=str(path), location=option,
                                suggestion=f"e.g. {option} {path / ('out' + (path.suffix or '.txt'))}")
    for parent in [path.parent, *path.parent.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise InputError.single(f"{parent} is a file, not a folder", file=str(path), location=option,
                                        suggestion="choose a path whose folders are folders")
            break
    existed = path.exists()
    try:
        make_folders(path.parent)
        with open(path, "ab"):  # opens for writing without touching what is there
            pass
        if not existed:  # a probe, not a result: a command that fails later leaves nothing behind
            path.unlink()
    except OSError as exc:
        raise InputError.single(f"cannot write the {what}: {exc.strerror or exc}", file=str(path), location=option,
                                suggestion="choose a path you can write to") from None
    return path


def os_error(exc: OSError) -> InputError:
    """An operating-system refusal (a full disk, a read-only folder) met mid-command, as bad input."""
    name = os.fsdecode(exc.filename) if isinstance(exc.filename, (str, bytes, os.PathLike)) else ""
    return InputError.single(f"cannot read or write this path: {exc.strerror or exc}", file=name,
                             suggestion="check the path, its permissions and the free space",
                             title="file system error")
