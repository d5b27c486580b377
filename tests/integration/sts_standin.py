"""An HTTPS stand-in for AWS STS's AssumeRole, for ferry's AWS credentials
endpoint tests (SPEC §7 "AWS"). It checks every request the way STS does,
with botocore's own SigV4 code (python3-botocore): the signature is
recomputed from the request as received (method, path, the headers named in
SignedHeaders, the body) with the secret it knows for the access key id,
and compared. A wrong signature, an unknown key, a stale X-Amz-Date or a
malformed AssumeRole gets 403/400 with STS's error XML; a good one gets
fresh credentials expiring `expiry_seconds` (per role ARN, default 3600)
from now.

    sts = StsStandin(tmpdir, ca, secrets={"AKIDBASE": "base-secret"})
    sts.url            # https://127.0.0.1:PORT/
    sts.calls          # every request: dict(ok, error, form, headers, issued)
    sts.stop()
"""

import datetime
import http.server
import os
import secrets as pysecrets
import ssl
import threading
import urllib.parse
from xml.sax.saxutils import escape

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from origins import issue_cert

SIGV4_TIMESTAMP = "%Y%m%dT%H%M%SZ"
MAX_SKEW = datetime.timedelta(minutes=5)


def error_xml(code, message):
    return (f'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n'
            f"  <Error>\n    <Type>Sender</Type>\n    <Code>{escape(code)}</Code>\n"
            f"    <Message>{escape(message)}</Message>\n  </Error>\n"
            f"  <RequestId>{pysecrets.token_hex(8)}</RequestId>\n</ErrorResponse>\n")


def assume_role_xml(role_arn, session_name, creds):
    return (f'<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n'
            f"  <AssumeRoleResult>\n"
            f"    <AssumedRoleUser>\n      <AssumedRoleId>AROA{pysecrets.token_hex(6).upper()}:"
            f"{escape(session_name)}</AssumedRoleId>\n"
            f"      <Arn>{escape(role_arn.replace(':iam:', ':sts:').replace(':role/', ':assumed-role/'))}/"
            f"{escape(session_name)}</Arn>\n    </AssumedRoleUser>\n"
            f"    <Credentials>\n"
            f"      <AccessKeyId>{creds['AccessKeyId']}</AccessKeyId>\n"
            f"      <SecretAccessKey>{creds['SecretAccessKey']}</SecretAccessKey>\n"
            f"      <SessionToken>{creds['SessionToken']}</SessionToken>\n"
            f"      <Expiration>{creds['Expiration']}</Expiration>\n"
            f"    </Credentials>\n  </AssumeRoleResult>\n"
            f"  <ResponseMetadata>\n    <RequestId>{pysecrets.token_hex(8)}</RequestId>\n"
            f"  </ResponseMetadata>\n</AssumeRoleResponse>\n")


def parse_authorization(value):
    """'AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request,
    SignedHeaders=a;b, Signature=hex' -> dict, or None."""
    if not value or not value.startswith("AWS4-HMAC-SHA256 "):
        return None
    parts = {}
    for item in value[len("AWS4-HMAC-SHA256 "):].split(","):
        k, sep, v = item.strip().partition("=")
        if not sep:
            return None
        parts[k] = v
    scope = parts.get("Credential", "").split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or "SignedHeaders" not in parts or "Signature" not in parts:
        return None
    return dict(access_key=scope[0], date=scope[1], region=scope[2], service=scope[3],
                signed_headers=parts["SignedHeaders"].split(";"), signature=parts["Signature"])


def expected_signature(method, url, headers, body, auth, secret, token, timestamp):
    """The signature botocore computes for this request (the headers
    restricted to the signed ones, the time frozen at X-Amz-Date)."""
    signed = {k: v for k, v in headers.items() if k.lower() in auth["signed_headers"]}
    req = AWSRequest(method=method, url=url, headers=signed, data=body)
    req.context["timestamp"] = timestamp
    signer = SigV4Auth(Credentials(auth["access_key"], secret, token), auth["service"], auth["region"])
    canonical = signer.canonical_request(req)
    names = signer.signed_headers(signer.headers_to_sign(req))
    return signer.signature(signer.string_to_sign(req, canonical), req), names


