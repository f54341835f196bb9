"""`nginx -t` rejects every bad claim-mapping directive (backend_jwt_claim options and names,
backend_jwt_audience, backend_jwt_not_before, backend_jwt_jti) at its file:line, marked `#HERE`.
Messages of a directive read `"<directive>" directive: <message>`; nginx's own read
`"<directive>" directive is duplicate` and the like."""

import re

import pytest

from conftest import assert_emerg

USE_OPTIONS = "use type=TYPE, separator=TEXT or if_empty=omit|null|empty|fail"
USE_TYPES = "use string, int, long, float, bool, date, json or list"


def claim_error(message):
    return f'"backend_jwt_claim" directive: {message}'


CLAIM_ERRORS = {
    # id: (directives, message)
    "unknown-type": ("backend_jwt_claim a x type=uuid;",
                     f'unknown claim type "uuid"; {USE_TYPES}'),
    "empty-type": ("backend_jwt_claim a x type=;", f'unknown claim type ""; {USE_TYPES}'),
    "separator-without-type": ('backend_jwt_claim a x "separator=;";', "separator= is for type=list claims"),
    "separator-with-string": ("backend_jwt_claim a x separator=| type=string;",
                              "separator= is for type=list claims"),
    "separator-with-json": ("backend_jwt_claim a x type=json separator=|;",
                            "separator= is for type=list claims"),
    "empty-separator": ("backend_jwt_claim a x type=list separator=;",
                        "separator= needs at least one character"),
    "empty-separator-quoted": ('backend_jwt_claim a x "separator=" type=list;',
                               "separator= needs at least one character"),
    "unknown-if-empty": ("backend_jwt_claim a x if_empty=maybe;",
                         'unknown if_empty value "maybe"; use omit, null, empty or fail'),
    "if-empty-empty-int": ("backend_jwt_claim a x type=int if_empty=empty;",
                           "if_empty=empty is for string and list claims; type=int has no empty form"),
    "if-empty-empty-json": ("backend_jwt_claim a x if_empty=empty type=json;",
                            "if_empty=empty is for string and list claims; type=json has no empty form"),
    "if-empty-empty-bool": ("backend_jwt_claim a x type=bool if_empty=empty;",
                            "if_empty=empty is for string and list claims; type=bool has no empty form"),
    "duplicate-type": ("backend_jwt_claim a x type=int type=int;", 'option "type=" is given twice'),
    "duplicate-if-empty": ("backend_jwt_claim a x if_empty=omit IF_EMPTY=null;",
                           'option "if_empty=" is given twice'),
    "duplicate-separator": ("backend_jwt_claim a x type=list separator=, separator=|;",
                            'option "separator=" is given twice'),
    "unknown-option": ("backend_jwt_claim a x format=uuid;", f'unknown option "format=uuid"; {USE_OPTIONS}'),
    "bare-word": ("backend_jwt_claim a x list;", f'unknown option "list"; {USE_OPTIONS}'),
    "reserved-iss": ("backend_jwt_claim iss x;", 'claim name "iss" is reserved: set it with backend_jwt_issuer'),
    "reserved-sub": ("backend_jwt_claim sub x;", 'claim name "sub" is reserved: set it with backend_jwt_subject'),
    "reserved-aud": ("backend_jwt_claim aud x;", 'claim name "aud" is reserved: set it with backend_jwt_audience'),
    "reserved-iat": ("backend_jwt_claim iat 1 type=int;", 'claim name "iat" is reserved: the module sets it'),
    "reserved-exp": ("backend_jwt_claim exp 1 type=int;", 'claim name "exp" is reserved: the module sets it'),
    "reserved-nbf": ("backend_jwt_claim nbf 1 type=int;",
                     'claim name "nbf" is reserved: set it with backend_jwt_not_before'),
    "reserved-jti": ("backend_jwt_claim jti x;",
                     'claim name "jti" is reserved: the module sets it (backend_jwt_jti)'),
    "reserved-Sub": ("backend_jwt_claim Sub $arg_user;",
                     'claim name "Sub" is reserved: a Go backend reads it as "sub"; set it with backend_jwt_subject'),
    "reserved-long-s": ("backend_jwt_claim \u017fub x;",
                        'claim name "\\xc5\\xbfub" is reserved: a Go backend reads it as "sub"; '
                        'set it with backend_jwt_subject'),
    "reserved-nbf-parent": ("backend_jwt_claim nbf.x 1;",
                            'claim name "nbf" is reserved: set it with backend_jwt_not_before'),
    "reserved-aud-parent": ("backend_jwt_claim aud.list a type=list;",
                            'claim name "aud" is reserved: set it with backend_jwt_audience'),
    "conflict-parent-first": ("backend_jwt_claim a x;\n        backend_jwt_claim a.b y;",
                              'claim "a.b" conflicts with claim "a"'),
    "conflict-child-first": ("backend_jwt_claim a.b x;\n        backend_jwt_claim a y;",
                             'claim "a" conflicts with claim "a.b"'),
    "conflict-deeper": ("backend_jwt_claim a.b.c x;\n        backend_jwt_claim a.b y;",
                        'claim "a.b" conflicts with claim "a.b.c"'),
    "duplicate-nested": ("backend_jwt_claim a.b x;\n        backend_jwt_claim a.b y type=int;",
                         'claim "a.b" is declared twice'),
    "duplicate-escaped": ("backend_jwt_claim a\\.b x;\n        backend_jwt_claim 'a\\.b' y;",
                          'claim "a\\x5c.b" is declared twice'),  # messages quote `\` as \x5c
    "empty-segment": ("backend_jwt_claim a..b x;", 'claim name "a..b" has an empty part between dots'),
    "leading-dot": ("backend_jwt_claim .a x;", 'claim name ".a" has an empty part between dots'),
    "trailing-dot": ("backend_jwt_claim a. x;", 'claim name "a." has an empty part between dots'),
    "nine-levels": ("backend_jwt_claim a.b.c.d.e.f.g.h.i x;",
                    'claim name "a.b.c.d.e.f.g.h.i" nests deeper than 8 levels'),
    "empty-name": ('backend_jwt_claim "" x;', "claim name is empty"),
    "long-name": ("backend_jwt_claim " + "n" * 257 + " x;",
                  'claim name "' + "n" * 64 + '"... is longer than 256 bytes'),  # quoted in part
}


