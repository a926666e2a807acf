"""Loading scenario files: safe YAML, ``extends:`` inheritance, dotted-path overrides.

``load_scenario(path, overrides)`` reads a YAML file with the safe loader (a tag that
would build a Python object is refused, never executed), follows ``extends:`` (one file
or a list, relative to the file; deep-merged, lists of items with ``id`` merged by id),
applies overrides by dotted path (``strategies.zsp.ttl=1h``,
``agents.support-bot.behaviour.discovery_probability=0.1``), validates the models and
every cross-reference, and raises :class:`~nhisim.errors.InputError` naming the file,
the YAML line, what is wrong and the nearest valid name.

A scenario file reads only files in its own folder tree and the bundled pack: ``extends:``
and a strategy's ``policies:`` naming anything else (``../..``, an absolute path, a
symlink that leads out) are refused, so a scenario from elsewhere cannot copy a file of
this machine into a report or an error message. More folders are allowed explicitly:
``allow_paths=`` here, ``$NHISIM_ALLOW_PATHS`` (folders separated by ``os.pathsep``),
or ``nhisim --allow-path DIR``.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import stat
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from nhisim.errors import InputError, Problem, clip, did_you_mean, normalise_path, path_text, split_path
from nhisim.pack import pack_folder
from nhisim.scenario.models import PRESET_NAMES, Scenario
from nhisim.scenario.threats import threat_kinds, threat_models
from nhisim.scenario.validate import check_references, scenario_warnings

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_BYTES_ENV = "NHISIM_MAX_SCENARIO_BYTES"
ALLOW_PATHS_ENV = "NHISIM_ALLOW_PATHS"
Lines = dict[tuple, int]


def max_file_bytes() -> int:
    """The size limit of one scenario file: ``$NHISIM_MAX_SCENARIO_BYTES`` if set, else ``MAX_FILE_BYTES``.

    Read at call time, so a test or a shared server can lower it without code changes.
    """
    return bytes_limit(MAX_BYTES_ENV, MAX_FILE_BYTES)


def bytes_limit(variable: str, default: int) -> int:
    """A size limit in bytes from the environment variable ``variable`` if set, else ``default``."""
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
        if value <= 0:
            raise ValueError
    except ValueError:
        raise InputError.single(f"{variable}={raw!r} is not a positive whole number of bytes",
                                location=variable, suggestion="unset it, or give e.g. 1048576") from None
    return value


# --------------------------------------------------------------------------- YAML


def read_yaml(path: str | os.PathLike, *, max_bytes: int | None = None) -> tuple[Any, Lines]:
    """Safely parse one YAML file; return the data and the line of every key path."""
    if max_bytes is None:
        max_bytes = max_file_bytes()
    p = Path(path)
    name = str(path)
    if not p.exists():
        raise InputError.single("file not found", file=name, suggestion="check the path; scenario files end in .yaml")
    if p.is_dir():
        yamls = sorted(x.name for x in p.glob("*.y*ml"))[:5]
        hint = f"give a file inside it, e.g. {p / yamls[0]}" if yamls else "give a scenario file, not a folder"
        raise InputError.single("is a directory, not a scenario file", file=name, suggestion=hint)
    data = read_within(p, max_bytes, "scenario files",
                       f"split the estate, generate it in Python, or raise {MAX_BYTES_ENV}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError.single(f"cannot read the file: {exc}", file=name) from None
    return parse_yaml(text, name)


def read_within(path: Path, limit: int, what: str, suggestion: str) -> bytes:
    """The bytes of ``path`` (a file, or a device or a pipe read up to ``limit``), or bad input
    saying it is over the ``limit`` for ``what`` (e.g. 'scenario files')."""
    try:
        data = read_at_most(path, limit)
    except OSError as exc:
        raise InputError.single(f"cannot read the file: {exc.strerror or exc}", file=str(path)) from None
    if data is None:
        size = path.stat().st_size if path.is_file() else 0
        raise InputError.single(
            f"file is {size:,} bytes, over the {limit:,}-byte limit for {what}" if size else
            f"it gives more than the {limit:,}-byte limit for {what} (a device or a pipe?)",
            file=str(path), suggestion=suggestion)
    return data


def read_at_most(path: str | os.PathLike, limit: int) -> bytes | None:
    """The bytes of ``path``, or None past ``limit`` bytes: a file checked by its size first,
    anything else (/dev/zero, a pipe) read a megabyte at a time, so neither the reading nor
    the memory goes on without end."""
    with open(path, "rb") as fh:
        info = os.fstat(fh.fileno())
        if stat.S_ISREG(info.st_mode):
            if info.st_size > limit:
                return None
            data = fh.read(info.st_size + 1)  # one byte more: a file that grew meanwhile
            return data if len(data) <= limit else None
        chunks, total = [], 0
        while total <= limit:
            chunk = fh.read(1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            total += len(chunk)
        return None


# libyaml, PyYAML's C parser, when PyYAML was built with it: 5-7x faster than pure Python
_FAST_LOADER = getattr(yaml, "CSafeLoader", None)
# libyaml's composer recurses in C, where Python's recursion guard does not reach: deeper
# files go to the pure-Python parser (scenario files are about six levels deep)
MAX_FAST_DEPTH = 64
_OPENS = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSES = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def parse_yaml(text: str, name: str = "<string>") -> tuple[Any, Lines]:
    """Parse YAML text with the safe loader, keeping line numbers of keys and items.

    libyaml parses when it is there; whatever it does not take cleanly (a syntax error, a
    refused tag, an empty or too deeply nested file) is parsed again in pure Python, whose
    findings are the ones reported.
    """
    bad = _CONTROL.search(text)
    if bad:  # PyYAML's reader would refuse it with a traceback-like message and no line
        raise InputError.single(
            f"the file holds a control character, {_codepoint(bad.group())}, at column "
            f"{bad.start() - text.rfind(chr(10), 0, bad.start())}",
            file=name, line=text.count("\n", 0, bad.start()) + 1,
            suggestion="scenario files are plain text: remove it (NUL bytes often mean a binary or UTF-16 file)")
    if _FAST_LOADER is not None:
        parsed = _parse_fast(text)
        if parsed is not None:
            return parsed
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise InputError.single("the file is empty", file=name,
                                    suggestion="a scenario needs at least 'name:'; see scenarios/ for examples")
        data = loader.construct_document(node)
        lines: Lines = {}
        _collect_lines(node, (), lines, set())
    except RecursionError:
        raise InputError.single("the file is nested too deeply to be a scenario", file=name,
                                suggestion="scenario files are a few levels deep; check for runaway brackets") from None
    except ValueError as exc:  # PyYAML's int(): a number over Python's 4300-digit limit
        raise InputError.single(f"a value cannot be read: {_unreadable(exc)}", file=name,
                                suggestion="no number in a scenario needs that many digits; check for a runaway paste",
                                ) from None
    except yaml.constructor.ConstructorError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise InputError.single(
            f"refused YAML tag: {exc.problem}", file=name, line=line,
            suggestion="scenario files hold plain data; tags such as !!python/object are never executed",
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        message = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
        raise InputError.single(message, file=name, line=line,
                                suggestion="check indentation and that every 'key: value' has a space after the colon",
                                ) from None
    finally:
        loader.dispose()
    return data, lines


# what YAML's reader refuses (it allows tab, newline, carriage return and NEL)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ufffe\uffff\ud800-\udfff]")


def _codepoint(char: str) -> str:
    return "NUL" if char == "\x00" else f"U+{ord(char):04X}"


def _unreadable(exc: ValueError) -> str:
    """What PyYAML's ValueError means, without Python's advice to raise its own limit."""
    text = str(exc)
    if "integer string conversion" in text:
        return f"a number has more than {sys.get_int_max_str_digits():,} digits"
    return text


def _parse_fast(text: str) -> tuple[Any, Lines] | None:
    """``parse_yaml`` with libyaml, or None when the pure-Python parser should have the file."""
    try:
        depth = 0
        for event in yaml.parse(text, Loader=_FAST_LOADER):  # libyaml's event parser keeps its stack in C
            if isinstance(event, _OPENS):
                depth += 1
                if depth > MAX_FAST_DEPTH:
                    return None
            elif isinstance(event, _CLOSES):
                depth -= 1
        loader = _FAST_LOADER(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            data = loader.construct_document(node)
            lines: Lines = {}
            _collect_lines(node, (), lines, set())
        finally:
            loader.dispose()
    except Exception:  # noqa: BLE001  (the pure-Python parser finds it again and reports it)
        return None
    return data, lines


def _collect_lines(node: yaml.Node, path: tuple, lines: Lines, seen: set[int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if id(node) in seen:  # an alias (*name) of a node already walked: do not expand it again
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines[path + (key,)] = key_node.start_mark.line + 1
            _collect_lines(value_node, path + (key,), lines, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _collect_lines(item, path + (i,), lines, seen)


# --------------------------------------------------------------------------- extends


def deep_merge(base: Any, override: Any) -> Any:
    """Merge ``override`` into ``base``: dicts recursively, lists of id'd items by id, else replace."""
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = deep_merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    if _is_id_list(base) and _is_id_list(override):
        merged_items = {item["id"]: item for item in base}
        for item in override:
            merged_items[item["id"]] = deep_merge(merged_items[item["id"]], item) if item["id"] in merged_items else item
        return list(merged_items.values())
    return copy.deepcopy(override)


