#!/usr/bin/env bash
# Scale-out benchmark: token verification through 1, 2 and 3 keyhold-server nodes sharing one
# PostgreSQL store, against one node on SQLite, all measured in the same run; then the
# store_backends bench (the per-request cost of the cross-node revocation check). Bounded:
# each wrk run lasts DURATION seconds; the nodes and the throwaway PostgreSQL cluster are
# stopped at exit. Loopback only.
#
#   benches/load/nodes.sh          # DURATION=8 CONNECTIONS=96 ROUNDS=3
#
# Every node serves POST /v1/tokens/verify for 8 repeating keys, each use durably audited
# (group commit). With N nodes, N wrk processes each drive one node with CONNECTIONS/N
# connections; the rates are summed. Ratios: each PostgreSQL configuration against the one
# SQLite node, and 2 or 3 nodes against 1.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION="${DURATION:-8}"
CONNECTIONS="${CONNECTIONS:-96}"
ROUNDS="${ROUNDS:-3}"
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
cargo build --release --locked -q -p keyhold-server -p keyhold-cli
work="$(mktemp -d)"
chmod 0755 "$work" # the cluster's owner (postgres, when run as root) reads its files
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  scripts/pg-cluster stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

scripts/pg-cluster start "$work/pg" >/dev/null
set -a
# shellcheck disable=SC1091
. "$work/pg/env"
set +a
export KEYHOLD_STORE_PASSWORD_FILE="$KEYHOLD_TEST_PG_PASSWORD_FILE"
# The test cluster logs every statement and connection (the tests scan its log for secrets);
# a production server does not, and the log would be measured along with keyhold: off here.
# fsync and synchronous_commit stay off as the cluster has them (see docs/performance.md).
PGPASSWORD="$(cat "$KEYHOLD_TEST_PG_PASSWORD_FILE")" psql -q -h "$KEYHOLD_TEST_PG_HOST" \
  -p "$KEYHOLD_TEST_PG_PORT" -U "$KEYHOLD_TEST_PG_USER" -d postgres \
  -c "ALTER SYSTEM SET log_statement = 'none'" -c "ALTER SYSTEM SET log_connections = off" \
  -c "ALTER SYSTEM SET log_disconnections = off" -c "SELECT pg_reload_conf()" \
  -c "CREATE DATABASE kh_nodes_bench" > /dev/null
store="postgres://$KEYHOLD_TEST_PG_USER@$KEYHOLD_TEST_PG_HOST:$KEYHOLD_TEST_PG_PORT/kh_nodes_bench?sslrootcert=$KEYHOLD_TEST_PG_CA"
key="$work/master.key"
target/release/keyhold --store "$store" --master-key-file "$key" init > /dev/null

start() { # name [args...]: starts a node; its address is then `addr name`
  local name="$1"; shift
  target/release/keyhold-server --listen 127.0.0.1:0 --log-level warn --rotation-check 0 \
    --master-key-file "$key" --data-dir "$work/$name" "$@" > "$work/$name.out" 2> "$work/$name.err" &
  pids+=($!)
  for _ in $(seq 100); do grep -q "listening on" "$work/$name.out" 2>/dev/null && break; sleep 0.1; done
}
addr() { sed -n 's/^listening on //p' "$work/$1.out"; }
for n in n1 n2 n3; do start "$n" --store "$store"; done
start lite
nodes=("$(addr n1)" "$(addr n2)" "$(addr n3)")
lite="$(addr lite)"
lite_admin="$(sed -n 's/^admin key (30 days; shown once, store it now): //p' "$work/lite.out")"
pg_admin="$(target/release/keyhold --store "$store" --master-key-file "$key" keys create \
  --name admin --expires 24h --scope admin 2>/dev/null | head -1)"

