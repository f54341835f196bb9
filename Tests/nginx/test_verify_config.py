"""`nginx -t` refuses every verification configuration that cannot work (issue 11), with
`[emerg]` at the file:line an operator must fix (marked `#HERE`); and a reload whose key file
broke is refused while the old workers keep verifying."""

import json
import os
import re
import signal
from pathlib import Path

import pytest

from caller_tokens import IdP, assert_refused, bearer
from conftest import assert_emerg, b64url, headers_named, public_jwk, wait_for
from cryptography.hazmat.primitives.asymmetric import ec, rsa, x25519

MISSING_FILE = "/nonexistent/backend-jwt/jwks.json"
ALGORITHMS = ("use RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, HS256, "
              "HS384 or HS512")
TIME = "use seconds (3600) or nginx time (1h, 90s, 1h 30m)"


def directive(name, message):
    """The message of an error in one directive."""
    return f'"{name}" directive: {message}'


def key_file(path, message):
    return directive("backend_jwt_verify_key", f'verification key file "{path}" {message}')


@pytest.fixture(scope="module")
def idp(keys, tmp_path_factory):
    return IdP(keys, tmp_path_factory.mktemp("idp"))


@pytest.fixture(scope="module")
def broken(keys, tmp_path_factory):
    """Key files that cannot be read as verification keys, by name."""
    d = tmp_path_factory.mktemp("broken-keys")
    d.chmod(0o755)
    rsa_jwk = public_jwk(keys.pub["rsa"])
    ec_jwk = public_jwk(keys.pub["ec"])
    off_curve = dict(ec_jwk, y=b64url(bytes(31) + b"\x01"))
    small = public_jwk(rsa.generate_private_key(65537, 1024).public_key())
    x25519_jwk = {"kty": "OKP", "crv": "X25519",
                  "x": b64url(x25519.X25519PrivateKey.generate().public_key().public_bytes_raw())}
    files = {
        "not-json": b'{"keys": [\n',
        "keys-not-array": json.dumps({"keys": rsa_jwk}).encode(),
        "rsa-without-e": json.dumps({"keys": [{"kty": "RSA", "n": rsa_jwk["n"]}]}).encode(),
        "ec-off-curve": json.dumps({"keys": [off_curve]}).encode(),
        "rsa-1024": json.dumps({"keys": [small]}).encode(),
        "no-usable-key": json.dumps({"keys": [x25519_jwk]}).encode(),
        "padded-n": json.dumps({"keys": [dict(rsa_jwk, n=rsa_jwk["n"] + "=")]}).encode(),
        "chain": Path(keys.cert).read_bytes() + Path(keys.cert_ec).read_bytes(),
    }
    paths = {}
    for name, data in files.items():
        (d / name).write_bytes(data)
        (d / name).chmod(0o644)
        paths[name] = str(d / name)
    return paths


def loc(body):
    return f"""
        location / {{
            {body}
            proxy_pass BACKEND;
        }}"""


def assert_emerg_about(result, *fragments):
    """`nginx -t` fails with an `[emerg]` line at the `#HERE` line that mentions every
    fragment (the directive or the value at fault, the file, the reason)."""
    code, out, conf, line = result
    assert code != 0, out
    assert line is not None
    at = f" in {conf}:{line}"
    lines = [l for l in out.splitlines() if l.startswith("nginx: [emerg] ") and l.endswith(at)]
    assert lines, f"no [emerg] ...{at} in:\n{out}"
    missing = [f for f in fragments if f not in lines[0]]
    assert not missing, f"{missing} not in {lines[0]!r}"


# ---------------------------------------------------------------- keys


def test_verify_on_without_a_key(nginx_t):
    assert_emerg(nginx_t(loc("backend_jwt_verify on; #HERE")),
                 '"backend_jwt_verify on" needs a key: add backend_jwt_verify_key or backend_jwt_verify_jwks')


def test_verify_on_at_server_level_without_a_key_reported_at_its_line(nginx_t):
    assert_emerg(nginx_t("backend_jwt_verify on; #HERE\n" + loc("")),
                 '"backend_jwt_verify on" needs a key: add backend_jwt_verify_key or backend_jwt_verify_jwks')


