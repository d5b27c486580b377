"""Real TLS origins and real clients for ferry's interception tests.

Usage (in a ProxyTestCase; servers bind 127.0.0.1 on free ports; certs cover 127.0.0.1, localhost,
harness.TEST_NAMES (origin.test...) and *.origin.test):

    ca = TestCA(cls.tmp)                                  # harness: the test CA (ca.ca_cert = trust file)
    echo = cls.start_server(TlsEchoOrigin(cls.tmp, ca))   # cert="expired"|"wrong-name"|"untrusted", alpn=(..)
    git = cls.start_server(GitHttpOrigin(cls.tmp, ca))    # git smart HTTP over HTTPS at git.url("origin.test")
    web = cls.start_server(Nginx(cls.tmp, ca))            # harness: static files over HTTPS (web.https_port)
    ferry = cls.start_ferry("--connect-ports", f"{echo.port},{git.port}", hosts={**TEST_HOSTS, **many_hosts(9)})
    r = run_curl(echo.url("/x", "origin.test"), f"http://127.0.0.1:{ferry.port}", ca.ca_cert, headers=["X-A: 1"])
    j = r.json()   # method, target, headers [[name, value]] (raw case and order: harness.field(j["headers"], n)),
                   # body_length, body_sha256, framing (content-length|chunked|none), chunks, chunk_sizes,
                   # trailers, sni, alpn, connection_id + request_index (keep-alive reuse: same id, 1, 2, ...)
    run_requests / run_httpx / run_node: same (url, proxy, cafile, method=, headers=, body=, chunks=[b"", ..]
    (chunked, one chunk per item), repeat=N (N requests, one connection)) -> ClientResult: .returncode .stderr
    .status .headers .body (first response) .responses [(status, headers, body)] .json(i) .info
    run_s_client(port, "origin.test", proxy, cafile, alpn="h2", request=b"GET ...") -> .info verify_code, alpn,
    peer_cert_sha256 (== cert_sha256(echo.cert): the client got the origin's own certificate, not ferry's)
    run_git_clone(git.url("origin.test"), dest, proxy, cafile) -> .info["head"] == git.head; run_git_push(dest,
    proxy, cafile, add_bytes=2 << 20, refspec="HEAD:side") pushes a commit (a chunked POST): git.current_head("side")
    tls_connect(echo.port, "origin.test", cafile, proxy_port=ferry.port) -> RawConn over TLS: byte-exact
    requests (pipelining, a placeholder split across TLS records / TCP segments, Host or SNI mismatch)
    Paths: /echo-body (?chunked=1&chunk=N), /status/N, /header?name=X&value=Y, /require?name=X&value=Y (401
    unless sent), /big?bytes=N (&chunked=1), /slow-body?chunks=K&delay=S, /upgrade (101 + echo), ?close=1.
    Server side: echo.requests (every request's JSON), echo.handshakes (SNI, ALPN, handshake errors),
    echo.errors (framing faults, cut bodies: assert it stays []). Intercepting: clients get ferry's CA file
    as cafile, ferry trusts the origins with --origin-ca ca.ca_cert.

Clients run in subprocesses: curl, openssl s_client, git, Debian's python3-requests and python3-httpx
(always /usr/bin/python3, whatever python runs the tests) and node (FERRY_TEST_NODE overrides). This
machine has node 20.20.2 (a nodesource build); Debian 12's nodejs is 18.20.4: test_testbed passes with both.
"""

import base64
import hashlib
import http
import itertools
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse

from harness import (CURL, NGINX, OPENSSL, TEST_NAMES, EchoServer, RawConn, SockReader, StreamingOrigin, clean_env,
                     field, free_port, parse_head, port_open, wait_until)

SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, with python3-requests and python3-httpx
NODE = os.environ.get("FERRY_TEST_NODE") or shutil.which("node") or "/usr/bin/node"  # another node to try
GIT = shutil.which("git") or "/usr/bin/git"
FCGIWRAP = shutil.which("fcgiwrap") or "/usr/sbin/fcgiwrap"
GIT_HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"

# *.origin.test: any number of distinct host names for one origin (many_hosts).
DEFAULT_HOSTS = ("127.0.0.1", "localhost", *TEST_NAMES, "*.origin.test")
CERT_KINDS = ("good", "expired", "wrong-name", "untrusted")


def _openssl(*args, cwd=None):
    r = subprocess.run([OPENSSL, *args], capture_output=True, text=True, cwd=cwd)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args[:2])} failed: {r.stderr.strip()}")
    return r.stdout


def _is_ip(h):
    return h.replace(".", "").isdigit() or ":" in h


# ---------------------------------------------------------------------------
# Certificates
# ---------------------------------------------------------------------------

def issue_cert(ca, directory, name, hosts=DEFAULT_HOSTS, kind="good", days=2):
    """A server certificate and P-256 key for `hosts` (DNS names or IPs, the
    SAN) in directory/NAME.pem and NAME.key; returns (cert, key).
    kind: "good" (signed by the harness TestCA `ca`), "expired" (signed by
    `ca`, valid 2020-01-01 to 2020-01-02), "wrong-name" (signed by `ca`, SAN
    DNS:wrong-name.invalid only), "untrusted" (self-signed, right SAN)."""
    if kind not in CERT_KINDS:
        raise ValueError(f"kind must be one of {CERT_KINDS}, not {kind!r}")
    os.makedirs(directory, exist_ok=True)
    key = os.path.join(directory, name + ".key")
    cert = os.path.join(directory, name + ".pem")
    csr = os.path.join(directory, name + ".csr")
    if kind == "wrong-name":
        hosts = ("wrong-name.invalid",)
    san = ",".join(("IP:" if _is_ip(h) else "DNS:") + h for h in hosts)
    ext_lines = ("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n"
                 f"subjectAltName={san}\n")
    newkey = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key)
    subj = ("-subj", f"/CN={hosts[0]}")
    if kind == "untrusted":
        _openssl("req", "-x509", *newkey, "-out", cert, "-days", str(days), *subj,
                 *itertools.chain.from_iterable(("-addext", line) for line in ext_lines.split("\n") if line))
    elif kind == "expired":
        # `openssl x509 -req` (3.0) cannot date a certificate in the past; `openssl ca` can.
        cadir = os.path.join(directory, name + ".ca")
        os.makedirs(cadir, exist_ok=True)
        open(os.path.join(cadir, "index.txt"), "w").close()
        conf = os.path.join(cadir, "ca.cnf")
        with open(conf, "w") as f:
            f.write(f"[ca]\ndefault_ca = c\n[c]\ndatabase = {cadir}/index.txt\nnew_certs_dir = {cadir}\n"
                    f"serial = {cadir}/serial\ndefault_md = sha256\npolicy = p\nunique_subject = no\n"
                    f"[p]\ncommonName = supplied\n[ext]\n{ext_lines}")
        _openssl("req", *newkey, "-out", csr, *subj)
        _openssl("ca", "-batch", "-config", conf, "-cert", ca.ca_cert, "-keyfile", ca.ca_key, "-in", csr,
                 "-out", cert, "-startdate", "20200101000000Z", "-enddate", "20200102000000Z",
                 "-extensions", "ext", "-notext", "-rand_serial", "-preserveDN")
    else:
        ext = os.path.join(directory, name + ".ext")
        with open(ext, "w") as f:
            f.write(ext_lines)
        _openssl("req", *newkey, "-out", csr, *subj)
        # A random serial, not -CAcreateserial: the CA's serial file would be shared by concurrent issuers.
        _openssl("x509", "-req", "-in", csr, "-CA", ca.ca_cert, "-CAkey", ca.ca_key,
                 "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-out", cert, "-days", str(days),
                 "-extfile", ext)
    os.chmod(cert, 0o644)
    os.chmod(key, 0o644)  # nginx workers may run as another user; test keys only
    return cert, key


