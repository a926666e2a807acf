"""The metrics gathered chunk by chunk as a run flushes its log equal those of the whole log."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nhisim.metrics import LogDigest, compute_metrics, digest_of
from nhisim.metrics import digest as digest_module
from nhisim.scenario.loader import load_scenario
from nhisim.sim import eventlog
from nhisim.sim.engine import Simulation
from nhisim.sim.eventlog import EventLog

PACK = Path(__file__).resolve().parents[1] / "scenarios"


def _same(a: dict[str, float], b: dict[str, float]) -> bool:
    """Equal metric by metric, to the last bit (NaN equal to NaN)."""
    return a.keys() == b.keys() and all(repr(float(a[k])) == repr(float(b[k])) for k in a)


def _streamed(log: EventLog, *, keep: bool) -> LogDigest:
    digest = LogDigest()
    log.stream_to(digest.add, keep=keep)
    return digest


@pytest.mark.parametrize("name", sorted(path.stem for path in PACK.glob("*.yaml")))
def test_a_run_streamed_in_small_chunks_has_the_metrics_of_its_whole_log(name, monkeypatch):
    """Every scenario of the pack, every strategy: what a sweep computes equals what the whole log gives."""
    monkeypatch.setattr(eventlog, "_FLUSH_EVERY", 13)  # many chunks, values forgotten and coded again
    monkeypatch.setattr(eventlog, "_LIVE_VALUES", 8)
    monkeypatch.setattr(digest_module, "_INDEX_LIMIT", 4)  # expired credentials dropped from the index often
    scenario = load_scenario(PACK / f"{name}.yaml")
    for strategy in scenario.strategies:
        kept = Simulation(scenario, strategy, seed=3)
        columns = kept.run().columns()
        whole = compute_metrics(columns)
        streamed = Simulation(scenario, strategy, seed=3)
        digest = _streamed(streamed.log, keep=False)
        streamed.run().flush()
        assert _same(compute_metrics(digest), whole), f"{name}/{strategy}"
        whole_digest = digest_of(columns)  # when each credential an attacker took died, with none dropped
        for credential in digest.of("acquire")["credential"]:
            assert digest.credential_end(credential) == whole_digest.credential_end(credential), credential


def test_a_log_streamed_without_keeping_rows_keeps_none():
    log = EventLog()
    _streamed(log, keep=False)
    log.add(1.0, "run_end", reason="horizon reached")
    log.flush()
    assert len(log) == 1
    with pytest.raises(RuntimeError, match="keeps no rows"):
        log.columns()


def test_consumers_must_come_before_the_first_flush(monkeypatch):
    monkeypatch.setattr(eventlog, "_FLUSH_EVERY", 1)
    log = EventLog()
    log.add(1.0, "run_end", reason="horizon reached")
    with pytest.raises(RuntimeError, match="before the first flush"):
        log.stream_to(LogDigest().add)


def test_waits_are_summed_in_time_order_not_in_log_order():
    log = EventLog()
    digest = LogDigest()
    log.stream_to(digest.add)
    # logged latest first: summed in log order 0.7 + 0.7 + 1e16 = 1e16 + 2, in time order 1e16
    for t, wait in ((3.0, 0.7), (2.0, 0.7), (1.0, 1e16)):
        log.add(t, "request", presenter="q", decision="allow", wait=wait)
    log.flush()
    metrics = compute_metrics(digest)
    assert metrics["approval_wait_s"] == compute_metrics(log.columns())["approval_wait_s"] == 1e16


_ROW = st.tuples(
    st.sampled_from([0.0, 1.0, 2.0, 2.5, 7.0]),  # times that tie, logged in any order
    st.sampled_from(["request", "request", "issue", "revoke", "approval", "task_end", "task_start", "discover",
                     "redeclare"]),
    st.booleans(),  # malicious
    st.sampled_from([0.0, 0.0, 0.1, 0.7, 1e16, 3.3, math.nan, -0.0]),  # waits whose sum depends on the order
    st.sampled_from(["a", "b", "c"]),  # credentials
    st.sampled_from(["allow", "deny", "ok", "failed"]),
    st.sampled_from(["p", "q", "r"]),  # principals and presenters
    st.sampled_from(["t1", "t2"]),  # tasks
    st.sampled_from([True, False, None]),  # in intent
)


@given(st.lists(_ROW, max_size=80), st.integers(1, 9))
@settings(max_examples=80, deadline=None)
def test_digest_of_any_log_in_any_chunking_matches_the_whole_log(rows, flush_every):
    """Out-of-order times, ties, waits whose rounding depends on their place: the same metrics."""
    original = eventlog._FLUSH_EVERY
    eventlog._FLUSH_EVERY = flush_every
    try:
        log = EventLog()
        digest = LogDigest()
        log.stream_to(digest.add)
        codes = {"task_end": "root", "discover": "needed"}
        for t, event, malicious, wait, credential, decision, who, task, in_intent in rows:
            log.add(t, event, principal=who, presenter=who if in_intent is not None else "q", credential=credential,
                    malicious=malicious, decision=decision, code=codes.get(event, "revoked_response"), wait=wait,
                    until=t + 5.0, value=2.0, latency=wait, in_intent=in_intent, task=task, tool="x",
                    action="read", resource="crm")
        log.add(8.0, "run_end", reason="horizon reached")
        log.flush()
        assert _same(compute_metrics(digest), compute_metrics(log.columns()))
    finally:
        eventlog._FLUSH_EVERY = original
