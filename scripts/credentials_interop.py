#!/usr/bin/env python3
"""Interop check of the credentials chain: the official `alibabacloud-credentials` Python
library (nobody on this project wrote it) and `edas-rollback credentials` over the same
matrix of environments and profile files; for each, both must pick the same source, by the
library's `provider_name` (its `default/` prefix dropped).

Nothing leaves the machine. A loopback fake started here answers as STS (GET or POST `/`
with an `Action`), the ECS metadata service (IMDSv2) and a credentials URI. edas-rollback is
pointed at it with ALIBABA_CLOUD_STS_ENDPOINT / ALIBABA_CLOUD_IMDS_ENDPOINT; the library,
which has no such settings, runs in a child process whose HTTP layer (Tea's `compose_url`)
rewrites every URL to the fake, recording the host it meant, and refuses to run otherwise.

Run by scripts/credentials-interop.sh. Prints one line per case and a closing
`N passed, M failed`; exits 1 on any failure.
"""

import argparse
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import urllib.parse
from datetime import datetime, timedelta, timezone

TEMP = {
    "AccessKeyId": "STS.InteropTempKey",
    "AccessKeySecret": "InteropTempSecret",
    "SecurityToken": "InteropTempToken",
}
ROLE_ARN = "acs:ram::1234567890123456:role/edas-rollback"
OIDC_PROVIDER_ARN = "acs:ram::1234567890123456:oidc-provider/github"
ROLE_NAME = "InteropInstanceRole"


