"""The fetched JWK Set in shared memory (issue 20): one set per `backend_jwt_verify_jwks` URI for
the whole nginx, kept across reloads, refreshed in the background while a stale set serves, a
bounded wait (`backend_jwt_verify_jwks_wait`) where there is no set, one fetch at a time for every
worker, and a worker killed during a fetch costs nothing but that fetch.

The identity provider is test_verify_jwks's LocalIdP, which counts every request, can be stopped,
hung (accepts, never answers) or broken; its JWKS location here passes the fetching worker's pid
(X-Worker) so a test knows which worker runs a fetch. Timings are measured from the client."""

import json
import os
import random
import re
import signal
import string
import threading
import time

import pytest

from caller_tokens import AUDIENCE, INVALID, ISSUER, bearer
from conftest import HOST, SCALE, assert_emerg, headers_named, wait_for
from test_verify_jwks import (JWKS_URI, NO_KEY, NOT_USED, Key, LocalIdP, at_second_start, idp, idp_port,  # noqa: F401
                              log_lines, parallel, passes, unavailable)

WORKERS = 4


def fetch_location(idp_port, timeout=1, more=""):
    """The internal JWKS location, with proxy timeouts of `timeout` seconds; the IdP learns the
    fetching worker's pid."""
    return f"""
        location = {JWKS_URI} {{
            internal;
            proxy_pass http://{HOST}:{idp_port}/realms/acme/protocol/openid-connect/certs;
            proxy_connect_timeout {timeout}s;
            proxy_read_timeout {timeout}s;
            proxy_set_header X-Worker $pid;
            subrequest_output_buffer_size 256k;
            {more}
        }}
"""


def protected(idp_port, body="", timeout=1, uri=JWKS_URI):
    return f"""
        location / {{
            backend_jwt_verify on;
            backend_jwt_verify_jwks {uri};
            backend_jwt_verify_issuer {ISSUER};
            backend_jwt_verify_audience {AUDIENCE};
            {body}
            proxy_set_header X-Sub $backend_jwt_in_claim_sub;
            add_header X-Worker $pid always;
            proxy_pass BACKEND;
        }}
{fetch_location(idp_port, timeout)}"""


def fetchers(idp):
    """The worker pid of each request the IdP got."""
    with idp.lock:
        return [int(v) for r in idp.requests for k, v in r["headers"] if k.lower() == "x-worker"]


def worker_pids(n):
    return {int(pid) for _, pid in n.workers()}


class TokenLoad:
    """`threads` clients sending requests with `token()` until stopped; each result is
    (status, seconds taken, worker pid or None, Retry-After or None)."""

    def __init__(self, n, token, threads=4):
        self.n, self.token, self.results = n, token, []
        self.stopped = threading.Event()
        self.pool = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]
        for t in self.pool:
            t.start()

    def run(self):
        while not self.stopped.is_set():
            started = time.monotonic()
            try:
                code, headers, _ = self.n.request("/", bearer(self.token()))
                worker = (headers_named(headers, "X-Worker") or [None])[0]
                retry = (headers_named(headers, "Retry-After") or [None])[0]
            except OSError as e:
                code, worker, retry = repr(e), None, None
            self.results.append((code, time.monotonic() - started, worker, retry))

    def wait(self, more, timeout=20):
        target = len(self.results) + more
        assert wait_for(lambda: len(self.results) >= target, timeout), "load stalled"

    def stop(self):
        self.stopped.set()
        for t in self.pool:
            t.join(30 * SCALE)
        assert not any(t.is_alive() for t in self.pool)
        return self.results


# ---------------------------------------------------------------- one fetch for every worker


def test_four_workers_one_second_freshness_ten_seconds(nginx, idp, backend):
    """4 workers, a set fresh for 1 s, 10 s of steady load: at most one fetch per second for the
    whole nginx (11 in all), no request fails, and fetches come from several workers."""
    key = Key("k1")
    idp.serve(key)
    n = nginx(protected(idp.port, "backend_jwt_verify_jwks_cache 1s;"), workers=WORKERS)
    token = key.token()
    load = TokenLoad(n, lambda: token, threads=8)
    try:
        load.wait(20)
        start, count = time.monotonic(), idp.count
        time.sleep(10)  # the measured window itself: 10 s of load
        fetched = idp.count - count
    finally:
        results = load.stop()
    failed = [r for r in results if r[0] != 200]
    assert failed == [], failed[:5]
    assert fetched <= 11, fetched
    assert len({r[2] for r in results}) == WORKERS
    print(f"4 workers, 1 s freshness: {fetched} fetches in {time.monotonic() - start:.1f} s, "
          f"{len(results)} requests, fetched by {len(set(fetchers(idp)))} workers")


