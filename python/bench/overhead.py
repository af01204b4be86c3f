"""What the Python layer adds to a decomposition: ``bilens.decompose(...).save(dir)`` against the
command line's own run of the same preset, settings, seed and thread count
(``bilens decompose --out dir``), best and median of several runs, as a ratio and a difference
(issue 12 asks for at most the CLI's own run plus 50 ms). Not a test: timings on a shared
machine mean little without the load average, which is printed with them.

From the repository root, after ``pip install .`` and ``cargo build --release``:

    python python/bench/overhead.py [--model FILE] [--preset provided_sparse] [--set rank=32 ...]
                                    [--threads 1] [--repeats 7]

Without ``--model`` it uses ../shared/reference/bilinear_mnist10k_e20.safetensors when present,
else a classifier trained here for 5 epochs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import bilens

REPO = Path(__file__).resolve().parents[2]


def toml_value(raw: str):
    """A ``--set`` value as Python: numbers and booleans as such, anything else a string."""
    for parse in (int, float):
        try:
            return parse(raw)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(raw, raw.strip('"'))


def summary(seconds: list[float]) -> str:
    return f"best {1e3 * min(seconds):8.1f} ms   median {1e3 * statistics.median(seconds):8.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--preset", default="provided_sparse")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--cli", type=Path, default=REPO / "target" / "release" / "bilens")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bilens-overhead-"))
    model = args.model or REPO.parent / "shared" / "reference" / "bilinear_mnist10k_e20.safetensors"
    if not model.is_file():
        model = work / "model.safetensors"
        bilens.train(epochs=5, progress=False).save(model)
    overrides = {k: toml_value(v) for k, v in (s.split("=", 1) for s in args.sets)}
    sets = sum((["--set", s] for s in args.sets), [])

    load_before = os.getloadavg()
    cli_wall, cli_inside, py_wall, py_inside, py_bar = [], [], [], [], []
    for i in range(args.repeats):
        out = work / f"cli{i}"
        start = time.perf_counter()
        subprocess.run(
            [args.cli, "--threads", str(args.threads), "decompose", "--model", model, "--preset", args.preset, *sets, "--out", out],
            check=True,
            capture_output=True,
        )
        cli_wall.append(time.perf_counter() - start)
        cli_inside.append(json.loads((out / "run.json").read_text())["wall_seconds"])

        start = time.perf_counter()
        result = bilens.decompose(model, args.preset, threads=args.threads, progress=False, **overrides)
        result.save(work / f"py{i}")
        py_wall.append(time.perf_counter() - start)
        py_inside.append(result.seconds)

        start = time.perf_counter()
        bilens.decompose(model, args.preset, threads=args.threads, progress=True, **overrides).save(work / f"bar{i}")
        py_bar.append(time.perf_counter() - start)
        same = (work / f"py{i}" / "metrics.json").read_bytes() == (out / "metrics.json").read_bytes()
        assert same, "the Python and command-line runs should give the same metrics"

    try:
        import tqdm  # noqa: F401

        bar = "tqdm bar"
    except ImportError:
        bar = "no tqdm: no bar"
    print(f"{args.preset} {' '.join(args.sets)} on {model.name}, {args.threads} thread(s), {args.repeats} runs each")
    print(f"load average (1, 5, 15 min) before {load_before}, after {os.getloadavg()}")
    print(f"  CLI  `bilens decompose --out`, whole process       {summary(cli_wall)}")
    print(f"  CLI  its own run (run.json wall_seconds)          {summary(cli_inside)}")
    print(f"  Python decompose(...).save(dir), no bar           {summary(py_wall)}")
    print(f"  Python decompose(...).save(dir), {bar:<16} {summary(py_bar)}")
    print(f"  Python: bilens's own clock inside decompose()      {summary(py_inside)}")
    print("Python against the CLI (medians; best against best in brackets):")
    for name, a, b in [
        ("Python (no bar) / CLI's own run", py_wall, cli_inside),
        ("Python (bar) / CLI's own run", py_bar, cli_inside),
        ("Python (no bar) / CLI whole process", py_wall, cli_wall),
    ]:
        ma, mb = statistics.median(a), statistics.median(b)
        print(
            f"  {name:<38} ratio {ma / mb:6.3f} ({min(a) / min(b):6.3f})   "
            f"difference {1e3 * (ma - mb):+8.1f} ms ({1e3 * (min(a) - min(b)):+8.1f} ms)"
        )


if __name__ == "__main__":
    main()
