"""A sweep's results folder: provenance, results written chunk by chunk, and resume.

Layout of ``DIR``::

    manifest.json         what was swept and how: fingerprint, version, seeds, parameters, sessions
    scenario.yaml         the effective base scenario (after extends: and --set)
    params.csv            the parameter table: one row per point, one column per PATH (and its
                          numeric twin: PATH_s in seconds for durations written as text, 5m or 1h,
                          PATH_per_s for rates written as text, 6/h)
    runs.parquet/         a Parquet dataset: part-00000.parquet, part-00001.parquet, ...
                          one file per finished chunk; ``pandas.read_parquet(DIR / "runs.parquet")``

Every file is written atomically (a hidden temporary file, then ``os.replace``), so a sweep
killed at any moment, even with ``kill -9``, leaves only whole files: it loses at most the
chunks in flight. Started again, it reads which runs are done (by run key: point, strategy,
replication) and runs only the rest. Reading drops duplicate keys, preferring a run that
succeeded over one that raised. A folder holding another sweep (a different fingerprint)
is refused, never mixed or overwritten; so is a non-empty folder that holds no sweep.

The fingerprint names what was swept, not the result columns: a folder written before a
metric existed is the same sweep, and resumes. Its manifest names the columns it was
written with (``columns``, ``metrics``); a resume that adds columns says so in a note
and in its session entry, and the runs recorded before read NaN for the new columns.
Numeric twins of text parameters (``derived`` in the manifest) are computed from the text
when a folder written before them is read, and count metrics read as integers
(``Int64``) whichever type the folder stored them in.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from nhisim.errors import InputError
from nhisim.files import LOCK_FILE, FolderLock, is_temporary, make_folders, whole_file, write_whole
from nhisim.metrics import METRIC_COLUMNS, with_metric_types
from nhisim.scenario.units import parse_duration, parse_rate

FORMAT = "nhisim-sweep/1"
MANIFEST = "manifest.json"
SCENARIO = "scenario.yaml"
PARAMS = "params.csv"
RUNS = "runs.parquet"
LOCK = LOCK_FILE
KEY = ("point", "strategy", "replication")
_PART_RE = re.compile(r"^part-(\d+)\.parquet$")
FINGERPRINT_PARTS = ("scenario", "parameters", "points", "strategies", "replications", "seed", "engine")


def package_version() -> str:
    try:
        from importlib.metadata import version

        return version("nhisim")
    except Exception:  # pragma: no cover - not installed as a distribution
        from nhisim._version import __version__

        return __version__


def _is_own_hidden(name: str) -> bool:
    return name == LOCK or is_temporary(name) or name.startswith(".tmp-")


def _cannot(path: Path, what: str, exc: OSError) -> InputError:
    return InputError.single(f"cannot {what}: {exc.strerror or exc}", file=str(path),
                             suggestion="choose a folder you can read and write, e.g. --out results/my-sweep")


def prepare_folder(path: Path) -> Path:
    """The results folder, created if missing and checked writable, or a clear InputError."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError.single("is a file, not a folder", file=str(path), suggestion="give a folder for --out")
    try:
        make_folders(path)
    except OSError as exc:
        raise _cannot(path, "create this folder", exc) from None
    try:
        probe = path / f".tmp-write-test.{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise _cannot(path, "write to this folder", exc) from None
    return path


