//! Model-level tests of building and using a model: specs and their errors, hostile sizes and
//! bytes, layer outputs, divergence, connection tables, RBF outputs, evaluation.

use convnet_wasm::kernel_test;
use convnet_wasm::kernels::lanes::all_finite;
use convnet_wasm::layers::{AnyLayer, LayerSpec};
use convnet_wasm::losses::LossSpec;
use convnet_wasm::model::{Input, Model, ModelSpec};
use convnet_wasm::rng::Rng;
use serde_json::{json, Value};

mod common;
use common::*;

kernel_test!(
    fn bad_specs_are_rejected_with_the_layer_named() {
        let base = |layers: Value| {
            serde_json::from_value::<ModelSpec>(json!({
                "input_shape": [4, 4, 1], "layers": layers, "loss": {"type": "sparse_categorical_crossentropy"},
                "optimizer": {"type": "adam"}, "learning_rate": {"type": "constant", "value": 0.01},
            }))
            .unwrap()
        };
        let err = |layers: Value| Model::new(&base(layers), 1).err().unwrap().to_string();
        assert_eq!(
            err(json!([{"type": "conv2d", "filters": 2, "kernel_size": [5, 5]}, {"type": "flatten"},
                        {"type": "dense", "units": 2, "activation": "softmax"}])),
            "layer 0 (conv2d): conv2d: a 5×5 kernel with 'valid' padding does not fit a 4×4 input"
        );
        assert_eq!(
            err(json!([{"type": "dense", "units": 2, "activation": "softmax"}])),
            "layer 0 (dense): its input is 4×4×1; add a flatten layer before it"
        );
        assert_eq!(
            err(json!([{"type": "flatten"}, {"type": "dropout", "rate": 1.5},
                        {"type": "dense", "units": 3, "activation": "softmax"}])),
            "layer 1 (dropout): rate must be in [0, 1), got 1.5"
        );
        assert!(err(json!([{"type": "flatten"}, {"type": "dense", "units": 3}]))
            .contains("needs a softmax on the last layer"));
        let head = json!({"type": "dense", "units": 2, "activation": "softmax"});
        assert_eq!(
            err(json!([{"type": "batch_normalization", "momentum": 1.5}, {"type": "flatten"}, head])),
            "layer 0 (batch_normalization): momentum must be in [0, 1], got 1.5"
        );
        assert_eq!(
            err(json!([{"type": "batch_normalization", "epsilon": 0}, {"type": "flatten"}, head])),
            "layer 0 (batch_normalization): epsilon must be a finite number > 0, got 0"
        );
        assert_eq!(
            err(json!([{"type": "leaky_relu", "negative_slope": -1}, {"type": "flatten"}, head])),
            "layer 0 (leaky_relu): negative_slope must be a finite number ≥ 0, got -1"
        );
        assert_eq!(
            err(json!([{"type": "global_max_pool2d"}, {"type": "dense", "units": 2, "activation": "softmax"},
                        {"type": "dense", "units": 2, "activation": "softmax"}])),
            "layer 1 (dense): softmax is supported only as the last layer's activation; use a softmax layer elsewhere"
        );
        assert_eq!(
            err(
                json!([{"type": "random_translation", "height_factor": [0.2, -0.2], "width_factor": [0, 0]}, {"type": "flatten"}, head])
            ),
            "layer 0 (random_translation): height_factor must be a range [low, high] within ±1, got [0.2, -0.2]"
        );
        assert_eq!(
            err(json!([{"type": "random_contrast", "factor": [1.5, 0.1]}, {"type": "flatten"}, head])),
            "layer 0 (random_contrast): factor must be [lower, upper] with lower in [0, 1] and upper ≥ 0, got [1.5, 0.1]"
        );
        // Augmentation changes training inputs only: inference passes them through.
        let spec = base(
            json!([{"type": "random_rotation", "factor": [-0.5, 0.5]}, {"type": "random_contrast", "factor": [0.5, 0.5], "value_range": [-10, 10]},
                               {"type": "flatten"}, {"type": "dense", "units": 2, "activation": "softmax"}]),
        );
        let mut model = Model::new(&spec, 1).unwrap();
        let x: Vec<f32> = (0..16).map(|i| i as f32 / 16.0).collect();
        let outputs = model.layer_outputs(Input::F32(&x), &[0, 1]).unwrap();
        assert_eq!(&outputs[..16], &x[..]);
        assert_eq!(&outputs[16..], &x[..]);
        // A softmax layer in the middle runs; as the last layer it is the loss's.
        let spec = base(json!([{"type": "softmax"}, {"type": "global_average_pool2d"},
                               {"type": "dense", "units": 2}, {"type": "softmax"}]));
        let mut model = Model::new(&spec, 1).unwrap();
        let p = model.predict(Input::F32(&[0.5; 16])).unwrap();
        // One channel: the softmax over it is 1 everywhere, so the dense layer sees 1.
        let logits = [model.params()[0] + model.params()[2], model.params()[1] + model.params()[3]];
        let e = [logits[0].exp(), logits[1].exp()];
        assert!((p[0] - e[0] / (e[0] + e[1])).abs() < 1e-6, "{p:?}");
    }
);

