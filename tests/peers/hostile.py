"""Sends what a receiver must refuse, over OTLP/HTTP and OTLP/gRPC, and prints what each case
got as JSON {case: HTTP status or gRPC code name}.

usage: hostile.py GRPC_PORT HTTP_PORT TOKEN
"""
import gzip
import http.client
import json
import sys

import grpc

grpc_port, http_port, token = sys.argv[1], int(sys.argv[2]), sys.argv[3]
auth = {"Authorization": f"Bearer {token}"}
out = {}


def post(path, body, headers, method="POST"):
    c = http.client.HTTPConnection("127.0.0.1", http_port, timeout=60)
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    r.read()
    c.close()
    return r.status


proto = {"Content-Type": "application/x-protobuf", **auth}
out["no token"] = post("/v1/traces", b"", {"Content-Type": "application/x-protobuf"})
out["wrong token"] = post("/v1/traces", b"", {"Content-Type": "application/x-protobuf",
                                                "Authorization": f"Bearer {token}x"})
out["corrupt protobuf"] = post("/v1/traces", b"\x0a\xff\xff\xff\xff\x0f garbage", proto)
out["bad json"] = post("/v1/traces", b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": 5}]}]}]}',
                       {"Content-Type": "application/json", **auth})
out["not json"] = post("/v1/logs", b"{oops", {"Content-Type": "application/json", **auth})
out["wrong content type"] = post("/v1/traces", b"x", {"Content-Type": "text/plain", **auth})
out["wrong method"] = post("/v1/traces", None, auth, method="GET")
out["oversized"] = post("/v1/traces", b"\0" * (21 << 20), proto)
bomb = gzip.compress(b"\0" * (64 << 20))
out["gzip bomb"] = post("/v1/traces", bomb, {**proto, "Content-Encoding": "gzip"})
out["bomb bytes"] = len(bomb)
out["unknown encoding"] = post("/v1/traces", b"x", {**proto, "Content-Encoding": "br"})
out["empty request"] = post("/v1/traces", b"", proto)  # a valid, empty ExportTraceServiceRequest

channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}", options=[("grpc.max_send_message_length", 64 << 20)])
export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                             request_serializer=lambda b: b, response_deserializer=lambda b: b)
meta = [("authorization", f"Bearer {token}")]


def code(f):
    try:
        f()
        return "OK"
    except grpc.RpcError as e:
        return e.code().name


out["grpc no token"] = code(lambda: export(b"", timeout=60))
out["grpc corrupt"] = code(lambda: export(b"\x0a\xff\xff\xff\xff\x0f garbage", metadata=meta, timeout=60))
out["grpc oversized"] = code(lambda: export(b"\0" * (5 << 20), metadata=meta, timeout=60))
out["grpc empty"] = code(lambda: export(b"", metadata=meta, timeout=60))
logs = channel.unary_unary("/opentelemetry.proto.collector.logs.v1.LogsService/Nope",
                           request_serializer=lambda b: b, response_deserializer=lambda b: b)
out["grpc unknown method"] = code(lambda: logs(b"", metadata=meta, timeout=60))
print(json.dumps(out))
