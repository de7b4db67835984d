//! Reading a span node: kind, count, errors, retries, events, logs, decisions, artifacts.

use super::*;
use crate::convert::Fields;
use crate::dist::{self, NumDist, Use};
use crate::spec::*;
use crate::yaml::{Node, Value};

impl Reader<'_, '_> {
    pub(crate) fn span(&mut self, node: &Node, is_root: bool) -> Option<SpanSpec> {
        let f = self.rep.fields(node, "span", NODE_KEYS)?;
        let span_type = match f.get_any(&["type", "span_type"]) {
            Some(n) => self.rep.string(n, "type"),
            None => {
                self.rep.error(node.line, node.col, "span needs a `type`", None);
                None
            }
        };
        let name = f.get("name").and_then(|n| self.rep.string(n, "name"));
        if let (Some(n), Some(text)) = (f.get("name"), &name) {
            // Checked for syntax here; references resolve against the span's attributes.
            self.template_open(n, text);
        }
        let kind = f.get("kind").and_then(|n| self.kind(n));
        let latency = f.get("latency").and_then(|n| dist::parse(self.rep, n, "latency", Use::Latency));
        let error = f.get("error").map(|n| self.error_spec(n)).unwrap_or_default();
        let (attributes, attr_pos) = match f.get("attributes") {
            Some(n) => self.attributes_at(n),
            None => (Vec::new(), Vec::new()),
        };
        let mode = match f.get("mode") {
            Some(n) => match self.rep.choice(n, "mode", &["sequential", "parallel"]) {
                Some("parallel") => Mode::Parallel,
                _ => Mode::Sequential,
            },
            None => Mode::Sequential,
        };
        let probability = f.get("probability").and_then(|n| self.rep.probability(n, "probability")).unwrap_or(1.0);
        if is_root && probability < 1.0 {
            self.rep.error(node.line, node.col, "the root span cannot have a probability below 1", None);
        }
        let count = f.get("count").and_then(|n| self.count(n)).unwrap_or(CountSpec::Fixed(1));
        let retry = f.get("retry").and_then(|n| self.retry(n));
        let events = match f.get("events") {
            Some(n) => self.events(n),
            None => Vec::new(),
        };
        let logs = match f.get("logs") {
            Some(n) => self.logs(n, &attributes),
            None => Vec::new(),
        };
        let decision = f.get("decision").and_then(|n| self.decision(n));
        let artifact = f.get("artifact").and_then(|n| self.artifact(n));
        let semconv = f.get("semconv").and_then(|n| self.rep.string(n, "semconv"));
        let children = match f.get("children") {
            Some(n) => match self.rep.list(n, "children") {
                Some(list) => list.iter().filter_map(|c| self.span(c, false)).collect(),
                None => Vec::new(),
            },
            None => Vec::new(),
        };
        let span_type = normalize_prefix(&span_type?, self.prefix);
        Some(SpanSpec {
            span_type,
            name: name.map(|n| normalize_prefix(&n, self.prefix)),
            kind,
            latency,
            error,
            attributes,
            children,
            mode,
            probability,
            count,
            retry,
            events,
            logs,
            decision,
            artifact,
            semconv,
            attr_pos,
            line: node.line,
        })
    }

    pub(crate) fn kind(&mut self, n: &Node) -> Option<SpanKind> {
        let s = n.as_str().unwrap_or_default().to_ascii_lowercase();
        let s = s.strip_prefix("span_kind_").unwrap_or(&s).to_string();
        let fake = Node { line: n.line, col: n.col, value: Value::Str(s) };
        let node = if n.as_str().is_some() { &fake } else { n };
        Some(match self.rep.choice(node, "kind", &["internal", "server", "client", "producer", "consumer"])? {
            "server" => SpanKind::Server,
            "client" => SpanKind::Client,
            "producer" => SpanKind::Producer,
            "consumer" => SpanKind::Consumer,
            _ => SpanKind::Internal,
        })
    }

