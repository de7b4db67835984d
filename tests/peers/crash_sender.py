"""Sends OTLP/HTTP protobuf requests of 50 spans each, one after another, forever (until
killed), each with new span ids; appends the number of each request the receiver
acknowledged (HTTP 200) to ACKED, one per line, flushed at once. A refused or failed request
is not retried (its spans may or may not be stored: never twice).

usage: crash_sender.py HTTP_PORT ACKED
"""
import http.client
import sys
import time

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

port, acked_path = int(sys.argv[1]), sys.argv[2]
t0 = 1_780_000_000_000_000_000


def request(n):
    spans = [Span(trace_id=n.to_bytes(16, "big"), span_id=(n * 100 + i + 1).to_bytes(8, "big"), name=f"op{i}",
                  start_time_unix_nano=t0 + n * 1000 + i, end_time_unix_nano=t0 + n * 1000 + i + 500)
             for i in range(50)]
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])])


acked = open(acked_path, "a")
n = 0
while True:
    n += 1
    body = request(n).SerializeToString()
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("POST", "/v1/traces", body=body, headers={"Content-Type": "application/x-protobuf"})
        r = c.getresponse()
        r.read()
        c.close()
        if r.status == 200:
            acked.write(f"{n}\n")
            acked.flush()
    except OSError:
        time.sleep(0.01)
