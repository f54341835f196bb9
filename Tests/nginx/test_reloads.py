"""Reloads and stops: 30 reloads under steady load lose no request, crash no worker and do not
grow the master; a reload with a missing, unreadable or wrong key is refused and the running
workers keep signing with the old key; `nginx -s stop` and `nginx -s quit` end every process
cleanly."""

import base64
import http.client
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from conftest import (HOST, Load, SANITIZE, SCALE, SIGNING, WRAPPER, fetch_jwks, only_token, signing_location,
                      thumbprint, verify, verify_with_jwks, wait_for)

RELOADS = 30
WORKERS = 2


def signing(key, issuer):
    return f"""
        location / {{
            backend_jwt on;
            backend_jwt_signing_key {key};
            backend_jwt_issuer {issuer};
            proxy_pass BACKEND;
        }}
"""


def every_signer(keys, issuer):
    """signing(), plus a location per algorithm (a signer each) and the JWK Set: what a reload
    rebuilds, and frees with the old cycle, many times over."""
    more = "".join(signing_location(keys, alg, f"backend_jwt_claim gen {issuer};", f"/{alg}/")
                   for alg in SIGNING)
    http = "".join(f"    backend_jwt_jwks_key {getattr(keys, name)};\n"
                   for name in ("rsa2", "ec384", "ed25519"))
    return signing(keys.rsa, issuer) + more + "        location = /jwks { backend_jwt_jwks; }\n", http


def worker_pids(n):
    return {int(pid) for _, pid in n.workers()}


def reload(n, server, http=""):
    """Writes the conf, SIGHUP, waits until only new workers run (the old ones have exited)."""
    old = worker_pids(n)
    n.write_conf(server, http, workers=WORKERS)
    os.kill(n.pid, signal.SIGHUP)

    def replaced():
        pids = worker_pids(n)
        return len(pids) == WORKERS and pids.isdisjoint(old)

    assert wait_for(replaced), n.log()


def rss_kib(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1))


@pytest.mark.slow
def test_30_reloads_under_load(nginx, keys, backend):
    n = nginx(*every_signer(keys, "gen0"), workers=WORKERS)
    load = Load(n, limit=300 * SCALE)  # stopped below; 30 reloads take 20-40 s on a busy machine
    rss = {}
    started = time.monotonic()
    try:
        for gen in range(1, RELOADS + 1):
            reload(n, *every_signer(keys, f"gen{gen}"))
            if gen in (5, RELOADS):
                rss[gen] = rss_kib(n.pid)
        assert wait_for(lambda: verify(only_token(n.seen("/")), keys)["iss"] == f"gen{RELOADS}")
    finally:
        results, failures = load.stop()
    tokens = [token for _, _, token in results]
    jwks = fetch_jwks(n)
    assert len(jwks["keys"]) >= len(SIGNING) - 3  # HMAC secrets are never published
    for alg in SIGNING:
        if not alg.startswith("HS"):
            token = only_token(n.seen(f"/{alg}/"))
            assert verify_with_jwks(token, jwks)["gen"] == f"gen{RELOADS}"
    took = time.monotonic() - started
    print(f"\n{RELOADS} reloads in {took:.1f} s, {len(tokens)} requests; "
          f"master VmRSS after reload 5: {rss.get(5)} KiB, after reload {RELOADS}: {rss.get(RELOADS)} KiB")
    assert failures == [], failures[:10]
    log = n.log()
    assert log.count("signal 1 (SIGHUP)") == RELOADS
    assert not re.search(r"exited on signal|\[alert\]|\[crit\]", log)
    assert len(tokens) > 100
    issuers = [verify(t, keys)["iss"] for t in tokens]
    assert len({int(i[3:]) for i in issuers}) > RELOADS // 2  # the load ran across the reloads
    if not WRAPPER and not SANITIZE:  # valgrind's or ASan's own memory makes RSS meaningless
        assert abs(rss[RELOADS] - rss[5]) <= 2048, rss