    pub(crate) fn count(&mut self, node: &Node) -> Option<CountSpec> {
        if let Value::Int(_) = node.value {
            return self.rep.count(node, "count").map(CountSpec::Fixed);
        }
        let f = self.rep.fields(node, "count", &["distribution", "lambda", "min", "max"])?;
        let min = f.get("min").and_then(|n| self.rep.count(n, "min"));
        let max = f.get("max").and_then(|n| self.rep.count(n, "max"));
        let dist = match f.get("distribution") {
            Some(d) => self.rep.choice(d, "count distribution", &["uniform", "poisson"])?,
            None => "uniform",
        };
        match dist {
            "poisson" => {
                let lambda = match f.get("lambda") {
                    Some(l) => {
                        self.rep.number_where(l, "lambda", "in (0, 1e18]", |v| v > 0.0 && v <= dist::MAX_LAMBDA)?
                    }
                    None => {
                        self.rep.error(node.line, node.col, "poisson count needs `lambda`", None);
                        return None;
                    }
                };
                let (min, max) = (min.unwrap_or(0), max.unwrap_or(u64::from(u16::MAX)));
                self.count_bounds(node, min, max)?;
                Some(CountSpec::Poisson { lambda, min, max })
            }
            _ => {
                let (Some(min), Some(max)) = (min, max) else {
                    self.rep.error(
                        node.line,
                        node.col,
                        "count needs `min` and `max` (or `distribution: poisson`)",
                        None,
                    );
                    return None;
                };
                self.count_bounds(node, min, max)?;
                Some(CountSpec::Uniform { min, max })
            }
        }
    }

    /// `Some(())` when `min <= max`; else an error at the count.
    fn count_bounds(&mut self, node: &Node, min: u64, max: u64) -> Option<()> {
        if min > max {
            self.rep.error(node.line, node.col, format!("count: min ({min}) is greater than max ({max})"), None);
            return None;
        }
        Some(())
    }

    pub(crate) fn error_spec(&mut self, node: &Node) -> ErrorSpec {
        // `error: 0.02`: the rate alone (the Python telemetry-simulator 1.x's shorthand).
        if matches!(node.value, Value::Int(_) | Value::Float(_)) {
            let rate = self.rep.probability(node, "error").unwrap_or(0.0);
            return ErrorSpec { rate, ..ErrorSpec::default() };
        }
        let Some(f) = self.rep.fields(
            node,
            "error",
            &[
                "rate",
                "base_rate",
                "types",
                "type_weights",
                "retryable_types",
                "propagation",
                "attributes",
                "exceptions",
            ],
        ) else {
            return ErrorSpec::default();
        };
        let rate = f.get_any(&["rate", "base_rate"]).and_then(|n| self.rep.probability(n, "error.rate")).unwrap_or(0.0);
        let mut types = match f.get("types") {
            Some(n) => self.weighted_strings(n, "error.types"),
            None => Vec::new(),
        };
        if let Some(w) = f.get("type_weights") {
            self.type_weights(w, f.get("types"), &mut types);
        }
        let retryable_types = f.get("retryable_types").map(|n| match self.rep.list(n, "retryable_types") {
            Some(l) => l.iter().filter_map(|t| self.rep.string(t, "error type")).collect(),
            None => Vec::new(),
        });
        let (mut from_parent, mut cascade, mut from_child) = (0.0, 0.0, 0.0);
        if let Some(p) = f.get("propagation")
            && let Some(pf) = self.rep.fields(p, "propagation", &["from_parent", "cascade_to_siblings", "from_child"])
        {
            from_parent = pf.get("from_parent").and_then(|n| self.rep.probability(n, "from_parent")).unwrap_or(0.0);
            cascade = pf
                .get("cascade_to_siblings")
                .and_then(|n| self.rep.probability(n, "cascade_to_siblings"))
                .unwrap_or(0.0);
            from_child = pf.get("from_child").and_then(|n| self.rep.probability(n, "from_child")).unwrap_or(0.0);
        }
        let attributes = match f.get("attributes") {
            Some(n) => self.attributes(n),
            None => Vec::new(),
        };
        let mut exceptions = Vec::new();
        if let Some(n) = f.get("exceptions") {
            match n.as_map() {
                Some(entries) => {
                    for (k, v) in entries {
                        let Some(ty) = self.rep.string(k, "error type") else { continue };
                        let Some(ef) = self.rep.fields(v, "exception", &["type", "message"]) else { continue };
                        let ex = ef.get("type").and_then(|n| self.rep.string(n, "type")).unwrap_or_else(|| ty.clone());
                        let msg = ef.get("message").and_then(|n| self.rep.string(n, "message"));
                        exceptions.push((ty, ex, msg));
                    }
                }
                None => {
                    self.rep.error(n.line, n.col, "exceptions must be a mapping of error type: {type, message}", None)
                }
            }
        }
        ErrorSpec {
            rate,
            types,
            from_parent,
            cascade_to_siblings: cascade,
            from_child,
            attributes,
            exceptions,
            retryable_types,
        }
    }

