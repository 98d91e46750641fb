#!/usr/bin/env python3
"""Local training for one FedAvg client, run by `privagg client --input-command` once per round: reads
the global model (the round's task) on stdin, trains on this client's shard, and prints its input for
secure aggregation as JSON: {"update": n_k · Δ in fixed point, "examples": [n_k]}. With --dp it prints
the plain update Δ instead (real numbers), which `privagg client --dp` clips and noises itself."""
import argparse
import json
import os
import sys

import numpy as np

import model


def train(theta, x, y, epochs, lr, batch, rng):
    w, b = (p.copy() for p in model.split(theta))
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch):
            idx = order[start : start + batch]
            logits = x[idx] @ w + b
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(idx)), y[idx]] -= 1.0
            w -= lr * (x[idx].T @ p) / len(idx)
            b -= lr * p.mean(axis=0)
    return np.concatenate([w.ravel(), b])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True, help="this client's shard (.npz with x and y)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--dp", action="store_true")
    args = parser.parse_args()
    theta = model.from_task(sys.stdin.buffer.read())
    shard = np.load(args.data)
    x, y = shard["x"], shard["y"]
    # A different shuffle each round and client (privagg tells the round in the environment).
    seed = int(os.environ.get("PRIVAGG_ROUND", "0")) * 1000 + int(os.environ.get("PRIVAGG_CLIENT_ID", "0"))
    local = train(theta, x, y, args.epochs, args.lr, args.batch, np.random.default_rng(seed))
    delta = local - theta
    if args.dp:
        json.dump(delta.tolist(), sys.stdout)
    else:
        json.dump({"update": model.encode(len(x) * delta).tolist(), "examples": [len(x)]}, sys.stdout)


if __name__ == "__main__":
    main()