kernel_test!(
    fn layer_outputs_are_the_activations_predict_goes_through() {
        let mut model = Model::new(&lenet_like(json!({"type": "rbf_max_likelihood"})), 5).unwrap();
        let pixels: Vec<u8> = (0..2 * 50).map(|i| (i * 37 % 256) as u8).collect();
        let raw = model.predict_raw(Input::U8(&pixels)).unwrap();
        let lens: Vec<usize> = model.output_lens();
        let out = model.layer_outputs(Input::U8(&pixels), &[0, 5, 1]).unwrap();
        assert_eq!(out.len(), 2 * (lens[0] + lens[5] + lens[1]));
        // Layer 0 pads with −0.1, the image's border; layer 5 is the RBF output, predict_raw's.
        let padded = &out[..2 * lens[0]];
        assert_eq!(padded[0], -0.1);
        assert_eq!(padded[(7 + 1) * 2], -0.1 + 0.005 * pixels[0] as f32);
        assert_eq!(&out[2 * lens[0]..2 * (lens[0] + lens[5])], &raw[..]);
        assert_eq!(out.len() - 2 * (lens[0] + lens[5]), 2 * 5 * 5 * 3);
        assert_eq!(
            model.layer_outputs(Input::U8(&pixels), &[6]).unwrap_err().to_string(),
            "layer index 6 is not below the 6 layers"
        );
    }
);

kernel_test!(
    fn divergence_keeps_the_last_good_weights_and_names_the_step() {
        let spec = |lr: f32| -> ModelSpec {
            serde_json::from_value(json!({
                "input_shape": [4, 4, 1],
                "layers": [{"type": "flatten"}, {"type": "dense", "units": 3, "activation": "softmax"}],
                "loss": {"type": "sparse_categorical_crossentropy"},
                "optimizer": {"type": "sgd"}, "learning_rate": {"type": "constant", "value": lr},
            }))
            .unwrap()
        };
        let x: Vec<f32> = (0..32).map(|i| i as f32 / 8.0).collect();
        // NaN inputs: a NaN loss, and the weights stay as they were.
        let mut m = Model::new(&spec(0.1), 1).unwrap();
        let before = m.params().to_vec();
        let mut bad = x.clone();
        bad[3] = f32::NAN;
        assert!(m.train_step(Input::F32(&bad), &[0, 1]).unwrap().is_nan());
        assert_eq!(m.divergence(), Some("step 1: the loss is NaN; the weights were not updated"));
        assert_eq!(m.params(), &before[..]);
        // A learning rate that overflows the weights is named, with the layer.
        let mut m = Model::new(&spec(f32::MAX), 1).unwrap();
        let big: Vec<f32> = x.iter().map(|v| 100.0 * v).collect();
        assert!(m.train_step(Input::F32(&big), &[0, 1]).unwrap().is_nan());
        let why = m.divergence().unwrap();
        assert!(
            why.starts_with("step 1: weight ")
                && why.contains(" of layer 1's kernel is ")
                && why.ends_with("inf after the update"),
            "{why}"
        );
        // A good step clears it.
        let mut m = Model::new(&spec(0.1), 1).unwrap();
        assert!(m.train_step(Input::F32(&x), &[0, 1]).unwrap().is_finite());
        assert_eq!(m.divergence(), None);
        assert!(
            all_finite(&[1.0, -2.0, 3e38, 0.0, 5.0])
                && !all_finite(&[1.0, f32::INFINITY])
                && !all_finite(&[0.0, 0.0, 0.0, 0.0, f32::NAN])
        );
    }
);

