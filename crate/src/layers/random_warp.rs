//! Geometric augmentation (Keras's RandomTranslation, RandomRotation, RandomZoom and RandomFlip,
//! and LeNet-5's random planar affine distortions): in training each image is warped by its own
//! transform, drawn from the model's generator (each micro-batch's own, so the same for any
//! worker count), with bilinear sampling and Keras's fill modes; in inference values pass
//! through. Transforms are Keras's (TensorFlow's projective form, output pixel to input pixel).

use super::{Backward, BuildLayer, Builder, Built, Curvature, Forward, Layer};
use crate::error::Result;
use crate::kernels::warp::{warp_backward, warp_forward, Fill, ImageParams};
use crate::rng::Rng;
use serde::Deserialize;

/// Keras's `fill_mode` and `fill_value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FillMode {
    #[default]
    Reflect,
    Wrap,
    Nearest,
    Constant,
}

/// A range `[low, high]` to draw from uniformly.
type Span = [f32; 2];

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomTranslationSpec {
    /// Fractions of the height and width.
    pub height_factor: Span,
    pub width_factor: Span,
    #[serde(default)]
    pub fill_mode: FillMode,
    #[serde(default)]
    pub fill_value: f32,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomRotationSpec {
    /// Fractions of a full turn.
    pub factor: Span,
    #[serde(default)]
    pub fill_mode: FillMode,
    #[serde(default)]
    pub fill_value: f32,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomZoomSpec {
    /// The zoom is `1 + factor`: above 1 zooms out. Without a width factor the width zooms as the height.
    pub height_factor: Span,
    #[serde(default)]
    pub width_factor: Option<Span>,
    #[serde(default)]
    pub fill_mode: FillMode,
    #[serde(default)]
    pub fill_value: f32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlipMode {
    Horizontal,
    Vertical,
    HorizontalAndVertical,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomFlipSpec {
    pub mode: FlipMode,
}

/// LeNet-5's distortions (LeCun et al. 1998, §III-C): planar affine maps about the image's centre,
/// each parameter uniform in ±its bound: horizontal and vertical translation (pixels), scaling
/// (relative), squeezing (horizontal scale `1 + q` with vertical `1/(1 + q)`) and horizontal
/// shearing (x moves by `shear·y`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomAffineSpec {
    pub translation: f32,
    pub scale: f32,
    pub squeeze: f32,
    pub shear: f32,
    #[serde(default)]
    pub fill_mode: FillMode,
    #[serde(default)]
    pub fill_value: f32,
}

/// How a layer draws each image's transform.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Draw {
    Translation { h: Span, w: Span },
    Rotation(Span),
    Zoom { h: Span, w: Option<Span> },
    Flip(FlipMode),
    Affine { translation: f32, scale: f32, squeeze: f32, shear: f32 },
}

fn check_span(b: &Builder, kind: &'static str, what: &str, s: Span, limit: f32) -> Result<()> {
    if !(s[0].is_finite() && s[1].is_finite() && s[0] <= s[1] && s[0] >= -limit && s[1] <= limit) {
        return Err(b.error(kind, format!("{what} must be a range [low, high] within ±{limit}, got {s:?}")));
    }
    Ok(())
}

fn fill(mode: FillMode, value: f32) -> Fill {
    match mode {
        FillMode::Reflect => Fill::Reflect,
        FillMode::Wrap => Fill::Wrap,
        FillMode::Nearest => Fill::Nearest,
        FillMode::Constant => Fill::Constant(value),
    }
}

fn build(b: &Builder, kind: &'static str, draw: Draw, fill: Fill) -> Result<Built> {
    if let Fill::Constant(v) = fill {
        if !v.is_finite() {
            return Err(b.error(kind, format!("fill_value must be finite, got {v}")));
        }
    }
    let [h, w, c] = b.shape;
    let layer =
        RandomWarp { kind, draw, fill, p: ImageParams { batch: 1, h, w, c }, transforms: Vec::new(), warped: false };
    Ok(Built::plain(layer, b.shape))
}

impl BuildLayer for RandomTranslationSpec {
    fn build(&self, b: &mut Builder) -> Result<Built> {
        const KIND: &str = "random_translation";
        check_span(b, KIND, "height_factor", self.height_factor, 1.0)?;
        check_span(b, KIND, "width_factor", self.width_factor, 1.0)?;
        build(
            b,
            KIND,
            Draw::Translation { h: self.height_factor, w: self.width_factor },
            fill(self.fill_mode, self.fill_value),
        )
    }
}

impl BuildLayer for RandomRotationSpec {
    fn build(&self, b: &mut Builder) -> Result<Built> {
        const KIND: &str = "random_rotation";
        check_span(b, KIND, "factor", self.factor, 1.0)?;
        build(b, KIND, Draw::Rotation(self.factor), fill(self.fill_mode, self.fill_value))
    }
}

impl BuildLayer for RandomZoomSpec {
    fn build(&self, b: &mut Builder) -> Result<Built> {
        const KIND: &str = "random_zoom";
        // Keras refuses zooms below −1 (a negative scale).
        check_span(b, KIND, "height_factor", self.height_factor, 1.0)?;
        if let Some(w) = self.width_factor {
            check_span(b, KIND, "width_factor", w, 1.0)?;
        }
        build(
            b,
            KIND,
            Draw::Zoom { h: self.height_factor, w: self.width_factor },
            fill(self.fill_mode, self.fill_value),
        )
    }
}

impl BuildLayer for RandomFlipSpec {
    fn build(&self, b: &mut Builder) -> Result<Built> {
        build(b, "random_flip", Draw::Flip(self.mode), Fill::Nearest)
    }
}

impl BuildLayer for RandomAffineSpec {
    fn build(&self, b: &mut Builder) -> Result<Built> {
        const KIND: &str = "random_affine";
        for (what, v, limit) in [
            ("translation", self.translation, 1e4),
            ("scale", self.scale, 0.9),
            ("squeeze", self.squeeze, 0.9),
            ("shear", self.shear, 1.0),
        ] {
            if !(v.is_finite() && (0.0..=limit).contains(&v)) {
                return Err(b.error(KIND, format!("{what} must be in [0, {limit}], got {v}")));
            }
        }
        let draw =
            Draw::Affine { translation: self.translation, scale: self.scale, squeeze: self.squeeze, shear: self.shear };
        build(b, KIND, draw, fill(self.fill_mode, self.fill_value))
    }
}

pub struct RandomWarp {
    kind: &'static str,
    draw: Draw,
    fill: Fill,
    /// With batch 1.
    p: ImageParams,
    /// The last training pass's transforms, one per image.
    transforms: Vec<[f32; 8]>,
    /// Whether the last forward pass warped (training) or passed values through.
    warped: bool,
}

impl Draw {
    /// One image's transform (output pixel → input pixel) for an `h×w` image.
    fn transform(self, rng: &mut Rng, h: usize, w: usize) -> [f32; 8] {
        let (hf, wf) = (h as f32, w as f32);
        let (cx, cy) = ((wf - 1.0) / 2.0, (hf - 1.0) / 2.0);
        match self {
            Draw::Translation { h: sh, w: sw } => {
                let ty = rng.uniform(sh[0], sh[1]) * hf;
                let tx = rng.uniform(sw[0], sw[1]) * wf;
                [1.0, 0.0, -tx, 0.0, 1.0, -ty, 0.0, 0.0]
            }
            Draw::Rotation(f) => {
                let angle = rng.uniform(f[0], f[1]) as f64 * 2.0 * core::f64::consts::PI;
                let (sin, cos) = (angle.sin() as f32, angle.cos() as f32);
                let x_off = ((wf - 1.0) - (cos * (wf - 1.0) - sin * (hf - 1.0))) / 2.0;
                let y_off = ((hf - 1.0) - (sin * (wf - 1.0) + cos * (hf - 1.0))) / 2.0;
                [cos, -sin, x_off, sin, cos, y_off, 0.0, 0.0]
            }
            Draw::Zoom { h: zh, w: zw } => {
                let zy = 1.0 + rng.uniform(zh[0], zh[1]);
                let zx = match zw {
                    Some(zw) => 1.0 + rng.uniform(zw[0], zw[1]),
                    None => zy,
                };
                [zx, 0.0, cx * (1.0 - zx), 0.0, zy, cy * (1.0 - zy), 0.0, 0.0]
            }
            Draw::Flip(mode) => {
                let flip = rng.next_f32() < 0.5;
                let horizontal = flip && mode != FlipMode::Vertical;
                let vertical = flip && mode != FlipMode::Horizontal;
                let (a, c) = if horizontal { (-1.0, wf - 1.0) } else { (1.0, 0.0) };
                let (e, f) = if vertical { (-1.0, hf - 1.0) } else { (1.0, 0.0) };
                [a, 0.0, c, 0.0, e, f, 0.0, 0.0]
            }
            Draw::Affine { translation, scale, squeeze, shear } => {
                let tx = rng.uniform(-translation, translation);
                let ty = rng.uniform(-translation, translation);
                let s = 1.0 + rng.uniform(-scale, scale);
                let q = 1.0 + rng.uniform(-squeeze, squeeze);
                let k = rng.uniform(-shear, shear);
                // input = A·(output − centre) + centre − t, A = [[s·q, k], [0, s/q]].
                let (a, bb, d) = (s * q, k, s / q);
                [a, bb, cx - a * cx - bb * cy - tx, 0.0, d, cy - d * cy - ty, 0.0, 0.0]
            }
        }
    }
}

impl Layer for RandomWarp {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn reserve(&mut self, batch: usize) {
        self.transforms.resize(batch, [0.0; 8]);
    }

    fn working_values(&self, batch: u128) -> u128 {
        8 * batch
    }

    fn forward(&mut self, f: Forward<'_>) {
        self.warped = f.training;
        if !f.training {
            f.y.copy_from_slice(f.x);
            return;
        }
        let t = &mut self.transforms[..f.batch];
        for t in t.iter_mut() {
            *t = self.draw.transform(f.rng, self.p.h, self.p.w);
        }
        warp_forward(&ImageParams { batch: f.batch, ..self.p }, t, self.fill, f.x, f.y);
    }

    fn backward(&mut self, b: Backward<'_>) {
        if self.warped {
            warp_backward(
                &ImageParams { batch: b.batch, ..self.p },
                &self.transforms[..b.batch],
                self.fill,
                b.dy,
                b.dx,
            );
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
