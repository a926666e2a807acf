"""What every command module shares: the one Typer app, the error console, and helpers.

Command modules register their commands on :data:`app` by importing it from here;
:mod:`nhisim.cli.app` imports the command modules and runs the app, so no command module
needs to import it back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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


JSON_OPTION = typer.Option(False, "--json", help="print one JSON envelope on stdout (see docs/cli.md), nothing else")


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


# --------------------------------------------------------------------------- `-`: standard input and output

STDIO = "-"
STDIN_NAME = "<stdin>"  # how messages name a scenario read from standard input


def is_stdio(path: object) -> bool:
    """Whether a file argument is ``-``: standard input where a file is read, standard output where one is written."""
    return path is not None and str(path) == STDIO


def read_stdin(what: str = "scenario") -> str:
    """The text piped to standard input, bounded like a scenario file, or bad input naming ``<stdin>``."""
    from nhisim.scenario.loader import MAX_BYTES_ENV, max_file_bytes

    limit = max_file_bytes()
    raw = stdin_bytes(limit, what)
    if len(raw) > limit:
        raise InputError.single(f"standard input is over the {limit:,}-byte limit for scenario files",
                                file=STDIN_NAME, suggestion=f"split the estate, or raise {MAX_BYTES_ENV}")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError.single(f"standard input is not UTF-8 text (byte {exc.start})", file=STDIN_NAME,
                                suggestion="scenario files are UTF-8 YAML") from None


def stdin_bytes(limit: int, what: str = "scenario",
                example: str = "cat scenarios/leaked_key.yaml | nhisim validate -") -> bytes:
    """At most ``limit`` + 1 bytes piped to standard input (one more tells the caller it is over the
    limit), or bad input naming ``<stdin>`` when nothing is piped in."""
    import sys

    stream = sys.stdin
    if stream is None or stream.isatty():
        raise InputError.single(f"`-` reads the {what} from standard input, but nothing is piped in",
                                file=STDIN_NAME, suggestion=f"pipe it, e.g. {example}")
    buffer = getattr(stream, "buffer", None)
    return buffer.read(limit + 1) if buffer is not None else stream.read(limit + 1).encode("utf-8", "surrogatepass")


def scenario_arg(path: Path, overrides: dict | None = None):
    """A scenario argument as the Python API takes it: ``(source, overrides)``.

    A file stays a path (the API loads it, so its messages name the file); ``-`` is read
    from standard input now, with the overrides applied, so every message names ``<stdin>``
    and ``extends:`` is relative to the current folder.
    """
    if not is_stdio(path):
        return path, overrides
    from nhisim.scenario.loader import load_scenario_text

    return load_scenario_text(read_stdin(), overrides, name=STDIN_NAME), None


def load_scenario_arg(path: Path, overrides: dict | None = None):
    """The scenario a file argument (or ``-``) names, loaded and validated, overrides applied."""
    from nhisim.scenario.loader import load_scenario

    source, rest = scenario_arg(path, overrides)
    return source if source is not path else load_scenario(path, overrides=rest)


def stdin_once(paths: list[Path], what: str = "files") -> None:
    """Refuse ``-`` given twice: standard input can be read once."""
    if sum(is_stdio(p) for p in paths) > 1:
        raise InputError.single(f"`-` (standard input) is given more than once among the {what}", file=STDIN_NAME,
                                suggestion="pipe one scenario, and name the others by file")


def no_stdio_folder(path: Path | None, option: str, what: str = "results") -> None:
    """A folder option given ``-``: refused, standard output holds one stream, not a folder."""
    if is_stdio(path):
        raise InputError.single(f"{option} takes a folder for the {what}; `-` (standard output) cannot be one",
                                location=option, suggestion=f"give a folder name, e.g. {option} results")


def write_stdout(data: bytes) -> None:
    """Bytes to standard output, after whatever text is already there."""
    import sys

    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        sys.stdout.write(data.decode("utf-8", "replace"))
    else:
        buffer.write(data)
        buffer.flush()
    sys.stdout.flush()


@contextmanager
def output_target(path: Path, option: str = "--out", what: str = "file", *, suffix: str = ".txt",
                  binary: bool = False, as_json: bool = False) -> Iterator[Path]:
    """The file a command writes: ``path`` itself, checked before the work (:func:`output_file`), or
    for ``-`` a temporary file whose bytes go to standard output once it is whole.

    ``-`` is refused with ``--json`` (standard output holds the envelope) and, for a
    ``binary`` format, when standard output is a terminal. Never is a file named ``-`` made.
    """
    import sys
    import tempfile

    if not is_stdio(path):
        yield output_file(path, option, what)
        return
    if as_json:
        raise InputError.single(f"with --json standard output holds the JSON envelope, so the {what} cannot go "
                                "there too", location=f"{option} -", suggestion=f"give {option} a file name, or "
                                                                                "drop --json")
    if binary and sys.stdout.isatty():
        raise InputError.single(f"the {what} is binary and standard output is a terminal", location=f"{option} -",
                                suggestion=f"redirect it (... {option} - > out{suffix}) or give {option} a file name")
    with tempfile.TemporaryDirectory(prefix="nhisim-stdout-") as folder:
        target = Path(folder) / f"stdout{suffix}"
        yield target
        write_stdout(target.read_bytes())


def messages_console(stdout_taken: bool) -> Console:
    """Where a command's own messages go: stdout, or stderr when stdout carries its data (``--out -``)."""
    return err_console if stdout_taken else Console(highlight=False)
