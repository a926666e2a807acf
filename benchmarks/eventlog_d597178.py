"""The event log: one row per request, decision and lifecycle event, stored by column.

Every event kind has one builder method (:meth:`EventLog.request`, :meth:`EventLog.issue`,
...) that names its fields; nothing else builds rows. Rows go to a small buffer (one list
append in the hot loop) and are moved into per-column NumPy arrays every few thousand rows, so memory holds columns, not
row objects. Arrays, unlike lists, are invisible to Python's cyclic garbage collector,
which would otherwise walk every value of the log at each full collection (a third of
a long run's time). :meth:`EventLog.to_frame` builds a pandas DataFrame on demand; the metrics read
:meth:`EventLog.columns`, the same sorted columns without the DataFrame.

Columns
-------
t            simulated time, seconds
event        request | issue | revoke | rotate | task_start | task_end | approval |
             compromise | acquire | release | give_up | detect | quarantine | reinstate |
             outage | retire | threat | run_end (one builder method each, below)
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
        """Add one full row (a tuple in :data:`COLUMNS` order); the builders below call it."""
        buffer = self._buffer
        buffer.append(row)
        if len(buffer) >= _FLUSH_EVERY:
            self._flush()

    # ------------------------------------------------------------------ builders, one per event kind
    # The frequent kinds (request, issue, revoke, task_start, task_end) build their tuple in
    # place; the rare ones go through :meth:`add`.

    def request(self, t: float, *, principal: str, presenter: str, actor: str, credential: str, chain: str,
                tool: str, action: str, resource: str, task: str | None, audit_task: str | None,
                audit_human: str | None, malicious: bool, in_intent: bool | None, decision: str, code: str,
                reason: str, value: float, records: float, wait: float, incident: str | None = None) -> None:
        """A tool call decided by the enforcement point (benign or malicious)."""
        self.append((t, "request", principal, presenter, actor, credential, chain, tool, action, resource, task,
                     audit_task, audit_human, malicious, in_intent, decision, code, reason, value, records, None,
                     wait, None, incident, None))

    def issue(self, t: float, *, subject: str, actor: str, credential: str, chain: str, task: str | None,
              audit_human: str | None, malicious: bool, kind: str, reason: str, value: float, until: float,
              incident: str | None) -> None:
        """A credential issued (``code`` is its kind, ``until`` its expiry)."""
        self.append((t, "issue", subject, subject, actor, credential, chain, None, None, None, task, task,
                     audit_human, malicious, None, "allow", kind, reason, value, None, until, None, None, incident,
                     None))

    def issue_refused(self, t: float, *, agent: str, presenter: str, actor: str, task: str | None, malicious: bool,
                      code: str, reason: str, incident: str | None) -> None:
        """The token issuer refused a request (``code`` says why)."""
        self.add(t, "issue", principal=agent, presenter=presenter, actor=actor, task=task, malicious=malicious,
                 decision="deny", code=code, reason=reason, incident=incident)

    def revoke(self, t: float, *, subject: str, credential: str, chain: str, by_response: bool, reason: str,
               effective_at: float, incident: str | None) -> None:
        """A revocation made (``until``: when it is effective at every enforcement point)."""
        self.append((t, "revoke", subject, None, None, credential, chain, None, None, None, None, None, None, False,
                     None, "revoke", "response" if by_response else "lifecycle", reason, None, None, effective_at,
                     None, None, incident, None))

    def rotate(self, t: float, *, subject: str, credential: str, reason: str) -> None:
        """A static key reached its rotation date (its successor's ``issue`` row follows)."""
        self.add(t, "rotate", principal=subject, credential=credential, reason=reason)

    def task_start(self, t: float, *, agent: str, chain: str, task: str, human: str | None, how: str) -> None:
        """A task begins (``code``: arrival, delegated or exchanged)."""
        self.append((t, "task_start", agent, agent, agent, None, chain, None, None, None, task, None, human, False,
                     None, None, how, None, None, None, None, None, None, None, None))

    def task_end(self, t: float, *, agent: str, task: str, human: str | None, ok: bool, root: bool, why: str,
                 latency: float) -> None:
        """A task ends, ``ok`` or ``failed`` (``code``: root or sub, ``reason``: why)."""
        self.append((t, "task_end", agent, agent, agent, None, None, None, None, None, task, None, human, False,
                     None, "ok" if ok else "failed", "root" if root else "sub", why, None, None, None, None,
                     latency, None, None))

    def approval(self, t: float, *, agent: str, task: str, approved: bool, wait: float, reason: str) -> None:
        """A human reviewed a step that needs approval."""
        self.add(t, "approval", principal=agent, presenter=agent, actor=agent, task=task,
                 decision="allow" if approved else "deny", code="approved" if approved else "rejected", wait=wait,
                 reason=reason)

    def compromise(self, t: float, *, principal: str | None, presenter: str, actor: str, credential: str | None,
                   kind: str, reason: str, value: float, incident: str, scope: str, until: float | None) -> None:
        """An attack starts: ``principal`` is who was compromised, ``credential`` what was handed over
        (ids joined by ``|``), ``value`` the potential blast radius at that moment."""
        self.add(t, "compromise", principal=principal, presenter=presenter, actor=actor, credential=credential,
                 malicious=True, code=kind, reason=reason, value=value, incident=incident, scope=scope, until=until)

    def acquire(self, t: float, *, principal: str, presenter: str, actor: str, credential: str, chain: str,
                kind: str, reason: str, value: float, until: float | None, incident: str, scope: str) -> None:
        """The attacker now holds a credential (``scope``: what it reaches with it)."""
        self.add(t, "acquire", principal=principal, presenter=presenter, actor=actor, credential=credential,
                 chain=chain, malicious=True, code=kind, reason=reason, value=value, until=until, incident=incident,
                 scope=scope)

    def release(self, t: float, *, presenter: str, actor: str, reason: str, incident: str) -> None:
        """The attacker loses control of what it steered (window over, or contained)."""
        self.add(t, "release", presenter=presenter, actor=actor, malicious=True, reason=reason, incident=incident)

    def give_up(self, t: float, *, presenter: str, actor: str, reason: str, incident: str) -> None:
        """The attacker stops trying."""
        self.add(t, "give_up", presenter=presenter, actor=actor, malicious=True, reason=reason, incident=incident)

    def detect(self, t: float, *, presenter: str, actor: str, projected: bool, reason: str, incident: str,
               response_at: float) -> None:
        """An incident detected (``until``: when the response acts)."""
        self.add(t, "detect", presenter=presenter, actor=actor, malicious=True,
                 code="projected" if projected else "detected", reason=reason, incident=incident, until=response_at)

    def quarantine(self, t: float, *, agent: str, reason: str, incident: str) -> None:
        self.add(t, "quarantine", principal=agent, malicious=True, reason=reason, incident=incident)

    def reinstate(self, t: float, *, agent: str, reason: str) -> None:
        self.add(t, "reinstate", principal=agent, reason=reason)

    def outage(self, t: float, *, starts: bool, reason: str, incident: str, until: float | None = None) -> None:
        """The token issuer goes down (``starts``) or comes back."""
        self.add(t, "outage", code="start" if starts else "end", reason=reason, incident=incident, until=until)

    def retire(self, t: float, *, agent: str, orphaned: bool, reason: str) -> None:
        self.add(t, "retire", principal=agent, code="orphaned" if orphaned else "revoked", reason=reason)

    def threat(self, t: float, *, kind: str, incident: str, reason: str) -> None:
        """A threat that acts through the workload (no compromise row of its own) announces itself."""
        self.add(t, "threat", code=kind, incident=incident, reason=reason)

    def run_end(self, t: float, *, reason: str) -> None:
        self.add(t, "run_end", reason=reason)

    def add(self, t: float, event: str, **fields: Any) -> None:
        """Add a row by column name (what the rare builders use)."""
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
