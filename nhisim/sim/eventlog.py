"""The event log: one row per request, decision and lifecycle event, stored by column.

Every event kind has one builder method (:meth:`EventLog.request`, :meth:`EventLog.issue`,
...) that names its fields; nothing else builds rows.

Storage
-------
About 90 bytes a row on a long run (``benchmarks/bench_eventlog.py`` measures it), where
per-row tuples and object arrays cost several hundred.

*Buffer.* A builder appends one tuple to a small buffer (one list append in the hot
loop): a layout number and the fields that vary for its kind (``_LAYOUTS``: a request
pushes 21 fields, a task start 6; a field such as the agent of a task start fills
principal, presenter and actor at once; the other columns are the layout's constants).
:meth:`EventLog.add` and :meth:`EventLog.append` push the full layout, every column.

*Flush.* Every :data:`_FLUSH_EVERY` rows the buffer is grouped by layout, each field is
encoded once for its rows, constants are filled in, and each column becomes one typed
NumPy chunk in log order; the tuples are dropped. The log then holds no row objects, and
nothing the cyclic garbage collector walks value by value. Per column:

* text (every column not named below): ``int`` codes into an interning table, ``None``
  being -1. Columns holding the same kind of value share a table (principal, presenter,
  actor and chain: agent ids; task and audit_task: task ids). A table archives every value
  it has coded once, as text in code order; its lookup dict holds only the values of the
  last two chunks once it outgrows ``_LIVE_VALUES`` (a task's id, its credential's and the
  reasons naming them come and go; one that comes back is coded again, and decodes the
  same). Values made in bulk (:class:`FreshValues`: the ids and reasons of a window of
  tasks computed ahead of time) are coded as a block, without the lookup dict: none of
  them is ever looked up by value. A chunk's codes are as narrow as its table allows
  (int8, int16, int32);
* numbers (t, value, records, until, wait, latency): float64, a missing number being NaN
  (builders log NaN, not None: NumPy converts floats alone several times faster). Except
  for t, a chunk whose values take few distinct bit patterns (missing, or a few dozen
  values) is stored, when smaller, as uint8/uint16 codes into its own table of patterns;
  bits, not values, are compared, so -0.0, inf and every NaN come back exactly;
* malicious: bool; in_intent: int8, -1 / 0 / 1 for None / False / True.

*Reading* decodes: :meth:`EventLog.columns` gives every column as a NumPy array sorted by
time (stable; the compact codes are reordered, then decoded), the metrics' input;
:meth:`EventLog.to_frame` builds a pandas DataFrame from it on demand. A log may keep
only some rows of each chunk (:meth:`EventLog.keep_only`: what a report tells), while its
consumers still read them all.

Columns
-------
t            simulated time, seconds
event        request | issue | revoke | rotate | task_start | task_end | approval |
             discover | redeclare | switch | compromise | acquire | release | give_up |
             detect | quarantine | reinstate | outage | retire | threat | run_end (one
             builder method each, below)
principal    the identity the record names (credential subject, or current actor of a
             delegated token): what an auditor sees
presenter    who actually presented the credential (an agent, or ``attacker:<threat>``)
actor        the true actor: the agent itself, or ``attacker:<threat>`` when malicious
credential   credential id
chain        actor chain of a delegated token, ``a>b>c`` (earliest first)
tool, action, resource   the operation (acquire rows: resource is where a harvested credential
             was read)
task         the task instance the request belongs to (ground truth)
audit_task   the task bound into the credential (what the audit trail can show)
audit_human  the originating human bound into the credential
malicious    True for the attacker's requests
in_intent    whether the operation is in the task's declared intent (None: no task)
decision     allow | deny (requests, issues); ok | failed (task_end); acquire: harvested (read in
             the row's resource) or republished, for a credential obtained that way
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

import sys
from array import array
from collections.abc import Callable, Mapping, Sequence
from itertools import accumulate, chain, islice
from operator import itemgetter
from typing import Any, Protocol

import numpy as np
import pandas as pd

from nhisim.sim.ordering import stable_argsort

COLUMNS = (
    "t", "event", "principal", "presenter", "actor", "credential", "chain", "tool", "action", "resource",
    "task", "audit_task", "audit_human", "malicious", "in_intent", "decision", "code", "reason", "value",
    "records", "until", "wait", "latency", "incident", "scope",
)
NUMBER_COLUMNS = frozenset(("t", "value", "records", "until", "wait", "latency"))
_FLUSH_EVERY = 4096  # rows buffered as tuples before they are encoded into typed chunks
_LIVE_VALUES = 16384  # an interning table forgets its values not seen lately beyond this many
# columns that hold the same kind of value share one interning table (named here)
_SHARED_TABLE = {"presenter": "principal", "actor": "principal", "chain": "principal", "audit_task": "task"}
TEXT_COLUMNS = tuple(name for name in COLUMNS if name not in NUMBER_COLUMNS and name not in ("malicious", "in_intent"))
_NAN = float("nan")
_NAN_BITS = np.float64(_NAN).view(np.int64)  # the NaN a missing number is stored as
_INTENT_CODE = {None: -1, False: 0, True: 1}
_INTENT_VALUE = np.array([False, True, None], dtype=object)  # indexed by code: -1 is the last
_NUMBER, _BOOL, _INTENT, _TEXT = range(4)
_KIND = tuple(_NUMBER if name in NUMBER_COLUMNS else _BOOL if name == "malicious" else
              _INTENT if name == "in_intent" else _TEXT for name in COLUMNS)


def code_dtype(size: int) -> type[np.signedinteger]:
    """The narrowest signed integer type that holds codes -1 .. size - 1."""
    return np.int8 if size <= 128 else np.int16 if size <= 32768 else np.int32


def get_all(container: Any, keys: Sequence) -> tuple:
    """``container[key]`` for every key (of a dict, or positions in a list), in one C-level call
    (itemgetter of one key gives no tuple, of none is an error)."""
    return itemgetter(*keys)(container) if len(keys) > 1 else tuple(container[key] for key in keys)


class FreshValues:
    """A block of values a table coded without looking them up (:meth:`_Table.reserve`).

    Values made in bulk, each distinct and new (a window's task ids, token ids and the
    reasons naming them), that no one ever looks up by value (:meth:`LogChunk.equals` does
    not find them; decoding does). ``codes`` (ascending) decode to ``values``. The block
    stays decodable until the end of the chunk in which its maker sets ``done`` (when
    :meth:`_Table.next_chunk` drops it).
    """

    __slots__ = ("codes", "done", "values")

    def __init__(self, codes: np.ndarray, values: np.ndarray) -> None:
        self.codes = codes
        self.values = values
        self.done = False

    def find(self, codes: np.ndarray) -> np.ndarray:
        """Where each of ``codes`` is in the block (-1: not in it)."""
        if not len(self.codes):
            return np.full(len(codes), -1, dtype=np.intp)
        at = np.minimum(np.searchsorted(self.codes, codes), len(self.codes) - 1)
        return np.where(self.codes[at] == codes, at, -1)


class _Table:
    """Interning table of a text column (or of the columns that share it).

    Every value coded so far is archived once, in code order, as text (``_segments``, one
    joined string per flush, and ``_ends``, where each code's text ends): what decoding
    reads. Lookups go through ``live``, a dict from value to code that holds only the
    values seen lately: when it outgrows its limit, the values whose codes are not in the
    last two chunks are dropped from it (they stay in the archive). Values of a run come
    and go (a task's id, its credential's, the reasons that name them), so the dict stays
    small; a dropped value that comes back is coded again, under a new code that decodes
    to the same text. Values made in bulk are coded as blocks (:class:`FreshValues`),
    never entering ``live``. A log that keeps no rows (``stream_to(..., keep=False)``)
    archives nothing: its consumers decode each chunk as it is flushed, through ``live``
    and the blocks in use.
    """

    __slots__ = ("_ends", "_fresh", "_limit", "_recent", "_recent_before", "_segments", "_size", "archive",
                 "live", "live_by_code")

    def __init__(self) -> None:
        self.live: dict[str | None, int] = {None: -1}
        self.live_by_code: dict[int, str | None] = {-1: None}  # the inverse of ``live``
        self._recent: list[np.ndarray] = []  # the codes of this chunk (of every column sharing the table)
        self._recent_before: list[np.ndarray] = []  # ... and of the chunk before
        self._segments: list[str] = []
        self._ends = array("q")  # in characters of the joined segments
        self._size = 0  # codes handed out
        self._limit = _LIVE_VALUES
        self._fresh: list[FreshValues] = []  # blocks of values made in bulk, still decodable
        self.archive = True  # False: a log that keeps no rows needs no values but the live ones

    def __len__(self) -> int:
        """Codes handed out."""
        return self._size

    def encode(self, values: tuple, rows: int) -> np.ndarray:
        """The codes of one chunk of a column, as narrow an int type as the table allows."""
        try:  # most chunks of most columns bring no new value: one C-level pass
            codes = np.fromiter(get_all(self.live, values), dtype=np.intp, count=rows)
        except KeyError:
            self._add(values)
            codes = np.fromiter(get_all(self.live, values), dtype=np.intp, count=rows)
        codes = codes.astype(code_dtype(self._size))  # intp, then narrowed: faster than narrow at once
        self._recent.append(codes)
        if len(self.live) > self._limit:
            self._prune()
        return codes

    def _add(self, values: tuple) -> None:
        """Code and archive the values not coded yet (in order of first use)."""
        live = self.live
        new = [value for value in dict.fromkeys(values) if value not in live]
        start = self._archive(new)
        live.update(zip(new, range(start, start + len(new)), strict=True))
        self.live_by_code.update(zip(range(start, start + len(new)), new, strict=True))

    def _archive(self, new: Sequence) -> int:
        """Hand out codes to ``new`` values (archived, if the table archives): the first code."""
        try:
            text = "".join(new)
        except TypeError:
            raise TypeError(f"a text column takes str or None, not {new!r:.200}") from None
        start = self._size
        self._size += len(new)
        if self.archive:
            last = self._ends[-1] if start else 0
            if len(new) > 64:  # a block made in bulk
                ends = np.cumsum(np.fromiter(map(len, new), dtype=np.int64, count=len(new))) + last
                self._ends.frombytes(ends.tobytes())
            else:
                self._ends.extend(islice(accumulate(map(len, new), initial=last), 1, None))
            self._segments.append(text)
        return start

    def reserve(self, values: Sequence[str]) -> FreshValues:
        """Code ``values`` as a block: each distinct, never coded before, never looked up by value (set the
        block's ``done`` when its maker is through with it)."""
        start = self._archive(values)
        block = FreshValues(np.arange(start, start + len(values), dtype=np.int64), np.array(values, dtype=object))
        self._fresh.append(block)
        return block

    def keep_of(self, block: FreshValues, kept: np.ndarray) -> FreshValues:
        """A block of the values of ``block`` at ``kept`` (ascending positions), under the same codes: what
        its maker still uses (``block`` is done: the chunk being made may use the others)."""
        smaller = FreshValues(block.codes[kept], block.values[kept])
        block.done = True
        self._fresh.append(smaller)
        return smaller

    def next_chunk(self) -> None:
        """The chunk is done: its codes become the previous chunk's."""
        self._recent_before = self._recent
        self._recent = []
        if self._fresh:  # the consumers are through with the chunk: blocks done by then may go
            self._fresh = [block for block in self._fresh if not block.done]

    def _prune(self) -> None:
        """Keep in ``live`` only the values of the last two chunks."""
        recent = set(np.unique(np.concatenate(self._recent_before + self._recent)).tolist())
        recent.add(-1)  # None
        self.live = {value: code for value, code in self.live.items() if code in recent}
        self.live_by_code = {code: value for value, code in self.live.items()}
        self._limit = max(_LIVE_VALUES, 2 * len(self.live))  # pruning stays rare however many stay live

    def decode(self, codes: np.ndarray) -> list:
        """The values of ``codes`` of the chunk being made (live, or in a block in use)."""
        if not self._fresh:
            return list(map(self.live_by_code.__getitem__, codes.tolist()))
        values = np.empty(len(codes), dtype=object)
        rest = np.ones(len(codes), dtype=bool)
        for block in self._fresh:
            at = block.find(codes)
            found = at >= 0
            if found.any():
                values[found] = block.values[at[found]]
                rest &= ~found
        if rest.any():
            values[np.flatnonzero(rest)] = list(map(self.live_by_code.__getitem__, codes[rest].tolist()))
        return values.tolist()

    def lookup(self) -> np.ndarray:
        """Code -> value, an object array; code -1 (its last item) is None."""
        text = "".join(self._segments)
        ends = self._ends
        values = np.empty(len(ends) + 1, dtype=object)
        starts = islice(chain((0,), ends), len(ends))  # each code's text starts where the previous one ends
        values[:-1] = [text[start:end] for start, end in zip(starts, ends, strict=True)]
        return values

    def nbytes(self) -> int:
        """Bytes the table holds: archive, live dict and the strings only it holds."""
        total = sum(map(sys.getsizeof, self._segments)) + sys.getsizeof(self._segments)
        total += self._ends.buffer_info()[1] * self._ends.itemsize
        total += sys.getsizeof(self.live)
        return total + sum(sys.getsizeof(value) for value in self.live if value is not None)


def _compress_numbers(floats: np.ndarray, compress: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """One chunk of a number column, as (floats, None); or, if ``compress`` and smaller, as
    (codes, table): codes into a table of the chunk's distinct bit patterns (bits, not
    values, so -0.0 and every NaN keep their pattern exactly)."""
    if not compress:
        return floats, None
    bits = floats.view(np.int64)
    present = bits != _NAN_BITS  # most values of most number columns are missing: sort only the others
    inverse, table = pd.factorize(bits[present], sort=True)  # np.unique's result, by hashing: faster
    for dtype in (np.uint8, np.uint16):
        if len(table) < np.iinfo(dtype).max:  # code 0 is the missing value
            if len(floats) * np.dtype(dtype).itemsize + (len(table) + 1) * 8 < floats.nbytes:
                codes = np.zeros(len(floats), dtype=dtype)
                codes[present] = inverse + 1
                return codes, np.concatenate(([_NAN], table.view(np.float64)))
            break
    return floats, None


class EventLog:
    """Columnar, append-only log of one run (see the module docstring for the storage)."""

    __slots__ = ("_buffer", "_chunks", "_consumers", "_distinct_tables", "_keep", "_number_tables", "_pending",
                 "_rows", "_select", "_tables", "meta")

    def __init__(self, meta: dict[str, Any] | None = None) -> None:
        self._buffer: list[tuple] = []
        self._chunks: list[list[np.ndarray]] = [[] for _ in COLUMNS]  # per column, one array per flush
        # number columns: per chunk, None (the chunk is float64) or the table its codes index;
        # kept beside the chunks rather than paired in tuples, which the garbage collector tracks
        self._number_tables: dict[int, list[np.ndarray | None]] = {
            i: [] for i, kind in enumerate(_KIND) if kind is _NUMBER}
        self._rows = 0  # rows in the chunks
        tables: dict[str, _Table] = {}  # text column -> its interning table (shared ones: one object)
        for name in TEXT_COLUMNS:
            owner = _SHARED_TABLE.get(name, name)
            tables[name] = tables[owner] if owner in tables else _Table()
        self._tables = tables
        self._distinct_tables = tuple({id(table): table for table in tables.values()}.values())
        self._consumers: list[Callable[[LogChunk], None]] = []
        self._keep = True
        self._select: Callable[[LogChunk], np.ndarray] | None = None  # which rows of a chunk the log keeps
        self._pending: PendingRows | None = None  # rows written ahead of time (merge_from)
        self.meta: dict[str, Any] = dict(meta or {})

    def stream_to(self, consumer: Callable[[LogChunk], None], *, keep: bool = True) -> None:
        """Hand every chunk to ``consumer`` as it is flushed (a :class:`LogChunk`, valid during the call).

        With ``keep=False`` the log keeps no rows past a flush: what the consumers take of
        them is all that remains (a run whose metrics are all it needs never holds its log).
        Attach consumers before the first row is flushed; call :meth:`flush` at the end.
        """
        if self._rows:
            raise RuntimeError("stream_to() must come before the first flush: earlier rows would be missed")
        self._consumers.append(consumer)
        self._keep = self._keep and keep
        if not self._keep:  # no row is read after its flush: values need not be archived for decoding later
            for table in self._distinct_tables:
                table.archive = False

    def keep_only(self, select: Callable[[LogChunk], np.ndarray]) -> None:
        """Keep only the rows ``select(chunk)`` marks (a bool array over the chunk's rows) of each
        chunk flushed; consumers still see every row. :meth:`columns` then reads the rows kept,
        and ``len()`` still counts every row logged. Call before the first flush."""
        if self._rows:
            raise RuntimeError("keep_only() must come before the first flush: earlier rows are kept already")
        self._select = select

    def flush(self) -> None:
        """Encode the rows still buffered (and hand them to the consumers)."""
        self._flush()

    def append(self, row: tuple) -> None:
        """Add one full row (a tuple in :data:`COLUMNS` order), as :meth:`add` does."""
        self._push((_FULL, *row))

    def _push(self, row: tuple) -> None:
        """Buffer one row: a layout's number, then the fields that layout names."""
        buffer = self._buffer
        buffer.append(row)
        if len(buffer) >= _FLUSH_EVERY:
            self._flush()

    # ------------------------------------------------------------------ builders, one per event kind
    # The frequent kinds (request, issue, revoke, task_start, task_end) push only the fields
    # that vary, in the order of their layout (see _LAYOUTS), and inline :meth:`_push` (a
    # Python call less per row); the others go through :meth:`add`.

    def request(self, t: float, *, principal: str, presenter: str, actor: str, credential: str, chain: str,
                tool: str, action: str, resource: str, task: str | None, audit_task: str | None,
                audit_human: str | None, malicious: bool, in_intent: bool | None, decision: str, code: str,
                reason: str, value: float, records: float, wait: float, incident: str | None = None) -> None:
        """A tool call decided by the enforcement point (benign or malicious)."""
        buffer = self._buffer
        buffer.append((_REQUEST, t, principal, presenter, actor, credential, chain, tool, action, resource, task,
                       audit_task, audit_human, malicious, in_intent, decision, code, reason, value, records, wait,
                       incident))
        if len(buffer) >= _FLUSH_EVERY:
            self._flush()

    def issue(self, t: float, *, subject: str, actor: str, credential: str, chain: str, task: str | None,
              audit_human: str | None, malicious: bool, kind: str, reason: str, value: float, until: float,
              incident: str | None) -> None:
        """A credential issued (``code`` is its kind, ``until`` its expiry)."""
        buffer = self._buffer
        buffer.append((_ISSUE, t, subject, actor, credential, chain, task, audit_human, malicious, kind, reason, value,
                       until, incident))
        if len(buffer) >= _FLUSH_EVERY:
            self._flush()

    def issue_refused(self, t: float, *, agent: str, presenter: str, actor: str, task: str | None, malicious: bool,
                      code: str, reason: str, incident: str | None) -> None:
        """The token issuer refused a request (``code`` says why)."""
        self.add(t, "issue", principal=agent, presenter=presenter, actor=actor, task=task, malicious=malicious,
                 decision="deny", code=code, reason=reason, incident=incident)

    def revoke(self, t: float, *, subject: str, credential: str, chain: str, by_response: bool, reason: str,
               effective_at: float, incident: str | None) -> None:
        """A revocation made (``until``: when it is effective at every enforcement point)."""
        buffer = self._buffer
        buffer.append((_REVOKE, t, subject, credential, chain, "response" if by_response else "lifecycle", reason,
                       effective_at, incident))
        if len(buffer) >= _FLUSH_EVERY:
            self._flush()

    def rotate(self, t: float, *, subject: str, credential: str, reason: str) -> None:
        """A static key reached its rotation date (its successor's ``issue`` row follows)."""
        self.add(t, "rotate", principal=subject, credential=credential, reason=reason)

    def task_start(self, t: float, *, agent: str, chain: str, task: str, human: str | None, how: str) -> None:
        """A task begins (``code``: arrival, delegated or exchanged)."""
        buffer = self._buffer
        buffer.append((_TASK_START, t, agent, chain, task, human, how))
        if len(buffer) >= _FLUSH_EVERY:
            self._flush()

    def task_end(self, t: float, *, agent: str, task: str, human: str | None, ok: bool, root: bool, why: str,
                 latency: float) -> None:
        """A task ends, ``ok`` or ``failed`` (``code``: root or sub, ``reason``: why)."""
        buffer = self._buffer
        buffer.append((_TASK_END, t, agent, task, human, "ok" if ok else "failed", "root" if root else "sub", why,
                       latency))
        if len(buffer) >= _FLUSH_EVERY:
            self._flush()

    def approval(self, t: float, *, agent: str, task: str, approved: bool, wait: float, reason: str) -> None:
        """A human reviewed a step that needs approval."""
        self.add(t, "approval", principal=agent, presenter=agent, actor=agent, task=task,
                 decision="allow" if approved else "deny", code="approved" if approved else "rejected", wait=wait,
                 reason=reason)

    def discover(self, t: float, *, agent: str, task: str, tool: str, action: str, resource: str, needed: bool,
                 reason: str) -> None:
        """A benign agent discovered an operation outside its task's intent at run time (``code``: needed or
        optional); the request it then makes follows."""
        self.add(t, "discover", principal=agent, presenter=agent, actor=agent, task=task, tool=tool, action=action,
                 resource=resource, in_intent=False, code="needed" if needed else "optional", reason=reason)

    def redeclare(self, t: float, *, agent: str, actor: str, task: str, op: tuple[str, str, str], approved: bool,
                  wait: float, malicious: bool, incident: str | None, reason: str) -> None:
        """A task re-declared a wider intent (``decision``: allow if approved; ``wait``: seconds it took)."""
        tool, action, resource = op
        self.add(t, "redeclare", principal=agent, presenter=agent, actor=actor,
                 task=task, tool=tool, action=action, resource=resource, malicious=malicious,
                 decision="allow" if approved else "deny", code="approved" if approved else "rejected", wait=wait,
                 reason=reason, incident=incident)

    def switch(self, t: float, *, agent: str, task: str, to: str, reason: str) -> None:
        """A task's requester redirected it to another objective (``code``: the new task template)."""
        self.add(t, "switch", principal=agent, presenter=agent, actor=agent, task=task, code=to, reason=reason)

    def compromise(self, t: float, *, principal: str | None, presenter: str, actor: str, credential: str | None,
                   kind: str, reason: str, value: float, incident: str, scope: str, until: float | None) -> None:
        """An attack starts: ``principal`` is who was compromised, ``credential`` what was handed over
        (ids joined by ``|``), ``value`` the potential blast radius at that moment."""
        self.add(t, "compromise", principal=principal, presenter=presenter, actor=actor, credential=credential,
                 malicious=True, code=kind, reason=reason, value=value, incident=incident, scope=scope, until=until)

    def acquire(self, t: float, *, principal: str, presenter: str, actor: str, credential: str, chain: str,
                kind: str, reason: str, value: float, until: float | None, incident: str, scope: str,
                via: str | None = None, resource: str | None = None) -> None:
        """The attacker now holds a credential (``scope``: what it reaches with it; ``decision``: how it got
        it after the compromise, ``harvested`` from ``resource`` or ``republished``)."""
        self.add(t, "acquire", principal=principal, presenter=presenter, actor=actor, credential=credential,
                 chain=chain, malicious=True, decision=via, code=kind, reason=reason, value=value, until=until,
                 incident=incident, scope=scope, resource=resource)

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
        row = list(_EMPTY_ROW)
        row[1] = t
        row[2] = event
        for key, value in fields.items():
            row[_INDEX[key] + 1] = value
        if row[_INDEX["malicious"] + 1] is None:
            row[_INDEX["malicious"] + 1] = False
        self._push(tuple(row))

    def merge_from(self, source: PendingRows) -> None:
        """Take rows written ahead of time from ``source`` (rows computed in bulk): at each flush, those
        due by then join the buffered rows, and the chunk is sorted by time (stable). None of them may
        be due before a row already flushed."""
        self._pending = source

    def _flush(self) -> None:
        """Encode the buffered rows (and the pending rows now due) into one typed chunk per column.

        Rows are grouped by layout; each field a layout names is encoded once for its rows
        (into every column it fills), each column it does not name is filled with the
        layout's constant, and the pieces are put back in log order. Pending rows come as
        columns already (:meth:`merge_from`); the chunk is then put in time order.
        """
        buffer = self._buffer
        parts = self._pending.take(self._tables) if self._pending is not None else []
        if buffer:
            parts.insert(0, self._encode_buffer())
        if not parts:
            return
        if len(parts) == 1:
            columns = parts[0]
        else:  # each part is in time order: one stable sort puts them together, earlier parts first at a tie
            columns = [np.concatenate(pieces) for pieces in zip(*parts, strict=True)]
            t = columns[0]
            if not (t[1:] >= t[:-1]).all():
                order = stable_argsort(t)
                columns = [column[order] for column in columns]
        self._store(columns)
        buffer.clear()

    def _encode_buffer(self) -> list[np.ndarray]:
        """The buffered rows as one array per column, in log order (text as codes, numbers as float64)."""
        buffer = self._buffer
        rows = len(buffer)
        layouts = np.fromiter(map(_LAYOUT_OF, buffer), dtype=np.int8, count=rows)
        order = np.argsort(layouts, kind="stable")  # a radix sort, for int8
        grouped = get_all(buffer, order.tolist())
        pieces: list[list[np.ndarray]] = [[] for _ in COLUMNS]  # per column, one piece per layout, in layout order
        start = 0
        for layout, count in enumerate(np.bincount(layouts, minlength=len(_LAYOUTS)).tolist()):
            if not count:
                continue
            fields = zip(*grouped[start:start + count], strict=True)
            start += count
            next(fields)  # the layout number
            slots, constants = _LAYOUTS[layout]
            for targets, values in zip(slots, fields, strict=True):
                piece = self._encode(targets[0], values, count)
                for index in targets:
                    pieces[index].append(piece)
            for index, value in constants:
                pieces[index].append(self._constant(index, value, count))
        columns: list[np.ndarray] = []
        for parts in pieces:
            in_layout_order = np.concatenate(parts) if len(parts) > 1 else parts[0]
            chunk = np.empty_like(in_layout_order)
            chunk[order] = in_layout_order
            columns.append(chunk)
        return columns

    def _store(self, encoded: list[np.ndarray]) -> None:
        """Keep one chunk (a column each, in log order), as narrow as it goes, and hand it to the consumers."""
        rows = len(encoded[0])
        columns: list[np.ndarray] = []
        number_tables: dict[int, np.ndarray | None] = {}
        for index, chunk in enumerate(encoded):
            kind = _KIND[index]
            if kind is _NUMBER:
                chunk, number_tables[index] = _compress_numbers(chunk, index != 0)  # t is new nearly every row
            elif kind is _TEXT:
                chunk = chunk.astype(code_dtype(len(self._tables[COLUMNS[index]])), copy=False)
            columns.append(chunk)
        view = LogChunk(self._tables, columns, number_tables, self._rows, rows)
        if self._keep:
            kept = columns
            if self._select is not None:
                selected = self._select(view)
                kept = [chunk[selected] for chunk in columns]
            for index, chunk in enumerate(kept):
                self._chunks[index].append(chunk)
            for index, table in number_tables.items():
                self._number_tables[index].append(table)
        for consumer in self._consumers:
            consumer(view)
        for table in self._distinct_tables:
            table.next_chunk()
        self._rows += rows

    def _encode(self, index: int, values: tuple, rows: int) -> np.ndarray:
        """One field of one layout's rows, as column ``index`` stores it (numbers: float64)."""
        kind = _KIND[index]
        if kind is _TEXT:
            return self._tables[COLUMNS[index]].encode(values, rows)
        if kind is _NUMBER:
            floats = np.array(values, dtype=np.float64)  # None becomes NaN
            if floats.shape != (rows,):
                raise ValueError(f"column {COLUMNS[index]!r} takes numbers or None")
            return floats
        if kind is _BOOL:
            return np.fromiter(values, dtype=bool, count=rows)
        return np.fromiter(get_all(_INTENT_CODE, values), dtype=np.intp, count=rows).astype(np.int8)

    def _constant(self, index: int, value: Any, rows: int) -> np.ndarray:
        """Column ``index`` of ``rows`` rows whose layout fixes it to ``value``."""
        return self._encode(index, (value,), 1).repeat(rows)

    def __len__(self) -> int:
        return self._rows + len(self._buffer) + (len(self._pending) if self._pending is not None else 0)

    def _stored(self, index: int) -> np.ndarray:
        """One column as stored, in log order: float64, bool, or int codes (text, in_intent)."""
        self._flush()
        if not self._keep:
            raise RuntimeError("this log was streamed with keep=False: it keeps no rows to read")
        chunks = self._chunks[index]
        kind = _KIND[index]
        if kind is _NUMBER:
            if not chunks:
                return np.empty(0, dtype=np.float64)
            return np.concatenate([chunk if table is None else table[chunk]
                                   for chunk, table in zip(chunks, self._number_tables[index], strict=True)])
        if len(chunks) > 1:  # merge, so later reads are one array (codes stay narrow)
            chunks[:] = [np.concatenate(chunks)]
        if chunks:
            return chunks[0]
        return np.empty(0, dtype=bool if kind is _BOOL else np.int8)

    def _decode(self, index: int, stored: np.ndarray, lookups: dict[int, np.ndarray] | None = None) -> np.ndarray:
        """Stored values (or a reordering of them) as :meth:`columns` gives them.

        ``lookups`` caches the decoded tables across columns that share one.
        """
        kind = _KIND[index]
        if kind is _TEXT:
            table = self._tables[COLUMNS[index]]
            lookup = None if lookups is None else lookups.get(id(table))
            if lookup is None:
                lookup = table.lookup()
                if lookups is not None:
                    lookups[id(table)] = lookup
            return lookup[stored]
        if kind is _INTENT:
            return _INTENT_VALUE[stored]
        if kind is _BOOL:
            return stored.copy()  # not the log's own array: a caller may write to what it is given
        return stored  # numbers: already a new array (decoded from the chunks)

    def column(self, name: str) -> list:
        """One column's values, in the order they were logged.

        The values :meth:`columns` gives, unsorted: numbers as floats (NaN where missing),
        text and in_intent as the values logged (None where missing).
        """
        index = _INDEX[name]
        return self._decode(index, self._stored(index)).tolist()

    def columns(self, names: Sequence[str] = COLUMNS, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """The whole log by column, sorted by time (stable): NumPy arrays, what the metrics read.

        ``t`` and the other numbers are floats (NaN where missing), ``malicious`` is bool,
        text columns and ``in_intent`` are object arrays (None where missing). ``names`` keeps
        only those columns, and ``rows`` (positions in the sorted log, or a bool mask over it)
        only those rows: nothing else is decoded.
        """
        t = self._stored(0)
        order = None
        if not (t[1:] >= t[:-1]).all():  # a few rows are logged for a time other than now
            order = np.argsort(t, kind="stable")
        if rows is not None:
            order = (np.arange(len(t)) if order is None else order)[rows]
        columns: dict[str, np.ndarray] = {}
        lookups: dict[int, np.ndarray] = {}
        for name in names:
            i = _INDEX[name]
            stored = t if i == 0 else self._stored(i)
            if order is not None:
                stored = stored[order]  # reorder the compact codes, then decode
            columns[name] = self._decode(i, stored, lookups)
        return columns

    def nbytes(self) -> int:
        """Bytes the stored log holds: its chunks, its interning tables and their values
        (not the rows still in the buffer, at most :data:`_FLUSH_EVERY`)."""
        total = sum(chunk.nbytes for chunks in self._chunks for chunk in chunks)
        total += sum(table.nbytes for tables in self._number_tables.values() for table in tables if table is not None)
        return total + sum(table.nbytes() for table in self._distinct_tables)  # a shared table counts once

    def to_frame(self) -> pd.DataFrame:
        """The whole log as a DataFrame (text columns of pandas' ``str`` dtype), sorted by time (stable)."""
        frame = pd.DataFrame(self.columns(), copy=False)
        frame.attrs.update(self.meta)
        return frame


class PendingRows(Protocol):
    """Rows written ahead of time, handed to the log as they fall due (:meth:`EventLog.merge_from`)."""

    def take(self, tables: Mapping[str, _Table]) -> list[list[np.ndarray]]:
        """The rows due now, as parts (none when none are due), each sorted by time (stable) and
        coming after the ones before it at equal times; a part is one array per column of
        :data:`COLUMNS` as :meth:`EventLog._encode_buffer` gives them (text coded by
        ``tables[column]``: its :meth:`~_Table.encode`, or blocks of values made in bulk,
        :meth:`~_Table.reserve`)."""
        ...

    def __len__(self) -> int:
        """Rows held, not taken yet."""
        ...


class LogChunk:
    """One flushed chunk of a log as its consumers read it (valid only while they are called).

    Columns stay as stored: text as codes (compared with, and decoded through, the
    interning tables: every value of the chunk is live in them at that moment), numbers
    as float64, ``malicious`` as bool, ``in_intent`` as int8 (-1 None, 0 False, 1 True).
    ``start`` is the position of its first row in the log.
    """

    __slots__ = ("_columns", "_number_tables", "_tables", "rows", "start")

    def __init__(self, tables: dict[str, _Table], columns: list[np.ndarray],
                 number_tables: dict[int, np.ndarray | None], start: int, rows: int) -> None:
        self._tables = tables
        self._columns = columns
        self._number_tables = number_tables
        self.start = start
        self.rows = rows

    def equals(self, name: str, value: str) -> np.ndarray:
        """Where a text column holds ``value`` (a value looked up by value: never one made in bulk)."""
        code = self._tables[name].live.get(value)
        if code is None:
            return np.zeros(self.rows, dtype=bool)
        return self._columns[_INDEX[name]] == code

    def numbers(self, name: str) -> np.ndarray:
        """A number column as float64 (NaN where missing)."""
        index = _INDEX[name]
        table = self._number_tables.get(index)
        values = self._columns[index]
        return values if table is None else table[values]

    def flags(self, name: str = "malicious") -> np.ndarray:
        return self._columns[_INDEX[name]]

    def in_intent(self) -> np.ndarray:
        """``in_intent`` as int8: -1 (no task), 0 (False), 1 (True)."""
        return self._columns[_INDEX["in_intent"]]

    def values(self, name: str, rows: np.ndarray) -> list:
        """A column's values (text decoded, None where missing) at ``rows`` (positions in the chunk)."""
        index = _INDEX[name]
        kind = _KIND[index]
        if kind is _TEXT:
            return self._tables[name].decode(self._columns[index][rows])
        if kind is _NUMBER:
            return self.numbers(name)[rows].tolist()
        if kind is _INTENT:
            return _INTENT_VALUE[self._columns[index][rows]].tolist()
        return self._columns[index][rows].tolist()

    def distinct(self, name: str, rows: np.ndarray) -> set:
        """The distinct values of a text column at ``rows`` (each decoded once)."""
        return set(self._tables[name].decode(np.unique(self._columns[_INDEX[name]][rows])))

    def columns(self) -> dict[str, np.ndarray]:
        """Every column of the chunk decoded, in log order: what :meth:`EventLog.columns` gives
        for these rows (numbers as float64, NaN where missing; text and in_intent as object
        arrays, None where missing)."""
        columns: dict[str, np.ndarray] = {}
        for index, name in enumerate(COLUMNS):
            kind = _KIND[index]
            stored = self._columns[index]
            if kind is _TEXT:
                codes, inverse = np.unique(stored, return_inverse=True)  # each distinct value decoded once
                values = np.empty(len(codes), dtype=object)
                values[:] = self._tables[name].decode(codes)
                columns[name] = values[inverse.reshape(-1)]
            elif kind is _NUMBER:
                columns[name] = self.numbers(name).copy()
            elif kind is _INTENT:
                columns[name] = _INTENT_VALUE[stored]
            else:
                columns[name] = stored.copy()
        return columns


class InTimeOrder:
    """A streamed log handed on in pieces sorted by time: their concatenation is, row for row,
    what :meth:`EventLog.columns` gives (a stable sort of the whole log by time).

    Attach with ``log.stream_to(InTimeOrder(consumer, end).add)`` and call :meth:`finish`
    after the log's last :meth:`~EventLog.flush`; ``consumer(columns)`` receives each piece
    as a dict of NumPy arrays. A run logs each row at the simulated time it happens, so the
    rows before ``end`` (the run's horizon, which its clock never reaches) come in time order
    and go on as they come. Rows at ``end`` or later are those written once the run is over
    (its end; detections and responses projected past it), in any order: they are held, and
    handed on last, sorted. A row before ``end`` that comes after a later one is a bug in the
    engine, and raises.
    """

    __slots__ = ("_consumer", "_end", "_handed_up_to", "_held")

    def __init__(self, consumer: Callable[[dict[str, np.ndarray]], None], end: float) -> None:
        self._consumer = consumer
        self._end = end
        self._held: list[dict[str, np.ndarray]] = []  # rows at or after the end
        self._handed_up_to = -np.inf  # the latest time handed on

    def add(self, chunk: LogChunk) -> None:
        """Take one flushed chunk (a :meth:`EventLog.stream_to` consumer)."""
        piece = chunk.columns()
        t = piece["t"]
        after = t >= self._end
        if after.any():
            self._held.append({name: values[after] for name, values in piece.items()})
            before = ~after
            piece = {name: values[before] for name, values in piece.items()}
            t = piece["t"]
        if not len(t):
            return
        if t[0] < self._handed_up_to or not (t[1:] >= t[:-1]).all():
            late = t[0] if t[0] < self._handed_up_to else t[1:][t[1:] < t[:-1]][0]
            raise RuntimeError(f"a row logged for t={late:g} came after a later one: the run's log is out of "
                               "time order")
        self._handed_up_to = float(t[-1])
        self._consumer(piece)

    def finish(self) -> None:
        """Hand on the rows held, sorted (after the log's last flush)."""
        if self._held:
            held = {name: np.concatenate([piece[name] for piece in self._held]) for name in COLUMNS}
            order = np.argsort(held["t"], kind="stable")
            self._held = []
            self._consumer({name: values[order] for name, values in held.items()})


_INDEX = {name: i for i, name in enumerate(COLUMNS)}

# Row layouts. A buffered row is (layout number, *fields); a layout names, for each field,
# the columns it fills, and the constant every other column takes in its rows. Fields
# that do not vary within a kind are never pushed, and a field filling several columns
# (an agent as principal, presenter and actor) is encoded once.
_FULL, _REQUEST, _ISSUE, _REVOKE, _TASK_START, _TASK_END = range(6)
_LAYOUT_FIELDS: dict[int, tuple[tuple[str, ...], ...]] = {
    _FULL: tuple((name,) for name in COLUMNS),
    _REQUEST: (("t",), ("principal",), ("presenter",), ("actor",), ("credential",), ("chain",), ("tool",),
               ("action",), ("resource",), ("task",), ("audit_task",), ("audit_human",), ("malicious",),
               ("in_intent",), ("decision",), ("code",), ("reason",), ("value",), ("records",), ("wait",),
               ("incident",)),
    _ISSUE: (("t",), ("principal", "presenter"), ("actor",), ("credential",), ("chain",), ("task", "audit_task"),
             ("audit_human",), ("malicious",), ("code",), ("reason",), ("value",), ("until",), ("incident",)),
    _REVOKE: (("t",), ("principal",), ("credential",), ("chain",), ("code",), ("reason",), ("until",),
              ("incident",)),
    _TASK_START: (("t",), ("principal", "presenter", "actor"), ("chain",), ("task",), ("audit_human",), ("code",)),
    _TASK_END: (("t",), ("principal", "presenter", "actor"), ("task",), ("audit_human",), ("decision",), ("code",),
                ("reason",), ("latency",)),
}
_LAYOUT_CONSTANTS: dict[int, dict[str, Any]] = {
    _FULL: {},
    _REQUEST: {"event": "request"},
    _ISSUE: {"event": "issue", "decision": "allow"},
    _REVOKE: {"event": "revoke", "decision": "revoke", "malicious": False},
    _TASK_START: {"event": "task_start", "malicious": False},
    _TASK_END: {"event": "task_end", "malicious": False},
}


def _layout(number: int) -> tuple[tuple[tuple[int, ...], ...], tuple[tuple[int, Any], ...]]:
    slots = tuple(tuple(_INDEX[name] for name in targets) for targets in _LAYOUT_FIELDS[number])
    named = {index for targets in slots for index in targets}
    fixed = _LAYOUT_CONSTANTS[number]
    assert len(named) == sum(map(len, slots)) and not named & {_INDEX[name] for name in fixed}, number
    constants = tuple((i, fixed.get(name, _NAN if name in NUMBER_COLUMNS else False if name == "malicious" else None))
                      for i, name in enumerate(COLUMNS) if i not in named)
    return slots, constants


_LAYOUTS = tuple(_layout(number) for number in range(len(_LAYOUT_FIELDS)))
_LAYOUT_OF = itemgetter(0)
_EMPTY_ROW = (_FULL, *(_NAN if name in NUMBER_COLUMNS else None for name in COLUMNS))  # what add() leaves unnamed
I = _INDEX  # noqa: E741  (short alias for row building in the engine)
