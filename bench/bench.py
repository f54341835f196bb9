#!/usr/bin/env python3
"""make bench: the module's throughput against bare nginx and njs, on one machine.

nginx runs one worker pinned to CPU 0, wrk runs pinned to CPU 1, over loopback with keep-alive;
the backend is a `return 200` server in the same nginx, and every variant differs only in the
part under test. Every variant runs once per round, over BENCH_ROUNDS rounds (default 7) of
BENCH_SECONDS seconds per run (default 6), in an order that changes every round (a Williams
design: with an even number of variants no variant follows the same one twice), and openssl
speed measures the signature and verification rates again at the start of every round. Each
figure is the median over the rounds with its min–max; a ratio (to bare nginx, to njs, to the
ideal) is taken within each round, against that round's runs, and the median of those is shown.
Beside requests/s, the worker's CPU time per request (from /proc) gives an efficiency that other
load on the machine moves less. Prints a markdown
table, saves it and a PNG chart under bench/results/.
Not a test: these machines are shared, so read the ratios, not the absolute numbers.

BENCH_ONLY=REGEX keeps the variants whose name matches (bare nginx always runs, and the bare run
a matching row is also compared with) and skips the claim-growth and memory parts, for a quick
look at one row.

The verify rows check a caller's token made by PyJWT and mint an ES256 one from it; with both
caches (the verified-token cache and the minted-token cache) the same caller repeats its token,
which should cost little more than bare proxying. The memory part also sends a million distinct
HS256 tokens (made here, read by wrk from a file) through the verified-token cache.
"""
import base64
import datetime
import hmac
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "out"
NJS = pathlib.Path("/usr/lib/nginx/modules/ngx_http_js_module.so")
RESULTS = ROOT / "bench" / "results"
DURATION = int(os.environ.get("BENCH_SECONDS", "6"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))
ONLY = os.environ.get("BENCH_ONLY")
WARMUP = 1  # seconds of wrk before every run
SPEED_SECONDS = 1  # per openssl speed measurement, every round
MEMORY_REQUESTS = int(os.environ.get("BENCH_MEMORY_REQUESTS", "1000000"))
CACHE_SIZE = 10000  # of the cached rows and the memory run
CACHED_RATIO_TARGET = 0.95  # of the row with both caches, to bare (issue 12)
MEMORY_FLAT_KIB = 2048  # the most worker RSS may grow over the memory runs (issue 12)
CONNECTIONS = 16
HEADERS = ["-H", "X-User: alice", "-H", "X-Tenant: acme"]

# The same claims for the module and for njs: iss, sub and two custom claims.
CLAIMS = """
    backend_jwt_issuer      https://gateway.example.com;
    backend_jwt_subject     $http_x_user;
    backend_jwt_claim       tenant $http_x_tenant;
    backend_jwt_claim       level  3 type=int;"""

NJS_CODE = r"""
function b64u(s) { return Buffer.from(s).toString('base64url'); }
function claims(r) {
    var now = Math.floor(Date.now() / 1000);
    var id = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('hex');
    return {iss: 'https://gateway.example.com', sub: r.headersIn['X-User'], iat: now, exp: now + 3600,
            jti: id, tenant: r.headersIn['X-Tenant'], level: 3};
}
function hs256(r) {
    var input = b64u(JSON.stringify({alg: 'HS256', typ: 'JWT'})) + '.' + b64u(JSON.stringify(claims(r)));
    var mac = require('crypto').createHmac('sha256', require('fs').readFileSync('%SECRET%'));
    return input + '.' + mac.update(input).digest('base64url');
}
async function rs256(r) {
    var pem = require('fs').readFileSync('%RSAKEY%').toString();
    var der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    var key = await crypto.subtle.importKey('pkcs8', der, {name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256'},
                                             false, ['sign']);
    var input = b64u(JSON.stringify({alg: 'RS256', typ: 'JWT'})) + '.' + b64u(JSON.stringify(claims(r)));
    var sig = await crypto.subtle.sign({name: 'RSASSA-PKCS1-v1_5'}, key, input);
    r.variables.jwt = input + '.' + Buffer.from(sig).toString('base64url');
    r.internalRedirect('@forward');
}
export default {hs256, rs256};
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The proxying every variant but njs RS256 (whose js_content must stay the content handler) does.
PROXY = """proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://backend;"""

