#!/usr/bin/env python3
"""Interop with the *current* official Alibaba Cloud Python SDK (alibabacloud-edas20170801 on
alibabacloud-tea-openapi), which signs with signature V3 (ACS3-HMAC-SHA256) by default. Run by
scripts/sdk-interop.sh, which starts the simulators and passes their endpoints.

1. Cross-check: every request that `edas-rollback sign-debug` prints (random calls, ids, hosts,
   dates, keys, with and without an STS token, all signed by edas-rollback's V3 signer) is
   re-signed by the SDK's own V3 util, `alibabacloud_tea_openapi.utils.Utils.get_authorization`,
   from the same method, path, decoded query and headers; the two `Authorization` values must
   be equal.
2. The SDK against `edas-rollback simulate`, in V3 (its default) and in its legacy mode
   (`signature_algorithm='v2'`, ROA v1): AbortAndRollbackChangeOrder, GetChangeOrderInfo,
   RollbackChangeOrder and ListRecentChangeOrder accepted; a wrong secret refused with
   SignatureDoesNotMatch; STS with and without the token.

Prints one line per check; the caller adds its results to the closing `N passed, M failed`.
Exits 1 on any failure.
"""

import argparse
import json
import subprocess
import sys
import types
import urllib.parse
import urllib.request

from alibabacloud_edas20170801 import models
from alibabacloud_edas20170801.client import Client
from alibabacloud_tea_openapi.utils import Utils
from alibabacloud_tea_openapi.utils_models import Config

EMPTY_BODY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
REGION = "cn-hangzhou"

