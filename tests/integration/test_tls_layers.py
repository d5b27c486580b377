"""TLS as a composable layer: TLS to an origin inside a CONNECT tunnel that
itself runs over TLS to an https:// upstream (Squid https_port), half-close
through TLS hops (close_notify, then a FIN), and truncation of a
close-delimited https:// body (a FIN without close_notify) reported as an
incomplete response instead of a complete chunked message.
"""

import select
import socket
import ssl
import subprocess
import unittest

from harness import Nginx, RawConn, SockReader, TestCA, ThreadedServer, get, parse_head
from upstreams import UpstreamTestCase

ORIGIN = "origin.test"
BODY = b"close-delimited body\n" * 100


class AnswerAtEof(ThreadedServer):
    """Reads until the client's EOF, then answers with the byte count and
    closes: a request-then-EOF protocol, which hangs unless the half-close
    arrives."""

    def handle(self, sock):
        n = 0
        while True:
            data = sock.recv(65536)
            if not data:
                break
            n += len(data)
        sock.sendall(f"got {n} bytes\n".encode())
        sock.shutdown(socket.SHUT_WR)


class HalfCloseTlsProxy(ThreadedServer):
    """An https:// proxy (TestCA certificate) that takes CONNECT and, unlike
    Squid 5 (which closes the whole tunnel at the client's EOF), passes a
    half-close on: the client's close_notify becomes a FIN to the target,
    and the tunnel lives on until the target's end. A client's FIN without
    close_notify is an error here (suppress_ragged_eofs=False), so only a
    proper TLS half-close gets an answer."""

    def __init__(self, ca):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(ca.cert, ca.key)
        super().__init__()

    def url(self):
        return f"https://127.0.0.1:{self.port}"

    def handle(self, sock):
        with self.ctx.wrap_socket(sock, server_side=True, suppress_ragged_eofs=False) as tls:
            reader = SockReader(tls)
            head = reader.read_until(b"\r\n\r\n")
            if head is None:
                return
            port = int(head.split(b" ")[1].rsplit(b":", 1)[1])
            with socket.create_connection(("127.0.0.1", port), 5) as target:
                tls.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                if reader.buf:
                    target.sendall(bytes(reader.buf))
                self.pump(tls, target)

    @staticmethod
    def pump(tls, target):
        client_open = True
        while True:
            ready = [tls] if client_open and tls.pending() else \
                select.select([tls, target] if client_open else [target], [], [], 10)[0]
            if not ready:
                return  # stalled
            if tls in ready:
                data = tls.recv(65536)
                if data:
                    target.sendall(data)
                else:  # close_notify
                    client_open = False
                    target.shutdown(socket.SHUT_WR)
            if target in ready:
                data = target.recv(65536)
                if not data:
                    return  # ends the client's connection too
                tls.sendall(data)


class TlsCloseDelimitedOrigin(ThreadedServer):
    """An https origin (TestCA certificate) answering every request with a
    body delimited by the connection's close, which ends either properly
    (close_notify, then FIN) or truncated (FIN only, as an attacker who
    injects one would)."""

    def __init__(self, ca, close_notify):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(ca.cert, ca.key)
        self.close_notify = close_notify
        super().__init__()

    def handle(self, sock):
        with self.ctx.wrap_socket(sock, server_side=True) as tls:
            self.answer(tls)

    def answer(self, tls):
        if SockReader(tls).read_until(b"\r\n\r\n") is None:
            return
        tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + BODY)
        if self.close_notify:
            tls.unwrap().close()  # close_notify (unwrap waits for ferry's end), then FIN
        else:
            # The TCP connection ends under TLS: no close_notify (Python sends
            # one only from unwrap()).
            tls.shutdown(socket.SHUT_RDWR)


