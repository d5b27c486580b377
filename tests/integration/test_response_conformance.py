"""Response-side conformance (the counterpart of test_smuggling.py): what the
client receives when an origin frames its answer badly, and whether ferry
reuses an origin connection after a framing fault (it must not: the origin
may mean the extra bytes as the next response). Every case sends a second
request on the same client connection and checks it gets its own answer.
Also the request-side rules ferry enforces before forwarding (RFC 9110,
RFC 9112) and which requests are retried on a fresh connection."""

import time
import unittest

from harness import (EchoServer, ProxyTestCase, RawConn, Response, SockReader, ThreadedServer, field, get, parse_head,
                     pending_bytes, read_body)

JUNK = b"JUNK-AFTER-THE-MESSAGE"


def ok(body):
    return b"HTTP/1.1 200 OK\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body


class ConnOrigin(ThreadedServer):
    """A raw origin that records, per accepted TCP connection, every request
    (head bytes, body bytes) and answers with script(conn_no, req_no, first_line)
    -> raw bytes, or None to close the connection without answering."""

    def __init__(self, script):
        self.script = script
        self.connections = []
        super().__init__()

    def handle(self, sock):
        with self.lock:
            conn_no = len(self.connections)
            requests = []
            self.connections.append(requests)
        r = SockReader(sock)
        while True:
            head = r.read_until(b"\r\n\r\n")
            if head is None:
                return
            first, fields = parse_head(head)
            body = bytearray()
            read_body(r, fields, body.extend)
            with self.lock:
                requests.append((head, bytes(body)))
                req_no = len(requests) - 1
            answer = self.script(conn_no, req_no, first)
            if answer is None:
                return
            sock.sendall(answer)

    def request_lines(self):
        """Per connection, the request lines it carried."""
        with self.lock:
            return [[parse_head(h)[0] for h, _ in reqs] for reqs in self.connections]

    def heads(self):
        with self.lock:
            return [parse_head(h) for reqs in self.connections for h, _ in reqs]


def first_then(first_answer, later=lambda conn_no, req_no: ok(b"second")):
    """Script: the first request on the first connection gets `first_answer`."""
    def script(conn_no, req_no, first_line):
        if conn_no == 0 and req_no == 0:
            return first_answer
        return later(conn_no, req_no)
    return script


def read_until_final(conn, method="GET"):
    """Reads interim (1xx) heads and the final response: ([(status, fields)], Response)."""
    interims = []
    while True:
        head = conn.read_head()
        if head is None:
            raise AssertionError(f"connection ended before a final response: {bytes(conn.reader.buf)!r}")
        first, fields = parse_head(head)
        status = int(first.split(" ")[1])
        if status >= 200:
            resp = Response(first, fields, b"", head)
            if method != "HEAD" and status not in (204, 304):
                body = bytearray()
                read_body(conn.reader, fields, body.extend)
                resp.body = bytes(body)
            return interims, resp
        interims.append((status, fields))


