//! The one error type of the runtime: a stable code (which TypeScript maps to the documented
//! `ConvnetError` codes), the layer it concerns when there is one, and a message with the sizes.

use core::fmt;

/// What kind of failure an error is; each maps to one `ConvnetError.code` in TypeScript.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// A spec, option or value the runtime cannot use (`INVALID_ARGUMENT`).
    InvalidArgument,
    /// An array whose length does not match the shape it came with (`SHAPE_MISMATCH`).
    ShapeMismatch,
    /// A size beyond what the runtime allows or wasm32 can address (`LIMIT_EXCEEDED`).
    LimitExceeded,
    /// A call out of order, such as a reduction step that was never begun (`INVALID_STATE`).
    InvalidState,
    /// Training-state bytes that are damaged, foreign or for another model (`CHECKPOINT`).
    Checkpoint,
}

impl ErrorCode {
    /// The code as TypeScript's `ConvnetError.code` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            ErrorCode::ShapeMismatch => "SHAPE_MISMATCH",
            ErrorCode::LimitExceeded => "LIMIT_EXCEEDED",
            ErrorCode::InvalidState => "INVALID_STATE",
            ErrorCode::Checkpoint => "CHECKPOINT",
        }
    }
}

/// An error of the model runtime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelError {
    pub code: ErrorCode,
    /// The layer's index and kind (`conv2d`, …), when the error concerns one.
    pub layer: Option<(usize, &'static str)>,
    pub message: String,
}

impl ModelError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ModelError { code, layer: None, message: message.into() }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArgument, message)
    }

    pub fn shape(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ShapeMismatch, message)
    }

    pub fn limit(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::LimitExceeded, message)
    }

    pub fn state(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidState, message)
    }

    pub fn checkpoint(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Checkpoint, message)
    }

    /// The same error, said of layer `index` of kind `kind`.
    pub fn at(mut self, index: usize, kind: &'static str) -> Self {
        self.layer = Some((index, kind));
        self
    }
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.layer {
            Some((index, kind)) => write!(f, "layer {index} ({kind}): {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ModelError {}

impl From<crate::kernels::ShapeError> for ModelError {
    fn from(e: crate::kernels::ShapeError) -> Self {
        ModelError::shape(e.to_string())
    }
}

pub type Result<T, E = ModelError> = core::result::Result<T, E>;