def many_hosts(n, suffix="origin.test"):
    """{h1.SUFFIX: 127.0.0.1, ...}: n distinct names for Ferry(hosts=...)
    (with TEST_HOSTS), all served by one origin through its *.origin.test SAN."""
    return {f"h{i}.{suffix}": "127.0.0.1" for i in range(1, n + 1)}


def cert_sha256(path_or_pem):
    """SHA-256 fingerprint (lowercase hex, no colons) of a PEM certificate
    (a file path or the PEM text)."""
    pem = path_or_pem
    if not pem.lstrip().startswith("-----"):
        with open(path_or_pem) as f:
            pem = f.read()
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


# ---------------------------------------------------------------------------
# TLS echo origin
# ---------------------------------------------------------------------------

class TlsEchoOrigin:
    """A threaded TLS HTTP/1.1 origin on 127.0.0.1 that describes every
    request it got as JSON (see the module docstring). One thread per
    connection, requests answered in order (pipelining-safe), keep-alive
    unless the client asks for close. Request bodies are hashed as they are
    read, never held (except on /echo-body, which buffers to echo).

    cert: "good" | "expired" | "wrong-name" | "untrusted" (issue_cert) for
    `hosts`; alpn: the protocols the server accepts (None: no ALPN at all);
    min_tls/max_tls: ssl.TLSVersion bounds."""

    MAX_HEAD = 256 * 1024
    MAX_ECHO = 64 * 1024 * 1024
    MAX_CHUNK_SIZES = 1000

    def __init__(self, tmpdir, ca, cert="good", alpn=("http/1.1",), hosts=DEFAULT_HOSTS, min_tls=None,
                 max_tls=None, handshake_timeout=10, idle_timeout=60):
        self.lock = threading.Lock()
        self.requests = []    # echo JSON of every request (dicts), in arrival order
        self.handshakes = []  # {connection_id, ok, sni, alpn, version, error}
        self.errors = []      # per-connection exceptions after the handshake
        self._ids = itertools.count(1)
        self._conns = {}      # thread -> socket (plain, then TLS)
        self._stopping = False
        self.handshake_timeout = handshake_timeout
        self.idle_timeout = idle_timeout
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.dir = os.path.join(tmpdir, f"tls-echo-{self.port}")
        self.cert, self.key = issue_cert(ca, self.dir, "server", hosts, cert)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(self.cert, self.key)
        if alpn:
            self.ctx.set_alpn_protocols(list(alpn))
        if min_tls:
            self.ctx.minimum_version = min_tls
        if max_tls:
            self.ctx.maximum_version = max_tls
        self.ctx.sni_callback = self._on_sni
        self.sock.listen(128)
        self.sock.settimeout(0.2)
        self.thread = threading.Thread(target=self._accept_loop, name=f"tls-echo-{self.port}", daemon=True)
        self.thread.start()

    def url(self, path="/", host="127.0.0.1"):
        return f"https://{host}:{self.port}{path}"

    @staticmethod
    def _on_sni(sslsock, name, ctx):
        sslsock.ferry_sni = name  # read back after the handshake

    # -- lifecycle ---------------------------------------------------------
    def _accept_loop(self):
        while not self._stopping:
            try:
                c, peer = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(c, peer), daemon=True)
            with self.lock:
                if self._stopping:
                    c.close()
                    return
                self._conns[t] = c
            t.start()

    def threads_alive(self):
        """Connection threads still running (0 after stop())."""
        with self.lock:
            return sum(t.is_alive() for t in self._conns)

    def stop(self, timeout=5):
        """Closes the listener and every connection, joins every thread."""
        with self.lock:
            self._stopping = True
            socks = list(self._conns.values())
        try:
            self.sock.close()
        except OSError:
            pass
        for s in socks:
            try:
                # The plain socket call: SSLSocket.shutdown would drop the TLS
                # object under a thread that is reading through it.
                socket.socket.shutdown(s, socket.SHUT_RDWR)
            except OSError:
                pass
        self.thread.join(timeout)
        end = time.monotonic() + timeout
        with self.lock:
            threads = list(self._conns)
        for t in threads:
            t.join(max(0.0, end - time.monotonic()))
        if self.threads_alive() or self.thread.is_alive():
            raise RuntimeError(f"TlsEchoOrigin: {self.threads_alive()} connection threads still running after stop()")

    # -- one connection ----------------------------------------------------
    def _serve(self, raw, peer):
        me = threading.current_thread()
        conn_id = next(self._ids)
        hs = {"connection_id": conn_id, "ok": False, "sni": None, "alpn": None, "version": None, "error": None}
        tls = None
        try:
            raw.settimeout(self.handshake_timeout)
            tls = self.ctx.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
            with self.lock:
                self._conns[me] = tls
                stopping = self._stopping
            if stopping:
                return
            try:
                tls.do_handshake()
            except (ssl.SSLError, OSError) as e:
                hs["error"] = f"{type(e).__name__}: {e}"
                return
            finally:
                hs["sni"] = getattr(tls, "ferry_sni", None)
                with self.lock:
                    self.handshakes.append(hs)
            hs.update(ok=True, alpn=tls.selected_alpn_protocol(), version=tls.version())
            tls.settimeout(self.idle_timeout)
            self._requests(tls, hs, peer)
        except (OSError, EOFError, ValueError) as e:
            with self.lock:
                self.errors.append(f"connection {conn_id}: {type(e).__name__}: {e}")
        finally:
            for s in (tls, raw):
                if s is not None:
                    try:
                        s.close()
                    except OSError:
                        pass
            with self.lock:
                self._conns.pop(me, None)  # thousands of short connections keep nothing behind

    def _requests(self, tls, hs, peer):
        r = SockReader(tls)
        for index in itertools.count(1):
            head = r.read_until(b"\r\n\r\n", self.MAX_HEAD)
            if head is None or self._stopping:
                return
            first, fields = parse_head(head)
            parts = first.split(" ")
            if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                tls.sendall(_response(400, [("Connection", "close")], b"bad request line\n"))
                return
            method, target, version = parts
            path, _, query = target.partition("?")
            q = urllib.parse.parse_qs(query, keep_blank_values=True)
            echo_body = path == "/echo-body"
            if (field(fields, "expect") or "").lower() == "100-continue":
                tls.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            kept = bytearray() if echo_body else None
            body = _read_request_body(r, fields, kept, self.MAX_ECHO)
            conn_tokens = [t.strip().lower() for t in (field(fields, "connection") or "").split(",")]
            close = "close" in conn_tokens or (version == "HTTP/1.0" and "keep-alive" not in conn_tokens)
            info = {"method": method, "target": target, "path": path, "version": version,
                    "headers": [[n, v] for n, v in fields], **body,
                    "sni": hs["sni"], "alpn": hs["alpn"], "tls_version": hs["version"],
                    "connection_id": hs["connection_id"], "request_index": index, "peer_port": peer[1]}
            with self.lock:
                self.requests.append(info)
            if path == "/upgrade" and field(fields, "upgrade"):
                return self._upgrade(tls, r, field(fields, "upgrade"), info)
            self._answer(tls, method, path, q, info, kept, close)
            if q.get("close") == ["1"]:
                return  # closes without announcing it, as an origin dropping a kept-alive connection does
            if close:
                try:
                    tls.unwrap()  # close_notify, so clients see a clean end
                except (ssl.SSLError, OSError, ValueError):
                    pass
                return

    @staticmethod
    def _upgrade(tls, r, protocol, info):
        """101 Switching Protocols, then an echo of every byte until EOF."""
        tls.sendall(_response(101, [("Upgrade", protocol), ("Connection", "Upgrade"),
                                    ("X-Echo-Connection", str(info["connection_id"]))], None))
        if r.buf:
            tls.sendall(bytes(r.buf))
            r.buf.clear()
        EchoServer.handle(None, tls)  # harness's echo loop; it uses no server state

    def _answer(self, tls, method, path, q, info, kept, close):
        arg = lambda name, default: q.get(name, [default])[-1]
        status = 200
        extra = [("X-Echo-Connection", str(info["connection_id"])), ("X-Echo-Request", str(info["request_index"]))]
        if close:
            extra.append(("Connection", "close"))
        head_only = method == "HEAD"
        if path == "/echo-body":
            extra += [("Content-Type", field(info["headers"], "content-type") or "application/octet-stream"),
                      ("X-Echo-Sha256", info["body_sha256"])]
            if arg("chunked", "0") == "1":
                step = max(1, int(arg("chunk", "16384")))
                pieces = [bytes(kept[i:i + step]) for i in range(0, len(kept), step)]
                return _send_chunked(tls, 200, extra, pieces, head_only)
            return tls.sendall(_response(200, extra, bytes(kept), head_only))
        if path == "/big":
            n = int(arg("bytes", "1048576"))
            extra.append(("Content-Type", "application/octet-stream"))
            if arg("chunked", "0") == "1":
                return _send_chunked(tls, 200, extra, _big_blocks(n), head_only)
            tls.sendall(_response(200, extra + [("Content-Length", str(n))], None, head_only))
            if not head_only:
                for b in _big_blocks(n):
                    tls.sendall(b)
            return None
        if path == "/slow-body":
            chunks, delay = int(arg("chunks", "5")), float(arg("delay", "0.1"))
            size = int(arg("bytes", "10"))
            extra.append(("Content-Type", "text/plain"))

            def paced():
                for i in range(chunks):
                    if i:
                        time.sleep(delay)
                    yield (b"%d:" % i + b"x" * size)[:max(size, 1)]
            return _send_chunked(tls, 200, extra, paced(), head_only)
        if path.startswith("/status/"):
            status = int(path[len("/status/"):])
        elif path == "/header":
            extra += list(zip(q.get("name", []), q.get("value", [])))
        elif path == "/require":
            # 200 only when the request carries header `name` with exactly `value` (else 401): for
            # credentials that must reach the origin (and an origin that rejects a stale one).
            got = [v for n, v in info["headers"] if n.lower() == arg("name", "authorization").lower()]
            status = 200 if got == [arg("value", "")] else 401
        body = json.dumps(info, indent=1).encode() + b"\n"
        extra.append(("Content-Type", "application/json"))
        if status in (204, 304):
            return tls.sendall(_response(status, extra, None))
        return tls.sendall(_response(status, extra, body, head_only))


