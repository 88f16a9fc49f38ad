# The restore Job of a cluster bootstrapped from a backup: a new cluster from another cluster's backup
# (spec.dataSource.postgresCluster), or an in-place restore (spec.backups.pgbackrest.restore).
# Arguments: the bootstrap directory, the data directory, the port of the temporary PostgreSQL, the kind of
# restore (`in-place` or `new`), then the `pgbackrest restore` command line, run as given (never through a
# shell). Restores into the bootstrap
# directory, replays the WAL to the end of the archive or to the recovery target on a temporary PostgreSQL that
# only listens on a socket in /tmp and archives nothing, waits for its promotion, and stops it cleanly.
# Patroni's bootstrap then moves the directory into place. In place (every instance is stopped), an existing
# data directory becomes the bootstrap directory first, so that --delta copies only what differs. For a new
# cluster a data directory with files means Patroni already bootstrapped this instance: the Job stops rather
# than take a running cluster's files away. A rerun (a pod retried by the Job) restores again with --delta.
set -eu
bootstrap="$1"
data="$2"
port="$3"
kind="$4"
shift 4

if [ "$kind" = in-place ]; then
  if [ -d "$data" ] && [ ! -d "$bootstrap" ]; then
    echo "tusk: restoring over the existing data directory $data"
    mv -- "$data" "$bootstrap"
  fi
elif [ -d "$data" ] && ! rmdir -- "$data" 2>/dev/null; then
  echo "tusk: $data holds a cluster Patroni bootstrapped already; not restoring over it" >&2
  exit 1
fi
# Every instance is stopped: a postmaster.pid left by one that was killed would stop pgBackRest.
rm -f -- "$bootstrap/postmaster.pid"
mkdir -p -m 0700 -- "$bootstrap"
echo "tusk: restoring into $bootstrap"
"$@"

# The restored postgresql.conf is the source's: its TLS files, pg_hba.conf path and socket directory do not
# exist here. Only a local trust rule is needed, on a socket no other pod can reach.
printf 'local all all trust\n' > /tmp/restore_hba.conf
: > /tmp/restore_ident.conf
echo "tusk: replaying the WAL on a temporary PostgreSQL"
postgres -D "$bootstrap" -c port="$port" -c listen_addresses= -c unix_socket_directories=/tmp \
  -c archive_mode=off -c ssl=off -c hba_file=/tmp/restore_hba.conf -c ident_file=/tmp/restore_ident.conf \
  -c logging_collector=off -c log_destination=stderr &
server=$!
sql() {
  psql -XAtq -h /tmp -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"
}
until [ "$(sql -c 'SELECT pg_is_in_recovery()' 2>/dev/null || true)" = f ]; do
  if ! kill -0 "$server" 2>/dev/null; then
    status=0
    wait "$server" || status=$?
    echo "tusk: PostgreSQL stopped (exit code $status) before the recovery finished" >&2
    exit 1
  fi
  sleep 1
done
echo "tusk: recovery finished and promoted at $(sql -c 'SELECT pg_last_wal_replay_lsn()')"

# pgBackRest wrote the recovery settings into postgresql.auto.conf, where they would outrank Patroni's.
for setting in restore_command recovery_target recovery_target_lsn recovery_target_name \
  recovery_target_time recovery_target_xid recovery_target_inclusive recovery_target_action \
  recovery_target_timeline; do
  sql -c "ALTER SYSTEM RESET $setting"
done
kill -INT "$server"
wait "$server"
echo "tusk: restored; PostgreSQL stopped cleanly"
