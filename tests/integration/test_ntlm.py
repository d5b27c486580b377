"""ferry doing NTLM (v2) to a real acceptor: Apache httpd as a forward proxy
with mod_auth_gssapi and gss-ntlmssp, which verifies the password for real
(kerberos_bed.GssApache; user TESTDOM\\carol). curl, the client, has no
credentials of its own.

Covered: right password -> 200 (GET and CONNECT; Apache logs the user
TESTDOM\\carol), with --auth ntlm and with --auth auto (Apache offers
Negotiate and NTLM; without a Kerberos ticket ferry must fall back to NTLM);
a POST with a 100 KB body whose handshake happens on that request (the body
must reach the origin intact, exactly once); wrong password -> 407 with
details, exactly one failed type-3 message per client request (no loop);
after 3 rejections ferry stops sending the identity and says so.
"""

import hashlib
import os
import re
import time
import unittest

from harness import TEST_HOSTS, DigestOrigin, Nginx, TestCA
from kerberos_bed import GssApache, Kdc
from upstreams import UpstreamTestCase

ORIGIN = "origin.test"
PROXY_HOST = "proxy.test.local"
HOSTS = dict(TEST_HOSTS, **{PROXY_HOST: "127.0.0.1"})
NTLM_USER = "TESTDOM\\carol"
CAROL_PW = "Carol-s3cret-pw-6631"
WRONG_PW = "Wr0ng-carol-pw-2210"
SECRETS = (CAROL_PW, WRONG_PW)
FAILED_TYPE3 = "gss_accept_sec_context() failed"


