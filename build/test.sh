#!/usr/bin/env bash
# Runs every test: builds the core and the module, installs what is missing (Debian), then
#   1. the Swift Testing suites of the core (tokens checked by jwt-kit),
#   2. a short fuzz run of the core under AddressSanitizer (FUZZ_SECONDS per target, default 60),
#   3. the linkage check of the built files,
#   4. the nginx harness: the real nginx with the module on loopback (tokens checked by PyJWT).
set -euo pipefail
cd "$(dirname "$0")/.."
build/deps.sh test
export PATH="$(dirname "$(command -v swift 2>/dev/null || echo /opt/swift/usr/bin/swift)"):$PATH"
build/module.sh
build/migrate.sh

echo "== Swift core tests"
swift test 2>&1 | tee .build/swift-test.log | grep -vE '^\[[0-9]+/[0-9]+\]|^(Compiling|Building|Write|Emitting)' || true
grep -qE '^✔ Test run with [0-9]+ tests .* passed' .build/swift-test.log || { echo "Swift tests failed" >&2; exit 1; }

echo "== fuzzing the core (build/fuzz.sh ${FUZZ_SECONDS:-60})"
build/fuzz.sh "${FUZZ_SECONDS:-60}"

echo "== nginx harness"
.build-venv/bin/python -m pytest -q Tests/build Tests/nginx "$@"
