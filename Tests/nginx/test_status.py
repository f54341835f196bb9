"""`backend_jwt_status` and the refusal variables (issue 21): after exactly N requests of each kind
(verified, refused for each reason, served by the caches, minted) the JSON report and the
Prometheus text (parsed by prometheus_client, not by a regex) show N, summed over 4 workers; a
reload keeps the counters (a restart resets them); the status location answers GET and HEAD
only; `$backend_jwt_in_error` names each refusal in the access log."""

import json
import os
import signal
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from caller_tokens import AUDIENCE, ISSUER, IdP, bearer, kid_of
from conftest import Nginx, free_port, key_directive, wait_for
from test_verify_jwks import JWKS_URI, Key, LocalIdP, jwks_location

N = 5
WORKERS = 4
REASONS = ["missing", "malformed", "signature", "unknown_kid", "algorithm", "expired",
           "not_yet_valid", "issuer", "audience", "require", "no_keys"]
LOG = "err=\"$backend_jwt_in_error\" kid=\"$backend_jwt_in_kid\" alg=\"$backend_jwt_in_alg\" " \
      "sub=\"$backend_jwt_in_claim_sub\" uri=\"$uri\" case=\"$arg_case\""


@pytest.fixture(scope="module")
def callers(keys, tmp_path_factory):
    return IdP(keys, tmp_path_factory.mktemp("idp"))


@pytest.fixture
def jwks_idp():
    """An identity provider that answers 404: the JWK Set of /nokeys never comes."""
    server = LocalIdP().start()
    server.switch("404")
    yield server
    server.stop()


def config(keys, callers, idp_port, more=""):
    """/api verifies (issuer, audience) and mints HS256; /required also needs a value that is
    never there; /cached verifies and mints ES256 with both caches; /nokeys has only a JWK Set that
    never comes; /status shows the figures."""
    verify = f"""backend_jwt_verify on;
            backend_jwt_verify_key {callers.jwks};
            backend_jwt_verify_issuer {ISSUER};
            backend_jwt_verify_audience {AUDIENCE};"""
    server = f"""
        add_header X-Worker $pid always;
        location /api {{
            {verify}
            backend_jwt on;
            backend_jwt_signing_algorithm HS256;
            {key_directive(keys, "HS256")}
            proxy_pass BACKEND;
        }}
        location /required {{
            {verify}
            backend_jwt_verify_require $arg_never;
            proxy_pass BACKEND;
        }}
        location /cached {{
            {verify}
            backend_jwt_verify_cache size=100;
            backend_jwt on;
            backend_jwt_signing_algorithm ES256;
            {key_directive(keys, "ES256")}
            backend_jwt_token_ttl 60;
            backend_jwt_cache size=100;
            proxy_pass BACKEND;
        }}
        location /nokeys {{
            backend_jwt_verify on;
            backend_jwt_verify_jwks {JWKS_URI};
            proxy_pass BACKEND;
        }}
{jwks_location(idp_port)}
        location = /status {{
            backend_jwt_status;
        }}
{more}"""
    http = f"""    log_format refusals '{LOG}';
    access_log PREFIX/refusals.log refusals;"""
    return server, http


def refusal_requests(callers):
    """(path, headers) of one request per reason, in REASONS order."""
    now = int(time.time())
    token = callers.token
    return [
        ("/api", []),
        ("/api", [("Authorization", "Bearer not.a.jwt")]),
        ("/api", bearer(token(signer="rsa2", kid=kid_of("rsa")))),
        ("/api", bearer(token(kid="no-such-kid"))),
        ("/api", bearer(token(alg="HS256"))),
        ("/api", bearer(token(exp=now - 100))),
        ("/api", bearer(token(nbf=now + 3600))),
        ("/api", bearer(token(iss="https://other.example.com"))),
        ("/api", bearer(token(aud="someone-else"))),
        ("/required", bearer(token())),
        ("/nokeys", bearer(token())),
    ]


def status(n, fmt=None):
    code, headers, body = n.request("/status" + (f"?format={fmt}" if fmt else ""))
    assert code == 200, body
    return dict((k.lower(), v) for k, v in headers), body.decode()


