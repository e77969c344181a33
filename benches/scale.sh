#!/usr/bin/env bash
# Scale-out benchmark, SQLite and PostgreSQL side by side in one run:
#   1. import 2,000,000 synthetic addresses from CSV (time, peak RSS);
#   2. for 1, 2 and 4 `herald worker` processes: declare an outage covering
#      100,000 e-mail contacts (planning = the declare call: geo lookup and
#      writing every delivery) and hand every e-mail to postfix's smtp-sink;
#   3. a slow provider (smtp-sink answering each message after 1 s, as a
#      distant or throttling server would): 1, 2 and 4 worker processes with 16
#      SMTP connections each, rate at the sink over 15 s. Here the provider's
#      latency binds, not the CPU, and throughput should grow with workers;
#   4. a 100 e-mails/s provider limit with two worker processes: the rate the
#      sink sees, measured over 20 s.
#
#   benches/scale.sh                        (BENCH_BACKENDS="sqlite postgres")
#
# Everything runs on this machine: the PostgreSQL cluster comes from
# scripts/postgres, smtp-sink and Kannel from benches/providers.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
pids=()
cleanup() {
  stop_pids "${pids[@]}"
  declare -F drop_backend >/dev/null && drop_backend
  rm -rf "$work"
}
trap cleanup EXIT

command -v sqlite3 >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends sqlite3 >/dev/null
. benches/providers.sh
. benches/backend.sh
cargo build --release --locked -q
herald=$PWD/target/release/herald
port=18090
base=http://127.0.0.1:$port

t() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b-a}'; }

echo "machine: $(nproc) cores, $(grep MemTotal /proc/meminfo | awk '{print int($2/1024/1024)" GiB"}'), $(uname -r)"
$herald synth --count 2000000 --out "$work/addresses.csv" >/dev/null
# 100,000 e-mail contacts at addresses in the west (lon < 18), as in storm.sh.
awk -F, 'NR>1 && $6 < 18 && ++n % 5 == 0 && k < 100000 {
  k++; printf "%s,email,r%d@scale.example,%s\n", $1, k, substr("huplen", 1 + 2*(k%3), 2)
}' "$work/addresses.csv" | { echo "address_external_id,channel,destination,language"; cat; } > "$work/contacts.csv"
area='{"type":"Polygon","coordinates":[[[15.5,45.0],[18.0,45.0],[18.0,55.5],[15.5,55.5],[15.5,45.0]]]}'

export RUST_LOG=warn HERALD_BIND=127.0.0.1:$port HERALD_PUBLIC_URL=$base
export HERALD_EMAIL__TRANSPORT=smtp HERALD_EMAIL__SMTP__HOST=127.0.0.1 HERALD_EMAIL__SMTP__PORT=2525
export HERALD_EMAIL__SMTP__TLS=none HERALD_EMAIL__SMTP__POOL_SIZE=16 HERALD_EMAIL__CONCURRENCY=64
export HERALD_DELIVERY__BATCH_SIZE=1000 HERALD_DELIVERY__POLL_INTERVAL_MS=20

for backend in ${BENCH_BACKENDS:-sqlite postgres}; do
  use_backend "$backend"
  echo "== $backend"
  $herald migrate >/dev/null
  s=$(t)
  rss=$( { /usr/bin/time -f "%M" $herald import addresses "$work/addresses.csv" >/dev/null; } 2>&1 | tail -1)
  echo "import 2,000,000 addresses: $(secs "$s" "$(t)") s, peak RSS $((rss / 1024)) MiB"
  $herald import contacts "$work/contacts.csv" >/dev/null
  token=$($herald token create bench | grep -o 'hrld_[0-9a-f]*')
  HERALD_RUN_WORKERS=false $herald serve > "$work/serve-$backend.log" 2>&1 & server=$!; pids+=($server)
  wait_port $port
  # Ready once its address index is built (the port opens before that).
  wait_ready "$base"

  declare_storm() {
    curl -fs -o /dev/null -w '%{time_total}' -X POST "$base/api/v1/outages" \
      -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
      -d "{\"utility\":\"power\",\"cause\":\"Storm\",\"etr\":null,\"area\":$area}"
  }
  sent() { sql "SELECT COUNT(*) FROM deliveries WHERE state = 'sent'"; }

  for n in 1 2 4; do
    planning=$(declare_storm)
    workers=()
    s=$(t)
    for _ in $(seq 1 "$n"); do $herald worker >> "$work/worker-$backend.log" 2>&1 & workers+=($!); pids+=($!); done
    while [ "$(pending)" != 0 ]; do sleep 0.2; done
    took=$(secs "$s" "$(t)")
    kill "${workers[@]}"; wait "${workers[@]}" 2>/dev/null || true
    echo "$n worker process(es): planning 100,000 deliveries $(awk -v p="$planning" 'BEGIN{printf "%.2f", p}') s;" \
      "100,000 e-mails to smtp-sink in $took s = $(awk -v t="$took" 'BEGIN{printf "%.0f", 100000/t}') e-mails/s"
  done

  # Counting sinks keep a running message counter (-c).
  received() { tr '\r' '\n' < "$1" | { grep -o 'mesg=[0-9]*' || echo mesg=0; } | tail -1 | cut -d= -f2; }
  rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN{printf "%.1f", n/(b-a)}'; }

  # A slow provider: each message answered after 1 s. One storm's queue feeds
  # all three runs (about 2,000 of its 100,000 messages are sent).
  smtp-sink -c -w 1 -u postfix 127.0.0.1:2527 512 > "$work/slow-$backend" 2>&1 & slow=$!; pids+=($slow)
  wait_port 2527
  declare_storm >/dev/null
  for n in 1 2 4; do
    workers=()
    for _ in $(seq 1 "$n"); do
      HERALD_EMAIL__SMTP__PORT=2527 $herald worker >> "$work/worker-$backend.log" 2>&1 & workers+=($!); pids+=($!)
    done
    sleep 3
    a=$(received "$work/slow-$backend"); s=$(t); sleep 15; b=$(received "$work/slow-$backend"); e=$(t)
    kill "${workers[@]}"; wait "${workers[@]}" 2>/dev/null || true
    echo "slow provider (1 s per message, 16 connections per worker), $n worker process(es): $(rate $((b - a)) "$s" "$e") e-mails/s"
  done
  kill $slow; wait $slow 2>/dev/null || true

  # The shared limit: two workers, 100/s for the account, on the rest of the
  # storm's queue.
  smtp-sink -c -u postfix 127.0.0.1:2526 256 > "$work/counter-$backend" 2>&1 & counter=$!; pids+=($counter)
  wait_port 2526
  workers=()
  for _ in 1 2; do
    HERALD_EMAIL__RATE_PER_SEC=100 HERALD_EMAIL__SMTP__PORT=2526 $herald worker >> "$work/worker-$backend.log" 2>&1 &
    workers+=($!); pids+=($!)
  done
  sleep 3
  a=$(received "$work/counter-$backend"); s=$(t); sleep 20; b=$(received "$work/counter-$backend"); e=$(t)
  kill "${workers[@]}" $counter; wait "${workers[@]}" $counter 2>/dev/null || true
  echo "rate limit 100/s, 2 worker processes: $(rate $((b - a)) "$s" "$e") e-mails/s at the sink over 20 s"

  kill $server; wait $server 2>/dev/null || true
  drop_backend
done
