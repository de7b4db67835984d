//! OTLP export (gRPC, HTTP/protobuf, HTTP/JSON) per signal, as `--endpoint` and the
//! `OTEL_EXPORTER_OTLP_*` variables resolve.

use anyhow::Result;
use tsim_sinks::otlp::Protocol;
use tsim_sinks::otlp_grpc::GrpcSink;
use tsim_sinks::otlp_http::HttpSink;
use tsim_sinks::{BoxFuture, Sink};

use super::Ctx;

pub(super) fn build<'a>(c: &'a Ctx<'a>) -> BoxFuture<'a, Result<Vec<Box<dyn Sink>>>> {
    Box::pin(async move {
        let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
        for (sig, cfg) in c.otlp {
            if *sig == c.signals[0] && cfg.protocol != Protocol::Grpc && cfg.url.contains(":4317") && !c.g.quiet {
                say!(
                    "hint: port 4317 is usually OTLP/gRPC; this run uses {} (add --protocol grpc)",
                    cfg.protocol.as_str()
                );
            }
            sinks.push(match cfg.protocol {
                Protocol::Grpc => Box::new(GrpcSink::new(cfg.clone(), *sig, c.policy)?),
                _ => Box::new(HttpSink::new(cfg.clone(), *sig, c.policy)?),
            });
        }
        Ok(sinks)
    })
}
