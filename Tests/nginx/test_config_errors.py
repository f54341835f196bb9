"""`nginx -t` rejects every bad directive with the directive, the value and its file:line.
The line that must be reported is marked `#HERE` in the configuration. Errors found only when the
levels are merged read `[emerg] backend_jwt: <message> in <file>:<line>` (MERGE below)."""

import re

import pytest

MISSING = "/nonexistent/backend-jwt/key.pem"
MERGE = "backend_jwt:"  # the prefix of merge-time errors, whose value is the whole message


def cases(keys):
    key = f"backend_jwt_signing_key {keys.rsa};"
    return {
        # id: (server block, directive, bad value as it appears in the message)
        "algorithm": ("backend_jwt_signing_algorithm HS999; #HERE",
                      "backend_jwt_signing_algorithm", '"HS999"'),
        "encoding": ("backend_jwt_encoding base32; #HERE", "backend_jwt_encoding", '"base32"'),
        "key-missing": (f"backend_jwt_signing_key {MISSING}; #HERE",
                        "backend_jwt_signing_key", f'"{MISSING}": No such file or directory'),
        "key-directory": (f"backend_jwt_signing_key {keys.dir}; #HERE",
                          "backend_jwt_signing_key", f'"{keys.dir}" is not a regular file'),
        "key-public": (f"backend_jwt_signing_key {keys.public}; #HERE",
                       "backend_jwt_signing_key", f'"{keys.public}" holds a public key'),
        "key-certificate": (f"backend_jwt_signing_key {keys.cert}; #HERE",
                            "backend_jwt_signing_key", f'"{keys.cert}" holds a certificate'),
        "key-rsa-1024": (f"backend_jwt_signing_key {keys.rsa1024}; #HERE",
                         "backend_jwt_signing_key", f'"{keys.rsa1024}" holds an RSA 1024-bit key'),
        "key-garbage": (f"backend_jwt_signing_key {keys.garbage}; #HERE",
                        "backend_jwt_signing_key", f'"{keys.garbage}" holds no PEM private key'),
        # found only when the level is merged: reported at the key directive
        "key-ec-for-rs256": (f"""
            backend_jwt_signing_key {keys.ec}; #HERE
            location / {{ backend_jwt on; proxy_pass BACKEND; }}""",
                             MERGE, f'key file "{keys.ec}" holds a key of type EC P-256, '
                                    "which cannot sign RS256; RS256 needs an RSA key"),
        "ttl-zero": ("backend_jwt_token_ttl 0; #HERE", "backend_jwt_token_ttl", '"0"'),
        "ttl-word": ("backend_jwt_token_ttl abc; #HERE", "backend_jwt_token_ttl", '"abc"'),
        "ttl-ms": ("backend_jwt_token_ttl 1ms; #HERE", "backend_jwt_token_ttl", '"1ms"'),
        "claim-type": ("backend_jwt_claim id $request_id type=uuid; #HERE",
                       "backend_jwt_claim", 'unknown claim type "uuid"'),
        "claim-option": ("backend_jwt_claim id $request_id format=uuid; #HERE",
                         "backend_jwt_claim", 'unknown option "format=uuid"'),
        "claim-reserved": ("backend_jwt_claim exp 1 type=int; #HERE",
                           "backend_jwt_claim", '"exp" is reserved'),
        "claim-duplicate": ("backend_jwt_claim a 1;\n backend_jwt_claim a 2; #HERE",
                            "backend_jwt_claim", '"a" is declared twice'),
        "header-empty": ('backend_jwt_header ""; #HERE', "backend_jwt_header", "header name is empty"),
        "header-space": ('backend_jwt_header "X JWT"; #HERE', "backend_jwt_header", '"X JWT"'),
        "header-underscore": ("backend_jwt_header X_JWT; #HERE", "backend_jwt_header", '"X_JWT"'),
        "header-host": ("backend_jwt_header Host; #HERE", "backend_jwt_header", '"Host"'),
        "on-without-key": ("""
            location / {
                backend_jwt on; #HERE
                proxy_pass BACKEND;
            }""", MERGE, "no signing key: RS256 needs backend_jwt_signing_key"),
        "duplicate-directive": ("backend_jwt_encoding base64;\n backend_jwt_encoding base64url; #HERE",
                                '"backend_jwt_encoding"', "is duplicate"),
        "duplicate-key": (f"{key}\n {key} #HERE", '"backend_jwt_signing_key"', "is duplicate"),
    }


IDS = [
    "algorithm", "encoding", "key-missing", "key-directory", "key-public", "key-certificate",
    "key-rsa-1024", "key-garbage", "key-ec-for-rs256", "ttl-zero", "ttl-word", "ttl-ms",
    "claim-type", "claim-option", "claim-reserved", "claim-duplicate", "header-empty",
    "header-space", "header-underscore", "header-host", "on-without-key",
    "duplicate-directive", "duplicate-key"]


def assert_emerg(result, directive, value):
    code, out, conf, line = result
    assert code != 0, out
    assert line is not None
    if directive == MERGE:  # exactly the merge-time form
        pattern = rf"^nginx: \[emerg\] backend_jwt: {re.escape(value)} in {re.escape(conf)}:{line}$"
    else:
        pattern = rf"\[emerg\] .*{re.escape(directive)}.*{re.escape(value)}.* in {re.escape(conf)}:{line}$"
    assert re.search(pattern, out, re.M), f"{pattern!r} not in:\n{out}"


@pytest.mark.parametrize("case", IDS)
def test_config_error(nginx_t, keys, case):
    server, directive, value = cases(keys)[case]
    assert_emerg(nginx_t(server), directive, value)


def test_config_errors_cover_every_case(keys):
    assert sorted(IDS) == sorted(cases(keys))


def test_ec_key_inherited_from_http_reported_at_its_line(nginx_t, keys):
    result = nginx_t(
        "location / { backend_jwt on; proxy_pass BACKEND; }",
        http=f"    backend_jwt_signing_key {keys.ec}; #HERE")
    assert_emerg(result, MERGE, f'key file "{keys.ec}" holds a key of type EC P-256, '
                                "which cannot sign RS256; RS256 needs an RSA key")


def test_on_at_server_without_key_reported_at_server_line(nginx_t, keys):
    result = nginx_t("""
        backend_jwt on; #HERE
        location / { backend_jwt off; proxy_pass BACKEND; }""")
    assert_emerg(result, MERGE, "no signing key: RS256 needs backend_jwt_signing_key")


@pytest.mark.parametrize("server", [
    "location / { backend_jwt on; backend_jwt_signing_algorithm none; proxy_pass BACKEND; }",
    "location / { backend_jwt_signing_key KEY_RSA; backend_jwt_encoding BASE64URL; backend_jwt_token_ttl 1y; }",
    "location / { backend_jwt on; backend_jwt_signing_key KEY_RSA; backend_jwt_header x-Custom-9; }",
    # an EC key is fine where nothing signs with it
    "location / { backend_jwt_signing_key KEY_EC; backend_jwt on; backend_jwt_signing_algorithm NONE; }",
], ids=["none-without-key", "key-without-on", "custom-header", "ec-key-with-none"])
def test_good_configs_pass(nginx_t, keys, server):
    code, out, _, _ = nginx_t(server.replace("KEY_RSA", keys.rsa).replace("KEY_EC", keys.ec))
    assert code == 0, out
    assert "[emerg]" not in out
