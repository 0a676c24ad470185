//! Keras's element-wise merge layers — Add, Subtract, Multiply, Average, Maximum, Minimum — over
//! two or more inputs of one shape (Subtract: exactly two), folded in the inputs' order as Keras
//! folds them (`((x₀ ∘ x₁) ∘ x₂) …`; Average divides the sum by the count). Merges are where a graph
//! model's branches meet (a residual connection); a model whose spec lists `inputs` is a graph.
//! Multiply keeps its inputs for backward; Maximum and Minimum the input each output came from
//! (ties to the earlier input, as TensorFlow's gradients of `maximum` and `minimum` go).

use super::{Backward, BuildLayer, Builder, Built, Forward, Layer};
use crate::error::Result;
use serde::Deserialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeOp {
    Add,
    Subtract,
    Multiply,
    Average,
    Maximum,
    Minimum,
}

impl MergeOp {
    fn kind(self) -> &'static str {
        match self {
            MergeOp::Add => "add",
            MergeOp::Subtract => "subtract",
            MergeOp::Multiply => "multiply",
            MergeOp::Average => "average",
            MergeOp::Maximum => "maximum",
            MergeOp::Minimum => "minimum",
        }
    }

    /// Checks the inputs' count and shapes; the output has their shape.
    fn build(self, b: &Builder) -> Result<Built> {
        let kind = self.kind();
        let n = 1 + b.more_shapes.len();
        if n < 2 || (self == MergeOp::Subtract && n != 2) {
            let want = if self == MergeOp::Subtract { "exactly 2" } else { "at least 2" };
            return Err(b.error(kind, format!("it needs {want} inputs, got {n}")));
        }
        if n > 256 {
            return Err(b.error(kind, format!("it merges at most 256 inputs, got {n}")));
        }
        let dims = |s: &[usize; 3]| format!("{}×{}×{}", s[0], s[1], s[2]);
        if let Some((k, s)) = b.more_shapes.iter().enumerate().find(|(_, s)| **s != b.shape) {
            return Err(b.error(
                kind,
                format!(
                    "its inputs must have one shape: input 0 is {}, input {} is {}",
                    dims(&b.shape),
                    k + 1,
                    dims(s)
                ),
            ));
        }
        Ok(Built::plain(Merge { op: self, inputs: n, len: b.in_len(), kept: Vec::new(), from: Vec::new() }, b.shape))
    }
}

macro_rules! merge_specs {
    ($($spec:ident => $op:ident),* $(,)?) => {
        $(
            #[derive(Clone, Debug, PartialEq, Deserialize)]
            #[serde(deny_unknown_fields)]
            pub struct $spec {}

            impl BuildLayer for $spec {
                fn build(&self, b: &mut Builder) -> Result<Built> {
                    MergeOp::$op.build(b)
                }
            }
        )*
    };
}

merge_specs! {
    AddSpec => Add,
    SubtractSpec => Subtract,
    MultiplySpec => Multiply,
    AverageSpec => Average,
    MaximumSpec => Maximum,
    MinimumSpec => Minimum,
}

pub struct Merge {
    op: MergeOp,
    inputs: usize,
    /// Values per example in each input.
    len: usize,
    /// Multiply's inputs of the last forward pass, one after another.
    kept: Vec<f32>,
    /// Maximum's and Minimum's: which input each output value came from.
    from: Vec<u8>,
}

impl Merge {
    /// The product of every kept input but `k`, times `dy`, in the inputs' order.
    fn product_but(&self, k: usize, dy: &[f32], i: usize) -> f32 {
        let len = dy.len();
        let mut p = dy[i];
        for j in (0..self.inputs).filter(|&j| j != k) {
            p *= self.kept[j * len + i];
        }
        p
    }

