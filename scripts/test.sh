#!/usr/bin/env bash
# Every check: formatting, lints, then every test (release build: the tests run numerics), the
# Python package's last (scripts/test_python.sh).
# Tests whose inputs are missing (../shared, chromium, Fashion-MNIST, Python) say SKIPPED and are listed
# at the end; BILENS_REQUIRE=reference,browser,fashion-mnist,python turns those skips into failures.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target
rm -f target/test-skips.log
# The skipped tests are listed however the run ends, a failure included.
list_skips() {
    if [ -s target/test-skips.log ]; then
        echo
        echo "Tests skipped because their inputs are missing:"
        sort -u target/test-skips.log
    fi
}
trap list_skips EXIT
cargo fmt --all -- --check
cargo clippy --release --workspace --all-targets -- -D warnings
cargo test --release --no-fail-fast
bash scripts/test_python.sh
