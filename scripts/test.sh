#!/usr/bin/env bash
# Installs what the optional tests use (Fashion-MNIST for the loader test), then runs every test.
# Tests that need ../shared (the PyTorch reference models) skip with a message when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ] && ! dpkg -s dataset-fashion-mnist >/dev/null 2>&1; then
    (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) >/dev/null 2>&1 \
        || echo "note: could not install dataset-fashion-mnist; its loader test will be skipped"
fi
cargo test --release