    /// Input `k`'s share of `dy` into `dx`: written, or added to what is there. One loop per
    /// operation (the match outside it), so that the common ones vectorise.
    fn shares(&self, k: usize, dy: &[f32], dx: &mut [f32], accumulate: bool) {
        let dx = &mut dx[..dy.len()];
        match self.op {
            MergeOp::Add => put(dx, accumulate, |i| dy[i]),
            MergeOp::Subtract if k == 0 => put(dx, accumulate, |i| dy[i]),
            MergeOp::Subtract => put(dx, accumulate, |i| -dy[i]),
            MergeOp::Average => {
                let n = self.inputs as f32;
                put(dx, accumulate, |i| dy[i] / n)
            }
            MergeOp::Multiply => put(dx, accumulate, |i| self.product_but(k, dy, i)),
            MergeOp::Maximum | MergeOp::Minimum => {
                let from = &self.from[..dy.len()];
                put(dx, accumulate, |i| if from[i] as usize == k { dy[i] } else { 0.0 })
            }
        }
    }
}

/// `y[i] = f(start[i], x[i])` when the fold starts (input 1), else `y[i] = f(y[i], x[i])`.
#[inline(always)]
fn fold(y: &mut [f32], start: Option<&[f32]>, x: &[f32], f: impl Fn(f32, f32) -> f32) {
    match start {
        Some(a) => {
            for ((y, &a), &x) in y.iter_mut().zip(a).zip(x) {
                *y = f(a, x);
            }
        }
        None => {
            for (y, &x) in y.iter_mut().zip(x) {
                *y = f(*y, x);
            }
        }
    }
}

/// `dx[i] = g(i)`, or `dx[i] += g(i)`, for every `i`.
#[inline(always)]
fn put(dx: &mut [f32], accumulate: bool, g: impl Fn(usize) -> f32) {
    if accumulate {
        for (i, d) in dx.iter_mut().enumerate() {
            *d += g(i);
        }
    } else {
        for (i, d) in dx.iter_mut().enumerate() {
            *d = g(i);
        }
    }
}