mint() { # server admin name -> token
  curl -s -X POST "$1/v1/keys" -H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
    -d "{\"name\":\"$3\",\"expires\":\"1h\",\"scopes\":[\"read:queries\"]}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
for i in $(seq 8); do mint "$lite" "$lite_admin" "repeat-$i"; done > "$work/lite.txt"
for i in $(seq 8); do mint "${nodes[0]}" "$pg_admin" "repeat-$i"; done > "$work/pg.txt"

# Where the CPU goes: user+system ticks of PostgreSQL (the postmaster and its backends), of
# the keyhold-server nodes, and of the whole machine (wrk and neighbours are the rest).
pg_pids() { local pm; pm="$(head -1 "$work/pg/data/postmaster.pid")"; echo "$pm" $(pgrep -P "$pm"); }
ticks() { # pid... -> summed user+system ticks
  local t=0 p v
  for p in "$@"; do
    v="$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null)" || v=0
    t=$((t + ${v:-0}))
  done
  echo "$t"
}
busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

run() { # label admin tokens url...
  local label="$1" admin="$2" tokens="$3"; shift 3
  local n=$# per=$((CONNECTIONS / $#)) i=0
  local pg0 kh0 all0
  pg0="$(ticks $(pg_pids))" kh0="$(ticks "${pids[@]}")" all0="$(busy)"
  for url in "$@"; do
    ADMIN="$admin" TOKENS="$tokens" wrk -t1 -c"$per" -d"${DURATION}s" -s benches/load/verify.lua "$url" \
      > "$work/wrk.$i" &
    i=$((i + 1))
  done
  wait $(jobs -p | tail -n "$n")
  local total
  total="$(cat "$work"/wrk.* | sed -n 's/^Requests\/sec: *//p' | awk '{ s += $1 } END { printf "%.0f", s }')"
  rm -f "$work"/wrk.*
  local pg1 kh1 all1 hz
  pg1="$(ticks $(pg_pids))" kh1="$(ticks "${pids[@]}")" all1="$(busy)" hz="$(getconf CLK_TCK)"
  awk -v l="$label" -v r="$total" -v d="$DURATION" -v hz="$hz" -v pg=$((pg1 - pg0)) \
    -v kh=$((kh1 - kh0)) -v all=$((all1 - all0)) 'BEGIN {
      us = 1000000 / hz / (r * d)
      printf "%-34s %10s req/s   CPU per request: postgres %4.0f us, nodes %4.0f us, all %4.0f us\n",
        l, r, pg * us, kh * us, all * us }'
  echo "$total" >> "$work/$(tr ' ,' '__' <<<"$label").rps"
}
echo "loopback, $CONNECTIONS connections in all, ${DURATION}s each, $ROUNDS rounds"
for round in $(seq "$ROUNDS"); do
  echo "-- round $round of $ROUNDS"
  run "sqlite 1 node" "$lite_admin" "$work/lite.txt" "$lite"
  run "postgres 1 node" "$pg_admin" "$work/pg.txt" "${nodes[0]}"
  run "postgres 2 nodes" "$pg_admin" "$work/pg.txt" "${nodes[0]}" "${nodes[1]}"
  run "postgres 3 nodes" "$pg_admin" "$work/pg.txt" "${nodes[@]}"
done
python3 - "$work" <<'PY'
import glob, os, statistics, sys
r = {os.path.basename(f)[:-4].replace("_", " "): statistics.median(float(x) for x in open(f).read().split())
     for f in glob.glob(sys.argv[1] + "/*.rps")}
for k in ["sqlite 1 node", "postgres 1 node", "postgres 2 nodes", "postgres 3 nodes"]:
    print(f"median {k:<20} {r[k]:10.0f} req/s")
one = r["postgres 1 node"]
print(f"postgres 1 node / sqlite 1 node:   {one / r['sqlite 1 node']:.3f}")
print(f"postgres 2 nodes / 1 node:         {r['postgres 2 nodes'] / one:.3f}")
print(f"postgres 3 nodes / 1 node:         {r['postgres 3 nodes'] / one:.3f}")
PY
# Each node's view of the shared chain after the load: one chain, verifying.
target/release/keyhold --store "$store" --master-key-file "$key" audit verify

echo "-- store_backends (criterion): the per-request cost of the cross-node check"
cargo bench --locked -q -p keyhold-benches --bench store_backends -- --warm-up-time 1 --measurement-time 3 2>&1 \
  | grep -v "^Gnuplot\|^$"
