"""What every command module shares: the one Typer app, the error console, and helpers.

Command modules register their commands on :data:`app` by importing it from here;
:mod:`nhisim.cli.app` imports the command modules and runs the app, so no command module
needs to import it back.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from nhisim.errors import InputError

app = typer.Typer(
    name="nhisim",
    help="A discrete-event laboratory for the identities of AI agents.",
    epilog="Example: nhisim demo",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def _print_version(value: bool) -> None:
    if value:
        from nhisim._version import __version__

        typer.echo(f"nhisim {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(False, "--version", "-V", callback=_print_version, is_eager=True,
                                 help="print the version and exit"),
) -> None:
    # the app's own options; each command's are on the command
    pass


# C0 and C1 control characters but tab and newline: an ESC reaching the terminal raw could
# repaint it, retitle it or hide text
_CONTROL = str.maketrans({c: None for c in [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)]})


def plain(text: object) -> str:
    """Text from the input (a title, a path) made safe to print with Rich markup on:
    control characters dropped, ``[`` escaped so ``[/]`` or ``[link=...]`` is shown, not obeyed."""
    from rich.markup import escape

    return escape(_printable(str(text)))


def _printable(text: str) -> str:
    """No control characters, and a lone surrogate (from a YAML escape) as its escape: printing it would raise."""
    return text.translate(_CONTROL).encode("utf-8", "backslashreplace").decode("utf-8")


def report_input_error(exc: InputError) -> None:
    """Print a bad-input message the way every command does."""
    err_console.print(f"[bold red]error:[/] {exc.title}")
    err_console.print(_printable(exc.render()), markup=False)


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
        path.parent.mkdir(parents=True, exist_ok=True)
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
    name = exc.filename if isinstance(exc.filename, str) else ""
    return InputError.single(f"cannot read or write this path: {exc.strerror or exc}", file=name,
                             suggestion="check the path, its permissions and the free space",
                             title="file system error")