impl Layer for Merge {
    fn kind(&self) -> &'static str {
        self.op.kind()
    }

    fn merges(&self) -> bool {
        true
    }

    fn passes_gradient(&self) -> bool {
        matches!(self.op, MergeOp::Add | MergeOp::Subtract)
    }

    fn reserve(&mut self, batch: usize) {
        match self.op {
            MergeOp::Multiply => self.kept.resize(self.inputs * batch * self.len, 0.0),
            MergeOp::Maximum | MergeOp::Minimum => self.from.resize(batch * self.len, 0),
            _ => {}
        }
    }

    fn working_values(&self, batch: u128) -> u128 {
        // Multiply's kept inputs; Maximum's and Minimum's sources are bytes, a quarter of a value.
        let values = batch * self.len as u128;
        match self.op {
            MergeOp::Multiply => self.inputs as u128 * values,
            MergeOp::Maximum | MergeOp::Minimum => values.div_ceil(4),
            _ => 0,
        }
    }

    fn forward(&mut self, f: Forward<'_>) {
        // The fold starts in merge_forward, from input 0 and input 1 together (one pass, not a
        // copy and a pass); Multiply keeps input 0 for backward. `reserve` sized what it keeps.
        if self.op == MergeOp::Multiply {
            self.kept[..f.x.len()].copy_from_slice(f.x);
        }
    }

    fn merge_forward(&mut self, k: usize, first: &[f32], x: &[f32], y: &mut [f32]) {
        let start = (k == 1).then_some(first);
        let last = k + 1 == self.inputs;
        match self.op {
            MergeOp::Add => fold(y, start, x, |a, b| a + b),
            MergeOp::Average if last => {
                let n = self.inputs as f32;
                fold(y, start, x, |a, b| (a + b) / n)
            }
            MergeOp::Average => fold(y, start, x, |a, b| a + b),
            MergeOp::Subtract => fold(y, start, x, |a, b| a - b),
            MergeOp::Multiply => {
                let len = y.len();
                self.kept[k * len..(k + 1) * len].copy_from_slice(x);
                fold(y, start, x, |a, b| a * b)
            }
            MergeOp::Maximum | MergeOp::Minimum => {
                let max = self.op == MergeOp::Maximum;
                let from = &mut self.from[..y.len()];
                if let Some(a) = start {
                    y.copy_from_slice(a);
                    from.fill(0);
                }
                for ((y, &x), from) in y.iter_mut().zip(x).zip(from) {
                    if (max && x > *y) || (!max && x < *y) {
                        *y = x;
                        *from = k as u8;
                    }
                }
            }
        }
    }

    fn backward(&mut self, b: Backward<'_>) {
        if b.need_dx {
            self.shares(0, b.dy, b.dx, false);
        }
    }

    fn merge_backward(&mut self, k: usize, dy: &[f32], dx: &mut [f32], accumulate: bool) {
        self.shares(k, dy, dx, accumulate);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel_test;
    use crate::layers::merge_test;

    fn run(op: MergeOp, xs: &[&[f32]], dy: &[f32]) -> (Vec<f32>, Vec<Vec<f32>>) {
        let mut m = Merge { op, inputs: xs.len(), len: xs[0].len(), kept: Vec::new(), from: Vec::new() };
        merge_test::run(&mut m, xs, xs[0].len(), dy)
    }
    kernel_test!(
        fn each_merge_folds_its_inputs_in_order_and_shares_the_gradient() {
            let (a, b, c) = ([1.0f32, -2.0, 3.0, 0.5], [0.25f32, 4.0, 3.0, -1.0], [2.0f32, -3.0, 5.0, 0.5]);
            let dy = [0.5f32, -1.5, 2.0, 1.0];
            let (y, g) = run(MergeOp::Add, &[&a, &b, &c], &dy);
            assert_eq!(y, (0..4).map(|i| (a[i] + b[i]) + c[i]).collect::<Vec<_>>());
            assert!(g.iter().all(|g| g == &dy));
            let (y, g) = run(MergeOp::Subtract, &[&a, &b], &dy);
            assert_eq!(y, (0..4).map(|i| a[i] - b[i]).collect::<Vec<_>>());
            assert_eq!(g, [dy.to_vec(), dy.iter().map(|d| -d).collect()]);
            let (y, g) = run(MergeOp::Average, &[&a, &b, &c], &dy);
            assert_eq!(y, (0..4).map(|i| ((a[i] + b[i]) + c[i]) / 3.0).collect::<Vec<_>>());
            assert!(g.iter().all(|g| *g == dy.iter().map(|d| d / 3.0).collect::<Vec<_>>()));
            let (y, g) = run(MergeOp::Multiply, &[&a, &b, &c], &dy);
            assert_eq!(y, (0..4).map(|i| (a[i] * b[i]) * c[i]).collect::<Vec<_>>());
            assert_eq!(g[0], (0..4).map(|i| (dy[i] * b[i]) * c[i]).collect::<Vec<_>>());
            assert_eq!(g[1], (0..4).map(|i| (dy[i] * a[i]) * c[i]).collect::<Vec<_>>());
            assert_eq!(g[2], (0..4).map(|i| (dy[i] * a[i]) * b[i]).collect::<Vec<_>>());
            // Ties (3.0 at index 2, 0.5 at index 3) go to the earlier input.
            let (y, g) = run(MergeOp::Maximum, &[&a, &b, &c], &dy);
            assert_eq!(y, [2.0, 4.0, 5.0, 0.5]);
            assert_eq!(g, [vec![0.0, 0.0, 0.0, 1.0], vec![0.0, -1.5, 0.0, 0.0], vec![0.5, 0.0, 2.0, 0.0]]);
            let (y, g) = run(MergeOp::Minimum, &[&a, &b, &c], &dy);
            assert_eq!(y, [0.25, -3.0, 3.0, -1.0]);
            assert_eq!(g, [vec![0.0, 0.0, 2.0, 0.0], vec![0.5, 0.0, 0.0, 1.0], vec![0.0, -1.5, 0.0, 0.0]]);
        }
    );
}
