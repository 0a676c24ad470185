//! Benchmark entry points, built only with the cargo feature `bench` (`npm run bench` builds a
//! separate module with it; the shipped one does not contain this code).
//!
//! - [`simd_peak`]: this machine's wasm SIMD ceiling, 12 independent f32x4 multiply-add chains
//!   (12 fit V8's 16 xmm registers with room for the constants).
//! - [`KernelBench`]: one kernel at one shape, with its buffers allocated once and filled from the
//!   seeded generator; JS times `run_forward`/`run_backward`, which repeat the kernel `reps`
//!   times inside one call so the boundary cost does not count.

use crate::kernels::batch_norm::{
    batch_moments, batch_norm_forward, batch_norm_input_grad, batch_norm_param_grads, inverse_std, BatchNormParams,
};
use crate::kernels::conv::{conv2d_backward, conv2d_forward, Conv2dGrads, Conv2dParams, Padding};
use crate::kernels::conv::{winograd, ConvAlgo};
use crate::kernels::dense::{dense_backward, dense_forward, DenseGrads, DenseParams};
use crate::kernels::pool::{max_pool_backward, max_pool_forward, subsample_backward, subsample_forward};
use crate::kernels::pool::{Pool2dParams, SubsampleGrads};
use crate::rng::Rng;
use core::arch::wasm32::*;
use core::hint::black_box;
use wasm_bindgen::prelude::*;

/// Runs `iterations` rounds of 12 independent `acc = acc·m + c` chains on f32x4 and returns a
/// checksum. Each round is 12·4·2 = 96 floating-point operations.
#[wasm_bindgen]
pub fn simd_peak(iterations: u32) -> f32 {
    let m = f32x4_splat(black_box(0.999_999_9));
    let c = f32x4_splat(black_box(1e-7));
    let mut acc = [f32x4_splat(black_box(1.0)); 12];
    for _ in 0..iterations {
        for a in acc.iter_mut() {
            *a = f32x4_add(f32x4_mul(*a, m), c);
        }
    }
    let total = acc.iter().fold(f32x4_splat(0.0), |s, &a| f32x4_add(s, a));
    f32x4_extract_lane::<0>(total)
        + f32x4_extract_lane::<1>(total)
        + f32x4_extract_lane::<2>(total)
        + f32x4_extract_lane::<3>(total)
}

/// Floating-point operations in one [`simd_peak`] iteration.
#[wasm_bindgen]
pub fn simd_peak_flops_per_iteration() -> f64 {
    96.0
}

enum Kind {
    /// The flag: a network's first layer, whose backward pass computes no input gradient.
    Conv(Conv2dParams, bool),
    Dense(DenseParams),
    MaxPool(Pool2dParams),
    Subsample(Pool2dParams),
    BatchNorm(BatchNormParams),
}

/// One kernel at one shape, ready to run repeatedly.
#[wasm_bindgen]
pub struct KernelBench {
    kind: Kind,
    x: Vec<f32>,
    w: Vec<f32>,
    b: Vec<f32>,
    y: Vec<f32>,
    dy: Vec<f32>,
    dx: Vec<f32>,
    dw: Vec<f32>,
    db: Vec<f32>,
    scratch: Vec<f32>,
    argmax: Vec<u32>,
    forward_flops: f64,
}

fn random(rng: &mut Rng, len: usize) -> Vec<f32> {
    (0..len).map(|_| rng.uniform(-1.0, 1.0)).collect()
}

#[wasm_bindgen]
impl KernelBench {
    /// Conv2D on NHWC input with a square kernel. `first`: the network's first layer, whose
    /// backward pass skips the input gradient, as models run it.
    #[allow(clippy::too_many_arguments)]
    pub fn conv2d(
        batch: usize,
        h: usize,
        w: usize,
        c: usize,
        filters: usize,
        k: usize,
        stride: usize,
        same: bool,
        first: bool,
    ) -> Self {
        let p = Conv2dParams {
            batch,
            in_h: h,
            in_w: w,
            in_c: c,
            out_c: filters,
            k_h: k,
            k_w: k,
            stride_h: stride,
            stride_w: stride,
            padding: if same { Padding::Same } else { Padding::Valid },
        };
        p.validate().unwrap_or_else(|e| panic!("{e}"));
        let mut rng = Rng::new(1);
        let flops = 2.0 * p.y_len() as f64 * p.patch_len() as f64;
        KernelBench {
            x: random(&mut rng, p.x_len()),
            w: random(&mut rng, p.w_len()),
            b: random(&mut rng, filters),
            y: vec![0.0; p.y_len()],
            dy: random(&mut rng, p.y_len()),
            dx: vec![0.0; p.x_len()],
            dw: vec![0.0; p.w_len()],
            db: vec![0.0; filters],
            scratch: vec![0.0; p.backward_scratch_len().max(p.forward_scratch_len())],
            argmax: Vec::new(),
            forward_flops: flops,
            kind: Kind::Conv(p, first),
        }
    }

