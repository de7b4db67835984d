#!/usr/bin/env python3
"""Decodes an OTLP/JSON lines file (one ExportTraceServiceRequest per line) strictly with the
OpenTelemetry Python classes (google.protobuf.json_format; hex ids per OTLP, see otlp_json.py) and prints a JSON summary:
lines, spans, traces, and the (trace_id, span_id, parent_span_id, name) of every span."""

import json
import sys

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

import otlp_json

lines = spans = 0
out = []
with open(sys.argv[1], encoding="utf-8") as f:
    for n, line in enumerate(f, 1):
        if not line.endswith("\n"):
            sys.exit(f"line {n} is not newline-terminated")
        req = otlp_json.parse(line, trace_service_pb2.ExportTraceServiceRequest())
        lines += 1
        for rs in req.resource_spans:
            for ss in rs.scope_spans:
                for s in ss.spans:
                    spans += 1
                    out.append([s.trace_id.hex(), s.span_id.hex(), s.parent_span_id.hex(), s.name])
print(json.dumps({"lines": lines, "spans": spans, "traces": len({s[0] for s in out}), "span_list": out}))
