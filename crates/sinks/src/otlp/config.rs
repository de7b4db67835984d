//! OTLP exporter configuration, resolved like the OpenTelemetry SDKs do.
//!
//! Endpoint precedence: `--endpoint` (a base URL; `/v1/traces` is appended when it has no
//! path), then `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as is), then
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (a base: `v1/traces` is appended for HTTP), then
//! `OTLP_HTTP_ENDPOINT` (a base, HTTP). Protocol, headers, compression and timeout follow
//! the same signal-specific-first order, with the spec's defaults (http/protobuf, 10 s).
//!
//! TLS: `--ca-cert`, `--client-cert`, `--client-key` win over `OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE`
//! (`_CLIENT_CERTIFICATE`, `_CLIENT_KEY`), which win over `OTEL_EXPORTER_OTLP_CERTIFICATE` (…).
//! An endpoint's scheme decides between TLS and plain text. Without one (`host:port`):
//! `--insecure` means plain text; for gRPC, `OTEL_EXPORTER_OTLP_[TRACES_]INSECURE` does as the
//! spec says (`true` plain text, `false` TLS); else TLS when a CA file or client certificate is
//! set, plain text otherwise (the SDKs' default is TLS; this tool's has always been plain).
//! The variable never downgrades an explicit `https://` (the spec: the scheme wins);
//! `--insecure` on `https://` keeps TLS but does not verify the server's certificate.

use std::path::PathBuf;
use std::time::Duration;

use crate::ConfigError;
use crate::tls::{Sourced, TlsSettings};

/// OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// gRPC (default port 4317).
    Grpc,
    /// HTTP with protobuf bodies (default port 4318).
    HttpProtobuf,
    /// HTTP with OTLP/JSON bodies.
    HttpJson,
}

impl Protocol {
    /// Parses `grpc`, `http/protobuf`, `http/json`.
    pub fn parse(s: &str) -> Result<Self, ConfigError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "grpc" => Ok(Protocol::Grpc),
            "http/protobuf" | "http" | "http/proto" => Ok(Protocol::HttpProtobuf),
            "http/json" | "json" => Ok(Protocol::HttpJson),
            other => Err(ConfigError::Protocol(other.to_string())),
        }
    }

    /// The spec's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::HttpJson => "http/json",
        }
    }
}

/// Request body compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// None.
    None,
    /// gzip.
    Gzip,
}

impl Compression {
    /// Parses `gzip` or `none`.
    pub fn parse(s: &str) -> Result<Self, ConfigError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "gzip" => Ok(Compression::Gzip),
            "none" | "" => Ok(Compression::None),
            other => Err(ConfigError::Compression(other.to_string())),
        }
    }
}

/// A resolved exporter configuration for one signal.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpConfig {
    /// Full URL: for HTTP including the signal path; for gRPC the server's base URL.
    pub url: String,
    /// Transport.
    pub protocol: Protocol,
    /// Extra request headers (gRPC metadata).
    pub headers: Vec<(String, String)>,
    /// Body compression.
    pub compression: Compression,
    /// Per-request timeout.
    pub timeout: Duration,
    /// The TLS files and mode (used when `url` is `https://`; the mode also for a note).
    pub tls: TlsSettings,
}

/// Flags that override the environment.
#[derive(Debug, Clone, Default)]
pub struct OtlpFlags {
    /// `--endpoint`.
    pub endpoint: Option<String>,
    /// `--protocol`.
    pub protocol: Option<String>,
    /// `--header k=v`.
    pub headers: Vec<String>,
    /// `--compression`.
    pub compression: Option<String>,
    /// `--timeout` in milliseconds.
    pub timeout_ms: Option<u64>,
    /// `--ca-cert`.
    pub ca_cert: Option<PathBuf>,
    /// `--client-cert`.
    pub client_cert: Option<PathBuf>,
    /// `--client-key`.
    pub client_key: Option<PathBuf>,
    /// `--insecure`.
    pub insecure: bool,
}

