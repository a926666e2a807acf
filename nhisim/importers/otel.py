"""OpenTelemetry GenAI spans: who ran, which tools they called, whom they asked.

Two shapes are read, in one file or many documents:

- **OTLP/JSON** (``{"resourceSpans": [{"resource": ..., "scopeSpans": [{"spans": [...]}]}]}``),
  one request per line as the Collector's file exporter writes it: ids in hex, times in
  ``startTimeUnixNano``, attributes as ``[{"key", "value": {"stringValue": ...}}]``;
- **flat spans**, one object per span (JSON lines, a JSON array, or pretty-printed objects
  one after another): the Python SDK's ``span.to_json()`` (``context.trace_id``,
  ``parent_id``, ISO times) and the snake or camel case fields other exporters use
  (``trace_id``/``traceId``, ``start_time_unix_nano``, ...), attributes as a map or a list.

Spans are read by the GenAI semantic conventions: ``gen_ai.operation.name`` ``invoke_agent``
(an agent runs: ``gen_ai.agent.name``, else ``gen_ai.agent.id``) and ``execute_tool`` (a
tool call: ``gen_ai.tool.name``, ``gen_ai.tool.call.id``); an MCP client span
(``mcp.method.name`` ``tools/call``) is a tool call too. Other spans (model calls, HTTP)
only carry the tree. Each ``invoke_agent`` span is an **invocation** of its agent; its
**steps** are the tool calls under it (not under a deeper invocation) and the invocations
of other agents nested in it (**delegations**, the observed edges). A nested invocation
of the same agent (a framework's client and internal span for one run) is the same
invocation. A tool span inside another tool span of the same run, or with a
``gen_ai.tool.call.id`` already seen, is the same call seen by another instrumentation
layer (a framework's span around the MCP client's): it is counted once. Tool calls under
no invocation belong to the service that emitted them.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nhisim.errors import InputError, clip
from nhisim.importers.common import Source, json_documents, plain, read_input, slug

EXAMPLE = "traces.jsonl (OTLP/JSON from the Collector's file exporter, or one span per line)"
MAX_SPANS = 5_000_000
MAX_DEPTH = 200  # spans nested deeper are not read (a real agent tree is a few levels deep)
# the earliest and latest plausible span times (1990, 2200), in seconds since the epoch
EARLIEST, LATEST = 631_152_000.0, 7_258_118_400.0


@dataclass(slots=True)
class Span:
    """One span, normalised: seconds since the epoch, attributes as a flat map."""

    trace: str
    id: str
    parent: str | None
    name: str
    start: float
    end: float
    attributes: dict[str, Any]
    service: str
    error: bool

    @property
    def operation(self) -> str:
        op = self.attributes.get("gen_ai.operation.name")
        if isinstance(op, str) and op:
            return op
        if self.attributes.get("mcp.method.name") == "tools/call":
            return "execute_tool"
        for prefix in ("invoke_agent", "execute_tool"):
            if self.name.startswith(prefix + " "):
                return prefix
        return ""


@dataclass
class ReadSpans:
    """What a trace file held: the usable spans, and why others were skipped."""

    spans: list[Span]
    skipped: Counter = field(default_factory=Counter)
    formats: Counter = field(default_factory=Counter)


# --------------------------------------------------------------------------- reading


def read_spans(path: Source, *, max_spans: int = MAX_SPANS) -> ReadSpans:
    """Every usable span of a trace file (OTLP/JSON or flat spans), or bad input saying why there is none."""
    text = read_input(path, "trace file", EXAMPLE)
    path = str(path)
    documents = json_documents(text, path, what="trace file")
    out = ReadSpans([])
    for document, line in documents:
        for raw, service, shape in _raw_spans(document, path, line):
            out.formats[shape] += 1
            span = _span(raw, service, out.skipped)
            if span is not None:
                out.spans.append(span)
                if len(out.spans) > max_spans:
                    raise InputError.single(f"more than {max_spans:,} spans", file=path,
                                            suggestion="import a shorter period or a sample of the traces")
    if not out.spans:
        why = "; ".join(f"{n} {reason}" for reason, n in out.skipped.most_common(3))
        raise InputError.single("no usable span in the file" + (f" ({why})" if why else ""), file=path,
                                suggestion="give OTLP/JSON (resourceSpans) or one span per line with trace id, "
                                           "span id, name, start and end times")
    return out


def _raw_spans(document: Any, path: str, line: int) -> Iterator[tuple[Mapping, str, str]]:
    """(span object, service name, shape) of one JSON document."""
    if isinstance(document, list):
        for item in document:
            yield from _raw_spans(item, path, line)
        return
    if not isinstance(document, Mapping):
        raise InputError.single(f"a trace document is an object or a list of spans, not {_kind(document)}",
                                file=path, line=line, suggestion=f"give {EXAMPLE}")
    resource_spans = document.get("resourceSpans", document.get("resource_spans"))
    if resource_spans is not None:
        if not isinstance(resource_spans, list):
            raise InputError.single("resourceSpans must be a list", file=path, line=line)
        for block in resource_spans:
            if not isinstance(block, Mapping):
                continue
            resource = block.get("resource") if isinstance(block.get("resource"), Mapping) else {}
            service = str(_attributes(resource.get("attributes")).get("service.name", ""))
            scopes = block.get("scopeSpans", block.get("scope_spans", block.get("instrumentationLibrarySpans")))
            for scope in scopes if isinstance(scopes, list) else []:
                spans = scope.get("spans") if isinstance(scope, Mapping) else None
                for span in spans if isinstance(spans, list) else []:
                    if isinstance(span, Mapping):
                        yield span, service, "OTLP/JSON"
        return
    if "data" in document and isinstance(document["data"], list):
        raise InputError.single("this looks like Jaeger's JSON, which is not read", file=path, line=line,
                                suggestion="export OTLP/JSON instead (the Collector's file exporter, or "
                                           "Jaeger's /api/v3 OTLP endpoint)")
    if "name" in document or "context" in document or "spanId" in document or "span_id" in document:
        resource = document.get("resource") if isinstance(document.get("resource"), Mapping) else {}
        service = str(_attributes(resource.get("attributes")).get("service.name", ""))
        yield document, service, "flat spans"
        return
    keys = ", ".join(clip(k, 30) for k in list(document)[:6]) or "none"
    raise InputError.single(f"not a span or an OTLP request (keys: {keys})", file=path, line=line,
                            suggestion=f"give {EXAMPLE}")


def _kind(value: Any) -> str:
    return {str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


def _value(value: Any) -> Any:
    """An OTLP AnyValue (``{"stringValue": ...}``) as a plain value; a plain value as itself."""
    if not isinstance(value, Mapping):
        return value
    for key in ("stringValue", "boolValue", "doubleValue", "string_value", "bool_value", "double_value"):
        if key in value:
            return value[key]
    for key in ("intValue", "int_value"):
        if key in value:
            try:
                return int(value[key])
            except (TypeError, ValueError):
                return None
    for key in ("arrayValue", "array_value"):
        if key in value and isinstance(value[key], Mapping):
            return [_value(v) for v in value[key].get("values", []) if v is not None]
    return None


def _attributes(raw: Any) -> dict[str, Any]:
    if isinstance(raw, Mapping):
        return {str(k): _value(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return {str(item["key"]): _value(item.get("value")) for item in raw
                if isinstance(item, Mapping) and "key" in item}
    return {}


def _first(raw: Mapping, *keys: str) -> Any:
    for key in keys:
        if key in raw and raw[key] not in (None, ""):
            return raw[key]
    return None


def _id(value: Any) -> str | None:
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        return None
    text = str(value).strip().lower()
    text = text[2:] if text.startswith("0x") else text
    return text if text and text.strip("0") else None  # all zeros: the null id


def _time(value: Any) -> float | None:
    """Seconds since the epoch from nanoseconds, microseconds, milliseconds, seconds or ISO 8601 text."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d+(\.\d+)?", text):
            value = float(text)
        else:
            try:
                return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
            except ValueError:
                return None
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    number = float(value)
    for scale in (1e9, 1e6, 1e3, 1.0):  # the unit is the one that gives a plausible date
        if EARLIEST <= number / scale <= LATEST:
            return number / scale
    return None


