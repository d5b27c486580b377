"""Egress policy, client tokens and profiles (SPEC §7, issue 9), end to end:
a strict global policy with a grant; client tokens from --client-tokens
(Basic with the token as password in curl's, requests' and node's proxy
URL, Bearer, SOCKS5 user/password); profiles with their own policy and
inject rules; names resolving to denied addresses refused after DNS. Every
test asserts that no token reached ferry's output."""

import json
import os
import socket
import struct
import subprocess
import unittest

from harness import (TEST_HOSTS, ProxyTestCase, RecordingOrigin, TestCA, ferry_output, field, free_port, get,
                     init_ferry_ca, raw_request, run_ferry_cli)
from origins import TlsEchoOrigin, run_curl, run_node, run_requests

TOKEN_CI = "ci-Xq7mW2vN9pL4tR8yB3kZ"
TOKEN_SEALED = "sealed-J5hD2sF8gK1lM6nP"
TOKEN_GLOBAL = "global-A9bC3dE7fG2hJ5kL"
TOKEN_VIA = "via-Pm4nB6vC8xZ1aS3dF5gH"
TOKENS = (TOKEN_CI, TOKEN_SEALED, TOKEN_GLOBAL, TOKEN_VIA)


def write(path, text, mode=0o600):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def socks5_connect(port, host, dport, user, password, timeout=5):
    """A SOCKS5 CONNECT with RFC 1929 user/password; returns (auth status,
    reply code) — reply None when the authentication failed."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(b"\x05\x01\x02")
        if s.recv(2) != b"\x05\x02":
            return None, None
        u, p = user.encode(), password.encode()
        s.sendall(b"\x01" + bytes([len(u)]) + u + bytes([len(p)]) + p)
        status = s.recv(2)
        if status != b"\x01\x00":
            return status, None
        h = host.encode()
        s.sendall(b"\x05\x01\x00\x03" + bytes([len(h)]) + h + struct.pack(">H", dport))
        reply = s.recv(10)
        return status, reply[1] if len(reply) > 1 else None
    finally:
        s.close()


class PolicyTokensTest(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.origin = cls.start_server(RecordingOrigin())
        cls.upstream = cls.start_server(RecordingOrigin())  # answers absolute-form requests: a forward proxy
        cls.test_ca = TestCA(cls.tmp)
        cls.tls = cls.start_server(TlsEchoOrigin(cls.tmp, cls.test_ca))
        cls.tokens = write(os.path.join(cls.tmp, "tokens"),
                           f"# token profile\n{TOKEN_CI} ci\n{TOKEN_SEALED} sealed\n{TOKEN_GLOBAL}\n{TOKEN_VIA} via\n")
        cls.config = write(os.path.join(cls.tmp, "policy.toml"), f"""
[policy]
mode = "strict"
allow = ["origin.test", "denied.test"]
grants = ["local"]
deny_ips = ["127.0.0.2/32"]

[grants.local]
hosts = ["origin2.test"]

[profiles.ci]
policy = {{ mode = "strict", allow = ["origin.test"] }}

[[profiles.ci.inject]]
host = "origin.test"
header = "X-Profile"
value = "ci"

[profiles.sealed]
policy = {{ mode = "permissive", deny_private = true }}