    /// `type_weights: [3, 1]`: the weights of `types` (a list), in its order.
    fn type_weights(&mut self, node: &Node, types_node: Option<&Node>, types: &mut [(String, f64)]) {
        let Some(list) = self.rep.list(node, "type_weights") else { return };
        let Some(t) = types_node.filter(|t| matches!(t.value, Value::Seq(_))) else {
            self.rep.error(node.line, node.col, "type_weights needs `types` as a list (in the same order)", None);
            return;
        };
        if list.len() != types.len() {
            let msg = format!("type_weights has {} weights for {} types (line {})", list.len(), types.len(), t.line);
            self.rep.error(node.line, node.col, msg, None);
            return;
        }
        let weights: Vec<f64> =
            list.iter().filter_map(|w| self.rep.number_where(w, "weight", ">= 0", |v| v >= 0.0)).collect();
        if weights.len() != types.len() {
            return;
        }
        if weights.iter().sum::<f64>() <= 0.0 {
            self.rep.error(node.line, node.col, "type_weights need a positive total", None);
            return;
        }
        for ((_, w), v) in types.iter_mut().zip(weights) {
            *w = v;
        }
    }

    /// One of `allowed`, or a list / weighted mapping of them with a positive total weight.
    pub(crate) fn weighted_choice(&mut self, n: &Node, what: &str, allowed: &[&str]) -> Option<Vec<(String, f64)>> {
        if n.as_str().is_some() {
            return Some(vec![(self.rep.choice(n, what, allowed)?.to_string(), 1.0)]);
        }
        let list = self.weighted_strings(n, what);
        if let Some((bad, _)) = list.iter().find(|(r, _)| !allowed.contains(&r.as_str())) {
            let help = crate::diag::did_you_mean(bad, allowed.iter().copied()).map(|s| format!("did you mean `{s}`?"));
            self.rep.error(n.line, n.col, format!("unknown {what} `{bad}`"), help);
            return None;
        }
        if list.iter().map(|(_, w)| w).sum::<f64>() <= 0.0 {
            self.rep.error(n.line, n.col, format!("{what}s need a positive total weight"), None);
            return None;
        }
        Some(list)
    }

    /// A list of strings (equal weights) or a mapping of string → weight.
    pub(crate) fn weighted_strings(&mut self, node: &Node, what: &str) -> Vec<(String, f64)> {
        match &node.value {
            Value::Seq(items) => items.iter().filter_map(|i| self.rep.string(i, what)).map(|s| (s, 1.0)).collect(),
            Value::Map(entries) => entries
                .iter()
                .filter_map(|(k, v)| {
                    let key = self.rep.string(k, what)?;
                    let w = self.rep.number_where(v, "weight", ">= 0", |w| w >= 0.0)?;
                    Some((key, w))
                })
                .collect(),
            other => {
                self.rep.error(
                    node.line,
                    node.col,
                    format!("{what} must be a list or a mapping of value: weight, found {}", other.type_name()),
                    None,
                );
                Vec::new()
            }
        }
    }

    pub(crate) fn retry(&mut self, node: &Node) -> Option<RetrySpec> {
        let f = self.rep.fields(
            node,
            "retry",
            &[
                "enabled",
                "max_attempts",
                "force_initial_failure",
                "backoff_base_ms",
                "backoff_multiplier",
                "backoff_jitter",
                "success_rate_per_attempt",
            ],
        )?;
        let enabled = f.get("enabled").and_then(|n| self.rep.boolean(n, "enabled")).unwrap_or(true);
        let max_attempts = match f.get("max_attempts") {
            Some(n) => match self.rep.count(n, "max_attempts") {
                Some(v) if (1..=100).contains(&v) => v as u32,
                Some(v) => {
                    self.rep.error(n.line, n.col, format!("max_attempts must be between 1 and 100, found {v}"), None);
                    return None;
                }
                None => return None,
            },
            None => 3,
        };
        let num = |r: &mut Self, f: &Fields<'_>, k: &str, default: f64| -> f64 {
            f.get(k).and_then(|n| r.rep.number_where(n, k, ">= 0", |v| v >= 0.0)).unwrap_or(default)
        };
        let backoff_base_ms = num(self, &f, "backoff_base_ms", 100.0);
        let backoff_multiplier = num(self, &f, "backoff_multiplier", 2.0);
        let backoff_jitter =
            f.get("backoff_jitter").and_then(|n| self.rep.probability(n, "backoff_jitter")).unwrap_or(0.2);
        let success_rate_per_attempt = match f.get("success_rate_per_attempt") {
            Some(n) => self
                .rep
                .list(n, "success_rate_per_attempt")
                .map(|l| l.iter().filter_map(|p| self.rep.probability(p, "success rate")).collect())
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let force_initial_failure =
            f.get("force_initial_failure").and_then(|n| self.rep.boolean(n, "force_initial_failure")).unwrap_or(false);
        Some(RetrySpec {
            enabled,
            max_attempts,
            force_initial_failure,
            backoff_base_ms,
            backoff_multiplier,
            backoff_jitter,
            success_rate_per_attempt,
        })
    }

