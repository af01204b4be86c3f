"""The lean PyTorch peer of `bilens bench train`: the study's classifier trained as a PyTorch
user would write it without the reference code's overheads — tensors preloaded, one
`torch.randperm` per epoch, fused L/R projection, AdamW — timed over whole runs.

Model 784 → 96 embedding → bilinear 256 → 10 with bias; AdamW lr 3e-3, weight decay 1e-4,
batch 512, Gaussian input noise σ 0.4 on half the images, 20 epochs of the training images.

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch numpy
    /tmp/torchenv/bin/python scripts/bench_train_torch.py --data ../shared/data/mnist --threads 2

Prints one JSON object, like `bilens bench train`.
"""

import argparse
import gzip
import json
import os
import time

import numpy as np
import torch


def idx(path):
    with gzip.open(path) if path.endswith(".gz") else open(path, "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(data, split):
    for suffix in ("", ".gz"):
        images = os.path.join(data, f"{split}-images-idx3-ubyte{suffix}")
        if os.path.exists(images):
            x = idx(images).reshape(-1, 784).astype(np.float32) / 255
            y = idx(os.path.join(data, f"{split}-labels-idx1-ubyte{suffix}")).astype(np.int64)
            return torch.from_numpy(x), torch.from_numpy(y)
    raise SystemExit(f"no {split} IDX files in {data}")


class Bilinear(torch.nn.Module):
    def __init__(self, inputs=784, embed=96, hidden=256, outputs=10):
        super().__init__()
        self.w_e = torch.nn.Linear(inputs, embed, bias=False)
        self.w_lr = torch.nn.Linear(embed, 2 * hidden, bias=False)
        self.w_u = torch.nn.Linear(hidden, outputs)

    def forward(self, x):
        left, right = self.w_lr(self.w_e(x)).chunk(2, dim=-1)
        return self.w_u(left * right)


def train(x, y, epochs, seed):
    torch.manual_seed(seed)
    model = Bilinear()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    n = len(x)
    for _ in range(epochs):
        order = torch.randperm(n)
        for start in range(0, n, 512):
            batch = order[start : start + 512]
            xb = x[batch]
            noisy = torch.rand(len(batch), 1) < 0.5
            xb = xb + noisy * 0.4 * torch.randn_like(xb)
            loss = torch.nn.functional.cross_entropy(model(xb), y[batch])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    x, y = load(a.data, "train")
    tx, ty = load(a.data, "t10k")
    train(x[:2048], y[:2048], 1, 0)  # warm-up: library initialisation and kernel selection
    seconds = []
    for seed in range(a.repeats):
        start = time.perf_counter()
        model = train(x, y, a.epochs, seed)
        seconds.append(time.perf_counter() - start)
    with torch.no_grad():
        accuracy = (model(tx).argmax(-1) == ty).float().mean().item()
    seconds.sort()
    print(json.dumps({
        "case": "train_pytorch_lean",
        "threads": a.threads,
        "torch": torch.__version__,
        "epochs": a.epochs,
        "train_images": len(x),
        "seconds": {"best": seconds[0], "median": seconds[len(seconds) // 2], "runs": seconds},
        "test_accuracy": accuracy,
        "load_average": " ".join(open("/proc/loadavg").read().split()[:3]),
    }, indent=2))


if __name__ == "__main__":
    main()