def _is_id_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(x, Mapping) and "id" in x for x in value)


# --------------------------------------------------------------------------- where a file may read


def allowed_folders(scenario_file: str | os.PathLike,
                    allow_paths: Sequence[str | os.PathLike] | None = None) -> tuple[Path, ...]:
    """The folders whose files ``scenario_file`` may name in ``extends:`` and ``policies:``.

    Its own folder and everything below it, the bundled pack, the folders of
    ``allow_paths`` and those of ``$NHISIM_ALLOW_PATHS``; as real paths, so a symlink
    counts where it leads.
    """
    folders = [Path(scenario_file).absolute().parent]
    with contextlib.suppress(InputError):  # an installation without its pack allows nothing more
        folders.append(pack_folder())
    extra = [*(allow_paths or []), *os.environ.get(ALLOW_PATHS_ENV, "").split(os.pathsep)]
    folders += [Path(os.path.expanduser(p)) for p in extra if str(p).strip()]
    return tuple(dict.fromkeys(p.resolve() for p in folders))


def _reachable(target: Path, folders: tuple[Path, ...]) -> bool:
    real = target.resolve()
    return any(real.is_relative_to(folder) for folder in folders)


def _outside(file: Path, line: int | None, key: str, named: str, target: Path,
             folders: tuple[Path, ...]) -> InputError:
    real = target.resolve()
    return InputError.single(
        f"{named!r} ({real}) is outside the scenario's folder tree and the bundled pack, the only files a "
        "scenario reads", file=str(file), line=line, location=key, title="file outside the scenario's folder",
        suggestion=f"copy it beside the scenario, or allow its folder: nhisim --allow-path {real.parent} COMMAND ... "
                   f"(or {ALLOW_PATHS_ENV}=DIR; in Python load(..., allow_paths=[DIR]))")


