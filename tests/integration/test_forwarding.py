"""HTTP/1.1 forwarding through ferry to real origins (nginx and Python)."""

import gzip
import hashlib
import os
import re
import subprocess
import unittest

from harness import (CURL, DigestOrigin, Ferry, Nginx, ProxyTestCase, RawConn, RecordingOrigin, ScriptedOrigin,
                     TestCA, clean_env, curl, get, raw_request, sha256_hex)


class ForwardingTest(ProxyTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ca = TestCA(cls.tmp)
        cls.nginx = Nginx(cls.tmp, cls.ca)
        cls.addClassCleanup(cls.nginx.stop)
        cls.digest = cls.start_server(DigestOrigin())
        cls.recorder = cls.start_server(RecordingOrigin())
        cls.ferry = cls.start_ferry(ca=cls.ca)
        cls.upload = os.path.join(cls.tmp, "upload.bin")
        with open(cls.upload, "wb") as f:
            f.write(hashlib.sha256(b"up").digest() * (3 * 1024 * 1024 // 32))  # 3 MiB
        with open(cls.upload, "rb") as f:
            data = f.read()
        cls.upload_digest = f"{sha256_hex(data)} {len(data)}"

    # -- basics against nginx -------------------------------------------

    def test_get_through_curl(self):
        r = curl(self.ferry.port, "-i", self.nginx.url("/"))
        self.assertEqual(r.returncode, 0, r.stderr)
        head, _, body = r.stdout.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
        self.assertEqual(body, Nginx.HELLO)
        self.assertRegex(head.decode(), r"(?im)^via: 1\.1 ferry-[0-9a-f]{12}\r?$")

    def test_get_raw_has_via(self):
        resp = raw_request(self.ferry.port, get(self.nginx.url("/")))
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body, Nginx.HELLO)
        self.assertVia(resp)

    def test_client_keep_alive_two_urls_one_connection(self):
        r = curl(self.ferry.port, "-o", "/dev/null", "-o", "/dev/null", "-w", "%{http_code} %{num_connects}\\n",
                 self.nginx.url("/"), self.nginx.url("/64k.bin"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode().split("\n")[:2], ["200 1", "200 0"])

    def test_keep_alive_raw_many_requests(self):
        with RawConn(self.ferry.port) as c:
            for i in range(5):
                c.send(get(self.nginx.url("/"), close=False))
                resp = c.read_response()
                self.assertEqual(resp.status, 200)
                self.assertEqual(resp.body, Nginx.HELLO)
                self.assertNotEqual((resp.header("connection") or "").lower(), "close")

    def test_head(self):
        with RawConn(self.ferry.port) as c:
            c.send(get(self.nginx.url("/64k.bin"), method="HEAD", close=False))
            resp = c.read_response("HEAD")
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.header("content-length"), str(64 * 1024))
            # No body follows: the next request on the connection works.
            c.send(get(self.nginx.url("/")))
            resp2 = c.read_response()
            self.assertEqual(resp2.status, 200)
            self.assertEqual(resp2.body, Nginx.HELLO)
        r = curl(self.ferry.port, "-sI", self.nginx.url("/"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith(b"HTTP/1.1 200"), r.stdout)

    def test_204(self):
        with RawConn(self.ferry.port) as c:
            c.send(get(self.nginx.url("/empty"), close=False))
            resp = c.read_response()
            self.assertEqual(resp.status, 204)
            self.assertEqual(resp.body, b"")
            self.assertFalse(resp.has_header("transfer-encoding"))
            c.send(get(self.nginx.url("/")))
            self.assertEqual(c.read_response().body, Nginx.HELLO)

    def test_304_if_none_match(self):
        first = raw_request(self.ferry.port, get(self.nginx.url("/etag.txt")))
        self.assertEqual(first.status, 200)
        etag = first.header("etag")
        self.assertTrue(etag, first.fields)
        with RawConn(self.ferry.port) as c:
            c.send(get(self.nginx.url("/etag.txt"), f"If-None-Match: {etag}\r\n", close=False))
            resp = c.read_response()
            self.assertEqual(resp.status, 304)
            self.assertEqual(resp.body, b"")
            c.send(get(self.nginx.url("/")))
            self.assertEqual(c.read_response().body, Nginx.HELLO)
        r = curl(self.ferry.port, "-o", "/dev/null", "-w", "%{http_code}", "-H", f"If-None-Match: {etag}",
                 self.nginx.url("/etag.txt"))
        self.assertEqual(r.stdout, b"304")

    def test_64k_body_intact(self):
        r = curl(self.ferry.port, self.nginx.url("/64k.bin"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sha256_hex(r.stdout), sha256_hex(self.nginx.file64k))

    def test_big_body_intact(self):
        r = curl(self.ferry.port, self.nginx.url("/big"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(r.stdout), len(self.nginx.big))
        self.assertEqual(sha256_hex(r.stdout), sha256_hex(self.nginx.big))

    # -- https:// absolute form ------------------------------------------

    def test_https_absolute_form(self):
        resp = raw_request(self.ferry.port, get(self.nginx.url("/", tls=True)))
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(resp.body, Nginx.HELLO)
        self.assertVia(resp)
        resp = raw_request(self.ferry.port, get(self.nginx.url("/64k.bin", tls=True)))
        self.assertEqual(resp.body, self.nginx.file64k)

    def test_https_untrusted_certificate(self):
        # A ferry that does not trust the test CA (system store only).
        f = Ferry(self.tmp, [], name="ferry-untrusted",
                  env={"SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt"})
        try:
            resp = raw_request(f.port, get(self.nginx.url("/", tls=True)))
            self.assertFerryError(resp, 502, "tls_certificate_error")
            self.assertNotIn(b"hello from origin", resp.body)
        finally:
            self.assertCleanExit(f)

    # -- HTTP/1.0 and framing conversions --------------------------------

    def test_http10_client(self):
        with RawConn(self.ferry.port) as c:
            c.send(get(self.nginx.url("/"), version="1.0", close=False))
            resp = c.read_response()
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.body, Nginx.HELLO)
            self.assertVia(resp)
            self.assertTrue(c.closed_by_peer(5), "ferry kept an HTTP/1.0 connection without keep-alive open")
        r = curl(self.ferry.port, "-0", self.nginx.url("/big"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sha256_hex(r.stdout), sha256_hex(self.nginx.big))

    def test_close_delimited_origin_becomes_chunked(self):
        body = b"".join(b"line %05d of a close-delimited body\n" % i for i in range(3000))
        origin = self.start_server(ScriptedOrigin(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + body))
        with RawConn(self.ferry.port) as c:
            c.send(get(f"http://127.0.0.1:{origin.port}/", close=False))
            resp = c.read_response()
            self.assertEqual(resp.status, 200)
            self.assertEqual((resp.header("transfer-encoding") or "").lower(), "chunked", resp.raw_head)
            self.assertEqual(resp.body, body)
            # The client connection survives the close-delimited origin response.
            c.send(get(self.nginx.url("/")))
            self.assertEqual(c.read_response().body, Nginx.HELLO)

    def test_close_delimited_origin_http10_client(self):
        body = b"x" * 100000
        origin = self.start_server(ScriptedOrigin(b"HTTP/1.1 200 OK\r\n\r\n" + body))
        resp = raw_request(self.ferry.port, get(f"http://127.0.0.1:{origin.port}/", version="1.0", close=False))
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body, body)

    def test_chunked_origin_response_relayed(self):
        chunks = [b"a" * 1, b"hello ", b"b" * 70000, b"\r\nnot framing\r\n0\r\n\r\n", b"end"]
        wire = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\nX-Trailer: t\r\n\r\n"
        origin = self.start_server(ScriptedOrigin(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + wire,
                                                  linger=0.5))
        with RawConn(self.ferry.port) as c:
            c.send(get(f"http://127.0.0.1:{origin.port}/", close=False))
            resp = c.read_response()
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.body, b"".join(chunks))
            c.send(get(self.nginx.url("/")))
            self.assertEqual(c.read_response().body, Nginx.HELLO)
        r = curl(self.ferry.port, f"http://127.0.0.1:{origin.port}/")
        self.assertEqual(r.stdout, b"".join(chunks))

    def test_origin_transfer_coding_not_lost(self):
        # An origin's `Transfer-Encoding: gzip, chunked`: ferry may decode the
        # gzip coding, pass it on, or refuse the response (502) - but it must not
        # drop the coding and hand the client gzip bytes labelled as identity.
        plain = b"hello gzip world\n" * 10
        z = gzip.compress(plain)
        for te, wire in (("gzip, chunked", b"%x\r\n%s\r\n0\r\n\r\n" % (len(z), z)), ("gzip", z)):
            with self.subTest(te=te):
                origin = self.start_server(ScriptedOrigin(
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: " + te.encode() + b"\r\n\r\n" + wire))
                resp = raw_request(self.ferry.port, get(f"http://127.0.0.1:{origin.port}/"))
                if resp.status == 502:
                    self.assertFerryError(resp, 502, "http_protocol_error")
                    continue
                self.assertEqual(resp.status, 200)
                codings = [c.strip().lower() for v in resp.headers_all("transfer-encoding") for c in v.split(",")]
                received = gzip.decompress(resp.body) if "gzip" in codings else resp.body
                self.assertEqual(received, plain, f"transfer coding lost: head {resp.raw_head!r}")

    # -- request bodies --------------------------------------------------

    def test_post_content_length(self):
        r = curl(self.ferry.port, "--data-binary", "@" + self.upload, "-H", "Expect:",
                 f"http://127.0.0.1:{self.digest.port}/upload")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode().strip(), self.upload_digest)

    def test_post_chunked(self):
        r = curl(self.ferry.port, "--data-binary", "@" + self.upload, "-H", "Transfer-Encoding: chunked",
                 "-H", "Expect:", f"http://127.0.0.1:{self.digest.port}/upload")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode().strip(), self.upload_digest)
        first, fields = self.digest.requests[-1]
        self.assertIn(("Transfer-Encoding", "chunked"), fields)

    def test_post_raw_keep_alive(self):
        body = b"0123456789" * 1000
        with RawConn(self.ferry.port) as c:
            for framing in ("cl", "chunked", "cl"):
                if framing == "cl":
                    req = get(f"http://127.0.0.1:{self.digest.port}/", f"Content-Length: {len(body)}\r\n",
                              method="POST", close=False) + body
                else:
                    req = get(f"http://127.0.0.1:{self.digest.port}/", "Transfer-Encoding: chunked\r\n",
                              method="POST", close=False) + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
                c.send(req)
                resp = c.read_response()
                self.assertEqual(resp.status, 200)
                self.assertEqual(resp.body.decode().strip(), f"{sha256_hex(body)} {len(body)}")

    def test_expect_100_continue(self):
        r = curl(self.ferry.port, "-v", "--data-binary", "@" + self.upload, "-H", "Expect: 100-continue",
                 f"http://127.0.0.1:{self.digest.port}/upload")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode().strip(), self.upload_digest)
        self.assertIn(b"100 Continue", r.stderr)
        first, fields = self.digest.requests[-1]
        self.assertEqual((dict((k.lower(), v) for k, v in fields)).get("expect"), "100-continue")

    def test_expect_100_continue_raw(self):
        body = b"z" * 5000
        with RawConn(self.ferry.port) as c:
            c.send(get(f"http://127.0.0.1:{self.digest.port}/",
                       f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n", method="POST", close=False))
            head = c.read_head()
            self.assertTrue(head.startswith(b"HTTP/1.1 100"), head)
            c.send(body)
            resp = c.read_response()
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.body.decode().strip(), f"{sha256_hex(body)} {len(body)}")

    def test_expect_100_continue_origin_without_100(self):
        # The origin never sends 100 Continue: the upload still completes, and
        # no slower through ferry than direct (where the client waits out its
        # own expect timeout, 2 s here).
        self.recorder.reset()
        body = b"q" * 200000
        path = os.path.join(self.tmp, "small-upload.bin")
        with open(path, "wb") as f:
            f.write(body)
        args = ["--data-binary", "@" + path, "-H", "Expect: 100-continue", "--expect100-timeout", "2",
                "-o", "/dev/null", "-w", "%{http_code} %{time_total}", f"http://127.0.0.1:{self.recorder.port}/no100"]
        direct = subprocess.run([CURL, "-sS", "--noproxy", "*", *args], capture_output=True, timeout=30,
                                env=clean_env())
        r = curl(self.ferry.port, *args, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        code, total = r.stdout.decode().split()
        self.assertEqual(code, "200")
        self.assertEqual(self.recorder.requests[-1][2], body)
        direct_total = float(direct.stdout.decode().split()[1])
        self.assertLess(float(total), direct_total + 1.5,
                        f"through ferry {total} s, direct {direct_total} s")

    def test_expect_100_continue_refused_by_origin(self):
        origin = self.start_server(ScriptedOrigin(b"HTTP/1.1 417 Expectation Failed\r\nContent-Length: 4\r\n\r\nnope"))
        with RawConn(self.ferry.port, timeout=10) as c:
            c.send(get(f"http://127.0.0.1:{origin.port}/", "Content-Length: 100000\r\nExpect: 100-continue\r\n",
                       method="POST", close=False))
            resp = c.read_response()
            self.assertEqual(resp.status, 417)
            self.assertEqual(resp.body, b"nope")

    # -- headers -----------------------------------------------------------

    def test_request_via_and_hop_by_hop(self):
        self.recorder.reset()
        extra = ("Connection: keep-alive, X-Hop-Custom\r\n"
                 "X-Hop-Custom: hop-value\r\n"
                 "Keep-Alive: timeout=5\r\n"
                 "Proxy-Connection: keep-alive\r\n"
                 "TE: trailers\r\n"
                 "Trailer: X-Some-Trailer\r\n"
                 "Proxy-Authorization: Basic cHJveHk6cGFzcw==\r\n"
                 "Via: 1.0 upstream-a, 1.1 upstream-b\r\n"
                 "Via: 1.1 upstream-c\r\n"
                 "X-End-To-End: kept\r\n")
        with RawConn(self.ferry.port) as c:
            c.send(get(f"http://127.0.0.1:{self.recorder.port}/path?q=1", extra, close=False))
            resp = c.read_response()
            self.assertEqual(resp.status, 200)
            self.assertVia(resp)
        first, fields, _ = self.recorder.requests[-1]
        self.assertEqual(first, "GET /path?q=1 HTTP/1.1")
        names = [n.lower() for n, _ in fields]
        for hop in ("x-hop-custom", "keep-alive", "proxy-connection", "te", "trailer", "proxy-authorization"):
            self.assertNotIn(hop, names, f"hop-by-hop header {hop} forwarded: {fields}")
        conn = [v.lower() for n, v in fields if n.lower() == "connection"]
        self.assertFalse(any("x-hop-custom" in v for v in conn), conn)
        self.assertIn(("X-End-To-End", "kept"), fields)
        self.assertEqual([v for n, v in fields if n.lower() == "host"], [f"127.0.0.1:{self.recorder.port}"])
        vias = [v for n, v in fields if n.lower() == "via"]
        joined = ", ".join(vias)
        self.assertIn("1.0 upstream-a", joined)
        self.assertIn("1.1 upstream-c", joined)
        self.assertRegex(vias[-1], r"(^|, )1\.1 ferry-[0-9a-f]{12}$")
        self.assertEqual(joined.count("ferry-"), 1)
        raw = self.recorder.all_bytes()
        self.assertNotIn(b"cHJveHk6cGFzcw==", raw)
        self.assertNotIn(b"hop-value", raw)

    def test_proxy_authorization_never_forwarded_by_curl(self):
        self.recorder.reset()
        r = curl(self.ferry.port, "-U", "someuser:SECRET-PROXY-PASS", "--proxy-basic",
                 f"http://127.0.0.1:{self.recorder.port}/")
        self.assertEqual(r.returncode, 0, r.stderr)
        raw = self.recorder.all_bytes()
        self.assertIn(b"GET / HTTP/1.1", raw)
        self.assertNotIn(b"roxy-Authorization", raw)
        self.assertNotIn(b"c29tZXVzZXI6U0VDUkVULVBST1hZLVBBU1M=", raw)

    def test_http10_request_via(self):
        self.recorder.reset()
        resp = raw_request(self.ferry.port, get(f"http://127.0.0.1:{self.recorder.port}/", version="1.0",
                                                close=False))
        self.assertEqual(resp.status, 200)
        first, fields, _ = self.recorder.requests[-1]
        vias = [v for n, v in fields if n.lower() == "via"]
        self.assertEqual(len(vias), 1)
        self.assertRegex(vias[0], r"^1\.0 ferry-[0-9a-f]{12}$")

    def test_host_header_replaced_by_target_authority(self):
        self.recorder.reset()
        url = f"http://127.0.0.1:{self.recorder.port}/h"
        resp = raw_request(self.ferry.port, f"GET {url} HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n"
                           .encode())
        self.assertEqual(resp.status, 200)
        first, fields, _ = self.recorder.requests[-1]
        self.assertEqual([v for n, v in fields if n.lower() == "host"], [f"127.0.0.1:{self.recorder.port}"])

    def test_pipelined_requests(self):
        self.recorder.reset()
        reqs = b"".join(get(f"http://127.0.0.1:{self.recorder.port}/p{i}", close=False) for i in range(5))
        body = b"abc"
        reqs += get(f"http://127.0.0.1:{self.digest.port}/post", f"Content-Length: {len(body)}\r\n",
                    method="POST", close=False) + body
        reqs += get(self.nginx.url("/"))
        with RawConn(self.ferry.port) as c:
            c.send(reqs)
            for i in range(5):
                self.assertEqual(c.read_response().status, 200)
            self.assertEqual(c.read_response().body.decode().strip(), f"{sha256_hex(body)} 3")
            self.assertEqual(c.read_response().body, Nginx.HELLO)
        self.assertEqual([r[0] for r in self.recorder.requests], [f"GET /p{i} HTTP/1.1" for i in range(5)])

    def test_repeated_response_headers_preserved(self):
        head = b"HTTP/1.1 200 OK\r\n" + b"".join(b"Set-Cookie: c%d=v%d\r\n" % (i, i) for i in range(50)) + \
            b"Via: 1.1 upstream-proxy\r\nContent-Length: 2\r\n\r\nok"
        origin = self.start_server(ScriptedOrigin(head))
        resp = raw_request(self.ferry.port, get(f"http://127.0.0.1:{origin.port}/"))
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.headers_all("set-cookie"), [f"c{i}=v{i}" for i in range(50)])
        vias = ", ".join(resp.headers_all("via"))
        self.assertIn("1.1 upstream-proxy", vias)
        self.assertRegex(vias, r"ferry-[0-9a-f]{12}")

    def test_ipv6_origin(self):
        import socket as _s
        from harness import ipv6_loopback_available, ThreadedServer
        if not ipv6_loopback_available():
            self.skipTest("no ::1")

        class V6(ThreadedServer):
            def handle(self, sock):
                from harness import SockReader
                r = SockReader(sock)
                if r.read_until(b"\r\n\r\n"):
                    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nv6\n")

        origin = self.start_server(V6(family=_s.AF_INET6, host="::1"))
        resp = raw_request(self.ferry.port, get(f"http://[::1]:{origin.port}/"))
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body, b"v6\n")

    def test_http10_keep_alive(self):
        with RawConn(self.ferry.port) as c:
            for _ in range(2):
                c.send(get(self.nginx.url("/"), "Connection: keep-alive\r\n", version="1.0", close=False))
                resp = c.read_response()
                self.assertEqual(resp.status, 200)
                self.assertEqual(resp.body, Nginx.HELLO)
                self.assertEqual((resp.header("connection") or "").lower(), "keep-alive")

    # -- origin pooling ----------------------------------------------------

    def test_origin_connection_reused_on_one_client_connection(self):
        origin = self.start_server(RecordingOrigin())
        with RawConn(self.ferry.port) as c:
            for i in range(20):
                c.send(get(f"http://127.0.0.1:{origin.port}/{i}", close=False))
                resp = c.read_response()
                self.assertEqual(resp.status, 200)
        self.assertEqual(len(origin.requests), 20)
        self.assertEqual(origin.accepted, 1, "ferry opened a new origin connection per request")

    def test_origin_connection_pooled_across_client_connections(self):
        f = Ferry(self.tmp, ["--workers", "1"], name="ferry-one-worker")
        try:
            origin = self.start_server(RecordingOrigin())
            for i in range(20):
                resp = raw_request(f.port, get(f"http://127.0.0.1:{origin.port}/{i}"))
                self.assertEqual(resp.status, 200)
            self.assertEqual(len(origin.requests), 20)
            self.assertEqual(origin.accepted, 1, "origin connections were not pooled across clients")
        finally:
            self.assertCleanExit(f)

    def test_pooled_connection_closed_by_origin_is_retried(self):
        # An origin that closes after each response (without saying so):
        # the next request on a pooled connection must still succeed.
        origin = self.start_server(ScriptedOrigin(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"))
        for _ in range(3):
            resp = raw_request(self.ferry.port, get(f"http://127.0.0.1:{origin.port}/"))
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.body, b"abc")


if __name__ == "__main__":
    unittest.main()
