"""What every command module shares: the one Typer app, the error console, and helpers.

Command modules register their commands on :data:`app` by importing it from here;
:mod:`nhisim.cli.app` imports the command modules and runs the app, so no command module
needs to import it back.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
    return on.status(text) if on.is_terminal else contextlib.nullcontext()


def live(quiet: bool, on: Console) -> bool:
    """Whether to show a progress bar: not ``quiet``, and ``on`` is a terminal (in a pipe or a log a
    bar shows nothing but leaves a blank line)."""
    return not quiet and on.is_terminal


@contextmanager
def runs_bar(quiet: bool, *, on: Console | None = None, elapsed: bool = False
             ) -> Iterator[Callable[[str], Callable[[int, int], None]]]:
    """A progress bar of runs on ``on`` (standard error), shown only where :func:`live` says.

    Yields ``track(description)``, which adds a line to the bar and returns the
    ``progress(done, total)`` callback the experiments call. ``elapsed`` shows the time
    spent rather than the time left.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    console = on or err_console
    clock = TimeElapsedColumn() if elapsed else TimeRemainingColumn()
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} runs"),
                  clock, console=console, disable=not live(quiet, console), transient=True) as progress:

        def track(description: str) -> Callable[[int, int], None]:
            task = progress.add_task(description, total=None)
            return lambda done, total: progress.update(task, completed=done, total=total)

        yield track


@contextmanager
def time_bar(quiet: bool, description: str, *, on: Console | None = None
             ) -> Iterator[Callable[[float, float], None]]:
    """A progress bar of one run's simulated time on ``on`` (standard error), shown only where
    :func:`live` says. Yields the ``progress(now, horizon)`` callback a run calls."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from nhisim.scenario.units import format_duration

    console = on or err_console
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[simulated]}"),
                  TimeElapsedColumn(), console=console, disable=not live(quiet, console), transient=True) as progress:
        task = progress.add_task(description, total=None, simulated="")

        def advance(now: float, horizon: float) -> None:
            progress.update(task, completed=now, total=horizon,
                            simulated=f"{format_duration(now)} of {format_duration(horizon)} simulated")

        yield advance


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
    """A file we may write, or bad input naming ``option``.

    Checked before the work, so an hour-long comparison does not fail at its last line: by
    writing a probe, removed again with any folder made for it (the writer makes them), so a
    command that fails later leaves nothing behind.
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
    missing = list(itertools.takewhile(lambda folder: not folder.exists(), [path.parent, *path.parent.parents]))
    try:
        make_folders(path.parent)
        with open(path, "ab"):  # opens for writing without touching what is there
            pass
        if not existed:
            path.unlink()
    except OSError as exc:
        raise InputError.single(f"cannot write the {what}: {exc.strerror or exc}", file=str(path), location=option,
                                suggestion="choose a path you can write to") from None
    finally:
        for folder in missing:  # deepest first
            with contextlib.suppress(OSError):
                folder.rmdir()
    return path


def os_error(exc: OSError) -> InputError:
    """An operating-system refusal (a full disk, a read-only folder) met mid-command, as bad input."""
    name = os.fsdecode(exc.filename) if isinstance(exc.filename, (str, bytes, os.PathLike)) else ""
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


def write_stdout(path: Path) -> None:
    """A file's bytes to standard output, after whatever text is already there (copied a block at
    a time: an event log can be gigabytes)."""
    import codecs
    import shutil
    import sys

    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    with open(path, "rb") as fh:
        if buffer is None:  # a text-only stream: decode across block boundaries
            decoder = codecs.getincrementaldecoder("utf-8")("replace")
            for block in iter(lambda: fh.read(1 << 20), b""):
                sys.stdout.write(decoder.decode(block))
            sys.stdout.write(decoder.decode(b"", final=True))
        else:
            shutil.copyfileobj(fh, buffer, 1 << 20)
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
        write_stdout(target)


def messages_console(stdout_taken: bool) -> Console:
    """Where a command's own messages go: stdout, or stderr when stdout carries its data (``--out -``)."""
    return err_console if stdout_taken else make_console()