def _resolve_extends(path: Path, chain: tuple[Path, ...], max_bytes: int, folders: tuple[Path, ...],
                     text: str | None = None) -> tuple[Any, Lines, Path]:
    # text: the file's content when it was read elsewhere (standard input), ``path`` then only names it
    data, lines = read_yaml(path, max_bytes=max_bytes) if text is None else parse_yaml(text, str(path))
    if not isinstance(data, Mapping):
        raise InputError.single(
            f"a scenario must be a mapping of keys (name:, agents:, ...), not a {type(data).__name__}",
            file=str(path), line=1)
    _anchor_policy_paths(data, path, lines, folders)
    parents = data.get("extends")
    if parents is None:
        return data, lines, path
    if isinstance(parents, str):
        parents = [parents]
    if not isinstance(parents, list) or not all(isinstance(x, str) for x in parents):
        raise InputError.single("extends must be a file name or a list of file names", file=str(path),
                                line=lines.get(("extends",)), location="extends")
    merged: Any = {}
    for parent in parents:
        if not _reachable(path.parent / parent, folders):  # before even asking whether it exists
            raise _outside(path, lines.get(("extends",)), "extends", parent, path.parent / parent, folders)
        parent_path = Path(os.path.relpath((path.parent / parent).resolve()))
        if parent_path.resolve() in chain:
            cycle = " -> ".join(p.name for p in chain + (parent_path,))
            raise InputError.single(f"cyclic extends: {cycle}", file=str(path), line=lines.get(("extends",)),
                                    location="extends", suggestion="a scenario cannot extend itself, even indirectly")
        if not parent_path.exists():
            raise InputError.single(f"extends a file that does not exist: {parent}", file=str(path),
                                    line=lines.get(("extends",)), location="extends",
                                    suggestion=f"paths are relative to {path.parent.absolute()}")
        if not parent_path.is_file():  # a folder, a pipe or a device: nothing to read, or never an end to it
            raise InputError.single(f"extends {parent}, which is not a file", file=str(path),
                                    line=lines.get(("extends",)), location="extends",
                                    suggestion="extends names scenario files (.yaml)")
        parent_data, _, _ = _resolve_extends(parent_path, chain + (parent_path.resolve(),), max_bytes, folders)
        merged = deep_merge(merged, parent_data)
    own = {k: v for k, v in data.items() if k != "extends"}
    result = deep_merge(merged, own)
    return result, _remap_lines(lines, own, result), path


