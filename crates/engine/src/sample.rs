//! Samplers compiled from distribution parameters (validated by the scenario crate).

use rand::Rng;
use rand_distr::{Distribution, Exp, Geometric, LogNormal, Normal, Pareto, Poisson};
use tsim_model::num::f64_of;
use tsim_scenario::{Dist, NumDist};

use crate::error::SamplerError;
use crate::rng::{cumulative, pick, unit};

/// The distribution library's reason, kept as text (each shape has its own error type).
fn shape_err(e: impl std::fmt::Display) -> SamplerError {
    SamplerError::Shape(e.to_string())
}

/// A ready-to-sample distribution with clamping bounds.
#[derive(Debug, Clone)]
pub struct Sampler {
    shape: Shape,
    min: f64,
    max: f64,
}

#[derive(Debug, Clone)]
enum Shape {
    Const(f64),
    Uniform { low: f64, width: f64 },
    Normal(Normal<f64>),
    LogNormal(LogNormal<f64>),
    Exp(Exp<f64>),
    Pareto(Pareto<f64>),
    Poisson(Poisson<f64>),
    Geometric(Geometric),
    Mixture { cum: Vec<f64>, parts: Vec<Sampler> },
}

impl Sampler {
    /// Compiles `d`; `floor` is an extra lower bound (0 for latencies).
    pub fn new(d: &NumDist, floor: Option<f64>) -> Result<Sampler, SamplerError> {
        let shape = match &d.dist {
            Dist::Constant(v) => Shape::Const(*v),
            Dist::Uniform { low, high } => Shape::Uniform { low: *low, width: high - low },
            Dist::Normal { mean, stddev } => Shape::Normal(Normal::new(*mean, *stddev).map_err(shape_err)?),
            Dist::LogNormal { mu, sigma } => Shape::LogNormal(LogNormal::new(*mu, *sigma).map_err(shape_err)?),
            Dist::Exponential { mean } => Shape::Exp(Exp::new(1.0 / mean).map_err(shape_err)?),
            Dist::Pareto { scale, shape } => Shape::Pareto(Pareto::new(*scale, *shape).map_err(shape_err)?),
            Dist::Poisson { lambda } => Shape::Poisson(Poisson::new(*lambda).map_err(shape_err)?),
            Dist::Geometric { p } => Shape::Geometric(Geometric::new(*p).map_err(shape_err)?),
            Dist::Mixture(parts) => Shape::Mixture {
                cum: cumulative(parts.iter().map(|(w, _)| *w)),
                parts: parts.iter().map(|(_, d)| Sampler::new(d, floor)).collect::<Result<_, _>>()?,
            },
        };
        let min = match (d.min, floor) {
            (Some(a), Some(b)) => a.max(b),
            (a, b) => a.or(b).unwrap_or(f64::NEG_INFINITY),
        };
        let max = d.max.unwrap_or(f64::INFINITY);
        // `clamp` needs min <= max and neither NaN (the scenario reader checks this too).
        if min.is_nan() || max.is_nan() || min > max {
            return Err(SamplerError::Bounds { min, max });
        }
        Ok(Sampler { shape, min, max })
    }

    /// One sample, clamped to the bounds.
    #[inline]
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let v = match &self.shape {
            Shape::Const(v) => *v,
            Shape::Uniform { low, width } => low + width * unit(rng),
            Shape::Normal(d) => d.sample(rng),
            Shape::LogNormal(d) => d.sample(rng),
            Shape::Exp(d) => d.sample(rng),
            Shape::Pareto(d) => d.sample(rng),
            Shape::Poisson(d) => d.sample(rng),
            Shape::Geometric(d) => f64_of(d.sample(rng) + 1),
            Shape::Mixture { cum, parts } => parts[pick(rng, cum)].sample(rng),
        };
        v.clamp(self.min, self.max)
    }
}
