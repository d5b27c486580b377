"""Real upstream proxies for ferry's integration tests and benchmarks.

Each class starts one daemon (Squid, microsocks, dante, cntlm) on a free
127.0.0.1 port, with its config, pid and logs in a private directory under
the caller's temp dir, and stops it by pid in stop(). Several instances can
run at once (ctest -j2): nothing is shared between them.

Every daemon's outgoing connections are bound to 127.0.0.1 where the daemon
allows it, so an upstream can only ever reach loopback.

Standard library only; needs the Debian packages from
`scripts/install-deps.sh test` (squid, apache2-utils, microsocks,
dante-server) and `bench` (cntlm).
"""

import base64
import hashlib
import os
import pwd
import shutil
import signal
import subprocess
import time
import urllib.parse

from harness import (CURL, OPENSSL, PROXY_STATUS_RE, TEST_HOSTS, Ferry, ProxyTestCase, clean_env, ferry_bin,
                     free_port, hosts_file_for, loopback_dns_prefix, port_open, wait_until)

SQUID = shutil.which("squid") or "/usr/sbin/squid"
MICROSOCKS = shutil.which("microsocks") or "/usr/bin/microsocks"
DANTED = shutil.which("danted") or "/usr/sbin/danted"
CNTLM = shutil.which("cntlm") or "/usr/sbin/cntlm"
HTPASSWD = shutil.which("htpasswd")
SQUID_LIBEXEC = "/usr/lib/squid"

START_TIMEOUT = 20


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def _require(binary, package, mode="test"):
    if not os.access(binary, os.X_OK):
        raise RuntimeError(f"{binary} not found: install {package} (scripts/install-deps.sh {mode})")


def _write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _make_traversable(path):
    """Daemons that drop to another user (squid -> proxy) must reach their
    files: adds o+x to `path` itself (mkdtemp makes 0700) and raises if a
    parent directory is not traversable (that one is not ours to change)."""
    path = os.path.abspath(path)
    mode = os.stat(path).st_mode & 0o7777
    if not mode & 0o001:
        os.chmod(path, mode | 0o001)
    parent = os.path.dirname(path)
    while parent != os.path.dirname(parent):
        if not os.stat(parent).st_mode & 0o001:
            raise RuntimeError(f"{parent} is not traversable by other users (o+x); daemons that drop to "
                               "another user (squid, apache) cannot reach their files below it: use a temp dir "
                               "elsewhere")
        parent = os.path.dirname(parent)


def _chown_tree(path, user):
    """Gives `path` and everything below it to `user` (when running as root)."""
    if os.geteuid() != 0:
        return
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        return
    for root, dirs, files in os.walk(path):
        os.chown(root, pw.pw_uid, pw.pw_gid)
        for n in files:
            os.chown(os.path.join(root, n), pw.pw_uid, pw.pw_gid)


def _listening_inodes(port, host="127.0.0.1"):
    """Socket inodes listening on host:port, from /proc/net/tcp (None when
    that cannot be read). Reading it makes no connection: Squid logs a
    connection that closes before sending a request
    (`error:transaction-end-before-headers`), so a connect probe would add a
    line to the access log that tests count."""
    want = "%s:%04X" % ("".join("%02X" % int(b) for b in reversed(host.split("."))), port)
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            return {parts[9] for parts in map(str.split, f)
                    if len(parts) > 9 and parts[1] == want and parts[3] == "0A"}
    except OSError:
        return None


def _socket_inodes(pid):
    """Inodes of the sockets open in process `pid` and its children."""
    pids = [pid]
    try:
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open(f"/proc/{d}/stat") as f:
                        # the field after "(comm)" is the state, then the ppid
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                            pids.append(int(d))
                except (OSError, ValueError, IndexError):
                    pass
    except OSError:
        pass
    out = set()
    for p in pids:
        try:
            for fd in os.listdir(f"/proc/{p}/fd"):
                try:
                    link = os.readlink(f"/proc/{p}/fd/{fd}")
                except OSError:
                    continue
                if link.startswith("socket:["):
                    out.add(link[8:-1])
        except OSError:
            pass
    return out


