# Real providers on loopback for the benchmarks: postfix's smtp-sink on :2525 and
# Kannel (bearerbox + smsbox, sendsms on :13013) with its fake SMSC. Sourced by
# benches/*.sh, which provide $work (a scratch directory) and the pids array
# (killed by their EXIT trap). Installs postfix and kannel from Debian if missing.
if ! command -v smtp-sink >/dev/null || ! command -v bearerbox >/dev/null; then
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postfix kannel kannel-extras >/dev/null
fi

# Stops the given processes: TERM, then KILL whatever is still there after 5 s
# (bearerbox can take long to exit, and a survivor would hold the ports).
stop_pids() {
  [ $# -gt 0 ] || return 0
  kill "$@" 2>/dev/null || true
  local p alive
  for _ in $(seq 1 50); do
    alive=0
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && return 0
    sleep 0.1
  done
  kill -9 "$@" 2>/dev/null || true
}

# Waits until a Herald node at the base URL answers /readyz (it opens its port
# before its address index is built; requests wait until then).
wait_ready() { for _ in $(seq 1 600); do curl -fs "$1/readyz" >/dev/null && return 0; sleep 0.2; done; echo "$1 never got ready" >&2; exit 1; }

wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }

# Kannel posts each SMS's delivery report back to the web node from 127.0.0.1,
# the address wrk and curl also connect from: in a 2,000,000-address storm it
# kept up to ~390 connections open, and at the default 256 per client its
# reports crowded wrk's connections out (refused, closed at once: wrk measured
# nothing and curl failed with an empty reply). On loopback everyone is one
# client, so the benches allow it room, as a deployment would for its gateway.
export HERALD_HTTP__MAX_CONNECTIONS_PER_CLIENT=${HERALD_HTTP__MAX_CONNECTIONS_PER_CLIENT:-4096}

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

