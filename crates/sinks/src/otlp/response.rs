//! Decoding OTLP responses: partial success (protobuf and JSON), gRPC `RetryInfo`, and
//! HTTP `Retry-After`.

use std::time::Duration;

use prost::Message;

/// `Export{Trace,Logs,Metrics}ServiceResponse` (only what we read: the three share the shape).
#[derive(Clone, PartialEq, Message)]
pub struct ExportResponse {
    /// Partial success, when the server rejected some items.
    #[prost(message, optional, tag = "1")]
    pub partial_success: Option<PartialSuccess>,
}

/// `ExportTracePartialSuccess`.
#[derive(Clone, PartialEq, Message)]
pub struct PartialSuccess {
    /// Items rejected.
    #[prost(int64, tag = "1")]
    pub rejected: i64,
    /// Why.
    #[prost(string, tag = "2")]
    pub error_message: String,
}

/// `google.rpc.Status`.
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<Any>,
}

#[derive(Clone, PartialEq, Message)]
struct Any {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    retry_delay: Option<ProtoDuration>,
}

#[derive(Clone, PartialEq, Message)]
struct ProtoDuration {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

/// Rejected items and message from a protobuf response body (empty body: none).
pub fn partial_success_proto(body: &[u8]) -> Option<(u64, String)> {
    let r = ExportResponse::decode(body).ok()?;
    let p = r.partial_success?;
    (p.rejected > 0 || !p.error_message.is_empty()).then(|| (p.rejected.max(0) as u64, p.error_message))
}

/// Rejected items and message from an OTLP/JSON response body; `field` names the counter
/// (`rejectedSpans`, `rejectedLogRecords`, …).
pub fn partial_success_json(body: &[u8], field: &str) -> Option<(u64, String)> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let p = v.get("partialSuccess")?;
    let rejected = match p.get(field) {
        Some(serde_json::Value::String(s)) => s.parse().unwrap_or(0),
        Some(serde_json::Value::Number(n)) => n.as_u64().unwrap_or(0),
        _ => 0,
    };
    let msg = p.get("errorMessage").and_then(|m| m.as_str()).unwrap_or_default().to_string();
    (rejected > 0 || !msg.is_empty()).then_some((rejected, msg))
}

/// The delay of a `google.rpc.RetryInfo` in gRPC status details, if present.
pub fn grpc_retry_delay(details: &[u8]) -> Option<Duration> {
    let st = RpcStatus::decode(details).ok()?;
    st.details.iter().find(|a| a.type_url.ends_with("google.rpc.RetryInfo")).and_then(|a| {
        let ri = RetryInfo::decode(a.value.as_slice()).ok()?;
        let d = ri.retry_delay?;
        Some(Duration::from_secs(d.seconds.max(0) as u64) + Duration::from_nanos(d.nanos.max(0) as u64))
    })
}

/// `Retry-After`: delta-seconds or an HTTP date (relative to `now_unix_s`).
pub fn retry_after(value: &str, now_unix_s: i64) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let ts = jiff::fmt::rfc2822::parse(v).ok()?.timestamp();
    Some(Duration::from_secs((ts.as_second() - now_unix_s).max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_partial_success() {
        let body =
            ExportResponse { partial_success: Some(PartialSuccess { rejected: 3, error_message: "bad".into() }) }
                .encode_to_vec();
        assert_eq!(partial_success_proto(&body), Some((3, "bad".into())));
        assert_eq!(partial_success_proto(&[]), None);
        assert_eq!(
            partial_success_json(br#"{"partialSuccess":{"rejectedSpans":"2","errorMessage":"x"}}"#, "rejectedSpans"),
            Some((2, "x".into()))
        );
        assert_eq!(partial_success_json(b"{}", "rejectedSpans"), None);
    }

    #[test]
    fn decodes_retry_hints() {
        let ri = RetryInfo { retry_delay: Some(ProtoDuration { seconds: 2, nanos: 500_000_000 }) }.encode_to_vec();
        let st = RpcStatus {
            code: 8,
            message: "slow down".into(),
            details: vec![Any { type_url: "type.googleapis.com/google.rpc.RetryInfo".into(), value: ri }],
        }
        .encode_to_vec();
        assert_eq!(grpc_retry_delay(&st), Some(Duration::from_millis(2500)));
        assert_eq!(retry_after("7", 0), Some(Duration::from_secs(7)));
        assert_eq!(retry_after("Thu, 01 Jan 1970 00:00:10 GMT", 4), Some(Duration::from_secs(6)));
        assert_eq!(retry_after("soon", 0), None);
    }
}