def prometheus(n):
    """The samples of the Prometheus text, by (name, sorted labels)."""
    headers, text = status(n, "prometheus")
    assert headers["content-type"].startswith("text/plain; version=0.0.4"), headers
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in samples, key
            samples[key] = s.value
    assert text.count("# TYPE backend_jwt_verify_refused_total counter") == 1, text
    return samples


def report(n):
    headers, text = status(n)
    assert headers["content-type"] == "application/json", headers
    return json.loads(text)


def run_traffic(n, callers):
    """N requests of every kind, each on its own connection: the workers share them."""
    good = callers.token()
    workers = set()
    for _ in range(N):
        for path, token in (("/api", callers.token()), ("/cached", good)):
            code, headers, body = n.request(path, bearer(token))
            assert code == 200, body
            workers.add(dict(headers)["X-Worker"])
        for (path, headers), reason in zip(refusal_requests(callers), REASONS):
            code, headers, _ = n.request(path, headers)
            assert code == (503 if reason == "no_keys" else 403 if reason == "require" else 401), (reason, code)
            workers.add(dict(headers)["X-Worker"])
    assert len(workers) > 1, workers


def check_figures(n, times=1):
    """The figures of `times` rounds of run_traffic."""
    m = N * times
    doc = report(n)
    assert doc["verify"]["ok"] == 2 * m, doc
    assert doc["verify"]["refused"] == {r: m for r in REASONS}, doc
    cache = doc["verify"]["cache"]
    assert cache["hits"] + cache["misses"] == m and 1 <= cache["misses"] <= WORKERS * times, doc
    assert doc["mint"]["tokens"]["HS256"] == m and doc["mint"]["tokens"]["ES256"] == m, doc
    assert sum(doc["mint"]["tokens"].values()) == 2 * m, doc
    mint_cache = doc["mint"]["cache"]
    assert mint_cache["hits"] + mint_cache["misses"] == m and 1 <= mint_cache["misses"] <= WORKERS * times, doc
    assert set(doc["mint"]["failures"].values()) == {0}, doc
    assert doc["abi_version"] >= 5 and doc["version"], doc

    p = prometheus(n)
    assert p[("backend_jwt_verify_ok_total", ())] == 2 * m
    for reason in REASONS:
        assert p[("backend_jwt_verify_refused_total", (("reason", reason),))] == m, reason
    assert p[("backend_jwt_verify_cache_hits_total", ())] == cache["hits"]
    assert p[("backend_jwt_verify_cache_misses_total", ())] == cache["misses"]
    assert ("backend_jwt_verify_cache_evictions_total", ()) in p
    assert p[("backend_jwt_mint_total", (("alg", "HS256"),))] == m
    assert p[("backend_jwt_mint_total", (("alg", "ES256"),))] == m
    assert p[("backend_jwt_mint_cache_hits_total", ())] == mint_cache["hits"]
    assert p[("backend_jwt_mint_cache_misses_total", ())] == mint_cache["misses"]
    # /nokeys fetched its set and failed: the first request of each worker at least, once per
    # 5 s retry delay
    fetch = doc["jwks"][0]
    assert fetch["uri"] == JWKS_URI and fetch["keys"] == [] and fetch["fetched_at"] is None, doc
    failed = p[("backend_jwt_jwks_fetches_total", (("result", "error"), ("uri", JWKS_URI)))]
    assert failed == fetch["fetches"]["error"] >= 1, (failed, fetch)
    assert p[("backend_jwt_jwks_fetches_total", (("result", "ok"), ("uri", JWKS_URI)))] == 0
    assert p[("backend_jwt_info", (("abi_version", str(doc["abi_version"])), ("version", doc["version"])))] == 1
    return doc


def test_every_kind_is_counted_once_over_4_workers(nginx, keys, callers, jwks_idp, backend):
    server, http = config(keys, callers, jwks_idp.port)
    n = nginx(server, http, workers=WORKERS)
    before = report(n)
    assert before["verify"]["ok"] == 0 and set(before["verify"]["refused"].values()) == {0}, before
    run_traffic(n, callers)
    check_figures(n)


