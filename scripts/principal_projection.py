"""A run folder copied with every pattern projected on the `k` leading principal directions of
the training digits (the eigenvectors of their second moment `XᵀX / n`, as the functional loss
and the `subspace` start read them), so that `bilens compare` on two such copies says how alike
two dictionaries are where digits have ink, without the speckle they never excite.

A probe for docs/results.md's *Across models* paragraph on the polished dictionaries, not part of
the test suite:

    python3 -m venv /tmp/np && /tmp/np/bin/pip install numpy safetensors
    /tmp/np/bin/python scripts/principal_projection.py --data ../shared/data/mnist --k 30 runs/polished_e20 runs/polished_s7
    bilens compare runs/polished_e20_p30 runs/polished_s7_p30
"""

import argparse
import gzip
import os
import shutil

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file


def idx_images(path):
    """The images of an IDX file (gzipped or not) as rows of floats in [0, 1]."""
    raw = (gzip.open if path.endswith(".gz") else open)(path, "rb").read()
    if raw[2] != 0x08 or raw[3] != 3:
        raise SystemExit(f"{path}: not an IDX file of unsigned-byte images")
    n, h, w = (int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(3))
    if len(raw) != 16 + n * h * w:
        raise SystemExit(f"{path}: {len(raw) - 16} bytes of pixels for {n} images of {h}×{w}")
    return np.frombuffer(raw, np.uint8, offset=16).reshape(n, h * w).astype(np.float64) / 255.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", help="run folders; each is copied to RUN_pK")
    ap.add_argument("--data", required=True, help="a folder with train-images-idx3-ubyte(.gz)")
    ap.add_argument("--k", type=int, default=30, help="leading principal directions kept")
    args = ap.parse_args()
    names = [n for n in ("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte") if os.path.exists(os.path.join(args.data, n))]
    if not names:
        raise SystemExit(f"{args.data}: no train-images-idx3-ubyte(.gz)")
    x = idx_images(os.path.join(args.data, names[0]))
    if not 0 < args.k <= x.shape[1]:
        raise SystemExit(f"--k {args.k}: allowed 1..={x.shape[1]}")
    values, vectors = np.linalg.eigh(x.T @ x / len(x))
    lead = vectors[:, np.argsort(-values, kind="stable")[: args.k]]
    share = np.sort(values)[::-1][: args.k].sum() / values.sum()
    print(f"the {args.k} leading directions hold {share:.1%} of the second moment of {len(x)} digits")
    for run in args.runs:
        out = f"{run.rstrip('/')}_p{args.k}"
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(run, out)
        path = os.path.join(run, "factors.safetensors")
        with safe_open(path, "numpy") as f:
            meta, t = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
        if any(v.shape[0] != x.shape[1] for k, v in t.items() if k.endswith((".a", ".b"))):
            raise SystemExit(f"{path}: its patterns are not over the data's {x.shape[1]} pixels")
        # Patterns are columns of each bank's `a` and `b`; heads and everything else are kept.
        projected = {k: (lead @ (lead.T @ v)).astype(np.float32) if k.endswith((".a", ".b")) else v for k, v in t.items()}
        save_file(projected, os.path.join(out, "factors.safetensors"), metadata=meta)
        print(out)


if __name__ == "__main__":
    main()
