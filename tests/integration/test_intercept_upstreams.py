"""TLS interception composed with the upstream features (SPEC §3 and §7,
issue 8 items 4 and 7): the origin leg of an intercepted tunnel follows the
route, so it goes through Squid with Basic and Digest and over an
https:// Squid, through Squid with Negotiate and Apache with real NTLM (a
small MIT KDC bed of its own), through SOCKS5 (microsocks with user/password, dante) with socks5h,
and fails over like any other request. Also: the bounded leaf-certificate
cache with thousands of distinct hosts (mints and RSS), WebSocket/Upgrade
inside an intercepted tunnel, and a `${exec:...}` credential that is re-run
after the origin answered 401.

Every test asserts that the injected secret never reaches ferry's output,
an upstream's logs or anything a client printed or received: the origin
(TlsEchoOrigin) checks the injected header on its side, and the client asks
for paths whose answers never repeat a request header (POST /echo-body
echoes the body only; /token, below, says yes or no).
"""

import concurrent.futures
import hashlib
import os
import socket
import ssl
import subprocess
import time
import unittest
import uuid

from harness import (CURL, SMALL_ASAN_QUARANTINE, TEST_HOSTS, SockReader, TestCA, clean_env, field, free_port,
                     parse_head, rss_kb, wait_until)
from kerberos_bed import GssApache, Kdc, NegotiateSquid
from origins import CERT_KINDS, TlsEchoOrigin, tls_connect
from test_intercept import make_ca, write
from upstreams import (PASSWORD, SOCKS_PASSWORD, SOCKS_USER, USER, WRONG_PASSWORD, Dante, Microsocks,
                       UpstreamTestCase, _read, proxy_url)

SECRET = "s3cr3t-ghp-Up5tr3amZ9kX2vN7mW4pLq"
ORIGIN = "origin.test"
PAYLOAD = b"a request body that comes back unchanged through the intercepted tunnel\n"
PROXY_HOST = "proxy.test.local"  # the Negotiate Squid's SPN host
HOSTS = dict(TEST_HOSTS, **{PROXY_HOST: "127.0.0.1"})
ALICE_PW = "Alice-s3cret-pw-8812"
NTLM_USER = "TESTDOM\\carol"
CAROL_PW = "Carol-s3cret-pw-3307"


class TokenOrigin(TlsEchoOrigin):
    """TlsEchoOrigin plus /token: 200 "token ok" when the request carries
    `Authorization: Bearer <accepted>` (the attribute, changed by the test),
    else 401 "token refused". Neither answer repeats a request header, and
    the expected value never appears in a URL (ferry logs targets). And
    /reflect: the request's Authorization in an X-Reflected header and as
    the body (an API that leaks the credential back, for scrubbing)."""

    accepted = None

    def _answer(self, tls, method, path, q, info, kept, close):
        auth = field(info["headers"], "authorization")
        extra = "Connection: close\r\n" if close else ""
        if path == "/token":
            ok = self.accepted is not None and auth == f"Bearer {self.accepted}"
            status, body = ("200 OK", b"token ok\n") if ok else ("401 Unauthorized", b"token refused\n")
        elif path == "/reflect":
            status, body = "200 OK", f"{auth}\n".encode("latin-1")
            extra += f"X-Reflected: {auth}\r\n"
        else:
            return super()._answer(tls, method, path, q, info, kept, close)
        head = f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
        return tls.sendall(head.encode("latin-1") + body)