@pytest.mark.parametrize("case", list(CLAIM_ERRORS))
def test_claim_error(nginx_t, case):
    directives, message = CLAIM_ERRORS[case]
    assert_emerg(nginx_t(directives + " #HERE"), claim_error(message))


def test_claim_error_in_a_location(nginx_t, keys):
    result = nginx_t(f"""
        location / {{
            backend_jwt on;
            backend_jwt_signing_key {keys.rsa};
            backend_jwt_claim roles $arg_r type=list if_empty=nothing; #HERE
            proxy_pass BACKEND;
        }}""")
    assert_emerg(result, claim_error('unknown if_empty value "nothing"; use omit, null, empty or fail'))


def test_claim_error_at_http_level(nginx_t):
    result = nginx_t("", http="    backend_jwt_claim x.y..z 1; #HERE")
    assert_emerg(result, claim_error('claim name "x.y..z" has an empty part between dots'))


# ---------------------------------------------------------------- registered-claim directives


def test_audience_twice(nginx_t):
    result = nginx_t("backend_jwt_audience a b;\n        backend_jwt_audience c; #HERE")
    assert_emerg(result, '"backend_jwt_audience" directive is duplicate (give every audience in one directive)')


def test_audience_without_value(nginx_t):
    result = nginx_t("backend_jwt_audience; #HERE")
    assert_emerg(result, 'invalid number of arguments in "backend_jwt_audience" directive')


@pytest.mark.parametrize("value", ["soon", "1ms", "-5", "5x", "1s 1m"])
def test_bad_not_before(nginx_t, value):
    code, out, conf, line = nginx_t(f'backend_jwt_not_before "{value}"; #HERE')
    assert code != 0
    pattern = (rf'^nginx: \[emerg\] "backend_jwt_not_before" directive: .*"{re.escape(value)}".* '
               rf"in {re.escape(conf)}:{line}$")
    assert re.search(pattern, out, re.M), out


@pytest.mark.parametrize("first, second", [("on", "off"), ("30s", "on"), ("on", "on")])
def test_not_before_twice(nginx_t, first, second):
    result = nginx_t(f"backend_jwt_not_before {first};\n        backend_jwt_not_before {second}; #HERE")
    assert_emerg(result, '"backend_jwt_not_before" directive is duplicate')


def test_not_before_twice_after_off(nginx_t):
    result = nginx_t("backend_jwt_not_before off;\n        backend_jwt_not_before on; #HERE")
    assert_emerg(result, '"backend_jwt_not_before" directive is duplicate')


def test_jti_bad_value(nginx_t):
    result = nginx_t("backend_jwt_jti sometimes; #HERE")
    assert_emerg(result, 'invalid value "sometimes" in "backend_jwt_jti" directive, it must be "on" or "off"')


def test_jti_twice(nginx_t):
    result = nginx_t("backend_jwt_jti off;\n        backend_jwt_jti off; #HERE")
    assert_emerg(result, '"backend_jwt_jti" directive is duplicate')


# ---------------------------------------------------------------- accepted


@pytest.mark.parametrize("directives", [
    "backend_jwt_claim a.b.c.d.e.f.g.h x;",  # eight levels
    "backend_jwt_claim a\\.b x; backend_jwt_claim a.b y;",  # a literal dot is another name
    "backend_jwt_claim nbf\\.x 1; backend_jwt_claim audience x; backend_jwt_claim x.iss y;",
    "backend_jwt_claim http://a.example/x..y 1; backend_jwt_claim http://a.example/x 2;",
    "backend_jwt_claim a.b x; backend_jwt_claim a.c y; backend_jwt_claim ab.b z;",
    "backend_jwt_claim l x IF_EMPTY=Empty Separator=: TYPE=List;",
    "backend_jwt_claim s x if_empty=empty; backend_jwt_claim n 1 type=long if_empty=null;",
    "backend_jwt_claim j '{}' type=json if_empty=fail;",
    "backend_jwt_audience a $arg_b ''; backend_jwt_not_before on; backend_jwt_jti off;",
    "backend_jwt_not_before 1h; backend_jwt_jti ON;",
], ids=["eight-levels", "escaped-dot", "reserved-elsewhere", "uri", "siblings", "options-any-case",
        "if-empty", "json-fail", "registered", "leeway"])
def test_good_configs_pass(nginx_t, keys, directives):
    code, out, _, _ = nginx_t(f"""
        location / {{
            backend_jwt on;
            backend_jwt_signing_key {keys.rsa};
            {directives}
            proxy_pass BACKEND;
        }}""")
    assert code == 0, out
    assert "[emerg]" not in out