def _listening_by(pid, port, host="127.0.0.1"):
    """True once process `pid` (or a child) listens on host:port. Checking
    the owner matters: free_port() can race with another test, and then a
    port that is open says nothing about our daemon."""
    inodes = _listening_inodes(port, host)
    if inodes is None:
        return port_open(port, host)  # no procfs: fall back to a connect probe
    return bool(inodes & _socket_inodes(pid))


def squid_access_lines(path):
    """Parses a Squid access log written with the `ferry` logformat below
    (also used by kerberos_bed.NegotiateSquid)."""
    out = []
    for line in _read(path).splitlines():
        parts = line.split()
        if len(parts) != 6:
            continue
        ts, status, method, uri, user, code = parts
        out.append({"time": float(ts), "status": int(status) if status.isdigit() else 0, "method": method,
                    "uri": uri, "user": None if user == "-" else urllib.parse.unquote(user), "code": code})
    return out


class AccessLog:
    """For daemons with access_lines(): waiting for lines to be written."""

    def wait_access_count(self, n, timeout=5, pred=None):
        """Waits until at least n access lines (matching pred, if given) are
        logged; proxies write a line after the transaction ends. Returns them."""
        found = []

        def check():
            found[:] = [e for e in self.access_lines() if pred is None or pred(e)]
            return len(found) >= n

        wait_until(check, timeout)
        return found


def proxy_url(scheme, port, creds=None, host="127.0.0.1"):
    """scheme://[user:pw@]host:port; creds is None, (user, pw) or "user:pw".
    User and password are percent-encoded."""
    if creds is None:
        return f"{scheme}://{host}:{port}"
    if isinstance(creds, str):
        user, _, pw = creds.partition(":")
    else:
        user, pw = creds
    q = lambda s: urllib.parse.quote(s, safe="")
    return f"{scheme}://{q(user)}:{q(pw)}@{host}:{port}"


def issue_server_cert(ca, directory, name, hosts=("127.0.0.1", "localhost")):
    """Issues a leaf server certificate for `hosts` (IP addresses or DNS
    names) signed by the harness TestCA, with the openssl CLI. Returns
    (cert_path, key_path); the key is a fresh P-256 key."""
    key = os.path.join(directory, name + ".key")
    cert = os.path.join(directory, name + ".pem")
    csr = os.path.join(directory, name + ".csr")
    ext = os.path.join(directory, name + ".ext")
    san = ",".join(("IP:" if h.replace(".", "").isdigit() or ":" in h else "DNS:") + h for h in hosts)
    _write(ext, "basicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n"
                f"subjectAltName={san}\n")

    def run(*args):
        r = subprocess.run([OPENSSL, *args], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"openssl {args[0]} failed: {r.stderr.strip()}")

    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
        "-out", csr, "-subj", f"/CN={hosts[0]}")
    # -set_serial with a random number instead of -CAcreateserial: the
    # TestCA's serial file would be shared by concurrent issuers.
    run("x509", "-req", "-in", csr, "-CA", ca.ca_cert, "-CAkey", ca.ca_key,
        "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-out", cert, "-days", "2", "-extfile", ext)
    os.chmod(cert, 0o644)
    os.chmod(key, 0o600)
    return cert, key


