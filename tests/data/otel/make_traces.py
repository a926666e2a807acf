"""Write the sample GenAI traces (deterministic): python tests/data/otel/make_traces.py

Three hours of a support estate, as the OpenTelemetry GenAI semantic conventions record it:

- ``triage-agent`` (about 10 conversations an hour) searches tickets, reads the customer
  (in some conversations it also exports the whole customer list: the tool is there, the task does
  not need it), in about a third of the conversations asks ``billing-agent`` (nested
  ``invoke_agent``), then updates the ticket and replies;
- ``billing-agent`` reads the invoice and, in about half the cases, issues a refund (a few
  refunds fail: span status error);
- ``kb-agent`` (about 6 an hour, its own traces) searches the docs and reads an article.

Model calls (``chat``) sit between tool calls, and each tool has an HTTP client span under
it that carries no GenAI attribute (importers ignore it). Two files hold the same spans:

- ``support_traces.otlp.jsonl``: OTLP/JSON, one ``ExportTraceServiceRequest`` per line (one
  trace each), as the Collector's file exporter writes it;
- ``support_traces.flat.jsonl``: one span per line in the shape of the Python SDK's
  ``span.to_json()`` (``context.trace_id``, ``parent_id``, ISO times, attributes as a map).

Every id and token here is made up.
"""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).parent
START = 1_767_261_600.0  # 2026-01-01 10:00 UTC
HOURS = 3.0
TOOL_MEDIAN = {"search_tickets": 0.8, "get_customer": 0.3, "export_customers": 6.0, "update_ticket": 0.5, "send_reply": 1.2,
               "get_invoice": 0.4, "issue_refund": 2.0, "search_docs": 0.6, "get_article": 0.2}
HTTP = {"search_tickets": "GET /api/tickets", "get_customer": "GET /api/customers/{id}",
        "export_customers": "GET /api/customers/export",
        "update_ticket": "PATCH /api/tickets/{id}", "send_reply": "POST /api/replies",
        "get_invoice": "GET /billing/invoices/{id}", "issue_refund": "POST /billing/refunds",
        "search_docs": "GET /kb/search", "get_article": "GET /kb/articles/{id}"}


class Writer:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.spans: list[dict] = []

    def hex(self, digits: int) -> str:
        return f"{self.rng.getrandbits(4 * digits):0{digits}x}"

    def span(self, trace: str, parent: str | None, name: str, kind: str, start: float, end: float,
             attributes: dict, error: bool = False) -> str:
        span_id = self.hex(16)
        self.spans.append({"trace": trace, "span": span_id, "parent": parent, "name": name, "kind": kind,
                           "start": start, "end": end, "attributes": attributes, "error": error})
        return span_id

    def lognormal(self, median: float, sigma: float) -> float:
        return self.rng.lognormvariate(math.log(median), sigma)

    def chat(self, trace: str, parent: str, at: float) -> float:
        end = at + self.lognormal(2.5, 0.5)
        self.span(trace, parent, "chat gpt-4o", "CLIENT", at, end,
                  {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                   "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": self.rng.randint(400, 3000),
                   "gen_ai.usage.output_tokens": self.rng.randint(20, 400)})
        return end

    def tool(self, trace: str, parent: str, at: float, name: str, error: bool = False) -> float:
        end = at + self.lognormal(TOOL_MEDIAN[name], 0.6)
        span = self.span(trace, parent, f"execute_tool {name}", "INTERNAL", at, end,
                         {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name,
                          "gen_ai.tool.type": "function", "gen_ai.tool.call.id": f"call_{self.hex(24)}"},
                         error=error)
        self.span(trace, span, HTTP[name], "CLIENT", at + 0.01, end - 0.01,
                  {"http.request.method": HTTP[name].split()[0], "server.address": "internal.example"})
        return end

    def agent(self, trace: str, parent: str | None, at: float, name: str, steps) -> float:
        """An invoke_agent span around ``steps(span_id, t) -> end``."""
        index = len(self.spans)
        span = self.span(trace, parent, f"invoke_agent {name}", "INTERNAL", at, at,
                         {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": name,
                          "gen_ai.agent.id": f"asst_{name.split('-')[0]}_FAKE", "gen_ai.provider.name": "openai",
                          "gen_ai.request.model": "gpt-4o", "gen_ai.conversation.id": f"conv_{self.hex(12)}"})
        end = steps(span, at)
        self.spans[index]["end"] = end + 0.05
        return end + 0.05


