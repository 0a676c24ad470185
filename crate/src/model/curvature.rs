//! SDLM's curvature (LeCun et al. 1998, appendix C): for each parameter, the mean over a few
//! hundred examples of its diagonal Gauss–Newton second derivative, handed to the optimiser.

use super::{Input, Model};
use crate::error::{ModelError, Result};
use crate::layers::{AnyLayer, Curvature, Layer};
use crate::losses::Head;

impl Model {
    /// Estimates SDLM's curvature on the examples `x` and hands it to the optimiser. Second
    /// derivatives go back through the layers like gradients (see [`Curvature`]); at the output,
    /// an RBF layer's [`output_curvature`](crate::layers::rbf::Rbf::output_curvature), or
    /// `p(1 − p)` for softmax outputs. Runs in inference mode (no dropout), in chunks of 32
    /// examples, in order.
    pub fn estimate_curvature(&mut self, x: Input<'_>, labels: &[u32]) -> Result<()> {
        if !self.optimizer.wants_curvature() {
            return Err(ModelError::invalid("estimate_curvature: only the sdlm optimizer uses a curvature"));
        }
        let n = labels.len();
        if n == 0 || x.len() != n * self.input_len {
            return Err(ModelError::shape(format!(
                "estimate_curvature: {n} labels need {} input values ({} per example), got {}",
                n * self.input_len,
                self.input_len,
                x.len()
            )));
        }
        const CHUNK: usize = 32;
        // The curvature pass fills `grads`, so any data-parallel sum in progress cannot go on.
        self.reduction = None;
        self.curvature_sum.clear();
        self.curvature_sum.resize(self.params.len(), 0.0);
        for from in (0..n).step_by(CHUNK) {
            let to = (from + CHUNK).min(n);
            let batch = self.load_input(x.slice(from * self.input_len..to * self.input_len))?;
            self.check_labels(&labels[from..to], batch)?;
            self.forward(batch, false);
            self.curvature_backward(batch)?;
            for (s, &g) in self.curvature_sum.iter_mut().zip(&self.grads) {
                *s += g;
            }
        }
        let inv = 1.0 / n as f32;
        for s in &mut self.curvature_sum {
            *s *= inv;
        }
        self.optimizer.set_curvature(&self.curvature_sum);
        Ok(())
    }

    /// SDLM's current curvature (empty for other optimisers).
    pub fn curvature(&self) -> &[f32] {
        self.optimizer.curvature()
    }

    /// Back-propagates diagonal second derivatives for `batch` examples already forwarded, leaving
    /// each parameter's sum over the batch in `grads`.
    fn curvature_backward(&mut self, batch: usize) -> Result<()> {
        let count = self.layers.len();
        let classes = self.classes;
        let out = &self.acts[count][..batch * classes];
        // The starting layer and its output curvature, in delta[0].
        let top = match (self.head, &self.layers[count - 1].layer) {
            (Head::Rbf(loss), AnyLayer::Rbf(rbf)) => {
                let in_len = self.layers[count - 1].in_len;
                let x = &self.acts[count - 1][..batch * in_len];
                rbf.output_curvature(loss, batch, x, out, &mut self.delta[0][..batch * in_len]);
                count - 1
            }
            _ => {
                let sp = self.softmax_params(batch);
                Head::softmax_curvature(&sp, out, &mut self.delta[0][..batch * classes]);
                count
            }
        };
        self.ensure_grads();
        self.grads.fill(0.0);
        let first = self.first_trainable();
        let widest = self.layers.iter().map(|s| s.in_len).max().unwrap_or(0);
        self.squares.resize(batch * widest + self.params.len(), 0.0);
        let (sq_x, sq_params) = self.squares.split_at_mut(batch * widest);
        for (s, &p) in sq_params.iter_mut().zip(&self.params) {
            *s = p * p;
        }
        let mut cur = 0;
        for i in (first.min(top)..top).rev() {
            let s = &mut self.layers[i];
            let x = &self.acts[i][..batch * s.in_len];
            let x2 = &mut sq_x[..batch * s.in_len];
            for (q, &v) in x2.iter_mut().zip(x) {
                *q = v * v;
            }
            let [d0, d1] = &mut self.delta;
            let (dy, dx) = if cur == 0 { (d0, d1) } else { (d1, d0) };
            let (head, tail) = self.grads.split_at_mut(s.bias.start.max(s.kernel.end));
            s.layer
                .curvature(Curvature {
                    batch,
                    x,
                    x2,
                    y: &self.acts[i + 1][..batch * s.out_len],
                    d2y: &mut dy[..batch * s.out_len],
                    d2x: &mut dx[..batch * s.in_len],
                    need_dx: i > first,
                    kernel: &self.params[s.kernel.clone()],
                    kernel2: &sq_params[s.kernel.clone()],
                    dkernel: &mut head[s.kernel.clone()],
                    dbias: &mut tail[..s.bias.len()],
                    scratch: &mut self.scratch,
                })
                .map_err(|e| e.at(i, s.layer.kind()))?;
            cur ^= 1;
        }
        Ok(())
    }
}
