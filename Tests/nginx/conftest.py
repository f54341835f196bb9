"""Harness for the nginx integration tests, in the style of nginx-tests.

Every test gets its own nginx (temp prefix, free loopback port) with the module loaded, in front
of one Python backend per session that answers every request with the headers it received.
Only 127.0.0.1 is ever used.

At teardown every error log is checked for [alert], [crit], [emerg] (unless a test allows the
line), crashed workers and sanitizer reports. BJWT_NGINX_WRAPPER runs every nginx under a
wrapper, typically valgrind:

    BJWT_NGINX_WRAPPER="valgrind --error-exitcode=99 --log-file=%VGLOG% --trace-children=no \
        --suppressions=Tests/nginx/valgrind.supp" .build-venv/bin/python -m pytest -q Tests/nginx/test_token.py

%VGLOG% becomes PREFIX/valgrind.%p.log (one log per process: valgrind follows fork), waits are
20 times longer, and at teardown each log must show no error whose stack is in the module or
the core, and a summary. valgrind.supp holds the known errors elsewhere (glibc's loader).
"""

import base64
import datetime
import hashlib
import http.client
import itertools
import json
import os
import random
import re
import shlex
import shutil
import signal
import socket
import socketserver
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[2]
# NGINX_BIN: the nginx to test (TEST_NGINX_BINARY, nginx-tests' name, works too; default: the
# system's); BJWT_MODULE_DIR: the module and the core built for that nginx (default: build/out).
# build/test.sh sets both for each nginx it builds from a tarball.
MODULE_DIR = Path(os.environ.get("BJWT_MODULE_DIR") or ROOT / "build" / "out").resolve()
MODULE = MODULE_DIR / "ngx_http_backend_jwt_module.so"
NGINX = os.environ.get("NGINX_BIN") or os.environ.get("TEST_NGINX_BINARY") or "/usr/sbin/nginx"


def _nginx_version():
    out = subprocess.run([NGINX, "-v"], capture_output=True, text=True).stderr
    m = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", out)
    assert m, f"{NGINX} -v: {out!r}"
    return tuple(int(x) for x in m.groups())


# the tested nginx's version, for the few behaviours of nginx itself that changed between versions
NGINX_VERSION = _nginx_version()
HOST = "127.0.0.1"
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
BAD_LOG = re.compile(r"\[(alert|crit|emerg)\]|exited on signal")
# sanitizer reports (a build with -fsanitize): never allowed
SANITIZER = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:")

# BJWT_NGINX_WRAPPER: a command nginx runs under (valgrind); waits scale with it
WRAPPER = shlex.split(os.environ.get("BJWT_NGINX_WRAPPER", ""))
# BJWT_SANITIZE=1: nginx, the module and the core are built with -fsanitize=address,undefined
# (build/test.sh); each nginx writes its reports to PREFIX/sanitizer.<pid>, which fail the test
SANITIZE = bool(os.environ.get("BJWT_SANITIZE"))
SCALE = 20 if WRAPPER else 3 if SANITIZE else 1
# valgrind's --error-exitcode replaces nginx's exit code when it found errors: the logs decide
# at teardown whether they are ours, so that code counts as nginx's own
_exitcode = [int(w.split("=", 1)[1]) for w in WRAPPER if w.startswith("--error-exitcode=")]
WRAPPER_EXIT = _exitcode[-1] if _exitcode else None
# a valgrind error is ours when its stack (or allocation stack) is in the module or the core
VG_OURS = re.compile(r"ngx_http_backend_jwt|libbackendjwt|BackendJWT")
VG_LINE = re.compile(r"^==\d+== ?(.*)$")
VG_SEVERE = re.compile(r"Invalid (read|write)|uninitialised")

CONF = """\
{load}
{env}daemon on;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log {level};
worker_processes {workers};
events {{ worker_connections 64; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/client_body_temp;
    proxy_temp_path {prefix}/proxy_temp;
    fastcgi_temp_path {prefix}/fastcgi_temp;
    uwsgi_temp_path {prefix}/uwsgi_temp;
    scgi_temp_path {prefix}/scgi_temp;
{http}
    server {{
        listen {host}:{port}{listen};
{listen_more}
        server_name localhost;
{server}
    }}
}}
"""


