//! The receiver embedded without the command line: started on port 0, one OTLP/HTTP
//! protobuf request of a few spans posted over a plain TCP connection, shut down, and the
//! store read back: every span acknowledged is in Parquet.

use std::fs;
use std::path::{Path, PathBuf};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use parquet::file::reader::{FileReader, SerializedFileReader};
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tsim_receive::{Receiver, ReceiverConfig, Table};
use tsim_store::Snapshot;

const SPANS: u64 = 5;

/// A request of `SPANS` spans of the service `checkout`, at a fixed time.
fn request() -> Vec<u8> {
    let t0 = 1_764_590_400_000_000_000u64;
    let spans = (0..SPANS)
        .map(|i| Span {
            trace_id: vec![7; 16],
            span_id: (i + 1).to_be_bytes().to_vec(),
            name: format!("step {i}"),
            start_time_unix_nano: t0 + i * 1_000_000,
            end_time_unix_nano: t0 + (i + 1) * 1_000_000,
            ..Span::default()
        })
        .collect();
    let service = KeyValue {
        key: "service.name".into(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue("checkout".into())) }),
        ..KeyValue::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource { attributes: vec![service], ..Resource::default() }),
            scope_spans: vec![ScopeSpans { spans, ..ScopeSpans::default() }],
            ..ResourceSpans::default()
        }],
    }
    .encode_to_vec()
}

/// Posts `body` to `/v1/traces` over HTTP/1.1 and returns the status line.
async fn post(addr: std::net::SocketAddr, body: &[u8]) -> String {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-protobuf\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await.expect("write head");
    tcp.write_all(body).await.expect("write body");
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).await.expect("read answer");
    String::from_utf8_lossy(&answer).lines().next().unwrap_or("").to_owned()
}

fn rows(files: &[PathBuf]) -> u64 {
    files
        .iter()
        .map(|p| {
            let r = SerializedFileReader::new(fs::File::open(p).expect("open")).expect("parquet");
            u64::try_from(r.metadata().file_metadata().num_rows()).expect("rows")
        })
        .sum()
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tsim-receive-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn stored_spans(root: &Path) -> (u64, usize) {
    let snap = Snapshot::open(root).expect("snapshot");
    let files = snap.files(Table::Traces, |_| true).expect("files");
    (rows(&files), snap.pending().len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_receiver_stores_what_it_acknowledges() {
    let root = fresh_dir("embed");
    let running = Receiver::start(ReceiverConfig::new(&root)).await.expect("start");
    assert_ne!(running.http_addr().port(), 0);
    assert_ne!(running.grpc_addr().port(), 0);

    let status = post(running.http_addr(), &request()).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    let now = running.stats();
    assert_eq!(now.of(Table::Traces).acked, SPANS, "acknowledged means durable in the log");
    assert_eq!(now.services.get(&(Table::Traces, "checkout".to_owned())), Some(&SPANS));

    let summary = running.shutdown().await.expect("shutdown");
    let traces = summary.counts.of(Table::Traces);
    assert_eq!((traces.requests, traces.acked, traces.stored, traces.refused), (1, SPANS, SPANS, 0));
    assert!(!summary.unconverted());

    // Everything is in Parquet, nothing left in the log.
    assert_eq!(stored_spans(&root), (SPANS, 0));
    let _ = fs::remove_dir_all(&root);
}
