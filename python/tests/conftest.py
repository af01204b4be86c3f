"""Shared by the Python tests: small models, the dense interaction tensor computed with numpy
alone (the oracle every exact metric is checked against), the bilens command-line binary, and
visible skips (as the Rust tests: listed in target/test-skips.log, failures under
BILENS_REQUIRE)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import bilens

REPO = Path(__file__).resolve().parents[2]


def skip(what: str, reason: str) -> None:
    """Skips the test visibly because ``what`` is missing, or fails it when BILENS_REQUIRE names it."""
    required = [r.strip() for r in os.environ.get("BILENS_REQUIRE", "").split(",")]
    if what in required:
        pytest.fail(f"BILENS_REQUIRE includes {what}, but {reason}")
    line = f"SKIPPED: {what}: {reason}"
    log = REPO / "target" / "test-skips.log"
    if log.parent.is_dir():
        with log.open("a") as f:
            f.write(line + "\n")
    pytest.skip(line)


def random_model(inputs=12, embed: int | None = 5, hidden=7, outputs=3, bias=True, seed=0) -> bilens.Model:
    """A model with N(0, 1/fan-in) weights, as PyTorch initialises them."""
    rng = np.random.default_rng(seed)
    read = embed or inputs
    return bilens.Model.from_arrays(
        w_e=None if embed is None else rng.normal(size=(embed, inputs)) / np.sqrt(inputs),
        w_l=rng.normal(size=(hidden, read)) / np.sqrt(read),
        w_r=rng.normal(size=(hidden, read)) / np.sqrt(read),
        w_u=rng.normal(size=(outputs, hidden)) / np.sqrt(hidden),
        bias=rng.normal(size=outputs) if bias else None,
    )


def dense_interaction(model: bilens.Model) -> np.ndarray:
    """``B_c = W_eᵀ sym(W_lᵀ diag(W_u[c]) W_r) W_e`` in float64, [outputs, inputs, inputs]."""
    w_l, w_r, w_u = (np.asarray(m, dtype=np.float64) for m in (model.w_l, model.w_r, model.w_u))
    q = np.einsum("ch,hi,hj->cij", w_u, w_l, w_r)
    q = 0.5 * (q + q.transpose(0, 2, 1))
    if model.w_e is None:
        return q
    w_e = np.asarray(model.w_e, dtype=np.float64)
    return np.einsum("ai,cab,bj->cij", w_e, q, w_e)


def dense_cp(heads, u, w) -> np.ndarray:
    """``sym(Σ_r heads[c, r] u_r w_rᵀ)`` in float64, [outputs, inputs, inputs]."""
    heads, u, w = (np.asarray(m, dtype=np.float64) for m in (heads, u, w))
    t = np.einsum("cr,ir,jr->cij", heads, u, w)
    return 0.5 * (t + t.transpose(0, 2, 1))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sum(a * b) / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture(scope="session")
def cli() -> Path:
    """The bilens binary of this checkout (BILENS_BIN, or target/release/bilens), or a visible skip."""
    path = Path(os.environ.get("BILENS_BIN", REPO / "target" / "release" / "bilens"))
    if not path.is_file():
        skip("cli", f"{path} is not built (cargo build --release, or set BILENS_BIN)")
    return path


def run_cli(cli: Path, *args: str) -> str:
    """Runs ``bilens args…`` and returns its stdout; a failure shows its stderr."""
    done = subprocess.run([str(cli), *map(str, args)], capture_output=True, text=True)
    assert done.returncode == 0, f"bilens {' '.join(map(str, args))} failed:\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="session")
def digits() -> bilens.Data:
    return bilens.mnist()


@pytest.fixture(scope="session")
def small_digit_model(tmp_path_factory, digits) -> Path:
    """A small classifier of the embedded digits (one epoch, embedding 16, 32 hidden units), saved."""
    path = tmp_path_factory.mktemp("model") / "model.safetensors"
    model = bilens.train(digits, epochs=1, n_embed=16, n_hidden=32, threads=1, progress=False)
    model.save(path)
    return path


class RecordedProgress:
    """What the fits told their progress bars: each bar's total, and each `(done, message)`
    and `"closed"` in order."""

    def __init__(self):
        self.totals, self.events = [], []

    def bar(self, total, description):
        self.totals.append(total)
        return self

    def advance(self, done, message):
        self.events.append((done, message))

    def close(self):
        self.events.append("closed")

    def done(self) -> list:
        return [e[0] for e in self.events if e != "closed"]


@pytest.fixture
def progress(monkeypatch) -> RecordedProgress:
    """Progress bars replaced by a recorder."""
    recorded = RecordedProgress()
    monkeypatch.setattr("bilens._progress.bar", recorded.bar)
    return recorded
