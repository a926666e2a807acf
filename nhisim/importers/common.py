"""What the importers share: reading an input file safely, ids, the report, and annotated YAML.

An input file is read whole, within a size limit (``$NHISIM_MAX_IMPORT_BYTES``), refused
when it is binary or not UTF-8, and parsed as one JSON document, a JSON-lines file, or
several documents one after another (what span exporters write); VS Code's JSON with
comments is accepted where a client writes it. Every failure is an
:class:`~nhisim.errors.InputError` naming the file and the line.

The scenario an importer builds is validated like any scenario file, then written by
:func:`annotated_yaml`: a header comment saying what was imported, when and what is left
to do, and ``# TODO:`` lines above the items a person must fill in.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nhisim.errors import InputError, clip
from nhisim.files import write_whole
from nhisim.scenario.loader import bytes_limit, read_within, validate_data
from nhisim.scenario.models import Scenario
from nhisim.scenario.readable_yaml import comment, readable_body

MAX_INPUT_BYTES = 256 * 1024 * 1024
MAX_BYTES_ENV = "NHISIM_MAX_IMPORT_BYTES"


def max_input_bytes() -> int:
    """The size limit of one imported file: ``$NHISIM_MAX_IMPORT_BYTES`` if set, else 256 MiB."""
    return bytes_limit(MAX_BYTES_ENV, MAX_INPUT_BYTES)


@dataclass(frozen=True)
class InputBytes:
    """An input already read (standard input, say), by the name messages give it: the importers
    take it wherever they take a file's path."""

    name: str
    data: bytes

    def __str__(self) -> str:
        return self.name


Source = str | os.PathLike | InputBytes


def read_input(source: Source, what: str, example: str) -> str:
    """The text of an input file (or of :class:`InputBytes`), or bad input saying why it cannot be
    one (``what``: e.g. 'MCP configuration')."""
    name = str(source)
    limit = max_input_bytes()
    if isinstance(source, InputBytes):
        data, it = source.data, "the input"
        if len(data) > limit:
            raise InputError.single(f"the input is over the {limit:,}-byte limit for imported files", file=name,
                                    suggestion=f"import a smaller file, or raise {MAX_BYTES_ENV}")
    else:
        data, it = _read_file(Path(source), what, example, limit), "the file"
    if not data.strip():
        raise InputError.single(f"{it} is empty", file=name, suggestion=f"give a {what}, e.g. {example}")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError.single(f"{it} is UTF-16 text", file=name, suggestion="save it as UTF-8 and import it again")
    if b"\x00" in data:
        raise InputError.single(f"{it} is binary (it holds NUL bytes), not a {what}", file=name,
                                suggestion=f"give the JSON text of a {what}, e.g. {example}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError.single(f"{it} is not UTF-8 text (byte {exc.start:,} cannot be read)", file=name,
                                line=line, suggestion="save it as UTF-8 and import it again") from None


def _read_file(path: Path, what: str, example: str, limit: int) -> bytes:
    name = str(path)
    if not path.exists():
        raise InputError.single("file not found", file=name, suggestion=f"give the path of a {what}, e.g. {example}")
    if path.is_dir():
        raise InputError.single(f"is a folder, not a {what}", file=name, suggestion=f"give a file, e.g. {example}")
    return read_within(path, limit, "imported files", f"import a smaller file, or raise {MAX_BYTES_ENV}")


def json_documents(text: str, name: str, *, what: str) -> list[tuple[Any, int]]:
    """Every JSON document in ``text`` with the line it starts on: one document, JSON lines, or
    several documents one after another (pretty-printed spans, as console exporters write them)."""
    decoder = json.JSONDecoder()
    documents: list[tuple[Any, int]] = []
    index, size = 0, len(text)
    line = 1
    while True:
        start = _skip_space(text, index)
        if start >= size:
            break
        line += text.count("\n", index, start)
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError as exc:
            raise InputError.single(f"not valid JSON: {exc.msg} (column {exc.colno})", file=name, line=exc.lineno,
                                    suggestion=f"a {what} is JSON; check the line for a missing comma, quote or "
                                               "bracket") from None
        except RecursionError:
            raise InputError.single(f"the JSON is nested too deeply to be a {what}", file=name, line=line,
                                    suggestion="check for runaway brackets") from None
        except ValueError as exc:  # a number over Python's digit limit
            raise InputError.single(f"a value cannot be read: {clip(exc, 120)}", file=name, line=line,
                                    suggestion="no number in a trace or configuration needs that many digits") from None
        documents.append((value, line))
        line += text.count("\n", start, end)
        index = end
    if not documents:
        raise InputError.single("the file holds no JSON", file=name, suggestion=f"give a {what}")
    return documents


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index


_JSONC_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|//[^\n]*|/\*.*?\*/|,(?=\s*[}\]])', re.DOTALL)


def strip_json_comments(text: str) -> str:
    """JSON with comments (VS Code's ``mcp.json`` and ``settings.json``) as plain JSON: ``//`` and
    ``/* */`` comments and trailing commas removed, strings untouched, line numbers kept."""

    def keep(match: re.Match) -> str:
        token = match.group()
        if token.startswith('"'):
            return token
        return "\n" * token.count("\n")  # a comment or a trailing comma: gone, its lines kept

    return _JSONC_TOKEN.sub(keep, text)


# --------------------------------------------------------------------------- ids and text

