#!/usr/bin/env bash
# The demo: builds everything (installing what is missing on Debian), starts nginx with the
# module in front of a sample backend on loopback, sends one request, and shows the token the
# backend received, decoded, with its signature checked by the OpenSSL command line.
# KEEP=1 build/demo.sh leaves nginx and the backend running (it prints how to stop them).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
log=$(mktemp)
build/module.sh >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
rm -f "$log"
echo "== built build/out/ (module and core)"

prefix=$root/build/demo-run  # not build/out: that folder is what gets installed
mkdir -p "$prefix"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
backend_port=$(free_port)

[ -f "$prefix/signing.pem" ] || {
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$prefix/signing.pem" 2>/dev/null
    chmod 600 "$prefix/signing.pem"
}
openssl pkey -in "$prefix/signing.pem" -pubout -out "$prefix/public.pem"
sed -e "s|@OUT@|$root/build/out|g" -e "s|@PREFIX@|$prefix|g" -e "s|@PORT@|$port|g" \
    -e "s|@BACKEND_PORT@|$backend_port|g" demo/nginx.conf.in >"$prefix/nginx.conf"

python3 demo/backend.py "$backend_port" X-JWT-Assertion &
backend_pid=$!
stop() {
    [ -f "$prefix/nginx.pid" ] && kill -QUIT "$(cat "$prefix/nginx.pid")" 2>/dev/null || true
    kill "$backend_pid" 2>/dev/null || true
}
[ "${KEEP:-0}" = 1 ] || trap stop EXIT

nginx -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log"
wait_for() { for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return; sleep 0.1; done; }
wait_for "$port"
wait_for "$backend_port"

url="http://127.0.0.1:$port/api/orders?user=alice&age=42"
echo "== curl -H 'X-Tenant: acme' -H 'X-JWT-Assertion: forged-by-client' '$url'"
reply=$(curl -s -H 'X-Tenant: acme' -H 'X-JWT-Assertion: forged-by-client' "$url")
echo "backend received: $reply"
token=$(python3 -c 'import json,sys; [t] = json.loads(sys.argv[1])["X-JWT-Assertion"]; print(t)' "$reply")

echo "== token"
echo "$token"
echo "== decoded"
python3 - "$token" "$prefix" <<'PY'
import base64, json, sys
token, prefix = sys.argv[1], sys.argv[2]
header, payload, signature = token.split(".")
unb64 = lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
print("header: ", json.dumps(json.loads(unb64(header))))
print("payload:", json.dumps(json.loads(unb64(payload)), indent=2))
open(prefix + "/signed.txt", "wb").write((header + "." + payload).encode())
open(prefix + "/signature.bin", "wb").write(unb64(signature))
PY
echo "== signature check with the public key ($prefix/public.pem)"
openssl dgst -sha256 -verify "$prefix/public.pem" -signature "$prefix/signature.bin" "$prefix/signed.txt"

if [ "${KEEP:-0}" = 1 ]; then
    echo "== running: nginx on 127.0.0.1:$port, backend on 127.0.0.1:$backend_port"
    echo "stop with: kill -QUIT \$(cat $prefix/nginx.pid); kill $backend_pid"
fi
