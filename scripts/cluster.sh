#!/usr/bin/env bash
# `make cluster`: a tickertape cluster on this machine: Redis, three instances
# sharing it (ports 3011-3013, clear of `cargo leptos watch`'s 3001) and nginx in
# front (docs/nginx/cluster.conf, as it is), serving http://127.0.0.1:8080 with
# the built-in simulator. While it runs, keys stop and start Redis (keeping its
# data or losing it) to walk through docs/scale-out.md. Ctrl-C stops them all.
#
#   make cluster
#   make cluster SENTINEL=1                   # a primary, a replica, three Sentinels
#   CLUSTER_ARGS="--rate 50" make cluster     # flags for every instance
#
# With SENTINEL=1 the instances find the primary through three Sentinels
# (ports 26380-26382) and follow a failover; keys kill the primary (the
# replica is promoted within about 2 s) and bring it back as a replica.
#
# Logs go to target/cluster/. Needs `make build` (the Makefile runs it) and
# Debian's redis-server and nginx (`scripts/setup.sh cluster` installs them).
set -euo pipefail
cd "$(dirname "$0")/.."

DIR="$PWD/target/cluster"
BIN="$PWD/target/release/tickertape"
REDIS_PORT="${CLUSTER_REDIS_PORT:-6380}"
REPLICA_PORT=$((REDIS_PORT + 1))
SENTINEL="${SENTINEL:-}"
SENTINEL_PORTS="26380 26381 26382"
ARGS="${CLUSTER_ARGS:-}"
mkdir -p "$DIR"

# Every run starts from an empty Redis: a dump left by an earlier run (a Redis
# stopped keeping its data) is not loaded.
rm -f "$DIR/dump.rdb" "$DIR"/sentinel-*.conf
# A publish token, so that POST /api/prices can be tried (and its 503 while
# Redis is down).
TOKEN="${TICKERTAPE_PUBLISH_TOKEN:-cluster-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')}"

pids=()
redis_pid=""
# With SENTINEL=1: the replica and the Sentinels, by port.
declare -A server_pid=()
sentinel_pids=()
stop() {
  trap - INT TERM EXIT
  echo
  echo "cluster: stopping nginx, the instances and Redis"
  for pid in "${pids[@]}" $redis_pid "${server_pid[@]}" "${sentinel_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}" $redis_pid "${server_pid[@]}" "${sentinel_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
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

ports=(3011 3012 3013 8080 "$REDIS_PORT")
[ -n "$SENTINEL" ] && ports+=("$REPLICA_PORT" $SENTINEL_PORTS)
for port in "${ports[@]}"; do
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
  if [ "$1" = nosave ]; then rm -f "$DIR/dump.rdb" "$DIR"/sentinel-*.conf; fi
  redis-cli -p "$REDIS_PORT" shutdown "$1" >/dev/null 2>&1 || true
  wait "$redis_pid" 2>/dev/null || true
  redis_pid=""
}
# start_server PORT [PRIMARY_PORT]: a Redis of the Sentinel layout, the replica
# of PRIMARY_PORT when given.
start_server() {
  local replicaof=()
  [ -n "${2:-}" ] && replicaof=(--replicaof 127.0.0.1 "$2")
  redis-server --port "$1" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$DIR" --dbfilename "dump-$1.rdb" --logfile "$DIR/redis-$1.log" "${replicaof[@]}" &
  server_pid[$1]=$!
  wait_for "$1" "Redis on $1" "$DIR/redis-$1.log"
}
# The primary's port, as the Sentinels name it now.
current_primary() {
  redis-cli -p 26380 SENTINEL get-master-addr-by-name tickertape 2>/dev/null | sed -n 2p
}

if [ -n "$SENTINEL" ]; then
  start_server "$REDIS_PORT"
  start_server "$REPLICA_PORT" "$REDIS_PORT"
  for port in $SENTINEL_PORTS; do
    cat >"$DIR/sentinel-$port.conf" <<CONF
