"""TLS interception with credential injection (SPEC §7, issue 8), end to end
with real clients (curl, python3-requests, python3-httpx, node, openssl
s_client, git) against real TLS origins (origins.py). Every test also
asserts that the injected secret never reached ferry's output."""

import hashlib
import json
import os
import socket
import ssl
import subprocess
import threading
import time
import unittest

from harness import (SMALL_ASAN_QUARANTINE, TEST_HOSTS, ProxyTestCase, RecordingOrigin, TestCA, field, ferry_bin,
                     free_port, rss_kb, sha256_hex, wait_until)
from origins import (CERT_KINDS, GitHttpOrigin, TlsEchoOrigin, cert_sha256, many_hosts, run_curl, run_git_clone,
                     run_httpx, run_node, run_requests, run_s_client, tls_connect)

SECRET = "s3cr3t-ghp-Zq8xK2vN7mW4pL9tR1yB"
API_VERSION = "2024-10-01"
PLACEHOLDER = "sk-placeholder-0000"
REAL_KEY = "sk-live-7Hq2Wm9ZxR4tK8vB3nL6pY1cD5fG0jA"  # longer than the placeholder: lengths change


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def make_ca(tmp, name="ca"):
    d = os.path.join(tmp, name)
    r = subprocess.run([ferry_bin(), "ca", "init", "--ca-dir", d], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"ferry ca init failed: {r.stdout}{r.stderr}")
    return d


