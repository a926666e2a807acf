"""What the metrics read of a run's event log, gathered a chunk at a time.

A run's log can hold millions of rows, yet the metrics need few of them whole (the
attacker's, the incidents') and of the rest only counts, sums and a few numbers per
row. A :class:`LogDigest` takes the log a chunk at a time and keeps just that:

- as the run flushes its log (:meth:`nhisim.sim.eventlog.EventLog.stream_to`), reading
  the typed columns as stored, with no decoding but of the few rows it keeps, so a run
  whose events are not kept never holds its log;
- or from a whole log already decoded (a DataFrame, or ``EventLog.columns()``), as one
  chunk (:func:`digest_of`).

The metrics (:mod:`nhisim.metrics`' families) then read the digest, never the log. Sums
whose value depends on the order of their terms are taken in the log's time order (a
stable sort by ``t``, as ``EventLog.columns()`` gives it) however the chunks came, so
every metric is the same whichever way the log was read. Credential ids are taken to be
unique (the engine's are), as the metrics always took them.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Mapping
from itertools import compress
from typing import Protocol

import numpy as np
import pandas as pd

from nhisim.errors import InputError
from nhisim.metrics.lifecycle import IncidentView, Rows, incident_views, log_column
from nhisim.metrics.story import STORY
from nhisim.sim.eventlog import NUMBER_COLUMNS


class Chunk(Protocol):
    """Some consecutive rows of a log, as :class:`LogDigest` reads them."""

    rows: int
    start: int  # the position of the first row in the log

    def equals(self, name: str, value: str) -> np.ndarray: ...

    def numbers(self, name: str) -> np.ndarray: ...

    def flags(self, name: str = "malicious") -> np.ndarray: ...

    def in_intent(self) -> np.ndarray: ...

    def values(self, name: str, rows: np.ndarray) -> list: ...

    def distinct(self, name: str, rows: np.ndarray) -> set: ...


# the rows kept whole, by event kind, with the columns the metrics read of them
KEPT = {
    "compromise": ("principal", "incident", "code", "value", "scope", "until"),
    "acquire": ("incident", "credential", "scope", "until", "decision"),
    "release": ("incident",),
    "give_up": ("incident",),
    "detect": ("incident",),
    "quarantine": ("principal",),
    "run_end": (),
    "malicious_request": ("principal", "presenter", "audit_task", "audit_human", "action", "resource", "value",
                          "records", "decision", "incident"),
}


class _Kept:
    """Rows of one kind kept whole: their columns as lists, with ``t`` and their log position."""

    __slots__ = ("columns",)

    def __init__(self, names: tuple[str, ...]) -> None:
        self.columns: dict[str, list] = {name: [] for name in ("t", "position", *names)}

    def add(self, chunk: Chunk, rows: np.ndarray, t: np.ndarray) -> None:
        if not len(rows):
            return
        for name, values in self.columns.items():
            if name == "t":
                values.extend(t[rows].tolist())
            elif name == "position":
                values.extend((rows + chunk.start).tolist())
            else:
                values.extend(chunk.values(name, rows))

    def sorted_rows(self) -> Rows:
        """The rows in time order (stable: by log position within a time)."""
        t = np.array(self.columns["t"], dtype=float)
        order = np.lexsort((np.array(self.columns["position"], dtype=np.int64), t))
        arrays = {name: np.array(values, dtype=float if name in NUMBER_COLUMNS else object)
                  for name, values in self.columns.items() if name != "position"}
        arrays["t"] = t
        return Rows(arrays.__getitem__, order)


_OPERATION = ("task", "tool", "action", "resource")


def _chunks(values: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(values) if values else np.empty(0, dtype=dtype)


def _time_order(t: np.ndarray, positions: np.ndarray) -> np.ndarray:
    return np.lexsort((positions, t))


def _sum_in_time_order(t: np.ndarray, positions: np.ndarray, values: np.ndarray) -> float:
    """``np.nansum`` of ``values`` taken in time order, as over the rows of a time-sorted log."""
    return float(np.nansum(values[_time_order(t, positions)])) if len(values) else 0.0


_INDEX_LIMIT = 1 << 16  # credentials indexed before the expired ones are dropped (then twice those left)


class LogDigest:
    """What the metrics need of one run's log (feed it chunks with :meth:`add`, then :meth:`finish`)."""

    def __init__(self) -> None:
        self._kept = {kind: _Kept(names) for kind, names in KEPT.items()}
        self._max_t = -math.inf
        self._rows = 0
        # counts
        self.requests = 0  # requests decided (benign and malicious)
        self.issues = 0  # token and credential requests to the issuer (issued or refused)
        self.credentials_issued = 0
        self.benign_denied = 0  # benign requests denied
        self.benign_issue_refusals = 0
        self.malicious_issue_refusals = 0
        self.overreach_attempts = 0
        self.overreach_allowed = 0
        self.root_tasks = 0  # benign root tasks ended
        self.root_tasks_ok = 0
        self.revoked_response_presenters: list[str | None] = []  # benign requests denied by a response
        self.task_starters: set[str | None] = set()  # principals that started a task
        self.overreach_allowed_presenters: set[str | None] = set()  # ... of benign requests allowed beyond intent
        # (task, tool, action, resource) of benign requests denied beyond intent -> how many
        self.overreach_denied_ops: Counter[tuple] = Counter()
        self.needed_discoveries: set[tuple] = set()  # (task, tool, action, resource) discovered as needed
        self.benign_redeclarations = 0
        # benign requests: when and where each came (to place the waits), and the waits that are not +0
        self._benign_t: list[np.ndarray] = []
        self._benign_positions: list[np.ndarray] = []
        self._waits: list[tuple[np.ndarray, np.ndarray]] = []  # (index among benign requests, wait)
        self._benign_count = 0
        # approval rows' waits, root tasks' latencies
        self._approvals: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (t, position, wait)
        self._latencies: list[np.ndarray] = []
        # credentials issued: their time, position, value and expiry; revocations met so far
        self._issued: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self._credential_index: dict[str, int] = {}  # the credentials that may still be revoked
        self._revoked_until = array("d")  # per credential issued, the earliest revocation effective (inf: none)
        self._expires = array("d")  # ... and its expiry (inf: none)
        self._dropped: list[tuple[str, np.ndarray]] = []  # those dropped: ids one a line, and their indexes
        self._index_limit = _INDEX_LIMIT
        self._pending_revocations: dict[str, float] = {}  # revocations of credentials not issued (yet)
        self._finished = False

    # ------------------------------------------------------------------ reading chunks

    def add(self, chunk: Chunk) -> None:
        """Take in some consecutive rows of the log (chunks come in log order)."""
        rows = chunk.rows
        if not rows:
            return
        self._rows += rows
        t = chunk.numbers("t")
        self._max_t = max(self._max_t, float(t.max()))
        malicious = chunk.flags("malicious")
        positions = np.arange(chunk.start, chunk.start + rows, dtype=np.int64)
        kept = self._kept
        for kind in ("compromise", "acquire", "release", "give_up", "detect", "quarantine", "run_end"):
            kept[kind].add(chunk, np.flatnonzero(chunk.equals("event", kind)), t)
        self._requests(chunk, t, positions, malicious)
        self._issues(chunk, t, positions, malicious)
        is_revoke = chunk.equals("event", "revoke")
        if is_revoke.any():
            rows_revoked = np.flatnonzero(is_revoke)
            self._revocations(chunk.values("credential", rows_revoked), chunk.numbers("until")[rows_revoked])
        ends = chunk.equals("event", "task_end") & ~malicious & chunk.equals("code", "root")
        if ends.any():
            ok = ends & chunk.equals("decision", "ok")
            self.root_tasks += int(ends.sum())
            self.root_tasks_ok += int(ok.sum())
            self._latencies.append(chunk.numbers("latency")[ok])
        starts = np.flatnonzero(chunk.equals("event", "task_start"))
        if len(starts):
            self.task_starters |= chunk.distinct("principal", starts)
        needed = np.flatnonzero(chunk.equals("event", "discover") & chunk.equals("code", "needed"))
        if len(needed):
            self.needed_discoveries.update(zip(*(chunk.values(name, needed) for name in _OPERATION), strict=True))
        self.benign_redeclarations += int((chunk.equals("event", "redeclare") & ~malicious).sum())
        approvals = chunk.equals("event", "approval")
        if approvals.any():
            self._approvals.append((t[approvals], positions[approvals], chunk.numbers("wait")[approvals]))
        if len(self._credential_index) > self._index_limit:
            self._forget_expired(self._max_t)

    def _forget_expired(self, now: float) -> None:
        """Move out of the index the credentials expired by ``now``: chunks come in time order, and no
        credential is revoked once expired, so none is looked up again while chunks come. They stay
        findable, one id a line (:meth:`credential_end` of a credential an attacker took after it died)."""
        index = self._credential_index
        credentials = list(index)
        indexes = np.fromiter(index.values(), dtype=np.int64, count=len(index))
        live = np.frombuffer(self._expires, dtype=float)[indexes] > now  # a copy: the array grows again
        if not live.all():
            dropped = ~live
            ids = list(compress(credentials, dropped.tolist()))
            self._dropped.append(("\n" + "\n".join(ids) + "\n", indexes[dropped]))
        kept = dict(zip(compress(credentials, live.tolist()), indexes[live].tolist(), strict=True))
        self._credential_index = kept
        self._index_limit = max(_INDEX_LIMIT, 2 * len(kept))

    def _index_of(self, credential: str) -> int | None:
        i = self._credential_index.get(credential)
        if i is not None:
            return i
        line = f"\n{credential}\n"
        for text, indexes in self._dropped:
            found = text.find(line)
            if found >= 0:
                return int(indexes[text.count("\n", 0, found)])
        return None

    def _requests(self, chunk: Chunk, t: np.ndarray, positions: np.ndarray, malicious: np.ndarray) -> None:
        is_request = chunk.equals("event", "request")
        count = int(is_request.sum())
        if not count:
            return
        self.requests += count
        self._kept["malicious_request"].add(chunk, np.flatnonzero(is_request & malicious), t)
        benign = is_request & ~malicious
        denied = chunk.equals("decision", "deny")
        self.benign_denied += int((benign & denied).sum())
        overreach = benign & (chunk.in_intent() == 0)
        self.overreach_attempts += int(overreach.sum())
        overreach_allowed = np.flatnonzero(overreach & chunk.equals("decision", "allow"))
        self.overreach_allowed += len(overreach_allowed)
        if len(overreach_allowed):
            self.overreach_allowed_presenters |= chunk.distinct("presenter", overreach_allowed)
        overreach_denied = np.flatnonzero(overreach & denied)
        if len(overreach_denied):
            self.overreach_denied_ops.update(zip(*(chunk.values(name, overreach_denied) for name in _OPERATION),
                                                 strict=True))
        response = np.flatnonzero(benign & chunk.equals("code", "revoked_response"))
        if len(response):
            self.revoked_response_presenters.extend(chunk.values("presenter", response))
        waits = chunk.numbers("wait")[benign]
        self._benign_t.append(t[benign])
        self._benign_positions.append(positions[benign])
        weighs = ~np.isnan(waits) & ((waits != 0) | np.signbit(waits))  # what a sum does not skip
        if weighs.any():
            self._waits.append((np.flatnonzero(weighs) + self._benign_count, waits[weighs]))
        self._benign_count += len(waits)

    def _issues(self, chunk: Chunk, t: np.ndarray, positions: np.ndarray, malicious: np.ndarray) -> None:
        is_issue = chunk.equals("event", "issue")
        count = int(is_issue.sum())
        if not count:
            return
        self.issues += count
        denied = is_issue & chunk.equals("decision", "deny")
        self.malicious_issue_refusals += int((denied & malicious).sum())
        self.benign_issue_refusals += int((denied & ~malicious).sum())
        issued = np.flatnonzero(is_issue & chunk.equals("decision", "allow"))
        if not len(issued):
            return
        self.credentials_issued += len(issued)
        first = len(self._revoked_until)
        credentials = chunk.values("credential", issued)
        self._credential_index.update(zip(credentials, range(first, first + len(credentials)), strict=True))
        pending = self._pending_revocations
        revoked = [math.inf] * len(issued)
        if pending:
            for i, credential in enumerate(credentials):
                if credential in pending:
                    revoked[i] = pending.pop(credential)
        self._revoked_until.extend(revoked)
        until = chunk.numbers("until")[issued]
        self._expires.extend(np.where(np.isnan(until), math.inf, until).tolist())
        self._issued.append((t[issued], positions[issued], chunk.numbers("value")[issued], until))

    def _revocations(self, credentials: list, until: np.ndarray) -> None:
        find = self._credential_index.get
        found = [find(credential, -1) for credential in credentials]
        positions = np.array(found, dtype=np.int64)
        timed = ~np.isnan(until)  # NaN: no time to go by
        known = timed & (positions >= 0)
        if known.any():
            revoked = np.frombuffer(self._revoked_until, dtype=float)
            np.minimum.at(revoked, positions[known], until[known])
            del revoked  # the array grows again
        unknown = timed & ~known  # not issued (yet)
        if unknown.any():
            pending = self._pending_revocations
            for credential, effective in zip(compress(credentials, unknown.tolist()), until[unknown].tolist(),
                                             strict=True):
                pending[credential] = min(pending.get(credential, math.inf), effective)

    # ------------------------------------------------------------------ what the metrics read

    def finish(self) -> LogDigest:
        """Put what was gathered in time order; the digest is then read, not fed."""
        if self._finished:
            return self
        self._finished = True
        self._rare = {kind: kept.sorted_rows() for kind, kept in self._kept.items()}
        run_end = self._rare["run_end"]["t"]
        self.horizon = (float(run_end[-1]) if len(run_end) else self._max_t if self._rows else math.nan)
        self.benign_wait_total = self._benign_wait_total()
        self._benign_t = self._benign_positions = []
        approvals = self._approvals
        self.approval_wait_total = _sum_in_time_order(_chunks([a[0] for a in approvals], float),
                                                      _chunks([a[1] for a in approvals], np.int64),
                                                      _chunks([a[2] for a in approvals], float))
        self.ok_latencies = _chunks(self._latencies, float)
        issued = self._issued
        t, value, until = (_chunks([c[k] for c in issued], float) for k in (0, 2, 3))
        positions = _chunks([c[1] for c in issued], np.int64)
        order = _time_order(t, positions)
        expiry = np.where(np.isnan(until), math.inf, until)
        end = np.minimum(expiry, np.frombuffer(self._revoked_until, dtype=float) if len(self._revoked_until)
                         else np.empty(0))
        self.issued = {"t": t[order], "value": value[order], "end": end[order]}
        self._credential_end = end
        self._issued = []
        return self

    def _benign_wait_total(self) -> float:
        """``np.nansum`` of every benign request's wait in time order (where each falls changes the rounding)."""
        if not self._waits:
            return 0.0
        index = np.concatenate([w[0] for w in self._waits])
        waits = np.concatenate([w[1] for w in self._waits])
        if len(waits) == 1:
            return float(np.nansum(waits))  # one term and zeros: the term itself
        rank = np.empty(self._benign_count, dtype=np.int64)
        rank[_time_order(np.concatenate(self._benign_t), np.concatenate(self._benign_positions))] = np.arange(
            self._benign_count)
        dense = np.zeros(self._benign_count)
        dense[rank[index]] = waits
        return float(np.nansum(dense))

    def of(self, kind: str) -> Rows:
        """The rows of a kind kept whole, in time order (``malicious_request`` for the attacker's requests)."""
        return self._rare[kind]

    @property
    def malicious_requests(self) -> Rows:
        return self._rare["malicious_request"]

    def credential_end(self, credential: str) -> float:
        """When a credential issued in the run became unusable (expiry or revocation effective; inf if unknown)."""
        i = self._index_of(credential)
        return math.inf if i is None else float(self._credential_end[i])

    @property
    def incidents(self) -> dict[str, IncidentView]:
        found = getattr(self, "_incidents", None)
        if found is None:
            requests = self.malicious_requests
            found = self._incidents = incident_views(
                self.of("compromise"), self.of("acquire"), self.of("release"), self.of("give_up"),
                self.of("detect"), requests.where(requests["decision"] == "allow"), self.credential_end)
        return found

    @property
    def compromised(self) -> bool:
        return bool(self.incidents)


