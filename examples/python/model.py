"""The model of the FedAvg example: softmax regression on 784 pixels (7,850 parameters), as one flat
float32 vector (weights row-major, then biases), and its wire forms: the task the driver sends each
round (the global model's little-endian float32 bytes) and the fixed-point update a client sends
through secure aggregation."""
import numpy as np

IMAGE = 784
CLASSES = 10
PARAMETERS = IMAGE * CLASSES + CLASSES

# Fixed point: an update is summed as integers modulo 2^32 (two's complement for negative values),
# in units of 2^-SCALE_BITS. The sum of every client's example-weighted update must stay within
# ±2^31 units: |n_k · Δ| is clipped to CLIP per parameter, and 8 clients · 3,200 · 2^12 < 2^31.
SCALE_BITS = 12
CLIP = 3200.0


def split(theta):
    return theta[: IMAGE * CLASSES].reshape(IMAGE, CLASSES), theta[IMAGE * CLASSES :]


def to_task(theta):
    return np.asarray(theta, dtype="<f4").tobytes()


def from_task(data):
    theta = np.frombuffer(data, dtype="<f4")
    if theta.size != PARAMETERS:
        raise ValueError(f"the task holds {theta.size} parameters, not {PARAMETERS}")
    return theta.astype(np.float32)


def encode(weighted_update):
    """n_k · Δ as integers mod 2^32."""
    units = np.round(np.clip(weighted_update, -CLIP, CLIP) * (1 << SCALE_BITS)).astype(np.int64)
    return (units & 0xFFFFFFFF).astype(np.uint32)


def decode(total):
    """A sum mod 2^32 of encoded updates back to real numbers (read as signed 32-bit)."""
    return total.astype(np.uint32).view(np.int32).astype(np.float64) / (1 << SCALE_BITS)


def accuracy(theta, x, y):
    w, b = split(theta)
    return float(np.mean(np.argmax(x @ w + b, axis=1) == y))


def loss(theta, x, y):
    w, b = split(theta)
    logits = x @ w + b
    logits -= logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(-np.mean(log_p[np.arange(len(y)), y]))
