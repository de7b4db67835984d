"""A faulty pipeline stage: an OTLP/HTTP (protobuf) proxy that answers every request 200 and
forwards it to an OTLP/HTTP receiver after doing what a broken or lossy collector would, and
counts exactly what it did.

usage: fault_proxy.py LISTEN_PORT UPSTREAM_PORT

Prints READY once listening. Log and metric requests are forwarded unchanged. Trace requests,
in arrival order: every 10th is dropped (answered, never forwarded); every 7th of those left is
forwarded twice; in the rest, traces are tail-sampled — a trace is kept when it has an error
span or its id falls in a tenth of the id space (whole traces: the sender must export whole
traces, `--export-order trace`); `gen_ai.request.model` is removed from every span kept and
every `invoke_agent …` span renamed `agent.run`. GET /report answers JSON with, per span id
seen, what verify should find: spans, missing, duplicated, attributes dropped, renames,
altered, and the traces expected / kept (all, with an error).
"""
import http.server
import json
import sys
import threading
from collections import Counter

from upstream import forward as upstream_forward
from upstream import reply_ok, serve

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

listen, upstream = int(sys.argv[1]), int(sys.argv[2])
lock = threading.Lock()
requests = 0
forwarded = Counter()  # span id -> times forwarded
had_attr, renamed_from, trace_of = {}, {}, {}
error_trace, spans_of = set(), Counter()


def forward(path, body, ctype):
    upstream_forward(upstream, path, body, ctype)


def sampled(trace_id):
    return int.from_bytes(trace_id[:8], "big") % 10 == 0


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        with lock:
            missing = sum(1 for s in trace_of if forwarded[s] == 0)
            duplicated = sum(max(0, forwarded[s] - 1) for s in trace_of)
            dropped = sum(1 for s in trace_of if forwarded[s] > 0 and had_attr[s])
            renames = Counter(renamed_from[s] for s in trace_of if forwarded[s] > 0 and s in renamed_from)
            altered = sum(1 for s in trace_of if forwarded[s] > 0 and (had_attr[s] or s in renamed_from))
            kept_traces = {trace_of[s] for s in trace_of if forwarded[s] > 0}
            traces = set(trace_of.values())
            body = json.dumps({
                "requests": requests, "spans": len(trace_of), "missing": missing, "duplicated": duplicated,
                "dropped_attr": dropped, "renamed": dict(renames), "altered": altered,
                "traces": len(traces), "kept": len(kept_traces),
                "error_traces": len(error_trace), "error_kept": len(error_trace & kept_traces),
            }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        global requests
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        ctype = self.headers.get("Content-Type", "application/x-protobuf")
        if self.path == "/v1/traces":
            with lock:
                requests += 1
                n = requests
                req = ExportTraceServiceRequest()
                req.ParseFromString(body)
                for rs in req.resource_spans:
                    for ss in rs.scope_spans:
                        for s in ss.spans:
                            trace_of[s.span_id] = s.trace_id
                            had_attr[s.span_id] = any(a.key == "gen_ai.request.model" for a in s.attributes)
                            if s.status.code == 2:
                                error_trace.add(s.trace_id)
                drop = n % 10 == 0
                copies = 0 if drop else (2 if n % 7 == 0 else 1)
                if copies:
                    for rs in req.resource_spans:
                        for ss in rs.scope_spans:
                            keep = [s for s in ss.spans if s.trace_id in error_trace or sampled(s.trace_id)]
                            del ss.spans[:]
                            for s in keep:
                                attrs = [a for a in s.attributes if a.key != "gen_ai.request.model"]
                                del s.attributes[:]
                                s.attributes.extend(attrs)
                                if s.name.startswith("invoke_agent"):
                                    renamed_from[s.span_id] = s.name
                                    s.name = "agent.run"
                                forwarded[s.span_id] += copies
                            ss.spans.extend(keep)
                    body = req.SerializeToString()
            for _ in range(copies):
                forward(self.path, body, ctype)
        else:
            forward(self.path, body, ctype)
        reply_ok(self)


serve(listen, Handler)
