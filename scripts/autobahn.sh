#!/usr/bin/env bash
# Autobahn|Testsuite conformance run for sori-ws: drives the crate's echo
# example (crates/sori-ws/examples/echo.rs) with kosoku, a runner for the
# Autobahn case files, over loopback, and fails on any case that fails or is
# missing from the report.
#
# Gated categories: 1-7 (framing, pings, reserved bits and opcodes,
# fragmentation, UTF-8, closing) and 10 (auto-fragmentation). 9 (performance)
# and 12-13 (permessage-deflate, not supported) are not run.
#
# Needs python3 and PyPI (for the first run only: the venv is reused).
# Usage: scripts/autobahn.sh
set -euo pipefail

cd "$(dirname "$0")/.."
target_dir=${CARGO_TARGET_DIR:-target}
venv=$target_dir/autobahn-venv
report=$target_dir/autobahn-report
cases=("1.*" "2.*" "3.*" "4.*" "5.*" "6.*" "7.*" "10.*")

if [ ! -x "$venv/bin/kosoku" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check kosoku
fi

cargo build --quiet --release -p sori-ws --example echo

# A free loopback port: bind to 0 and read it back. Racy in theory, fine here.
port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

"$target_dir/release/examples/echo" "127.0.0.1:$port" 2>"$target_dir/autobahn-echo.log" &
echo_pid=$!
trap 'kill "$echo_pid" 2>/dev/null || true; wait "$echo_pid" 2>/dev/null || true' EXIT

# Wait (up to 10 s) for the echo server to accept connections.
"$venv/bin/python" - "$port" <<'PY'
import socket, sys, time
deadline = time.monotonic() + 10
while True:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("autobahn: the echo server did not start")
        time.sleep(0.1)
PY

rm -rf "$report"
include=()
for case in "${cases[@]}"; do
    include+=(-i "$case")
done
# kosoku exits non-zero when a case does not pass; the report is judged below,
# with the pass rule written out, so its exit status is only informative.
"$venv/bin/kosoku" "ws://127.0.0.1:$port" "${include[@]}" --parallelism 4 --outdir "$report" \
    >"$target_dir/autobahn-kosoku.log" 2>&1 || true

"$venv/bin/python" - "$report/index.json" "${cases[@]}" <<'PY'
import collections, fnmatch, json, sys

from kosoku.cases import CASES

index_path, patterns = sys.argv[1], sys.argv[2:]
expected = [case for case in CASES if any(fnmatch.fnmatchcase(case, p) for p in patterns)]
try:
    with open(index_path) as f:
        index = json.load(f)
except (OSError, ValueError) as err:
    sys.exit(f"autobahn: no report at {index_path}: {err}")
results = {case: result for agent in index.values() for case, result in agent.items()}

# NON-STRICT: a SHOULD not followed; UNIMPLEMENTED: an optional feature absent.
PASS_BEHAVIOR = {"OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED"}
PASS_CLOSE = {"OK", "INFORMATIONAL"}
counts = collections.Counter()
failures = []
for case in expected:
    result = results.get(case)
    if result is None:
        failures.append(f"{case}: missing from the report")
        continue
    behavior, close = result["behavior"], result["behaviorClose"]
    counts[f"behavior {behavior}"] += 1
    counts[f"close {close}"] += 1
    if behavior not in PASS_BEHAVIOR or close not in PASS_CLOSE:
        failures.append(f"{case}: behavior {behavior}, close {close}")

for key in sorted(counts):
    print(f"  {key}: {counts[key]}")
for failure in failures:
    print(f"  FAILED {failure}")
print(f"autobahn: {len(expected) - len(failures)} passed, {len(failures)} failed")
sys.exit(1 if failures or not expected else 0)
PY