def load_manifest(root: str | os.PathLike) -> dict:
    """The manifest of a sweep folder, or a clear InputError if there is none or it is unreadable."""
    path = Path(root) / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError.single("no sweep here (no manifest.json)", file=str(root),
                                suggestion="give the --out folder of an `nhisim sweep`") from None
    except OSError as exc:
        raise _cannot(path, "read the manifest", exc) from None
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError.single(f"manifest.json is not valid JSON ({exc.msg}, line {exc.lineno})", file=str(path),
                                suggestion="this folder's manifest was edited or damaged; use a new --out folder"
                                ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InputError.single(f"not a results folder of this nhisim (format {manifest.get('format')!r}"
                                if isinstance(manifest, dict) else "manifest.json is not a mapping",
                                file=str(path), suggestion="use a new --out folder")
    return manifest


def _refuse_foreign(root: Path) -> None:
    """Refuse a non-empty folder that holds no sweep: its files are not ours to mix with."""
    try:
        foreign = sorted(p.name for p in root.iterdir() if not _is_own_hidden(p.name))
    except OSError as exc:
        raise _cannot(root, "list this folder", exc) from None
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise InputError.single(f"this folder is not empty and holds no nhisim sweep ({shown})",
                                file=str(root), title="folder holds other files",
                                suggestion="give a new or empty folder for --out; nothing was written")


def _column_changes(old: Mapping, new: Mapping) -> tuple[list[str], list[str]]:
    """Result columns this session writes that the folder's earlier sessions did not, and the reverse."""
    before, now = list(old.get("columns") or {}), list(new.get("columns") or {})
    if not before:  # a manifest that names no columns: nothing to tell
        return [], []
    derived = set(new.get("derived") or {})  # computed from their text column when read: nothing missing
    return [c for c in now if c not in before and c not in derived], [c for c in before if c not in now]


def _describe_difference(old: Mapping, new: Mapping) -> list[str]:
    old_fp, new_fp = old.get("fingerprint", {}), new.get("fingerprint", {})
    return [part for part in FINGERPRINT_PARTS if old_fp.get(part) != new_fp.get(part)]


class SweepStore:
    """An open results folder of one sweep (holds a lock while open)."""

    def __init__(self, root: Path, manifest: dict, schema: pa.Schema, lock: Any = None) -> None:
        self.root = root
        self.manifest = manifest
        self.schema = schema
        self._lock = lock
        self.notes: list[str] = []
        self.runs_dir = root / RUNS
        self._next_part: int | None = None

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, root: str | os.PathLike, manifest: dict, files: Mapping[str, str | bytes],
             schema: pa.Schema, session: Mapping[str, Any] | None = None) -> SweepStore:
        """Create the folder for this sweep, or reopen it to resume; refuse another sweep's folder.

        ``manifest`` must hold ``fingerprint`` (a mapping of part name to hash); ``files``
        are the provenance files to (re)write, e.g. the effective scenario and the
        parameter table.
        """
        root = prepare_folder(Path(root))
        if not (root / MANIFEST).exists():
            _refuse_foreign(root)  # before the lock file is made: a refused folder is left as it was
        lock = FolderLock(root, "sweep").acquire()
        try:
            store = cls._open_locked(root, manifest, files, schema, session, lock)
        except BaseException:
            lock.release()
            raise
        return store

    @classmethod
    def _open_locked(cls, root, manifest, files, schema, session, lock) -> SweepStore:
        manifest = dict(manifest)
        manifest_path = root / MANIFEST
        now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        entry = {"started": now, "pid": os.getpid(), **(session or {})}
        notes = []
        if manifest_path.exists():
            old = load_manifest(root)
            differs = _describe_difference(old, manifest)
            if differs:
                raise InputError.single(
                    f"this folder holds the results of another sweep (different {', '.join(differs)}); "
                    "they are kept untouched", file=str(root), title="folder holds another sweep",
                    suggestion="give a new --out folder, or rerun the exact sweep that made it "
                               f"(see {manifest_path})")
            if old.get("nhisim_version") != manifest.get("nhisim_version"):
                notes.append(f"this sweep was started with nhisim {old.get('nhisim_version')}; "
                             f"it goes on with {manifest.get('nhisim_version')}")
            added, dropped = _column_changes(old, manifest)
            if added:
                entry["columns_added"] = added
                them = "it" if len(added) == 1 else "them"
                notes.append(f"this folder was written without {', '.join(added)}: the runs recorded before "
                             f"read NaN for {them}, the runs made now have {them}")
            if dropped:
                entry["columns_dropped"] = dropped
                notes.append(f"this nhisim no longer writes {', '.join(dropped)}: reading this folder leaves "
                             "them out")
            manifest["created"] = old.get("created", now)
            manifest["sessions"] = [*old.get("sessions", []), entry]
        else:
            _refuse_foreign(root)
            manifest["created"] = now
            manifest["sessions"] = [entry]
        try:
            # the manifest first: a sweep killed right after it resumes into the same folder
            write_whole(manifest_path, json.dumps(manifest, indent=2, sort_keys=False, default=str) + "\n")
            for name, content in files.items():
                write_whole(root / name, content)
            runs_dir = root / RUNS
            runs_dir.mkdir(exist_ok=True)
            for stale in runs_dir.iterdir():  # left by a sweep killed mid-write (kill -9)
                if is_temporary(stale.name) or (stale.name.startswith(".part-") and stale.name.endswith(".tmp")):
                    stale.unlink()
        except OSError as exc:
            raise _cannot(root, "write the results folder", exc) from None
        store = cls(root, manifest, schema, lock)
        store.notes.extend(notes)
        return store

    def close(self) -> None:
        if self._lock is not None:
            self._lock.release()
        self._lock = None

    def __enter__(self) -> SweepStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ parts

    def part_files(self) -> list[Path]:
        return part_files(self.runs_dir)

    def done(self, retry_errors: bool = False) -> set[tuple[int, str, int]]:
        """Run keys already recorded (with ``retry_errors``, only those that succeeded)."""
        keys: set[tuple[int, str, int]] = set()
        for path in self.part_files():
            table = self._read_part(path, columns=[*KEY, "error"])
            if table is None:
                continue
            frame = table.to_pandas()
            if retry_errors:
                frame = frame[frame["error"].isna()]
            keys.update(zip(frame["point"].astype(int), frame["strategy"].astype(str),
                            frame["replication"].astype(int), strict=True))
        return keys

    def write_part(self, table: pa.Table) -> Path:
        """Write one finished chunk's rows (a table of the sweep's schema) as the next part file, atomically."""
        if self._next_part is None:
            numbers = [int(m.group(1)) for p in self.runs_dir.iterdir() if (m := _PART_RE.match(p.name))]
            self._next_part = max(numbers, default=-1) + 1
        number = self._next_part
        self._next_part += 1
        path = self.runs_dir / f"part-{number:05d}.parquet"
        try:
            with whole_file(path) as temp, open(temp, "wb") as fh:  # Arrow cannot open a name that is not UTF-8
                pq.write_table(table, fh)
        except OSError as exc:
            raise InputError.single(f"cannot write results: {exc.strerror or exc}", file=str(self.runs_dir),
                                    title="cannot write results",
                                    suggestion="free space or fix permissions; finished chunks are kept: "
                                               "run the same sweep again to go on") from None
        return path

    def _read_part(self, path: Path, columns: Sequence[str] | None = None) -> pa.Table | None:
        try:
            with open(path, "rb") as fh:  # opened here: Arrow cannot open a name that is not UTF-8
                return pq.read_table(fh, columns=list(columns) if columns else None)
        except (OSError, pa.ArrowException) as exc:
            # a damaged part (a disk fault, a hand edit): set it aside, its runs run again
            aside = path.with_name(f".damaged-{path.name}")
            with contextlib.suppress(OSError):
                os.replace(path, aside)
            self.notes.append(f"{path.name} could not be read ({exc}); moved to {aside.name}, its runs run again")
            return None

    def read(self) -> pd.DataFrame:
        """Every recorded run, one row per run key, sorted."""
        tables = [t for p in self.part_files() if (t := self._read_part(p)) is not None]
        return with_twins(tidy_runs(tables, self.schema, self.manifest.get("strategies")), self.manifest)