class StsStandin:
    def __init__(self, tmpdir, ca, secrets, region="us-east-1", expiry_seconds=3600):
        self.secrets = dict(secrets)
        self.region = region
        self.default_expiry = expiry_seconds
        self.expiry_seconds = {}  # role ARN -> seconds
        self.calls = []
        self.issued = []  # every credential handed out (for "no secret in output" checks)
        self.lock = threading.Lock()
        cert, key = issue_cert(ca, os.path.join(tmpdir, "sts-standin"), "sts", ("127.0.0.1", "localhost"))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        standin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                status, xml = standin.answer("POST", self.path, self.headers, body)
                self.reply(status, xml)

            def do_GET(self):
                status, xml = standin.answer("GET", self.path, self.headers, b"")
                self.reply(status, xml)

            def reply(self, status, xml):
                data = xml.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def ok_calls(self):
        with self.lock:
            return [c for c in self.calls if c["ok"]]

    def _record(self, call):
        with self.lock:
            self.calls.append(call)

    def answer(self, method, path, headers, body):
        hdrs = {k: v for k, v in headers.items()}
        call = dict(ok=False, error=None, form={}, headers=hdrs, issued=None)
        status, xml = self._check(method, path, hdrs, body, call)
        call["ok"] = status == 200
        self._record(call)
        return status, xml

    def _check(self, method, path, headers, body, call):
        def refuse(status, code, message):
            call["error"] = code
            return status, error_xml(code, message)

        lower = {k.lower(): v for k, v in headers.items()}
        auth = parse_authorization(lower.get("authorization"))
        if auth is None:
            return refuse(403, "MissingAuthenticationToken", "Request is missing Authentication Token")
        if auth["service"] != "sts" or auth["region"] != self.region:
            return refuse(403, "SignatureDoesNotMatch", "Credential should be scoped to a valid region and service")
        timestamp = lower.get("x-amz-date", "")
        try:
            when = datetime.datetime.strptime(timestamp, SIGV4_TIMESTAMP)
        except ValueError:
            return refuse(403, "IncompleteSignature", "X-Amz-Date is missing or malformed")
        if abs(datetime.datetime.utcnow() - when) > MAX_SKEW or auth["date"] != timestamp[:8]:
            return refuse(403, "SignatureDoesNotMatch", "Signature expired or the scope date is wrong")
        secret = self.secrets.get(auth["access_key"])
        if secret is None:
            return refuse(403, "InvalidClientTokenId", "The security token included in the request is invalid.")
        url = f"https://{lower.get('host', '')}{path}"
        want, names = expected_signature(method, url, headers, body, auth, secret,
                                         lower.get("x-amz-security-token"), timestamp)
        if names != ";".join(auth["signed_headers"]):
            return refuse(403, "SignatureDoesNotMatch", "SignedHeaders do not name exactly the signed headers")
        if "x-amz-security-token" in lower and "x-amz-security-token" not in auth["signed_headers"]:
            return refuse(403, "SignatureDoesNotMatch", "X-Amz-Security-Token is not signed")
        if want != auth["signature"]:
            return refuse(403, "SignatureDoesNotMatch",
                          "The request signature we calculated does not match the signature you provided.")

        if method != "POST" or path != "/":
            return refuse(400, "InvalidAction", "AssumeRole is a POST to /")
        if not lower.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return refuse(400, "InvalidParameterValue", "Content-Type must be application/x-www-form-urlencoded")
        try:
            pairs = urllib.parse.parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=True)
        except ValueError:
            return refuse(400, "MalformedQueryString", "The form body is malformed")
        form = dict(pairs)
        call["form"] = form
        if len(form) != len(pairs):
            return refuse(400, "MalformedQueryString", "A parameter appears twice")
        if form.get("Action") != "AssumeRole" or form.get("Version") != "2011-06-15":
            return refuse(400, "InvalidAction", "Action=AssumeRole&Version=2011-06-15 expected")
        unknown = set(form) - {"Action", "Version", "RoleArn", "RoleSessionName", "DurationSeconds", "ExternalId"}
        if unknown:
            return refuse(400, "InvalidParameterValue", f"Unexpected parameters {sorted(unknown)}")
        role_arn = form.get("RoleArn", "")
        if not role_arn.startswith("arn:aws:iam::") or ":role/" not in role_arn:
            return refuse(400, "ValidationError", "RoleArn is not a role ARN")
        session = form.get("RoleSessionName", "")
        if not 2 <= len(session) <= 64:
            return refuse(400, "ValidationError", "RoleSessionName must be 2 to 64 characters")
        duration = form.get("DurationSeconds", "3600")
        if not duration.isdigit() or not 900 <= int(duration) <= 43200:
            return refuse(400, "ValidationError", "DurationSeconds must be 900 to 43200")

        expiry = self.expiry_seconds.get(role_arn, self.default_expiry)
        expires = datetime.datetime.utcnow().replace(microsecond=0) + datetime.timedelta(seconds=expiry)
        creds = dict(AccessKeyId="ASIA" + pysecrets.token_hex(8).upper(),
                     SecretAccessKey=pysecrets.token_urlsafe(30),
                     SessionToken="IQoJb3JpZ2luX2Vj" + pysecrets.token_urlsafe(60),
                     Expiration=expires.strftime("%Y-%m-%dT%H:%M:%SZ"))
        call["issued"] = creds
        with self.lock:
            self.issued.append(creds)
        return 200, assume_role_xml(role_arn, session, creds)
