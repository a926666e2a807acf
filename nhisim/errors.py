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
        where = file
        if self.line is not None:
            where = f"{where}:{self.line}" if where else f"line {self.line}"
        if self.location:  # a location names keys and ids from the input: as long as they are
            location = " ".join(clip(part) for part in self.location.split(" "))
            where = f"{where} at {location}" if where else location
        message = _shorten(self.message, self.limit)
        text = f"{where}: {message}" if where else message
        if self.suggestion:
            text += f"\n    hint: {_shorten(self.suggestion)}"
        return text


MAX_WORD = 60


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

    Every over-long word (a value, a key, an id) is clipped first, so the sentence around
    it stays readable; then the middle goes, so both the start and the end of the sentence
    (what is wrong) stay. A longer message may hold longer words (a delegation chain is one).
    """
    word = max(MAX_WORD, MAX_WORD * limit // 300)
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