kernel_test!(
    fn graph_specs_are_checked_and_a_residual_sum_is_the_branches() {
        let spec = |layers: Value, inputs: Value, optimizer: Value| -> ModelSpec {
            serde_json::from_value(json!({
                "input_shape": [4, 4, 2], "layers": layers, "inputs": inputs,
                "loss": {"type": "sparse_categorical_crossentropy"},
                "optimizer": optimizer, "learning_rate": {"type": "constant", "value": 0.01},
            }))
            .unwrap()
        };
        let adam = json!({"type": "adam"});
        let err = |layers: Value, inputs: Value| {
            Model::new(&spec(layers, inputs, adam.clone()), 1).err().unwrap().to_string()
        };
        let conv = json!({"type": "conv2d", "filters": 2, "kernel_size": [3, 3], "padding": "same"});
        let head = json!([{"type": "flatten"}, {"type": "dense", "units": 2, "activation": "softmax"}]);
        let with_head = |mut l: Vec<Value>| {
            l.extend(head.as_array().unwrap().iter().cloned());
            Value::Array(l)
        };
        let residual = with_head(vec![conv.clone(), json!({"type": "add"})]);
        assert_eq!(
            err(residual.clone(), json!([[0], [1, 0]])),
            "inputs: 2 lists for 4 layers; a graph lists each layer's inputs"
        );
        assert_eq!(err(residual.clone(), json!([[0], [], [2], [3]])), "inputs[1]: layer 1 reads no tensor");
        assert_eq!(
            err(residual.clone(), json!([[0], [1, 2], [2], [3]])),
            "inputs[1]: layer 1 reads tensor 2, which is not earlier than it (0 is the input, j + 1 layer j's output)"
        );
        assert_eq!(
            err(residual.clone(), json!([[0], [1], [2], [3]])),
            "layer 1 (add): it needs at least 2 inputs, got 1"
        );
        assert_eq!(
            err(
                with_head(vec![json!({"type": "max_pool2d", "pool_size": [2, 2]}), json!({"type": "add"})]),
                json!([[0], [1, 0], [2], [3]])
            ),
            "layer 1 (add): its inputs must have one shape: input 0 is 2×2×2, input 1 is 4×4×2"
        );
        assert_eq!(
            err(with_head(vec![conv.clone(), conv.clone()]), json!([[0], [1, 0], [2], [3]])),
            "layer 1 (conv2d): it takes one input, given 2"
        );
        let pool = json!({"type": "max_pool2d", "pool_size": [2, 2]});
        assert_eq!(
            err(with_head(vec![pool.clone(), json!({"type": "concatenate"})]), json!([[0], [1, 0], [2], [3]])),
            "layer 1 (concatenate): its inputs must have one height and width: input 0 is 2×2×2, input 1 is 4×4×2"
        );
        assert_eq!(
            err(with_head(vec![pool, json!({"type": "concatenate", "axis": 1})]), json!([[0], [1, 1], [2], [3]])),
            "layer 1 (concatenate): axis 1 is not read; only the channels (-1) are concatenated"
        );
        assert_eq!(
            err(
                with_head(vec![conv.clone(), conv.clone(), json!({"type": "add"})]),
                json!([[0], [0], [2, 0], [3], [4]])
            ),
            "layer 0 (conv2d): its output is read by no layer; a model's output is its last layer's"
        );
        let sdlm = json!({"type": "sdlm", "mu": 0.02});
        let tanh = json!({"type": "subsampling2d", "pool_size": [1, 1], "activation": "tanh"});
        assert_eq!(
            Model::new(&spec(with_head(vec![tanh, json!({"type": "add"})]), json!([[0], [1, 0], [2], [3]]), sdlm), 1)
                .err()
                .unwrap()
                .to_string(),
            "the sdlm optimizer needs a stack of layers (each reading the one before); this model is a graph"
        );
        // A stack written out as a graph is the stack, bit for bit.
        let stack = with_head(vec![conv.clone(), json!({"type": "activation", "activation": "relu"})]);
        let mut a = Model::new(&spec(stack.clone(), json!([]), adam.clone()), 5).unwrap();
        let mut b = Model::new(&spec(stack, json!([[0], [1], [2], [3]]), adam.clone()), 5).unwrap();
        let x: Vec<u8> = (0..3 * 32).map(|i| (i * 37 % 256) as u8).collect();
        for _ in 0..3 {
            let (la, lb) =
                (a.train_step(Input::U8(&x), &[0, 1, 1]).unwrap(), b.train_step(Input::U8(&x), &[0, 1, 1]).unwrap());
            assert_eq!(la.to_bits(), lb.to_bits());
        }
        assert!(a.params().iter().zip(b.params()).all(|(p, q)| p.to_bits() == q.to_bits()));
        // conv(x) + x, then conv(x) + x + x: each add's output is its inputs' sum, in order.
        let layers = with_head(vec![conv.clone(), json!({"type": "add"}), json!({"type": "add"})]);
        let mut m = Model::new(&spec(layers, json!([[0], [1, 0], [2, 0, 0], [3], [4]]), adam), 2).unwrap();
        let x: Vec<f32> = (0..32).map(|i| (i as f32 * 0.37).sin()).collect();
        let out = m.layer_outputs(Input::F32(&x), &[0, 1, 2]).unwrap();
        let (c, s1, s2) = (&out[..32], &out[32..64], &out[64..]);
        for i in 0..32 {
            assert_eq!(s1[i].to_bits(), (c[i] + x[i]).to_bits());
            assert_eq!(s2[i].to_bits(), ((s1[i] + x[i]) + x[i]).to_bits());
        }
    }
);

