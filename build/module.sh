#!/usr/bin/env bash
# Builds the Swift core and the nginx module into build/out/:
#   libbackendjwt.so                  the core (no Swift toolchain needed at run time)
#   ngx_http_backend_jwt_module.so    the module; finds the core beside itself
# Install: build/deb.sh (a Debian package), or `install -m 644 build/out/*.so` into nginx's modules
# folder (install, like this script, replaces the files rather than rewriting them in place).
#
# Environment:
#   NGINX_SRC=DIR            build the module against this nginx source tree (a release tarball
#                            unpacked), configured --with-compat plus NGINX_CONFIGURE_FLAGS;
#                            without it, against Debian's nginx-dev and its conf_flags
#   NGINX_CONFIGURE_FLAGS    more configure flags for NGINX_SRC (copy them from `nginx -V`)
#   BJWT_OUT=DIR             where the files go (default build/out)
#   BJWT_CORE=FILE           use this libbackendjwt.so instead of building the core (the core does
#                            not depend on the nginx version)
#   BJWT_NGINX_BINARY=1      with NGINX_SRC: also build that nginx (BJWT_OUT/nginx), for the tests
#   BJWT_SANITIZE=1          build everything with sanitizers: the core with swiftc's
#                            -sanitize=address, nginx and the module -fsanitize=address,undefined
#                            with the Swift toolchain's clang, so one process has one
#                            sanitizer runtime (nginx's); needs
#                            NGINX_SRC and BJWT_NGINX_BINARY=1 (a sanitized module only loads into
#                            a sanitized nginx)
# The migration tool has its own script (build/migrate.sh): the module does not need it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. build/deps.sh
export PATH
. build/replace.sh

out=${BJWT_OUT:-$root/build/out}
mkdir -p "$out"
out=$(cd "$out" && pwd)
sanitize=${BJWT_SANITIZE:-}
if [ -n "$sanitize" ] && { [ -z "${NGINX_SRC:-}" ] || [ -z "${BJWT_NGINX_BINARY:-}" ]; }; then
    echo "BJWT_SANITIZE needs NGINX_SRC and BJWT_NGINX_BINARY=1" >&2
    exit 1
fi

core_flags=(-Xswiftc -static-stdlib -Xlinker --version-script="$root/build/exports.map"
            -Xlinker -z -Xlinker nodelete)
if [ -n "${BJWT_CORE:-}" ]; then
    [ "$(realpath "$BJWT_CORE")" = "$out/libbackendjwt.so" ] || replace_file "$BJWT_CORE" "$out/"
elif [ -n "$sanitize" ]; then
    echo "== building the Swift core (release, static Swift runtime, address sanitizer)"
    # the ASan runtime is nginx's (linked into the executable); the core only refers to it.
    # swiftc has no -sanitize=undefined on Linux: Swift itself traps on overflow, out-of-bounds
    # access and bad unwraps, also in release builds.
    swift build -c release --product backendjwt --scratch-path "$root/.build-sanitize" "${core_flags[@]}" \
        -Xswiftc -sanitize=address
    replace_file "$(swift build -c release --scratch-path "$root/.build-sanitize" --show-bin-path)/libbackendjwt.so" "$out/"
else
    echo "== building the Swift core (release, static Swift runtime)"
    swift build -c release --product backendjwt "${core_flags[@]}"
    replace_file "$(swift build -c release --show-bin-path)/libbackendjwt.so" "$out/"
fi

# configure (when the tree, the module's config or the flags changed) and make
configure_and_make() {  # src builddir flags...
    local src=$1 objs=$2
    shift 2
    local stamp="$*"
    if [ ! -f "$objs/Makefile" ] || [ nginx-module/config -nt "$objs/Makefile" ] \
        || [ "$(cat "$objs/bjwt-flags" 2>/dev/null)" != "$stamp" ]; then
        rm -rf "$objs"
        mkdir -p "$objs"
        (cd "$src" && BJWT_LIB_DIR="$out" ./configure "$@" --builddir="$objs" \
            --add-dynamic-module="$root/nginx-module" >"$objs/configure.log" 2>&1) || {
            tail -20 "$objs/configure.log" >&2
            exit 1
        }
        printf '%s' "$stamp" >"$objs/bjwt-flags"
    fi
    # the module's objects depend on the core's header, not on the core: relink every time
    rm -f "$objs/ngx_http_backend_jwt_module.so"
    make -s -j"$(nproc)" -C "$src" -f "$objs/Makefile" ${BJWT_NGINX_BINARY:+binary} modules
}

if [ -z "${NGINX_SRC:-}" ]; then
    echo "== building the nginx module against $(nginx -v 2>&1 | sed 's/.*: //') (Debian's nginx-dev)"
    src=$root/build/nginx-src
    if [ ! -d "$src/auto" ] || [ /usr/share/nginx/src/conf_flags -nt "$src/auto" ]; then
        rm -rf "$src"
        cp -a /usr/share/nginx/src "$src"
        touch "$src/auto"
    fi
    # shellcheck disable=SC1091
    . "$src/conf_flags"   # NGX_CONF_FLAGS: how Debian configured its nginx
    objs=$src/objs
    configure_and_make "$src" "$objs" "${NGX_CONF_FLAGS[@]}" --with-cc-opt="-g -O2 -fPIC -Wall -Werror"
else
    src=$(cd "$NGINX_SRC" && pwd)
    version=$(sed -n 's/^#define NGINX_VERSION *"\(.*\)"/\1/p' "$src/src/core/nginx.h")
    [ -n "$version" ] || { echo "$src is not an nginx source tree" >&2; exit 1; }
    # the user's flags as the shell splits them (the way one pastes them from `nginx -V`)
    eval "flags=(${NGINX_CONFIGURE_FLAGS:-})"
    cc_opt="-g -O2 -fPIC -Wall -Werror"
    ld_opt=""
    cc=()
    variant=""
    if [ -n "$sanitize" ]; then
        clang=$(dirname "$(command -v swift)")/clang
        cc=(--with-cc="$clang")
        # without -fsanitize=function: nginx calls its handlers and filters through generic
        # function pointer types by design (ngx_output_chain_filter_pt with void *, ...)
        cc_opt="-g -O1 -fno-omit-frame-pointer -fPIC -Wall -Werror -fsanitize=address,undefined -fno-sanitize=function"
        ld_opt="-fsanitize=address,undefined"
        variant="-sanitize"
    fi
    echo "== building the nginx module${BJWT_NGINX_BINARY:+ and nginx} against nginx $version ($src)${sanitize:+, sanitized}"
    # a build folder of our own, so one source tree serves several builds
    objs=$root/build/nginx-objs/$version$variant
    configure_and_make "$src" "$objs" --with-compat "${cc[@]}" \
        "${flags[@]}" --with-cc-opt="$cc_opt" ${ld_opt:+--with-ld-opt="$ld_opt"}
    [ -z "${BJWT_NGINX_BINARY:-}" ] || replace_file "$objs/nginx" "$out/nginx"  # may be running
fi
# replaced, not rewritten: a running nginx keeps the module and the core it loaded
replace_file "$objs/ngx_http_backend_jwt_module.so" "$out/"
# how this folder was built, for a rebuild with the same settings (Tests/nginx/test_rebuild.py)
{
    printf 'NGINX_SRC=%q\n' "${NGINX_SRC:+$src}"
    for v in NGINX_CONFIGURE_FLAGS BJWT_SANITIZE BJWT_NGINX_BINARY; do printf '%s=%q\n' "$v" "${!v:-}"; done
} >"$out/module-build.env"
echo "== built: $(ls "$out" | tr '\n' ' ')"
