"""Hostile values mapped into claims: quotes, backslashes, CR, LF, NUL, invalid UTF-8, JSON
fragments, braces, very long text. The token stays valid JSON in valid UTF-8, each value stays in
its own claim and equals the value nginx gave (bytes not part of valid UTF-8 as U+FFFD, as the
README says), no claim appears that was not configured, and the header line to the backend is one
line. Values come from $uri, which nginx URL-decodes ($arg_ is not decoded), through a regex
location's capture and a map, and from $binary_remote_addr (NUL bytes)."""

import base64
import json
import re
import socket
import urllib.parse

import jwt
import pytest

from conftest import SCALE, headers_named, only_token, payload_json, thumbprint, verify

TOKEN_LINE = re.compile(rb"^X-JWT-Assertion: [A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
SPOOF = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9."

MAP = r"""
    map $uri $mapped {
        "~^/v/(?<rest>[\s\S]*)$" "<$rest>";
        default "";
    }
"""
HOSTILE = r"""
        large_client_header_buffers 4 64k;
        location ~ ^/v/([\s\S]*)$ {
            backend_jwt on;
            backend_jwt_signing_key %s;
            backend_jwt_max_size 256k;
            backend_jwt_issuer $1;
            backend_jwt_subject $mapped;
            backend_jwt_audience $1 "aud:$1";
            backend_jwt_claim v $1;
            backend_jwt_claim w "[$1]";
            backend_jwt_claim bin $binary_remote_addr;
            proxy_pass RAW_BACKEND;
        }
"""
CLAIMS = ["iss", "sub", "aud", "iat", "exp", "jti", "v", "w", "bin"]


def as_module_writes(raw: bytes) -> str:
    """Valid UTF-8 sequences as they are; every other byte U+FFFD (README, "JSON")."""
    out, i = [], 0
    while i < len(raw):
        for size in (1, 2, 3, 4):
            try:
                text = raw[i:i + size].decode("utf-8")
            except UnicodeDecodeError:
                continue
            out.append(text)
            i += size
            break
        else:
            out.append("\ufffd")
            i += 1
    return "".join(out)


def strict_payload(token):
    """The payload as valid UTF-8 and valid JSON, every name once: [(name, value), ...]."""
    segment = token.split(".")[1]
    raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    text = raw.decode("utf-8")  # strict: invalid UTF-8 raises

    def no_duplicates(pairs):
        names = [k for k, _ in pairs]
        assert len(names) == len(set(names)), names
        return pairs

    return json.loads(text, object_pairs_hook=no_duplicates)


def verify_aud(token, keys):
    """verify() for a token with an audience (PyJWT checks aud only when told which)."""
    claims = jwt.decode(token, keys.public_key, algorithms=["RS256"], options={"verify_aud": False})
    assert jwt.get_unverified_header(token) == {
        "alg": "RS256", "typ": "JWT", "kid": thumbprint(keys.public_key)}
    return claims


def token_of_head(head: bytes):
    """The one token line of a request head (as the backend got it), checked to be one line."""
    lines = head[:-4].split(b"\r\n")
    for line in lines:
        assert b"\r" not in line and b"\n" not in line, line
    ours = [line for line in lines if line.lower().replace(b"_", b"-").startswith(b"x-jwt-assertion:")]
    assert len(ours) == 1, ours
    assert TOKEN_LINE.match(ours[0]), ours[0][:200]
    return ours[0].split(b": ", 1)[1].decode()


# (id, path segment as sent, still URL-encoded)
VALUES = [
    ("quotes-backslashes", '%22q%22%20\\%20\\%22%20%5C%5C%22'),  # raw and encoded
    ("crlf", "a%0D%0Ab%0Dc%0Ad%0D%0A%0D%0AX-JWT-Assertion:%20forged%0D%0A"),
    ("json-fragment", urllib.parse.quote('","admin":true,"x":"')),
    ("json-object-close", urllib.parse.quote('"}, "admin": true, "z": {"')),
    ("braces", urllib.parse.quote('}{"a":1}{') + "%7B%7D%7D"),
    ("invalid-utf8", "a%FFb%C3(c%ED%A0%80d%F4%90%80%80e%C0%AFf%E2%82g%80%BFh%F0%9F%98"),
    ("valid-utf8", urllib.parse.quote("Zoë – 日本 🎉")),
    ("controls", "%01%02%08%09%0B%0C%1B%1F%7F"),
    ("escapes-as-text", urllib.parse.quote(r'\u0000\n\"\\u005c')),
    ("long-expanding", '%22%5C%01' * 1500),  # 4500 bytes, 15000 escaped, in six places
]


@pytest.mark.parametrize("segment", [v[1] for v in VALUES], ids=[v[0] for v in VALUES])
def test_hostile_value_stays_in_its_claim(nginx, keys, raw_backend, segment):
    n = nginx(HOSTILE % keys.rsa, MAP)
    code, _, body = n.request("/v/" + segment, [("X-JWT-Assertion", SPOOF)])
    assert code == 200, body
    assert len(raw_backend.heads) == 1
    token = token_of_head(raw_backend.heads[0])
    claims = verify_aud(token, keys)
    value = as_module_writes(urllib.parse.unquote_to_bytes(segment))
    assert [k for k, _ in strict_payload(token)] == CLAIMS
    assert claims["iss"] == value
    assert claims["sub"] == f"<{value}>"
    assert claims["aud"] == [value, f"aud:{value}"]
    assert claims["v"] == value
    assert claims["w"] == f"[{value}]"
    assert claims["bin"] == "\x7f\x00\x00\x01"


def test_nul_in_the_path_is_refused_by_nginx(nginx, keys, raw_backend):
    """Not the module's doing: nginx answers 400 to a URL-encoded NUL in the path, before any
    phase runs; the module never sees it."""
    n = nginx(HOSTILE % keys.rsa, MAP)
    code, _, _ = n.request("/v/a%00b")
    assert code == 400
    assert raw_backend.heads == []
    assert "client sent invalid request" in n.log()


def test_nul_bytes_from_binary_remote_addr_over_ipv6(nginx, keys, raw_backend):
    """$binary_remote_addr of ::1 is fifteen NUL bytes and 01: in every place a value can go."""
    n = nginx(f"""
        location / {{
            backend_jwt on;
            backend_jwt_signing_key {keys.rsa};
            backend_jwt_issuer $binary_remote_addr;
            backend_jwt_subject "a${{binary_remote_addr}}b";
            backend_jwt_audience $binary_remote_addr x;
            backend_jwt_claim bin $binary_remote_addr;
            proxy_pass RAW_BACKEND;
        }}
""", listen_more="        listen [::1]:PORT;")
    with socket.create_connection(("::1", n.port), timeout=10 * SCALE) as s:
        s.sendall(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        response = b""
        while chunk := s.recv(1 << 16):
            response += chunk
    assert response.startswith(b"HTTP/1.1 200 "), response[:200]
    token = token_of_head(raw_backend.heads[0])
    claims = verify_aud(token, keys)
    nul = "\x00" * 15 + "\x01"
    assert (claims["iss"], claims["sub"], claims["aud"], claims["bin"]) == (nul, f"a{nul}b", [nul, "x"], nul)
    assert [k for k, _ in strict_payload(token)] == ["iss", "sub", "aud", "iat", "exp", "jti", "bin"]
    segment = token.split(".")[1]
    raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    assert b"\x00" not in raw and b'"bin":"' + b"\\u0000" * 15 + b'\\u0001"' in raw


@pytest.mark.parametrize("text", [
    '{"a":1,"b":[true,false,null,-1.5e3,"x\\"y"]}', '[]', '"\\u00e9\\n"', '  {"k" :\t"v"}  ',
    '{"admin":true}', '"' + "\\\\" * 2000 + '"', '"\\ud83d\\ude00 \\uD834\\uDD1E"',
])
def test_json_claim_from_the_uri(nginx, keys, raw_backend, text):
    """type=json: a valid value from the request goes in as the JSON it is, in its claim only."""
    n = nginx(r"""
        large_client_header_buffers 4 64k;
        location ~ ^/j/([\s\S]*)$ {
            backend_jwt on;
            backend_jwt_signing_key %s;
            backend_jwt_max_size 64k;
            backend_jwt_claim j $1 type=json;
            backend_jwt_claim after fixed;
            proxy_pass RAW_BACKEND;
        }
""" % keys.rsa)
    code, _, body = n.request("/j/" + urllib.parse.quote(text, safe=""))
    assert code == 200, body
    token = token_of_head(raw_backend.heads[0])
    claims = verify(token, keys)
    assert [k for k, _ in strict_payload(token)] == ["iat", "exp", "jti", "j", "after"]
    assert claims["j"] == json.loads(text) and claims["after"] == "fixed"


@pytest.mark.parametrize("text", [
    '{"a":1', '{"a":1}}', '{"a":1},"admin":true', '"a', 'tru', '{"a":1}{"b":2}', '[1,]',
    '"\x01"', '"\xff"', "[" * 33 + "]" * 33, '{"a":1}\x00',
])
def test_bad_json_claim_from_the_uri_fails_closed(nginx, keys, raw_backend, text):
    n = nginx(r"""
        location ~ ^/j/([\s\S]*)$ {
            backend_jwt on;
            backend_jwt_signing_key %s;
            backend_jwt_claim j $1 type=json;
            proxy_pass RAW_BACKEND;
        }
""" % keys.rsa)
    code, _, _ = n.request("/j/" + urllib.parse.quote(text.encode("latin-1"), safe=""))
    if "\x00" in text:  # nginx itself refuses a NUL in the path
        assert code == 400
    else:
        assert code == 500
        assert 'claim "j"' in n.log()
    assert raw_backend.heads == []


@pytest.mark.parametrize("text", ['"\\ud800"', '{"a":"x\\udc00y"}', '["\\ud83d"]', '"\\ud83d\\u0041"'])
def test_lone_surrogate_escape_in_json_claim_fails_closed(nginx, keys, raw_backend, text):
    r"""`"\ud800"` is JSON by RFC 8259's grammar but names no Unicode character (8.2: behaviour
    unpredictable; I-JSON, RFC 7493 2.1, forbids it). Strict parsers reject the whole payload:
    Rust's serde_json ("lone leading surrogate in hex escape"); Go substitutes U+FFFD, Python
    keeps it. For a string value the module never writes such an escape; from a type=json value
    it must not pass one on either. A high surrogate followed by anything but a low one counts."""
    n = nginx(r"""
        location ~ ^/j/([\s\S]*)$ {
            backend_jwt on;
            backend_jwt_signing_key %s;
            backend_jwt_claim j $1 type=json;
            proxy_pass RAW_BACKEND;
        }
""" % keys.rsa)
    code, _, _ = n.request("/j/" + urllib.parse.quote(text, safe=""))
    assert code == 500 and raw_backend.heads == []
    assert 'claim "j"' in n.log()


# ---------------------------------------------------------------- size


def b64len(n):
    return (4 * n + 2) // 3


def token_length(keys, claims_json: str):
    """The length of an RS256 token (kid = thumbprint) whose payload is `claims_json`."""
    header = json.dumps({"alg": "RS256", "typ": "JWT", "kid": thumbprint(keys.public_key)},
                        separators=(",", ":"))
    return b64len(len(header)) + 1 + b64len(len(claims_json.encode())) + 1 + b64len(256)


def payload_for(value):
    """The payload the module writes for claim v = `value` (ASCII, nothing to escape), with
    10-digit times and a UUID, which have fixed lengths."""
    return json.dumps({"iat": 1700000000, "exp": 1700003600, "jti": "0" * 36, "v": value},
                      separators=(",", ":"))


BIG = "a" * 65536
SIZED = """
        large_client_header_buffers 4 128k;
        location ~ ^/big/(.*)$ {{
            backend_jwt on;
            backend_jwt_signing_key {key};
            {max_size}
            backend_jwt_claim v $1;
            proxy_pass RAW_BACKEND;
        }}
"""


def test_64k_value_over_default_max_size_fails_closed(nginx, keys, raw_backend, backend):
    n = nginx(SIZED.format(key=keys.rsa, max_size=""))
    code, _, body = n.request("/big/" + BIG, [("X-JWT-Assertion", SPOOF)])
    assert code == 500, body[:200]
    assert raw_backend.heads == [] and backend.hits == []
    size = token_length(keys, payload_for(BIG))
    assert (f"backend_jwt: no token, request not forwarded: the token would be {size} bytes, "
            "more than backend_jwt_max_size 8192") in n.log()


def test_64k_value_with_larger_max_size(nginx, keys, raw_backend):
    n = nginx(SIZED.format(key=keys.rsa, max_size="backend_jwt_max_size 256k;"))
    code, _, body = n.request("/big/" + BIG, [("X-JWT-Assertion", SPOOF)])
    assert code == 200, body[:200]
    token = token_of_head(raw_backend.heads[0])
    assert verify(token, keys)["v"] == BIG
    assert len(token) == token_length(keys, payload_for(BIG)) > 65536


def test_max_size_boundary(nginx, keys, raw_backend):
    value = "b" * 5000
    size = token_length(keys, payload_for(value))
    n = nginx(f"""
        location ~ ^/exact/(.*)$ {{
            backend_jwt on; backend_jwt_signing_key {keys.rsa};
            backend_jwt_max_size {size}; backend_jwt_claim v $1; proxy_pass RAW_BACKEND;
        }}
        location ~ ^/under/(.*)$ {{
            backend_jwt on; backend_jwt_signing_key {keys.rsa};
            backend_jwt_max_size {size - 1}; backend_jwt_claim v $1; proxy_pass RAW_BACKEND;
        }}
""")
    code, _, _ = n.request("/exact/" + value)
    assert code == 200
    assert len(token_of_head(raw_backend.heads[0])) == size
    code, _, _ = n.request("/under/" + value)
    assert code == 500 and len(raw_backend.heads) == 1
    assert f"the token would be {size} bytes, more than backend_jwt_max_size {size - 1}" in n.log()


def test_oversize_token_with_error_page_fallback_forwards_no_copy(nginx, keys, raw_backend, backend):
    """error_page 500 = @fallback sends the failed request to another upstream: without any copy
    of the token header the client sent, in any spelling."""
    n = nginx(f"""
        underscores_in_headers on;
        large_client_header_buffers 4 128k;
        location ~ ^/big/(.*)$ {{
            backend_jwt on;
            backend_jwt_signing_key {keys.rsa};
            backend_jwt_claim v $1;
            error_page 500 = @fallback;
            proxy_pass BACKEND;
        }}
        location @fallback {{
            proxy_set_header X-Fallback yes;
            proxy_pass RAW_BACKEND;
        }}
""")
    sent = [("X-JWT-Assertion", SPOOF), ("x-jwt-assertion", SPOOF), ("X_JWT_Assertion", SPOOF),
            ("X-Kept", "yes")]
    code, _, body = n.request("/big/" + BIG, sent)
    assert code == 200, body[:200]
    assert backend.hits == [] and len(raw_backend.heads) == 1
    seen = json.loads(body)["headers"]
    assert headers_named(seen, "X-Fallback") == ["yes"] and headers_named(seen, "X-Kept") == ["yes"]
    assert [k for k, _ in seen if "jwt" in k.lower()] == []
    assert SPOOF.encode() not in raw_backend.heads[0]
    assert "more than backend_jwt_max_size 8192" in n.log()


def test_long_values_under_the_limit_in_several_claims(nginx, keys, backend):
    """Many long hostile values at once, each in its claim, the total under 64k."""
    n = nginx(r"""
        location ~ ^/m/([\s\S]*)$ {
            backend_jwt on;
            backend_jwt_signing_key %s;
            backend_jwt_max_size 64k;
            %s
            proxy_pass BACKEND;
        }
""" % (keys.rsa, "\n".join(f"backend_jwt_claim c{i} \"{i}$1\";" for i in range(8))))
    segment = urllib.parse.quote('"},{"' * 300 + "\\\n", safe="")
    code, _, body = n.request("/m/" + segment)
    assert code == 200, body[:200]
    token = only_token(json.loads(body)["headers"])
    claims = verify(token, keys)
    value = '"},{"' * 300 + "\\\n"
    assert [k for k, _ in payload_json(token)] == ["iat", "exp", "jti"] + [f"c{i}" for i in range(8)]
    assert all(claims[f"c{i}"] == f"{i}{value}" for i in range(8))


def test_token_cache_keeps_hostile_values_apart(nginx, keys, raw_backend):
    """backend_jwt_cache keys tokens by the values: values that join to the same bytes, differ in
    a byte nginx decoded, or differ only in a byte the JSON turns into U+FFFD each get their own
    token, with their own claims; the same values get the cached one."""
    n = nginx(r"""
        location ~ ^/c/([^|]*)\|([\s\S]*)$ {
            backend_jwt on;
            backend_jwt_signing_key %s;
            backend_jwt_cache size=64;
            backend_jwt_claim a $1;
            backend_jwt_claim b $2;
            proxy_pass RAW_BACKEND;
        }
""" % keys.rsa)
    paths = ["/c/ab|c", "/c/a|bc", "/c/|abc", "/c/abc|", "/c/a%22|b", "/c/a|%22b", "/c/a%FF|b",
             "/c/a%FE|b", "/c/a%0A|b", "/c/a%0D|b"]
    tokens = {}
    # each twice in a row, the second from the cache (the cache is direct-mapped: another key
    # in between may take the slot, as the hash is seeded per process)
    for path in [p for p in paths for _ in range(2)]:
        code, _, body = n.request(path)
        assert code == 200, body
        tokens.setdefault(path, []).append(token_of_head(raw_backend.heads[-1]))
    for path, (first, again) in tokens.items():
        assert first == again, path  # cached
        a, b = path[3:].split("|")
        claims = verify(first, keys)
        expected = {k: as_module_writes(urllib.parse.unquote_to_bytes(v)) for k, v in (("a", a), ("b", b))}
        assert {k: claims.get(k, "") for k in "ab"} == expected, path
    assert len({t[0] for t in tokens.values()}) == len(paths)