class InterceptTest(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.test_ca = TestCA(cls.tmp)  # signs the origins' certificates
        cls.echo = cls.start_server(TlsEchoOrigin(cls.tmp, cls.test_ca))
        cls.bad = {k: cls.start_server(TlsEchoOrigin(cls.tmp, cls.test_ca, cert=k)) for k in CERT_KINDS if k != "good"}
        cls.git = cls.start_server(GitHttpOrigin(cls.tmp, cls.test_ca))
        cls.plain = cls.start_server(RecordingOrigin())
        cls.subst = cls.start_server(TlsEchoOrigin(cls.tmp, cls.test_ca))  # the substitution rule's origin
        cls.ca_dir = make_ca(cls.tmp)
        cls.ferry_ca = os.path.join(cls.ca_dir, "ca.pem")
        rules = [f"""
[[inject]]
host = "origin.test"
port = {cls.echo.port}
header = "Authorization"
value = "Bearer ${{env:FERRY_TEST_TOKEN}}"
add_headers = {{ "X-Api-Version" = "{API_VERSION}" }}
remove_headers = ["X-Remove-Me"]
"""]
        for kind, origin in cls.bad.items():
            rules.append(f'[[inject]]\nhost = "origin.test"\nport = {origin.port}\nheader = "X-Kind"\nvalue = "{kind}"\n')
        rules.append(f'[[inject]]\nhost = "origin.test"\nport = {cls.git.port}\nheader = "X-Git-Token"\n'
                     f'value = "${{env:FERRY_TEST_TOKEN}}"\n')
        rules.append(f'[[inject]]\nhost = "*.origin.test"\nport = {cls.echo.port}\nheader = "Authorization"\n'
                     f'value = "Bearer ${{env:FERRY_TEST_TOKEN}}"\n')
        rules.append('[[inject]]\nhost = "exact.test"\nheader = "Authorization"\n'
                     'value = "Bearer ${env:FERRY_TEST_TOKEN}"\n')
        cls.key_file = write(os.path.join(cls.tmp, "llm_key"), REAL_KEY + "\n", 0o600)
        rules.append(f'[[inject]]\nhost = "origin.test"\nport = {cls.subst.port}\n'
                     f'substitute = {{ placeholder = "{PLACEHOLDER}", value = "${{file:{cls.key_file}}}" }}\n'
                     'scrub_responses = true\n')
        cls.request_log = os.path.join(cls.tmp, "requests.jsonl")
        cls.config = write(os.path.join(cls.tmp, "intercept.toml"), f"""
[interception]
ca_dir = "{cls.ca_dir}"
origin_ca = "{cls.test_ca.ca_cert}"
request_log = "{cls.request_log}"
request_log_bodies = true
""" + "".join(rules))
        ports = [cls.echo.port, cls.git.port, cls.subst.port, *(o.port for o in cls.bad.values())]
        cls.ferry = cls.start_ferry("--config", cls.config, "--connect-ports", ",".join(map(str, ports)),
                                    "--log-level", "debug", env={"FERRY_TEST_TOKEN": SECRET, **SMALL_ASAN_QUARANTINE},
                                    hosts={**TEST_HOSTS, **many_hosts(40)})
        cls.proxy = f"http://127.0.0.1:{cls.ferry.port}"

    def setUp(self):
        super().setUp()
        self.addCleanup(self.assertNoSecretInOutput, self.ferry)

    def assertNoSecretInOutput(self, ferry):
        if os.path.exists(self.request_log):
            with open(self.request_log, "rb") as f:
                text = f.read()
            for secret in (SECRET, REAL_KEY):
                self.assertNotIn(secret.encode(), text, "a secret reached the request log")
        for secret in (SECRET, REAL_KEY):
            self.assertNotIn(secret, ferry.stderr_text())
            with open(ferry.stdout_path, "rb") as f:
                self.assertNotIn(secret.encode(), f.read())

    def url(self, path="/", host="origin.test", origin=None):
        return (origin or self.echo).url(path, host)

    def assertInjected(self, j):
        self.assertEqual(field(j["headers"], "Authorization"), f"Bearer {SECRET}", j["headers"])
        self.assertEqual(field(j["headers"], "X-Api-Version"), API_VERSION, j["headers"])

    # -- header rules with every client --------------------------------------
    def test_curl_header_set_replace_add_remove(self):
        r = run_curl(self.url("/a?b=1"), self.proxy, self.ferry_ca,
                     headers=["Authorization: Bearer placeholder-from-the-sandbox", "X-Remove-Me: yes",
                              "X-Api-Version: old", "X-Kept: 1"])
        self.assertEqual((r.returncode, r.status), (0, 200), r)
        j = r.json()
        self.assertInjected(j)
        names = [n.lower() for n, _ in j["headers"]]
        self.assertEqual(names.count("authorization"), 1)
        self.assertEqual(names.count("x-api-version"), 1)
        self.assertNotIn("x-remove-me", names)
        self.assertEqual(field(j["headers"], "X-Kept"), "1")
        self.assertEqual(j["target"], "/a?b=1")
        self.assertEqual(j["sni"], "origin.test", "ferry's origin leg sends SNI")
        reqs = [e for e in self.ferry.events("request") if e.get("target", "").startswith("https://origin.test")]
        self.assertTrue(reqs, "the intercepted request is logged with its origin")

    def test_python_requests_httpx_and_node(self):
        for name, client in (("requests", run_requests), ("httpx", run_httpx), ("node", run_node)):
            with self.subTest(client=name):
                r = client(self.url("/from-" + name), self.proxy, self.ferry_ca, headers=["X-Remove-Me: 1"])
                self.assertEqual((r.returncode, r.status), (0, 200), r)
                j = r.json()
                self.assertInjected(j)
                self.assertIsNone(field(j["headers"], "X-Remove-Me"))

    def test_keep_alive_both_sides(self):
        r = run_requests(self.url("/k"), self.proxy, self.ferry_ca, repeat=3)
        self.assertEqual([s for s, _, _ in r.responses], [200, 200, 200], r)
        ids = {r.json(i)["connection_id"] for i in range(3)}
        self.assertEqual(len(ids), 1, "ferry reused one origin connection for the three requests")
        for i in range(3):
            self.assertInjected(r.json(i))

    def test_pipelined_requests_answered_in_order(self):
        c = tls_connect(self.echo.port, "origin.test", self.ferry_ca, proxy_port=self.ferry.port)
        host = f"origin.test:{self.echo.port}"
        c.send(b"".join(f"GET /p{i} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode() for i in range(5)))
        targets = []
        for _ in range(5):
            resp = c.read_response()
            self.assertEqual(resp.status, 200)
            targets.append(json.loads(resp.body)["target"])
        self.assertEqual(targets, [f"/p{i}" for i in range(5)])
        c.close()

    def test_openssl_s_client_sees_ferry_leaf_for_rule_hosts(self):
        req = f"GET /s HTTP/1.1\r\nHost: origin.test:{self.echo.port}\r\nConnection: close\r\n\r\n".encode()
        r = run_s_client(self.echo.port, "origin.test", self.proxy, self.ferry_ca, host="origin.test", request=req)
        self.assertEqual(r.info["verify_code"], 0, r)
        self.assertNotEqual(r.info["peer_cert_sha256"], cert_sha256(self.echo.cert))
        self.assertEqual(r.status, 200, r)
        self.assertInjected(json.loads(r.body))

    def test_git_clone_through_interception(self):
        dest = os.path.join(self.tmp, f"clone-{time.monotonic_ns()}")
        r = run_git_clone(self.git.url("origin.test"), dest, self.proxy, self.ferry_ca)
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(r.info["head"], self.git.head)
        intercepted = [e for e in self.ferry.events("request")
                       if e.get("target", "").startswith(f"https://origin.test:{self.git.port}/")]
        self.assertTrue(intercepted, "git's requests went through ferry's interception")

    # -- substitution and scrubbing ------------------------------------------
    def test_substitution_in_headers_and_target(self):
        r = run_curl(self.url(f"/v1/models?key={PLACEHOLDER}", origin=self.subst), self.proxy, self.ferry_ca,
                     headers=[f"x-api-key: {PLACEHOLDER}", f"X-Other: a-{PLACEHOLDER}-b"])
        self.assertEqual((r.returncode, r.status), (0, 200), r)
        j = self.subst.requests[-1]
        self.assertEqual(j["target"], f"/v1/models?key={REAL_KEY}")
        self.assertEqual(field(j["headers"], "x-api-key"), REAL_KEY)
        self.assertEqual(field(j["headers"], "X-Other"), f"a-{REAL_KEY}-b")
        # The echo of the real key comes back scrubbed: the client never holds it.
        self.assertNotIn(REAL_KEY.encode(), r.body)
        self.assertIn(PLACEHOLDER.encode(), r.body)

    def body_with_placeholders(self, n=3):
        return b"".join(b"chunk %d {\"key\": \"%s\"} " % (i, PLACEHOLDER.encode()) for i in range(n)) + b"end"

    def expected_body(self, body):
        return body.replace(PLACEHOLDER.encode(), REAL_KEY.encode())

    def test_substitution_in_content_length_body(self):
        body = self.body_with_placeholders()
        r = run_curl(self.url("/upload", origin=self.subst), self.proxy, self.ferry_ca, method="POST", body=body)
        self.assertEqual((r.returncode, r.status), (0, 200), r)
        j = self.subst.requests[-1]
        self.assertEqual(j["body_sha256"], sha256_hex(self.expected_body(body)))
        self.assertEqual(j["body_length"], len(self.expected_body(body)))
        self.assertEqual(j["framing"], "chunked", "lengths differ: ferry streams the body chunked")

    def test_substitution_across_chunks_and_segments(self):
        body = self.body_with_placeholders(2)
        cut = body.index(PLACEHOLDER.encode()) + 5  # inside the first placeholder
        for name, client in (("requests", run_requests), ("node", run_node)):
            with self.subTest(client=name):
                r = client(self.url("/chunks", origin=self.subst), self.proxy, self.ferry_ca, method="POST",
                           chunks=[body[:cut], body[cut:cut + 3], body[cut + 3:]])
                self.assertEqual((r.returncode, r.status), (0, 200), r)
                j = self.subst.requests[-1]
                self.assertEqual(j["body_sha256"], sha256_hex(self.expected_body(body)), j)
        # Split across TLS records and TCP segments, with pauses, on a raw connection.
        c = tls_connect(self.subst.port, "origin.test", self.ferry_ca, proxy_port=self.ferry.port)
        head = (f"POST /raw HTTP/1.1\r\nHost: origin.test:{self.subst.port}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        c.send(head + body[:cut])
        time.sleep(0.2)
        c.send(body[cut:cut + 1])
        time.sleep(0.2)
        c.send(body[cut + 1:])
        resp = c.read_response()
        self.assertEqual(resp.status, 200)
        self.assertEqual(json.loads(resp.body)["body_sha256"], sha256_hex(self.expected_body(body)))
        c.close()

    def test_scrubbing_of_echoed_body_and_header(self):
        body = self.body_with_placeholders()
        for q in ("", "?chunked=1"):
            with self.subTest(framing=q or "content-length"):
                r = run_curl(self.url("/echo-body" + q, origin=self.subst), self.proxy, self.ferry_ca, method="POST",
                             body=body)
                self.assertEqual((r.returncode, r.status), (0, 200), r)
                self.assertEqual(r.body, body, "the origin echoed the real key; the client sees the placeholder")
        r = run_curl(self.url(f"/header?name=X-Token&value={PLACEHOLDER}", origin=self.subst), self.proxy,
                     self.ferry_ca)
        self.assertEqual(r.header("X-Token"), PLACEHOLDER)

    def test_large_upload_is_streamed(self):
        size = 1 << 30  # 1 GiB
        path = os.path.join(self.tmp, "big-upload")
        block = b"x" * 4093 + PLACEHOLDER.encode()
        with open(path, "wb") as f:
            written = 0
            while written < size:
                f.write(block)
                written += len(block)
        rss_before = rss_kb(self.ferry.pid)
        peak = [rss_before]
        stop = threading.Event()

        def watch():
            while not stop.is_set():
                peak[0] = max(peak[0], rss_kb(self.ferry.pid))
                time.sleep(0.05)

        t = threading.Thread(target=watch)
        t.start()
        try:
            r = run_curl(self.url("/big-upload", origin=self.subst), self.proxy, self.ferry_ca, method="POST",
                         body_file=path, timeout=300)
        finally:
            stop.set()
            t.join()
        self.assertEqual((r.returncode, r.status), (0, 200), r)
        # The file is `block` repeated; a block ends with the placeholder and
        # starts with "x", so no match straddles two blocks.
        out_block = block.replace(PLACEHOLDER.encode(), REAL_KEY.encode())
        expected = hashlib.sha256()
        for _ in range(written // len(block)):
            expected.update(out_block)
        length = len(out_block) * (written // len(block))
        j = self.subst.requests[-1]
        self.assertEqual((j["body_length"], j["body_sha256"]), (length, expected.hexdigest()))
        self.assertLess(peak[0] - rss_before, 32 * 1024, f"ferry's RSS grew {peak[0] - rss_before} KiB")

    # -- the request log -----------------------------------------------------
    def log_lines(self):
        with open(self.request_log) as f:
            return [json.loads(line) for line in f if line.strip()]

    def test_request_log_records_intercepted_requests_redacted(self):
        body = self.body_with_placeholders(1)
        r = run_curl(self.url(f"/logged?token=abc123&page=2", origin=self.subst), self.proxy, self.ferry_ca,
                     method="POST", body=body, headers=["Cookie: session=xyz", "X-Plain: visible"])
        self.assertEqual(r.status, 200, r)
        self.assertTrue(wait_until(lambda: any("/logged" in e.get("url", "") for e in self.log_lines()), 5))
        e = [e for e in self.log_lines() if "/logged" in e.get("url", "")][-1]
        self.assertEqual((e["method"], e["status"], e["route"]), ("POST", 200, "direct"))
        self.assertEqual(e["url"], f"https://origin.test:{self.subst.port}/logged?token=[REDACTED]&page=2")
        headers = dict((n.lower(), v) for n, v in e["request_headers"])
        self.assertEqual(headers["cookie"], "[REDACTED]")
        self.assertEqual(headers["x-plain"], "visible")
        self.assertIn("request_body", e)  # --request-log-bodies
        self.assertIn(PLACEHOLDER, e["request_body"])
        self.assertTrue(e["response_headers"])
        # Whole-body byte counts as read (the client's request, the origin's response).
        self.assertEqual(e["request_bytes"], len(body))
        self.assertGreater(e["response_bytes"], 0)
        self.assertEqual(os.stat(self.request_log).st_mode & 0o777, 0o600)
        # A header rule's request: injected names, never the value.
        r = run_curl(self.url("/logged-header"), self.proxy, self.ferry_ca, headers=["Authorization: Bearer fake"])
        self.assertEqual(r.status, 200, r)
        self.assertTrue(wait_until(lambda: any("/logged-header" in e.get("url", "") for e in self.log_lines()), 5))
        e = [e for e in self.log_lines() if "/logged-header" in e.get("url", "")][-1]
        self.assertTrue(e["injected"])
        self.assertIn("Authorization", e["injected_headers"])
        self.assertEqual(e["rule"], 1)
        self.assertEqual((e["request_bytes"], e["response_bytes"]), (0, len(r.body)))

    # -- what is not intercepted stays end to end ----------------------------
    def test_hosts_without_rules_stay_end_to_end(self):
        # origin2.test has no rule: the tunnel is relayed, the client sees the origin's own certificate.
        r = run_s_client(self.echo.port, "origin2.test", self.proxy, self.test_ca.ca_cert, host="origin2.test")
        self.assertEqual(r.info["verify_code"], 0, r)
        self.assertEqual(r.info["peer_cert_sha256"], cert_sha256(self.echo.cert))

    def test_origin_is_dialled_during_the_client_handshake(self):
        # A new host's origin connection (TCP + TLS) starts while the client
        # handshakes, not with its first request, and that request uses it.
        host = "h31.origin.test"
        def sni_handshakes():
            with self.echo.lock:
                return [h for h in self.echo.handshakes if h.get("sni") == host]
        self.assertEqual(sni_handshakes(), [])
        c = tls_connect(self.echo.port, host, self.ferry_ca, proxy_port=self.ferry.port)
        self.assertTrue(wait_until(lambda: len(sni_handshakes()) == 1, 5),
                        "the origin saw ferry's handshake before any request was sent")
        early = sni_handshakes()[0]
        self.assertTrue(early.get("ok"), early)
        c.send(f"GET /first HTTP/1.1\r\nHost: {host}:{self.echo.port}\r\n\r\n".encode())
        resp = c.read_response()
        self.assertEqual(resp.status, 200)
        j = json.loads(resp.body)
        self.assertEqual(field(j["headers"], "Authorization"), f"Bearer {SECRET}", j["headers"])
        self.assertEqual(j["connection_id"], early["connection_id"], "the first request rode the early connection")
        self.assertEqual(len(sni_handshakes()), 1, "no second origin connection")
        c.close()

    def test_no_early_dial_when_an_idle_origin_connection_is_pooled(self):
        # One worker, so both tunnels see the same pool: the second tunnel's
        # request takes the first one's pooled connection, and no origin
        # handshake is spent on an early dial it would not need.
        ferry = self.start_ferry("--config", self.config, "--connect-ports", str(self.echo.port), "--workers", "1",
                                 env={"FERRY_TEST_TOKEN": SECRET, **SMALL_ASAN_QUARANTINE},
                                 hosts={**TEST_HOSTS, **many_hosts(40)}, name="one-worker")
        self.addCleanup(self.assertNoSecretInOutput, ferry)
        host = "h32.origin.test"
        def sni_handshakes():
            with self.echo.lock:
                return [h for h in self.echo.handshakes if h.get("sni") == host]
        ids = []
        for i in range(2):
            c = tls_connect(self.echo.port, host, self.ferry_ca, proxy_port=ferry.port)
            if i == 1:
                time.sleep(0.3)  # time for an early dial, were there one
                self.assertEqual(len(sni_handshakes()), 1, "no early dial while a pooled connection is idle")
            c.send(f"GET /t{i} HTTP/1.1\r\nHost: {host}:{self.echo.port}\r\n\r\n".encode())
            resp = c.read_response()
            self.assertEqual(resp.status, 200)
            ids.append(json.loads(resp.body)["connection_id"])
            c.close()
        self.assertEqual(ids[0], ids[1], "the second tunnel's request rode the pooled connection")
        self.assertEqual(len(sni_handshakes()), 1)

    # -- the tunnel's host is the only host ---------------------------------
    def test_sni_mismatch_closes_the_tunnel(self):
        with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
            c = tls_connect(self.echo.port, "origin2.test", self.ferry_ca, proxy_port=self.ferry.port,
                            connect_host="origin.test", verify=False)
            c.send(f"GET / HTTP/1.1\r\nHost: origin.test:{self.echo.port}\r\n\r\n".encode())
            if c.read_response() is None:
                raise ConnectionError("closed")
        self.assertTrue(wait_until(lambda: any(e.get("error") == "tls_certificate_error"
                                               for e in self.ferry.events("intercept_tls_failed")), 5))

    def test_host_mismatch_is_421(self):
        c = tls_connect(self.echo.port, "origin.test", self.ferry_ca, proxy_port=self.ferry.port)
        before = len(self.echo.requests)
        c.send(f"GET /x HTTP/1.1\r\nHost: origin2.test:{self.echo.port}\r\n\r\n".encode())
        resp = c.read_response()
        self.assertFerryError(resp, 421, "http_request_denied", "origin2.test")
        c.send(f"GET https://elsewhere.test:{self.echo.port}/ HTTP/1.1\r\nHost: origin.test:{self.echo.port}\r\n\r\n"
               .encode())
        self.assertFerryError(c.read_response(), 421, "http_request_denied", "elsewhere.test")
        # The connection stays usable for a request that is addressed right.
        c.send(f"GET /ok HTTP/1.1\r\nHost: origin.test:{self.echo.port}\r\n\r\n".encode())
        self.assertEqual(c.read_response().status, 200)
        self.assertEqual(len(self.echo.requests), before + 1, "misdirected requests never reach the origin")
        c.close()

    def test_client_offering_only_h2_fails_the_handshake(self):
        with self.assertRaises(ssl.SSLError):
            tls_connect(self.echo.port, "origin.test", self.ferry_ca, proxy_port=self.ferry.port, alpn=("h2",))
        self.assertTrue(wait_until(lambda: any("ALPN" in e.get("details", "")
                                               for e in self.ferry.events("intercept_tls_failed")), 5))

    # -- the origin is verified --------------------------------------------
    def test_bad_origin_certificates_are_502(self):
        for kind, origin in self.bad.items():
            with self.subTest(kind=kind):
                c = tls_connect(origin.port, "origin.test", self.ferry_ca, proxy_port=self.ferry.port)
                c.send(f"GET / HTTP/1.1\r\nHost: origin.test:{origin.port}\r\n\r\n".encode())
                resp = c.read_response()
                self.assertFerryError(resp, 502, "tls_certificate_error", "origin.test")
                # The failure of the origin leg dialled during the handshake
                # answers the first request; the next one dials again.
                handshakes = len(origin.handshakes)
                c.send(f"GET /again HTTP/1.1\r\nHost: origin.test:{origin.port}\r\n\r\n".encode())
                self.assertFerryError(c.read_response(), 502, "tls_certificate_error", "origin.test")
                self.assertTrue(wait_until(lambda: len(origin.handshakes) > handshakes, 5),
                                "the second request dialled the origin again")
                self.assertEqual(origin.requests, [], "no request reaches an origin that failed verification")
                c.close()

    # -- certificates --------------------------------------------------------
    def test_concurrent_first_connects_mint_once(self):
        host = "h7.origin.test"
        results = []

        def one():
            try:
                c = tls_connect(self.echo.port, host, self.ferry_ca, proxy_port=self.ferry.port)
                c.send(f"GET / HTTP/1.1\r\nHost: {host}:{self.echo.port}\r\nConnection: close\r\n\r\n".encode())
                results.append(c.read_response().status)
                c.close()
            except Exception as e:  # noqa: BLE001 - recorded and asserted below
                results.append(repr(e))

        threads = [threading.Thread(target=one) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(results, [200] * 8)
        mints = [e for e in self.ferry.events("leaf_certificate_minted") if e.get("host") == host]
        self.assertEqual(len(mints), 1, mints)

    # -- plain HTTP gets the same rules ---------------------------------------
    def test_plain_http_request_to_a_rule_host_is_injected(self):
        r = run_curl(f"http://exact.test:{self.plain.port}/plain", self.proxy)
        self.assertEqual(r.status, 200, r)
        _, fields, _ = self.plain.requests[-1]
        self.assertEqual(field(fields, "Authorization"), f"Bearer {SECRET}")

    # -- what ferry says about it -------------------------------------------
    def test_route_names_the_rule_and_header_without_the_value(self):
        r = subprocess.run([ferry_bin(), "route", "--config", self.config, f"https://origin.test:{self.echo.port}/x"],
                           capture_output=True, text=True, env={**os.environ, "FERRY_TEST_TOKEN": SECRET})
        out = r.stdout + r.stderr
        self.assertEqual(r.returncode, 0, out)
        self.assertIn("intercepted", out)
        self.assertIn("rule 1", out)
        self.assertIn("Authorization", out)
        self.assertNotIn(SECRET, out)


    def test_env_adds_the_ca_variables(self):
        r = subprocess.run([ferry_bin(), "env", "--config", self.config], capture_output=True, text=True,
                           env={**os.environ, "FERRY_TEST_TOKEN": SECRET})
        self.assertEqual(r.returncode, 0, r.stderr)
        exports = dict(line[len("export "):].split("=", 1) for line in r.stdout.splitlines())
        bundle = os.path.join(self.ca_dir, "bundle.pem")
        for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO"):
            self.assertEqual(exports[name].strip("'"), bundle, name)
        self.assertEqual(exports["NODE_EXTRA_CA_CERTS"].strip("'"), self.ferry_ca)
        self.assertNotIn(SECRET, r.stdout + r.stderr)
        # Without inject rules there is no CA to trust.
        plain = subprocess.run([ferry_bin(), "env"], capture_output=True, text=True)
        self.assertNotIn("SSL_CERT_FILE", plain.stdout)


    def test_check_reports_the_ca_without_values(self):
        r = subprocess.run([ferry_bin(), "check", "--config", self.config], capture_output=True, text=True,
                           env={**os.environ, "FERRY_TEST_TOKEN": SECRET}, timeout=60)
        self.assertIn("interception", r.stdout)
        self.assertIn("CA loaded", r.stdout)
        self.assertNotIn(SECRET, r.stdout + r.stderr)
        self.assertNotIn(REAL_KEY, r.stdout + r.stderr)


class InterceptStartupTest(ProxyTestCase):
    def test_value_that_cannot_be_resolved_is_500_naming_the_rule(self):
        ca_dir = make_ca(self.tmp, "ca-unresolvable")
        token = os.path.join(self.tmp, "token-not-there-yet")
        cfg = write(os.path.join(self.tmp, "unresolvable.toml"),
                    f'[interception]\nca_dir = "{ca_dir}"\n[[inject]]\nhost = "exact.test"\n'
                    f'header = "Authorization"\nvalue = "Bearer ${{exec:cat {token}}}"\n')
        origin = self.start_server(RecordingOrigin())
        f = self.start_ferry("--config", cfg, hosts=TEST_HOSTS)
        r = run_curl(f"http://exact.test:{origin.port}/x", f"http://127.0.0.1:{f.port}")
        self.assertEqual(r.status, 500, r)
        ps = r.header("Proxy-Status")
        self.assertIn("error=proxy_configuration_error", ps)
        self.assertIn("rule 1", ps)
        self.assertIn("exited with status 1", ps)
        self.assertEqual(origin.requests, [], "no request goes out without its credential")
        # Once the command works, the same ferry injects its output (never
        # logged). A failed command is run again at most once a second.
        write(token, SECRET + "\n", 0o600)
        time.sleep(1.1)
        r = run_curl(f"http://exact.test:{origin.port}/y", f"http://127.0.0.1:{f.port}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(field(origin.requests[-1][1], "Authorization"), f"Bearer {SECRET}")
        self.assertNotIn(SECRET, f.stderr_text())

    def test_inject_rules_without_a_ca_is_a_startup_error(self):
        empty = os.path.join(self.tmp, "no-ca")
        cfg = write(os.path.join(self.tmp, "noca.toml"),
                    f'[interception]\nca_dir = "{empty}"\n[[inject]]\nhost = "api.test"\nheader = "X-A"\nvalue = "v"\n')
        r = subprocess.run([ferry_bin(), "serve", "--listen", f"127.0.0.1:{free_port()}", "--config", cfg],
                           capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("ferry ca init", r.stderr)
        r = subprocess.run([ferry_bin(), "check", "--config", cfg], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("ferry ca init", r.stdout)


if __name__ == "__main__":
    unittest.main()
