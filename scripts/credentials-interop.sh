#!/usr/bin/env bash
# Interop of the credentials chain with the official `alibabacloud-credentials` Python library:
# installs it from PyPI into a venv under the cargo target dir, then runs
# scripts/credentials_interop.py, which puts the library and `edas-rollback credentials` through
# the same matrix of environments and profile files (every network source served by a
# loopback fake) and asserts both pick the same source. Fails loudly when PyPI cannot be
# reached: CI must never skip this silently.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${CARGO_TARGET_DIR:-target}"
venv="${CREDENTIALS_INTEROP_VENV:-$target/credentials-interop-venv}"

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    'alibabacloud-credentials>=1.0,<2'; then
  echo "############################################################################" >&2
  echo "ERROR: cannot install alibabacloud-credentials from PyPI."                     >&2
  echo "The credentials interop check cannot run, and it is not skipped: failing."     >&2
  echo "Check network access to https://pypi.org (or PIP_INDEX_URL) and retry."        >&2
  echo "############################################################################" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

# Debug build: CI has just built it for the tests, so this costs nothing there.
cargo build --locked --quiet --bin edas-rollback
"$venv/bin/python" scripts/credentials_interop.py --binary "$(realpath "$target/debug/edas-rollback")"