impl OtlpFlags {
    /// The TLS of the flags alone, for the outputs that are not OTLP (the OTLP variables are
    /// not theirs, as for `--header`).
    pub fn tls(&self) -> TlsSettings {
        let file = |p: &Option<PathBuf>, flag: &str| p.clone().map(|p| Sourced::new(p, flag));
        TlsSettings {
            ca: file(&self.ca_cert, "--ca-cert"),
            cert: file(&self.client_cert, "--client-cert"),
            key: file(&self.client_key, "--client-key"),
            insecure: self.insecure.then(|| "--insecure".to_string()),
        }
    }
}

/// Default per-request timeout of the spec.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

fn has_path(url: &str) -> bool {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    matches!(rest.find('/'), Some(i) if i + 1 < rest.len())
}

fn with_scheme(url: &str, tls: bool) -> String {
    match (url.contains("://"), tls) {
        (true, _) => url.to_string(),
        (false, true) => format!("https://{url}"),
        (false, false) => format!("http://{url}"),
    }
}

/// Parses an `OTEL_EXPORTER_OTLP_*INSECURE` value.
fn parse_bool(name: &str, v: &str) -> Result<bool, ConfigError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ConfigError::Bool { name: name.to_string(), value: v.to_string() }),
    }
}

fn append_signal_path(base: &str, path: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), path)
}

