//! Dense (fully connected) kernels: `y = x·W + b` and its gradients.
//!
//! Layouts follow Keras: `x` is `[batch, inputs]`, the kernel `W` is `[inputs, units]`, `b` is
//! `[units]`, all row-major. The SIMD path runs on [`gemm`](super::gemm); the scalar reference
//! in [`scalar`] is written out independently, in the same summation order, so the two agree
//! bit for bit.

use super::gemm::{gemm, gemm_packed, gemm_transposed_a, pack_b, pack_b_transposed, GemmParams};
use super::{check_len, ShapeError};

/// The shape of one dense layer applied to a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DenseParams {
    pub batch: usize,
    pub inputs: usize,
    pub units: usize,
}

impl DenseParams {
    pub fn x_len(&self) -> usize {
        self.batch * self.inputs
    }

    pub fn w_len(&self) -> usize {
        self.inputs * self.units
    }

    pub fn y_len(&self) -> usize {
        self.batch * self.units
    }

    fn forward_gemm(&self) -> GemmParams {
        GemmParams { m: self.batch, k: self.inputs, n: self.units }
    }

    fn input_grad_gemm(&self) -> GemmParams {
        GemmParams { m: self.batch, k: self.units, n: self.inputs }
    }

    fn weight_grad_gemm(&self) -> GemmParams {
        GemmParams { m: self.inputs, k: self.batch, n: self.units }
    }

    /// The scratch [`dense_forward`] needs: the GEMM's packing buffers.
    pub fn forward_scratch_len(&self) -> usize {
        self.forward_gemm().scratch_len()
    }

    /// The length of the kernel packed by [`dense_pack_weights`].
    pub fn packed_w_len(&self) -> usize {
        self.forward_gemm().pack_len()
    }

    /// Scratch for [`dense_forward_packed`].
    pub fn forward_packed_scratch_len(&self) -> usize {
        self.forward_gemm().a_pack_len()
    }

    /// The scratch [`dense_backward`] needs: the packing buffers of its two products.
    pub fn backward_scratch_len(&self) -> usize {
        self.input_grad_gemm().scratch_len().max(self.weight_grad_gemm().scratch_len())
    }

    /// Checks the forward operands.
    ///
    /// # Shapes
    /// `x`: batch·inputs, `w`: inputs·units, `b`: units, `y`: batch·units.
    pub fn check_forward(&self, x: usize, w: usize, b: usize, y: usize) -> Result<(), ShapeError> {
        let DenseParams { batch, inputs, units } = *self;
        const K: &str = "dense_forward";
        check_len(K, "x", x, self.x_len(), || format!("batch·inputs = {batch}·{inputs}"))?;
        check_len(K, "w", w, self.w_len(), || format!("inputs·units = {inputs}·{units}"))?;
        check_len(K, "b", b, units, || "units".into())?;
        check_len(K, "y", y, self.y_len(), || format!("batch·units = {batch}·{units}"))
    }

    /// Checks the backward operands; the gradients have the shapes of what they differentiate.
    pub fn check_backward(&self, x: usize, w: usize, dy: usize, grads: [usize; 3]) -> Result<(), ShapeError> {
        let DenseParams { batch, inputs, units } = *self;
        const K: &str = "dense_backward";
        check_len(K, "x", x, self.x_len(), || format!("batch·inputs = {batch}·{inputs}"))?;
        check_len(K, "w", w, self.w_len(), || format!("inputs·units = {inputs}·{units}"))?;
        check_len(K, "dy", dy, self.y_len(), || format!("batch·units = {batch}·{units}"))?;
        check_len(K, "dx", grads[0], self.x_len(), || format!("batch·inputs = {batch}·{inputs}"))?;
        check_len(K, "dw", grads[1], self.w_len(), || format!("inputs·units = {inputs}·{units}"))?;
        check_len(K, "db", grads[2], units, || "units".into())
    }
}

