"""The AWS credentials endpoint (SPEC §7 "AWS", issue 9 item 5), end to end:
a profile's [profiles.NAME.aws] role is assumed through an HTTPS STS
stand-in that checks every SigV4 signature with botocore's own code
(sts_standin.py); ferry serves the result in the ECS container format at
GET /_ferry/aws/credentials for the run's token (Authorization: TOKEN), and
the real awscli reads it with `aws configure export-credentials`.

Wiring contract (the server side is the lead's): the profile
    [profiles.aws1.aws]
    role_arn = "arn:aws:iam::123456789012:role/demo"
    region = "us-east-1"
    credential_process = "/path/to/script"
    sts_endpoint = "https://127.0.0.1:PORT/"
a --client-tokens line `TOKEN aws1`, and --origin-ca <TestCA> so that ferry
trusts the stand-in. Every test asserts that no token or secret reached
ferry's output."""

import http.client
import json
import os
import re
import shutil
import subprocess
import time
import unittest

from harness import ProxyTestCase, TestCA, clean_env, ferry_output
from sts_standin import StsStandin

ROLE = "arn:aws:iam::123456789012:role/demo"
ROLE_SHORT = "arn:aws:iam::123456789012:role/short"
ROLE_BAD = "arn:aws:iam::123456789012:role/bad"
BASE_KEY, BASE_SECRET, BASE_TOKEN = "AKIDFERRYBASE0001", "base-secret-Qw7Er9Ty1Ui3", "base-session-Zx8Cv6Bn4"
WRONG_SECRET = "wrong-secret-Lk2Jh4Gf6Ds8"
TOKEN_AWS = "aws1-Hn3Jm5Kl7Pq9Rs2Tu4Vw"
TOKEN_SHORT = "short-Ab1Cd3Ef5Gh7Ij9Kl2"
TOKEN_BAD = "bad-Mn4Op6Qr8St1Uv3Wx5Y"
TOKEN_PLAIN = "plain-Za9Yb7Xc5Wd3Ve1Uf2"
TOKENS = (TOKEN_AWS, TOKEN_SHORT, TOKEN_BAD, TOKEN_PLAIN)
PATH = "/_ferry/aws/credentials"
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def write(path, text, mode=0o600):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def aws_cli():
    # Debian's awscli package first (what install-deps.sh installs).
    return "/usr/bin/aws" if os.access("/usr/bin/aws", os.X_OK) else shutil.which("aws")