    pub(crate) fn events(&mut self, node: &Node) -> Vec<EventSpec> {
        let Some(list) = self.rep.list(node, "events") else { return Vec::new() };
        let mut out = Vec::new();
        for e in list {
            let Some(f) = self.rep.fields(e, "event", &["name", "probability", "at", "attributes"]) else { continue };
            let Some(name) = (match f.get("name") {
                Some(n) => self.rep.string(n, "event name"),
                None => {
                    self.rep.error(e.line, e.col, "event needs a `name`", None);
                    None
                }
            }) else {
                continue;
            };
            let probability = f.get("probability").and_then(|n| self.rep.probability(n, "probability")).unwrap_or(1.0);
            let at = f.get("at").and_then(|n| self.rep.probability(n, "at"));
            let attributes = match f.get("attributes") {
                Some(n) => self.attributes(n),
                None => Vec::new(),
            };
            out.push(EventSpec { name, probability, at, attributes });
        }
        out
    }

    pub(crate) fn decision(&mut self, node: &Node) -> Option<DecisionSpec> {
        let f = self.rep.fields(
            node,
            "decision",
            &[
                "type",
                "result",
                "policy_name",
                "reason",
                "tool_name",
                "agent_id",
                "context",
                "deny_fails_span",
                "deny_error",
            ],
        )?;
        let decision_type = match f.get("type") {
            Some(n) => self.rep.choice(n, "decision type", DECISION_TYPES)?.to_string(),
            None => {
                self.rep.error(
                    node.line,
                    node.col,
                    "decision needs a `type` (tool_call, opa, guardrails, human_review)",
                    None,
                );
                return None;
            }
        };
        let results = match f.get("result") {
            Some(n) => self.weighted_choice(n, "decision result", DECISION_RESULTS)?,
            None => vec![("allow".into(), 1.0)],
        };
        let reasons = match f.get("reason") {
            Some(n) if n.as_str().is_some() => {
                let r = n.as_str().unwrap_or_default().to_string();
                DECISION_RESULTS.iter().map(|k| (k.to_string(), r.clone())).collect()
            }
            Some(n) => match n.as_map() {
                Some(entries) => entries
                    .iter()
                    .filter_map(|(k, v)| {
                        Some((
                            self.rep.choice(k, "decision result", DECISION_RESULTS)?.to_string(),
                            self.rep.string(v, "reason")?,
                        ))
                    })
                    .collect(),
                None => {
                    self.rep.error(n.line, n.col, "reason must be a string or a mapping of result: reason", None);
                    Vec::new()
                }
            },
            None => Vec::new(),
        };
        let context_json = f.get("context").map(node_to_json);
        let text = |r: &mut Self, k: &str| f.get(k).and_then(|n| r.rep.string(n, k));
        Some(DecisionSpec {
            decision_type,
            results,
            policy_name: text(self, "policy_name"),
            reasons,
            tool_name: text(self, "tool_name"),
            agent_id: text(self, "agent_id"),
            context_json,
            deny_fails_span: f
                .get("deny_fails_span")
                .and_then(|n| self.rep.boolean(n, "deny_fails_span"))
                .unwrap_or(false),
            deny_error: text(self, "deny_error").unwrap_or_else(|| "policy_violation".into()),
        })
    }