def expiration():
    return (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


class Fake(http.server.BaseHTTPRequestHandler):
    """STS, IMDSv2 and a credentials URI in one loopback server."""

    def log_message(self, *args):
        pass

    def reply(self, status, body, content_type="application/json"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def flat(self):
        self.reply(200, json.dumps({"Code": "Success", "Expiration": expiration(), **TEMP}))

    def sts(self, params):
        action = params.get("Action", [""])[0]
        if action not in ("AssumeRole", "AssumeRoleWithOIDC", "GetCallerIdentity"):
            self.reply(400, json.dumps({"Code": "InvalidAction.NotFound", "RequestId": "F"}))
            return
        self.reply(
            200,
            json.dumps(
                {
                    "RequestId": "F",
                    "AssumedRoleUser": {"Arn": ROLE_ARN + "/s", "AssumedRoleId": "1:s"},
                    "Credentials": {"Expiration": expiration(), **TEMP},
                }
            ),
        )

    def do_PUT(self):
        if self.path == "/latest/api/token" and self.headers.get(
            "X-aliyun-ecs-metadata-token-ttl-seconds"
        ):
            self.reply(200, "interop-imds-token", "text/plain")
        else:
            self.reply(400, "")

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        prefix = "/latest/meta-data/ram/security-credentials/"
        if url.path.startswith(prefix):
            if self.headers.get("X-aliyun-ecs-metadata-token") != "interop-imds-token":
                self.reply(401, "")
            elif url.path == prefix:
                self.reply(200, ROLE_NAME, "text/plain")
            else:
                self.flat()
        elif url.path == "/creds":
            self.flat()
        elif url.path in ("", "/"):
            self.sts(urllib.parse.parse_qs(url.query))
        else:
            self.reply(404, "")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        params = urllib.parse.parse_qs(self.rfile.read(length).decode())
        params.update(urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query))
        self.sts(params)


def probe(port):
    """In a child process: the library's choice, with its HTTP pointed at the fake."""
    from Tea.core import TeaCore

    original = TeaCore.compose_url
    meant = []

    def to_the_fake(request):
        url = urllib.parse.urlsplit(original(request))
        meant.append(url.netloc)
        return urllib.parse.urlunsplit(("http", f"127.0.0.1:{port}", url.path or "/", url.query, ""))

    TeaCore.compose_url = staticmethod(to_the_fake)
    from alibabacloud_credentials.client import Client

    try:
        name = Client().get_credential().provider_name
    except Exception as error:  # the library raises plain exceptions
        name = f"ERROR {type(error).__name__}: {str(error)[:300]}"
    print(json.dumps({"provider": name, "meant": meant}))
    sys.stdout.flush()
    os._exit(0)  # the ECS provider leaves a scheduler thread behind


def aliyun_profile(name, mode, **fields):
    """A profile with the fields `aliyun configure` writes."""
    profile = {
        "name": name, "mode": mode, "access_key_id": "", "access_key_secret": "",
        "sts_token": "", "sts_region": "", "ram_role_name": "", "ram_role_arn": "",
        "ram_session_name": "", "source_profile": "", "expired_seconds": 0,
        "region_id": "cn-hangzhou", "output_format": "json", "language": "en",
        "process_command": "", "credentials_uri": "", "oidc_provider_arn": "",
        "oidc_token_file": "",
    }
    profile.update(fields)
    return profile


AK = {"access_key_id": "LTAI5tInteropKey", "access_key_secret": "InteropSecret"}


def cases(home, fake):
    token = os.path.join(home, "oidc-token")
    script = os.path.join(home, "print-creds.sh")
    ini = os.path.join(home, "credentials.ini")
    oidc_env = {
        "ALIBABA_CLOUD_ROLE_ARN": ROLE_ARN,
        "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": OIDC_PROVIDER_ARN,
        "ALIBABA_CLOUD_OIDC_TOKEN_FILE": token,
    }
    env_ak = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAI5tEnv", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s"}
    no_ecs = {"ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true"}

    def cli(current, *profiles):
        return {"cli": {"current": current, "profiles": list(profiles), "meta_path": ""}}

    ak = aliyun_profile("default", "AK", **AK)
    # `aliyun configure` asks for the session length of the role modes (900 s by default); the
    # library refuses a profile holding 0 and moves on down the chain, edas-rollback takes 0 as
    # 3600 s (docs/credentials.md), so the matrix uses what the CLI writes.
    role = aliyun_profile("ops", "RamRoleArn", ram_role_arn=ROLE_ARN, ram_session_name="o", expired_seconds=900, **AK)
    # (name, environment, files, expected provider name)
    return [
        ("environment AccessKey", env_ak, {}, "env"),
        ("environment STS token", {**env_ak, "ALIBABA_CLOUD_SECURITY_TOKEN": "t"}, {}, "env"),
        ("environment beats OIDC and the CLI profile", {**env_ak, **oidc_env}, cli("default", ak), "env"),
        ("OIDC from the environment", oidc_env, {}, "oidc_role_arn"),
        ("OIDC beats the CLI profile", oidc_env, cli("default", ak), "oidc_role_arn"),
        ("half the OIDC variables: the CLI profile", {"ALIBABA_CLOUD_ROLE_ARN": ROLE_ARN}, cli("default", ak), "cli_profile/static_ak"),
        ("CLI AK profile", {}, cli("default", ak), "cli_profile/static_ak"),
        ("CLI StsToken profile", {}, cli("sts", aliyun_profile("sts", "StsToken", sts_token="t", **AK)), "cli_profile/static_sts"),
        ("CLI RamRoleArn profile", {}, cli("ops", role), "cli_profile/ram_role_arn/static_ak"),
        ("CLI RamRoleArn with sts_region", {}, cli("ops", {**role, "sts_region": "cn-shanghai"}), "cli_profile/ram_role_arn/static_ak"),
        ("CLI ChainableRamRoleArn profile", {}, cli("deploy", ak, aliyun_profile("deploy", "ChainableRamRoleArn", source_profile="default", ram_role_arn=ROLE_ARN, expired_seconds=900)), "cli_profile/ram_role_arn/static_ak"),
        ("CLI chain of two roles", {}, cli("deploy", role, aliyun_profile("deploy", "ChainableRamRoleArn", source_profile="ops", ram_role_arn=ROLE_ARN, expired_seconds=900)), "cli_profile/ram_role_arn/ram_role_arn/static_ak"),
        ("CLI EcsRamRole profile", {}, cli("ecs", aliyun_profile("ecs", "EcsRamRole", ram_role_name=ROLE_NAME)), "cli_profile/ecs_ram_role"),
        ("CLI OIDC profile", {}, cli("ci", aliyun_profile("ci", "OIDC", ram_role_arn=ROLE_ARN, oidc_provider_arn=OIDC_PROVIDER_ARN, oidc_token_file=token, expired_seconds=900)), "cli_profile/oidc_role_arn"),
        ("CLI External profile", {}, cli("vault", aliyun_profile("vault", "External", process_command=f"/bin/sh {script}")), "cli_profile/external"),
        ("ALIBABA_CLOUD_PROFILE picks the CLI profile", {"ALIBABA_CLOUD_PROFILE": "ops"}, cli("default", ak, role), "cli_profile/ram_role_arn/static_ak"),
        ("CLI profile disabled: the credentials file", {"ALIBABA_CLOUD_CLI_PROFILE_DISABLED": "true", "ALIBABA_CLOUD_CREDENTIALS_FILE": ini}, {**cli("default", ak), "ini": "[default]\ntype = access_key\naccess_key_id = LTAI5tIni\naccess_key_secret = s\n"}, "profile/static_ak"),
        ("credentials file, access_key", {"ALIBABA_CLOUD_CREDENTIALS_FILE": ini}, {"ini": "[default]\nenable = true\ntype = access_key\naccess_key_id = LTAI5tIni\naccess_key_secret = s\n"}, "profile/static_ak"),
        ("credentials file, ram_role_arn", {"ALIBABA_CLOUD_CREDENTIALS_FILE": ini}, {"ini": f"[default]\ntype = ram_role_arn\naccess_key_id = LTAI5tIni\naccess_key_secret = s\nrole_arn = {ROLE_ARN}\nrole_session_name = ini\n"}, "profile/ram_role_arn/static_ak"),
        ("credentials file, ecs_ram_role", {"ALIBABA_CLOUD_CREDENTIALS_FILE": ini}, {"ini": f"[default]\ntype = ecs_ram_role\nrole_name = {ROLE_NAME}\n"}, "profile/ecs_ram_role"),
        ("credentials file, oidc_role_arn", {"ALIBABA_CLOUD_CREDENTIALS_FILE": ini}, {"ini": f"[default]\ntype = oidc_role_arn\nrole_arn = {ROLE_ARN}\noidc_provider_arn = {OIDC_PROVIDER_ARN}\noidc_token_file_path = {token}\n"}, "profile/oidc_role_arn"),
        ("credentials file section by ALIBABA_CLOUD_PROFILE", {"ALIBABA_CLOUD_CREDENTIALS_FILE": ini, "ALIBABA_CLOUD_PROFILE": "ops"}, {"ini": f"[default]\ntype = access_key\naccess_key_id = a\naccess_key_secret = s\n[ops]\ntype = ecs_ram_role\nrole_name = {ROLE_NAME}\n"}, "profile/ecs_ram_role"),
        ("the default credentials.ini of the Python library", {}, {"default-ini": "[default]\ntype = access_key\naccess_key_id = LTAI5tIni\naccess_key_secret = s\n"}, "profile/static_ak"),
        ("nothing configured: the ECS instance role", {}, {}, "ecs_ram_role"),
        ("nothing configured, role named by ALIBABA_CLOUD_ECS_METADATA", {"ALIBABA_CLOUD_ECS_METADATA": ROLE_NAME}, {}, "ecs_ram_role"),
        ("ECS disabled: ALIBABA_CLOUD_CREDENTIALS_URI", {**no_ecs, "ALIBABA_CLOUD_CREDENTIALS_URI": f"{fake}/creds"}, {}, "credential_uri"),
    ]