class _Daemon:
    """A foreground daemon run with Popen: stdout+stderr go to a file, the pid
    is the Popen's, stop() sends SIGTERM then SIGKILL and reaps it."""

    name = "daemon"

    def _spawn(self, cmd, log_path, env=None):
        self.cmd = cmd
        self.output_path = log_path
        with open(log_path, "wb") as out:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         env=env)

    def _wait_listening(self, timeout=START_TIMEOUT):
        ok = wait_until(lambda: self.proc.poll() is not None or _listening_by(self.proc.pid, self.port), timeout)
        if not ok or self.proc.poll() is not None:
            code = self.proc.poll()
            self.stop()
            state = f"exited with {code}" if code is not None else f"not listening on {self.port} after {timeout}s"
            raise RuntimeError(f"{self.name} {state}: {' '.join(self.cmd)}\n{self.failure_text()}")

    def failure_text(self):
        """What to show when the daemon fails: the tail of its output."""
        return _read(self.output_path)[-4000:]

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc.poll() is None

    def stop(self, timeout=10, graceful=True):
        """SIGTERM, wait up to `timeout` s, then SIGKILL (at once when not
        graceful). Returns the exit code (negative: the signal)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM if graceful else signal.SIGKILL)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode


# ---------------------------------------------------------------------------
# Squid
# ---------------------------------------------------------------------------

class Squid(_Daemon, AccessLog):
    """Squid as an HTTP(S) forward proxy on 127.0.0.1.

    auth: "none" (open to loopback clients), "basic" (basic_ncsa_auth,
    bcrypt htpasswd file), "digest" (digest_file_auth, user:realm:HA1 file)
    or "ntlm" (ntlm_fake_auth: real handshake, accepts any credentials, and
    the access log mangles the user name; for cntlm).
    https=True listens with `https_port` (TLS to the proxy) using a leaf
    certificate for 127.0.0.1/localhost signed by `ca` (a harness TestCA).
    CONNECT is allowed to `connect_ports` only (403 otherwise, before auth).
    open_domains: destination names let through without auth (an
    `http_access allow` before the proxy_auth rule, as enterprises do for
    intranet hosts).
    hosts ({name: address}, e.g. harness.TEST_HOSTS) goes into a private
    `hosts_file`, so squid resolves names like origin.test to loopback.
    The access log has one line per request: see access_lines().
    A graceful stop() takes ~2.5 s (squid's shutdown steps, even with
    shutdown_lifetime 1 s); stop(graceful=False) kills it at once.
    """

    name = "squid"
    REALM_BASIC = "ferry-test-basic"
    REALM_DIGEST = "ferry-test-digest"

    def __init__(self, tmpdir, auth="none", https=False, ca=None, users=None, connect_ports=(443,),
                 extra_conf="", hosts=None, open_domains=()):
        _require(SQUID, "squid")
        if auth not in ("none", "basic", "digest", "ntlm"):
            raise ValueError(f"auth must be none, basic, digest or ntlm, not {auth!r}")
        if https and ca is None:
            raise ValueError("https=True needs ca (a harness TestCA)")
        self.auth = auth
        self.https = https
        self.users = dict(users) if users is not None else {"bob": "bobpw"}
        if any(":" in u or "\n" in u + p for u, p in self.users.items()):
            raise ValueError("user names cannot contain ':', nor names or passwords a newline")
        self.connect_ports = tuple(int(p) for p in connect_ports)
        self.port = free_port()
        _make_traversable(tmpdir)
        self.dir = os.path.join(tmpdir, f"squid-{self.port}")
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.conf_path = os.path.join(self.dir, "squid.conf")
        self.pid_path = os.path.join(self.dir, "squid.pid")
        self.cache_log_path = os.path.join(self.dir, "cache.log")
        self.access_log_path = os.path.join(self.dir, "access.log")

        lines = [
            "# written by tests/integration/upstreams.py",
            f"pid_filename {self.pid_path}",
            f"cache_log {self.cache_log_path}",
            "logformat ferry %ts.%03tu %>Hs %rm %ru %un %Ss",
            f"access_log stdio:{self.access_log_path} ferry",
            "strip_query_terms off",  # log the whole URI, query included
            "cache_store_log none",
            f"coredump_dir {self.dir}",
            # No cache_dir: memory only, no `squid -z`; and nothing cached at
            # all, so every request reaches the origin and is counted there.
            "cache deny all",
            "cache_mem 8 MB",
            # Only the one TCP port: no ICP/HTCP/SNMP listeners to collide
            # between parallel instances, no pinger helper, no netdb file.
            "icp_port 0",
            "htcp_port 0",
            "snmp_port 0",
            "pinger_enable off",
            "netdb_filename none",
            "shutdown_lifetime 1 seconds",
            # A fixed name in X-Cache/Via/error pages instead of the machine's.
            "visible_hostname squid.test",
            # Confinement: squid only connects out from 127.0.0.1 (so only to
            # loopback), and a name lookup never leaves loopback either.
            "tcp_outgoing_address 127.0.0.1",
            "dns_nameservers 127.0.0.1",
            "dns_timeout 5 seconds",
        ]
        if hosts:
            self.hosts_path = os.path.join(self.dir, "hosts")
            with open(hosts_file_for(self.dir, hosts)) as f:
                _write(self.hosts_path, f.read())
            lines.append(f"hosts_file {self.hosts_path}")
        if https:
            self.cert, self.key = issue_server_cert(ca, self.dir, "proxy")
            lines.append(f"https_port 127.0.0.1:{self.port} tls-cert={self.cert} tls-key={self.key}")
        else:
            lines.append(f"http_port 127.0.0.1:{self.port}")

        # auth_param must precede the proxy_auth ACL (else "FATAL: Invalid ACL").
        if auth == "basic":
            self.passwd_path = os.path.join(self.dir, "passwd")
            _write(self.passwd_path, "".join(_htpasswd_line(u, p) for u, p in self.users.items()), 0o600)
            lines += [f"auth_param basic program {SQUID_LIBEXEC}/basic_ncsa_auth {self.passwd_path}",
                      "auth_param basic children 5 startup=1 idle=1",
                      f"auth_param basic realm {self.REALM_BASIC}"]
        elif auth == "digest":
            # -c: user:realm:HA1 lines instead of plaintext user:password,
            # whose parser stops the password at the first ':'.
            self.passwd_path = os.path.join(self.dir, "digest_passwd")
            ha1 = lambda u, p: hashlib.md5(f"{u}:{self.REALM_DIGEST}:{p}".encode()).hexdigest()
            _write(self.passwd_path, "".join(f"{u}:{self.REALM_DIGEST}:{ha1(u, p)}\n"
                                             for u, p in self.users.items()), 0o600)
            lines += [f"auth_param digest program {SQUID_LIBEXEC}/digest_file_auth -c {self.passwd_path}",
                      "auth_param digest children 5 startup=1 idle=1",
                      f"auth_param digest realm {self.REALM_DIGEST}"]
        elif auth == "ntlm":
            # ntlm_fake_auth: a real NTLM handshake, but any user/password
            # is accepted (real NTLM needs Samba's winbind). For cntlm.
            lines += [f"auth_param ntlm program {SQUID_LIBEXEC}/ntlm_fake_auth",
                      "auth_param ntlm children 5 startup=1 idle=1",
                      "auth_param ntlm keep_alive on"]

        lines += ["acl loopback src 127.0.0.0/8 ::1", "acl CONNECT method CONNECT", "http_access deny !loopback"]
        if self.connect_ports:
            lines += ["acl connect_ok port " + " ".join(str(p) for p in self.connect_ports),
                      "http_access deny CONNECT !connect_ok"]
        else:
            lines.append("http_access deny CONNECT")
        if open_domains:
            lines += ["acl open_dst dstdomain " + " ".join(open_domains), "http_access allow open_dst"]
        if auth == "none":
            lines.append("http_access allow loopback")
        else:
            lines += ["acl authed proxy_auth REQUIRED", "http_access allow authed"]
        lines.append("http_access deny all")
        if extra_conf:
            lines.append(extra_conf)
        _write(self.conf_path, "\n".join(lines) + "\n")
        # Squid drops to `proxy`; its logs, pid file and the password/key
        # files it (or its helpers) open later must belong to that user.
        _chown_tree(self.dir, "proxy")

        parse = subprocess.run([SQUID, "-k", "parse", "-f", self.conf_path], capture_output=True, text=True,
                               timeout=30)
        if parse.returncode != 0:
            raise RuntimeError(f"squid -k parse failed ({parse.returncode}) for {self.conf_path}:\n"
                               + (parse.stdout + parse.stderr)[-4000:])
        # -N: no daemon, one process; Popen's pid is squid itself (squid
        # deletes its pid file on exit, so the file is no use for stop()).
        # Its stdout/stderr file gets what happens before cache.log is open.
        self._spawn([SQUID, "-N", "-f", self.conf_path], os.path.join(self.dir, "squid.out"))
        self._wait_listening()

    def failure_text(self):
        return ("--- squid stdout/stderr:\n" + _read(self.output_path)[-3000:] +
                "\n--- cache.log:\n" + self.cache_log_text()[-3000:])

    def url(self, scheme=None, creds=None, host="127.0.0.1"):
        """Proxy URL; scheme defaults to https for an https_port squid."""
        return proxy_url(scheme or ("https" if self.https else "http"), self.port, creds, host)

    def cache_log_text(self):
        return _read(self.cache_log_path)

    def access_lines(self):
        """Parsed access log: dicts with time (float), status (int, 0 when
        none was sent), method, uri (host:port for CONNECT), user and code
        (e.g. TCP_MISS, TCP_DENIED, TCP_TUNNEL). user is None when no
        credentials came, but it is the name sent also when they were wrong
        (status 407): check status too when counting authenticated requests."""
        return squid_access_lines(self.access_log_path)


def _htpasswd_line(user, password):
    """One bcrypt line for basic_ncsa_auth (htpasswd -B, as verified on this
    machine); falls back to openssl's apr1 MD5, which it also understands."""
    if HTPASSWD:
        r = subprocess.run([HTPASSWD, "-n", "-b", "-B", user, password], capture_output=True, text=True)
        if r.returncode == 0 and r.stdout.strip():
            return r.stdout.strip() + "\n"
    r = subprocess.run([OPENSSL, "passwd", "-apr1", password], capture_output=True, text=True, check=True)
    return f"{user}:{r.stdout.strip()}\n"


