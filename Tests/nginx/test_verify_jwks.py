"""`backend_jwt_verify_jwks` (issue 12): the identity provider's JWK Set fetched at run time by a
subrequest, cached, refreshed on an unknown kid at most so often, kept when a refetch fails; and
`backend_jwt_verify_cache`, the per-worker cache of verified tokens.

The identity provider is a local one (LocalIdP): a threaded HTTP server on 127.0.0.1 that serves
a JWK Set of EC keys generated here, counts and records every request it gets, and can be
switched at run time (rotate its keys, answer garbage, 404, 10 MiB, too slowly, a set with no
usable key) or stopped. nginx reaches it through an internal location (`/_jwks`) with short proxy
timeouts, as the issue's recipe does. Each test checks what a user sees: status codes, whether
the backend was reached, the IdP's request counter, the error log (and the harness checks every
log for [alert], [crit] and crashed workers at teardown)."""

import json
import math
import random
import re
import socket
import string
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, x25519

from caller_tokens import (AUDIENCE, INSUFFICIENT, INVALID, ISSUER, IdP, assert_refused, bearer,
                           refused_lines)
from conftest import HOST, SCALE, assert_emerg, b64url, free_port, headers_named, public_jwk, wait_for

JWKS_URI = "/_jwks"
# what nginx logs when a fetched set is not taken, and when a request finds no key
NOT_USED = f'backend_jwt: the JWK Set from "{JWKS_URI}" is not used: '
NO_KEY = "backend_jwt: no verification key: "
NO_SET = f'no key of the JWK Set from "{JWKS_URI}" can be used'
# the proxy's read timeout of the JWKS location, and how long a slow IdP waits past it
PROXY_TIMEOUT = 1
SLOW = 3


# ---------------------------------------------------------------- the identity provider


class Key:
    """A signing key of the identity provider: a fresh P-256 key, its kid, its JWK, and tokens
    signed with it (claims as caller_tokens.IdP.claims makes them: ISSUER, AUDIENCE, sub alice,
    exp in 5 minutes)."""

    def __init__(self, kid):
        self.kid = kid
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.jwk = {**public_jwk(self.private.public_key()), "use": "sig", "alg": "ES256", "kid": kid}

    def token(self, kid=None, **changes):
        return jwt.encode(IdP.claims(**changes), self.private, algorithm="ES256",
                          headers={"kid": kid or self.kid})


def no_usable_key_set():
    """A JWK Set in which no key may verify a signature: an encryption key and an X25519 key."""
    enc = {**public_jwk(ec.generate_private_key(ec.SECP256R1()).public_key()), "use": "enc", "kid": "enc"}
    xdh = {"kty": "OKP", "crv": "X25519", "kid": "xdh",
           "x": b64url(x25519.X25519PrivateKey.generate().public_key().public_bytes_raw())}
    return {"keys": [enc, xdh]}


