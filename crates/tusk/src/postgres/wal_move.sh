# Moves an instance's WAL to where the spec wants it before Patroni starts PostgreSQL, then starts Patroni
# (the arguments). TUSK_WAL_DIRECTORY set: the WAL belongs on the WAL volume at that path, and pg_wal is a
# symbolic link to it; unset: the WAL belongs in the data directory. Every step can be interrupted (the pod
# killed) and the next start finishes or redoes it: a copy is complete before anything is renamed, and a
# missing pg_wal is put back from whichever complete copy the interrupted move left.
set -eu
data="$PGDATA"
wal="${TUSK_WAL_DIRECTORY:-}"
present() { [ -e "$1" ] || [ -L "$1" ]; }

if [ -d "$data" ]; then
  if ! present "$data/pg_wal"; then
    for left in pg_wal.tusk-link pg_wal.tusk-copy pg_wal.tusk-old; do
      if present "$data/$left"; then
        mv "$data/$left" "$data/pg_wal"
        break
      fi
    done
  fi
  rm -rf "$data/pg_wal.tusk-old" "$data/pg_wal.tusk-link" "$data/pg_wal.tusk-copy"

  if [ -n "$wal" ] && [ ! -L "$data/pg_wal" ] && [ -d "$data/pg_wal" ]; then
    echo "tusk: moving the WAL to $wal"
    rm -rf "$wal.tusk-copy"
    mkdir -p "$wal.tusk-copy"
    chmod 0700 "$wal.tusk-copy"
    cp -a "$data/pg_wal/." "$wal.tusk-copy/"
    sync
    rm -rf "$wal"
    mv "$wal.tusk-copy" "$wal"
    ln -s "$wal" "$data/pg_wal.tusk-link"
    mv "$data/pg_wal" "$data/pg_wal.tusk-old"
    mv "$data/pg_wal.tusk-link" "$data/pg_wal"
    rm -rf "$data/pg_wal.tusk-old"
  elif [ -z "$wal" ] && [ -L "$data/pg_wal" ]; then
    from="$(readlink "$data/pg_wal")"
    echo "tusk: moving the WAL from $from back into $data"
    mkdir "$data/pg_wal.tusk-copy"
    chmod 0700 "$data/pg_wal.tusk-copy"
    cp -a "$from/." "$data/pg_wal.tusk-copy/"
    sync
    rm "$data/pg_wal"
    mv "$data/pg_wal.tusk-copy" "$data/pg_wal"
  fi
fi
exec "$@"
