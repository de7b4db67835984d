#!/usr/bin/env bash
# The test command of the README: installs what the tests need (Python peers), then checks
# formatting and lints, then runs every test (unit, property, and integration against real
# peers started on 127.0.0.1). Works on a fresh machine with Rust and Python 3.
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

echo "==> cargo test --workspace (every test binary, all failures reported)"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked --no-fail-fast --profile "$PROFILE" 2>&1 | tee "$log" || status=$?
# The totals over every test binary, as the last line.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
     END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
