#!/usr/bin/env python3
"""OTLP trace, log and metric receiver for tests, built on the OpenTelemetry project's own Python classes.

Serves OTLP/gRPC (grpcio + opentelemetry-proto servicer) and OTLP/HTTP (protobuf and JSON)
on 127.0.0.1. Every request is decoded strictly: protobuf with ParseFromString, JSON with
google.protobuf.json_format (unknown fields rejected; hex ids checked, see otlp_json.py). GET /report returns what was
received as JSON. Failure modes let tests exercise retries and drops:

  --mode ok                 accept everything
  --mode fail503:N          answer the first N requests with 503 / UNAVAILABLE (+ Retry-After)
  --mode fail400            answer every request with 400 / INVALID_ARGUMENT
  --mode partial:K          accept, but report K rejected spans per request (partial success)

Prints READY on stdout once both servers listen.
"""

import argparse
import gzip
import json
import sys
import threading
import time
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

import otlp_json

lock = threading.Lock()
state = {
    "requests": 0,
    "requests_by_signal": {"traces": 0, "logs": 0, "metrics": 0},
    "metric_exports": [],
    "answers": {},
    "decode_errors": [],
    "spans": [],
    "logs": [],
    "content_types": {},
    "encodings": {},
}


def parse_mode(mode):
    name, _, arg = mode.partition(":")
    return name, int(arg) if arg else 0


def record_logs(req, transport):
    with lock:
        for rl in req.resource_logs:
            for sl in rl.scope_logs:
                for r in sl.log_records:
                    state["logs"].append(
                        {
                            "trace_id": r.trace_id.hex(),
                            "span_id": r.span_id.hex(),
                            "severity": r.severity_number,
                            "body": r.body.string_value,
                            "time": r.time_unix_nano,
                            "transport": transport,
                        }
                    )


def summarize_metrics(req):
    """Per metric of one export: points, total (sum of ints / histogram counts), exemplars."""
    out = {}
    for rm in req.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                e = out.setdefault(m.name, {"points": 0, "total": 0, "exemplars": [], "buckets_ok": True, "by": []})
                kind = m.WhichOneof("data")
                for p in getattr(m, kind).data_points:
                    e["points"] += 1
                    if kind == "histogram":
                        e["total"] += p.count
                        e["buckets_ok"] &= sum(p.bucket_counts) == p.count
                        e["exemplars"] += [[x.trace_id.hex(), x.span_id.hex()] for x in p.exemplars]
                    else:
                        v = p.as_int if p.WhichOneof("value") == "as_int" else p.as_double
                        e["total"] += v
                        e["by"].append([{a.key: a.value.string_value for a in p.attributes}, v])
    return out


def record(req, transport, content_type, encoding):
    with lock:
        state["content_types"][content_type] = state["content_types"].get(content_type, 0) + 1
        state["encodings"][encoding] = state["encodings"].get(encoding, 0) + 1
    if isinstance(req, metrics_service_pb2.ExportMetricsServiceRequest):
        with lock:
            state["metric_exports"].append(summarize_metrics(req))
        return
    if isinstance(req, logs_service_pb2.ExportLogsServiceRequest):
        record_logs(req, transport)
        return
    received = time.time_ns()
    with lock:
        state["span_requests"] = state.get("span_requests", 0) + 1
        batch = state["span_requests"]
        for rs in req.resource_spans:
            res = {kv.key: json_format.MessageToDict(kv.value) for kv in rs.resource.attributes}
            for ss in rs.scope_spans:
                for s in ss.spans:
                    state["spans"].append(
                        {
                            "trace_id": s.trace_id.hex(),
                            "span_id": s.span_id.hex(),
                            "parent_span_id": s.parent_span_id.hex(),
                            "name": s.name,
                            "start": s.start_time_unix_nano,
                            "end": s.end_time_unix_nano,
                            "status": s.status.code,
                            "transport": transport,
                            "service": res.get("service.name", {}).get("stringValue"),
                            "received": received,
                            "batch": batch,
                        }
                    )


def decide(signal):
    """Returns 'ok', 'retry', 'reject' or ('partial', k) for the next request."""
    name, n = parse_mode(args.mode)
    with lock:
        state["requests_by_signal"][signal] += 1
        state["requests"] += 1
        i = state["requests"]
    if name == "fail503" and i <= n:
        return "retry"
    if name == "fail400":
        return "reject"
    if name == "partial":
        return ("partial", n)
    return "ok"


