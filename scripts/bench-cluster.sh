#!/usr/bin/env bash
# Sori as a cluster under load: several sori-server nodes (release build) on
# one Redis of this script's own and a fresh PostgreSQL schema, driven by
# sori-bench. Loopback only; everything started here is stopped at exit.
#
#   scripts/bench-cluster.sh latency   # one node vs across nodes: p50/p99
#   scripts/bench-cluster.sh spread    # a room on 1 node vs spread over 3:
#                                      # deliveries/s, server CPU-s per M
#   scripts/bench-cluster.sh scale     # RECEIVERS sessions over 6 nodes, one
#                                      # broadcast: time to the last delivery
#   scripts/bench-cluster.sh up        # just NODES=3 nodes for UP_FOR=600
#                                      # seconds (or until Ctrl-C), to poke at
#
# Settings (environment):
#   REPS=3                  repetitions of latency and spread (medians shown)
#   HISTORY=false           the nodes' `history` (room history in PostgreSQL)
#   LAT_RECEIVERS=100 LAT_RATE=1000 LAT_DURATION=5s
#   SPREAD_RECEIVERS=1000 SPREAD_SENDERS=5 SPREAD_DURATION=5s
#   SPREAD_RATE=1600        publishes/s: x1000 receivers = 1.6M deliveries/s
#   SPREAD_DRAIN=15s        how long late deliveries are still counted (past
#                           it they are "lost"); an overloaded node is seconds
#                           behind, and the throughput is what arrives
#   SPREAD_BASELINE=1       also the same storm on a server with no cluster
#                           (sori-bench --spawn-server; 0: skip it)
#   RECEIVERS=100000 SCALE_NODES=6 PER_WORKER=9000 SOURCE_ADDRS=16
#   SCALE_CONCURRENCY=32    handshakes in flight per bench process (each
#                           worker has its own): logins queue at the nodes,
#                           and one waiting past the 10 s login timeout fails
#   SCALE_WAIT=60s          how long the broadcast may take to reach everyone
#   SCALE_LIMIT=1800        seconds the whole scale run may take
#   RUN_LIMIT=300           seconds any other single sori-bench run may take
#   PG_URL=postgres://postgres@127.0.0.1:5432/test
#   NODE_LOG=warn           RUST_LOG of the nodes
#   KEEP_LOGS=1             keep the node logs and JSON reports (path
#                           printed) instead of deleting them; a failed run
#                           always keeps them
#   SKIP_BUILD=1            use the release binaries already built
#
# CPU: each node's and Redis's utime+stime from /proc/<pid>/stat, read right
# before and after a sori-bench run. That run includes logging the receivers
# in and out, so `spread` also runs the same setup with a single publish
# ("setup") and reports the storm's CPU net of it; it also shows what
# sori-bench itself measures over the storm alone for the node it finds by
# --sori-addr's port (n1). CPU per delivery falls as the rate rises (writes
# batch up), so compare cases only at the same delivered rate.
set -euo pipefail

cd "$(dirname "$0")/.."

CMD="${1:-}"
case "$CMD" in
    latency | spread | scale | up) ;;
    *)
        awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
        exit 2
        ;;
esac

REPS="${REPS:-3}"
HISTORY="${HISTORY:-false}"
LAT_RECEIVERS="${LAT_RECEIVERS:-100}"
LAT_RATE="${LAT_RATE:-1000}"
LAT_DURATION="${LAT_DURATION:-5s}"
SPREAD_RECEIVERS="${SPREAD_RECEIVERS:-1000}"
SPREAD_SENDERS="${SPREAD_SENDERS:-5}"
SPREAD_RATE="${SPREAD_RATE:-1600}"
SPREAD_DURATION="${SPREAD_DURATION:-5s}"
SPREAD_DRAIN="${SPREAD_DRAIN:-15s}"
SPREAD_BASELINE="${SPREAD_BASELINE:-1}"
RECEIVERS="${RECEIVERS:-100000}"
SCALE_NODES="${SCALE_NODES:-6}"
PER_WORKER="${PER_WORKER:-9000}"
SOURCE_ADDRS="${SOURCE_ADDRS:-16}"
SCALE_WAIT="${SCALE_WAIT:-60s}"
SCALE_CONCURRENCY="${SCALE_CONCURRENCY:-32}"
SCALE_LIMIT="${SCALE_LIMIT:-1800}"
RUN_LIMIT="${RUN_LIMIT:-300}"
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
NODE_LOG="${NODE_LOG:-warn}"
KEEP_LOGS="${KEEP_LOGS:-0}"
SKIP_BUILD="${SKIP_BUILD:-0}"

