"""Key bytes never reach a log, at any level, nor a client: with `error_log ... debug` (Debian's
nginx is built --with-debug), requests that succeed and fail (a bad claim value, an oversize
token), reloads with bad keys and `nginx -t` of them, no line of a PEM body, no 16-byte window of
a private key's DER (raw, hex, base64, base64url, \\xNN or %XX escaped), no 8 bytes of the HMAC
secret (the same forms) and no password appear in error.log, the access logs, the output of
`nginx -t`, or any response's status line, headers and body."""

import base64
import binascii
import os
import re
import signal
import socket
import urllib.parse
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from conftest import HOST, PASSWORD, SCALE, wait_for

# ---------------------------------------------------------------- what must not appear


def der_of(path, password=None):
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password)
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def pem_body_lines(path):
    return [line for line in Path(path).read_text().splitlines()
            if line and not line.startswith("-----") and ":" not in line]


def windows(data: bytes, size):
    return {data[i:i + size] for i in range(len(data) - size + 1)}


HEX_RUN = re.compile(rb"[0-9A-Fa-f]{16,}")
B64_RUN = re.compile(rb"[A-Za-z0-9+/_-]{11,}")
ESCAPED = re.compile(rb"\\x([0-9A-Fa-f]{2})")


def views(text: bytes):
    """`text`, and every decoding of it a secret could hide in: \\xNN and %XX escapes undone, each
    hex run and each base64 or base64url run decoded (at every alignment)."""
    yield text
    yield ESCAPED.sub(lambda m: bytes([int(m.group(1), 16)]), text)
    yield urllib.parse.unquote_to_bytes(text)
    for m in HEX_RUN.finditer(text):
        run = m.group(0)
        for start in (0, 1):
            part = run[start:]
            yield binascii.unhexlify(part[:len(part) // 2 * 2])
    for m in B64_RUN.finditer(text):
        run = m.group(0).replace(b"-", b"+").replace(b"_", b"/")
        for start in range(4):
            part = run[start:]
            part = part[:len(part) // 4 * 4]
            if part:
                yield base64.b64decode(part)


class Secrets:
    """Everything of the session's keys that must stay out of logs and responses."""

    def __init__(self, keys):
        self.ders = {name: der_of(getattr(keys, name)) for name in ("rsa", "ec", "ed25519")}
        self.ders["rsa2"] = der_of(keys.rsa_encrypted, PASSWORD)
        self.der_windows = set().union(*(windows(d, 16) for d in self.ders.values()))
        self.secret_windows = windows(keys.secret_bytes, 8)
        self.pem_lines = [line for name in ("rsa", "ec", "ed25519", "rsa_encrypted", "rsa_pkcs1")
                          for line in pem_body_lines(getattr(keys, name))]
        self.texts = [PASSWORD, keys.secret_bytes.hex().encode(), keys.secret_bytes.hex().upper().encode(),
                      base64.b64encode(keys.secret_bytes).rstrip(b"="),
                      base64.urlsafe_b64encode(keys.secret_bytes).rstrip(b"=")]
        assert all(len(d) >= 48 for d in self.ders.values()) and len(self.pem_lines) > 40

    def found(self, where, text: bytes):
        """Descriptions of every piece of key material in `text`."""
        found = [f"{where}: PEM line {line}" for line in self.pem_lines if line.encode() in text]
        found += [f"{where}: {t[:12]!r}..." for t in self.texts if t in text]
        for view in views(text):
            for size, secret, what in ((16, self.der_windows, "DER window"),
                                       (8, self.secret_windows, "HMAC secret window")):
                hits = windows(view, size) & secret
                found += [f"{where}: {what} {h.hex()}" for h in list(hits)[:3]]
        return found


def test_secrets_finder_finds(keys):
    """The search finds what it looks for, in each form, embedded in other text."""
    s = Secrets(keys)
    der = s.ders["rsa"]
    piece = der[101:131]
    for form in (piece, piece.hex().encode(), piece.hex().upper().encode(),
                 base64.b64encode(der[100:140]), base64.urlsafe_b64encode(der[99:140]),
                 "".join(f"\\x{b:02x}" for b in piece).encode(),
                 urllib.parse.quote_from_bytes(piece).encode()):
        assert s.found("t", b"value: \"" + form + b"\" end"), form
    secret = keys.secret_bytes[20:30]
    for form in (secret, secret.hex().encode(), base64.b64encode(keys.secret_bytes[19:33])):
        assert s.found("t", b"x=" + form + b";"), form
    assert s.found("t", b"[" + pem_body_lines(keys.rsa)[3].encode() + b"]")
    assert s.found("t", b"pw " + PASSWORD)
    assert not s.found("t", b"nothing of a key here: " + os.urandom(4000).hex().encode())


# ---------------------------------------------------------------- nginx


def locations(keys):
    return f"""
        large_client_header_buffers 4 32k;
        location /rsa/ {{
            backend_jwt on;
            backend_jwt_signing_key {keys.rsa};
            backend_jwt_claim n $arg_n type=int;
            backend_jwt_claim v $http_x_v;
            proxy_pass BACKEND;
        }}
        location /enc/ {{
            backend_jwt on;
            backend_jwt_signing_key {keys.rsa_encrypted} password_file={keys.password};
            backend_jwt_signing_algorithm PS256;
            proxy_pass BACKEND;
        }}
        location /ec/ {{
            backend_jwt on;
            backend_jwt_signing_key {keys.ec};
            backend_jwt_signing_algorithm ES256;
            backend_jwt_claim n $arg_n type=int;
            proxy_pass BACKEND;
        }}
        location /ed/ {{
            backend_jwt on;
            backend_jwt_signing_key {keys.ed25519};
            backend_jwt_signing_algorithm EdDSA;
            proxy_pass BACKEND;
        }}
        location /hs/ {{
            backend_jwt on;
            backend_jwt_signing_secret {keys.secret};
            backend_jwt_signing_algorithm HS512;
            backend_jwt_claim n $arg_n type=int;
            backend_jwt_claim v $http_x_v;
            proxy_pass BACKEND;
        }}
        location /hex/ {{
            backend_jwt on;
            backend_jwt_signing_secret {keys.secret_hex} encoding=hex;
            backend_jwt_signing_algorithm HS256;
            proxy_pass BACKEND;
        }}
        location /b64/ {{
            backend_jwt on;
            backend_jwt_signing_secret {keys.secret_base64} encoding=base64;
            backend_jwt_signing_algorithm HS384;
            proxy_pass BACKEND;
        }}
        location /b64u/ {{
            backend_jwt on;
            backend_jwt_signing_secret {keys.secret_base64url} encoding=base64url;
            backend_jwt_signing_algorithm HS256;
            proxy_pass BACKEND;
        }}
        location = /jwks-none {{ return 404; }}
"""


ACCESS = """
    log_format everything '$remote_addr "$request" $status $body_bytes_sent "$http_x_v" '
                          '"$http_x_jwt_assertion" $request_time';
    access_log PREFIX/everything.log everything;
"""


def raw_exchange(port, request: bytes):
    """The whole response, as bytes (status line, headers, body)."""
    with socket.create_connection((HOST, port), timeout=10 * SCALE) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(1 << 16):
            data += chunk
    return data


def request(port, path, headers=()):
    lines = [f"GET {path} HTTP/1.0", "Host: localhost"] + [f"{k}: {v}" for k, v in headers]
    return raw_exchange(port, ("\r\n".join(lines) + "\r\n\r\n").encode())


def bad_keys(keys, tmp):
    """(directive, allowed [emerg] pattern): reloads that must be refused, each with key material
    close at hand for an error message to leak."""
    rsa = Path(keys.rsa).read_text().splitlines()
    truncated = tmp / "truncated.pem"  # the PEM of the real key, cut in the middle
    truncated.write_text("\n".join(rsa[:len(rsa) // 2] + rsa[-1:]) + "\n")
    corrupted = tmp / "corrupted.pem"  # the first body line changed: base64 fine, DER broken
    corrupted.write_text("\n".join(rsa[:1] + ["MIIE" + "A" * 60] + rsa[2:]) + "\n")
    no_markers = tmp / "no-markers.pem"  # the body alone
    no_markers.write_text("\n".join(rsa[1:-1]) + "\n")
    for f in (truncated, corrupted, no_markers):
        f.chmod(0o600)
    return [
        f"backend_jwt_signing_key {truncated};",
        f"backend_jwt_signing_key {corrupted};",
        f"backend_jwt_signing_key {no_markers};",
        f"backend_jwt_signing_key {keys.ec};",  # EC for RS256
        f"backend_jwt_signing_key {keys.rsa_encrypted} password_file={keys.wrong_password};",
        f"backend_jwt_signing_key {keys.rsa_encrypted};",  # no password
        f"backend_jwt_signing_key {keys.secret};",  # the raw HMAC secret as a PEM
        f"backend_jwt_signing_key {keys.secret_hex};",
        f"backend_jwt_signing_secret {keys.rsa} encoding=hex; backend_jwt_signing_algorithm HS256;",
        f"backend_jwt_signing_secret {keys.rsa} encoding=base64; backend_jwt_signing_algorithm HS256;",
        f"backend_jwt_signing_secret {keys.secret_base64} encoding=hex; backend_jwt_signing_algorithm HS256;",
        f"backend_jwt_signing_secret {keys.secret} encoding=base64url; backend_jwt_signing_algorithm HS256;",
        f"backend_jwt_certificate {keys.rsa}; backend_jwt_signing_key {keys.rsa};",
        f"backend_jwt_certificate {keys.secret}; backend_jwt_signing_key {keys.rsa};",
    ]


@pytest.mark.slow
def test_no_key_material_in_logs_or_responses(nginx, keys, tmp_path):
    secrets = Secrets(keys)
    n = nginx(locations(keys), ACCESS, level="debug")
    n.allowed.append(r"\[emerg\]")  # the refused reloads below
    responses = []

    def get(path, headers=(), status=200):
        response = request(n.port, path, headers)
        responses.append(response)
        assert response.startswith(f"HTTP/1.1 {status} ".encode()), response[:300]

    def serve():
        for path in ("/rsa/", "/enc/", "/ec/", "/ed/", "/hs/", "/hex/", "/b64/", "/b64u/"):
            get(path + "?n=1", [("X-JWT-Assertion", "forged")])
        for path in ("/rsa/", "/ec/", "/hs/"):
            get(path + "?n=abc", status=500)  # a bad claim value
        for path in ("/rsa/", "/hs/"):
            get(path, [("X-V", "x" * 9000)], status=500)  # oversize
        get("/jwks-none", status=404)

    serve()
    tmp = tmp_path / "bad"
    tmp.mkdir()
    tmp.chmod(0o755)
    outputs = []
    for i, bad in enumerate(bad_keys(keys, tmp), 1):
        server = locations(keys) + f"""
        location /bad/ {{
            backend_jwt on;
            {bad}
            proxy_pass BACKEND;
        }}
"""
        n.write_conf(server, ACCESS)
        code, out = n.test_conf()
        assert code == 1, (bad, out)
        outputs.append(out.encode())
        os.kill(n.pid, signal.SIGHUP)
        # the master's own [emerg] (nginx -t, another process, writes one too)
        assert wait_for(lambda: len(re.findall(rf"\[emerg\] {n.pid}#\d+: ", n.log())) == i), \
            (bad, n.log()[-3000:])
    old = n.workers()
    n.write_conf(locations(keys), ACCESS)  # and a good reload
    os.kill(n.pid, signal.SIGHUP)
    assert wait_for(lambda: n.workers() and not set(map(tuple, n.workers())) & set(map(tuple, old)))
    serve()
    n.stop()  # flushes and closes the logs

    logs = {name: Path(n.prefix, name).read_bytes() for name in ("error.log", "access.log", "everything.log")}
    assert b"[debug]" in logs["error.log"]  # debug level really on
    assert b"http proxy header" in logs["error.log"]  # headers to the backend, logged in full
    assert logs["error.log"].count(b"backend_jwt: no token") == 10
    assert len(logs["access.log"].splitlines()) == len(responses)
    found = []
    for name, text in logs.items():
        found += secrets.found(name, text)
    for i, out in enumerate(outputs):
        found += secrets.found(f"nginx -t #{i}", out)
    for i, response in enumerate(responses):
        found += secrets.found(f"response #{i}", response)
    assert found == [], found[:20]
    print(f"\nsearched {sum(map(len, logs.values())) // 1024} KiB of logs, "
          f"{len(responses)} responses, {len(outputs)} nginx -t outputs")
