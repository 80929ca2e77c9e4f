#!/usr/bin/env bash
# Where a delivery's CPU goes: runs one sori-bench storm against a spawned
# sori-server and, for WINDOW seconds in its steady middle, reads the
# server's user and kernel time (/proc/<pid>/stat) and counts its syscalls
# (perf's syscall tracepoints), then divides by the deliveries of that
# window. With PERF_RECORD=1 it also samples where the time goes
# (perf record -e cpu-clock -g; hardware counters are not available here).
#
#   scripts/profile-delivery.sh SERVER [storm arguments...]
#   scripts/profile-delivery.sh target/release/sori-server --receivers 1000 --senders 10 --rate 1600
#
# Only loopback addresses are used; the run is bounded by its duration.
set -euo pipefail

cd "$(dirname "$0")/.."
SERVER="$1"
shift
BENCH="${BENCH:-target/release/sori-bench}"
WINDOW="${WINDOW:-3}"
OUT="${OUT:-target/profile}"
mkdir -p "$OUT"

"$BENCH" --spawn-server "$SERVER" storm --target sori --duration 9s "$@" --json >"$OUT/storm.json" 2>/dev/null &
bench=$!
server=""
for _ in $(seq 1 100); do
    server=$(pgrep -P "$bench" sori-server || true)
    [ -n "$server" ] && break
    sleep 0.1
done
[ -n "$server" ] || { echo "no server started" >&2; exit 1; }
# Setup (logins, subscriptions), then the first seconds of publishing.
sleep 5
ticks() { awk '{print $14, $15}' "/proc/$server/stat"; }
read -r u0 s0 < <(ticks)
perf stat -x, -e 'raw_syscalls:sys_enter,syscalls:sys_enter_writev,syscalls:sys_enter_write,syscalls:sys_enter_sendto,syscalls:sys_enter_recvfrom,syscalls:sys_enter_read,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_futex' \
    -p "$server" -o "$OUT/syscalls.csv" -- sleep "$WINDOW" &
stat_pid=$!
if [ "${PERF_RECORD:-0}" = 1 ]; then
    perf record -q -e cpu-clock -g -p "$server" -o "$OUT/perf.data" -- sleep "$WINDOW" 2>/dev/null &
fi
wait "$stat_pid"
read -r u1 s1 < <(ticks)
wait "$bench" || true
python3 - "$OUT" "$WINDOW" "$((u1 - u0))" "$((s1 - s0))" <<'PY'
import csv, json, sys
out, window, utime, stime = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
run = json.load(open(f"{out}/storm.json"))["runs"][0]
deliveries = run["deliveries_per_s"] * window
counts = {}
for row in csv.reader(open(f"{out}/syscalls.csv")):
    if len(row) > 2 and row[0].strip().isdigit():
        counts[row[2].split(":")[-1]] = int(row[0])
total = utime + stime
print(f"receivers {run['receivers']}, {run['deliveries_per_s']/1e6:.2f} M deliveries/s, "
      f"p50 {run['latency']['p50_ms']:.2f} ms, p99 {run['latency']['p99_ms']:.2f} ms, lost {run['lost']}")
print(f"server CPU over {window:.0f} s: user {utime} ticks, kernel {stime} ticks "
      f"({100 * stime / max(total, 1):.0f}% kernel); {total / 100 / deliveries * 1e6:.3f} CPU-s per M deliveries")
for name, n in sorted(counts.items(), key=lambda kv: -kv[1]):
    print(f"  {name:28} {n:>10}  {n / deliveries:.4f} per delivery")
PY
if [ "${PERF_RECORD:-0}" = 1 ]; then
    perf report -i "$OUT/perf.data" --no-children --sort sym --stdio 2>/dev/null | grep -v '^#' | grep '%' | head -40
fi