def _anchor_policy_paths(data: Mapping, path: Path, lines: Lines, folders: tuple[Path, ...]) -> None:
    """Cedar policy files named by a strategy are relative to the file that names them, and within reach."""
    strategies = data.get("strategies")
    if not isinstance(strategies, Mapping):
        return
    for name, spec in strategies.items():
        policies = spec.get("policies") if isinstance(spec, dict) else None
        if not isinstance(policies, list):
            continue
        for i, policy in enumerate(policies):
            if isinstance(policy, str) and not _reachable(path.parent / policy, folders):
                key = ("strategies", name, "policies", i)
                raise _outside(path, lines.get(key) or lines.get(key[:-1]), path_text(*key),
                               policy, path.parent / policy, folders)
        spec["policies"] = [str((path.parent / p).resolve()) if isinstance(p, str) and not os.path.isabs(p) else p
                            for p in policies]


def _remap_lines(lines: Lines, own: Any, merged: Any) -> Lines:
    """Re-key the line numbers of a file's own data by their path in the merged data.

    Lists of id'd items are merged by id, so an item's index in the merged list can differ
    from its index in the file; without this an error would point at the wrong line.
    """
    out: Lines = {(): lines.get((), 1)}

    def walk(own_node: Any, merged_node: Any, own_path: tuple, merged_path: tuple) -> None:
        if isinstance(own_node, Mapping) and isinstance(merged_node, Mapping):
            for key, value in own_node.items():
                if key in merged_node and (own_path + (key,)) in lines:
                    out[merged_path + (key,)] = lines[own_path + (key,)]
                    walk(value, merged_node[key], own_path + (key,), merged_path + (key,))
        elif isinstance(own_node, list) and isinstance(merged_node, list):
            by_id = {item.get("id"): j for j, item in enumerate(merged_node) if isinstance(item, Mapping)}
            for i, item in enumerate(own_node):
                if _is_id_list(own_node) and _is_id_list(merged_node):
                    j = by_id.get(item["id"])
                else:
                    j = i if i < len(merged_node) else None
                if j is not None and (own_path + (i,)) in lines:
                    out[merged_path + (j,)] = lines[own_path + (i,)]
                    walk(item, merged_node[j], own_path + (i,), merged_path + (j,))

    walk(own, merged, (), ())
    return out


# --------------------------------------------------------------------------- overrides


def parse_override(text: str) -> tuple[str, Any]:
    """Split ``path=value`` (CLI ``--set``) and parse the value as a YAML scalar.

    The path comes back in the dotted notation: ``threats[0].agent`` reads as ``threats.0.agent``.
    """
    if "=" not in text:
        raise InputError.single(f"override {text!r} has no '='", location="--set",
                                suggestion="write PATH=VALUE, e.g. strategies.zsp.ttl=1h")
    path, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    except RecursionError:
        raise InputError.single(f"the value of {clip(path.strip())} is nested too deeply", location="--set",
                                suggestion="a value is a scalar, a list or a mapping a few levels deep") from None
    except ValueError as exc:  # PyYAML's int(): a number over Python's 4300-digit limit
        raise InputError.single(f"the value of {clip(path.strip())} cannot be read: {_unreadable(exc)}",
                                location="--set",
                                suggestion="no number in a scenario needs that many digits") from None
    if _contains_itself(value):
        raise InputError.single(f"the value of {clip(path.strip())} contains itself (a YAML alias inside its own "
                                "anchor, like &a [*a])", location="--set",
                                suggestion="write the value out; an alias may only repeat a finished value")
    return normalise_path(path), value