kernel_test!(
    fn hostile_sizes_are_refused_before_anything_is_allocated() {
        let spec = |input: Value, layers: Value| -> ModelSpec {
            serde_json::from_value(json!({
                "input_shape": input, "layers": layers,
                "loss": {"type": "sparse_categorical_crossentropy"},
                "optimizer": {"type": "adam"}, "learning_rate": {"type": "constant", "value": 0.01},
            }))
            .unwrap()
        };
        let softmax = json!({"type": "dense", "units": 2, "activation": "softmax"});
        let err = |input: Value, layers: Value| Model::new(&spec(input, layers), 1).err().unwrap().to_string();
        assert_eq!(
            err(json!([4, 4, 100000]), json!([{"type": "flatten"}, softmax])),
            "input_shape[2] is 100000, above the limit of 65536"
        );
        assert_eq!(
            err(json!([60000, 60000, 1]), json!([{"type": "flatten"}, softmax])),
            "input shape [60000, 60000, 1] has more than 67108864 values per example"
        );
        assert_eq!(
            err(json!([1, 1, 60000]), json!([{"type": "flatten"}, {"type": "dense", "units": 60000}, softmax])),
            "layer 1: the model would have more than 268435456 parameters"
        );
        assert!(err(json!([4096, 4096, 1]), json!([{"type": "conv2d", "filters": 64, "kernel_size": [3, 3], "padding": "same"}, {"type": "flatten"}, softmax]))
            .contains("values per example"));
        // A training batch whose working memory would pass 2 GiB is refused, and the model still
        // works. (Inference runs in chunks of a bounded size, so no batch is too large for it.)
        let mut m = Model::new(
            &spec(
                json!([64, 64, 16]),
                json!([{"type": "conv2d", "filters": 64, "kernel_size": [3, 3], "padding": "same"},
                                                                {"type": "flatten"}, softmax]),
            ),
            1,
        )
        .unwrap();
        let too_many = vec![0u8; 2200 * 64 * 64 * 16];
        let labels = vec![0u32; 2200];
        assert!(m.train_step(Input::U8(&too_many), &labels).unwrap_err().to_string().contains("MiB of working memory"));
        assert_eq!(m.predict(Input::U8(&too_many[..64 * 64 * 16])).unwrap().len(), 2);
    }
);

