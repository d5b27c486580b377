#!/usr/bin/env python3
"""Manual self-check for upstreams.py: starts nginx and every upstream proxy
and checks each with real curl. Not a CTest test (it does not need ferry).

    cd tests/integration && python3 check_upstreams.py [-k]   (-k keeps the temp dir)

Exits 0 when every check passes; prints one line per check.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from harness import CURL, EchoServer, Nginx, TestCA, clean_env
import upstreams

results = []


def run_curl(*args, timeout=20):
    cmd = [CURL, "-sS", "--noproxy", "", "-o", "-", "-w", "\n%{http_code}", *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=clean_env())
    body, _, code = r.stdout.rpartition("\n")
    return r.returncode, code, body, r.stderr.strip()


def check(name, ok, detail=""):
    results.append(ok)
    print(f"{'PASS' if ok else 'FAIL'}  {name}" + (f"   [{detail}]" if detail and not ok else ""))


def expect_body(name, args, body=Nginx.HELLO.decode()):
    rc, code, got, err = run_curl(*args)
    check(name, rc == 0 and code == "200" and got == body, f"rc={rc} code={code} body={got[:80]!r} {err}")


def expect_status(name, args, status):
    rc, code, got, err = run_curl(*args)
    check(name, code == status, f"rc={rc} code={code} {err}")


def expect_fail(name, args, rc_want):
    rc, code, got, err = run_curl(*args)
    check(name, rc == rc_want, f"rc={rc} code={code} {err}")


def main():
    keep = "-k" in sys.argv
    tmp = tempfile.mkdtemp(prefix="ferry-upstreams-")
    started = []

    def start(server):
        started.append(server)
        return server

    t0 = time.monotonic()
    try:
        ca = TestCA(tmp)
        nginx = start(Nginx(tmp, ca))
        echo = start(EchoServer())
        plain, tls = nginx.url(), nginx.url(tls=True)
        ports = (443, nginx.https_port, echo.port)

        sq = start(upstreams.Squid(tmp, connect_ports=ports))
        expect_body("squid open: GET via proxy", ["-x", sq.url(), plain])
        expect_body("squid open: CONNECT to nginx TLS", ["-x", sq.url(), "--cacert", ca.ca_cert, tls])
        expect_body("squid open: CONNECT -p to nginx TLS port (https)",
                    ["-x", sq.url(), "-p", "--cacert", ca.ca_cert, tls])
        expect_fail("squid open: CONNECT to a port not in connect_ports -> 403", ["-x", sq.url(), "-p", plain], 56)
        # CONNECT to the echo server: a raw tunnel, checked with a socket.
        s = socket.create_connection(("127.0.0.1", sq.port), 5)
        s.sendall(f"CONNECT 127.0.0.1:{echo.port} HTTP/1.1\r\nHost: 127.0.0.1:{echo.port}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(4096)
        s.sendall(b"ping")
        echoed = s.recv(4096)
        s.close()
        check("squid open: CONNECT to echo server port", head.startswith(b"HTTP/1.1 200") and echoed == b"ping",
              repr(head[:60]) + repr(echoed))
        lines = sq.wait_access_count(5)
        check("squid open: access log has the 5 requests, no probe lines", len(lines) == 5, repr(lines))

        basic = start(upstreams.Squid(tmp, auth="basic", connect_ports=ports))
        expect_status("squid basic: no creds -> 407", ["-x", basic.url(), plain], "407")
        expect_body("squid basic: right creds -> 200", ["-x", basic.url(creds=("bob", "bobpw")), plain])
        expect_status("squid basic: wrong creds -> 407", ["-x", basic.url(creds="bob:wrong"), plain], "407")
        expect_body("squid basic: CONNECT with creds", ["-x", basic.url(creds=("bob", "bobpw")),
                                                        "--cacert", ca.ca_cert, tls])
        lines = basic.wait_access_count(4)
        users = [(e["status"], e["method"], e["user"]) for e in lines]
        check("squid basic: access log shows bob", (200, "GET", "bob") in users and (200, "CONNECT", "bob") in users
              and (407, "GET", None) in users, repr(users))

        digest = start(upstreams.Squid(tmp, auth="digest", users={"bob": "bobpw", "eve": "p@ss:w/rd"}))
        expect_status("squid digest: no creds -> 407", ["-x", digest.url(), plain], "407")
        expect_body("squid digest: right creds -> 200",
                    ["-x", digest.url(), "--proxy-digest", "-U", "bob:bobpw", plain])
        expect_body("squid digest: second user, odd password -> 200",
                    ["-x", digest.url(), "--proxy-digest", "-U", "eve:p@ss:w/rd", plain])
        expect_status("squid digest: wrong creds -> 407",
                      ["-x", digest.url(), "--proxy-digest", "-U", "bob:wrong", plain], "407")
        users = {e["user"] for e in digest.wait_access_count(6) if e["status"] == 200}
        check("squid digest: access log shows bob and eve", users == {"bob", "eve"}, repr(users))

        hs = start(upstreams.Squid(tmp, auth="basic", https=True, ca=ca, connect_ports=ports))
        expect_body("squid https_port: GET with --proxy-cacert",
                    ["--proxy-cacert", ca.ca_cert, "-x", hs.url(creds=("bob", "bobpw")), plain])
        expect_body("squid https_port: CONNECT to nginx TLS",
                    ["--proxy-cacert", ca.ca_cert, "-x", hs.url(creds=("bob", "bobpw")), "--cacert", ca.ca_cert, tls])
        expect_body("squid https_port: name localhost verifies too",
                    ["--proxy-cacert", ca.ca_cert, "-x", hs.url(creds=("bob", "bobpw"), host="localhost"), plain])
        expect_fail("squid https_port: without --proxy-cacert -> cert error (60)",
                    ["-x", hs.url(creds=("bob", "bobpw")), plain], 60)
        expect_status("squid https_port: no creds -> 407", ["--proxy-cacert", ca.ca_cert, "-x", hs.url(), plain],
                      "407")

        ms = start(upstreams.Microsocks(tmp, user="sockuser", password="sockpw"))
        expect_body("microsocks: right creds -> 200", ["-x", ms.url(creds=("sockuser", "sockpw")), plain])
        expect_body("microsocks: TLS origin", ["-x", ms.url(creds=("sockuser", "sockpw")), "--cacert", ca.ca_cert, tls])
        expect_fail("microsocks: wrong password -> rejected (97)", ["-x", ms.url(creds="sockuser:bad"), plain], 97)
        expect_fail("microsocks: no creds -> no acceptable method (97)", ["-x", ms.url(), plain], 97)
        ms_open = start(upstreams.Microsocks(tmp))
        expect_body("microsocks no auth: 200", ["-x", ms_open.url(), plain])

        dante = start(upstreams.Dante(tmp))
        expect_body("dante no auth: socks5h 200", ["-x", dante.url(), plain])
        expect_body("dante no auth: socks5 + TLS origin 200", ["-x", dante.url("socks5"), "--cacert", ca.ca_cert, tls])

        if os.access(upstreams.CNTLM, os.X_OK):
            ntlm = start(upstreams.Squid(tmp, auth="ntlm", connect_ports=ports))
            expect_status("squid ntlm (fake): no creds -> 407", ["-x", ntlm.url(), plain], "407")
            expect_body("squid ntlm (fake): curl --proxy-ntlm 200",
                        ["-x", ntlm.url(), "--proxy-ntlm", "-U", "TEST\\bob:any", plain])
            cn = start(upstreams.Cntlm(tmp, "127.0.0.1", ntlm.port, "bob", "bobpw"))
            expect_body("cntlm NTLM -> squid ntlm: GET 200", ["-x", cn.url(), plain])
            expect_body("cntlm NTLM -> squid ntlm: CONNECT 200", ["-x", cn.url(), "--cacert", ca.ca_cert, tls])
            codes = [(e["status"], e["method"]) for e in ntlm.wait_access_count(3, pred=lambda e: e["status"] == 200)]
            check("cntlm: squid ntlm logged the authenticated requests",
                  codes.count((200, "GET")) >= 2 and (200, "CONNECT") in codes, repr(ntlm.access_lines()))
            cn_open = start(upstreams.Cntlm(tmp, "127.0.0.1", sq.port, "bob", "bobpw"))
            expect_body("cntlm -> open squid: GET 200", ["-x", cn_open.url(), plain])
            basic_parent = start(upstreams.Cntlm(tmp, "127.0.0.1", basic.port, "bob", "bobpw"))
            expect_status("cntlm -> basic squid: 407 (cntlm cannot do Basic)", ["-x", basic_parent.url(), plain],
                          "407")
            try:
                upstreams.Cntlm(tmp, "127.0.0.1", basic.port, "bob", "bobpw", auth="Basic")
                check("Cntlm(auth='Basic') is refused", False, "no ValueError")
            except ValueError:
                check("Cntlm(auth='Basic') is refused", True)
        else:
            print("SKIP  cntlm not installed (scripts/install-deps.sh bench)")
    finally:
        t1 = time.monotonic()
        for s in reversed(started):
            code = s.stop()
            if isinstance(s, upstreams._Daemon):
                alive = s.running()
                check(f"stop {s.name} pid {s.pid} (exit {code})", not alive)
        print(f"checks took {t1 - t0:.1f}s, stopping {time.monotonic() - t1:.1f}s")
        if keep:
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, True)
    failed = results.count(False)
    print(f"{len(results) - failed}/{len(results)} passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