BENCH="$PWD/target/release/sori-bench"
SERVER="$PWD/target/release/sori-server"
HZ="$(getconf CLK_TCK)"

WORK=""
SCHEMA=""
REDIS_PID=""
BENCH_PID=""
NODE_PIDS=()
NODE_ADDRS=()

log() { printf '%s\n' "$*" >&2; }

# Stops whatever this script started, in reverse order; safe to call twice.
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [[ -n "$BENCH_PID" ]]; then
        kill "$BENCH_PID" 2>/dev/null || true
        wait "$BENCH_PID" 2>/dev/null || true
    fi
    stop_nodes
    if [[ -n "$REDIS_PID" ]]; then
        kill "$REDIS_PID" 2>/dev/null || true
        wait "$REDIS_PID" 2>/dev/null || true
    fi
    if [[ -n "$SCHEMA" ]]; then
        psql "$PG_URL" -qAtc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 ||
            log "could not drop schema $SCHEMA"
    fi
    if [[ -n "$WORK" ]]; then
        if [[ "$KEEP_LOGS" == 1 || $status != 0 ]]; then
            log "node logs kept in $WORK"
        else
            rm -rf "$WORK"
        fi
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until something accepts on 127.0.0.1:$1 while process $2 lives.
wait_listening() {
    local port=$1 pid=$2 what=$3
    for _ in $(seq 1 300); do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "$what exited while starting"
            return 1
        fi
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    log "$what did not listen on 127.0.0.1:$port within 30 s"
    return 1
}

# utime+stime of the given pids together, in clock ticks.
cpu_ticks() {
    local sum=0 pid stat
    local -a fields
    for pid in "$@"; do
        stat="$(<"/proc/$pid/stat")"
        # Past "pid (comm) ": field 3 (state) is index 0, utime (14) and
        # stime (15) are indexes 11 and 12.
        read -r -a fields <<<"${stat##*) }"
        sum=$((sum + fields[11] + fields[12]))
    done
    echo "$sum"
}

start_services() {
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/sori-bench-cluster.XXXXXX")"
    local port
    port="$(free_port)"
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$WORK" >"$WORK/redis.log" 2>&1 &
    REDIS_PID=$!
    wait_listening "$port" "$REDIS_PID" redis-server
    REDIS_URL="redis://127.0.0.1:$port/"
    SCHEMA="sori_bench_cluster_$$_$(date +%s)"
    psql "$PG_URL" -qAtc "CREATE SCHEMA $SCHEMA" >/dev/null
    local sep='?'
    [[ "$PG_URL" == *\?* ]] && sep='&'
    DB_URL="${PG_URL}${sep}options[search_path]=$SCHEMA"
    log "redis-server on 127.0.0.1:$port (pid $REDIS_PID), schema $SCHEMA, logs in $WORK"
}

# Starts node number $1 (n1, n2, ...) and waits until it accepts.
start_node() {
    local i=$1 port toml
    port="$(free_port)"
    toml="$WORK/n$i.toml"
    cat >"$toml" <<EOF
listen = "127.0.0.1:$port"
ws_listen = "off"
database = "$DB_URL"
status_interval = "0s"
max_sessions = 19000
history = $HISTORY

[password_hash]
memory_kib = 64
iterations = 1
parallelism = 1

# A load test sends faster, and from fewer addresses, than real clients may.
# Every rate must stay a positive number, and a 0 connection cap would refuse
# everyone, so "off" is a number far past the load.
[limits]
messages_per_sec = 1e9
messages_burst = 1e9
bytes_per_sec = 1e12
bytes_burst = 1e12
max_connections_per_ip = 1000000
new_connections_per_ip_per_sec = 1e9
new_connections_per_ip_burst = 1e9

[rooms]
max_members = 1000000

[cluster]
redis = "$REDIS_URL"
node_id = "n$i"
EOF
    RUST_LOG="$NODE_LOG" "$SERVER" --config "$toml" >"$WORK/n$i.log" 2>&1 &
    local pid=$!
    NODE_PIDS+=("$pid")
    NODE_ADDRS+=("127.0.0.1:$port")
    wait_listening "$port" "$pid" "node n$i"
    log "node n$i on 127.0.0.1:$port (pid $pid)"
}

# Node 1 alone first (it makes the lobby), then the others.
start_cluster() {
    local n=$1
    start_services
    start_node 1
    for i in $(seq 2 "$n"); do
        start_node "$i"
    done
}

stop_nodes() {
    local pid
    for pid in "${NODE_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${NODE_PIDS[@]}"; do
        # The shutdown grace is 5 s; past 15 s, no more waiting.
        for _ in $(seq 1 150); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    NODE_PIDS=()
}

