"""A real Kerberos test bed on loopback: an MIT KDC, Squid with Negotiate
(negotiate_kerberos_auth) and Apache httpd as a forward proxy with
mod_auth_gssapi (Negotiate/Kerberos and real NTLM through gss-ntlmssp).

Every instance lives in its own directory below the caller's temp dir and on
its own free 127.0.0.1 port, so several beds can run at once; nothing outside
the temp dir is touched (the machine's /etc/hosts and /etc/krb5.conf are never
read or written by the daemons: KRB5_CONFIG points at the bed's file and
name lookups run in a private mount namespace).

Clients must address the proxies by the name the service principal was made
for (Kdc.proxy_host, "proxy.test.local"): Negotiate asks the KDC for
HTTP/<name typed in the proxy URL>. With curl:
    curl --proxy-negotiate -U : -x http://proxy.test.local:PORT \\
         --resolve proxy.test.local:PORT:127.0.0.1 http://origin.test:NGINXPORT/
with the environment from Kdc.kinit(...) (KRB5_CONFIG, KRB5CCNAME).

Standard library only (python3-gssapi is not imported here; tests that need a
GSSAPI client run /usr/bin/python3, which has it). Needs the Debian packages
krb5-kdc krb5-admin-server krb5-user gss-ntlmssp apache2
libapache2-mod-auth-gssapi squid (scripts/install-deps.sh test), and root
(Squid and Apache drop to `proxy` / `www-data`, files are chowned to them).
"""

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time

from harness import clean_env, free_port, hosts_file_for, loopback_dns_prefix, wait_until

# Shared with the other upstream daemons: file helpers, the no-connection
# listening check (squid logs connect probes), the access-log parser.
from upstreams import (AccessLog, _listening_by, _make_traversable, _read, _require, _write,
                       squid_access_lines)
from upstreams import SQUID_LIBEXEC, _htpasswd_line

KRB5KDC = shutil.which("krb5kdc") or "/usr/sbin/krb5kdc"
KDB5_UTIL = shutil.which("kdb5_util") or "/usr/sbin/kdb5_util"
KADMIN_LOCAL = shutil.which("kadmin.local") or "/usr/sbin/kadmin.local"
KINIT = shutil.which("kinit") or "/usr/bin/kinit"
KLIST = shutil.which("klist") or "/usr/bin/klist"
SQUID = shutil.which("squid") or "/usr/sbin/squid"
APACHE = "/usr/sbin/apache2"
APACHE_MODULES = "/usr/lib/apache2/modules"
NEGOTIATE_HELPER = "/usr/lib/squid/negotiate_kerberos_auth"
NTLMSSP_MECH_CONF = "/etc/gss/mech.d/mech.ntlmssp.conf"
NTLMSSP_OID = "1.3.6.1.4.1.311.2.2.10"
SPNEGO_OID = "1.3.6.1.5.5.2"
# The interpreter with python3-gssapi (the pyenv python3 on PATH has none).
GSSAPI_PYTHON = "/usr/bin/python3"

START_TIMEOUT = 20
_SAFE = re.compile(r"^[A-Za-z0-9._@/+=-]+$")  # names and passwords passed through kadmin -q


class KerberosError(RuntimeError):
    """A Kerberos command failed; .stderr has its message (e.g. kinit's
    "Cannot contact any KDC for realm 'TEST.LOCAL' while getting initial credentials")."""

    def __init__(self, message, stderr=""):
        super().__init__(message)
        self.stderr = stderr


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def _chown(path, owner, recursive=False):
    """chown to user `owner` (when running as root and the user exists)."""
    if owner is None or os.geteuid() != 0:
        return
    try:
        pw = pwd.getpwnam(owner)
    except KeyError:
        return
    os.chown(path, pw.pw_uid, pw.pw_gid)
    if recursive and os.path.isdir(path):
        for root, dirs, files in os.walk(path):
            for n in dirs + files:
                os.chown(os.path.join(root, n), pw.pw_uid, pw.pw_gid)


