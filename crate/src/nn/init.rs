//! Weight initialisers, all drawing from the model's one [`Rng`].
//!
//! - `he_normal`: Keras's definition, a normal truncated at two standard deviations, with
//!   stddev `sqrt(2/fan_in) / 0.8796…` (the correction for the truncation).
//! - `glorot_uniform`: uniform in ±`sqrt(6/(fan_in + fan_out))` (Keras's default).
//! - `lecun_uniform`: Keras's, uniform in ±`sqrt(3/fan_in)`.
//! - `lenet_uniform`: LeNet-5's rule, uniform in ±`2.4/fan_in` (LeCun et al. 1998, as secondary
//!   sources report it).
//! - `zeros`.
//!
//! Normal draws use Box–Muller in f64 from two uniform draws; the math runs inside the wasm, so a
//! seed gives the same weights on every platform.

use super::rng::Rng;

/// The initialisers a layer can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Initializer {
    HeNormal,
    GlorotUniform,
    LecunUniform,
    LenetUniform,
    Zeros,
}

/// Fills `out` for a weight with the given fan-in and fan-out.
pub fn initialize(init: Initializer, rng: &mut Rng, fan_in: usize, fan_out: usize, out: &mut [f32]) {
    match init {
        Initializer::Zeros => out.fill(0.0),
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
            out.iter_mut().for_each(|v| *v = (truncated_normal(rng) * stddev) as f32);
        }
    }
}

/// A standard normal draw, redrawn until it lies within ±2.
fn truncated_normal(rng: &mut Rng) -> f64 {
    loop {
        // 53-bit uniforms in (0, 1] and [0, 1).
        let u1 = ((rng.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64;
        let u2 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * core::f64::consts::PI * u2).cos();
        if z.abs() <= 2.0 {
            return z;
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
}
