"""Clients that send the token header themselves, in every form nginx lets through, over HTTP/1.0,
HTTP/1.1 (several requests on one keep-alive connection) and HTTP/2 (h2c, prior knowledge): the
backend sees exactly one token header, the module's, and it verifies. Where the module is off or
unconfigured, the backend gets exactly the request it gets from an nginx without the module."""

import http.client
import json
import socket

import h2.config
import h2.connection
import h2.events
import jwt
import pytest

from conftest import HOST, NGINX_VERSION, SCALE, headers_named, only_token, verify

SPOOF = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9."
NAME = "X-JWT-Assertion"
OTHER = "X-Backend-Token"  # the module's header when renamed

# (id, headers the client adds): every spelling a backend may read as the token header
FORMS = [
    ("exact", [(NAME, SPOOF)]),
    ("lower", [(NAME.lower(), SPOOF)]),
    ("upper", [(NAME.upper(), SPOOF)]),
    ("mixed", [("x-JwT-aSSERTion", SPOOF)]),
    ("copies", [(NAME, SPOOF + "1"), (NAME.lower(), SPOOF + "2"), (NAME, SPOOF + "3"),
                ("X-JWT-ASSERTION", SPOOF + "4")]),
    ("underscores", [("X_JWT_Assertion", SPOOF), ("x_jwt_assertion", SPOOF + "2")]),
    ("half-underscore", [("X-JWT_Assertion", SPOOF), ("x_jwt-ASSERTION", SPOOF + "2")]),
    ("empty", [(NAME, "")]),
    # more copies than one part of nginx's header list holds (20), the token's among others
    ("many", [(f"X-Pad-{i}", str(i)) for i in range(15)]
     + [(NAME if i % 2 else "x_jwt_assertion", f"{SPOOF}{i}") for i in range(30)]
     + [(f"X-Pad-{i}", str(i)) for i in range(15, 30)]),
]
# HTTP/2 header names are lower case (RFC 9113 8.2.1): nginx resets a stream with upper case
H2_FORMS = [(id_, [(k.lower(), v) for k, v in sent]) for id_, sent in FORMS]


def module_conf(keys, renamed=False, cache=False):
    header = f"backend_jwt_header {OTHER};" if renamed else ""
    cached = "backend_jwt_cache size=8;" if cache else ""  # the same token for every request
    return f"""
        underscores_in_headers on;
        location / {{
            backend_jwt on;
            backend_jwt_signing_key {keys.rsa};
            backend_jwt_subject module;
            {header}
            {cached}
            proxy_set_header X-Conn $connection;
            proxy_pass BACKEND;
        }}
"""


def spellings(seen, name):
    """Names of received headers a backend may read as `name` (any case, `_` for `-`)."""
    return [k for k, _ in seen if k.lower().replace("_", "-") == name.lower()]


def check(seen, keys, sent, renamed=False):
    """Exactly one token header, the module's, verifying; everything else the client sent kept."""
    name = OTHER if renamed else NAME
    assert spellings(seen, name) == [name], seen
    assert verify(only_token(seen, name), keys)["sub"] == "module"
    if renamed:  # the default name is not the module's any more: passed on untouched
        forged = [(k, v) for k, v in sent if k.lower().replace("_", "-") == NAME.lower()]
        assert [(k, v) for k, v in seen if k.lower().replace("_", "-") == NAME.lower()] == forged
    pads = [(k, v) for k, v in sent if k.startswith("X-Pad-")]
    assert [(k, v) for k, v in seen if k.startswith("X-Pad-")] == pads


# ---------------------------------------------------------------- clients


def http10(n, path, headers):
    code, _, body = n.request(path, headers)
    return code, body


class KeepAlive:
    """HTTP/1.1 requests one after another on one connection."""

    def __init__(self, port):
        self.sock = socket.create_connection((HOST, port), timeout=10 * SCALE)

    def request(self, path, headers):
        lines = [f"GET {path} HTTP/1.1", "Host: localhost"] + [f"{k}: {v}" for k, v in headers]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        resp = http.client.HTTPResponse(self.sock, method="GET")
        resp.begin()
        body = resp.read()
        assert not resp.will_close, resp.getheaders()
        return resp.status, body

    def close(self):
        self.sock.close()


