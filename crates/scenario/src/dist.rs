//! Distribution parameters as written in scenarios, checked for impossible values.
//!
//! Sampling lives in the engine; this module only reads and validates parameters.

use crate::convert::Fields;
use crate::diag::Reporter;
use crate::yaml::{Node, Value};

/// The largest Poisson mean accepted (the sampler's own limit is about 1.8e19).
pub const MAX_LAMBDA: f64 = 1e18;

/// z-score of the 99th percentile of the standard normal distribution.
const Z99: f64 = 2.326_347_874_040_841;

/// A numeric distribution with optional clamping bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct NumDist {
    /// The shape.
    pub dist: Dist,
    /// Samples below are raised to this.
    pub min: Option<f64>,
    /// Samples above are lowered to this.
    pub max: Option<f64>,
}

impl NumDist {
    /// An unbounded distribution.
    pub fn new(dist: Dist) -> Self {
        Self { dist, min: None, max: None }
    }
}

/// The supported distribution shapes.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // each variant's doc names its fields
pub enum Dist {
    /// Always `value`.
    Constant(f64),
    /// Uniform on `[low, high]`.
    Uniform { low: f64, high: f64 },
    /// Normal with `mean` and `stddev`.
    Normal { mean: f64, stddev: f64 },
    /// Log-normal: `ln X ~ Normal(mu, sigma)`; the median is `exp(mu)`.
    LogNormal { mu: f64, sigma: f64 },
    /// Exponential with `mean`.
    Exponential { mean: f64 },
    /// Pareto with minimum `scale` and tail index `shape`.
    Pareto { scale: f64, shape: f64 },
    /// Poisson counts with mean `lambda`.
    Poisson { lambda: f64 },
    /// Number of trials until the first success, each succeeding with `p` (values 1, 2, …).
    Geometric { p: f64 },
    /// Weighted mixture of distributions (weights are relative).
    Mixture(Vec<(f64, NumDist)>),
}

/// Names accepted in `distribution:`.
pub const DISTRIBUTIONS: &[&str] =
    &["constant", "uniform", "normal", "log_normal", "exponential", "pareto", "poisson", "geometric", "mixture"];

/// Whether a distribution is read for a latency (which allows the `{mean_ms, variance}` and
/// plain-number forms and `_ms` key spellings) or for a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Use {
    Latency,
    Value,
}

const COMMON: &[&str] = &["distribution", "min", "max", "weight"];

fn keys_for(name: &str) -> &'static [&'static str] {
    match name {
        "constant" => &["value", "value_ms"],
        "uniform" => &["low", "high", "low_ms", "high_ms"],
        "normal" => &["mean", "stddev", "mean_ms", "stddev_ms"],
        "log_normal" => &["median", "median_ms", "sigma", "p50", "p99", "p50_ms", "p99_ms"],
        "exponential" => &["mean", "mean_ms", "rate"],
        "pareto" => &["scale", "scale_ms", "shape"],
        "poisson" => &["lambda"],
        "geometric" => &["p"],
        "mixture" => &["components"],
        _ => &[],
    }
}

/// Reads a distribution written as a mapping with a `distribution:` key (or, for latencies,
/// `{mean_ms, variance}` or a plain number of milliseconds).
pub(crate) fn parse(rep: &mut Reporter<'_>, node: &Node, what: &str, usage: Use) -> Option<NumDist> {
    if usage == Use::Latency {
        match node.value {
            Value::Int(_) | Value::Float(_) => {
                let v = rep.number_where(node, what, ">= 0", |v| v >= 0.0)?;
                return Some(NumDist::new(Dist::Constant(v)));
            }
            Value::Map(_) if node.get("distribution").is_none() => return parse_mean_variance(rep, node, what),
            _ => {}
        }
    }
    let Some(dnode) = node.get("distribution") else {
        rep.error(
            node.line,
            node.col,
            format!("{what} needs a `distribution:` key"),
            Some(format!("one of: {}", DISTRIBUTIONS.join(", "))),
        );
        return None;
    };
    let name = rep.choice(dnode, "distribution", DISTRIBUTIONS)?;
    let mut allowed: Vec<&str> = COMMON.to_vec();
    allowed.extend_from_slice(keys_for(name));
    let f = rep.fields(node, what, &allowed)?;
    let dist = parse_shape(rep, node, &f, name, what, usage)?;
    let (min, max) = bounds(rep, node, &f, what, usage)?;
    Some(NumDist { dist, min, max })
}