def _span(raw: Mapping, service: str, skipped: Counter) -> Span | None:
    context = raw.get("context") if isinstance(raw.get("context"), Mapping) else {}
    trace = _id(_first(raw, "traceId", "trace_id") or _first(context, "trace_id", "traceId"))
    span_id = _id(_first(raw, "spanId", "span_id") or _first(context, "span_id", "spanId"))
    if trace is None or span_id is None:
        skipped["without a trace or span id"] += 1
        return None
    start = _time(_first(raw, "startTimeUnixNano", "start_time_unix_nano", "start_time", "startTime", "start"))
    end = _time(_first(raw, "endTimeUnixNano", "end_time_unix_nano", "end_time", "endTime", "end"))
    if start is None or end is None:
        skipped["without a readable start and end time"] += 1
        return None
    if end < start:
        skipped["ending before they start"] += 1
        return None
    parent = _id(_first(raw, "parentSpanId", "parent_span_id", "parent_id", "parentId"))
    status = raw.get("status") if isinstance(raw.get("status"), Mapping) else {}
    code = str(_first(status, "code", "status_code", "statusCode") or "").upper()
    attributes = _attributes(raw.get("attributes"))
    return Span(trace, span_id, parent, plain(raw.get("name", ""), 200), start, end, attributes,
                service, code in ("2", "ERROR", "STATUS_CODE_ERROR"))


