#!/usr/bin/env bash
# The test command. `build/test.sh` runs what a contributor needs before a commit (builds the core
# and the module, installs what is missing on Debian):
#   1. the Swift Testing suites of the core (tokens checked by jwt-kit),
#   2. a short fuzz run of the core under AddressSanitizer (FUZZ_SECONDS per target, default 10),
#   3. the linkage checks and the nginx harness (the real nginx with the module on loopback,
#      tokens checked by PyJWT) against Debian's nginx, in parallel (pytest-xdist; BJWT_TEST_WORKERS
#      processes, default 4),
#   4. the Debian packages (build/deb.sh, which fails on any lintian error or warning): the module's
#      installed, used by the system nginx, removed, purged; backend-jwt-migrate's installed and run.
# `build/test.sh --all` (what CI runs) adds, and fuzzes a minute per target (FUZZ_SECONDS=60):
#   5. the same harness against an nginx and a module built from each nginx release tarball in
#      ../shared/vendor/nginx-*.tar.gz, or those NGINX_TARBALLS lists (space-separated; "" for none),
#   6. the harness against the newest of them built with -fsanitize=address,undefined together
#      with the module and the core (BJWT_SANITIZE_TESTS: the test files, default all of
#      Tests/nginx; "none" skips this part); any sanitizer report fails.
# Other arguments go to every pytest run (e.g. -x, -k ...). Prints the time of each part at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
start=$SECONDS
timings=()
failed=()
part_start=$SECONDS
part() {  # closes the running part (its name) and starts the next
    timings+=("$(printf '%-58s %4d s' "$1" $((SECONDS - part_start)))")
    part_start=$SECONDS
}
report() {
    echo
    echo "== timings"
    printf '  %s\n' "${timings[@]}"
    printf '  %-58s %4d s\n' "total" $((SECONDS - start))
    if [ ${#failed[@]} -gt 0 ]; then
        echo "== FAILED: ${failed[*]}"
    fi
}
trap report EXIT
all=""
if [ "${1:-}" = --all ]; then
    all=1
    shift
fi
fuzz_seconds=${FUZZ_SECONDS:-$([ -n "$all" ] && echo 60 || echo 10)}
pytest=("$root/.build-venv/bin/python" -m pytest -q)
# the harness in parallel: tests of one xdist_group (sharing a build step) on one worker
parallel=(-n "${BJWT_TEST_WORKERS:-4}" --dist loadgroup)

build/deps.sh test
export PATH="$(dirname "$(command -v swift 2>/dev/null || echo /opt/swift/usr/bin/swift)"):$PATH"
build/module.sh
build/migrate.sh
part "build: deps, Swift core, migration tool, module for Debian's nginx"

echo "== Swift core tests"
swift test 2>&1 | tee .build/swift-test.log | grep -vE '^\[[0-9]+/[0-9]+\]|^(Compiling|Building|Write|Emitting)' || true
grep -qE '^✔ Test run with [0-9]+ tests .* passed' .build/swift-test.log || { echo "Swift tests failed" >&2; exit 1; }
part "Swift core tests"

echo "== fuzzing the core (build/fuzz.sh $fuzz_seconds)"
build/fuzz.sh "$fuzz_seconds"
part "fuzzing (3 targets x $fuzz_seconds s)"

harness() {  # label, then pytest arguments
    local label=$1
    shift
    echo "== nginx harness: $label"
    if ! "${pytest[@]}" "$@"; then
        failed+=("$label")
    fi
    part "harness: $label"
}

harness "Debian's nginx $(nginx -v 2>&1 | sed 's|.*nginx/||')" "${parallel[@]}" Tests/build Tests/nginx "$@"

echo "== Debian packages"
build/deb.sh
part "build/deb.sh"
harness "Debian packages (lintian, the system nginx)" Tests/deb "$@"

if [ -z "$all" ]; then
    [ ${#failed[@]} -eq 0 ]
    exit
fi

# the nginx sources to build and test against
if [ -n "${NGINX_TARBALLS+set}" ]; then
    read -r -a tarballs <<<"$NGINX_TARBALLS"
else
    tarballs=()
    for t in ../shared/vendor/nginx-*.tar.gz; do [ -f "$t" ] && tarballs+=("$t"); done
fi
[ ${#tarballs[@]} -gt 0 ] || echo "== no nginx tarball (../shared/vendor/nginx-*.tar.gz, NGINX_TARBALLS):" \
    "the runs on other nginx versions and under sanitizers are skipped"
# what the harness needs of nginx (Debian's build has these too); the module is --with-compat
test_flags=${BJWT_TEST_CONFIGURE_FLAGS:-"--with-debug --with-pcre-jit --with-threads \
--with-http_ssl_module --with-http_v2_module --with-http_auth_request_module \
--with-http_realip_module --with-http_stub_status_module"}

unpack() {  # tarball -> prints the source tree, build/nginx-<version>
    local tarball=$1 top
    top=$(tar -tzf "$tarball" | head -1 | cut -d/ -f1)
    if [ ! -f "build/$top/configure" ] || [ "$tarball" -nt "build/$top/configure" ]; then
        rm -rf "build/$top"
        tar -C build -xzf "$tarball"
        touch "build/$top/configure"
    fi
    echo "$root/build/$top"
}

newest=""
if [ ${#tarballs[@]} -gt 0 ]; then
    for tarball in "${tarballs[@]}"; do
        src=$(unpack "$tarball")
        name=$(basename "$src")
        out=$root/build/out/$name
        NGINX_SRC=$src NGINX_CONFIGURE_FLAGS=$test_flags BJWT_OUT=$out BJWT_CORE=$root/build/out/libbackendjwt.so \
            BJWT_NGINX_BINARY=1 build/module.sh
        part "build: $name and the module"
        NGINX_BIN=$out/nginx BJWT_MODULE_DIR=$out harness "$name" "${parallel[@]}" Tests/build Tests/nginx "$@"
    done
    newest=$(for t in "${tarballs[@]}"; do basename "$t" .tar.gz; done | sort -V | tail -1)
fi

if [ -n "$newest" ] && [ "${BJWT_SANITIZE_TESTS:-}" != none ]; then
    src=$root/build/$newest
    out=$root/build/out/$newest-sanitize
    NGINX_SRC=$src NGINX_CONFIGURE_FLAGS=$test_flags BJWT_OUT=$out BJWT_SANITIZE=1 BJWT_NGINX_BINARY=1 \
        build/module.sh
    part "build: $newest, module and core with sanitizers"
    read -r -a files <<<"${BJWT_SANITIZE_TESTS:-Tests/nginx}"
    NGINX_BIN=$out/nginx BJWT_MODULE_DIR=$out BJWT_SANITIZE=1 \
        harness "$newest, ASan+UBSan (nginx, module; core: ASan)" "${parallel[@]}" "${files[@]}" "$@"
fi

[ ${#failed[@]} -eq 0 ]