@pytest.mark.parametrize("name, setting", [
    ("backend_jwt_verify_require", "backend_jwt_verify_require $arg_admin;"),
    ("backend_jwt_verify_key", "backend_jwt_verify_key JWKS;"),
    ("backend_jwt_verify_issuer", "backend_jwt_verify_issuer https://idp.example.com;"),
    ("backend_jwt_verify_jwks", "backend_jwt_verify_jwks /_jwks;"),
    ("backend_jwt_verify_audience", "backend_jwt_verify off; backend_jwt_verify_audience orders-api;"),
], ids=["require", "key", "issuer", "jwks", "explicitly-off"])
def test_verify_setting_where_verification_is_off(nginx_t, idp, name, setting):
    """A location that sets a verification directive but never verifies (`backend_jwt_verify on`
    forgotten) would look protected and be open: nginx -t fails at that directive."""
    result = nginx_t(loc(setting.replace("JWKS", idp.jwks) + " #HERE"))
    assert_emerg(result, f'"{name}" has no effect: "backend_jwt_verify" is off in location "/" (turn it on '
                         "there or above, or remove the directive)")


def test_server_settings_for_locations_that_verify(nginx_t, idp):
    """The server holds the keys and a require for the locations that verify; one that does not
    verify is fine, and gets through unchecked, as configured."""
    code, out, _, _ = nginx_t(f"""backend_jwt_verify_key {idp.jwks};
        backend_jwt_verify_require $arg_admin;
        location /admin/ {{ backend_jwt_verify on; proxy_pass BACKEND; }}""" + loc(""))
    assert code == 0, out
    assert "[emerg]" not in out and "[warn]" not in out, out


def test_missing_key_file(nginx_t):
    result = nginx_t(loc(f"""backend_jwt_verify on;
            backend_jwt_verify_key {MISSING_FILE}; #HERE"""))
    assert_emerg(result, directive("backend_jwt_verify_key",
                                   f'cannot open verification key file "{MISSING_FILE}": No such file or directory'))


def test_key_file_that_is_a_directory(nginx_t, keys):
    result = nginx_t(loc(f"""backend_jwt_verify on;
            backend_jwt_verify_key {keys.dir}; #HERE"""))
    assert_emerg(result, key_file(keys.dir, "is not a regular file"))


