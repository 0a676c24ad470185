#!/usr/bin/env python3
"""Make the kernel golden values from Keras/TensorFlow (PyPI tensorflow-cpu).

For each case: seeded inputs, Keras's forward output, and the gradients of
L = Σ y ⊙ dy for a seeded dy (so the gradients are exactly what a backward kernel computes
for that upstream gradient). Layouts are Keras's: NHWC images, HWIO conv kernels, [in, out]
dense kernels. Writes test/fixtures/golden/kernels.json; CI does not need TensorFlow.

Usage: python scripts/make-golden.py   (in an environment with tensorflow-cpu installed)
"""
import json
import os
import struct

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "golden", "kernels.json")
rng = np.random.default_rng(20261125)


def f32_list(a):
    """Shortest decimal strings that round-trip to the same float32, as JSON numbers."""
    out = []
    for v in np.asarray(a, dtype=np.float32).ravel():
        x = float(v)
        for p in range(6, 10):
            t = float(f"{x:.{p}g}")
            if struct.pack("f", t) == struct.pack("f", x):
                break
        out.append(t)
    return out


def uniform(*shape):
    return rng.uniform(-1, 1, size=shape).astype(np.float32)


def grads(layer_fn, inputs, dy):
    """Forward output and gradients of Σ y·dy with respect to every tensor in `inputs`."""
    variables = [tf.Variable(v) for v in inputs]
    with tf.GradientTape() as tape:
        y = layer_fn(*variables)
        loss = tf.reduce_sum(y * dy)
    return y.numpy(), [g.numpy() for g in tape.gradient(loss, variables)]


def conv_case(name, batch, h, w, c, filters, k, stride, padding):
    x, kern, b = uniform(batch, h, w, c), uniform(k, k, c, filters), uniform(filters)
    layer = tf.keras.layers.Conv2D(filters, k, strides=stride, padding=padding)
    layer.build((batch, h, w, c))
    out_shape = layer.compute_output_shape((batch, h, w, c))
    dy = uniform(*out_shape)
    y, (dx, dk, db) = grads(lambda x_, k_, b_: tf.nn.bias_add(
        tf.nn.conv2d(x_, k_, strides=stride, padding=padding.upper()), b_), [x, kern, b], dy)
    # The same through the Keras layer, to be sure the raw op is what Keras computes.
    layer.set_weights([kern, b])
    np.testing.assert_allclose(layer(x).numpy(), y, rtol=1e-6, atol=1e-6)
    return dict(name=name, kind="conv2d", batch=batch, in_h=h, in_w=w, in_c=c, filters=filters,
                kernel=k, stride=stride, padding=padding, x=f32_list(x), w=f32_list(kern), b=f32_list(b),
                dy=f32_list(dy), y=f32_list(y), dx=f32_list(dx), dw=f32_list(dk), db=f32_list(db))


def pool_case(name, kind, batch, h, w, c, pool, stride, padding):
    x = uniform(batch, h, w, c)
    cls = tf.keras.layers.MaxPooling2D if kind == "max_pool" else tf.keras.layers.AveragePooling2D
    layer = cls(pool_size=pool, strides=stride, padding=padding)
    dy = uniform(*layer.compute_output_shape((batch, h, w, c)))
    y, (dx,) = grads(lambda x_: layer(x_), [x], dy)
    return dict(name=name, kind=kind, batch=batch, in_h=h, in_w=w, channels=c, pool=pool, stride=stride,
                padding=padding, x=f32_list(x), dy=f32_list(dy), y=f32_list(y), dx=f32_list(dx))


def dense_case(name, batch, inputs, units):
    x, kern, b = uniform(batch, inputs), uniform(inputs, units), uniform(units)
    layer = tf.keras.layers.Dense(units)
    layer.build((batch, inputs))
    layer.set_weights([kern, b])
    dy = uniform(batch, units)
    y, (dx, dk, db) = grads(lambda x_, k_, b_: tf.matmul(x_, k_) + b_, [x, kern, b], dy)
    np.testing.assert_allclose(layer(x).numpy(), y, rtol=1e-6, atol=1e-6)
    return dict(name=name, kind="dense", batch=batch, inputs=inputs, units=units, x=f32_list(x),
                w=f32_list(kern), b=f32_list(b), dy=f32_list(dy), y=f32_list(y), dx=f32_list(dx),
                dw=f32_list(dk), db=f32_list(db))


def softmax_ce_case(name, batch, classes, scale):
    logits = uniform(batch, classes) * scale
    labels = rng.integers(0, classes, size=batch).astype(np.int32)
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    v = tf.Variable(logits)
    with tf.GradientTape() as tape:
        loss = loss_fn(labels, v)
    d = tape.gradient(loss, v).numpy()
    probs = tf.nn.softmax(logits).numpy()
    return dict(name=name, kind="softmax_cross_entropy", batch=batch, classes=classes, logits=f32_list(logits),
                labels=[int(v) for v in labels], loss=f32_list([loss.numpy()])[0], probs=f32_list(probs),
                dlogits=f32_list(d))


