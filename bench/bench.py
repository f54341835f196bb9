#!/usr/bin/env python3
"""make bench: the module's throughput against bare nginx and njs, from one run on one machine.

nginx runs one worker pinned to CPU 0, wrk runs pinned to CPU 1, over loopback with keep-alive;
the backend is a `return 200` server in the same nginx, and every variant differs only in the
part under test. Prints a markdown table, saves it and a PNG chart under bench/results/.
Not a test: these machines are shared, so read the ratios (same run), not the absolute numbers.
"""
import datetime
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "out"
NJS = pathlib.Path("/usr/lib/nginx/modules/ngx_http_js_module.so")
RESULTS = ROOT / "bench" / "results"
DURATION = int(os.environ.get("BENCH_SECONDS", "8"))
MEMORY_REQUESTS = int(os.environ.get("BENCH_MEMORY_REQUESTS", "1000000"))
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

    def __init__(self, tmp, location, http="", njs=False):
        self.prefix = pathlib.Path(tempfile.mkdtemp(dir=tmp))
        self.prefix.chmod(0o755)
        self.port, backend = free_port(), free_port()
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
        subprocess.run(["nginx", "-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf"),
                        "-e", str(self.prefix / "error.log")], check=True)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        probe = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "X-User: alice",
                                "-H", "X-Tenant: acme", f"http://127.0.0.1:{self.port}/api"],
                               capture_output=True, text=True)
        if probe.stdout != "200":
            raise SystemExit(f"variant does not answer 200 ({probe.stdout}): {location}\n"
                             + (self.prefix / "error.log").read_text())

    def worker_rss_kib(self):
        master = int((self.prefix / "nginx.pid").read_text())
        children = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
        status = pathlib.Path(f"/proc/{children[0]}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))

    def stop(self):
        master = int((self.prefix / "nginx.pid").read_text())
        os.kill(master, signal.SIGQUIT)
        for _ in range(100):
            try:
                os.kill(master, 0)
                time.sleep(0.05)
            except ProcessLookupError:
                return


def wrk(port, seconds=DURATION, script=None, headers=()):
    """Requests per second and the request count of one wrk run on CPU 1."""
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", *HEADERS, *headers]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [f"http://127.0.0.1:{port}/api"], capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    count = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"{errors.group(1)} failed requests:\n{out}")
    return rps, count


def sign_rates():
    """openssl speed's signatures per second on one core, for the ideal throughput."""
    def speed(args, pattern):
        out = subprocess.run(["taskset", "-c", "0", "openssl", "speed", "-seconds", "3", *args],
                             capture_output=True, text=True).stdout
        return float(re.search(pattern, out).group(1))
    number = r"\s+[\d.]+s\s+[\d.]+s\s+([\d.]+)"
    hmac_bytes = speed(["-hmac", "sha256", "-bytes", "512"], r"hmac\(sha256\)\s+([\d.]+)k")
    return {"HS256": hmac_bytes * 1000 / 512,
            "RS256": speed(["rsa2048"], r"rsa\s+2048 bits" + number),
            "ES256": speed(["ecdsap256"], r"256 bits ecdsa \(nistp256\)" + number),
            "EdDSA": speed(["ed25519"], r"253 bits EdDSA \(Ed25519\)" + number)}


def module(alg, key, extra=""):
    directive = "backend_jwt_signing_secret" if alg == "HS256" else "backend_jwt_signing_key"
    return f"""backend_jwt on;
            backend_jwt_signing_algorithm {alg};
            {directive} {key};{CLAIMS}
            {extra}"""


def main():
    for tool in ("wrk", "taskset", "nginx", "openssl"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: run build/deps.sh bench")
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

    rates = sign_rates()
    variants = [
        ("bare proxy_pass", "", None, "", False),
        ("module HS256", module("HS256", keys["HS256"]), "HS256", "", False),
        ("module ES256", module("ES256", keys["ES256"]), "ES256", "", False),
        ("module EdDSA", module("EdDSA", keys["EdDSA"]), "EdDSA", "", False),
        ("module RS256", module("RS256", keys["RS256"]), "RS256", "", False),
        ("module RS256 + cache", module("RS256", keys["RS256"], "backend_jwt_cache size=1000;"), None, "", False),
        ("njs HS256 (js_set)", "proxy_set_header X-JWT-Assertion $jwt_hs256;", "HS256", njs_http, True),
        ("njs RS256 (crypto.subtle)", "js_content main.rs256;", "RS256", njs_http, True),
    ]
    rows, measured = [], {}
    for name, location, alg, http, njs in variants:
        n = Nginx(tmp, location, http, njs)
        wrk(n.port, 2)  # warm up
        rps, _ = wrk(n.port)
        n.stop()
        measured[name] = rps
        rows.append((name, rps, alg))
        print(f"  {name}: {rps:,.0f} req/s", file=sys.stderr)

    bare = measured["bare proxy_pass"]
    table = ["| variant | req/s | ratio to bare | sign rate (openssl speed) | ideal | efficiency | vs njs |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, rps, alg in rows:
        ideal = 1 / (1 / bare + 1 / rates[alg]) if alg else None
        njs_name = {"module HS256": "njs HS256 (js_set)", "module RS256": "njs RS256 (crypto.subtle)",
                    "module RS256 + cache": "njs RS256 (crypto.subtle)"}.get(name)
        table.append(f"| {name} | {rps:,.0f} | {rps / bare:.1%} | "
                     + (f"{rates[alg]:,.0f}/s | {ideal:,.0f} | {rps / ideal:.1%}" if alg else "| | ")
                     + (f" | {rps / measured[njs_name]:.2f}x |" if njs_name else " | |"))

    growth = ["| claims × value | HS256 req/s | HS256 ratio | ES256 req/s | ES256 ratio |", "|---|---:|---:|---:|---:|"]
    for count in (1, 10, 50):
        for size, label in ((16, "16 B"), (4096, "4 KiB")):
            # Each claim's value is the request's X-Value header.
            claims = "".join(f"\n            backend_jwt_claim c{i} $http_x_value;" for i in range(count))
            cells = []
            for alg in ("HS256", "ES256"):
                location = module(alg, keys[alg], claims + "\n            backend_jwt_max_size 1m;")
                n = Nginx(tmp, location)
                rps, _ = wrk(n.port, max(3, DURATION // 2), headers=["-H", "X-Value: " + "v" * size])
                n.stop()
                cells += [f"{rps:,.0f}", f"{rps / bare:.1%}"]
            growth.append(f"| {count} × {label} | " + " | ".join(cells) + " |")

    script = tmp / "users.lua"
    script.write_text('math.randomseed(os.time())\nrequest = function()\n'
                      '  return wrk.format(nil, "/api", {["X-User"] = "u" .. math.random(1, 100000), '
                      '["X-Tenant"] = "acme"})\nend\n')
    memory = [f"| variant | worker RSS after 10k | after {MEMORY_REQUESTS:,} | growth |", "|---|---:|---:|---:|"]
    for name, extra in (("HS256, no cache", ""), ("HS256, cache size=10000", "backend_jwt_cache size=10000;")):
        n = Nginx(tmp, module("HS256", keys["HS256"], extra))
        done = 0
        while done < 10_000:
            done += wrk(n.port, 1, str(script))[1]
        early = n.worker_rss_kib()
        while done < MEMORY_REQUESTS:
            done += wrk(n.port, 10, str(script))[1]
        late = n.worker_rss_kib()
        n.stop()
        memory.append(f"| {name} | {early / 1024:.1f} MiB | {late / 1024:.1f} MiB | {(late - early) / 1024:+.2f} MiB |")

    cpu = re.search(r"model name\s*:\s*(.*)", pathlib.Path("/proc/cpuinfo").read_text()).group(1)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    report = "\n".join([f"Run {stamp} on {cpu}, {os.cpu_count()} cores; nginx "
                        + subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.split("/")[-1].strip()
                        + f"; wrk {CONNECTIONS} connections, {DURATION} s per variant; ideal = 1 / (1/bare + 1/sign rate).",
                        "", *table, "", "Cost growth with the number and size of claims:", "", *growth, "",
                        "Memory (a new subject every request, so the cache keeps evicting):", "",
                        *memory, ""])
    print(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    day = stamp[:10]
    (RESULTS / f"{day}.md").write_text(report)
    (RESULTS / "latest.md").write_text(report)
    chart(rows, bare, RESULTS / f"{day}.png")
    shutil.copy(RESULTS / f"{day}.png", RESULTS / "latest.png")
    shutil.rmtree(tmp, ignore_errors=True)


def chart(rows, bare, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = [name for name, _, _ in rows]
    ratios = [rps / bare * 100 for _, rps, _ in rows]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    colors = ["#888888" if n.startswith("bare") else "#d98c2b" if n.startswith("njs") else "#2b6cd9" for n in names]
    bars = ax.barh(names[::-1], ratios[::-1], color=colors[::-1])
    ax.bar_label(bars, fmt="%.0f%%", padding=3)
    ax.set_xlabel("throughput, % of bare proxy_pass (same run)")
    ax.set_xlim(0, 115)
    ax.set_title("nginx-backend-jwt: requests/s relative to bare nginx")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
