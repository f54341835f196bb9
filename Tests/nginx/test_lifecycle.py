"""Reloads, several workers, keep-alive connections."""

import http.client
import json
import os
import signal

from conftest import HOST, headers_named, location, only_token, verify, wait_for


def issuer(n, keys):
    return verify(only_token(n.seen("/")), keys)["iss"]


def test_reload_applies_new_configuration(nginx, keys, backend):
    n = nginx(location(keys, "backend_jwt_issuer gen0;"))
    assert issuer(n, keys) == "gen0"
    for gen in ("gen1", "gen2", "gen3"):
        n.write_conf(location(keys, f"backend_jwt_issuer {gen}; backend_jwt_claim g {gen};"))
        os.kill(n.pid, signal.SIGHUP)
        assert wait_for(lambda: issuer(n, keys) == gen), n.log()
    assert n.log().count("signal 1 (SIGHUP)") == 3


def test_failed_reload_keeps_serving(nginx, keys, backend):
    n = nginx(location(keys, "backend_jwt_issuer old;"))
    n.allowed.append(r"\[emerg\] .*backend_jwt_token_ttl")
    n.write_conf(location(keys, "backend_jwt_issuer new; backend_jwt_token_ttl abc;"))
    os.kill(n.pid, signal.SIGHUP)
    assert wait_for(lambda: 'invalid token TTL "abc"' in n.log()), n.log()
    assert issuer(n, keys) == "old"


def test_tokens_unique_across_workers(nginx, keys, backend):
    n = nginx(location(keys, "proxy_set_header X-Worker $pid;"), workers=2)
    jtis, workers = set(), set()
    for _ in range(60):
        seen = n.seen("/")
        jtis.add(verify(only_token(seen), keys)["jti"])
        workers.update(headers_named(seen, "X-Worker"))
    assert len(jtis) == 60
    assert len(workers) == 2, workers


def test_keepalive_requests_get_their_own_tokens(nginx, keys, backend):
    n = nginx(location(keys, "backend_jwt_claim n $arg_n;"))
    conn = http.client.HTTPConnection(HOST, n.port, timeout=10)
    tokens = []
    for i in range(5):
        conn.request("GET", f"/?n={i}", headers={"X-JWT-Assertion": "client"})
        resp = conn.getresponse()
        assert resp.status == 200 and not resp.will_close
        tokens.append(only_token(json.loads(resp.read())["headers"]))
    conn.close()
    claims = [verify(t, keys) for t in tokens]
    assert [c["n"] for c in claims] == ["0", "1", "2", "3", "4"]
    assert len({c["jti"] for c in claims}) == 5
