#!/usr/bin/env bash
# Fan-out benchmark against real providers: postfix's smtp-sink (SMTP) and Kannel
# with its fake SMSC (SMS), both on loopback. Installs them from Debian if missing.
# Usage: benches/fanout.sh            (BENCH_CONTACTS=100000 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

if ! command -v smtp-sink >/dev/null || ! command -v bearerbox >/dev/null; then
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postfix kannel kannel-extras >/dev/null
fi

wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }

smtp-sink -u postfix 127.0.0.1:2525 1024 >/dev/null 2>&1 & pids+=($!)
wait_port 2525

mkdir -p "$work/kannel"
cat > "$work/kannel.conf" <<CONF
group = core
admin-port = 13000
admin-password = bar
admin-interface = 127.0.0.1
admin-deny-ip = "*.*.*.*"
admin-allow-ip = "127.0.0.1"
smsbox-port = 13001
smsbox-interface = 127.0.0.1
box-deny-ip = "*.*.*.*"
box-allow-ip = "127.0.0.1"
log-file = "$work/kannel/bearerbox.log"
log-level = 2

group = smsc
smsc = fake
smsc-id = FAKE
port = 10000
connect-allow-ip = "127.0.0.1"

group = smsbox
bearerbox-host = 127.0.0.1
sendsms-port = 13013
sendsms-interface = 127.0.0.1
global-sender = 12345
log-file = "$work/kannel/smsbox.log"
log-level = 2

group = sendsms-user
username = tester
password = foobar
max-messages = 10

group = sms-service
keyword = default
text = "No service specified"
CONF
bearerbox -v 2 "$work/kannel.conf" >/dev/null 2>&1 & pids+=($!)
wait_port 10000
/usr/lib/kannel/test/fakesmsc -H 127.0.0.1 -r 10000 -m 0 '1 2 text x' 2> "$work/fakesmsc.err" & pids+=($!)
smsbox -v 2 "$work/kannel.conf" >/dev/null 2>&1 & pids+=($!)
wait_port 13013

echo "machine: $(nproc) cores, $(grep MemTotal /proc/meminfo | awk '{print int($2/1024/1024)" GiB"}'), $(uname -r)"
BENCH_SMTP=127.0.0.1:2525 BENCH_KANNEL=http://127.0.0.1:13013 \
  cargo bench --locked --bench fanout
sleep 1
echo "fake SMSC received: $(grep -c 'Got message' "$work/fakesmsc.err" || true) SMS"