# Says what the node logs hold beyond the normal start-up lines.
check_logs() {
    local file found=0
    for file in "$WORK"/n*.log; do
        if grep -qE 'WARN|ERROR' "$file"; then
            found=1
            log "--- $(basename "$file"): $(grep -cE 'WARN|ERROR' "$file") warnings/errors; the first:"
            grep -E 'WARN|ERROR' "$file" | sed 's/\x1b\[[0-9;]*m//g' | head -5 >&2
        fi
    done
    [[ $found == 0 ]] && log "node logs: no warnings or errors"
    return 0
}

# Runs sori-bench with a time bound, its JSON report into $1; killable by
# the trap.
run_bench() {
    local out=$1 limit=$2
    shift 2
    log "+ sori-bench $*"
    timeout --kill-after=10 "$limit" "$BENCH" "$@" --json >"$out" &
    BENCH_PID=$!
    local status=0
    wait "$BENCH_PID" || status=$?
    BENCH_PID=""
    if [[ $status != 0 ]]; then
        log "sori-bench failed (exit $status)"
        check_logs
        return "$status"
    fi
}

# Prints the median of the numbers on stdin.
median() {
    python3 -c 'import statistics, sys; v = [float(x) for x in sys.stdin.read().split()]; print(f"{statistics.median(v):.3f}" if v else "n/a")'
}

# One field of a storm report: run 0.
storm_field() {
    python3 - "$1" "$2" <<'EOF'
import json, sys
run = json.load(open(sys.argv[1]))["runs"][0]
value = run
for key in sys.argv[2].split("."):
    value = value[key]
print(value)
EOF
}

storm_summary() {
    python3 - "$1" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))["runs"][0]
print(f"sent {r['sent']}, received {r['received']}/{r['expected']}, lost {r['lost']}, "
      f"errors {r['errors']}" + (f" (first: {r['first_error']})" if r["first_error"] else ""))
EOF
}

build() {
    if [[ "$SKIP_BUILD" == 1 ]]; then
        log "SKIP_BUILD=1: using $SERVER and $BENCH as they are"
    else
        cargo build --release -p sori-server -p sori-bench
    fi
}

cmd_latency() {
    start_cluster 2
    local n1=${NODE_ADDRS[0]} n2=${NODE_ADDRS[1]}
    log "latency: storm, $LAT_RECEIVERS receivers, 1 publisher at $LAT_RATE/s for $LAT_DURATION;"
    log "  (a) publisher and receivers on n1 ($n1); (b) publisher on n1, receivers on n2 ($n2); REPS=$REPS, history=$HISTORY"
    local common=(storm --receivers "$LAT_RECEIVERS" --rate "$LAT_RATE" --duration "$LAT_DURATION")
    local rep case out
    for rep in $(seq 1 "$REPS"); do
        for case in a b; do
            out="$WORK/latency-$case-$rep.json"
            if [[ $case == a ]]; then
                run_bench "$out" "$RUN_LIMIT" --sori-addr "$n1" "${common[@]}"
            else
                run_bench "$out" "$RUN_LIMIT" --sori-addr "$n1" --receiver-addrs "$n2" "${common[@]}"
            fi
            printf 'rep %d (%s): p50 %.3f ms  p99 %.3f ms  max %.3f ms  %s\n' "$rep" \
                "$([[ $case == a ]] && echo "single node" || echo "cross-node ")" \
                "$(storm_field "$out" latency.p50_ms)" "$(storm_field "$out" latency.p99_ms)" \
                "$(storm_field "$out" latency.max_ms)" "$(storm_summary "$out")"
        done
    done
    for case in a b; do
        printf '%s: median p50 %s ms, median p99 %s ms (of %d reps)\n' \
            "$([[ $case == a ]] && echo "single node (a)" || echo "cross-node  (b)")" \
            "$(for f in "$WORK"/latency-"$case"-*.json; do storm_field "$f" latency.p50_ms; done | median)" \
            "$(for f in "$WORK"/latency-"$case"-*.json; do storm_field "$f" latency.p99_ms; done | median)" \
            "$REPS"
    done
    check_logs
}