port $port
bind 127.0.0.1
dir $DIR
logfile $DIR/sentinel-$port.log
sentinel monitor tickertape 127.0.0.1 $REDIS_PORT 2
sentinel down-after-milliseconds tickertape 1000
sentinel failover-timeout tickertape 3000
CONF
    redis-server "$DIR/sentinel-$port.conf" --sentinel &
    sentinel_pids+=($!)
    wait_for "$port" "the Sentinel on $port" "$DIR/sentinel-$port.log"
  done
  BROKER="redis+sentinel://127.0.0.1:26380,127.0.0.1:26381,127.0.0.1:26382/tickertape"
else
  start_redis
  BROKER="redis://127.0.0.1:$REDIS_PORT"
fi

for n in 1 2 3; do
  # shellcheck disable=SC2086
  TICKERTAPE_PUBLISH_TOKEN="$TOKEN" "$BIN" --addr "127.0.0.1:301$n" \
    --broker "$BROKER" --instance "node-$n" --trust-forwarded-for \
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

if [ -n "$SENTINEL" ]; then
  redis_line="Redis         primary 127.0.0.1:$REDIS_PORT, replica $REPLICA_PORT, Sentinels 26380-26382 (keys tickertape:*)"
else
  redis_line="Redis         127.0.0.1:$REDIS_PORT (keys tickertape:*)"
fi
cat <<MSG

The cluster is up: open http://127.0.0.1:8080 (Ctrl-C stops everything).
  $redis_line
  instances     http://127.0.0.1:3011 3012 3013 (/healthz names each; one holds the simulator's lease)
  publish       curl -s http://127.0.0.1:8080/api/prices -H "Authorization: Bearer $TOKEN" \\
                  -d '{"symbol":"ACME","price":12.5}'
  logs          $DIR/
Kill an instance (kill \$(pgrep -f 'instance node-1')) and watch the page reconnect and resume.
MSG
if [ -n "$SENTINEL" ]; then
  cat <<MSG
Type a letter and Enter:
  k  kill -9 the primary: the Sentinels promote the replica within about 2 s and the
     instances follow; until a replica is back, publishing answers 503 and the page
     says the feed is interrupted (a batch must reach a replica)
  b  bring the killed server back, empty, as the new primary's replica
MSG
else
  cat <<MSG
Type a letter and Enter:
  s  stop Redis keeping its data: the page says the feed is interrupted, publishing
     answers 503 broker_unavailable; r brings it back and the page catches up
  l  stop Redis losing its data: r brings back an empty Redis, and the cluster starts
     a new epoch from its instances' prices (every viewer resyncs)
  r  start Redis again
MSG
fi
killed=""
# Until Ctrl-C: a process that ends (an instance killed to try a failover) is
# the point of the exercise, not a reason to stop the others.
while true; do
  if ! read -r key; then
    # No terminal to read from: wait for Ctrl-C.
    wait || true
    break
  fi
  if [ -n "$SENTINEL" ]; then
    case "$key" in
      k) primary=$(current_primary)
         if [ -n "$killed" ]; then echo "cluster: bring $killed back first (b)"; continue; fi
         kill -9 "${server_pid[$primary]}" 2>/dev/null || true
         wait "${server_pid[$primary]}" 2>/dev/null || true
         unset "server_pid[$primary]"
         killed=$primary
         echo "cluster: killed the primary on $primary (b brings it back as a replica)" ;;
      b) if [ -z "$killed" ]; then echo "cluster: nothing to bring back"; continue; fi
         primary=$(current_primary)
         if [ "$primary" = "$killed" ]; then echo "cluster: the Sentinels have not promoted the replica yet; try again"; continue; fi
         start_server "$killed" "$primary"
         echo "cluster: $killed is back, the replica of $primary"
         killed="" ;;
      *) echo "cluster: k or b (Ctrl-C stops everything)" ;;
    esac
    continue
  fi
  case "$key" in
    s) stop_redis save; echo "cluster: Redis stopped, its data kept (r starts it again)" ;;
    l) stop_redis nosave; echo "cluster: Redis stopped, its data lost (r starts it again, empty)" ;;
    r) if [ -n "$redis_pid" ]; then echo "cluster: Redis is running"; else start_redis; echo "cluster: Redis is back"; fi ;;
    *) echo "cluster: s, l or r (Ctrl-C stops everything)" ;;
  esac
done
