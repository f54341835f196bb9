"""The README's key rotation, under steady load: publish the new key, switch to it, retire the old
one, each with a reload (SIGHUP, as `nginx -s reload`), twice over (A -> B -> C). No request may
fail, no worker may crash, and every token must verify against the JWKS as fetched just before it
was sent (key picked by kid). A reload with a broken key is refused and changes nothing."""

import json
import os
import re
import shutil
import signal
import time
from pathlib import Path

import jwt

from conftest import Load, fetch_jwks, wait_for

A, B, C = ("rsa", "RS256"), ("rsa2", "RS256"), ("ec", "ES256")  # (key name, algorithm)


def conf(signing_path, alg, published=()):
    """(server, http): a JWKS location and a location signing with `signing_path`."""
    http = "".join(f"    backend_jwt_jwks_key {path};\n" for path in published)
    server = f"""
        location = /jwks {{ backend_jwt_jwks; }}
        location / {{
            backend_jwt on;
            backend_jwt_signing_key {signing_path};
            backend_jwt_signing_algorithm {alg};
            proxy_pass BACKEND;
        }}"""
    return server, http


class Rotation:
    """One nginx with 2 workers under load, its reloads and the JWKS snapshots around them."""

    def __init__(self, nginx, keys, signing, alg, published=()):
        self.keys = keys
        self.n = nginx(*conf(signing, alg, published), workers=2)
        self.snapshots = []  # (fetch started, fetch ended, JWKS)
        self.snapshot()
        self.load = Load(self.n)

    def path(self, key):
        return getattr(self.keys, key[0])

    def snapshot(self):
        started = time.monotonic()
        jwks = fetch_jwks(self.n)
        self.snapshots.append((started, time.monotonic(), jwks))
        return jwks

    def published(self):
        """(kid, alg) of every entry of the latest snapshot."""
        return {(k.get("kid"), k["alg"]) for k in self.snapshots[-1][2]["keys"]}

    def expected(self, *keys):
        return {(self.keys.kid[name], alg) for name, alg in keys}

    def worker_pids(self):
        return {pid for _, pid in self.n.workers()}

    def reload(self, server, http):
        """SIGHUP, then waits until only new workers run (the old ones finished and exited)."""
        old = self.worker_pids()
        self.n.write_conf(server, http, workers=2)
        os.kill(self.n.pid, signal.SIGHUP)

        def replaced():
            pids = self.worker_pids()
            return len(pids) == 2 and pids.isdisjoint(old)

        assert wait_for(replaced), self.n.log()

    def step(self, signing, published, signing_path=None):
        """Some load on the running configuration, a JWKS snapshot, the reload, another snapshot."""
        self.load.wait(30)
        self.snapshot()
        published_paths = [self.path(p) for p in published]
        self.reload(*conf(signing_path or self.path(signing), signing[1], published_paths))
        self.snapshot()
        assert self.published() == self.expected(signing, *published)

    def finish(self):
        """Stops the load; checks failures, crashes and every token. Returns the kids seen."""
        results, failures = self.load.stop()
        self.snapshot()
        assert failures == [], failures[:10]
        assert "exited on signal" not in self.n.log()
        return check_tokens(results, self.snapshots)


def check_tokens(results, snapshots):
    """Each token verifies with the JWKS snapshot fetched last before it was sent (key picked by
    kid): stronger than "the snapshot before or the one after", and what the publish step is for,
    since a backend that fetched the JWKS before a token was minted can verify it. Returns the
    kids, in order of first use."""
    keys = {}  # JWK JSON -> PyJWK: parse each entry once
    kids = []
    for sent, _, token in results:
        jwks = [jwks for _, end, jwks in snapshots if end <= sent][-1]
        header = jwt.get_unverified_header(token)
        entries = [k for k in jwks["keys"] if k.get("kid") == header["kid"] and k["alg"] == header["alg"]]
        assert len(entries) == 1, f"token {header} sent at {sent:.3f}: not in the JWKS before it {jwks}"
        jwk = keys.setdefault(json.dumps(entries[0], sort_keys=True), jwt.PyJWK(entries[0]))
        jwt.decode(token, jwk.key, algorithms=[header["alg"]])
        if header["kid"] not in kids:
            kids.append(header["kid"])
    return kids


def test_rotation_under_load(nginx, keys, backend):
    r = Rotation(nginx, keys, keys.rsa, "RS256")
    assert r.published() == r.expected(A)
    steps = [
        (A, [B]),  # 1. publish B
        (B, [A]),  # 2. switch to B, A still published
        (B, []),   # 3. retire A
        (B, [C]),  # 1. publish C (an EC key this time)
        (C, [B]),  # 2. switch to C
        (C, []),   # 3. retire B
    ]
    try:
        for signing, published in steps:
            r.step(signing, published)
        r.load.wait(30)
    finally:
        kids = r.finish()
    assert kids == [keys.kid[A[0]], keys.kid[B[0]], keys.kid[C[0]]]
    assert r.n.log().count("signal 1 (SIGHUP)") == len(steps)
    assert len(r.load.results) > 200


def test_broken_key_reload_refused_under_load(nginx, keys, backend):
    signing = Path(keys.dir) / "rotating.pem"  # replaced in place, as an operator would
    shutil.copy(keys.rsa, signing)
    r = Rotation(nginx, keys, signing, "RS256")
    key_line = Path(r.n.conf).read_text().splitlines().index(
        f"            backend_jwt_signing_key {signing};") + 1
    refusal = (rf'\[emerg\] \d+#\d+: "backend_jwt_signing_key" directive: key file "{re.escape(str(signing))}" '
               rf"holds no PEM private key in {re.escape(r.n.conf)}:{key_line}$")
    r.n.allowed.append(refusal)
    try:
        r.load.wait(30)
        workers = r.worker_pids()
        shutil.copy(keys.garbage, signing)
        os.kill(r.n.pid, signal.SIGHUP)
        assert wait_for(lambda: re.search(refusal, r.n.log(), re.M)), r.n.log()
        refused = time.monotonic()
        r.load.wait(60)  # the old workers keep serving with key A
        assert r.worker_pids() == workers
        assert r.snapshot() == r.snapshots[0][2]
        repaired = time.monotonic()
        shutil.copy(keys.rsa, signing)  # repaired: good reloads publish B, then switch to it
        r.step(A, [B], signing_path=signing)
        r.step(B, [A])
        r.load.wait(30)
    finally:
        kids = r.finish()
    assert kids == [keys.kid["rsa"], keys.kid["rsa2"]]
    after_refusal = [t for sent, _, t in r.load.results if refused < sent < repaired]
    assert len(after_refusal) >= 50  # (a few of the 60 were sent before the refusal)
    assert {jwt.get_unverified_header(t)["kid"] for t in after_refusal} == {keys.kid["rsa"]}
    assert r.n.log().count("signal 1 (SIGHUP)") == 3
    signing.unlink()
