"""Structured custom claims: type=json, type=list, nested (dotted) names, if_empty."""

import base64

import jwt
import pytest

from conftest import location, only_token, payload_json, verify

JSON_ERROR = "is not JSON (one value, valid UTF-8, nested at most 32 deep)"


def raw_payload(token):
    segment = token.split(".")[1]
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def custom(token):
    """The custom members of the payload, in order, as (name, value) lists."""
    return [(k, v) for k, v in payload_json(token) if k not in ("iat", "exp", "jti")]


def assert_refused(n, backend, request, message):
    """The request fails closed: 500, nothing forwarded, `message` logged as the reason."""
    code, _, _ = n.request(*request)
    assert code == 500
    assert backend.hits == []
    reasons = [line for line in n.log().splitlines() if "backend_jwt: no token" in line]
    assert len(reasons) == 1 and "[error]" in reasons[0], n.log()
    assert f"request not forwarded: {message}" in reasons[0], reasons[0]
    return reasons[0]


# ---------------------------------------------------------------- type=json


JSON_GOOD = [
    ('{"roles":["admin","dev"],"n":1}', {"roles": ["admin", "dev"], "n": 1}),
    ('{"a": 1, "b": [true, null]}', {"a": 1, "b": [True, None]}),  # inner white space kept
    ("[1,-2.5e3,\"x\",{}]", [1, -2500.0, "x", {}]),
    ("[]", []),
    ("{}", {}),
    ("true", True),
    ("false", False),
    ("null", None),
    ("-0.5", -0.5),
    ("42", 42),
    ('"text with \\"quotes\\" and \\u00e9"', 'text with "quotes" and \u00e9'),
    ('{"ünï":"日本"}', {"ünï": "日本"}),
    ("1E+5", 100000.0),
    ("-0", 0),
    ("0.0e-0", 0.0),
    ('"\\u0000\\ud83c\\udf89/\\/"', "\x00\U0001f389//"),
    ('{"a":{"b":{"c":[[],{}]}},"d":""}', {"a": {"b": {"c": [[], {}]}}, "d": ""}),
    ("[" * 32 + "]" * 32, None),  # the deepest allowed
    ('{"a":' * 31 + "[1]" + "}" * 31, None),
]


@pytest.mark.parametrize("value, expected", JSON_GOOD, ids=range(len(JSON_GOOD)))
def test_json_value_is_written_as_given(nginx, keys, backend, value, expected):
    n = nginx(location(keys, "backend_jwt_claim c $http_x_v type=json;"))
    token = only_token(n.seen("/", [("X-V", value.encode())]))
    claims = verify(token, keys)
    if expected is not None:
        assert claims["c"] == expected
    assert b'"c":' + value.encode() + b"}" in raw_payload(token)


def test_json_leading_white_space_is_dropped(nginx, keys, backend):
    # nginx unescapes \t, \r and \n in quoted strings; the white space inside stays
    n = nginx(location(keys, """
            backend_jwt_claim obj " \\t\\r\\n{ \\"a\\" : [1, 2] }" type=json;
            backend_jwt_claim num "  7" type=json;
        """))
    token = only_token(n.seen("/"))
    assert verify(token, keys)["obj"] == {"a": [1, 2]}
    assert b'"obj":{ "a" : [1, 2] },"num":7}' in raw_payload(token)


# JSONParser.validated ends the value before the white space after it: trailing white space goes
def test_json_trailing_white_space_is_dropped(nginx, keys, backend):
    n = nginx(location(keys, """
            backend_jwt_claim obj "{ \\"a\\" : [1, 2] }\\n " type=json;
            backend_jwt_claim num "  7  " type=json;
        """))
    token = only_token(n.seen("/"))
    assert verify(token, keys)["obj"] == {"a": [1, 2]}
    assert b'"obj":{ "a" : [1, 2] },"num":7}' in raw_payload(token)


def test_json_from_a_literal_object_with_variables(nginx, keys, backend):
    n = nginx(location(keys, """backend_jwt_claim ctx '{"tenant":"$arg_t","level":$arg_l}' type=json;"""))
    assert verify(only_token(n.seen("/?t=acme&l=3")), keys)["ctx"] == {"tenant": "acme", "level": 3}