def test_refusal_reason_in_the_access_log(nginx, keys, callers, jwks_idp, backend):
    server, http = config(keys, callers, jwks_idp.port)
    n = nginx(server, http, workers=WORKERS)
    assert n.request("/api?case=ok", bearer(callers.token()))[0] == 200
    for (path, headers), reason in zip(refusal_requests(callers), REASONS):
        n.request(f"{path}?case={reason}", headers)
    # each worker writes its line when its request is over: the order of the lines may differ
    log = os.path.join(n.prefix, "refusals.log")
    assert wait_for(lambda: sum(1 for _ in open(log)) == 1 + len(REASONS))
    lines = {line.rsplit(" case=", 1)[1].strip('"'): line for line in open(log).read().splitlines()}
    assert lines["ok"] == f'err="" kid="{kid_of("rsa")}" alg="RS256" sub="alice" uri="/api" case="ok"', lines
    for reason in REASONS:
        # a token refused by backend_jwt_verify_require has verified: its kid, alg and sub are known
        known = f'kid="{kid_of("rsa")}" alg="RS256" sub="alice"' if reason == "require" else 'kid="-" alg="-" sub="-"'
        assert lines[reason].startswith(f'err="{reason}" {known}'), (reason, lines[reason])


def test_a_reload_keeps_the_counters_a_restart_resets_them(nginx, keys, callers, jwks_idp, backend):
    server, http = config(keys, callers, jwks_idp.port)
    n = nginx(server, http, workers=WORKERS)
    run_traffic(n, callers)
    check_figures(n)

    # a reload with another JWK Set URI as well: the counts stay, the new URI starts at 0
    other = free_port()
    more = f"""
        location /other {{
            backend_jwt_verify on;
            backend_jwt_verify_jwks /_other;
            proxy_pass BACKEND;
        }}
        location = /_other {{ internal; proxy_pass http://127.0.0.1:{other}/; }}"""
    old = {pid for _, pid in n.workers()}
    n.write_conf(*config(keys, callers, jwks_idp.port, more), workers=WORKERS)
    os.kill(n.pid, signal.SIGHUP)
    assert wait_for(lambda: {pid for _, pid in n.workers()}.isdisjoint(old)
                    and len(n.workers()) == WORKERS), n.log()
    doc = check_figures(n)
    assert [s["uri"] for s in doc["jwks"]] == [JWKS_URI, "/_other"], doc
    assert doc["jwks"][1]["fetches"] == {"ok": 0, "error": 0}, doc
    run_traffic(n, callers)
    check_figures(n, times=2)

    # a restart: a new zone, every counter at 0
    n.stop()
    n.start(*config(keys, callers, jwks_idp.port), workers=WORKERS)
    doc = report(n)
    assert doc["verify"]["ok"] == 0 and set(doc["verify"]["refused"].values()) == {0}, doc
    assert set(doc["mint"]["tokens"].values()) == {0} and doc["jwks"][0]["fetches"]["error"] == 0, doc


def test_jwks_figures_of_a_set_that_came(nginx, keys, callers, backend):
    """A set that is fetched: its kids and algorithms, when it was fetched, until when it is
    fresh; a token with an unknown kid asks for one refetch."""
    idp = LocalIdP().start()
    try:
        key = Key("k1")
        idp.serve(key)
        server = f"""
        location /api {{
            backend_jwt_verify on;
            backend_jwt_verify_jwks {JWKS_URI};
            proxy_pass BACKEND;
        }}
{jwks_location(idp.port)}
        location = /status {{ backend_jwt_status; }}"""
        n = nginx(server)
        start = int(time.time())
        assert n.request("/api", bearer(key.token()))[0] == 200
        assert n.request("/api", bearer(key.token(kid="k2")))[0] == 401
        doc = report(n)
        (fetched,) = doc["jwks"]
        assert fetched["keys"] == [{"kid": "k1", "algorithms": ["ES256"]}], fetched
        assert start <= fetched["fetched_at"] <= time.time() and fetched["fresh_until"] == fetched["fetched_at"] + 600
        assert fetched["fetches"] == {"ok": 2, "error": 0} and fetched["refetches_unknown_kid"] == 1, fetched
        assert fetched["last_error"] is None and fetched["last_error_at"] is None, fetched
        assert doc["verify"]["refused"]["unknown_kid"] == 1 and doc["verify"]["ok"] == 1, doc
        p = prometheus(n)
        assert p[("backend_jwt_jwks_key_info", (("alg", "ES256"), ("kid", "k1"), ("uri", JWKS_URI)))] == 1
        assert p[("backend_jwt_jwks_fetched_at_seconds", (("uri", JWKS_URI),))] == fetched["fetched_at"]
        assert p[("backend_jwt_jwks_refetches_total", (("uri", JWKS_URI),))] == 1
    finally:
        idp.stop()


