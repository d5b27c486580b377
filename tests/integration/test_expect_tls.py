"""Expect: 100-continue to a TLS origin that never sends 100 Continue.

ferry waits up to 1 s for the origin's verdict before sending the body. Over
TLS 1.3 the socket turns readable right after the handshake with the
server's session tickets, which are no verdict: ferry must keep waiting for
the rest of the second and then send the body, not block reading a response
head that only comes after the body (until --idle-timeout)."""

import hashlib
import socket
import ssl
import time
import unittest

from harness import ProxyTestCase, RawConn, SockReader, TestCA, ThreadedServer, field, parse_head


class SilentTlsOrigin(ThreadedServer):
    """TLS 1.3 origin that ignores Expect: reads the head, then the body,
    then answers with the body's SHA-256."""

    def __init__(self, ca):
        super().__init__()
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        self.ctx.load_cert_chain(ca.cert, ca.key)
        self.ctx.num_tickets = 2

    def handle(self, sock):
        tls = self.ctx.wrap_socket(sock, server_side=True)
        reader = SockReader(tls)
        head = reader.read_until(b"\r\n\r\n")
        if head is None:
            return
        _, fields = parse_head(head)
        body = reader.read_exact(int(field(fields, "content-length", "0")))
        if body is None:
            return
        digest = hashlib.sha256(body).hexdigest().encode()
        tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(digest), digest))
        tls.close()


class ExpectOverTlsTest(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ca = TestCA(cls.tmp)
        cls.origin = cls.start_server(SilentTlsOrigin(cls.ca))
        cls.ferry = cls.start_ferry("--idle-timeout", "20s", ca=cls.ca)

    def test_body_sent_after_the_wait_despite_session_tickets(self):
        body = b"x" * 5000
        url = f"https://localhost:{self.origin.port}/upload"
        t0 = time.monotonic()
        with RawConn(self.ferry.port, timeout=30) as c:
            c.send(f"POST {url} HTTP/1.1\r\nHost: localhost:{self.origin.port}\r\n"
                   f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n".encode())
            # Like curl: no 100 within a second, so the body goes anyway.
            time.sleep(1.0)
            c.send(body)
            resp = c.read_response("POST")
        elapsed = time.monotonic() - t0
        self.assertIsNotNone(resp)
        self.assertEqual(resp.status, 200, (resp.status_line, resp.fields, resp.body[:300]))
        self.assertEqual(resp.body, hashlib.sha256(body).hexdigest().encode())
        # Without the fix this waits for --idle-timeout (20 s) and fails 504.
        self.assertLess(elapsed, 8, f"took {elapsed:.1f} s")


if __name__ == "__main__":
    unittest.main()
