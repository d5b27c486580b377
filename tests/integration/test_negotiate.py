"""ferry doing Kerberos/SPNEGO (Negotiate) to real upstream proxies: an MIT
KDC with a test realm, Squid with negotiate_kerberos_auth (replay cache on)
and Apache httpd with mod_auth_gssapi (kerberos_bed.py). curl, the client,
has no credentials of its own: ferry authenticates for it.

Credential modes: the default ccache (KRB5CCNAME, filled by kinit), ferry's
own ticket from --user + --password-file, and --keytab; the last two run with
KRB5CCNAME pointing at a file that does not exist (and must stay absent).

Covered: GET and CONNECT; many requests over one client keep-alive
connection, over 20 sequential connections and in a parallel burst (Squid's
access log: every request authenticated as alice, no replay errors, a fresh
token per upstream connection and none for reused ones); a ticket that
expires mid-run (renewed in password/keytab mode, reported and picked up
again after a new kinit in ccache mode, without restarting ferry); wrong SPN
and KDC down details; Apache's Negotiate with its mutual-auth token;
`ferry check` and `ferry token`. Not covered: tokens of users in many groups
(10-60 KiB headers) - an MIT KDC without a PAC cannot make them.

The proxies are addressed as proxy.test.local (the SPN's host): ferry's
private hosts file maps it to 127.0.0.1.
"""

import concurrent.futures
import os
import re
import socket
import subprocess
import time
import unittest

from harness import CURL, TEST_HOSTS, Nginx, TestCA, clean_env
from kerberos_bed import GssApache, Kdc, NegotiateSquid
from upstreams import UpstreamTestCase

ORIGIN = "origin.test"
PROXY_HOST = "proxy.test.local"
HOSTS = dict(TEST_HOSTS, **{PROXY_HOST: "127.0.0.1"})
ALICE_PW = "Alice-s3cret-pw-4411"
SHORTY_PW = "Shorty-s3cret-pw-8823"
SHORT_LIFE = 20  # seconds: maxlife of shorty's tickets
SECRETS = (ALICE_PW, SHORTY_PW)