class LocalIdP:
    """The identity provider's jwks_uri on 127.0.0.1. `mode` says how it answers:
    jwks (the set of `serve`), 404, garbage (invalid JSON), huge (a 10 MiB body), slow (sleeps
    SLOW seconds, past the proxy's read timeout, then answers the set), delay (answers the set
    after `delay` seconds, within the timeout), nokey (a set with no usable key), big (a valid
    set padded past the core's 1 MiB limit), hang (accepts, reads the request, never answers
    until stopped). With `bodies` set, the requests get its sets in turn. `requests` records the
    method, path, headers and body of every request; `count` is their number."""

    def __init__(self, port=0):
        self.lock = threading.Lock()
        self.requests = []
        self.mode = "jwks"
        self.body = b'{"keys":[]}'
        self.bodies = None
        self.cache_control = None
        self.delay = 0.0
        self.released = threading.Event()  # set on stop: a sleeping answer gives up
        self.server = None
        self.port = port

    def start(self):
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with idp.lock:
                    idp.requests.append({"method": self.command, "path": self.path,
                                         "headers": [[k, v] for k, v in self.headers.raw_items()],
                                         "body": body})
                    mode, jwks, cache_control, delay = idp.mode, idp.body, idp.cache_control, idp.delay
                    if idp.bodies:
                        jwks = idp.bodies[(len(idp.requests) - 1) % len(idp.bodies)]
                try:
                    self.answer(mode, jwks, cache_control, delay)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # nginx gave up on a huge or slow answer

            do_POST = do_HEAD = do_GET

            def answer(self, mode, jwks, cache_control, delay):
                if mode == "hang":
                    idp.released.wait()
                    return  # the connection closes unanswered
                if mode == "slow":
                    idp.released.wait(SLOW)
                elif mode == "delay":
                    idp.released.wait(delay)
                status, body = 200, jwks
                if mode == "404":
                    status, body = 404, b'{"error":"not found"}'
                elif mode == "garbage":
                    body = b'{"keys": [ {"kty": "EC", this is not JSON'
                elif mode == "nokey":
                    body = json.dumps(no_usable_key_set()).encode()
                elif mode == "big":  # a valid set, padded past 1 MiB
                    body = jwks[:-1] + b', "padding": "' + b"x" * (2 << 20) + b'"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if cache_control:
                    self.send_header("Cache-Control", cache_control)
                if mode == "huge":
                    size = 10 << 20
                    self.send_header("Content-Length", str(size))
                    self.end_headers()
                    chunk = b" " * (1 << 16)
                    for _ in range(size // len(chunk)):
                        self.wfile.write(chunk)
                    return
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.released.clear()
        self.server = ThreadingHTTPServer((HOST, self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server is not None:
            self.released.set()
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def serve(self, *keys, mode="jwks"):
        """From now on: the JWK Set of `keys`, answered as `mode` says."""
        with self.lock:
            self.body = json.dumps({"keys": [k.jwk for k in keys]}).encode()
            self.mode = mode

    def switch(self, mode):
        with self.lock:
            self.mode = mode

    @property
    def count(self):
        with self.lock:
            return len(self.requests)


@pytest.fixture
def idp():
    """A running identity provider (no keys yet: give them with serve)."""
    server = LocalIdP().start()
    yield server
    server.stop()


@pytest.fixture
def idp_port():
    """(port, start): a loopback port where no identity provider answers yet, and a function
    that starts one there."""
    started = []

    def make():
        server = LocalIdP(port).start()
        started.append(server)
        return server

    port = free_port()
    yield port, make
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def caller_idp(keys, tmp_path_factory):
    """issue 11's identity provider: key files for backend_jwt_verify_key."""
    return IdP(keys, tmp_path_factory.mktemp("idp-files"))


# ---------------------------------------------------------------- nginx


def api(idp_port, body="", jwks="", path="/", checks=True, buffer="64k"):
    """A location that verifies callers' tokens with the JWK Set of /_jwks (issuer and audience
    checked unless `checks` is false; `body` adds directives), passes the caller's sub to the
    backend as X-Sub and says which worker answered (X-Worker); and the internal /_jwks that
    proxies to the IdP on `idp_port`, with 1 s timeouts and room for `buffer` (`jwks` adds)."""
    wanted = f"""backend_jwt_verify_issuer {ISSUER};
            backend_jwt_verify_audience {AUDIENCE};""" if checks else ""
    return f"""
        location {path} {{
            backend_jwt_verify on;
            backend_jwt_verify_jwks {JWKS_URI};
            {wanted}
            {body}
            proxy_set_header X-Sub $backend_jwt_in_claim_sub;
            add_header X-Worker $pid always;
            proxy_pass BACKEND;
        }}
{jwks_location(idp_port, jwks, buffer)}"""


def jwks_location(idp_port, more="", buffer="64k"):
    return f"""
        location = {JWKS_URI} {{
            internal;
            proxy_pass http://{HOST}:{idp_port}/realms/acme/protocol/openid-connect/certs;
            proxy_connect_timeout {PROXY_TIMEOUT}s;
            proxy_read_timeout {PROXY_TIMEOUT}s;
            subrequest_output_buffer_size {buffer};
            {more}
        }}
"""


def passes(n, token, path="/", sub="alice"):
    """The request with `token` reaches the backend with the caller's sub; returns the worker's
    pid that answered."""
    code, headers, body = n.request(path, bearer(token))
    assert code == 200, (code, body[:300], n.log()[-3000:])
    seen = json.loads(body)["headers"]
    assert headers_named(seen, "X-Sub") == [sub], seen
    return (headers_named(headers, "X-Worker") or ["?"])[0]


def unavailable(n, backend, token, path="/"):
    """The request with `token` gets 503 without WWW-Authenticate (the server's fault, not the
    token's) and with Retry-After (whole seconds, 1 to the 5 s of the fetch backoff), and the
    backend is not reached."""
    hits = len(backend.hits)
    code, headers, body = n.request(path, bearer(token))
    assert code == 503, (code, body[:300])
    assert headers_named(headers, "WWW-Authenticate") == [], headers
    retry = headers_named(headers, "Retry-After")
    assert len(retry) == 1 and retry[0].isdigit() and 1 <= int(retry[0]) <= 5, headers
    assert len(backend.hits) == hits, backend.hits[hits:]


def log_lines(n, fragment):
    return [line for line in n.log().splitlines() if fragment in line]


def reason_of(line, prefix=NOT_USED):
    """What a log line says after `prefix`, without the context nginx appends."""
    return re.split(r" while |, client: ", line.split(prefix, 1)[1])[0]


def parallel(count, threads, work):
    """Runs work(i) for i in range(count) on `threads` threads; returns the results in order."""
    results = [None] * count
    lock = threading.Lock()
    todo = iter(range(count))

    def run():
        while True:
            with lock:
                i = next(todo, None)
            if i is None:
                return
            try:
                results[i] = work(i)
            except Exception as e:  # noqa: BLE001 - reported by the caller's assertions
                results[i] = e

    pool = [threading.Thread(target=run, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(60 * SCALE)
    assert not any(t.is_alive() for t in pool)
    return results


def at_second_start(after=0):
    """Sleeps at least `after` seconds and on to just past the start of a whole second. nginx
    counts whole seconds, so a set fresh for 1 s stays fresh for 0 to 1 s: fetched at x.98, it is
    stale 20 ms later. A test that expects requests to find a `1s` set fresh fetches it here."""
    time.sleep(math.ceil(time.time() + after) + 0.02 - time.time())


def stale_after(seconds):
    """Sleeps until a set fetched before the call, fresh for `seconds`, is stale; the set fetched
    next is fresh for nearly all of its time (see at_second_start)."""
    at_second_start(seconds)


# ---------------------------------------------------------------- fetched once


def test_tokens_verify_and_the_set_is_fetched_once(nginx, idp, backend):
    """Many requests, sequential and concurrent, one worker: one fetch; the IdP got a GET of the
    proxied path."""
    key = Key("k1")
    idp.serve(key)
    n = nginx(api(idp.port))
    token = key.token()
    assert idp.count == 0  # nothing fetched before keys are needed
    for _ in range(20):
        passes(n, token)
    results = parallel(40, 8, lambda i: passes(n, token))
    assert all(isinstance(r, str) for r in results), results
    assert idp.count == 1
    got = idp.requests[0]
    assert (got["method"], got["path"]) == ("GET", "/realms/acme/protocol/openid-connect/certs")


CARRIERS = {"header": ("", "X-JWT-Assertion"),
            "variable": ('backend_jwt_header off;\n        proxy_set_header Authorization "Bearer $backend_jwt";',
                         "Authorization")}


@pytest.mark.parametrize("route", ["direct", "redirected"])
@pytest.mark.parametrize("carrier", CARRIERS)
def test_server_level_settings_leave_the_fetch_alone(nginx, idp, backend, keys, carrier, route):
    """Verification and minting turned on at server level reach the JWKS location too (and the
    location it may redirect to, where nginx has cleared the module's context): the fetch still
    passes, and the IdP gets no token, neither a minted one (by header, or by `$backend_jwt`,
    which is empty there) nor the caller's."""
    more, name = CARRIERS[carrier]
    key = Key("k1")
    idp.serve(key)
    certs = f"http://{HOST}:{idp.port}/realms/acme/protocol/openid-connect/certs"
    fetch = jwks_location(idp.port) if route == "direct" else f"""
        location = {JWKS_URI} {{ internal; try_files /nonexistent /_certs; }}
        location = /_certs {{ internal; proxy_pass {certs}; subrequest_output_buffer_size 64k; }}"""
    n = nginx(f"""
        backend_jwt_verify on;
        backend_jwt_verify_jwks {JWKS_URI};
        backend_jwt on;
        backend_jwt_signing_key {keys.rsa};
        backend_jwt_subject $backend_jwt_in_claim_sub;
        {more}
        location / {{
            proxy_pass BACKEND;
        }}
{fetch}""")
    token = key.token()
    code, _, body = n.request("/", bearer(token))
    assert code == 200, (code, n.log()[-2000:])
    sent = headers_named(json.loads(body)["headers"], name)[0].removeprefix("Bearer ")
    assert jwt.decode(sent, keys.public_key, algorithms=["RS256"], options={"verify_aud": False})["sub"] == "alice"
    assert idp.count == 1
    got = idp.requests[0]["headers"]
    assert not any(re.search(r"eyJ[\w-]*\.", value) for _, value in got), got


def test_one_fetch_serves_every_request_waiting_for_it(nginx, idp, backend):
    """A cold worker, 24 concurrent requests, an IdP answering in 0.5 s: every request waits for
    the one fetch and passes."""
    key = Key("k1")
    idp.serve(key, mode="delay")
    idp.delay = 0.5
    n = nginx(api(idp.port))
    token = key.token()
    started = time.monotonic()
    results = parallel(24, 24, lambda i: passes(n, token))
    assert all(isinstance(r, str) for r in results), results
    assert idp.count == 1
    assert time.monotonic() - started >= 0.5


def test_fetched_once_for_every_worker(nginx, idp, backend):
    """Two workers: one fetch serves both (the set is in shared memory), whatever the number of
    requests each serves."""
    key = Key("k1")
    idp.serve(key)
    n = nginx(api(idp.port), workers=2)
    token = key.token()
    pids = parallel(120, 6, lambda i: passes(n, token))
    assert all(isinstance(p, str) for p in pids), pids
    workers = set(pids)
    assert len(workers) == 2, "reuseport sent every connection to one worker"
    assert idp.count == 1


def test_query_of_the_jwks_uri_reaches_the_idp_and_the_clients_does_not(nginx, idp, backend):
    key = Key("k1")
    idp.serve(key)
    n = nginx(f"""
        location / {{
            backend_jwt_verify on;
            backend_jwt_verify_jwks {JWKS_URI}?realm=acme;
            proxy_pass BACKEND;
        }}
{jwks_location(idp.port)}""")
    code, _, _ = n.request("/x?secret=client-only", bearer(key.token()))
    assert code == 200
    assert idp.requests[0]["path"] == "/realms/acme/protocol/openid-connect/certs?realm=acme"


def test_jwks_at_server_level_with_its_location_inheriting_verify(nginx, idp, backend):
    """`backend_jwt_verify on` and the JWKS URI at server level: the /_jwks location inherits
    them, but a subrequest has no access phase, so the fetch is not asked for a token."""
    key = Key("k1")
    idp.serve(key)
    n = nginx(f"""
        backend_jwt_verify on;
        backend_jwt_verify_jwks {JWKS_URI};
        location / {{
            proxy_set_header X-Sub $backend_jwt_in_claim_sub;
            proxy_pass BACKEND;
        }}
{jwks_location(idp.port)}""")
    passes_plain = n.seen("/", bearer(key.token()))
    assert headers_named(passes_plain, "X-Sub") == ["alice"]
    assert idp.count == 1
    code, _, _ = n.request(JWKS_URI)  # internal: not reachable from outside
    assert code == 404


# ---------------------------------------------------------------- the client's request stays here


def test_client_headers_and_body_never_reach_the_idp(nginx, idp, backend):
    key = Key("k1")
    idp.serve(key)
    n = nginx(api(idp.port))
    token = key.token()
    secret_body = b"password=hunter2&card=4111111111111111"
    raw = (f"POST /orders?q=1 HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n"
           f"Cookie: session=s3cr3t-cookie\r\nX-Client-Secret: do-not-forward\r\n"
           f"Content-Type: application/x-www-form-urlencoded\r\n"
           f"Content-Length: {len(secret_body)}\r\nConnection: close\r\n\r\n").encode() + secret_body
    with socket.create_connection((HOST, n.port), timeout=10 * SCALE) as s:
        s.sendall(raw)
        response = b""
        while chunk := s.recv(65536):
            response += chunk
    assert response.startswith(b"HTTP/1.1 200"), response[:300]
    assert idp.count == 1
    got = idp.requests[0]
    assert got["method"] == "GET"
    assert got["body"] == b""
    names = {k.lower() for k, _ in got["headers"]}
    assert not names & {"authorization", "cookie", "x-client-secret", "content-type",
                        "content-length", "transfer-encoding"}, got["headers"]
    text = json.dumps(got["headers"])
    for leak in (token, "s3cr3t", "do-not-forward", "hunter2"):
        assert leak not in text
    assert "q=1" not in got["path"]


# ---------------------------------------------------------------- rotation


def run_load(n, current, threads, stop, results):
    """Requests with current["token"] on `threads` threads until `stop` is set; each result is
    (kid of the token sent, status, body)."""

    def run():
        while not stop.is_set():
            token = current["token"]
            kid = jwt.get_unverified_header(token)["kid"]
            try:
                code, _, body = n.request("/", bearer(token))
            except OSError as e:
                code, body = None, repr(e).encode()
            results.append((kid, code, body[:200]))

    pool = [threading.Thread(target=run, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    return pool


@pytest.mark.parametrize("threads,overlap", [(4, True), (1, False)],
                         ids=["old-and-new-published", "old-replaced"])
def test_rotation_under_steady_load(nginx, idp, backend, threads, overlap):
    """Steady load with the current key's tokens; the IdP rotates to a new key (publishing it
    beside the old one, as IdPs do; or, with one client, replacing it) and the clients switch to
    tokens of the new key: no request fails, and the new kid costs one refetch."""
    old, new = Key("2024-old"), Key("2025-new")
    idp.serve(old)
    n = nginx(api(idp.port, "backend_jwt_verify_jwks_refresh 1s;"))
    current = {"token": old.token()}
    stop, results = threading.Event(), []
    pool = run_load(n, current, threads, stop, results)
    try:
        assert wait_for(lambda: len(results) >= 30)
        time.sleep(1.2)  # past the refresh interval since the first fetch
        assert idp.count == 1
        if overlap:
            idp.serve(old, new)
        else:
            idp.serve(new)
        current["token"] = new.token()
        mark = len(results)
        assert wait_for(lambda: sum(1 for r in results[mark:] if r[0] == new.kid) >= 60)
        time.sleep(0.3)
    finally:
        stop.set()
        for t in pool:
            t.join(10 * SCALE)
    failed = [r for r in results if r[1] != 200]
    assert failed == [], failed[:5]
    assert idp.count == 2, f"{idp.count} fetches"
    print(f"rotation ({threads} clients): {len(results)} requests, {idp.count} fetches")


def test_rotation_with_two_workers_refetches_once(nginx, idp, backend):
    """Two workers share the set: the first fetch serves both, and the new kid costs one refetch
    in all, which the requests of both workers that need it wait for."""
    old, new = Key("old"), Key("new")
    idp.serve(old)
    n = nginx(api(idp.port, "backend_jwt_verify_jwks_refresh 1s;"), workers=2)
    workers = parallel(40, 4, lambda i: passes(n, old.token()))
    assert len(set(workers)) == 2 and idp.count == 1
    time.sleep(1.2)
    idp.serve(old, new)
    token = new.token()
    results = parallel(80, 4, lambda i: passes(n, token))
    assert all(isinstance(r, str) for r in results), [r for r in results if not isinstance(r, str)][:3]
    assert idp.count == 2


def test_unknown_kid_within_the_refresh_interval_is_refused_without_a_fetch(nginx, idp, backend):
    """The refresh interval (default 30 s) counts from the last refetch an unknown kid caused:
    a key published right after the first fetch is fetched at once; another unknown kid right
    after that gets 401 and costs no fetch; known kids still pass."""
    old, new, stranger = Key("old"), Key("new"), Key("stranger")
    idp.serve(old)
    n = nginx(api(idp.port))
    passes(n, old.token())
    idp.serve(old, new)
    passes(n, new.token())
    assert idp.count == 2
    token = stranger.token()
    reason = assert_refused(n, backend, bearer(token), token=token)
    assert 'kid "stranger"' in reason, reason
    assert idp.count == 2
    passes(n, old.token())


def test_refetch_for_a_new_kid_logs_no_refusal_when_the_token_passes(nginx, idp, backend):
    """A token of a key the IdP just published passes after the refetch: no `token refused` line
    for it. A token whose kid the refetched set lacks too is refused with one line, as every
    refusal (issue 11)."""
    old, new, stranger = Key("old"), Key("new"), Key("stranger")
    idp.serve(old)
    n = nginx(api(idp.port, "backend_jwt_verify_jwks_refresh 1s;"))
    passes(n, old.token())
    time.sleep(1.2)
    idp.serve(old, new)
    passes(n, new.token())
    assert idp.count == 2
    assert refused_lines(n.log()) == []
    time.sleep(1.2)
    token = stranger.token()
    assert_refused(n, backend, bearer(token), token=token, reason='kid "stranger"')
    assert idp.count == 3


# ---------------------------------------------------------------- random kids


def test_a_thousand_random_kids_cost_at_most_three_fetches(nginx, idp, backend):
    """A cold worker and 1,000 tokens whose kids the IdP never published, sent by 4 clients:
    each is refused with 401 invalid_token (never 503), the backend sees none, and the IdP at
    most 3 requests; a good token still passes afterwards."""
    key, stranger = Key("real"), Key("stranger")
    idp.serve(key)
    n = nginx(api(idp.port), level="notice")  # no info line per refusal
    alphabet = string.ascii_letters + string.digits
    tokens = [stranger.token(kid="".join(random.choices(alphabet, k=16))) for _ in range(1000)]

    def send(i):
        code, headers, _ = n.request("/", bearer(tokens[i]))
        return code, headers_named(headers, "WWW-Authenticate")

    started = time.monotonic()
    results = parallel(len(tokens), 4, send)
    took = time.monotonic() - started
    bad = [r for r in results if r != (401, [INVALID])]
    assert bad == [], bad[:5]
    assert backend.hits == []
    fetches = idp.count
    assert fetches <= 3
    passes(n, key.token())
    print(f"1000 random kids in {took:.1f}s: {fetches} fetches")


# ---------------------------------------------------------------- the IdP down or broken


def test_idp_stopped_after_the_first_fetch_tokens_still_verify(nginx, idp, backend):
    """The set is fresh for 1 s; the IdP stops: past its freshness the set keeps serving while
    the refetch fails, and the failure is logged with the URI and the reason."""
    key = Key("k1")
    idp.serve(key)
    n = nginx(api(idp.port, "backend_jwt_verify_jwks_cache 1s;"))
    token = key.token()
    at_second_start()
    passes(n, token)
    idp.stop()
    for _ in range(5):
        passes(n, token)  # fresh: no fetch
    stale_after(1)
    for _ in range(5):
        passes(n, token)
    failed = log_lines(n, NOT_USED)
    assert len(failed) == 1, n.log()  # one attempt, then the 5 s backoff
    assert reason_of(failed[0]) == "the response status is 502, not 2xx", failed[0]
    assert "[error]" in failed[0]
    assert log_lines(n, NO_KEY) == []


def test_idp_down_from_the_start(nginx, idp_port, backend):
    """No set ever fetched: 503 without WWW-Authenticate, the backend not reached, the error log
    names the URI and the reason; no retry before 5 s; once the IdP is back and the backoff over,
    tokens verify."""
    port, start_idp = idp_port
    key = Key("k1")
    n = nginx(api(port))
    token = key.token()
    started = time.monotonic()
    unavailable(n, backend, token)
    failed = log_lines(n, NOT_USED)
    assert len(failed) == 1 and reason_of(failed[0]) == "the response status is 502, not 2xx", n.log()
    assert "[error]" in failed[0]
    refused = log_lines(n, NO_KEY)
    assert len(refused) == 1, n.log()
    assert "[error]" in refused[0]
    assert reason_of(refused[0], NO_KEY) == (f"{NO_SET}: the last fetch failed: the response status "
                                             "is 502, not 2xx; request not forwarded"), refused[0]
    assert refused_lines(n.log()) == []  # not a refusal of the token
    # the IdP comes back: within the backoff, still 503 and no attempt
    idp = start_idp()
    idp.serve(key)
    unavailable(n, backend, token)
    assert idp.count == 0
    assert len(log_lines(n, NO_KEY)) == 2
    time.sleep(max(0.0, started + 5.2 - time.monotonic()))
    passes(n, token)
    assert idp.count == 1


def assert_failure_logged(n, reason, count=1):
    """`count` failed fetches logged, the last for `reason` (waited for: a refetch of a stale set
    runs in the background, the request that started it is not held up)."""
    assert wait_for(lambda: len(log_lines(n, NOT_USED)) >= count, 5), n.log()
    lines = log_lines(n, NOT_USED)
    assert len(lines) == count, n.log()
    assert reason.search(reason_of(lines[-1])), lines[-1]
    assert "[error]" in lines[-1]
    return lines[-1]


# mode -> (how the IdP answers, subrequest_output_buffer_size of /_jwks, the reason logged)
FAILURES = {
    "down": ("down", "64k", re.compile(r"^the response status is 502, not 2xx$")),
    "404": ("404", "64k", re.compile(r"^the response status is 404, not 2xx$")),
    "garbage": ("garbage", "64k", re.compile(r"^the JWK Set is not valid JSON: ")),
    # over subrequest_output_buffer_size: the module stops the body before nginx would fail
    # the client's request for it
    "huge-10MiB": ("huge", "64k", re.compile(r"^the body is over 65536 bytes \(the JWKS location's "
                                             r"subrequest_output_buffer_size, at most 1048576\)$")),
    "slow": ("slow", "64k", re.compile(r"^the response status is 504, not 2xx$")),
    "no-usable-key": ("nokey", "64k", re.compile(r"^the JWK Set has no key that may verify signatures")),
    # within the buffer, over the module's limit
    "over-1MiB": ("big", "4m", re.compile(r"^the body is over 1048576 bytes ")),
}


@pytest.mark.parametrize("failure", FAILURES)
def test_failed_fetch_without_a_set(nginx, idp, backend, failure):
    """The first fetch fails: 503 (no WWW-Authenticate), the backend not reached, the reason
    logged with the URI; the next request within the backoff makes no new attempt."""
    mode, buffer, reason = FAILURES[failure]
    key = Key("k1")
    idp.serve(key, mode=mode)
    if mode == "down":
        idp.stop()
    n = nginx(api(idp.port, buffer=buffer))
    token = key.token()
    unavailable(n, backend, token)
    assert idp.count == (0 if mode == "down" else 1)
    assert_failure_logged(n, reason)
    refused = log_lines(n, NO_KEY)
    assert len(refused) == 1 and NO_SET in refused[0], n.log()
    unavailable(n, backend, token)
    assert idp.count == (0 if mode == "down" else 1)
    assert len(log_lines(n, NOT_USED)) == 1


@pytest.mark.parametrize("failure", FAILURES)
def test_failed_refetch_keeps_the_last_good_set(nginx, idp, backend, failure):
    """A good set, fresh for 1 s; the IdP then fails: past the freshness, the refetch fails (one
    attempt, then the backoff) and the old set keeps verifying."""
    mode, buffer, reason = FAILURES[failure]
    key = Key("k1")
    idp.serve(key)
    n = nginx(api(idp.port, "backend_jwt_verify_jwks_cache 1s;", buffer=buffer))
    token = key.token()
    at_second_start()
    passes(n, token)
    assert idp.count == 1
    if mode == "down":
        idp.stop()
    else:
        idp.switch(mode)
    stale_after(1)
    for _ in range(3):
        passes(n, token)
    assert_failure_logged(n, reason)
    assert idp.count == (1 if mode == "down" else 2)
    assert log_lines(n, NO_KEY) == []


def test_failed_refetch_for_an_unknown_kid_keeps_the_set(nginx, idp, backend):
    """A new kid asks for a refetch, which answers garbage: the new token is refused (401), the
    known one still passes."""
    key, new = Key("k1"), Key("k2")
    idp.serve(key)
    n = nginx(api(idp.port, "backend_jwt_verify_jwks_refresh 1s;"))
    passes(n, key.token())
    time.sleep(1.2)
    idp.switch("garbage")
    token = new.token()
    hits = len(backend.hits)
    code, headers, _ = n.request("/", bearer(token))
    assert (code, headers_named(headers, "WWW-Authenticate")) == (401, [INVALID])
    assert len(backend.hits) == hits
    assert idp.count == 2
    assert len(log_lines(n, NOT_USED)) == 1
    passes(n, key.token())


@pytest.mark.parametrize("more", ["", "proxy_ignore_client_abort on;"],
                         ids=["client-abort", "recipe"])
def test_client_gone_while_its_fetch_runs(nginx, idp, backend, more):
    """The client whose request started the fetch closes its connection while the IdP takes
    0.6 s to answer; another request waits for that fetch meanwhile. The IdP answers well: the
    waiting request, and the ones after it, must pass (a client that hangs up must not cost
    everyone else their keys), with no crash and no alert. The fetch is a background subrequest,
    which the client's going away does not end, with proxy_ignore_client_abort or without: the
    one fetch completes."""
    key = Key("k1")
    idp.serve(key, mode="delay")
    idp.delay = 0.6
    n = nginx(api(idp.port, jwks=more))
    token = key.token()
    s = socket.create_connection((HOST, n.port))
    s.sendall(f"GET / HTTP/1.0\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
    assert wait_for(lambda: idp.count == 1, 2)
    got = {}
    waiter = threading.Thread(target=lambda: got.update(status=n.request("/", bearer(token))[0]))
    waiter.start()
    time.sleep(0.1)
    s.close()
    waiter.join(10 * SCALE)
    after = [n.request("/", bearer(token))[0] for _ in range(3)]
    assert (got.get("status"), after) == (200, [200] * 3), n.log()[-1500:]
    assert idp.count == 1


# ---------------------------------------------------------------- subrequests


def subrequest_routes(idp_port, pages):
    """/files/ checks the caller by auth_request to /_check (the module's answer), /public
    mirrors to /api/m, /page.html includes /api/a and /api/b by SSI; /api/ verifies with the
    JWK Set of /_jwks."""
    return f"""
        location /files/ {{
            auth_request /_check;
            auth_request_set $user $backend_jwt_in_claim_sub;
            proxy_set_header X-Sub $user;
            proxy_pass BACKEND;
        }}
        location = /_check {{
            internal;
            backend_jwt_verify on;
            backend_jwt_verify_jwks {JWKS_URI};
            backend_jwt_verify_answer;
        }}
        location /public {{
            mirror /api/m;
            proxy_pass BACKEND;
        }}
        location /page.html {{
            ssi on;
            root {pages};
        }}
        location /api/ {{
            backend_jwt_verify on;
            backend_jwt_verify_jwks {JWKS_URI};
            proxy_set_header X-Sub $backend_jwt_in_claim_sub;
            proxy_pass BACKEND;
        }}
{jwks_location(idp_port)}"""


@pytest.fixture
def pages():
    directory = Path(tempfile.mkdtemp(prefix="bjwt-pages-"))
    directory.chmod(0o755)  # workers run as nobody, and pytest's own directories are private
    (directory / "page.html").write_text('<p><!--# include virtual="/api/a" --><!--# include virtual="/api/b" --></p>\n')
    (directory / "page.html").chmod(0o644)
    return directory


def backend_paths(backend):
    return sorted(h["path"] for h in backend.hits)


@pytest.mark.parametrize("route", ["auth_request", "mirror", "ssi"])
@pytest.mark.parametrize("fetch", ["own", "another's"])
def test_subrequests_fetch_and_wait_for_the_set(nginx, idp, backend, pages, route, fetch):
    """A subrequest that verifies with a cold worker fetches the set itself ("own": the
    subrequest of a subrequest) or waits for another connection's fetch ("another's"). A mirror
    and an SSI include after the first are not the connection's active request: the connection's
    events never wake them, and a mirror's own fetch never ended (nginx could not stop). Each
    route must reach its backend with the caller's sub, and nginx stop cleanly at teardown."""
    key = Key("k1")
    idp.serve(key, mode="delay")
    idp.delay = 0.5
    n = nginx(subrequest_routes(idp.port, pages))
    token = key.token()
    first = None
    if fetch == "another's":
        first = threading.Thread(target=lambda: n.request("/api/first", bearer(token)))
        first.start()
        assert wait_for(lambda: idp.count == 1, 2)
    path, wanted = {"auth_request": ("/files/x", ["/files/x"]), "mirror": ("/public", ["/api/m", "/public"]),
                    "ssi": ("/page.html", ["/api/a", "/api/b"])}[route]
    code, _, body = n.request(path, bearer(token))
    assert code == 200, (code, body[:300])
    if first is not None:
        first.join(10 * SCALE)
        wanted = sorted(wanted + ["/api/first"])
    assert wait_for(lambda: backend_paths(backend) == wanted), (backend_paths(backend), n.log()[-3000:])
    assert all(headers_named(h["headers"], "X-Sub") == ["alice"] for h in backend.hits if h["path"] != "/public")
    assert idp.count == 1


@pytest.mark.parametrize("route", ["mirror", "ssi", "auth_request"])
def test_client_gone_while_its_subrequest_waits(nginx, idp, backend, pages, route):
    """The client of a page whose subrequest waits for another connection's fetch hangs up: its
    wait ends with it (no timer left on freed memory), the fetch completes for the others."""
    key = Key("k1")
    idp.serve(key, mode="delay")
    idp.delay = 0.6
    n = nginx(subrequest_routes(idp.port, pages))
    token = key.token()
    first = threading.Thread(target=lambda: n.request("/api/first", bearer(token)))
    first.start()
    assert wait_for(lambda: idp.count == 1, 2)
    path = {"mirror": "/public", "ssi": "/page.html", "auth_request": "/files/x"}[route]
    s = socket.create_connection((HOST, n.port))
    s.sendall(f"GET {path} HTTP/1.0\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
    if route == "mirror":
        assert wait_for(lambda: "/public" in backend_paths(backend), 2)
    else:
        time.sleep(0.1)
    s.close()
    if route == "auth_request":  # the check is the active request: it notices, and ends
        assert wait_for(lambda: "client prematurely closed connection" in n.log(), 2), n.log()[-2000:]
        assert first.is_alive()  # before the fetch is over
    first.join(10 * SCALE)
    passes(n, token, "/api/after")
    assert idp.count == 1
    assert "/files/x" not in backend_paths(backend)


# ---------------------------------------------------------------- freshness


def test_jwks_cache_time_refetches_once_it_passes(nginx, idp, backend):
    """`backend_jwt_verify_jwks_cache 1s` wins over the response's max-age=300."""
    key = Key("k1")
    idp.serve(key)
    idp.cache_control = "public, max-age=300"
    n = nginx(api(idp.port, "backend_jwt_verify_jwks_cache 1s;"))
    token = key.token()
    at_second_start()
    for _ in range(5):
        passes(n, token)
    assert idp.count == 1
    stale_after(1)
    for _ in range(5):
        passes(n, token)
    assert idp.count == 2


@pytest.mark.parametrize("cache_control", ["max-age=300", "no-cache, max-age=1", "max-age=1", None])
def test_cache_control_freshness_outlasts_the_test(nginx, idp, backend, cache_control):
    """Without backend_jwt_verify_jwks_cache the freshness comes from Cache-Control (max-age=300),
    never under 30 s (max-age=1, no-cache), else 10 minutes: no refetch over more than a second."""
    key = Key("k1")
    idp.serve(key)
    idp.cache_control = cache_control
    n = nginx(api(idp.port))
    token = key.token()
    passes(n, token)
    stale_after(1.3)
    for _ in range(3):
        passes(n, token)
    assert idp.count == 1


def test_stale_set_is_refreshed_and_a_rotated_set_taken(nginx, idp, backend):
    """Fresh for 1 s: after it, the IdP's new set (the old key withdrawn) replaces the old one:
    tokens of the new key pass without a kid-miss refetch; those of the old one are refused,
    after the one refetch an unknown kid may cause (only such refetches count against
    backend_jwt_verify_jwks_refresh), then without any."""
    old, new = Key("old"), Key("new")
    idp.serve(old)
    n = nginx(api(idp.port, "backend_jwt_verify_jwks_cache 1s;"))
    at_second_start()
    passes(n, old.token())
    idp.serve(new)
    stale_after(1)
    passes(n, new.token())
    assert idp.count == 2
    token = old.token()
    assert_refused(n, backend, bearer(token), token=token)
    assert idp.count == 3
    token = old.token()
    assert_refused(n, backend, bearer(token), token=token)
    assert idp.count == 3


# ---------------------------------------------------------------- the verified-token cache


def cached_api(idp_port, path="/", body="", jwks=""):
    return api(idp_port, "backend_jwt_verify_cache size=100;\n" + body, jwks=jwks, path=path)


def test_cache_serves_a_repeated_token(nginx, idp, backend):
    key = Key("k1")
    idp.serve(key)
    n = nginx(cached_api(idp.port))
    token = key.token()
    for _ in range(10):
        passes(n, token)
    other = key.token(sub="bob")
    passes(n, other, sub="bob")
    passes(n, token)
    assert idp.count == 1


def test_cache_never_serves_past_exp_nor_before_nbf(nginx, idp, backend):
    """A token valid for 2 more seconds passes (and is cached), then is refused once its exp
    has passed; a token not valid for 2 seconds is refused, then passes (a refusal is not
    cached)."""
    key = Key("k1")
    idp.serve(key)
    n = nginx(cached_api(idp.port))
    now = int(time.time())
    expiring = key.token(exp=now + 2)
    early = key.token(nbf=now + 2, sub="bob")
    passes(n, expiring)
    passes(n, expiring)
    assert_refused(n, backend, bearer(early), token=early, reason="nbf")
    time.sleep(max(0.0, now + 3.1 - time.time()))
    assert_refused(n, backend, bearer(expiring), token=expiring, reason="exp")
    assert_refused(n, backend, bearer(expiring), token=expiring, reason="exp")
    passes(n, early, sub="bob")


def test_cache_keeps_the_checks_of_each_location(nginx, idp, backend):
    """One token through locations that check another audience or require a role: the checks
    run for every request, cached or not."""
    key = Key("k1")
    idp.serve(key)
    other_audience = f"""
        location /other/ {{
            backend_jwt_verify on;
            backend_jwt_verify_jwks {JWKS_URI};
            backend_jwt_verify_cache size=100;
            backend_jwt_verify_issuer {ISSUER};
            backend_jwt_verify_audience billing-api;
            proxy_pass BACKEND;
        }}
        location /other-issuer/ {{
            backend_jwt_verify on;
            backend_jwt_verify_jwks {JWKS_URI};
            backend_jwt_verify_cache size=100;
            backend_jwt_verify_issuer https://other.example.com;
            proxy_pass BACKEND;
        }}
        location /admin/ {{
            backend_jwt_verify on;
            backend_jwt_verify_jwks {JWKS_URI};
            backend_jwt_verify_cache size=100;
            backend_jwt_verify_issuer {ISSUER};
            backend_jwt_verify_audience {AUDIENCE};
            backend_jwt_verify_require $is_admin error=403;
            proxy_pass BACKEND;
        }}
"""
    n = nginx(cached_api(idp.port) + other_audience, http="""
    map $backend_jwt_in_claim_role $is_admin {
        default 0;
        admin 1;
    }
""")
    user, admin = key.token(role="user"), key.token(role="admin")
    for _ in range(2):
        passes(n, user)
        passes(n, admin)
        assert_refused(n, backend, bearer(user), token=user, path="/other/x", reason="aud")
        assert_refused(n, backend, bearer(user), token=user, path="/other-issuer/x", reason="iss")
        assert_refused(n, backend, bearer(user), challenge=INSUFFICIENT, status=403, token=user,
                       path="/admin/x")
        assert n.request("/admin/x", bearer(admin))[0] == 200
    billing = key.token(aud="billing-api")
    for _ in range(2):
        assert n.request("/other/x", bearer(billing))[0] == 200
    assert_refused(n, backend, bearer(billing), token=billing, reason="aud")
    assert idp.count == 1


def test_cached_token_whose_key_left_the_set_is_refused(nginx, idp, backend):
    """A token verified (and cached) with a key the IdP then withdraws is refused once the new
    set is fetched."""
    old, new = Key("old"), Key("new")
    idp.serve(old)
    n = nginx(cached_api(idp.port, body="backend_jwt_verify_jwks_cache 1s;"))
    token = old.token()
    at_second_start()
    passes(n, token)
    passes(n, token)
    idp.serve(new)
    stale_after(1)
    passes(n, new.token())
    assert idp.count == 2
    assert_refused(n, backend, bearer(token), token=token)


# ---------------------------------------------------------------- with key files


def test_key_files_work_while_the_idp_is_down(nginx, idp_port, backend, caller_idp):
    """`backend_jwt_verify_key` and `backend_jwt_verify_jwks` together, the IdP never reachable:
    tokens of the file's key pass, every time (also within the fetch backoff); a token for the
    IdP's key gets 503, not 401."""
    port, _ = idp_port
    n = nginx(api(port, f"backend_jwt_verify_key {caller_idp.jwk['rsa']};"))
    file_token = caller_idp.token("RS256")
    remote_token = Key("remote").token()
    for _ in range(3):
        passes(n, file_token)
    unavailable(n, backend, remote_token)
    passes(n, file_token)


def test_key_files_and_fetched_keys_both_verify(nginx, idp, backend, caller_idp):
    key = Key("remote")
    idp.serve(key)
    n = nginx(api(idp.port, f"backend_jwt_verify_key {caller_idp.jwk['rsa']};"))
    for _ in range(2):
        passes(n, caller_idp.token("RS256"))
        passes(n, key.token())
    assert idp.count == 1


# ---------------------------------------------------------------- nginx -t


def loc(body):
    return f"""
        location / {{
            backend_jwt_verify on;
            {body}
            proxy_pass BACKEND;
        }}
        location = /_jwks {{ internal; proxy_pass http://{HOST}:9/; }}"""


def directive(name, message):
    return f'"{name}" directive: {message}'


TIME = "use seconds (3600) or nginx time (1h, 90s, 1h 30m)"
BAD_VALUES = {
    "no-slash": ("backend_jwt_verify_jwks _jwks;", directive(
        "backend_jwt_verify_jwks",
        'invalid URI "_jwks"; give the path of a location of this server (/_idp_jwks) that proxies '
        "to the identity provider's JWK Set (proxy_pass https://idp/.../certs)")),
    "absolute-url": ("backend_jwt_verify_jwks https://idp.example.com/certs;", directive(
        "backend_jwt_verify_jwks",
        'invalid URI "https://idp.example.com/certs"; give the path of a location of this server '
        "(/_idp_jwks) that proxies to the identity provider's JWK Set (proxy_pass https://idp/.../certs)")),
    "variable": ("backend_jwt_verify_jwks /_jwks?realm=$arg_realm;", directive(
        "backend_jwt_verify_jwks", 'variables are not supported here: "/_jwks?realm=$arg_realm"')),
    "variable-path": ("backend_jwt_verify_jwks /$host/jwks;", directive(
        "backend_jwt_verify_jwks", 'variables are not supported here: "/$host/jwks"')),
    "cache-0": ("backend_jwt_verify_jwks_cache 0;", directive(
        "backend_jwt_verify_jwks_cache", 'JWKS cache time "0" is shorter than 1s')),
    "cache-2d": ("backend_jwt_verify_jwks_cache 2d;", directive(
        "backend_jwt_verify_jwks_cache", 'JWKS cache time "2d" is longer than 24h')),
    "cache-word": ("backend_jwt_verify_jwks_cache soon;", directive(
        "backend_jwt_verify_jwks_cache", f'invalid JWKS cache time "soon"; {TIME}')),
    "refresh-0s": ("backend_jwt_verify_jwks_refresh 0s;", directive(
        "backend_jwt_verify_jwks_refresh", 'JWKS refresh interval "0s" is shorter than 1s')),
    "refresh-61m": ("backend_jwt_verify_jwks_refresh 61m;", directive(
        "backend_jwt_verify_jwks_refresh", 'JWKS refresh interval "61m" is longer than 1h')),
    "refresh-ms": ("backend_jwt_verify_jwks_refresh 500ms;", directive(
        "backend_jwt_verify_jwks_refresh", f'invalid JWKS refresh interval "500ms"; {TIME}')),
    "size-0": ("backend_jwt_verify_cache size=0;", directive(
        "backend_jwt_verify_cache", 'invalid argument "size=0"; use size=1..1000000 or off')),
    "size-too-big": ("backend_jwt_verify_cache size=1000001;", directive(
        "backend_jwt_verify_cache", 'invalid argument "size=1000001"; use size=1..1000000 or off')),
    "size-missing": ("backend_jwt_verify_cache on;", directive(
        "backend_jwt_verify_cache", 'invalid argument "on"; use size=1..1000000 or off')),
}


# every value in a location and at server level; one of each directive at http level
LEVELS = ([(case, "location") for case in BAD_VALUES] + [(case, "server") for case in BAD_VALUES]
          + [(case, "http") for case in ("no-slash", "cache-0", "refresh-0s", "size-0")])


@pytest.mark.parametrize("case,level", LEVELS)
def test_bad_values_fail_nginx_t_at_their_line(nginx_t, case, level):
    line, message = BAD_VALUES[case]
    marked = line + " #HERE"
    if level == "location":
        result = nginx_t(loc(f"backend_jwt_verify_jwks {JWKS_URI};\n            {marked}"
                             if not line.startswith("backend_jwt_verify_jwks ") else marked))
    elif level == "server":
        result = nginx_t(marked + "\n" + loc(f"backend_jwt_verify_jwks {JWKS_URI};"))
    else:
        result = nginx_t(loc(f"backend_jwt_verify_jwks {JWKS_URI};"), http="    " + marked)
    assert_emerg(result, message)


@pytest.mark.parametrize("line", ["backend_jwt_verify_jwks /_jwks;", "backend_jwt_verify_jwks_cache 1m;",
                                  "backend_jwt_verify_jwks_refresh 1m;", "backend_jwt_verify_cache size=5;"])
def test_duplicate_directive(nginx_t, line):
    name = line.split()[0]
    result = nginx_t(loc(f"backend_jwt_verify_jwks {JWKS_URI};\n            {line}\n            {line} #HERE"
                         if name != "backend_jwt_verify_jwks" else f"{line}\n            {line} #HERE"))
    assert_emerg(result, f'"{name}" directive is duplicate')


def test_jwks_off_leaves_verify_without_a_key(nginx_t):
    result = nginx_t(f"backend_jwt_verify_jwks {JWKS_URI};\n" + f"""
        location / {{
            backend_jwt_verify on; #HERE
            backend_jwt_verify_jwks off;
            proxy_pass BACKEND;
        }}""")
    assert_emerg(result, '"backend_jwt_verify on" needs a key: add backend_jwt_verify_key or '
                         "backend_jwt_verify_jwks")


def test_one_uri_with_two_refresh_intervals_fails_at_the_second(nginx_t):
    result = nginx_t(f"""
        backend_jwt_verify_jwks {JWKS_URI};
        location /a/ {{
            backend_jwt_verify on;
            backend_jwt_verify_jwks_refresh 1m;
            proxy_pass BACKEND;
        }}
        location /b/ {{
            backend_jwt_verify on;
            backend_jwt_verify_jwks_refresh 2m; #HERE
            proxy_pass BACKEND;
        }}""")
    code, out, conf, line = result
    assert code != 0, out
    emerg = [l for l in out.splitlines() if l.startswith("nginx: [emerg] ")]
    assert len(emerg) == 1, out
    assert emerg[0].endswith(f" in {conf}:{line}"), emerg[0]
    assert "backend_jwt_verify_jwks_refresh 120s conflicts with 60s" in emerg[0], emerg[0]


def test_good_values_pass_nginx_t(nginx_t):
    code, out, _, _ = nginx_t(loc(f"""backend_jwt_verify_jwks {JWKS_URI}?realm=acme;
            backend_jwt_verify_jwks_cache "1h 30m";
            backend_jwt_verify_jwks_refresh 1;
            backend_jwt_verify_cache size=1000000;"""))
    assert code == 0, out
