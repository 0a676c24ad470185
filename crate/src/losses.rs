//! The loss heads: what the last layer's outputs mean, the loss on them with its gradient, the
//! class probabilities, and where SDLM's curvature pass starts.
//!
//! - Softmax cross-entropy, fused with a softmax on the last layer (which then stays linear),
//!   optionally against smoothed labels (Keras's `label_smoothing`).
//! - LeCun et al. 1998's losses over RBF distances (eq. 8, eq. 9 with its constant `j`, or
//!   cross-entropy over `−y`), with their output curvature.

use crate::error::{ModelError, Result};
use crate::kernels::rbf::{rbf_loss, RbfLoss};
use crate::kernels::softmax::{softmax, softmax_cross_entropy_smoothed, SoftmaxParams};
use serde::Deserialize;

#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum LossSpec {
    /// With a softmax on the last layer; the labels smoothed by `label_smoothing` (0: none).
    SparseCategoricalCrossentropy {
        #[serde(default)]
        label_smoothing: f32,
    },
    /// LeCun et al. 1998 eq. 8, over an RBF output.
    RbfMaxLikelihood,
    /// Eq. 9 with its constant `j`, over an RBF output.
    RbfMap { j: f32 },
    /// Softmax cross-entropy over the negative RBF distances.
    RbfCrossEntropy,
}

/// What the last layer computes, and the loss on it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Head {
    /// Logits, with softmax cross-entropy fused, against labels smoothed by `smoothing`.
    Softmax { smoothing: f32 },
    /// RBF distances (smaller is better), with one of the paper's losses.
    Rbf(RbfLoss),
}

impl LossSpec {
    /// The loss as the TypeScript API names it, for messages.
    pub fn api_name(&self) -> &'static str {
        match self {
            LossSpec::SparseCategoricalCrossentropy { .. } => "sparseCategoricalCrossentropy",
            LossSpec::RbfMaxLikelihood => "rbfMaxLikelihood",
            LossSpec::RbfMap { .. } => "rbfMap",
            LossSpec::RbfCrossEntropy => "rbfCrossEntropy",
        }
    }
}

impl Head {
    /// The head for `loss` over the last layer (`last`: its index and kind), which ends in a
    /// softmax or is an RBF layer; the one place that decides which losses fit which outputs.
    pub fn new(loss: LossSpec, softmax_output: bool, rbf_output: bool, last: (usize, &'static str)) -> Result<Head> {
        let name = loss.api_name();
        let at_last = |message: String| ModelError::invalid(message).at(last.0, last.1);
        Ok(match loss {
            LossSpec::SparseCategoricalCrossentropy { label_smoothing } if !(0.0..=1.0).contains(&label_smoothing) => {
                return Err(ModelError::invalid(format!(
                    "{name}'s labelSmoothing must be in [0, 1], got {label_smoothing}"
                )))
            }
            LossSpec::SparseCategoricalCrossentropy { label_smoothing } if softmax_output => {
                Head::Softmax { smoothing: label_smoothing }
            }
            LossSpec::SparseCategoricalCrossentropy { .. } => {
                return Err(at_last(format!("{name} needs a softmax on the last layer")))
            }
            _ if !rbf_output => return Err(at_last(format!("the loss {name} needs an rbf output on the last layer"))),
            LossSpec::RbfMaxLikelihood => Head::Rbf(RbfLoss::MaxLikelihood),
            LossSpec::RbfMap { j } if j.is_finite() && j > 0.0 => Head::Rbf(RbfLoss::Map { j }),
            LossSpec::RbfMap { j } => {
                return Err(ModelError::invalid(format!("{name} needs a constant j > 0, got {j}")))
            }
            LossSpec::RbfCrossEntropy => Head::Rbf(RbfLoss::CrossEntropy),
        })
    }

    /// Scratch values [`Head::loss`] needs.
    pub fn scratch_len(&self, batch: usize, classes: usize) -> usize {
        match self {
            Head::Softmax { .. } => 0,
            Head::Rbf(loss) => loss.scratch_len(batch, classes),
        }
    }

    /// The batch-mean loss of the outputs `out` (`batch·classes`); writes ∂loss/∂out to `d`.
    pub fn loss(&self, sp: &SoftmaxParams, out: &[f32], labels: &[u32], d: &mut [f32], scratch: &mut [f32]) -> f32 {
        match *self {
            Head::Softmax { smoothing } => softmax_cross_entropy_smoothed(sp, smoothing, out, labels, d),
            Head::Rbf(loss) => rbf_loss(loss, sp, out, labels, d, scratch),
        }
    }

    /// Class probabilities into `probs`: the softmax of the logits, or for an RBF output the
    /// softmax of the negative distances (so the most probable class is the nearest prototype).
    /// `neg` is room for the negated distances.
    pub fn probabilities(&self, sp: &SoftmaxParams, out: &[f32], probs: &mut [f32], neg: &mut [f32]) {
        match self {
            Head::Softmax { .. } => softmax(sp, out, probs),
            Head::Rbf(_) => {
                for (a, &b) in neg.iter_mut().zip(out) {
                    *a = -b;
                }
                softmax(sp, neg, probs);
            }
        }
    }

    /// The softmax head's output curvature `p(1 − p)` into `d` (an RBF head's comes from its
    /// layer, see [`crate::layers::rbf::Rbf::output_curvature`]).
    pub fn softmax_curvature(sp: &SoftmaxParams, out: &[f32], d: &mut [f32]) {
        softmax(sp, out, d);
        for v in d.iter_mut() {
            *v *= 1.0 - *v;
        }
    }

    /// How many rows of the outputs have their best value (the first, on ties) at the label:
    /// the largest logit, or the smallest RBF distance.
    pub fn count_correct(&self, out: &[f32], classes: usize, labels: &[u32]) -> u32 {
        let smallest = matches!(self, Head::Rbf(_));
        let mut correct = 0;
        for (row, &label) in out.chunks_exact(classes).zip(labels) {
            let mut best = 0;
            for (j, &v) in row.iter().enumerate() {
                if if smallest { v < row[best] } else { v > row[best] } {
                    best = j;
                }
            }
            correct += u32::from(best == label as usize);
        }
        correct
    }
}