# One spread measurement: $1 = output stem, the rest sori-bench arguments.
# Writes $stem.json and $stem.cpu ("nodes_s redis_s per-node...").
measured_run() {
    local stem=$1
    shift
    local before_nodes before_redis after_nodes after_redis pid per_node=()
    local -a before_each=()
    for pid in "${NODE_PIDS[@]}"; do before_each+=("$(cpu_ticks "$pid")"); done
    before_nodes="$(cpu_ticks "${NODE_PIDS[@]}")"
    before_redis="$(cpu_ticks "$REDIS_PID")"
    run_bench "$stem.json" "$RUN_LIMIT" "$@"
    after_nodes="$(cpu_ticks "${NODE_PIDS[@]}")"
    after_redis="$(cpu_ticks "$REDIS_PID")"
    local i=0
    for pid in "${NODE_PIDS[@]}"; do
        per_node+=("$(($(cpu_ticks "$pid") - before_each[i]))")
        i=$((i + 1))
    done
    python3 -c 'import sys; hz = float(sys.argv[1]); print(" ".join(f"{int(t) / hz:.2f}" for t in sys.argv[2:]))' \
        "$HZ" "$((after_nodes - before_nodes))" "$((after_redis - before_redis))" "${per_node[@]}" >"$stem.cpu"
}

cmd_spread() {
    start_cluster 3
    local n1=${NODE_ADDRS[0]} n2=${NODE_ADDRS[1]} n3=${NODE_ADDRS[2]}
    local offered
    offered="$(python3 -c "print(f'{$SPREAD_RATE * $SPREAD_RECEIVERS / 1e6:.2f}')")"
    log "spread: storm, $SPREAD_RECEIVERS receivers, $SPREAD_SENDERS publishers on n1 at $SPREAD_RATE/s together"
    log "  (about ${offered}M deliveries/s offered) for $SPREAD_DURATION, drain $SPREAD_DRAIN; 3 nodes running in both cases;"
    log "  one-node: receivers on n1; three-node: receivers over n1,n2,n3. REPS=$REPS, history=$HISTORY, CLK_TCK=$HZ"
    local storm=(storm --receivers "$SPREAD_RECEIVERS" --senders "$SPREAD_SENDERS" --rate "$SPREAD_RATE"
        --duration "$SPREAD_DURATION" --drain "$SPREAD_DRAIN")
    # The same receivers and publishers, one publish: what logging in and
    # out costs, to take off the storm's CPU.
    local setup=(storm --receivers "$SPREAD_RECEIVERS" --senders "$SPREAD_SENDERS" --rate 0
        --messages 1 --duration 1s)
    local cases=(one three) rep case stem where
    [[ "$SPREAD_BASELINE" == 1 ]] && cases+=(standalone)
    for rep in $(seq 1 "$REPS"); do
        for case in "${cases[@]}"; do
            stem="$WORK/spread-$case-$rep"
            case $case in
                one) where=(--sori-addr "$n1") ;;
                three) where=(--sori-addr "$n1" --receiver-addrs "$n1,$n2,$n3") ;;
                standalone)
                    # No cluster: a server sori-bench starts itself (SQLite),
                    # CPU over the storm only, as sori-bench measures it.
                    run_bench "$stem.json" "$RUN_LIMIT" --spawn-server "$SERVER" \
                        "--server-arg=--history=$HISTORY" "${storm[@]}"
                    ;;
            esac
            if [[ $case != standalone ]]; then
                measured_run "$stem" "${where[@]}" "${storm[@]}"
                measured_run "$stem-setup" "${where[@]}" "${setup[@]}"
            fi
            python3 - "$stem" "$case" "$rep" <<'EOF'
import json, os, sys
stem, case, rep = sys.argv[1:]
r = json.load(open(stem + ".json"))["runs"][0]
m = max(r["received"], 1) / 1e6
line = (f"rep {rep} {case:>10}: {r['deliveries_per_s'] / 1e6:.3f}M deliveries/s, "
        f"received {r['received']}/{r['expected']} (lost {r['lost']}, errors {r['errors']}), "
        f"p50 {r['latency']['p50_ms']:.1f} ms p99 {r['latency']['p99_ms']:.1f} ms; ")
phase = r.get("cpu_s_per_million")
who = "server" if case == "standalone" else "n1 alone"
line += f"{who}, storm only: {phase:.3f} CPU-s/M" if phase is not None else f"{who}: no CPU reading"
if os.path.exists(stem + ".cpu"):
    nodes, redis, *each = (float(x) for x in open(stem + ".cpu").read().split())
    s_nodes, s_redis, *_ = (float(x) for x in open(stem + "-setup.cpu").read().split())
    line += (f"; all nodes, whole run: {nodes:.2f} s (per node {' '.join(f'{c:.2f}' for c in each)}; "
             f"setup run {s_nodes:.2f} s) = {nodes / m:.3f} CPU-s/M, {(nodes - s_nodes) / m:.3f} net of setup; "
             f"redis {redis:.2f} s = {redis / m:.3f} CPU-s/M ({(redis - s_redis) / m:.3f} net)")