    /// Dense on a batch.
    pub fn dense(batch: usize, inputs: usize, units: usize) -> Self {
        let p = DenseParams { batch, inputs, units };
        let mut rng = Rng::new(2);
        KernelBench {
            x: random(&mut rng, p.x_len()),
            w: random(&mut rng, p.w_len()),
            b: random(&mut rng, units),
            y: vec![0.0; p.y_len()],
            dy: random(&mut rng, p.y_len()),
            dx: vec![0.0; p.x_len()],
            dw: vec![0.0; p.w_len()],
            db: vec![0.0; units],
            scratch: vec![0.0; p.backward_scratch_len().max(p.forward_scratch_len())],
            argmax: Vec::new(),
            forward_flops: 2.0 * (batch * inputs * units) as f64,
            kind: Kind::Dense(p),
        }
    }

    /// Max pooling (`subsample = false`) or LeNet's subsampling, `pool`×`pool` windows, valid.
    pub fn pool(batch: usize, h: usize, w: usize, c: usize, pool: usize, stride: usize, subsample: bool) -> Self {
        let p = Pool2dParams {
            batch,
            in_h: h,
            in_w: w,
            channels: c,
            pool_h: pool,
            pool_w: pool,
            stride_h: stride,
            stride_w: stride,
            padding: Padding::Valid,
        };
        p.validate().unwrap_or_else(|e| panic!("{e}"));
        let mut rng = Rng::new(3);
        let mut bench = KernelBench {
            x: random(&mut rng, p.x_len()),
            w: random(&mut rng, c),
            b: random(&mut rng, c),
            y: vec![0.0; p.y_len()],
            dy: random(&mut rng, p.y_len()),
            dx: vec![0.0; p.x_len()],
            dw: vec![0.0; c],
            db: vec![0.0; c],
            scratch: Vec::new(),
            argmax: vec![0; p.y_len()],
            forward_flops: (p.y_len() * pool * pool) as f64,
            kind: if subsample { Kind::Subsample(p) } else { Kind::MaxPool(p) },
        };
        // Max pooling's backward routes through the argmax its forward pass records.
        bench.run_forward(1);
        bench
    }

    /// Batch normalisation in training (batch statistics) over `batch`·`h`·`w` positions of `c`
    /// channels. Forward: the moments, 1/√(var + ε) and the normalisation; backward: dγ, dβ and
    /// the input's gradient.
    pub fn batch_norm(batch: usize, h: usize, w: usize, c: usize) -> Self {
        let p = BatchNormParams { rows: batch * h * w, channels: c, epsilon: 1e-3 };
        let n = p.rows * c;
        let mut rng = Rng::new(4);
        let mut bench = KernelBench {
            x: random(&mut rng, n),
            // γ and β, then mean, var, 1/σ, scale and shift.
            w: random(&mut rng, 2 * c),
            b: vec![0.0; 5 * c],
            y: vec![0.0; n],
            dy: random(&mut rng, n),
            dx: vec![0.0; n],
            dw: vec![0.0; c],
            db: vec![0.0; c],
            scratch: Vec::new(),
            argmax: Vec::new(),
            forward_flops: n as f64,
            kind: Kind::BatchNorm(p),
        };
        // The backward pass uses the statistics the forward pass computes.
        bench.run_forward(1);
        bench
    }

    /// How the kernel computes, as its conv plan says: `winograd F(2×2)` or `winograd F(4×4)`, `direct`
    /// (conv/direct.rs), `gemm` (patch rows times the kernel, gathered or not), or the layer
    /// kind for dense and pooling.
    pub fn algorithm(&self) -> String {
        match &self.kind {
            Kind::Conv(p, _) => match ConvAlgo::of(p) {
                ConvAlgo::Winograd(winograd::Tile::F2) => "winograd F(2×2)",
                ConvAlgo::Winograd(winograd::Tile::F4) => "winograd F(4×4)",
                ConvAlgo::Direct => "direct",
                ConvAlgo::Gather | ConvAlgo::Im2col => "gemm",
            },
            Kind::Dense(_) => "gemm",
            Kind::MaxPool(_) | Kind::Subsample(_) => "pool",
            Kind::BatchNorm(_) => "batch norm",
        }
        .into()
    }

