"""The concept fit and the study against PyTorch's dense rank-256 step, measured in one run.

Runs, one after the other on the same machine and thread count:
  bilens bench concepts  (the whole `decompose` command of every concept preset, fresh processes)
  bilens bench study     (the whole `study` command on the embedded digits; skip with --no-study)
  scripts/bench_dense.py (the dense-tensor skeleton step a PyTorch user writes, rank 256, MNIST's
                          shape; before and after the two above, the faster of the two counts)
and prints each bilens time in dense PyTorch steps, against the goals (a concept preset within 30
steps, the study within 300), with the load average and the GEMM ceiling bilens measured.

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch numpy
    cargo build --release
    /tmp/torchenv/bin/python scripts/bench_concepts.py --model ../shared/reference/bilinear_mnist10k_e20.safetensors --threads 2
"""

import argparse
import json
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent


def run_json(cmd):
    print("$", " ".join(cmd), file=sys.stderr, flush=True)
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="the base model of the concept fits (e.g. e20)")
    p.add_argument("--data", help="IDX folder for the concept fits (default: the embedded digits)")
    p.add_argument("--bilens", default=str(HERE.parent / "target" / "release" / "bilens"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--dense-steps", type=int, default=10, help="timed dense steps (best is used)")
    p.add_argument("--no-study", action="store_true")
    a = p.parse_args()

    bilens = [a.bilens, "--threads", str(a.threads), "bench"]
    dense_cmd = [sys.executable, str(HERE / "bench_dense.py"), "--inputs", "784", "--hidden", "256", "--outputs", "10",
                 "--rank", "256", "--steps", str(a.dense_steps), "--threads", str(a.threads)]
    # The dense step runs before and after bilens and the faster of the two is the unit: the
    # machine's speed drifts over the minutes bilens takes, and the faster step is the harder
    # goal for bilens.
    dense_before = run_json(dense_cmd)
    concepts = run_json(bilens + ["concepts", "--model", a.model, "--repeats", str(a.repeats)] + (["--data", a.data] if a.data else []))
    study = None if a.no_study else run_json(bilens + ["study"])
    dense = run_json(dense_cmd)
    steps_ms = [d["ms_per_step"]["best"] for d in (dense_before, dense)]
    step = min(steps_ms) / 1e3

    rows = [(name, r["seconds"]["best"], 30) for name, r in concepts["presets"].items()]
    if study:
        rows.append(("study", study["seconds"]["best"], 300))
    print(f"threads {a.threads}; dense PyTorch rank-256 step {1e3 * step:.1f} ms (before {steps_ms[0]:.1f}, after "
          f"{steps_ms[1]:.1f}; torch {dense.get('torch')}); "
          f"GEMM ceiling {concepts['gemm_ceiling_gflops']:.0f} GFLOP/s; load average {concepts['load_average']['before']}")
    print(f"{'work':<22} {'bilens s':>9} {'dense steps':>12} {'goal':>6} {'goal s':>7}  met")
    for name, seconds, goal in rows:
        print(f"{name:<22} {seconds:>9.2f} {seconds / step:>12.1f} {goal:>6} {goal * step:>7.2f}  {'yes' if seconds <= goal * step else 'no'}")
    print(json.dumps({"concepts": concepts, "study": study, "dense_before": dense_before, "dense": dense}), file=sys.stderr)


if __name__ == "__main__":
    main()