kernel_test!(
    fn layer_specs_parse_by_their_type_with_serdes_messages() {
        let parse = |layer: &str| serde_json::from_str::<LayerSpec>(layer);
        let err = |layer: &str| parse(layer).err().unwrap().to_string();
        assert!(matches!(parse(r#"{"units": 3, "type": "dense"}"#), Ok(LayerSpec::Dense(_))));
        assert!(matches!(parse(r#"{"type": "global_average_pool2d"}"#), Ok(LayerSpec::GlobalAveragePool2d(_))));
        assert!(matches!(
            parse(r#"{"type": "random_erasing", "factor": [0, 1], "scale": [0.02, 0.33]}"#),
            Ok(LayerSpec::RandomErasing(_))
        ));
        let unknown = err(r#"{"type": "conv3d"}"#);
        assert!(
            unknown.starts_with("unknown variant `conv3d`, expected one of `conv2d`, `zero_padding2d`"),
            "{unknown}"
        );
        assert!(unknown.contains("`random_erasing`"), "{unknown}");
        assert!(err(r#"{"filters": 2}"#).starts_with("missing field `type`"));
        assert!(err(r#"{"type": 2}"#).starts_with("invalid type: number, expected a layer type"));
        assert!(err(r#"[1, 2]"#).starts_with("invalid type: sequence, expected a layer (an object with its type)"));
        assert!(err(r#"{"type": "dense", "units": 2, "units": 3}"#).starts_with("duplicate field `units`"));
        assert!(err(r#"{"type": "dense", "type": "flatten"}"#).starts_with("duplicate field `type`"));
        // The layer's own parser speaks for its fields.
        assert!(err(r#"{"type": "dense"}"#).starts_with("missing field `units`"));
        assert!(err(r#"{"type": "dense", "units": "3"}"#).starts_with("invalid type: string \"3\", expected usize"));
        assert!(err(r#"{"type": "flatten", "units": 3}"#).starts_with("unknown field `units`"));
    }
);

kernel_test!(
    fn mutated_specs_and_states_are_refused_or_accepted_never_a_panic() {
        // A property test of the Rust-side decoding: 3,000 random byte mutations of a valid
        // spec (JSON text) and 3,000 of a valid training state. Each must give Ok or Err; a
        // panic fails the test. The sizes are bounded, so no case can allocate without limit.
        let spec = serde_json::to_string(&json!({
            "input_shape": [6, 6, 2], "input_scale": 0.005, "input_offset": -0.1,
            "layers": [
                {"type": "zero_padding2d", "padding": [[1, 1], [1, 1]], "value": -0.1},
                {"type": "conv2d", "filters": 3, "kernel_size": [3, 3], "activation": "lecun_tanh",
                 "connections": [[0], [1], [0, 1]]},
                {"type": "subsampling2d", "pool_size": [2, 2], "activation": "lecun_tanh"},
                {"type": "max_pool2d", "pool_size": [2, 2]},
                {"type": "flatten"}, {"type": "dropout", "rate": 0.1},
                {"type": "dense", "units": 4, "activation": "tanh"},
                {"type": "rbf", "units": 2, "prototypes": [1, -1, 1, -1, -1, 1, -1, 1]}],
            "loss": {"type": "rbf_map", "j": 1.0},
            "optimizer": {"type": "nadam"},
            "learning_rate": {"type": "piecewise", "boundaries": [5], "values": [0.01, 0.001]},
        }))
        .unwrap();
        let base: ModelSpec = serde_json::from_str(&spec).unwrap();
        let mut model = Model::new(&base, 1).unwrap();
        let x = vec![0.5f32; 3 * 72];
        model.train_step(Input::F32(&x), &[0, 1, 0]).unwrap();
        let state = model.training_state();
        const SET: &[u8] = b"0123456789-.,:[]{}\"ae";
        const INSERT: &[u8] = b"09]}\"-";
        let mut rng = Rng::new(77);
        let mut pick = |n: usize| (rng.next_u64() % n as u64) as usize;
        let (mut built, mut restored) = (0, 0);
        for _ in 0..3000 {
            let mut bytes = spec.clone().into_bytes();
            for _ in 0..1 + pick(3) {
                let i = pick(bytes.len());
                match pick(3) {
                    0 => bytes[i] = SET[pick(SET.len())],
                    1 => {
                        bytes.remove(i);
                    }
                    _ => bytes.insert(i, INSERT[pick(INSERT.len())]),
                }
            }
            if let Ok(text) = std::str::from_utf8(&bytes) {
                if let Ok(s) = serde_json::from_str::<ModelSpec>(text) {
                    if let Ok(mut m) = Model::new(&s, 2) {
                        built += 1;
                        let _ = m.predict(Input::F32(&x));
                    }
                }
            }
            let mut st = state.clone();
            for _ in 0..1 + pick(4) {
                let i = pick(st.len());
                match pick(3) {
                    0 => st[i] = pick(256) as u8,
                    1 => st.truncate(i),
                    _ => st.insert(i, pick(256) as u8),
                }
                if st.is_empty() {
                    break;
                }
            }
            if model.set_training_state(&st).is_ok() {
                restored += 1;
            }
        }
        // Some mutations keep a valid document (a digit for a digit), most do not.
        assert!(built > 0 && built < 3000, "{built} mutated specs built");
        assert!(restored < 3000, "{restored} mutated states accepted");
    }
);

kernel_test!(
    fn connection_table_conv_equals_a_masked_dense_conv() {
        // The same weights as a full conv with zeros where the table has no connection must
        // give the same outputs, bit for bit (a zero term changes no sum).
        let table = lenet_like(json!({"type": "rbf_cross_entropy"}));
        let mut dense = table.clone();
        if let LayerSpec::Conv2d(conv) = &mut dense.layers[1] {
            conv.connections = None;
        }
        let mut a = Model::new(&table, 5).unwrap();
        let mut b = Model::new(&dense, 5).unwrap();
        let (ka, kb) = (a.layer_params(1).unwrap().0, b.layer_params(1).unwrap().0);
        let mut pb = vec![0.0; b.param_count()];
        let Some(AnyLayer::Conv2dTable(t)) = a.layer(1) else { panic!("layer 1 is not a table conv") };
        t.table().expand(3, 3, &a.params()[ka.clone()], &mut pb[kb.clone()]);
        pb[kb.end..].copy_from_slice(&a.params()[ka.end..]);
        b.set_params(&pb).unwrap();
        let x: Vec<f32> = (0..2 * 50).map(|i| ((i * 37) % 17) as f32 / 8.0 - 1.0).collect();
        let (ya, yb) = (a.predict_raw(Input::F32(&x)).unwrap(), b.predict_raw(Input::F32(&x)).unwrap());
        assert_eq!(
            ya.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            yb.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }
);

kernel_test!(
    fn rbf_outputs_classify_by_the_nearest_prototype() {
        let mut model = Model::new(&lenet_like(json!({"type": "rbf_map", "j": 1.0})), 6).unwrap();
        let x: Vec<f32> = (0..4 * 50).map(|i| ((i * 13) % 11) as f32 / 5.0 - 1.0).collect();
        let d = model.predict_raw(Input::F32(&x)).unwrap();
        let p = model.predict(Input::F32(&x)).unwrap();
        let e = model.evaluate(Input::F32(&x), &[0, 1, 2, 0]).unwrap();
        let mut correct = 0;
        for (n, (dr, pr)) in d.chunks_exact(3).zip(p.chunks_exact(3)).enumerate() {
            let nearest = (0..3).fold(0, |b, i| if dr[i] < dr[b] { i } else { b });
            let likeliest = (0..3).fold(0, |b, i| if pr[i] > pr[b] { i } else { b });
            assert_eq!(nearest, likeliest);
            assert!((pr.iter().sum::<f32>() - 1.0).abs() < 1e-6);
            correct += u32::from(nearest as u32 == [0, 1, 2, 0][n]);
        }
        assert_eq!(e[1] as u32, correct);
        assert!(model.train_step(Input::F32(&x), &[0, 1, 2, 0]).unwrap().is_finite());
    }
);

kernel_test!(
    fn lenet_spec_errors_name_the_layer() {
        let mut spec = lenet_like(json!({"type": "rbf_map", "j": 0.0}));
        assert_eq!(Model::new(&spec, 1).err().unwrap().to_string(), "rbfMap needs a constant j > 0, got 0");
        spec.loss = LossSpec::SparseCategoricalCrossentropy { label_smoothing: 0.0 };
        assert!(Model::new(&spec, 1).err().unwrap().to_string().contains("needs a softmax"));
        spec.loss = LossSpec::RbfCrossEntropy;
        if let LayerSpec::Conv2d(conv) = &mut spec.layers[1] {
            conv.connections.as_mut().unwrap()[2] = vec![0, 2];
        }
        assert_eq!(
            Model::new(&spec, 1).err().unwrap().to_string(),
            "layer 1 (conv2d): connection table: output map 2 reads map 2, but there are 2 input maps"
        );
        let mut spec = lenet_like(json!({"type": "rbf_cross_entropy"}));
        if let LayerSpec::Rbf(rbf) = &mut spec.layers[5] {
            rbf.prototypes.pop();
        }
        assert_eq!(
            Model::new(&spec, 1).err().unwrap().to_string(),
            "layer 5 (rbf): 14 prototype values given, expected units·inputs = 3·5"
        );
    }
);

kernel_test!(
    fn evaluate_permutation_and_pixels() {
        let spec: ModelSpec = serde_json::from_value(json!({
            "input_shape": [2, 2, 1], "input_scale": 0.5, "input_offset": -1.0,
            "layers": [{"type": "flatten"}, {"type": "dense", "units": 3, "activation": "softmax"}],
            "loss": {"type": "sparse_categorical_crossentropy"},
            "optimizer": {"type": "sgd"}, "learning_rate": {"type": "constant", "value": 0.1},
        }))
        .unwrap();
        let mut m = Model::new(&spec, 5).unwrap();
        // Pixels p become −1 + 0.5·p.
        let pixels = [0u8, 2, 4, 6, 1, 3, 5, 7];
        let floats: Vec<f32> = pixels.iter().map(|&p| -1.0 + 0.5 * p as f32).collect();
        assert_eq!(m.predict(Input::U8(&pixels)).unwrap(), m.predict(Input::F32(&floats)).unwrap());
        let labels = [2u32, 0];
        let e = m.evaluate(Input::F32(&floats), &labels).unwrap();
        let probs = m.predict(Input::F32(&floats)).unwrap();
        assert_eq!(&e[2..], &probs[..]);
        let want_loss = -((probs[2] as f64).ln() + (probs[3] as f64).ln()) / 2.0;
        assert!((e[0] as f64 - want_loss).abs() < 1e-6, "loss {} vs {want_loss}", e[0]);
        let correct = [(0usize, 2usize), (1, 0)]
            .iter()
            .filter(|&&(n, l)| {
                let row = &probs[n * 3..n * 3 + 3];
                (0..3).fold(0, |b, j| if row[j] > row[b] { j } else { b }) == l
            })
            .count();
        assert_eq!(e[1], correct as f32);
        let p = m.permutation(1000);
        let mut sorted = p.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<u32>>());
        assert_ne!(p, sorted);
        assert_ne!(m.permutation(1000), p, "the generator moves on");
    }
);

kernel_test!(
    fn predict_in_chunks_gives_each_example_the_bits_of_its_own_pass() {
        // More than two of inference's chunks, the last one short: every example's probabilities
        // and raw outputs are the bits it gets alone, so the chunk boundaries change nothing.
        let doc: Value = serde_json::from_str(TRAINING).unwrap();
        let mut model = Model::new(&spec_for(&doc, &doc["cases"][0]), 3).unwrap();
        let per = model.input_len();
        let n = 150;
        let x: Vec<f32> = (0..n * per).map(|i| (i * 37 % 101) as f32 / 101.0 - 0.5).collect();
        let all = model.predict(Input::F32(&x)).unwrap();
        let raw = model.predict_raw(Input::F32(&x)).unwrap();
        let classes = all.len() / n;
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        for e in 0..n {
            let one = &x[e * per..(e + 1) * per];
            assert_eq!(
                bits(&model.predict(Input::F32(one)).unwrap()),
                bits(&all[e * classes..(e + 1) * classes]),
                "example {e}"
            );
            assert_eq!(
                bits(&model.predict_raw(Input::F32(one)).unwrap()),
                bits(&raw[e * classes..(e + 1) * classes]),
                "example {e}"
            );
        }
    }
);

kernel_test!(
    fn views_average_the_probabilities_of_moved_and_flipped_inputs() {
        use convnet_wasm::kernels::views::view_images;
        use convnet_wasm::kernels::warp::ImageParams;
        let spec: ModelSpec = serde_json::from_value(json!({
            "input_shape": [6, 5, 2], "input_scale": 0.01, "input_offset": -0.5,
            "layers": [
                {"type": "conv2d", "filters": 3, "kernel_size": [3, 3], "padding": "same", "activation": "relu"},
                {"type": "flatten"}, {"type": "dense", "units": 4, "activation": "softmax"}],
            "loss": {"type": "sparse_categorical_crossentropy", "label_smoothing": 0.1},
            "optimizer": {"type": "sgd"}, "learning_rate": {"type": "constant", "value": 0.1},
        }))
        .unwrap();
        let mut m = Model::new(&spec, 7).unwrap();
        let per = m.input_len();
        // More than two of inference's chunks, the last one short.
        let n = 37;
        let pixels: Vec<u8> = (0..n * per).map(|i| (i * 53 % 256) as u8).collect();
        let floats: Vec<f32> = pixels.iter().map(|&p| -0.5 + 0.01 * p as f32).collect();
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();

        // The identity alone is predict.
        let identity = m.parse_views(&[0, 0, 0, 0]).unwrap();
        let plain = m.predict(Input::U8(&pixels)).unwrap();
        assert_eq!(bits(&m.predict_views(Input::U8(&pixels), &identity).unwrap()), bits(&plain));

        // Several views: the mean of predict on each view of the model's input (zeros, not the
        // pixels' offset, where a move leaves the image), summed in the order given.
        let views = m.parse_views(&[0, 0, 0, 0, 1, 0, 0, 0, 0, -2, 1, 0, -1, 1, 1, 1]).unwrap();
        let p = ImageParams { batch: n, h: 6, w: 5, c: 2 };
        let mut want: Vec<f32> = Vec::new();
        for &v in &views {
            let mut y = vec![0.0; floats.len()];
            view_images(&p, v, &floats, &mut y);
            let q = m.predict(Input::F32(&y)).unwrap();
            if want.is_empty() {
                want = q;
            } else {
                want.iter_mut().zip(&q).for_each(|(a, b)| *a += b);
            }
        }
        want.iter_mut().for_each(|a| *a /= views.len() as f32);
        let got = m.predict_views(Input::U8(&pixels), &views).unwrap();
        assert_eq!(bits(&got), bits(&want));
        assert_ne!(bits(&got), bits(&plain));
        // Each example alone gets the same bits.
        for e in [0, 16, 36] {
            let one = m.predict_views(Input::U8(&pixels[e * per..(e + 1) * per]), &views).unwrap();
            assert_eq!(bits(&one), bits(&got[e * 4..e * 4 + 4]), "example {e}");
        }

        // Evaluation on the averaged probabilities: the smoothed cross-entropy, the argmax hits.
        let labels: Vec<u32> = (0..n as u32).map(|i| i * 3 % 4).collect();
        let e = m.evaluate_views(Input::U8(&pixels), &labels, &views).unwrap();
        assert_eq!(bits(&e[2..]), bits(&got));
        let (mut loss, mut correct) = (0.0f64, 0);
        for (row, &label) in got.chunks_exact(4).zip(&labels) {
            for (k, &q) in row.iter().enumerate() {
                let t = 0.1 / 4.0 + if k == label as usize { 0.9 } else { 0.0 };
                loss -= t * (q.clamp(1e-7, 1.0 - 1e-7) as f64).ln();
            }
            let best = (0..4).fold(0, |b, j| if row[j] > row[b] { j } else { b });
            correct += usize::from(best == label as usize);
        }
        assert!((e[0] as f64 - loss / n as f64).abs() < 1e-6, "loss {} against {}", e[0], loss / n as f64);
        assert_eq!(e[1], correct as f32);

        // Views that cannot be run are refused, naming the view.
        let err = |flat: &[i32]| m.parse_views(flat).err().unwrap().to_string();
        assert!(err(&[]).contains("not a whole number of views of 4"), "{}", err(&[]));
        assert!(err(&[0, 0, 0]).contains("3 values"), "{}", err(&[0, 0, 0]));
        assert_eq!(
            err(&[0, 0, 0, 0, 5, 0, 0, 0]),
            "views[1]: a move of dx 5 and dy 0 leaves nothing of a 6×5 input (|dx| < 5 and |dy| < 6)"
        );
        assert_eq!(err(&[0, 0, 2, 0]), "views[0]: the horizontal flip must be 0 or 1, got 2");
        assert!(err(&vec![0; 4 * 257]).contains("257 views, above the limit of 256"));
        assert!(m.evaluate_views(Input::U8(&pixels), &labels[1..], &views).is_err());
    }
);