    /// The multiply-adds (counting two) one forward pass actually performs in its products, over
    /// [`Self::forward_flops`]: below 1 for Winograd, whose products replace the direct
    /// convolution's (its transforms are not counted); 1 otherwise. The backward pass's products
    /// keep the same ratio.
    pub fn performed_ratio(&self) -> f64 {
        match &self.kind {
            Kind::Conv(p, _) if matches!(ConvAlgo::of(p), ConvAlgo::Winograd(_)) => {
                winograd::product_flops(winograd::Tile::of(p), p) / self.forward_flops
            }
            _ => 1.0,
        }
    }

    /// Floating-point operations (multiply-adds count two) in one forward pass.
    pub fn forward_flops(&self) -> f64 {
        self.forward_flops
    }

    /// Floating-point operations in one backward pass: input and weight gradients, each as
    /// costly as the forward pass for conv and dense (a first conv layer: the weight gradient
    /// only).
    pub fn backward_flops(&self) -> f64 {
        match self.kind {
            Kind::Conv(_, true) => self.forward_flops,
            Kind::Conv(_, false) | Kind::Dense(_) => 2.0 * self.forward_flops,
            _ => self.forward_flops,
        }
    }

    /// Runs the forward kernel `reps` times; returns a value that depends on the output.
    pub fn run_forward(&mut self, reps: u32) -> f32 {
        for _ in 0..reps {
            match &self.kind {
                Kind::Conv(p, _) => conv2d_forward(p, &self.x, &self.w, &self.b, &mut self.y, &mut self.scratch),
                Kind::Dense(p) => dense_forward(p, &self.x, &self.w, &self.b, &mut self.y, &mut self.scratch),
                Kind::MaxPool(p) => max_pool_forward(p, &self.x, &mut self.y, &mut self.argmax),
                Kind::Subsample(p) => subsample_forward(p, &self.x, &self.w, &self.b, &mut self.y),
                Kind::BatchNorm(p) => {
                    let c = p.channels;
                    let (gamma, beta) = self.w.split_at(c);
                    let (mean, rest) = self.b.split_at_mut(c);
                    let (var, rest) = rest.split_at_mut(c);
                    let (inv, rest) = rest.split_at_mut(c);
                    let (scale, shift) = rest.split_at_mut(c);
                    batch_moments(p, &self.x, mean, var);
                    inverse_std(p, var, inv);
                    batch_norm_forward(p, &self.x, mean, inv, Some(gamma), Some(beta), scale, shift, &mut self.y);
                }
            }
        }
        self.y[self.y.len() / 2]
    }

    /// Runs the backward kernel (all gradients) `reps` times; returns a value that depends on them.
    pub fn run_backward(&mut self, reps: u32) -> f32 {
        for _ in 0..reps {
            match &self.kind {
                Kind::Conv(p, first) => {
                    let dx = if *first { None } else { Some(&mut self.dx[..]) };
                    let g = Conv2dGrads { dx, dw: &mut self.dw, db: &mut self.db };
                    conv2d_backward(p, &self.x, &self.w, &self.dy, g, &mut self.scratch)
                }
                Kind::Dense(p) => {
                    let g = DenseGrads { dx: &mut self.dx, dw: &mut self.dw, db: &mut self.db };
                    dense_backward(p, &self.x, &self.w, &self.dy, g, &mut self.scratch)
                }
                Kind::MaxPool(p) => max_pool_backward(p, &self.dy, &self.argmax, &mut self.dx),
                Kind::Subsample(p) => {
                    let g = SubsampleGrads { dx: &mut self.dx, dcoef: &mut self.dw, dbias: &mut self.db };
                    subsample_backward(p, &self.x, &self.w, &self.dy, g)
                }
                Kind::BatchNorm(p) => {
                    let c = p.channels;
                    let (mean, rest) = self.b.split_at(c);
                    let (inv, rest) = rest[c..].split_at(c);
                    let scale = &rest[..c];
                    batch_norm_param_grads(p, &self.x, &self.dy, mean, inv, &mut self.dw, &mut self.db);
                    let sums = Some((&self.dw[..], &self.db[..]));
                    batch_norm_input_grad(p, &self.x, &self.dy, mean, inv, scale, sums, &mut self.dx);
                }
            }
        }
        self.dx[self.dx.len() / 2] + self.dw[self.dw.len() / 2]
    }
}