class H2:
    """HTTP/2 over cleartext with prior knowledge: each request a stream of one connection, one at
    a time. Headers are sent as given (no lower-casing or validation by the client)."""

    def __init__(self, port):
        config = h2.config.H2Configuration(
            client_side=True, header_encoding=None, validate_outbound_headers=False,
            normalize_outbound_headers=False, validate_inbound_headers=False)
        self.conn = h2.connection.H2Connection(config=config)
        self.sock = socket.create_connection((HOST, port), timeout=10 * SCALE)
        self.conn.initiate_connection()
        self.sock.sendall(self.conn.data_to_send())

    def request(self, path, headers):
        """(status or "reset", body)."""
        sid = self.conn.get_next_available_stream_id()
        fields = [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"localhost"),
                  (b":path", path.encode())]
        fields += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        self.conn.send_headers(sid, fields, end_stream=True)
        self.sock.sendall(self.conn.data_to_send())
        status, body = None, b""
        while True:
            data = self.sock.recv(1 << 16)
            assert data, "nginx closed the HTTP/2 connection"
            for ev in self.conn.receive_data(data):
                if getattr(ev, "stream_id", None) != sid:
                    assert not isinstance(ev, h2.events.ConnectionTerminated), ev
                    continue
                if isinstance(ev, h2.events.ResponseReceived):
                    status = int(dict(ev.headers)[b":status"])
                elif isinstance(ev, h2.events.DataReceived):
                    body += ev.data
                    self.conn.acknowledge_received_data(ev.flow_controlled_length, sid)
                elif isinstance(ev, h2.events.StreamReset):
                    return "reset", body
                elif isinstance(ev, h2.events.StreamEnded):
                    self.sock.sendall(self.conn.data_to_send())
                    return status, body
            self.sock.sendall(self.conn.data_to_send())

    def close(self):
        self.conn.close_connection()
        self.sock.sendall(self.conn.data_to_send())
        self.sock.close()


# ---------------------------------------------------------------- forged headers


@pytest.mark.parametrize("renamed", [False, True], ids=["default-name", "renamed"])
@pytest.mark.parametrize("form", FORMS, ids=[f[0] for f in FORMS])
def test_http10(nginx, keys, backend, form, renamed):
    n = nginx(module_conf(keys, renamed))
    sent = form[1] + [(OTHER, SPOOF), ("x_backend_token", SPOOF)] if renamed else form[1]
    code, body = http10(n, "/", sent + [("X-Other", "kept")])
    assert code == 200, body
    seen = json.loads(body)["headers"]
    check(seen, keys, sent, renamed)
    assert headers_named(seen, "X-Other") == ["kept"]


@pytest.mark.parametrize("cache", [False, True], ids=["minted", "cached"])
@pytest.mark.parametrize("renamed", [False, True], ids=["default-name", "renamed"])
def test_http11_keepalive_every_form_on_one_connection(nginx, keys, backend, renamed, cache):
    n = nginx(module_conf(keys, renamed, cache))
    client = KeepAlive(n.port)
    conns, jtis = set(), set()
    try:
        for _ in range(2):  # each form twice, so a request after every other one
            for _, form in FORMS:
                sent = form + [(OTHER, SPOOF)] if renamed else form
                code, body = client.request("/", sent)
                assert code == 200, body
                seen = json.loads(body)["headers"]
                check(seen, keys, sent, renamed)
                conns.update(headers_named(seen, "X-Conn"))
                jtis.add(verify(only_token(seen, OTHER if renamed else NAME), keys)["jti"])
    finally:
        client.close()
    assert len(conns) == 1, conns  # one client connection throughout
    assert len(jtis) == (1 if cache else 2 * len(FORMS))