# --------------------------------------------------------------------------- invocations


@dataclass
class Step:
    """What an invocation did, in time order: a tool call, or a delegation to another agent."""

    kind: str  # call | delegate
    name: str  # tool id, or the delegate's agent id
    start: float
    end: float
    span: str
    error: bool = False
    label: str = ""  # the tool's own name, as the trace wrote it
    invocation: Invocation | None = None  # the delegate's invocation


@dataclass
class Invocation:
    """One run of an agent: its span's times and its steps."""

    agent: str
    trace: str
    span: str
    start: float
    end: float
    parent: Invocation | None = None
    steps: list[Step] = field(default_factory=list)
    inferred: bool = False  # tool calls under no invoke_agent span, given to the emitting service

    def tree_calls(self) -> list[Step]:
        """The tool calls of this run and of the runs it delegated to, however deep."""
        out, stack = [], [self]
        while stack:
            run = stack.pop()
            for step in run.steps:
                if step.kind == "call":
                    out.append(step)
                elif step.invocation is not None:
                    stack.append(step.invocation)
        return out


def agent_name(span: Span) -> str:
    """The agent an ``invoke_agent`` span runs, as the trace names it."""
    a = span.attributes
    for key in ("gen_ai.agent.name", "gen_ai.agent.id"):
        if isinstance(a.get(key), (str, int)) and str(a[key]).strip():
            return str(a[key])
    if span.name.startswith("invoke_agent "):
        return span.name[len("invoke_agent "):]
    return span.service or "agent"


def tool_name(span: Span) -> str:
    """The tool an ``execute_tool`` (or MCP ``tools/call``) span calls, as the trace names it."""
    value = span.attributes.get("gen_ai.tool.name")
    if isinstance(value, (str, int)) and str(value).strip():
        return str(value)
    for prefix in ("execute_tool ", "tools/call "):
        if span.name.startswith(prefix):
            return span.name[len(prefix):]
    return span.name or "tool"


def agent_id(name: str) -> str:
    """The scenario id of an agent named ``name`` in traces."""
    return slug(name, "agent")


def tool_id(name: str) -> str:
    """The scenario id of a tool named ``name`` in traces."""
    return slug(name, "tool")