def write_files(home, files):
    os.makedirs(os.path.join(home, ".aliyun"), exist_ok=True)
    os.makedirs(os.path.join(home, ".alibabacloud"), exist_ok=True)
    with open(os.path.join(home, "oidc-token"), "w") as f:
        f.write("interop-oidc-token")
    with open(os.path.join(home, "print-creds.sh"), "w") as f:
        payload = json.dumps({"mode": "StsToken", "access_key_id": TEMP["AccessKeyId"], "access_key_secret": TEMP["AccessKeySecret"], "sts_token": TEMP["SecurityToken"], "expiration": expiration()})
        f.write(f"#!/bin/sh\nprintf '%s' '{payload}'\n")
    if "cli" in files:
        with open(os.path.join(home, ".aliyun", "config.json"), "w") as f:
            json.dump(files["cli"], f, indent=4)
    if "ini" in files:
        with open(os.path.join(home, "credentials.ini"), "w") as f:
            f.write(files["ini"])
    if "default-ini" in files:
        with open(os.path.join(home, ".alibabacloud", "credentials.ini"), "w") as f:
            f.write(files["default-ini"])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary")
    parser.add_argument("--probe", action="store_true")
    parser.add_argument("--fake-port", type=int)
    args = parser.parse_args()
    if args.probe:
        probe(args.fake_port)
        return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Fake)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    fake = f"http://127.0.0.1:{port}"
    passed = failed = 0
    with tempfile.TemporaryDirectory() as scratch:
        for index, (name, env, files, expected) in enumerate(cases("@HOME@", fake)):
            home = os.path.join(scratch, f"case-{index}")
            os.makedirs(home)
            subst = lambda v: v.replace("@HOME@", home) if isinstance(v, str) else v
            env = {k: subst(v) for k, v in env.items()}
            files = json.loads(json.dumps(files).replace("@HOME@", home))
            write_files(home, files)
            base = {"PATH": os.environ.get("PATH", ""), "HOME": home, "NO_COLOR": "1"}
            python = subprocess.run(
                [sys.executable, __file__, "--probe", "--fake-port", str(port)],
                env={**base, **env}, capture_output=True, text=True, timeout=60,
            )
            try:
                answer = json.loads(python.stdout.strip().splitlines()[-1])
                library = answer["provider"].removeprefix("default/")
                meant = sorted(set(answer["meant"]))
            except (IndexError, ValueError, KeyError):
                library, meant = f"ERROR no answer: {python.stderr[-300:]}", []
            ours = subprocess.run(
                [args.binary, "credentials"],
                cwd=home,
                env={**base, **env, "ALIBABA_CLOUD_STS_ENDPOINT": fake, "ALIBABA_CLOUD_IMDS_ENDPOINT": fake},
                capture_output=True, text=True, timeout=60,
            )
            rust = next(
                (line.split(":", 1)[1].strip() for line in ours.stdout.splitlines() if line.startswith("provider:")),
                f"ERROR exit {ours.returncode}: {ours.stderr.strip()[-300:]}",
            )
            ok = library == rust == expected
            passed += ok
            failed += not ok
            detail = f"library={library} edas-rollback={rust}"
            if meant:
                detail += f" (library's HTTP meant for {', '.join(meant)}, served on loopback)"
            if not ok:
                detail += f" expected={expected}"
            print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}", flush=True)
    server.shutdown()
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
