#!/usr/bin/env bash
# Interop with the official Alibaba Cloud Python SDKs: installs the legacy one
# (aliyun-python-sdk-core + aliyun-python-sdk-edas) and the current one
# (alibabacloud-edas20170801 + alibabacloud-tea-openapi, signature V3 by default) from PyPI into
# a venv under the cargo target dir, starts two `edas-rollback simulate` servers (plain keys
# with --any-id, and one requiring an STS token), and runs scripts/sdk_interop.py (legacy SDK)
# and scripts/sdk_interop_v3.py (current SDK: its V3 util recomputes random requests signed by
# edas-rollback, then it drives the simulator in V3 and in its legacy mode) against them. The
# last line is the total, `N passed, M failed`. Fails loudly when PyPI cannot be reached:
# CI must never skip this silently.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${CARGO_TARGET_DIR:-target}"
venv="${SDK_INTEROP_VENV:-$target/sdk-interop-venv}"
count="${SDK_INTEROP_COUNT:-200}"
access_key_id="LTAI5tSimulatorKeyId"
access_key_secret="SimulatorSecret0123456789abcdef"
security_token="sdk-interop-sts-token"

# shellcheck source=scripts/python-venv.sh
source scripts/python-venv.sh
ensure_sdk_venv "$venv"

# Debug build: CI has just built it for the tests, so this costs nothing there.
cargo build --locked --quiet --bin edas-rollback
binary="$target/debug/edas-rollback"

workdir="$(mktemp -d)"
pids=()
cleanup() {
  # SIGTERM, not SIGINT: a non-interactive shell starts background jobs with SIGINT ignored.
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$workdir"
}
trap cleanup EXIT

# Starts a simulator in the background and sets `started_endpoint` from its first stdout
# line. Not called in a command substitution: its pid must be recorded in this shell.
start_simulator() {
  local name="$1"
  shift
  "$binary" simulate "$@" >"$workdir/$name.out" 2>"$workdir/$name.err" &
  pids+=("$!")
  for _ in $(seq 100); do
    if grep -q '^listening on ' "$workdir/$name.out" 2>/dev/null; then
      started_endpoint="$(sed -n 's/^listening on //p' "$workdir/$name.out" | head -n 1)"
      return 0
    fi
    sleep 0.1
  done
  echo "ERROR: simulator \`$name\` did not start:" >&2
  cat "$workdir/$name.err" >&2
  echo "0 passed, 1 failed"
  return 1
}

start_simulator plain --any-id --seed 1
endpoint="$started_endpoint"
start_simulator sts --any-id --seed 2 --security-token "$security_token"
sts_endpoint="$started_endpoint"

# Each script prints `PASS`/`FAIL` lines and its own `N passed, M failed`; the total of both
# is the last line.
total_passed=0
total_failed=0
status=0
run_checks() {
  local output
  output="$workdir/checks.out"
  set +e
  "$@" >"$output" 2>&1
  local code=$?
  set -e
  grep -v -E '^[0-9]+ passed, [0-9]+ failed$' "$output" || true
  local summary
  summary="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$output" | tail -n 1)"
  if [ -z "$summary" ]; then
    # A script that died before its summary counts as one failure.
    summary="0 passed, 1 failed"
  fi
  total_passed=$((total_passed + $(echo "$summary" | cut -d' ' -f1)))
  total_failed=$((total_failed + $(echo "$summary" | cut -d' ' -f3)))
  if [ "$code" -ne 0 ]; then
    status=1
  fi
}

run_checks "$venv/bin/python" scripts/sdk_interop.py \
  --endpoint "$endpoint" \
  --sts-endpoint "$sts_endpoint" \
  --access-key-id "$access_key_id" \
  --access-key-secret "$access_key_secret" \
  --security-token "$security_token" \
  --count "$count"
run_checks "$venv/bin/python" scripts/sdk_interop_v3.py \
  --binary "$binary" \
  --endpoint "$endpoint" \
  --sts-endpoint "$sts_endpoint" \
  --access-key-id "$access_key_id" \
  --access-key-secret "$access_key_secret" \
  --security-token "$security_token" \
  --count "${SDK_INTEROP_SIGN_COUNT:-300}"
echo "$total_passed passed, $total_failed failed"
if [ "$total_failed" -ne 0 ]; then
  status=1
fi
exit "$status"
