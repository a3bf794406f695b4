#!/usr/bin/env python3
"""Interop check: the official Alibaba Cloud Python SDK (aliyun-python-sdk-core +
aliyun-python-sdk-edas), a client nobody on this project wrote, against `edas-rollback
simulate`. Run by scripts/sdk-interop.sh, which starts the simulators and passes their
endpoints. Prints one line per check and a closing `N passed, M failed`; exits 1 on failure.
"""

import argparse
import json
import logging
import sys
import urllib.request

from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.auth.credentials import AccessKeyCredential, StsTokenCredential
from aliyunsdkcore.client import AcsClient
from aliyunsdkedas.request.v20170801.AbortAndRollbackChangeOrderRequest import (
    AbortAndRollbackChangeOrderRequest,
)
from aliyunsdkedas.request.v20170801.GetChangeOrderInfoRequest import GetChangeOrderInfoRequest

REGION = "cn-hangzhou"
# The SDK logs every refused request at ERROR; the refusals in check 3 are expected.
logging.getLogger("aliyunsdkcore").setLevel(logging.CRITICAL)

results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(f"{'PASS' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)


def client(credential):
    # No retries: every request the SDK sends must be counted exactly once.
    return AcsClient(credential=credential, region_id=REGION, auto_retry=False)


def pointed(request, endpoint):
    """Point an SDK request at the simulator: host:port over plain http."""
    host = endpoint.split("://", 1)[1]
    request.set_endpoint(host)
    request.set_protocol_type("http")
    return request


def abort(acs, endpoint, change_order_id):
    request = pointed(AbortAndRollbackChangeOrderRequest(), endpoint)
    request.set_ChangeOrderId(change_order_id)
    return json.loads(acs.do_action_with_exception(request))


def info(acs, endpoint, change_order_id):
    request = pointed(GetChangeOrderInfoRequest(), endpoint)
    request.set_ChangeOrderId(change_order_id)
    return json.loads(acs.do_action_with_exception(request))


def stats(endpoint):
    with urllib.request.urlopen(f"{endpoint}/__sim/stats", timeout=10) as response:
        return json.load(response)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True, help="simulator with the default keys, --any-id")
    parser.add_argument("--sts-endpoint", required=True, help="simulator requiring --security-token")
    parser.add_argument("--access-key-id", required=True)
    parser.add_argument("--access-key-secret", required=True)
    parser.add_argument("--security-token", required=True)
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    count = args.count

    # 1. N aborts with the right key: all accepted, each counted once.
    acs = client(AccessKeyCredential(args.access_key_id, args.access_key_secret))
    ids = [f"sdk-interop-{index:04d}" for index in range(count)]
    accepted, failures = 0, []
    for change_order_id in ids:
        try:
            body = abort(acs, args.endpoint, change_order_id)
            if body.get("Code") == 200 and body.get("Data", {}).get("ChangeOrderId"):
                accepted += 1
            else:
                failures.append(f"{change_order_id}: {body}")
        except Exception as error:  # noqa: BLE001 - every failure is reported, none hidden
            failures.append(f"{change_order_id}: {error}")
    check(f"{count} AbortAndRollbackChangeOrder requests accepted", accepted == count,
          f"{accepted}/{count} accepted" + (f"; first failure: {failures[0]}" if failures else ""))
    counted = stats(args.endpoint)
    per_order = counted["change_orders"]
    once = sum(1 for i in ids if per_order.get(i, {}).get("aborts_committed") == 1)
    check(f"the simulator counted each of the {count} aborts exactly once",
          once == count and counted["totals"]["aborts_committed"] == count,
          f"{once} counted once, totals {counted['totals']}")

    # 2. GetChangeOrderInfo through the SDK sees the stopped change order.
    body = info(acs, args.endpoint, ids[0])
    status = body.get("changeOrderInfo", {}).get("Status")
    check("GetChangeOrderInfo reports status 6 after the abort", status == 6, f"status {status}")

    # 3. A wrong secret: every request refused with SignatureDoesNotMatch, nothing committed.
    wrong = client(AccessKeyCredential(args.access_key_id, args.access_key_secret + "-wrong"))
    refused, other = 0, []
    for index in range(count):
        try:
            abort(wrong, args.endpoint, f"sdk-interop-wrong-{index:04d}")
            other.append("accepted")
        except ServerException as error:
            if error.get_http_status() == 400 and error.get_error_code() == "SignatureDoesNotMatch":
                refused += 1
            else:
                other.append(f"{error.get_http_status()} {error.get_error_code()}")
    check(f"{count} requests with a wrong secret refused with SignatureDoesNotMatch",
          refused == count, f"{refused}/{count} refused" + (f"; other: {other[:3]}" if other else ""))
    after = stats(args.endpoint)["totals"]
    check("nothing was committed for the wrong secret",
          after["aborts_committed"] == count and after["signature_failures"] == count, str(after))

    # 4. STS: the token travels in x-acs-security-token and is signed.
    sts = client(StsTokenCredential(args.access_key_id, args.access_key_secret, args.security_token))
    try:
        body = abort(sts, args.sts_endpoint, "sdk-interop-sts")
        check("an abort with an STS token is accepted", body.get("Code") == 200, str(body.get("Code")))
    except Exception as error:  # noqa: BLE001
        check("an abort with an STS token is accepted", False, str(error))
    try:
        abort(acs, args.sts_endpoint, "sdk-interop-sts-missing")
        check("an abort without the STS token is refused", False, "accepted")
    except ServerException as error:
        check("an abort without the STS token is refused with MissingSecurityToken",
              error.get_error_code() == "MissingSecurityToken", error.get_error_code())

    passed = sum(results)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
