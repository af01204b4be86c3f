"""How far `torch.optim.Muon`'s own Newton–Schulz iteration (bfloat16) lands from the exact one.

bilens runs Muon's Newton–Schulz in f32 (`src/optim.rs`), and above 256 rows from the Gram
matrix's eigendecomposition; its tests bound their relative error from the exact iteration. This
script measures PyTorch's error on the same kind of matrices (Gaussian, singular values spread
over 0–3 decades), so those bounds can be set against the reference implementation:

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch numpy
    /tmp/torchenv/bin/python scripts/newton_schulz_error.py

Prints one line per shape and spread: the relative Frobenius error of PyTorch's iteration, and
of the same iteration in f32, from the iteration in f64.
"""

import torch
from torch.optim._muon import _zeropower_via_newtonschulz

# torch.optim.Muon's defaults, as bilens's NS_COEFFICIENTS, NS_STEPS and NS_EPS.
COEFFICIENTS = (3.4445, -4.7750, 2.0315)
STEPS = 5
EPS = 1e-7


def iteration(g: torch.Tensor) -> torch.Tensor:
    """The plain quintic iteration in `g`'s own precision, on its short side."""
    a, b, c = COEFFICIENTS
    x = g.T if g.shape[0] > g.shape[1] else g
    x = x / (x.norm() + EPS)
    for _ in range(STEPS):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if g.shape[0] > g.shape[1] else x


def main():
    torch.manual_seed(5)
    for rows, cols in [(784, 400), (600, 784), (784, 1024)]:
        for decades in [0.0, 1.0, 2.0, 3.0]:
            spread = torch.diag(10.0 ** (-decades * torch.arange(cols, dtype=torch.float64) / cols))
            g = torch.randn(rows, cols, dtype=torch.float64) @ spread
            exact = iteration(g)
            relative = lambda o: ((o.double() - exact).norm() / exact.norm()).item()
            torch_bf16 = relative(_zeropower_via_newtonschulz(g.float(), COEFFICIENTS, STEPS, EPS))
            f32 = relative(iteration(g.float()))
            print(f"{rows} x {cols}, singular values over {decades:.0f} decades: "
                  f"torch.optim.Muon (bfloat16) {torch_bf16:.2e}, the iteration in f32 {f32:.2e}")


if __name__ == "__main__":
    main()
