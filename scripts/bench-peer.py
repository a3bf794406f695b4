#!/usr/bin/env python3
"""Peer comparison (docs/BENCHMARKS.md, "Peer comparison"): `edas-rollback apply` against the
official Alibaba Cloud Python SDK (aliyun-python-sdk-core + aliyun-python-sdk-edas) scripted as
a user would, side by side in one run, against one `edas-rollback simulate --any-id --latency L` server.

For each size N (default 1,000 and 10,000) and each of R rounds (default 3), the two clients run
one after the other (interleaved: sdk, ours, sdk, ours, ...), each as a child process of this
driver, so that each is measured the same way: wall time, CPU (user + system, from os.wait4())
and peak RSS (from /usr/bin/time when present) of that process alone. Every run uses fresh change order ids and is
verified from the simulator's /__sim/stats (each of its ids received and committed exactly one
abort, and the totals grew by exactly N) and from the client (the SDK saw `Code` 200 N times;
apply exited 0 with N records `aborted` in its state). The report gives each run, then per size the medians
and the ratios ours / SDK (the machine is shared: ratios of interleaved runs are steadier than
absolute times).

The SDK client (`sdk-client` mode of this file, run with the venv's python): one AcsClient
shared by a concurrent.futures.ThreadPoolExecutor of P workers, created with pool_size=P, as the
SDK's own AcsClient docstring asks for multithreaded use ("set the maxsize of the pool to a
higher number, such as the number of threads"); everything else at its defaults, as a user
would leave it. Requests are pointed at the simulator with set_endpoint + set_protocol_type
("http"), as scripts/sdk_interop.py does.

Usage (scripts/bench runs it; it needs the release binary and the SDK venv):
  scripts/bench-peer.py --binary target/release/edas-rollback --python VENV/bin/python \
      [--sizes 1000,10000] [--rounds 3] [--parallelism 20] [--latency-ms 20] [--out FILE.json]
Only the standard library is needed to run the driver itself.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ACCESS_KEY_ID = "LTAI5tSimulatorKeyId"
ACCESS_KEY_SECRET = "SimulatorSecret0123456789abcdef"
REGION = "cn-hangzhou"


# --------------------------------------------------------------------------------------------
# The SDK client, as a user would script it (runs under the venv's python).


def sdk_client(args):
    from concurrent.futures import ThreadPoolExecutor

    from aliyunsdkcore.client import AcsClient
    from aliyunsdkedas.request.v20170801.AbortAndRollbackChangeOrderRequest import (
        AbortAndRollbackChangeOrderRequest,
    )

    host = args.endpoint.split("://", 1)[1]
    with open(args.ids) as handle:
        ids = [line.strip() for line in handle if line.strip()]
    client = AcsClient(ACCESS_KEY_ID, ACCESS_KEY_SECRET, REGION, pool_size=args.parallelism)

    def abort(change_order_id):
        request = AbortAndRollbackChangeOrderRequest()
        request.set_endpoint(host)
        request.set_protocol_type("http")
        request.set_ChangeOrderId(change_order_id)
        try:
            body = json.loads(client.do_action_with_exception(request))
            return body.get("Code") == 200
        except Exception:  # noqa: BLE001 - a failure is counted, and the driver reports it
            return False

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.parallelism) as pool:
        accepted = sum(pool.map(abort, ids))
    loop = time.monotonic() - started
    print(json.dumps({"accepted": accepted, "total": len(ids), "loop_seconds": loop}))
    return 0 if accepted == len(ids) else 1


# --------------------------------------------------------------------------------------------
# The driver.


def stats(endpoint):
    with urllib.request.urlopen(f"{endpoint}/__sim/stats", timeout=30) as response:
        return json.load(response)


def measured(command, env, stdout, cwd=None):
    """Runs one child to completion: (wall seconds, CPU seconds, peak RSS MiB, exit code).

    Peak RSS comes from GNU time when present: ru_maxrss survives exec, so a child forked
    straight from this driver would report the driver's own (growing) RSS when that is larger
    than the child's; /usr/bin/time is a small process and measures exactly the program it
    runs."""
    with tempfile.NamedTemporaryFile("r", prefix="bench-peer-time-") as timing:
        wrapped = (["/usr/bin/time", "-o", timing.name, "-f", "%e %U %S %M"] + command
                   if os.path.exists("/usr/bin/time") else command)
        started = time.monotonic()
        child = subprocess.Popen(wrapped, env=env, stdout=stdout, stderr=subprocess.PIPE, cwd=cwd)
        # wait4 gives this child's own rusage (RUSAGE_CHILDREN would mix all children so far).
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.monotonic() - started
        cpu, rss_kib = usage.ru_utime + usage.ru_stime, usage.ru_maxrss
        fields = timing.read().split()
        if len(fields) >= 4 and wrapped is not command:
            # The last line holds the numbers (earlier ones may say "Command exited with ...").
            # CPU stays wait4's (microseconds; it includes the tiny time process): %U and %S
            # have only centiseconds, 10% of a 1,000-change-order run of ours.
            rss_kib = float(fields[-1])
    child.returncode = os.waitstatus_to_exitcode(status)
    error = child.stderr.read().decode(errors="replace")
    child.stderr.close()
    if child.returncode != 0:
        sys.stderr.write(f"{command[0]} exited {child.returncode}:\n{error[-4000:]}\n")
    return wall, cpu, rss_kib / 1024, child.returncode


def run_sdk(args, endpoint, ids, workdir):
    ids_file = os.path.join(workdir, "ids.txt")
    with open(ids_file, "w") as handle:
        handle.write("\n".join(ids) + "\n")
    out_file = os.path.join(workdir, "sdk.out")
    with open(out_file, "w") as out:
        wall, cpu, rss, code = measured(
            [args.python, os.path.abspath(__file__), "sdk-client", "--endpoint", endpoint,
             "--ids", ids_file, "--parallelism", str(args.parallelism)],
            dict(os.environ), out)
    with open(out_file) as handle:
        text = handle.read().strip()
    inner = json.loads(text.splitlines()[-1]) if text else {}
    return {"wall": wall, "cpu": cpu, "rss_mib": rss, "exit": code,
            "accepted": inner.get("accepted"), "loop_seconds": inner.get("loop_seconds")}


def run_ours(args, endpoint, ids, workdir):
    config = os.path.join(workdir, "bench.yaml")
    with open(config, "w") as handle:
        handle.write(f"version: 1\nprovider:\n  region: {REGION}\nchange_orders:\n")
        handle.writelines(f"  - id: {change_order_id}\n" for change_order_id in ids)
    env = dict(os.environ, ALIBABA_CLOUD_ACCESS_KEY_ID=ACCESS_KEY_ID,
               ALIBABA_CLOUD_ACCESS_KEY_SECRET=ACCESS_KEY_SECRET, NO_COLOR="1")
    for name in ("ALIBABA_CLOUD_SECURITY_TOKEN", "ALICLOUD_ACCESS_KEY", "ALICLOUD_SECRET_KEY",
                 "ALICLOUD_SECURITY_TOKEN", "ALIBABA_CLOUD_PROFILE"):
        env.pop(name, None)
    with open(os.path.join(workdir, "apply.out"), "w") as out:
        wall, cpu, rss, code = measured(
            [args.binary, "--no-color", "-c", config, "apply", "--auto-approve",
             "--endpoint", endpoint, "--parallelism", str(args.parallelism),
             "--requests-per-second", str(args.requests_per_second)],
            env, out, cwd=workdir)
    state_file = os.path.join(workdir, "bench.state.json")
    aborted = 0
    if os.path.exists(state_file):
        with open(state_file) as handle:
            records = json.load(handle).get("change_orders", {})
        aborted = sum(1 for record in records.values() if record.get("status") == "aborted")
    return {"wall": wall, "cpu": cpu, "rss_mib": rss, "exit": code, "accepted": aborted,
            "loop_seconds": None}


def verify(endpoint, before, ids):
    """Every id of this run received and committed exactly one abort, and nothing else did."""
    after = stats(endpoint)
    per_order = after["change_orders"]
    once = sum(1 for change_order_id in ids
               if per_order.get(change_order_id, {}).get("aborts_received") == 1
               and per_order.get(change_order_id, {}).get("aborts_committed") == 1)
    grew = {key: after["totals"][key] - before["totals"].get(key, 0)
            for key in ("requests", "aborts_received", "aborts_committed", "signature_failures",
                        "throttled", "rejected")}
    ok = (once == len(ids) and grew["aborts_received"] == len(ids)
          and grew["aborts_committed"] == len(ids) and grew["signature_failures"] == 0)
    return ok, once, grew, after


def start_simulator(args):
    child = subprocess.Popen(
        [args.binary, "simulate", "--any-id", "--latency", f"{args.latency_ms}ms", "--seed", "7"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = child.stdout.readline().strip()
    if not line.startswith("listening on "):
        child.kill()
        raise SystemExit(f"the simulator did not start: {line!r}")
    return child, line[len("listening on "):]


def median(values):
    return statistics.median(values) if values else float("nan")


def driver(args):
    sizes = [int(size) for size in args.sizes.split(",")]
    latency = args.latency_ms / 1000
    simulator, endpoint = start_simulator(args)
    runs = []
    failures = 0
    try:
        for size in sizes:
            ideal = size * latency / args.parallelism
            for round_index in range(args.rounds):
                for client in ("sdk", "ours"):
                    ids = [f"peer-{client}-{size}-{round_index}-{index:06d}" for index in range(size)]
                    before = stats(endpoint)
                    with tempfile.TemporaryDirectory(prefix="bench-peer-") as workdir:
                        run = (run_sdk if client == "sdk" else run_ours)(args, endpoint, ids, workdir)
                    ok, once, grew, _ = verify(endpoint, before, ids)
                    load = os.getloadavg()[0]
                    run.update({"client": client, "size": size, "round": round_index,
                                "ideal": ideal,
                                "verified": ok and run["exit"] == 0 and run["accepted"] == size,
                                "exactly_once": once, "simulator_delta": grew,
                                "load_average": load})
                    failures += 0 if run["verified"] else 1
                    runs.append(run)
                    print(f"{client:>4} N={size:>6} round {round_index + 1}: wall {run['wall']:7.2f} s "
                          f"({run['wall'] / ideal:5.2f}x ideal {ideal:.1f} s), "
                          f"CPU {run['cpu']:6.2f} s = {run['cpu'] / size * 1e6:7.1f} us/change order, "
                          f"peak RSS {run['rss_mib']:6.1f} MiB, exactly once {once}/{size}, "
                          f"{'OK' if run['verified'] else 'FAILED'} (load {load:.1f})"
                          + (f"; requests alone {run['loop_seconds']:.2f} s"
                             if run["loop_seconds"] is not None else ""), flush=True)
    finally:
        simulator.terminate()
        simulator.wait()

    summary = []
    print()
    print(f"Peer comparison: parallelism {args.parallelism}, simulator latency {args.latency_ms} ms, "
          f"median of {args.rounds} interleaved rounds")
    print()
    print("| change orders | client | wall (median) | × ideal N·L/P | CPU per change order | peak RSS | verified |")
    print("|--:|---|--:|--:|--:|--:|---|")
    for size in sizes:
        row = {"size": size, "ideal": size * latency / args.parallelism}
        for client in ("sdk", "ours"):
            mine = [run for run in runs if run["size"] == size and run["client"] == client]
            row[client] = {
                "wall": median([run["wall"] for run in mine]),
                "cpu_per_change_order_us": median([run["cpu"] / size * 1e6 for run in mine]),
                "rss_mib": median([run["rss_mib"] for run in mine]),
                "verified": all(run["verified"] for run in mine),
            }
            name = "official Python SDK" if client == "sdk" else "edas-rollback apply"
            print(f"| {size:,} | {name} | {row[client]['wall']:.2f} s | "
                  f"{row[client]['wall'] / row['ideal']:.2f}× | "
                  f"{row[client]['cpu_per_change_order_us']:.0f} µs | {row[client]['rss_mib']:.0f} MiB | "
                  f"{'yes' if row[client]['verified'] else 'NO'} |")
        summary.append(row)
    print()
    print("| change orders | wall ours/SDK | CPU ours/SDK | peak RSS ours/SDK |")
    print("|--:|--:|--:|--:|")
    for row in summary:
        sdk_runs = [run for run in runs if run["size"] == row["size"] and run["client"] == "sdk"]
        our_runs = [run for run in runs if run["size"] == row["size"] and run["client"] == "ours"]
        # Each round's pair ran back to back under about the same load: the median of the
        # per-pair ratios is steadier than the ratio of the medians.
        ratios = {key: median([ours[key] / sdk[key] for sdk, ours in zip(sdk_runs, our_runs)])
                  for key in ("wall", "cpu", "rss_mib")}
        row["ratios_median_of_pairs"] = ratios
        print(f"| {row['size']:,} | {ratios['wall']:.2f} | {ratios['cpu']:.3f} | {ratios['rss_mib']:.2f} |")
    if args.out:
        with open(args.out, "w") as handle:
            json.dump({"parallelism": args.parallelism, "latency_ms": args.latency_ms,
                       "requests_per_second": args.requests_per_second, "rounds": args.rounds,
                       "runs": runs, "summary": summary}, handle, indent=2)
    if failures:
        print(f"\n{failures} run(s) FAILED verification", file=sys.stderr)
        return 1
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="mode")
    client = sub.add_parser("sdk-client", help="internal: the SDK side of one run")
    client.add_argument("--endpoint", required=True)
    client.add_argument("--ids", required=True)
    client.add_argument("--parallelism", type=int, required=True)
    parser.add_argument("--binary", default="target/release/edas-rollback")
    parser.add_argument("--python", default="python3", help="a python with the SDK installed")
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parallelism", type=int, default=20)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--requests-per-second", type=int, default=100000)
    parser.add_argument("--out", help="also write every run and the summary as JSON here")
    args = parser.parse_args()
    if args.mode == "sdk-client":
        return sdk_client(args)
    return driver(args)


if __name__ == "__main__":
    sys.exit(main())
