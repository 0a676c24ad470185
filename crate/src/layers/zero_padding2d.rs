//! ZeroPadding2D (Keras's), with an optional fill value (LeNet-5 pads with its background level).

use super::{Backward, BuildLayer, Builder, Built, Curvature, Forward, Layer};
use crate::error::Result;
use crate::kernels::pad::{pad_backward, pad_forward, Pad2dParams};
use serde::Deserialize;

/// `padding` is `[[top, bottom], [left, right]]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZeroPadding2dSpec {
    pub padding: [[usize; 2]; 2],
    #[serde(default)]
    pub value: f32,
}

const KIND: &str = "zero_padding2d";

impl BuildLayer for ZeroPadding2dSpec {
    fn build(&self, b: &mut Builder) -> Result<Built> {
        let sizes: Vec<(&str, usize)> = self.padding.iter().flatten().map(|&p| ("padding", p)).collect();
        b.check_sizes(&sizes)?;
        let value = self.value;
        if !value.is_finite() {
            return Err(b.error(KIND, format!("the value must be finite, got {value}")));
        }
        let [[top, bottom], [left, right]] = self.padding;
        let [in_h, in_w, channels] = b.shape;
        let g = Pad2dParams { batch: 1, in_h, in_w, channels, top, bottom, left, right, value };
        Ok(Built::plain(ZeroPadding2d { g }, [g.out_h(), g.out_w(), channels]))
    }
}

pub struct ZeroPadding2d {
    g: Pad2dParams,
}

impl Layer for ZeroPadding2d {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn forward(&mut self, f: Forward<'_>) {
        pad_forward(&Pad2dParams { batch: f.batch, ..self.g }, f.x, f.y);
    }

    fn backward(&mut self, b: Backward<'_>) {
        pad_backward(&Pad2dParams { batch: b.batch, ..self.g }, b.dy, b.dx);
    }

    fn has_curvature(&self) -> bool {
        true
    }

    fn curvature(&mut self, c: Curvature<'_>) -> Result<()> {
        pad_backward(&Pad2dParams { batch: c.batch, ..self.g }, c.d2y, c.d2x);
        Ok(())
    }
}
