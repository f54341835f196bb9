"""Custom claims: types, conversion failures, empty values, JSON escaping."""

import base64
import json

import pytest

from conftest import location, only_token, payload_json, verify

GOOD = [
    ("string", "hello", "hello"),
    ("int", "42", 42),
    ("int", "-2147483648", -2147483648),
    ("int", "2147483647", 2147483647),
    ("int", "007", 7),
    ("long", "9223372036854775807", 9223372036854775807),
    ("long", "-5", -5),
    ("float", "1.5", 1.5),
    ("float", "-2e3", -2000.0),
    ("float", "0", 0),
    ("bool", "true", True),
    ("bool", "FALSE", False),
    ("bool", "1", True),
    ("bool", "0", False),
    ("date", "2025-01-31T12:00:00Z", 1738324800),
    ("date", "2025-01-31T14:00:00+02:00", 1738324800),
    ("date", "2025-01-31T10:30:00.75-01:30", 1738324800),
    ("date", "1738324800", 1738324800),
]

BAD = [
    ("int", "abc", "is not an int"),
    ("int", "2147483648", "is not an int"),
    ("int", "1.5", "is not an int"),
    ("int", "+5", "is not an int"),
    ("long", "9223372036854775808", "is not a long"),
    ("long", "x", "is not a long"),
    ("float", "1.", "is not a float"),
    ("float", "01", "is not a float"),
    ("float", "NaN", "is not a float"),
    ("bool", "yes", "is not a bool"),
    ("bool", "2", "is not a bool"),
    ("date", "2025-02-30T00:00:00Z", "is not a date"),
    ("date", "2025-01-31", "is not a date"),
    ("date", "2025-01-31T12:00:00", "is not a date"),
]


def typed(keys, type_):
    return location(keys, f"backend_jwt_claim c_{type_} $arg_v type={type_};")


@pytest.mark.parametrize("type_, value, expected", GOOD, ids=[f"{t}-{v}" for t, v, _ in GOOD])
def test_good_value(nginx, keys, backend, type_, value, expected):
    n = nginx(typed(keys, type_))
    token = only_token(n.seen(f"/?v={value}"))
    got = verify(token, keys)[f"c_{type_}"]
    assert got == expected and type(got) is type(expected)
    if type_ == "float":  # written as given: a JSON number, not a string
        assert dict(payload_json(token))[f"c_{type_}"] == json.loads(value)


@pytest.mark.parametrize("type_, value, why", BAD, ids=[f"{t}-{v}" for t, v, _ in BAD])
def test_bad_value_fails_closed(nginx, keys, backend, type_, value, why):
    n = nginx(typed(keys, type_))
    code, _, _ = n.request(f"/?v={value}", [("X-JWT-Assertion", "client")])
    assert code == 500
    assert backend.hits == []
    assert ('[error] ' in n.log() and
            f'backend_jwt: no token, request not forwarded: claim "c_{type_}": value "{value}" {why}'
            in n.log()), n.log()


def test_type_option_is_case_insensitive(nginx, keys, backend):
    n = nginx(location(keys, "backend_jwt_claim n $arg_v type=INT;"))
    assert verify(only_token(n.seen("/?v=5")), keys)["n"] == 5


def test_empty_values_are_left_out(nginx, keys, backend):
    n = nginx(location(keys, """
            backend_jwt_issuer $arg_i;
            backend_jwt_subject $arg_s;
            backend_jwt_claim s $arg_v;
            backend_jwt_claim i $arg_v type=int;
            backend_jwt_claim b $arg_v type=bool;
            backend_jwt_claim d $arg_v type=date;
            backend_jwt_claim literal fixed;
        """))
    token = only_token(n.seen("/"))
    verify(token, keys)
    assert [k for k, _ in payload_json(token)] == ["iat", "exp", "jti", "literal"]
    token = only_token(n.seen("/?i=me&s=you&v=1"))
    assert verify(token, keys) | {"iat": 0, "exp": 0, "jti": 0} == {
        "iss": "me", "sub": "you", "iat": 0, "exp": 0, "jti": 0,
        "s": "1", "i": 1, "b": True, "d": 1, "literal": "fixed"}