results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(f"{'PASS' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)


def cross_check(binary, count, seed):
    output = subprocess.run(
        [binary, "sign-debug", "--count", str(count), "--seed", str(seed)],
        check=True, capture_output=True, text=True,
    ).stdout
    rows = [json.loads(line) for line in output.splitlines() if line.strip()]
    matched, mismatches = 0, []
    with_token = sum(1 for row in rows if row["security_token"])
    for row in rows:
        headers = dict(row["headers"])
        ours = headers.pop("authorization")
        # The same inputs the SDK signs from: method, pathname, the decoded query and the
        # headers present when signing.
        request = types.SimpleNamespace(
            method=row["method"],
            pathname=row["path"],
            query=dict(urllib.parse.parse_qsl(row["raw_query"], keep_blank_values=True)),
            headers=headers,
        )
        theirs = Utils.get_authorization(
            request, "ACS3-HMAC-SHA256", EMPTY_BODY_SHA256,
            row["access_key_id"], row["access_key_secret"],
        )
        if theirs == ours:
            matched += 1
        else:
            mismatches.append(f"{row['method']} {row['path']}?{row['raw_query']}: ours {ours} sdk {theirs}")
    # The negative control: the same util over a changed secret must disagree, or the
    # comparison above proves nothing.
    if rows:
        row = rows[0]
        headers = {k: v for k, v in row["headers"].items() if k != "authorization"}
        request = types.SimpleNamespace(
            method=row["method"], pathname=row["path"],
            query=dict(urllib.parse.parse_qsl(row["raw_query"], keep_blank_values=True)),
            headers=headers,
        )
        other = Utils.get_authorization(request, "ACS3-HMAC-SHA256", EMPTY_BODY_SHA256,
                                        row["access_key_id"], row["access_key_secret"] + "x")
        check("the SDK's util disagrees when the secret differs (negative control)",
              other != row["headers"]["authorization"])
    check(
        f"the official SDK's V3 util recomputes all {len(rows)} random requests signed by "
        f"edas-rollback ({with_token} with an STS token)",
        len(rows) == count and matched == count,
        f"{matched}/{len(rows)} equal" + (f"; first mismatch: {mismatches[0]}" if mismatches else ""),
    )


def client(endpoint, key_id, secret, token=None, legacy=False):
    config = Config(
        access_key_id=key_id,
        access_key_secret=secret,
        security_token=token,
        endpoint=endpoint.split("://", 1)[1],
        protocol="http",
        region_id=REGION,
    )
    if legacy:
        # The SDK's own switch back to ROA signature v1 (HMAC-SHA1).
        config.signature_algorithm = "v2"
    return Client(config)


def error_code(error):
    return getattr(error, "code", None) or type(error).__name__


def stats(endpoint):
    with urllib.request.urlopen(f"{endpoint}/__sim/stats", timeout=10) as response:
        return json.load(response)


def drive(mode, endpoint, sts_endpoint, key_id, secret, token):
    legacy = mode == "legacy"
    label = "legacy (ROA v1)" if legacy else "V3"
    sdk = client(endpoint, key_id, secret, legacy=legacy)
    before = stats(endpoint)["totals"]
    prefix = f"sdk-v3-{mode}"
    calls = [
        ("AbortAndRollbackChangeOrder", lambda: sdk.abort_and_rollback_change_order(
            models.AbortAndRollbackChangeOrderRequest(change_order_id=f"{prefix}-abort"))),
        ("GetChangeOrderInfo", lambda: sdk.get_change_order_info(
            models.GetChangeOrderInfoRequest(change_order_id=f"{prefix}-abort"))),
        ("RollbackChangeOrder", lambda: sdk.rollback_change_order(
            models.RollbackChangeOrderRequest(change_order_id=f"{prefix}-rollback"))),
        ("ListRecentChangeOrder", lambda: sdk.list_recent_change_order(
            models.ListRecentChangeOrderRequest(app_id=f"{prefix}-app"))),
    ]
    for action, send in calls:
        try:
            body = send().body.to_map()
            check(f"{label}: {action} accepted", body.get("Code") == 200, f"Code {body.get('Code')}")
        except Exception as error:  # noqa: BLE001 - every failure is reported, none hidden
            check(f"{label}: {action} accepted", False, f"{error_code(error)}: {error}")
    info = sdk.get_change_order_info(
        models.GetChangeOrderInfoRequest(change_order_id=f"{prefix}-abort")).body.to_map()
    status = (info.get("changeOrderInfo") or {}).get("Status")
    check(f"{label}: GetChangeOrderInfo reports status 6 after the abort", status == 6, f"status {status}")
    after = stats(endpoint)["totals"]
    kind = "signed_roa_v1" if legacy else "signed_v3"
    check(f"{label}: the simulator saw {label} signatures", after[kind] - before.get(kind, 0) == 5,
          f"{kind} {before.get(kind, 0)} -> {after[kind]}")

    wrong = client(endpoint, key_id, secret + "-wrong", legacy=legacy)
    try:
        wrong.abort_and_rollback_change_order(
            models.AbortAndRollbackChangeOrderRequest(change_order_id=f"{prefix}-wrong"))
        check(f"{label}: a wrong secret is refused", False, "accepted")
    except Exception as error:  # noqa: BLE001
        check(f"{label}: a wrong secret is refused with SignatureDoesNotMatch",
              error_code(error) == "SignatureDoesNotMatch", error_code(error))

    with_token = client(sts_endpoint, key_id, secret, token=token, legacy=legacy)
    try:
        body = with_token.abort_and_rollback_change_order(
            models.AbortAndRollbackChangeOrderRequest(change_order_id=f"{prefix}-sts")).body.to_map()
        check(f"{label}: an abort with an STS token is accepted", body.get("Code") == 200, str(body.get("Code")))
    except Exception as error:  # noqa: BLE001
        check(f"{label}: an abort with an STS token is accepted", False, f"{error_code(error)}: {error}")
    without_token = client(sts_endpoint, key_id, secret, legacy=legacy)
    try:
        without_token.abort_and_rollback_change_order(
            models.AbortAndRollbackChangeOrderRequest(change_order_id=f"{prefix}-sts-missing"))
        check(f"{label}: an abort without the STS token is refused", False, "accepted")
    except Exception as error:  # noqa: BLE001
        check(f"{label}: an abort without the STS token is refused with MissingSecurityToken",
              error_code(error) == "MissingSecurityToken", error_code(error))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True, help="the edas-rollback binary")
    parser.add_argument("--endpoint", required=True, help="simulator with the default keys, --any-id")
    parser.add_argument("--sts-endpoint", required=True, help="simulator requiring --security-token")
    parser.add_argument("--access-key-id", required=True)
    parser.add_argument("--access-key-secret", required=True)
    parser.add_argument("--security-token", required=True)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    cross_check(args.binary, args.count, args.seed)
    for mode in ("v3", "legacy"):
        drive(mode, args.endpoint, args.sts_endpoint, args.access_key_id,
              args.access_key_secret, args.security_token)

    passed = sum(results)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
