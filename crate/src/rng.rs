//! The one seeded random generator behind initialisation, shuffling and dropout:
//! xoshiro256** (Blackman & Vigna, 2018), its state seeded through SplitMix64.
//!
//! Every random number the library uses comes from here, inside the wasm, so a seed gives the
//! same stream in Node and in any browser.

/// xoshiro256**: 256 bits of state, period 2^256 − 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    state: [u64; 4],
}

/// SplitMix64 (Steele, Lea & Flood), used to spread a 64-bit seed over the state.
fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        let mut x = seed;
        Rng { state: [splitmix64(&mut x), splitmix64(&mut x), splitmix64(&mut x), splitmix64(&mut x)] }
    }

    /// Restores a generator from [`Rng::state`], e.g. from a checkpoint.
    pub fn from_state(state: [u64; 4]) -> Self {
        Rng { state }
    }

    pub fn state(&self) -> [u64; 4] {
        self.state
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1), from the top 24 bits, so every value is exactly representable.
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u32 << 24) as f32)
    }

    /// Uniform in [low, high).
    pub fn uniform(&mut self, low: f32, high: f32) -> f32 {
        low + (high - low) * self.next_f32()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel_test;

    kernel_test!(
        fn splitmix64_matches_the_published_sequence() {
            // The first outputs of SplitMix64 from seed 0, as in the reference implementation.
            let mut x = 0u64;
            let got: Vec<u64> = (0..3).map(|_| splitmix64(&mut x)).collect();
            assert_eq!(got, [0xe220_a839_7b1d_cdaf, 0x6e78_9e6a_a1b9_65f4, 0x06c4_5d18_8009_454f]);
        }
    );

    kernel_test!(
        fn xoshiro_follows_its_definition() {
            // From the definition: result = rotl(s1·5, 7)·9; with s = [1, 2, 3, 4] that is 11,520.
            let mut rng = Rng::from_state([1, 2, 3, 4]);
            assert_eq!(rng.next_u64(), 11_520);
            // The state update, step by step: s2 = 3^1 = 2, s3 = 4^2 = 6, s1 = 2^2 = 0,
            // s0 = 1^6 = 7, then s2 ^= 2<<17 and s3 = rotl(6, 45).
            assert_eq!(rng.state(), [7, 0, 2 ^ (2 << 17), 6u64.rotate_left(45)]);
        }
    );

    kernel_test!(
        fn uniform_stays_in_range_and_is_centred() {
            let mut rng = Rng::new(42);
            let n = 100_000;
            let mut sum = 0.0f64;
            for _ in 0..n {
                let v = rng.uniform(-2.0, 3.0);
                assert!((-2.0..3.0).contains(&v));
                sum += v as f64;
            }
            assert!((sum / n as f64 - 0.5).abs() < 0.02, "mean {}", sum / n as f64);
        }
    );

    kernel_test!(
        fn same_seed_same_stream_and_state_resumes() {
            let mut a = Rng::new(7);
            let mut b = Rng::new(7);
            for _ in 0..10 {
                assert_eq!(a.next_u64(), b.next_u64());
            }
            let mut resumed = Rng::from_state(a.state());
            assert_eq!(a.next_u64(), resumed.next_u64());
            assert_ne!(Rng::new(7).next_u64(), Rng::new(8).next_u64());
        }
    );
}