BROKEN = {
    "not-json": "is not valid JSON: unexpected end at byte 11",
    "keys-not-array": 'has a "keys" member that is not an array',
    "rsa-without-e": 'has JWK 1 of the set without "e"',
    "ec-off-curve": 'has JWK 1 of the set whose point ("x", "y") is not on P-256',
    "rsa-1024": "has JWK 1 of the set that is an RSA 1024-bit key; at least 2048 bits are required",
    "no-usable-key": 'is a JWK Set with no key this verifier can use (OKP curve "X25519" is not Ed25519)',
    "padded-n": """has JWK 1 of the set whose "n" is not base64url: it has padding ('=')""",
    "chain": "holds 2 PEM blocks; give one key or certificate per file (the CA certificates of a "
             "chain are not verification keys)",
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_malformed_key_file(nginx_t, broken, name):
    """Reported at the key's line, with the file and what is wrong in it."""
    result = nginx_t(loc(f"""backend_jwt_verify on;
            backend_jwt_verify_key {broken[name]}; #HERE"""))
    assert_emerg(result, key_file(broken[name], BROKEN[name]))


@pytest.mark.parametrize("name,why", [
    ("garbage", "is neither JSON (a JWK or JWK Set) nor PEM"),
    ("rsa_encrypted", "holds an encrypted private key; give its public half (openssl pkey -in KEY -pubout)")])
def test_pem_file_that_gives_no_public_key(nginx_t, keys, name, why):
    path = getattr(keys, name)
    result = nginx_t(loc(f"""backend_jwt_verify on;
            backend_jwt_verify_key {path}; #HERE"""))
    assert_emerg(result, key_file(path, why))


def test_malformed_key_file_where_verification_is_off_still_fails(nginx_t, broken):
    """A key file is read where it is written, whether or not a location verifies with it."""
    result = nginx_t(loc(""), http=f"    backend_jwt_verify_key {broken['not-json']}; #HERE")
    assert_emerg(result, key_file(broken["not-json"], BROKEN["not-json"]))


# ---------------------------------------------------------------- algorithms


@pytest.mark.parametrize("value", ["none", "NONE", "None"])
def test_none_in_the_algorithms(nginx_t, idp, value):
    result = nginx_t(loc(f"""backend_jwt_verify on;
            backend_jwt_verify_key {idp.jwks};
            backend_jwt_verify_algorithms RS256 {value}; #HERE"""))
    assert_emerg(result, directive("backend_jwt_verify_algorithms",
                                   '"none" can never be a verification algorithm (RFC 8725 3.1)'))


@pytest.mark.parametrize("value", ["RS257", "SHA256withRSA", "HS1", "ES256K"])
def test_unknown_algorithm(nginx_t, idp, value):
    result = nginx_t(loc(f"""backend_jwt_verify on;
            backend_jwt_verify_key {idp.jwks};
            backend_jwt_verify_algorithms RS256 {value}; #HERE"""))
    assert_emerg(result, directive("backend_jwt_verify_algorithms",
                                   f'unknown verification algorithm "{value}"; {ALGORITHMS}'))


@pytest.mark.parametrize("algorithms", ["HS256", "HS256 HS512", "ES256 EdDSA"])
def test_allow_list_no_key_can_serve(nginx_t, keys, algorithms):
    """An RSA public key with only HS (or other families) allowed: nothing could ever verify.
    Reported at the allow-list, the line that made the keys useless."""
    result = nginx_t(loc(f"""backend_jwt_verify on;
            backend_jwt_verify_key {keys.public};
            backend_jwt_verify_algorithms {algorithms}; #HERE"""))
    assert_emerg(result, f"backend_jwt: no verification key can verify any allowed algorithm "
                         f"({algorithms}); the keys are: RSA 2048-bit key")


def test_allow_list_inherited_from_http_reported_at_its_line(nginx_t, keys):
    result = nginx_t(loc(f"""backend_jwt_verify on;
            backend_jwt_verify_key {keys.public};"""), http="    backend_jwt_verify_algorithms HS256; #HERE")
    assert_emerg(result, "backend_jwt: no verification key can verify any allowed algorithm (HS256); "
                         "the keys are: RSA 2048-bit key")


def test_hmac_jwk_without_an_hs_algorithm(nginx_t, idp):
    """A `kty: oct` JWK alone, with the default list (no HS): nothing could ever verify.
    Reported at the key, there being no allow-list line."""
    result = nginx_t(loc(f"""backend_jwt_verify on;
            backend_jwt_verify_key {idp.jwk['secret']}; #HERE"""))
    assert_emerg_about(result, "backend_jwt: no verification key can verify any allowed algorithm (RS256 ",
                       "HMAC secret", '"idp-secret"')


# ---------------------------------------------------------------- values


@pytest.mark.parametrize("value,message", [
    ("abc", f'invalid leeway "abc"; {TIME}'), ("1ms", f'invalid leeway "1ms"; {TIME}'),
    ("-5", f'invalid leeway "-5"; {TIME}'),
    ("2h", 'leeway "2h" is longer than 1h: tokens that long expired are expired'),
    ("3601", 'leeway "3601" is longer than 1h: tokens that long expired are expired')])
def test_bad_leeway(nginx_t, value, message):
    assert_emerg(nginx_t(f"backend_jwt_verify_leeway {value}; #HERE"),
                 directive("backend_jwt_verify_leeway", message))


@pytest.mark.parametrize("args,message", [
    ("yes", 'every value takes a variable ($name), not "yes"'),
    ("$arg_a yes", 'every value takes a variable ($name), not "yes"'),
    ("1", 'every value takes a variable ($name), not "1"'),
    ("error=403", 'no value to require before "error=403"'),
    ("$arg_a error=404", 'invalid option "error=404"; use error=401 or error=403'),
    ("$arg_a error=", 'invalid option "error="; use error=401 or error=403')])
def test_bad_require(nginx_t, args, message):
    """Every argument but error=401|403 must contain a variable, and at least one must be there."""
    assert_emerg(nginx_t(f"backend_jwt_verify_require {args}; #HERE"),
                 directive("backend_jwt_verify_require", message))


@pytest.mark.parametrize("args,message", [
    ("on token=abc", directive("backend_jwt_verify", 'token= takes a variable ($name), not "abc"')),
    ("on token=", directive("backend_jwt_verify", 'invalid option "token="; use token=$variable')),
    ("on source=$cookie_at",
     directive("backend_jwt_verify", 'invalid option "source=$cookie_at"; use token=$variable')),
    ("maybe", 'invalid value "maybe" in "backend_jwt_verify" directive, it must be "on" or "off"'),
    ("on token=$cookie_at extra", 'invalid number of arguments in "backend_jwt_verify" directive')])
def test_bad_verify_arguments(nginx_t, idp, args, message):
    result = nginx_t(loc(f"""backend_jwt_verify {args}; #HERE
            backend_jwt_verify_key {idp.jwks};"""))
    assert_emerg(result, message)


# ---------------------------------------------------------------- claim copies


def minting(idp, keys, body):
    """A location that verifies with the IdP's JWKS and mints, plus `body`."""
    return loc(f"""backend_jwt_verify on;
            backend_jwt_verify_key {idp.jwks};
            backend_jwt on;
            backend_jwt_signing_key {keys.rsa};
            {body}""")


SET_BY = {
    "sub": "set it with backend_jwt_subject (to pass the caller's on: backend_jwt_subject $backend_jwt_in_claim_sub)",
    "iss": "set it with backend_jwt_issuer (to pass the caller's on: backend_jwt_issuer $backend_jwt_in_claim_iss)",
    "aud": "set it with backend_jwt_audience (the backend's audience: the caller's names this gateway)",
    "exp": "the module sets it (backend_jwt_caller_exp cap keeps it within the caller's)",
    "jti": "the module sets it (backend_jwt_jti)",
}


@pytest.mark.parametrize("spec,target", [("sub", "sub"), ("email=sub", "sub"), ("exp", "exp"),
                                         ("realm_access.roles=iss", "iss"), ("x=aud", "aud"),
                                         ("jti", "jti")])
def test_copy_into_a_registered_claim(nginx_t, keys, idp, spec, target):
    """The module sets the registered claims: the message says how to set each."""
    result = nginx_t(minting(idp, keys, f"backend_jwt_copy_claims email {spec}; #HERE"))
    assert_emerg(result, directive("backend_jwt_copy_claims",
                                   f'spec "{spec}": "{target}" is registered: {SET_BY[target]}'))


def both(spec, name):
    return f'backend_jwt: backend_jwt_copy_claims "{spec}" and backend_jwt_claim "{name}" both set "{name}"'


@pytest.mark.parametrize("body,message", [
    ("backend_jwt_claim email $http_x_email;\n backend_jwt_copy_claims email tenant; #HERE",
     both("email", "email")),
    ("backend_jwt_claim roles $http_x_roles;\n backend_jwt_copy_claims realm_access.roles=roles; #HERE",
     both("realm_access.roles=roles", "roles")),
    ("backend_jwt_copy_claims email; #HERE\n backend_jwt_claim email $http_x_email;", both("email", "email")),
], ids=["copy-after-claim", "path-target", "claim-after-copy"])
def test_copy_target_collides_with_a_declared_claim(nginx_t, keys, idp, body, message):
    """Reported at the copy: the claim would be in the token twice."""
    assert_emerg(nginx_t(minting(idp, keys, body)), message)


def test_copy_target_collides_with_an_inherited_claim(nginx_t, keys, idp):
    result = nginx_t("backend_jwt_claim tenant $http_x_tenant;\n"
                     + minting(idp, keys, "backend_jwt_copy_claims email tenant; #HERE"))
    assert_emerg(result, both("tenant", "tenant"))


def test_copy_claims_where_minting_without_verify(nginx_t, keys):
    """Nothing verified to copy from: refused where the location mints."""
    result = nginx_t(loc(f"""backend_jwt on;
            backend_jwt_signing_key {keys.rsa};
            backend_jwt_copy_claims email; #HERE"""))
    assert_emerg(result, '"backend_jwt_copy_claims" needs "backend_jwt_verify on" where "backend_jwt on" '
                         "is: without a verified token there is nothing to copy")


# ---------------------------------------------------------------- duplicates


@pytest.mark.parametrize("name,value,hint", [
    ("backend_jwt_verify", "on", ""), ("backend_jwt_verify_algorithms", "RS256", ""),
    ("backend_jwt_verify_issuer", "https://a.example.com", " (give every value in one directive)"),
    ("backend_jwt_verify_audience", "a", " (give every value in one directive)"),
    ("backend_jwt_verify_leeway", "10s", ""), ("backend_jwt_verify_forward", "on", ""),
    ("backend_jwt_copy_claims", "email", " (give every claim in one directive)"),
    ("backend_jwt_caller_exp", "ignore", "")])
def test_duplicate_directive(nginx_t, name, value, hint):
    """nginx's own message, with a hint where the directive takes several values."""
    result = nginx_t(loc(f"""{name} {value};
            {name} {value}; #HERE"""))
    assert_emerg(result, f'"{name}" directive is duplicate{hint}')


# ---------------------------------------------------------------- good configurations


@pytest.mark.parametrize("server", [
    loc("backend_jwt_verify on; backend_jwt_verify_key JWKS;"),
    loc("backend_jwt_verify on token=$cookie_at; backend_jwt_verify_key JWKS; backend_jwt_verify_forward on;"),
    loc("backend_jwt_verify on; backend_jwt_verify_key OCT; backend_jwt_verify_algorithms HS256 HS512;"),
    loc("backend_jwt_verify on; backend_jwt_verify_key JWKS; backend_jwt_verify_algorithms rs256 EDDSA;"),
    loc("backend_jwt_verify on; backend_jwt_verify_key JWKS; backend_jwt_verify_leeway 1h;"),
    loc("backend_jwt_verify on; backend_jwt_verify_key JWKS; backend_jwt_verify_leeway 0;"),
    loc("backend_jwt_verify on; backend_jwt_verify_key JWKS; backend_jwt_verify_require $arg_a $arg_b error=401;"),
    loc("backend_jwt_verify on; backend_jwt_verify_key JWKS; backend_jwt_verify_require \"x$arg_a\";"),
    loc("backend_jwt_verify off;"),
    loc("backend_jwt_verify on; backend_jwt_verify_key JWKS; backend_jwt on; backend_jwt_signing_key RSA; "
        "backend_jwt_copy_claims * except=email,scope; backend_jwt_claim email $http_x_email;"),
    loc("backend_jwt_verify on; backend_jwt_verify_key JWKS; backend_jwt on; backend_jwt_signing_key RSA; "
        "backend_jwt_copy_claims off; backend_jwt_claim email $http_x_email;"),
    loc("backend_jwt_copy_claims email;"),  # nothing mints here
], ids=["jwks", "cookie", "hmac", "names-any-case", "leeway-max", "leeway-zero", "require-401",
        "require-mixed", "off-without-key", "copy-star-except", "copy-off", "copy-without-minting"])
def test_good_configs_pass(nginx_t, keys, idp, server):
    server = server.replace("JWKS", idp.jwks).replace("OCT", idp.jwk["secret"]).replace("RSA", keys.rsa)
    code, out, _, _ = nginx_t(server)
    assert code == 0, out
    assert "[emerg]" not in out and "[warn]" not in out, out


def test_inherited_keys_with_verify_at_location(nginx_t, idp):
    code, out, _, _ = nginx_t(loc("backend_jwt_verify on;"), http=f"    backend_jwt_verify_key {idp.jwks};")
    assert code == 0, out


# ---------------------------------------------------------------- reloads


WORKERS = 2


def worker_pids(n):
    return {int(pid) for _, pid in n.workers()}


def reload(n, server):
    old = worker_pids(n)
    n.write_conf(server, workers=WORKERS)
    os.kill(n.pid, signal.SIGHUP)
    assert wait_for(lambda: (lambda p: len(p) == WORKERS and p.isdisjoint(old))(worker_pids(n))), n.log()


def gate(path):
    return loc(f"""backend_jwt_verify on;
            backend_jwt_verify_key {path};
            proxy_set_header X-Sub $backend_jwt_in_claim_sub;""")


def test_reload_with_a_broken_key_file_is_refused_and_old_workers_keep_verifying(
        nginx, idp, backend, tmp_path):
    """The key file is rewritten in place: a reload re-reads it. A broken file refuses the
    reload (the old workers keep verifying with the old key); a new key is taken on the next
    good reload, and the old key's tokens are refused from then on."""
    tmp_path.chmod(0o755)
    key_file = tmp_path / "idp.jwks"
    key_file.write_text(Path(idp.jwk["rsa"]).read_text())
    key_file.chmod(0o644)
    n = nginx(gate(key_file), workers=WORKERS)
    rs, es = idp.token("RS256"), idp.token("ES256")
    workers = worker_pids(n)

    def verifies(token, times=6):  # both workers, most likely
        for _ in range(times):
            assert headers_named(n.seen("/", bearer(token)), "X-Sub") == ["alice"]

    verifies(rs)
    emerg = rf"\[emerg\] .*{re.escape(str(key_file))}"
    n.allowed.append(emerg)
    for i, broken in enumerate([b'{"keys": [', b"", json.dumps({"keys": []}).encode()], 1):
        key_file.write_bytes(broken)
        os.kill(n.pid, signal.SIGHUP)
        assert wait_for(lambda: len(re.findall(emerg, n.log())) == i), n.log()
        verifies(rs)
        assert_refused(n, backend, bearer(es), token=es)
        assert worker_pids(n) == workers
    key_file.write_text(Path(idp.jwk["ec"]).read_text())
    reload(n, gate(key_file))
    verifies(es)
    assert_refused(n, backend, bearer(rs), token=rs)