print(line)
EOF
        done
    done
    python3 - "$WORK" "$REPS" "${cases[@]}" <<'EOF'
import json, os, statistics, sys
work, reps, cases = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
med = lambda v: statistics.median(v) if v else float("nan")
print(f"medians of {reps} (CPU-s per million deliveries):")
for case in cases:
    rate, lost, phase, whole, net, redis, redis_net = ([] for _ in range(7))
    for rep in range(1, reps + 1):
        stem = f"{work}/spread-{case}-{rep}"
        r = json.load(open(stem + ".json"))["runs"][0]
        m = max(r["received"], 1) / 1e6
        rate.append(r["deliveries_per_s"] / 1e6)
        lost.append(r["lost"])
        if r.get("cpu_s_per_million") is not None:
            phase.append(r["cpu_s_per_million"])
        if os.path.exists(stem + ".cpu"):
            nodes, red, *_ = (float(x) for x in open(stem + ".cpu").read().split())
            s_nodes, s_red, *_ = (float(x) for x in open(stem + "-setup.cpu").read().split())
            whole.append(nodes / m)
            net.append((nodes - s_nodes) / m)
            redis.append(red / m)
            redis_net.append((red - s_red) / m)
    line = f"  {case:>10}: {med(rate):.3f}M deliveries/s, lost {med(lost):.0f}; "
    if whole:
        line += (f"all nodes {med(whole):.3f} whole run, {med(net):.3f} net of setup; "
                 f"redis {med(redis):.3f} ({med(redis_net):.3f} net); ")
    line += f"{'n1 alone' if whole else 'server'}, storm only {med(phase):.3f}"
    print(line)
EOF
    check_logs
}

cmd_scale() {
    start_cluster "$SCALE_NODES"
    local addrs
    addrs="$(
        IFS=,
        echo "${NODE_ADDRS[*]}"
    )"
    log "scale: broadcast-once to $RECEIVERS logged-in receivers over $SCALE_NODES nodes ($addrs),"
    log "  the publisher on n1 (${NODE_ADDRS[0]}); --per-worker $PER_WORKER --source-addrs $SOURCE_ADDRS --connect-concurrency $SCALE_CONCURRENCY"
    log "  --timeout $SCALE_WAIT; whole run bounded to ${SCALE_LIMIT}s; history=$HISTORY"
    local out="$WORK/scale.json" before after
    before="$(cpu_ticks "${NODE_PIDS[@]}")"
    run_bench "$out" "$SCALE_LIMIT" --sori-addr "${NODE_ADDRS[0]}" --receiver-addrs "$addrs" \
        --per-worker "$PER_WORKER" --source-addrs "$SOURCE_ADDRS" --connect-concurrency "$SCALE_CONCURRENCY" \
        broadcast-once --receivers "$RECEIVERS" --timeout "$SCALE_WAIT"
    after="$(cpu_ticks "${NODE_PIDS[@]}")"
    python3 - "$out" "$((after - before))" "$HZ" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))["runs"][0]
cpu = int(sys.argv[2]) / float(sys.argv[3])
everyone = r["received"] == r["receivers"] and r["lost"] == 0 and r["errors"] == 0
print(f"receivers {r['receivers']}: set up in {r['setup_s']:.1f} s; received {r['received']}, "
      f"lost {r['lost']}, errors {r['errors']}"
      + (f" (first: {r['first_error']})" if r["first_error"] else ""))
print(f"first delivery {r['first_ms']:.1f} ms, p50 {r['latency']['p50_ms']:.1f} ms, "
      f"p99 {r['latency']['p99_ms']:.1f} ms, last {r['last_ms']:.1f} ms")
print(f"every client received it: {'yes' if everyone else 'NO'}; nodes' CPU over the whole run "
      f"(logins included): {cpu:.1f} s")
EOF
    check_logs
}

cmd_up() {
    start_cluster "${NODES:-3}"
    local i
    for i in "${!NODE_ADDRS[@]}"; do
        printf 'n%d %s pid %s\n' "$((i + 1))" "${NODE_ADDRS[$i]}" "${NODE_PIDS[$i]}"
    done
    printf 'redis %s pid %s; logs in %s; up for %ss\n' "$REDIS_URL" "$REDIS_PID" "$WORK" "${UP_FOR:-600}"
    sleep "${UP_FOR:-600}" &
    BENCH_PID=$!
    wait "$BENCH_PID" || true
    BENCH_PID=""
    check_logs
}

build
"cmd_$CMD"