/// Parses `k=v,k2=v2` (values percent-decoded), as in `OTEL_EXPORTER_OTLP_HEADERS`.
pub fn parse_headers(s: &str) -> Result<Vec<(String, String)>, ConfigError> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').ok_or_else(|| ConfigError::Header(format!("`{p}` is not key=value")))?;
            Ok((percent_decode(k.trim()), percent_decode(v.trim())))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl OtlpConfig {
    /// Resolves the exporter of `signal` from `flags` and the environment `env` (a lookup,
    /// so tests need not touch the process environment). `None` when no endpoint is set.
    pub fn resolve(
        flags: &OtlpFlags,
        signal: crate::Signal,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        let get = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let sig = signal.as_str().to_ascii_uppercase();
        let specific = |what: &str| get(&format!("OTEL_EXPORTER_OTLP_{sig}_{what}"));
        let protocol = match flags
            .protocol
            .clone()
            .or_else(|| specific("PROTOCOL"))
            .or_else(|| get("OTEL_EXPORTER_OTLP_PROTOCOL"))
        {
            Some(p) => Protocol::parse(&p)?,
            None => Protocol::HttpProtobuf,
        };
        let signal_path = format!("v1/{}", signal.as_str());
        let signal_path = signal_path.as_str();
        let mut tls = Self::tls(flags, &sig, &get);
        let first_endpoint = [
            flags.endpoint.clone(),
            specific("ENDPOINT"),
            get("OTEL_EXPORTER_OTLP_ENDPOINT"),
            get("OTLP_HTTP_ENDPOINT"),
        ]
        .into_iter()
        .flatten()
        .next();
        let scheme_less = first_endpoint.is_some_and(|e| !e.contains("://"));
        let scheme_less_tls = Self::scheme_less_tls(&mut tls, protocol, scheme_less, &sig, &get)?;
        let with_scheme = |url: &str| with_scheme(url, scheme_less_tls);
        let specific_name = format!("OTEL_EXPORTER_OTLP_{sig}_ENDPOINT");
        let (source, url) = if let Some(e) = &flags.endpoint {
            crate::check_url("--endpoint", &with_scheme(e))?;
            let e = with_scheme(e);
            (
                "--endpoint",
                if protocol == Protocol::Grpc || has_path(&e) { e } else { append_signal_path(&e, signal_path) },
            )
        } else if let Some(e) = specific("ENDPOINT") {
            (specific_name.as_str(), with_scheme(&e))
        } else if let Some(e) = get("OTEL_EXPORTER_OTLP_ENDPOINT") {
            let e = with_scheme(&e);
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                if protocol == Protocol::Grpc { e } else { append_signal_path(&e, signal_path) },
            )
        } else if let Some(e) = get("OTLP_HTTP_ENDPOINT") {
            let e = with_scheme(&e);
            (
                "OTLP_HTTP_ENDPOINT",
                if protocol == Protocol::Grpc || has_path(&e) { e } else { append_signal_path(&e, signal_path) },
            )
        } else {
            return Ok(None);
        };
        crate::check_url(source, &url)?;
        let mut headers = Vec::new();
        if let Some(h) = get("OTEL_EXPORTER_OTLP_HEADERS") {
            headers.extend(parse_headers(&h)?);
        }
        if let Some(h) = specific("HEADERS") {
            for (k, v) in parse_headers(&h)? {
                headers.retain(|(hk, _)| !hk.eq_ignore_ascii_case(&k));
                headers.push((k, v));
            }
        }
        for h in &flags.headers {
            for (k, v) in parse_headers(h)? {
                headers.retain(|(hk, _)| !hk.eq_ignore_ascii_case(&k));
                headers.push((k, v));
            }
        }
        let compression = match flags
            .compression
            .clone()
            .or_else(|| specific("COMPRESSION"))
            .or_else(|| get("OTEL_EXPORTER_OTLP_COMPRESSION"))
        {
            Some(c) => Compression::parse(&c)?,
            None => Compression::None,
        };
        let timeout = match flags.timeout_ms {
            Some(ms) => Duration::from_millis(ms),
            None => match specific("TIMEOUT").or_else(|| get("OTEL_EXPORTER_OTLP_TIMEOUT")) {
                Some(v) => Duration::from_millis(v.trim().parse::<u64>().map_err(|_| ConfigError::Timeout {
                    name: "OTEL_EXPORTER_OTLP_TIMEOUT".into(),
                    value: v.clone(),
                })?),
                None => DEFAULT_TIMEOUT,
            },
        };
        if timeout.is_zero() {
            return Err(ConfigError::Timeout { name: "the OTLP timeout".into(), value: "0".into() });
        }
        Ok(Some(OtlpConfig { url, protocol, headers, compression, timeout, tls }))
    }

    /// Whether an endpoint without a scheme is reached over TLS (see the module's
    /// documentation); a gRPC `OTEL_EXPORTER_OTLP_[SIGNAL_]INSECURE=true` that applies (the
    /// endpoint has no scheme) becomes `tls`'s insecure mode, for the summary to say.
    fn scheme_less_tls(
        tls: &mut TlsSettings,
        protocol: Protocol,
        scheme_less: bool,
        sig: &str,
        get: &dyn Fn(&str) -> Option<String>,
    ) -> Result<bool, ConfigError> {
        let var = [format!("OTEL_EXPORTER_OTLP_{sig}_INSECURE"), "OTEL_EXPORTER_OTLP_INSECURE".into()]
            .into_iter()
            .find_map(|n| get(&n).map(|v| (n, v)))
            .filter(|_| protocol == Protocol::Grpc)
            .map(|(n, v)| parse_bool(&n, &v).map(|b| (n, b)))
            .transpose()?;
        Ok(match (&tls.insecure, var) {
            (Some(_), _) => false,
            (None, Some((name, true))) => {
                if scheme_less {
                    tls.insecure = Some(name);
                }
                false
            }
            (None, Some((_, false))) => true,
            (None, None) => tls.ca.is_some() || tls.cert.is_some(),
        })
    }

    /// The TLS files, each from its flag, else the signal's variable, else the general one;
    /// the insecure mode from `--insecure` (the variable is read with the endpoint).
    fn tls(flags: &OtlpFlags, sig: &str, get: &dyn Fn(&str) -> Option<String>) -> TlsSettings {
        let env = |what: &str| {
            [format!("OTEL_EXPORTER_OTLP_{sig}_{what}"), format!("OTEL_EXPORTER_OTLP_{what}")]
                .into_iter()
                .find_map(|n| get(&n).map(|v| Sourced::new(PathBuf::from(v.trim()), n)))
        };
        let t = flags.tls();
        TlsSettings {
            ca: t.ca.or_else(|| env("CERTIFICATE")),
            cert: t.cert.or_else(|| env("CLIENT_CERTIFICATE")),
            key: t.key.or_else(|| env("CLIENT_KEY")),
            insecure: t.insecure,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(flags: OtlpFlags, vars: &[(&str, &str)]) -> Option<OtlpConfig> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        OtlpConfig::resolve(&flags, crate::Signal::Traces, &|k| {
            vars.iter().find(|(vk, _)| vk == k).map(|(_, v)| v.clone())
        })
        .unwrap()
    }

    #[test]
    fn endpoint_precedence_and_signal_paths() {
        assert_eq!(resolve(OtlpFlags::default(), &[]), None);
        let c = resolve(OtlpFlags::default(), &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4318")]).unwrap();
        assert_eq!((c.url.as_str(), c.protocol), ("http://h:4318/v1/traces", Protocol::HttpProtobuf));
        let c = resolve(
            OtlpFlags::default(),
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4317"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")],
        )
        .unwrap();
        assert_eq!((c.url.as_str(), c.protocol), ("http://h:4317", Protocol::Grpc));
        let c = resolve(
            OtlpFlags::default(),
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:1/"),
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b:2/custom"),
            ],
        )
        .unwrap();
        assert_eq!(c.url, "http://b:2/custom");
        let c = resolve(
            OtlpFlags {
                endpoint: Some("127.0.0.1:4318".into()),
                protocol: Some("http/json".into()),
                ..Default::default()
            },
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:1")],
        )
        .unwrap();
        assert_eq!((c.url.as_str(), c.protocol), ("http://127.0.0.1:4318/v1/traces", Protocol::HttpJson));
        let c = resolve(OtlpFlags::default(), &[("OTLP_HTTP_ENDPOINT", "http://data-plane:4318")]).unwrap();
        assert_eq!(c.url, "http://data-plane:4318/v1/traces");
    }

    #[test]
    fn each_signal_has_its_path_and_variables() {
        let vars =
            [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4318"), ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://l:1/x")];
        let env = |k: &str| vars.iter().find(|(vk, _)| *vk == k).map(|(_, v)| v.to_string());
        let f = OtlpFlags::default();
        assert_eq!(
            OtlpConfig::resolve(&f, crate::Signal::Traces, &env).unwrap().unwrap().url,
            "http://h:4318/v1/traces"
        );
        assert_eq!(OtlpConfig::resolve(&f, crate::Signal::Logs, &env).unwrap().unwrap().url, "http://l:1/x");
        let f = OtlpFlags { endpoint: Some("http://e:4318".into()), ..Default::default() };
        assert_eq!(OtlpConfig::resolve(&f, crate::Signal::Logs, &env).unwrap().unwrap().url, "http://e:4318/v1/logs");
    }

    #[test]
    fn headers_compression_timeout() {
        let c = resolve(
            OtlpFlags {
                endpoint: Some("http://h:4318".into()),
                headers: vec!["x-b=flag".into()],
                ..Default::default()
            },
            &[
                ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=s%20ecret,x-b=env"),
                ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip"),
                ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ],
        )
        .unwrap();
        assert_eq!(c.headers, vec![("api-key".into(), "s ecret".into()), ("x-b".into(), "flag".into())]);
        assert_eq!(c.compression, Compression::Gzip);
        assert_eq!(
            parse_headers("k=é%2,x=%zz%4").unwrap(),
            vec![("k".into(), "é%2".into()), ("x".into(), "%zz%4".into())]
        );
        assert_eq!(c.timeout, Duration::from_millis(2500));
        assert!(
            OtlpConfig::resolve(
                &OtlpFlags { protocol: Some("udp".into()), ..Default::default() },
                crate::Signal::Traces,
                &|_| None
            )
            .is_err()
        );
    }

    #[test]
    fn tls_files_signal_first_and_flags_over_both() {
        let grpc = |endpoint: &str| OtlpFlags {
            endpoint: Some(endpoint.into()),
            protocol: Some("grpc".into()),
            ..Default::default()
        };
        let vars = [
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/g/ca.pem"),
            ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "/t/ca.pem"),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", "/g/key.pem"),
            ("OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY", "/l/key.pem"),
        ];
        let c = resolve(grpc("https://h:4317"), &vars).unwrap();
        assert_eq!(c.tls.ca, Some(Sourced::new("/t/ca.pem".into(), "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE")));
        assert_eq!(c.tls.key, Some(Sourced::new("/g/key.pem".into(), "OTEL_EXPORTER_OTLP_CLIENT_KEY")));
        assert_eq!((c.tls.cert, c.tls.insecure), (None, None));
        let c = resolve(OtlpFlags { ca_cert: Some("/f/ca.pem".into()), ..grpc("https://h:4317") }, &vars).unwrap();
        assert_eq!(c.tls.ca, Some(Sourced::new("/f/ca.pem".into(), "--ca-cert")));
    }

    #[test]
    fn a_scheme_less_endpoint_is_tls_or_plain_as_the_settings_say() {
        let flags = |protocol: &str| OtlpFlags {
            endpoint: Some("h:4317".into()),
            protocol: Some(protocol.into()),
            ..Default::default()
        };
        let url = |f: OtlpFlags, vars: &[(&str, &str)]| resolve(f, vars).unwrap().url;
        assert_eq!(url(flags("grpc"), &[]), "http://h:4317");
        assert_eq!(url(flags("grpc"), &[("OTEL_EXPORTER_OTLP_INSECURE", "false")]), "https://h:4317");
        assert_eq!(url(flags("grpc"), &[("OTEL_EXPORTER_OTLP_CERTIFICATE", "/ca.pem")]), "https://h:4317");
        let vars = [("OTEL_EXPORTER_OTLP_CERTIFICATE", "/ca.pem"), ("OTEL_EXPORTER_OTLP_TRACES_INSECURE", "True")];
        let c = resolve(flags("grpc"), &vars).unwrap();
        assert_eq!(
            (c.url.as_str(), c.tls.insecure.as_deref()),
            ("http://h:4317", Some("OTEL_EXPORTER_OTLP_TRACES_INSECURE"))
        );
        let c = resolve(OtlpFlags { insecure: true, ..flags("grpc") }, &[("OTEL_EXPORTER_OTLP_INSECURE", "false")])
            .unwrap();
        assert_eq!((c.url.as_str(), c.tls.insecure.as_deref()), ("http://h:4317", Some("--insecure")));
        // The spec: the variable is for gRPC only, and never downgrades an explicit scheme.
        assert_eq!(url(flags("http/protobuf"), &[("OTEL_EXPORTER_OTLP_INSECURE", "false")]), "http://h:4317/v1/traces");
        let c = resolve(
            OtlpFlags { endpoint: Some("https://h:4317".into()), ..flags("grpc") },
            &[("OTEL_EXPORTER_OTLP_INSECURE", "true")],
        )
        .unwrap();
        assert_eq!((c.url.as_str(), c.tls.insecure), ("https://h:4317", None));
        let e = OtlpConfig::resolve(&flags("grpc"), crate::Signal::Traces, &|k| {
            (k == "OTEL_EXPORTER_OTLP_INSECURE").then(|| "yes".to_string())
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "OTEL_EXPORTER_OTLP_INSECURE `yes` is not true or false");
    }
}