JSON_BAD = [
    ("invalid", b'{"a":}'),
    ("truncated-object", b'{"a":1'),
    ("truncated-string", b'["abc'),
    ("too-deep", b"[" * 33 + b"]" * 33),
    ("too-deep-objects", b'{"a":' * 33 + b"1" + b"}" * 33),
    ("invalid-utf8", b'"a\xffb"'),
    ("overlong-utf8", b'"\xc0\xaf"'),
    ("surrogate-utf8", b'"\xed\xa0\x80"'),
    ("two-values", b"1 2"),
    ("trailing-comma", b"[1,2,]"),
    ("single-quotes", b"{'a':1}"),
    ("bare-word", b"admin"),
    ("leading-zero", b"01"),
    ("bad-escape", b'"\\x41"'),
    ("short-unicode-escape", b'"\\u12"'),
    ("control-character", b'"a\x01b"'),
    ("unquoted-key", b"{a:1}"),
    ("missing-colon", b'{"a" 1}'),
    ("wrong-closer", b"[1}"),
    ("extra-closer", b"[1]]"),
    ("TRUE", b"TRUE"),
    ("above-max-utf8", b'"\xf4\x90\x80\x80"'),
    ("cut-utf8", b'"\xe6\x97"'),
    ("minus-only", b"-"),
    ("exponent-only", b"1e"),
    ("dot-first", b".5"),
    ("dot-last", b"1."),
    ("plus", b"+1"),
    ("hex", b"0x10"),
    ("NaN", b"NaN"),
    ("number-then-word", b"[1true]"),
    ("missing-comma", b'{"a":1"b":2}'),
    ("lone-closer", b"]"),
]


@pytest.mark.parametrize("value", [v for _, v in JSON_BAD], ids=[i for i, _ in JSON_BAD])
def test_bad_json_fails_closed(nginx, keys, backend, value):
    n = nginx(location(keys, "backend_jwt_claim ctx $http_x_v type=json;"))
    line = assert_refused(n, backend, ("/", [("X-V", value), ("X-JWT-Assertion", "client")]),
                          'claim "ctx": value "')
    assert line.endswith(JSON_ERROR) or f"{JSON_ERROR}," in line, line


@pytest.mark.parametrize("value", [b'{"a":1,"a":2}', b'{"a":1,"\\u0061":2}', b'[{"x":{"k":1,"k":{}}}]'],
                         ids=["plain", "escaped", "nested"])
def test_json_with_a_duplicate_member_name_fails_closed(nginx, keys, backend, value):
    """Parsers disagree on which of two members wins: such a value never reaches a backend."""
    n = nginx(location(keys, "backend_jwt_claim ctx $http_x_v type=json;"))
    line = assert_refused(n, backend, ("/", [("X-V", value)]), 'claim "ctx": value "')
    assert "has an object with a duplicate member name, which JSON parsers read differently" in line, line


def test_bad_json_in_a_nested_claim_names_the_claim(nginx, keys, backend):
    n = nginx(location(keys, """
            backend_jwt_claim meta.ok 1 type=json;
            backend_jwt_claim meta.ctx $arg_v type=json;
        """))
    assert_refused(n, backend, ("/?v=[1,",), f'claim "meta.ctx": value "[1," {JSON_ERROR}')


# ---------------------------------------------------------------- type=list


@pytest.mark.parametrize("options, value, expected", [
    ("", b"admin,dev,ops", ["admin", "dev", "ops"]),
    ("", b"only", ["only"]),
    ("", b" a , \tb\t ,c ", ["a", "b", "c"]),  # blanks around items go
    ("", b"a b,c\td", ["a b", "c\td"]),  # blanks inside stay
    ("", b",,a,, ,\t,b,", ["a", "b"]),  # empty items are dropped
    ("", b'q"uote,back\\slash,\xc3\xa9', ['q"uote', "back\\slash", "\u00e9"]),
    ("", b"a;b", ["a;b"]),
    ('"separator=;"', b"a;b;;c", ["a", "b", "c"]),
    ("separator=::", b"a::b:c:::d", ["a", "b:c", ":d"]),
    ("'separator= | '", b"x | y|z |  | w", ["x", "y|z", "w"]),
    ("separator=,", b"a,b", ["a", "b"]),
    ("SEPARATOR=-", b"a-b", ["a", "b"]),  # option names in any case
], ids=["default", "one", "trimmed", "inner-blanks", "empty-items", "escaped", "no-split",
        "semicolon", "multi-char", "spaces-in-separator", "explicit-comma", "case"])
def test_list(nginx, keys, backend, options, value, expected):
    n = nginx(location(keys, f"backend_jwt_claim roles $http_x_v {options} type=list;"))
    token = only_token(n.seen("/", [("X-V", value)]))
    assert verify(token, keys)["roles"] == expected


