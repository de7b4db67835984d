#!/usr/bin/env python3
"""Decodes an OTLP/JSON lines file (one Export{Trace,Logs,Metrics}ServiceRequest per line) strictly
with the OpenTelemetry Python classes (google.protobuf.json_format; hex ids per OTLP, see
otlp_json.py) and prints a JSON summary: lines, spans, traces and the (trace_id, span_id,
parent_span_id, name, status code, kind, attributes, service.name) of every span; or, for
logs, the (trace_id, span_id, severity, body, attributes) of every log record."""

import json
import sys

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

import otlp_json
from otlp_receiver import summarize_metrics


def attrs(kvs):
    """Attributes as a dict of plain values."""
    out = {}
    for kv in kvs:
        which = kv.value.WhichOneof("value")
        out[kv.key] = getattr(kv.value, which) if which else None
    return out


lines = spans = 0
out = []
logs = []
metric_exports = []
with open(sys.argv[1], encoding="utf-8") as f:
    for n, line in enumerate(f, 1):
        if not line.endswith("\n"):
            sys.exit(f"line {n} is not newline-terminated")
        lines += 1
        if line.startswith('{"resourceMetrics"'):
            req = otlp_json.parse(line, metrics_service_pb2.ExportMetricsServiceRequest())
            metric_exports.append(summarize_metrics(req))
            continue
        if line.startswith('{"resourceLogs"'):
            req = otlp_json.parse(line, logs_service_pb2.ExportLogsServiceRequest())
            for rl in req.resource_logs:
                for sl in rl.scope_logs:
                    for r in sl.log_records:
                        logs.append(
                            [r.trace_id.hex(), r.span_id.hex(), r.severity_number, r.body.string_value, attrs(r.attributes)]
                        )
            continue
        req = otlp_json.parse(line, trace_service_pb2.ExportTraceServiceRequest())
        for rs in req.resource_spans:
            service = attrs(rs.resource.attributes).get("service.name")
            for ss in rs.scope_spans:
                for s in ss.spans:
                    spans += 1
                    out.append(
                        [
                            s.trace_id.hex(),
                            s.span_id.hex(),
                            s.parent_span_id.hex(),
                            s.name,
                            s.status.code,
                            s.kind,
                            attrs(s.attributes),
                            service,
                        ]
                    )
print(json.dumps({"lines": lines, "spans": spans, "traces": len({s[0] for s in out}), "span_list": out, "logs": logs, "metric_exports": metric_exports}))