    pub(crate) fn logs(&mut self, node: &Node, span_attrs: &[(String, AttrSpec)]) -> Vec<LogSpec> {
        let Some(list) = self.rep.list(node, "logs") else { return Vec::new() };
        let mut known: Vec<&str> = span_attrs.iter().map(|(k, _)| k.as_str()).collect();
        known.extend_from_slice(LOG_BUILTINS);
        known.push("error.type");
        let mut out = Vec::new();
        for l in list {
            let Some(f) = self.rep.fields(l, "log", &["on", "level", "message", "logger", "probability", "attributes"])
            else {
                continue;
            };
            let on = match f.get("on") {
                Some(n) => match self.rep.choice(n, "`on`", &["start", "end", "error"]) {
                    Some("start") => LogOn::Start,
                    Some("error") => LogOn::Error,
                    Some(_) => LogOn::End,
                    None => continue,
                },
                None => LogOn::End,
            };
            let severity = match f.get("level") {
                Some(n) => match level(self.rep, n) {
                    Some(l) => l,
                    None => continue,
                },
                None if on == LogOn::Error => (17, "ERROR"),
                None => (9, "INFO"),
            };
            let Some(m) = f.get("message") else {
                self.rep.error(l.line, l.col, "log needs a `message`", None);
                continue;
            };
            let Some(text) = self.rep.string(m, "message") else { continue };
            let Some(message) = self.template(m, &text, &known) else { continue };
            let logger = f.get("logger").and_then(|n| self.rep.string(n, "logger"));
            let probability = f.get("probability").and_then(|n| self.rep.probability(n, "probability")).unwrap_or(1.0);
            let (attributes, at) = match f.get("attributes") {
                Some(n) => self.attributes_at(n),
                None => (Vec::new(), Vec::new()),
            };
            if on == LogOn::Start {
                // Written when the span starts: its duration and outcome are not known yet.
                let late = |parts: &[TemplatePart]| {
                    parts.iter().find_map(|p| match p {
                        TemplatePart::Ref(r) if END_ONLY.contains(&r.as_str()) => Some(r.clone()),
                        _ => None,
                    })
                };
                let mut found: Vec<(u32, u32, String, String)> = Vec::new();
                if let Some(r) = late(&message) {
                    found.push((m.line, m.col, "message".into(), r));
                }
                for ((k, a), (line, col)) in attributes.iter().zip(&at) {
                    if let AttrSpec::Template(parts) = a
                        && let Some(r) = late(parts)
                    {
                        found.push((*line, *col, format!("attribute `{k}`"), r));
                    }
                }
                if !found.is_empty() {
                    for (line, col, what, r) in found {
                        self.rep.error(
                            line,
                            col,
                            format!(
                                "a log `on: start` is written when the span starts: its {what} cannot use \
                                 `{{{r}}}`, known only at the end"
                            ),
                            Some("use `on: end` (or `on: error`) for the duration and outcome".into()),
                        );
                    }
                    continue;
                }
            }
            out.push(LogSpec { on, severity, message, logger, probability, attributes });
        }
        out
    }

    pub(crate) fn artifact(&mut self, node: &Node) -> Option<ArtifactSpec> {
        let f = self.rep.fields(
            node,
            "artifact",
            &["type", "path", "added_lines", "removed_lines", "changed_sections", "review", "probability"],
        )?;
        let artifact_type = f.get("type").and_then(|n| self.rep.string(n, "type")).unwrap_or_else(|| "file".into());
        let Some(pn) = f.get("path") else {
            self.rep.error(
                node.line,
                node.col,
                "artifact needs a `path` (a template, e.g. \"sections/{copy_index}.tex\")",
                None,
            );
            return None;
        };
        let text = self.rep.string(pn, "path")?;
        let path = self.template_open(pn, &text)?;
        let lines = |r: &mut Self, k: &str, default: f64| match f.get(k) {
            Some(n) => dist::parse(r.rep, n, k, Use::Value),
            None => Some(NumDist::new(crate::Dist::Constant(default))),
        };
        let added_lines = lines(self, "added_lines", 100.0)?;
        let removed_lines = lines(self, "removed_lines", 10.0)?;
        let changed_sections = match f.get("changed_sections") {
            Some(n) => self
                .rep
                .list(n, "changed_sections")
                .map(|l| l.iter().filter_map(|x| self.rep.string(x, "section")).collect())
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let review = match f.get("review") {
            Some(n) => self.weighted_choice(n, "review status", REVIEW_STATUSES)?,
            None => vec![("pending".into(), 1.0)],
        };
        let probability = f.get("probability").and_then(|n| self.rep.probability(n, "probability")).unwrap_or(1.0);
        Some(ArtifactSpec { artifact_type, path, added_lines, removed_lines, changed_sections, review, probability })
    }
}