def _port_range():
    """This process's ports for nginx: below the kernel's ephemeral range (where the clients'
    connections and bind(0) take theirs, so none can take a port between free_port() and nginx's
    bind), from 10000, one slice per pytest-xdist worker, starting at a random place in the slice
    (another session on the machine uses the same slices)."""
    try:
        first_ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        first_ephemeral = 32768
    worker = int(re.sub(r"\D", "", os.environ.get("PYTEST_XDIST_WORKER", "")) or 0)
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
    size = (first_ephemeral - 10000) // workers
    if size < 500:
        return None
    ports = list(range(10000 + worker * size, 10000 + (worker + 1) * size))
    start = random.randrange(size)
    return itertools.cycle(ports[start:] + ports[:start])


_PORTS = _port_range()


def free_port():
    """A loopback port nothing listens on, for an nginx (or a server) to bind soon."""
    for _ in range(1000):
        with socket.socket() as s:
            try:
                s.bind((HOST, next(_PORTS) if _PORTS else 0))
            except OSError:  # in use (another session's nginx, a connection in TIME_WAIT)
                continue
            return s.getsockname()[1]
    raise AssertionError("no free port")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a long test, run first so that the parallel run "
                            "(pytest-xdist) does not end waiting for it")


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: slow first


def pytest_sessionstart(session):
    if not MODULE.exists():
        pytest.exit(f"{MODULE} is missing: run build/module.sh", returncode=2)


# Under BJWT_SANITIZE every process of the tested nginx (master, workers, `nginx -t`, `nginx -s`;
# the workers inherit the options by fork) writes its ASan/UBSan reports to a file of
# SANITIZER_DIR instead of stderr, where a daemon's report could be lost. Each test fails on the
# reports written while it ran (sanitizer_check), the session on any left at its end. The
# suppression files list nginx's own findings (see there). LeakSanitizer is off: nginx leaves
# its pools to the exit of `nginx -t` and `nginx -s` processes by design, and LSan does not see
# the pointers of Swift's indirect enums (the case is in their spare bits), so live objects of
# the core look leaked; leaks are measured by the worker RSS over a million requests (bench).
SANITIZER_DIR = None
if SANITIZE:
    SANITIZER_DIR = Path(tempfile.mkdtemp(prefix="bjwt-sanitizer-"))
    SANITIZER_DIR.chmod(0o1777)  # workers run as nobody when the tests run as root
    here = Path(__file__).parent
    for var, extra in (("ASAN_OPTIONS", f"detect_leaks=0:suppressions={here}/asan.supp"),
                       ("UBSAN_OPTIONS", f"print_stacktrace=1:suppressions={here}/ubsan.supp")):
        opts = [o for o in (os.environ.get(var, ""), extra) if o]
        os.environ[var] = ":".join(opts + [f"log_path={SANITIZER_DIR}/report"])


# nginx clears the environment of the binary a binary upgrade (USR2) starts but for `env` lines
ENV = "env ASAN_OPTIONS;\nenv UBSAN_OPTIONS;\n" if SANITIZE else ""


def sanitizer_reports(directory):
    """The sanitizer reports in `directory` (files report.<pid>), as problems; each file is
    renamed to seen.<pid> so that it fails one test only."""
    problems = []
    for path in sorted(Path(directory).glob("report.*")):
        text = path.read_text(errors="replace")
        path.rename(path.with_name("seen." + path.name.split(".", 1)[1]))
        problems.append(f"sanitizer report {path}:\n{text[:6000]}")
    return problems


@pytest.fixture(autouse=True)
def sanitizer_check():
    yield
    if SANITIZER_DIR is not None:
        problems = sanitizer_reports(SANITIZER_DIR)
        if problems:
            pytest.fail("\n".join(problems))


def pytest_sessionfinish(session, exitstatus):
    if SANITIZER_DIR is not None:
        problems = sanitizer_reports(SANITIZER_DIR)
        if problems:
            print("\n".join(problems))
            session.exitstatus = 1


# ---------------------------------------------------------------- keys


def _write(path, data, mode=0o644):
    path.write_bytes(data)
    path.chmod(mode)
    return str(path)