@pytest.mark.parametrize("cache", [False, True], ids=["minted", "cached"])
@pytest.mark.parametrize("renamed", [False, True], ids=["default-name", "renamed"])
def test_http2_every_form_on_one_connection(nginx, keys, backend, renamed, cache):
    n = nginx(module_conf(keys, renamed, cache), listen=" http2")
    client = H2(n.port)
    conns = set()
    try:
        for _ in range(2):
            for _, form in H2_FORMS:
                sent = form + [(OTHER.lower(), SPOOF)] if renamed else form
                code, body = client.request("/", sent)
                assert code == 200, body
                seen = json.loads(body)["headers"]
                check(seen, keys, sent, renamed)
                conns.update(headers_named(seen, "X-Conn"))
    finally:
        client.close()
    assert len(conns) == 1, conns
    assert len(backend.hits) == 2 * len(H2_FORMS)


@pytest.mark.parametrize("name", [NAME, "X_JWT_Assertion", "x-JWT-assertion"])
def test_http2_upper_case_name_refused_by_nginx(nginx, keys, backend, name):
    """Not the module's doing: nginx refuses an HTTP/2 header name with upper case letters (RFC
    9113 8.2.1: malformed), so such a copy never reaches the module (nor the backend). How it
    refuses changed after 1.22: 1.22 resets the stream, the 1.23 mainline and later (1.30, 1.31
    tested) answer 400 on the stream; the connection goes on with both."""
    n = nginx(module_conf(keys), listen=" http2")
    client = H2(n.port)
    try:
        code, _ = client.request("/", [(name, SPOOF)])
        assert code == ("reset" if NGINX_VERSION < (1, 23, 0) else 400)
        code, body = client.request("/", [(name.lower(), SPOOF)])  # the connection goes on
        assert code == 200
        check(json.loads(body)["headers"], keys, [(name.lower(), SPOOF)])
    finally:
        client.close()
    assert len(backend.hits) == 1
    assert "client sent invalid header name" in n.log()


@pytest.mark.parametrize("transport", ["http1.0", "http2"])
def test_underscores_dropped_by_nginx_unless_allowed(nginx, keys, backend, transport):
    """Without underscores_in_headers nginx itself drops X_JWT_Assertion."""
    conf = module_conf(keys).replace("underscores_in_headers on;", "")
    if transport == "http2":
        n = nginx(conf, listen=" http2")
        client = H2(n.port)
        try:
            code, body = client.request("/", [("x_jwt_assertion", SPOOF)])
        finally:
            client.close()
    else:
        code, body = http10(nginx(conf), "/", [("X_JWT_Assertion", SPOOF)])
    assert code == 200
    check(json.loads(body)["headers"], keys, [])


def test_http2_and_http1_on_one_server_with_subrequest(nginx, keys, backend):
    """auth_request subrequests share the parent's headers: the client's copies are removed in
    the rewrite phase, before the access phase starts the subrequest, so the auth location
    (where the module is off) sees none, and the main request gets the module's token."""
    n = nginx(f"""
        underscores_in_headers on;
        location / {{
            backend_jwt on;
            backend_jwt_signing_key {keys.rsa};
            backend_jwt_subject module;
            auth_request /auth/alice;
            proxy_pass BACKEND;
        }}
        location /auth/ {{
            internal;
            proxy_pass BACKEND;
            proxy_pass_request_body off;
        }}
""", listen=" http2")
    sent = [("x-jwt-assertion", SPOOF), ("x_jwt_assertion", SPOOF + "2")]
    client = H2(n.port)
    try:
        for _ in range(3):
            code, body = client.request("/api", sent)
            assert code == 200, body
            check(json.loads(body)["headers"], keys, sent)
    finally:
        client.close()
    auth = [h for h in backend.hits if h["path"].startswith("/auth/")]
    assert len(auth) == 3
    for hit in auth:  # no copy, and no token: it ran before the token was minted
        assert spellings(hit["headers"], NAME) == [], hit


# ---------------------------------------------------------------- off means untouched


