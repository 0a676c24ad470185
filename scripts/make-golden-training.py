#!/usr/bin/env python3
"""Make the training golden values from Keras (PyPI tensorflow-cpu).

A tiny conv+dense model (Conv2D 3×3 same relu → MaxPool 2 → Flatten → Dense relu → Dense
softmax) starts from fixed weights and takes 5 train_on_batch steps, one batch per step, with
each optimiser: SGD (plain, momentum, Nesterov), Adam and Nadam with Keras's defaults, and a
piecewise learning-rate schedule. The fixture holds the inputs, the starting weights, the loss of
each step and the final weights, in Keras's get_weights() order and layouts.
Writes test/fixtures/golden/training.json.

Usage: python scripts/make-golden-training.py   (with tensorflow-cpu installed)
"""
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from importlib import util  # noqa: E402

spec = util.spec_from_file_location("golden", os.path.join(os.path.dirname(__file__), "make-golden.py"))
golden = util.module_from_spec(spec)
spec.loader.exec_module(golden)
f32_list = golden.f32_list

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "golden", "training.json")
STEPS, BATCH, H, W, C, CLASSES = 5, 4, 6, 6, 1, 4
rng = np.random.default_rng(7)


def build():
    return tf.keras.Sequential([
        tf.keras.Input((H, W, C)),
        tf.keras.layers.Conv2D(3, 3, padding="same", activation="relu"),
        tf.keras.layers.MaxPooling2D(2),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(5, activation="relu"),
        tf.keras.layers.Dense(CLASSES, activation="softmax"),
    ])


def main():
    xs = rng.uniform(-1, 1, size=(STEPS, BATCH, H, W, C)).astype(np.float32)
    ys = rng.integers(0, CLASSES, size=(STEPS, BATCH)).astype(np.int32)
    initial = [rng.uniform(-0.5, 0.5, size=w.shape).astype(np.float32) for w in build().get_weights()]
    piecewise = tf.keras.optimizers.schedules.PiecewiseConstantDecay([1, 3], [0.1, 0.05, 0.01])
    configs = [
        ("sgd", {"type": "sgd"}, {"type": "constant", "value": 0.1}, tf.keras.optimizers.SGD(0.1)),
        ("sgd momentum", {"type": "sgd", "momentum": 0.9}, {"type": "constant", "value": 0.05},
         tf.keras.optimizers.SGD(0.05, momentum=0.9)),
        ("sgd nesterov", {"type": "sgd", "momentum": 0.9, "nesterov": True}, {"type": "constant", "value": 0.05},
         tf.keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True)),
        ("sgd piecewise", {"type": "sgd"}, {"type": "piecewise", "boundaries": [1, 3], "values": [0.1, 0.05, 0.01]},
         tf.keras.optimizers.SGD(piecewise)),
        ("adam", {"type": "adam"}, {"type": "constant", "value": 0.01}, tf.keras.optimizers.Adam(0.01)),
        ("nadam", {"type": "nadam"}, {"type": "constant", "value": 0.01}, tf.keras.optimizers.Nadam(0.01)),
    ]
    cases = []
    for name, optimizer, learning_rate, keras_optimizer in configs:
        model = build()
        model.set_weights(initial)
        model.compile(optimizer=keras_optimizer, loss="sparse_categorical_crossentropy", jit_compile=False)
        losses = [float(model.train_on_batch(xs[s], ys[s])) for s in range(STEPS)]
        final = np.concatenate([w.ravel() for w in model.get_weights()])
        cases.append(dict(name=name, optimizer=optimizer, learning_rate=learning_rate, losses=f32_list(losses),
                          final=f32_list(final)))
    doc = {
        "generator": "scripts/make-golden-training.py",
        "tensorflow": tf.__version__,
        "input_shape": [H, W, C],
        "layers": [
            {"type": "conv2d", "filters": 3, "kernel_size": [3, 3], "padding": "same", "activation": "relu"},
            {"type": "max_pool2d", "pool_size": [2, 2]},
            {"type": "flatten"},
            {"type": "dense", "units": 5, "activation": "relu"},
            {"type": "dense", "units": CLASSES, "activation": "softmax"},
        ],
        "x": [f32_list(x) for x in xs],
        "labels": [[int(v) for v in y] for y in ys],
        "initial": f32_list(np.concatenate([w.ravel() for w in initial])),
        "cases": cases,
    }
    with open(OUT, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {len(cases)} cases to {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
