#!/usr/bin/env bash
# Fuzzes the core with libFuzzer and AddressSanitizer: the directive parsers (FuzzConfig) and
# claim encoding (FuzzClaims), each for SECONDS (default 60), starting from the seed corpus in
# Tests/Fuzz/corpus/. A crash, a trap or an ASan report fails the run and leaves the input in
# .build-fuzz/out/. Longer runs: build/fuzz.sh 3600.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${1:-60}
. build/deps.sh
export PATH

scratch=$root/.build-fuzz
out=$scratch/out
mkdir -p "$out"
echo "== building the fuzz targets (libFuzzer + AddressSanitizer)"
build() {
    swift build -c release --package-path Fuzz --scratch-path "$scratch" -Xswiftc -sanitize=fuzzer,address \
        >"$out/build.log" 2>&1
}
# SwiftPM may keep the core's old file list in an incremental build (a new source file is then
# "not in scope"): built again from scratch once; a failure then fails the run, rather than
# fuzzing the libraries of an earlier build.
if ! build && ! { echo "== the incremental build failed: building again from scratch"; \
                  rm -rf "$scratch"/release* "$scratch"/build.db "$scratch"/*-unknown-linux-gnu; build; }; then
    grep -vE "Cannot export local symbol|^\[[0-9]+/[0-9]+\]" "$out/build.log" | tail -40
    echo "== the fuzz targets do not build"
    exit 1
fi
lib=$(swift build -c release --package-path Fuzz --scratch-path "$scratch" --show-bin-path)
swiftlib=$(dirname "$(command -v swift)")/../lib/swift/linux
clang=$(dirname "$(command -v swift)")/clang
printf 'int bjwt_fuzz_driver;\n' >"$out/driver.c"

status=0
for target in FuzzConfig FuzzClaims FuzzVerify; do
    # libFuzzer's main drives the target's LLVMFuzzerTestOneInput; a failed link leaves no
    # binary (an earlier run's is removed first), so it fails below rather than fuzzing old code.
    rm -f "$out/$target"
    "$clang" -fsanitize=fuzzer,address "$out/driver.c" -L"$lib" -l"$target" \
        -Wl,-rpath,"$lib" -Wl,-rpath,"$swiftlib" -o "$out/$target" 2>&1 | grep -v "Cannot export local symbol" || true
    corpus=$(mktemp -d)
    cp Tests/Fuzz/corpus/"$target"/* "$corpus"/ 2>/dev/null || true
    echo "== $target for ${seconds}s"
    if ! (cd "$out" && ASAN_OPTIONS=detect_leaks=0 ./"$target" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=4096 -print_final_stats=1 "$corpus" "$root/Tests/Fuzz/corpus/$target" \
        2>"$out/$target.log"); then
        status=1
        tail -40 "$out/$target.log"
    fi
    grep -E "^Done|stat::number_of_executed_units|cov:" "$out/$target.log" | tail -2
    rm -rf "$corpus"
done
exit $status
