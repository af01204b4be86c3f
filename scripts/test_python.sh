#!/usr/bin/env bash
# The Python package's checks, as a user installs it: a fresh virtual environment
# (target/pyenv), the package built and installed from this working tree with `pip install .`
# (maturin, release profile, the shared target/ folder), pytest, numpy, tqdm and Ray (when it
# installs), then the suite in python/tests. The parity tests run the `bilens` binary of this
# checkout, built here too.
# Without Python ≥ 3.10 and its venv module the suite says SKIPPED (BILENS_REQUIRE=python fails).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target

if ! python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    line="SKIPPED: python: no Python ≥ 3.10 with the venv module (Debian: python3-venv; bash scripts/setup.sh installs it)"
    if [[ ",${BILENS_REQUIRE:-}," == *",python,"* ]]; then
        echo "BILENS_REQUIRE includes python, but ${line#SKIPPED: python: }" >&2
        exit 1
    fi
    echo "$line"
    echo "$line" >>target/test-skips.log
    exit 0
fi

start=$SECONDS
venv=target/pyenv
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet pytest numpy tqdm
# Ray (the package's `ray` extra; ~80 MB, ~20 s) where it has a wheel; without it its tests say SKIPPED.
"$venv/bin/python" -m pip install --quiet ray || echo "python: Ray did not install; its tests will say SKIPPED"
"$venv/bin/python" -m pip install --quiet .
cargo build --release --quiet --bin bilens
echo "python: package built and installed in $((SECONDS - start)) s"
"$venv/bin/python" -m pytest python/tests -q -p no:cacheprovider
echo "python: done in $((SECONDS - start)) s"
