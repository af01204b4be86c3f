#!/usr/bin/env bash
# Installs what the tests use beyond the Rust toolchain (idempotent; every step can be rerun):
#   - rustfmt and clippy (style checks),
#   - Debian's chromium, Node.js and the browser test's npm packages (playwright-core, axe-core): the
#     report is used headless as a reader would, and checks its own arithmetic,
#   - Debian's dataset-fashion-mnist (the IDX loader test on a second data set),
#   - Python 3 with its venv module (Debian's python3-venv): the Python package's tests build it
#     in a fresh virtual environment (scripts/test_python.sh), with Ray for the executor tests,
#   - Debian's slurm-wlm and munge: the sweep test on a single-node Slurm cluster it starts itself.
# Without root or apt the packages are left out and the tests that need them say SKIPPED.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup component add rustfmt clippy >/dev/null 2>&1 || echo "setup: could not add rustfmt/clippy with rustup"

missing=()
dpkg -s dataset-fashion-mnist >/dev/null 2>&1 || missing+=(dataset-fashion-mnist)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3 python3-venv)
command -v slurmctld >/dev/null 2>&1 && command -v munged >/dev/null 2>&1 || missing+=(slurm-wlm munge)
if [ ${#missing[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        echo "setup: installing ${missing[*]}"
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >/dev/null 2>&1 \
            || echo "setup: could not install ${missing[*]}; the tests that need them will say SKIPPED"
    else
        echo "setup: ${missing[*]} not installed (needs root and apt-get); the tests that need them will say SKIPPED"
    fi
fi

# The browser test's packages, pinned by tests/browser/package-lock.json (needs Node.js).
if command -v npm >/dev/null 2>&1; then
    if [ ! -d tests/browser/node_modules/playwright-core ] || [ ! -d tests/browser/node_modules/axe-core ] \
        || [ tests/browser/package-lock.json -nt tests/browser/node_modules ]; then
        npm ci --prefix tests/browser --no-audit --no-fund >/dev/null 2>&1 \
            || echo "setup: npm ci --prefix tests/browser failed; the browser test will say SKIPPED"
    fi
else
    echo "setup: npm not found; the browser test will say SKIPPED"
fi
