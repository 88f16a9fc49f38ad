# Moves an adopted volume's PostgreSQL data directory to where Patroni's `adopted` bootstrap takes it from.
# Arguments: the directory to move, the bootstrap directory, the data directory, the expected major version.
# Run again after it succeeded (a retried pod), it finds the bootstrap directory and only checks it.
set -eu
source=$1
target=$2
data=$3
version=$4
fail() {
  printf '%s\n' "$*" >&2
  exit 1
}
if [ -d "$source" ]; then
  [ ! -e "$target" ] || fail "both $source and $target exist: move one of them out of the volume"
  if [ "$source" != "$data" ] && [ -d "$data" ] && [ -n "$(ls -A -- "$data")" ]; then
    fail "$data exists and is not empty: Patroni would start on it instead of $source"
  fi
  checked=$source
elif [ -d "$target" ]; then
  checked=$target
else
  fail "the volume has no directory $source"
fi
[ -f "$checked/PG_VERSION" ] || fail "$checked is not a PostgreSQL data directory (no PG_VERSION)"
found=$(cat -- "$checked/PG_VERSION")
[ "$found" = "$version" ] || fail "$checked holds PostgreSQL $found data; spec.postgresVersion is $version"
if [ -L "$checked/pg_wal" ] && [ ! -d "$checked/pg_wal/" ]; then
  fail "$checked/pg_wal links to $(readlink -- "$checked/pg_wal"), which is not there: give the WAL volume as pgWALVolume (mounted at /pgwal)"
fi
owner=$(stat -c %u -- "$checked")
[ "$owner" = "$(id -u)" ] || fail "$checked belongs to uid $owner; the pods run as uid $(id -u): chown -R it"
if [ "$checked" = "$source" ]; then
  mv -- "$source" "$target"
  echo "moved $source to $target"
fi
rm -f -- "$target/postmaster.pid"
chmod 0700 -- "$target"
echo "$target is ready for Patroni's bootstrap"
