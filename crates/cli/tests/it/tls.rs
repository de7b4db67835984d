//! TLS both ways, with a private CA made here by the `openssl` command: our sender into
//! `receive` over TLS and mutual TLS (gRPC set by flags, HTTP by the OpenTelemetry
//! variables), checked with `verify`; the OpenTelemetry Python SDK and rotel as TLS clients;
//! and the failures — no CA, a certificate for another name, no client certificate, an
//! expired or foreign one, plain text either way, a client that never speaks, bad files —
//! each ending in counted drops or an error that names its cause, while the receiver keeps
//! serving.
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{OurReceiver, Rotel, Run, START, bin, free_port, python, repo, run_in, tempdir, wait_until};

/// Makes, in the current folder: the CAs `ca` and `other-ca`; the server certificates
/// `server` (localhost, 127.0.0.1) and `wrong-name` (elsewhere.example); the client
/// certificates `client`, `other-client` (signed by `other-ca`) and `expired-client`
/// (valid on 1 January 2020 only); each `NAME.pem` with its key `NAME.key`.
const MAKE_PKI: &str = r#"
set -e
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
for ca in ca other-ca; do
  openssl req -x509 $ec -keyout $ca.key -out $ca.pem -days 2 -subj "/CN=tsim test $ca" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
done
leaf() {
  openssl req $ec -keyout $1.key -out $1.csr -subj "/CN=$1"
  printf "$3\nbasicConstraints=CA:FALSE\n" > $1.ext
  openssl x509 -req -in $1.csr -CA $2.pem -CAkey $2.key -CAcreateserial -out $1.pem -days 2 -extfile $1.ext
}
leaf server ca "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth"
leaf wrong-name ca "subjectAltName=DNS:elsewhere.example\nextendedKeyUsage=serverAuth"
leaf client ca "extendedKeyUsage=clientAuth"
leaf other-client other-ca "extendedKeyUsage=clientAuth"
: > index.txt
echo 01 > serial
printf "[ca]\ndefault_ca=t\n[t]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n" > ca.cnf
openssl req $ec -keyout expired-client.key -out expired-client.csr -subj /CN=expired-client
openssl ca -batch -notext -config ca.cnf -cert ca.pem -keyfile ca.key -in expired-client.csr \
  -out expired-client.pem -startdate 20200101000000Z -enddate 20200102000000Z -extfile client.ext
"#;

/// The private PKI of a test (see [`MAKE_PKI`]).
struct Pki(PathBuf);

impl Pki {
    fn new() -> Pki {
        let dir = tempdir("pki");
        let out = Command::new("sh").current_dir(&dir).args(["-c", MAKE_PKI]).output().expect("sh and openssl");
        assert!(out.status.success(), "making the PKI: {}", String::from_utf8_lossy(&out.stderr));
        Pki(dir)
    }

    /// `NAME.pem` or `NAME.key`.
    fn file(&self, name: &str) -> String {
        self.0.join(name).to_str().unwrap().to_owned()
    }
}

/// `receive` with `cert` as its server certificate; with `mutual`, client certificates
/// signed by `ca` are required.
fn receiver(pki: &Pki, store: &Path, cert: &str, mutual: bool) -> OurReceiver {
    let (c, k, ca) = (pki.file(&format!("{cert}.pem")), pki.file(&format!("{cert}.key")), pki.file("ca.pem"));
    let mut args = vec!["--tls-cert", c.as_str(), "--tls-key", k.as_str()];
    if mutual {
        args.extend(["--tls-client-ca", ca.as_str()]);
    }
    OurReceiver::start_with(store, free_port(), free_port(), &args, &[])
}

/// A run of 30 traces in the past (at CPU speed) with `args` and `env`; retries end after 5 s.
fn send(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let fixed = ["--seed", "3", "--start-time", START, "--retry-max-elapsed", "5s"];
    let all: Vec<&str> = fixed.iter().chain(args).chain(&["run", "--count", "30", "--rate", "20"]).copied().collect();
    run_in(dir, &all, env)
}

