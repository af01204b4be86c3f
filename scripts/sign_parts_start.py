"""A one-signed start made from a fitted symmetric one-hot dictionary, as the eigen start of
`concept_sign_pure` is made from rotated eigenvectors: the `k` heaviest patterns `v` (by
`|d|·‖v‖²`), each scaled by `√|d|`, split into their positive and negative parts, both with the
head `±1` on the pattern's class. The result is a `factors.safetensors` that `--set start=FILE`
reads in place of a recipe's own start (the same form and rank).

A probe for docs/results.md's *Random starts* paragraph, not part of the test suite: does a start
that every seed finds again (`concept_stable_random`) give a contrast dictionary that every seed
finds again?

    python3 -m venv /tmp/np && /tmp/np/bin/pip install numpy safetensors
    /tmp/np/bin/python scripts/sign_parts_start.py runs/stable_random_s0 runs/parts_s0.safetensors
    bilens decompose --model M --data D --preset concept_contrast_polished --set start=runs/parts_s0.safetensors --out runs/X
"""

import argparse
import os

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", help="a run folder (or its factors.safetensors) of a symmetric one-hot dictionary")
    ap.add_argument("out", help="the start file to write")
    ap.add_argument("--patterns", type=int, default=128, help="heaviest patterns split (the start has twice as many)")
    args = ap.parse_args()
    path = os.path.join(args.run, "factors.safetensors") if os.path.isdir(args.run) else args.run
    with safe_open(path, "numpy") as f:
        meta, t = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    a, d = t["bank0.a"], t["bank0.heads"]
    if not np.array_equal(a, t["bank0.b"]):
        raise SystemExit(f"{path}: not a symmetric dictionary (bank0.a ≠ bank0.b)")
    k = args.patterns
    if not 0 < k <= a.shape[1]:
        raise SystemExit(f"--patterns {k}: the dictionary has {a.shape[1]} (allowed 1..={a.shape[1]})")
    classes = np.abs(d).argmax(0)
    head = d[classes, np.arange(d.shape[1])]
    top = np.argsort(-np.abs(head) * (a**2).sum(0), kind="stable")[:k]
    v = a[:, top] * np.sqrt(np.abs(head[top]))
    heads = np.zeros((d.shape[0], k), np.float32)
    heads[classes[top], np.arange(k)] = np.sign(head[top])
    parts = np.concatenate([np.maximum(v, 0), np.maximum(-v, 0)], 1).astype(np.float32)
    heads = np.concatenate([heads, heads], 1)
    # The dictionary's own metadata (its bank layout and recipe) describes the same form.
    save_file({"bank0.a": parts, "bank0.b": parts.copy(), "bank0.heads": heads}, args.out, metadata=meta)
    print(f"{args.out}: {2 * k} one-signed patterns from the {k} heaviest of {path}")


if __name__ == "__main__":
    main()
