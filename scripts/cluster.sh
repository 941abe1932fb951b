#!/usr/bin/env bash
# `make cluster`: a tickertape cluster on this machine: Redis, three instances
# sharing it (ports 3011-3013, clear of `cargo leptos watch`'s 3001) and nginx in
# front (docs/nginx/cluster.conf, as it is), serving http://127.0.0.1:8080 with
# the built-in simulator. While it runs, keys stop and start Redis (keeping its
# data or losing it) to walk through docs/scale-out.md. Ctrl-C stops them all.
#
#   make cluster
#   CLUSTER_ARGS="--rate 50" make cluster     # flags for every instance
#
# Logs go to target/cluster/. Needs `make build` (the Makefile runs it) and
# Debian's redis-server and nginx (`scripts/setup.sh cluster` installs them).
set -euo pipefail
cd "$(dirname "$0")/.."

DIR="$PWD/target/cluster"
BIN="$PWD/target/release/tickertape"
REDIS_PORT="${CLUSTER_REDIS_PORT:-6380}"
ARGS="${CLUSTER_ARGS:-}"
mkdir -p "$DIR"

# Every run starts from an empty Redis: a dump left by an earlier run (a Redis
# stopped keeping its data) is not loaded.
rm -f "$DIR/dump.rdb"
# A publish token, so that POST /api/prices can be tried (and its 503 while
# Redis is down).
TOKEN="${TICKERTAPE_PUBLISH_TOKEN:-cluster-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')}"

pids=()
redis_pid=""
stop() {
  trap - INT TERM EXIT
  echo
  echo "cluster: stopping nginx, the instances and Redis"
  for pid in "${pids[@]}" $redis_pid; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}" $redis_pid; do wait "$pid" 2>/dev/null || true; done
}
trap stop INT TERM EXIT

wait_for() { # wait_for PORT NAME LOG
  for _ in $(seq 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "cluster: $2 did not start; the end of $3:" >&2
  tail -20 "$3" >&2
  exit 1
}

for port in 3011 3012 3013 8080 "$REDIS_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "cluster: port $port is in use; stop what uses it (or set CLUSTER_REDIS_PORT for Redis)" >&2
    exit 1
  fi
done

start_redis() {
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$DIR" --logfile "$DIR/redis.log" &
  redis_pid=$!
  wait_for "$REDIS_PORT" Redis "$DIR/redis.log"
}
# stop_redis save|nosave: SHUTDOWN SAVE writes a dump the next start loads;
# NOSAVE (and no dump) is a Redis that lost its data.
stop_redis() {
  [ -n "$redis_pid" ] || { echo "cluster: Redis is already stopped"; return; }
  if [ "$1" = nosave ]; then rm -f "$DIR/dump.rdb"; fi
  redis-cli -p "$REDIS_PORT" shutdown "$1" >/dev/null 2>&1 || true
  wait "$redis_pid" 2>/dev/null || true
  redis_pid=""
}
start_redis

for n in 1 2 3; do
  # shellcheck disable=SC2086
  TICKERTAPE_PUBLISH_TOKEN="$TOKEN" "$BIN" --addr "127.0.0.1:301$n" \
    --broker "redis://127.0.0.1:$REDIS_PORT" --instance "node-$n" --trust-forwarded-for \
    $ARGS >"$DIR/node-$n.log" 2>&1 &
  pids+=($!)
done
for n in 1 2 3; do wait_for "301$n" "node-$n" "$DIR/node-$n.log"; done

# nginx as this user, with the documented site as it is.
user=""
[ "$(id -u)" = 0 ] && user="user root;"
cat >"$DIR/nginx.conf" <<CONF
pid $DIR/nginx.pid;
error_log $DIR/nginx-error.log info;
worker_processes 1;
events { worker_connections 1024; }
http {
  access_log $DIR/nginx-access.log;
  client_body_temp_path $DIR/body;
  proxy_temp_path $DIR/proxy;
  fastcgi_temp_path $DIR/fastcgi;
  uwsgi_temp_path $DIR/uwsgi;
  scgi_temp_path $DIR/scgi;
  include $PWD/docs/nginx/cluster.conf;
}
CONF
nginx -p "$DIR" -c "$DIR/nginx.conf" -e "$DIR/nginx-error.log" -g "daemon off; $user" &
pids+=($!)
wait_for 8080 nginx "$DIR/nginx-error.log"

cat <<MSG

The cluster is up: open http://127.0.0.1:8080 (Ctrl-C stops everything).
  Redis         127.0.0.1:$REDIS_PORT (keys tickertape:*)
  instances     http://127.0.0.1:3011 3012 3013 (/healthz names each; one holds the simulator's lease)
  publish       curl -s http://127.0.0.1:8080/api/prices -H "Authorization: Bearer $TOKEN" \\
                  -d '{"symbol":"ACME","price":12.5}'
  logs          $DIR/
Kill an instance (kill \$(pgrep -f 'instance node-1')) and watch the page reconnect and resume.
Type a letter and Enter:
  s  stop Redis keeping its data: the page says the feed is interrupted, publishing
     answers 503 broker_unavailable; r brings it back and the page catches up
  l  stop Redis losing its data: r brings back an empty Redis, and the cluster starts
     a new epoch from its instances' prices (every viewer resyncs)
  r  start Redis again
MSG
# Until Ctrl-C: a process that ends (an instance killed to try a failover) is
# the point of the exercise, not a reason to stop the others.
while true; do
  if ! read -r key; then
    # No terminal to read from: wait for Ctrl-C.
    wait || true
    break
  fi
  case "$key" in
    s) stop_redis save; echo "cluster: Redis stopped, its data kept (r starts it again)" ;;
    l) stop_redis nosave; echo "cluster: Redis stopped, its data lost (r starts it again, empty)" ;;
    r) if [ -n "$redis_pid" ]; then echo "cluster: Redis is running"; else start_redis; echo "cluster: Redis is back"; fi ;;
    *) echo "cluster: s, l or r (Ctrl-C stops everything)" ;;
  esac
done
