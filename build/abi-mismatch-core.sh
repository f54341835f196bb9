#!/usr/bin/env bash
# Builds a core that reports another ABI version than include/backend_jwt.h, into
# build/out/abi-mismatch/libbackendjwt.so, for the test of the module's handshake: nginx -t must
# refuse it with both versions named. Its own scratch folder keeps the real core's build intact.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. build/deps.sh
export PATH
out=$root/build/out/abi-mismatch
mkdir -p "$out"
swift build -c release --product backendjwt --scratch-path .build-abi \
    -Xswiftc -DBJWT_ABI_MISMATCH_TEST -Xswiftc -static-stdlib \
    -Xlinker --version-script="$root/build/exports.map" \
    -Xlinker -z -Xlinker nodelete >/dev/null
. build/replace.sh
replace_file "$(swift build -c release --scratch-path .build-abi --show-bin-path)/libbackendjwt.so" "$out/"
