//! OTLP export (gRPC, HTTP/protobuf, HTTP/JSON) per signal, as `--endpoint` and the
//! `OTEL_EXPORTER_OTLP_*` variables resolve (the flags are the delivery options every
//! network output shares, so this output has none of its own).

use tsim_sinks::otlp::Protocol;
use tsim_sinks::otlp_grpc::GrpcSink;
use tsim_sinks::otlp_http::HttpSink;

use super::{Built, Ctx, Wired};

/// No flags of its own: `--endpoint`, `--protocol`, … are global.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Flags {}

pub(super) fn build<'a>(c: &'a Ctx<'a>, _: &'a Flags) -> Built<'a> {
    Ok(Box::pin(async move {
        let mut sinks = Vec::new();
        for (sig, cfg, tls) in c.otlp {
            if *sig == c.signals[0] && cfg.protocol != Protocol::Grpc && cfg.url.contains(":4317") && !c.g.quiet {
                say!(
                    "hint: port 4317 is usually OTLP/gRPC; this run uses {} (add --protocol grpc)",
                    cfg.protocol.as_str()
                );
            }
            sinks.push(match cfg.protocol {
                Protocol::Grpc => Wired::shared(GrpcSink::new(cfg.clone(), *sig, c.policy, tls)?),
                _ => Wired::shared(HttpSink::new(cfg.clone(), *sig, c.policy, tls)?),
            });
        }
        Ok(sinks)
    }))
}