def invocations(spans: list[Span]) -> tuple[list[Invocation], Counter]:
    """Every invocation, roots first within each trace, and counts of what could not be placed."""
    notes: Counter = Counter()
    by_trace: dict[str, dict[str, Span]] = {}
    for span in spans:
        trace = by_trace.setdefault(span.trace, {})
        if span.id in trace:
            notes["duplicate span ids (kept the first)"] += 1
            continue
        trace[span.id] = span
    out: list[Invocation] = []
    for trace_id in sorted(by_trace, key=lambda t: min(s.start for s in by_trace[t].values())):
        out.extend(_trace_invocations(trace_id, by_trace[trace_id], notes))
    return out, notes


def _trace_invocations(trace_id: str, spans: dict[str, Span], notes: Counter) -> list[Invocation]:
    children: dict[str | None, list[Span]] = {}
    for span in spans.values():
        parent = span.parent if span.parent in spans else None
        if span.parent is not None and parent is None:
            notes["spans whose parent is not in the file (taken as roots)"] += 1
        children.setdefault(parent, []).append(span)
    found: list[Invocation] = []
    loose: list[tuple[Span, Step]] = []

    calls_seen: set[str] = set()

    def walk(span: Span, owner: Invocation | None, depth: int, in_tool: bool) -> None:
        if depth > MAX_DEPTH:
            notes[f"spans nested over {MAX_DEPTH} deep (ignored)"] += 1
            return
        operation = span.operation
        here = owner
        if operation == "invoke_agent":
            agent = agent_id(agent_name(span))
            if owner is None or owner.agent != agent:
                here = Invocation(agent, trace_id, span.id, span.start, span.end, parent=owner)
                found.append(here)
                in_tool = False
                if owner is not None:
                    owner.steps.append(Step("delegate", agent, span.start, span.end, span.id, span.error,
                                            agent_name(span), here))
        elif operation == "execute_tool":
            call_id = span.attributes.get("gen_ai.tool.call.id")
            nested = [c for c in _descendants(span, children) if c.operation == "invoke_agent"
                      and (owner is None or agent_id(agent_name(c)) != owner.agent)]
            if in_tool or (isinstance(call_id, str) and call_id in calls_seen):
                # the same call seen by another instrumentation layer (a framework's tool span around the
                # MCP client's): counted once, as the outermost span
                notes["tool spans of a call already counted (nested in its tool span, or the same "
                      "gen_ai.tool.call.id)"] += 1
            elif not nested:  # an agent used as a tool is a delegation, recorded when its span is reached
                step = Step("call", tool_id(tool_name(span)), span.start, span.end, span.id, span.error,
                            tool_name(span))
                if owner is not None:
                    owner.steps.append(step)
                else:
                    loose.append((span, step))
            if isinstance(call_id, str) and call_id:
                calls_seen.add(call_id)
            in_tool = in_tool or not nested
        for child in sorted(children.get(span.id, ()), key=lambda s: s.start):
            walk(child, here, depth + 1, in_tool)

    for root in sorted(children.get(None, ()), key=lambda s: s.start):
        walk(root, None, 0, False)
    if loose:  # tool calls under no invocation: one invocation of the emitting service per trace
        service = loose[0][0].service or "service"
        start = min(s.start for s, _ in loose)
        end = max(s.end for s, _ in loose)
        inferred = Invocation(agent_id(service), trace_id, loose[0][0].id, start, end, inferred=True)
        inferred.steps = [step for _, step in loose]
        found.append(inferred)
        notes[f"tool calls under no invoke_agent span (given to the service {plain(service, 40)})"] += len(loose)
    for invocation in found:
        invocation.steps.sort(key=lambda s: s.start)
    return found


def _descendants(span: Span, children: dict[str | None, list[Span]]) -> Iterator[Span]:
    stack = list(children.get(span.id, ()))
    seen = 0
    while stack and seen < 100_000:
        node = stack.pop()
        seen += 1
        yield node
        stack.extend(children.get(node.id, ()))
