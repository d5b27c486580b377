"""ferry with SOCKS5 upstreams (microsocks with user/password, dante),
ferry's own SOCKS5 listener (direct and through Squid, --connect-ports),
and the `ferry connect` / `ferry tunnel` commands through Squid's CONNECT.
"""

import os
import socket
import subprocess
import time
import unittest

from harness import (CURL, EchoServer, Ferry, Nginx, TEST_HOSTS, TestCA, clean_env, ferry_bin, free_port, get,
                     loopback_dns_prefix, port_open, raw_request, wait_until)
from upstreams import (PASSWORD, SOCKS_PASSWORD, SOCKS_USER, USER, WRONG_PASSWORD, Dante, Microsocks,
                       UpstreamTestCase)

ORIGIN = "origin.test"


class UpstreamTunnelTest(UpstreamTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ca = TestCA(cls.tmp)
        cls.nginx = Nginx(cls.tmp, cls.ca)
        cls.addClassCleanup(cls.nginx.stop)
        cls.echo = cls.start_server(EchoServer())
        cls.plain = f"http://{ORIGIN}:{cls.nginx.http_port}/"
        cls.tls = f"https://{ORIGIN}:{cls.nginx.https_port}/"

    def get_ok(self, ferry, url=None):
        r = self.curl(f"http://127.0.0.1:{ferry.port}", url or self.plain)
        self.assertCurlBody(r, Nginx.HELLO)

    def https_ok(self, ferry):
        r = self.curl(f"http://127.0.0.1:{ferry.port}", "--cacert", self.ca.ca_cert, self.tls)
        self.assertCurlBody(r, Nginx.HELLO)

    def route_of(self, ferry, event):
        evs = self.wait_events(ferry, 1, event)
        self.assertTrue(evs, ferry.stderr_text())
        return [e["route"] for e in evs]

    # -- SOCKS5 upstreams -----------------------------------------------------
    def test_microsocks_socks5h_user_password(self):
        ms = self.daemon(Microsocks(self.tmp, user=SOCKS_USER, password=SOCKS_PASSWORD, hosts=TEST_HOSTS))
        # ferry itself cannot resolve origin.test (hosts=None): socks5h must
        # send the name for microsocks to resolve.
        f = self.serve("--connect-ports", str(self.nginx.https_port),
                       "--upstream", ms.url("socks5h", creds=(SOCKS_USER, SOCKS_PASSWORD)), hosts=None)
        self.get_ok(f)
        self.https_ok(f)
        self.assertEqual(self.route_of(f, "request"), [ms.url("socks5h")])
        self.assertEqual(self.route_of(f, "tunnel"), [ms.url("socks5h")])

    def test_microsocks_wrong_password_is_502_rejected(self):
        ms = self.daemon(Microsocks(self.tmp, user=SOCKS_USER, password=SOCKS_PASSWORD, hosts=TEST_HOSTS))
        f = self.serve("--upstream", ms.url("socks5h", creds=(SOCKS_USER, WRONG_PASSWORD)))
        resp = raw_request(f.port, get(self.plain))
        self.assertIsNotNone(resp)
        self.assertEqual(resp.status, 502, resp.raw_head)
        err, details = self.proxy_status(resp)
        self.assertIn("rejected", details, resp.raw_head)
        self.assertIn(ms.url("socks5h"), details)

    def test_dante_socks5_resolves_locally(self):
        # dante's own hosts file lacks origin.test (and its DNS goes nowhere):
        # with socks5:// ferry must resolve the name and send the address.
        da = self.daemon(Dante(self.tmp, hosts={"dante-only.test": "127.0.0.1"}))
        f = self.serve("--connect-ports", str(self.nginx.https_port), "--upstream", da.url("socks5"))
        self.get_ok(f)
        self.https_ok(f)
        self.assertEqual(self.route_of(f, "request"), [da.url("socks5")])
        self.assertEqual(self.route_of(f, "tunnel"), [da.url("socks5")])

    # -- ferry's SOCKS5 listener ------------------------------------------------
    def socks_curl(self, port, url, *args):
        return subprocess.run([CURL, "-sS", "-x", f"socks5h://127.0.0.1:{port}", *args, url], capture_output=True,
                              timeout=30, env=clean_env())

    def socks_events(self, f, n):
        pred = lambda e: e.get("event") == "tunnel" and e.get("method") == "SOCKS5"
        wait_until(lambda: len([e for e in f.logs() if pred(e)]) >= n, 5)
        time.sleep(0.1)
        return [e for e in f.logs() if pred(e)]

    def test_socks_listener_direct(self):
        sp = free_port()
        f = self.serve("--socks-listen", f"127.0.0.1:{sp}", "--connect-ports",
                       f"{self.nginx.http_port},{self.nginx.https_port}")
        self.assertCurlBody(self.socks_curl(sp, f"http://127.0.0.1:{self.nginx.http_port}/"), Nginx.HELLO)
        self.assertCurlBody(self.socks_curl(sp, self.plain), Nginx.HELLO)  # ferry resolves origin.test
        self.assertCurlBody(self.socks_curl(sp, self.tls, "--cacert", self.ca.ca_cert), Nginx.HELLO)
        evs = self.socks_events(f, 3)
        self.assertEqual(len(evs), 3, f.stderr_text())
        self.assertEqual({e["route"] for e in evs}, {"direct"})
        self.assertEqual({e["status"] for e in evs}, {200})

    def test_socks_listener_through_squid(self):
        sq = self.squid(auth="basic", connect_ports=(self.nginx.http_port, self.nginx.https_port))
        sp = free_port()
        f = self.serve("--socks-listen", f"127.0.0.1:{sp}", "--upstream", sq.url(creds=(USER, PASSWORD)),
                       "--connect-ports", f"{self.nginx.http_port},{self.nginx.https_port}")
        self.assertCurlBody(self.socks_curl(sp, self.plain), Nginx.HELLO)
        self.assertCurlBody(self.socks_curl(sp, self.tls, "--cacert", self.ca.ca_cert), Nginx.HELLO)
        got = self.access(sq, 2, pred=lambda e: e["status"] == 200)
        self.assertEqual(got, [(200, "CONNECT", f"{ORIGIN}:{self.nginx.http_port}", USER),
                               (200, "CONNECT", f"{ORIGIN}:{self.nginx.https_port}", USER)])
        evs = self.socks_events(f, 2)
        self.assertEqual([e["route"] for e in evs], [sq.url(), sq.url()])

    def test_socks_listener_enforces_connect_ports(self):
        sp = free_port()
        f = self.serve("--socks-listen", f"127.0.0.1:{sp}", "--connect-ports", str(self.nginx.https_port))
        r = self.socks_curl(sp, f"http://127.0.0.1:{self.nginx.http_port}/")
        self.assertNotEqual(r.returncode, 0, r)
        self.assertEqual(r.stdout, b"")
        # Raw: the SOCKS5 reply is 0x02 "connection not allowed by ruleset".
        with socket.create_connection(("127.0.0.1", sp), 5) as s:
            s.settimeout(5)
            s.sendall(b"\x05\x01\x00")
            self.assertEqual(s.recv(2), b"\x05\x00")
            name = ORIGIN.encode()
            s.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + self.nginx.http_port.to_bytes(2, "big"))
            reply = s.recv(64)
            self.assertEqual(reply[:2], b"\x05\x02", reply)
        evs = self.socks_events(f, 2)
        self.assertEqual(len(evs), 2, f.stderr_text())
        for e in evs:
            self.assertNotEqual(e["status"], 200, e)
            self.assertIn(str(self.nginx.http_port), e["details"], e)
        # An allowed port works on the same listener.
        self.assertCurlBody(self.socks_curl(sp, self.tls, "--cacert", self.ca.ca_cert), Nginx.HELLO)

    # -- ferry connect / ferry tunnel ---------------------------------------------
    def popen_ferry(self, args, hosts=TEST_HOSTS):
        p = subprocess.Popen(loopback_dns_prefix(self.tmp, hosts) + [ferry_bin(), *args], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env())
        def cleanup():
            if p.poll() is None:
                p.kill()
                p.wait(5)
            for s in (p.stdin, p.stdout, p.stderr):
                try:
                    s.close()
                except OSError:
                    pass
        self.addCleanup(cleanup)
        return p

    def read_exact(self, fd, n, timeout=10):
        out = b""
        end = time.monotonic() + timeout
        os.set_blocking(fd, False)
        while len(out) < n and time.monotonic() < end:
            try:
                chunk = os.read(fd, n - len(out))
            except BlockingIOError:
                time.sleep(0.01)
                continue
            if not chunk:
                break
            out += chunk
        return out

    def test_connect_command_through_squid(self):
        sq = self.squid(auth="basic", connect_ports=(self.echo.port,))
        target = f"{ORIGIN}:{self.echo.port}"
        p = self.popen_ferry(["connect", target, "--upstream", sq.url(creds=(USER, PASSWORD))])
        payload = bytes(range(256)) * 64 + b"end\n"
        # Squid closes the tunnel when the client half-closes: keep stdin
        # open until the echo came back.
        p.stdin.write(payload)
        p.stdin.flush()
        got = self.read_exact(p.stdout.fileno(), len(payload))
        self.assertEqual(len(got), len(payload))
        self.assertEqual(got, payload)
        p.stdin.write(b"second round\n")
        p.stdin.flush()
        self.assertEqual(self.read_exact(p.stdout.fileno(), 13), b"second round\n")
        p.stdin.close()
        try:
            code = p.wait(10)
        except subprocess.TimeoutExpired:
            code = "still running 10 s after stdin closed"
        err = p.stderr.read().decode("utf-8", "replace")
        self.note_output("ferry connect stderr", err)
        self.assertEqual(code, 0, err)
        got = self.access(sq, 1, pred=lambda e: e["status"] == 200)
        self.assertEqual(got, [(200, "CONNECT", target, USER)])

    def test_connect_command_upstream_refuses(self):
        # Squid forbids the port: ferry connect fails (non-zero) and says why.
        sq = self.squid(connect_ports=(443,))
        target = f"{ORIGIN}:{self.echo.port}"
        p = self.popen_ferry(["connect", target, "--upstream", sq.url()])
        try:
            out, err = p.communicate(b"", timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            self.fail("ferry connect did not exit after the upstream refused")
        err = err.decode("utf-8", "replace")
        self.note_output("ferry connect stderr", err)
        self.assertNotEqual(p.returncode, 0, err)
        self.assertEqual(out, b"")
        self.assertIn("403", err)

    def start_tunnel(self, args):
        try:
            f = Ferry(self.tmp, args, listen=False, command=("tunnel",), hosts=TEST_HOSTS,
                      name=f"tunnel-{self._testMethodName}")
        except RuntimeError as e:
            self.fail(f"ferry tunnel {' '.join(args)} did not start: {e}")
        self.addCleanup(f.stop_checked)
        self.note_output("ferry tunnel stderr", f.stderr_text)
        return f

    def tunnel_roundtrips(self, tp, sq, target):
        for i in range(2):  # two connections, each carried separately
            with socket.create_connection(("127.0.0.1", tp), 5) as c:
                c.settimeout(10)
                msg = f"tunnel payload {i} ".encode() * 1000
                c.sendall(msg)
                got = b""
                while len(got) < len(msg):
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    got += chunk
                self.assertEqual(got, msg)
        got = self.access(sq, 2, pred=lambda e: e["status"] == 200)
        self.assertEqual(got, [(200, "CONNECT", target, USER)] * 2)

    def test_tunnel_command_through_squid(self):
        sq = self.squid(auth="basic", connect_ports=(self.echo.port,))
        tp = free_port()
        target = f"{ORIGIN}:{self.echo.port}"
        self.start_tunnel(["--upstream", sq.url(creds=(USER, PASSWORD)), "--listen", f"127.0.0.1:{tp}", target])
        # (No connect probe: every connection would become a CONNECT at Squid.)
        self.tunnel_roundtrips(tp, sq, target)

    def test_tunnel_command_spec_argument_order(self):
        # The SPEC §1 form `ferry tunnel --listen ADDR HOST:PORT [flags]`,
        # with the flags after the target.
        sq = self.squid(auth="basic", connect_ports=(self.echo.port,))
        tp = free_port()
        target = f"{ORIGIN}:{self.echo.port}"
        self.start_tunnel(["--listen", f"127.0.0.1:{tp}", target, "--upstream", sq.url(creds=(USER, PASSWORD))])
        # (No connect probe: every connection would become a CONNECT at Squid.)
        self.tunnel_roundtrips(tp, sq, target)


if __name__ == "__main__":
    unittest.main()