REQUESTS = [  # (path, headers) sent unchanged through every configuration
    ("/plain", [("X-JWT-Assertion", SPOOF), ("X-Other", "kept")]),
    ("/plain/a%20b?x=1&y=%22", [("x-jwt-assertion", SPOOF), ("X_JWT_Assertion", SPOOF + "2"),
                                ("X-JWT-ASSERTION", SPOOF + "3"), ("Accept", "*/*"),
                                ("Cookie", "a=1"), ("Cookie", "b=2")]),
    ("/plain", [(f"X-Pad-{i}", "v" * i) for i in range(40)] + [("X-JWT-Assertion", "")]),
    ("/plain", []),
]

OFF_CONFS = {
    # location off under a server that signs
    "location-off": lambda keys: f"""
        underscores_in_headers on;
        backend_jwt on;
        backend_jwt_signing_key {keys.rsa};
        backend_jwt_claim c $http_x_other;
        location /plain {{
            backend_jwt off;
            proxy_pass RAW_BACKEND;
        }}
""",
    # the module loaded, no directive anywhere
    "unconfigured": lambda keys: """
        underscores_in_headers on;
        location /plain {
            proxy_pass RAW_BACKEND;
        }
""",
    # on in http{}, off in server{}
    "server-off": lambda keys: f"""
        underscores_in_headers on;
        backend_jwt off;
        location /plain {{
            proxy_pass RAW_BACKEND;
        }}
""",
}
OFF_HTTP = {"server-off": lambda keys: f"    backend_jwt on;\n    backend_jwt_signing_key {keys.rsa};\n"}
BASELINE = """
        underscores_in_headers on;
        location /plain {
            proxy_pass RAW_BACKEND;
        }
"""


def heads_through(n, raw_backend, transport):
    """Sends REQUESTS over `transport`; returns the request heads the backend received."""
    before = len(raw_backend.heads)
    if transport == "http1.0":
        for path, headers in REQUESTS:
            code, body = http10(n, path, headers)
            assert code == 200, body
    else:
        client = KeepAlive(n.port) if transport == "http1.1" else H2(n.port)
        try:
            for path, headers in REQUESTS:
                if transport == "http2":
                    headers = [(k.lower(), v) for k, v in headers]
                code, body = client.request(path, headers)
                assert code == 200, body
        finally:
            client.close()
    return raw_backend.heads[before:]


@pytest.mark.parametrize("transport", ["http1.0", "http1.1", "http2"])
@pytest.mark.parametrize("conf", list(OFF_CONFS))
def test_off_passes_request_byte_for_byte(nginx, keys, raw_backend, conf, transport):
    listen = " http2" if transport == "http2" else ""
    baseline = nginx(BASELINE, listen=listen, load=False)
    expected = heads_through(baseline, raw_backend, transport)
    baseline.stop()
    assert len(expected) == len(REQUESTS)
    assert b"X-JWT-Assertion: " + SPOOF.encode() + b"\r\n" in expected[0] or transport == "http2"
    n = nginx(OFF_CONFS[conf](keys), OFF_HTTP.get(conf, lambda k: "")(keys), listen=listen)
    got = heads_through(n, raw_backend, transport)
    assert got == expected


def test_baseline_really_runs_without_the_module(nginx_t):
    code, out, conf, _ = nginx_t(BASELINE, load=False)
    assert code == 0, out
    assert "load_module" not in open(conf).read()
    code, out, _, _ = nginx_t(BASELINE + "backend_jwt off;", load=False)
    assert code == 1 and 'unknown directive "backend_jwt"' in out


def without_token_lines(head, name=NAME):
    """The head without its lines whose name a backend may read as `name`; and those lines."""
    kept, token = [], []
    for line in head.split(b"\r\n"):
        field = line.partition(b":")[0].decode("latin-1").lower().replace("_", "-")
        (token if field == name.lower() else kept).append(line)
    return b"\r\n".join(kept), token


