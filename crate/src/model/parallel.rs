//! Data-parallel training: a batch is cut into micro-batches, each with its own dropout masks
//! (from the step's seed and its index), and their gradients are summed in micro-batch order,
//! each weighted by its share of the batch. Whether one instance computes them all or workers
//! compute runs of them and ship them back, every value meets the same operations in the same
//! order, so the weights are the same bits for any number of workers.

use super::{Input, Model};
use crate::error::{ModelError, Result};
use crate::rng::Rng;

/// A data-parallel reduction in progress (see `Model::reduce_begin`).
pub(super) struct Reduction {
    expected: usize,
    seen: usize,
    total: u32,
    counted: u64,
    loss: f32,
    correct: u32,
}

impl Model {
    /// A data-parallel step computed in this one instance: the same micro-batches, dropout
    /// masks and reduction order as [`micro_gradients`](Self::micro_gradients) on workers
    /// followed by [`apply_micro_gradients`](Self::apply_micro_gradients), so the result is the
    /// same bits whatever the number of workers.
    pub fn train_step_micro(&mut self, x: Input<'_>, labels: &[u32], micro: usize) -> Result<f32> {
        self.check_micro(&x, labels, micro)?;
        let step_seed = self.draw_step_seed();
        self.reduce_begin(labels.len().div_ceil(micro), labels.len() as u32)?;
        self.reduce_own(x, labels, micro, step_seed)?;
        self.reduce_finish()
    }

    /// Data-parallel training, this instance's own share of the step begun by
    /// [`reduce_begin`](Self::reduce_begin): the next micro-batches in order (as many as `x`
    /// holds), computed from its own weights with the step's seed and added to the sum one by
    /// one (layer by layer, as each layer's gradient is done). The same arithmetic as
    /// [`micro_gradients`](Self::micro_gradients) on a worker followed by
    /// [`reduce_add`](Self::reduce_add), without the copies or a second gradient vector.
    pub fn reduce_own(&mut self, x: Input<'_>, labels: &[u32], micro: usize, step_seed: u64) -> Result<()> {
        self.check_micro(&x, labels, micro)?;
        let (n, per) = (labels.len(), self.input_len);
        let Some(r) = self.reduction.as_ref() else {
            return Err(ModelError::state("reduce_own before reduce_begin"));
        };
        let first = r.seen;
        if first + n.div_ceil(micro) > r.expected {
            return Err(ModelError::state(format!(
                "{} micro-batches added to a step of {}",
                first + n.div_ceil(micro),
                r.expected
            )));
        }
        let total = r.total;
        for (j, from) in (0..n).step_by(micro).enumerate() {
            let to = (from + micro).min(n);
            let count = (to - from) as u32;
            let add = Some(Self::share(count, total));
            let (loss, correct) =
                self.micro_gradient(x.slice(from * per..to * per), &labels[from..to], step_seed, first + j, add);
            let r = self.reduction.as_mut().expect("checked above");
            Self::reduce_tally(r, count, loss, correct);
        }
        Ok(())
    }

