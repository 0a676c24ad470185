//! RandomErasing (Keras 3's): in training, each image is erased with a probability drawn from
//! `[factor[0], factor[1]]`; its rectangle's width and height are the image's times the square
//! roots of two draws from `[scale[0], scale[1]]`, placed uniformly inside the image, and covers
//! the positions whose index lies in `[start, start + length)`. Erased values become `fill_value`,
//! or, without one, a standard normal draw times `value_range[1]`; either clipped to
//! `value_range`. In inference values pass through.
//!
//! Per image, in order, the model's generator gives: the two scale draws, the column start, the
//! row start, the probability and the threshold it is compared with; then, for noise, the fill
//! values of the erased images in image, row, column and channel order.

use super::{Backward, BuildLayer, Builder, Built, Curvature, Forward, Layer};
use crate::error::Result;
use crate::init::{Ziggurat, ZIG_R};
use crate::kernels::erase::{erase_backward, erase_forward, EraseBox, Fill};
use crate::kernels::warp::ImageParams;
use crate::rng::Rng;
use serde::Deserialize;

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomErasingSpec {
    /// The range the erasing probability is drawn from.
    pub factor: [f32; 2],
    /// The range each side's squared fraction of the image is drawn from.
    pub scale: [f32; 2],
    #[serde(default)]
    pub fill_value: Option<f32>,
    #[serde(default = "byte_range")]
    pub value_range: [f32; 2],
}

fn byte_range() -> [f32; 2] {
    [0.0, 255.0]
}

const KIND: &str = "random_erasing";

fn unit_range(r: [f32; 2]) -> bool {
    r.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)) && r[0] <= r[1]
}

impl BuildLayer for RandomErasingSpec {
    fn build(&self, b: &mut Builder) -> Result<Built> {
        if !unit_range(self.factor) {
            return Err(b.error(KIND, format!("factor must be [low, high] within [0, 1], got {:?}", self.factor)));
        }
        if !unit_range(self.scale) {
            return Err(b.error(KIND, format!("scale must be [low, high] within [0, 1], got {:?}", self.scale)));
        }
        let [lo, hi] = self.value_range;
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(
                b.error(KIND, format!("value_range must be [low, high] with low < high, got {:?}", self.value_range))
            );
        }
        if let Some(v) = self.fill_value {
            if !v.is_finite() {
                return Err(b.error(KIND, format!("fill_value must be a finite number, got {v}")));
            }
        }
        let [h, w, c] = b.shape;
        let fill = match self.fill_value {
            Some(v) => FillSource::Constant(v.clamp(lo, hi)),
            None => FillSource::Noise(Box::new(Ziggurat::new())),
        };
        let layer = RandomErasing {
            factor: self.factor,
            scale: self.scale,
            range: (lo, hi),
            fill,
            p: ImageParams { batch: 1, h, w, c },
            boxes: Vec::new(),
            fills: Vec::new(),
            erased: false,
        };
        Ok(Built::plain(layer, b.shape))
    }
}

/// Keras's bounds along one side: the positions `i` with `start ≤ i < start + length`.
fn side(rng: &mut Rng, size: usize, fraction: f32) -> (usize, usize) {
    let length = fraction * size as f32;
    let start = rng.next_f32() * (size as f32 - length);
    let end = start + length;
    ((start.ceil() as usize).min(size), (end.ceil() as usize).min(size))
}

/// One image's box from the generator, in the order the module's comment gives; empty when the
/// image is not erased.
pub(crate) fn draw_box(rng: &mut Rng, h: usize, w: usize, factor: [f32; 2], scale: [f32; 2]) -> EraseBox {
    let fw = rng.uniform(scale[0], scale[1]).sqrt();
    let fh = rng.uniform(scale[0], scale[1]).sqrt();
    let (left, right) = side(rng, w, fw);
    let (top, bottom) = side(rng, h, fh);
    let probability = rng.uniform(factor[0], factor[1]);
    if rng.next_f32() < probability {
        EraseBox { top, bottom, left, right }
    } else {
        EraseBox::default()
    }
}