/// Items per signal: (delivered, dropped) over every sink of a run's summary.
fn totals(r: &Run) -> (u64, u64) {
    let sinks = r.summary["sinks"].as_array().unwrap_or_else(|| panic!("no summary: {}", r.stderr()));
    let delivered = sinks.iter().map(|s| s["delivered"].as_u64().unwrap()).sum();
    let dropped = sinks.iter().flat_map(|s| s["dropped"].as_object().unwrap().values()).map(|v| v.as_u64().unwrap());
    (delivered, dropped.sum())
}

/// A run whose every item was dropped, some of them for the reason `why` (with the peer).
fn assert_refused(r: &Run, why: &str) {
    assert_eq!(r.code(), 3, "{}", r.stderr());
    r.assert_balanced();
    let (delivered, dropped) = totals(r);
    assert!(delivered == 0 && dropped > 0, "{}", r.summary);
    assert!(r.summary["sinks"].to_string().contains(why), "no drop for `{why}`: {}", r.summary);
}

/// Spans the traces sinks of a run delivered.
fn spans(r: &Run) -> u64 {
    let sinks = r.summary["sinks"].as_array().unwrap();
    sinks.iter().filter(|s| s["signal"] == "traces").map(|s| s["delivered"].as_u64().unwrap()).sum()
}

