#!/usr/bin/env bash
# Installs what the tests use beyond the Rust toolchain (idempotent; every step can be rerun):
#   - rustfmt and clippy (style checks),
#   - Debian's chromium (the report is opened headless and checks its own arithmetic),
#   - Debian's dataset-fashion-mnist (the IDX loader test on a second data set).
# Without root or apt the packages are left out and the tests that need them say SKIPPED.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup component add rustfmt clippy >/dev/null 2>&1 || echo "setup: could not add rustfmt/clippy with rustup"

missing=()
dpkg -s dataset-fashion-mnist >/dev/null 2>&1 || missing+=(dataset-fashion-mnist)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        echo "setup: installing ${missing[*]}"
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >/dev/null 2>&1 \
            || echo "setup: could not install ${missing[*]}; the tests that need them will say SKIPPED"
    else
        echo "setup: ${missing[*]} not installed (needs root and apt-get); the tests that need them will say SKIPPED"
    fi
fi
