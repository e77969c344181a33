#!/usr/bin/env bash
# Storm benchmark: the IVR feed and the status pages under wrk while a fan-out of
# ~100,000 deliveries runs against real providers (smtp-sink, Kannel).
#
#   benches/storm.sh          (BENCH_ADDRESSES=2000000 BENCH_DURATION=10s)
#   BENCH_SPLIT=1 benches/storm.sh   web node (`serve` without workers) and a
#                                    separate `herald worker` process at nice 10
#
# Setup: a release build; 2,000,000 synthetic addresses (`herald synth`); 50,000
# of them in the west (lon < 18) get an e-mail and an SMS contact; 49 small
# outages elsewhere are declared; then a storm outage over the west (≈520,000
# addresses, 100,000 deliveries) is declared and, while its fan-out runs, wrk
# (-t1 -c64, as in the issue) measures:
#   1. IVR status by caller number, one number (answer cached per view);
#   2. IVR status by caller number, rotating over 50,000 numbers (cold cache);
#   3. the same with If-None-Match (the 304 path);
#   4. an outage page;
# and the same four once more after the fan-out has finished, for comparison.
# Prints deliveries still pending after each run, so "during the fan-out" is
# visible, and the server's peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
pids=()
cleanup() { stop_pids "${pids[@]}"; rm -rf "$work"; }
trap cleanup EXIT

addresses=${BENCH_ADDRESSES:-2000000}
duration=${BENCH_DURATION:-10s}
port=18080
base=http://127.0.0.1:$port

command -v wrk >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk >/dev/null
command -v sqlite3 >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends sqlite3 >/dev/null
. benches/providers.sh

cargo build --release --locked -q
herald=target/release/herald
export HERALD_DATA_DIR=$work/data HERALD_BIND=127.0.0.1:$port HERALD_PUBLIC_URL=$base
export HERALD_EMAIL__TRANSPORT=smtp HERALD_EMAIL__SMTP__HOST=127.0.0.1 HERALD_EMAIL__SMTP__PORT=2525
export HERALD_EMAIL__SMTP__TLS=none HERALD_EMAIL__SMTP__POOL_SIZE=16 HERALD_EMAIL__CONCURRENCY=64
export HERALD_SMS__PROVIDER=kannel HERALD_SMS__KANNEL__URL=http://127.0.0.1:13013 HERALD_SMS__CONCURRENCY=64
export HERALD_DELIVERY__BATCH_SIZE=1000 HERALD_DELIVERY__POLL_INTERVAL_MS=20
export RUST_LOG=warn

t() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", b-a}'; }

echo "machine: $(nproc) cores, $(grep MemTotal /proc/meminfo | awk '{print int($2/1024/1024)" GiB"}'), $(uname -r)"
s=$(t)
$herald synth --count "$addresses" --out "$work/addresses.csv" >/dev/null
# 50,000 addresses in the west get both channels; their numbers are the callers.
awk -F, 'NR>1 && $6 < 18 && ++n % 10 == 0 && k < 50000 {
  k++; printf "%s,email,r%d@storm.example,%s\n%s,sms,+3670%07d,%s\n", $1, k, substr("hupl", 1 + 2*(k%2), 2), $1, k, substr("hupl", 1 + 2*(k%2), 2)
}' "$work/addresses.csv" | { echo "address_external_id,channel,destination,language"; cat; } > "$work/contacts.csv"
awk -F, 'NR>1 && $2=="sms" {print $3}' "$work/contacts.csv" > "$work/phones.txt"
$herald migrate >/dev/null
$herald import addresses "$work/addresses.csv" >/dev/null
$herald import contacts "$work/contacts.csv" >/dev/null
token=$($herald token create storm | grep -o 'hrld_[0-9a-f]*')
echo "setup: $addresses addresses, $(($(wc -l < "$work/contacts.csv") - 1)) contacts in $(secs "$s" "$(t)") s"

if [ "${BENCH_SPLIT:-0}" = 1 ]; then
  HERALD_RUN_WORKERS=false $herald serve > "$work/serve.log" 2>&1 & server=$!; pids+=($server)
  # The worker yields the CPU to the web node: in a storm, answering callers and
  # visitors matters more than finishing the fan-out a few seconds sooner.
  nice -n 10 $herald worker > "$work/worker.log" 2>&1 & pids+=($!)
  echo "layout: web node + separate worker process (nice 10)"
else
  $herald serve > "$work/serve.log" 2>&1 & server=$!; pids+=($server)
  echo "layout: one process (serve: HTTP + workers)"
