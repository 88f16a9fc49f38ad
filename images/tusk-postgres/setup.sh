#!/bin/sh
# Turns a Debian bookworm root filesystem into the tusk-postgres image's. Runs as root inside that root: in the
# Dockerfile's RUN, and in the chroot that `cargo xtask cluster up` makes from a debootstrap'ed bookworm.
set -eu
here=$(dirname "$0")

# PostgreSQL runs as uid and gid 26, as in PGO's images (fsGroup and file ownership on volumes depend on it).
# Debian's postgresql-common would make a postgres user with the next free system uid: make it first. Debian's
# base system gives gid 26 to the group `tape`, which moves to a free system gid.
if getent group 26 >/dev/null && [ "$(getent group 26 | cut -d: -f1)" != postgres ]; then
    groupmod --gid 1026 "$(getent group 26 | cut -d: -f1)"
fi
groupadd --system --gid 26 postgres
useradd --system --uid 26 --gid 26 --home-dir /var/lib/postgresql --shell /bin/bash \
    --comment "PostgreSQL administrator" postgres

# No cluster at install time: the operator initializes the data directory on its volume.
mkdir -p /etc/postgresql-common
echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf
# No service starts during the build.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d

export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2046 # one word per package
apt-get install -y --no-install-recommends $(grep -v '^#' "$here/packages.txt")
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/sbin/policy-rc.d

# Debian's pgbackrest package ships /etc/pgbackrest.conf ([global] repo1-path=/var/lib/pgbackrest), which
# pgBackRest reads when /etc/pgbackrest/pgbackrest.conf does not exist, on top of the operator's files in
# /etc/pgbackrest/conf.d: every command failed with "option 'repo1-path' cannot be set multiple times".
# The operator's files are the whole configuration.
rm -f /etc/pgbackrest.conf

mkdir -p /var/run/postgresql /pgdata
chown 26:26 /var/run/postgresql /pgdata
chmod 2775 /var/run/postgresql
test "$(id -u postgres)" = 26
test ! -e /etc/pgbackrest.conf
