"""NTLM's first leg must have no side effects (review D1).

NTLM authenticates a connection, so its first leg (type 1) is a request of
its own. With --auth ntlm (or once NTLM is learnt) ferry starts every new
upstream connection with it. Proxies let some destinations through without
auth (Squid: `http_access allow` for an intranet domain before the
proxy_auth rule); a POST's first leg sent as the POST with
`Content-Length: 0` then reached the origin and ran there with an empty
body. ferry now carries a pre-emptive type 1 on a HEAD of the same URL when
the request has a body: the origin sees exactly one POST, whole.
"""

import hashlib
import os
import unittest

from harness import RecordingOrigin
from upstreams import PASSWORD, UpstreamTestCase

OPEN = "origin.test"


class NtlmFirstLegTest(UpstreamTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.origin = cls.start_server(RecordingOrigin())

    def setUp(self):
        super().setUp()
        self.origin.reset()

    def methods_seen(self):
        return [req[0].split(" ")[0] for req in self.origin.requests]

    def test_post_to_a_destination_open_without_auth_runs_once_whole(self):
        sq = self.squid(auth="ntlm", open_domains=[OPEN])
        f = self.serve("--upstream", sq.url(), "--auth", "ntlm", "--user", "CORP\\bob",
                       "--password-file", self.password_file(PASSWORD))
        body = hashlib.sha256(b"d1").hexdigest().encode() * 100  # 6400 bytes
        url = f"http://{OPEN}:{self.origin.port}/orders"
        path = os.path.join(self.tmp, "d1-body")
        with open(path, "wb") as fh:
            fh.write(body)
        for i in range(2):  # a fresh upstream connection, then (maybe) a pooled one
            r = self.curl(f"http://127.0.0.1:{f.port}", "--data-binary", "@" + path, "-H", "Expect:", url)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, b"ok\n", f"try {i}: {r.stdout[:300]!r}")
        posts = [req for req in self.origin.requests if req[0].startswith("POST ")]
        self.assertEqual(len(posts), 2, self.methods_seen())
        for _, fields, got in posts:
            self.assertEqual(got, body)
        # Nothing but the probe and the real requests reached the origin.
        self.assertTrue(set(self.methods_seen()) <= {"HEAD", "POST"}, self.methods_seen())

    def test_bodiless_request_carries_type1_itself(self):
        # A GET has nothing to lose: its first leg is the GET (no probe).
        sq = self.squid(auth="ntlm", open_domains=[OPEN])
        f = self.serve("--upstream", sq.url(), "--auth", "ntlm", "--user", "CORP\\bob",
                       "--password-file", self.password_file(PASSWORD))
        r = self.curl(f"http://127.0.0.1:{f.port}", f"http://{OPEN}:{self.origin.port}/page")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"ok\n")
        self.assertEqual(self.methods_seen(), ["GET"])


if __name__ == "__main__":
    unittest.main()