fi
wait_port $port
for _ in $(seq 1 600); do curl -fs "$base/readyz" >/dev/null && break; sleep 0.2; done

declare_outage() { # utility, polygon (GeoJSON coordinates), cause
  curl -fs -X POST "$base/api/v1/outages" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d "{\"utility\":\"$1\",\"cause\":\"$3\",\"etr\":\"$(date -u -d '+6 hours' +%Y-%m-%dT%H:%M:%SZ)\",\"area\":{\"type\":\"Polygon\",\"coordinates\":$2}}"
}
# 49 small outages east of the storm, around real addresses.
s=$(t)
awk -F, 'NR>1 && $6 > 19 && NR % 40000 == 7 {print $6, $7}' "$work/addresses.csv" | head -49 > "$work/centres.txt"
ref=""
while read -r lon lat; do
  poly=$(awk -v x="$lon" -v y="$lat" 'BEGIN{d=0.003; printf "[[[%f,%f],[%f,%f],[%f,%f],[%f,%f],[%f,%f]]]", x-d,y-d, x+d,y-d, x+d,y+d, x-d,y+d, x-d,y-d}')
  out=$(declare_outage water "$poly" "Burst main")
  ref=${ref:-$(echo "$out" | grep -o '"reference":"[^"]*"' | cut -d'"' -f4)}
done < "$work/centres.txt"
echo "49 small outages declared in $(secs "$s" "$(t)") s (outage page: /o/$ref)"
curl -fs "$base/o/$ref" >/dev/null

db=$work/data/herald.db
pending() { sqlite3 "file:$db?mode=ro" "SELECT COUNT(*) FROM deliveries WHERE state IN ('pending','sending')" 2>/dev/null || echo "?"; }

phone=$(head -1 "$work/phones.txt")
etag=$(curl -fsI "$base/ivr/v1/status?phone=$phone&format=json" | awk -F': ' 'tolower($1)=="etag"{print $2}' | tr -d '\r')
cat > "$work/rotate.lua" <<LUA
local phones = {}
for line in io.lines("$work/phones.txt") do phones[#phones + 1] = line end
local i = 0
request = function()
  i = i % #phones + 1
  return wrk.format("GET", "/ivr/v1/status?format=json&phone=" .. (phones[i]:gsub("%+", "%%2B")))
end
LUA

run() { # label, wrk args...
  local label=$1; shift
  local out; out=$(wrk -t1 -c64 -d"$duration" --latency "$@")
  local rps p50 p99 non2xx
  rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
  p50=$(echo "$out" | awk '$1=="50%"{print $2}')
  p99=$(echo "$out" | awk '$1=="99%"{print $2}')
  non2xx=$(echo "$out" | awk '/Non-2xx/{print $NF}')
  printf "  %-44s %10s req/s   p50 %8s   p99 %8s   non-2xx %s   deliveries pending after: %s\n" \
    "$label" "$rps" "$p50" "$p99" "${non2xx:-0}" "$(pending)"
}

suite() {
  run "IVR by phone (one caller)" "$base/ivr/v1/status?format=json&phone=${phone/+/%2B}"
  run "IVR by phone (50,000 callers, rotating)" -s "$work/rotate.lua" "$base"
  run "IVR by phone, If-None-Match (304)" -H "If-None-Match: $etag" "$base/ivr/v1/status?format=json&phone=${phone/+/%2B}"
  run "outage page /o/$ref" "$base/o/$ref"
}

s=$(t)
storm=$(declare_outage power '[[[15.5,45.0],[18.0,45.0],[18.0,55.5],[15.5,55.5],[15.5,45.0]]]' "Storm damage")
echo "storm declared in $(secs "$s" "$(t)") s: $storm"
# The storm changed the published view; take the ETag of the new one.
etag=$(curl -fsI "$base/ivr/v1/status?phone=$phone&format=json" | awk -F': ' 'tolower($1)=="etag"{print $2}' | tr -d '\r')
echo "during the fan-out (wrk -t1 -c64 -d$duration):"
suite
while [ "$(pending)" != "0" ]; do sleep 1; done
echo "fan-out finished $(secs "$s" "$(t)") s after the storm was declared:" \
  "$(sqlite3 "file:$db?mode=ro" "SELECT group_concat(channel || ' ' || state || ' ' || n, ', ') FROM (SELECT channel, state, COUNT(*) n FROM deliveries GROUP BY 1, 2)")"
echo "after the fan-out:"
suite
echo "server peak RSS: $(awk '/VmHWM/{print int($2/1024)" MiB"}' /proc/$server/status)"
