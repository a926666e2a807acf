"""Event logs written to Parquet as runs write them, never held whole.

A large estate's day is millions of rows: held as a table it is gigabytes, and shipped
from a worker process to its parent it is that again. Here a log goes to a file a piece at
a time (:meth:`nhisim.sim.eventlog.EventLog.columns` pieces, as
:func:`~nhisim.experiments.run.simulate` hands them to ``events_to``), under one schema
whatever the run (:func:`log_schema`), and files are copied into a results file a row
group at a time.

* :class:`ParquetRows` appends Arrow tables to one Parquet file, gathered into row groups;
* :class:`LogParquet` writes one run's log (``nhisim run --events``; in a worker, the log of
  a comparison's run, with the run's ids as columns: :func:`events_schema`);
* :class:`LogFile` names such a file, what a worker hands its parent instead of the log.
"""

from __future__ import annotations

import contextlib
import functools
import json
from dataclasses import dataclass
from typing import Any, BinaryIO


@dataclass(frozen=True)
class LogFile:
    """A run's event log in a Parquet file of :func:`events_schema` (written by its worker): what a
    comparison with ``log_folder`` hands ``events_to`` in place of the log; the receiver owns the
    file (moves, copies or deletes it)."""

    path: str
    rows: int


class ParquetRows:
    """Arrow tables appended to one Parquet file (an open binary file), gathered into row groups
    of about :attr:`ROW_GROUP` rows, so many small pieces compress as well as one table would.
    The file's schema is the first table's; :meth:`close` completes the file."""

    ROW_GROUP = 262_144

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self._writer = None
        self._waiting: list = []  # tables not written yet
        self._waiting_rows = 0
        self.rows = 0  # rows added

    def add(self, table: Any) -> None:
        import pyarrow.parquet as pq

        if self._writer is None:
            self._writer = pq.ParquetWriter(self._fh, table.schema)
        self._waiting.append(table)
        self._waiting_rows += len(table)
        self.rows += len(table)
        if self._waiting_rows >= self.ROW_GROUP:
            self.write()

    def write(self) -> None:
        """Write the rows waiting as one row group."""
        import pyarrow as pa

        if self._waiting:
            self._writer.write_table(pa.concat_tables(self._waiting), row_group_size=max(self._waiting_rows, 1))
            self._waiting, self._waiting_rows = [], 0

    def close(self, schema: Any = None) -> None:
        """Write what is waiting and complete the file (with no table yet: an empty file of ``schema``)."""
        import pyarrow.parquet as pq

        if self._writer is None and schema is not None:
            self._writer = pq.ParquetWriter(self._fh, schema)
        if self._writer is not None:
            self.write()
            writer, self._writer = self._writer, None
            writer.close()

    def abandon(self) -> None:
        """Let go of the file without completing it (the command is failing)."""
        self._waiting, self._waiting_rows = [], 0
        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()


class LogParquet:
    """One run's event log written to a Parquet file as it comes, under ``schema`` (the same
    columns and types whatever the run: :func:`log_schema`, or :func:`events_schema` with the
    run's ids given as ``ids`` and filled in every row). The run's ids are also kept as the
    frame's ``attrs`` are (``PANDAS_ATTRS``). A context manager: the file is complete once it
    closes."""

    def __init__(self, fh: BinaryIO, schema: Any = None, ids: dict[str, Any] | None = None) -> None:
        self._rows = ParquetRows(fh)
        self._base = log_schema() if schema is None else schema
        self._ids = ids
        self._schema = None  # with the run's ids, from the first piece

    @property
    def rows(self) -> int:
        return self._rows.rows

    def __enter__(self) -> LogParquet:
        return self

    def __exit__(self, kind, *exc_info) -> None:
        if kind is None:
            self._rows.close(self._base)
        else:
            self._rows.abandon()

    def add(self, columns: dict, meta: dict) -> None:
        """A piece of the log by column (``meta``: the run's ids, kept as the frame's attrs)."""
        if self._schema is None:
            self._schema = self._base.with_metadata({b"PANDAS_ATTRS": json.dumps(meta).encode()} if meta else {})
        self._rows.add(arrow_table(columns, self._schema, self._ids))


def arrow_table(columns: Any, schema: Any, constants: dict | None = None) -> Any:
    """An Arrow table of ``schema`` from ``columns`` (a DataFrame, or a dict of arrays; ``in_intent``
    may hold None), converted column by column: pandas' own conversion costs twice as much.
    ``constants`` fill the columns they name (a run's ids) on every row."""
    import pyarrow as pa

    constants = constants or {}
    rows = len(columns["t"])
    return pa.Table.from_arrays(
        [pa.repeat(pa.scalar(constants[field.name], field.type), rows) if field.name in constants else
         pa.array(columns[field.name], type=field.type, from_pandas=True) for field in schema], schema=schema)


@functools.cache
def log_schema() -> Any:
    """The Arrow schema of an event log file: numbers float64, ``malicious`` and ``in_intent`` bool (the
    latter null where there is no task), the other columns text."""
    import pyarrow as pa

    from nhisim.sim.eventlog import COLUMNS, NUMBER_COLUMNS

    kinds = {"malicious": pa.bool_(), "in_intent": pa.bool_()}
    return pa.schema([(name, pa.float64() if name in NUMBER_COLUMNS else kinds.get(name, pa.string()))
                      for name in COLUMNS])


@functools.cache
def events_schema() -> Any:
    """The Arrow schema of ``events.parquet``: the event log's columns, then the run's ids."""
    import pyarrow as pa

    return pa.schema([*log_schema(), ("strategy", pa.string()), ("replication", pa.int64()),
                      ("scenario", pa.string())])


__all__ = ["LogFile", "LogParquet", "ParquetRows", "arrow_table", "events_schema", "log_schema"]
