//! Pure numeric kernels over slices. Each family lives in its own file, with a scalar reference
//! beside a `simd128` version selected at compile time; tests hold the two to each other.

// The SIMD-against-scalar tests only mean something inside wasm when simd128 is on.
#[cfg(all(test, target_arch = "wasm32", not(target_feature = "simd128")))]
compile_error!("wasm tests must be built with +simd128: see .cargo/config.toml");

pub mod act;
pub mod batch_norm;
pub mod contrast;
pub mod conv;
pub mod dense;
pub mod depthwise;
pub mod dropout;
pub mod erase;
pub mod gemm;
pub mod lanes;
pub mod pad;
pub mod pool;
pub mod rbf;
pub mod regularize;
pub mod softmax;
pub mod views;
pub mod warp;

#[cfg(test)]
mod golden_tests;
#[cfg(test)]
pub(crate) mod test_support;

use core::fmt;

/// A slice whose length does not match the shape a kernel was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShapeError {
    /// The kernel that was called, e.g. `dense_forward`.
    pub kernel: &'static str,
    /// The operand, e.g. `x`.
    pub operand: &'static str,
    /// How the expected length follows from the shape, e.g. `batch·inputs = 2·3`.
    pub formula: String,
    pub expected: usize,
    pub got: usize,
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} has {} values, expected {} = {}",
            self.kernel, self.operand, self.got, self.formula, self.expected
        )
    }
}

impl std::error::Error for ShapeError {}

/// Checks one operand's length against the shape.
pub(crate) fn check_len(
    kernel: &'static str,
    operand: &'static str,
    got: usize,
    expected: usize,
    formula: impl FnOnce() -> String,
) -> Result<(), ShapeError> {
    if got == expected {
        Ok(())
    } else {
        Err(ShapeError { kernel, operand, formula: formula(), expected, got })
    }
}

/// Declares a test that runs natively under `cargo test` (scalar paths) and inside wasm under
/// `wasm-bindgen-test-runner` (simd128 paths); the model tests in `crate/tests/` use it too.
#[doc(hidden)]
#[macro_export]
macro_rules! kernel_test {
    (fn $name:ident() $body:block) => {
        #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
        #[cfg_attr(not(target_arch = "wasm32"), test)]
        fn $name() $body
    };
}