class NtlmTest(UpstreamTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ca = TestCA(cls.tmp)
        cls.nginx = Nginx(cls.tmp, cls.ca)
        cls.addClassCleanup(cls.nginx.stop)
        cls.digest = cls.start_server(DigestOrigin())
        cls.plain = f"http://{ORIGIN}:{cls.nginx.http_port}/"
        cls.tls = f"https://{ORIGIN}:{cls.nginx.https_port}/"
        cls.ports = (443, cls.nginx.https_port)
        cls.kdc = Kdc(cls.tmp, proxy_host=PROXY_HOST)  # Apache's Negotiate needs a realm
        cls.addClassCleanup(cls.kdc.stop)

    def setUp(self):
        super().setUp()
        # One Apache per test: its logs then belong to this test alone.
        self.apache = GssApache(self.tmp, self.kdc, hosts=TEST_HOSTS, connect_ports=self.ports,
                                ntlm_users={NTLM_USER: CAROL_PW})
        self.addCleanup(self.apache.stop)
        self.upstream = f"http://{PROXY_HOST}:{self.apache.port}"
        # No Kerberos ticket anywhere: Negotiate has nothing to offer.
        self.env = dict(self.kdc.env(), KRB5CCNAME=f"FILE:{self.tmp}/{self._testMethodName}.no-such.ccache")

    def assertNoSecretsPrinted(self):
        super().assertNoSecretsPrinted()
        for label, text in self.outputs:
            if callable(text):
                text = text()
            for s in SECRETS:
                self.assertNotIn(s, text, f"password {s!r} appears in {label}:\n{text[-3000:]}")

    def serve(self, *args, password=CAROL_PW, **kw):
        return super().serve("--connect-ports", ",".join(map(str, self.ports)), "--upstream", self.upstream,
                             "--user", NTLM_USER, "--password-file", self.password_file(password), *args,
                             hosts=HOSTS, env=self.env, **kw)

    def ferry_curl(self, ferry, *args, timeout=30):
        return self.curl(f"http://127.0.0.1:{ferry.port}", *args, timeout=timeout)

    def get_ok(self, ferry, url=None):
        self.assertCurlBody(self.ferry_curl(ferry, url or self.plain), Nginx.HELLO)

    def https_ok(self, ferry):
        self.assertCurlBody(self.ferry_curl(ferry, "--cacert", self.ca.ca_cert, self.tls), Nginx.HELLO)

    def get_407(self, ferry, url=None):
        r = self.ferry_curl(ferry, "-i", url or self.plain)
        head = r.stdout.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        self.assertTrue(head.startswith("HTTP/1.1 407"), f"expected 407, got:\n{head}\n{r.stderr!r}")
        m = re.search(r'(?im)^Proxy-Status: ferry; error=([a-z_]+); details="((?:[^"\\]|\\.)*)"\r?$', head)
        self.assertIsNotNone(m, f"no ferry Proxy-Status in:\n{head}")
        self.assertEqual(m.group(1), "http_request_denied", head)
        return m.group(2)

    def failed_type3(self):
        return self.apache.error_log_text().count(FAILED_TYPE3)

    def ok_users(self, n):
        self.apache.wait_access_count(n, pred=lambda e: e["status"] == 200, timeout=10)
        time.sleep(0.2)
        return [(e["method"], e["user"]) for e in self.apache.access_lines() if e["status"] == 200]

    def assertNoFerryErrors(self, ferry):
        bad = [e for e in ferry.logs() if e.get("level") in ("warn", "error")]
        self.assertEqual(bad, [], ferry.stderr_text()[-3000:])

    # -- right password --------------------------------------------------------
    def test_auth_ntlm_right_password(self):
        f = self.serve("--auth", "ntlm")
        self.get_ok(f)
        self.get_ok(f, self.plain + "?2")
        self.https_ok(f)
        self.assertEqual(self.ok_users(3), [("GET", NTLM_USER), ("GET", NTLM_USER), ("CONNECT", NTLM_USER)],
                         self.apache.access_lines())
        self.assertEqual(self.failed_type3(), 0, self.apache.error_log_text()[-2000:])
        self.assertNoFerryErrors(f)

    def test_auto_falls_back_to_ntlm_without_ticket(self):
        f = self.serve()  # --auth auto (default); Apache offers Negotiate and NTLM
        self.get_ok(f)
        self.https_ok(f)
        self.assertEqual(self.ok_users(2), [("GET", NTLM_USER), ("CONNECT", NTLM_USER)],
                         self.apache.access_lines())
        self.assertEqual(self.failed_type3(), 0, self.apache.error_log_text()[-2000:])

    def test_post_body_through_ntlm_handshake(self):
        body = hashlib.sha512(b"ferry ntlm post").digest() * (100 * 1024 // 64)  # 100 KiB
        path = os.path.join(self.tmp, "post.bin")
        with open(path, "wb") as fh:
            fh.write(body)
        want = f"{hashlib.sha256(body).hexdigest()} {len(body)}\n".encode()
        # Without Expect, and with `Expect: 100-continue` (curl sends it for
        # big bodies, other clients for any body): the NTLM handshake must
        # not break on it, and no client here can answer a 407 itself.
        for mode in ("ntlm", "auto"):
            for expect in (False, True):
                with self.subTest(auth=mode, expect=expect):
                    tag = f"{mode}-{'expect' if expect else 'plain'}"
                    before = len(self.digest.requests)
                    f = self.serve("--auth", mode, name=f"ferry-post-{tag}")
                    # The first request of a fresh ferry: the handshake happens on it.
                    url = f"http://{ORIGIN}:{self.digest.port}/upload-{tag}"
                    r = self.ferry_curl(f, "--data-binary", f"@{path}", "-H", "Content-Type: application/octet-stream",
                                        "-H", "Expect: 100-continue" if expect else "Expect:", "-i", url)
                    head, _, got_body = r.stdout.partition(b"\r\n\r\n")
                    while head.startswith(b"HTTP/1.1 100"):
                        head, _, got_body = got_body.partition(b"\r\n\r\n")
                    self.assertEqual((head.split(b"\r\n")[0], got_body), (b"HTTP/1.1 200 OK", want),
                                     f"{r.stdout[:800]!r} {r.stderr!r}")
                    time.sleep(0.2)
                    got = [first for first, _ in self.digest.requests[before:]]
                    self.assertEqual(got, [f"POST /upload-{tag} HTTP/1.1"], "the body must reach the origin exactly once")
                    posts = [(e["status"], e["user"]) for e in self.apache.access_lines()
                             if e["method"] == "POST" and e["uri"] == url]
                    self.assertEqual([p for p in posts if p[0] == 200], [(200, NTLM_USER)], posts)
                    f.stop_checked()

    # -- wrong password ----------------------------------------------------------
    def test_wrong_password_one_type3_per_request_then_backoff(self):
        f = self.serve("--auth", "ntlm", password=WRONG_PW)
        for i in range(3):
            details = self.get_407(f, self.plain + f"?try={i}")
            self.assertIn(f"upstream proxy {self.upstream}", details)
            self.assertIn("rejected ferry's NTLM credentials", details)
            time.sleep(0.2)
            self.assertEqual(self.failed_type3(), i + 1,
                             f"request {i + 1}: expected exactly one failed type-3 per client request:\n"
                             + self.apache.error_log_text()[-3000:])
        self.assertEqual([e for e in self.apache.access_lines() if e["status"] == 200], [])
        # Three consecutive rejections: ferry stops sending the identity.
        details = self.get_407(f, self.plain + "?try=4")
        self.assertIn(f"upstream proxy {self.upstream}", details)
        self.assertIn("stopped sending it for 30 s", details)
        self.assertIn("tries again by itself", details)
        self.assertNotIn("restart", details)
        time.sleep(0.3)
        self.assertEqual(self.failed_type3(), 3, "a type-3 was sent during the back-off:\n"
                         + self.apache.error_log_text()[-3000:])
        # The CONNECT path is in the back-off too.
        r = self.ferry_curl(f, "--cacert", self.ca.ca_cert, self.tls)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"407", r.stderr)
        time.sleep(0.3)
        self.assertEqual(self.failed_type3(), 3, self.apache.error_log_text()[-3000:])

    def test_check(self):
        for pw, code in ((CAROL_PW, 0), (WRONG_PW, 1)):
            with self.subTest(right=pw == CAROL_PW):
                before = self.failed_type3()
                r, out, err = self.run_cli(["check", "--upstream", self.upstream, "--user", NTLM_USER,
                                            "--password-file", self.password_file(pw, name=f"pw{code}")],
                                           env=self.env, hosts=HOSTS, timeout=40)
                self.assertEqual(r.returncode, code, out + err)
                self.assertRegex(out, rf"(?m)^ok\s+upstream {re.escape(self.upstream)}: reachable; offers .*NTLM", out)
                if code == 0:
                    self.assertRegex(out, rf"(?m)^ok\s+auth {re.escape(self.upstream)}: ferry's credentials were "
                                          "accepted", out)
                else:
                    self.assertRegex(out, rf"(?m)^FAIL\s+auth {re.escape(self.upstream)}: .*rejected ferry's NTLM "
                                          "credentials", out)
                time.sleep(0.2)
                self.assertEqual(self.failed_type3() - before, code,
                                 self.apache.error_log_text()[-2000:])

    def test_wrong_password_auto(self):
        f = self.serve(password=WRONG_PW)
        details = self.get_407(f)
        self.assertIn(f"upstream proxy {self.upstream}", details)
        self.assertIn("rejected ferry's NTLM credentials", details)
        time.sleep(0.2)
        self.assertEqual(self.failed_type3(), 1, self.apache.error_log_text()[-3000:])




class SquidFakeNtlmTest(UpstreamTestCase):
    """Squid 5.7's ntlm_fake_auth answers type 1 with a malformed type 2
    (TargetName offset 0xaaaaaaae, no TargetInfo): ferry's strict codec must
    refuse it with a clear 407, never read past the message, never loop."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ca = TestCA(cls.tmp)
        cls.nginx = Nginx(cls.tmp, cls.ca)
        cls.addClassCleanup(cls.nginx.stop)

    def test_malformed_type2_is_refused(self):
        sq = self.squid(auth="ntlm")
        pw = self.password_file(CAROL_PW, name="carol")
        f = self.serve("--upstream", sq.url(), "--auth", "ntlm", "--user", NTLM_USER, "--password-file", pw)
        r = self.curl(f"http://127.0.0.1:{f.port}", "-i", f"http://{ORIGIN}:{self.nginx.http_port}/")
        head = r.stdout.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        self.assertIn(" 407 ", head.splitlines()[0], head)
        self.assertRegex(head, r"Proxy-Status: ferry; error=http_request_denied; details=\"[^\"]*malformed NTLM challenge")
        # One type 1, answered by the bad type 2; no type 3, no second try.
        lines = self.access(sq, 1)
        self.assertEqual(len(lines), 1, lines)


if __name__ == "__main__":
    unittest.main()
