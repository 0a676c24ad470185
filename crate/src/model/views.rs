//! Test-time averaging: class probabilities averaged over views of each input (flipped and
//! moved copies, [`crate::kernels::views`]), for `predict` and `evaluate` with `views`.
//!
//! Each chunk of examples is loaded once; every view is made from that copy into the input
//! buffer and run forward in inference mode. The probabilities are summed view by view in the
//! order given, starting from the first view's, then divided by the number of views: the same
//! bits wherever it runs and however the examples are split into calls.

use super::{Input, Model, INFERENCE_CHUNK};
use crate::error::{ModelError, Result};
use crate::kernels::softmax::{cross_entropy_of_probabilities, SoftmaxParams};
use crate::kernels::views::{view_images, View};
use crate::kernels::warp::ImageParams;
use crate::losses::Head;

/// The most views one call averages.
pub const MAX_VIEWS: usize = 256;

impl Model {
    /// Decodes views given as `[dx, dy, flip_h, flip_v]` per view and checks them against the
    /// input shape.
    pub fn parse_views(&self, flat: &[i32]) -> Result<Vec<View>> {
        if flat.is_empty() || flat.len() % 4 != 0 {
            return Err(ModelError::invalid(format!(
                "views: {} values, not a whole number of views of 4 (dx, dy, horizontal flip, vertical flip)",
                flat.len()
            )));
        }
        if flat.len() / 4 > MAX_VIEWS {
            return Err(ModelError::limit(format!("views: {} views, above the limit of {MAX_VIEWS}", flat.len() / 4)));
        }
        let [h, w, _] = self.input_shape;
        flat.chunks_exact(4)
            .enumerate()
            .map(|(i, v)| {
                let flag = |k: usize, what: &str| match v[k] {
                    0 => Ok(false),
                    1 => Ok(true),
                    bad => Err(ModelError::invalid(format!("views[{i}]: {what} must be 0 or 1, got {bad}"))),
                };
                let view = View { dx: v[0], dy: v[1], flip_h: flag(2, "the horizontal flip")?, flip_v: flag(3, "the vertical flip")? };
                if !view.keeps_pixels(h, w) {
                    return Err(ModelError::invalid(format!(
                        "views[{i}]: a move of dx {} and dy {} leaves nothing of a {h}×{w} input (|dx| < {w} and |dy| < {h})",
                        view.dx, view.dy
                    )));
                }
                Ok(view)
            })
            .collect()
    }

    /// Class probabilities averaged over `views` of each example, `batch·classes` values.
    pub fn predict_views(&mut self, x: Input<'_>, views: &[View]) -> Result<Vec<f32>> {
        let batch = self.examples(&x)?;
        if views.is_empty() {
            return Err(ModelError::invalid("views: none given"));
        }
        let (classes, len) = (self.classes, self.input_len);
        let [h, w, c] = self.input_shape;
        let mut out = vec![0.0; batch * classes];
        let mut source = vec![0.0; INFERENCE_CHUNK.min(batch) * len];
        let mut probs = vec![0.0; INFERENCE_CHUNK.min(batch) * classes];
        for start in (0..batch).step_by(INFERENCE_CHUNK) {
            let n = INFERENCE_CHUNK.min(batch - start);
            self.load_inference_input(x.slice(start * len..(start + n) * len))?;
            source[..n * len].copy_from_slice(&self.acts[0][..n * len]);
            let p = ImageParams { batch: n, h, w, c };
            let sum = &mut out[start * classes..(start + n) * classes];
            for (k, &view) in views.iter().enumerate() {
                view_images(&p, view, &source[..n * len], &mut self.acts[0][..n * len]);
                self.forward(n, false);
                if k == 0 {
                    self.probabilities(n, sum);
                } else {
                    let probs = &mut probs[..n * classes];
                    self.probabilities(n, probs);
                    for (s, &q) in sum.iter_mut().zip(probs.iter()) {
                        *s += q;
                    }
                }
            }
            let count = views.len() as f32;
            for s in sum.iter_mut() {
                *s /= count;
            }
        }
        Ok(out)
    }

    /// [`Model::evaluate`] on the probabilities averaged over `views`: `[loss, correct,
    /// probabilities…]`. The loss is the cross-entropy of the averaged probabilities (label
    /// smoothing as compiled, clipped as Keras clips probabilities; for an RBF output, of the
    /// probabilities `predict` gives), plus the weight penalties; `correct` counts the examples
    /// whose largest averaged probability (the first, on ties) is at the label.
    pub fn evaluate_views(&mut self, x: Input<'_>, labels: &[u32], views: &[View]) -> Result<Vec<f32>> {
        let batch = self.examples(&x)?;
        self.check_labels(labels, batch)?;
        let probs = self.predict_views(x, views)?;
        let classes = self.classes;
        let smoothing = match self.head {
            Head::Softmax { smoothing } => smoothing,
            Head::Rbf(_) => 0.0,
        };
        let loss = cross_entropy_of_probabilities(&SoftmaxParams { batch, classes }, smoothing, &probs, labels);
        let correct = Head::Softmax { smoothing }.count_correct(&probs, classes, labels);
        let mut out = Vec::with_capacity(2 + probs.len());
        out.extend_from_slice(&[self.with_penalties(loss), correct as f32]);
        out.extend_from_slice(&probs);
        Ok(out)
    }
}
