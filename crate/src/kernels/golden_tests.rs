//! Every kernel family against Keras/TensorFlow: the fixtures come from tools/fixtures/make-golden.py
//! (tensorflow-cpu) and are compiled into the test binary, so the check also runs inside wasm.

use super::act::{activation_backward, activation_forward, Activation};
use super::conv::winograd::Tile;
use super::conv::{conv2d_backward, conv2d_forward, Conv2dGrads, Conv2dParams, Padding};
use super::dense::{dense_backward, dense_forward, DenseGrads, DenseParams};
use super::gemm::transpose;
use super::pool::{avg_pool_backward, avg_pool_forward, max_pool_backward, max_pool_forward, Pool2dParams};
use super::pool::{subsample_backward, subsample_forward, SubsampleGrads};
use super::rbf::{rbf_backward, rbf_forward, RbfParams};
use super::softmax::{softmax, softmax_cross_entropy_smoothed, SoftmaxParams};
use crate::kernel_test;
use serde_json::Value;

const FIXTURES: &str = include_str!("../../../test/fixtures/golden/kernels.json");

fn cases(kind: &str) -> Vec<Value> {
    let doc: Value = serde_json::from_str(FIXTURES).expect("kernels.json parses");
    let all = doc["cases"].as_array().expect("cases").clone();
    let picked: Vec<Value> = all.into_iter().filter(|c| c["kind"] == kind).collect();
    assert!(!picked.is_empty(), "no {kind} cases in kernels.json");
    picked
}

fn floats(case: &Value, key: &str) -> Vec<f32> {
    case[key].as_array().unwrap_or_else(|| panic!("{key} missing")).iter().map(|v| v.as_f64().unwrap() as f32).collect()
}

fn size(case: &Value, key: &str) -> usize {
    case[key].as_u64().unwrap_or_else(|| panic!("{key} missing")) as usize
}

fn padding(case: &Value) -> Padding {
    match case["padding"].as_str() {
        Some("same") => Padding::Same,
        Some("valid") => Padding::Valid,
        other => panic!("padding {other:?}"),
    }
}

/// TensorFlow sums in another order (and with FMA): agree to float32 rounding, relative to the
/// magnitude of the value.
fn assert_close(got: &[f32], want: &[f32], what: &str) {
    assert_close_to(got, want, 2e-5, what);
}

fn assert_close_to(got: &[f32], want: &[f32], tolerance: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tolerance * (1.0 + w.abs()), "{what}[{i}]: got {g}, Keras {w}");
    }
}

kernel_test!(
    fn conv2d_matches_keras() {
        let mut winograd_cases = 0;
        for c in cases("conv2d") {
            let name = c["name"].as_str().unwrap();
            let (k, s) = (size(&c, "kernel"), size(&c, "stride"));
            let p = Conv2dParams {
                batch: size(&c, "batch"),
                in_h: size(&c, "in_h"),
                in_w: size(&c, "in_w"),
                in_c: size(&c, "in_c"),
                out_c: size(&c, "filters"),
                k_h: k,
                k_w: k,
                stride_h: s,
                stride_w: s,
                padding: padding(&c),
            };
            let (x, w, b, dy) = (floats(&c, "x"), floats(&c, "w"), floats(&c, "b"), floats(&c, "dy"));
            let algo = super::conv::ConvAlgo::of(&p);
            // Winograd F(4×4) rounds about ten times more than a direct sum (~1e-6 of the sum of
            // the terms' magnitudes, which over 3·3·32 terms is well above the value's).
            let tolerance = if matches!(algo, super::conv::ConvAlgo::Winograd(Tile::F4)) { 1e-4 } else { 2e-5 };
            let assert_close = |got: &[f32], want: &[f32], what: &str| assert_close_to(got, want, tolerance, what);
            let mut y = vec![0.0; p.y_len()];
            conv2d_forward(&p, &x, &w, &b, &mut y, &mut vec![0.0; p.forward_scratch_len()]);
            assert_close(&y, &floats(&c, "y"), &format!("{name}: y"));
            let (mut dx, mut dw, mut db) = (vec![0.0; p.x_len()], vec![0.0; p.w_len()], vec![0.0; p.out_c]);
            let grads = Conv2dGrads { dx: Some(&mut dx), dw: &mut dw, db: &mut db };
            conv2d_backward(&p, &x, &w, &dy, grads, &mut vec![0.0; p.backward_scratch_len()]);
            assert_close(&dx, &floats(&c, "dx"), &format!("{name}: dx"));
            assert_close(&dw, &floats(&c, "dw"), &format!("{name}: dw"));
            assert_close(&db, &floats(&c, "db"), &format!("{name}: db"));
            winograd_cases += usize::from(matches!(algo, super::conv::ConvAlgo::Winograd(_)));
        }
        assert!(winograd_cases > 0, "no conv2d case runs the Winograd kernels");
    }
);

