"""The event log: one row per request, decision and lifecycle event, stored by column.

Rows are appended as tuples to a small buffer (one list append in the hot loop) and
moved into per-column NumPy arrays every few thousand rows, so memory holds columns, not
row objects. Arrays, unlike lists, are invisible to Python's cyclic garbage collector,
which would otherwise walk every value of the log at each full collection (a third of
a long run's time). :meth:`EventLog.to_frame` builds a pandas DataFrame on demand; the metrics read
:meth:`EventLog.columns`, the same sorted columns without the DataFrame.

Columns
-------
t            simulated time, seconds
event        request | issue | revoke | task_start | task_end | compromise | acquire |
             detect | quarantine | alert | give_up | outage | retire | run_end
principal    the identity the record names (credential subject, or current actor of a
             delegated token): what an auditor sees
presenter    who actually presented the credential (an agent, or ``attacker:<threat>``)
actor        the true actor: the agent itself, or ``attacker:<threat>`` when malicious
credential   credential id
chain        actor chain of a delegated token, ``a>b>c`` (earliest first)
tool, action, resource   the operation
task         the task instance the request belongs to (ground truth)
audit_task   the task bound into the credential (what the audit trail can show)
audit_human  the originating human bound into the credential
malicious    True for the attacker's requests
in_intent    whether the operation is in the task's declared intent (None: no task)
decision     allow | deny (requests, issues); ok | failed (task_end)
code         short machine reason: allowed, expired, revoked, revoked_response, scope,
             sender_constraint, intent_operation, intent_sensitivity, intent_destination,
             risk, quarantined, issuer_down, no_intent, approved, rejected, ...
reason       the decision or event told in one sentence
value        sensitivity × damage of the operation (requests), scope value (issue,
             acquire), potential blast radius (compromise)
records      records of the resource (requests)
until        issue: expiry; revoke: when the revocation is effective everywhere
wait         time spent waiting for human approval
latency      task_end: seconds from arrival to end
incident     the threat a row belongs to
scope        acquire rows: the operations the attacker can reach with the credential,
             ``action:resource=value|...``
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

COLUMNS = (
    "t", "event", "principal", "presenter", "actor", "credential", "chain", "tool", "action", "resource",
    "task", "audit_task", "audit_human", "malicious", "in_intent", "decision", "code", "reason", "value",
    "records", "until", "wait", "latency", "incident", "scope",
)
_WIDTH = len(COLUMNS)
_FLUSH_EVERY = 4096


class EventLog:
    """Columnar, append-only log of one run."""

    __slots__ = ("_buffer", "_chunks", "_rows", "meta")

    def __init__(self, meta: dict[str, Any] | None = None) -> None:
        self._buffer: list[tuple] = []
        self._chunks: list[list[np.ndarray]] = [[] for _ in COLUMNS]  # per column, one array per flush
        self._rows = 0  # rows in the chunks
        self.meta: dict[str, Any] = dict(meta or {})

    def append(self, row: tuple) -> None:
        """Add one full row (a tuple in :data:`COLUMNS` order)."""
        buffer = self._buffer
        buffer.append(row)
        if len(buffer) >= _FLUSH_EVERY:
            self._flush()

    def add(self, t: float, event: str, **fields: Any) -> None:
        """Add a row by keyword (for rare lifecycle events; the hot loop uses :meth:`append`)."""
        row = [None] * _WIDTH
        row[0] = t
        row[1] = event
        for key, value in fields.items():
            row[_INDEX[key]] = value
        if row[_INDEX["malicious"]] is None:
            row[_INDEX["malicious"]] = False
        self.append(tuple(row))

    def _flush(self) -> None:
        buffer = self._buffer
        if buffer:
            rows = len(buffer)
            for chunks, values in zip(self._chunks, zip(*buffer, strict=True), strict=True):
                chunks.append(np.fromiter(values, dtype=object, count=rows))
            self._rows += rows
            buffer.clear()

    def __len__(self) -> int:
        return self._rows + len(self._buffer)

    def _array(self, index: int) -> np.ndarray:
        self._flush()
        chunks = self._chunks[index]
        if len(chunks) > 1:  # merge, so later reads are one array
            chunks[:] = [np.concatenate(chunks)]
        return chunks[0] if chunks else np.empty(0, dtype=object)

    def column(self, name: str) -> list:
        """One column's values, in the order they were logged."""
        return self._array(_INDEX[name]).tolist()

    def columns(self) -> dict[str, np.ndarray]:
        """The whole log by column, sorted by time (stable): NumPy arrays, what the metrics read.

        ``t`` and the other numbers are floats (NaN where missing), ``malicious`` is bool,
        text columns are object arrays (None where missing).
        """
        columns: dict[str, np.ndarray] = {}
        for i, name in enumerate(COLUMNS):
            values = self._array(i)
            if name in NUMBER_COLUMNS:
                values = values.astype(float)  # None becomes NaN
            elif name == "malicious":
                values = values.astype(bool)
            columns[name] = values
        t = columns["t"]
        if not (t[1:] >= t[:-1]).all():  # a few rows are logged for a time other than now
            order = np.argsort(t, kind="stable")
            columns = {name: values[order] for name, values in columns.items()}
        return columns

    def to_frame(self) -> pd.DataFrame:
        """The whole log as a DataFrame (text columns of pandas' ``str`` dtype), sorted by time (stable)."""
        frame = pd.DataFrame(self.columns(), copy=False)
        frame.attrs.update(self.meta)
        return frame


_INDEX = {name: i for i, name in enumerate(COLUMNS)}
NUMBER_COLUMNS = frozenset(("t", "value", "records", "until", "wait", "latency"))
I = _INDEX  # noqa: E741  (short alias for row building in the engine)