def test_refused_reloads_keep_the_old_key(nginx, keys, backend):
    n = nginx(signing(keys.rsa, "old"), workers=WORKERS)
    conf_line = r" in " + re.escape(n.conf) + r":\d+$"
    bad = [
        ("/nonexistent/key.pem",
         r'\[emerg\] \d+#\d+: "backend_jwt_signing_key" directive: cannot open key file '
         r'"/nonexistent/key\.pem": No such file or directory' + conf_line),
        (keys.dir,
         r'\[emerg\] \d+#\d+: "backend_jwt_signing_key" directive: key file '
         rf'"{re.escape(keys.dir)}" is not a regular file' + conf_line),
        (keys.ec,
         rf'\[emerg\] \d+#\d+: backend_jwt: key file "{re.escape(keys.ec)}" holds a key of type '
         r"EC P-256, which cannot sign RS256; RS256 needs an RSA key" + conf_line),
    ]
    n.allowed += [pattern for _, pattern in bad]
    workers = worker_pids(n)
    for i, (path, pattern) in enumerate(bad, 1):
        n.write_conf(signing(path, "new"), workers=WORKERS)
        os.kill(n.pid, signal.SIGHUP)
        assert wait_for(lambda: len(re.findall(pattern, n.log(), re.M)) == 1), n.log()
        assert n.log().count("signal 1 (SIGHUP)") == i
        for _ in range(6):  # both workers, most likely
            claims = verify(only_token(n.seen("/")), keys)  # the old key, the old conf
            assert claims["iss"] == "old"
        assert worker_pids(n) == workers
    assert len(re.findall(r"\[emerg\]", n.log())) == len(bad)
    reload(n, signing(keys.rsa2, "new"))
    token = only_token(n.seen("/"))
    assert jwt.get_unverified_header(token)["kid"] == thumbprint(keys.pub["rsa2"])
    claims = jwt.decode(token, keys.pub["rsa2"], algorithms=["RS256"])
    assert claims["iss"] == "new"


def test_inconsistent_rsa_key_is_refused(nginx_t, keys, tmp_path):
    """A damaged key file that still parses: one byte of the modulus changed. OpenSSL loads it
    without checking (EVP_PKEY_private_check or RSA_check_key would catch it); Python's
    cryptography refuses it. The module should refuse it too, as it refuses an unparsable key,
    rather than sign tokens no one can verify."""
    der = der_of(keys.rsa)
    n = keys.pub["rsa"].public_numbers().n.to_bytes(256, "big")
    at = der.index(n) + 128
    damaged = der[:at] + bytes([der[at] ^ 0x01]) + der[at + 1:]
    path = tmp_path / "damaged.pem"
    body = base64.encodebytes(damaged).decode().replace("\n", "")
    path.write_text("-----BEGIN PRIVATE KEY-----\n"
                    + "".join(body[i:i + 64] + "\n" for i in range(0, len(body), 64))
                    + "-----END PRIVATE KEY-----\n")
    with pytest.raises(ValueError):  # not a valid key, for a strict loader
        serialization.load_pem_private_key(path.read_bytes(), None)
    code, out, _, _ = nginx_t(signing(path, "x"))
    assert code == 1 and str(path) in out, out


def der_of(path):
    key = serialization.load_pem_private_key(Path(path).read_bytes(), None)
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # a zombie nobody reaps (a container without init) is gone too
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] == "Z"
    except (OSError, IndexError):
        return True


def stop_with(nginx, keys, how):
    n = nginx(signing(keys.rsa, "x"), workers=WORKERS)
    master, workers = n.pid, worker_pids(n)
    assert len(workers) == WORKERS
    assert verify(only_token(n.seen("/")), keys)
    # a keep-alive connection at rest after a request (quit closes it; a connection that never
    # sent a request would hold a worker until client_header_timeout)
    idle = http.client.HTTPConnection(HOST, n.port, timeout=10 * SCALE)
    try:
        idle.request("GET", "/")
        resp = idle.getresponse()
        assert resp.status == 200 and not resp.will_close
        resp.read()
        # `nginx -s` signals the master named in the pid file, as an operator would
        p = subprocess.run(n.command("-s", how), capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stdout + p.stderr
        assert wait_for(lambda: gone(master) and all(gone(w) for w in workers)), n.log()
    finally:
        idle.close()
    n.pid = None  # nothing left for the teardown to stop
    log = n.log()
    assert not re.search(r"\[(alert|crit|emerg)\]|exited on signal", log), log
    # "pid#tid": the tid is the pid in nginx built --with-threads, 0 without
    assert re.search(rf"^.* {master}#\d+: exit$", log, re.M), log
    assert not os.path.exists(os.path.join(n.prefix, "nginx.pid"))
    return log


def test_stop_ends_every_process_cleanly(nginx, keys, backend):
    log = stop_with(nginx, keys, "stop")
    assert "signal 15 (SIGTERM) received" in log


def test_quit_ends_every_process_cleanly(nginx, keys, backend):
    log = stop_with(nginx, keys, "quit")
    assert "signal 3 (SIGQUIT) received" in log and "gracefully shutting down" in log
