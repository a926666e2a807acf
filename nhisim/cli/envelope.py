"""``--json``: one envelope for every command.

Every command that takes ``--json`` prints exactly one JSON object on stdout, and nothing
else (progress, notes and messages go to stderr or into the envelope)::

    {"command": "run", "ok": true, "nhisim": "0.1.0",
     "inputs": {"file": "scenarios/leaked_key.yaml", "strategy": "zsp", "seed": 3, ...},
     "result": {...}, "notes": [...], "outputs": ["events.parquet"], "error": null}

``ok`` is true exactly when the exit code is 0; otherwise ``error`` says why
(``{"title", "file", "location", "line", "message", "suggestion", "problems"}``; bad input
exits with 2). The JSON is strict: a value that is not a finite number (NaN, infinity) is
``null``. docs/cli.md describes each command's ``result``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from typing import Any

import typer

from nhisim.errors import InputError, clip

KEYS = ("command", "ok", "nhisim", "inputs", "result", "notes", "outputs", "error")
JSON_FLAG = "--json"


def strict(value: Any) -> Any:
    """``value`` as strict-JSON data: NaN and infinities as None, numpy scalars as Python's,
    frames as lists of records, paths as text."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int):
        return value
    if isinstance(value, Mapping):
        return {str(k): strict(v) for k, v in value.items()}
    if hasattr(value, "columns") and hasattr(value, "to_dict"):  # a DataFrame
        return [strict(r) for r in value.to_dict("records")]
    if hasattr(value, "to_dict"):  # a Series
        return strict(value.to_dict())
    if isinstance(value, (list, tuple, set, frozenset)) or type(value).__name__ == "ndarray":
        return [strict(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    if hasattr(value, "item"):  # a numpy scalar
        return strict(value.item())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


# what json.dumps leaves raw but a terminal obeys (C1 controls, DEL, bidirectional controls, line
# separators) or cannot print (lone surrogates): written as \u escapes, the same JSON value
_OBEYED_IN_JSON = {c: f"\\u{c:04x}" for c in [*range(0x7F, 0xA0), 0x200E, 0x200F, 0x2028, 0x2029,
                                               *range(0x202A, 0x202F), *range(0x2066, 0x206A), *range(0xD800, 0xE000)]}


def dumps(value: Any, indent: int | None = None) -> str:
    """Strict JSON text of ``value`` (see :func:`strict`), safe to show on a terminal."""
    return json.dumps(strict(value), indent=indent, allow_nan=False, ensure_ascii=False).translate(_OBEYED_IN_JSON)


def wants_json(args: list[str]) -> bool:
    """Whether a command line asks for ``--json`` (before any ``--``)."""
    return JSON_FLAG in (args[: args.index("--")] if "--" in args else args)


def inputs_of(ctx: Any) -> dict[str, Any]:
    """A command's parameters by their option names (``--set`` as ``set``), ``--json`` left out."""
    out: dict[str, Any] = {}
    for param in ctx.command.params:
        opts = getattr(param, "opts", [])
        if JSON_FLAG in opts:
            continue
        longs = [o for o in opts if o.startswith("--")]
        name = max(longs, key=len)[2:] if longs else param.name
        out[name] = ctx.params.get(param.name)
    return strict(out)


def error_of(exc: BaseException) -> dict[str, Any]:
    """The ``error`` member for an exception: its problems when it is bad input, else its message."""
    if isinstance(exc, InputError):
        problems = [{"location": p.location, "line": p.line, "message": clip(p.message, 2000),
                     "suggestion": clip(p.suggestion, 2000)} for p in exc.problems]
        first = problems[0] if problems else {"location": "", "line": None, "message": "", "suggestion": ""}
        return {"title": exc.title, "file": exc.file, **first, "problems": problems}
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    title = ("usage error" if hasattr(exc, "format_message") else
             "interrupted" if isinstance(exc, KeyboardInterrupt) else "error")
    return {"title": title, "file": "", "location": "", "line": None, "message": message, "suggestion": "",
            "problems": []}


def envelope(command: str, inputs: Mapping[str, Any], result: Any = None, *, notes: Iterable[str] = (),
             outputs: Iterable[Any] = (), error: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The envelope, keys in :data:`KEYS` order."""
    from nhisim._version import __version__

    return {"command": command, "ok": error is None, "nhisim": __version__, "inputs": dict(inputs),
            "result": result, "notes": [str(n) for n in notes], "outputs": [os.fspath(o) for o in outputs],
            "error": error}


def command_name(ctx: Any) -> str:
    """``policy export`` for ``nhisim policy export``."""
    return " ".join(ctx.command_path.split()[1:])


def emit(ctx: Any, result: Any = None, *, notes: Iterable[str] = (), outputs: Iterable[Any] = (),
         error: Mapping[str, Any] | None = None) -> None:
    """Print the envelope of the running command on stdout."""
    typer.echo(dumps(envelope(command_name(ctx), inputs_of(ctx), result, notes=notes, outputs=outputs,
                              error=error)))


def emit_failure(root: Any, args: list[str], exc: BaseException) -> None:
    """The envelope of a command that failed before it could print its own (bad input, a usage error)."""
    group, path, rest = root, [], list(args)
    valued = {o for p in root.params if not getattr(p, "is_flag", True) for o in p.opts}  # --allow-path DIR
    while rest and rest[0].startswith("-") and rest[0] != JSON_FLAG:  # the app's own options
        if rest.pop(0) in valued and rest:
            rest.pop(0)
    while hasattr(group, "commands") and rest and rest[0] in group.commands:
        path.append(rest[0])
        group = group.commands[rest.pop(0)]
    inputs: dict[str, Any] = {}
    if path and not hasattr(group, "commands"):
        try:
            ctx = group.make_context(" ".join(["nhisim", *path]), rest, resilient_parsing=True)
            inputs = inputs_of(ctx)
        except Exception:  # noqa: BLE001  (inputs too broken to parse: the error says why)
            inputs = {}
    typer.echo(dumps(envelope(" ".join(path), inputs, error=error_of(exc))))