def test_the_status_location_answers_get_and_head_only(nginx, keys, callers, jwks_idp, backend):
    server, http = config(keys, callers, jwks_idp.port)
    n = nginx(server, http)
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        code, headers, _ = n.request("/status", method=method)
        assert code == 405, (method, code)
    code, headers, body = n.request("/status", method="HEAD")
    assert code == 200 and body == b"", (code, body)
    assert dict(headers)["Content-Type"] == "application/json"
    assert n.request("/status?format=xml")[0] == 400
    assert n.request("/status?format=json")[0] == 200


def test_status_directive_errors(nginx_t):
    from conftest import assert_emerg
    assert_emerg(nginx_t("""
        location /s {
            backend_jwt_status;
            backend_jwt_status; #HERE
        }"""), '"backend_jwt_status" directive is duplicate')
    assert_emerg(nginx_t("""
        location /s {
            proxy_pass BACKEND;
            backend_jwt_status; #HERE
        }"""), '"backend_jwt_status" directive cannot be used in a location with another content handler')
    assert_emerg(nginx_t("""
        backend_jwt_status; #HERE
        """), '"backend_jwt_status" directive is not allowed here')


def test_mint_failures_by_reason(nginx, keys, backend):
    """A token that cannot be minted (an empty subject with if_empty=fail) is counted as a failure
    of reason `value`, not as a token; the request is not forwarded."""
    n = nginx(f"""
        location /api {{
            backend_jwt on;
            backend_jwt_signing_algorithm HS256;
            {key_directive(keys, "HS256")}
            backend_jwt_subject $arg_user if_empty=fail;
            proxy_pass BACKEND;
        }}
        location = /status {{ backend_jwt_status; }}""", workers=WORKERS)
    hits = len(backend.hits)
    for _ in range(N):
        assert n.request("/api?user=alice")[0] == 200
        assert n.request("/api")[0] == 500
    assert len(backend.hits) == hits + N
    doc = report(n)
    assert doc["mint"]["failures"] == {"value": N, "size": 0, "sign": 0, "other": 0}, doc
    assert doc["mint"]["tokens"]["HS256"] == N and doc["verify"]["ok"] == 0, doc
    assert prometheus(n)[("backend_jwt_mint_failures_total", (("reason", "value"),))] == N


def test_a_token_over_max_size_is_a_size_failure(nginx, keys, backend):
    """A token longer than backend_jwt_max_size is not handed out, and is counted as a failure of
    reason `size`, not as a token: the core decides both."""
    n = nginx(f"""
        location /api {{
            backend_jwt on;
            backend_jwt_signing_algorithm HS256;
            {key_directive(keys, "HS256")}
            backend_jwt_max_size 300;
            backend_jwt_claim c $arg_c;
            proxy_pass BACKEND;
        }}
        location = /status {{ backend_jwt_status; }}""", workers=WORKERS)
    hits = len(backend.hits)
    for _ in range(N):
        assert n.request("/api?c=short")[0] == 200
        assert n.request("/api?c=" + "x" * 300)[0] == 500
    assert len(backend.hits) == hits + N
    assert n.log().count("more than backend_jwt_max_size 300") == N
    doc = report(n)
    assert doc["mint"]["failures"] == {"value": 0, "size": N, "sign": 0, "other": 0}, doc
    assert doc["mint"]["tokens"]["HS256"] == N, doc
    assert prometheus(n)[("backend_jwt_mint_failures_total", (("reason", "size"),))] == N