[profiles.via]
upstream = ["http://127.0.0.1:{cls.upstream.port}"]
""", 0o644)
        cls.hosts = {**TEST_HOSTS, "denied.test": "127.0.0.2"}
        # The profile's inject rule needs the interception CA (plain HTTP is injected without TLS).
        cls.ca_dir = init_ferry_ca(cls.tmp)
        cls.socks_port = free_port()
        cls.ferry = cls.start_ferry("--config", cls.config, "--client-tokens", cls.tokens, "--socks-listen",
                                    f"127.0.0.1:{cls.socks_port}", "--ca-dir", cls.ca_dir, "--connect-ports",
                                    f"{cls.tls.port},{cls.origin.port}", hosts=cls.hosts)
        cls.proxy_port = cls.ferry.port

    def setUp(self):
        super().setUp()
        self.addCleanup(self.assertNoTokenInOutput)

    def assertNoTokenInOutput(self):
        out = ferry_output(self.ferry)
        for t in TOKENS:
            self.assertNotIn(t, out, "a client token reached ferry's output")

    def url(self, host="origin.test", path="/"):
        return f"http://{host}:{self.origin.port}{path}"

    def proxy(self, token, user="run"):
        return f"http://{user}:{token}@127.0.0.1:{self.proxy_port}"

    def request(self, host="origin.test", token=None, bearer=None, path="/"):
        extra = ""
        if bearer:
            extra = f"Proxy-Authorization: Bearer {bearer}\r\n"
        elif token:
            import base64
            extra = "Proxy-Authorization: Basic " + base64.b64encode(f"run:{token}".encode()).decode() + "\r\n"
        return raw_request(self.proxy_port, get(self.url(host, path), extra_headers=extra))

    # -- tokens ---------------------------------------------------------------
    def test_no_token_is_407_with_ferrys_basic_challenge(self):
        before = len(self.origin.requests)
        resp = self.request()
        self.assertFerryError(resp, 407, "http_request_denied", "client token")
        self.assertEqual(resp.header("proxy-authenticate"), 'Basic realm="ferry"')
        self.assertEqual(len(self.origin.requests), before, "nothing reached the origin")

    def test_wrong_or_malformed_token_is_407(self):
        for extra in (dict(token="not-a-valid-token-at-all"), dict(bearer="wrong-but-long-enough-token")):
            with self.subTest(**extra):
                self.assertFerryError(self.request(**extra), 407, "http_request_denied", "not valid")
        resp = raw_request(self.proxy_port, get(self.url(), extra_headers="Proxy-Authorization: Basic %%%\r\n"))
        self.assertFerryError(resp, 407, "http_request_denied", "Basic or Bearer")

    def test_bearer_token_and_the_header_is_not_forwarded(self):
        self.origin.reset()
        resp = self.request(bearer=TOKEN_GLOBAL, path="/bearer")
        self.assertEqual(resp.status, 200)
        first, fields, _ = self.origin.requests[-1]
        self.assertIn(b"/bearer", first.encode() if isinstance(first, str) else first)
        self.assertIsNone(field(fields, "Proxy-Authorization"), "ferry's own Proxy-Authorization is stripped")

    def test_token_in_the_proxy_url_for_curl_requests_and_node(self):
        r = run_curl(self.url(path="/curl"), proxy=self.proxy(TOKEN_GLOBAL))
        self.assertEqual([s for s, _, _ in r.responses], [200], r)
        r = run_requests(self.url(path="/requests"), proxy=self.proxy(TOKEN_GLOBAL))
        self.assertEqual([s for s, _, _ in r.responses], [200], r)
        # node: an https:// URL through a CONNECT tunnel (relayed end to end).
        r = run_node(self.tls.url("/node", "origin.test"), proxy=self.proxy(TOKEN_GLOBAL), cafile=self.test_ca.ca_cert)
        self.assertEqual([s for s, _, _ in r.responses], [200], r)
        r = run_curl(self.url(path="/curl"), proxy=self.proxy("wrong-token-but-long-enough"))
        self.assertEqual([s for s, _, _ in r.responses], [407], r)

    def test_requests_are_logged_with_the_owner_id_not_the_token(self):
        self.assertEqual(self.request(token=TOKEN_GLOBAL, path="/logged").status, 200)
        self.assertTrue(self.ferry.wait_for_event(
            lambda e: e.get("event") == "request" and "/logged" in e.get("target", "") and
            e.get("client_id") == "tokens-file:4"))

    # -- the global policy ------------------------------------------------------
    def test_strict_global_policy_allows_its_hosts_and_grants(self):
        self.assertEqual(self.request(token=TOKEN_GLOBAL).status, 200)
        self.assertEqual(self.request("origin2.test", token=TOKEN_GLOBAL).status, 200, "granted by [grants.local]")
        resp = self.request("bypass.test", token=TOKEN_GLOBAL)
        self.assertFerryError(resp, 403, "http_request_denied", "bypass.test")
        self.assertIn("global policy", resp.header("proxy-status"))

    def test_strict_policy_refuses_connect(self):
        import base64
        auth = "Proxy-Authorization: Basic " + base64.b64encode(f"u:{TOKEN_GLOBAL}".encode()).decode() + "\r\n"
        req = (f"CONNECT bypass.test:{self.tls.port} HTTP/1.1\r\nHost: bypass.test:{self.tls.port}\r\n{auth}\r\n")
        self.assertFerryError(raw_request(self.proxy_port, req.encode(), method="CONNECT"), 403,
                              "http_request_denied", "bypass.test")

    def test_name_resolving_to_a_denied_address_is_refused_after_dns(self):
        resp = self.request("denied.test", token=TOKEN_GLOBAL)
        self.assertFerryError(resp, 403, "destination_ip_prohibited", "127.0.0.2")

    # -- profiles -----------------------------------------------------------------
    def test_profile_policy_and_rules_replace_the_global_ones(self):
        self.origin.reset()
        self.assertEqual(self.request(token=TOKEN_CI, path="/ci").status, 200)
        _, fields, _ = self.origin.requests[-1]
        self.assertEqual(field(fields, "X-Profile"), "ci", "the profile's inject rule applied")
        resp = self.request("origin2.test", token=TOKEN_CI)
        self.assertFerryError(resp, 403, "http_request_denied", "profile ci")
        # The same host without the profile: no header.
        self.assertEqual(self.request(token=TOKEN_GLOBAL, path="/global").status, 200)
        _, fields, _ = self.origin.requests[-1]
        self.assertIsNone(field(fields, "X-Profile"))

    def test_profile_upstream_routes_its_traffic_through_its_own_proxy(self):
        self.origin.reset()
        self.upstream.reset()
        self.assertEqual(self.request(token=TOKEN_VIA, path="/via").status, 200)
        self.assertEqual(len(self.upstream.requests), 1, "the profile's upstream got the request")
        first, _, _ = self.upstream.requests[-1]
        self.assertIn(f"http://origin.test:{self.origin.port}/via", first, "absolute-form to a forward proxy")
        self.assertEqual(self.origin.requests, [])
        # The global route stays direct for the others.
        self.assertEqual(self.request(token=TOKEN_GLOBAL, path="/direct").status, 200)
        self.assertEqual(len(self.upstream.requests), 1)
        self.assertEqual(len(self.origin.requests), 1)

    def test_profile_with_deny_private_refuses_loopback_names(self):
        # Also when another client left a pooled connection to the host.
        self.assertEqual(self.request(token=TOKEN_GLOBAL, path="/pooled").status, 200)
        resp = self.request(token=TOKEN_SEALED)
        self.assertFerryError(resp, 403, "destination_ip_prohibited", "127.0.0.1")

    # -- SOCKS5 -----------------------------------------------------------------
    def test_socks5_user_password_carries_the_token(self):
        status, reply = socks5_connect(self.socks_port, "origin.test", self.origin.port, "run", TOKEN_GLOBAL)
        self.assertEqual((status, reply), (b"\x01\x00", 0))
        status, reply = socks5_connect(self.socks_port, "origin.test", self.origin.port, "run", "wrong-token-xxxxxx")
        self.assertEqual(status, b"\x01\x01")
        # The profile's policy applies to SOCKS5 as well.
        status, reply = socks5_connect(self.socks_port, "origin2.test", self.origin.port, "run", TOKEN_CI)
        self.assertEqual(status, b"\x01\x00")
        self.assertEqual(reply, 2, "connection not allowed by ruleset")

    def test_socks5_without_user_password_is_refused_when_tokens_are_required(self):
        s = socket.create_connection(("127.0.0.1", self.socks_port), timeout=5)
        try:
            s.sendall(b"\x05\x01\x00")
            self.assertEqual(s.recv(2), b"\x05\xff")
        finally:
            s.close()


class PolicyConfigErrorsTest(ProxyTestCase):
    def test_bad_policy_is_a_startup_error_naming_the_key(self):
        bad = write(os.path.join(self.tmp, "bad-policy.toml"), '[policy]\nmode = "strikt"\n', 0o644)
        r = run_ferry_cli(["serve", "--config", bad])
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 2, err)
        self.assertIn("bad-policy.toml:1: policy.mode", err)

    def test_token_naming_an_unknown_profile_is_a_startup_error(self):
        tokens = write(os.path.join(self.tmp, "tokens-unknown"), "a-token-of-sixteen-chars nosuch\n")
        r = run_ferry_cli(["serve", "--client-tokens", tokens, "--listen", f"127.0.0.1:{free_port()}"])
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 2, err)
        self.assertIn("line 1", err)
        self.assertIn("nosuch", err)
        self.assertNotIn("a-token-of-sixteen-chars", err)

    def test_tunnel_refuses_client_tokens(self):
        # A fixed tunnel asks nobody for a token; with the widened default
        # --allow it would be an open relay.
        tokens = write(os.path.join(self.tmp, "tokens-tunnel"), "a-token-of-sixteen-chars\n")
        r = run_ferry_cli(["tunnel", "--listen", f"127.0.0.1:{free_port()}", "--client-tokens", tokens,
                           "origin.test:80"])
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 2, err)
        self.assertIn("--client-tokens", err)

    def test_short_token_is_refused_without_echoing_it(self):
        tokens = write(os.path.join(self.tmp, "tokens-short"), "# c\nshorty\n")
        r = run_ferry_cli(["serve", "--client-tokens", tokens, "--listen", f"127.0.0.1:{free_port()}"])
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 2, err)
        self.assertIn("line 2", err)
        self.assertNotIn("shorty", err)


if __name__ == "__main__":
    unittest.main()