class InterceptingCase(UpstreamTestCase):
    """A TLS echo origin, ferry's CA, and a config with header rules for
    origin.test and *.origin.test on the origin's port. Subclasses start the
    upstreams; serve_intercepting() starts ferry with the config."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.test_ca = TestCA(cls.tmp)  # signs the origin's and the https Squid's certificates
        cls.echo = cls.start_server(TokenOrigin(cls.tmp, cls.test_ca))
        cls.ca_dir = make_ca(cls.tmp)
        cls.ferry_ca = os.path.join(cls.ca_dir, "ca.pem")
        cls.config = cls.intercept_config("intercept.toml", "".join(
            f'[[inject]]\nhost = "{host}"\nport = {cls.echo.port}\nheader = "Authorization"\n'
            'value = "Bearer ${env:FERRY_TEST_TOKEN}"\n' for host in (ORIGIN, f"*.{ORIGIN}")))

    @classmethod
    def intercept_config(cls, name, rules):
        """A config file in the temp dir: ferry's CA, the test CA for origins, `rules` ([[inject]] tables)."""
        return write(os.path.join(cls.tmp, name), f"""
[interception]
ca_dir = "{cls.ca_dir}"
origin_ca = "{cls.test_ca.ca_cert}"

{rules}""")

    def setUp(self):
        super().setUp()
        self.secrets = [SECRET]  # beyond upstreams.secret_forms(): checked in every output after the test

    def assertNoSecretsPrinted(self):
        super().assertNoSecretsPrinted()
        for label, text in self.outputs:
            if callable(text):
                text = text()
            for s in self.secrets:
                self.assertNotIn(s, text, f"secret {s!r} appears in {label}:\n{text[-3000:]}")

    def note_file(self, label, path):
        self.note_output(label, lambda: _read(path))

    def note_squid(self, sq):
        self.note_file("squid access.log", sq.access_log_path)
        self.note_file("squid cache.log", sq.cache_log_path)
        return sq

    def serve_intercepting(self, *args, env=None, config=None, **kw):
        return self.serve("--config", config or self.config, "--connect-ports", str(self.echo.port),
                          "--log-level", "debug", *args, env=dict(env or {}, FERRY_TEST_TOKEN=SECRET), **kw)

    # -- clients ---------------------------------------------------------------
    def curl(self, proxy, *args, timeout=30, input=None):
        cmd = [CURL, "-sS", "--noproxy", "", "-x", proxy, *args]
        return subprocess.run(cmd, capture_output=True, timeout=timeout, env=clean_env(), input=input)

    def curl_intercepted(self, ferry, n, mark):
        """curl -v through ferry (trusting ferry's CA): n POSTs of PAYLOAD to
        https://origin.test:PORT/echo-body on one client connection, each with
        `X-Mark: mark`; stdout and stderr are checked for the secret."""
        urls = [self.echo.url("/echo-body", ORIGIN)] * n
        r = self.curl(f"http://127.0.0.1:{ferry.port}", "-v", "--cacert", self.ferry_ca, "--data-binary", "@-",
                      "-H", "Content-Type: application/octet-stream", "-H", f"X-Mark: {mark}", *urls, input=PAYLOAD)
        self.note_output(f"curl {mark} stdout", r.stdout.decode("latin-1"))
        self.note_output(f"curl {mark} stderr", r.stderr.decode("latin-1"))
        return r

    def origin_requests(self, mark):
        """The origin's records of the requests that carried `X-Mark: mark`."""
        return [j for j in list(self.echo.requests) if field(j["headers"], "X-Mark") == mark]

    def raw_intercepted(self, ferry):
        """A TLS connection to the origin through ferry's interception (a
        RawConn); everything it receives is checked for the secret."""
        c = tls_connect(self.echo.port, ORIGIN, self.ferry_ca, proxy_port=ferry.port)
        self.addCleanup(c.close)
        received = bytearray()
        c.reader.record = received.extend
        self.note_output("raw client", lambda: bytes(received).decode("latin-1"))
        return c

    def assertInjectedThrough(self, ferry, route, n=2):
        """n POSTs over one client connection: each answered with PAYLOAD by the
        origin, which got the injected Authorization over TLS with SNI
        origin.test; ferry logged each request with `route`. Returns the
        origin's records."""
        mark = uuid.uuid4().hex
        r = self.curl_intercepted(ferry, n, mark)
        self.assertEqual(r.returncode, 0, r.stderr.decode("latin-1")[-2000:])
        self.assertEqual(r.stdout, PAYLOAD * n, r.stdout.decode("latin-1")[:2000])
        records = self.origin_requests(mark)
        self.assertEqual(len(records), n)
        for j in records:
            self.assertEqual(field(j["headers"], "Authorization"), f"Bearer {SECRET}",
                             [n for n, _ in j["headers"]])
            self.assertEqual(j["sni"], ORIGIN)
            self.assertEqual(j["body_length"], len(PAYLOAD))
        self.assertEqual(len({j["connection_id"] for j in records}), 1,
                         "keep-alive on the origin leg: one origin connection through the route")
        target = self.echo.url("/echo-body", ORIGIN)
        events = self.wait_events(ferry, n, "request", pred=lambda e: e.get("target") == target)
        self.assertEqual([(e["status"], e["route"], e["injected"]) for e in events],
                         [(200, route, "Authorization")] * n, ferry.stderr_text()[-3000:])
        return records

    def assertTunnelled(self, ferry, proxy, user, since=0, host=ORIGIN, most=1):
        """Stops ferry (ending its pooled origin connections: the proxy logs a
        CONNECT when the tunnel ends); the upstream proxy (Squid or Apache)
        saw, after its first `since` log lines, ferry's CONNECT to the origin
        authenticated as `user` (once: one client connection's requests share
        one origin connection; up to `most` for more client connections, as
        each of ferry's workers pools its own), and nothing in the clear: no
        request with an https:// URI."""
        self.assertCleanExit(ferry)
        authority = f"{host}:{self.echo.port}"
        ok = lambda: [(e["status"], e["method"], e["uri"], e["user"]) for e in proxy.access_lines()[since:]
                      if e["status"] == 200]
        wait_until(ok, 5)
        time.sleep(0.2)
        got = ok()
        self.assertTrue(got and len(got) <= most, got)
        self.assertEqual(got, [(200, "CONNECT", authority, user)] * len(got))
        self.assertEqual([e for e in proxy.access_lines() if e["uri"].startswith("https://")], [],
                         "the upstream saw a request in the clear")