# ---------------------------------------------------------------------------
# SOCKS5: microsocks and dante
# ---------------------------------------------------------------------------

class Microsocks(_Daemon):
    """microsocks SOCKS5 on 127.0.0.1; username/password auth (RFC 1929)
    when user and password are given, else no auth. hosts ({name: address})
    runs it with a private /etc/hosts (and loopback-only DNS) so it resolves
    socks5h names like origin.test to loopback."""

    name = "microsocks"

    def __init__(self, tmpdir, user=None, password=None, hosts=None):
        _require(MICROSOCKS, "microsocks")
        if (user is None) != (password is None):
            raise ValueError("give both user and password, or neither")
        self.user = user
        self.password = password
        self.port = free_port()
        self.dir = os.path.join(tmpdir, f"microsocks-{self.port}")
        os.makedirs(self.dir, exist_ok=True)
        # -b: outgoing connections from 127.0.0.1, i.e. loopback only.
        cmd = [MICROSOCKS, "-i", "127.0.0.1", "-p", str(self.port), "-b", "127.0.0.1"]
        if user is not None:
            cmd += ["-u", user, "-P", password]
        if hosts:
            cmd = loopback_dns_prefix(self.dir, hosts) + cmd
        self._spawn(cmd, os.path.join(self.dir, "microsocks.log"))
        self._wait_listening()

    def url(self, scheme="socks5h", creds=None, host="127.0.0.1"):
        return proxy_url(scheme, self.port, creds, host)