/// The gradient buffers [`dense_backward`] writes.
pub struct DenseGrads<'a> {
    /// ∂L/∂x, batch·inputs.
    pub dx: &'a mut [f32],
    /// ∂L/∂W, inputs·units.
    pub dw: &'a mut [f32],
    /// ∂L/∂b, units.
    pub db: &'a mut [f32],
}

fn fail(e: ShapeError) -> ! {
    panic!("{e}")
}

/// `y = x·W + b`.
///
/// # Shapes
/// `x`: batch·inputs, `w`: inputs·units, `b`: units, `y`: batch·units, `scratch`: at least
/// [`DenseParams::forward_scratch_len`].
pub fn dense_forward(p: &DenseParams, x: &[f32], w: &[f32], b: &[f32], y: &mut [f32], scratch: &mut [f32]) {
    p.check_forward(x.len(), w.len(), b.len(), y.len()).unwrap_or_else(|e| fail(e));
    gemm(&p.forward_gemm(), x, w, Some(b), y, scratch);
}

/// Packs a kernel for [`dense_forward_packed`] (at least [`DenseParams::packed_w_len`] values).
pub fn dense_pack_weights(p: &DenseParams, w: &[f32], packed: &mut [f32]) {
    assert_eq!(w.len(), p.w_len(), "dense_pack_weights: w has {} values, expected {}", w.len(), p.w_len());
    pack_b(&p.forward_gemm(), w, packed);
}

/// [`dense_forward`] with a kernel packed by [`dense_pack_weights`]; the same bits. `scratch`:
/// at least [`DenseParams::forward_packed_scratch_len`].
pub fn dense_forward_packed(
    p: &DenseParams,
    x: &[f32],
    packed_w: &[f32],
    b: &[f32],
    y: &mut [f32],
    scratch: &mut [f32],
) {
    p.check_forward(x.len(), p.w_len(), b.len(), y.len()).unwrap_or_else(|e| fail(e));
    assert!(packed_w.len() >= p.packed_w_len(), "dense_forward_packed: the packed kernel is too short");
    gemm_packed(&p.forward_gemm(), x, packed_w, Some(b), y, scratch);
}

/// Overwrites `grads` with ∂L/∂x = dy·Wᵀ, ∂L/∂W = xᵀ·dy and ∂L/∂b = Σ_batch dy.
///
/// # Shapes
/// `x`: batch·inputs, `w`: inputs·units, `dy`: batch·units, `scratch`: at least
/// [`DenseParams::backward_scratch_len`].
pub fn dense_backward(p: &DenseParams, x: &[f32], w: &[f32], dy: &[f32], grads: DenseGrads<'_>, scratch: &mut [f32]) {
    p.check_backward(x.len(), w.len(), dy.len(), [grads.dx.len(), grads.dw.len(), grads.db.len()])
        .unwrap_or_else(|e| fail(e));
    assert!(
        scratch.len() >= p.backward_scratch_len(),
        "dense_backward: scratch has {} values, needs {}",
        scratch.len(),
        p.backward_scratch_len()
    );
    let (packed, a_pack) = scratch.split_at_mut(p.input_grad_gemm().pack_len());

    // dx = dy · Wᵀ, with Wᵀ packed straight from W.
    let g = p.input_grad_gemm();
    pack_b_transposed(&g, w, packed);
    gemm_packed(&g, dy, packed, None, grads.dx, a_pack);

    // dW = xᵀ · dy, with xᵀ packed straight from x.
    gemm_transposed_a(&p.weight_grad_gemm(), x, dy, grads.dw, scratch);

    column_sums(p.batch, p.units, dy, grads.db);
}

/// `out[j] = Σ_i m[i, j]`, rows added in order from +0.0. Each column is an independent chain of
/// vertical adds, which the compiler vectorises without reordering them.
fn column_sums(rows: usize, cols: usize, m: &[f32], out: &mut [f32]) {
    out.fill(0.0);
    for row in m.chunks_exact(cols).take(rows) {
        for (o, &v) in out.iter_mut().zip(row) {
            *o += v;
        }
    }
}

