#!/usr/bin/env bash
# Instructions per request of the module's own work: nginx in one process under callgrind,
# REQUESTS requests over one keep-alive connection after WARMUP ones (the counters are zeroed
# between them, so one-time set-up such as OpenSSL's random generator is left out).
#
# Minting (the default): iss, sub and 10 claims from $arg_*; the figures are the inclusive cost of
# the module's phase handlers (the rewrite-phase one that removes client copies, and the
# precontent one that mints) and the core's share of it (`bjwt_signer_mint`), with the
# signature's own libcrypto instructions apart. ALG=NONE (the default) leaves the signature out;
# ALG=HS256 adds an HMAC, ALG=ES256 an ECDSA P-256 signature.
# Verification: VERIFY=ES256 checks an ES256 token of 12 claims on every request
# (`bjwt_verify`, the signature check's libcrypto instructions apart); VERIFY=cache the same token
# with backend_jwt_verify_cache, so every request after the first is a cache hit.
# callgrind counts instructions, so the numbers repeat on a busy machine.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
requests=${REQUESTS:-2000}
alg=${ALG:-NONE}
verify=${VERIFY:-}
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
prefix=$(mktemp -d)
trap '[ -n "${KEEP_CALLGRIND:-}" ] && cp "$prefix/callgrind.out" "$KEEP_CALLGRIND"; rm -rf "$prefix"' EXIT
head -c 32 /dev/urandom >"$prefix/secret"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$prefix/ec.pem" 2>/dev/null
openssl pkey -in "$prefix/ec.pem" -pubout -out "$prefix/ec-public.pem" 2>/dev/null
case $alg in
    NONE) key="" ;;
    HS*) key="backend_jwt_signing_secret $prefix/secret;" ;;
    ES256) key="backend_jwt_signing_key $prefix/ec.pem;" ;;
    *) echo "ALG: NONE, HS256 or ES256" >&2; exit 2 ;;
esac
case $verify in
    "") cache="" ;;
    ES256) cache="" ;;
    cache) cache="backend_jwt_verify_cache size=100;" ;;
    *) echo "VERIFY: ES256 or cache" >&2; exit 2 ;;
esac
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
claims=""
for i in $(seq 1 10); do claims="$claims backend_jwt_claim c$i \$arg_v$i;"; done
cat >"$prefix/nginx.conf" <<CONF
load_module $root/build/out/ngx_http_backend_jwt_module.so;
master_process off; daemon off; worker_processes 1;
error_log $prefix/error.log; pid $prefix/nginx.pid;
events {}
http {
    access_log off;
    server {
        listen 127.0.0.1:$port;
        location /b { return 200 ok; }
        location /v {
            backend_jwt_verify on; backend_jwt_verify_key $prefix/ec-public.pem;
            backend_jwt_verify_algorithms ES256; backend_jwt_verify_issuer https://idp.example.com;
            backend_jwt_verify_audience gateway; $cache
            proxy_pass http://127.0.0.1:$port/b;
        }
        location / {
            backend_jwt on; backend_jwt_signing_algorithm $alg; $key
            backend_jwt_issuer https://gateway.example.com; backend_jwt_subject \$arg_user;
            $claims
            proxy_pass http://127.0.0.1:$port/b;
        }
    }
}
CONF
token=""
if [ -n "$verify" ]; then
    token=$("$root/.build-venv/bin/python" - "$prefix/ec.pem" <<'PY'
import sys, time, jwt
now = int(time.time())
claims = {"iss": "https://idp.example.com", "sub": "alice", "aud": "gateway", "iat": now, "nbf": now,
          "exp": now + 86400, "jti": "4f1c2a9e-7d3b-4c5e-9a8f-0b1c2d3e4f50", "email": "alice@example.com",
          "name": "Alice Example", "scope": "orders:read orders:write",
          "realm_access": {"roles": ["admin", "user"]}, "tid": "tenant-1"}
print(jwt.encode(claims, open(sys.argv[1]).read(), algorithm="ES256"))
PY
)
fi
valgrind --tool=callgrind --callgrind-out-file="$prefix/callgrind.out" \
    nginx -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" 2>"$prefix/valgrind.log" &
vg=$!
python3 - "$port" "$requests" "${WARMUP:-100}" "$vg" "$token" <<'PY'
import http.client, subprocess, sys, time
port, n, warmup, vg, token = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
for _ in range(600):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30); c.request("GET", "/b"); c.getresponse().read(); break
    except OSError:
        time.sleep(0.1)
query = "&".join(f"v{i}=value-number-{i}" for i in range(1, 11))
def run(first, count):
    for i in range(first, first + count):
        if token:
            c.request("GET", "/v", headers={"Authorization": "Bearer " + token})
        else:
            c.request("GET", f"/api?user=alice{i}&{query}")
        r = c.getresponse(); r.read()
        assert r.status == 200, r.status
run(0, warmup)
if warmup:
    subprocess.run(["callgrind_control", "--zero", vg], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
run(warmup, n)
PY
kill -QUIT "$vg"
wait "$vg" || true
annotate() { callgrind_annotate --inclusive=yes --threshold=100 "$@" "$prefix/callgrind.out" 2>/dev/null; }
# The first line of a function: callgrind_annotate lists one once per file view.
inclusive() { annotate | awk -v f="$1" '$0 ~ f && !m { gsub(",", "", $1); m = $1 } END { print m + 0 }'; }
# What the functions matching $1 call in libcrypto: the first block of each in the call tree
# that has such callees (the other views of a function repeat it or are empty).
libcrypto() {
    annotate --tree=calling | awk -v f="$1" '
        / \*  / { block = ($0 ~ f); name = $NF; if (name in done) block = 0; found = 0; next }
        block && /^$/ { if (found) done[name] = 1; block = 0 }
        block && />  .*libcrypto/ { gsub(",", "", $1); s += $1; found = 1 }
        END { print s + 0 }'
}
per() { echo $(($1 / requests)); }
if [ -n "$verify" ]; then
    total=$(inclusive ':bjwt_verify ')
    signature=$(libcrypto 'VerifyContext|JWSVerifierC15verifySignature')
    echo "verify $verify, 12 claims, per request: the core's bjwt_verify $(per "$total")" \
        "= signature check (libcrypto) $(per "$signature") + the rest $(per $((total - signature)))"
    exit
fi
total=$(annotate | awk 'match($0, /ngx_http_backend_jwt_(strip_)?handler([^_]|$)/) {
               f = substr($0, RSTART, RLENGTH); sub(/[^a-z_]$/, "", f)
               if (!(f in seen)) { seen[f] = 1; gsub(",", "", $1); t += $1 } }
           END { print t }')
mint=$(inclusive ':bjwt_signer_mint ')
signature=$(libcrypto 'SigningContextC4sign')
echo "$alg, iss, sub, 10 claims, per request: module $(per "$total"), of which the core's mint $(per "$mint")" \
    "= signature (libcrypto) $(per "$signature") + the rest $(per $((mint - signature)))"
