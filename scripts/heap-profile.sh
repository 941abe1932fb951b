#!/usr/bin/env bash
# `make heap-profile`: where the server's heap goes with 10 000 idle streams,
# opened all at once (the bench's idle point), by allocation site.
#
# Builds the server with the `heap-profile` feature (dhat as its allocator, line
# tables kept) into target/heap, runs the idle point against it, stops it with
# SIGTERM (dhat writes target/heap/dhat-heap.json as the server exits), and
# prints the sites that held the most at the heap's peak and while idle.
#   HEAP_VIEWERS=1000 scripts/heap-profile.sh
# The JSON opens in dhat's viewer (https://nnethercote.github.io/dh_view/dh_view.html).
set -euo pipefail
cd "$(dirname "$0")/.."

VIEWERS="${HEAP_VIEWERS:-10000}"
PORT=3391
OUT=target/heap
mkdir -p "$OUT"
ulimit -n "$(ulimit -Hn)"

CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
  cargo build --release --locked -p server --features heap-profile --target-dir "$OUT"
cargo build --release --locked -p loadgen

rm -f "$OUT/dhat-heap.json"
# dhat writes its file into the working directory.
(cd "$OUT" && RUST_LOG=warn exec ./release/tickertape --addr "127.0.0.1:$PORT" --rate 0.2 --seed 1 \
  --max-streams 20000 --max-streams-per-ip 20000 --shutdown-grace-ms 500) &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true' EXIT
for _ in $(seq 200); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
  sleep 0.05
done
REPORT=$(target/release/loadgen --addr "127.0.0.1:$PORT" --connections "$VIEWERS" --pid "$SERVER_PID" \
  --warmup 3 --seconds 5 --label heap-profile)
echo "$REPORT"
# dhat slows every allocation: in the storm the kernel's queue of connections
# overflows and some viewers are refused. The figures are per stream that opened.
STREAMING=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["streaming"])' "$REPORT")
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || true
trap - EXIT
python3 scripts/heap_report.py "$OUT/dhat-heap.json" "$STREAMING"
