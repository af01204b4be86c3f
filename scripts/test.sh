#!/usr/bin/env bash
# Installs what the optional tests use, then runs every test:
#   - Debian's dataset-fashion-mnist (the loader test on Fashion-MNIST),
#   - Debian's chromium (the report is loaded headless and checks its own arithmetic).
# Tests whose inputs are missing (these packages, or ../shared with the PyTorch reference
# models) skip with a message instead of failing.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
dpkg -s dataset-fashion-mnist >/dev/null 2>&1 || missing+=(dataset-fashion-mnist)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >/dev/null 2>&1 \
        || echo "note: could not install ${missing[*]}; the tests that need them will be skipped"
fi
cargo test --release
