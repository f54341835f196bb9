#!/usr/bin/env bash
# Builds backend-jwt-migrate (WSO2 APK / API Manager / IBM API Connect settings to nginx) into
# build/out/, with the Swift runtime linked in: copy it wherever you keep tools (/usr/local/bin).
# Its own product: Yams, TOMLKit and ArgumentParser never reach the core. A first build takes
# minutes (Foundation, TOMLKit's C++), so the module's build and the demo do without it.
set -euo pipefail
cd "$(dirname "$0")/.."
. build/deps.sh
export PATH
out=build/out
mkdir -p "$out"
echo "== building backend-jwt-migrate (release, static Swift runtime)"
swift build -c release --product backend-jwt-migrate --static-swift-stdlib
tmp=$(mktemp "$out/backend-jwt-migrate.XXXXXX")  # replaced, not rewritten: it may be running
cp "$(swift build -c release --show-bin-path)/backend-jwt-migrate" "$tmp"
strip "$tmp"   # 80 MB to 60 MB: Foundation is linked in, symbols are not needed
chmod 755 "$tmp"
mv -f "$tmp" "$out/backend-jwt-migrate"
