"""Strict request parsing (RFC 9112): ambiguous or malformed requests get 400
with Proxy-Status http_request_error, and nothing reaches the origin."""

import time
import unittest

from harness import ProxyTestCase, RawConn, RecordingOrigin

MARKER = b"SMUGGLED-MARKER"


def head_vectors(origin):
    """name -> raw request bytes; each must be refused before anything is forwarded."""
    url = f"http://127.0.0.1:{origin}/"
    host = f"Host: 127.0.0.1:{origin}\r\n"

    def post(headers, body=b"", version="1.1", method="POST"):
        return (f"{method} {url} HTTP/{version}\r\n{host}".encode() + headers + b"\r\n" + body)

    smuggled = b"GET " + url.encode() + b"smuggled HTTP/1.1\r\n" + host.encode() + b"X-M: " + MARKER + b"\r\n\r\n"
    chunked_body = b"0\r\n\r\n" + smuggled
    return {
        "te_and_cl": post(b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", chunked_body),
        "cl_and_te": post(b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", chunked_body),
        "duplicate_cl_same": post(b"Content-Length: 5\r\nContent-Length: 5\r\n", b"hello" + smuggled),
        "duplicate_cl_different": post(b"Content-Length: 5\r\nContent-Length: 6\r\n", b"hello!" + smuggled),
        "cl_list_5_5": post(b"Content-Length: 5, 5\r\n", b"hello" + smuggled),
        "cl_plus": post(b"Content-Length: +5\r\n", b"hello" + smuggled),
        "cl_negative": post(b"Content-Length: -1\r\n", smuggled),
        "cl_hex": post(b"Content-Length: 0x5\r\n", b"hello" + smuggled),
        "cl_suffix": post(b"Content-Length: 5a\r\n", b"hello" + smuggled),
        "cl_empty": post(b"Content-Length: \r\n", smuggled),
        "cl_inner_space": post(b"Content-Length: 5 5\r\n", b"hello" + smuggled),
        "cl_huge": post(b"Content-Length: 99999999999999999999999\r\n", smuggled),
        "te_gzip_chunked": post(b"Transfer-Encoding: gzip, chunked\r\n", chunked_body),
        "te_chunked_gzip": post(b"Transfer-Encoding: chunked, gzip\r\n", chunked_body),
        "te_chunked_chunked_list": post(b"Transfer-Encoding: chunked, chunked\r\n", chunked_body),
        "te_identity": post(b"Transfer-Encoding: identity\r\n", chunked_body),
        "te_duplicate": post(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", chunked_body),
        "te_in_http10": post(b"Transfer-Encoding: chunked\r\n", chunked_body, version="1.0"),
        "te_space_before_colon": post(b"Transfer-Encoding : chunked\r\n", chunked_body),
        "te_obs_fold": post(b"Transfer-Encoding:\r\n chunked\r\n", chunked_body),
        "obs_fold": post(b"X-A: 1\r\n folded\r\n", b""),
        "obs_fold_tab": post(b"X-A: 1\r\n\tfolded\r\n", b""),
        "bare_cr_in_value": post(b"X-A: a\rb\r\n", b""),
        "bare_cr_line_end": post(b"X-A: a\r\rX-B: b\r\n", b""),
        "nul_in_value": post(b"X-A: a\x00b\r\n", b""),
        "nul_in_name": post(b"X-\x00A: a\r\n", b""),
        "space_before_colon_host": (f"GET {url} HTTP/1.1\r\nHost : 127.0.0.1:{origin}\r\n\r\n").encode(),
        "space_before_colon_cl": post(b"Content-Length : 5\r\n", b"hello" + smuggled),
        "tab_before_colon": post(b"X-A\t: 1\r\n", b""),
        "invalid_name_char": post(b"X(A): 1\r\n", b""),
        "invalid_name_at": post(b"X@A: 1\r\n", b""),
        "empty_name": post(b": value\r\n", b""),
        "no_colon": post(b"X-No-Colon\r\n", b""),
        "control_char_in_value": post(b"X-A: a\x01b\r\n", b""),
        "del_in_value": post(b"X-A: a\x7fb\r\n", b""),
        "two_hosts": post(b"Host: other.example\r\n", b""),
        "bare_lf_request_line": f"GET {url} HTTP/1.1\n{host}\r\n".encode(),
        "bare_lf_header": f"GET {url} HTTP/1.1\r\nX-A: 1\n{host}\r\n".encode(),
        "bare_lf_everywhere": f"GET {url} HTTP/1.1\nHost: 127.0.0.1:{origin}\n\n".encode(),
        "double_space_request_line": f"GET  {url} HTTP/1.1\r\n{host}\r\n".encode(),
        "bad_version": f"GET {url} HTTP/1.x\r\n{host}\r\n".encode(),
        "lowercase_version": f"GET {url} http/1.1\r\n{host}\r\n".encode(),
        "space_in_target": f"GET {url}a b HTTP/1.1\r\n{host}\r\n".encode(),
        "bad_method": f"G(T {url} HTTP/1.1\r\n{host}\r\n".encode(),
        "headers_over_64k": (f"GET {url} HTTP/1.1\r\n{host}".encode() +
                             b"".join(b"X-Filler-%05d: %s\r\n" % (i, b"f" * 100) for i in range(700)) + b"\r\n"),
        "single_header_over_64k": f"GET {url} HTTP/1.1\r\n{host}".encode() + b"X-Big: " + b"b" * 70000 + b"\r\n\r\n",
    }


def chunk_vectors(origin):
    """Bad chunked bodies: the head may have been forwarded, but nothing
    after the bad chunk, and never a complete request."""
    url = f"http://127.0.0.1:{origin}/"
    head = f"POST {url} HTTP/1.1\r\nHost: 127.0.0.1:{origin}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
    after = b"\r\n" + MARKER + b"\r\n0\r\n\r\n"
    return {
        "chunk_size_zz": head + b"5\r\nhello\r\nzz" + after,
        "chunk_size_overflow": head + b"5\r\nhello\r\nfffffffffffffffffff" + after,
        "chunk_size_negative": head + b"5\r\nhello\r\n-5" + after,
        "chunk_size_leading_space": head + b"5\r\nhello\r\n 5" + after,
        "chunk_size_0x": head + b"5\r\nhello\r\n0x5" + after,
        "chunk_size_empty": head + b"5\r\nhello\r\n" + after,
        "chunk_data_too_long": head + b"5\r\nhelloXX\r\n" + MARKER + b"\r\n0\r\n\r\n",
        "chunk_size_bare_lf": head + b"5\nhello\r\n" + MARKER + b"\r\n0\r\n\r\n",
        "chunk_ext_control_char": head + b"5;a=\x01\r\nhello\r\n" + MARKER + b"\r\n0\r\n\r\n",
        "first_chunk_bad": head + b"zz\r\n" + MARKER + b"\r\n0\r\n\r\n",
    }


class SmugglingTest(ProxyTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.origin = cls.start_server(RecordingOrigin())
        cls.heads = head_vectors(cls.origin.port)
        cls.chunks = chunk_vectors(cls.origin.port)

    # A fresh ferry per test: one crash does not take the other vectors with it.
    FRESH_FERRY_ARGS = []

    def send_and_read(self, raw):
        self.origin.reset()
        with RawConn(self.ferry.port) as c:
            try:
                c.send(raw)
            except (BrokenPipeError, ConnectionResetError):
                pass  # ferry may answer and close before reading everything
            try:
                resp = c.read_response()
            except ConnectionResetError:
                resp = None
            if resp is not None:
                # The connection is closed after a 400 (nothing more is parsed).
                self.assertTrue(c.closed_by_peer(3), "ferry kept the connection open after a 400")
        time.sleep(0.2)  # let anything that was forwarded arrive
        return resp

    def check_head_vector(self, name):
        resp = self.send_and_read(self.heads[name])
        self.assertFerryError(resp, 400, "http_request_error")
        self.assertEqual(self.origin.total_bytes(), 0,
                         f"origin received bytes: {self.origin.all_bytes()[:300]!r}")

    def check_chunk_vector(self, name):
        resp = self.send_and_read(self.chunks[name])
        self.assertFerryError(resp, 400, "http_request_error")
        got = self.origin.all_bytes()
        self.assertNotIn(MARKER, got, "bytes after the bad chunk were forwarded")
        self.assertEqual(self.origin.requests, [], "the origin received a complete request")

    def test_pipelined_bad_request_after_good_one(self):
        self.origin.reset()
        good = f"GET http://127.0.0.1:{self.origin.port}/good HTTP/1.1\r\nHost: 127.0.0.1:{self.origin.port}\r\n\r\n"
        bad = self.heads["te_and_cl"]
        with RawConn(self.ferry.port) as c:
            c.send(good.encode() + bad)
            first = c.read_response()
            self.assertEqual(first.status, 200)
            second = c.read_response()
            self.assertFerryError(second, 400, "http_request_error")
        time.sleep(0.2)
        self.assertEqual(len(self.origin.requests), 1)
        self.assertNotIn(MARKER, self.origin.all_bytes())

    def test_valid_requests_still_pass(self):
        # Sanity: the same origin answers well-formed variants of the vectors.
        self.origin.reset()
        url = f"http://127.0.0.1:{self.origin.port}/"
        host = f"Host: 127.0.0.1:{self.origin.port}\r\n"
        ok = [
            f"POST {url} HTTP/1.1\r\n{host}Content-Length: 5\r\n\r\nhello",
            f"POST {url} HTTP/1.1\r\n{host}Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\n\r\n",
            f"POST {url} HTTP/1.1\r\n{host}Transfer-Encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
            f"POST {url} HTTP/1.1\r\n{host}Content-Length: 005\r\n\r\nhello",
            f"GET {url} HTTP/1.1\r\n{host}X-A:\tvalue with tab\t\r\n\r\n",
        ]
        with RawConn(self.ferry.port) as c:
            for req in ok:
                c.send(req.encode())
                resp = c.read_response()
                self.assertEqual(resp.status, 200, req)
        self.assertEqual(len(self.origin.requests), len(ok))
        self.assertEqual([r[2] for r in self.origin.requests[:4]], [b"hello"] * 4)

    def test_header_timeout_408(self):
        # The 30 s header timeout (no flag shortens it).
        self.origin.reset()
        with RawConn(self.ferry.port, timeout=45) as c:
            c.send(f"GET http://127.0.0.1:{self.origin.port}/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Partial: ".encode())
            start = time.monotonic()
            resp = c.read_response()
            elapsed = time.monotonic() - start
        self.assertFerryError(resp, 408, "http_request_error")
        self.assertGreater(elapsed, 25)
        self.assertLess(elapsed, 40)
        self.assertEqual(self.origin.total_bytes(), 0)


def _add_cases():
    probe = 1  # port only shapes the bytes; names are what matter here
    for name in head_vectors(probe):
        def t(self, name=name):
            self.check_head_vector(name)
        t.__name__ = f"test_head_{name}"
        setattr(SmugglingTest, t.__name__, t)
    for name in chunk_vectors(probe):
        def t(self, name=name):
            self.check_chunk_vector(name)
        t.__name__ = f"test_chunk_{name}"
        setattr(SmugglingTest, t.__name__, t)


_add_cases()


if __name__ == "__main__":
    unittest.main()