def answered(what):
    with lock:
        state["answers"][what] = state["answers"].get(what, 0) + 1


def export(request, context, signal, response_type, rejected_field):
    d = decide(signal)
    if d == "retry":
        answered("UNAVAILABLE")
        context.abort(grpc.StatusCode.UNAVAILABLE, "test receiver: try again")
    if d == "reject":
        answered("INVALID_ARGUMENT")
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "test receiver: rejected")
    enc = dict(context.invocation_metadata()).get("grpc-encoding", "identity")
    record(request, "grpc", "application/grpc", enc)
    answered("OK")
    resp = response_type()
    if isinstance(d, tuple):
        setattr(resp.partial_success, rejected_field, d[1])
        resp.partial_success.error_message = "test receiver: partial"
    return resp


class TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def Export(self, request, context):
        return export(request, context, "traces", trace_service_pb2.ExportTraceServiceResponse, "rejected_spans")


class LogsService(logs_service_pb2_grpc.LogsServiceServicer):
    def Export(self, request, context):
        return export(request, context, "logs", logs_service_pb2.ExportLogsServiceResponse, "rejected_log_records")


class MetricsService(metrics_service_pb2_grpc.MetricsServiceServicer):
    def Export(self, request, context):
        return export(request, context, "metrics", metrics_service_pb2.ExportMetricsServiceResponse, "rejected_data_points")


SIGNALS = {
    "/v1/metrics": ("metrics", metrics_service_pb2.ExportMetricsServiceRequest, metrics_service_pb2.ExportMetricsServiceResponse, "rejected_data_points"),
    "/v1/traces": ("traces", trace_service_pb2.ExportTraceServiceRequest, trace_service_pb2.ExportTraceServiceResponse, "rejected_spans"),
    "/v1/logs": ("logs", logs_service_pb2.ExportLogsServiceRequest, logs_service_pb2.ExportLogsServiceResponse, "rejected_log_records"),
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, body=b"", ctype="application/json", headers=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/report":
            with lock:
                body = json.dumps(state).encode()
            self.reply(200, body)
        else:
            self.reply(404)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if self.path not in SIGNALS:
            self.reply(404, b"not found", "text/plain")
            return
        signal, request_type, response_type, rejected_field = SIGNALS[self.path]
        enc = self.headers.get("Content-Encoding", "identity")
        ctype = self.headers.get("Content-Type", "")
        d = decide(signal)
        if d == "retry":
            answered("503")
            self.reply(503, b"busy", "text/plain", [("Retry-After", str(args.retry_after))])
            return
        if d == "reject":
            answered("400")
            self.reply(400, b"rejected by test receiver", "text/plain")
            return
        try:
            if enc == "gzip":
                body = gzip.decompress(body)
            req = request_type()
            if ctype.startswith("application/json"):
                otlp_json.parse(body.decode("utf-8"), req)
            elif ctype.startswith("application/x-protobuf"):
                req.ParseFromString(body)
            else:
                raise ValueError("unexpected content type " + ctype)
        except Exception as e:  # a decode failure is a test failure: report it
            with lock:
                state["decode_errors"].append(f"{type(e).__name__}: {e}")
            answered("400")
            self.reply(400, str(e).encode(), "text/plain")
            return
        record(req, "http", ctype, enc)
        answered("200")
        resp = response_type()
        if isinstance(d, tuple):
            setattr(resp.partial_success, rejected_field, d[1])
            resp.partial_success.error_message = "test receiver: partial"
        if ctype.startswith("application/json"):
            self.reply(200, json_format.MessageToJson(resp).encode(), "application/json")
        else:
            self.reply(200, resp.SerializeToString(), "application/x-protobuf")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--grpc-port", type=int, required=True)
    p.add_argument("--http-port", type=int, required=True)
    p.add_argument("--mode", default="ok")
    p.add_argument("--retry-after", type=int, default=1)
    args = p.parse_args()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(TraceService(), server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(LogsService(), server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(MetricsService(), server)
    server.add_insecure_port(f"127.0.0.1:{args.grpc_port}")
    server.start()
    httpd = ThreadingHTTPServer(("127.0.0.1", args.http_port), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    print("READY", flush=True)
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:
        pass