def _read_request_body(r, fields, keep, limit):
    """Reads a request body framed by `fields` from SockReader r, hashing it
    as it goes (appending it to `keep` too, up to `limit` bytes, when keep is
    a bytearray). Returns the echo fields: framing, body_length, body_sha256,
    chunks, chunk_sizes (the first 1,000), trailers."""
    h = hashlib.sha256()
    total = 0

    def sink(data):
        nonlocal total
        h.update(data)
        total += len(data)
        if keep is not None:
            if len(keep) + len(data) > limit:
                raise ValueError(f"/echo-body holds at most {limit} bytes")
            keep.extend(data)

    te = (field(fields, "transfer-encoding") or "").lower()
    cl = field(fields, "content-length")
    out = {"framing": "none", "chunks": 0, "chunk_sizes": [], "trailers": []}
    if te.split(",")[-1].strip() == "chunked":
        out["framing"] = "chunked"
        while True:
            line = r.read_until(b"\r\n", 8192)
            if line is None:
                raise EOFError("eof in a chunk size line")
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                break
            out["chunks"] += 1
            if len(out["chunk_sizes"]) < TlsEchoOrigin.MAX_CHUNK_SIZES:
                out["chunk_sizes"].append(size)
            _stream_exact(r, size, sink)
            if r.read_exact(2) != b"\r\n":
                raise ValueError("chunk data not followed by CRLF")
        while True:
            t = r.read_until(b"\r\n", 65536)
            if t is None:
                raise EOFError("eof in trailers")
            if t == b"\r\n":
                break
            n, _, v = t.decode("latin-1").rstrip("\r\n").partition(":")
            out["trailers"].append([n.strip(), v.strip()])
    elif cl is not None:
        out["framing"] = "content-length"
        _stream_exact(r, int(cl), sink)
    out.update(body_length=total, body_sha256=h.hexdigest())
    return out


