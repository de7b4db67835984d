"""A pipeline stage that loses what rides on spans and points: an OTLP/HTTP (protobuf) proxy
that answers every request 200 and forwards it to an OTLP/HTTP receiver after taking the
events off every other span that has some, putting a link on the first span it sees, and
taking the exemplars off every histogram point. It counts exactly what it did.

usage: event_proxy.py LISTEN_PORT UPSTREAM_PORT

Prints READY once listening. Log requests are forwarded unchanged. GET /report answers JSON
with what verify should find: per event name, the spans that lost an event of that name
(`events`); the spans given a link (`linked`); the spans altered (either change); the spans
that kept their events (`kept_events`); and the histogram points that lost their exemplars
(`exemplar_points`) and the exemplars they had (`exemplars`).
"""
import http.server
import json
import sys
import threading
from collections import Counter

from upstream import forward as upstream_forward
from upstream import reply_ok, serve

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

listen, upstream = int(sys.argv[1]), int(sys.argv[2])
lock = threading.Lock()
with_events = 0
lost = Counter()  # event name -> spans that lost one
altered, linked = set(), set()
kept_events = 0
exemplar_points = exemplars = 0


def forward(path, body, ctype):
    upstream_forward(upstream, path, body, ctype)


def tamper_spans(body):
    global with_events, kept_events
    req = ExportTraceServiceRequest()
    req.ParseFromString(body)
    for rs in req.resource_spans:
        for ss in rs.scope_spans:
            for s in ss.spans:
                key = (s.trace_id, s.span_id)
                if not linked:
                    link = s.links.add()
                    link.trace_id = bytes.fromhex("5" * 32)
                    link.span_id = bytes.fromhex("6" * 16)
                    linked.add(key)
                    altered.add(key)
                if len(s.events) == 0:
                    continue
                with_events += 1
                if with_events % 2 == 0:
                    kept_events += 1
                    continue
                for name in {e.name for e in s.events}:
                    lost[name] += 1
                del s.events[:]
                altered.add(key)
    return req.SerializeToString()


def tamper_points(body):
    global exemplar_points, exemplars
    req = ExportMetricsServiceRequest()
    req.ParseFromString(body)
    for rm in req.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                if m.WhichOneof("data") != "histogram":
                    continue
                for p in m.histogram.data_points:
                    if len(p.exemplars) > 0:
                        exemplar_points += 1
                        exemplars += len(p.exemplars)
                        del p.exemplars[:]
    return req.SerializeToString()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        with lock:
            body = json.dumps({
                "events": dict(lost), "linked": len(linked), "altered": len(altered),
                "kept_events": kept_events, "exemplar_points": exemplar_points, "exemplars": exemplars,
            }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        ctype = self.headers.get("Content-Type", "application/x-protobuf")
        with lock:
            if self.path == "/v1/traces":
                body = tamper_spans(body)
            elif self.path == "/v1/metrics":
                body = tamper_points(body)
            # Forwarded in arrival order, one at a time.
            forward(self.path, body, ctype)
        reply_ok(self)


serve(listen, Handler)