def _contains_itself(value: Any) -> bool:
    """Whether a parsed YAML value holds itself (``&a [*a]``): nothing can print, hash or copy it out."""
    stack = [(value, frozenset())]
    while stack:
        node, above = stack.pop()
        if not isinstance(node, (list, dict)):
            continue
        if id(node) in above:
            return True
        inner = above | {id(node)}
        stack.extend((child, inner) for child in (node.values() if isinstance(node, dict) else node))
    return False


def apply_overrides(data: dict, overrides: Mapping[str, Any] | None, *, source: str = "overrides") -> dict:
    """Set each dotted path in ``data`` (a raw scenario mapping) to its value."""
    if not overrides:
        return data
    data = copy.deepcopy(data)
    for path, value in overrides.items():
        set_path(data, path, value, source=source)
    return data


def set_path(data: dict, path: str, value: Any, *, source: str = "overrides") -> None:
    """Set one dotted path. Lists of id'd items are addressed by id, other lists by index.

    The bracket form of an index (``threats[0].agent``) is read as the dotted one.
    """
    parts = split_path(path)
    path = path_text(*parts)
    if not parts:
        raise InputError.single("empty override path", location=source)
    if parts[0] == "strategies" and "strategies" not in data:
        data["strategies"] = {name: {"base": name} for name in PRESET_NAMES}
    node: Any = data
    model: Any = Scenario
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[: depth + 1])
        if isinstance(node, list):
            index = _list_index(node, part)
            if index is None:
                ids = [str(x.get("id")) for x in node if isinstance(x, Mapping) and "id" in x]
                raise InputError.single(f"no item {part!r} in {'.'.join(parts[:depth]) or 'the scenario'}",
                                        location=f"{source}: {path}", suggestion=did_you_mean(part, ids, "ids"))
            if last:
                node[index] = value
                return
            node = node[index]
            model = _item_model(model)
            continue
        if not isinstance(node, dict):
            raise InputError.single(f"{'.'.join(parts[:depth])} is a value, not a section", location=f"{source}: {path}")
        fields = _field_names(model)
        if part not in node and fields is not None and part not in fields:
            raise InputError.single(f"unknown path {where!r}", location=f"{source}: {path}",
                                    suggestion=did_you_mean(part, fields, "keys here"))
        if last:
            node[part] = value
            return
        if part not in node or node[part] is None:
            node[part] = {}
        elif isinstance(node[part], str) and _is_strategies(parts, depth):
            node[part] = {"base": node[part]}
        node = node[part]
        model = _field_model(model, part)


def _is_strategies(parts: list[str], depth: int) -> bool:
    return depth == 1 and parts[0] == "strategies"


def _list_index(items: list, part: str) -> int | None:
    for i, item in enumerate(items):
        if isinstance(item, Mapping) and str(item.get("id")) == part:
            return i
    if part.lstrip("-").isdigit() and -len(items) <= int(part) < len(items):
        return int(part) % len(items)
    return None