def _free_tcp_udp_port():
    """A port free on 127.0.0.1 for both TCP and UDP (the KDC listens on both)."""
    for _ in range(100):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            try:
                u.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free TCP+UDP port")


def _children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return out


class _Proc:
    """A foreground daemon under Popen; output to a file; stopped by its pid."""

    name = "daemon"
    proc = None

    def _spawn(self, cmd, log_path, env=None):
        self.cmd = cmd
        self.output_path = log_path
        with open(log_path, "ab") as out:
            # Own session: Apache's prefork parent SIGTERMs its whole process
            # group when it stops, which would include the test itself.
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         env=env, start_new_session=True)

    def _wait_listening(self, timeout=START_TIMEOUT):
        ok = wait_until(lambda: self.proc.poll() is not None or _listening_by(self.proc.pid, self.port), timeout)
        if not ok or self.proc.poll() is not None:
            code = self.proc.poll()
            self.stop(5, False)
            state = f"exited with {code}" if code is not None else f"not listening on {self.port} after {timeout}s"
            raise RuntimeError(f"{self.name} {state}: {' '.join(self.cmd)}\n{self.failure_text()}")

    def failure_text(self):
        return _read(self.output_path)[-4000:]

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10, graceful=True):
        """SIGTERM (SIGKILL when not graceful), wait up to `timeout` s, then
        SIGKILL; children still alive afterwards (Apache's workers) are
        killed by pid. Returns the exit code (negative: the signal); None if
        never started."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            kids = _children(self.proc.pid)
            self.proc.send_signal(signal.SIGTERM if graceful else signal.SIGKILL)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            for k in kids:
                try:
                    os.kill(k, signal.SIGKILL)
                except OSError:
                    pass
        return self.proc.returncode


# ---------------------------------------------------------------------------
# MIT KDC
# ---------------------------------------------------------------------------

class Kdc(_Proc):
    """An MIT krb5kdc for `realm` on 127.0.0.1:PORT (UDP and TCP; clients are
    told to use TCP). Config, database, stash and log live in DIR=tmpdir/kdc-PORT.

    spn is HTTP/<proxy_host>@<realm>, the service principal the proxies use.
    All principals get aes256/aes128 keys. Names and passwords are limited
    to [A-Za-z0-9._@/+=-] (they go through `kadmin.local -q`).
    """

    name = "krb5kdc"

    def __init__(self, tmpdir, realm="TEST.LOCAL", proxy_host="proxy.test.local"):
        for b, pkg in ((KRB5KDC, "krb5-kdc"), (KDB5_UTIL, "krb5-kdc"), (KADMIN_LOCAL, "krb5-admin-server"),
                       (KINIT, "krb5-user")):
            _require(b, pkg)
        self.realm = realm
        self.proxy_host = proxy_host
        self.spn = f"HTTP/{proxy_host}@{realm}"
        self.port = _free_tcp_udp_port()
        _make_traversable(tmpdir)
        self.dir = os.path.join(tmpdir, f"kdc-{self.port}")
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)  # krb5.conf must be readable by proxy / www-data
        self.krb5_conf = os.path.join(self.dir, "krb5.conf")
        self.kdc_conf = os.path.join(self.dir, "kdc.conf")
        self.log_path = os.path.join(self.dir, "kdc.log")
        self.pid_path = os.path.join(self.dir, "krb5kdc.pid")
        d = self.dir
        _write(self.krb5_conf, f"""# written by tests/integration/kerberos_bed.py
[libdefaults]
    default_realm = {realm}
    dns_lookup_kdc = false
    dns_lookup_realm = false
    dns_canonicalize_hostname = false
    rdns = false
    udp_preference_limit = 1
    ignore_acceptor_hostname = false

[realms]
    {realm} = {{
        kdc = 127.0.0.1:{self.port}
        admin_server = 127.0.0.1:{self.port}
    }}

[domain_realm]
    .test.local = {realm}
    test.local = {realm}
