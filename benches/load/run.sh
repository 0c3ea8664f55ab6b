#!/usr/bin/env bash
# Load benchmark of keyhold-server on loopback, against a minimal hyper hello-world measured in
# the same run. Bounded: each wrk run lasts DURATION seconds; both servers are stopped at exit.
#
#   benches/load/run.sh            # DURATION=10 CONNECTIONS=256 ROUNDS=3
#
# Prints requests/s and p50/p99 latency for: hello-world; the same server doing only the
# signature check of each posted token (`hello ADDR JWKS ISSUER`); POST /v1/tokens/verify with
# 8 repeating keys; with all-distinct keys; GET a connection's credential (every read durably
# audited); and the ratios the targets in docs/performance.md
# are stated in (repeating keys vs hello-world, distinct keys vs signature check alone).
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-256}"
ROUNDS="${ROUNDS:-3}"
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
cargo build --release --locked -q -p keyhold-server
cargo build --release --locked -q -p keyhold-benches --bin hello
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

target/release/hello 127.0.0.1:0 > "$work/hello.out" &
pids+=($!)
target/release/keyhold-server --data-dir "$work/data" --listen 127.0.0.1:0 --log-level warn > "$work/server.out" 2> "$work/server.err" &
pids+=($!)
for f in hello server; do
  for _ in $(seq 100); do grep -q "listening on" "$work/$f.out" 2>/dev/null && break; sleep 0.1; done
done
hello="$(sed -n 's/^listening on //p' "$work/hello.out")"
server="$(sed -n 's/^listening on //p' "$work/server.out")"
export ADMIN="$(sed -n 's/^admin key (30 days; shown once, store it now): //p' "$work/server.out")"

mint() { # name -> token
  curl -s -X POST "$server/v1/keys" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
    -d "{\"name\":\"$1\",\"expires\":\"1h\",\"scopes\":[\"read:queries\"]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
for i in $(seq 8); do mint "repeat-$i"; done > "$work/repeat.txt"
# The signature-only baseline verifies against the store's own public keys and issuer.
curl -s "$server/.well-known/jwks.json" > "$work/jwks.json"
issuer="$(python3 -c 'import base64,json,sys; p=sys.argv[1].split(".")[1]; print(json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))["iss"])' "$ADMIN")"
target/release/hello 127.0.0.1:0 "$work/jwks.json" "$issuer" > "$work/sig.out" &
pids+=($!)
for _ in $(seq 100); do grep -q "listening on" "$work/sig.out" 2>/dev/null && break; sleep 0.1; done
sig="$(sed -n 's/^listening on //p' "$work/sig.out")"
# "All-distinct": more keys than the run can cycle through the cache with (4,096 entries).
for i in $(seq 5000); do echo "$i"; done | xargs -P 4 -I{} sh -c 'curl -s -X POST "'"$server"'/v1/keys" -H "Authorization: Bearer $ADMIN" -H "Content-Type: application/json" -d "{\"name\":\"d-{}\",\"expires\":\"1h\",\"scopes\":[\"read:queries\"]}"' \
  | python3 -c 'import json,sys
for line in sys.stdin.read().replace("}{", "}\n{").splitlines():
    print(json.loads(line)["token"])' > "$work/distinct.txt"

# A generic connection (no target to reach: keyhold's own cost) whose credential a consumer key
# reads over HTTP.
api() { # method path body
  curl -sf -X "$1" "$server$2" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' -d "$3" > /dev/null
}
api POST /v1/connections '{"name":"bench","kind":"generic","primary_user":"svc","secondary_user":"svc2"}'
api PUT /v1/connections/bench/slots/primary/credential '{"password":"a-credential-of-thirty-two-bytes"}'
api POST /v1/connections/bench/slots/primary/save '{"acknowledge_untested":true}'
export USE_KEY="$(curl -s -X POST "$server/v1/keys" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
  -d '{"name":"consumer","expires":"1h","scopes":["connections:use"]}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"

run() { # label url [lua tokens]
  local out
  if [ -n "${3:-}" ]; then
    out="$(TOKENS="$4" wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$3" "$2")"
  else
    out="$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$2")"
  fi
  local rps p50 p99
  rps="$(sed -n 's/^Requests\/sec: *//p' <<<"$out")"
  p50="$(awk '$1=="50%"{print $2}' <<<"$out")"
  p99="$(awk '$1=="99%"{print $2}' <<<"$out")"
  printf '%-44s %10s req/s   p50 %8s   p99 %8s\n' "$1" "$rps" "$p50" "$p99"
  echo "$rps" >> "$work/$(tr ' /' '__' <<<"$1").rps"
}
echo "loopback, $CONNECTIONS connections, 2 wrk threads, ${DURATION}s each, $ROUNDS rounds"
# Rounds interleave the workloads, so a noisy neighbour hits baseline and subject alike; the
# ratios are of the medians.
for round in $(seq "$ROUNDS"); do
  echo "-- round $round of $ROUNDS"
  run "hello-world (baseline)" "$hello/"
  run "signature check only, distinct keys" "$sig" benches/load/verify.lua "$work/distinct.txt"
  run "verify, 8 repeating keys (durable uses)" "$server" benches/load/verify.lua "$work/repeat.txt"
  run "verify, $(wc -l < "$work/distinct.txt") distinct keys (durable uses)" "$server" benches/load/verify.lua "$work/distinct.txt"
  run "credential read (durable credential.read)" "$server/v1/connections/bench/credential" benches/load/credential.lua /dev/null
done
python3 - "$work" <<'PY'
import glob, os, statistics, sys
r = {os.path.basename(f)[:-4]: statistics.median(float(x) for x in open(f).read().split())
     for f in glob.glob(sys.argv[1] + "/*.rps")}
for k, v in sorted(r.items()):
    print(f"median {k.replace('_', ' '):<44} {v:10.0f} req/s")
hello = next(v for k, v in r.items() if k.startswith("hello"))
sig = next(v for k, v in r.items() if k.startswith("signature"))
rep = next(v for k, v in r.items() if "repeating" in k)
dis = next(v for k, v in r.items() if k.startswith("verify") and "distinct" in k)
print(f"repeating keys / hello-world:          {rep / hello:.3f}   (target >= 0.50)")
print(f"distinct keys / signature check alone: {dis / sig:.3f}   (target >= 0.80)")
cred = next(v for k, v in r.items() if k.startswith("credential"))
print(f"credential reads / verify (repeating):  {cred / rep:.3f}")
PY