/// What erased values become: `fill_value` already clipped, or noise from the normal generator.
enum FillSource {
    Constant(f32),
    Noise(Box<Ziggurat>),
}

pub struct RandomErasing {
    factor: [f32; 2],
    scale: [f32; 2],
    range: (f32, f32),
    fill: FillSource,
    p: ImageParams,
    /// The last training pass's boxes, one per image.
    boxes: Vec<EraseBox>,
    /// The last training pass's noise values (scratch).
    fills: Vec<f32>,
    erased: bool,
}

impl Layer for RandomErasing {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn reserve(&mut self, batch: usize) {
        self.boxes.resize(batch, EraseBox::default());
    }

    fn working_values(&self, batch: u128) -> u128 {
        batch * 4
    }

    fn forward(&mut self, f: Forward<'_>) {
        self.erased = f.training;
        if !f.training {
            f.y.copy_from_slice(f.x);
            return;
        }
        let ImageParams { h, w, c, .. } = self.p;
        let boxes = &mut self.boxes[..f.batch];
        for b in boxes.iter_mut() {
            *b = draw_box(f.rng, h, w, self.factor, self.scale);
        }
        let fill = match &self.fill {
            FillSource::Constant(v) => Fill::Constant(*v),
            FillSource::Noise(normal) => {
                let (lo, hi) = self.range;
                let count: usize = boxes.iter().map(|b| b.len(c)).sum();
                self.fills.clear();
                // Draws beyond ±3.44σ are drawn again; with value_range[0] ≥ −value_range[1]
                // the clipping makes that the same as Keras's untruncated draws.
                self.fills.extend((0..count).map(|_| ((normal.truncated(f.rng, ZIG_R) as f32) * hi).clamp(lo, hi)));
                Fill::Values(&self.fills)
            }
        };
        erase_forward(&ImageParams { batch: f.batch, ..self.p }, boxes, fill, f.x, f.y);
    }

    fn backward(&mut self, b: Backward<'_>) {
        if self.erased {
            erase_backward(&ImageParams { batch: b.batch, ..self.p }, &self.boxes[..b.batch], b.dy, b.dx);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel_test;

    kernel_test!(
        fn boxes_follow_keras_distributions() {
            let mut rng = Rng::new(5);
            let (h, w, n) = (28, 28, 20_000);
            let boxes: Vec<EraseBox> = (0..n).map(|_| draw_box(&mut rng, h, w, [0.0, 1.0], [0.02, 0.33])).collect();
            let erased: Vec<&EraseBox> = boxes.iter().filter(|b| !b.is_empty()).collect();
            // The probability is uniform in [0, 1], so half of the images are erased.
            let share = erased.len() as f64 / n as f64;
            assert!((share - 0.5).abs() < 0.015, "erased share {share}");
            // A side's fraction is √u, u uniform in [0.02, 0.33]: its mean is
            // (2/3)(0.33^1.5 − 0.02^1.5)/0.31 ≈ 0.4079; positions round it up by half a position.
            let mean_w = erased.iter().map(|b| (b.right - b.left) as f64).sum::<f64>() / erased.len() as f64;
            assert!((mean_w / w as f64 - 0.4079).abs() < 0.03, "mean width fraction {}", mean_w / w as f64);
            assert!(erased.iter().all(|b| b.right <= w && b.bottom <= h && b.left < b.right && b.top < b.bottom));
            // Boxes reach the last row and column; the first only when a start draw is exactly 0
            // (Keras's `i ≥ start` too), so they begin at 1.
            assert!(erased.iter().any(|b| b.left == 1) && erased.iter().any(|b| b.right == w));
            assert!(erased.iter().any(|b| b.top == 1) && erased.iter().any(|b| b.bottom == h));
            // factor [0, 0] never erases; [1, 1] always does.
            assert!((0..100).all(|_| draw_box(&mut rng, h, w, [0.0, 0.0], [0.02, 0.33]).is_empty()));
            assert!((0..100).all(|_| !draw_box(&mut rng, h, w, [1.0, 1.0], [0.02, 0.33]).is_empty()));
        }
    );
}