# Where njs RS256 sends the request once its async handler has set $jwt.
FORWARD = """location @forward {
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-JWT-Assertion $jwt;
            proxy_pass http://backend;
        }"""


class Nginx:
    """One nginx with one worker on CPU 0: the server under test and the backend."""

    def __init__(self, tmp, location, http="", njs=False, headers=()):
        self.prefix = pathlib.Path(tempfile.mkdtemp(dir=tmp))
        self.prefix.chmod(0o755)
        self.port, backend = free_port(), free_port()
        self.master = self.worker_pid = None
        modules = f"load_module {OUT}/ngx_http_backend_jwt_module.so;\n"
        if njs:
            modules += f"load_module {NJS};\n"
        (self.prefix / "nginx.conf").write_text(f"""{modules}
worker_processes 1;
worker_cpu_affinity 01;
pid {self.prefix}/nginx.pid;
error_log {self.prefix}/error.log error;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    large_client_header_buffers 4 1m;
    upstream backend {{ server 127.0.0.1:{backend}; keepalive 32; }}
    {http}
    server {{ listen 127.0.0.1:{backend}; location / {{ return 200 "ok"; }} }}
    server {{
        listen 127.0.0.1:{self.port};
        location / {{
            {location}
            {"" if "js_content" in location else PROXY}
        }}
        {FORWARD if njs else ""}
    }}
}}
""")
        started = subprocess.run(["nginx", "-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf"),
                                  "-e", str(self.prefix / "error.log")], capture_output=True, text=True)
        if started.returncode != 0:
            raise SystemExit(f"nginx does not start:\n{started.stderr}\nconfiguration:\n{location}")
        for _ in range(100):
            if (self.prefix / "nginx.pid").exists():
                self.master = int((self.prefix / "nginx.pid").read_text())
                break
            time.sleep(0.05)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        probe = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", *HEADERS, *headers,
                                f"http://127.0.0.1:{self.port}/api"], capture_output=True, text=True)
        if probe.stdout != "200":
            self.stop()
            raise SystemExit(f"variant does not answer 200 ({probe.stdout}): {location}\n"
                             + (self.prefix / "error.log").read_text())

    def worker(self):
        if not self.worker_pid:
            children = subprocess.run(["pgrep", "-P", str(self.master)], capture_output=True, text=True).stdout
            self.worker_pid = int(children.split()[0])
        return self.worker_pid

    def worker_rss_kib(self):
        status = pathlib.Path(f"/proc/{self.worker()}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))

    def worker_cpu_seconds(self):
        """User and system CPU time of the worker so far (it also serves the backend)."""
        fields = pathlib.Path(f"/proc/{self.worker()}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        if self.master is None:
            return
        master, self.master = self.master, None
        os.kill(master, signal.SIGQUIT)
        for _ in range(200):
            try:
                os.kill(master, 0)
                time.sleep(0.05)
            except ProcessLookupError:
                return


def wrk(port, seconds=DURATION, script=None, headers=(), until=None):
    """Requests per second and the request count of one wrk run on CPU 1. until: a file whose
    appearance ends the run early (wrk stops on SIGINT and reports)."""
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", *HEADERS, *headers]
    if script:
        cmd += ["-s", script]
    run = subprocess.Popen(cmd + [f"http://127.0.0.1:{port}/api"], stdout=subprocess.PIPE, text=True)
    if until:
        while run.poll() is None and not until.exists():
            time.sleep(0.2)
        run.send_signal(signal.SIGINT)
    out = run.communicate()[0]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    count = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"{errors.group(1)} failed requests:\n{out}")
    return rps, count


def crypto_rates(elapsed):
    """openssl speed's signatures and verifications per second on one core (CPU 0, where the
    nginx worker runs), for the ideal throughput: {"sign": {alg: rate}, "verify": {alg: rate}}.
    elapsed: per second of wall-clock time, as requests/s are (so a busy core slows both alike);
    else per second of CPU time, as the worker's CPU time per request is."""
    def speed(args):
        return subprocess.run(["taskset", "-c", "0", "openssl", "speed", "-seconds", str(SPEED_SECONDS),
                               *(["-elapsed"] if elapsed else []), *args], capture_output=True, text=True).stdout
    # "rsa 2048 bits 0.000937s 0.000026s   1067.8  37775.0": the last two are sign/s, verify/s
    both = r"\s+[\d.]+s\s+[\d.]+s\s+([\d.]+)\s+([\d.]+)"
    hmac = float(re.search(r"hmac\(sha256\)\s+([\d.]+)k", speed(["-hmac", "sha256", "-bytes", "512"])).group(1))
    out = speed(["rsa2048", "ecdsap256", "ed25519"])
    rates = {"sign": {"HS256": hmac * 1000 / 512}, "verify": {"HS256": hmac * 1000 / 512}}
    for alg, pattern in (("RS256", r"rsa\s+2048 bits"), ("ES256", r"256 bits ecdsa \(nistp256\)"),
                         ("EdDSA", r"253 bits EdDSA \(Ed25519\)")):
        found = re.search(pattern + both, out)
        if not found:
            raise SystemExit(f"openssl speed's output has no {alg} line:\n{out}")
        rates["sign"][alg], rates["verify"][alg] = float(found.group(1)), float(found.group(2))
    return rates


def module(alg, key, extra=""):
    directive = "backend_jwt_signing_secret" if alg == "HS256" else "backend_jwt_signing_key"
    return f"""backend_jwt on;
            backend_jwt_signing_algorithm {alg};
            {directive} {key};{CLAIMS}
            {extra}"""


def verify_and_mint(verify_key, signing_key, extra="", jwks=False):
    """Identity in, identity out: verify the caller's token, mint an ES256 one with its sub and email.
    With `jwks`, the key comes from a JWK Set fetched at run time (the file, served by an internal
    location) and kept in the shared zone."""
    source = f"backend_jwt_verify_key {verify_key};" if not jwks else f"""backend_jwt_verify_jwks /_jwks;
            location = /_jwks {{ internal; default_type application/json; alias {verify_key}; }}"""
    return f"""backend_jwt_verify on;
            {source}
            backend_jwt on;
            backend_jwt_signing_algorithm ES256;
            backend_jwt_signing_key {signing_key};
            backend_jwt_subject $backend_jwt_in_claim_sub;
            backend_jwt_copy_claims email;
            {extra}"""


BOTH_CACHES = f"backend_jwt_verify_cache size={CACHE_SIZE}; backend_jwt_cache size={CACHE_SIZE};"
BARE_WITH_TOKEN = "bare proxy_pass, caller's ES256 token forwarded"


def caller_tokens(tmp, lifetime):
    """The callers' tokens, made once by PyJWT (an independent library) with keys of their own:
    RS256 with a JWKS of the public key, ES256 with a PEM public key. Returns, per algorithm,
    the verification key file and the token."""
    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    now = int(time.time())
    claims = {"iss": "https://idp.example.com/realms/acme", "sub": "alice", "email": "alice@example.com",
              "iat": now, "exp": now + lifetime}
    made = {}
    for alg, private in (("RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
                         ("ES256", ec.generate_private_key(ec.SECP256R1()))):
        kid = f"idp-{alg.lower()}"
        if alg == "RS256":
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
            jwk.update(kid=kid, alg=alg, use="sig")
            path = tmp / "idp-jwks.json"
            path.write_text(json.dumps({"keys": [jwk]}))
        else:
            path = tmp / "idp-ec-public.pem"
            path.write_bytes(private.public_key().public_bytes(serialization.Encoding.PEM,
                                                               serialization.PublicFormat.SubjectPublicKeyInfo))
            jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
            jwk.update(kid=kid, alg=alg, use="sig")
            jwks = tmp / "idp-ec-jwks.json"
            jwks.write_text(json.dumps({"keys": [jwk]}))
            jwks.chmod(0o644)
        path.chmod(0o644)
        made[alg] = (path, jwt.encode(claims, private, algorithm=alg, headers={"kid": kid}))
        if alg == "ES256":
            made["ES256 JWKS"] = (jwks, made[alg][1])
    return made


class Variant:
    def __init__(self, name, location, sign=None, verify=None, http="", njs=False, headers=(), versus=None,
                 caller=None, reference=None):
        self.name, self.location, self.http, self.njs = name, location, http, njs
        self.sign, self.verify = sign, verify  # the algorithms of the ideal: what one request signs, verifies
        self.caller = caller or verify  # the algorithm of the caller's token, for verify rows
        self.reference = reference  # a second bare run to compare with: the same requests
        self.headers = list(headers)
        self.versus = versus  # the njs variant doing the same work
        self.server = None
        self.rps = []  # one per round
        self.cpu_us = []  # the worker's CPU time per request, one per round


def williams_orders(count, rounds):
    """Orders of range(count), one per round: row r of a Williams design (0, 1, n-1, 2, n-2, ...
    shifted by r), reversed every other block of count rows. For an even count, no variant
    follows the same one twice in count rounds."""
    first, low, high = [0], 1, count - 1
    while len(first) < count:
        first.append(low)
        low += 1
        if len(first) < count:
            first.append(high)
            high -= 1
    orders = []
    for r in range(rounds):
        order = [(v + r) % count for v in first]
        orders.append(order[::-1] if (r // count) % 2 else order)
    return orders


def median_and_spread(values, fmt):
    """'median (min–max)' in the given format; the median alone for one value."""
    if len(values) == 1:
        return fmt(values[0])
    return f"{fmt(statistics.median(values))} ({fmt(min(values))}–{fmt(max(values))})"


def main():
    for tool in ("wrk", "taskset", "nginx", "openssl"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: run build/deps.sh bench")
    began = time.monotonic()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bjwt-bench-"))
    tmp.chmod(0o755)
    keys = {"RS256": tmp / "rsa.pem", "ES256": tmp / "ec.pem", "EdDSA": tmp / "ed.pem", "HS256": tmp / "secret"}
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                    "-out", keys["RS256"]], check=True, capture_output=True)
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-out", keys["ES256"]], check=True, capture_output=True)
    subprocess.run(["openssl", "genpkey", "-algorithm", "ED25519", "-out", keys["EdDSA"]], check=True,
                   capture_output=True)
    keys["HS256"].write_bytes(os.urandom(32))
    for path in keys.values():
        path.chmod(0o644)  # njs reads its keys in the worker, which runs as nobody
    js = tmp / "jwt.js"
    js.write_text(NJS_CODE.replace("%SECRET%", str(keys["HS256"])).replace("%RSAKEY%", str(keys["RS256"])))
    njs_http = f"js_path {tmp}; js_import main from jwt.js; js_set $jwt_hs256 main.hs256; js_var $jwt;"

    variants = [
        Variant("bare proxy_pass", ""),
        Variant("module HS256", module("HS256", keys["HS256"]), "HS256", versus="njs HS256 (js_set)"),
        Variant("module ES256", module("ES256", keys["ES256"]), "ES256"),
        Variant("module EdDSA", module("EdDSA", keys["EdDSA"]), "EdDSA"),
        Variant("module RS256", module("RS256", keys["RS256"]), "RS256", versus="njs RS256 (crypto.subtle)"),
        Variant("module RS256 + cache", module("RS256", keys["RS256"], "backend_jwt_cache size=1000;"),
                versus="njs RS256 (crypto.subtle)"),
        Variant("verify RS256 + mint ES256", None, "ES256", "RS256"),
        Variant("verify ES256 + mint ES256", None, "ES256", "ES256"),
        # no ideal: a repeated token is neither verified nor signed again; its ratio to bare counts,
        # and to bare nginx receiving the same requests (a bearer token of 500 bytes is parsed
        # and forwarded whatever the module does)
        Variant("verify ES256 + mint ES256 with both caches", None, caller="ES256", reference=BARE_WITH_TOKEN),
        # the same with the key from a JWK Set URI: the set in shared memory costs no more
        Variant("verify ES256 (JWKS URI) + mint ES256 with both caches", None, caller="ES256 JWKS",
                reference=BARE_WITH_TOKEN),
        Variant(BARE_WITH_TOKEN, "", caller="ES256"),
        Variant("njs HS256 (js_set)", "proxy_set_header X-JWT-Assertion $jwt_hs256;", "HS256",
                http=njs_http, njs=True),
        Variant("njs RS256 (crypto.subtle)", "js_content main.rs256;", "RS256", http=njs_http, njs=True),
    ]
    if ONLY:  # bare nginx, the matching variants and the references they name
        kept = [v for v in variants[1:] if re.search(ONLY, v.name)]
        variants = [variants[0]] + [v for v in variants[1:] if v in kept or v.name in {k.reference for k in kept}]
    # The callers' tokens must outlive the run.
    lifetime = max(3600, 3 * ROUNDS * len(variants) * (DURATION + WARMUP + 1))
    tokens = caller_tokens(tmp, lifetime)
    for v in variants:
        if v.caller:
            key, token = tokens[v.caller]
            v.headers = ["-H", f"Authorization: Bearer {token}"]
        if v.location is None:
            v.location = verify_and_mint(key, keys["ES256"], "" if v.verify else BOTH_CACHES,
                                         jwks=v.caller.endswith("JWKS"))

    rates, cpu_rates = [], []  # one crypto_rates() of each kind per round
    try:
        for v in variants:  # every server up for the whole run; idle ones cost nothing
            v.server = Nginx(tmp, v.location, v.http, v.njs, v.headers)
            if v.caller and v.location:  # the token is really checked: a changed signature is refused
                token = tokens[v.caller][1]
                forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
                refused = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", *HEADERS,
                                          "-H", f"Authorization: Bearer {forged}",
                                          f"http://127.0.0.1:{v.server.port}/api"], capture_output=True, text=True)
                if refused.stdout != "401":
                    raise SystemExit(f"{v.name}: a forged token got {refused.stdout}, not 401")
        for r, order in enumerate(williams_orders(len(variants), ROUNDS)):
            rates.append(crypto_rates(elapsed=True))
            cpu_rates.append(crypto_rates(elapsed=False))
            for i in order:
                v = variants[i]
                wrk(v.server.port, WARMUP, headers=v.headers)
                before = v.server.worker_cpu_seconds()
                rps, count = wrk(v.server.port, headers=v.headers)
                v.cpu_us.append((v.server.worker_cpu_seconds() - before) / count * 1e6)
                v.rps.append(rps)
                print(f"  round {r + 1}/{ROUNDS}: {v.name}: {rps:,.0f} req/s, worker {v.cpu_us[-1]:.1f} µs/request",
                      file=sys.stderr)
    finally:
        for v in variants:
            if v.server:
                v.server.stop()

    bare = variants[0]
    by_name = {v.name: v for v in variants}
    table = ["| variant | req/s | ratio to bare | verify rate | sign rate | ideal | efficiency "
             "| worker CPU per request | CPU efficiency | vs njs |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    efficiencies, cpu_efficiencies = {}, {}
    for v in variants:
        ratios = [rps / b for rps, b in zip(v.rps, bare.rps)]
        cells = [v.name, median_and_spread(v.rps, lambda x: f"{x:,.0f}"),
                 "100%" if v is bare else median_and_spread(ratios, lambda x: f"{x:.1%}")]
        if v.reference in by_name:
            to_reference = [rps / b for rps, b in zip(v.rps, by_name[v.reference].rps)]
            cells[-1] += f"; {median_and_spread(to_reference, lambda x: f'{x:.1%}')} of the next row"
        if v.sign:
            # The ideal of each round: that round's bare run plus that round's openssl rates.
            ideals = [1 / (1 / b + 1 / rate["sign"][v.sign] + (1 / rate["verify"][v.verify] if v.verify else 0))
                      for b, rate in zip(bare.rps, rates)]
            eff = [rps / ideal for rps, ideal in zip(v.rps, ideals)]
            efficiencies[v.name] = eff
            shown = lambda kind, alg: f"{statistics.median(r[kind][alg] for r in rates):,.0f}/s ({alg})"
            cells += [shown("verify", v.verify) if v.verify else "", shown("sign", v.sign),
                      f"{statistics.median(ideals):,.0f}", median_and_spread(eff, lambda x: f"{x:.1%}")]
        else:
            cells += ["", "", "", ""]
        cells.append(median_and_spread(v.cpu_us, lambda x: f"{x:.1f} µs"))
        if v.sign:
            # The same ideal in CPU time: bare's CPU time per request plus openssl's per operation.
            ideal_us = [b + 1e6 / rate["sign"][v.sign] + (1e6 / rate["verify"][v.verify] if v.verify else 0)
                        for b, rate in zip(bare.cpu_us, cpu_rates)]
            cpu_eff = [ideal / us for ideal, us in zip(ideal_us, v.cpu_us)]
            cpu_efficiencies[v.name] = cpu_eff
            cells.append(median_and_spread(cpu_eff, lambda x: f"{x:.1%}"))
        else:
            cells.append("")
        if v.versus in by_name:
            versus = [rps / other for rps, other in zip(v.rps, by_name[v.versus].rps)]
            cells.append(median_and_spread(versus, lambda x: f"{x:.2f}x"))
        else:
            cells.append("")
        table.append("| " + " | ".join(cells) + " |")

    per_cpu = lambda kind, alg: f"{statistics.median(r[kind][alg] for r in cpu_rates):,.0f}"
    sections = ["", "openssl speed per second of CPU time (median of the rounds), for the CPU efficiency: "
                + ", ".join(f"{alg} sign {per_cpu('sign', alg)}/s verify {per_cpu('verify', alg)}/s"
                            for alg in ("RS256", "ES256", "EdDSA")) + f", HS256 {per_cpu('sign', 'HS256')}/s."]
    if not ONLY:
        sections += ["", "Cost growth with the number and size of claims (one run each; ratio to a bare run with "
                     "the same request just before it):", "", *growth(tmp, keys), "",
                     "Memory (a new subject, or a new token, every request, so the caches keep evicting):", "",
                     *memory(tmp, keys)]

    load = os.getloadavg()
    minutes = (time.monotonic() - began) / 60
    cpu = re.search(r"model name\s*:\s*(.*)", pathlib.Path("/proc/cpuinfo").read_text()).group(1)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.split("/")[-1].strip()
    report = "\n".join([
        f"Run {stamp} on {cpu}, {os.cpu_count()} cores; nginx {nginx}; wrk {CONNECTIONS} connections; "
        f"{ROUNDS} rounds of {DURATION} s per variant, interleaved; {minutes:.0f} minutes; "
        f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}.",
        "Each cell: the median over the rounds (min–max). Ratios and efficiencies are taken per round, "
        "against that round's bare run and openssl speed rates (one core, wall-clock), then their median; "
        "ideal = 1 / (1/bare + 1/verify rate + 1/sign rate). "
        "CPU efficiency: the same in the worker's CPU time per request (bare's, plus openssl's CPU time "
        "per verification and signature, over the variant's), which other load on the machine moves less.",
        "", *table, *sections, ""])
    print(report)
    for name, eff in efficiencies.items():
        if name.startswith("verify") and statistics.median(eff) < 0.85:
            print(f"note: {name}: efficiency {statistics.median(eff):.1%} (CPU efficiency "
                  f"{statistics.median(cpu_efficiencies[name]):.1%}) is under the 85% target", file=sys.stderr)
    for v in variants:
        if v.name.endswith("with both caches"):
            for reference in (bare, by_name.get(v.reference)):
                ratio = statistics.median(rps / b for rps, b in zip(v.rps, reference.rps)) if reference else 1
                if ratio < CACHED_RATIO_TARGET:
                    print(f"note: {v.name}: {ratio:.1%} of {reference.name} is under the "
                          f"{CACHED_RATIO_TARGET:.0%} target", file=sys.stderr)
    if ONLY:
        shutil.rmtree(tmp, ignore_errors=True)
        return  # a partial run does not replace the saved results
    RESULTS.mkdir(parents=True, exist_ok=True)
    day = stamp[:10]
    (RESULTS / f"{day}.md").write_text(report)
    (RESULTS / "latest.md").write_text(report)
    chart(variants, RESULTS / f"{day}.png")
    shutil.copy(RESULTS / f"{day}.png", RESULTS / "latest.png")
    shutil.rmtree(tmp, ignore_errors=True)


def growth(tmp, keys):
    """HS256 and ES256 with 1 to 50 claims of 16 B and 4 KiB: one run each, its ratio against a
    bare run with the same request (the same X-Value header) just before it."""
    rows = ["| claims × value | HS256 req/s | HS256 ratio | ES256 req/s | ES256 ratio |", "|---|---:|---:|---:|---:|"]
    seconds = max(3, DURATION // 2)
    bare = Nginx(tmp, "")
    try:
        for count in (1, 10, 50):
            for size, label in ((16, "16 B"), (4096, "4 KiB")):
                # Each claim's value is the request's X-Value header.
                claims = "".join(f"\n            backend_jwt_claim c{i} $http_x_value;" for i in range(count))
                value = ["-H", "X-Value: " + "v" * size]
                cells = []
                for alg in ("HS256", "ES256"):
                    location = module(alg, keys[alg], claims + "\n            backend_jwt_max_size 1m;")
                    n = Nginx(tmp, location)
                    try:
                        baseline, _ = wrk(bare.port, seconds, headers=value)
                        rps, _ = wrk(n.port, seconds, headers=value)
                    finally:
                        n.stop()
                    cells += [f"{rps:,.0f}", f"{rps / baseline:.1%}"]
                rows.append(f"| {count} × {label} | " + " | ".join(cells) + " |")
    finally:
        bare.stop()
    return rows


def memory(tmp, keys):
    """Worker RSS after a warm-up and after MEMORY_REQUESTS more requests: minting with a new
    subject every request, without and with the minted-token cache; and verifying a new token
    every request through the verified-token cache, whose warm-up (10 times its size) fills every
    slot, so that what follows only replaces tokens."""
    users = tmp / "users.lua"
    users.write_text('math.randomseed(os.time())\nrequest = function()\n'
                     '  return wrk.format(nil, "/api", {["X-User"] = "u" .. math.random(1, 100000), '
                     '["X-Tenant"] = "acme"})\nend\n')
    began = time.monotonic()
    secret, probe, warm, more = distinct_tokens(tmp, 10 * CACHE_SIZE, MEMORY_REQUESTS)
    made = time.monotonic() - began
    verify = f"""backend_jwt_verify on;
            backend_jwt_verify_key {secret};
            backend_jwt_verify_algorithms HS256;
            backend_jwt_verify_cache size={CACHE_SIZE};"""
    runs = [("HS256, no cache", module("HS256", keys["HS256"]), [], (10_000, users), (MEMORY_REQUESTS, users)),
            (f"HS256, cache size={CACHE_SIZE}", module("HS256", keys["HS256"], f"backend_jwt_cache size={CACHE_SIZE};"),
             [], (10_000, users), (MEMORY_REQUESTS, users)),
            (f"verify HS256, verify cache size={CACHE_SIZE}, a new token every request", verify,
             ["-H", f"Authorization: Bearer {probe}"], warm, more)]
    rows = [f"| variant | warm-up requests | worker RSS after it | after {MEMORY_REQUESTS:,} more | growth |",
            "|---|---:|---:|---:|---:|"]
    for name, location, headers, (warm_count, warm_script), (count, script) in runs:
        n = Nginx(tmp, location, headers=headers)
        try:
            load(n.port, warm_count, warm_script)
            early = n.worker_rss_kib()
            load(n.port, count, script)
            late = n.worker_rss_kib()
        finally:
            n.stop()
        rows.append(f"| {name} | {warm_count:,} | {early / 1024:.1f} MiB | {late / 1024:.1f} MiB "
                    f"| {(late - early) / 1024:+.2f} MiB |")
        if late - early > MEMORY_FLAT_KIB:
            print(f"note: {name}: worker RSS grew {(late - early) / 1024:.2f} MiB, over the "
                  f"{MEMORY_FLAT_KIB // 1024} MiB of a flat run", file=sys.stderr)
    rows += ["", f"The {10 * CACHE_SIZE + MEMORY_REQUESTS + 1:,} distinct tokens took {made:.0f} s to make."]
    return rows


def load(port, count, script):
    """At least `count` requests with a wrk script, in runs of 10 s; with a token script, one run
    until the end of its file (another run would start the file again)."""
    if script.name.startswith("tokens-"):
        done = wrk(port, 3600, str(script), until=script.with_suffix(".done"))[1]
        if done < count - CONNECTIONS:  # the responses under way at the end are not counted
            raise SystemExit(f"{script}: {done:,} requests, not {count:,}")
        return
    done = 0
    while done < count:
        done += wrk(port, 10 if count > 50_000 else 1, str(script))[1]


def distinct_tokens(tmp, warm_count, count):
    """HS256 tokens with a counter in `sub` and `jti`, made with hmac (a few µs each, where an
    ES256 signature would take 30): the verification key (a JWK), one token for the probe, and
    two (count, wrk script) pairs, warm-up then measured, whose scripts send each token of their
    file once. The files are read line by line, not loaded."""
    secret = os.urandom(32)
    jwk = tmp / "memory-secret.json"
    jwk.write_text(json.dumps({"kty": "oct", "alg": "HS256", "k": b64url(secret)}))
    jwk.chmod(0o644)
    header = b64url(b'{"alg":"HS256","typ":"JWT"}')
    now = int(time.time())
    prefix = f'{{"iss":"https://idp.example.com/realms/acme","iat":{now},"exp":{now + 86400},"sub":"user'

    def token(n):
        payload = header + "." + b64url(f'{prefix}{n}","jti":"{n}"}}'.encode())
        return payload + "." + b64url(hmac.digest(secret, payload.encode(), "sha256"))

    pairs, start = [], 1
    for name, n in (("warm", warm_count), ("more", count)):
        path, script = tmp / f"tokens-{name}.txt", tmp / f"tokens-{name}.lua"
        with path.open("w") as f:
            for first in range(start, start + n, 10_000):
                f.write("".join(token(i) + "\n" for i in range(first, min(first + 10_000, start + n))))
        start += n
        script.write_text(TOKEN_SCRIPT.replace("%FILE%", str(path)).replace("%DONE%", str(script.with_suffix(".done"))))
        pairs.append((n, script))
    return jwk, token(0), *pairs


# One token of the file per request, each once; at the end the script makes %DONE% and stops
# (wrk itself waits for -d or SIGINT), and a request still asked for repeats the last token.
TOKEN_SCRIPT = """local file = assert(io.open("%FILE%"))
local last
request = function()
  local token = file:read("*l")
  if token == nil then
    io.open("%DONE%", "w"):close()
    wrk.thread:stop()
    token = last
  end
  last = token
  return wrk.format(nil, "/api", {["Authorization"] = "Bearer " .. token})
end
"""


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def chart(variants, path):
    """The median ratio to bare of every variant, the bars' whiskers its min–max over the rounds."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    bare = variants[0].rps
    names, medians, low, high = [], [], [], []
    for v in variants:
        ratios = [rps / b * 100 for rps, b in zip(v.rps, bare)]
        names.append(v.name)
        medians.append(statistics.median(ratios))
        low.append(medians[-1] - min(ratios))
        high.append(max(ratios) - medians[-1])
    fig, ax = plt.subplots(figsize=(9, 5))
    colors = ["#888888" if n.startswith("bare") else "#d98c2b" if n.startswith("njs")
              else "#2b9c5a" if n.startswith("verify") else "#2b6cd9" for n in names]
    bars = ax.barh(names[::-1], medians[::-1], color=colors[::-1], xerr=[low[::-1], high[::-1]],
                   error_kw={"ecolor": "#333333", "capsize": 3, "linewidth": 1})
    ax.bar_label(bars, fmt="%.0f%%", padding=8)
    ax.set_xlabel(f"throughput, % of bare proxy_pass in the same round (median of {len(bare)} rounds, min–max)")
    ax.set_xlim(0, 120)
    ax.set_title("nginx-backend-jwt: requests/s relative to bare nginx")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
