"""The anchor: the 7-span agent turn of `successful_agent_turn`, built and exported with the
OpenTelemetry Python SDK the way the TaskPilot guide prescribes (TracerProvider + BatchSpanProcessor),
with a no-op exporter or the OTLP/gRPC exporter.

    python3 bench/python_sdk.py --exporter noop --traces 20000
    python3 bench/python_sdk.py --exporter grpc --endpoint http://127.0.0.1:4317 --traces 20000

Prints one JSON line: {"exporter": ..., "spans": N, "seconds": S, "spans_per_second": R}.
Timestamps are explicit (no sleeping): the SDK's cost of building, processing and exporting
spans is what is measured.
"""

import argparse
import json
import random
import time

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, set_span_in_context


class NoopExporter(SpanExporter):
    """Accepts every batch and keeps nothing."""

    def __init__(self):
        self.spans = 0

    def export(self, spans):
        self.spans += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self):
        pass


def turn(tracer, rng, t0):
    """One agent turn: orchestrate → planner → llm, tool → attempt, llm, compose (7 spans)."""
    ms = 1_000_000
    root = tracer.start_span(
        "vendor.a2a.orchestrate",
        kind=SpanKind.SERVER,
        start_time=t0,
        attributes={
            "vendor.turn.status.result": True,
            "vendor.turn.status.code": "SUCCESS",
            "vendor.redaction.applied": "basic",
            "vendor.a2a.agent.target.id": "agent-successful-turn-001",
            "vendor.a2a.outcome": "success",
        },
    )
    ctx = set_span_in_context(root)
    t = t0 + int(rng.uniform(5, 30) * ms)
    plan_d = int(rng.lognormvariate(6.0, 0.3) * ms)
    planner = tracer.start_span(
        "vendor.planner",
        context=ctx,
        start_time=t,
        attributes={
            "vendor.planner.output.task.count": rng.randint(1, 4),
            "vendor.planner.output.entity.count": rng.randint(0, 3),
            "vendor.plan.policy.mode": "balanced",
            "vendor.step.outcome": "success",
        },
    )
    llm_attrs = lambda: {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4.1-mini",
        "gen_ai.usage.input_tokens": rng.randint(200, 1500),
        "gen_ai.usage.output_tokens": rng.randint(30, 300),
        "vendor.step.outcome": "success",
    }
    llm = tracer.start_span(
        "vendor.llm.call", context=set_span_in_context(planner), kind=SpanKind.CLIENT, start_time=t + 2 * ms,
        attributes=llm_attrs(),
    )
    llm.end(end_time=t + plan_d - 2 * ms)
    planner.end(end_time=t + plan_d)
    t += plan_d + int(rng.uniform(5, 30) * ms)
    tool_d = int(rng.lognormvariate(5.5, 0.4) * ms)
    tool = tracer.start_span(
        "vendor.mcp.tool.execute",
        context=ctx,
        start_time=t,
        attributes={
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.type": "function",
            "gen_ai.tool.name": "claims.getClaimStatus",
            "vendor.tool.system": "mcp",
            "vendor.mcp.server.uuid": "11111111-2222-3333-4444-555555555555",
            "vendor.mcp.tool.uuid": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            "vendor.mcp.tool.call.id": "call_0",
            "vendor.step.outcome": "success",
        },
    )
    attempt = tracer.start_span(
        "vendor.mcp.tool.execute.attempt",
        context=set_span_in_context(tool),
        start_time=t,
        attributes={"retry.attempt": 1, "retry.is_retry": False},
    )
    attempt.end(end_time=t + tool_d)
    tool.end(end_time=t + tool_d)
    t += tool_d + int(rng.uniform(1, 5) * ms)
    llm2_d = int(rng.lognormvariate(6.5, 0.3) * ms)
    llm2 = tracer.start_span("vendor.llm.call", context=ctx, kind=SpanKind.CLIENT, start_time=t, attributes=llm_attrs())
    llm2.end(end_time=t + llm2_d)
    t += llm2_d + int(rng.uniform(1, 5) * ms)
    compose = tracer.start_span(
        "vendor.response.compose",
        context=ctx,
        start_time=t,
        attributes={"vendor.response.format": "a2a_json", "vendor.step.outcome": "success"},
    )
    compose.end(end_time=t + int(rng.uniform(20, 120) * ms))
    root.end(end_time=t + int(130 * ms))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--exporter", choices=["noop", "grpc"], default="noop")
    ap.add_argument("--endpoint", default="http://127.0.0.1:4317")
    ap.add_argument("--traces", type=int, default=20000)
    a = ap.parse_args()

    if a.exporter == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=a.endpoint, insecure=True)
    else:
        exporter = NoopExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "python-sdk-bench"}))
    # Queue large enough that nothing is dropped: the SDK's own throughput is measured.
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=a.traces * 7 + 1))
    tracer = provider.get_tracer("bench")
    rng = random.Random(1)
    t0 = time.time_ns()
    start = time.perf_counter()
    for i in range(a.traces):
        turn(tracer, rng, t0 + i * 10_000_000)
    provider.force_flush(timeout_millis=600_000)
    seconds = time.perf_counter() - start
    provider.shutdown()
    spans = a.traces * 7
    if isinstance(exporter, NoopExporter) and exporter.spans != spans:
        raise SystemExit(f"the SDK exported {exporter.spans} of {spans} spans")
    print(json.dumps({"exporter": a.exporter, "spans": spans, "seconds": seconds, "spans_per_second": spans / seconds}))


if __name__ == "__main__":
    main()
