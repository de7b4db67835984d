//! Which exposition a scrape gets, from its `Accept` header: OpenMetrics when the client
//! prefers it (Prometheus asks for `application/openmetrics-text;version=1.0.0` first, with
//! `0.0.1` and the text format as fallbacks), else the text format 0.0.4, as before.

/// Content type of the text exposition format 0.0.4.
pub const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Content type of the OpenMetrics exposition, version 1.0.0.
pub const CONTENT_TYPE_OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The same, labelled 0.0.1 for a client that asks only for that version (the two versions
/// have one grammar).
pub const CONTENT_TYPE_OPENMETRICS_0_0_1: &str = "application/openmetrics-text; version=0.0.1; charset=utf-8";

/// The expositions `/metrics` serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exposition {
    /// The Prometheus text format 0.0.4 (also for a request without `Accept`).
    Text,
    /// OpenMetrics text; `legacy` when the client asked for version 0.0.1 rather than 1.0.0.
    OpenMetrics {
        /// Answer as version 0.0.1.
        legacy: bool,
    },
}

impl Exposition {
    /// The `Content-Type` of the answer.
    pub fn content_type(self) -> &'static str {
        match self {
            Exposition::Text => CONTENT_TYPE_TEXT,
            Exposition::OpenMetrics { legacy: false } => CONTENT_TYPE_OPENMETRICS,
            Exposition::OpenMetrics { legacy: true } => CONTENT_TYPE_OPENMETRICS_0_0_1,
        }
    }
}

/// A quality value in thousandths (`q=0.5` is 500); `None` when it is not one.
fn quality(v: &str) -> Option<u16> {
    let q: f64 = v.trim().parse().ok()?;
    // Whole thousandths in [0, 1000]: the cast cannot truncate.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "q is checked to lie in [0, 1]")]
    (0.0..=1.0).contains(&q).then(|| (q * 1000.0).round() as u16)
}

/// What one media range of an `Accept` header asks for, with its quality; `None` for a
/// range this endpoint cannot answer (another type, an unknown version, a bad `q`).
fn range(r: &str) -> Option<(Exposition, u16)> {
    let mut parts = r.split(';').map(str::trim);
    let media = parts.next()?.to_ascii_lowercase();
    let (mut q, mut version) = (1000, None);
    for p in parts {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        match k.trim().to_ascii_lowercase().as_str() {
            "q" => q = quality(v)?,
            "version" => version = Some(v.trim().trim_matches('"').to_string()),
            _ => {}
        }
    }
    let e = match (media.as_str(), version.as_deref()) {
        ("application/openmetrics-text", None | Some("1.0.0")) => Exposition::OpenMetrics { legacy: false },
        ("application/openmetrics-text", Some("0.0.1")) => Exposition::OpenMetrics { legacy: true },
        ("text/plain", None | Some("0.0.4")) | ("text/*" | "*/*", _) => Exposition::Text,
        _ => return None,
    };
    Some((e, q))
}

/// The exposition for a request with this `Accept` header: the acceptable one of highest
/// quality (the first listed among equals); the text format when there is no header or
/// nothing in it is acceptable.
pub fn negotiate(accept: Option<&str>) -> Exposition {
    let mut best: Option<(Exposition, u16)> = None;
    for (e, q) in accept.unwrap_or("").split(',').filter_map(range) {
        if q > 0 && best.is_none_or(|(_, b)| q > b) {
            best = Some((e, q));
        }
    }
    best.map_or(Exposition::Text, |(e, _)| e)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OM: Exposition = Exposition::OpenMetrics { legacy: false };

    #[test]
    fn prometheus_gets_openmetrics_and_everyone_else_the_text_format() {
        // Prometheus 3 and Prometheus 2.
        let p3 = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,\
                  text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        let p2 = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,\
                  text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(negotiate(Some(p3)), OM);
        assert_eq!(negotiate(Some(p2)), OM);
        assert_eq!(negotiate(None), Exposition::Text);
        assert_eq!(negotiate(Some("*/*")), Exposition::Text);
        assert_eq!(negotiate(Some("application/json")), Exposition::Text);
        assert_eq!(negotiate(Some("Application/OpenMetrics-Text")), OM);
    }

    #[test]
    fn quality_decides_and_the_first_listed_wins_a_tie() {
        assert_eq!(negotiate(Some("application/openmetrics-text;q=0.2, text/plain;q=0.9")), Exposition::Text);
        assert_eq!(
            negotiate(Some("text/plain;version=0.0.4;q=0.5,application/openmetrics-text;q=0.5")),
            Exposition::Text
        );
        assert_eq!(negotiate(Some("application/openmetrics-text; q=0.5, text/plain; q=0.5")), OM);
        // Refused outright, an unknown version, a malformed quality.
        assert_eq!(negotiate(Some("application/openmetrics-text;q=0,text/plain;q=0.1")), Exposition::Text);
        assert_eq!(negotiate(Some("application/openmetrics-text;version=2.0.0")), Exposition::Text);
        assert_eq!(negotiate(Some("application/openmetrics-text;q=high")), Exposition::Text);
        assert_eq!(
            negotiate(Some("application/openmetrics-text;version=0.0.1")),
            Exposition::OpenMetrics { legacy: true }
        );
        assert_eq!(
            negotiate(Some(
                "application/openmetrics-text;version=0.0.1;q=0.4,application/openmetrics-text;version=1.0.0;q=0.5"
            )),
            OM
        );
        assert_eq!(OM.content_type(), "application/openmetrics-text; version=1.0.0; charset=utf-8");
    }
}