def test_list_worst_case_expansion(nginx, keys, backend):
    # one-byte items that each expand to six bytes, or to U+FFFD, with one-byte separators
    n = nginx(location(keys, """
            backend_jwt_claim ctl $http_x_ctl type=list;
            backend_jwt_claim bad $http_x_bad type=list if_empty=null;
            backend_jwt_claim quote.s $http_x_quote type=list separator=-;
            backend_jwt_max_size 128k;
        """))
    token = only_token(n.seen("/", [("X-Ctl", b"\x01," * 2000), ("X-Bad", b"\xff," * 2000),
                                     ("X-Quote", b'"-' * 2000)]))
    claims = verify(token, keys)
    assert claims["ctl"] == ["\x01"] * 2000
    assert claims["bad"] == ["\ufffd"] * 2000
    assert claims["quote"] == {"s": ['"'] * 2000}


@pytest.mark.parametrize("value", [b",", b" , ,\t", b",,,"])
def test_list_of_empty_items_is_an_empty_array(nginx, keys, backend, value):
    n = nginx(location(keys, "backend_jwt_claim roles $http_x_v type=list if_empty=fail;"))
    token = only_token(n.seen("/", [("X-V", value)]))
    assert verify(token, keys)["roles"] == []
    assert b'"roles":[]}' in raw_payload(token)


def test_list_options_in_any_order(nginx, keys, backend):
    n = nginx(location(keys, """
            backend_jwt_claim a $arg_v if_empty=null separator=+ type=list;
            backend_jwt_claim b $arg_v type=list if_empty=empty separator=+;
        """))
    token = only_token(n.seen("/?v=x+y"))
    assert verify(token, keys)["a"] == ["x", "y"] and custom(token) == [("a", ["x", "y"]), ("b", ["x", "y"])]
    token = only_token(n.seen("/"))
    assert verify(token, keys)["a"] is None and custom(token) == [("a", None), ("b", [])]


# ---------------------------------------------------------------- nested names


def test_nested_claims_share_their_parent(nginx, keys, backend):
    n = nginx(location(keys, """
            backend_jwt_claim realm_access.roles $arg_roles type=list;
            backend_jwt_claim tenant acme;
            backend_jwt_claim realm_access.level 3 type=int;
            backend_jwt_claim resource_access.app.roles viewer type=list;
        """))
    token = only_token(n.seen("/?roles=admin,dev"))
    claims = verify(token, keys)
    assert claims["realm_access"] == {"roles": ["admin", "dev"], "level": 3}
    assert claims["resource_access"] == {"app": {"roles": ["viewer"]}}
    # a parent stands where its first member was declared
    assert [k for k, _ in custom(token)] == ["realm_access", "tenant", "resource_access"]
    assert b'"realm_access":{"roles":["admin","dev"],"level":3},"tenant":"acme",' in raw_payload(token)


def test_three_levels(nginx, keys, backend):
    n = nginx(location(keys, """
            backend_jwt_claim a.b.c 1 type=int;
            backend_jwt_claim a.e e;
            backend_jwt_claim a.b.d $arg_d type=bool;
        """))
    claims = verify(only_token(n.seen("/?d=true")), keys)
    assert claims["a"] == {"b": {"c": 1, "d": True}, "e": "e"}


def test_eight_levels(nginx, keys, backend):
    n = nginx(location(keys, "backend_jwt_claim l1.l2.l3.l4.l5.l6.l7.l8 deep;"))
    claims = verify(only_token(n.seen("/")), keys)
    assert claims["l1"]["l2"]["l3"]["l4"]["l5"]["l6"]["l7"] == {"l8": "deep"}


def test_parent_whose_members_are_all_omitted_is_left_out(nginx, keys, backend):
    n = nginx(location(keys, """
            backend_jwt_claim first 1;
            backend_jwt_claim p.x $arg_x;
            backend_jwt_claim p.q.y $arg_y type=int;
            backend_jwt_claim p.q.z $arg_z;
            backend_jwt_claim last 2;
        """))
    cases = {
        "/": [("first", "1"), ("last", "2")],
        "/?z=zz": [("first", "1"), ("p", [("q", [("z", "zz")])]), ("last", "2")],
        "/?x=xx": [("first", "1"), ("p", [("x", "xx")]), ("last", "2")],
        "/?y=5&z=zz": [("first", "1"), ("p", [("q", [("y", 5), ("z", "zz")])]), ("last", "2")],
    }
    for path, expected in cases.items():
        token = only_token(n.seen(path))
        verify(token, keys)
        assert custom(token) == expected, path


