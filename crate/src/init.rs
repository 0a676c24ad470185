//! Weight initialisers, all drawing from the model's one [`Rng`].
//!
//! - `he_normal`: Keras's definition, a normal truncated at two standard deviations, with
//!   stddev `sqrt(2/fan_in) / 0.8796…` (the correction for the truncation).
//! - `glorot_uniform`: uniform in ±`sqrt(6/(fan_in + fan_out))` (Keras's default).
//! - `lecun_uniform`: Keras's, uniform in ±`sqrt(3/fan_in)`.
//! - `lenet_uniform`: LeNet-5's rule, uniform in ±`2.4/fan_in` (LeCun et al. 1998, as secondary
//!   sources report it).
//! - `zeros`, `ones`.
//!
//! Normal draws use Marsaglia and Tsang's ziggurat, with Doornik's 128 blocks and one 64-bit draw
//! per try (ZIGNOR; J. A. Doornik, "An Improved Ziggurat Method to Generate Normal Random
//! Samples", 2005). About 99% of tries cost a multiply and a compare, where Box–Muller needs an
//! `ln` and a `cos` (a cold-start cost: `node --cpu-prof`; docs/performance.md).
//! The math runs in f64 inside the wasm, so a seed gives the same weights on every platform.

use crate::rng::Rng;

/// The initialisers a layer can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Initializer {
    HeNormal,
    GlorotUniform,
    LecunUniform,
    LenetUniform,
    Zeros,
    Ones,
}

/// Fills `out` for a weight with the given fan-in and fan-out.
pub fn initialize(init: Initializer, rng: &mut Rng, fan_in: usize, fan_out: usize, out: &mut [f32]) {
    match init {
        Initializer::Zeros => out.fill(0.0),
        Initializer::Ones => out.fill(1.0),
        Initializer::GlorotUniform => {
            let limit = (6.0 / (fan_in + fan_out) as f64).sqrt() as f32;
            out.iter_mut().for_each(|v| *v = rng.uniform(-limit, limit));
        }
        Initializer::LecunUniform => {
            let limit = (3.0 / fan_in as f64).sqrt() as f32;
            out.iter_mut().for_each(|v| *v = rng.uniform(-limit, limit));
        }
        Initializer::LenetUniform => {
            let limit = 2.4 / fan_in as f32;
            out.iter_mut().for_each(|v| *v = rng.uniform(-limit, limit));
        }
        Initializer::HeNormal => {
            // Keras: stddev of the untruncated normal, corrected for truncation at ±2σ.
            let stddev = (2.0 / fan_in as f64).sqrt() / 0.879_625_661_034_239_8;
            let zig = Ziggurat::new();
            for chunk in out.chunks_mut(FILL_CHUNK) {
                he_normal_chunk(&zig, rng, stddev, chunk);
            }
        }
    }
}

/// Values per call of [`he_normal_chunk`].
const FILL_CHUNK: usize = 4096;

/// Draws `out` in order. A function of its own, called per [`FILL_CHUNK`] values, so that V8
/// can move the draws to optimised code in the middle of a layer: it swaps code only between
/// calls, and a 590k-weight layer drawn in one call stayed in its baseline code throughout
/// (`npm run bench:cold`; `scripts/build.mjs` also keeps wasm-opt from inlining this into its
/// caller). The draws and their order are the same as one loop's.
#[inline(never)]
fn he_normal_chunk(zig: &Ziggurat, rng: &mut Rng, stddev: f64, out: &mut [f32]) {
    out.iter_mut().for_each(|v| *v = (zig.truncated(rng, 2.0) * stddev) as f32);
}

/// The ziggurat's rightmost block edge `R` and the area `V` of each block (Doornik, for 128 blocks).
pub(crate) const ZIG_R: f64 = 3.442_619_855_899;
const ZIG_V: f64 = 9.912_563_035_262_17e-3;
const BLOCKS: usize = 128;

/// The ziggurat's tables: `x[i]`, the right edge of block i (`x[0]` is the base block's
/// equivalent width `V / f(R)`, `x[128]` = 0), and `ratio[i] = x[i + 1] / x[i]`, below which a
/// point of block i lies inside the density without evaluating it.
pub(crate) struct Ziggurat {
    x: [f64; BLOCKS + 1],
    ratio: [f64; BLOCKS],
}

impl Ziggurat {
    pub(crate) fn new() -> Self {
        let mut x = [0.0; BLOCKS + 1];
        let mut f = (-0.5 * ZIG_R * ZIG_R).exp();
        x[0] = ZIG_V / f;
        x[1] = ZIG_R;
        for i in 2..BLOCKS {
            x[i] = (-2.0 * (ZIG_V / x[i - 1] + f).ln()).sqrt();
            f = (-0.5 * x[i] * x[i]).exp();
        }
        let mut ratio = [0.0; BLOCKS];
        for i in 0..BLOCKS {
            ratio[i] = x[i + 1] / x[i];
        }
        Ziggurat { x, ratio }
    }

