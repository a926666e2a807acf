"""Errors a user can act on: bad input, told in one screen.

Every mistake in a scenario file, a command-line value or a results folder is raised as
:class:`InputError`, which carries where it is (file and location), what is wrong, and a
suggestion. The CLI prints it and exits with code 2; Python callers can catch it.

A location is written in ONE notation, the dotted path ``--set`` takes
(``threats.0.principal``, ``agents.2.roles.0``): :func:`path_text` writes it, and
:func:`split_path` reads it, accepting the bracket form (``threats[0].principal``) too.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field


def path_text(*parts: object) -> str:
    """A location as a dotted path: ``path_text("agents", 2, "roles", 0)`` is ``agents.2.roles.0``."""
    return ".".join(str(part) for part in parts if part != "")


_INDEX = re.compile(r"\[\s*([^\[\]]*?)\s*\]")


def split_path(path: str) -> list[str]:
    """The parts of a dotted path; the bracket form is read too (``threats[0].agent`` is ``threats.0.agent``)."""
    return [part for part in _INDEX.sub(r".\1", path.strip()).split(".") if part]


def normalise_path(path: str) -> str:
    """``path`` in the one notation of messages and results: ``threats[0].agent`` → ``threats.0.agent``."""
    return path_text(*split_path(path))


@dataclass
class Problem:
    """One thing wrong with the input."""

    message: str
    location: str = ""
    line: int | None = None
    suggestion: str = ""
    limit: int = 300  # characters of the message shown (longer words too): a huge value must not flood the screen

    def render(self, file: str = "") -> str:
        where = clip(shown(file), MAX_PATH) if file else ""
        if self.line is not None:
            where = f"{where}:{self.line}" if where else f"line {self.line}"
        if self.location:  # a location names keys and ids from the input: as long as they are
            location = _shorten(" ".join(clip(part) for part in self.location.split(" ")), MAX_PATH)
            where = f"{where} at {location}" if where else location
        message = _shorten(self.message, self.limit)
        text = f"{where}: {message}" if where else message
        if self.suggestion:
            text += f"\n    hint: {_shorten(self.suggestion)}"
        return text


MAX_WORD = 60
MAX_PATH = 200

# what a terminal obeys rather than shows: C0 and C1 controls (an ESC repaints, retitles or
# hides text) and the bidirectional controls (U+202E shows "exe.txt" as "txt.exe"); tab and
# newline are text
_OBEYED = {c: f"\\x{c:02x}" for c in [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)]}
_OBEYED.update({c: f"\\u{c:04x}" for c in [0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]})
_ONE_LINE = {**_OBEYED, 0x09: "\\t", 0x0A: "\\n", 0x2028: "\\u2028", 0x2029: "\\u2029"}


def printable(text: object, *, one_line: bool = False) -> str:
    """``text`` as a terminal, a report or a UTF-8 file can show it, never obey it.

    Control and bidirectional characters become visible escapes (``\\x1b``, ``\\u202e``);
    so do lone surrogates, which cannot be written as UTF-8: a file name's undecodable byte
    (Python decodes byte 0xFF as U+DCFF) shows as ``\\xff``, another surrogate as
    ``\\ud800``. ``one_line`` escapes tab and the line breaks too (newline, U+2028,
    U+2029; carriage return and NEL are controls): for a file name, a value in a sentence, a
    comment in a file another program reads.
    """
    escaped = str(text).translate(_ONE_LINE if one_line else _OBEYED)
    try:
        return escaped.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that stands for no byte
        return escaped.encode("utf-8", "backslashreplace").decode("utf-8")


def shown(path: str | os.PathLike | bytes) -> str:
    """A file name as text to show (a message, a report): one line, every byte visible.

    Only for showing: a name with an undecodable byte must be opened by its own
    ``Path``, which keeps the byte.
    """
    return printable(os.fsdecode(path), one_line=True)


def clip(value: object, limit: int = MAX_WORD) -> str:
    """``str(value)`` cut to about ``limit`` characters, saying how long it was.

    A 100,000-character key or id is still recognisable by its start and end.
    """
    text = str(value)
    if len(text) <= limit:
        return text
    half = (limit - 3) // 2
    return f"{text[:half]}...{text[-half:]} ({len(text):,} characters)"


def _shorten(text: str, limit: int = 300) -> str:
    """One line of at most about ``limit`` characters: a huge bad value must not flood the screen.

    Every over-long word (a value, a key, an id, a path of more than ``MAX_PATH``
    characters) is clipped first, so the sentence around it stays readable; then the
    middle goes, so both the start and the end of the sentence (what is wrong) stay. A
    longer message may hold longer words (a delegation chain is one).
    """
    word = max(MAX_PATH, MAX_PATH * limit // 300)  # a path is a word: kept usable
    text = " ".join(clip(w, word) for w in text.split())
    if len(text) <= limit:
        return text
    half = (limit - 5) // 2
    return text[:half] + " ... " + text[-half:]


@dataclass
class InputError(Exception):
    """Bad input: a file, a value or a folder the user gave us is wrong."""

    problems: list[Problem]
    file: str = ""
    title: str = "invalid input"
    exit_code: int = 2
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.render())

    def __reduce__(self):  # picklable, so an error raised in a worker process reaches the CLI intact
        return (self.__class__, (self.problems, self.file, self.title, self.exit_code, self.extra))

    @classmethod
    def single(cls, message: str, *, file: str = "", location: str = "", line: int | None = None,
               suggestion: str = "", title: str = "invalid input") -> InputError:
        return cls([Problem(message, location, line, suggestion)], file=file, title=title)

    def render(self, limit: int = 15, max_lines: int = 20) -> str:
        """At most ``limit`` problems and about ``max_lines`` lines: one screen, whatever the input."""
        lines: list[str] = []
        shown = 0
        for p in self.problems[:limit]:
            text = p.render(self.file).splitlines()
            if shown and len(lines) + len(text) > max_lines:
                break
            lines.extend(text)
            shown += 1
        if len(self.problems) > shown:
            lines.append(f"... and {len(self.problems) - shown} more problem(s)")
        return "\n".join(lines)


def nearest(value: str, candidates: Iterable[str], cutoff: float = 0.5) -> str | None:
    """The candidate closest to ``value`` (for 'did you mean ...?'), or None."""
    pool = sorted(set(candidates))
    found = difflib.get_close_matches(value, pool, n=1, cutoff=cutoff)
    return found[0] if found else None


def did_you_mean(value: str, candidates: Iterable[str], what: str = "") -> str:
    """A suggestion sentence naming the nearest valid name, or listing a few valid ones."""
    pool = sorted(set(candidates))
    best = nearest(value, pool)
    if best:
        return f"did you mean {best!r}?"
    if not pool:
        return f"no {what or 'names'} are defined" if what else ""
    shown = ", ".join(pool[:8]) + (", ..." if len(pool) > 8 else "")
    return f"valid {what or 'names'}: {shown}"
