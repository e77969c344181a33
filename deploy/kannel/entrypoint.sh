#!/usr/bin/env bash
# Starts Kannel's three processes in one container, in the order they need:
#   1. bearerbox            - the core; opens the fake SMSC port and the box port
#   2. fakesmsc             - the fake operator; connects to bearerbox's SMSC port
#                             and prints every message it is sent (`docker compose
#                             logs kannel` is the "phone" of this deployment)
#   3. smsbox               - the HTTP sendsms interface Herald calls
# Debian's init script would start wapbox rather than smsbox, and fakesmsc is not on
# PATH, so the boxes are started directly. bearerbox takes a few seconds before it
# listens, so each step waits for the port the next one connects to.
#
# If any of the three exits, the others are stopped and the container exits
# non-zero, so Compose's restart policy starts the whole set again.
#
# Environment (all optional):
#   KANNEL_CONF          configuration file   (/etc/kannel/kannel.conf)
#   KANNEL_VERBOSITY     -v level: 0 debug, 1 info, 2 warning, 3 error (1)
#   KANNEL_FAKESMSC      fakesmsc binary      (/usr/lib/kannel/test/fakesmsc)
#   KANNEL_WAIT_SECONDS  how long to wait for each port (60)
set -euo pipefail

CONF=${KANNEL_CONF:-/etc/kannel/kannel.conf}
VERBOSITY=${KANNEL_VERBOSITY:-1}
FAKESMSC=${KANNEL_FAKESMSC:-/usr/lib/kannel/test/fakesmsc}
WAIT_SECONDS=${KANNEL_WAIT_SECONDS:-60}

log() { printf 'kannel-entrypoint: %s\n' "$*" >&2; }

# conf GROUP KEY: the value of KEY in the first `group = GROUP` section of $CONF,
# so the ports waited for are always the configured ones (works with mawk).
conf() {
  awk -v g="$1" -v k="$2" '
    /^[[:space:]]*(#|$)/ { next }
    {
      key = $0; sub(/[[:space:]]*=.*/, "", key); gsub(/[[:space:]]/, "", key)
      val = $0; sub(/^[^=]*=[[:space:]]*/, "", val)
      gsub(/^"|"?[[:space:]]*$/, "", val)
    }
    key == "group" { in_group = (val == g); next }
    in_group && key == k { print val; exit }
  ' "$CONF"
}

# listening PORT: true once some socket listens on PORT. Reads /proc instead of
# connecting, because a probe connection to the fake SMSC port would be taken for
# fakesmsc itself; and the slim image has neither ss nor netstat.
listening() {
  local hex
  hex=$(printf ':%04X' "$1")
  awk -v p="$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { found = 1 }
                   END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# wait_for PORT WHAT PID: wait until PORT listens, failing if PID dies first.
wait_for() {
  local deadline=$((SECONDS + WAIT_SECONDS))
  until listening "$1"; do
    if ! kill -0 "$3" 2>/dev/null; then
      log "$2 exited before port $1 was open"
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      log "port $1 ($2) not open after ${WAIT_SECONDS}s"
      exit 1
    fi
    sleep 0.5
  done
}

[[ -r $CONF ]] || { log "cannot read $CONF"; exit 1; }
[[ -x $FAKESMSC ]] || { log "fakesmsc not found at $FAKESMSC (package kannel-extras)"; exit 1; }
SMSC_PORT=$(conf smsc port)
BOX_PORT=$(conf core smsbox-port)
SENDSMS_PORT=$(conf smsbox sendsms-port)
for v in SMSC_PORT BOX_PORT SENDSMS_PORT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { log "no $v in $CONF"; exit 1; }
done

pids=()
stop() {
  # Reverse start order: smsbox, fakesmsc, then bearerbox.
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
  done
  wait || true
}
trap 'log "stopping"; stop; exit 0' TERM INT

bearerbox -v "$VERBOSITY" "$CONF" &
pids+=($!)
wait_for "$SMSC_PORT" bearerbox "${pids[0]}"
wait_for "$BOX_PORT" bearerbox "${pids[0]}"

# -m 0: send no mobile-originated messages, only receive (and print) ours.
"$FAKESMSC" -H 127.0.0.1 -r "$SMSC_PORT" -m 0 '1 2 text x' &
pids+=($!)

smsbox -v "$VERBOSITY" "$CONF" &
pids+=($!)
wait_for "$SENDSMS_PORT" smsbox "${pids[2]}"
log "ready: sendsms on port $SENDSMS_PORT, fake SMSC on $SMSC_PORT"

# Run until one of the three exits (or a signal runs the trap).
status=0
wait -n || status=$?
log "a Kannel process exited (status $status); stopping the others"
stop
exit $((status == 0 ? 1 : status))
