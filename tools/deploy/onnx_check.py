#!/usr/bin/env python3
"""Runs an exported convnet-wasm model (convnet-wasm export <model> --format onnx) in ONNX Runtime
for Python on a dataset's 10,000 test images, and prints its accuracy: the check that the file
serves the same model outside JavaScript (docs/deploy.md).

    python3 tools/deploy/onnx_check.py out/fashion/model.onnx /usr/share/datasets/fashion-mnist

Needs `pip install onnxruntime numpy`.
"""
import argparse
import gzip
import pathlib
import time

import numpy as np
import onnxruntime as ort


def read_idx(path: pathlib.Path) -> np.ndarray:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def find(directory: pathlib.Path, stem: str) -> pathlib.Path:
    for name in (stem, stem + ".gz"):
        if (directory / name).exists():
            return directory / name
    raise SystemExit(f"{directory}: no {stem}[.gz]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=pathlib.Path, help="the .onnx file")
    parser.add_argument("data", type=pathlib.Path, help="directory with t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz]")
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()

    images = read_idx(find(args.data, "t10k-images-idx3-ubyte")).astype(np.float32)[..., None]
    labels = read_idx(find(args.data, "t10k-labels-idx1-ubyte"))
    session = ort.InferenceSession(str(args.model), providers=["CPUExecutionProvider"])
    start = time.perf_counter()
    predicted = np.concatenate(
        [session.run(["probabilities"], {"input": images[i : i + args.batch]})[0].argmax(1) for i in range(0, len(images), args.batch)]
    )
    seconds = time.perf_counter() - start
    accuracy = float((predicted == labels).mean())
    print(f"onnxruntime {ort.__version__}: accuracy {accuracy:.4f} on {len(labels)} test images ({len(labels) / seconds:.0f} img/s)")


if __name__ == "__main__":
    main()