def part_files(runs_dir: Path) -> list[Path]:
    if not runs_dir.is_dir():
        return []
    return sorted((p for p in runs_dir.iterdir() if _PART_RE.match(p.name)),
                  key=lambda p: int(_PART_RE.match(p.name).group(1)))  # type: ignore[union-attr]


def tidy_runs(tables: Sequence[pa.Table], schema: pa.Schema | None, strategies: Sequence[str] | None
              ) -> pd.DataFrame:
    """Concatenate part tables; drop duplicate run keys (a success wins over an error); sort by run key.

    Of the rows of one run key, the first success is kept, or else the first error; rows
    are ordered by point, replication, then strategy in the order the sweep named them.
    """
    if tables:
        if schema is None:
            schema = pa.unify_schemas([t.schema for t in tables])
        table = pa.concat_tables([conform(t, schema) for t in tables])
    elif schema is not None:
        table = schema.empty_table()
    else:
        return pd.DataFrame()
    frame = with_metric_types(table.to_pandas())
    if frame.empty:
        return frame
    point = frame["point"].to_numpy()
    replication = frame["replication"].to_numpy()
    names, strategy = np.unique(frame["strategy"].to_numpy(dtype=object).astype(str), return_inverse=True)
    rank = _strategy_rank(names, strategies)[strategy]
    failed = frame["error"].notna().to_numpy()
    # by run key, then successes first, then as written (lexsort is stable; its last key is its first)
    order = np.lexsort((failed, strategy, rank, replication, point))
    key = (point[order], replication[order], strategy[order])
    repeat = np.zeros(len(order), dtype=bool)
    repeat[1:] = np.logical_and.reduce([k[1:] == k[:-1] for k in key])
    return frame.take(order[~repeat]).reset_index(drop=True)


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with the columns of ``schema``, in its order and types.

    A column the table lacks (a metric added after the part was written) is all null,
    which pandas reads as NaN; a column ``schema`` does not name is left out.
    """
    if table.schema == schema:  # a part written by this version: nothing to do
        return table
    have = set(table.column_names)
    columns = [_cast(table.column(f.name), f.type) if f.name in have else pa.nulls(len(table), f.type)
               for f in schema]
    return pa.Table.from_arrays(columns, schema=schema)


def _cast(column: pa.ChunkedArray, to: pa.DataType) -> pa.ChunkedArray:
    """``column`` as ``to``; a float's NaN becomes null on the way to an integer (a count stored as a float)."""
    if pa.types.is_floating(column.type) and pa.types.is_integer(to):
        column = pc.if_else(pc.is_nan(column), pa.scalar(None, column.type), column)
    return column.cast(to)


