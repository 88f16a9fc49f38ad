# Moves an adopted volume's pgBackRest repository to the top of the volume, where the cluster's repository is
# (the volume is mounted at the repository's path, /pgbackrest/repoN, as on the repository host).
# Arguments: the directory to move (on the volume), the volume's mount point.
# Given the mount point twice, it only checks it. Run again after it succeeded (or was interrupted), it finds
# what it moved already and goes on.
set -eu
source=$1
root=$2
fail() {
  printf '%s\n' "$*" >&2
  exit 1
}
repository() {
  [ -d "$1/archive" ] || [ -d "$1/backup" ]
}
if [ "$source" != "$root" ] && [ -d "$source" ]; then
  name=${source##*/}
  repository "$source" || repository "$root" ||
    fail "$source is not a pgBackRest repository (no archive/ or backup/ in it)"
  for entry in "$root"/* "$root"/.[!.]* "$root"/..?*; do
    [ -e "$entry" ] || [ -L "$entry" ] || continue
    found=${entry##*/}
    case $found in
      "$name" | lost+found) ;;
      archive | backup)
        # Moved by an earlier run that was interrupted, unless the repository still has its own.
        if [ -e "$source/$found" ] || [ -L "$source/$found" ]; then
          fail "$root already holds $found: move it out of the volume, or give the directory of the repository it belongs to"
        fi
        ;;
      *) fail "$root holds $found besides $name: the repository goes to the top of the volume; move $found out of the volume first" ;;
    esac
  done
  for entry in "$source"/* "$source"/.[!.]* "$source"/..?*; do
    [ -e "$entry" ] || [ -L "$entry" ] || continue
    mv -- "$entry" "$root/"
  done
  rmdir -- "$source"
  echo "moved the repository in $source to $root"
elif [ "$source" != "$root" ] && ! repository "$root"; then
  fail "the volume has no directory $source"
fi
repository "$root" || fail "$root is not a pgBackRest repository (no archive/ or backup/ in it)"
ls -- "$root"
