# Moves an adopted volume's pgBackRest repository to where the cluster's repository lives.
# Arguments: the directory to move and the repository's directory (both on the volume, mounted at /pgbackrest).
# Given the same directory twice, it only checks it. Run again after it succeeded, it finds the repository
# in place and only checks it.
set -eu
source=$1
target=$2
fail() {
  printf '%s\n' "$*" >&2
  exit 1
}
repository() {
  [ -d "$1/archive" ] || [ -d "$1/backup" ]
}
if [ "$source" != "$target" ] && [ -d "$source" ]; then
  repository "$source" || fail "$source is not a pgBackRest repository (no archive/ or backup/ in it)"
  if [ -e "$target" ] || [ -L "$target" ]; then
    [ -d "$target" ] && [ ! -L "$target" ] && [ -z "$(ls -A -- "$target")" ] ||
      fail "$target exists and is not empty: move it out of the volume, or give it as the directory"
    rmdir -- "$target"
  fi
  mv -- "$source" "$target"
  echo "moved $source to $target"
elif [ -d "$target" ]; then
  repository "$target" || fail "$target is not a pgBackRest repository (no archive/ or backup/ in it)"
  echo "$target is in place"
else
  fail "the volume has no directory $source"
fi
ls -- "$target"
