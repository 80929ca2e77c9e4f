#!/usr/bin/env bash
# Runs each cargo-fuzz target for a bounded time: FUZZ_SECONDS (default 60)
# each. Usage: scripts/fuzz.sh [target...] (default: every target).
#
# When the fuzzing toolchain cannot be had (no x86_64 Linux host, no C++
# compiler for libFuzzer, no sanitizer support, cargo-fuzz not installable)
# it says "fuzzing skipped: <why>" and exits 0. A crash, or a target that no
# longer builds, exits non-zero. New inputs go to a temporary directory, so
# fuzz/corpus/ only changes when someone adds a seed or a reproducer.
#
# cargo-fuzz wants nightly; RUSTC_BOOTSTRAP=1 lets the stable compiler take
# the -Z flags it passes (the sanitizer runtimes ship with rust-std on
# x86_64 Linux).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-60}"
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    targets=(decode server_stream)
fi

skip() {
    echo "fuzzing skipped: $*"
    exit 0
}

[ "$seconds" -gt 0 ] 2>/dev/null || skip "FUZZ_SECONDS=$seconds"
host="$(rustc -vV | sed -n 's/^host: //p')"
[ "$host" = x86_64-unknown-linux-gnu ] || skip "host $host is not x86_64-unknown-linux-gnu"
command -v c++ >/dev/null || skip "no C++ compiler (c++) to build libFuzzer"

export RUSTC_BOOTSTRAP=1
probe="$(mktemp -d)"
trap 'rm -rf "$probe"' EXIT
echo 'fn main() {}' >"$probe/probe.rs"
if ! rustc -Zsanitizer=address -o "$probe/probe" "$probe/probe.rs" 2>"$probe/err"; then
    skip "rustc cannot build with -Zsanitizer=address: $(head -n 1 "$probe/err")"
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz (a few minutes)"
    cargo install cargo-fuzz --locked || skip "cargo-fuzz could not be installed"
fi
cargo fuzz --version

echo "building fuzz targets"
(cd fuzz && cargo fuzz build)

for target in "${targets[@]}"; do
    echo "== fuzz $target for ${seconds}s"
    mkdir -p "$probe/$target"
    # First directory: where new inputs go; second: the seeds in the repo.
    # A crash exits non-zero and leaves its input in fuzz/artifacts/$target/.
    if ! (cd fuzz && cargo fuzz run "$target" "$probe/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 -print_final_stats=1); then
        echo "fuzz target $target failed; reproducer(s):"
        ls -1 "fuzz/artifacts/$target/" 2>/dev/null || true
        echo "reproduce with: (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run $target artifacts/$target/<file>)"
        exit 1
    fi
done
echo "fuzzing passed: ${targets[*]}, ${seconds}s each"
