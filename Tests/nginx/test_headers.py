"""The forwarded header: client copies removed, custom names, disabled locations, $backend_jwt,
auth_request values."""

import pytest

from conftest import headers_named, location, only_token, verify

SPOOF = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9."


@pytest.mark.parametrize("sent", [
    [("X-JWT-Assertion", SPOOF)],
    [("x-jwt-assertion", SPOOF)],
    [("X-JWT-ASSERTION", SPOOF), ("x-Jwt-Assertion", SPOOF + "2"), ("X-JWT-Assertion", SPOOF + "3")],
    [("X_JWT_Assertion", SPOOF), ("x_jwt-assertion", SPOOF + "2"), ("X-JWT-Assertion", SPOOF + "3")],
], ids=["same-case", "lower-case", "several-copies", "underscores"])
def test_client_copies_are_replaced(nginx, keys, backend, sent):
    n = nginx("underscores_in_headers on;" + location(keys, "backend_jwt_subject module;"))
    seen = n.seen("/", sent + [("X-Other", "kept")])
    names = [k for k, _ in seen if k.lower().replace("_", "-") == "x-jwt-assertion"]
    assert names == ["X-JWT-Assertion"], seen
    assert verify(only_token(seen), keys)["sub"] == "module"
    assert headers_named(seen, "X-Other") == ["kept"]


def test_custom_header_name(nginx, keys, backend):
    n = nginx("underscores_in_headers on;" + location(keys, "backend_jwt_header X-Backend-Token;"))
    seen = n.seen("/", [("X-Backend-Token", SPOOF), ("x_backend_token", SPOOF),
                        ("X-JWT-Assertion", SPOOF)])
    verify(only_token(seen, "X-Backend-Token"), keys)
    # the default name is not the module's any more: passed through untouched
    assert headers_named(seen, "X-JWT-Assertion") == [SPOOF]
    assert [k for k, _ in seen if k.lower().replace("_", "-") == "x-backend-token"] == ["X-Backend-Token"]


def test_underscore_copy_removed_with_invalid_headers_kept(nginx, keys, backend):
    # ignore_invalid_headers off passes "X_JWT_Assertion" even without underscores_in_headers
    n = nginx("ignore_invalid_headers off;" + location(keys))
    seen = n.seen("/", [("X_JWT_Assertion", SPOOF), ("X-Custom_Name", "kept")])
    assert [k for k, _ in seen if "jwt" in k.lower()] == ["X-JWT-Assertion"]
    verify(only_token(seen), keys)
    assert headers_named(seen, "X-Custom_Name") == ["kept"]


@pytest.mark.parametrize("disabled", ["", "backend_jwt off;"], ids=["unset", "off"])
def test_disabled_location_passes_client_header(nginx, keys, backend, disabled):
    # server-level on for the "off" case; no module directive at all for the "unset" case
    server = f"backend_jwt on; backend_jwt_signing_key {keys.rsa};" if disabled else ""
    n = nginx(server + f"""
        location /plain/ {{
            {disabled}
            proxy_set_header X-Var "v=$backend_jwt";
            proxy_pass BACKEND;
        }}
""")
    seen = n.seen("/plain/", [("X-JWT-Assertion", SPOOF)])
    assert headers_named(seen, "X-JWT-Assertion") == [SPOOF]
    assert headers_named(seen, "X-Var") == ["v="]


def test_variable_in_proxy_set_header_and_log(nginx, keys, backend):
    n = nginx(
        location(keys, f"""
            proxy_set_header X-Other $backend_jwt;
            proxy_set_header X-Again "again $backend_jwt";
            access_log PREFIX/jwt.log jwt;
        """),
        http='    log_format jwt "token=$backend_jwt end";')
    seen = n.seen("/")
    token = only_token(seen)
    verify(token, keys)
    assert headers_named(seen, "X-Other") == [token]
    assert headers_named(seen, "X-Again") == ["again " + token]
    n.stop()  # flush the access log
    lines = open(f"{n.prefix}/jwt.log").read().splitlines()
    assert lines == [f"token={token} end"]


def test_auth_request_set_value_in_subject(nginx, keys, backend):
    n = nginx(location(keys, """
            auth_request /auth/alice;
            auth_request_set $user $upstream_http_x_user;
            backend_jwt_subject $user;
            backend_jwt_claim who "user=$user";
        """, "/api/") + """
        location /auth/ {
            internal;
            proxy_pass BACKEND;
            proxy_pass_request_body off;
        }
""")
    seen = n.seen("/api/x")
    claims = verify(only_token(seen), keys)
    assert claims["sub"] == "alice"
    assert claims["who"] == "user=alice"
    assert [h["path"] for h in backend.hits] == ["/auth/alice", "/api/x"]


def test_failed_token_never_forwards_client_copy(nginx, keys, backend):
    """A request whose token cannot be made loses the client's copy too, so a fallback location
    reached by error_page cannot pass a forged token on."""
    n = nginx(f"""
        location / {{
            backend_jwt on;
            backend_jwt_signing_key {keys.rsa};
            backend_jwt_claim n $arg_n type=int;
            error_page 500 = @fallback;
            proxy_pass BACKEND;
        }}
        location @fallback {{ proxy_pass BACKEND; }}
""")
    seen = n.seen("/?n=x", headers=[("X-JWT-Assertion", "forged")])
    assert headers_named(seen, "X-JWT-Assertion") == []
    assert 'claim "n"' in n.log()