/// The optional `min` / `max` clamps: numbers, `min <= max`, and for a latency `max >= 0`
/// (latencies are never below 0).
fn bounds(
    rep: &mut Reporter<'_>,
    node: &Node,
    f: &Fields<'_>,
    what: &str,
    usage: Use,
) -> Option<(Option<f64>, Option<f64>)> {
    let min = match f.get("min") {
        Some(n) => Some(rep.number(n, "min")?),
        None => None,
    };
    let max = match f.get("max") {
        Some(n) if usage == Use::Latency => Some(rep.number_where(n, "max", ">= 0", |v| v >= 0.0)?),
        Some(n) => Some(rep.number(n, "max")?),
        None => None,
    };
    if let (Some(lo), Some(hi)) = (min, max)
        && lo > hi
    {
        rep.error(node.line, node.col, format!("{what}: min ({lo}) is greater than max ({hi})"), None);
        return None;
    }
    Some((min, max))
}

fn need<'n>(rep: &mut Reporter<'_>, node: &Node, f: &Fields<'n>, keys: &[&str], what: &str) -> Option<&'n Node> {
    let found = f.get_any(keys);
    if found.is_none() {
        rep.error(node.line, node.col, format!("{what} needs `{}`", keys[0]), None);
    }
    found
}

/// Reads the first of `keys` present as a number satisfying `ok` (described by `rule`).
fn req(
    rep: &mut Reporter<'_>,
    node: &Node,
    f: &Fields<'_>,
    keys: &[&str],
    what: &str,
    rule: &str,
    ok: impl Fn(f64) -> bool,
) -> Option<f64> {
    let n = need(rep, node, f, keys, what)?;
    rep.number_where(n, keys[0], rule, ok)
}

fn parse_shape(
    rep: &mut Reporter<'_>,
    node: &Node,
    f: &Fields<'_>,
    name: &str,
    what: &str,
    usage: Use,
) -> Option<Dist> {
    let pos = |v: f64| v > 0.0;
    let any = |_: f64| true;
    Some(match name {
        "constant" => Dist::Constant(req(rep, node, f, &["value", "value_ms"], what, "a number", any)?),
        "uniform" => {
            let low = req(rep, node, f, &["low", "low_ms"], what, "a number", any)?;
            let high = req(rep, node, f, &["high", "high_ms"], what, "a number", any)?;
            if low > high {
                rep.error(node.line, node.col, format!("uniform: low ({low}) is greater than high ({high})"), None);
                return None;
            }
            Dist::Uniform { low, high }
        }
        "normal" => {
            let mean = req(rep, node, f, &["mean", "mean_ms"], what, "a number", any)?;
            let stddev = req(rep, node, f, &["stddev", "stddev_ms"], what, ">= 0", |v| v >= 0.0)?;
            Dist::Normal { mean, stddev }
        }
        "log_normal" => {
            if f.get_any(&["p50", "p50_ms"]).is_some() || f.get_any(&["p99", "p99_ms"]).is_some() {
                let p50 = req(rep, node, f, &["p50", "p50_ms"], what, "> 0", pos)?;
                let p99n = need(rep, node, f, &["p99", "p99_ms"], what)?;
                let p99 = rep.number(p99n, "p99")?;
                if p99 <= p50 {
                    rep.error(p99n.line, p99n.col, format!("p99 ({p99}) must be greater than p50 ({p50})"), None);
                    return None;
                }
                if f.get("sigma").is_some() {
                    rep.error(node.line, node.col, "log_normal takes either `sigma` or `p50`/`p99`, not both", None);
                    return None;
                }
                Dist::LogNormal { mu: p50.ln(), sigma: (p99.ln() - p50.ln()) / Z99 }
            } else {
                let median = req(rep, node, f, &["median", "median_ms"], what, "> 0", pos)?;
                let sigma = req(rep, node, f, &["sigma"], what, "> 0", pos)?;
                Dist::LogNormal { mu: median.ln(), sigma }
            }
        }
        "exponential" => {
            if let Some(r) = f.get("rate") {
                Dist::Exponential { mean: 1.0 / rep.number_where(r, "rate", "> 0", pos)? }
            } else {
                Dist::Exponential { mean: req(rep, node, f, &["mean", "mean_ms"], what, "> 0", pos)? }
            }
        }
        "pareto" => {
            let scale = req(rep, node, f, &["scale", "scale_ms"], what, "> 0", pos)?;
            let shape = req(rep, node, f, &["shape"], what, "> 0", pos)?;
            Dist::Pareto { scale, shape }
        }
        "poisson" => Dist::Poisson {
            lambda: req(rep, node, f, &["lambda"], what, "in (0, 1e18]", |v| v > 0.0 && v <= MAX_LAMBDA)?,
        },
        "geometric" => Dist::Geometric { p: req(rep, node, f, &["p"], what, "in (0, 1]", |p| p > 0.0 && p <= 1.0)? },
        "mixture" => {
            let comps_node = need(rep, node, f, &["components"], what)?;
            let list = rep.list(comps_node, "components")?;
            let mut comps = Vec::new();
            let mut ok = true;
            for c in list {
                let w = match c.get("weight") {
                    Some(w) => rep.number_where(w, "weight", ">= 0", |v| v >= 0.0),
                    None => {
                        rep.error(c.line, c.col, "mixture component needs `weight`", None);
                        None
                    }
                };
                let d = parse(rep, c, "mixture component", usage);
                match (w, d) {
                    (Some(w), Some(d)) => comps.push((w, d)),
                    _ => ok = false,
                }
            }
            if !ok {
                return None;
            }
            if comps.is_empty() || comps.iter().map(|(w, _)| w).sum::<f64>() <= 0.0 {
                rep.error(node.line, node.col, "mixture needs components with a positive total weight", None);
                return None;
            }
            Dist::Mixture(comps)
        }
        _ => unreachable!("checked against DISTRIBUTIONS"),
    })
}