def _stream_exact(r, n, sink):
    """Passes the next n bytes of SockReader r to sink (as bytes or
    memoryviews valid during the call) without collecting them."""
    if r.buf:
        take = min(n, len(r.buf))
        sink(bytes(r.buf[:take]))
        del r.buf[:take]
        n -= take
    # recv_into one buffer: recv(n) would allocate n bytes per TLS record.
    view = memoryview(bytearray(min(n, 1 << 16)))
    while n:
        got = r.sock.recv_into(view[:min(n, len(view))])
        if not got:
            raise EOFError(f"eof with {n} body bytes to go")
        sink(view[:got])
        n -= got


def _big_blocks(n):
    """n deterministic bytes (harness StreamingOrigin's blocks: digest with
    StreamingOrigin.expected_digest(n))."""
    i = 0
    while n:
        b = StreamingOrigin.block(i)[:n]
        yield b
        n -= len(b)
        i += 1


def _status_line(status):
    try:
        reason = http.HTTPStatus(status).phrase
    except ValueError:
        reason = "Status"
    return f"HTTP/1.1 {status} {reason}\r\n"


def _response(status, headers, body, head_only=False):
    """A whole response; body None: headers as given (no Content-Length added)."""
    headers = list(headers)
    if body is not None:
        headers.append(("Content-Length", str(len(body))))
    head = _status_line(status) + "".join(f"{n}: {v}\r\n" for n, v in headers) + "\r\n"
    return head.encode("latin-1") + (b"" if head_only or body is None else body)


def _send_chunked(sock, status, headers, pieces, head_only=False):
    sock.sendall(_response(status, list(headers) + [("Transfer-Encoding", "chunked")], None))
    if head_only:
        return
    for p in pieces:
        if p:
            sock.sendall(b"%x\r\n" % len(p) + p + b"\r\n")
    sock.sendall(b"0\r\n\r\n")


# ---------------------------------------------------------------------------
# git smart HTTP origin: nginx + fcgiwrap + git http-backend, over HTTPS
# ---------------------------------------------------------------------------

def _git_env(home, extra=None):
    env = clean_env({"HOME": home, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
                     "GIT_TERMINAL_PROMPT": "0", "GIT_AUTHOR_NAME": "Ferry Test", "GIT_AUTHOR_EMAIL": "t@origin.test",
                     "GIT_COMMITTER_NAME": "Ferry Test", "GIT_COMMITTER_EMAIL": "t@origin.test"})
    for v in ("GIT_SSL_CAINFO", "GIT_SSL_NO_VERIFY", "GIT_PROXY_COMMAND", "CURL_CA_BUNDLE"):
        env.pop(v, None)
    if extra:
        env.update(extra)
    return env


