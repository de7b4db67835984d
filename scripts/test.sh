#!/usr/bin/env bash
# The test command of the README (docs/testing.md): installs what the tests need (Python peers), then checks
# formatting and lints, then runs every test (unit, property, and integration against real
# peers started on 127.0.0.1). Works on a fresh machine with Rust (and cargo-nextest, installed if
# missing) and Python 3.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
echo "==> installing test peers (pip: $(grep -v '^#' tests/requirements.txt | tr '\n' ' '))"
"$PYTHON" -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt 2>&1 | grep -v -i "running pip as the 'root' user" || true
"$PYTHON" -c "import grpc, opentelemetry.proto, rotel, otel_collector, prometheus_client" || { echo "python test peers are missing" >&2; exit 1; }

if ! command -v prometheus > /dev/null || ! command -v promtool > /dev/null || ! command -v victoria-metrics > /dev/null \
    || ! command -v chromium > /dev/null; then
    echo "==> installing prometheus, promtool, victoria-metrics and chromium (apt)"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus victoria-metrics chromium > /dev/null
fi

echo "==> cargo fmt --check"
cargo fmt --all -- --check

# The `ci` profile (Cargo.toml): the dev build with line tables only and no incremental
# state; clippy and the tests' build share their build-script outputs.
PROFILE="${PROFILE:-ci}"

echo "==> cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked --profile "$PROFILE" -- -D warnings

# cargo-nextest runs every test of every test binary in its own process, all binaries at
# once (cargo test runs the binaries one after another). Most integration tests spend their
# time waiting for a peer (a port, a scrape, a line), so more tests run at once than there
# are cores; none asserts a time. No crate has doc tests.
THREADS="${TEST_THREADS:-4}"
if ! cargo nextest --version > /dev/null 2>&1; then
    echo "==> installing cargo-nextest (cargo install)"
    cargo install --locked cargo-nextest
fi
echo "==> cargo nextest run --workspace (every test, $THREADS at a time, all failures reported)"
exec cargo nextest run --workspace --locked --no-fail-fast --cargo-profile "$PROFILE" --test-threads "$THREADS" \
    --failure-output final --status-level fail
