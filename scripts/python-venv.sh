# shellcheck shell=bash
# Sourced, not run: `ensure_sdk_venv VENV` makes VENV a Python venv holding the official
# Alibaba Cloud SDK (aliyun-python-sdk-core + aliyun-python-sdk-edas from PyPI), creating it on
# first use. Shared by scripts/sdk-interop.sh and scripts/bench. When PyPI cannot be reached it
# says so loudly and returns 1, printing `0 passed, 1 failed` for the interop test's summary:
# callers fail on it, never skip silently.

ensure_sdk_venv() {
  local venv="$1"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      aliyun-python-sdk-core aliyun-python-sdk-edas; then
    echo "############################################################################" >&2
    echo "ERROR: cannot install aliyun-python-sdk-core / aliyun-python-sdk-edas from PyPI." >&2
    echo "The official-SDK interop test cannot run, and it is not skipped: failing."   >&2
    echo "Check network access to https://pypi.org (or PIP_INDEX_URL) and retry."      >&2
    echo "############################################################################" >&2
    echo "0 passed, 1 failed"
    return 1
  fi
}
