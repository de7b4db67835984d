//! Why scenarios that the reader accepted cannot be compiled into an engine.

use thiserror::Error;

/// A scenario set that cannot be run; the message names the scenario, span and line.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CompileError {
    /// No scenario was given.
    #[error("no scenarios to run")]
    NoScenarios,
    /// Several scenarios, all of weight 0.
    #[error("every scenario has weight 0")]
    NoWeight,
    /// Tenant weights below 0, not finite, or adding up to 0.
    #[error("tenant weights must be >= 0 with a positive total")]
    TenantWeights,
    /// A distribution whose parameters cannot be sampled.
    #[error("{at}: {what}: {reason}")]
    Distribution {
        /// The scenario and span (with its line).
        at: String,
        /// What the distribution is for (`latency`, `attribute \`k\``, …).
        what: String,
        /// Why it cannot be sampled.
        reason: SamplerError,
    },
    /// A template `{var.NAME}` that the variant gives no value.
    #[error("{at}: template refers to `{{{reference}}}`, but no `vars: {{{var}: …}}` gives it a value")]
    UnsetVar {
        /// The scenario and span (with its line).
        at: String,
        /// The reference as written (`var.model`).
        reference: String,
        /// The variable's name (`model`).
        var: String,
    },
    /// A template reference that is no earlier attribute, trace attribute or built-in.
    #[error("{at}: template refers to unknown `{reference}`")]
    UnknownReference {
        /// The scenario and span (with its line).
        at: String,
        /// The reference as written.
        reference: String,
    },
    /// Incidents that cannot be run (too many).
    #[error("{0}")]
    Incidents(String),
    /// Declared metrics that clash (a name used twice with different shapes, …).
    #[error("scenario `{scenario}`: {reason}")]
    Metrics {
        /// The scenario.
        scenario: String,
        /// The clash.
        reason: String,
    },
}

/// Parameters a sampler cannot be built from.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum SamplerError {
    /// The shape's own check failed (the distribution library's reason).
    #[error("{0}")]
    Shape(String),
    /// The clamping bounds cannot hold (`min > max`, or NaN).
    #[error("min ({min}) is greater than max ({max})")]
    Bounds {
        /// The lower bound.
        min: f64,
        /// The upper bound.
        max: f64,
    },
}
