//! Flatten (Keras's): NHWC values in order, as one vector per example.

use super::{Backward, BuildLayer, Builder, Built, Curvature, Forward, Layer};
use crate::error::Result;
use serde::Deserialize;

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlattenSpec {}

impl BuildLayer for FlattenSpec {
    fn build(&self, b: &mut Builder) -> Result<Built> {
        Ok(Built::plain(Flatten, [1, 1, b.in_len()]))
    }
}

pub struct Flatten;

impl Layer for Flatten {
    fn kind(&self) -> &'static str {
        "flatten"
    }

    fn forward(&mut self, f: Forward<'_>) {
        f.y.copy_from_slice(f.x);
    }

    fn backward(&mut self, b: Backward<'_>) {
        b.dx.copy_from_slice(b.dy);
    }

    fn has_curvature(&self) -> bool {
        true
    }

    fn curvature(&mut self, c: Curvature<'_>) -> Result<()> {
        c.d2x.copy_from_slice(c.d2y);
        Ok(())
    }
}