def folder_schema(manifest: Mapping, tables: Sequence[pa.Table]) -> pa.Schema | None:
    """The columns to read a folder's parts into: theirs, in the manifest's order, plus every current metric.

    A metric the folder was written without is placed after the metric before it in
    :data:`~nhisim.metrics.METRIC_COLUMNS` (or before ``error``), so old and new folders
    read with the same column order.
    """
    if not tables:
        return None
    unified = pa.unify_schemas([t.schema for t in tables])
    listed = [name for name in (manifest.get("columns") or {}) if name in unified.names]
    names = listed + [name for name in unified.names if name not in listed]
    for i, metric in enumerate(METRIC_COLUMNS):
        if metric in names:
            continue
        before = next((m for m in reversed(METRIC_COLUMNS[:i]) if m in names), None)
        at = names.index(before) + 1 if before else names.index("error") if "error" in names else len(names)
        names.insert(at, metric)
    return pa.schema([unified.field(n) if n in unified.names else pa.field(n, pa.float64()) for n in names])


# a text value's number and the suffix of the column that holds it: seconds for a duration, per second for a rate
_QUANTITIES: tuple[tuple[str, Callable[[object], float]], ...] = (("_s", parse_duration), ("_per_s", parse_rate))


def numeric_twin(values: Sequence[object]) -> tuple[str, list[float]] | None:
    """The numeric twin of a parameter's values written as text: ``("_s", seconds)`` for durations
    (``5m``, ``1h``, ``never``), ``("_per_s", events per second)`` for rates (``6/h``); None when
    the values are numbers already, or not quantities (``basic``, ``advanced``)."""
    present = [v for v in values if v is not None]
    if not any(isinstance(v, str) for v in present) or \
            any(isinstance(v, bool) or not isinstance(v, (str, int, float)) for v in present):
        return None
    for suffix, parse in _QUANTITIES:
        try:
            return suffix, [math.nan if v is None else float(parse(v)) for v in values]
        except ValueError:
            continue
    return None


