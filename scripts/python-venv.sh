# shellcheck shell=bash
# Sourced, not run: `ensure_sdk_venv VENV` makes VENV a Python venv holding the official
# Alibaba Cloud SDKs from PyPI, creating it on first use: the legacy one
# (aliyun-python-sdk-core + aliyun-python-sdk-edas) and the current one
# (alibabacloud-edas20170801 on alibabacloud-tea-openapi, signature V3 by default). Shared by scripts/sdk-interop.sh and scripts/bench. When PyPI cannot be reached it
# says so loudly and returns 1, printing `0 passed, 1 failed` for the interop test's summary:
# callers fail on it, never skip silently.

ensure_sdk_venv() {
  local venv="$1"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      aliyun-python-sdk-core aliyun-python-sdk-edas \
      alibabacloud-edas20170801 alibabacloud-tea-openapi; then
    echo "############################################################################" >&2
    echo "ERROR: cannot install the official SDKs (aliyun-python-sdk-core, aliyun-python-sdk-edas," >&2
    echo "alibabacloud-edas20170801, alibabacloud-tea-openapi) from PyPI." >&2
    echo "The official-SDK interop test cannot run, and it is not skipped: failing."   >&2
    echo "Check network access to https://pypi.org (or PIP_INDEX_URL) and retry."      >&2
    echo "############################################################################" >&2
    echo "0 passed, 1 failed"
    return 1
  fi
}