""")
        _write(self.kdc_conf, f"""# written by tests/integration/kerberos_bed.py
[kdcdefaults]
    kdc_listen = 127.0.0.1:{self.port}
    kdc_tcp_listen = 127.0.0.1:{self.port}

[realms]
    {realm} = {{
        database_name = {d}/principal
        key_stash_file = {d}/stash
        acl_file = {d}/kadm5.acl
        admin_keytab = FILE:{d}/kadm5.keytab
        kdc_listen = 127.0.0.1:{self.port}
        kdc_tcp_listen = 127.0.0.1:{self.port}
        max_life = 1d
        max_renewable_life = 7d
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
    }}

[logging]
    kdc = FILE:{d}/kdc.log
    admin_server = FILE:{d}/kadmin.log
    default = FILE:{d}/krb5lib.log
""")
        _write(os.path.join(d, "kadm5.acl"), f"*/admin@{realm} *\n", 0o600)
        self._principals = set()
        master = os.urandom(12).hex()
        r = subprocess.run([KDB5_UTIL, "-r", realm, "create", "-s", "-P", master], capture_output=True, text=True,
                           env=self._cmd_env(), stdin=subprocess.DEVNULL, timeout=60)
        if r.returncode != 0:
            raise KerberosError(f"kdb5_util create failed ({r.returncode}): {r.stdout}{r.stderr}", r.stderr)
        self.start()

    # -- environment -----------------------------------------------------
    def env(self):
        """Variables every Kerberos client/acceptor of this bed needs (merge
        into an environment, e.g. harness.clean_env(kdc.env()))."""
        return {"KRB5_CONFIG": self.krb5_conf, "KRB5_KDC_PROFILE": self.kdc_conf}

    def _cmd_env(self, extra=None):
        env = clean_env(self.env())
        env.pop("KRB5CCNAME", None)
        env.pop("KRB5_KTNAME", None)
        if extra:
            env.update(extra)
        return env

    # -- daemon ----------------------------------------------------------
    def start(self):
        """Starts krb5kdc (foreground, -n) on self.port and waits until it listens."""
        if self.running():
            return
        self._spawn([KRB5KDC, "-n", "-r", self.realm, "-P", self.pid_path],
                    os.path.join(self.dir, "krb5kdc.out"), env=self._cmd_env())
        self._wait_listening()

    def failure_text(self):
        return _read(self.output_path)[-2000:] + "\n--- kdc.log:\n" + _read(self.log_path)[-3000:]

    def log_text(self):
        return _read(self.log_path)

    # -- principals --------------------------------------------------------
    def kadmin(self, query):
        """Runs one `kadmin.local -q QUERY`; raises KerberosError when it
        reports an error. Returns its stdout."""
        r = subprocess.run([KADMIN_LOCAL, "-r", self.realm, "-q", query], capture_output=True, text=True,
                           env=self._cmd_env(), stdin=subprocess.DEVNULL, timeout=60)
        err = "\n".join(l for l in r.stderr.splitlines() if l.strip() and
                        not l.startswith("Authenticating as principal") and
                        "No policy specified" not in l)
        if r.returncode != 0 or re.search(r"error|failed|unknown|cannot|invalid|not found|does not exist|"
                                          r"already exists|usage:", err, re.I):
            raise KerberosError(f"kadmin.local -q {query!r} failed ({r.returncode}): {r.stderr.strip()}", r.stderr)
        return r.stdout

    def _principal(self, name):
        if not _SAFE.match(name):
            raise ValueError(f"unsupported principal name {name!r}")
        return name if "@" in name else f"{name}@{self.realm}"

    def has_principal(self, name):
        r = subprocess.run([KADMIN_LOCAL, "-r", self.realm, "-q", f"getprinc {self._principal(name)}"],
                           capture_output=True, text=True, env=self._cmd_env(), stdin=subprocess.DEVNULL, timeout=60)
        return "Principal: " in r.stdout

    def add_user(self, name, password, maxlife=None):
        """A user principal with a password. maxlife (a kadmin duration such
        as "30 seconds" or "30s") caps its tickets' lifetime; the krbtgt and
        realm limits are 1 day, so they do not cap it further."""
        if not _SAFE.match(password):
            raise ValueError("password must match [A-Za-z0-9._@/+=-]+")
        life = f' -maxlife "{maxlife}"' if maxlife else ""
        self.kadmin(f"addprinc -pw {password}{life} {self._principal(name)}")
        self._principals.add(self._principal(name))

    def set_maxlife(self, name, maxlife):
        self.kadmin(f'modprinc -maxlife "{maxlife}" {self._principal(name)}')

    def add_service(self, principal=None):
        """A service principal with a random key (default: self.spn).
        Idempotent: an existing principal is kept as is (same keys)."""
        p = self._principal(principal or self.spn)
        if p in self._principals:
            return p
        if not self.has_principal(p):
            self.kadmin(f"addprinc -randkey {p}")
        self._principals.add(p)
        return p

    def keytab(self, principal=None, path=None, owner=None):
        """Exports `principal`'s keys (default self.spn) to keytab `path`
        (mode 600, chowned to `owner`, e.g. "proxy" or "www-data"). Uses
        -norandkey, so every export has the same keys and kvno: several
        keytabs of one principal (Squid's, Apache's) all stay valid."""
        p = self._principal(principal or self.spn)
        if os.path.exists(path):
            os.unlink(path)
        self.kadmin(f"ktadd -k {path} -norandkey {p}")
        if not os.path.exists(path):
            raise KerberosError(f"ktadd wrote no keytab {path} for {p}")
        os.chmod(path, 0o600)
        _chown(path, owner)
        return path

    def client_keytab(self, user, path, owner=None):
        """Exports a user's keys (-norandkey: the password stays valid) to a
        client keytab, for `kinit -k -t PATH user` or KRB5_CLIENT_KTNAME."""
        return self.keytab(user, path, owner)

    # -- clients -----------------------------------------------------------
    def kinit(self, user, password, ccache_path, lifetime=None, extra_args=()):
        """kinit `user` into FILE:ccache_path. lifetime: a kinit -l value
        ("30s", "10m"). Returns the client environment overlay
        {KRB5_CONFIG, KRB5_KDC_PROFILE, KRB5CCNAME}; raises KerberosError
        (with kinit's stderr) on failure, e.g. when the KDC is down:
        "Cannot contact any KDC for realm ..."."""
        env = dict(self.env(), KRB5CCNAME=f"FILE:{ccache_path}")
        cmd = [KINIT]
        if lifetime:
            cmd += ["-l", str(lifetime)]
        cmd += [*extra_args, self._principal(user)]
        r = subprocess.run(cmd, input=password + "\n", capture_output=True, text=True,
                           env=self._cmd_env(env), timeout=60)
        if r.returncode != 0:
            raise KerberosError(f"kinit {user} failed ({r.returncode}): {r.stderr.strip()}", r.stderr)
        return env

    def kinit_keytab(self, user, keytab_path, ccache_path, lifetime=None):
        """kinit from a client keytab (see client_keytab). Returns the env overlay."""
        return self.kinit(user, "", ccache_path, lifetime, extra_args=("-k", "-t", keytab_path))

    def klist(self, ccache_path):
        """`klist -c FILE:path` output (raises KerberosError if it fails)."""
        r = subprocess.run([KLIST, "-c", f"FILE:{ccache_path}"], capture_output=True, text=True,
                           env=self._cmd_env(), timeout=30)
        if r.returncode != 0:
            raise KerberosError(f"klist failed: {r.stderr.strip()}", r.stderr)
        return r.stdout

    def ticket_lifetimes(self, ccache_path):
        """{server principal: lifetime in seconds} from klist (start to expiry)."""
        out = {}
        for line in self.klist(ccache_path).splitlines():
            m = re.match(r"^(\S+ \S+)\s+(\S+ \S+)\s+(\S+)$", line.strip())
            if not m:
                continue
            try:
                start = time.mktime(time.strptime(m.group(1), "%m/%d/%y %H:%M:%S"))
                end = time.mktime(time.strptime(m.group(2), "%m/%d/%y %H:%M:%S"))
            except ValueError:
                continue
            out[m.group(3)] = end - start
        return out


# ---------------------------------------------------------------------------
# Squid with Negotiate (Kerberos)
# ---------------------------------------------------------------------------

class _NamedProxy(_Proc, AccessLog):
    """A proxy reached by its Kerberos host name (self.host), on self.port."""

    def url(self, scheme="http", host=None):
        """Proxy URL by the SPN host name (clients need --resolve NAME:PORT:127.0.0.1)."""
        return f"{scheme}://{host or self.host}:{self.port}"

    def curl_resolve(self):
        """curl arguments mapping the proxy host name to loopback."""
        return ["--resolve", f"{self.host}:{self.port}:127.0.0.1"]



class NegotiateSquid(_NamedProxy):
    """Squid on 127.0.0.1:PORT requiring Negotiate (Kerberos) via
    negotiate_kerberos_auth with its own copy of the service keytab and an
    MIT replay cache (-c DIR/rcache). Everything in DIR=tmpdir/squid-neg-PORT.

    hosts ({name: address}) becomes squid's hosts_file (origin.test ->
    127.0.0.1); CONNECT only to `connect_ports` (403 before auth otherwise).
    Squid binds Negotiate to the connection and sends no mutual-auth token;
    a Negotiate token is accepted once (replay cache): one fresh token per
    connection. replay_cache=False passes `-t none` instead of -c.
    access_lines() as upstreams.Squid.access_lines (user "alice@TEST.LOCAL").
    """

    name = "squid"

    def __init__(self, tmpdir, kdc, hosts=None, connect_ports=(443,), extra_conf="", replay_cache=True,
                 basic_users=None):
        """basic_users ({user: password}): also offer Basic (basic_ncsa_auth),
        after Negotiate, as an enterprise Squid often does."""
        _require(SQUID, "squid")
        _require(NEGOTIATE_HELPER, "squid")
        self.kdc = kdc
        self.connect_ports = tuple(int(p) for p in connect_ports)
        self.port = free_port()
        self.host = kdc.proxy_host
        _make_traversable(tmpdir)
        self.dir = os.path.join(tmpdir, f"squid-neg-{self.port}")
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.conf_path = os.path.join(self.dir, "squid.conf")
        self.pid_path = os.path.join(self.dir, "squid.pid")
        self.cache_log_path = os.path.join(self.dir, "cache.log")
        self.access_log_path = os.path.join(self.dir, "access.log")
        self.keytab_path = os.path.join(self.dir, "http.keytab")
        self.rcache_dir = os.path.join(self.dir, "rcache")
        os.makedirs(self.rcache_dir, exist_ok=True)
        os.chmod(self.rcache_dir, 0o700)

        kdc.add_service(kdc.spn)
        kdc.keytab(kdc.spn, self.keytab_path)
        helper = f"{NEGOTIATE_HELPER} -d -k {self.keytab_path} -s {kdc.spn} " + \
            (f"-c {self.rcache_dir}" if replay_cache else "-t none")
        lines = [
            "# written by tests/integration/kerberos_bed.py",
            f"pid_filename {self.pid_path}",
            f"cache_log {self.cache_log_path}",
            "logformat ferry %ts.%03tu %>Hs %rm %ru %un %Ss",
            f"access_log stdio:{self.access_log_path} ferry",
            "strip_query_terms off",
            "cache_store_log none",
            f"coredump_dir {self.dir}",
            "cache deny all",
            "cache_mem 8 MB",
            "icp_port 0",
            "htcp_port 0",
            "snmp_port 0",
            "pinger_enable off",
            "netdb_filename none",
            "shutdown_lifetime 1 seconds",
            "visible_hostname squid.test",
            "tcp_outgoing_address 127.0.0.1",
            "dns_nameservers 127.0.0.1",
            "dns_timeout 5 seconds",
            f"http_port 127.0.0.1:{self.port}",
        ]
        if hosts:
            self.hosts_path = os.path.join(self.dir, "hosts")
            _write(self.hosts_path, _read(hosts_file_for(self.dir, hosts)))
            lines.append(f"hosts_file {self.hosts_path}")
        # auth_param must precede the proxy_auth ACL (else "FATAL: Invalid ACL").
        lines += [f"auth_param negotiate program {helper}",
                  "auth_param negotiate children 5 startup=1 idle=1",
                  "auth_param negotiate keep_alive on"]
        if basic_users:
            self.passwd_path = os.path.join(self.dir, "passwd")
            _write(self.passwd_path, "".join(_htpasswd_line(u, p) for u, p in basic_users.items()), 0o600)
            lines += [f"auth_param basic program {SQUID_LIBEXEC}/basic_ncsa_auth {self.passwd_path}",
                      "auth_param basic children 2", "auth_param basic realm testbed"]
        lines += ["acl loopback src 127.0.0.0/8 ::1",
                  "acl CONNECT method CONNECT",
                  "http_access deny !loopback"]
        if self.connect_ports:
            lines += ["acl connect_ok port " + " ".join(str(p) for p in self.connect_ports),
                      "http_access deny CONNECT !connect_ok"]
        else:
            lines.append("http_access deny CONNECT")
        lines += ["acl authed proxy_auth REQUIRED", "http_access allow authed", "http_access deny all"]
        if extra_conf:
            lines.append(extra_conf)
        _write(self.conf_path, "\n".join(lines) + "\n")
        # Squid drops to `proxy`: logs, keytab and replay cache are its.
        _chown(self.dir, "proxy", recursive=True)

        # Squid passes its environment to the helper: KRB5_CONFIG for the
        # realm, KRB5RCACHEDIR as a second guard for the replay cache.
        self.env = clean_env(dict(kdc.env(), KRB5RCACHEDIR=self.rcache_dir, KRB5_KTNAME=f"FILE:{self.keytab_path}"))
        self.env.pop("KRB5CCNAME", None)
        parse = subprocess.run([SQUID, "-k", "parse", "-f", self.conf_path], capture_output=True, text=True,
                               timeout=30, env=self.env)
        if parse.returncode != 0:
            raise RuntimeError(f"squid -k parse failed ({parse.returncode}) for {self.conf_path}:\n"
                               + (parse.stdout + parse.stderr)[-4000:])
        self._spawn([SQUID, "-N", "-f", self.conf_path], os.path.join(self.dir, "squid.out"), env=self.env)
        self._wait_listening()

    def failure_text(self):
        return ("--- squid stdout/stderr:\n" + _read(self.output_path)[-3000:] +
                "\n--- cache.log:\n" + self.cache_log_text()[-3000:])

    def cache_log_text(self):
        return _read(self.cache_log_path)

    def access_lines(self):
        """Dicts with time, status (0 when none), method, uri, user (None when
        no credentials), code (TCP_MISS, TCP_DENIED, ...)."""
        return squid_access_lines(self.access_log_path)


# ---------------------------------------------------------------------------
# Apache httpd forward proxy with mod_auth_gssapi
# ---------------------------------------------------------------------------

_APACHE_ESC = re.compile(r"\\(x[0-9a-fA-F]{2}|.)")


def _apache_unescape(s):
    def rep(m):
        e = m.group(1)
        if e.startswith("x") and len(e) == 3:
            return chr(int(e[1:], 16))
        return {"n": "\n", "t": "\t", "r": "\r"}.get(e, e)
    return _APACHE_ESC.sub(rep, s)


class GssApache(_NamedProxy):
    """Apache httpd (prefork) as a forward proxy on 127.0.0.1:PORT
    (ProxyRequests On, mod_proxy_http/mod_proxy_connect) requiring
    mod_auth_gssapi auth: Negotiate with Kerberos (service keytab through
    KRB5_KTNAME; GssapiCredStore would break the NTLM acceptor) and real NTLM
    through gss-ntlmssp, both as `Proxy-Authorization: NTLM` and inside
    SPNEGO. NTLM users come from `ntlm_users` ({"DOMAIN\\\\user": password};
    default TESTDOM\\carol / carolpw), written to NTLM_USER_FILE as
    DOMAIN:user:password lines. GssapiConnectionBound On: auth holds for
    the connection; the 200 after Negotiate carries a mutual-auth
    Proxy-Authenticate token. CONNECT only to connect_ports.

    Apache resolves origin names with the system resolver, so it runs under
    harness.loopback_dns_prefix(hosts): private /etc/hosts and a loopback-only
    resolv.conf in its own mount namespace. Runs as www-data (keytab, replay
    cache and NTLM file are its). Everything in DIR=tmpdir/apache-gss-PORT.
    access_lines(): dicts with time, status, method, uri, user
    ("alice@TEST.LOCAL", "TESTDOM\\carol", None).
    """

    name = "apache2"

    def __init__(self, tmpdir, kdc, hosts=None, connect_ports=(443,), ntlm_users=None, extra_conf="",
                 log_level="info auth_gssapi:debug"):
        _require(APACHE, "apache2")
        if not os.path.exists(os.path.join(APACHE_MODULES, "mod_auth_gssapi.so")):
            raise RuntimeError("mod_auth_gssapi not found: install libapache2-mod-auth-gssapi")
        self.kdc = kdc
        self.host = kdc.proxy_host
        self.port = free_port()
        self.connect_ports = tuple(int(p) for p in connect_ports)
        _make_traversable(tmpdir)
        self.dir = os.path.join(tmpdir, f"apache-gss-{self.port}")
        d = self.dir
        for sub in ("", "run", "htdocs", "rcache"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
            os.chmod(os.path.join(d, sub), 0o755)
        os.chmod(os.path.join(d, "rcache"), 0o700)
        self.conf_path = os.path.join(d, "httpd.conf")
        self.error_log_path = os.path.join(d, "error.log")
        self.access_log_path = os.path.join(d, "access.log")
        self.keytab_path = os.path.join(d, "http.keytab")
        self.rcache_dir = os.path.join(d, "rcache")
        self.ntlm_user_file = os.path.join(d, "ntlm_users")
        self.ntlm_users = dict(ntlm_users) if ntlm_users is not None else {"TESTDOM\\carol": "carolpw"}
        lines = []
        for who, pw in self.ntlm_users.items():
            dom, _, user = who.rpartition("\\")
            if ":" in who + pw or "\n" in who + pw:
                raise ValueError("NTLM names and passwords cannot contain ':' or newlines")
            lines.append(f"{dom}:{user}:{pw}\n")
        _write(self.ntlm_user_file, "".join(lines), 0o600)

        kdc.add_service(kdc.spn)
        kdc.keytab(kdc.spn, self.keytab_path)

        root = os.geteuid() == 0
        user = "User www-data\nGroup www-data\n" if root else ""
        mods = ["mpm_prefork", "authn_core", "authz_core", "authz_user", "auth_gssapi", "proxy", "proxy_http",
                "proxy_connect"]
        load = "".join(f"LoadModule {m}_module {APACHE_MODULES}/mod_{m}.so\n" for m in mods)
        conf = f"""# written by tests/integration/kerberos_bed.py
