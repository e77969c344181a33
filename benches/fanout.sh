#!/usr/bin/env bash
# Fan-out benchmark against real providers: postfix's smtp-sink (SMTP) and Kannel
# with its fake SMSC (SMS), both on loopback. Installs them from Debian if missing.
# Usage: benches/fanout.sh            (BENCH_CONTACTS=100000 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
pids=()
cleanup() { stop_pids "${pids[@]}"; rm -rf "$work"; }
trap cleanup EXIT

. benches/providers.sh

echo "machine: $(nproc) cores, $(grep MemTotal /proc/meminfo | awk '{print int($2/1024/1024)" GiB"}'), $(uname -r)"
BENCH_SMTP=127.0.0.1:2525 BENCH_KANNEL=http://127.0.0.1:13013 \
  cargo bench --locked --bench fanout
sleep 1
echo "fake SMSC received: $(grep -c 'Got message' "$work/fakesmsc.err" || true) SMS"
