#!/usr/bin/env bash
# `make bench-cluster`: what the broker costs. Side by side in one run:
#   - latency: 1 000 updates/s (the simulator) to 200 viewers, on one standalone
#     instance, then on an instance of a three-instance cluster that does *not*
#     simulate (every update goes publisher → Redis → relay → viewers);
#   - ingest: prices per second through POST /api/prices in batches of 1 000,
#     on one standalone instance, then through the cluster: one publisher
#     posting one batch at a time, and four at a time, then three publishers.
# The cluster's Redis has a replica, and every batch waits for it (WAIT, as
# with --broker-min-replicas 1, the default behind Sentinel).
# Needs the release server (`make build`) and Debian's redis-server.
#   BENCH_SECONDS=20 make bench-cluster
set -euo pipefail
cd "$(dirname "$0")/.."

OUT="$PWD/target/bench"
SECONDS_MEASURED="${BENCH_SECONDS:-15}"
WARMUP="${BENCH_WARMUP:-5}"
VIEWERS="${BENCH_VIEWERS:-200}"
RATE=1000
TOKEN=bench-publish-token-0123
REDIS_PORT=6391
REPLICA_PORT=6392
mkdir -p "$OUT"
RESULTS="$OUT/cluster.jsonl"
: >"$RESULTS"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }
cargo build --release --locked -p loadgen
SERVER=target/release/tickertape

pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap stop_all EXIT
wait_port() {
  for _ in $(seq 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "bench-cluster: nothing listens on $1" >&2; exit 1
}
redis() {
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$OUT" \
    --logfile "$OUT/redis.log" &
  pids+=($!)
  wait_port "$REDIS_PORT"
  redis-server --port "$REPLICA_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$OUT" \
    --dbfilename replica.rdb --logfile "$OUT/redis-replica.log" --replicaof 127.0.0.1 "$REDIS_PORT" &
  pids+=($!)
  wait_port "$REPLICA_PORT"
  for _ in $(seq 100); do
    redis-cli -p "$REPLICA_PORT" INFO replication | grep -q master_link_status:up && return 0
    sleep 0.1
  done
  echo "bench-cluster: the replica did not sync" >&2; exit 1
}
CLUSTER=(--broker "redis://127.0.0.1:$REDIS_PORT" --broker-min-replicas 1)
# instance PORT NAME ARGS...: one tickertape in the background.
instance() {
  local port="$1" name="$2"; shift 2
  RUST_LOG=warn "$SERVER" --addr "127.0.0.1:$port" --instance "$name" "$@" >"$OUT/$name.log" 2>&1 &
  pids+=($!)
  wait_port "$port"
}
# latency LABEL PORT PID: viewers on one instance, their latency from each update's ts.
latency() {
  target/release/loadgen --addr "127.0.0.1:$2" --connections "$VIEWERS" --pid "$3" \
    --warmup "$WARMUP" --seconds "$SECONDS_MEASURED" --label "$1" \
    | sed 's/^{/{"kind":"latency",/' >>"$RESULTS"
}
ingest() {
  local label="$1"; shift
  target/release/ingest --token "$TOKEN" --batch 1000 --seconds "$SECONDS_MEASURED" --label "$label" "$@" \
    | sed 's/^{/{"kind":"ingest",/' >>"$RESULTS"
}

step "latency: one standalone instance, $RATE updates/s, $VIEWERS viewers"
instance 3390 standalone --rate "$RATE" --seed 1
latency standalone 3390 "${pids[-1]}"
stop_all

step "latency: three instances on Redis; the viewers on one that does not simulate"
redis
for n in 1 2 3; do instance "339$n" "node-$n" "${CLUSTER[@]}" --rate "$RATE" --seed 1; done
for _ in $(seq 100); do
  holder="$(redis-cli -p "$REDIS_PORT" GET tickertape:lease)"
  [ -n "$holder" ] && break
  sleep 0.1
done
viewer=1
[ "$holder" = node-1 ] && viewer=2
latency "cluster (viewers on node-$viewer, simulator on $holder)" "339$viewer" "${pids[$((viewer + 1))]}"
stop_all

step "ingest: one standalone instance, batches of 1 000"
instance 3390 standalone --no-simulator --publish-token "$TOKEN"
ingest standalone --addr 127.0.0.1:3390 --connections 4
stop_all

step "ingest: three instances on Redis (with a replica, WAIT on)"
redis
for n in 1 2 3; do instance "339$n" "node-$n" "${CLUSTER[@]}" --no-simulator --publish-token "$TOKEN"; done
ingest "cluster (1 publisher, one batch at a time)" --addr 127.0.0.1:3391 --connections 1
ingest "cluster (1 publisher, 4 batches at a time)" --addr 127.0.0.1:3391 --connections 4
ingest "cluster (1 publisher, 8 batches at a time)" --addr 127.0.0.1:3391 --connections 8
ingest "cluster (3 publishers, one per instance)" --addr 127.0.0.1:3391,127.0.0.1:3392,127.0.0.1:3393 --connections 3
stop_all

step "Results ($(nproc) cores, $(date -u +%Y-%m-%d), ${SECONDS_MEASURED} s measured)"
python3 - "$RESULTS" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
lat = [r for r in rows if r["kind"] == "latency"]
ing = [r for r in rows if r["kind"] == "ingest"]
print("| latency, 1 000 updates/s | deliveries/s | p50 ms | p99 ms | p99.9 ms |")
print("|---|---|---|---|---|")
for r in lat:
    print(f'| {r["label"]} | {r["deliveries_per_s"]:,.0f} | {r["p50_ms"]:.1f} | {r["p99_ms"]:.1f} | {r["p999_ms"]:.1f} |')
print()
print("| ingest, batches of 1 000 | prices/s | request p50 ms | p99 ms | refused |")
print("|---|---|---|---|---|")
for r in ing:
    print(f'| {r["label"]} | {r["prices_per_s"]:,.0f} | {r["p50_ms"]:.1f} | {r["p99_ms"]:.1f} | {r["refused"]} |')
if len(lat) == 2:
    added = lat[1]["p99_ms"] - lat[0]["p99_ms"]
    print(f'\n{"met " if added <= 10 else "MISS"}  p99 added by the broker ≤ 10 ms: {added:+.1f} ms')
best = max((r["prices_per_s"] for r in ing if r["label"].startswith("cluster")), default=0)
print(f'{"met " if best >= 200000 else "MISS"}  ≥ 200 000 ingested prices/s through the cluster, WAIT on: {best:,.0f}/s')
PY