def activation_case(name, fn_name, n):
    x = uniform(n) * 4.0
    dy = uniform(n)
    fns = {
        "relu": tf.keras.activations.relu,
        "tanh": tf.keras.activations.tanh,
        "sigmoid": tf.keras.activations.sigmoid,
        # LeCun's squashing function, built from TF's tanh: 1.7159·tanh(2/3·a).
        "lecun_tanh": lambda v: 1.7159 * tf.math.tanh(v * (2.0 / 3.0)),
    }
    y, (dx,) = grads(fns[fn_name], [x], dy)
    return dict(name=name, kind="activation", activation=fn_name, x=f32_list(x), dy=f32_list(dy), y=f32_list(y),
                dx=f32_list(dx))


def subsample_case(name, batch, h, w, c):
    """LeNet's subsampling, coef·(sum of each 2×2 window) + bias, through TF's average pool ×4."""
    x, coef, bias = uniform(batch, h, w, c), uniform(c), uniform(c)
    pool = tf.keras.layers.AveragePooling2D(pool_size=2, strides=2, padding="valid")
    dy = uniform(*pool.compute_output_shape((batch, h, w, c)))
    y, (dx, dcoef, dbias) = grads(lambda x_, c_, b_: 4.0 * pool(x_) * c_ + b_, [x, coef, bias], dy)
    return dict(name=name, kind="subsample", batch=batch, in_h=h, in_w=w, channels=c, x=f32_list(x),
                coef=f32_list(coef), bias=f32_list(bias), dy=f32_list(dy), y=f32_list(y), dx=f32_list(dx),
                dcoef=f32_list(dcoef), dbias=f32_list(dbias))


def rbf_case(name, batch, inputs, units):
    """Euclidean RBF units with fixed ±1 prototypes: y[n,i] = Σ_j (x[n,j] − w[i,j])²."""
    x = uniform(batch, inputs)
    protos = np.where(rng.uniform(size=(units, inputs)) < 0.5, -1.0, 1.0).astype(np.float32)
    dy = uniform(batch, units)
    y, (dx,) = grads(lambda x_: tf.reduce_sum(tf.square(x_[:, None, :] - protos[None]), axis=2), [x], dy)
    return dict(name=name, kind="rbf", batch=batch, inputs=inputs, units=units, x=f32_list(x),
                prototypes=f32_list(protos), dy=f32_list(dy), y=f32_list(y), dx=f32_list(dx))


def main():
    cases = [
        conv_case("conv2d 7x7 same (Fashion layer 1)", 2, 10, 9, 1, 4, 7, 1, "same"),
        conv_case("conv2d 3x3 same", 2, 6, 7, 3, 5, 3, 1, "same"),
        conv_case("conv2d 5x5 valid (LeNet)", 2, 9, 8, 2, 3, 5, 1, "valid"),
        conv_case("conv2d 3x3 stride 2 same", 2, 9, 8, 3, 4, 3, 2, "same"),
        conv_case("conv2d 3x3 stride 2 valid", 1, 9, 10, 2, 3, 3, 2, "valid"),
        pool_case("max pool 2x2 valid (odd size)", "max_pool", 2, 7, 7, 3, 2, 2, "valid"),
        pool_case("max pool 3x3 stride 2 same", "max_pool", 1, 8, 7, 5, 3, 2, "same"),
        pool_case("average pool 2x2 valid", "avg_pool", 2, 6, 6, 3, 2, 2, "valid"),
        pool_case("average pool 2x2 same (partial windows)", "avg_pool", 1, 5, 7, 2, 2, 2, "same"),
        dense_case("dense 7→5", 4, 7, 5),
        dense_case("dense 37→21", 3, 37, 21),
        softmax_ce_case("softmax cross-entropy", 6, 10, 3.0),
        softmax_ce_case("softmax cross-entropy, large logits", 4, 10, 60.0),
        activation_case("relu", "relu", 37),
        activation_case("tanh", "tanh", 37),
        activation_case("sigmoid", "sigmoid", 37),
        activation_case("LeCun scaled tanh", "lecun_tanh", 37),
        subsample_case("LeNet subsampling 2x2 (odd size)", 2, 7, 6, 5),
        rbf_case("RBF 84→10 (LeNet output)", 3, 84, 10),
        # Last, so that the cases above keep their random values: a shape the Winograd kernels
        # (winograd.rs) compute, with a tile half past the right edge.
        conv_case("conv2d 3x3 same, 32→32 (Winograd)", 1, 4, 5, 32, 32, 3, 1, "same"),
    ]
    doc = {
        "generator": "scripts/make-golden.py",
        "tensorflow": tf.__version__,
        "note": "gradients are of L = sum(y * dy); softmax cross-entropy is Keras's batch mean",
        "cases": cases,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {len(cases)} cases to {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