@pytest.mark.parametrize("transport", ["http1.0", "http1.1", "http2"])
def test_on_changes_nothing_but_the_token_header(nginx, keys, raw_backend, transport):
    """With the module on, the request the backend gets is the one an nginx without the module
    sends, less the client's copies, plus one line: the token, after the client's headers."""
    listen = " http2" if transport == "http2" else ""
    baseline = nginx(BASELINE, listen=listen, load=False)
    expected = heads_through(baseline, raw_backend, transport)
    baseline.stop()
    n = nginx(BASELINE.replace("proxy_pass", f"backend_jwt on; backend_jwt_signing_key {keys.rsa}; proxy_pass"),
              listen=listen)
    got = heads_through(n, raw_backend, transport)
    assert len(got) == len(expected) == len(REQUESTS)
    for head, base in zip(got, expected):
        rest, token = without_token_lines(head)
        assert rest == without_token_lines(base)[0]
        assert len(token) == 1 and token[0].startswith(b"X-JWT-Assertion: "), token
        verify(token[0].split(b": ", 1)[1].decode(), keys)
        lines = head.split(b"\r\n")
        assert lines[lines.index(token[0]) + 1:] == [b"", b""]  # the last header


# ---------------------------------------------------------------- internal redirects


REDIRECTS = {
    # the upstream of the signing location fails; error_page hands the request to another
    "error_page-off": """
        location /a/ {{
            backend_jwt on;
            backend_jwt_signing_key {key};
            backend_jwt_audience service-a;
            error_page 502 = @other;
            proxy_pass http://127.0.0.1:{dead};
        }}
        location @other {{
            backend_jwt off;
            proxy_pass RAW_BACKEND;
        }}
""",
    # the same, where the other location signs for its own audience under another header name
    "error_page-renamed": """
        location /a/ {{
            backend_jwt on;
            backend_jwt_signing_key {key};
            backend_jwt_audience service-a;
            error_page 502 = @other;
            proxy_pass http://127.0.0.1:{dead};
        }}
        location @other {{
            backend_jwt on;
            backend_jwt_signing_key {key};
            backend_jwt_header X-Other-Token;
            backend_jwt_audience service-other;
            proxy_pass RAW_BACKEND;
        }}
""",
    # try_files runs in the same phase, after the module (a dynamic module's handler runs first)
    "try_files-off": """
        location /a/ {{
            backend_jwt on;
            backend_jwt_signing_key {key};
            backend_jwt_audience service-a;
            root PREFIX/html;  # no such directory: try_files goes on
            try_files $uri @other;
        }}
        location @other {{
            backend_jwt off;
            proxy_pass RAW_BACKEND;
        }}
""",
}


@pytest.mark.parametrize("conf", list(REDIRECTS))
def test_token_of_one_location_not_forwarded_by_another(nginx, keys, raw_backend, conf):
    """README: "Where backend_jwt is off, the module does nothing at all", and a token is for the
    location's audience. A location reached by an internal redirect forwards the client's
    headers; it must not forward a token minted for the location the request left (its backend
    could replay it to service-a until it expires), nor, where it signs itself, a second token
    under the other name. Client copies are removed (test_failed_token_never_forwards_client_copy)."""
    dead = socket.socket()
    dead.bind((HOST, 0))  # a port nothing listens on (bound, not listening: refused)
    try:
        n = nginx(REDIRECTS[conf].format(key=keys.rsa, dead=dead.getsockname()[1]))
        code, _, body = n.request("/a/x", [("X-JWT-Assertion", SPOOF)])
    finally:
        dead.close()
    assert code == 200, body
    assert len(raw_backend.heads) == 1
    seen = json.loads(body)["headers"]
    assert SPOOF not in json.dumps(seen)  # the client's copy is gone in every case
    if conf.endswith("renamed"):
        token = only_token(seen, "X-Other-Token")
        assert jwt.decode(token, keys.public_key, algorithms=["RS256"], audience="service-other")
    assert spellings(seen, NAME) == [], seen  # the token for service-a stayed behind
