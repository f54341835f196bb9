#!/usr/bin/env bash
# Instructions per request of the module's own work: nginx in one process under callgrind,
# iss, sub and 10 claims, REQUESTS requests over one keep-alive connection; the figure is the
# inclusive cost of the module's phase handlers (the rewrite-phase one that removes client copies,
# and the precontent one that mints), and the core's share of it (`bjwt_signer_mint`), with the
# signature's own libcrypto instructions apart. ALG=NONE (the default) leaves the signature out;
# ALG=HS256 adds an HMAC, ALG=ES256 an ECDSA P-256 signature.
# callgrind counts instructions, so the number repeats on a busy machine.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
requests=${REQUESTS:-2000}
alg=${ALG:-NONE}
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
prefix=$(mktemp -d)
trap '[ -n "${KEEP_CALLGRIND:-}" ] && cp "$prefix/callgrind.out" "$KEEP_CALLGRIND"; rm -rf "$prefix"' EXIT
head -c 32 /dev/urandom >"$prefix/secret"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$prefix/ec.pem" 2>/dev/null
case $alg in
    NONE) key="" ;;
    HS*) key="backend_jwt_signing_secret $prefix/secret;" ;;
    ES256) key="backend_jwt_signing_key $prefix/ec.pem;" ;;
    *) echo "ALG: NONE, HS256 or ES256" >&2; exit 2 ;;
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
        location / {
            backend_jwt on; backend_jwt_signing_algorithm $alg; $key
            backend_jwt_issuer https://gateway.example.com; backend_jwt_subject \$arg_user;
            $claims
            proxy_pass http://127.0.0.1:$port/b;
        }
    }
}
CONF
valgrind --tool=callgrind --callgrind-out-file="$prefix/callgrind.out" \
    nginx -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" 2>"$prefix/valgrind.log" &
vg=$!
# WARMUP requests first, then the counters are zeroed: one-time costs (OpenSSL's random
# generator and signing contexts set up on first use, first-touch page faults) are left out.
python3 - "$port" "$requests" "${WARMUP:-100}" "$vg" <<'PY'
import http.client, subprocess, sys, time
port, n, warmup, vg = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
for _ in range(600):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30); c.request("GET", "/b"); c.getresponse().read(); break
    except OSError:
        time.sleep(0.1)
query = "&".join(f"v{i}=value-number-{i}" for i in range(1, 11))
def run(first, count):
    for i in range(first, first + count):
        c.request("GET", f"/api?user=alice{i}&{query}"); r = c.getresponse(); r.read()
        assert r.status == 200, r.status
run(0, warmup)
if warmup:
    subprocess.run(["callgrind_control", "--zero", vg], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
run(warmup, n)
PY
kill -QUIT "$vg"
wait "$vg" || true
annotate() { callgrind_annotate --inclusive=yes --threshold=100 "$@" "$prefix/callgrind.out" 2>/dev/null; }
# each handler's first (file-level) line: callgrind_annotate lists a function once per file view
total=$(annotate | awk 'match($0, /ngx_http_backend_jwt_(strip_)?handler([^_]|$)/) {
               f = substr($0, RSTART, RLENGTH); sub(/[^a-z_]$/, "", f)
               if (!(f in seen)) { seen[f] = 1; gsub(",", "", $1); t += $1 } }
           END { print t }')
mint=$(annotate | awk '/:bjwt_signer_mint / && !m { gsub(",", "", $1); m = $1 } END { print m + 0 }')
# the signature: what SigningContext.sign calls in libcrypto (its block in the call tree)
signature=$(annotate --tree=calling | awk '
    / \*  .*SigningContextC4sign/ && !done { block = 1; next }
    block && /^$/ { block = 0; done = s > 0 }
    block && />  .*libcrypto/ { gsub(",", "", $1); s += $1 }
    END { print s + 0 }')
per() { echo $(($1 / requests)); }
echo "$alg, iss, sub, 10 claims, per request: module $(per "$total"), of which the core's mint $(per "$mint")" \
    "= signature (libcrypto) $(per "$signature") + the rest $(per $((mint - signature)))"