class ResponseConformanceTest(ProxyTestCase):
    # A fresh ferry per test: its origin pool starts empty, and a crash
    # fails only the case that caused it.
    FRESH_FERRY_ARGS = ["--connect-ports", "*"]

    def start_origin(self, script):
        origin = ConnOrigin(script)
        self.addCleanup(origin.stop)
        return origin

    def url(self, origin, path="/"):
        return f"http://127.0.0.1:{origin.port}{path}"

    def check_fault_then_next(self, answer, method="GET"):
        """Sends `method` (answered with the raw `answer`), then a GET /next on
        the same client connection; returns the first response. Asserts the
        GET got its own answer, nothing extra reached the client, and the
        origin saw the GET on a new connection (the faulty one not reused)."""
        origin = self.start_origin(first_then(answer))
        with RawConn(self.ferry.port) as c:
            c.send(get(self.url(origin), method=method, close=False))
            first = c.read_response(method)
            self.assertIsNotNone(first)
            c.send(get(self.url(origin, "/next"), close=False))
            second = c.read_response()
            self.assertEqual(second.status, 200, f"second response: {second.raw_head!r} {second.body!r}")
            self.assertEqual(second.body, b"second")
            self.assertEqual(pending_bytes(c), b"")
        self.assertEqual(origin.request_lines(), [[f"{method} / HTTP/1.1"], ["GET /next HTTP/1.1"]],
                         "the origin connection was reused after a framing fault")
        return first

    # -- framing faults ---------------------------------------------------

    def test_clean_response_reuses_origin_connection(self):
        # Control: without a fault the pooled connection carries the second request.
        origin = self.start_origin(first_then(ok(b"first")))
        with RawConn(self.ferry.port) as c:
            c.send(get(self.url(origin), close=False))
            self.assertEqual(c.read_response().body, b"first")
            c.send(get(self.url(origin, "/next"), close=False))
            self.assertEqual(c.read_response().body, b"second")
        self.assertEqual(origin.request_lines(), [["GET / HTTP/1.1", "GET /next HTTP/1.1"]])

    def test_head_response_with_body(self):
        first = self.check_fault_then_next(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHELLO", method="HEAD")
        self.assertEqual(first.status, 200)
        self.assertEqual(first.header("content-length"), "5")  # the representation's length, passed on
        self.assertEqual(first.body, b"")

    def test_204_with_body(self):
        first = self.check_fault_then_next(b"HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n" + JUNK)
        self.assertEqual(first.status, 204)
        self.assertEqual(first.header("x-a"), "1")
        self.assertFalse(first.has_header("content-length"))
        self.assertFalse(first.has_header("transfer-encoding"))

    def test_304_with_body(self):
        first = self.check_fault_then_next(b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n\r\n' + JUNK)
        self.assertEqual(first.status, 304)
        self.assertEqual(first.header("etag"), '"v1"')
        self.assertFalse(first.has_header("transfer-encoding"))

    def test_trailing_bytes_after_complete_response(self):
        first = self.check_fault_then_next(ok(b"ok") + JUNK)
        self.assertEqual(first.status, 200)
        self.assertEqual(first.body, b"ok")

    def test_te_and_cl_in_response(self):
        first = self.check_fault_then_next(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
                                           b"5\r\nhello\r\n0\r\n\r\n")
        self.assertFerryError(first, 502, "http_protocol_error")
        self.assertNotIn(b"hello", first.body)

    def test_http10_response_with_transfer_encoding(self):
        # RFC 9112 §6.1: decoded as the message says, then the connection is
        # closed, even though it asked for keep-alive (D22).
        first = self.check_fault_then_next(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n"
                                           b"\r\n5\r\nhello\r\n0\r\n\r\n")
        self.assertEqual(first.status, 200)
        self.assertEqual(first.body, b"hello")

    # -- 1xx sequences ------------------------------------------------------

    def check_interims(self, answer, version="1.1"):
        """Sends a GET answered with the raw `answer`; returns (interims, final)
        and checks a second request then reuses the (clean) origin connection."""
        origin = self.start_origin(first_then(answer))
        with RawConn(self.ferry.port) as c:
            c.send(get(self.url(origin), version=version, close=False,
                       extra_headers="Connection: keep-alive\r\n" if version == "1.0" else ""))
            interims, final = read_until_final(c)
            c.send(get(self.url(origin, "/next"), version=version, close=False,
                       extra_headers="Connection: keep-alive\r\n" if version == "1.0" else ""))
            second = c.read_response()
            self.assertEqual((second.status, second.body), (200, b"second"))
            self.assertEqual(pending_bytes(c), b"")
        self.assertEqual(origin.request_lines(), [["GET / HTTP/1.1", "GET /next HTTP/1.1"]])
        return interims, final

    def test_100_then_103_then_200(self):
        # RFC 9110 §15.2: a proxy forwards 1xx responses unless it asked for
        # them itself; neither the client nor ferry sent Expect here.
        interims, final = self.check_interims(
            b"HTTP/1.1 100 Continue\r\n\r\n"
            b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" + ok(b"final"))
        self.assertEqual([s for s, _ in interims], [100, 103])
        self.assertEqual(field(interims[1][1], "link"), "</a.css>; rel=preload")
        self.assertEqual((final.status, final.body), (200, b"final"))

    def test_several_103s_in_order(self):
        interims, final = self.check_interims(
            b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
            b"HTTP/1.1 103 Early Hints\r\nLink: </b.js>; rel=preload\r\n\r\n"
            b"HTTP/1.1 103 Early Hints\r\nLink: </c.png>; rel=preload\r\n\r\n" + ok(b"final"))
        self.assertEqual([(s, field(f, "link")) for s, f in interims],
                         [(103, "</a.css>; rel=preload"), (103, "</b.js>; rel=preload"), (103, "</c.png>; rel=preload")])
        self.assertEqual((final.status, final.body), (200, b"final"))

    def test_interim_connection_tokens_not_relayed(self):
        # Fields an interim response names in its own Connection are hop-by-hop
        # for that message (RFC 9110 §7.6.1; D21).
        interims, final = self.check_interims(
            b"HTTP/1.1 103 Early Hints\r\nConnection: X-Hop\r\nX-Hop: for-ferry-only\r\nLink: </a.css>\r\n\r\n" +
            ok(b"final"))
        self.assertEqual(len(interims), 1)
        names = [n.lower() for n, _ in interims[0][1]]
        self.assertIn("link", names)
        self.assertNotIn("x-hop", names)
        self.assertNotIn("connection", names)
        self.assertEqual(final.body, b"final")

    def test_no_interims_for_http10_client(self):
        interims, final = self.check_interims(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" + ok(b"final"),
            version="1.0")
        self.assertEqual(interims, [])
        self.assertEqual((final.status, final.body), (200, b"final"))

    # -- retry after a close on a reused connection ---------------------------

    def check_retry(self, method, extra=""):
        """The origin answers a first GET keep-alive, then reads the next
        request on that pooled connection and closes without answering; later
        connections answer normally. Returns (response, origin request lines)."""
        def script(conn_no, req_no, first_line):
            if conn_no == 0:
                return ok(b"first") if req_no == 0 else None
            return ok(b"retried")
        origin = self.start_origin(script)
        with RawConn(self.ferry.port) as c:
            c.send(get(self.url(origin), close=False))
            self.assertEqual(c.read_response().body, b"first")
            c.send(get(self.url(origin, "/x"), extra, method=method, close=False))
            resp = c.read_response()
        return resp, origin.request_lines()

    def test_get_retried_once_on_new_connection(self):
        resp, lines = self.check_retry("GET")
        self.assertEqual((resp.status, resp.body), (200, b"retried"))
        self.assertEqual(lines, [["GET / HTTP/1.1", "GET /x HTTP/1.1"], ["GET /x HTTP/1.1"]])

    def check_not_retried(self, method, extra=""):
        # RFC 9110 §9.2.2: the origin may have acted on it before closing; a
        # non-idempotent request is never sent twice (D16).
        resp, lines = self.check_retry(method, extra)
        self.assertFerryError(resp, 502, "connection_terminated")
        sent = [line for conn in lines for line in conn if line.startswith(method)]
        self.assertEqual(sent, [f"{method} /x HTTP/1.1"], f"origin saw: {lines}")

    def test_delete_not_retried(self):
        self.check_not_retried("DELETE")

    def test_post_without_body_not_retried(self):
        self.check_not_retried("POST", "Content-Length: 0\r\n")


class RequestConformanceTest(ProxyTestCase):
    """Rules ferry applies to requests before anything is forwarded."""

    FRESH_FERRY_ARGS = ["--connect-ports", "*"]

    def setUp(self):
        super().setUp()
        self.origin = ConnOrigin(lambda conn_no, req_no, first: ok(b"origin"))
        self.addCleanup(self.origin.stop)
        self.base = f"http://127.0.0.1:{self.origin.port}"

    def origin_field(self, name):
        heads = self.origin.heads()
        self.assertEqual(len(heads), 1, heads)
        return [v for n, v in heads[0][1] if n.lower() == name.lower()]

    def then_get_works(self, c):
        """The refused request left the connection usable."""
        c.send(get(self.base + "/after", close=False))
        resp = c.read_response()
        self.assertEqual((resp.status, resp.body), (200, b"origin"))
        self.assertEqual(self.origin.request_lines(), [["GET /after HTTP/1.1"]])

    def test_post_content_length_zero_preserved(self):
        # RFC 9110 §8.6: a POST normally carries Content-Length even when it is 0;
        # servers answer 411 without it (D2).
        with RawConn(self.ferry.port) as c:
            c.send(get(self.base + "/", "Content-Length: 0\r\n", method="POST", close=False))
            self.assertEqual(c.read_response().status, 200)
        self.assertEqual(self.origin_field("content-length"), ["0"])

    def test_post_without_content_length_gets_none(self):
        with RawConn(self.ferry.port) as c:
            c.send(get(self.base + "/", method="POST", close=False))
            self.assertEqual(c.read_response().status, 200)
        self.assertEqual(self.origin_field("content-length"), [])

    def check_connect_refused(self, extra, body):
        # RFC 9110 §9.3.6: a CONNECT has no content; a body length makes the
        # bytes after the head ambiguous (tunnel data or body).
        echo = EchoServer()
        self.addCleanup(echo.stop)
        hp = f"127.0.0.1:{echo.port}"
        with RawConn(self.ferry.port) as c:
            c.send(f"CONNECT {hp} HTTP/1.1\r\nHost: {hp}\r\n{extra}\r\n".encode() + body)
            resp = c.read_response("CONNECT")
            self.assertFerryError(resp, 400, "http_request_error")
            self.assertTrue(c.closed_by_peer(3))
        self.assertEqual(echo.accepted, 0, "the CONNECT was tunnelled")

    def test_connect_with_content_length(self):
        self.check_connect_refused("Content-Length: 5\r\n", b"hello")

    def test_connect_with_transfer_encoding(self):
        self.check_connect_refused("Transfer-Encoding: chunked\r\n", b"5\r\nhello\r\n0\r\n\r\n")

    def test_connect_with_content_length_zero_is_tunnelled(self):
        # Zero is unambiguous: tolerated (as Envoy does), the tunnel works.
        echo = EchoServer()
        self.addCleanup(echo.stop)
        hp = f"127.0.0.1:{echo.port}"
        with RawConn(self.ferry.port) as c:
            c.send(f"CONNECT {hp} HTTP/1.1\r\nHost: {hp}\r\nContent-Length: 0\r\n\r\n".encode())
            self.assertEqual(c.read_response("CONNECT").status, 200)
            c.send(b"ping")
            self.assertEqual(c.recv_exact(4), b"ping")

    def test_trace_refused(self):
        # ferry never forwards TRACE: 403 (a policy refusal, Proxy-Status
        # http_request_denied), nothing reaches the origin.
        with RawConn(self.ferry.port) as c:
            c.send(get(self.base + "/", "Max-Forwards: 5\r\n", method="TRACE", close=False))
            resp = c.read_response()
            self.assertFerryError(resp, 403, "http_request_denied")
            self.then_get_works(c)

    def test_options_max_forwards_zero_answered_by_ferry(self):
        # RFC 9110 §7.6.2: Max-Forwards 0 makes ferry the final recipient.
        with RawConn(self.ferry.port) as c:
            c.send(get(self.base + "/", "Max-Forwards: 0\r\n", method="OPTIONS", close=False))
            resp = c.read_response("OPTIONS")
            self.assertEqual(resp.status, 200, resp.raw_head)
            allow = [m.strip() for m in (resp.header("allow") or "").split(",")]
            self.assertIn("OPTIONS", allow)
            self.assertIn("GET", allow)
            self.assertNotIn("TRACE", allow)
            self.assertEqual(resp.header("content-length"), "0")
            self.assertVia(resp)
            self.then_get_works(c)

    def test_options_max_forwards_counted_down(self):
        with RawConn(self.ferry.port) as c:
            c.send(get(self.base + "/", "Max-Forwards: 3\r\n", method="OPTIONS", close=False))
            self.assertEqual(c.read_response().status, 200)
        self.assertEqual(self.origin_field("max-forwards"), ["2"])

    def test_max_forwards_of_other_methods_unchanged(self):
        with RawConn(self.ferry.port) as c:
            c.send(get(self.base + "/", "Max-Forwards: 3\r\n", close=False))
            self.assertEqual(c.read_response().status, 200)
        self.assertEqual(self.origin_field("max-forwards"), ["3"])

    def test_h2c_upgrade_dropped(self):
        # h2c through a proxy is the h2c-smuggling class: the request goes on
        # as plain HTTP/1.1 without Upgrade, HTTP2-Settings or their tokens.
        with RawConn(self.ferry.port) as c:
            c.send(get(self.base + "/", "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                                       "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n", close=False))
            resp = c.read_response()
            self.assertEqual((resp.status, resp.body), (200, b"origin"))
        self.assertEqual(self.origin_field("upgrade"), [])
        self.assertEqual(self.origin_field("http2-settings"), [])
        self.assertEqual(self.origin_field("connection"), [])

    def test_http11_without_host(self):
        # RFC 9112 §3.2: 400 for an HTTP/1.1 request without Host.
        with RawConn(self.ferry.port) as c:
            c.send(f"GET {self.base}/ HTTP/1.1\r\nAccept: */*\r\n\r\n".encode())
            self.assertFerryError(c.read_response(), 400, "http_request_error")
        time.sleep(0.2)  # let anything forwarded arrive
        self.assertEqual(self.origin.request_lines(), [])

    def test_http10_without_host_is_forwarded(self):
        with RawConn(self.ferry.port) as c:
            c.send(f"GET {self.base}/ HTTP/1.0\r\n\r\n".encode())
            resp = c.read_response()
            self.assertEqual((resp.status, resp.body), (200, b"origin"))
        self.assertEqual(self.origin_field("host"), [f"127.0.0.1:{self.origin.port}"])


if __name__ == "__main__":
    unittest.main()