PASSWORD = b"correct horse battery staple"
# the key every algorithm signs with in the harness (distinct keys, so distinct kids)
ALG_KEYS = {
    "RS256": "rsa", "RS384": "rsa2", "RS512": "rsa3", "PS256": "rsa4", "PS384": "rsa5",
    "PS512": "rsa6", "ES256": "ec", "ES384": "ec384", "ES512": "ec521", "EdDSA": "ed25519",
    "HS256": "secret", "HS384": "secret", "HS512": "secret",
}
SIGNING = list(ALG_KEYS)
ASYMMETRIC = [a for a in SIGNING if not a.startswith("HS")]
SIGNATURE_BYTES = {"RS": 256, "PS": 256, "ES256": 64, "ES384": 96, "ES512": 132, "Ed": 64,
                   "HS256": 32, "HS384": 48, "HS512": 64}


def signature_bytes(alg):
    return SIGNATURE_BYTES.get(alg) or SIGNATURE_BYTES[alg[:2]]


def _self_signed(key, name):
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256())
    )


@pytest.fixture(scope="session")
def keys():
    """Key material, generated once. Paths as attributes (keys.rsa, keys.ec384, keys.secret, ...);
    keys.pub and keys.kid map a key name (rsa, rsa2..rsa6, ec, ec384, ec521, ed25519) to its public
    key and its RFC 7638 thumbprint, computed here independently of the module; keys.public_key is
    keys.pub["rsa"]; keys.secret_bytes is the HMAC secret, in raw and encoded files."""
    d = Path(tempfile.mkdtemp(prefix="bjwt-keys-"))
    d.chmod(0o755)
    pem = serialization.Encoding.PEM
    none = serialization.NoEncryption()
    pkcs8 = serialization.PrivateFormat.PKCS8
    legacy = serialization.PrivateFormat.TraditionalOpenSSL
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    private = {name: rsa.generate_private_key(65537, 2048)
               for name in ("rsa", "rsa2", "rsa3", "rsa4", "rsa5", "rsa6")}
    private.update(ec=ec.generate_private_key(ec.SECP256R1()),
                   ec384=ec.generate_private_key(ec.SECP384R1()),
                   ec521=ec.generate_private_key(ec.SECP521R1()),
                   ed25519=ed25519.Ed25519PrivateKey.generate())
    paths = {name: _write(d / f"{name}.pem", key.private_bytes(pem, pkcs8, none), 0o600)
             for name, key in private.items()}
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    cert, cert_ec = _self_signed(private["rsa"], "backend-jwt-test"), _self_signed(private["ec"], "ec")
    # 64 bytes whose base64 has '+' and '/' (0xfbffbf), so each alphabet is exercised
    secret = b"\xfb\xff\xbf" + os.urandom(61)
    k = SimpleNamespace(
        dir=str(d),
        pub={name: key.public_key() for name, key in private.items()},
        public_key=private["rsa"].public_key(),
        rsa_pkcs1=_write(d / "rsa-pkcs1.pem", private["rsa"].private_bytes(pem, legacy, none), 0o600),
        rsa1024=_write(d / "rsa1024.pem", small.private_bytes(pem, pkcs8, none), 0o600),
        ec_sec1=_write(d / "ec-sec1.pem", private["ec"].private_bytes(pem, legacy, none), 0o600),
        rsa_encrypted=_write(d / "rsa-encrypted.pem", private["rsa2"].private_bytes(
            pem, pkcs8, serialization.BestAvailableEncryption(PASSWORD)), 0o600),
        password=_write(d / "password", PASSWORD + b"\n", 0o600),
        wrong_password=_write(d / "wrong-password", b"not the password\n", 0o600),
        public=_write(d / "public.pem", private["rsa"].public_key().public_bytes(pem, spki)),
        ed25519_public=_write(d / "ed25519-public.pem",
                              private["ed25519"].public_key().public_bytes(pem, spki)),
        cert=_write(d / "cert.pem", cert.public_bytes(pem)),
        cert_ec=_write(d / "cert-ec.pem", cert_ec.public_bytes(pem)),
        certs={"rsa": cert, "ec": cert_ec},
        garbage=_write(d / "garbage.pem", b"this is not a key\n" * 4),
        htpasswd=_write(d / "htpasswd", b"alice:{PLAIN}secret\n"),  # read by workers: 0644
        secret_bytes=secret,
        secret=_write(d / "secret.bin", secret, 0o600),
        secret_base64=_write(d / "secret.b64", base64.b64encode(secret) + b"\n", 0o600),
        secret_base64url=_write(d / "secret.b64u", b64url(secret).encode() + b"\n", 0o600),
        secret_hex=_write(d / "secret.hex", b"  " + secret.hex().upper().encode() + b"\r\n", 0o600),
        **paths,
    )
    k.kid = {name: thumbprint(pub) for name, pub in k.pub.items()}
    assert b"BEGIN RSA PRIVATE KEY" in Path(k.rsa_pkcs1).read_bytes()
    assert b"BEGIN EC PRIVATE KEY" in Path(k.ec_sec1).read_bytes()
    assert b"BEGIN ENCRYPTED PRIVATE KEY" in Path(k.rsa_encrypted).read_bytes()
    assert {"+", "/"} <= set(base64.b64encode(secret).decode())
    yield k
    shutil.rmtree(d, ignore_errors=True)