def test_header_values_round_trip(nginx, keys, backend):
    n = nginx(location(keys, "backend_jwt_claim v $http_x_val; backend_jwt_max_size 64k;"))
    cases = [
        (b'quote " backslash \\ end', 'quote " backslash \\ end'),
        ("Zoë – 日本 🎉".encode(), "Zoë – 日本 🎉"),
        (b"a\xffb\xc3(c\xed\xa0\x80d\xf4\x90\x80\x80", "a\ufffdb\ufffd(c\ufffd\ufffd\ufffdd\ufffd\ufffd\ufffd\ufffd"),
        (b"tab\there\x01\x1f\x7f", "tab\there\x01\x1f\x7f"),
        (b'"' * 3000 + b"\x01" * 3000, '"' * 3000 + "\x01" * 3000),  # worst-case expansion
    ]
    for raw, expected in cases:
        assert verify(only_token(n.seen("/", [("X-Val", raw)])), keys)["v"] == expected


def test_control_characters_round_trip(nginx, keys, backend):
    # $arg_ is not URL-decoded by nginx; $uri (here via a regex capture) is, and
    # $binary_remote_addr holds 7f 00 00 01.
    n = nginx(location(keys, """
            backend_jwt_claim uri $1;
            backend_jwt_claim arg $arg_v;
            backend_jwt_claim bin $binary_remote_addr;
        """, path="~ ^/esc/([\\s\\S]*)$"))
    token = only_token(n.seen("/esc/a%0Ab%0Dc%09d%08e%0Cf%01g%1Fh%22i%5Cj?v=%0A%00"))
    claims = verify(token, keys)
    assert claims["uri"] == 'a\nb\rc\td\be\ff\x01g\x1fh"i\\j'
    assert claims["arg"] == "%0A%00"
    assert claims["bin"] == "\x7f\x00\x00\x01"
    segment = token.split(".")[1]
    raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)).decode()
    assert r'"uri":"a\nb\rc\td\be\ff\u0001g\u001fh\"i\\j"' in raw
    assert '"bin":"\x7f\\u0000\\u0000\\u0001"' in raw


def test_injection_stays_inside_its_claim(nginx, keys, backend):
    n = nginx(location(keys, """
            backend_jwt_subject $http_x_user;
            backend_jwt_claim tenant $http_x_tenant;
        """))
    attack = '","admin":true,"x":"'
    token = only_token(n.seen("/", [("X-Tenant", attack), ("X-User", 'bob","sub":"root')]))
    claims = verify(token, keys)
    assert claims["tenant"] == attack
    assert claims["sub"] == 'bob","sub":"root'
    assert [k for k, _ in payload_json(token)] == ["sub", "iat", "exp", "jti", "tenant"]


def test_bad_value_is_quoted_in_the_log(nginx, keys, backend):
    n = nginx(location(keys, "backend_jwt_claim n $1 type=int;", path="~ ^/n/([\\s\\S]*)$"))
    code, _, _ = n.request("/n/1%0A2%22" + "9" * 100)
    assert code == 500 and backend.hits == []
    line = next(l for l in n.log().splitlines() if "backend_jwt: no token" in l)
    assert 'claim "n": value "1\\x0a2\\x22' + "9" * 60 + '"... is not an int' in line


def test_claim_names_are_json_escaped(nginx, keys, backend):
    n = nginx(location(keys, """
            backend_jwt_claim 'we"ird\\\\name' x;
            backend_jwt_claim "ünï" y;
        """))
    token = only_token(n.seen("/"))
    claims = verify(token, keys)
    assert claims['we"ird\\name'] == "x" and claims["ünï"] == "y"