class NegotiateTest(UpstreamTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ca = TestCA(cls.tmp)
        cls.nginx = Nginx(cls.tmp, cls.ca)
        cls.addClassCleanup(cls.nginx.stop)
        cls.plain = f"http://{ORIGIN}:{cls.nginx.http_port}/"
        cls.tls = f"https://{ORIGIN}:{cls.nginx.https_port}/"
        cls.kdc = Kdc(cls.tmp, proxy_host=PROXY_HOST)
        cls.addClassCleanup(cls.kdc.stop)
        cls.kdc.add_user("alice", ALICE_PW)
        cls.kdc.add_user("shorty", SHORTY_PW, maxlife=f"{SHORT_LIFE} seconds")
        cls.ports = (443, cls.nginx.https_port)
        cls.squid = NegotiateSquid(cls.tmp, cls.kdc, hosts=TEST_HOSTS, connect_ports=cls.ports)
        cls.addClassCleanup(cls.squid.stop, 5, False)
        cls.apache = GssApache(cls.tmp, cls.kdc, hosts=TEST_HOSTS, connect_ports=cls.ports)
        cls.addClassCleanup(cls.apache.stop)
        cls.alice_cc = os.path.join(cls.tmp, "alice.ccache")
        cls.alice_env = cls.kdc.kinit("alice", ALICE_PW, cls.alice_cc)
        cls.alice_keytab = cls.kdc.client_keytab("alice", os.path.join(cls.tmp, "alice.keytab"))

    # -- helpers -------------------------------------------------------------
    def setUp(self):
        super().setUp()
        self.no_cc = os.path.join(self.tmp, f"{self._testMethodName}.no-such.ccache")
        self.addCleanup(lambda: self.assertFalse(os.path.exists(self.no_cc), "ferry created the ccache it must not use"))

    def assertNoSecretsPrinted(self):
        super().assertNoSecretsPrinted()
        for label, text in self.outputs:
            if callable(text):
                text = text()
            for s in SECRETS:
                self.assertNotIn(s, text, f"password {s!r} appears in {label}:\n{text[-3000:]}")

    def no_ccache_env(self, kdc=None):
        return dict((kdc or self.kdc).env(), KRB5CCNAME=f"FILE:{self.no_cc}")

    def serve(self, *args, env=None, **kw):
        return super().serve("--connect-ports", ",".join(map(str, self.ports)), *args, hosts=HOSTS,
                             env=env if env is not None else self.alice_env, **kw)

    def ferry_curl(self, ferry, *args, timeout=30):
        return self.curl(f"http://127.0.0.1:{ferry.port}", *args, timeout=timeout)

    def get_ok(self, ferry, url=None):
        r = self.ferry_curl(ferry, url or self.plain)
        self.assertCurlBody(r, Nginx.HELLO)

    def https_ok(self, ferry):
        r = self.ferry_curl(ferry, "--cacert", self.ca.ca_cert, self.tls)
        self.assertCurlBody(r, Nginx.HELLO)

    def get_407(self, ferry, url=None):
        """A request that must fail: returns the Proxy-Status details."""
        r = self.ferry_curl(ferry, "-i", url or self.plain)
        head = r.stdout.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        self.assertTrue(head.startswith("HTTP/1.1 407"), f"expected 407, got:\n{head}\n{r.stderr!r}")
        m = re.search(r'(?im)^Proxy-Status: ferry; error=([a-z_]+); details="((?:[^"\\]|\\.)*)"\r?$', head)
        self.assertIsNotNone(m, f"no ferry Proxy-Status in:\n{head}")
        self.assertEqual(m.group(1), "http_request_denied", head)
        return m.group(2)

    def squid_lines(self, since=0):
        return self.squid.access_lines()[since:]

    def tokens_seen(self, squid=None):
        """Fresh Negotiate tokens Squid's helper has been given so far."""
        return (squid or self.squid).cache_log_text().count("negotiate_kerberos_auth: DEBUG: Got 'YR ")

    def assertNoReplay(self, squid=None):
        log = (squid or self.squid).cache_log_text()
        bad = [l for l in log.splitlines() if re.search(r"replay", l, re.I) and "replay cache directory" not in l]
        self.assertEqual(bad, [], "Squid saw a replayed Negotiate token")

    def assertNoFerryErrors(self, ferry):
        bad = [e for e in ferry.logs() if e.get("level") in ("warn", "error")]
        self.assertEqual(bad, [], ferry.stderr_text()[-3000:])

    def wait_squid(self, since, n, squid=None):
        sq = squid or self.squid
        sq.wait_access_count(since + n, timeout=10)
        time.sleep(0.2)
        return sq.access_lines()[since:]

    # -- ccache mode ---------------------------------------------------------
    def test_ccache_get_and_connect(self):
        before = len(self.squid_lines())
        f = self.serve("--upstream", f"http://{PROXY_HOST}:{self.squid.port}")
        self.get_ok(f)
        self.https_ok(f)  # a new client connection: the token goes with the first request
        got = self.wait_squid(before, 3)
        got = [(g["status"], g["method"], g["uri"], g["user"]) for g in got]
        if got and got[0] == (407, "GET", self.plain, None):
            got = got[1:]  # auto: ferry learns that Squid wants Negotiate from this 407
        self.assertEqual(got, [(200, "GET", self.plain, "alice@TEST.LOCAL"),
                               (200, "CONNECT", f"{ORIGIN}:{self.nginx.https_port}", "alice@TEST.LOCAL")],
                         "one 407 at most, then a token with the first request of every new connection")
        self.assertNoReplay()
        self.assertNoFerryErrors(f)

    def test_auth_negotiate_sends_token_first(self):
        before = len(self.squid_lines())
        f = self.serve("--upstream", f"http://{PROXY_HOST}:{self.squid.port}", "--auth", "negotiate")
        self.get_ok(f)
        self.https_ok(f)
        got = self.wait_squid(before, 2)
        self.assertEqual([(g["status"], g["method"], g["user"]) for g in got],
                         [(200, "GET", "alice@TEST.LOCAL"), (200, "CONNECT", "alice@TEST.LOCAL")],
                         f"--auth negotiate: no 407 round trip expected: {got}")

    def test_many_requests_keepalive_sequential_and_parallel(self):
        before = len(self.squid_lines())
        tokens0 = self.tokens_seen()
        f = self.serve("--upstream", f"http://{PROXY_HOST}:{self.squid.port}")
        # 1. 30 requests over one client keep-alive connection.
        urls = [self.plain + f"?ka={i}" for i in range(30)]
        r = self.ferry_curl(f, *urls)
        self.assertCurlBody(r, Nginx.HELLO * 30)
        reqs = self.wait_events(f, 30, "request")
        self.assertEqual(len({e["client"] for e in reqs}), 1, "curl did not reuse its connection")
        tokens_ka = self.tokens_seen() - tokens0
        self.assertLessEqual(tokens_ka, 2, "an authenticated upstream connection must be reused without new "
                                           f"tokens: {tokens_ka} tokens for 30 keep-alive requests")
        # 2. 20 curl processes one after another (20 client connections).
        for i in range(20):
            self.get_ok(f, self.plain + f"?seq={i}")
        # 3. A parallel burst: 20 at once (many upstream connections at once).
        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            rs = list(pool.map(lambda i: self.ferry_curl(f, self.plain + f"?par={i}"), range(20)))
        for r in rs:
            self.assertCurlBody(r, Nginx.HELLO)
        got = self.wait_squid(before, 71)
        ok = [g for g in got if g["status"] == 200]
        self.assertEqual(len(ok), 70, got)
        self.assertEqual({g["user"] for g in ok}, {"alice@TEST.LOCAL"}, got)
        self.assertEqual(sorted(g["uri"] for g in ok),
                         sorted(urls + [self.plain + f"?seq={i}" for i in range(20)] +
                                [self.plain + f"?par={i}" for i in range(20)]))
        denied = [g for g in got if g["status"] != 200]
        # Only the very first request (auto: ferry learns Negotiate from it) may see a 407.
        self.assertLessEqual(len(denied), 1, f"407s after Negotiate was known (replayed/missing token?): {denied}")
        if denied:
            self.assertEqual(got[0]["status"], 407, got[:3])
        self.assertNoReplay()
        tokens = self.tokens_seen() - tokens0
        self.assertGreaterEqual(tokens, 1)
        self.assertLessEqual(tokens, 1 + 20 + 20, "more tokens than upstream connections")
        self.assertEqual([e["status"] for e in self.wait_events(f, 70, "request")], [200] * 70)
        self.assertNoFerryErrors(f)

    # -- ferry's own credentials, no ccache ------------------------------------
    def test_password_mode_without_ccache(self):
        before = len(self.squid_lines())
        f = self.serve("--upstream", f"http://{PROXY_HOST}:{self.squid.port}", "--user", "alice",
                       "--password-file", self.password_file(ALICE_PW), env=self.no_ccache_env())
        self.get_ok(f)
        self.https_ok(f)
        self.get_ok(f, self.plain + "?again")
        got = [g for g in self.wait_squid(before, 3) if g["status"] == 200]
        self.assertEqual([(g["method"], g["user"]) for g in got],
                         [("GET", "alice@TEST.LOCAL"), ("CONNECT", "alice@TEST.LOCAL"), ("GET", "alice@TEST.LOCAL")])
        self.assertNoReplay()
        self.assertNoFerryErrors(f)

    def test_keytab_mode_without_ccache(self):
        self.keytab_mode()

    def test_keytab_mode_with_user(self):
        self.keytab_mode("--user", "alice")

    def keytab_mode(self, *user):
        before = len(self.squid_lines())
        f = self.serve("--upstream", f"http://{PROXY_HOST}:{self.squid.port}", "--keytab", self.alice_keytab,
                       *user, env=self.no_ccache_env())
        self.get_ok(f)
        self.https_ok(f)
        got = [g for g in self.wait_squid(before, 2) if g["status"] == 200]
        self.assertEqual([(g["method"], g["user"]) for g in got],
                         [("GET", "alice@TEST.LOCAL"), ("CONNECT", "alice@TEST.LOCAL")])
        self.assertNoFerryErrors(f)

    def test_user_with_wrong_password_is_reported(self):
        f = self.serve("--upstream", f"http://{PROXY_HOST}:{self.squid.port}", "--user", "alice",
                       "--password-file", self.password_file("Not-alice-s-pw-0000"), env=self.no_ccache_env())
        details = self.get_407(f)
        self.assertIn(f"upstream proxy http://{PROXY_HOST}:{self.squid.port}", details)
        self.assertIn("the KDC rejected the password", details)

    # -- short tickets -----------------------------------------------------------
    def test_short_ticket_expiry_all_modes(self):
        # Squid closes idle client connections after 3 s, so after the
        # ticket expired every request needs a new upstream connection (a
        # connection authenticated earlier stays authenticated at Squid).
        sq = NegotiateSquid(self.tmp, self.kdc, hosts=TEST_HOSTS, connect_ports=self.ports,
                            extra_conf="client_idle_pconn_timeout 3 seconds")
        self.addCleanup(sq.stop, 5, False)
        up = f"http://{PROXY_HOST}:{sq.port}"
        keytab = self.kdc.client_keytab("shorty", os.path.join(self.tmp, "shorty.keytab"))
        cc = os.path.join(self.tmp, "shorty.ccache")
        cc_env = self.kdc.kinit("shorty", SHORTY_PW, cc)
        t0 = time.time()
        life = self.kdc.ticket_lifetimes(cc).get(f"krbtgt/{self.kdc.realm}@{self.kdc.realm}")
        self.assertIsNotNone(life)
        self.assertLessEqual(life, SHORT_LIFE)
        own = {
            "password": self.serve("--upstream", up, "--user", "shorty", "--password-file",
                                   self.password_file(SHORTY_PW), env=self.no_ccache_env(), name="ferry-expiry-password"),
            "keytab": self.serve("--upstream", up, "--keytab", keytab, env=self.no_ccache_env(),
                                 name="ferry-expiry-keytab"),
        }
        f_cc = self.serve("--upstream", up, env=cc_env, name="ferry-expiry-ccache")
        broken = set()  # a mode that failed once is not asked again (one failure report each)

        def own_ok(suffix, https=False):
            for mode, f in own.items():
                if mode in broken:
                    continue
                with self.subTest(mode=mode, request=suffix):
                    try:
                        self.get_ok(f, self.plain + suffix)
                        if https:
                            self.https_ok(f)
                    except AssertionError:
                        broken.add(mode)
                        raise

        own_ok("?before")
        with self.subTest(mode="ccache", request="before"):
            self.get_ok(f_cc)
        # Requests every few seconds on new connections, until well past the
        # end of the first tickets (ferry's own were obtained after t0, so
        # they end a little later than the ccache's): password and keytab
        # mode must renew in time, with no failed request.
        i = 0
        while time.time() < t0 + life + SHORT_LIFE / 2 + 2:
            time.sleep(4)
            i += 1
            own_ok(f"?after={i}")
        self.assertGreater(time.time(), t0 + life + 1)
        own_ok("?final", https=True)
        for mode, f in own.items():
            if mode not in broken:
                with self.subTest(mode=mode, check="no warnings"):
                    self.assertNoFerryErrors(f)
        # ccache mode: the ticket in the cache has expired; the client is told.
        with self.subTest(mode="ccache", request="expired"):
            details = self.get_407(f_cc, self.plain + "?expired")
            self.assertIn(up, details)
            self.assertRegex(details, r"(?i)ticket has expired|no Kerberos credentials", details)
        # A new kinit into the same cache is used without restarting ferry.
        self.kdc.kinit("shorty", SHORTY_PW, cc)
        with self.subTest(mode="ccache", request="after kinit"):
            self.get_ok(f_cc, self.plain + "?renewed")
            self.https_ok(f_cc)
        users = {g["user"] for g in sq.access_lines() if g["status"] == 200}
        self.assertEqual(users, {"shorty@TEST.LOCAL"})
        self.assertNoReplay(sq)

    # -- failures with the right details -------------------------------------------
    def test_wrong_spn(self):
        before = len(self.squid_lines())
        f = self.serve("--upstream", f"http://{PROXY_HOST}:{self.squid.port}", "--spn", "HTTP@wrong.test.local")
        details = self.get_407(f)
        self.assertIn(f"upstream proxy http://{PROXY_HOST}:{self.squid.port}", details)
        self.assertIn("does not know the service principal", details)
        self.assertIn("HTTP/wrong.test.local", details)
        got = self.wait_squid(before, 1)
        self.assertLessEqual(len(got), 2, f"no loop: {got}")
        self.assertNotIn(200, [g["status"] for g in got])

    def test_kdc_down_password_mode(self):
        # A second KDC for the same realm name, stopped before any request:
        # ferry's KRB5_CONFIG points at it, so there is no KDC to reach.
        dead = Kdc(self.tmp, proxy_host=PROXY_HOST)
        self.addCleanup(dead.stop)
        dead.add_user("alice", ALICE_PW)
        dead.stop()
        env = self.no_ccache_env(dead)
        f = self.serve("--upstream", f"http://{PROXY_HOST}:{self.squid.port}", "--user", "alice",
                       "--password-file", self.password_file(ALICE_PW), env=env)
        t0 = time.monotonic()
        details = self.get_407(f)
        self.assertLess(time.monotonic() - t0, 25)
        self.assertIn(f"upstream proxy http://{PROXY_HOST}:{self.squid.port}", details)
        self.assertIn("cannot reach the Kerberos KDC", details)
        # ferry check says so too (and fails).
        r, out, err = self.run_cli(["check", "--upstream", f"http://{PROXY_HOST}:{self.squid.port}", "--user",
                                    "alice", "--password-file", self.password_file(ALICE_PW)], env=env, hosts=HOSTS,
                                   timeout=40)
        self.assertEqual(r.returncode, 1, out + err)
        self.assertRegex(out, r"(?m)^FAIL\s.*cannot reach the Kerberos KDC", out)

    # -- Apache: Negotiate with a mutual-auth token ----------------------------------
    def test_apache_negotiate_mutual_auth(self):
        before = len(self.apache.access_lines())
        f = self.serve("--upstream", f"http://{PROXY_HOST}:{self.apache.port}")
        self.get_ok(f)
        self.get_ok(f, self.plain + "?2")
        self.https_ok(f)
        self.apache.wait_access_count(before + 3, pred=None, timeout=10)
        time.sleep(0.2)
        got = [g for g in self.apache.access_lines()[before:] if g["status"] == 200]
        self.assertEqual([(g["method"], g["user"]) for g in got],
                         [("GET", "alice@TEST.LOCAL"), ("GET", "alice@TEST.LOCAL"), ("CONNECT", "alice@TEST.LOCAL")],
                         f"auto with a ticket must pick Negotiate/Kerberos over NTLM: {self.apache.access_lines()}")
        self.assertNoFerryErrors(f)
        self.assertNotIn("mutual", f.stderr_text().lower())

    # -- ferry check / ferry token ---------------------------------------------------
    def test_check_ccache(self):
        up = f"http://{PROXY_HOST}:{self.squid.port}"
        r, out, err = self.run_cli(["check", "--upstream", up], env=self.alice_env, hosts=HOSTS, timeout=40)
        self.assertEqual(r.returncode, 0, out + err)
        self.assertRegex(out, r"(?m)^ok\s+kerberos: alice@TEST\.LOCAL from .*ticket \d+h\d+m\d+s left", out)
        self.assertRegex(out, rf"(?m)^ok\s+kdc 127\.0\.0\.1:{self.kdc.port} \(TEST\.LOCAL\): reachable", out)
        self.assertRegex(out, rf"(?m)^ok\s+upstream {re.escape(up)}: reachable; offers Negotiate", out)
        self.assertRegex(out, rf"(?m)^ok\s+auth {re.escape(up)}: ferry's credentials were accepted", out)
        self.assertNotRegex(out, r"(?m)^FAIL", out)
        # No ticket: exit 1, and the auth line says why.
        r, out, err = self.run_cli(["check", "--upstream", up], env=self.no_ccache_env(), hosts=HOSTS, timeout=40)
        self.assertEqual(r.returncode, 1, out + err)
        self.assertRegex(out, rf"(?m)^FAIL\s+auth {re.escape(up)}: .*no Kerberos credentials", out)

    def test_token_accepted_by_squid(self):
        up = f"http://{PROXY_HOST}:{self.squid.port}"
        before = len(self.squid_lines())
        r, out, err = self.run_cli(["token", "--upstream", up], env=self.alice_env, hosts=HOSTS)
        self.assertEqual(r.returncode, 0, err)
        value = out.strip()
        self.assertRegex(value, r"^Negotiate [A-Za-z0-9+/]+=*$")
        c = subprocess.run([CURL, "-sS", "--noproxy", "", "-x", self.squid.url(), *self.squid.curl_resolve(),
                            "-H", f"Proxy-Authorization: {value}", self.plain], capture_output=True, timeout=30,
                           env=clean_env())
        self.assertCurlBody(c, Nginx.HELLO)
        got = self.wait_squid(before, 1)
        self.assertEqual([(g["status"], g["user"]) for g in got], [(200, "alice@TEST.LOCAL")])
        # --spn gives the same kind of value.
        r, out, err = self.run_cli(["token", "--spn", f"HTTP@{PROXY_HOST}"], env=self.alice_env, hosts=HOSTS)
        self.assertEqual(r.returncode, 0, err)
        self.assertTrue(out.startswith("Negotiate "), out)
        # No ticket: exit 1, the cause on stderr, nothing on stdout.
        r, out, err = self.run_cli(["token", "--upstream", up], env=self.no_ccache_env(), hosts=HOSTS)
        self.assertEqual(r.returncode, 1, out + err)
        self.assertEqual(out, "")
        self.assertIn("no Kerberos credentials", err)

    def test_token_wrong_spn_names_cause(self):
        r, out, err = self.run_cli(["token", "--spn", "HTTP@wrong.test.local"], env=self.alice_env, hosts=HOSTS)
        self.assertEqual(r.returncode, 1, out + err)
        self.assertIn("does not know the service principal", err)


    # -- no cleartext Basic fallback unless asked for (D12) ----------------------
    def basic_fallback_bed(self):
        """Squid offering Negotiate and Basic (alice's password), and an env
        whose KDC is down: ferry cannot make a token for --user alice."""
        sq = NegotiateSquid(self.tmp, self.kdc, hosts=TEST_HOSTS, connect_ports=self.ports,
                            basic_users={"alice": ALICE_PW})
        self.addCleanup(sq.stop, 5, False)
        head = subprocess.run([CURL, "-sS", "-i", "--noproxy", "", "-x", sq.url(), *sq.curl_resolve(), self.plain],
                              capture_output=True, timeout=30, env=clean_env()).stdout.decode("latin-1")
        self.assertRegex(head, r"(?im)^Proxy-Authenticate: Negotiate", head)
        self.assertRegex(head, r"(?im)^Proxy-Authenticate: Basic", head)
        dead = Kdc(self.tmp, proxy_host=PROXY_HOST)
        self.addCleanup(dead.stop)
        dead.add_user("alice", ALICE_PW)
        dead.stop()
        return sq, f"http://{PROXY_HOST}:{sq.port}", self.no_ccache_env(dead)

    def test_no_basic_fallback_over_http_by_default(self):
        sq, up, env = self.basic_fallback_bed()
        before = len(sq.access_lines())
        f = self.serve("--upstream", up, "--user", "alice", "--password-file", self.password_file(ALICE_PW), env=env)
        for i in range(2):
            details = self.get_407(f, self.plain + f"?{i}")
            self.assertIn("cannot reach the Kerberos KDC", details)
            self.assertIn("does not fall back to Basic over http://", details)
        got = self.wait_squid(before, 2, squid=sq)
        # Two challenges, no Basic attempt: no user ever reached Squid.
        self.assertEqual([(g["status"], g["user"]) for g in got], [(407, None), (407, None)])

    def test_basic_fallback_with_the_flag_is_used(self):
        sq, up, env = self.basic_fallback_bed()
        before = len(sq.access_lines())
        f = self.serve("--upstream", up, "--user", "alice", "--password-file", self.password_file(ALICE_PW),
                       "--auth-allow-basic-fallback", env=env)
        self.get_ok(f)
        self.get_ok(f, self.plain + "?2")
        got = self.wait_squid(before, 3, squid=sq)
        self.assertEqual([(g["status"], g["user"]) for g in got if g["status"] == 200],
                         [(200, "alice"), (200, "alice")])


    # -- a KDC that never answers: bounded waits (D10) -------------------------
    def test_silent_kdc_is_reported_within_the_connect_timeout(self):
        # A KDC address that accepts connections and never answers (a dead
        # KDC's port, held by a listener that does nothing).
        dead = Kdc(self.tmp, proxy_host=PROXY_HOST)
        self.addCleanup(dead.stop)
        dead.add_user("alice", ALICE_PW)
        dead.stop()
        silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        silent.bind(("127.0.0.1", dead.port))
        silent.listen(64)
        self.addCleanup(silent.close)
        quiet_udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        quiet_udp.bind(("127.0.0.1", dead.port))
        self.addCleanup(quiet_udp.close)
        f = self.serve("--upstream", f"http://{PROXY_HOST}:{self.squid.port}", "--user", "alice",
                       "--password-file", self.password_file(ALICE_PW), "--connect-timeout", "2s",
                       env=self.no_ccache_env(dead))
        for i in range(2):
            t0 = time.monotonic()
            details = self.get_407(f, self.plain + f"?{i}")
            waited = time.monotonic() - t0
            self.assertLess(waited, 6, f"request {i} waited {waited:.1f}s for a silent KDC")
            self.assertIn("did not answer within 2s", details)


if __name__ == "__main__":
    unittest.main()
