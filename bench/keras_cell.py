#!/usr/bin/env python3
"""One native-Keras measurement of `npm run bench` (bench/run.mjs), alone in its process so that the
peak RSS it reports is its own: the same cell JSON as bench/cell.mjs, engine "keras", with
`threads` (TensorFlow's intra-op threads; inter-op 1). Prints one JSON line:
{ value, unit, maxRssMiB, tensorflow }.

The networks are convnet-wasm's (Géron's Fashion ConvNet with Nadam, the modern LeNet-5 with Adam)
in Keras 3 on TensorFlow (tensorflow-cpu from PyPI, installed by bench/setup-keras), fed the
first real training images, as float32 in [0, 1]. Timing follows bench/cell.mjs: the median of the
timed calls after a warm-up of at least `warmup` calls and 0.5 s (for training: the time of
`steps` steps after the warm-up, one `train_on_batch` each).
"""
import gzip
import json
import os
import pathlib
import resource
import sys
import time

cell = json.loads(sys.argv[1])
threads = int(cell.get("threads", 1))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(threads)
tf.config.threading.set_inter_op_parallelism_threads(1)
keras = tf.keras
layers = keras.layers


def data_dir(name: str) -> pathlib.Path:
    """Where datasets.fashionMnist()/mnist() look: $CONVNET_DATA/<name>, the cache, /usr/share/datasets."""
    root = os.environ.get("CONVNET_DATA")
    cache = pathlib.Path(root) if root else pathlib.Path(os.environ.get("XDG_CACHE_HOME", pathlib.Path.home() / ".cache")) / "convnet-wasm"
    for d in (cache / name, pathlib.Path("/usr/share/datasets") / name):
        if (d / "train-images-idx3-ubyte").exists() or (d / "train-images-idx3-ubyte.gz").exists():
            return d
    raise SystemExit(f"keras_cell: no {name} IDX files in {cache / name} or /usr/share/datasets/{name}")


def read_idx(directory: pathlib.Path, stem: str) -> np.ndarray:
    path = directory / stem if (directory / stem).exists() else directory / (stem + ".gz")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def fashion() -> keras.Model:
    def conv(filters, size):
        return layers.Conv2D(filters, size, padding="same", activation="relu", kernel_initializer="he_normal")

    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        conv(64, 7), layers.MaxPooling2D(2),
        conv(128, 3), conv(128, 3), layers.MaxPooling2D(2),
        conv(256, 3), conv(256, 3), layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(128, activation="relu", kernel_initializer="he_normal"), layers.Dropout(0.5),
        layers.Dense(64, activation="relu", kernel_initializer="he_normal"), layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Nadam(0.001), loss="sparse_categorical_crossentropy")
    return model


def lenet() -> keras.Model:
    def conv(filters):
        return layers.Conv2D(filters, 5, activation="relu", kernel_initializer="he_normal")

    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.ZeroPadding2D(2),
        conv(6), layers.MaxPooling2D(2),
        conv(16), layers.MaxPooling2D(2),
        conv(120), layers.Flatten(),
        layers.Dense(84, activation="relu", kernel_initializer="he_normal"),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(0.001), loss="sparse_categorical_crossentropy")
    return model


def time_calls(fn, reps: int, warmup: int) -> float:
    start = time.perf_counter()
    i = 0
    while i < warmup or (warmup > 0 and time.perf_counter() - start < 0.5):
        fn(i)
        i += 1
    times = []
    for j in range(reps):
        t = time.perf_counter()
        fn(i + j)
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def main() -> None:
    network = cell["network"]
    directory = data_dir("fashion-mnist" if network == "fashion" else "mnist")
    images = read_idx(directory, "train-images-idx3-ubyte")
    labels = read_idx(directory, "train-labels-idx1-ubyte").astype(np.int32)
    # Converted a slice at a time, so that the peak RSS is the engine's, not a float copy of the set.
    def x_of(start: int, end: int) -> np.ndarray:
        return images[start:end].astype(np.float32)[..., None] / 255.0

    model = fashion() if network == "fashion" else lenet()
    metric = cell["metric"]
    if metric == "train":
        batch, steps, warmup = cell["batch"], cell["steps"], cell["warmup"]
        batches = len(labels) // batch

        def step(i):
            k = i % batches
            model.train_on_batch(x_of(k * batch, (k + 1) * batch), labels[k * batch : (k + 1) * batch])

        start = time.perf_counter()
        i = 0
        while i < warmup or time.perf_counter() - start < 0.5:
            step(i)
            i += 1
        t0 = time.perf_counter()
        for j in range(steps):
            step(i + j)
        value, unit = steps * batch / (time.perf_counter() - t0), "img/s"
    elif metric == "infer":
        batch = cell["batch"]
        x = x_of(0, batch)
        # predict_on_batch: one call of Keras's compiled predict function, without predict()'s
        # dataset and callback machinery.
        s = time_calls(lambda i: model.predict_on_batch(x), cell["reps"], 1)
        value, unit = batch / s, "img/s"
    else:
        singles = x_of(0, 1000)
        s = time_calls(lambda i: model.predict_on_batch(singles[i % 1000 : i % 1000 + 1]), cell["reps"], 20)
        value, unit = s * 1000, "ms"
    max_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"value": value, "unit": unit, "maxRssMiB": max_rss_mib, "tensorflow": tf.__version__}))


main()
