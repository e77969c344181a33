# Database backends for the benchmarks that compare them (scale.sh, storm.sh).
# Sourced; the caller provides $work and cleans up with `drop_backend` (also
# from its EXIT trap, where it stops a cluster left running).
#
#   use_backend sqlite|postgres   exports HERALD_DATA_DIR (and, for postgres,
#                                 HERALD_DATABASE_URL of a fresh cluster from
#                                 scripts/postgres) and defines sql "QUERY"
#                                 and pending (deliveries not yet done)
#   drop_backend                  stops and removes that cluster, if any
pg=""
use_backend() {
  export HERALD_DATA_DIR=$work/$1
  if [ "$1" = postgres ]; then
    pg=$(mktemp -d) # its own: the server runs as the postgres user
    export HERALD_DATABASE_URL; HERALD_DATABASE_URL=$(scripts/postgres start "$pg")
    sql() { psql -qtA "$HERALD_DATABASE_URL" -c "$1"; }
  else
    unset HERALD_DATABASE_URL
    sql() { sqlite3 "file:$HERALD_DATA_DIR/herald.db?mode=ro" "$1"; }
  fi
}
pending() { sql "SELECT COUNT(*) FROM deliveries WHERE state IN ('pending','sending')" 2>/dev/null || echo "?"; }
drop_backend() {
  if [ -n "$pg" ]; then scripts/postgres stop "$pg" 2>/dev/null || true; rm -rf "$pg"; pg=""; fi
}