_NOT_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
MAX_ID = 60


def plain(text: object, limit: int = 200) -> str:
    """Text from the input made safe for a scenario: control characters dropped, clipped to ``limit``."""
    return clip(_NOT_TEXT.sub("", str(text)), limit)


def slug(text: object, fallback: str = "item") -> str:
    """An id from a name: lower case, runs of other characters as ``-``, at most 60 characters."""
    value = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")[:MAX_ID].strip("-")
    return value or fallback


class IdPool:
    """Unique ids within one section: a name already taken gets ``-2``, ``-3``, ..."""

    def __init__(self, taken: Iterable[str] = ()) -> None:
        self.taken = set(taken)

    def new(self, name: object, fallback: str = "item") -> str:
        base = slug(name, fallback)
        candidate, n = base, 1
        while candidate in self.taken:
            n += 1
            candidate = f"{base[:MAX_ID - len(str(n)) - 1]}-{n}"
        self.taken.add(candidate)
        return candidate


# sensitivity guessed from words in a name: the first level whose words match wins
_SENSITIVE_WORDS = (
    ("critical", ("payment", "payments", "billing", "invoice", "refund", "bank", "card", "payroll", "salary",
                  "ssn", "patient", "medical", "health", "secret", "secrets", "credential", "credentials",
                  "password", "vault", "iam", "admin", "prod", "production", "finance", "stripe", "aws")),
    ("high", ("customer", "customers", "crm", "user", "users", "employee", "hr", "person", "people", "contact",
              "email", "mail", "database", "db", "sql", "postgres", "warehouse", "repo", "repos", "code",
              "source", "drive", "account", "accounts", "order", "orders", "ticket", "tickets")),
    ("low", ("weather", "time", "clock", "calculator", "math", "search", "web", "docs", "wiki", "public",
             "news", "maps", "translate", "status")),
)


def guess_sensitivity(name: str) -> tuple[str, str]:
    """(sensitivity, why) guessed from the words of ``name``; ``medium`` when nothing matches."""
    words = set(re.split(r"[^a-z0-9]+", name.lower()))
    for level, vocabulary in _SENSITIVE_WORDS:
        hit = sorted(words & set(vocabulary))
        if hit:
            return level, f"the word {hit[0]!r} in its name"
    return "medium", "no telling word in its name (medium by default)"


# --------------------------------------------------------------------------- the report


@dataclass
class Note:
    """One guess or one thing to fill in: which item, and what about it."""

    item: str
    text: str

    def to_dict(self) -> dict[str, str]:
        return {"item": self.item, "text": self.text}


@dataclass
class ImportReport:
    """What an importer read, what it guessed, and what a person must fill in."""

    kind: str
    sources: list[str]
    imported: list[str] = field(default_factory=list)
    guessed: list[Note] = field(default_factory=list)
    todo: list[Note] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def guess(self, item: str, text: str) -> None:
        self.guessed.append(Note(item, text))

    def fill_in(self, item: str, text: str) -> None:
        self.todo.append(Note(item, text))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "sources": self.sources, "imported": self.imported,
                "guessed": [n.to_dict() for n in self.guessed], "todo": [n.to_dict() for n in self.todo],
                "warnings": self.warnings, "tables": self.tables}


@dataclass
class Imported:
    """An importer's result: the validated scenario, its annotated YAML and the report."""

    scenario: Scenario
    text: str
    report: ImportReport

    def write(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the YAML to ``path``; an existing file (perhaps already filled in) is kept unless ``overwrite``."""
        p = Path(path)
        if p.exists() and not overwrite:
            raise InputError.single("already exists; it may hold what you filled in", file=str(p), location="--out",
                                    suggestion="give a new file name, or --overwrite to replace it")
        return write_whole(p, self.text)


def _item_lines(rows: list[str]) -> dict[tuple, int]:
    """The row of each top-level section (``("tools",)``) and of each of its items (``("tools", 2)``).

    The readable writer puts a section's key at column 0 (``tools:``) and its items right
    under it, each starting ``- `` at column 0; nothing else starts a row that way.
    """
    found: dict[tuple, int] = {}
    section, index = None, 0
    for row, text in enumerate(rows):
        if text[:1].isalpha() and text.rstrip().endswith(":"):
            section, index = text.rstrip()[:-1], 0
            found[(section,)] = row
        elif text.startswith("- ") and section is not None:
            found[(section, index)] = row
            index += 1
    return found


def build_scenario(data: Mapping[str, Any], source: str) -> Scenario:
    """Validate what an importer built, like any scenario file (a failure here is the importer's to fix)."""
    return validate_data(dict(data), file=f"<scenario imported from {source}>")


def annotated_yaml(scenario: Scenario, header: list[str], notes: Mapping[tuple, list[str]]) -> str:
    """The scenario's readable YAML under a header comment, with comment lines above items.

    ``notes`` maps a path in the data (``("resources", 2)`` for an item, ``("threats",)`` for
    a section) to the comment lines written just above it, at its indentation.
    """
    body = readable_body(scenario)
    rows = body.splitlines(keepends=True)
    lines = _item_lines(rows)
    for path, texts in sorted(notes.items(), key=lambda item: -lines.get(item[0], -1)):
        line = lines.get(path)
        if line is not None and texts:
            rows.insert(line, comment(texts))
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return comment([header[0].replace("{when}", stamp), *header[1:]]) + "".join(rows)