/// The Python telemetry-simulator 1.x's basic latency form: `{mean_ms, variance}` where variance is the relative
/// spread (0.3 = ±30 %), sampled uniformly in `mean × (1 ± variance)`, never below 0. Its loader's
/// `spike_rate` (chance of a slow outlier) and `spike_multiplier` (default 3) add, with that
/// chance, a latency uniform in `mean × [1.5, spike_multiplier]`.
fn parse_mean_variance(rep: &mut Reporter<'_>, node: &Node, what: &str) -> Option<NumDist> {
    let f = rep.fields(node, what, &["mean_ms", "mean", "variance", "spike_rate", "spike_multiplier", "min", "max"])?;
    let Some(m) = f.get_any(&["mean_ms", "mean"]) else {
        rep.error(
            node.line,
            node.col,
            format!("{what} needs `mean_ms` (with optional `variance`) or `distribution:`"),
            None,
        );
        return None;
    };
    let mean = rep.number_where(m, "mean_ms", ">= 0", |v| v >= 0.0)?;
    let variance = match f.get("variance") {
        Some(v) => rep.number_where(v, "variance", ">= 0", |v| v >= 0.0)?,
        None => 0.0,
    };
    let (min, max) = bounds(rep, node, &f, what, Use::Latency)?;
    let min = min.unwrap_or(0.0);
    let dist = if variance == 0.0 {
        Dist::Constant(mean)
    } else {
        Dist::Uniform { low: mean * (1.0 - variance), high: mean * (1.0 + variance) }
    };
    let spike_rate = match f.get("spike_rate") {
        Some(v) => rep.number_where(v, "spike_rate", "in [0, 1]", |v| (0.0..=1.0).contains(&v))?,
        None => 0.0,
    };
    let multiplier = match f.get("spike_multiplier") {
        Some(v) => rep.number_where(v, "spike_multiplier", ">= 1.5", |v| v >= 1.5 && v.is_finite())?,
        None => 3.0,
    };
    let dist = if spike_rate > 0.0 {
        let spike = Dist::Uniform { low: mean * 1.5, high: mean * multiplier };
        Dist::Mixture(vec![(1.0 - spike_rate, NumDist::new(dist)), (spike_rate, NumDist::new(spike))])
    } else {
        dist
    };
    Some(NumDist { dist, min: Some(min), max })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;

    fn read(src: &str, usage: Use) -> Result<NumDist, String> {
        let mut rep = Reporter::new("d.yaml", src);
        let node = yaml::parse(src, &mut rep).unwrap();
        let d = parse(&mut rep, &node, "latency", usage);
        match d {
            Some(d) if rep.diags.is_empty() => Ok(d),
            _ => Err(rep.diags.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")),
        }
    }

    #[test]
    fn reads_every_shape() {
        let d = read("distribution: log_normal\nmedian_ms: 200\nsigma: 0.8\n", Use::Latency).unwrap();
        assert_eq!(d.dist, Dist::LogNormal { mu: 200f64.ln(), sigma: 0.8 });
        let d = read("mean_ms: 100\nvariance: 0.3\n", Use::Latency).unwrap();
        assert_eq!(d.dist, Dist::Uniform { low: 70.0, high: 130.0 });
        assert_eq!(d.min, Some(0.0));
        let d = read("distribution: log_normal\np50: 100\np99: 1000\n", Use::Value).unwrap();
        let Dist::LogNormal { mu, sigma } = d.dist else { panic!() };
        assert!((mu - 100f64.ln()).abs() < 1e-12);
        assert!((sigma - 10f64.ln() / Z99).abs() < 1e-12);
        let d = read(
            "distribution: mixture\ncomponents:\n  - weight: 0.7\n    distribution: normal\n    mean: 50\n    stddev: 10\n  - weight: 0.3\n    distribution: log_normal\n    median: 500\n    sigma: 0.6\n",
            Use::Latency,
        )
        .unwrap();
        assert!(matches!(d.dist, Dist::Mixture(ref c) if c.len() == 2));
        assert_eq!(read("250", Use::Latency).unwrap().dist, Dist::Constant(250.0));
        for src in [
            "distribution: pareto\nscale: 10\nshape: 2\n",
            "distribution: exponential\nmean: 5\n",
            "distribution: uniform\nlow: 1\nhigh: 2\n",
            "distribution: poisson\nlambda: 2.5\n",
            "distribution: geometric\np: 0.3\n",
            "distribution: constant\nvalue: 3\nmin: 0\nmax: 5\n",
        ] {
            read(src, Use::Value).unwrap();
        }
    }

    #[test]
    fn rejects_impossible_parameters_with_location() {
        let e = read("distribution: log_normal\nmedian_ms: 200\nsigma: -1\n", Use::Latency).unwrap_err();
        assert!(e.starts_with("d.yaml:3:8: sigma must be > 0, found -1"), "{e}");
        let e = read("distribution: uniform\nlow: 5\nhigh: 1\n", Use::Value).unwrap_err();
        assert!(e.contains("low (5) is greater than high (1)"), "{e}");
        let e = read("distribution: log_normal\np50: 100\np99: 50\n", Use::Value).unwrap_err();
        assert!(e.contains("d.yaml:3:6: p99 (50) must be greater than p50 (100)"), "{e}");
        let e = read("distribution: geometric\np: 1.5\n", Use::Value).unwrap_err();
        assert!(e.contains("p must be in (0, 1]"), "{e}");
        let e = read("distribution: lognormal\nmedian: 1\nsigma: 1\n", Use::Value).unwrap_err();
        assert!(e.contains("did you mean `log_normal`?"), "{e}");
        let e = read("distribution: normal\nmean: 1\nstdev: 1\n", Use::Value).unwrap_err();
        assert!(e.contains("unknown key `stdev`") && e.contains("did you mean `stddev`?"), "{e}");
        let e = read("distribution: mixture\ncomponents: []\n", Use::Value).unwrap_err();
        assert!(e.contains("positive total weight"), "{e}");
        let e = read("distribution: poisson\nlambda: 0\n", Use::Value).unwrap_err();
        assert!(e.contains("lambda must be in (0, 1e18], found 0"), "{e}");
    }
}