class Dante(_Daemon):
    """Debian's danted (SOCKS5, `socksmethod: none`) on 127.0.0.1. Debian's
    build has no GSSAPI, and its `username` method needs system accounts,
    so only the no-auth method is offered here. hosts: as for Microsocks."""

    name = "danted"

    def __init__(self, tmpdir, hosts=None):
        _require(DANTED, "dante-server")
        self.port = free_port()
        self.dir = os.path.join(tmpdir, f"dante-{self.port}")
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.conf_path = os.path.join(self.dir, "danted.conf")
        self.pid_path = os.path.join(self.dir, "danted.pid")
        self.log_path = os.path.join(self.dir, "danted.log")
        # `external: 127.0.0.1`: outgoing connections from loopback only.
        _write(self.conf_path, f"""# written by tests/integration/upstreams.py
logoutput: {self.log_path}
internal: 127.0.0.1 port = {self.port}
external: 127.0.0.1
clientmethod: none
socksmethod: none
user.privileged: root
user.unprivileged: nobody
client pass {{ from: 127.0.0.0/8 to: 0.0.0.0/0 }}
socks pass {{ from: 127.0.0.0/8 to: 0.0.0.0/0 command: connect }}
""")
        # Foreground (no -D), one "main server" (-N 1, the default spelled out).
        cmd = [DANTED, "-f", self.conf_path, "-p", self.pid_path, "-N", "1"]
        if hosts:
            cmd = loopback_dns_prefix(self.dir, hosts) + cmd
        self._spawn(cmd, os.path.join(self.dir, "danted.out"))
        self._wait_listening()

    def failure_text(self):
        return _read(self.output_path)[-2000:] + "\n--- danted.log:\n" + _read(self.log_path)[-3000:]

    def url(self, scheme="socks5h", creds=None, host="127.0.0.1"):
        return proxy_url(scheme, self.port, creds, host)


