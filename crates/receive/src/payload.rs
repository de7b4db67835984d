//! What a request carries: its payload decoded (protobuf, or OTLP/JSON turned into protobuf)
//! to check it and count its items per service, the bearer token check, and the limits.

use bytes::Bytes;
use prost::Message;
use tsim_store::{Table, otlp_json};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::metrics::v1::metric;
use opentelemetry_proto::tonic::resource::v1::Resource;

/// The largest gRPC message taken (the OpenTelemetry Collector's default), decompressed.
pub(crate) const GRPC_MAX: usize = 4 << 20;
/// The largest HTTP body taken (the collector's default), compressed and decompressed.
pub(crate) const HTTP_MAX: usize = 20 << 20;

/// The items of a checked request, per service, and its protobuf bytes.
pub(crate) struct Checked {
    /// The request as protobuf (as received, or encoded from JSON).
    pub payload: Bytes,
    /// Items per `service.name`.
    pub items: Vec<(String, u64)>,
}

fn service(r: Option<&Resource>) -> String {
    r.and_then(|r| r.attributes.iter().find(|a| a.key == "service.name"))
        .and_then(|a| a.value.as_ref())
        .and_then(|v| match &v.value {
            Some(any_value::Value::StringValue(s)) => Some(s.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

fn add(items: &mut Vec<(String, u64)>, svc: String, n: u64) {
    if n == 0 {
        return;
    }
    match items.iter_mut().find(|(s, _)| *s == svc) {
        Some((_, m)) => *m += n,
        None => items.push((svc, n)),
    }
}

fn count_traces(r: &ExportTraceServiceRequest) -> Vec<(String, u64)> {
    let mut v = Vec::new();
    for rs in &r.resource_spans {
        let n = rs.scope_spans.iter().map(|s| s.spans.len() as u64).sum();
        add(&mut v, service(rs.resource.as_ref()), n);
    }
    v
}

fn count_logs(r: &ExportLogsServiceRequest) -> Vec<(String, u64)> {
    let mut v = Vec::new();
    for rl in &r.resource_logs {
        let n = rl.scope_logs.iter().map(|s| s.log_records.len() as u64).sum();
        add(&mut v, service(rl.resource.as_ref()), n);
    }
    v
}

fn count_metrics(r: &ExportMetricsServiceRequest) -> Vec<(String, u64)> {
    let mut v = Vec::new();
    for rm in &r.resource_metrics {
        let n = rm
            .scope_metrics
            .iter()
            .flat_map(|s| &s.metrics)
            .map(|m| match &m.data {
                Some(metric::Data::Gauge(g)) => g.data_points.len(),
                Some(metric::Data::Sum(s)) => s.data_points.len(),
                Some(metric::Data::Histogram(h)) => h.data_points.len(),
                Some(metric::Data::ExponentialHistogram(h)) => h.data_points.len(),
                Some(metric::Data::Summary(s)) => s.data_points.len(),
                None => 0,
            } as u64)
            .sum();
        add(&mut v, service(rm.resource.as_ref()), n);
    }
    v
}

/// Checks a protobuf payload of `table`'s signal.
pub(crate) fn protobuf(table: Table, payload: Bytes) -> Result<Checked, String> {
    let items = match table {
        Table::Traces => count_traces(&ExportTraceServiceRequest::decode(payload.clone()).map_err(|e| e.to_string())?),
        Table::Logs => count_logs(&ExportLogsServiceRequest::decode(payload.clone()).map_err(|e| e.to_string())?),
        Table::Metrics => {
            count_metrics(&ExportMetricsServiceRequest::decode(payload.clone()).map_err(|e| e.to_string())?)
        }
    };
    Ok(Checked { payload, items })
}

/// Checks an OTLP/JSON payload and turns it into protobuf.
pub(crate) fn json(table: Table, body: &[u8]) -> Result<Checked, String> {
    let e = |e: otlp_json::JsonError| e.to_string();
    let (payload, items) = match table {
        Table::Traces => {
            let r = otlp_json::traces(body).map_err(e)?;
            (r.encode_to_vec(), count_traces(&r))
        }
        Table::Logs => {
            let r = otlp_json::logs(body).map_err(e)?;
            (r.encode_to_vec(), count_logs(&r))
        }
        Table::Metrics => {
            let r = otlp_json::metrics(body).map_err(e)?;
            (r.encode_to_vec(), count_metrics(&r))
        }
    };
    Ok(Checked { payload: Bytes::from(payload), items })
}

/// Whether `given` (an `Authorization` header's value) carries the bearer `token`, compared
/// in constant time.
pub(crate) fn authorized(token: Option<&str>, given: Option<&[u8]>) -> bool {
    let Some(token) = token else { return true };
    let Some(given) = given.and_then(|g| g.strip_prefix(b"Bearer ")) else { return false };
    let want = token.as_bytes();
    let mut diff = u8::from(want.len() != given.len());
    for (i, w) in want.iter().enumerate() {
        diff |= w ^ given.get(i).copied().unwrap_or(0);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_must_match_exactly() {
        assert!(authorized(None, None));
        assert!(authorized(Some("s3cret"), Some(b"Bearer s3cret")));
        for bad in [&b"Bearer s3cre"[..], b"Bearer s3cret!", b"bearer s3cret", b"s3cret", b""] {
            assert!(!authorized(Some("s3cret"), Some(bad)), "{bad:?}");
        }
        assert!(!authorized(Some("s3cret"), None));
    }
}