fn pool_params(c: &Value) -> Pool2dParams {
    let (k, s) = (size(c, "pool"), size(c, "stride"));
    Pool2dParams {
        batch: size(c, "batch"),
        in_h: size(c, "in_h"),
        in_w: size(c, "in_w"),
        channels: size(c, "channels"),
        pool_h: k,
        pool_w: k,
        stride_h: s,
        stride_w: s,
        padding: padding(c),
    }
}

kernel_test!(
    fn max_pool_matches_keras() {
        for c in cases("max_pool") {
            let name = c["name"].as_str().unwrap();
            let p = pool_params(&c);
            let (mut y, mut arg) = (vec![0.0; p.y_len()], vec![0u32; p.y_len()]);
            max_pool_forward(&p, &floats(&c, "x"), &mut y, &mut arg);
            assert_close(&y, &floats(&c, "y"), &format!("{name}: y"));
            let mut dx = vec![0.0; p.x_len()];
            max_pool_backward(&p, &floats(&c, "dy"), &arg, &mut dx);
            assert_close(&dx, &floats(&c, "dx"), &format!("{name}: dx"));
        }
    }
);

kernel_test!(
    fn avg_pool_matches_keras() {
        for c in cases("avg_pool") {
            let name = c["name"].as_str().unwrap();
            let p = pool_params(&c);
            let mut y = vec![0.0; p.y_len()];
            avg_pool_forward(&p, &floats(&c, "x"), &mut y);
            assert_close(&y, &floats(&c, "y"), &format!("{name}: y"));
            let mut dx = vec![0.0; p.x_len()];
            avg_pool_backward(&p, &floats(&c, "dy"), &mut dx);
            assert_close(&dx, &floats(&c, "dx"), &format!("{name}: dx"));
        }
    }
);

kernel_test!(
    fn dense_matches_keras() {
        for c in cases("dense") {
            let name = c["name"].as_str().unwrap();
            let p = DenseParams { batch: size(&c, "batch"), inputs: size(&c, "inputs"), units: size(&c, "units") };
            let (x, w, b, dy) = (floats(&c, "x"), floats(&c, "w"), floats(&c, "b"), floats(&c, "dy"));
            let mut y = vec![0.0; p.y_len()];
            dense_forward(&p, &x, &w, &b, &mut y, &mut vec![0.0; p.forward_scratch_len()]);
            assert_close(&y, &floats(&c, "y"), &format!("{name}: y"));
            let (mut dx, mut dw, mut db) = (vec![0.0; p.x_len()], vec![0.0; p.w_len()], vec![0.0; p.units]);
            let grads = DenseGrads { dx: &mut dx, dw: &mut dw, db: &mut db };
            dense_backward(&p, &x, &w, &dy, grads, &mut vec![0.0; p.backward_scratch_len()]);
            assert_close(&dx, &floats(&c, "dx"), &format!("{name}: dx"));
            assert_close(&dw, &floats(&c, "dw"), &format!("{name}: dw"));
            assert_close(&db, &floats(&c, "db"), &format!("{name}: db"));
        }
    }
);