def test_omitted_parent_first_and_last(nginx, keys, backend):
    # no stray commas whether the left-out object comes first, last, or is all there is
    n = nginx(location(keys, """
            backend_jwt_jti off;
            backend_jwt_claim a.x $arg_a;
            backend_jwt_claim mid m;
            backend_jwt_claim b.x $arg_b;
        """) + location(keys, "backend_jwt_claim a.b.c $arg_a;", path="/only/"))
    token = only_token(n.seen("/"))
    assert jwt.decode(token, keys.public_key, algorithms=["RS256"]) == dict(payload_json(token))
    assert raw_payload(token).endswith(b',"mid":"m"}') and custom(token) == [("mid", "m")]
    token = only_token(n.seen("/?a=1&b=2"))
    assert jwt.decode(token, keys.public_key, algorithms=["RS256"])["b"] == {"x": "2"}
    assert raw_payload(token).endswith(b',"a":{"x":"1"},"mid":"m","b":{"x":"2"}}')
    token = only_token(n.seen("/only/"))
    assert [k for k, _ in payload_json(token)] == ["iat", "exp", "jti"]
    verify(token, keys)


def test_escaped_dot_is_part_of_the_name(nginx, keys, backend):
    # nginx passes `\.` on unchanged and turns `\\` into `\`; the module then reads `\.` as a
    # dot and `\\` as a backslash (so `\\\\.` in nginx.conf ends a segment with a backslash)
    n = nginx(location(keys, r"""
            backend_jwt_claim a\.b literal;
            backend_jwt_claim a.b nested;
            backend_jwt_claim "v1\.0.x" mixed;
            backend_jwt_claim back\\\\.slash split;
            backend_jwt_claim back\\\\\.dot kept;
            backend_jwt_claim other\q as-written;
        """))
    claims = verify(only_token(n.seen("/")), keys)
    assert claims["a.b"] == "literal"
    assert claims["a"] == {"b": "nested"}
    assert claims["v1.0"] == {"x": "mixed"}
    assert claims["back\\"] == {"slash": "split"}
    assert claims["back\\.dot"] == "kept"
    assert claims["other\\q"] == "as-written"


def test_uri_names_are_not_split(nginx, keys, backend):
    n = nginx(location(keys, """
            backend_jwt_claim http://example.com/claims/v1.0/role admin;
            backend_jwt_claim https://a.example/x.y $arg_v type=int;
            backend_jwt_claim urn:example.tenant acme;
        """))
    claims = verify(only_token(n.seen("/?v=7")), keys)
    assert claims["http://example.com/claims/v1.0/role"] == "admin"
    assert claims["https://a.example/x.y"] == 7
    assert claims["urn:example"] == {"tenant": "acme"}  # no `://`: split as any name


# ---------------------------------------------------------------- if_empty


@pytest.mark.parametrize("type_, mode, expected", [
    ("string", "", "absent"), ("string", "if_empty=omit", "absent"),
    ("string", "if_empty=null", None), ("string", "if_empty=empty", ""),
    ("list", "", "absent"), ("list", "if_empty=omit", "absent"),
    ("list", "if_empty=null", None), ("list", "if_empty=EMPTY", []),
    ("int", "", "absent"), ("int", "if_empty=omit", "absent"), ("int", "if_empty=null", None),
    ("json", "if_empty=null", None), ("bool", "if_empty=Null", None),
])
def test_if_empty(nginx, keys, backend, type_, mode, expected):
    n = nginx(location(keys, f"""
            backend_jwt_claim c $arg_v type={type_} {mode};
            backend_jwt_claim nested.c $arg_v type={type_} {mode};
        """))
    token = only_token(n.seen("/"))
    claims = verify(token, keys)
    if expected == "absent":
        assert "c" not in claims and "nested" not in claims
    else:
        assert claims["c"] == expected and claims["nested"] == {"c": expected}
    filled = {"string": ("x", "x"), "list": ("x,y", ["x", "y"]), "int": ("5", 5),
              "json": ("[1]", [1]), "bool": ("0", False)}[type_]
    claims = verify(only_token(n.seen(f"/?v={filled[0]}")), keys)  # a value: if_empty plays no part
    assert claims["c"] == filled[1] and claims["nested"] == {"c": filled[1]}


@pytest.mark.parametrize("type_", ["string", "list", "int", "json", "date"])
def test_if_empty_fail(nginx, keys, backend, type_):
    n = nginx(location(keys, f"backend_jwt_claim tenant.id $http_x_tenant type={type_} if_empty=fail;"))
    assert_refused(n, backend, ("/", [("X-JWT-Assertion", "client")]),
                   'claim "tenant.id" is empty (if_empty=fail)')
    token = only_token(n.seen("/", [("X-Tenant", "1")]))  # a value passes
    assert verify(token, keys)["tenant"]["id"] == {"list": ["1"], "int": 1, "json": 1, "date": 1}.get(type_, "1")


def test_if_empty_fail_with_a_missing_variable(nginx, keys, backend):
    n = nginx(location(keys, "backend_jwt_claim user $remote_user if_empty=fail;"))
    assert_refused(n, backend, ("/",), 'claim "user" is empty (if_empty=fail)')