def twin_columns(parameters: Sequence[Mapping]) -> dict[str, str]:
    """``{twin column: parameter path}`` for a manifest's grid parameters written as text quantities."""
    out = {}
    for p in parameters:
        twin = numeric_twin(p.get("values", [])) if p.get("kind") == "grid" else None
        if twin is not None:
            out[p["path"] + twin[0]] = p["path"]
    return out


def with_twins(frame: pd.DataFrame, manifest: Mapping) -> pd.DataFrame:
    """``frame`` with the numeric twin of each text parameter, computed from the text (a folder written
    before twins existed has none, or none for the runs it held before a resume)."""
    for twin, path in twin_columns(manifest.get("parameters", [])).items():
        if path not in frame.columns or (twin in frame.columns and frame[twin].notna().all()):
            continue
        values = numeric_twin(frame[path].tolist())
        numbers = values[1] if values is not None else [math.nan] * len(frame)
        if twin in frame.columns:
            frame[twin] = np.asarray(numbers, dtype=float)
        else:
            frame.insert(frame.columns.get_loc(path) + 1, twin, np.asarray(numbers, dtype=float))
    return frame


def _strategy_rank(names: np.ndarray, strategies: Sequence[str] | None) -> np.ndarray:
    """Each name's place in ``strategies`` (names not in it after them, by name; ``names`` is sorted)."""
    order = {name: i for i, name in enumerate(strategies or names.tolist())}
    return np.array([order.get(name, len(order)) for name in names.tolist()], dtype=np.int64)


def read_runs(root: str | os.PathLike) -> pd.DataFrame:
    """The runs recorded in a sweep folder (finished or not), deduplicated and sorted.

    ``frame.attrs["sweep"]`` holds the manifest (parameters, sample, seeds) so that
    :func:`nhisim.experiments.sensitivity` can analyse it; ``frame.attrs["notes"]`` what the
    swept values did not move, and why.
    """
    root = Path(root)
    manifest = load_manifest(root)
    tables = []
    for path in part_files(root / RUNS):
        with contextlib.suppress(OSError, pa.ArrowException), open(path, "rb") as fh:
            tables.append(pq.read_table(fh))
    frame = with_twins(tidy_runs(tables, folder_schema(manifest, tables), manifest.get("strategies")), manifest)
    frame.attrs["sweep"] = manifest
    frame.attrs["notes"] = _notes(root, frame)
    return frame


def _notes(root: Path, frame: pd.DataFrame) -> list[str]:
    """What the folder's swept values did not move, and why (its effective scenario read back)."""
    from nhisim.experiments.effects import sweep_notes
    from nhisim.scenario.loader import load_data, validate_data

    try:
        data = load_data(root / SCENARIO)
        scenario = validate_data(data, file=str(root / SCENARIO))
    except InputError:
        return []
    return sweep_notes(frame, scenario, data)


__all__ = ["SweepStore", "conform", "folder_schema", "load_manifest", "numeric_twin", "prepare_folder", "read_runs",
           "twin_columns", "with_twins"]
