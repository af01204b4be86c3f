"""Where a one-hot dictionary's agreement with its base model is lost: the test digits on which
the two predict different classes, with the base model's margin on each (its top logit minus
its second), and the dictionary's logit error on the training and the test digits.

A diagnosis for docs/results.md's concept sections, not part of the test suite. It reads the base
model (`bilens train`'s `model.safetensors`), a run folder of a dictionary with one bank of
evidence-split components (`concept_contrast`'s `factors.safetensors`: the logit of class c is
`Σ_k heads[c, k] ((a_k·x)² − (b_k·x)²) + bias_c`) and an IDX data folder (gzipped or not):

    python3 -m venv /tmp/np && /tmp/np/bin/pip install numpy safetensors
    /tmp/np/bin/python scripts/agreement_misses.py runs/s23/model.safetensors runs/contrast_s23 ../shared/data/mnist
"""

import argparse
import gzip
import os

import numpy as np
from safetensors.numpy import load_file


def idx(folder, stem):
    for name in (stem + ".gz", stem):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            raw = (gzip.open if name.endswith(".gz") else open)(path, "rb").read()
            dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(raw[3])]
            return np.frombuffer(raw, np.uint8, offset=4 + 4 * raw[3]).reshape(dims[0], -1).astype(np.float64) / 255
    raise SystemExit(f"{folder}: no {stem}[.gz]")


def centred(z):
    # A shift shared by every class changes no prediction (as the logit R² in bilens).
    return z - z.mean(1, keepdims=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model")
    p.add_argument("run")
    p.add_argument("data")
    a = p.parse_args()
    m = {k: v.astype(np.float64) for k, v in load_file(a.model).items()}
    f = {k: v.astype(np.float64) for k, v in load_file(os.path.join(a.run, "factors.safetensors")).items()}
    if set(f) != {"bank0.a", "bank0.b", "bank0.heads"}:
        raise SystemExit(f"{a.run}: expected one bank of evidence-split components, found {sorted(f)}")

    def base(x):
        h = x @ m["w_e"].T
        return ((h @ m["w_lr_param"][0].T) * (h @ m["w_lr_param"][1].T)) @ m["w_u"].T + m["bias"]

    def dictionary(x):
        return ((x @ f["bank0.a"]) ** 2 - (x @ f["bank0.b"]) ** 2) @ f["bank0.heads"].T + m["bias"]

    for split, stem in (("train", "train-images-idx3-ubyte"), ("test", "t10k-images-idx3-ubyte")):
        x = idx(a.data, stem)
        y, z = base(x), dictionary(x)
        same = y.argmax(1) == z.argmax(1)
        top2 = np.sort(y, 1)[:, -2:]
        margin = top2[:, 1] - top2[:, 0]
        rms = np.sqrt(((centred(z) - centred(y)) ** 2).mean())
        print(f"{split}: {len(x)} digits, agreement {same.mean() * 100:.2f}%, rms logit error {rms:.3f} "
              f"(the base logits' spread {centred(y).std():.2f}); base margin < 0.5 on {(margin < 0.5).mean() * 100:.2f}%")
        if split == "test" and (~same).any():
            missed = np.sort(margin[~same])
            print(f"  {len(missed)} disagreements; the base margin on them: median {np.median(missed):.2f}, "
                  f"max {missed[-1]:.2f}, below 0.5 on {(missed < 0.5).sum()}")


if __name__ == "__main__":
    main()