def billing(w: Writer, trace: str, parent: str, at: float) -> float:
    def steps(span: str, t: float) -> float:
        t = w.chat(trace, span, t)
        t = w.tool(trace, span, t, "get_invoice")
        t = w.chat(trace, span, t)
        if w.rng.random() < 0.5:
            t = w.tool(trace, span, t, "issue_refund", error=w.rng.random() < 0.1)
            t = w.chat(trace, span, t)
        return t

    return w.agent(trace, parent, at, "billing-agent", steps)


def conversation(w: Writer, at: float, name: str, body) -> None:
    """A trace of its own: ``name`` runs ``body(trace, span, t) -> end`` after a first model call."""
    trace = w.hex(32)
    w.agent(trace, None, at, name, lambda span, t: body(trace, span, w.chat(trace, span, t)))


def triage(w: Writer, trace: str, span: str, t: float) -> float:
    t = w.tool(trace, span, t, "search_tickets")
    t = w.tool(trace, span, t, "get_customer")
    if w.rng.random() < 0.2:  # the model sometimes reaches for the bulk export it can see
        t = w.tool(trace, span, t, "export_customers")
    t = w.chat(trace, span, t)
    if w.rng.random() < 0.35:
        t = billing(w, trace, span, t)
        t = w.chat(trace, span, t)
    t = w.tool(trace, span, t, "update_ticket")
    t = w.tool(trace, span, t, "send_reply")
    return w.chat(trace, span, t)


def kb(w: Writer, trace: str, span: str, t: float) -> float:
    t = w.tool(trace, span, t, "search_docs")
    t = w.tool(trace, span, t, "get_article")
    return w.chat(trace, span, t)


def arrivals(rng: random.Random, per_hour: float) -> list[float]:
    times, t = [], START
    while True:
        t += rng.expovariate(per_hour / 3600)
        if t > START + HOURS * 3600:
            return times
        times.append(t)


def nanos(t: float) -> str:
    return str(round(t * 1e9))


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def otlp_value(value) -> dict:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": str(value)}


RESOURCE = {"service.name": "support-agents", "service.version": "2.3.1", "deployment.environment.name": "prod"}
KINDS = {"INTERNAL": 1, "CLIENT": 3}


def write_otlp(spans: list[dict], path: Path) -> None:
    by_trace: dict[str, list[dict]] = {}
    for s in spans:
        by_trace.setdefault(s["trace"], []).append(s)
    with path.open("w") as out:
        for trace_spans in by_trace.values():
            request = {"resourceSpans": [{
                "resource": {"attributes": [{"key": k, "value": otlp_value(v)} for k, v in RESOURCE.items()]},
                "scopeSpans": [{"scope": {"name": "openai.agents", "version": "0.4.0"}, "spans": [
                    {"traceId": s["trace"], "spanId": s["span"], "parentSpanId": s["parent"] or "",
                     "name": s["name"], "kind": KINDS[s["kind"]], "startTimeUnixNano": nanos(s["start"]),
                     "endTimeUnixNano": nanos(s["end"]),
                     "attributes": [{"key": k, "value": otlp_value(v)} for k, v in s["attributes"].items()],
                     "status": {"code": 2, "message": "refund rejected"} if s["error"] else {}}
                    for s in trace_spans]}]}]}
            out.write(json.dumps(request, separators=(",", ":")) + "\n")


def write_flat(spans: list[dict], path: Path) -> None:
    with path.open("w") as out:
        for s in spans:
            out.write(json.dumps({
                "name": s["name"], "context": {"trace_id": "0x" + s["trace"], "span_id": "0x" + s["span"],
                                               "trace_state": "[]"},
                "kind": f"SpanKind.{s['kind']}", "parent_id": ("0x" + s["parent"]) if s["parent"] else None,
                "start_time": iso(s["start"]), "end_time": iso(s["end"]),
                "status": {"status_code": "ERROR" if s["error"] else "UNSET"},
                "attributes": s["attributes"], "events": [], "links": [],
                "resource": {"attributes": RESOURCE, "schema_url": ""}}) + "\n")


def main() -> None:
    rng = random.Random(20260101)
    w = Writer(rng)
    starts = [(t, "triage-agent", triage) for t in arrivals(rng, 10)] + [(t, "kb-agent", kb)
                                                                         for t in arrivals(rng, 6)]
    for t, name, body in sorted(starts, key=lambda item: item[0]):
        conversation(w, t, name, lambda trace, span, at, body=body: body(w, trace, span, at))
    write_otlp(w.spans, HERE / "support_traces.otlp.jsonl")
    write_flat(w.spans, HERE / "support_traces.flat.jsonl")
    print(f"{len(w.spans)} spans, {sum(1 for s in w.spans if s['parent'] is None)} traces")


if __name__ == "__main__":
    main()