# ---------------------------------------------------------------------------
# cntlm (benchmarks)
# ---------------------------------------------------------------------------

class Cntlm(_Daemon):
    """cntlm on 127.0.0.1 in front of a parent proxy, for benchmarks.

    cntlm 0.92.3 (Debian's) speaks only NTLM to its parent: `Auth` takes
    NTLMv2, NTLM2SR, NT, NTLM or LM ("Auth Basic" is "Unknown NTLM auth
    combination"), and against a Basic-only parent it logs "Proxy returning
    invalid challenge!" and hands the 407 back. Its Basic support is the
    other direction only (NTLMToBasic: clients send Basic *to cntlm*). So
    auth="Basic" is refused; the closest working setups, both checked in
    check_upstreams.py, are cntlm doing NTLM to Squid(auth="ntlm") (a real
    handshake, but squid's fake helper accepts any password) and cntlm in
    front of an open Squid (no 407, it passes requests straight through).
    """

    name = "cntlm"
    AUTHS = ("NTLMv2", "NTLM2SR", "NT", "NTLM", "LM")

    def __init__(self, tmpdir, upstream_host, upstream_port, user, password, auth="NTLM", domain="TEST"):
        _require(CNTLM, "cntlm", "bench")
        if auth not in self.AUTHS:
            raise ValueError(f"cntlm cannot do {auth!r} to its parent, only {', '.join(self.AUTHS)} "
                             "(see the Cntlm docstring)")
        self.port = free_port()
        self.dir = os.path.join(tmpdir, f"cntlm-{self.port}")
        os.makedirs(self.dir, exist_ok=True)
        self.conf_path = os.path.join(self.dir, "cntlm.conf")
        self.pid_path = os.path.join(self.dir, "cntlm.pid")
        # A plaintext Password serves every Auth type (cntlm derives the hashes).
        _write(self.conf_path, f"""# written by tests/integration/upstreams.py
Username {user}
Domain {domain}
Password {password}
Auth {auth}
Proxy {upstream_host}:{upstream_port}
Listen 127.0.0.1:{self.port}
""", 0o600)
        # -f: foreground, so Popen's pid is cntlm's (it logs to stderr then).
        self._spawn([CNTLM, "-f", "-c", self.conf_path, "-P", self.pid_path], os.path.join(self.dir, "cntlm.log"))
        self._wait_listening()

    def url(self, scheme="http", creds=None, host="127.0.0.1"):
        return proxy_url(scheme, self.port, creds, host)


# ---------------------------------------------------------------------------
# Test base for ferry-with-upstream tests (test_upstream_*.py)
# ---------------------------------------------------------------------------


# Distinctive credentials, so a leak into ferry's output is unmistakable.
USER = "bob"
PASSWORD = "Bob-s3cret-pw-7741"
WRONG_PASSWORD = "Wr0ng-s3cret-pw-9923"
SOCKS_USER = "sockuser"
SOCKS_PASSWORD = "Sock-s3cret-pw-5518"
SECRETS = (PASSWORD, WRONG_PASSWORD, SOCKS_PASSWORD)


def secret_forms():
    """Every spelling of a secret that must never reach ferry's output: the
    password itself, percent-encoded, and the Basic token user:password."""
    out = set()
    for pw in SECRETS:
        out.add(pw)
        out.add(urllib.parse.quote(pw, safe=""))
        for user in (USER, SOCKS_USER):
            out.add(base64.b64encode(f"{user}:{pw}".encode()).decode())
    return sorted(out)


