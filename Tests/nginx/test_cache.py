"""backend_jwt_cache: a reused token always has time left, and options that can never work fail
`nginx -t`."""

import re
import time

import pytest

from conftest import assert_emerg, only_token, payload_json, signing_location


def directive(name, message):
    return f'"{name}" directive: {message}'


def test_a_cached_token_is_never_served_expired(nginx, keys, backend):
    """TTL 5 s with the default min_remaining (10%, half a second): every token the backend gets
    has `exp` after the time nginx sent it ($msec, the clock the module reads), over more than
    one TTL, while most requests are still served from the cache."""
    n = nginx(signing_location(keys, "RS256", """backend_jwt_token_ttl 5;
            backend_jwt_cache size=10;
            proxy_set_header X-Now $msec;"""))
    jtis = set()
    deadline = time.monotonic() + 7
    count = 0
    while time.monotonic() < deadline:
        seen = n.seen("/")
        now = int(float(only_token(seen, "X-Now")))
        claims = dict(payload_json(only_token(seen)))
        assert claims["exp"] > now, (claims, now)
        jtis.add(claims["jti"])
        count += 1
        time.sleep(0.05)
    assert count > 20 and len(jtis) < count / 3, (count, len(jtis))  # most from the cache




@pytest.mark.parametrize("options, name", [("size=10 size=20", "size="),
                                           ("size=10 min_remaining=5s min_remaining=10%", "min_remaining=")])
def test_cache_option_given_twice(nginx_t, keys, options, name):
    result = nginx_t(signing_location(keys, "RS256", f"backend_jwt_cache {options}; #HERE"))
    assert_emerg(result, directive("backend_jwt_cache", f'option "{name}" is given twice'))


@pytest.mark.parametrize("ttl, option, shown", [("10", "min_remaining=10s", "10s"), ("1m", "min_remaining=2m", "120s"),
                                                ("60", "min_remaining=100%", "100%")])
def test_cache_that_could_never_serve(nginx_t, keys, ttl, option, shown):
    code, out, conf, line = nginx_t(signing_location(
        keys, "RS256", f"backend_jwt_token_ttl {ttl};\n backend_jwt_cache size=10 {option}; #HERE"))
    assert code != 0
    seconds = 60 if ttl == "1m" else int(ttl)
    message = (f"backend_jwt: cache min_remaining={shown} is not shorter than the token TTL ({seconds}s): no cached "
               "token could be reused; lower min_remaining")
    # the error points at the backend_jwt_cache line
    assert re.search(re.escape(message) + r".* in " + re.escape(f"{conf}:{line}") + "$", out, re.M), out
