"""Sends spans with the OpenTelemetry Python SDK (a client this project did not write): two
traces through the SDK's OTLP/gRPC exporter, two through its OTLP/HTTP (protobuf) exporter,
each with a BatchSpanProcessor; prints the spans it finished, as JSON lines of
[trace_id, span_id, name, service, start_ns, duration_ns, status].

usage: sdk_send.py GRPC_PORT HTTP_PORT [https]

With `https`, both exporters use TLS, with the CA and client certificate of the SDK's own
variables (OTEL_EXPORTER_OTLP_CERTIFICATE, OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE, …).
"""
import json
import sys

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
from opentelemetry.trace import Status, StatusCode

grpc_port, http_port = sys.argv[1:3]
tls = sys.argv[3:4] == ["https"]
finished = []


class Recording:
    """Wraps an exporter: records what it was given and fails loudly if it is refused."""

    def __init__(self, inner):
        self.inner = inner

    def export(self, spans):
        r = self.inner.export(spans)
        if r != SpanExportResult.SUCCESS:
            raise SystemExit(f"the exporter was refused: {r}")
        for s in spans:
            finished.append([f"{s.context.trace_id:032x}", f"{s.context.span_id:016x}", s.name,
                             s.resource.attributes.get("service.name", ""), s.start_time, s.end_time - s.start_time,
                             {0: "Unset", 1: "Ok", 2: "Error"}[s.status.status_code.value]])
        return r

    def shutdown(self):
        self.inner.shutdown()

    def force_flush(self, timeout_millis=30000):
        return True


if tls:
    exporters = [("sdk-grpc", GrpcExporter(endpoint=f"https://127.0.0.1:{grpc_port}", insecure=False)),
                 ("sdk-http", HttpExporter(endpoint=f"https://127.0.0.1:{http_port}/v1/traces"))]
else:
    exporters = [("sdk-grpc", GrpcExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True)),
                 ("sdk-http", HttpExporter(endpoint=f"http://127.0.0.1:{http_port}/v1/traces"))]
for name, exporter in exporters:
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(Recording(exporter)))
    tracer = provider.get_tracer("sdk_send")
    for i in range(2):
        with tracer.start_as_current_span("invoke_agent planner") as root:
            root.set_attribute("gen_ai.agent.name", "planner")
            root.set_attribute("gen_ai.operation.name", "invoke_agent")
            with tracer.start_as_current_span("chat gpt-4o") as chat:
                chat.set_attribute("gen_ai.request.model", "gpt-4o")
                chat.set_attribute("gen_ai.usage.input_tokens", 100 + i)
                chat.add_event("retry", {"attempt": 1})
                if i == 1:
                    chat.set_status(Status(StatusCode.ERROR, "rate limited"))
                    chat.set_attribute("error.type", "rate_limit")
    provider.shutdown()
print(json.dumps(finished))
