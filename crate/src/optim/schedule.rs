//! Learning-rate schedules over optimiser steps, as Keras defines them.

use crate::error::{ModelError, Result};

/// A learning rate as a function of the step (the number of updates already made).
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    Constant {
        value: f32,
    },
    /// Keras's PiecewiseConstantDecay: `values[i]` while `boundaries[i-1] < step <= boundaries[i]`.
    Piecewise {
        boundaries: Vec<u64>,
        values: Vec<f32>,
    },
}

impl Schedule {
    pub fn validate(&self) -> Result<()> {
        match self {
            Schedule::Constant { value } if !(value.is_finite() && *value > 0.0) => {
                Err(ModelError::invalid(format!("learning rate must be a positive number, got {value}")))
            }
            Schedule::Piecewise { boundaries, values } if values.len() != boundaries.len() + 1 => {
                Err(ModelError::invalid(format!(
                    "a piecewise schedule needs one more value than boundaries: {} boundaries, {} values",
                    boundaries.len(),
                    values.len()
                )))
            }
            Schedule::Piecewise { boundaries, .. } if boundaries.windows(2).any(|w| w[0] >= w[1]) => {
                Err(ModelError::invalid("piecewise schedule boundaries must increase"))
            }
            Schedule::Piecewise { values, .. } if values.iter().any(|v| !(v.is_finite() && *v > 0.0)) => {
                Err(ModelError::invalid("piecewise schedule values must be positive numbers"))
            }
            _ => Ok(()),
        }
    }

    pub fn at(&self, step: u64) -> f32 {
        match self {
            Schedule::Constant { value } => *value,
            Schedule::Piecewise { boundaries, values } => {
                values[boundaries.iter().position(|&b| step <= b).unwrap_or(boundaries.len())]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel_test;

    kernel_test!(
        fn piecewise_schedule_follows_keras() {
            let s = Schedule::Piecewise { boundaries: vec![2, 5], values: vec![1.0, 0.5, 0.1] };
            s.validate().unwrap();
            let got: Vec<f32> = (0..8).map(|t| s.at(t)).collect();
            assert_eq!(got, [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.1, 0.1]);
            assert!(Schedule::Piecewise { boundaries: vec![2], values: vec![1.0] }.validate().is_err());
            assert!(Schedule::Constant { value: 0.0 }.validate().is_err());
        }
    );
}