class GitHttpOrigin:
    """git over HTTPS the way a forge serves it: nginx (TLS with a cert from
    issue_cert for `hosts`) -> fcgiwrap (its own process on a unix socket in
    the temp dir, not the system service) -> git http-backend with
    GIT_PROJECT_ROOT and GIT_HTTP_EXPORT_ALL. Serves REPO (a bare repository
    with `commits` commits, each adding a file; push enabled: run_git_push) at
    url(host) = https://HOST:PORT/git/repo.git; `head` is its first HEAD sha."""

    REPO = "repo.git"

    def __init__(self, tmpdir, ca, hosts=DEFAULT_HOSTS, cert="good", commits=3):
        for binary, pkg in ((NGINX, "nginx-light"), (FCGIWRAP, "fcgiwrap"), (GIT_HTTP_BACKEND, "git")):
            if not os.access(binary, os.X_OK):
                raise RuntimeError(f"{binary} not found: install {pkg} (scripts/install-deps.sh test)")
        self.port = free_port()
        self.dir = os.path.join(tmpdir, f"git-origin-{self.port}")
        self.root = os.path.join(self.dir, "repos")
        os.makedirs(self.root, exist_ok=True)
        for d in (self.dir, self.root):
            os.chmod(d, 0o755)
        self.cert, self.key = issue_cert(ca, self.dir, "server", hosts, cert)
        self.fcgiwrap = None
        self.nginx = None
        try:
            self.head = self._make_repo(commits)
            self._start()
        except Exception:
            self.stop()
            raise

    def url(self, host="127.0.0.1", repo=REPO):
        return f"https://{host}:{self.port}/git/{repo}"

    def _make_repo(self, commits):
        work = os.path.join(self.dir, "work")
        env = _git_env(self.dir)
        git = lambda *a, cwd=work: subprocess.run([GIT, *a], cwd=cwd, env=env, check=True, capture_output=True,
                                                   text=True).stdout.strip()
        os.makedirs(work)
        git("init", "-q", "-b", "main")
        for i in range(1, commits + 1):
            with open(os.path.join(work, f"file{i}.txt"), "w") as f:
                f.write(f"content of file {i}\n" * i)
            git("add", f"file{i}.txt")
            # Fixed dates: the same commits (and sha) on every run.
            env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"2024-01-0{min(i, 9)}T12:00:00Z"
            git("commit", "-q", "-m", f"commit {i}")
        bare = os.path.join(self.root, self.REPO)
        git("clone", "-q", "--bare", work, bare, cwd=self.dir)
        git("config", "http.receivepack", "true", cwd=bare)
        self.bare = bare
        return self.current_head()

    def current_head(self, ref="HEAD"):
        """The sha of `ref` in the served repository now (after pushes)."""
        return subprocess.run([GIT, "rev-parse", ref], cwd=self.bare, env=_git_env(self.dir), check=True,
                              capture_output=True, text=True).stdout.strip()

    def _start(self):
        sock = os.path.join(self.dir, "fcgiwrap.sock")
        with open(os.path.join(self.dir, "fcgiwrap.log"), "wb") as log:
            # -p: it runs git http-backend and nothing else.
            self.fcgiwrap = subprocess.Popen([FCGIWRAP, "-c", "2", "-s", f"unix:{sock}", "-p", GIT_HTTP_BACKEND],
                                             stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        if not wait_until(lambda: self.fcgiwrap.poll() is not None or os.path.exists(sock), 10) or \
                self.fcgiwrap.poll() is not None:
            raise RuntimeError("fcgiwrap did not start: " + self._log("fcgiwrap.log"))
        d = self.dir
        user = "user root;\n" if os.geteuid() == 0 else ""
        conf = f"""
{user}daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body_temp;
    proxy_temp_path {d}/proxy_temp;
    fastcgi_temp_path {d}/fastcgi_temp;
    uwsgi_temp_path {d}/uwsgi_temp;
    scgi_temp_path {d}/scgi_temp;
    client_max_body_size 0;
    server {{
        listen 127.0.0.1:{self.port} ssl;
        ssl_certificate {self.cert};
        ssl_certificate_key {self.key};
        location ~ ^/git(/.*)$ {{
            fastcgi_pass unix:{sock};
            fastcgi_param SCRIPT_FILENAME {GIT_HTTP_BACKEND};
            fastcgi_param GIT_PROJECT_ROOT {self.root};
            fastcgi_param GIT_HTTP_EXPORT_ALL "";
            fastcgi_param PATH_INFO $1;
            fastcgi_param QUERY_STRING $query_string;
            fastcgi_param REQUEST_METHOD $request_method;
            fastcgi_param CONTENT_TYPE $content_type;
            fastcgi_param CONTENT_LENGTH $content_length;
            fastcgi_param SERVER_PROTOCOL $server_protocol;
            fastcgi_param REMOTE_ADDR $remote_addr;
            fastcgi_param REMOTE_USER $remote_user;
            fastcgi_param HTTP_GIT_PROTOCOL $http_git_protocol;
        }}
    }}
}}
"""
        self.conf = os.path.join(d, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        with open(os.path.join(d, "nginx.stderr"), "wb") as err:
            self.nginx = subprocess.Popen([NGINX, "-p", d + "/", "-e", os.path.join(d, "error.log"), "-c", self.conf],
                                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        if not wait_until(lambda: self.nginx.poll() is not None or port_open(self.port), 10) or \
                self.nginx.poll() is not None:
            raise RuntimeError("nginx (git origin) did not start: " + self._log("nginx.stderr") +
                               self._log("error.log"))

    def _log(self, name):
        try:
            with open(os.path.join(self.dir, name), errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def access_lines(self):
        return self._log("access.log").splitlines()

    def stop(self):
        for proc, sig in ((self.nginx, signal.SIGQUIT), (self.fcgiwrap, signal.SIGTERM)):
            if proc is not None and proc.poll() is None:
                proc.send_signal(sig)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)


# ---------------------------------------------------------------------------
# Client runners
# ---------------------------------------------------------------------------

class ClientResult:
    """What a client run gave: the first response's status, headers
    ([(name, value)], as the client reports them) and body, then every
    response (for repeat=N: (status, headers, body) each), the client's
    stderr and exit code, and client-specific `info`. Iterating gives
    (status, body, stderr)."""

    def __init__(self, returncode, stderr, responses=(), info=None, args=None):
        self.returncode = returncode
        self.stderr = stderr
        self.responses = list(responses)
        self.info = info or {}
        self.args = args
        first = self.responses[0] if self.responses else (None, [], b"")
        self.status, self.headers, self.body = first

    def __iter__(self):
        return iter((self.status, self.body, self.stderr))

    def header(self, name, i=0):
        return field(self.responses[i][1], name) if self.responses else None

    def json(self, i=0):
        return json.loads(self.responses[i][2])

    def __repr__(self):
        return (f"<ClientResult rc={self.returncode} statuses={[r[0] for r in self.responses]} "
                f"stderr={self.stderr[-800:]!r}>")


def _body_bytes(body, chunks):
    if chunks is not None:
        return b"".join(chunks)
    return body


def _parse_header_dump(text):
    """curl -D output -> [(status, [(name, value)])] of final responses (1xx dropped)."""
    out = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        lines = [l for l in block.split("\n") if l]
        if not lines or not lines[0].startswith("HTTP/"):
            continue
        status = int(lines[0].split(" ")[1])
        if 100 <= status < 200:
            continue
        out.append((status, [tuple(s.strip() for s in l.split(":", 1)) for l in lines[1:] if ":" in l]))
    return out


def run_curl(url, proxy=None, cafile=None, method=None, headers=(), body=None, chunks=None, repeat=1,
             resolve=None, extra=(), timeout=30, workdir=None, body_file=None):
    """curl [-x proxy] [--cacert cafile] ... URL (repeat times on one
    connection). body: bytes sent with Content-Length; chunks: list of bytes
    sent chunked (curl picks its own chunk sizes); body_file: a file streamed
    with -T (POST unless `method`; any size: --data-binary would load it
    whole). resolve: {"host:port": "ip"} for --resolve. A bad certificate:
    returncode 60."""
    tmp = tempfile.mkdtemp(prefix="run-curl-", dir=workdir)
    try:
        cmd = [CURL, "-sS", "--noproxy", "", "--suppress-connect-headers", "-D", os.path.join(tmp, "head"),
               "-w", "%{http_code}\\n"]
        if proxy:
            cmd += ["-x", proxy]
        if cafile:
            cmd += ["--cacert", cafile]
        if method:
            cmd += ["-X", method] if method != "HEAD" else ["-I"]
        for h in headers:
            cmd += ["-H", h]
        data = _body_bytes(body, chunks)
        if data is not None:
            path = os.path.join(tmp, "upload")
            with open(path, "wb") as f:
                f.write(data)
            cmd += ["--data-binary", "@" + path]
            cmd += ["-H", "Transfer-Encoding: chunked"] if chunks is not None else \
                ["-H", "Content-Type: application/octet-stream"]
        if body_file is not None:
            cmd += ["-T", body_file] + ([] if method else ["-X", "POST"])
        for hostport, ip in (resolve or {}).items():
            cmd += ["--resolve", f"{hostport}:{ip}"]
        cmd += list(extra)
        for i in range(repeat):
            cmd += [url, "-o", os.path.join(tmp, f"body{i}")]
        r = subprocess.run(cmd, capture_output=True, timeout=timeout, env=clean_env())
        try:
            with open(os.path.join(tmp, "head"), errors="replace") as f:
                heads = _parse_header_dump(f.read())
        except OSError:
            heads = []
        responses = []
        for i, (status, fields) in enumerate(heads):
            try:
                with open(os.path.join(tmp, f"body{i}"), "rb") as f:
                    b = f.read()
            except OSError:
                b = b""
            responses.append((status, fields, b"" if method == "HEAD" else b))  # -I writes the head there
        return ClientResult(r.returncode, r.stderr.decode("utf-8", "replace"), responses, args=cmd)
    finally:
        shutil.rmtree(tmp, True)


# Runs under Debian's python3; reads a JSON spec on stdin, prints a JSON result.
_PY_CLIENT = r"""
import base64, inspect, json, sys
spec = json.load(sys.stdin)
def payload():
    if spec.get("chunks") is not None:
        return (base64.b64decode(c) for c in spec["chunks"])
    if spec.get("body") is not None:
        return base64.b64decode(spec["body"])
    return None
out = []
if spec["lib"] == "requests":
    import requests
    from urllib3.connectionpool import HTTPSConnectionPool
    # requests 2.28 sends a chunked (generator) body on a connection taken with
    # _get_conn(), skipping the CONNECT (psf/requests#6279: TLS goes to the proxy
    # itself); open the tunnel the way urlopen() would.
    _get_conn = HTTPSConnectionPool._get_conn
    def _get_tunnelled_conn(self, timeout=None):
        conn = _get_conn(self, timeout)
        if self.proxy is not None and getattr(conn, "sock", None) is None:
            self._prepare_proxy(conn)
        return conn
    HTTPSConnectionPool._get_conn = _get_tunnelled_conn
    s = requests.Session()
    proxies = {"http": spec["proxy"], "https": spec["proxy"]} if spec.get("proxy") else {"http": None, "https": None}
    for i in range(spec["repeat"]):
        r = s.request(spec["method"], spec["url"], headers=dict(spec["headers"]), data=payload(), proxies=proxies,
                      timeout=spec["timeout"], allow_redirects=False)
        out.append({"status": r.status_code, "headers": list(r.raw.headers.items()),
                    "body": base64.b64encode(r.content).decode()})
    info = {"version": requests.__version__}
else:
    import httpx
    kw = {"verify": spec.get("cafile") or True, "timeout": spec["timeout"], "trust_env": False}
    if spec.get("proxy"):
        kw["proxy" if "proxy" in inspect.signature(httpx.Client).parameters else "proxies"] = spec["proxy"]
    with httpx.Client(**kw) as c:
        for i in range(spec["repeat"]):
            r = c.request(spec["method"], spec["url"], headers=spec["headers"], content=payload())
            out.append({"status": r.status_code, "headers": [[k.decode(), v.decode()] for k, v in r.headers.raw],
                        "body": base64.b64encode(r.content).decode(), "http_version": r.http_version})
    info = {"version": httpx.__version__}
json.dump({"responses": out, "info": info}, sys.stdout)
"""


def _split_headers(headers):
    return [[p.strip() for p in h.split(":", 1)] for h in headers]


def _run_json_client(cmd, spec, env, timeout):
    r = subprocess.run(cmd, input=json.dumps(spec).encode(), capture_output=True, timeout=timeout, env=env)
    stderr = r.stderr.decode("utf-8", "replace")
    responses, info = [], {}
    if r.returncode == 0:
        doc = json.loads(r.stdout)
        responses = [(x["status"], [tuple(h) for h in x["headers"]], base64.b64decode(x["body"]))
                     for x in doc["responses"]]
        info = doc.get("info", {})
    return ClientResult(r.returncode, stderr, responses, info, args=cmd)


def _py_client(lib, url, proxy, cafile, method, headers, body, chunks, repeat, timeout):
    spec = {"lib": lib, "url": url, "proxy": proxy, "cafile": cafile, "method": method or "GET",
            "headers": _split_headers(headers), "repeat": repeat, "timeout": timeout,
            "body": base64.b64encode(body).decode() if body is not None else None,
            "chunks": [base64.b64encode(c).decode() for c in chunks] if chunks is not None else None}
    env = clean_env()
    for v in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        env.pop(v, None)
    if cafile and lib == "requests":
        env["REQUESTS_CA_BUNDLE"] = cafile  # what `ferry ca install-hint` tells requests users
    return _run_json_client([SYSTEM_PYTHON, "-c", _PY_CLIENT], spec, env, timeout + 10)


def run_requests(url, proxy=None, cafile=None, method=None, headers=(), body=None, chunks=None, repeat=1, timeout=30):
    """python3-requests (one Session: repeat requests share the connection);
    trusts `cafile` through REQUESTS_CA_BUNDLE. chunks: sent chunked, one
    chunk per item. A bad certificate: returncode 1, SSLError in stderr."""
    return _py_client("requests", url, proxy, cafile, method, headers, body, chunks, repeat, timeout)


def run_httpx(url, proxy=None, cafile=None, method=None, headers=(), body=None, chunks=None, repeat=1, timeout=30):
    """python3-httpx (one Client with proxy=/proxies= and verify=cafile);
    otherwise as run_requests."""
    return _py_client("httpx", url, proxy, cafile, method, headers, body, chunks, repeat, timeout)


# node: CONNECT with http.request, TLS over the tunnel socket with tls.connect,
# requests through an https.Agent (keep-alive, one socket) whose
# createConnection hands the TLS socket over asynchronously. Trust comes from
# NODE_EXTRA_CA_CERTS. Node 18 and 20 both have all of it.
_NODE_CLIENT = r"""
const http = require('http'), https = require('https'), tls = require('tls'), net = require('net');
const spec = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const target = new URL(spec.url);
const host = target.hostname.replace(/^\[|\]$/g, '');
const port = Number(target.port || 443);
const info = {node: process.version};
class TunnelAgent extends https.Agent {
  createConnection(options, cb) {
    const proxy = new URL(spec.proxy);
    const authority = (net.isIPv6(host) ? `[${host}]` : host) + ':' + port;
    const headers = {host: authority};
    if (proxy.username) {
      const creds = decodeURIComponent(proxy.username) + ':' + decodeURIComponent(proxy.password);
      headers['Proxy-Authorization'] = 'Basic ' + Buffer.from(creds).toString('base64');
    }
    const req = http.request({host: proxy.hostname, port: Number(proxy.port || 80), method: 'CONNECT',
                              path: authority, headers, agent: false});
    req.on('connect', (res, socket, head) => {
      info.connect_status = res.statusCode;
      if (res.statusCode !== 200) {
        socket.destroy();
        cb(new Error(`proxy answered CONNECT with ${res.statusCode}`));
        return;
      }
      if (head && head.length) socket.unshift(head);
      const s = tls.connect({socket, host, servername: net.isIP(host) ? undefined : host,
                             ALPNProtocols: spec.alpn || undefined});
      s.on('secureConnect', () => { info.alpn = s.alpnProtocol; info.tls = s.getProtocol(); });
      cb(null, s);
    });
    req.on('error', cb);
    req.end();
  }
}
const agentOpts = {keepAlive: true, maxSockets: 1};
if (spec.resolve) {
  agentOpts.lookup = (h, o, cb) => (o && o.all) ? cb(null, [{address: spec.resolve, family: 4}])
                                                : cb(null, spec.resolve, 4);
}
const agent = spec.proxy ? new TunnelAgent(agentOpts) : new https.Agent(agentOpts);
function one() {
  return new Promise((resolve, reject) => {
    const headers = {};
    for (const [n, v] of spec.headers) headers[n] = v;
    if (spec.body !== null) headers['Content-Length'] = Buffer.from(spec.body, 'base64').length;
    // node frames a GET's writes only when told to
    if (spec.chunks !== null && !Object.keys(headers).some((n) => n.toLowerCase() === 'transfer-encoding'))
      headers['Transfer-Encoding'] = 'chunked';
    const req = https.request({host, port, path: target.pathname + target.search, method: spec.method, headers, agent,
                               timeout: spec.timeout * 1000}, (res) => {
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('end', () => {
        const hs = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) hs.push([res.rawHeaders[i], res.rawHeaders[i + 1]]);
        resolve({status: res.statusCode, headers: hs, body: Buffer.concat(parts).toString('base64')});
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    if (spec.chunks !== null) for (const c of spec.chunks) req.write(Buffer.from(c, 'base64'));
    else if (spec.body !== null) req.write(Buffer.from(spec.body, 'base64'));
    req.end();
  });
}
(async () => {
  const responses = [];
  for (let i = 0; i < spec.repeat; i++) responses.push(await one());
  agent.destroy();
  process.stdout.write(JSON.stringify({responses, info}));
})().catch((e) => { process.stderr.write(`node client: ${e.code || ''} ${e.message}\n`); process.exit(1); });
"""


def run_node(url, proxy=None, cafile=None, method=None, headers=(), body=None, chunks=None, repeat=1, resolve=None,
             alpn=None, timeout=30):
    """node (https.Agent over a CONNECT tunnel made with http.request, see
    _NODE_CLIENT); trusts `cafile` through NODE_EXTRA_CA_CERTS. chunks: one
    req.write per item (chunked). resolve: an IP for the URL's host (direct
    only). info: node version, connect_status, alpn, tls."""
    spec = {"url": url, "proxy": proxy, "method": method or "GET", "headers": _split_headers(headers),
            "repeat": repeat, "timeout": timeout, "resolve": resolve, "alpn": list(alpn) if alpn else None,
            "body": base64.b64encode(body).decode() if body is not None and chunks is None else None,
            "chunks": [base64.b64encode(c).decode() for c in chunks] if chunks is not None else None}
    env = clean_env()
    env.pop("NODE_EXTRA_CA_CERTS", None)
    env.pop("NODE_OPTIONS", None)
    if cafile:
        env["NODE_EXTRA_CA_CERTS"] = cafile
    return _run_json_client([NODE, "-e", _NODE_CLIENT], spec, env, timeout + 10)


def run_s_client(port, servername, proxy=None, cafile=None, host="127.0.0.1", alpn=None, request=None,
                 timeout=20):
    """openssl s_client [-proxy HOST:PORT] -connect HOST:PORT -servername NAME
    -verify_return_error [-alpn LIST]; sends `request` (bytes, e.g. a GET
    with Connection: close) and reads to EOF, or, with request None, only
    handshakes. proxy: a URL (user:password@ for Basic) or host:port. info: verify_code (0 = ok),
    verify_text, alpn (None when none), protocol, peer_cert_sha256. status,
    headers, body come from the HTTP response when there is one."""
    cmd = [OPENSSL, "s_client", "-connect", f"{host}:{port}", "-verify_return_error"]
    if servername:
        cmd += ["-servername", servername, "-verify_hostname", servername]
    if proxy:
        u = urllib.parse.urlsplit(proxy if "://" in proxy else "http://" + proxy)
        cmd += ["-proxy", f"{u.hostname}:{u.port}"]
        if u.username is not None:
            cmd += ["-proxy_user", urllib.parse.unquote(u.username),
                    "-proxy_pass", "pass:" + urllib.parse.unquote(u.password or "")]
    if cafile:
        cmd += ["-CAfile", cafile]
    if alpn:
        cmd += ["-alpn", alpn if isinstance(alpn, str) else ",".join(alpn)]
    if request is not None:
        cmd += ["-ign_eof"]
    r = subprocess.run(cmd, input=request or b"", capture_output=True, timeout=timeout, env=clean_env())
    out = r.stdout.decode("latin-1")
    info = {"verify_code": None, "verify_text": None, "alpn": None, "protocol": None, "peer_cert_sha256": None}
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Verify return code:"):
            code, _, text = line.split(":", 1)[1].strip().partition(" ")
            info["verify_code"], info["verify_text"] = int(code), text.strip("()")
        elif line.startswith("ALPN protocol:"):
            info["alpn"] = line.split(":", 1)[1].strip()
        elif line.startswith("Protocol") and ":" in line and info["protocol"] is None:
            info["protocol"] = line.split(":", 1)[1].strip()
    b, e = out.find("-----BEGIN CERTIFICATE-----"), out.find("-----END CERTIFICATE-----")
    if b >= 0 and e > b:
        info["peer_cert_sha256"] = cert_sha256(out[b:e + len("-----END CERTIFICATE-----")] + "\n")
    responses = []
    i = r.stdout.find(b"HTTP/1.")
    if request is not None and i >= 0:
        raw = r.stdout[i:]
        head, _, rest = raw.partition(b"\r\n\r\n")
        first, fields = parse_head(head + b"\r\n\r\n")
        # s_client may print its own lines after the response: cut by the framing we were sent.
        cl = field(fields, "content-length")
        body = rest[:int(cl)] if cl is not None else rest
        responses.append((int(first.split(" ")[1]), fields, body))
    return ClientResult(r.returncode, r.stderr.decode("utf-8", "replace"), responses, info, args=cmd)


def run_git_clone(url, dest, proxy=None, cafile=None, resolve=None, timeout=60, extra_config=()):
    """git [-c http.proxy=PROXY] [-c http.curloptResolve=...] clone URL DEST
    with GIT_SSL_CAINFO=cafile and no user or system config. resolve:
    "host:port:ip" (git >= 2.37). info: head (DEST's HEAD sha, None on
    failure), log (subjects, newest first)."""
    cmd = [GIT]
    if proxy:
        cmd += ["-c", f"http.proxy={proxy}"]
    if resolve:
        cmd += ["-c", f"http.curloptResolve={resolve}"]
    for c in extra_config:
        cmd += ["-c", c]
    cmd += ["clone", "-q", url, dest]
    env = _git_env(os.path.dirname(os.path.abspath(dest)), {"GIT_SSL_CAINFO": cafile} if cafile else None)
    r = subprocess.run(cmd, capture_output=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)
    info = {"head": None, "log": []}
    if r.returncode == 0:
        q = lambda *a: subprocess.run([GIT, "-C", dest, *a], capture_output=True, text=True, env=env).stdout.strip()
        info["head"] = q("rev-parse", "HEAD")
        info["log"] = q("log", "--format=%s").splitlines()
    return ClientResult(r.returncode, r.stderr.decode("utf-8", "replace"), (), info, args=cmd)


def run_git_push(clone, proxy=None, cafile=None, refspec="HEAD:main", timeout=60, add_bytes=0):
    """In a clone made by run_git_clone: with add_bytes, commits a file of
    that many random bytes first (git sends a pack over http.postBuffer, 1 MiB,
    as a chunked POST); then git push origin REFSPEC through `proxy`.
    info: head (the pushed sha)."""
    env = _git_env(os.path.dirname(os.path.abspath(clone)), {"GIT_SSL_CAINFO": cafile} if cafile else None)
    git = lambda *a: subprocess.run([GIT, "-C", clone, *a], capture_output=True, env=env, timeout=timeout,
                                    stdin=subprocess.DEVNULL)
    if add_bytes:
        name = f"blob-{os.urandom(4).hex()}.bin"
        with open(os.path.join(clone, name), "wb") as f:
            f.write(os.urandom(add_bytes))
        for step in (("add", name), ("commit", "-q", "-m", f"add {name}")):
            r = git(*step)
            if r.returncode != 0:
                return ClientResult(r.returncode, r.stderr.decode("utf-8", "replace"), args=r.args)
    cmd = (["-c", f"http.proxy={proxy}"] if proxy else []) + ["push", "-q", "origin", refspec]
    r = git(*cmd)
    head = git("rev-parse", "HEAD").stdout.decode().strip()
    return ClientResult(r.returncode, r.stderr.decode("utf-8", "replace"), (), {"head": head}, args=r.args)


# ---------------------------------------------------------------------------
# Raw TLS client (byte-exact tests)
# ---------------------------------------------------------------------------

class TlsConn(RawConn):
    """A RawConn whose socket is a TLS connection (see tls_connect);
    `connect_response` is the proxy's answer to CONNECT (None when direct)."""

    def __init__(self, tls_sock, connect_response=None):  # noqa: super().__init__ would connect
        self.sock = tls_sock
        self.reader = SockReader(tls_sock)
        self.connect_response = connect_response

    @property
    def alpn(self):
        return self.sock.selected_alpn_protocol()

    def peer_cert_sha256(self):
        return hashlib.sha256(self.sock.getpeercert(binary_form=True)).hexdigest()


def tls_connect(port, server_hostname, cafile=None, proxy_port=None, host="127.0.0.1", connect_host=None,
                alpn=("http/1.1",), verify=True, timeout=10, proxy_headers=()):
    """TLS to host:port (or through a CONNECT to `connect_host or
    server_hostname`:port on the proxy at 127.0.0.1:proxy_port) with SNI
    `server_hostname`, verifying against `cafile` (verify=False: accept any
    certificate). Returns a TlsConn (send / read_response / recv_some...).
    Raises ssl.SSLError on a failed handshake, ConnectionError when the proxy
    refuses the CONNECT. proxy_headers: extra CONNECT header lines
    ("Proxy-Authorization: Basic ...")."""
    raw = socket.create_connection((host if proxy_port is None else "127.0.0.1", proxy_port or port), timeout)
    connect_response = None
    try:
        if proxy_port is not None:
            authority = f"{connect_host or server_hostname}:{port}"
            extra = "".join(h + "\r\n" for h in proxy_headers)
            raw.sendall(f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n{extra}\r\n".encode())
            r = SockReader(raw)
            head = r.read_until(b"\r\n\r\n")
            if head is None:
                raise ConnectionError("proxy closed the connection before answering CONNECT")
            connect_response = parse_head(head)
            if connect_response[0].split(" ")[1] != "200":
                raise ConnectionError(f"proxy answered CONNECT with {connect_response[0]!r}")
            if r.buf:
                raise ConnectionError(f"bytes after the CONNECT answer: {bytes(r.buf[:100])!r}")
        ctx = ssl.create_default_context(cafile=cafile) if verify else ssl._create_unverified_context()
        if alpn:
            ctx.set_alpn_protocols(list(alpn))
        tls = ctx.wrap_socket(raw, server_hostname=server_hostname)
    except BaseException:
        raw.close()
        raise
    return TlsConn(tls, connect_response)
