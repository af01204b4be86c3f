"""The dense PyTorch peer of `bilens bench layer`: one `provided_sparse`-style step
(loss 1 − cosine between the interaction tensor B and a CP tensor T, backward, optimiser)
with B and T held as dense [outputs, inputs, inputs] tensors, as a PyTorch user would write it.

It draws the same kind of synthetic layer (N(0,1)/√fan-in weights, no embedding), forms B
densely, then times `--steps` steps after one warm-up step. The optimiser is, by default,
`torch.optim.Muon` with `provided_sparse`'s settings (lr 0.02, no weight decay; PyTorch ≥ 2.9),
as bilens runs that preset; `--optimizer adam` times the Adam step instead (its cost is
O(rank · inputs), negligible beside the dense products). Shapes whose dense tensors do not fit
in the available memory are reported as such instead of being run.

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch numpy
    /tmp/torchenv/bin/python scripts/bench_dense.py --inputs 512 --hidden 2048 --outputs 512 --rank 256

Prints one JSON object, like `bilens bench layer`.
"""

import argparse
import json
import os
import time

import torch


def available_bytes():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return None


def peak_memory_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


def interaction(inputs, hidden, outputs, gen):
    """B[o] = Σ_h W_out[o,h] · sym(l_h r_hᵀ), from N(0,1)/√fan-in weights."""
    w_l = torch.randn(hidden, inputs, generator=gen) / inputs**0.5
    w_r = torch.randn(hidden, inputs, generator=gen) / inputs**0.5
    w_out = torch.randn(outputs, hidden, generator=gen) / hidden**0.5
    b = torch.einsum("oh,hi,hj->oij", w_out, w_l, w_r)
    return 0.5 * (b + b.transpose(1, 2))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--inputs", type=int, required=True)
    p.add_argument("--hidden", type=int, required=True)
    p.add_argument("--outputs", type=int, required=True)
    p.add_argument("--rank", type=int, default=256)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--optimizer", choices=["muon", "adam"], default="muon")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    report = {
        "case": "dense_pytorch_layer",
        "layer": {"inputs": a.inputs, "hidden": a.hidden, "outputs": a.outputs},
        "rank": a.rank,
        "threads": a.threads,
        "optimizer": a.optimizer,
        "torch": torch.__version__,
    }
    # B, T (raw and symmetrised) and their gradients: about five dense tensors at once.
    need = 5 * 4 * a.outputs * a.inputs**2
    avail = available_bytes()
    if avail is not None and need > 0.8 * avail:
        report["skipped"] = f"needs about {need / 2**30:.1f} GiB for dense tensors, {avail / 2**30:.1f} GiB available"
        print(json.dumps(report, indent=2))
        return
    gen = torch.Generator().manual_seed(a.seed)
    start = time.perf_counter()
    b = interaction(a.inputs, a.hidden, a.outputs, gen)
    b_norm = b.norm()
    report["setup_seconds"] = time.perf_counter() - start
    u = (0.02 * torch.randn(a.inputs, a.rank, generator=gen)).requires_grad_()
    w = (0.02 * torch.randn(a.inputs, a.rank, generator=gen)).requires_grad_()
    heads = (0.02 * torch.randn(a.outputs, a.rank, generator=gen)).requires_grad_()
    if a.optimizer == "muon":
        opt = torch.optim.Muon([u, w, heads], lr=0.02, weight_decay=0.0)
    else:
        opt = torch.optim.Adam([u, w, heads], lr=0.02)

    def step():
        t = torch.einsum("ok,ik,jk->oij", heads, u, w)
        t = 0.5 * (t + t.transpose(1, 2))
        loss = 1 - (b * t).sum() / (b_norm * t.norm())
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    step()  # warm-up: allocations and kernel selection
    times = []
    for _ in range(a.steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    times.sort()
    report["ms_per_step"] = {"best": 1e3 * times[0], "median": 1e3 * times[len(times) // 2]}
    report["peak_memory_mib"] = peak_memory_mib()
    report["load_average"] = " ".join(open("/proc/loadavg").read().split()[:3])
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
