//! OTLP/HTTP: `POST /v1/traces`, `/v1/logs`, `/v1/metrics`, protobuf or JSON, gzip or not,
//! answered as the OpenTelemetry Collector answers: 200 with an empty response once stored,
//! 400 for a payload that does not decode (the store unchanged), 401 without the token, 405
//! for another method, 413 over 20 MiB (counted after decompression: a gzip bomb stops
//! there), 415 for another content type or encoding, 503 with `Retry-After` while the writer
//! is behind or the disk fails. Errors carry a `google.rpc.Status` in the request's format.
//! `GET /metrics` serves the receiver's own counters.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use tsim_store::Table;

use crate::grpc::Shared;
use crate::payload::{HTTP_MAX, authorized, json, protobuf};
use crate::stats::{SignalStats, Stats};

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

/// The routes.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/traces", post(|s, r| export(s, Table::Traces, r)))
        .route("/v1/logs", post(|s, r| export(s, Table::Logs, r)))
        .route("/v1/metrics", post(|s, r| export(s, Table::Metrics, r)))
        .route("/metrics", get(own_metrics))
        .with_state(shared)
}

/// An error answer: `google.rpc.Status` (code, message) as protobuf or JSON.
fn status(http: StatusCode, grpc_code: i32, message: &str, json_body: bool) -> Response {
    let mut resp = if json_body {
        let body = serde_json::json!({"code": grpc_code, "message": message}).to_string();
        (http, [(header::CONTENT_TYPE, JSON)], body).into_response()
    } else {
        // google.rpc.Status: field 1 code (varint), field 2 message (string).
        let mut b = Vec::with_capacity(message.len() + 8);
        b.push(0x08);
        prost::encoding::encode_varint(u64::from(grpc_code.cast_unsigned()), &mut b);
        b.push(0x12);
        prost::encoding::encode_varint(message.len() as u64, &mut b);
        b.extend_from_slice(message.as_bytes());
        (http, [(header::CONTENT_TYPE, PROTOBUF)], b).into_response()
    };
    if http == StatusCode::SERVICE_UNAVAILABLE {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    resp
}

/// Reads at most `HTTP_MAX` bytes of a gzip stream; `None` when it holds more.
fn gunzip(body: &[u8]) -> Result<Option<Vec<u8>>, std::io::Error> {
    let mut out = Vec::new();
    let limit = u64::try_from(HTTP_MAX).unwrap_or(u64::MAX) + 1;
    flate2::read::MultiGzDecoder::new(body).take(limit).read_to_end(&mut out)?;
    Ok((out.len() <= HTTP_MAX).then_some(out))
}

async fn export(State(shared): State<Arc<Shared>>, table: Table, req: Request) -> Response {
    let refused = || shared.ingest.stats.of(table).refused.fetch_add(1, Ordering::Relaxed);
    let headers: HeaderMap = req.headers().clone();
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let is_json = media == JSON;
    if !authorized(shared.token.as_deref(), headers.get(header::AUTHORIZATION).map(HeaderValue::as_bytes)) {
        refused();
        return status(StatusCode::UNAUTHORIZED, 16, "a bearer token is required (Authorization: Bearer …)", is_json);
    }
    if media != PROTOBUF && !is_json {
        refused();
        return status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            3,
            &format!("content type `{content_type}` is not {PROTOBUF} or {JSON}"),
            false,
        );
    }
    let encoding = headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("identity");
    let body = match to_bytes(Body::new(req.into_body()), HTTP_MAX).await {
        Ok(b) => b,
        Err(_) => {
            refused();
            return status(StatusCode::PAYLOAD_TOO_LARGE, 8, "the body is larger than the 20 MiB limit", is_json);
        }
    };
    let body: Bytes = match encoding.trim().to_ascii_lowercase().as_str() {
        "identity" | "" => body,
        "gzip" => match gunzip(&body) {
            Ok(Some(b)) => Bytes::from(b),
            Ok(None) => {
                refused();
                return status(StatusCode::PAYLOAD_TOO_LARGE, 8, "the body decompresses to more than 20 MiB", is_json);
            }
            Err(e) => {
                refused();
                return status(StatusCode::BAD_REQUEST, 3, &format!("the gzip body does not decompress: {e}"), is_json);
            }
        },
        other => {
            refused();
            return status(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                3,
                &format!("content encoding `{other}` is not gzip or identity"),
                is_json,
            );
        }
    };
    let checked = if is_json { json(table, &body) } else { protobuf(table, body) };
    let checked = match checked {
        Ok(c) => c,
        Err(e) => {
            refused();
            return status(StatusCode::BAD_REQUEST, 3, &format!("the payload does not decode: {e}"), is_json);
        }
    };
    match shared.ingest.store(table, checked.payload, checked.items).await {
        Ok(()) if is_json => (StatusCode::OK, [(header::CONTENT_TYPE, JSON)], "{}").into_response(),
        Ok(()) => (StatusCode::OK, [(header::CONTENT_TYPE, PROTOBUF)], Vec::new()).into_response(),
        Err(r) => status(StatusCode::SERVICE_UNAVAILABLE, 14, &r.to_string(), is_json),
    }
}

/// The receiver's own counters, in the Prometheus text format.
pub(crate) fn exposition(s: &Stats) -> String {
    let mut out = String::new();
    let mut family = |name: &str, help: &str, kind: &str, rows: Vec<(String, u64)>| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for (labels, v) in rows {
            out.push_str(&format!("{name}{labels} {v}\n"));
        }
    };
    let per = |f: fn(&SignalStats) -> u64| {
        Table::ALL.iter().map(|t| (format!("{{signal=\"{}\"}}", t.signal()), f(s.of(*t)))).collect::<Vec<_>>()
    };
    family(
        "telemetry_simulator_receiver_requests_total",
        "Requests acknowledged (durable in the log).",
        "counter",
        per(|x| x.requests.load(Ordering::Relaxed)),
    );
    family(
        "telemetry_simulator_receiver_refused_requests_total",
        "Requests refused (bad payload, limit, token, writer behind or failing).",
        "counter",
        per(|x| x.refused.load(Ordering::Relaxed)),
    );
    family(
        "telemetry_simulator_receiver_items_total",
        "Items (spans, log records, metric points) acknowledged.",
        "counter",
        per(|x| x.acked.load(Ordering::Relaxed)),
    );
    family(
        "telemetry_simulator_receiver_stored_items_total",
        "Items converted into Parquet.",
        "counter",
        per(|x| x.stored.load(Ordering::Relaxed)),
    );
    family(
        "telemetry_simulator_receiver_wal_bytes_total",
        "Bytes appended to the write-ahead log.",
        "counter",
        vec![(String::new(), s.wal_bytes.load(Ordering::Relaxed))],
    );
    family(
        "telemetry_simulator_receiver_syncs_total",
        "Group commits (one sync each).",
        "counter",
        vec![(String::new(), s.syncs.load(Ordering::Relaxed))],
    );
    out
}

async fn own_metrics(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], exposition(&shared.ingest.stats))
}
