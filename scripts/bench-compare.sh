#!/usr/bin/env bash
# Compares two sori-server binaries on the figures a change must not
# regress: storm CPU-s per million deliveries at 100 and 1,000 receivers
# (the same offered load as scripts/bench.sh) and the last receipt of one
# broadcast to 5,000. The two run in turn (A B A B ...), REPS times each, so
# a drift of the shared machine hits both; the medians and B/A are printed.
#
#   scripts/bench-compare.sh BEFORE_SERVER AFTER_SERVER [SORI_BENCH]
#   REPS=5 scripts/bench-compare.sh ...
#
# Only loopback addresses are used; every run is bounded by its duration.
set -euo pipefail

cd "$(dirname "$0")/.."
A="$1"
B="$2"
BENCH="${3:-target/release/sori-bench}"
REPS="${REPS:-3}"
OUT="${OUT:-target/bench-compare}"
mkdir -p "$OUT"
rm -f "$OUT"/*.json

SCENARIOS=(
    "storm-100|storm --receivers 100 --rate 5000 --duration 5s --server-arg=--history=false"
    "storm-1000|storm --receivers 1000 --rate 500 --duration 5s --server-arg=--history=false"
    "broadcast-5000|broadcast-once --receivers 5000"
)

for rep in $(seq 1 "$REPS"); do
    for entry in "${SCENARIOS[@]}"; do
        name="${entry%%|*}"
        args="${entry#*|}"
        for side in A B; do
            server="$A"
            [ "$side" = B ] && server="$B"
            echo "== rep $rep/$REPS: $name ($side)" >&2
            # shellcheck disable=SC2086 # the arguments are meant to split
            timeout 300 "$BENCH" --spawn-server "$server" --target sori $args --json \
                >"$OUT/$name-$side-$rep.json"
        done
    done
done

python3 - "$OUT" <<'PY'
import json, pathlib, statistics, sys
out = pathlib.Path(sys.argv[1])
rows = [("storm-100", "cpu_s_per_million", "storm, 100 receivers: CPU-s per M deliveries"),
        ("storm-1000", "cpu_s_per_million", "storm, 1,000 receivers: CPU-s per M deliveries"),
        ("broadcast-5000", "last_ms", "broadcast to 5,000: last receipt, ms")]
print(f"| figure | before (A) | after (B) | B/A |")
print(f"|---|---:|---:|---:|")
for name, key, label in rows:
    vals = {}
    for side in "AB":
        xs = []
        for f in sorted(out.glob(f"{name}-{side}-*.json")):
            run = json.loads(f.read_text())["runs"][0]
            xs.append(run[key])
        vals[side] = xs
    a, b = statistics.median(vals["A"]), statistics.median(vals["B"])
    spread = lambda xs: f"{min(xs):.3g}-{max(xs):.3g}"
    print(f"| {label} | {a:.3g} ({spread(vals['A'])}) | {b:.3g} ({spread(vals['B'])}) | {b / a:.2f} |")
PY
