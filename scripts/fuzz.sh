#!/usr/bin/env bash
# Fuzzes the readers of untrusted input with cargo-fuzz (libFuzzer), each for a bounded time:
#   idx     the IDX reader (gzipped or not)         model   the safetensors model loader
#   sweep   sweep files                              recipe  recipe overrides and validation
# Usage: bash scripts/fuzz.sh [seconds per target, default 60] [targets...]
# libFuzzer needs unstable compiler flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain accept
# them (no nightly toolchain is installed). Crashes are saved in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(idx model sweep recipe)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    echo "fuzzing $t for ${seconds}s"
    cargo fuzz run -s none "$t" "corpus/$t" -- -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=4096 2>&1 | tail -3
done
