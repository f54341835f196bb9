#!/usr/bin/env bash
# Builds the Swift core and the nginx module into build/out/:
#   libbackendjwt.so                  the core (no Swift toolchain needed at run time)
#   ngx_http_backend_jwt_module.so    the module; finds the core beside itself
# Install: copy build/out/*.so into nginx's modules folder (/usr/lib/nginx/modules).
# The migration tool has its own script (build/migrate.sh): the module does not need it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. build/deps.sh
export PATH

out=$root/build/out
mkdir -p "$out"

echo "== building the Swift core (release, static Swift runtime)"
swift build -c release --product backendjwt \
    -Xswiftc -static-stdlib \
    -Xlinker --version-script="$root/build/exports.map" \
    -Xlinker -z -Xlinker nodelete
cp "$(swift build -c release --show-bin-path)/libbackendjwt.so" "$out/"

echo "== building the nginx module against $(nginx -v 2>&1 | sed 's/.*: //')"
src=$root/build/nginx-src
if [ ! -f "$src/objs/Makefile" ] || [ nginx-module/config -nt "$src/objs/Makefile" ] \
    || [ /usr/share/nginx/src/conf_flags -nt "$src/objs/Makefile" ]; then
    rm -rf "$src"
    cp -a /usr/share/nginx/src "$src"
    # shellcheck disable=SC1091
    . "$src/conf_flags"   # NGX_CONF_FLAGS: how Debian configured its nginx
    (cd "$src" && ./configure "${NGX_CONF_FLAGS[@]}" \
        --with-cc-opt="-g -O2 -fPIC -Wall -Werror" \
        --add-dynamic-module="$root/nginx-module" >"$src/configure.log" 2>&1) || {
        tail -20 "$src/configure.log" >&2
        exit 1
    }
fi
make -s -C "$src" -f objs/Makefile modules
cp "$src/objs/ngx_http_backend_jwt_module.so" "$out/"
echo "== built: $(ls "$out" | tr '\n' ' ')"