ServerRoot {d}
{load}
{user}ServerName {self.host}
Listen 127.0.0.1:{self.port}
PidFile {d}/run/httpd.pid
DefaultRuntimeDir {d}/run
Mutex file:{d}/run default
ScoreBoardFile {d}/run/scoreboard
ErrorLog {self.error_log_path}
LogLevel {log_level}
LogFormat "%{{sec}}t.%{{msec_frac}}t %>s %m %u \\"%r\\"" ferry
CustomLog {self.access_log_path} ferry
DocumentRoot {d}/htdocs
StartServers 2
MinSpareServers 1
MaxSpareServers 4
MaxRequestWorkers 32
ServerLimit 32
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 30
Timeout 30
TraceEnable off
ServerTokens Prod
<Directory />
    Require all denied
</Directory>
ProxyRequests On
ProxyVia Off
AllowCONNECT {" ".join(str(p) for p in self.connect_ports) or "0"}
<Proxy "*">
    AuthType GSSAPI
    AuthName "ferry-test-gssapi"
    GssapiConnectionBound On
    GssapiBasicAuth Off
    GssapiLocalName Off
    GssapiAllowedMech krb5
    GssapiAllowedMech ntlmssp
    Require valid-user
</Proxy>
{extra_conf}
"""
        _write(self.conf_path, conf)
        # Apache's workers run as www-data: the keytab, replay cache and NTLM
        # user file are theirs; logs are opened by the root parent.
        for p in (self.keytab_path, self.rcache_dir, self.ntlm_user_file):
            _chown(p, "www-data" if root else None)

        self.env = clean_env(dict(kdc.env(), KRB5_KTNAME=f"FILE:{self.keytab_path}",
                                  KRB5RCACHEDIR=self.rcache_dir, NTLM_USER_FILE=self.ntlm_user_file,
                                  APACHE_RUN_DIR=f"{d}/run", APACHE_PID_FILE=f"{d}/run/httpd.pid",
                                  APACHE_LOCK_DIR=f"{d}/run", APACHE_LOG_DIR=d,
                                  APACHE_RUN_USER="www-data", APACHE_RUN_GROUP="www-data"))
        for k in ("KRB5CCNAME", "NTLMUSER", "NTLMDOMAIN"):
            self.env.pop(k, None)
        test = subprocess.run([APACHE, "-t", "-f", self.conf_path, "-d", d], capture_output=True, text=True,
                              env=self.env, timeout=30)
        if test.returncode != 0:
            raise RuntimeError(f"apache2 -t failed ({test.returncode}) for {self.conf_path}:\n"
                               + (test.stdout + test.stderr)[-4000:])
        cmd = [APACHE, "-f", self.conf_path, "-d", d, "-DFOREGROUND"]
        self._spawn(loopback_dns_prefix(d, hosts) + cmd, os.path.join(d, "apache.out"), env=self.env)
        self._wait_listening()

    def failure_text(self):
        return ("--- apache stdout/stderr:\n" + _read(self.output_path)[-3000:] +
                "\n--- error.log:\n" + self.error_log_text()[-3000:])

    def error_log_text(self):
        return _read(self.error_log_path)

    def access_lines(self):
        """Dicts with time, status, method, uri (host:port for CONNECT), user
        (None when unauthenticated), request (the request line)."""
        out = []
        for line in _read(self.access_log_path).splitlines():
            m = re.match(r'^(\S+) (\d+|-) (\S+) (\S+) "(.*)"$', line)
            if not m:
                continue
            ts, status, method, user, req = m.groups()
            req = _apache_unescape(req)
            parts = req.split(" ")
            out.append({"time": float(ts), "status": int(status) if status.isdigit() else 0, "method": method,
                        "uri": parts[1] if len(parts) > 1 else "", "user": None if user == "-" else
                        _apache_unescape(user), "request": req})
        return out

    def stop(self, timeout=10, graceful=True):
        """SIGTERM to the parent (it stops its workers); SIGKILL after
        `timeout` and for any worker left. Apache's SIGKILLed parent would
        orphan its workers, so graceful=False still tries SIGTERM for 1 s."""
        if not graceful:
            timeout, graceful = 1, True
        return super().stop(timeout, graceful)


# ---------------------------------------------------------------------------
# GSSAPI client (runs /usr/bin/python3 with python3-gssapi)
# ---------------------------------------------------------------------------

def gssapi_available():
    try:
        return subprocess.run([GSSAPI_PYTHON, "-c", "import gssapi"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
