#!/usr/bin/env bash
# Storm benchmark: the IVR feed and the status pages under wrk while a fan-out of
# ~100,000 deliveries runs against real providers (smtp-sink, Kannel).
#
#   benches/storm.sh          (BENCH_ADDRESSES=2000000 BENCH_DURATION=10s)
#   BENCH_SPLIT=1 benches/storm.sh   web node (`serve` without workers) and a
#                                    separate `herald worker` process at nice 10
#   BENCH_HERALD=/tmp/herald-a benches/storm.sh   that binary, not a fresh build
#   BENCH_PERF=1 benches/storm.sh    also profiles the (first) web node with
#                                    perf during each rotating-callers and
#                                    rotating-searches run (reports in /tmp,
#                                    or BENCH_PERF_OUT)
#   BENCH_SPLIT=1 BENCH_NODES=2 BENCH_BACKENDS="sqlite postgres" benches/storm.sh
#                                    two web nodes sharing one database (each
#                                    backend in turn, PostgreSQL from
#                                    scripts/postgres); wrk runs once per node
#                                    (-c32 each, 64 connections in all) and the
#                                    rates are summed, p99 is the worse node's
#
# Setup: a release build; 2,000,000 synthetic addresses (`herald synth`); 50,000
# of them in the west (lon < 18) get an e-mail and an SMS contact; addresses
# between lon 18 and 19 (where no outage is declared) get SMS contacts up to
# BENCH_CONTACTS (1,000,000) in all, so the caller map is full size without
# adding deliveries; 49 small outages further east are declared; then a storm
# outage over the west (≈520,000 addresses, 100,000 deliveries) is declared and,
# while its fan-out runs, wrk (-t1 -c64, as in the issue) measures:
#   1. IVR status by caller number, one number (answer cached per view);
#   2. IVR status by caller number, rotating over 50,000 numbers (cold);
#   3. the same with If-None-Match (the 304 path);
#   4. IVR status by postcode, rotating over every postcode (cold);
#   5. IVR status by address, rotating over 50,000 addresses (cold);
#   6. the status-page search, one repeated query, and rotating over 50,000
#      addresses as they read ("am I affected?", cold);
#   7. an outage page;
# and the same once more after the fan-out has finished, for comparison, with
# the cold/warm ratios. Before the storm: one uncached answer for the largest
# postcode (curl's time). Prints deliveries still pending after each run, so
# "during the fan-out" is visible, and the web nodes' peak RSS with the
# breakdown of what the in-memory structures hold (`herald_memory_bytes`);
# before the runs, what the start-up builds of the in-memory register took.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
pids=()
cleanup() {
  local status=$?
  # A failed run keeps the nodes' logs (a crash, an empty reply) for reading.
  if [ "$status" != 0 ]; then
    mkdir -p /tmp/storm-logs && cp "$work"/*.log /tmp/storm-logs/ 2>/dev/null &&
      echo "storm.sh failed ($status): the nodes' logs are in /tmp/storm-logs" >&2
  fi
  stop_pids "${pids[@]}"
  declare -F drop_backend >/dev/null && drop_backend
  rm -rf "$work"
}
trap cleanup EXIT

addresses=${BENCH_ADDRESSES:-2000000}
contacts=${BENCH_CONTACTS:-1000000}
duration=${BENCH_DURATION:-10s}
nodes=${BENCH_NODES:-1}
split=${BENCH_SPLIT:-0}
perf_runs=0
[ "$nodes" -gt 1 ] && [ "$split" != 1 ] && { echo "BENCH_NODES > 1 needs BENCH_SPLIT=1" >&2; exit 2; }
ports=(); for i in $(seq 0 $((nodes - 1))); do ports+=($((18080 + i))); done
base=http://127.0.0.1:${ports[0]}

command -v wrk >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk >/dev/null
command -v sqlite3 >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends sqlite3 >/dev/null
. benches/providers.sh
. benches/backend.sh

# BENCH_HERALD=/path/to/herald measures that binary instead (an A/B of two
# builds in the same window: copy one aside, build the other).
if [ -n "${BENCH_HERALD:-}" ]; then
  herald=$BENCH_HERALD
else
  cargo build --release --locked -q
  herald=$PWD/target/release/herald
fi
export HERALD_PUBLIC_URL=$base
export HERALD_EMAIL__TRANSPORT=smtp HERALD_EMAIL__SMTP__HOST=127.0.0.1 HERALD_EMAIL__SMTP__PORT=2525
export HERALD_EMAIL__SMTP__TLS=none HERALD_EMAIL__SMTP__POOL_SIZE=16 HERALD_EMAIL__CONCURRENCY=64
export HERALD_SMS__PROVIDER=kannel HERALD_SMS__KANNEL__URL=http://127.0.0.1:13013 HERALD_SMS__CONCURRENCY=64
export HERALD_DELIVERY__BATCH_SIZE=1000 HERALD_DELIVERY__POLL_INTERVAL_MS=20
# The in-memory register logs its builds (read, sizes, milliseconds) at info.
export RUST_LOG=warn,herald::register=info

t() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", b-a}'; }

echo "machine: $(nproc) cores, $(grep MemTotal /proc/meminfo | awk '{print int($2/1024/1024)" GiB"}'), $(uname -r)"
$herald synth --count "$addresses" --out "$work/addresses.csv" >/dev/null
# 50,000 addresses in the west get both channels; their numbers are the callers.
awk -F, 'NR>1 && $6 < 18 && ++n % 10 == 0 && k < 50000 {
  k++; printf "%s,email,r%d@storm.example,%s\n%s,sms,+3670%07d,%s\n", $1, k, substr("hupl", 1 + 2*(k%2), 2), $1, k, substr("hupl", 1 + 2*(k%2), 2)
}' "$work/addresses.csv" | { echo "address_external_id,channel,destination,language"; cat; } > "$work/contacts.csv"
awk -F, 'NR>1 && $2=="sms" {print $3}' "$work/contacts.csv" > "$work/phones.txt"
# The rest of the callers, between lon 18 and 19: no outage covers them.
awk -F, -v want=$((contacts - 100000)) 'NR>1 && $6 >= 18.05 && $6 < 18.95 { band[++n] = $1 }
  END { if (n == 0) exit; for (k = 0; k < want; k++) printf "%s,sms,+3620%07d,hu\n", band[k % n + 1], k }' \
  "$work/addresses.csv" >> "$work/contacts.csv"
# Every postcode, and 50,000 addresses (by id and as they read), to rotate over.
awk -F, 'NR>1 && $4 != "" {print $4}' "$work/addresses.csv" | sort -u > "$work/postcodes.txt"
awk -F, 'NR>1 && NR % 40 == 0 {print $1 "\t" $2 " " $3 " " $5}' "$work/addresses.csv" | head -50000 > "$work/places.txt"
big_postcode=$(awk -F, 'NR>1 && $4 != "" {n[$4]++} END {for (p in n) if (n[p] > m) {m = n[p]; b = p}; print b " " m}' "$work/addresses.csv")
rotate() { # name, list file, lua expression building the path from `item`
  cat > "$work/$1.lua" <<LUA
local items = {}
for line in io.lines("$2") do items[#items + 1] = line end
local i = 0
local function enc(s) return (s:gsub("[^%w%-%.]", function(c) return string.format("%%%02X", c:byte()) end)) end
request = function()
  i = i % #items + 1
  local item = items[i]
  return wrk.format("GET", $3)
end
LUA
}
rotate postcodes "$work/postcodes.txt" '"/ivr/v1/status?format=json&postcode=" .. enc(item)'
rotate addresses "$work/places.txt" '"/ivr/v1/status?format=json&address_id=" .. enc(item:match("^[^\t]*"))'
rotate searches "$work/places.txt" '"/search?q=" .. enc(item:match("\t(.*)$"))' 
awk -F, 'NR>1 && $6 > 19 && NR % 40000 == 7 {print $6, $7}' "$work/addresses.csv" | head -49 > "$work/centres.txt"
cat > "$work/rotate.lua" <<LUA
local phones = {}
for line in io.lines("$work/phones.txt") do phones[#phones + 1] = line end
local i = 0
request = function()
  i = i % #phones + 1
  return wrk.format("GET", "/ivr/v1/status?format=json&phone=" .. (phones[i]:gsub("%+", "%%2B")),
    { ["Authorization"] = "Bearer " .. os.getenv("IVR_TOKEN") })
end
LUA

# One wrk per web node, all at once, 64 connections in all; prints the summed
# rate and the worst node's p50/p99.
run() { # label, path, wrk args...
  local label=$1 path=$2; shift 2
  local i wrks=()
  for i in "${!ports[@]}"; do
    wrk -t1 -c$((64 / nodes)) -d"$duration" --latency "$@" "http://127.0.0.1:${ports[$i]}$path" > "$work/wrk.$i" &
    wrks+=($!)
  done
  wait "${wrks[@]}"
  local rps=0 p50="" p99="" non2xx=0 f
  for f in "$work"/wrk.*; do
    rps=$(awk -v a="$rps" '/Requests\/sec/{printf "%.2f", a + $2}' "$f")
    p50="$p50 $(awk '$1=="50%"{print $2}' "$f")"
    p99="$p99 $(awk '$1=="99%"{print $2}' "$f")"
    non2xx=$((non2xx + $(awk '/Non-2xx/{print $NF}' "$f" | grep . || echo 0)))
  done
  rm -f "$work"/wrk.*
  printf "  %-44s %10s req/s   p50 %-18s p99 %-18s non-2xx %s   deliveries pending after: %s\n" \
    "$label" "$rps" "${p50# }" "${p99# }" "$non2xx" "$(pending)"
  last_rps=$rps
}
# `run`, and with BENCH_PERF=1 where the (first) web node's CPU goes meanwhile.
profiled() { # label, path, wrk args...
  if [ "${BENCH_PERF:-0}" != 1 ]; then
    run "$@"
    return
  fi
  perf record -q -F 499 -g -p "${servers[0]}" -o "$work/perf.data" -- sleep "$duration" 2>/dev/null &
  local perf_pid=$!
  run "$@"
  wait "$perf_pid" || true
  local out="${BENCH_PERF_OUT:-/tmp}/storm-perf-$backend-$((++perf_runs)).txt"
  { echo "# $1"; perf report -q -i "$work/perf.data" --no-children -g none --percent-limit 0.3 \
      --sort comm,dso,sym 2>/dev/null | head -80; } > "$out"
  echo "  profile of that run: $out"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", (b > 0 ? a / b : 0)}'; }

for backend in ${BENCH_BACKENDS:-sqlite}; do
  use_backend "$backend"
  echo "== $backend"
  s=$(t)
  $herald migrate >/dev/null
  $herald import addresses "$work/addresses.csv" >/dev/null
  $herald import contacts "$work/contacts.csv" >/dev/null
  token=$($herald token create storm 2>/dev/null | grep -o 'hrld_[0-9a-f]*')
  # Answers by caller number need the phone platform's token (rotate.lua reads it).
  export IVR_TOKEN=$($herald token create storm-ivr --role ivr 2>/dev/null | grep -o 'hrld_[0-9a-f]*')
  ivr_auth="Authorization: Bearer $IVR_TOKEN"
  echo "setup: $addresses addresses, $(($(wc -l < "$work/contacts.csv") - 1)) contacts imported in $(secs "$s" "$(t)") s"

  servers=()
  if [ "$split" = 1 ]; then
    for port in "${ports[@]}"; do
      HERALD_BIND=127.0.0.1:$port HERALD_RUN_WORKERS=false $herald serve > "$work/serve-$port.log" 2>&1 &
      servers+=($!); pids+=($!)
    done
    # The worker yields the CPU to the web nodes: in a storm, answering callers
    # and visitors matters more than finishing the fan-out a few seconds sooner.
    nice -n 10 $herald worker > "$work/worker.log" 2>&1 & worker=$!; pids+=($worker)
    echo "layout: $nodes web node(s) + one worker process (nice 10), $backend"
  else
    HERALD_BIND=127.0.0.1:${ports[0]} $herald serve > "$work/serve.log" 2>&1 & servers+=($!); pids+=($!)
    worker=""
    echo "layout: one process (serve: HTTP + workers), $backend"
  fi
  for port in "${ports[@]}"; do
    wait_port "$port"
    wait_ready "http://127.0.0.1:$port"
  done
  # The start-up builds' own peak (every structure and its temporaries at
  # once), apart from the storm's: the peak RSS printed at the end is the
  # larger of the two.
  for server in "${servers[@]}"; do
    echo "  start-up: web node RSS $(awk '/VmRSS/{print int($2/1024)" MiB"}' /proc/$server/status), peak $(awk '/VmHWM/{print int($2/1024)" MiB"}' /proc/$server/status)"
  done
  # What the start-up builds took (the first node's log).
  sed 's/\x1b\[[0-9;]*m//g' "$(ls "$work"/serve*.log | head -1)" |
    grep -E 'herald::register: .*(built|read)' | sed 's/^.*herald::register: /  start-up: /'

  declare_outage() { # utility, polygon (GeoJSON coordinates), cause
    curl -fs -X POST "$base/api/v1/outages" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
      -d "{\"utility\":\"$1\",\"cause\":\"$3\",\"etr\":\"$(date -u -d '+6 hours' +%Y-%m-%dT%H:%M:%SZ)\",\"area\":{\"type\":\"Polygon\",\"coordinates\":$2}}"
  }
  # 49 small outages east of the storm, around real addresses.
  s=$(t)
  ref=""
  while read -r lon lat; do
    poly=$(awk -v x="$lon" -v y="$lat" 'BEGIN{d=0.003; printf "[[[%f,%f],[%f,%f],[%f,%f],[%f,%f],[%f,%f]]]", x-d,y-d, x+d,y-d, x+d,y+d, x-d,y+d, x-d,y-d}')
    out=$(declare_outage water "$poly" "Burst main")
    ref=${ref:-$(echo "$out" | grep -o '"reference":"[^"]*"' | cut -d'"' -f4)}
  done < "$work/centres.txt"
  echo "49 small outages declared in $(secs "$s" "$(t)") s (outage page: /o/$ref)"
  phone=$(head -1 "$work/phones.txt")

  # The largest postcode, asked once in a view nobody has asked it in yet.
  big_postcode_answer() {
    local pc pc_n
    read -r pc pc_n <<< "$big_postcode"
    # The view itself is read by whatever request comes first; not this one.
    curl -fs -o /dev/null "$base/ivr/v1/status?format=json&postcode=0000" || true
    echo "largest postcode ($pc, $pc_n addresses), first answer in this view:" \
      "$(curl -fs -o /dev/null -w '%{time_total}' "$base/ivr/v1/status?format=json&postcode=$pc") s" \
      "(then cached: $(curl -fs -o /dev/null -w '%{time_total}' "$base/ivr/v1/status?format=json&postcode=$pc") s)"
  }

  memory() {
    curl -fs "$base/metrics" | awk -F'[{}" ]+' '/^herald_memory_bytes/ {printf "%s %.1f MiB  ", $3, $NF / 1048576} END {print ""}'
  }

  suite() {
    # Every node must serve the current view before it is measured (within 1 s,
    # the scale-out promise), and each renders the pages measured once, as the
    # first node did when it answered the declaration; the ETag is the same on
    # every node.
    local port
    for port in "${ports[@]}"; do
      curl -fs "http://127.0.0.1:$port/o/$ref" >/dev/null
      curl -fs -H "$ivr_auth" "http://127.0.0.1:$port/ivr/v1/status?phone=${phone/+/%2B}&format=json" >/dev/null
    done
    etag=$(curl -fsI -H "$ivr_auth" "$base/ivr/v1/status?phone=${phone/+/%2B}&format=json" | awk -F': ' 'tolower($1)=="etag"{print $2}' | tr -d '\r')
    run "IVR by phone (one caller)" "/ivr/v1/status?format=json&phone=${phone/+/%2B}" -H "$ivr_auth"
    local warm=$last_rps
    profiled "IVR by phone (50,000 callers, rotating)" "/" -s "$work/rotate.lua"
    local cold=$last_rps
    run "IVR by phone, If-None-Match (304)" "/ivr/v1/status?format=json&phone=${phone/+/%2B}" -H "$ivr_auth" -H "If-None-Match: $etag"
    run "IVR by postcode ($(wc -l < "$work/postcodes.txt") rotating)" "/" -s "$work/postcodes.lua"
    run "IVR by address (50,000 rotating)" "/" -s "$work/addresses.lua"
    run "search, one query" "/search?q=$(head -1 "$work/places.txt" | cut -f2 | python3 -c 'import sys, urllib.parse; print(urllib.parse.quote_plus(sys.stdin.read().strip()))')"
    local search_warm=$last_rps
    profiled "search (50,000 addresses rotating)" "/" -s "$work/searches.lua"
    local search_cold=$last_rps
    run "outage page /o/$ref" "/o/$ref"
    echo "  cold/warm: callers $(ratio "$cold" "$warm"), searches $(ratio "$search_cold" "$search_warm")"
    echo "  memory: $(memory)"
  }

  s=$(t)
  storm=$(declare_outage power '[[[15.5,45.0],[18.0,45.0],[18.0,55.5],[15.5,55.5],[15.5,45.0]]]' "Storm damage")
  echo "storm declared in $(secs "$s" "$(t)") s: $storm"
  big_postcode_answer
  sleep 1
  echo "during the fan-out (wrk -t1, 64 connections over $nodes node(s), -d$duration):"
  suite
  while [ "$(pending)" != "0" ]; do sleep 1; done
  echo "fan-out finished $(secs "$s" "$(t)") s after the storm was declared:" \
    "$(sql "SELECT channel || ' ' || state || ' ' || COUNT(*) FROM deliveries GROUP BY channel, state" | paste -sd, -)"
  # A new view (an outage over open sea: no address, no delivery), so the runs
  # below start cold again, as every change in a storm makes them.
  declare_outage gas '[[[0.0,0.0],[0.001,0.0],[0.001,0.001],[0.0,0.001],[0.0,0.0]]]' "Test" >/dev/null
  sleep 0.3
  echo "after the fan-out (new view: every cache cold):"
  suite
  for server in "${servers[@]}"; do
    echo "web node peak RSS: $(awk '/VmHWM/{print int($2/1024)" MiB"}' /proc/$server/status)"
  done
  stop_pids "${servers[@]}" $worker
  drop_backend
done