# --------------------------------------------------------------------------- a whole decoded log


class FrameChunk:
    """A whole decoded log (a DataFrame, or columns of arrays in time order) read as one chunk."""

    def __init__(self, events: pd.DataFrame | Mapping[str, np.ndarray]) -> None:
        self._events = events
        self.rows = len(events["t"])
        self.start = 0

    def _column(self, name: str) -> np.ndarray:
        return log_column(self._events, name)

    def equals(self, name: str, value: str) -> np.ndarray:
        return np.asarray(self._column(name) == value, dtype=bool)

    def numbers(self, name: str) -> np.ndarray:
        return np.asarray(self._column(name), dtype=float)

    def flags(self, name: str = "malicious") -> np.ndarray:
        return np.asarray(self._column(name), dtype=bool)

    def in_intent(self) -> np.ndarray:
        values = self._column("in_intent")
        codes = np.full(len(values), -1, dtype=np.int8)
        codes[np.asarray(values == False, dtype=bool)] = 0  # noqa: E712  (an object column: None, True, False)
        codes[np.asarray(values == True, dtype=bool)] = 1  # noqa: E712
        return codes

    def values(self, name: str, rows: np.ndarray) -> list:
        picked = self._column(name)[rows].tolist()
        if name in NUMBER_COLUMNS:
            return picked
        return [None if value is None or value != value else value for value in picked]  # NaN: missing

    def distinct(self, name: str, rows: np.ndarray) -> set:
        return set(self.values(name, rows))


def digest_of(events: pd.DataFrame | Mapping[str, np.ndarray] | LogDigest) -> LogDigest:
    """The digest of a whole log (a DataFrame, or ``EventLog.columns()``); a digest is returned as is."""
    if isinstance(events, LogDigest):
        return events.finish()
    if isinstance(events, pd.DataFrame) and events.attrs.get("rows") == STORY:
        raise InputError.single("this event log is a run's story (the rows a report tells), not its whole log: "
                                "its metrics cannot be computed from it",
                                suggestion="read them from its attrs['metrics'], or keep the whole log "
                                           "(event_rows='all')")
    digest = LogDigest()
    digest.add(FrameChunk(events))
    return digest.finish()