def _unwrap(tp: Any) -> list[Any]:
    """The model classes (or containers) an annotation can hold."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        out: list[Any] = []
        for arg in typing.get_args(tp):
            out.extend(_unwrap(arg))
        return out
    return [tp]


def _field_model(model: Any, name: str) -> Any:
    if isinstance(model, type) and issubclass(model, BaseModel) and name in model.model_fields:
        candidates = _unwrap(model.model_fields[name].annotation)
        for c in candidates:
            if typing.get_origin(c) in (dict, list) or (isinstance(c, type) and issubclass(c, BaseModel)):
                return c
        return None
    if typing.get_origin(model) is dict:
        values = _unwrap(typing.get_args(model)[1])
        return next((v for v in values if isinstance(v, type) and issubclass(v, BaseModel)), None)
    return None


def _item_model(model: Any) -> Any:
    if typing.get_origin(model) is list:
        items = _unwrap(typing.get_args(model)[0])
        models = [m for m in items if isinstance(m, type) and issubclass(m, BaseModel)]
        return models[0] if len(models) == 1 else None
    return None


def _field_names(model: Any) -> list[str] | None:
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return None


# --------------------------------------------------------------------------- validation


def validate_data(data: Any, *, file: str = "<data>", lines: Lines | None = None) -> Scenario:
    """Validate a raw mapping into a :class:`Scenario`, with every cross-reference checked."""
    lines = lines or {}
    if not isinstance(data, Mapping):
        raise InputError.single("a scenario must be a mapping of keys", file=file)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise InputError([_problem_from_pydantic(err, data, lines) for err in exc.errors()], file=file) from None
    problems = check_references(scenario)
    if problems:
        for p in problems:
            p.line = _line_of(p.location, lines)
        raise InputError(problems, file=file)
    return scenario


def load_data(path: str | os.PathLike, overrides: Mapping[str, Any] | None = None, *,
              max_bytes: int | None = None, allow_paths: Sequence[str | os.PathLike] | None = None) -> dict:
    """The raw data of a scenario file, ``extends:`` resolved and overrides applied, not validated."""
    p = Path(path)
    data, _, _ = _resolve_extends(p, (p.resolve(),), max_file_bytes() if max_bytes is None else max_bytes,
                                  allowed_folders(p, allow_paths))
    try:
        return apply_overrides(dict(data), overrides)
    except InputError as exc:
        raise InputError(exc.problems, file=exc.file or str(path), title=exc.title) from None


def load_scenario(path: str | os.PathLike, overrides: Mapping[str, Any] | None = None, *,
                  max_bytes: int | None = None, allow_paths: Sequence[str | os.PathLike] | None = None) -> Scenario:
    """Load, merge, override and validate a scenario file.

    ``max_bytes`` limits the size of each file read (default: :func:`max_file_bytes`).
    ``extends:`` and ``policies:`` may name files in the scenario's folder tree and the
    bundled pack, and in the folders of ``allow_paths`` and ``$NHISIM_ALLOW_PATHS``.
    """
    return _load(path, overrides, max_bytes, allow_paths)[0]


def load_scenario_text(text: str, overrides: Mapping[str, Any] | None = None, *, name: str = "<string>",
                       max_bytes: int | None = None,
                       allow_paths: Sequence[str | os.PathLike] | None = None) -> Scenario:
    """:func:`load_scenario` of scenario text read elsewhere (``nhisim validate -`` reads standard input).

    Messages name ``name`` as the file; ``extends:`` and policy files are relative to the
    current folder, and kept in its folder tree as a file's are in its own.
    """
    return _load(name, overrides, max_bytes, allow_paths, text)[0]


def load_with_warnings(path: str | os.PathLike, overrides: Mapping[str, Any] | None = None, *,
                       max_bytes: int | None = None, text: str | None = None,
                       allow_paths: Sequence[str | os.PathLike] | None = None) -> tuple[Scenario, list[Problem]]:
    """:func:`load_scenario` (of ``text`` named ``path`` when given), and the scenario's warnings
    (:func:`~nhisim.scenario.validate.scenario_warnings`) with the line of the file each one is about."""
    scenario, lines = _load(path, overrides, max_bytes, allow_paths, text)
    found = scenario_warnings(scenario)
    for problem in found:
        problem.line = _line_of(problem.location, lines)
    return scenario, found


def _load(path: str | os.PathLike, overrides: Mapping[str, Any] | None, max_bytes: int | None,
          allow_paths: Sequence[str | os.PathLike] | None, text: str | None = None) -> tuple[Scenario, Lines]:
    p = Path(path)
    if max_bytes is None:
        max_bytes = max_file_bytes()
    if text is not None and len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise InputError.single(f"the scenario is over the {max_bytes:,}-byte limit for scenario files", file=str(path),
                                suggestion=f"split the estate, generate it in Python, or raise {MAX_BYTES_ENV}")
    data, lines, _ = _resolve_extends(p, (p.resolve(),), max_bytes, allowed_folders(p, allow_paths), text)
    if overrides:
        try:
            data = apply_overrides(dict(data), overrides)
        except InputError as exc:
            raise InputError(exc.problems, file=exc.file or str(path), title=exc.title) from None
    scenario = validate_data(data, file=str(path), lines=lines)
    scenario._source = str(path)
    return scenario, lines


def with_overrides(scenario: Scenario, overrides: Mapping[str, Any] | None, *, name: str | None = None) -> Scenario:
    """A copy of ``scenario`` with values changed by dotted path, validated again.

    The what-if in one line: ``with_overrides(s, {"strategies.zsp.ttl": "1h"})``. Paths are
    the ones ``--set`` takes; lists of id'd items are addressed by id, others by index.
    Errors raise :class:`InputError` naming ``name`` (default: the file the scenario was read
    from, else ``<scenario name>``); the copy keeps the scenario's :attr:`~Scenario.source`.
    """
    if not overrides:
        return scenario.model_copy(deep=True)
    name = name or scenario.source or f"<{scenario.name}>"
    data = scenario.model_dump(mode="json", by_alias=True, exclude_unset=True, warnings=False)
    try:
        data = apply_overrides(data, overrides)
    except InputError as exc:
        raise InputError(exc.problems, file=exc.file or name, title=exc.title) from None
    changed = validate_data(data, file=name)
    changed._source = scenario.source
    return changed


def _problem_from_pydantic(err: Mapping[str, Any], data: Any, lines: Lines) -> Problem:
    loc = tuple(err["loc"])
    data_loc = _data_path(loc, data)
    location = _format_loc(data_loc, data)
    line = lines.get(data_loc) or _nearest_line(data_loc, lines)
    kind = err["type"]
    if kind == "extra_forbidden":
        key = data_loc[-1] if data_loc else "?"
        parent_model = _model_at(data_loc[:-1], data)
        fields = _field_names(parent_model) or []
        section = _format_loc(data_loc[:-1], data) or "the top level"
        return Problem(f"unknown key {key!r} in {section}", location, line,
                       did_you_mean(str(key), fields, "keys"))
    if kind == "missing":
        return Problem(f"missing required key {data_loc[-1]!r}", _format_loc(data_loc[:-1], data) or "top level",
                       line, "add it; `nhisim schema` lists every key")
    value = err.get("input")
    shown = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
    message = err["msg"]
    if message.startswith("Value error, "):
        return Problem(message[len("Value error, "):], location, line)
    if kind == "union_tag_invalid":
        tag = str(err.get("ctx", {}).get("tag", ""))  # the one tagged union is threats[*].kind
        return Problem(f"unknown threat kind {tag!r}", location, line, did_you_mean(tag, threat_kinds(), "kinds"))
    return Problem(f"{message} (got {shown})", location, line)


def _data_path(loc: tuple, data: Any) -> tuple:
    """Drop the union-tag parts pydantic inserts, keeping only keys present in the data."""
    path: list = []
    node = data
    for part in loc:
        if isinstance(node, Mapping) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            path.append(part)
            node = node[part]
        elif isinstance(node, Mapping) and isinstance(part, str) and not _looks_like_tag(part):
            path.append(part)
            node = None
        # else: a union discriminator or model name; skip it
    return tuple(path)


def _looks_like_tag(part: str) -> bool:
    return (part.startswith(("function-", "union[", "tagged-union[")) or part[:1].isupper()
            or part in threat_kinds() or part in {"str", "int", "float"})


def _format_loc(path: tuple, data: Any) -> str:
    """``path`` as a dotted location, with the id of the innermost list item that has one:
    ``agents.0.owner (support-bot)``."""
    node = data
    named = ""
    for part in path:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, Mapping) and "id" in node:
                named = str(node["id"])
        else:
            node = node.get(part) if isinstance(node, Mapping) else None
    text = path_text(*path)
    return f"{text} ({named})" if named and text else text


def _model_at(path: tuple, data: Any) -> Any:
    model: Any = Scenario
    node = data
    for part in path:
        if isinstance(part, int):
            model = _item_model(model)
            node = node[part] if isinstance(node, list) else None
            if model is None and isinstance(node, Mapping) and "kind" in node:
                model = _threat_model(node["kind"])
        else:
            model = _field_model(model, part)
            node = node.get(part) if isinstance(node, Mapping) else None
        if model is None:
            return None
    return model


def _threat_model(kind: Any) -> Any:
    return threat_models().get(kind) if isinstance(kind, str) else None


def _line_of(location: str, lines: Lines) -> int | None:
    text = location.split(" ")[0]  # the dotted path, without the id shown after it
    path = tuple(int(chunk) if chunk.isdigit() else chunk for chunk in split_path(text))
    return lines.get(tuple(path)) or _nearest_line(tuple(path), lines)


def _nearest_line(path: tuple, lines: Lines) -> int | None:
    while path:
        path = path[:-1]
        if path in lines:
            return lines[path]
    return None

