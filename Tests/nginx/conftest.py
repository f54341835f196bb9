"""Harness for the nginx integration tests, in the style of nginx-tests.

Every test gets its own nginx (temp prefix, free loopback port) with the module loaded, in front
of one Python backend per session that answers every request with the headers it received.
Only 127.0.0.1 is ever used.
"""

import base64
import datetime
import http.client
import json
import os
import re
import shutil
import signal
import socket
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
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "build" / "out" / "ngx_http_backend_jwt_module.so"
NGINX = os.environ.get("TEST_NGINX_BINARY", "/usr/sbin/nginx")
HOST = "127.0.0.1"
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
BAD_LOG = re.compile(r"\[(alert|crit|emerg)\]|exited on signal")

CONF = """\
load_module {module};
daemon on;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
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
        server_name localhost;
{server}
    }}
}}
"""


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def pytest_sessionstart(session):
    if not MODULE.exists():
        pytest.exit(f"{MODULE} is missing: run build/module.sh", returncode=2)


# ---------------------------------------------------------------- keys


def _write(path, data, mode=0o644):
    path.write_bytes(data)
    path.chmod(mode)
    return str(path)


@pytest.fixture(scope="session")
def keys():
    """Key material, generated once: paths plus the public key of `rsa` for verification."""
    d = Path(tempfile.mkdtemp(prefix="bjwt-keys-"))
    d.chmod(0o755)
    pem = serialization.Encoding.PEM
    none = serialization.NoEncryption()
    pkcs8 = serialization.PrivateFormat.PKCS8
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "backend-jwt-test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(rsa_key.public_key()).serial_number(1)
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .sign(rsa_key, hashes.SHA256())
    )
    k = SimpleNamespace(
        dir=str(d),
        public_key=rsa_key.public_key(),
        rsa=_write(d / "rsa.pem", rsa_key.private_bytes(pem, pkcs8, none), 0o600),
        rsa_pkcs1=_write(
            d / "rsa-pkcs1.pem",
            rsa_key.private_bytes(pem, serialization.PrivateFormat.TraditionalOpenSSL, none), 0o600),
        rsa1024=_write(d / "rsa1024.pem", small.private_bytes(pem, pkcs8, none), 0o600),
        ec=_write(d / "ec.pem", ec_key.private_bytes(pem, pkcs8, none), 0o600),
        public=_write(d / "public.pem", rsa_key.public_key().public_bytes(
            pem, serialization.PublicFormat.SubjectPublicKeyInfo)),
        cert=_write(d / "cert.pem", cert.public_bytes(pem)),
        garbage=_write(d / "garbage.pem", b"this is not a key\n" * 4),
        htpasswd=_write(d / "htpasswd", b"alice:{PLAIN}secret\n"),  # read by workers: 0644
    )
    assert k.rsa_pkcs1 and b"BEGIN RSA PRIVATE KEY" in Path(k.rsa_pkcs1).read_bytes()
    yield k
    shutil.rmtree(d, ignore_errors=True)


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

            do_GET = do_POST = do_HEAD = handle_one

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

    def __init__(self, backend_port):
        self.prefix = tempfile.mkdtemp(prefix="bjwt-nginx-")
        os.chmod(self.prefix, 0o755)  # workers run as nobody when the tests run as root
        self.port = free_port()
        self.backend_port = backend_port
        self.conf = os.path.join(self.prefix, "nginx.conf")
        self.error_log = os.path.join(self.prefix, "error.log")
        self.pid = None
        self.allowed = []  # regexes of error log lines a test expects despite BAD_LOG

    def write_conf(self, server="", http="", workers=1):
        text = CONF.format(module=MODULE, prefix=self.prefix, host=HOST, port=self.port,
                           http=http, server=server, workers=workers,
                           listen=" reuseport" if workers > 1 else "")  # spread connections
        text = text.replace("BACKEND", f"http://{HOST}:{self.backend_port}")
        text = text.replace("PREFIX/", self.prefix + "/")
        Path(self.conf).write_text(text)
        return text

    def command(self, *extra):
        return [NGINX, "-p", self.prefix + "/", "-c", self.conf, "-e", self.error_log, *extra]

    def test_conf(self):
        """`nginx -t`: (exit code, output)."""
        p = subprocess.run(self.command("-t"), capture_output=True, text=True, timeout=30)
        return p.returncode, p.stdout + p.stderr

    def start(self, server="", http="", workers=1):
        self.write_conf(server, http, workers)
        p = subprocess.run(self.command(), capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, f"nginx failed to start:\n{p.stdout}{p.stderr}"
        pid_file = os.path.join(self.prefix, "nginx.pid")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                self.pid = int(Path(pid_file).read_text())
                with socket.create_connection((HOST, self.port), timeout=1):
                    return self
            except (OSError, ValueError):
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
        deadline = time.monotonic() + 10
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
        with socket.create_connection((HOST, self.port), timeout=10) as s:
            s.sendall(raw)
            resp = http.client.HTTPResponse(s)
            resp.begin()
            return resp.status, resp.getheaders(), resp.read()

    def seen(self, path="/", headers=(), status=200):
        """GET through nginx; returns the header list the backend received."""
        code, _, body = self.request(path, headers)
        assert code == status, body
        return json.loads(body)["headers"]


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
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "typ": "JWT"}
    assert UUID4.match(claims["jti"]), claims["jti"]
    return claims


def b64std_decode(segment):
    """Decodes the standard alphabet without padding, strictly."""
    assert "=" not in segment and "-" not in segment and "_" not in segment, segment
    return base64.b64decode(segment + "=" * (-len(segment) % 4), validate=True)


def verify_signature(signing_input: bytes, signature: bytes, keys):
    keys.public_key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())


@pytest.fixture
def nginx(backend_server, request):
    """Factory: nginx(server=..., http=...) starts an instance; every one is stopped and its
    error log checked at teardown. Logs of a failed test are kept and printed."""
    instances = []

    def start(server="", http="", workers=1):
        n = Nginx(backend_server.port)
        instances.append(n)
        return n.start(server, http, workers)

    yield start
    problems = []
    for n in instances:
        try:
            n.stop()
        except AssertionError as e:
            problems.append(str(e))
        bad = [line for line in n.log().splitlines()
               if BAD_LOG.search(line) and not any(re.search(a, line) for a in n.allowed)]
        if bad:
            problems.append(f"{n.error_log}:\n" + "\n".join(bad))
    failed = problems or getattr(request.node, "rep_call", None) is None or request.node.rep_call.failed
    for n in instances:
        if failed:
            print(f"\n--- kept {n.prefix}\n--- {n.conf}\n{Path(n.conf).read_text()}\n--- error.log\n{n.log()}")
        else:
            shutil.rmtree(n.prefix, ignore_errors=True)
    if problems:
        pytest.fail("\n".join(problems))


@pytest.fixture
def nginx_t(backend_server):
    """Factory: nginx_t(server=..., http=...) writes the conf and runs `nginx -t`. Returns
    (exit code, output, conf path, line of the line marked `#HERE`)."""
    made = []

    def run(server="", http=""):
        n = Nginx(backend_server.port)
        made.append(n)
        text = n.write_conf(server, http)
        marked = [i for i, line in enumerate(text.splitlines(), 1) if "#HERE" in line]
        code, out = n.test_conf()
        return code, out, n.conf, marked[0] if marked else None

    yield run
    for n in made:
        shutil.rmtree(n.prefix, ignore_errors=True)


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
