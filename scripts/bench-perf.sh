#!/usr/bin/env bash
# The performance issue's table, before and after, in one run: server
# CPU-s per million deliveries at 100 and 1,000 receivers, the highest rate
# with p99 < 50 ms at 1,000 receivers, the low-load p50, a 5,000-member
# broadcast, RSS per idle session at 19,000 and RSS while they leave.
# Each Sori binary runs with its defaults (history on) and with
# --history=false; Redis and NATS (which must be running on 127.0.0.1:6379
# and :4222) run the same workloads in the same repetition. The cases of a
# repetition run in turn, so a drift of the shared machine hits them all.
#
#   scripts/bench-perf.sh AFTER_SERVER [BEFORE_SERVER]
#   REPS=1 ONLY="cpu100 lowload" scripts/bench-perf.sh target/release/sori-server
#
# Writes raw JSON to $OUT (target/bench-perf) and prints the table (medians,
# min–max) with scripts/bench_perf_summary.py. Only loopback addresses are
# used; every run is bounded by its duration and a timeout.
set -euo pipefail

cd "$(dirname "$0")/.."
AFTER="$1"
BEFORE="${2:-}"
BENCH="${BENCH:-target/release/sori-bench}"
REPS="${REPS:-3}"
OUT="${OUT:-target/bench-perf}"
ONLY="${ONLY:-cpu100 cpu1000 cpu1000x2 peak1000 lowload broadcast idle19000}"
mkdir -p "$OUT"
rm -f "$OUT"/*.json

# name | sori-bench arguments (10 publishers, 64-byte payloads).
SCENARIOS=(
    "cpu100|storm --receivers 100 --senders 10 --rate 32000 --duration 4s"
    "cpu1000|storm --receivers 1000 --senders 10 --rate 1600 --duration 4s"
    "cpu1000x2|storm --receivers 1000 --senders 10 --rate 3200 --duration 4s"
    "peak1000|storm --peak --receivers 1000 --senders 10 --rate 800 --peak-factor 1.41 --peak-steps 10 --duration 3s --p99-ms 50"
    "lowload|storm --receivers 100 --senders 10 --rate 1000 --duration 4s"
    "broadcast|broadcast-once --receivers 5000"
    "idle19000|connections --sessions 19000 --hold 10s --leave abrupt --leave-watch 10s"
    "logout19000|connections --sessions 19000 --hold 10s --leave logout --leave-watch 10s"
)

# case | --target | server binary | extra server argument
CASES=("after|sori|$AFTER|" "after-nohistory|sori|$AFTER|--server-arg=--history=false")
if [ -n "$BEFORE" ]; then
    CASES+=("before|sori|$BEFORE|")
    # BEFORE_NOHISTORY=1 also runs the old binary with --history=false.
    if [ "${BEFORE_NOHISTORY:-0}" = 1 ]; then
        CASES+=("before-nohistory|sori|$BEFORE|--server-arg=--history=false")
    fi
fi
CASES+=("redis|redis|$AFTER|" "nats|nats|$AFTER|")

for rep in $(seq 1 "$REPS"); do
    for entry in "${SCENARIOS[@]}"; do
        name="${entry%%|*}"
        args="${entry#*|}"
        case " $ONLY " in *" $name "*) ;; *) continue ;; esac
        for c in "${CASES[@]}"; do
            IFS='|' read -r label target server extra <<<"$c"
            # The memory scenarios do not depend on history, and Redis
            # (maxclients 10,000) and NATS do not take part in them.
            case "$name:$label" in
                idle19000:*nohistory | logout19000:*nohistory | *19000:redis | *19000:nats) continue ;;
            esac
            echo "== rep $rep/$REPS: $name: $label" >&2
            # shellcheck disable=SC2086 # the arguments are meant to split
            timeout 900 "$BENCH" --spawn-server "$server" --target "$target" $args $extra --json \
                >"$OUT/$name-$label-$rep.json" || echo "   ($name $label failed: $?)" >&2
        done
    done
done

python3 scripts/bench_perf_summary.py "$OUT"
