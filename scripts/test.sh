#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, then every test.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
[ -d ../shared/bench-data/editing-traces ] || {
  echo "test: ../shared/bench-data/editing-traces is missing (the trace tests need it)" >&2
  exit 1
}
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo test --all-targets