class InterceptThroughUpstreamsTest(InterceptingCase):

    # -- Squid: Basic, Digest, https:// (NTLM: InterceptThroughKerberosBedTest) --
    def test_squid_basic_userinfo(self):
        sq = self.note_squid(self.squid(auth="basic", connect_ports=(self.echo.port,)))
        f = self.serve_intercepting("--upstream", sq.url(creds=(USER, PASSWORD)))
        self.assertInjectedThrough(f, sq.url())
        self.assertTunnelled(f, sq, USER)

    def test_squid_basic_user_and_password_file(self):
        sq = self.note_squid(self.squid(auth="basic", connect_ports=(self.echo.port,)))
        f = self.serve_intercepting("--upstream", sq.url(), "--user", USER, "--password-file", self.password_file())
        self.assertInjectedThrough(f, sq.url())
        self.assertTunnelled(f, sq, USER)

    def test_squid_digest(self):
        sq = self.note_squid(self.squid(auth="digest", connect_ports=(self.echo.port,)))
        f = self.serve_intercepting("--upstream", sq.url(creds=(USER, PASSWORD)))
        self.assertInjectedThrough(f, sq.url())
        self.assertTunnelled(f, sq, USER)

    def test_https_squid_basic(self):
        sq = self.note_squid(self.squid(auth="basic", https=True, ca=self.test_ca, connect_ports=(self.echo.port,)))
        self.assertTrue(sq.url().startswith("https://"))
        f = self.serve_intercepting("--upstream", sq.url(creds=(USER, PASSWORD)), "--upstream-ca",
                                    self.test_ca.ca_cert)
        self.assertInjectedThrough(f, sq.url())
        self.assertTunnelled(f, sq, USER)

    def test_substitution_and_scrubbing_through_squid(self):
        # The placeholder becomes the secret in the header and the body on the
        # way to the origin (through Squid); the origin echoes the body in
        # 7-byte chunks, and scrubbing turns the secret back into the
        # placeholder across those chunk boundaries before the client sees it.
        placeholder = "PLACEHOLDER-TOKEN"
        cfg = self.intercept_config("subst.toml", f"""
[[inject]]
host = "origin2.test"
port = {self.echo.port}
substitute = {{ placeholder = "{placeholder}", value = "${{env:FERRY_TEST_TOKEN}}" }}
scrub_responses = true
""")
        sq = self.note_squid(self.squid(auth="basic", connect_ports=(self.echo.port,)))
        f = self.serve_intercepting("--upstream", sq.url(creds=(USER, PASSWORD)), config=cfg)
        body = f"token={placeholder}&again={placeholder}&end".encode()
        mark = uuid.uuid4().hex
        r = self.curl(f"http://127.0.0.1:{f.port}", "-v", "--cacert", self.ferry_ca, "--data-binary", "@-",
                      "-H", f"Authorization: Bearer {placeholder}", "-H", f"X-Mark: {mark}",
                      self.echo.url("/echo-body?chunked=1&chunk=7", "origin2.test"), input=body)
        self.note_output("curl stdout", r.stdout.decode("latin-1"))
        self.note_output("curl stderr", r.stderr.decode("latin-1"))
        self.assertEqual((r.returncode, r.stdout), (0, body), r.stderr.decode("latin-1")[-2000:])
        [j] = self.origin_requests(mark)
        real = body.replace(placeholder.encode(), SECRET.encode())
        self.assertEqual(field(j["headers"], "Authorization"), f"Bearer {SECRET}")
        self.assertEqual((j["body_length"], j["body_sha256"]), (len(real), hashlib.sha256(real).hexdigest()))
        # An origin that reflects the credential in a header and the body.
        r = self.curl(f"http://127.0.0.1:{f.port}", "-i", "--suppress-connect-headers", "--cacert", self.ferry_ca,
                      "-H", f"Authorization: Bearer {placeholder}", self.echo.url("/reflect", "origin2.test"))
        self.note_output("curl -i /reflect", r.stdout.decode("latin-1"))
        head, _, got = r.stdout.partition(b"\r\n\r\n")
        self.assertEqual((r.returncode, got), (0, f"Bearer {placeholder}\n".encode()), r.stdout[:1000])
        self.assertEqual(field(parse_head(head + b"\r\n\r\n")[1], "X-Reflected"), f"Bearer {placeholder}")
        self.assertTunnelled(f, sq, USER, host="origin2.test", most=2)

    def test_origin_certificate_checked_for_the_origin_name_behind_squid(self):
        # Through a CONNECT to Squid at 127.0.0.1, ferry verifies the origin's
        # certificate for origin.test (not the proxy's name): a certificate for
        # origin.test only is accepted, a wrong-name, expired or untrusted one
        # is 502 tls_certificate_error naming the origin.
        origins = {kind: self.start_server(TlsEchoOrigin(self.tmp, self.test_ca, cert=kind, hosts=(ORIGIN,)))
                   for kind in CERT_KINDS}
        cfg = self.intercept_config("kinds.toml", "".join(
            f'[[inject]]\nhost = "{ORIGIN}"\nport = {o.port}\nheader = "Authorization"\n'
            'value = "Bearer ${env:FERRY_TEST_TOKEN}"\n' for o in origins.values()))
        ports = [str(o.port) for o in origins.values()]
        sq = self.note_squid(self.squid(auth="basic", connect_ports=ports))
        f = self.serve_intercepting("--upstream", sq.url(creds=(USER, PASSWORD)), "--connect-ports", ",".join(ports),
                                    config=cfg)
        for kind, origin in origins.items():
            with self.subTest(cert=kind):
                c = tls_connect(origin.port, ORIGIN, self.ferry_ca, proxy_port=f.port)
                self.addCleanup(c.close)
                c.send(f"GET /status/204 HTTP/1.1\r\nHost: {ORIGIN}:{origin.port}\r\n\r\n".encode())
                resp = c.read_response()
                if kind == "good":
                    self.assertEqual(resp.status, 204, resp.raw_head)
                    self.assertEqual(field(origin.requests[-1]["headers"], "Authorization"), f"Bearer {SECRET}")
                else:
                    details = self.assertFerryError(resp, 502, "tls_certificate_error", ORIGIN)
                    self.assertNotIn(f"upstream proxy {sq.url()}", details, "the origin's certificate is at fault")
                    self.assertEqual(origin.requests, [])
        self.assertCleanExit(f)
        tunnels = self.access(sq, len(origins), pred=lambda e: e["method"] == "CONNECT" and e["status"] == 200)
        self.assertEqual(sorted(u for _, _, u, _ in tunnels), sorted(f"{ORIGIN}:{p}" for p in ports),
                         "every origin leg went through Squid")

    def test_squid_wrong_password_is_407_inside_the_tunnel(self):
        # The upstream's refusal is answered inside the intercepted TLS, as it
        # would be to a plain request (SPEC §3: one retry, then 407 with
        # Proxy-Status), and neither password reaches any output.
        sq = self.note_squid(self.squid(auth="basic", connect_ports=(self.echo.port,)))
        f = self.serve_intercepting("--upstream", sq.url(creds=(USER, WRONG_PASSWORD)))
        c = self.raw_intercepted(f)
        c.send(f"GET /denied HTTP/1.1\r\nHost: {ORIGIN}:{self.echo.port}\r\n\r\n".encode())
        details = self.assertFerryError(c.read_response(), 407, "http_request_denied")
        self.assertIn(sq.url(), details)
        self.assertEqual([j for j in self.echo.requests if j["target"] == "/denied"], [])
        denied = self.access(sq, 1)
        self.assertTrue(denied and {s for s, *_ in denied} == {407}, denied)

    def test_untrusted_https_squid_is_502_naming_the_upstream(self):
        # --origin-ca trusts the test CA for origins only: without
        # --upstream-ca the https:// Squid's certificate (same CA) is not
        # trusted, and the 502 inside the tunnel blames the upstream.
        sq = self.note_squid(self.squid(auth="basic", https=True, ca=self.test_ca, connect_ports=(self.echo.port,)))
        f = self.serve_intercepting("--upstream", sq.url(creds=(USER, PASSWORD)))
        c = self.raw_intercepted(f)
        c.send(f"GET /status/204 HTTP/1.1\r\nHost: {ORIGIN}:{self.echo.port}\r\n\r\n".encode())
        details = self.assertFerryError(c.read_response(), 502, "tls_certificate_error")
        self.assertIn(f"upstream proxy {sq.url()}", details)
        self.assertEqual([e for e in sq.access_lines() if e["method"] == "CONNECT"], [], "no CONNECT got through")

    # -- SOCKS5 -----------------------------------------------------------------
    def test_microsocks_socks5h_user_password(self):
        ms = self.daemon(Microsocks(self.tmp, user=SOCKS_USER, password=SOCKS_PASSWORD, hosts=TEST_HOSTS))
        self.note_file("microsocks log", ms.output_path)
        # ferry cannot resolve origin.test itself (hosts=None): only socks5h,
        # the name sent to microsocks, reaches the origin.
        f = self.serve_intercepting("--upstream", ms.url("socks5h", creds=(SOCKS_USER, SOCKS_PASSWORD)), hosts=None)
        self.assertInjectedThrough(f, ms.url("socks5h"))

    def test_dante_socks5h(self):
        da = self.daemon(Dante(self.tmp, hosts=TEST_HOSTS))
        self.note_file("danted log", da.log_path)
        self.note_file("danted output", da.output_path)
        f = self.serve_intercepting("--upstream", da.url("socks5h"), hosts=None)
        self.assertInjectedThrough(f, da.url("socks5h"))

    def test_origin_refused_behind_socks5h_is_502_inside_the_tunnel(self):
        ms = self.daemon(Microsocks(self.tmp, user=SOCKS_USER, password=SOCKS_PASSWORD, hosts=TEST_HOSTS))
        closed = free_port()
        cfg = self.intercept_config("closed.toml", f'[[inject]]\nhost = "{ORIGIN}"\nport = {closed}\n'
                                    'header = "Authorization"\nvalue = "Bearer ${env:FERRY_TEST_TOKEN}"\n')
        f = self.serve_intercepting("--upstream", ms.url("socks5h", creds=(SOCKS_USER, SOCKS_PASSWORD)),
                                    "--connect-ports", str(closed), config=cfg, hosts=None)
        c = tls_connect(closed, ORIGIN, self.ferry_ca, proxy_port=f.port)
        self.addCleanup(c.close)
        c.send(f"GET / HTTP/1.1\r\nHost: {ORIGIN}:{closed}\r\n\r\n".encode())
        # microsocks answers "connection refused" (reply 5): a 502 inside the
        # tunnel naming the SOCKS proxy, not a TLS error.
        details = self.assertFerryError(c.read_response(), 502, "connection_refused")
        self.assertIn(ms.url("socks5h"), details)

    # -- failover ---------------------------------------------------------------
    def test_failover_first_upstream_dead(self):
        dead = proxy_url("http", free_port())
        sq = self.note_squid(self.squid(auth="basic", connect_ports=(self.echo.port,)))
        f = self.serve_intercepting("--upstream", dead, "--upstream", sq.url(creds=(USER, PASSWORD)))
        self.assertInjectedThrough(f, sq.url())
        failed = self.wait_events(f, 1, "upstream_failed")
        self.assertEqual([(e["upstream"], e["error"], e["failover"]) for e in failed],
                         [(dead, "connection_refused", True)], f.stderr_text()[-3000:])
        self.assertTunnelled(f, sq, USER)

    def test_all_upstreams_dead_is_502_inside_the_tunnel(self):
        dead1, dead2 = proxy_url("http", free_port()), proxy_url("http", free_port())
        f = self.serve_intercepting("--upstream", dead1, "--upstream", dead2)
        # The client's TLS with ferry succeeds (ferry answers for the origin);
        # the failure is an HTTP answer inside it, not a TLS error.
        c = self.raw_intercepted(f)
        host = f"{ORIGIN}:{self.echo.port}"
        c.send(f"GET /first HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        resp = c.read_response()
        details = self.assertFerryError(resp, 502, "connection_refused")
        self.assertTrue(dead1 in details or dead2 in details, details)
        self.assertEqual([j for j in self.echo.requests if j["target"] == "/first"], [], "nothing reached the origin")
        # Still usable (a second answer on the same connection), or closed
        # cleanly with close_notify when the 502 said Connection: close.
        c.send(f"GET /second HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        if "close" in (resp.header("connection") or "").lower():
            self.assertIsNone(c.read_response(), "a clean close (close_notify, then EOF) after Connection: close")
        else:
            self.assertFerryError(c.read_response(), 502, "connection_refused")
        evs = self.wait_events(f, 1, "request", pred=lambda e: e.get("target", "").endswith("/first"))
        self.assertEqual([e["status"] for e in evs], [502], f.stderr_text()[-3000:])

    # -- WebSocket / Upgrade ----------------------------------------------------
    def upgrade_through(self, ferry):
        c = self.raw_intercepted(ferry)
        mark = uuid.uuid4().hex
        c.send(f"GET /upgrade HTTP/1.1\r\nHost: {ORIGIN}:{self.echo.port}\r\nX-Mark: {mark}\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "\r\n".encode())
        head = c.read_head()
        self.assertIsNotNone(head, "no answer to the Upgrade request")
        first, fields = parse_head(head)
        self.assertEqual(first.split(" ")[1], "101", head)
        self.assertEqual((field(fields, "upgrade") or "").lower(), "websocket", head)
        for i in range(3):  # bytes both ways, several round trips
            frame = b"\x81\x05hello" + bytes([i]) * (100 * i)
            c.send(frame)
            self.assertEqual(c.recv_exact(len(frame)), frame)
        [j] = self.origin_requests(mark)
        self.assertEqual(field(j["headers"], "Authorization"), f"Bearer {SECRET}",
                         "the injected header reached the origin on the upgrade request")
        self.assertEqual((field(j["headers"], "upgrade") or "").lower(), "websocket")
        c.close()

    def test_websocket_upgrade_direct(self):
        self.upgrade_through(self.serve_intercepting())

    def test_websocket_upgrade_through_squid(self):
        sq = self.note_squid(self.squid(auth="basic", connect_ports=(self.echo.port,)))
        f = self.serve_intercepting("--upstream", sq.url(creds=(USER, PASSWORD)))
        self.upgrade_through(f)
        self.assertTunnelled(f, sq, USER)

    # -- ${exec:...}: re-run after the origin's 401 -----------------------------
    def test_exec_credential_rerun_after_origin_401(self):
        old, new = "tok-OLD-5f2a9c81d3e7", "tok-NEW-b07e44c9a1f6"
        self.secrets += [old, new]
        token = write(os.path.join(self.tmp, "exec-token"), old, 0o600)
        runs = os.path.join(self.tmp, "exec-runs")
        write(runs, "")
        cfg = self.intercept_config("exec.toml", f"""
[[inject]]
host = "{ORIGIN}"
port = {self.echo.port}
header = "Authorization"
value = "Bearer ${{exec:echo run >> {runs}; cat {token}}}"
ttl = "1h"
""")
        f = self.serve_intercepting(config=cfg)
        runs_now = lambda: len(_read(runs).split())

        def token_status():
            r = self.curl(f"http://127.0.0.1:{f.port}", "-v", "--cacert", self.ferry_ca, "-o", "/dev/null",
                          "-w", "%{http_code}", self.echo.url("/token", ORIGIN))
            self.note_output("curl /token stdout", r.stdout.decode("latin-1"))
            self.note_output("curl /token stderr", r.stderr.decode("latin-1"))
            self.assertEqual(r.returncode, 0, r.stderr.decode("latin-1")[-2000:])
            sent = field([j for j in self.echo.requests if j["path"] == "/token"][-1]["headers"], "Authorization")
            return int(r.stdout), sent

        self.echo.accepted = old
        self.addCleanup(setattr, self.echo, "accepted", None)
        self.assertEqual(token_status(), (200, f"Bearer {old}"))
        self.assertEqual(runs_now(), 1)
        self.assertEqual(token_status(), (200, f"Bearer {old}"))
        self.assertEqual(runs_now(), 1, "within the ttl the command's output is reused")
        # The token rotates: the file has the new one, the origin accepts only it.
        write(token, new, 0o600)
        self.echo.accepted = new
        self.assertEqual(token_status(), (401, f"Bearer {old}"), "the cached value is used until the origin refuses it")
        self.assertEqual(token_status(), (200, f"Bearer {new}"), "after the 401 ferry ran the command again")
        self.assertEqual(runs_now(), 2)
        self.assertEqual(token_status(), (200, f"Bearer {new}"))
        self.assertEqual(runs_now(), 2, "one re-run per 401, then the ttl holds again")


class InterceptThroughKerberosBedTest(InterceptingCase):
    """Squid with Negotiate and Apache with real NTLM (kerberos_bed): a KDC
    and proxies of this class's own, as they start in well under a second
    each (measured: KDC 0.1 s, Squid 0.2 s), so test_negotiate.py's slower
    bed (nginx, two users, ticket expiry) is not started twice.

    NTLM runs against Apache + gss-ntlmssp, which verifies the password:
    Squid's ntlm_fake_auth sends a type-2 message whose target name lies
    outside the message, which ferry refuses on purpose
    (test_ntlm.test_malformed_type2_is_refused)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.kdc = Kdc(cls.tmp, proxy_host=PROXY_HOST)
        cls.addClassCleanup(cls.kdc.stop)
        cls.kdc.add_user("alice", ALICE_PW)
        cls.neg_squid = NegotiateSquid(cls.tmp, cls.kdc, hosts=TEST_HOSTS, connect_ports=(cls.echo.port,))
        cls.addClassCleanup(cls.neg_squid.stop, 5, False)
        cls.alice_env = cls.kdc.kinit("alice", ALICE_PW, os.path.join(cls.tmp, "alice.ccache"))

    def setUp(self):
        super().setUp()
        self.secrets.append(ALICE_PW)
        self.note_squid(self.neg_squid)

    def test_negotiate_squid(self):
        up = f"http://{PROXY_HOST}:{self.neg_squid.port}"
        before = len(self.neg_squid.access_lines())
        f = self.serve_intercepting("--upstream", up, env=self.alice_env, hosts=HOSTS)
        self.assertInjectedThrough(f, up)
        self.assertTunnelled(f, self.neg_squid, "alice@TEST.LOCAL", since=before)
        self.assertEqual([e for e in f.logs() if e.get("level") in ("warn", "error")], [])

    def test_negotiate_parallel_tunnels(self):
        # 12 clients at once, each its own intercepted tunnel: parallel origin
        # connections through Squid, each needing its own fresh token (Squid's
        # replay cache refuses a reused one).
        up = f"http://{PROXY_HOST}:{self.neg_squid.port}"
        before = len(self.neg_squid.access_lines())
        f = self.serve_intercepting("--upstream", up, "--auth", "negotiate", env=self.alice_env, hosts=HOSTS)
        marks = [uuid.uuid4().hex for _ in range(12)]
        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            results = list(pool.map(lambda m: self.curl_intercepted(f, 2, m), marks))
        self.assertEqual([(r.returncode, r.stdout) for r in results], [(0, PAYLOAD * 2)] * 12,
                         [r.stderr.decode("latin-1")[-300:] for r in results if r.returncode])
        for m in marks:
            self.assertEqual([field(j["headers"], "Authorization") for j in self.origin_requests(m)],
                             [f"Bearer {SECRET}"] * 2)
        self.assertCleanExit(f)
        lines = self.neg_squid.access_lines()[before:]
        self.assertTrue(lines)
        self.assertEqual({(e["status"], e["method"], e["user"]) for e in lines},
                         {(200, "CONNECT", "alice@TEST.LOCAL")}, "--auth negotiate: a token on every connection")
        replays = [l for l in self.neg_squid.cache_log_text().splitlines() if "replay" in l.lower() and
                   "replay cache directory" not in l]
        self.assertEqual(replays, [])
        self.assertEqual([e for e in f.logs() if e.get("level") in ("warn", "error")], [])

    def test_apache_ntlm(self):
        apache = GssApache(self.tmp, self.kdc, hosts=TEST_HOSTS, connect_ports=(self.echo.port,),
                           ntlm_users={NTLM_USER: CAROL_PW})
        self.addCleanup(apache.stop)
        self.note_file("apache access.log", apache.access_log_path)
        self.note_file("apache error.log", apache.error_log_path)
        self.secrets.append(CAROL_PW)
        up = f"http://{PROXY_HOST}:{apache.port}"
        # No Kerberos ticket: NTLM is what ferry has to offer.
        env = dict(self.kdc.env(), KRB5CCNAME=f"FILE:{self.tmp}/no-such.ccache")
        f = self.serve_intercepting("--upstream", up, "--auth", "ntlm", "--user", NTLM_USER, "--password-file",
                                    self.password_file(CAROL_PW), env=env, hosts=HOSTS)
        self.assertInjectedThrough(f, up)
        self.assertTunnelled(f, apache, NTLM_USER)


class LeafCacheBoundTest(InterceptingCase):
    """The leaf cache holds at most --leaf-cache-size hosts: with more
    distinct hosts the least recently used is minted again, and ferry's RSS
    stops growing once the cache is full. Each visit is a CONNECT and a TLS
    handshake with ferry (verified against ferry's CA for that name); no
    request goes to the origin, so ferry never resolves the names."""

    def handshake(self, ferry, host):
        raw = socket.create_connection(("127.0.0.1", ferry.port), 10)
        try:
            authority = f"{host}:{self.echo.port}"
            raw.sendall(f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode())
            head = SockReader(raw).read_until(b"\r\n\r\n")
            if head is None or b" 200 " not in head.split(b"\r\n", 1)[0]:
                raise AssertionError(f"{host}: CONNECT answered {head!r}")
            tls = self.ctx.wrap_socket(raw, server_hostname=host)
            tls.close()
        finally:
            raw.close()

    def visit(self, ferry, hosts, workers=4):
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            for fut in [pool.submit(self.handshake, ferry, h) for h in hosts]:
                fut.result()

    def mints(self, ferry, host):
        return sum(1 for e in ferry.events("leaf_certificate_minted") if e.get("host") == host)

    def run_bound(self, capacity, total):
        self.ctx = ssl.create_default_context(cafile=self.ferry_ca)
        self.ctx.set_alpn_protocols(["http/1.1"])
        args = ("--leaf-cache-size", str(capacity)) if capacity != 1024 else ()
        f = self.serve_intercepting(*args, hosts=None, env=SMALL_ASAN_QUARANTINE)
        hosts = [f"h{i}.{ORIGIN}" for i in range(1, total + 1)]
        t0 = time.monotonic()
        self.visit(f, hosts[:1])
        rss = {"start": rss_kb(f.pid)}
        self.visit(f, hosts[1:capacity])
        rss["capacity"] = rss_kb(f.pid)
        self.visit(f, hosts[capacity:2 * capacity])
        rss["2x"] = rss_kb(f.pid)
        self.visit(f, hosts[2 * capacity:])
        rss["end"] = rss_kb(f.pid)
        elapsed = time.monotonic() - t0
        self.assertTrue(wait_until(lambda: len(f.events("leaf_certificate_minted")) >= total, 10))
        minted = f.events("leaf_certificate_minted")
        self.assertEqual({e["host"] for e in minted}, set(hosts), "every distinct host was minted")
        self.assertLessEqual(max(e["cached"] for e in minted), capacity)
        # One at a time now: the most recent host is still cached, the first one was evicted.
        for host, expected in ((hosts[-1], 1), (hosts[0], 2)):
            before = self.mints(f, host)
            self.visit(f, [host], 1)
            wait_until(lambda: self.mints(f, host) > before, 2)
            self.assertEqual(self.mints(f, host), expected, f"{host} (cache {capacity}, {total} hosts)")
        # RSS: the growth while the cache fills is what `capacity` entries cost
        # (18-30 kB each here: a leaf and an SSL_CTX per host). Once it is
        # full, the hosts from 2x capacity to the end would add that much per
        # host again if nothing were evicted (1024/5000: ~52 MB; 64/1500:
        # 22.8 MB, measured with the cache bound lifted); evicting, RSS moved
        # 0.2-0.7 MB on this machine. Allowed: 2 MiB of allocator noise plus
        # 10% of the filling growth, an order of magnitude from both.
        filling = rss["capacity"] - rss["start"]
        later = rss["end"] - rss["2x"]
        print(f"\nleaf cache {capacity}, {total} hosts in {elapsed:.1f}s: RSS kB {rss}", flush=True)
        # Under ASan (make asan-test sets ASAN_OPTIONS) the allocator's shadow
        # memory and size-class regions add ~4 kB per host visited whatever
        # the cache does (64/1500: +5.8 MB, still a quarter of the 22.8 MB
        # the lifted bound costs): 8 MiB more allowance there.
        allowance = 2048 + filling // 10 + (8192 if os.environ.get("ASAN_OPTIONS") else 0)
        self.assertLessEqual(later, allowance, f"RSS kept growing past the cache bound: {rss}")
        return rss

    def test_cache_of_64_with_1500_hosts(self):
        self.run_bound(64, 1500)

    def test_default_cache_of_1024_with_5000_hosts(self):
        self.run_bound(1024, 5000)


if __name__ == "__main__":
    unittest.main()
