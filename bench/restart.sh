#!/bin/sh
# Server restarts under a DTLS-PSK fleet (issue 19 items 1 and 2), with real processes:
# `niobium server` on 127.0.0.1 with --session-key-file, and `niobium sim` with N devices
# whose PSKs it installs through the REST API (lifetime 3600 s, so no Update helps).
#
#   graceful: SIGTERM, start again; every device is read once (GET /api/clients/EP/3/0/0):
#             how many answer 200, and how many handshakes the new server made (its
#             `event=established` lines): 0 when every session was kept.
#   kill:     kill -9, start again; seconds until every device is listed reachable
#             (each is told its session is gone and handshakes again).
#
# usage: bench/restart.sh [N] [graceful|kill|both]   (default 1000 both)
# env:   NB=path/to/niobium (default build/release/niobium), KEEP=1 keeps the work directory
set -eu

N=${1:-1000}
MODE=${2:-both}
NB=${NB:-build/release/niobium}
[ -x "$NB" ] || { echo "restart.sh: no $NB (make release, or NB=...)" >&2; exit 2; }
for p in curl python3; do
  command -v $p >/dev/null || { echo "restart.sh: needs $p" >&2; exit 2; }
done

DIR=$(mktemp -d /tmp/nb-restart-bench-XXXXXX)
SRV=""
SIM=""
cleanup() {
  set +e
  if [ -n "$SIM" ] && kill -INT "$SIM" 2>/dev/null; then sleep 2; kill -KILL "$SIM" 2>/dev/null; fi
  if [ -n "$SRV" ]; then kill -KILL "$SRV" 2>/dev/null; fi
  if [ "${KEEP:-0}" = 1 ]; then echo "work directory: $DIR"; else rm -rf "$DIR"; fi
}
trap cleanup EXIT INT TERM

# Free ports from the kernel.
port() { python3 -c 'import socket,sys;s=socket.socket(socket.AF_INET,getattr(socket,sys.argv[1]));s.bind(("127.0.0.1",0));print(s.getsockname()[1])' "$1"; }
COAPS=$(port SOCK_DGRAM)
HTTP=$(port SOCK_STREAM)
API=http://127.0.0.1:$HTTP
head -c 32 /dev/urandom >"$DIR/sessions.key"
chmod 600 "$DIR/sessions.key"

now() { date +%s.%N; }
since() { echo "$(now) $1" | awk '{printf "%.1f", $1 - $2}'; }

RUN=0
start_server() {
  RUN=$((RUN + 1))
  "$NB" server --coaps "127.0.0.1:$COAPS" --http "127.0.0.1:$HTTP" --db "$DIR/server.db" \
    --session-key-file "$DIR/sessions.key" >/dev/null 2>"$DIR/server.$RUN.log" &
  SRV=$!
  i=0
  until grep -q "proto=http" "$DIR/server.$RUN.log" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 100 ] && { echo "server did not start" >&2; cat "$DIR/server.$RUN.log" >&2; exit 1; }
    sleep 0.1
  done
}

# Every registration's JSON, page by page (1000 a page, following Link: rel="next").
clients() {
  url="$API/api/clients?limit=1000"
  while [ -n "$url" ]; do
    curl -s -D "$DIR/h" "$url"
    next=$(grep -i '^link:' "$DIR/h" | sed -n 's/.*<\([^>]*\)>; *rel="next".*/\1/p' | tr -d '\r')
    case "$next" in "") url="" ;; http*) url=$next ;; *) url="$API$next" ;; esac
  done
}
count() { clients | grep -o "$1" | wc -l | tr -d ' '; }

wait_reachable() { # limit_s -> prints seconds, or fails
  t0=$(now)
  while :; do
    n=$(count '"reachable":true')
    [ "$n" -ge "$N" ] && { since "$t0"; return 0; }
    [ "$(since "$t0" | cut -d. -f1)" -ge "$1" ] && { echo "only $n of $N reachable after $1 s" >&2; return 1; }
    sleep 0.5
  done
}

start_server
"$NB" sim --server "coaps://127.0.0.1:$COAPS" --security psk --api "$API" --devices "$N" \
  --lifetime 3600 --scenario idle --observe 0 --progress 10 </dev/null >"$DIR/sim.out" \
  2>"$DIR/sim.log" &
SIM=$!
echo "restart.sh: $N DTLS-PSK devices registering (niobium sim, lifetime 3600 s)"
wait_reachable 600 >/dev/null

if [ "$MODE" = graceful ] || [ "$MODE" = both ]; then
  kill -TERM "$SRV"; wait "$SRV" || true
  saved=$(grep -o 'event=dtls_sessions_saved count=[0-9]*' "$DIR/server.$RUN.log" | grep -o '[0-9]*$')
  t0=$(now)
  start_server
  up=$(since "$t0")
  restored=$(grep -o 'event=dtls_sessions_restored count=[0-9]*' "$DIR/server.$RUN.log" | grep -o '[0-9]*$')
  ok=0
  t1=$(now)
  for ep in $(clients | grep -o '"endpoint":"[^"]*"' | cut -d'"' -f4); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$API/api/clients/$ep/3/0/0")
    [ "$code" = 200 ] && ok=$((ok + 1))
  done
  reads=$(since "$t1")
  hs=$(grep -c 'event=established' "$DIR/server.$RUN.log" || true)
  echo "graceful: saved $saved, restored $restored (server up again in $up s); next read 200: $ok of $N (in $reads s); handshakes after the restart: $hs"
fi

if [ "$MODE" = kill ] || [ "$MODE" = both ]; then
  kill -KILL "$SRV"; wait "$SRV" 2>/dev/null || true
  t0=$(now)
  start_server
  secs=$(wait_reachable 600) || exit 1
  hs=$(grep -c 'event=established' "$DIR/server.$RUN.log" || true)
  echo "kill -9: $N of $N reachable again $(since "$t0") s after the restart began ($secs s after it listened); handshakes: $hs"
fi