def key_directive(keys, alg):
    """The directive that gives `alg` its harness key (ALG_KEYS)."""
    name = ALG_KEYS[alg]
    if name == "secret":
        return f"backend_jwt_signing_secret {keys.secret};"
    return f"backend_jwt_signing_key {getattr(keys, name)};"


def verification_key(keys, alg):
    """What an independent verifier needs for `alg`: the public key, or the HMAC secret."""
    name = ALG_KEYS[alg]
    return keys.secret_bytes if name == "secret" else keys.pub[name]


def signing_location(keys, alg, body="", path="/"):
    """A location signing with `alg` and its harness key, plus `body`."""
    return f"""
        location {path} {{
            backend_jwt on;
            backend_jwt_signing_algorithm {alg};
            {key_directive(keys, alg)}
            {body}
            proxy_pass BACKEND;
        }}
"""


# ---------------------------------------------------------------- JOSE, computed here


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(public_key):
    """The members RFC 7638 3.2 requires, built from the key's numbers (not by the module)."""
    if isinstance(public_key, rsa.RSAPublicKey):
        nums = public_key.public_numbers()
        return {"e": b64url(nums.e.to_bytes((nums.e.bit_length() + 7) // 8, "big")), "kty": "RSA",
                "n": b64url(nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big"))}
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        size = (public_key.curve.key_size + 7) // 8
        nums = public_key.public_numbers()
        return {"crv": f"P-{public_key.curve.key_size}", "kty": "EC",
                "x": b64url(nums.x.to_bytes(size, "big")), "y": b64url(nums.y.to_bytes(size, "big"))}
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"crv": "Ed25519", "kty": "OKP", "x": b64url(raw)}


def thumbprint(key_or_jwk):
    """RFC 7638: base64url(SHA-256(required members, sorted, no white space))."""
    jwk_ = key_or_jwk if isinstance(key_or_jwk, dict) else public_jwk(key_or_jwk)
    required = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}
    members = {m: jwk_[m] for m in required[jwk_["kty"]]}
    digest = hashlib.sha256(json.dumps(members, sort_keys=True, separators=(",", ":")).encode())
    return b64url(digest.digest())


def cert_thumbprints(cert):
    """(x5t, x5t#S256) of a certificate: base64url of the SHA-1 and SHA-256 of its DER."""
    der = cert.public_bytes(serialization.Encoding.DER)
    return b64url(hashlib.sha1(der).digest()), b64url(hashlib.sha256(der).digest())


# ---------------------------------------------------------------- backend


class Backend:
    """A threaded HTTP server that echoes what it received; `hits` lists every request."""

    def __init__(self):
        self.hits = []
        self.lock = threading.Lock()
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def handle_one(self):
                seen = {"method": self.command, "path": self.path,
                        "headers": [[k, v] for k, v in self.headers.raw_items()]}
                with backend.lock:
                    backend.hits.append(seen)
                body = json.dumps(seen).encode()
                self.send_response(200)
                if self.path.startswith("/auth/"):  # auth_request: /auth/<user> names the user
                    self.send_header("X-User", self.path.split("/")[2])
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = handle_one

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class RawBackend:
    """A backend that keeps the bytes of each request head as received, without any limit on
    its size (http.server refuses lines over 64 KiB), and answers 200 with JSON: "raw" (the head,
    latin-1) and "headers" (its lines split at the first ":", values without surrounding blanks).
    `heads` lists the head of every request. Point a location at it with RAW_BACKEND."""

    def __init__(self):
        self.heads = []
        self.lock = threading.Lock()
        backend = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                sock = self.request
                sock.settimeout(10 * SCALE)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = sock.recv(1 << 16)
                    if not chunk:
                        return
                    data += chunk
                head = data[:data.index(b"\r\n\r\n") + 4]
                with backend.lock:
                    backend.heads.append(head)
                body = json.dumps({"raw": head.decode("latin-1"),
                                   "headers": parse_head(head)}).encode()
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server((HOST, 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def parse_head(head: bytes):
    """[[name, value], ...] of a request head (latin-1 text), request line left out."""
    lines = head[:-4].split(b"\r\n")[1:]
    pairs = []
    for line in lines:
        name, _, value = line.partition(b":")
        pairs.append([name.decode("latin-1"), value.strip(b" \t").decode("latin-1")])
    return pairs


@pytest.fixture(scope="session")
def raw_backend_server():
    b = RawBackend()
    yield b
    b.stop()


@pytest.fixture
def raw_backend(raw_backend_server):
    with raw_backend_server.lock:
        raw_backend_server.heads.clear()
    return raw_backend_server


@pytest.fixture(scope="session")
def backend_server():
    b = Backend()
    yield b
    b.stop()


@pytest.fixture
def backend(backend_server):
    with backend_server.lock:
        backend_server.hits.clear()
    return backend_server


# ---------------------------------------------------------------- nginx


class Nginx:
    """One nginx instance: a temp prefix, a port, a conf; start() and stop()."""

    def __init__(self, backend_port, raw_backend_port=None):
        self.prefix = tempfile.mkdtemp(prefix="bjwt-nginx-")
        os.chmod(self.prefix, 0o755)  # workers run as nobody when the tests run as root
        self.port = free_port()
        self.backend_port = backend_port
        self.raw_backend_port = raw_backend_port
        self.conf = os.path.join(self.prefix, "nginx.conf")
        self.error_log = os.path.join(self.prefix, "error.log")
        self.pid = None
        self.allowed = []  # regexes of error log lines a test expects despite BAD_LOG
        # listen: parameters of the listen line (" http2"); listen_more: more listen lines;
        # load: the load_module line (True: MODULE, or the path of another build; False: none);
        # level: of the error log. Kept across write_conf calls.
        self.opts = {"listen": "", "listen_more": "", "load": True, "level": "info"}
        self.outputs = []  # what each `nginx -t` printed, checked for sanitizer reports

    def write_conf(self, server="", http="", workers=1, **opts):
        unknown = set(opts) - set(self.opts)
        assert not unknown, unknown
        self.opts.update(opts)
        o = self.opts
        listen, server = o["listen"], server
        if " http2" in listen and NGINX_VERSION >= (1, 25, 1):
            # nginx 1.25.1 deprecated `listen ... http2` (a [warn]) for `http2 on;`
            listen = listen.replace(" http2", "")
            server = "        http2 on;\n" + server
        module = o["load"] if isinstance(o["load"], (str, Path)) else MODULE if o["load"] else None
        text = CONF.format(load=f"load_module {module};" if module else "# no module", env=ENV,
                           level=o["level"], prefix=self.prefix, host=HOST, port=self.port,
                           http=http, server=server, workers=workers,
                           listen=(" reuseport" if workers > 1 else "") + listen,  # spread connections
                           listen_more=o["listen_more"].replace("PORT", str(self.port)))
        if self.raw_backend_port:
            text = text.replace("RAW_BACKEND", f"http://{HOST}:{self.raw_backend_port}")
        text = text.replace("BACKEND", f"http://{HOST}:{self.backend_port}")
        text = text.replace("PREFIX/", self.prefix + "/")
        Path(self.conf).write_text(text)
        return text

    def command(self, *extra):
        return [NGINX, "-p", self.prefix + "/", "-c", self.conf, "-e", self.error_log, *extra]

    def wrapped(self, *extra):
        """command(), under BJWT_NGINX_WRAPPER if set (to start nginx or test its conf)."""
        log = os.path.join(self.prefix, "valgrind.%p.log")
        return [w.replace("%VGLOG%", log) for w in WRAPPER] + self.command(*extra)

    @staticmethod
    def run(args):
        """Runs an nginx command: (exit code, stdout and stderr). The output goes through a file,
        not a pipe: a daemon's helper that keeps the descriptors (a sanitizer's symbolizer)
        cannot hold the call up."""
        with tempfile.TemporaryFile() as f:
            p = subprocess.run(args, stdout=f, stderr=subprocess.STDOUT, timeout=30 * SCALE)
            f.seek(0)
            return p.returncode, f.read().decode(errors="replace")

    def test_conf(self):
        """`nginx -t`: (exit code, output)."""
        code, out = self.run(self.wrapped("-t"))
        self.outputs.append(out)
        if WRAPPER_EXIT is not None and code == WRAPPER_EXIT:  # nginx's own, from what it said
            code = 0 if re.search(r"test is successful\s*$", out) else 1
        return code, out

    def start(self, server="", http="", workers=1, **opts):
        for attempt in range(3):
            self.write_conf(server, http, workers, **opts)
            code, out = self.run(self.wrapped())
            # another session's process took the port after free_port(): another port
            if code != 0 and attempt < 2 and f"{HOST}:{self.port} failed (98: " in out:
                self.port = free_port()
                Path(self.error_log).unlink(missing_ok=True)
                continue
            break
        pid_file = os.path.join(self.prefix, "nginx.pid")
        if code not in (0, WRAPPER_EXIT):
            # a master that daemonized all the same (a wrapper's own exit code; the master
            # writes its pid file after the fork) is stopped at teardown
            deadline = time.monotonic() + (2 * SCALE if WRAPPER else 0)
            while True:
                try:
                    self.pid = int(Path(pid_file).read_text())
                except (OSError, ValueError):
                    pass
                if self.pid is not None or time.monotonic() >= deadline:
                    break
                time.sleep(0.05)
            raise AssertionError(f"nginx failed to start:\n{out}")
        deadline = time.monotonic() + 10 * SCALE
        while time.monotonic() < deadline:
            try:
                self.pid = int(Path(pid_file).read_text())
                with socket.create_connection((HOST, self.port), timeout=1):
                    pass
                # the master forks its workers after blocking signals: once they exist, a
                # SIGHUP is not lost (sent earlier, it waits in nginx for the next signal)
                if len(self.workers()) >= workers:
                    return self
            except (OSError, ValueError):
                pass
            time.sleep(0.02)
        raise AssertionError(f"nginx did not accept on port {self.port}:\n{self.log()}")

    def running(self):
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        try:  # a reaped-by-nobody zombie counts as gone (containers without an init)
            return Path(f"/proc/{self.pid}/stat").read_text().split(") ")[1][0] != "Z"
        except (OSError, IndexError):
            return False

    def stop(self):
        if self.pid is None:
            return
        try:
            os.kill(self.pid, signal.SIGQUIT)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 10 * SCALE
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.02)
        if self.running():
            os.kill(self.pid, signal.SIGKILL)
            raise AssertionError(f"nginx {self.pid} did not stop on SIGQUIT")
        self.pid = None

    def workers(self):
        out = subprocess.run(["ps", "-o", "user=,pid=", "--ppid", str(self.pid)],
                             capture_output=True, text=True).stdout
        return [line.split() for line in out.splitlines() if line.strip()]

    def log(self):
        return Path(self.error_log).read_text(errors="replace") if os.path.exists(self.error_log) else ""

    def problems(self, levels=True):
        """What the teardown fails on: bad error log lines (BAD_LOG, unless allowed; not when
        `levels` is false, for `nginx -t` of a bad configuration), sanitizer reports (never
        allowed), valgrind errors in our code."""
        lines = self.log().splitlines()
        bad = [line for line in lines if levels and BAD_LOG.search(line)
               and not any(re.search(a, line) for a in self.allowed)]
        bad += [line for line in lines if SANITIZER.search(line) and line not in bad]
        bad += [f"nginx -t: {line}" for out in self.outputs for line in out.splitlines()
                if SANITIZER.search(line)]
        found = [f"{self.error_log}:\n" + "\n".join(bad)] if bad else []
        return found + valgrind_problems(self.prefix)

    # ------------------------------------------------------------ requests

    def request(self, path="/", headers=(), method="GET"):
        """Sends a raw request (headers as (name, value) pairs, bytes allowed, kept as given).
        Returns (status, response headers, body bytes)."""
        lines = [f"{method} {path} HTTP/1.0".encode(), b"Host: localhost"]
        for name, value in headers:
            name = name.encode() if isinstance(name, str) else name
            value = value.encode() if isinstance(value, str) else value
            lines.append(name + b": " + value)
        raw = b"\r\n".join(lines) + b"\r\n\r\n"
        with socket.create_connection((HOST, self.port), timeout=10 * SCALE) as s:
            s.sendall(raw)
            resp = http.client.HTTPResponse(s, method=method)  # HEAD: no body to read
            resp.begin()
            return resp.status, resp.getheaders(), resp.read()

    def seen(self, path="/", headers=(), status=200):
        """GET through nginx; returns the header list the backend received."""
        code, _, body = self.request(path, headers)
        assert code == status, body
        return json.loads(body)["headers"]


def valgrind_problems(directory):
    """Problems in the valgrind logs of `directory` (none without a wrapper): an invalid read or
    write or a use of uninitialised memory whose stack is in the module or the core; any other
    error there; a log without its ERROR SUMMARY (a process that did not exit). A forked process
    (master, workers) counts its parent's errors too: its log may show a count without blocks."""
    problems = []
    logs = {int(p.name.split(".")[1]): p for p in Path(directory).glob("valgrind.*.log")}
    with_blocks = set()
    for pid, path in sorted(logs.items()):
        text = path.read_text(errors="replace")
        parent = re.search(r"Parent PID: (\d+)", text)
        blocks, block = [], []
        for line in text.splitlines():
            m = VG_LINE.match(line)
            if m is None:
                continue
            if m.group(1).strip():
                block.append(m.group(1))
            elif block:
                blocks.append(block)
                block = []
        if block:
            blocks.append(block)
        summary = re.search(r"ERROR SUMMARY: (\d+) errors", text)
        if summary is None:
            problems.append(f"{path}: no ERROR SUMMARY (the process did not exit?)")
            continue
        if int(summary.group(1)) == 0:
            continue
        # error blocks: those with a stack ("at 0x..: fn (file)"); the summary's own are not
        errors = [b for b in blocks if any(l.lstrip().startswith("at 0x") for l in b)]
        ours = [b for b in errors if any(VG_OURS.search(l) for l in b)]
        for b in ours:
            kind = "severe" if VG_SEVERE.search(b[0]) else "error"
            problems.append(f"{path}: {kind} in our code:\n  " + "\n  ".join(b))
        if errors or (parent and int(parent.group(1)) in with_blocks):
            with_blocks.add(pid)  # its own errors, or those it inherited
        else:
            problems.append(f"{path}: {summary.group(0)} but no error block found")
    return problems


def wait_for(predicate, timeout=10):
    timeout *= SCALE
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def assert_emerg(result, message):
    """The output holds exactly `nginx: [emerg] <message> in <conf>:<line of #HERE>`."""
    code, out, conf, line = result
    assert code != 0, out
    assert line is not None
    expected = f"nginx: [emerg] {message} in {conf}:{line}"
    assert expected in out.splitlines(), f"{expected!r} not in:\n{out}"


def headers_named(seen, name):
    """Values of every received header called `name` (case-insensitive)."""
    return [v for k, v in seen if k.lower() == name.lower()]


def only_token(seen, name="X-JWT-Assertion"):
    values = headers_named(seen, name)
    assert len(values) == 1, f"expected exactly one {name}, got {values}"
    return values[0]


def verify(token, keys):
    """Verifies an RS256 base64url token with the session key; returns its claims."""
    claims = jwt.decode(token, keys.public_key, algorithms=["RS256"])
    assert jwt.get_unverified_header(token) == {
        "alg": "RS256", "typ": "JWT", "kid": thumbprint(keys.public_key)}
    assert UUID4.match(claims["jti"]), claims["jti"]
    return claims


def b64std_decode(segment):
    """Decodes the standard alphabet without padding, strictly."""
    assert "=" not in segment and "-" not in segment and "_" not in segment, segment
    return base64.b64decode(segment + "=" * (-len(segment) % 4), validate=True)


def verify_signature(signing_input: bytes, signature: bytes, keys):
    keys.public_key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())


@pytest.fixture
def nginx(backend_server, raw_backend_server, request):
    """Factory: nginx(server=..., http=..., workers=..., **opts) starts an instance (opts: see
    Nginx.opts); every one is stopped and its error log checked at teardown. Logs of a failed
    test are kept and printed."""
    instances = []

    def start(server="", http="", workers=1, **opts):
        n = Nginx(backend_server.port, raw_backend_server.port)
        instances.append(n)
        return n.start(server, http, workers, **opts)

    yield start
    problems = []
    for n in instances:
        try:
            n.stop()
        except AssertionError as e:
            problems.append(str(e))
        problems += n.problems()
    failed = problems or getattr(request.node, "rep_call", None) is None or request.node.rep_call.failed
    for n in instances:
        if failed:
            print(f"\n--- kept {n.prefix}\n--- {n.conf}\n{Path(n.conf).read_text()}\n--- error.log\n{n.log()}")
        else:
            shutil.rmtree(n.prefix, ignore_errors=True)
    if problems:
        pytest.fail("\n".join(problems))


@pytest.fixture
def nginx_t(backend_server, raw_backend_server):
    """Factory: nginx_t(server=..., http=..., **opts) writes the conf and runs `nginx -t`. Returns
    (exit code, output, conf path, line of the line marked `#HERE`)."""
    made = []

    def run(server="", http="", **opts):
        n = Nginx(backend_server.port, raw_backend_server.port)
        made.append(n)
        text = n.write_conf(server, http, **opts)
        marked = [i for i, line in enumerate(text.splitlines(), 1) if "#HERE" in line]
        code, out = n.test_conf()
        return code, out, n.conf, marked[0] if marked else None

    yield run
    problems = [p for n in made for p in n.problems(levels=False)]
    for n in made:
        if problems:
            print(f"\n--- kept {n.prefix}")
        else:
            shutil.rmtree(n.prefix, ignore_errors=True)
    if problems:
        pytest.fail("\n".join(problems))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call":
        item.rep_call = rep


def location(keys, body="", path="/"):
    """A location with the module on, the session key and `body`, proxied to the backend."""
    return f"""
        location {path} {{
            backend_jwt on;
            backend_jwt_signing_key {keys.rsa};
            {body}
            proxy_pass BACKEND;
        }}
"""


def payload_json(token):
    """The payload segment's JSON as an ordered list of (name, value), without verification
    (for key order only; callers verify the token separately)."""
    segment = token.split(".")[1]
    raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    return json.loads(raw, object_pairs_hook=list)


def fetch_jwks(n, path="/jwks"):
    """GET the JWK Set; returns it as a dict."""
    code, headers, body = n.request(path)
    assert code == 200, body
    return json.loads(body)


def jwk_for(jwks, token):
    """The entry of `jwks` a verifier picks for `token`: by kid with the token's alg, or by alg
    alone for a token without a kid."""
    header = jwt.get_unverified_header(token)
    found = [k for k in jwks["keys"]
             if k["alg"] == header["alg"] and ("kid" not in header or k.get("kid") == header["kid"])]
    assert len(found) == 1, f"{header} in {jwks}"
    return found[0]


def verify_with_jwks(token, jwks):
    """Verifies a base64url token with the key `jwks` publishes for it; returns its claims."""
    jwk_ = jwk_for(jwks, token)
    return jwt.decode(token, jwt.PyJWK(jwk_).key, algorithms=[jwk_["alg"]])


# ---------------------------------------------------------------- load


class Load:
    """`threads` clients, a new connection per request, until stop() or `limit` seconds. Keeps
    (sent, received, token) of every success and a description of every failure."""

    def __init__(self, n, threads=4, limit=20 * SCALE):
        self.n, self.results, self.failures, self.limit = n, [], [], limit
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.deadline = time.monotonic() + limit
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def run(self):
        while not self.done.is_set() and time.monotonic() < self.deadline:
            sent = time.monotonic()
            try:
                code, _, body = self.n.request("/")
                failure = None if code == 200 else f"status {code}: {body[:200]!r}"
                token = only_token(json.loads(body)["headers"]) if code == 200 else None
            except (OSError, http.client.HTTPException, ValueError, AssertionError) as e:
                failure = f"{type(e).__name__}: {e}"
            with self.lock:
                if failure:
                    self.failures.append(failure)
                else:
                    self.results.append((sent, time.monotonic(), token))

    def wait(self, more):
        """Waits until `more` further requests have succeeded."""
        target = len(self.results) + more
        assert wait_for(lambda: len(self.results) >= target or self.failures, self.limit), "load stalled"

    def stop(self):
        self.done.set()
        for t in self.threads:
            t.join(self.limit)
        assert not any(t.is_alive() for t in self.threads)
        return self.results, self.failures