    /// Draws the seed of the next data-parallel step (for its micro-batches' dropout masks) from
    /// the model's generator.
    pub fn draw_step_seed(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// Forward (training mode, dropout masks from micro-batch `index`'s own generator), loss and
    /// backward for one micro-batch, leaving its gradient in `grads` (`add: None`) or adding
    /// `weight ×` it to `grads` (`add: Some(weight)`). Returns (loss, correct).
    pub(super) fn micro_gradient(
        &mut self,
        x: Input<'_>,
        labels: &[u32],
        step_seed: u64,
        index: usize,
        add: Option<f32>,
    ) -> (f32, u32) {
        let batch = labels.len();
        let own = Rng::new(step_seed ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let saved = core::mem::replace(&mut self.rng, own);
        // Sizes were checked by the caller; load_input cannot fail for them.
        let loaded = self.load_input(x);
        debug_assert_eq!(loaded, Ok(batch));
        self.forward(batch, true);
        self.rng = saved;
        let correct = self.count_correct(batch, labels);
        let loss = self.loss(batch, labels);
        self.backward(batch, add);
        (loss, correct)
    }

    fn check_micro(&mut self, x: &Input<'_>, labels: &[u32], micro: usize) -> Result<()> {
        if micro == 0 {
            return Err(ModelError::invalid("the micro-batch size must be at least 1"));
        }
        if labels.is_empty() {
            return Err(ModelError::shape("no examples"));
        }
        self.check_input_count(x, labels)?;
        self.check_labels(labels, labels.len())?;
        self.reserve(micro.min(labels.len()), true)
    }

    /// Data-parallel training, the worker's part: the gradients of consecutive micro-batches of
    /// `micro` examples (the last may be shorter), the first being micro-batch `first` of the
    /// step whose seed is `step_seed`. With `weights` non-empty, they replace the parameters
    /// first. Returns, for each micro-batch, `[loss, correct, gradient…]` (2 + P values).
    pub fn micro_gradients(
        &mut self,
        weights: &[f32],
        x: Input<'_>,
        labels: &[u32],
        micro: usize,
        first: usize,
        step_seed: u64,
    ) -> Result<Vec<f32>> {
        if !weights.is_empty() {
            self.set_params(weights)?;
        }
        let mut out = Vec::with_capacity(labels.len().div_ceil(micro.max(1)) * (2 + self.params.len()));
        self.micro_gradients_each(x, labels, micro, first, step_seed, |_, loss, correct, grads| {
            out.push(loss);
            out.push(correct as f32);
            out.extend_from_slice(grads);
        })?;
        Ok(out)
    }

    /// [`micro_gradients`](Self::micro_gradients) from the current parameters, giving each
    /// micro-batch's `(index within this call, loss, correct, gradient)` to `emit` as soon as it
    /// is done, so that the caller can copy it straight to where it goes.
    pub fn micro_gradients_each(
        &mut self,
        x: Input<'_>,
        labels: &[u32],
        micro: usize,
        first: usize,
        step_seed: u64,
        mut emit: impl FnMut(usize, f32, u32, &[f32]),
    ) -> Result<()> {
        self.check_micro(&x, labels, micro)?;
        // The gradients overwrite any data-parallel sum in progress, which cannot go on.
        self.reduction = None;
        let (n, per) = (labels.len(), self.input_len);
        for (j, from) in (0..n).step_by(micro).enumerate() {
            let to = (from + micro).min(n);
            let (loss, correct) =
                self.micro_gradient(x.slice(from * per..to * per), &labels[from..to], step_seed, first + j, None);
            emit(j, loss, correct, &self.grads);
        }
        Ok(())
    }

    /// Data-parallel training, the reduction: `parts` holds every micro-batch's
    /// `[loss, correct, gradient…]` in micro-batch order, `counts` their sizes. Sums the
    /// gradients and losses in that order, each weighted by its share of the batch, then takes
    /// the optimiser step. Returns the batch loss (NaN with `divergence` set when it diverged).
    pub fn apply_micro_gradients(&mut self, parts: &[f32], counts: &[u32]) -> Result<f32> {
        let total = counts.iter().map(|&c| c as u64).sum::<u64>();
        self.reduce_begin(
            counts.len(),
            u32::try_from(total).map_err(|_| ModelError::limit("too many examples in a batch"))?,
        )?;
        self.reduce_add(parts, counts)?;
        self.reduce_finish()
    }

    /// Starts the reduction of a step of `micro_batches` micro-batches, `total` examples in all;
    /// [`reduce_add`](Self::reduce_add) then takes their parts in order (so the caller need not
    /// join them), and [`reduce_finish`](Self::reduce_finish) takes the step.
    pub fn reduce_begin(&mut self, micro_batches: usize, total: u32) -> Result<()> {
        if micro_batches == 0 || total == 0 {
            return Err(ModelError::invalid("a step needs at least one micro-batch and one example"));
        }
        self.ensure_grads();
        self.grads.fill(0.0);
        self.reduction = Some(Reduction { expected: micro_batches, seen: 0, total, counted: 0, loss: 0.0, correct: 0 });
        Ok(())
    }

    /// Adds the next micro-batches' `[loss, correct, gradient…]` parts (sizes `counts`).
    pub fn reduce_add(&mut self, parts: &[f32], counts: &[u32]) -> Result<()> {
        self.reduce_add_from(parts.len(), counts, |at, dst| dst.copy_from_slice(&parts[at..at + dst.len()]))
    }

    /// [`reduce_add`](Self::reduce_add) of `len` values that `read(at, dst)` copies out from
    /// wherever they are (values `at..at + dst.len()`), a few thousand at a time: the caller
    /// need not copy them all in first, and each stretch of the sum stays in cache while every
    /// part is added to it. Each value meets the same operations in the same order as in
    /// `reduce_add`, so the bits are the same.
    pub fn reduce_add_from(
        &mut self,
        len: usize,
        counts: &[u32],
        mut read: impl FnMut(usize, &mut [f32]),
    ) -> Result<()> {
        /// Values of one part read and added at a time (32 KiB).
        const STRETCH: usize = 8192;
        let p = self.params.len();
        let Some(r) = self.reduction.as_mut() else {
            return Err(ModelError::state("reduce_add before reduce_begin"));
        };
        if counts.is_empty() || len != counts.len() * (2 + p) {
            return Err(ModelError::shape(format!(
                "{} micro-batches of {} parameters need {} values, got {}",
                counts.len(),
                p,
                counts.len() * (2 + p),
                len
            )));
        }
        if counts.contains(&0) {
            return Err(ModelError::invalid("a micro-batch has no examples"));
        }
        if r.seen + counts.len() > r.expected {
            return Err(ModelError::state(format!(
                "{} micro-batches added to a step of {}",
                r.seen + counts.len(),
                r.expected
            )));
        }
        let total = r.total;
        for (k, &count) in counts.iter().enumerate() {
            let mut head = [0.0; 2];
            read(k * (2 + p), &mut head);
            Self::reduce_tally(r, count, head[0], head[1] as u32);
        }
        // On the stack: a step allocates nothing.
        let mut buffer = [0.0; STRETCH];
        for start in (0..p).step_by(STRETCH) {
            let sum = &mut self.grads[start..(start + STRETCH).min(p)];
            let stretch = &mut buffer[..sum.len()];
            for (k, &count) in counts.iter().enumerate() {
                read(k * (2 + p) + 2 + start, stretch);
                Self::accumulate(sum, Self::share(count, total), stretch);
            }
        }
        Ok(())
    }

    /// A micro-batch's weight in the step's sum: its share of the batch.
    fn share(count: u32, total: u32) -> f32 {
        count as f32 / total as f32
    }

    /// Counts one micro-batch into the reduction, adding its loss weighted by its share, in the
    /// one order both training paths use. Returns the weight its gradient is added with.
    fn reduce_tally(r: &mut Reduction, count: u32, loss: f32, correct: u32) -> f32 {
        let weight = Self::share(count, r.total);
        r.loss += weight * loss;
        r.correct += correct;
        r.counted += count as u64;
        r.seen += 1;
        weight
    }

    /// Ends the reduction begun by [`reduce_begin`](Self::reduce_begin) and takes the step.
    pub fn reduce_finish(&mut self) -> Result<f32> {
        let Some(r) = self.reduction.take() else {
            return Err(ModelError::state("reduce_finish before reduce_begin"));
        };
        if r.seen != r.expected || r.counted != r.total as u64 {
            return Err(ModelError::state(format!(
                "the step expected {} micro-batches of {} examples in all, got {} of {}",
                r.expected, r.total, r.seen, r.counted
            )));
        }
        self.last_correct = r.correct;
        Ok(self.update(r.loss))
    }
}
