#!/usr/bin/env bash
# Interop with the official Alibaba Cloud Python SDK: installs aliyun-python-sdk-core and
# aliyun-python-sdk-edas from PyPI into a venv under the cargo target dir, starts two
# `edas-rollback simulate` servers (plain keys with --any-id, and one requiring an STS token),
# and runs scripts/sdk_interop.py against them. Fails loudly when PyPI cannot be reached:
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

"$venv/bin/python" scripts/sdk_interop.py \
  --endpoint "$endpoint" \
  --sts-endpoint "$sts_endpoint" \
  --access-key-id "$access_key_id" \
  --access-key-secret "$access_key_secret" \
  --security-token "$security_token" \
  --count "$count"