kernel_test!(
    fn softmax_cross_entropy_matches_keras() {
        let all = cases("softmax_cross_entropy");
        assert!(all.iter().any(|c| c["label_smoothing"].is_number()), "no label-smoothing case in kernels.json");
        for c in all {
            let name = c["name"].as_str().unwrap();
            let p = SoftmaxParams { batch: size(&c, "batch"), classes: size(&c, "classes") };
            let logits = floats(&c, "logits");
            let labels: Vec<u32> = c["labels"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
            let mut probs = vec![0.0; logits.len()];
            softmax(&p, &logits, &mut probs);
            assert_close(&probs, &floats(&c, "probs"), &format!("{name}: probs"));
            let mut d = vec![0.0; logits.len()];
            let smoothing = c["label_smoothing"].as_f64().unwrap_or(0.0) as f32;
            let loss = softmax_cross_entropy_smoothed(&p, smoothing, &logits, &labels, &mut d);
            let want = c["loss"].as_f64().unwrap() as f32;
            assert!((loss - want).abs() <= 2e-5 * (1.0 + want.abs()), "{name}: loss {loss}, Keras {want}");
            assert_close(&d, &floats(&c, "dlogits"), &format!("{name}: dlogits"));
        }
    }
);

kernel_test!(
    fn activations_match_keras() {
        for c in cases("activation") {
            let f = match c["activation"].as_str().unwrap() {
                "relu" => Activation::Relu,
                "tanh" => Activation::Tanh,
                "sigmoid" => Activation::Sigmoid,
                "lecun_tanh" => Activation::LecunTanh,
                other => panic!("activation {other}"),
            };
            let x = floats(&c, "x");
            let mut y = vec![0.0; x.len()];
            activation_forward(f, &x, &mut y);
            assert_close(&y, &floats(&c, "y"), &format!("{f:?}: y"));
            let mut dx = vec![0.0; x.len()];
            activation_backward(f, &x, &y, &floats(&c, "dy"), &mut dx);
            assert_close(&dx, &floats(&c, "dx"), &format!("{f:?}: dx"));
        }
    }
);

kernel_test!(
    fn newer_activations_match_keras() {
        let doc: Value = serde_json::from_str(include_str!("../../../test/fixtures/golden/layers.json")).unwrap();
        let cases = doc["activations"].as_array().expect("activations");
        assert_eq!(cases.len(), 7);
        for c in cases {
            let name = c["name"].as_str().unwrap();
            let f = match name {
                "leaky_relu" => Activation::LeakyRelu(0.2),
                "leaky_relu 0.3" => Activation::LeakyRelu(0.3),
                "elu" => Activation::Elu(1.0),
                "elu 1.5" => Activation::Elu(1.5),
                "gelu" => Activation::Gelu,
                "swish" => Activation::Swish,
                "hard_sigmoid" => Activation::HardSigmoid,
                other => panic!("activation {other}"),
            };
            let x = floats(c, "x");
            let mut y = vec![0.0; x.len()];
            activation_forward(f, &x, &mut y);
            assert_close(&y, &floats(c, "y"), &format!("{name}: y"));
            let mut dx = vec![0.0; x.len()];
            activation_backward(f, &x, &y, &floats(c, "dy"), &mut dx);
            assert_close(&dx, &floats(c, "dx"), &format!("{name}: dx"));
        }
    }
);

kernel_test!(
    fn warps_match_tensorflows_image_projective_transform() {
        use super::warp::{warp_forward, Fill, ImageParams};
        let doc: Value = serde_json::from_str(include_str!("../../../test/fixtures/golden/layers.json")).unwrap();
        let w = &doc["warps"];
        let shape: Vec<usize> = w["shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
        let p = ImageParams { batch: shape[0], h: shape[1], w: shape[2], c: shape[3] };
        let x = floats(w, "x");
        let transforms: Vec<[f32; 8]> = w["transforms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| core::array::from_fn(|i| t[i].as_f64().unwrap() as f32))
            .collect();
        let cases = w["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 4);
        for c in cases {
            let fill = match c["fill_mode"].as_str().unwrap() {
                "reflect" => Fill::Reflect,
                "wrap" => Fill::Wrap,
                "nearest" => Fill::Nearest,
                "constant" => Fill::Constant(c["fill_value"].as_f64().unwrap() as f32),
                other => panic!("fill mode {other}"),
            };
            let mut y = vec![0.0; p.len()];
            warp_forward(&p, &transforms, fill, &x, &mut y);
            assert_close(&y, &floats(c, "y"), &format!("{fill:?}"));
        }
    }
);

kernel_test!(
    fn subsampling_matches_tensorflow() {
        for c in cases("subsample") {
            let p = Pool2dParams {
                batch: size(&c, "batch"),
                in_h: size(&c, "in_h"),
                in_w: size(&c, "in_w"),
                channels: size(&c, "channels"),
                pool_h: 2,
                pool_w: 2,
                stride_h: 2,
                stride_w: 2,
                padding: Padding::Valid,
            };
            let (x, coef, bias) = (floats(&c, "x"), floats(&c, "coef"), floats(&c, "bias"));
            let mut y = vec![0.0; p.y_len()];
            subsample_forward(&p, &x, &coef, &bias, &mut y);
            assert_close(&y, &floats(&c, "y"), "subsample y");
            let (mut dx, mut dcoef, mut dbias) = (vec![0.0; p.x_len()], vec![0.0; p.channels], vec![0.0; p.channels]);
            let g = SubsampleGrads { dx: &mut dx, dcoef: &mut dcoef, dbias: &mut dbias };
            subsample_backward(&p, &x, &coef, &floats(&c, "dy"), g);
            assert_close(&dx, &floats(&c, "dx"), "subsample dx");
            assert_close(&dcoef, &floats(&c, "dcoef"), "subsample dcoef");
            assert_close(&dbias, &floats(&c, "dbias"), "subsample dbias");
        }
    }
);

kernel_test!(
    fn rbf_matches_tensorflow() {
        for c in cases("rbf") {
            let p = RbfParams { batch: size(&c, "batch"), inputs: size(&c, "inputs"), units: size(&c, "units") };
            let (x, w) = (floats(&c, "x"), floats(&c, "prototypes"));
            let mut w_t = vec![0.0; w.len()];
            transpose(p.units, p.inputs, &w, &mut w_t);
            let mut y = vec![0.0; p.batch * p.units];
            rbf_forward(&p, &x, &w_t, &mut y);
            assert_close(&y, &floats(&c, "y"), "rbf y");
            let mut dx = vec![0.0; x.len()];
            rbf_backward(&p, &x, &w, &floats(&c, "dy"), &mut dx);
            assert_close(&dx, &floats(&c, "dx"), "rbf dx");
        }
    }
);
