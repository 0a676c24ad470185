//! RandomContrast (Keras 3's): in training each image's channels are scaled about their mean by
//! a factor drawn uniformly from `[1 − lower, 1 + upper]` (the model's generator), then clipped to
//! `value_range`; in inference values pass through.

use super::{Backward, BuildLayer, Builder, Built, Curvature, Forward, Layer};
use crate::error::Result;
use crate::kernels::contrast::{contrast_backward, contrast_forward};
use crate::kernels::warp::ImageParams;
use serde::Deserialize;

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomContrastSpec {
    /// `[lower, upper]`: the factor is drawn from `[1 − lower, 1 + upper]`.
    pub factor: [f32; 2],
    #[serde(default = "byte_range")]
    pub value_range: [f32; 2],
}

fn byte_range() -> [f32; 2] {
    [0.0, 255.0]
}

const KIND: &str = "random_contrast";

impl BuildLayer for RandomContrastSpec {
    fn build(&self, b: &mut Builder) -> Result<Built> {
        let [lower, upper] = self.factor;
        if !(lower.is_finite() && upper.is_finite() && (0.0..=1.0).contains(&lower) && upper >= 0.0) {
            return Err(b.error(
                KIND,
                format!("factor must be [lower, upper] with lower in [0, 1] and upper ≥ 0, got {:?}", self.factor),
            ));
        }
        let [lo, hi] = self.value_range;
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(
                b.error(KIND, format!("value_range must be [low, high] with low < high, got {:?}", self.value_range))
            );
        }
        let [h, w, c] = b.shape;
        let layer = RandomContrast {
            span: [1.0 - lower, 1.0 + upper],
            range: (lo, hi),
            p: ImageParams { batch: 1, h, w, c },
            factors: Vec::new(),
            means: vec![0.0; c],
            scaled: false,
        };
        Ok(Built::plain(layer, b.shape))
    }
}

pub struct RandomContrast {
    span: [f32; 2],
    range: (f32, f32),
    p: ImageParams,
    /// The last training pass's factors, one per image.
    factors: Vec<f32>,
    means: Vec<f32>,
    scaled: bool,
}

impl Layer for RandomContrast {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn reserve(&mut self, batch: usize) {
        self.factors.resize(batch, 1.0);
    }

    fn working_values(&self, batch: u128) -> u128 {
        batch
    }

    fn forward(&mut self, f: Forward<'_>) {
        self.scaled = f.training;
        if !f.training {
            f.y.copy_from_slice(f.x);
            return;
        }
        let factors = &mut self.factors[..f.batch];
        for v in factors.iter_mut() {
            *v = f.rng.uniform(self.span[0], self.span[1]);
        }
        contrast_forward(&ImageParams { batch: f.batch, ..self.p }, factors, self.range, f.x, f.y, &mut self.means);
    }

    fn backward(&mut self, b: Backward<'_>) {
        if self.scaled {
            let p = ImageParams { batch: b.batch, ..self.p };
            contrast_backward(&p, &self.factors[..b.batch], self.range, b.y, b.dy, b.dx, &mut self.means);
        } else {
            b.dx.copy_from_slice(b.dy);
        }
    }

    fn has_curvature(&self) -> bool {
        true
    }

    /// The curvature runs in inference mode, where values pass through.
    fn curvature(&mut self, c: Curvature<'_>) -> Result<()> {
        c.d2x.copy_from_slice(c.d2y);
        Ok(())
    }
}
