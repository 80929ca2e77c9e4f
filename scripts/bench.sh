#!/usr/bin/env bash
# Regenerates docs/bench/ and the tables in docs/BENCHMARKS.md: Sori, NATS
# and Redis under the same workloads, REPS times each, medians and spread.
#
#   scripts/bench.sh            # the full set, 3 repetitions (about 15 min)
#   REPS=1 scripts/bench.sh     # one repetition (about 5 min)
#
# Every sori-bench invocation starts a fresh sori-server (--spawn-server:
# temporary database, cheap password hashing, status line off, RUST_LOG=warn)
# and drives NATS on 127.0.0.1:4222 and Redis on 127.0.0.1:6379, which must
# be running. Only loopback addresses are used.
set -euo pipefail

cd "$(dirname "$0")/.."
REPS="${REPS:-3}"
OUT=docs/bench
RAW="$OUT/raw"
BENCH=target/release/sori-bench
SERVER=target/release/sori-server

cargo build --release -p sori-server -p sori-bench
mkdir -p "$RAW"
rm -f "$RAW"/*.json "$OUT"/*.svg

for service in 127.0.0.1:4222 127.0.0.1:6379; do
    if ! timeout 2 bash -c "exec 3<>/dev/tcp/${service%:*}/${service#*:}" 2>/dev/null; then
        echo "nothing listens on $service: start NATS and Redis first (see docs/BENCHMARKS.md)" >&2
        exit 1
    fi
done

# name | sori-bench arguments. Storm efficiency runs offer the same delivery
# rate (500k/s) at 100 and at 1,000 receivers.
SCENARIOS=(
    "storm-100|storm --receivers 100 --rate 5000 --duration 5s --server-arg=--history=false"
    "storm-1000|storm --receivers 1000 --rate 500 --duration 5s --server-arg=--history=false"
    "storm-100-history|storm --receivers 100 --rate 5000 --duration 5s"
    "peak-100|storm --peak --receivers 100 --rate 5000 --peak-factor 1.6 --peak-steps 6 --duration 3s --server-arg=--history=false"
    "peak-1000|storm --peak --receivers 1000 --rate 100 --peak-factor 1.6 --peak-steps 8 --duration 3s --server-arg=--history=false"
    "broadcast-5000|broadcast-once --receivers 5000"
    "connections-5000|connections --sessions 5000 --hold 10s"
    "connections-19000|connections --sessions 19000 --hold 10s"
)

for rep in $(seq 1 "$REPS"); do
    for entry in "${SCENARIOS[@]}"; do
        name="${entry%%|*}"
        args="${entry#*|}"
        echo "== rep $rep/$REPS: $name: sori-bench --target all $args" >&2
        # shellcheck disable=SC2086 # the arguments are meant to split
        timeout 600 "$BENCH" --spawn-server "$SERVER" --target all $args \
            --json --svg "$OUT/$name-$rep.svg" >"$RAW/$name-$rep.json"
    done
done

python3 scripts/bench_summary.py "$RAW" docs/BENCHMARKS.md
echo "tables written to docs/BENCHMARKS.md; raw JSON and plots in $OUT/" >&2
