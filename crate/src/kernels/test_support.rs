//! The shared test harness: seeded random data, bit-exact comparison, finite differences.

use crate::rng::Rng;

pub fn test_rng(seed: u64) -> Rng {
    Rng::new(seed)
}

/// Values uniform in [-1, 1).
pub fn random_vec(rng: &mut Rng, len: usize) -> Vec<f32> {
    (0..len).map(|_| rng.uniform(-1.0, 1.0)).collect()
}

/// Asserts that two slices hold the same bits, naming the first index that differs.
pub fn assert_bits_eq(got: &[f32], want: &[f32], context: &str) {
    assert_eq!(got.len(), want.len(), "{context}: lengths differ");
    if let Some(i) = (0..got.len()).find(|&i| got[i].to_bits() != want[i].to_bits()) {
        panic!("{context}: index {i} differs: got {:e}, want {:e}", got[i], want[i]);
    }
}

/// Checks `analytic[i] ≈ ∂loss/∂params[i]` by central differences, perturbing one value at a
/// time (at most `max_checks` of them, spread evenly). `loss` is evaluated in f64 from the
/// kernel's f32 outputs.
pub fn check_gradient(
    name: &str,
    params: &mut [f32],
    analytic: &[f32],
    max_checks: usize,
    mut loss: impl FnMut(&[f32]) -> f64,
) {
    assert_eq!(params.len(), analytic.len(), "{name}: gradient length");
    const H: f32 = 1e-2;
    let stride = params.len().div_ceil(max_checks).max(1);
    for i in (0..params.len()).step_by(stride) {
        let original = params[i];
        params[i] = original + H;
        let up = loss(params);
        params[i] = original - H;
        let down = loss(params);
        params[i] = original;
        let numeric = (up - down) / (2.0 * H as f64);
        let want = analytic[i] as f64;
        let tolerance = 2e-3 * want.abs().max(1.0);
        assert!((numeric - want).abs() <= tolerance, "{name}[{i}]: analytic {want:e}, finite difference {numeric:e}");
    }
}