class AwsCredentialsTest(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ca = TestCA(cls.tmp)
        cls.sts = StsStandin(cls.tmp, cls.ca, secrets={BASE_KEY: BASE_SECRET})
        cls.addClassCleanup(cls.sts.stop)
        cls.sts.expiry_seconds[ROLE_SHORT] = 240  # inside the 5-minute margin: never cached
        good = json.dumps(dict(Version=1, AccessKeyId=BASE_KEY, SecretAccessKey=BASE_SECRET,
                               SessionToken=BASE_TOKEN))
        bad = json.dumps(dict(Version=1, AccessKeyId=BASE_KEY, SecretAccessKey=WRONG_SECRET))
        cls.good_script = write(os.path.join(cls.tmp, "creds-good.sh"), f"#!/bin/sh\ncat <<'EOF'\n{good}\nEOF\n", 0o700)
        cls.bad_script = write(os.path.join(cls.tmp, "creds-bad.sh"), f"#!/bin/sh\ncat <<'EOF'\n{bad}\nEOF\n", 0o700)
        cls.config = write(os.path.join(cls.tmp, "aws.toml"), f"""
[profiles.aws1.aws]
role_arn = "{ROLE}"
region = "us-east-1"
credential_process = "{cls.good_script}"
sts_endpoint = "{cls.sts.url}"

[profiles.short.aws]
role_arn = "{ROLE_SHORT}"
region = "us-east-1"
session_duration = "15m"
session_name = "short-run"
external_id = "ext-42"
credential_process = "{cls.good_script}"
sts_endpoint = "{cls.sts.url}"

[profiles.bad.aws]
role_arn = "{ROLE_BAD}"
region = "us-east-1"
credential_process = "{cls.bad_script}"
sts_endpoint = "{cls.sts.url}"

[profiles.plain]
""", 0o644)
        cls.tokens = write(os.path.join(cls.tmp, "tokens"),
                           f"{TOKEN_AWS} aws1\n{TOKEN_SHORT} short\n{TOKEN_BAD} bad\n{TOKEN_PLAIN} plain\n")
        cls.ferry = cls.start_ferry("--config", cls.config, "--client-tokens", cls.tokens,
                                    "--origin-ca", cls.ca.ca_cert)

    def setUp(self):
        super().setUp()
        self.addCleanup(self.assertNoSecretInOutput)

    def assertNoSecretInOutput(self):
        out = ferry_output(self.ferry)
        for s in (*TOKENS, BASE_SECRET, BASE_TOKEN, WRONG_SECRET):
            self.assertNotIn(s, out, "a token or base secret reached ferry's output")
        for c in list(self.sts.issued):
            self.assertNotIn(c["SecretAccessKey"], out, "an assumed role's secret reached ferry's output")
            self.assertNotIn(c["SessionToken"], out, "an assumed role's session token reached ferry's output")

    def fetch(self, authorization=None, method="GET", path=PATH):
        conn = http.client.HTTPConnection("127.0.0.1", self.ferry.port, timeout=20)
        try:
            headers = {} if authorization is None else {"Authorization": authorization}
            conn.request(method, path, headers=headers)
            r = conn.getresponse()
            body = r.read()
            return r.status, r.getheader("Content-Type", ""), body
        finally:
            conn.close()

    def fetch_json(self, authorization=None):
        status, ctype, body = self.fetch(authorization)
        self.assertTrue(ctype.startswith("application/json"), (status, ctype, body))
        return status, json.loads(body)

    def ok_calls_for(self, role):
        return [c for c in self.sts.ok_calls() if c["form"].get("RoleArn") == role]

    # -- the endpoint -------------------------------------------------------
    def test_the_runs_token_gets_the_assumed_role_in_ecs_format(self):
        status, doc = self.fetch_json(TOKEN_AWS)
        self.assertEqual(status, 200, doc)
        self.assertEqual(set(doc), {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"})
        self.assertRegex(doc["Expiration"], ISO_Z)
        calls = self.ok_calls_for(ROLE)
        self.assertGreaterEqual(len(calls), 1)
        issued = [c["issued"] for c in calls]
        self.assertIn(doc["AccessKeyId"], [i["AccessKeyId"] for i in issued])
        mine = next(i for i in issued if i["AccessKeyId"] == doc["AccessKeyId"])
        self.assertEqual(doc["SecretAccessKey"], mine["SecretAccessKey"])
        self.assertEqual(doc["Token"], mine["SessionToken"])
        self.assertEqual(doc["Expiration"], mine["Expiration"])
        # The AssumeRole as STS saw it: signed with the base credentials (and their token).
        form, headers = calls[0]["form"], {k.lower(): v for k, v in calls[0]["headers"].items()}
        self.assertEqual(form, {"Action": "AssumeRole", "Version": "2011-06-15", "RoleArn": ROLE,
                                "RoleSessionName": "ferry", "DurationSeconds": "3600"})
        self.assertTrue(headers["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={BASE_KEY}/"))
        self.assertEqual(headers["x-amz-security-token"], BASE_TOKEN)

    def test_credentials_are_cached_until_five_minutes_before_expiry(self):
        s1, first = self.fetch_json(TOKEN_AWS)
        before = len(self.ok_calls_for(ROLE))
        s2, again = self.fetch_json(TOKEN_AWS)
        self.assertEqual((s1, s2), (200, 200))
        self.assertEqual(again["AccessKeyId"], first["AccessKeyId"])
        self.assertEqual(len(self.ok_calls_for(ROLE)), before, "a cached answer must not call STS")

        # A role whose credentials expire within the margin is assumed again each time.
        s1, a = self.fetch_json(TOKEN_SHORT)
        s2, b = self.fetch_json(TOKEN_SHORT)
        self.assertEqual((s1, s2), (200, 200), (a, b))
        self.assertNotEqual(a["AccessKeyId"], b["AccessKeyId"])
        calls = self.ok_calls_for(ROLE_SHORT)
        self.assertGreaterEqual(len(calls), 2)
        self.assertEqual(calls[0]["form"]["DurationSeconds"], "900")
        self.assertEqual(calls[0]["form"]["RoleSessionName"], "short-run")
        self.assertEqual(calls[0]["form"]["ExternalId"], "ext-42")

    def test_missing_wrong_or_aws_less_token_is_401(self):
        before = len(self.sts.calls)
        for auth in (None, "not-a-token-of-this-ferry", f"Bearer {TOKEN_AWS}", TOKEN_PLAIN):
            status, doc = self.fetch_json(auth)
            self.assertEqual(status, 401, (auth, doc))
            self.assertIn("error", doc)
            self.assertNotIn("AccessKeyId", doc)
        self.assertEqual(len(self.sts.calls), before, "no STS call without a valid token")

    def test_a_refused_signature_is_a_clear_error_without_secrets(self):
        status, doc = self.fetch_json(TOKEN_BAD)
        self.assertEqual(status, 502, doc)
        self.assertIn("SignatureDoesNotMatch", doc["error"])
        self.assertIn(ROLE_BAD, doc["error"])
        self.assertNotIn(WRONG_SECRET, json.dumps(doc))
        refused = [c for c in self.sts.calls if c["error"] == "SignatureDoesNotMatch"]
        self.assertTrue(refused, "the stand-in checked the signature and refused it")

    # -- awscli --------------------------------------------------------------
    def test_awscli_export_credentials_through_the_endpoint(self):
        cli = aws_cli()
        self.assertIsNotNone(cli, "awscli is not installed (scripts/install-deps.sh test)")
        home = os.path.join(self.tmp, "aws-home")
        os.makedirs(home, exist_ok=True)
        env = {k: v for k, v in clean_env().items() if not k.startswith("AWS_")}
        env.update(HOME=home, AWS_CONFIG_FILE=os.path.join(home, "none"),
                   AWS_SHARED_CREDENTIALS_FILE=os.path.join(home, "none"), AWS_EC2_METADATA_DISABLED="true",
                   AWS_DEFAULT_REGION="us-east-1",
                   AWS_CONTAINER_CREDENTIALS_FULL_URI=f"http://127.0.0.1:{self.ferry.port}{PATH}",
                   AWS_CONTAINER_AUTHORIZATION_TOKEN=TOKEN_AWS)
        r = subprocess.run([cli, "configure", "export-credentials", "--format", "process"], capture_output=True,
                           env=env, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        doc = json.loads(r.stdout)
        self.assertEqual(doc["Version"], 1)
        issued = {i["AccessKeyId"]: i for i in (c["issued"] for c in self.ok_calls_for(ROLE))}
        self.assertIn(doc["AccessKeyId"], issued)
        self.assertEqual(doc["SecretAccessKey"], issued[doc["AccessKeyId"]]["SecretAccessKey"])
        self.assertEqual(doc["SessionToken"], issued[doc["AccessKeyId"]]["SessionToken"])

        env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "wrong-token-for-the-endpoint"
        r = subprocess.run([cli, "configure", "export-credentials", "--format", "process"], capture_output=True,
                           env=env, timeout=60)
        self.assertNotEqual(r.returncode, 0, "a wrong token must not yield credentials")
        self.assertNotIn(b"SecretAccessKey", r.stdout)


class StsStandinTest(unittest.TestCase):
    """The stand-in itself, driven by botocore's own STS client: a good
    signature is answered, a wrong secret is refused as STS does."""

    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.tmp = tempfile.mkdtemp(prefix="ferry-it-sts-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.ca = TestCA(cls.tmp)
        cls.sts = StsStandin(cls.tmp, cls.ca, secrets={BASE_KEY: BASE_SECRET})
        cls.addClassCleanup(cls.sts.stop)

    def client(self, secret):
        import botocore.session
        s = botocore.session.get_session()
        return s.create_client("sts", region_name="us-east-1", endpoint_url=self.sts.url, verify=self.ca.ca_cert,
                                aws_access_key_id=BASE_KEY, aws_secret_access_key=secret,
                                aws_session_token=BASE_TOKEN)

    def test_botocore_signed_assume_role_is_answered(self):
        out = self.client(BASE_SECRET).assume_role(RoleArn=ROLE, RoleSessionName="check", DurationSeconds=900)
        creds = out["Credentials"]
        self.assertEqual(creds["AccessKeyId"], self.sts.issued[-1]["AccessKeyId"])
        self.assertGreater(creds["Expiration"].timestamp(), time.time() + 3000)

    def test_a_wrong_secret_is_refused(self):
        from botocore.exceptions import ClientError
        with self.assertRaises(ClientError) as e:
            self.client(WRONG_SECRET).assume_role(RoleArn=ROLE, RoleSessionName="check")
        self.assertEqual(e.exception.response["Error"]["Code"], "SignatureDoesNotMatch")
        self.assertEqual(e.exception.response["ResponseMetadata"]["HTTPStatusCode"], 403)


if __name__ == "__main__":
    unittest.main()
