#!/usr/bin/env bash
# `make bench`: tickertape's fan-out beside the machine's floor (limit-probe) and a
# Node/Express peer (node-sse), one after the other in the same run, at the same
# load points, measured by the same load generator (loadgen, a process of its own).
#
#   make bench                      # every load point, every server
#   BENCH_ONLY=tickertape make bench
#   BENCH_POINTS="fanout storm" make bench
#   BENCH_SECONDS=20 BENCH_WARMUP=5 make bench
#   BENCH_SERVER=/path/to/other/tickertape scripts/bench.sh   # another build of it
#
# Needs the release server (`make build`, which `make bench` runs first) and
# ../shared/peers beside this clone.
# Prints one table and writes every report to target/bench/results.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."

PEERS="${PEERS:-../shared/peers}"
OUT=target/bench
SECONDS_MEASURED="${BENCH_SECONDS:-15}"
WARMUP="${BENCH_WARMUP:-5}"
ONLY="${BENCH_ONLY:-tickertape limit-probe node-sse}"
POINTS="${BENCH_POINTS:-fanout wide firehose idle}"
TICKERTAPE_ARGS="${BENCH_TICKERTAPE_ARGS:-}"
PORT=3390
mkdir -p "$OUT"
: > "$OUT/results.jsonl"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }

# Every connection is a file, on both sides.
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt 10100 ]; then
  echo "bench: the open files limit is $(ulimit -n); 10 000 viewers need about 10 100 on each side" >&2
  echo "bench: raise the hard limit (ulimit -Hn, or LimitNOFILE) and run again" >&2
  exit 1
fi

for peer in limit-probe node-sse; do
  if [[ " $ONLY " == *" $peer "* ]] && [ ! -d "$PEERS/$peer" ]; then
    echo "bench: $PEERS/$peer is missing: put ../shared beside this clone, set PEERS, or run BENCH_ONLY=tickertape make bench" >&2
    exit 1
  fi
done

# The server is `make build`'s (the Makefile runs it first); the generator is built here.
step "Building the load generator (release)"
cargo build --release --locked -p loadgen
LOADGEN=target/release/loadgen
SERVER=${BENCH_SERVER:-target/release/tickertape}
if [[ " $ONLY " == *" limit-probe "* ]]; then
  step "Building limit-probe (in $PEERS/limit-probe, into $OUT/peers)"
  cargo build --release --manifest-path "$PEERS/limit-probe/Cargo.toml" --target-dir "$OUT/peers"
fi
if [[ " $ONLY " == *" node-sse "* ]] && [ ! -d "$PEERS/node-sse/node_modules" ]; then
  step "Installing node-sse's packages (in $PEERS/node-sse)"
  (cd "$PEERS/node-sse" && npm ci --no-audit --no-fund)
fi

SERVER_PID=
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
  fi
}
trap stop_server EXIT

# start SERVER RATE TICK_MS: starts one server on $PORT at RATE updates/s.
start() {
  local name="$1" rate="$2" tick="$3"
  case "$name" in
    tickertape)
      # No limits in the way: the bench opens 10 000 streams from one address.
      # shellcheck disable=SC2086
      RUST_LOG=warn "$SERVER" --addr "127.0.0.1:$PORT" --rate "$rate" --seed 1 \
        --max-streams 20000 --max-streams-per-ip 20000 $TICKERTAPE_ARGS >"$OUT/$name.log" 2>&1 &
      ;;
    limit-probe)
      "$OUT/peers/release/limit-probe" "$PORT" "$rate" "$tick" >"$OUT/$name.log" 2>&1 &
      ;;
    node-sse)
      (cd "$PEERS/node-sse" && PORT="$PORT" RATE_HZ="$rate" exec node server.js) >"$OUT/$name.log" 2>&1 &
      ;;
  esac
  SERVER_PID=$!
  for _ in $(seq 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "bench: $name did not start; its log:" >&2
  cat "$OUT/$name.log" >&2
  exit 1
}

# run POINT SERVER VIEWERS RATE TICK_MS: one measurement, appended to results.jsonl.
run() {
  local point="$1" name="$2" viewers="$3" rate="$4" tick="$5"
  step "$point: $name, $viewers viewers × $rate updates/s"
  start "$name" "$rate" "$tick"
  local status=0 counted=()
  # tickertape counts its deliveries too: both counts go in the report.
  [ "$name" = tickertape ] && counted=(--server-metrics)
  "$LOADGEN" --addr "127.0.0.1:$PORT" --connections "$viewers" --pid "$SERVER_PID" "${counted[@]}" \
    --warmup "$WARMUP" --seconds "$SECONDS_MEASURED" --label "$point/$name" \
    | sed "s/^{/{\"point\":\"$point\",\"server\":\"$name\",\"rate\":$rate,/" >>"$OUT/results.jsonl" || status=$?
  stop_server
  if [ "$status" = 3 ]; then
    echo "bench: a limit of this machine, not the server, capped the run; see above" >&2
    exit 1
  fi
  # Sockets of the last run linger in TIME_WAIT; let the next start clean.
  sleep 1
}

for point in $POINTS; do
  for name in $ONLY; do
    case "$point" in
      # About one event per write: the floor writes every 1 ms.
      fanout) run "$point" "$name" 1000 100 1 ;;
      # 10 000 viewers, all connecting at once (the storm), then 5 updates/s.
      wide) run "$point" "$name" 10000 5 1 ;;
      # Overload: 1M deliveries/s offered; the floor coalesces on a 10 ms tick.
      firehose) run "$point" "$name" 1000 1000 10 ;;
      # Memory: 10 000 open streams with almost nothing to send.
      idle) run "$point" "$name" 10000 0.2 1000 ;;
      *) echo "bench: unknown load point $point" >&2; exit 1 ;;
    esac
  done
done

step "Results ($(nproc) cores, $(date -u +%Y-%m-%d), ${SECONDS_MEASURED} s measured after ${WARMUP} s)"
python3 scripts/bench_table.py "$OUT/results.jsonl"