/// `verify` of a run's manifest against the store says identical.
fn assert_identical(manifest: &Path, store: &Path) {
    let out = Command::new(bin())
        .args(["verify", "--manifest", manifest.to_str().unwrap(), "--store", store.to_str().unwrap()])
        .args(["--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!((out.status.code(), &v["verdict"]), (Some(0), &serde_json::json!("identical")), "{v}");
}

/// The receiver's `/metrics` over TLS (with the client certificate when `mutual`), read
/// by Python's `requests`.
fn own_metrics(pki: &Pki, port: u16, mutual: bool) -> String {
    let code = "import requests, sys\n\
                cert = (sys.argv[3], sys.argv[4]) if len(sys.argv) > 3 else None\n\
                print(requests.get(sys.argv[1], verify=sys.argv[2], cert=cert, timeout=30).text)";
    let mut cmd = Command::new(python());
    cmd.args(["-c", code, &format!("https://127.0.0.1:{port}/metrics"), &pki.file("ca.pem")]);
    if mutual {
        cmd.args([pki.file("client.pem"), pki.file("client.key")]);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The OpenTelemetry Python SDK's gRPC and HTTP exporters over TLS, their CA and client
/// certificate from the SDK's own variables: the 8 spans it sent.
fn sdk_send(pki: &Pki, r: &OurReceiver, mutual: bool) -> u64 {
    let mut cmd = Command::new(python());
    cmd.arg(repo().join("tests/peers/sdk_send.py")).args([r.grpc.to_string(), r.http.to_string()]).arg("https");
    cmd.env("OTEL_EXPORTER_OTLP_CERTIFICATE", pki.file("ca.pem"));
    // requests lets these replace the exporter's CA file (it sets it on its session).
    cmd.env_remove("REQUESTS_CA_BUNDLE").env_remove("CURL_CA_BUNDLE");
    // A run of its own for `verify`.
    cmd.env("OTEL_RESOURCE_ATTRIBUTES", "telemetry_simulator.run.id=sdk");
    if mutual {
        cmd.env("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", pki.file("client.pem"));
        cmd.env("OTEL_EXPORTER_OTLP_CLIENT_KEY", pki.file("client.key"));
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "the SDK over TLS: {}", String::from_utf8_lossy(&out.stderr));
    let sent: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sent.len(), 8);
    8
}

/// rotel as a TLS client: our run into its plain gRPC receiver, its OTLP exporter into
/// `receive` over TLS. (Its exporter in the pinned version starts with no TLS file at all —
/// any of them fails with "Either both or neither of cert and key must be provided" — so it
/// does not verify; and its own receiver has no TLS.) The spans it took.
fn through_rotel(dir: &Path, r: &OurReceiver) -> (Rotel, u64) {
    let endpoint = format!("https://127.0.0.1:{}", r.grpc);
    let rotel = Rotel::start_with(&[
        "--exporter",
        "otlp",
        "--otlp-exporter-endpoint",
        &endpoint,
        "--otlp-exporter-protocol",
        "grpc",
        "--otlp-exporter-tls-skip-verify",
    ]);
    let into = format!("http://127.0.0.1:{}", rotel.grpc_port);
    let sent =
        send(dir, &["--endpoint", &into, "--protocol", "grpc", "--signals", "traces", "--run-id", "rotel", "-q"], &[]);
    sent.assert_all_delivered();
    (rotel, spans(&sent))
}

/// The items the receiver acknowledged for `signal`, from its `/metrics`.
fn acknowledged(metrics: &str, signal: &str) -> u64 {
    let key = format!("telemetry_simulator_receiver_items_total{{signal=\"{signal}\"}} ");
    metrics.lines().find_map(|l| l.strip_prefix(&key)).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

#[test]
fn our_sender_the_sdk_and_rotel_deliver_over_tls_and_mutual_tls_on_both_listeners() {
    let pki = Pki::new();
    let (ca, cc, ck) = (pki.file("ca.pem"), pki.file("client.pem"), pki.file("client.key"));
    for mutual in [false, true] {
        let dir = tempdir("tls-deliver");
        let store = dir.join("store");
        let r = receiver(&pki, &store, "server", mutual);
        let (grpc, http) = (format!("https://127.0.0.1:{}", r.grpc), format!("https://localhost:{}", r.http));
        let client = if mutual { vec!["--client-cert", cc.as_str(), "--client-key", ck.as_str()] } else { vec![] };

        // gRPC, set by flags.
        let m_grpc = dir.join("grpc.json");
        let mut args = vec!["--endpoint", &grpc, "--protocol", "grpc", "--ca-cert", &ca, "--run-id", "grpc"];
        args.extend(["--manifest", m_grpc.to_str().unwrap()]);
        args.extend(&client);
        let by_grpc = send(&dir, &args, &[]);
        assert_eq!(by_grpc.code(), 0, "{}", by_grpc.stderr());
        by_grpc.assert_all_delivered();

        // HTTP, set by the OpenTelemetry variables: each signal's CA wins over the general one
        // (a file that does not exist).
        let m_http = dir.join("http.json");
        let mut env = vec![("OTEL_EXPORTER_OTLP_ENDPOINT", http.as_str())];
        env.push(("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem"));
        for var in [
            "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
            "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE",
            "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
        ] {
            env.push((var, ca.as_str()));
        }
        if mutual {
            env.extend([
                ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", cc.as_str()),
                ("OTEL_EXPORTER_OTLP_CLIENT_KEY", &ck),
            ]);
        }
        let by_http = send(&dir, &["--run-id", "http", "--manifest", m_http.to_str().unwrap()], &env);
        assert_eq!(by_http.code(), 0, "{}", by_http.stderr());
        by_http.assert_all_delivered();
        assert!(by_http.summary["sinks"][0]["name"].as_str().unwrap().contains("https://localhost:"));

        let mut want = spans(&by_grpc) + spans(&by_http) + sdk_send(&pki, &r, mutual);
        let rotel = (!mutual).then(|| through_rotel(&dir, &r));
        want += rotel.as_ref().map_or(0, |(_, n)| *n);
        wait_until("the receiver to acknowledge every span", || {
            acknowledged(&own_metrics(&pki, r.http, mutual), "traces") >= want
        });
        drop(rotel);
        if mutual {
            refused_client_certificates(&pki, &dir, &grpc, &http);
        }

        let said = r.stop();
        let said_text = String::from_utf8_lossy(&said.stderr);
        assert!(said.status.success(), "{said_text}");
        let start = if mutual { "over TLS (client certificates required) on https://" } else { "over TLS on https://" };
        assert!(said_text.contains(start), "{said_text}");
        assert!(said_text.contains(&format!("traces   {want} items")), "want {want}: {said_text}");
        if mutual {
            assert!(said_text.contains("peer sent no certificates"), "{said_text}");
        }
        assert_identical(&m_grpc, &store);
        assert_identical(&m_http, &store);
    }
}

/// Against a receiver that requires client certificates: none, an expired one, one of
/// another CA — refused at the handshake, every item dropped, the reason naming the peer.
fn refused_client_certificates(pki: &Pki, dir: &Path, grpc: &str, http: &str) {
    let ca = pki.file("ca.pem");
    let none = send(dir, &["--endpoint", http, "--ca-cert", &ca, "-q"], &[]);
    assert_refused(&none, &format!("TLS handshake with {} failed", http.trim_start_matches("https://")));
    for (client, endpoint, protocol) in [("expired-client", grpc, "grpc"), ("other-client", http, "http/protobuf")] {
        let (c, k) = (pki.file(&format!("{client}.pem")), pki.file(&format!("{client}.key")));
        let r = send(
            dir,
            &[
                "--endpoint",
                endpoint,
                "--protocol",
                protocol,
                "--ca-cert",
                &ca,
                "--client-cert",
                &c,
                "--client-key",
                &k,
            ],
            &[],
        );
        assert_refused(&r, "TLS handshake with");
    }
}

#[test]
fn failed_handshakes_are_counted_drops_and_the_receiver_keeps_serving() {
    let pki = Pki::new();
    let dir = tempdir("tls-fail");
    let ca = pki.file("ca.pem");
    // Its certificate names elsewhere.example, not 127.0.0.1.
    let r = receiver(&pki, &dir.join("store"), "wrong-name", false);
    let (grpc, http) = (format!("127.0.0.1:{}", r.grpc), format!("127.0.0.1:{}", r.http));
    // Clients that connect and never speak, there all along.
    let silent: Vec<_> = [r.grpc, r.http].map(|p| std::net::TcpStream::connect(("127.0.0.1", p)).unwrap()).into();

    let named = send(&dir, &["--endpoint", &format!("https://{grpc}"), "--protocol", "grpc", "--ca-cert", &ca], &[]);
    assert_refused(
        &named,
        &format!("TLS handshake with {grpc} failed: invalid peer certificate: certificate not valid for name"),
    );
    let unknown = send(&dir, &["--endpoint", &format!("https://{http}")], &[]);
    assert_refused(&unknown, &format!("TLS handshake with {http} failed: invalid peer certificate: UnknownIssuer"));
    // Plain text into the TLS listeners: refused, ended by the retry bound at the latest.
    let plain_grpc = send(&dir, &["--endpoint", &format!("http://{grpc}"), "--protocol", "grpc", "-q"], &[]);
    assert_refused(&plain_grpc, "grpc");
    let plain_http = send(&dir, &["--endpoint", &format!("http://{http}"), "-q"], &[]);
    assert_refused(&plain_http, "http");

    // TLS into plain listeners.
    let plain = OurReceiver::start(&dir.join("plain-store"), &[]);
    for (port, protocol) in [(plain.grpc, "grpc"), (plain.http, "http/protobuf")] {
        let url = format!("https://127.0.0.1:{port}");
        let r = send(&dir, &["--endpoint", &url, "--protocol", protocol, "--ca-cert", &ca, "-q"], &[]);
        assert_refused(&r, &format!("TLS handshake with 127.0.0.1:{port} failed: received corrupt message"));
    }
    drop(plain);

    // Still serving: the insecure mode gets through, and the summary says how insecure.
    let insecure = send(&dir, &["--endpoint", &format!("https://{grpc}"), "--protocol", "grpc", "--insecure"], &[]);
    assert_eq!(insecure.code(), 0, "{}", insecure.stderr());
    insecure.assert_all_delivered();
    let line =
        format!("insecure: otlp-grpc https://{grpc}: TLS without verifying the server's certificate (--insecure)");
    assert!(insecure.stderr().contains(&line), "{}", insecure.stderr());
    assert_eq!(insecure.summary["insecure"].as_array().unwrap().len(), 3, "{}", insecure.summary);
    drop(silent);

    let said = r.stop();
    let text = String::from_utf8_lossy(&said.stderr);
    assert!(said.status.success(), "{text}");
    assert!(text.contains("refused a TLS handshake on the gRPC listener from 127.0.0.1:"), "{text}");
    let refused: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("tls      ")?.strip_suffix(" handshakes refused")?.parse().ok())
        .unwrap_or_else(|| panic!("no count of refused handshakes: {text}"));
    assert!(refused >= 4, "{text}");
    assert!(text.contains(&format!("traces   {} items", spans(&insecure))), "{text}");
}

/// Environment variables of a case.
type Env<'a> = Vec<(&'a str, &'a str)>;

/// Runs the binary with `args` and `env`; its exit code and stderr.
fn fails(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let out = Command::new(bin()).args(args).envs(env.iter().copied()).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn bad_tls_files_are_named_with_their_flag_or_variable_before_any_connection() {
    let pki = Pki::new();
    let dir = tempdir("tls-files");
    let missing = dir.join("missing.pem");
    let missing = missing.to_str().unwrap();
    let (cc, ck, sk) = (pki.file("client.pem"), pki.file("client.key"), pki.file("server.key"));
    // Nobody listens on port 1: an error there would be a connection's, not the file's.
    let run = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["--endpoint", "https://127.0.0.1:1", "--protocol", "grpc"];
        args.extend(extra);
        args.extend(["run", "--count", "1"]);
        fails(&args, env)
    };
    let cases: Vec<(Vec<&str>, Env, i32, String)> = vec![
        (vec!["--ca-cert", missing], vec![], 1, format!("error: --ca-cert {missing}: cannot read")),
        (vec!["--ca-cert", &ck], vec![], 1, format!("error: --ca-cert {ck}: holds no PEM certificate")),
        (
            vec!["--client-cert", &cc],
            vec![("OTEL_EXPORTER_OTLP_CLIENT_KEY", missing)],
            1,
            format!("error: OTEL_EXPORTER_OTLP_CLIENT_KEY {missing}: cannot read"),
        ),
        (vec!["--client-cert", &cc], vec![], 2, format!("error: --client-cert {cc} is given without a client key")),
        (
            vec!["--client-cert", &cc, "--client-key", &sk],
            vec![],
            1,
            format!("--client-cert {cc} with --client-key {sk}"),
        ),
        (
            vec![],
            vec![("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", missing)],
            1,
            format!("error: OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE {missing}: cannot read"),
        ),
        (
            vec![],
            vec![("OTEL_EXPORTER_OTLP_INSECURE", "maybe")],
            2,
            "error: OTEL_EXPORTER_OTLP_INSECURE `maybe` is not true or false".into(),
        ),
    ];
    for (args, env, code, says) in cases {
        let (got, err) = run(&args, &env);
        assert!(got == code && err.contains(&says), "{args:?} {env:?}: exit {got}, want {code} and `{says}`: {err}");
    }
    // The outputs that are not OTLP take the same flags.
    let (got, err) = fails(
        &["--remote-write", "https://127.0.0.1:1/api/v1/write", "--ca-cert", missing, "run", "--count", "1"],
        &[],
    );
    assert!(got == 1 && err.contains(&format!("--ca-cert {missing}: cannot read")), "{err}");

    // The receiver's files.
    let store = dir.join("store");
    let receive = |extra: &[&str]| {
        let mut args = vec!["receive", "--store", store.to_str().unwrap(), "--grpc-listen", "127.0.0.1:0"];
        args.extend(["--http-listen", "127.0.0.1:0"]);
        args.extend(extra);
        fails(&args, &[])
    };
    let (sc, ca) = (pki.file("server.pem"), pki.file("ca.pem"));
    for (args, code, says) in [
        (vec!["--tls-cert", missing, "--tls-key", &sk], 1, format!("error: --tls-cert {missing}: cannot read")),
        (vec!["--tls-cert", &sc, "--tls-key", &ck], 1, format!("--tls-cert {sc} with --tls-key {ck}")),
        (
            vec!["--tls-cert", &sc, "--tls-key", &sk, "--tls-client-ca", &sk],
            1,
            format!("error: --tls-client-ca {sk}: holds no PEM certificate"),
        ),
        (vec!["--tls-cert", &sc], 2, "--tls-key <FILE>".into()),
        (vec!["--tls-client-ca", &ca], 2, "--tls-cert <FILE>".into()),
    ] {
        let (got, err) = receive(&args);
        assert!(got == code && err.contains(&says), "{args:?}: exit {got}, want {code} and `{says}`: {err}");
    }
}