    /// A standard normal draw, redrawn until it lies within ±`limit` (at most `ZIG_R`).
    pub(crate) fn truncated(&self, rng: &mut Rng, limit: f64) -> f64 {
        debug_assert!(limit <= ZIG_R);
        loop {
            // The block from the low 7 bits, a uniform in [-1, 1) from the top 53.
            let bits = rng.next_u64();
            let i = (bits & (BLOCKS as u64 - 1)) as usize;
            let u = 2.0 * ((bits >> 11) as f64 / (1u64 << 53) as f64) - 1.0;
            let z = u * self.x[i];
            if u.abs() >= self.ratio[i] {
                // The base block's tail lies beyond R, outside the truncation: draw again.
                if i == 0 {
                    continue;
                }
                // A wedge: under the density with probability (f(z) − f(x[i])) / (f(x[i+1]) − f(x[i])).
                let f0 = (-0.5 * (self.x[i] * self.x[i] - z * z)).exp();
                let f1 = (-0.5 * (self.x[i + 1] * self.x[i + 1] - z * z)).exp();
                let v = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                if f1 + v * (f0 - f1) >= 1.0 {
                    continue;
                }
            }
            if z.abs() <= limit {
                return z;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel_test;

    fn stats(v: &[f32]) -> (f64, f64, f64) {
        let n = v.len() as f64;
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
        let max = v.iter().map(|&x| (x as f64).abs()).fold(0.0, f64::max);
        (mean, var.sqrt(), max)
    }

    kernel_test!(
        fn he_normal_matches_keras_statistics() {
            // fan_in 1152 (a 3×3×128 kernel): Keras's stddev is sqrt(2/1152) = 0.04167 after
            // truncation, and no value exceeds 2·0.04167/0.8796 = 0.0947.
            let mut v = vec![0.0; 200_000];
            initialize(Initializer::HeNormal, &mut Rng::new(42), 1152, 128, &mut v);
            let (mean, sd, max) = stats(&v);
            assert!(mean.abs() < 5e-4, "mean {mean}");
            assert!((sd - (2.0f64 / 1152.0).sqrt()).abs() < 5e-4, "stddev {sd}");
            assert!(max <= 2.0 * (2.0f64 / 1152.0).sqrt() / 0.8796256610342398 + 1e-6, "max {max}");
        }
    );

    kernel_test!(
        fn uniform_initialisers_respect_their_limits() {
            let mut v = vec![0.0; 50_000];
            initialize(Initializer::GlorotUniform, &mut Rng::new(1), 2304, 128, &mut v);
            let limit = (6.0f64 / (2304.0 + 128.0)).sqrt();
            let (_, sd, max) = stats(&v);
            assert!(max <= limit && max > 0.99 * limit);
            assert!((sd - limit / 3f64.sqrt()).abs() < 0.01 * limit, "stddev {sd}");
            initialize(Initializer::LenetUniform, &mut Rng::new(2), 25, 6, &mut v);
            let (_, _, max) = stats(&v);
            assert!(max <= 2.4 / 25.0 && max > 0.99 * 2.4 / 25.0);
            initialize(Initializer::LecunUniform, &mut Rng::new(4), 25, 6, &mut v);
            let (_, _, max) = stats(&v);
            let limit = (3.0f64 / 25.0).sqrt();
            assert!(max <= limit && max > 0.99 * limit);
            initialize(Initializer::Zeros, &mut Rng::new(3), 1, 1, &mut v);
            assert!(v.iter().all(|&x| x == 0.0));
        }
    );

    /// Φ(t), by Simpson's rule on the density (exact to ~1e-12 for |t| ≤ 4).
    fn normal_cdf(t: f64) -> f64 {
        let n = 4000;
        let h = t / n as f64;
        let phi = |x: f64| (-0.5 * x * x).exp() / (2.0 * core::f64::consts::PI).sqrt();
        let inner: f64 = (1..n).map(|k| if k % 2 == 1 { 4.0 } else { 2.0 } * phi(k as f64 * h)).sum();
        0.5 + h / 3.0 * (phi(0.0) + inner + phi(t))
    }

    /// `n` draws in 400 equal bins over ±`limit`, against the normal truncated there: the largest
    /// gap between the CDFs (Kolmogorov–Smirnov) and Pearson's χ² of the bin counts.
    fn compare_with_truncated_normal(n: usize, limit: f64, mut draw: impl FnMut() -> f64) -> (f64, f64) {
        let bins = 400;
        let mut counts = vec![0u32; bins];
        for _ in 0..n {
            let d = draw();
            assert!(d.abs() <= limit, "draw {d} outside ±{limit}");
            counts[(((d + limit) / (2.0 * limit) * bins as f64) as usize).min(bins - 1)] += 1;
        }
        let cdf = |k: usize| {
            let t = -limit + 2.0 * limit * k as f64 / bins as f64;
            (normal_cdf(t) - normal_cdf(-limit)) / (normal_cdf(limit) - normal_cdf(-limit))
        };
        let (mut seen, mut ks, mut chi2) = (0u64, 0.0f64, 0.0);
        for (k, &c) in counts.iter().enumerate() {
            seen += c as u64;
            ks = ks.max((seen as f64 / n as f64 - cdf(k + 1)).abs());
            let expected = n as f64 * (cdf(k + 1) - cdf(k));
            chi2 += (c as f64 - expected).powi(2) / expected;
        }
        (ks, chi2)
    }

    kernel_test!(
        fn ziggurat_draws_the_truncated_normal() {
            let zig = Ziggurat::new();
            // Doornik's construction: every block, the top one included, has area V.
            let top = zig.x[BLOCKS - 1] * (1.0 - (-0.5 * zig.x[BLOCKS - 1] * zig.x[BLOCKS - 1]).exp());
            assert!((top - ZIG_V).abs() < 1e-9, "top block area {top}");
            // 1% critical values: KS 1.63/√n; χ² with 399 degrees of freedom, 467. A wedge test
            // that always accepts (or always rejects) fails both by far.
            let n = 4_000_000;
            for (limit, seed) in [(2.0, 7), (ZIG_R, 8)] {
                let mut rng = Rng::new(seed);
                let (ks, chi2) = compare_with_truncated_normal(n, limit, || zig.truncated(&mut rng, limit));
                assert!(ks < 1.63 / (n as f64).sqrt() && chi2 < 467.0, "limit {limit}: KS distance {ks}, χ² {chi2}");
            }
        }
    );
}
