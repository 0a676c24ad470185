"""Train Géron's Fashion-MNIST ConvNet in Keras for one short epoch and save a small fixture that
test/keras-import.test.ts imports into convnet-wasm's models.fashionConvNet().

The network is the book's (REFERENCE.md §1), built in Keras 3 with the book's Nadam, batch 32,
on the first 2,000 Fashion-MNIST training images (÷255). To keep the fixture small, the trained
weights are rounded to float16 and written in that precision; the predictions stored beside them
are computed by Keras with exactly those rounded weights, so the comparison is exact in intent.

Writes test/fixtures/keras/fashion-convnet.f16.bin (float16, little-endian; Keras's
get_weights() order: each layer's kernel then bias, HWIO conv kernels, [in, out] dense kernels)
and test/fixtures/keras/fashion-convnet.json (shapes, the first 100 test images' probabilities,
versions).

Usage: /opt/tf-venv/bin/python scripts/make-keras-fixture.py   (tensorflow-cpu installed there)
"""

import gzip
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = Path("/usr/share/datasets/fashion-mnist")
OUT = ROOT / "test" / "fixtures" / "keras"


def idx(name: str) -> np.ndarray:
    raw = gzip.open(DATA / f"{name}.gz").read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def model() -> tf.keras.Model:
    conv = lambda filters, size: tf.keras.layers.Conv2D(  # noqa: E731
        filters, size, padding="same", activation="relu", kernel_initializer="he_normal"
    )
    return tf.keras.Sequential(
        [
            tf.keras.Input(shape=(28, 28, 1)),
            conv(64, 7),
            tf.keras.layers.MaxPool2D(),
            conv(128, 3),
            conv(128, 3),
            tf.keras.layers.MaxPool2D(),
            conv(256, 3),
            conv(256, 3),
            tf.keras.layers.MaxPool2D(),
            tf.keras.layers.Flatten(),
            tf.keras.layers.Dense(128, activation="relu", kernel_initializer="he_normal"),
            tf.keras.layers.Dropout(0.5),
            tf.keras.layers.Dense(64, activation="relu", kernel_initializer="he_normal"),
            tf.keras.layers.Dropout(0.5),
            tf.keras.layers.Dense(10, activation="softmax"),
        ]
    )


def main() -> None:
    tf.keras.utils.set_random_seed(42)
    x_train = idx("train-images-idx3-ubyte")[:2000, :, :, None].astype(np.float32) / 255
    y_train = idx("train-labels-idx1-ubyte")[:2000]
    x_test = idx("t10k-images-idx3-ubyte")[:100, :, :, None].astype(np.float32) / 255
    m = model()
    m.compile(loss="sparse_categorical_crossentropy", optimizer="nadam", metrics=["accuracy"])
    m.fit(x_train, y_train, epochs=1, batch_size=32, verbose=2)
    weights = [w.astype(np.float16) for w in m.get_weights()]
    m.set_weights([w.astype(np.float32) for w in weights])
    probs = m.predict(x_test, batch_size=100, verbose=0)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "fashion-convnet.f16.bin").write_bytes(b"".join(w.astype("<f2").tobytes() for w in weights))
    doc = {
        "about": "Géron's Fashion ConvNet trained 1 epoch on 2,000 images in Keras; weights rounded to float16",
        "tensorflow": tf.__version__,
        "shapes": [list(w.shape) for w in weights],
        "params": int(sum(w.size for w in weights)),
        "probabilities": [[round(float(v), 7) for v in row] for row in probs],
    }
    (OUT / "fashion-convnet.json").write_text(json.dumps(doc) + "\n")
    print(f"wrote {OUT}: {doc['params']} weights")


if __name__ == "__main__":
    main()