class TlsLayersTest(UpstreamTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ca = TestCA(cls.tmp)
        cls.nginx = Nginx(cls.tmp, cls.ca)
        cls.addClassCleanup(cls.nginx.stop)
        cls.answer = cls.start_server(AnswerAtEof())
        cls.proxy = cls.start_server(HalfCloseTlsProxy(cls.ca))
        cls.tls = f"https://{ORIGIN}:{cls.nginx.https_port}/"

    def https_squid(self):
        return self.squid(https=True, ca=self.ca, connect_ports=(self.nginx.https_port,))

    def serve_via(self, upstream_url):
        return self.serve("--upstream", upstream_url, "--upstream-ca", self.ca.ca_cert, "--connect-ports",
                          f"{self.nginx.https_port},{self.answer.port}", ca=self.ca)

    # -- TLS inside TLS ------------------------------------------------------
    def test_https_absolute_form_through_https_upstream(self):
        sq = self.https_squid()
        f = self.serve_via(sq.url())
        # curl would send CONNECT; a client that sends the https:// URL in
        # absolute form has ferry do the TLS, here inside the TLS to Squid.
        with RawConn(f.port) as c:
            c.send(get(self.tls, close=False))
            resp = c.read_response()
            self.assertIsNotNone(resp)
            self.assertEqual(resp.status, 200, resp.raw_head + resp.body[:300])
            self.assertEqual(resp.body, Nginx.HELLO)
            c.send(get(self.tls + "64k.bin", close=False))
            resp = c.read_response()
            self.assertEqual(resp.status, 200, resp.raw_head)
            self.assertEqual(resp.body, self.nginx.file64k)
        evs = self.wait_events(f, 2, "request")
        self.assertEqual([e["route"] for e in evs], [sq.url()] * 2, f.stderr_text())
        # Squid logs a tunnel when it ends: one, pooled for both requests
        # (on one client connection, so one worker's pool).
        self.assertCleanExit(f)
        got = self.access(sq, 1)
        self.assertEqual([g[:3] for g in got], [(200, "CONNECT", f"{ORIGIN}:{self.nginx.https_port}")])

    def test_connect_through_https_upstream_still_works(self):
        sq = self.https_squid()
        f = self.serve_via(sq.url())
        r = self.curl(f"http://127.0.0.1:{f.port}", "--cacert", self.ca.ca_cert, self.tls)
        self.assertCurlBody(r, Nginx.HELLO)
        r = self.curl(f"http://127.0.0.1:{f.port}", "--cacert", self.ca.ca_cert, self.tls + "64k.bin")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, self.nginx.file64k)

    # -- half-close over a TLS hop (D5) --------------------------------------
    def test_ferry_connect_half_close_through_https_upstream(self):
        try:
            r, out, err = self.run_cli(["connect", f"{ORIGIN}:{self.answer.port}", "--upstream", self.proxy.url(),
                                        "--upstream-ca", self.ca.ca_cert], input=b"hello\n", timeout=10)
        except subprocess.TimeoutExpired:
            self.fail("stdin's EOF never reached the server through the https:// upstream")
        self.assertEqual(r.returncode, 0, err)
        self.assertEqual(out, "got 6 bytes\n", err)

    def test_connect_tunnel_half_close_through_https_upstream(self):
        f = self.serve_via(self.proxy.url())
        target = f"{ORIGIN}:{self.answer.port}"
        with RawConn(f.port, timeout=5) as c:
            c.send(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n")
            resp = c.read_response("CONNECT")
            self.assertEqual(resp.status, 200, resp.raw_head)
            c.send(b"request bytes")
            c.shutdown_write()
            try:
                answer = c.read_to_eof()
            except socket.timeout:
                self.fail("the client's half-close never reached the server through the https:// upstream")
        self.assertEqual(answer, b"got 13 bytes\n")

    # -- truncation of a close-delimited https:// body (D13) ------------------
    def fetch_raw(self, origin):
        """GET https://origin.test:PORT/ in absolute form (ferry does TLS) as
        HTTP/1.1 with keep-alive; returns (head, everything until ferry closes
        or 3 s of silence or the last-chunk)."""
        f = self.serve(ca=self.ca)
        self.ferry_under_test = f
        url = f"https://{ORIGIN}:{origin.port}/report"
        with RawConn(f.port, timeout=3) as c:
            c.send(get(url, close=False))
            head = c.read_head()
            self.assertIsNotNone(head, "no response head")
            rest = bytearray()
            try:
                while True:
                    data = c.recv_some()
                    if not data:
                        break
                    rest += data
                    if rest.endswith(b"0\r\n\r\n"):
                        break
            except socket.timeout:
                pass
        return head, bytes(rest)

    def test_truncated_close_delimited_body_is_not_complete(self):
        origin = self.start_server(TlsCloseDelimitedOrigin(self.ca, close_notify=False))
        head, rest = self.fetch_raw(origin)
        first, fields = parse_head(head)
        self.assertIn(" 200 ", first + " ")
        self.assertEqual(dict((k.lower(), v) for k, v in fields).get("transfer-encoding"), "chunked", head)
        self.assertIn(BODY[:100], rest)  # what arrived was passed on...
        self.assertFalse(rest.endswith(b"0\r\n\r\n"), rest[-50:])  # ...but never declared complete
        evs = self.wait_events(self.ferry_under_test, 1, "request")
        self.assertEqual([e.get("error") for e in evs], ["http_response_incomplete"], evs)

    def test_close_notify_ends_close_delimited_body(self):
        origin = self.start_server(TlsCloseDelimitedOrigin(self.ca, close_notify=True))
        head, rest = self.fetch_raw(origin)
        self.assertTrue(rest.endswith(b"0\r\n\r\n"), rest[-50:])
        body, data = b"", rest
        while True:  # de-chunk
            size_line, _, data = data.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                break
            body += data[:size]
            data = data[size + 2:]
        self.assertEqual(body, BODY)
        evs = self.wait_events(self.ferry_under_test, 1, "request")
        self.assertEqual([e.get("error") or None for e in evs], [None], evs)


if __name__ == "__main__":
    unittest.main()