def test_a_thousand_unknown_kids_over_four_workers(nginx, idp, backend):
    """1,000 tokens with kids the IdP never published, over 4 workers: each is refused with 401
    invalid_token (never 503), the backend sees none, and the whole nginx fetches at most what
    the README documents: the first fetch, then one refetch per backend_jwt_verify_jwks_refresh
    (30 s) for unknown kids."""
    key, stranger = Key("real"), Key("stranger")
    idp.serve(key)
    n = nginx(protected(idp.port), workers=WORKERS, level="notice")
    alphabet = string.ascii_letters + string.digits
    tokens = [stranger.token(kid="".join(random.choices(alphabet, k=16))) for _ in range(1000)]

    def send(i):
        code, headers, _ = n.request("/", bearer(tokens[i]))
        return code, headers_named(headers, "WWW-Authenticate"), (headers_named(headers, "X-Worker") or [""])[0]

    started = time.monotonic()
    results = parallel(len(tokens), 8, send)
    took = time.monotonic() - started
    bad = [r for r in results if r[:2] != (401, [INVALID])]
    assert bad == [], bad[:5]
    assert len({r[2] for r in results}) == WORKERS
    assert backend.hits == []
    allowed = 2 + int(took // 30)
    assert idp.count <= allowed, (idp.count, took)
    passes(n, key.token())
    print(f"1000 unknown kids over 4 workers in {took:.1f} s: {idp.count} fetches (at most {allowed})")


# ---------------------------------------------------------------- reloads


def reload(n, server, workers=WORKERS, http=""):
    """Writes the conf, SIGHUP, waits until only new workers run."""
    old = worker_pids(n)
    n.write_conf(server, http, workers=workers)
    os.kill(n.pid, signal.SIGHUP)
    assert wait_for(lambda: len(worker_pids(n)) == workers and worker_pids(n).isdisjoint(old), 20), n.log()
    return old


def test_reload_with_the_idp_stopped_loses_no_request(nginx, idp, backend):
    """4 workers, steady load of valid tokens, the set stale every second; the IdP stops, then a
    reload replaces every worker: no request fails across it, no fetch succeeds meanwhile, and
    the new workers verify at once with the set they find in the zone."""
    key = Key("k1")
    idp.serve(key)
    conf = protected(idp.port, "backend_jwt_verify_jwks_cache 1s;")
    n = nginx(conf, workers=WORKERS)
    token = key.token()
    load = TokenLoad(n, lambda: token, threads=4)
    try:
        load.wait(20)
        idp.stop()
        load.wait(20)
        old = reload(n, conf + "        # reloaded\n")
        mark = len(load.results)
        load.wait(100)
    finally:
        results = load.stop()
    failed = [r for r in results if r[0] != 200]
    assert failed == [], failed[:5]
    new = {int(r[2]) for r in results[mark:] if r[2]}
    assert new and new.isdisjoint(old), (new, old)
    # every attempt after the IdP stopped failed, none got through
    assert log_lines(n, NO_KEY) == []
    print(f"reload with the IdP down: {len(results)} requests, 0 failed, "
          f"{len(log_lines(n, NOT_USED))} failed fetch attempts logged")


@pytest.mark.parametrize("change", ["uri", "zone-size"])
def test_reload_that_changes_the_uri_or_the_zone_starts_empty(nginx, idp, backend, change):
    """A reload that names another URI (a query added), or gives the zone another size, finds no
    set: with the IdP down, its tokens get 503 with Retry-After; the IdP back, they verify."""
    key = Key("k1")
    idp.serve(key)
    n = nginx(protected(idp.port), workers=2)
    passes(n, key.token())
    port = idp.port
    idp.stop()
    if change == "uri":
        reload(n, protected(port, uri=JWKS_URI + "?v=2"), workers=2)
    else:
        reload(n, protected(port), workers=2, http="    backend_jwt_verify_jwks_zone 2m;\n")
    unavailable(n, backend, key.token())
    back = LocalIdP(port).start()
    try:
        back.serve(key)
        assert wait_for(lambda: n.request("/", bearer(key.token()))[0] == 200, 10)
    finally:
        back.stop()


# ---------------------------------------------------------------- a hanging identity provider


def latencies(n, token, count=20):
    out = []
    for _ in range(count):
        started = time.monotonic()
        passes(n, token)
        out.append(time.monotonic() - started)
    return out


def test_hanging_idp_with_a_stale_set_holds_no_request_up(nginx, idp, backend):
    """The JWKS location waits 30 s for the IdP, which accepts and never answers: with a stale
    set, no request takes more than 0.5 s longer than with a healthy IdP (the refresh runs in the
    background), and one fetch at a time runs."""
    key = Key("k1")
    idp.serve(key)
    n = nginx(protected(idp.port, "backend_jwt_verify_jwks_cache 1s;", timeout=30), workers=2)
    token = key.token()
    at_second_start()
    healthy = latencies(n, token)
    idp.switch("hang")
    at_second_start(1)  # stale now
    hung = latencies(n, token, 40)
    assert idp.count >= 2
    print(f"healthy max {max(healthy) * 1000:.0f} ms; IdP hanging, stale set: max {max(hung) * 1000:.0f} ms "
          f"over {len(hung)} requests; {idp.count} fetches")
    assert max(hung) <= max(healthy) + 0.5, (healthy, hung)
    assert idp.count == 2  # the hanging refresh is the one fetch


def test_hanging_idp_without_a_set_answers_503_within_the_wait(nginx, idp, backend):
    """No set yet, the IdP hangs, the JWKS location would wait 30 s: each of 8 concurrent
    requests answers 503 with Retry-After within backend_jwt_verify_jwks_wait (1 s) + 0.5 s, and
    one fetch runs for them all."""
    key = Key("k1")
    idp.serve(key, mode="hang")
    n = nginx(protected(idp.port, "backend_jwt_verify_jwks_wait 1s;", timeout=30), workers=2)
    token = key.token()

    def one(i):
        started = time.monotonic()
        code, headers, _ = n.request("/", bearer(token))
        return code, time.monotonic() - started, headers_named(headers, "Retry-After")

    results = parallel(8, 8, one)
    bad = [r for r in results if r[0] != 503 or len(r[2]) != 1 or not 1 + 0.5 >= r[1] >= 0.9]
    assert bad == [], results
    assert idp.count == 1
    lines = log_lines(n, NO_KEY)
    assert len(lines) == 8 and all("it is being fetched" in line for line in lines), lines[:2]
    print("IdP hanging, no set, wait 1s: 503 in " + ", ".join(f"{r[1]:.2f}" for r in results) + " s")


def test_wait_zero_answers_at_once(nginx, idp, backend):
    """backend_jwt_verify_jwks_wait 0: a request that finds no set does not wait: 503 at once
    while the fetch runs, and the next one passes once it is done."""
    key = Key("k1")
    idp.serve(key, mode="delay")
    idp.delay = 0.5
    n = nginx(protected(idp.port, "backend_jwt_verify_jwks_wait 0;"))
    unavailable(n, backend, key.token())
    assert wait_for(lambda: n.request("/", bearer(key.token()))[0] == 200, 5)
    assert idp.count == 1


# ---------------------------------------------------------------- a worker killed during a fetch


def test_worker_killed_during_a_fetch(nginx, idp, backend):
    """4 workers with a stale set; the IdP hangs, and the worker that runs the refresh is killed
    (SIGKILL): the others keep verifying, the next request starts another fetch at once (the
    killed worker's fetch is not taken as running), which brings the IdP's new set, and the log
    has no [alert] but nginx's own about the killed worker."""
    old, new = Key("old"), Key("new")
    idp.serve(old)
    n = nginx(protected(idp.port, "backend_jwt_verify_jwks_cache 1s;", timeout=30), workers=WORKERS)
    token = old.token()
    at_second_start()
    passes(n, token)
    idp.switch("hang")
    at_second_start(1)
    passes(n, token)  # stale: starts the refresh, which hangs
    assert wait_for(lambda: idp.count == 2, 5)
    victim = fetchers(idp)[-1]
    os.kill(victim, signal.SIGKILL)
    n.allowed.append(rf"worker process {victim} exited on signal 9")
    idp.serve(old, new)  # answers again, with a new key
    started = time.monotonic()
    assert wait_for(lambda: n.request("/", bearer(new.token()))[0] == 200, 10), n.log()[-3000:]
    took = time.monotonic() - started
    assert took < 3, took  # not the 5 s wait for a fetch that no worker runs any more
    results = parallel(40, 4, lambda i: passes(n, token))
    assert all(isinstance(r, str) for r in results), results[:3]
    assert victim not in fetchers(idp)[2:]
    assert idp.count <= 4
    alerts = [line for line in n.log().splitlines() if "[alert]" in line]
    assert all(f"worker process {victim} exited on signal 9" in line for line in alerts), alerts
    print(f"worker {victim} killed during a fetch: the next fetch and a new kid's token in {took:.2f} s")


# ---------------------------------------------------------------- never torn


def big_set(key, padding_keys):
    """The JWK Set of `key` and `padding_keys` other keys (some KiB, so a copy takes a while)."""
    return json.dumps({"keys": [key.jwk] + [Key(f"pad{i}").jwk for i in range(padding_keys)]}).encode()


def test_alternating_sets_under_load_are_never_torn(nginx, idp, backend):
    """The IdP answers two sets in turn whose key "k" differs (and 40 padding keys each); 4
    workers, 8 clients, a set fresh for 1 s, until 8 refreshes have run: every request verifies
    against the old or the new set (200 with a token of the set's key, 401 "signature does not
    verify" with the other's), never a 5xx or a set that is not used."""
    a, b = Key("k"), Key("k")
    idp.bodies = [big_set(a, 40), big_set(b, 40)]
    n = nginx(protected(idp.port, "backend_jwt_verify_jwks_cache 1s;"), workers=WORKERS)
    tokens = [a.token(), b.token()]
    turn = iter(range(1 << 30))
    load = TokenLoad(n, lambda: tokens[next(turn) % 2], threads=8)
    try:
        assert wait_for(lambda: idp.count >= 9, 30 * SCALE), idp.count
    finally:
        results = load.stop()
    statuses = {r[0] for r in results}
    assert statuses <= {200, 401}, [r for r in results if r[0] not in (200, 401)][:5]
    assert statuses == {200, 401}
    assert log_lines(n, NOT_USED) == [] and log_lines(n, "is not used") == []
    refused = [line for line in log_lines(n, "token refused") if "signature does not verify" not in line]
    assert refused == [], refused[:3]
    print(f"alternating sets: {idp.count} fetches, {len(results)} requests, "
          f"{sum(1 for r in results if r[0] == 200)} passed")


# ---------------------------------------------------------------- the zone's size


def test_a_set_that_does_not_fit_the_zone_fails_its_fetch(nginx, idp, backend):
    """A 32k zone and a set of about 45 KiB: the fetch fails with a message naming the zone's
    size, the request gets 503 with Retry-After."""
    key = Key("k1")
    idp.body = big_set(key, 250)
    assert 32 * 1024 < len(idp.body) < 256 * 1024, len(idp.body)
    n = nginx(protected(idp.port), http="    backend_jwt_verify_jwks_zone 32k;\n")
    unavailable(n, backend, key.token())
    lines = log_lines(n, NOT_USED)
    assert len(lines) == 1, n.log()
    assert re.search(rf"the set \({len(idp.body)} bytes\) does not fit in the free space of "
                     r"backend_jwt_verify_jwks_zone \(32768 bytes in all\)", lines[0]), lines[0]


BAD = {
    "size-small": ("backend_jwt_verify_jwks_zone 16k;",
                   '"backend_jwt_verify_jwks_zone" directive: invalid size "16k"; use 32k to 1024m '
                   "(nginx's size syntax: 512k, 2m)"),
    "size-word": ("backend_jwt_verify_jwks_zone big;", '"backend_jwt_verify_jwks_zone" directive: invalid size "big"; '
                  "use 32k to 1024m (nginx's size syntax: 512k, 2m)"),
    "wait-long": ("backend_jwt_verify_jwks_wait 2m;",
                  '"backend_jwt_verify_jwks_wait" directive: JWKS wait time "2m" is longer than 60s'),
    "wait-word": ("backend_jwt_verify_jwks_wait soon;",
                  '"backend_jwt_verify_jwks_wait" directive: invalid JWKS wait time "soon"; use nginx time '
                  "(3s, 1500ms, 0)"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_values_fail_nginx_t(nginx_t, case):
    line, message = BAD[case]
    more = "" if "zone" in line else f"\n            {line} #HERE"
    result = nginx_t(f"""
        location / {{
            backend_jwt_verify on;
            backend_jwt_verify_jwks {JWKS_URI};{more}
            proxy_pass BACKEND;
        }}
        location = {JWKS_URI} {{ internal; proxy_pass http://{HOST}:9/; }}""",
                     http=f"    {line} #HERE" if "zone" in line else "")
    assert_emerg(result, message)


def test_zone_only_at_http_level(nginx_t):
    result = nginx_t(f"""
        backend_jwt_verify_jwks_zone 1m; #HERE
        location / {{
            backend_jwt_verify on;
            backend_jwt_verify_jwks {JWKS_URI};
            proxy_pass BACKEND;
        }}""")
    assert_emerg(result, '"backend_jwt_verify_jwks_zone" directive is not allowed here')


def test_zone_given_twice(nginx_t):
    result = nginx_t(f"""
        location / {{
            backend_jwt_verify on;
            backend_jwt_verify_jwks {JWKS_URI};
            proxy_pass BACKEND;
        }}""", http="    backend_jwt_verify_jwks_zone 1m;\n    backend_jwt_verify_jwks_zone 2m; #HERE")
    assert_emerg(result, '"backend_jwt_verify_jwks_zone" directive is duplicate')