class UpstreamTestCase(ProxyTestCase):
    """Per-test ferry and upstream daemons (all stopped after the test, the
    ferry's exit code checked), and a check that no secret ever appears in
    anything ferry printed."""

    def setUp(self):
        super().setUp()
        self.outputs = []  # (label, text) of everything ferry printed in this test
        self.addCleanup(self.assertNoSecretsPrinted)

    def assertNoSecretsPrinted(self):
        for label, text in self.outputs:
            if callable(text):
                text = text()
            for s in secret_forms():
                self.assertNotIn(s, text, f"secret {s!r} appears in {label}:\n{text[-3000:]}")

    def note_output(self, label, text):
        self.outputs.append((label, text))

    # -- daemons -----------------------------------------------------------
    def daemon(self, d):
        """Registers an upstream daemon (Squid/Microsocks/Dante) for a quick stop after the test."""
        self.addCleanup(d.stop, 5, False)
        return d

    def squid(self, **kw):
        kw.setdefault("hosts", TEST_HOSTS)
        kw.setdefault("users", {USER: PASSWORD})
        return self.daemon(Squid(self.tmp, **kw))

    def serve(self, *args, hosts=TEST_HOSTS, **kw):
        """Starts `ferry serve` (resolving the TEST_NAMES to loopback)."""
        name = kw.pop("name", None) or f"ferry-{self._testMethodName}-{len(self.outputs)}"
        f = Ferry(self.tmp, list(args), hosts=hosts, name=name, **kw)
        self.addCleanup(f.stop_checked)
        self.note_output(name + " stderr", f.stderr_text)
        self.note_output(name + " stdout", lambda: _read(f.stdout_path))
        return f

    def password_file(self, password=PASSWORD, mode=0o600, name="password"):
        path = os.path.join(self.tmp, f"{self._testMethodName}.{name}")
        with open(path, "w") as f:
            f.write(password + "\n")
        os.chmod(path, mode)
        return path

    # -- clients -----------------------------------------------------------
    def curl(self, proxy, *args, timeout=30):
        """curl with -x PROXY (a URL) ...; returns the CompletedProcess."""
        cmd = [CURL, "-sS", "--noproxy", "", "-x", proxy, *args]
        return subprocess.run(cmd, capture_output=True, timeout=timeout, env=clean_env())

    def assertCurlBody(self, r, body):
        self.assertEqual(r.returncode, 0, f"curl failed: {r.args}\n{r.stderr!r}")
        self.assertEqual(r.stdout, body, r.args)

    def run_cli(self, args, env=None, timeout=20, hosts=TEST_HOSTS, input=None):
        """Runs ferry (route/env/serve that exits...) to completion, under the
        loopback DNS prefix; records its output for the secrets check."""
        r = subprocess.run(loopback_dns_prefix(self.tmp, hosts) + [ferry_bin(), *args], capture_output=True,
                           timeout=timeout, env=clean_env(env), input=input,
                           stdin=None if input is not None else subprocess.DEVNULL)
        out, err = r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")
        self.note_output(f"{args!r} stdout", out)
        self.note_output(f"{args!r} stderr", err)
        return r, out, err

    def wait_events(self, ferry, n, event=None, pred=None, timeout=5):
        """ferry's log events named `event` (and matching pred), once at least
        n are there (or after timeout); a short extra wait catches extra ones."""
        def match():
            return [e for e in ferry.logs() if (event is None or e.get("event") == event) and
                    (pred is None or pred(e))]
        wait_until(lambda: len(match()) >= n, timeout)
        time.sleep(0.1)
        return match()

    def proxy_status(self, resp):
        """(error, details) from a ferry Proxy-Status header."""
        ps = resp.header("proxy-status")
        self.assertIsNotNone(ps, f"no Proxy-Status:\n{resp.raw_head!r}")
        m = PROXY_STATUS_RE.match(ps)
        self.assertIsNotNone(m, f"Proxy-Status not in ferry's form: {ps!r}")
        return m.group(1), m.group(2)

    def access(self, sq, n, timeout=5, pred=None):
        """Waits for n access lines (a little longer, to catch extra ones) and
        returns them all as (status, method, uri, user) tuples."""
        sq.wait_access_count(n, timeout, pred)
        time.sleep(0.2)
        return [(e["status"], e["method"], e["uri"], e["user"]) for e in sq.access_lines()
                if pred is None or pred(e)]

