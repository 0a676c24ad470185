//! Helpers shared by the model tests.
#![allow(dead_code)]

use convnet_wasm::model::ModelSpec;
use serde_json::{json, Value};

pub const TRAINING: &str = include_str!("../../../test/fixtures/golden/training.json");
pub const LAYERS: &str = include_str!("../../../test/fixtures/golden/layers.json");

pub fn floats(v: &Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

pub fn spec_for(doc: &Value, case: &Value) -> ModelSpec {
    serde_json::from_value(json!({
        "input_shape": doc["input_shape"],
        "layers": doc["layers"],
        "loss": {"type": "sparse_categorical_crossentropy"},
        "optimizer": case["optimizer"],
        "learning_rate": case["learning_rate"],
    }))
    .expect("spec parses")
}

pub fn lenet_like(loss: Value) -> ModelSpec {
    let prototypes: Vec<f32> = (0..3 * 5).map(|i| if (i * 7 + i / 5) % 3 == 0 { 1.0 } else { -1.0 }).collect();
    serde_json::from_value(json!({
        "input_shape": [5, 5, 2],
        "input_scale": 0.005, "input_offset": -0.1,
        "layers": [
            {"type": "zero_padding2d", "padding": [[1, 1], [1, 1]], "value": -0.1},
            {"type": "conv2d", "filters": 3, "kernel_size": [3, 3], "activation": "lecun_tanh",
             "connections": [[0], [1], [0, 1]], "kernel_initializer": "lenet_uniform",
             "bias_initializer": "lenet_uniform"},
            {"type": "subsampling2d", "pool_size": [2, 2], "activation": "lecun_tanh",
             "kernel_initializer": "lenet_uniform", "bias_initializer": "lenet_uniform"},
            {"type": "flatten"},
            {"type": "dense", "units": 5, "activation": "lecun_tanh", "kernel_initializer": "lenet_uniform"},
            {"type": "rbf", "units": 3, "prototypes": prototypes}],
        "loss": loss,
        "optimizer": {"type": "sgd"}, "learning_rate": {"type": "constant", "value": 0.01},
    }))
    .unwrap()
}
