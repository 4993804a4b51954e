//! Why a key distribution cannot be built.

use super::VALID_FORMS;

/// Why a key distribution could not be built or parsed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum KeyDistError {
    /// `n == 0`: every distribution needs at least one key.
    EmptyKeySpace {
        /// The distribution's name.
        dist: &'static str,
    },
    /// θ was not a finite number > 0.
    InvalidTheta {
        /// The distribution's name.
        dist: &'static str,
        /// The θ given.
        theta: f64,
    },
    /// `hotspot`'s hot fraction was not in (0, 1).
    InvalidHotFraction {
        /// The hot fraction given.
        hot_fraction: f64,
    },
    /// `hotspot`'s hot op fraction was not in (0, 1).
    InvalidHotOpFraction {
        /// The hot op fraction given.
        hot_op_fraction: f64,
    },
    /// `exponential`'s percentile was not in (0, 100).
    InvalidPercentile {
        /// The percentile given.
        percentile: f64,
    },
    /// `exponential`'s fraction was not in (0, 1].
    InvalidFraction {
        /// The fraction given.
        fraction: f64,
    },
    /// The spec was empty (or only spaces).
    EmptySpec,
    /// The spec named no known distribution.
    UnknownDistribution {
        /// The name given (the spec up to its first `:`).
        name: String,
    },
    /// A parameter of the spec was not a number.
    InvalidNumber {
        /// The whole spec.
        spec: String,
        /// The parameter that is not a number.
        value: String,
    },
    /// The spec had a number of parameters its distribution does not take.
    WrongParameterCount {
        /// The whole spec.
        spec: String,
        /// The forms the distribution takes, e.g. `zipfian[:θ]`.
        expected: &'static str,
    },
}

impl std::fmt::Display for KeyDistError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::EmptyKeySpace { dist } => write!(f, "{dist} needs at least 1 key (n ≥ 1), got n = 0"),
            Self::InvalidTheta { dist, theta } => {
                write!(
                    f,
                    "{dist} θ must be a finite number > 0, i.e. in (0, ∞) (θ = 1 is fine), got {theta}"
                )
            }
            Self::InvalidHotFraction { hot_fraction } => {
                write!(
                    f,
                    "hotspot hot_fraction must be in (0, 1), exclusive, got {hot_fraction}"
                )
            }
            Self::InvalidHotOpFraction { hot_op_fraction } => {
                write!(
                    f,
                    "hotspot hot_op_fraction must be in (0, 1), exclusive, got {hot_op_fraction}"
                )
            }
            Self::InvalidPercentile { percentile } => {
                write!(
                    f,
                    "exponential percentile must be in (0, 100), exclusive, got {percentile}"
                )
            }
            Self::InvalidFraction { fraction } => {
                write!(f, "exponential fraction must be in (0, 1], got {fraction}")
            }
            Self::EmptySpec => write!(f, "empty key distribution spec; valid forms: {VALID_FORMS}"),
            Self::UnknownDistribution { name } => {
                write!(f, "unknown key distribution {name:?}; valid forms: {VALID_FORMS}")
            }
            Self::InvalidNumber { spec, value } => {
                write!(f, "key distribution {spec:?}: parameter {value:?} is not a number")
            }
            Self::WrongParameterCount { spec, expected } => {
                write!(
                    f,
                    "key distribution {spec:?} has the wrong number of parameters; expected {expected}"
                )
            }
        }
    }
}

impl std::error::Error for KeyDistError {}
