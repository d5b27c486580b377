"""1 GiB each way through ferry, streamed: digests match and ferry's memory stays bounded."""

import hashlib
import unittest

from harness import DigestOrigin, ProxyTestCase, RawConn, StreamingOrigin, get

GIB = 1 << 30
BLOCK = StreamingOrigin.BLOCK
RSS_LIMIT_KB = 100 * 1024
# ASan/UBSan builds keep freed memory in a quarantine and add shadow memory;
# the bound still proves streaming (a buffered 1 GiB body would exceed it).
RSS_LIMIT_SANITIZED_KB = 600 * 1024


class LargeBodiesTest(ProxyTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.digest = cls.start_server(DigestOrigin())
        cls.stream = cls.start_server(StreamingOrigin(GIB))
        cls.ferry = cls.start_ferry()
        h = hashlib.sha256()
        for i in range(GIB // BLOCK):
            h.update(StreamingOrigin.block(i))
        cls.expected = h.hexdigest()

    def rss_limit(self):
        return RSS_LIMIT_SANITIZED_KB if self.ferry.is_sanitized() else RSS_LIMIT_KB

    def check_rss(self):
        hwm = self.ferry.rss_hwm_kb()
        self.assertIsNotNone(hwm)
        self.assertLess(hwm, self.rss_limit(), f"ferry peak RSS {hwm} KiB: bodies are not streamed")

    def test_upload_1gib_chunked(self):
        with RawConn(self.ferry.port, timeout=60) as c:
            c.send(get(f"http://127.0.0.1:{self.digest.port}/upload", "Transfer-Encoding: chunked\r\n",
                       method="POST"))
            size_line = b"%x\r\n" % BLOCK
            for i in range(GIB // BLOCK):
                c.sock.sendall(size_line)
                c.sock.sendall(StreamingOrigin.block(i))
                c.sock.sendall(b"\r\n")
            c.sock.sendall(b"0\r\n\r\n")
            resp = c.read_response()
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body.decode().strip(), f"{self.expected} {GIB}")
        self.check_rss()

    def test_upload_1gib_content_length(self):
        with RawConn(self.ferry.port, timeout=60) as c:
            c.send(get(f"http://127.0.0.1:{self.digest.port}/upload", f"Content-Length: {GIB}\r\n",
                       method="PUT"))
            for i in range(GIB // BLOCK):
                c.sock.sendall(StreamingOrigin.block(i))
            resp = c.read_response()
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body.decode().strip(), f"{self.expected} {GIB}")
        self.check_rss()

    def test_download_1gib(self):
        h = hashlib.sha256()
        count = [0]

        def sink(data):
            h.update(data)
            count[0] += len(data)

        with RawConn(self.ferry.port, timeout=60) as c:
            c.send(get(f"http://127.0.0.1:{self.stream.port}/big"))
            resp = c.read_response(sink=sink)
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.header("content-length"), str(GIB))
        self.assertEqual(count[0], GIB)
        self.assertEqual(h.hexdigest(), self.expected)
        self.check_rss()


if __name__ == "__main__":
    unittest.main()