/// The reference: direct loops in the canonical order.
pub mod scalar {
    use super::{fail, DenseGrads, DenseParams};

    /// `y = x·W + b`. See [`super::dense_forward`].
    pub fn dense_forward(p: &DenseParams, x: &[f32], w: &[f32], b: &[f32], y: &mut [f32]) {
        p.check_forward(x.len(), w.len(), b.len(), y.len()).unwrap_or_else(|e| fail(e));
        let DenseParams { batch, inputs, units } = *p;
        for n in 0..batch {
            for o in 0..units {
                let mut acc = 0.0f32;
                for i in 0..inputs {
                    acc += x[n * inputs + i] * w[i * units + o];
                }
                y[n * units + o] = acc + b[o];
            }
        }
    }

    /// The gradients. See [`super::dense_backward`].
    pub fn dense_backward(p: &DenseParams, x: &[f32], w: &[f32], dy: &[f32], grads: DenseGrads<'_>) {
        p.check_backward(x.len(), w.len(), dy.len(), [grads.dx.len(), grads.dw.len(), grads.db.len()])
            .unwrap_or_else(|e| fail(e));
        let DenseParams { batch, inputs, units } = *p;
        for n in 0..batch {
            for i in 0..inputs {
                let mut acc = 0.0f32;
                for o in 0..units {
                    acc += dy[n * units + o] * w[i * units + o];
                }
                grads.dx[n * inputs + i] = acc;
            }
        }
        for i in 0..inputs {
            for o in 0..units {
                let mut acc = 0.0f32;
                for n in 0..batch {
                    acc += x[n * inputs + i] * dy[n * units + o];
                }
                grads.dw[i * units + o] = acc;
            }
        }
        for o in 0..units {
            let mut acc = 0.0f32;
            for n in 0..batch {
                acc += dy[n * units + o];
            }
            grads.db[o] = acc;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel_test;
    use crate::kernels::test_support::{assert_bits_eq, check_gradient, random_vec, test_rng};

    struct Case {
        p: DenseParams,
        x: Vec<f32>,
        w: Vec<f32>,
        b: Vec<f32>,
        dy: Vec<f32>,
    }

    fn case(seed: u64, batch: usize, inputs: usize, units: usize) -> Case {
        let mut rng = test_rng(seed);
        let p = DenseParams { batch, inputs, units };
        Case {
            x: random_vec(&mut rng, p.x_len()),
            w: random_vec(&mut rng, p.w_len()),
            b: random_vec(&mut rng, units),
            dy: random_vec(&mut rng, p.y_len()),
            p,
        }
    }

    struct Grads {
        dx: Vec<f32>,
        dw: Vec<f32>,
        db: Vec<f32>,
    }

    impl Grads {
        fn for_params(p: &DenseParams) -> Self {
            Grads { dx: vec![f32::NAN; p.x_len()], dw: vec![f32::NAN; p.w_len()], db: vec![f32::NAN; p.units] }
        }

        fn views(&mut self) -> DenseGrads<'_> {
            DenseGrads { dx: &mut self.dx, dw: &mut self.dw, db: &mut self.db }
        }
    }

    fn run_backward(c: &Case) -> Grads {
        let mut g = Grads::for_params(&c.p);
        let mut scratch = vec![f32::NAN; c.p.backward_scratch_len()];
        dense_backward(&c.p, &c.x, &c.w, &c.dy, g.views(), &mut scratch);
        g
    }

    kernel_test!(
        fn simd_matches_scalar_on_random_shapes() {
            // Sizes not divisible by 4 or 8, single rows and columns, and a Fashion-like layer.
            let shapes = [
                (1, 1, 1),
                (1, 3, 5),
                (2, 7, 9),
                (3, 5, 4),
                (4, 8, 8),
                (5, 13, 11),
                (7, 17, 3),
                (9, 33, 10),
                (32, 64, 10),
                (6, 1, 31),
                (31, 2, 1),
                (32, 2304, 12),
            ];
            for (t, &(batch, inputs, units)) in shapes.iter().enumerate() {
                let c = case(100 + t as u64, batch, inputs, units);
                let ctx = format!("{:?}", c.p);

                let mut want_y = vec![f32::NAN; c.p.y_len()];
                let mut got_y = vec![f32::NAN; c.p.y_len()];
                scalar::dense_forward(&c.p, &c.x, &c.w, &c.b, &mut want_y);
                dense_forward(&c.p, &c.x, &c.w, &c.b, &mut got_y, &mut vec![f32::NAN; c.p.forward_scratch_len()]);
                assert_bits_eq(&got_y, &want_y, &format!("y {ctx}"));

                let mut want = Grads::for_params(&c.p);
                scalar::dense_backward(&c.p, &c.x, &c.w, &c.dy, want.views());
                let got = run_backward(&c);
                assert_bits_eq(&got.dx, &want.dx, &format!("dx {ctx}"));
                assert_bits_eq(&got.dw, &want.dw, &format!("dw {ctx}"));
                assert_bits_eq(&got.db, &want.db, &format!("db {ctx}"));
            }
        }
    );

    kernel_test!(
        fn gradients_match_finite_differences() {
            // L = Σ y ⊙ dy, so ∂L/∂θ is exactly what dense_backward computes for that dy.
            for (seed, batch, inputs, units) in [(1, 3, 5, 7), (2, 4, 9, 4), (3, 1, 2, 13)] {
                let c = case(seed, batch, inputs, units);
                let g = run_backward(&c);
                let loss = |x: &[f32], w: &[f32], b: &[f32]| -> f64 {
                    let mut y = vec![0.0; c.p.y_len()];
                    dense_forward(&c.p, x, w, b, &mut y, &mut vec![0.0; c.p.forward_scratch_len()]);
                    y.iter().zip(&c.dy).map(|(&y, &d)| y as f64 * d as f64).sum()
                };
                let (mut x, mut w, mut b) = (c.x.clone(), c.w.clone(), c.b.clone());
                check_gradient("dx", &mut x, &g.dx, 64, |x| loss(x, &c.w, &c.b));
                check_gradient("dw", &mut w, &g.dw, 64, |w| loss(&c.x, w, &c.b));
                check_gradient("db", &mut b, &g.db, 64, |b| loss(&c.x, &c.w, b));
            }
        }
    );

    kernel_test!(
        fn forward_matches_hand_computed_values() {
            // x = [[1, 2]], W = [[1, 2, 3], [4, 5, 6]], b = [0.5, -1, 0]: y = [9.5, 11, 15].
            let p = DenseParams { batch: 1, inputs: 2, units: 3 };
            let mut y = [0.0; 3];
            dense_forward(
                &p,
                &[1.0, 2.0],
                &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                &[0.5, -1.0, 0.0],
                &mut y,
                &mut vec![0.0; p.forward_scratch_len()],
            );
            assert_eq!(y, [9.5, 11.0, 15.0]);
        }
    );

    kernel_test!(
        fn wrong_lengths_name_the_operand_and_sizes() {
            let p = DenseParams { batch: 2, inputs: 3, units: 4 };
            let err = p.check_forward(6, 12, 4, 7).unwrap_err();
            assert_eq!(err.to_string(), "dense_forward: y has 7 values, expected batch·units = 2·4 = 8");
            let err = p.check_backward(6, 11, 8, [6, 12, 4]).unwrap_err();
            assert_eq!(err.to_string(), "dense_backward: w has 11 values, expected inputs·units = 3·4 = 12");
        }
    );
}
